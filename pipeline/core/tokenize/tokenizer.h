/* tokenizer.h - text (or pre-tokenized files) to token ids.
 *
 * Kinds: "bytes" (vocab 256, each byte its own id); Itera-Lite's JSON
 * tokenizers (word level: lowercase, split on whitespace, unknown -> id 1;
 * char level: one id per character, unknown -> 1), recognised by their keys
 * (token_to_id / token2id); and pre-tokenized data: little-endian uint16 or
 * uint32 .bin files (nanoGPT) or an HDF5 dataset.
 */
#ifndef SQ_TOKENIZE_TOKENIZER_H
#define SQ_TOKENIZE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

typedef struct sq_tokenizer sq_tokenizer;

/* spec: "bytes" or a path to a JSON tokenizer file. */
sq_status sq_tokenizer_load(const char *spec, sq_tokenizer **out);
void sq_tokenizer_free(sq_tokenizer *tokenizer);
/* Highest id + 1 that this tokenizer produces. */
int sq_tokenizer_vocab_size(const sq_tokenizer *tokenizer);
const char *sq_tokenizer_kind(const sq_tokenizer *tokenizer); /* "bytes", "word", "char" */

/* Encodes bytes [begin, end) of text (UTF-8). */
sq_status sq_tokenizer_encode(const sq_tokenizer *tokenizer, const char *text, size_t length, int32_t **tokens,
                              size_t *count);

/* Where the data comes from and which part of it to use. */
typedef struct {
    const char *path;
    const char *format;   /* "text", "u16", "u32", "hdf5" (dataset name in dataset) */
    const char *dataset;  /* for hdf5: the dataset path, default "tokens" */
    double start, end;    /* fraction of the file (by characters for text, by tokens
                             otherwise) to use: [start, end), default [0, 1) */
} sq_data_spec;

/* Loads the tokens of a data spec; text goes through the tokenizer.  Every id is
 * checked against vocab_size (when > 0): an id outside it is an input error
 * naming its position. */
sq_status sq_data_load_tokens(const sq_data_spec *spec, const sq_tokenizer *tokenizer, int vocab_size,
                              int32_t **tokens, size_t *count);

#endif
