/* tokenizer.h - text (or pre-tokenized files) to token ids.
 *
 * Kinds: "bytes" (vocab 256, each byte its own id); Itera-Lite's JSON
 * tokenizers (word level: lowercase (ASCII), split on whitespace as Python's
 * str.split(), unknown -> id 1;
 * char level: one id per character, unknown -> 1), recognised by their keys
 * (token_to_id / token2id); and pre-tokenized data: little-endian uint16 or
 * uint32 .bin files (nanoGPT) or an HDF5 dataset.
 */
#ifndef SQ_TOKENIZE_TOKENIZER_H
#define SQ_TOKENIZE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "config/data_spec.h"
#include "util/status.h"

typedef struct sq_tokenizer sq_tokenizer;

/* spec: "bytes" or a path to a JSON tokenizer file. */
sq_status sq_tokenizer_load(const char *spec, sq_tokenizer **out);
void sq_tokenizer_free(sq_tokenizer *tokenizer);
/* Highest id + 1 that this tokenizer produces. */
int sq_tokenizer_vocab_size(const sq_tokenizer *tokenizer);
const char *sq_tokenizer_kind(const sq_tokenizer *tokenizer); /* "bytes", "word", "char" */

/* Encodes text[0, length) (UTF-8 for word/char tokenizers: invalid UTF-8 is an
 * input error naming the byte offset; any bytes for "bytes").  *tokens is
 * malloc'd (free() it; it may be NULL when *count is 0). */
sq_status sq_tokenizer_encode(const sq_tokenizer *tokenizer, const char *text, size_t length, int32_t **tokens,
                              size_t *count);

/* Loads the tokens of a data spec; text goes through the tokenizer (format NULL
 * means "text"; tokenizer may be NULL for pre-tokenized formats).  Every id is
 * checked against vocab_size (when > 0; pass the model's embedding size, which
 * may differ from the tokenizer's): an id outside [0, vocab_size), or a negative
 * or non-integer id in the file, is an input error naming its position.  An
 * empty selection is an input error.  *tokens is malloc'd (free() it). */
sq_status sq_data_load_tokens(const sq_data_spec *spec, const sq_tokenizer *tokenizer, int vocab_size,
                              int32_t **tokens, size_t *count);

#endif
