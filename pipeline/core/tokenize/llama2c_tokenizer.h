/* llama2c_tokenizer.h - llama2.c's tokenizer.bin (karpathy/llama2.c, run.c
 * build_tokenizer / encode / decode; written by its tokenizer.py).
 *
 * File: int32 max_token_length, then for each token in id order: float32
 * score, int32 byte length, the bytes (SentencePiece pieces with '▁' written
 * as ' '; <s> and </s> as "\n<s>\n" and "\n</s>\n").  Little-endian.  The
 * file does not store its size: llama2.c reads as many tokens as the model's
 * vocab_size, so squeeze reads to the end and checks the count against the
 * model (sq_tokenizer_check_model).
 *
 * Encoding (run.c encode with bos=1, eos=0): BOS (id 1), the id of " " (the
 * dummy prefix) unless the text is empty, then each UTF-8 code point's id or
 * its bytes as ids byte + 3 (byte fallback; ids 3..258 are <0x00>..<0xFF>),
 * then repeatedly the adjacent pair whose concatenation is a token with the
 * highest score (leftmost among equals, scores above -1e10) is merged.
 */
#ifndef SQ_TOKENIZE_LLAMA2C_TOKENIZER_H
#define SQ_TOKENIZE_LLAMA2C_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "tokenize/token_buffer.h"
#include "tokenize/vocab_table.h"
#include "util/status.h"

#define SQ_LLAMA2C_BOS 1
#define SQ_LLAMA2C_EOS 2
#define SQ_LLAMA2C_BYTE_OFFSET 3 /* id of <0x00> */

typedef struct {
    char *path;
    int32_t count;           /* tokens in the file */
    int32_t max_token_length;
    char **text;             /* [count] token bytes, NUL terminated */
    uint32_t *length;
    float *score;
    sq_vocab_table lookup;   /* text -> first id with that text */
    int32_t space_id;        /* " ", the dummy prefix; -1 if absent */
} sq_llama2c_tokenizer;

/* 1 if the file's bytes parse as a tokenizer.bin exactly to their end. */
int sq_llama2c_tokenizer_recognise(const unsigned char *bytes, size_t size);

sq_status sq_llama2c_tokenizer_load(const char *path, const unsigned char *bytes, size_t size,
                                    sq_llama2c_tokenizer **out);
void sq_llama2c_tokenizer_free(sq_llama2c_tokenizer *tok);

#endif
