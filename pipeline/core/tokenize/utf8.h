/* utf8.h - strict UTF-8 decoding and Python's notion of whitespace.
 *
 * Itera-Lite's tokenizers run on Python str objects: the file is decoded with
 * open(path, encoding='utf-8') (strict: overlong forms, surrogates and code
 * points above U+10FFFF are errors), so "a character" is a Unicode code point.
 */
#ifndef SQ_TOKENIZE_UTF8_H
#define SQ_TOKENIZE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at text[0..length) (length >= 1).  Returns its byte
 * length (1-4) and stores the code point, or returns 0 if the bytes there are
 * not valid UTF-8 as CPython's strict decoder defines it. */
int sq_utf8_decode(const unsigned char *text, size_t length, uint32_t *code_point);

/* 1 for the code points str.split() with no argument splits on
 * (CPython's Py_UNICODE_ISSPACE), else 0. */
int sq_py_isspace(uint32_t code_point);

/* Byte offset of the first invalid UTF-8 sequence in text, or length if the
 * whole text is valid.  *chars receives the number of code points before it. */
size_t sq_utf8_validate(const unsigned char *text, size_t length, size_t *chars);

#endif
