/* byte_level.h - GPT-2's byte-to-unicode map, the alphabet of byte-level BPE.
 *
 * Byte-level tokenizers (GPT-2, Llama 3, Qwen) never see raw bytes: each byte
 * of the UTF-8 text is first written as one printable character so that
 * vocabulary entries are readable strings without spaces or control codes
 * (openai/gpt-2 src/encoder.py, bytes_to_unicode; Hugging Face tokenizers
 * pre_tokenizers/byte_level.rs).  Printable Latin-1 bytes ('!'..'~',
 * U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves; the 68 others take
 * U+0100, U+0101, ... in byte order (so ' ' = 0x20 is U+0120 'Ġ').
 */
#ifndef SQ_TOKENIZE_BYTE_LEVEL_H
#define SQ_TOKENIZE_BYTE_LEVEL_H

#include <stdint.h>

/* The code point that stands for byte b. */
uint32_t sq_byte_level_char(unsigned char b);

/* The byte that code point cp stands for, or -1 if cp is not in the alphabet. */
int sq_byte_level_byte(uint32_t cp);

#endif
