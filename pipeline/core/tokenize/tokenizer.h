/* tokenizer.h - text (or pre-tokenized files) to token ids.
 *
 * Kinds (one row each in tokenizer.c's table, recognised by the file's
 * content): "bytes" (vocab 256, each byte its own id); Itera-Lite's JSON
 * tokenizers (word level: lowercase (ASCII), split on whitespace as Python's
 * str.split(), unknown -> id 1; char level: one id per character, unknown ->
 * 1), recognised by their keys (token_to_id / token2id); Hugging Face
 * tokenizer.json files with a BPE model ("bpe": byte-level as GPT-2/Llama 3,
 * or SentencePiece-style as Llama 2/Mistral; hf_tokenizer.h); llama2.c's
 * tokenizer.bin ("llama2c"; llama2c_tokenizer.h).  And pre-tokenized data:
 * little-endian uint16 or uint32 .bin files (nanoGPT) or an HDF5 dataset.
 * docs/tokenizers.md says what is supported and what is refused.
 */
#ifndef SQ_TOKENIZE_TOKENIZER_H
#define SQ_TOKENIZE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "config/data_spec.h"
#include "util/status.h"

typedef struct sq_tokenizer sq_tokenizer;

/* spec: "bytes" or the path of a tokenizer file (any kind above, told apart
 * by content).  A file no kind recognises, or one its kind refuses, is an
 * input error naming the file. */
sq_status sq_tokenizer_load(const char *spec, sq_tokenizer **out);
void sq_tokenizer_free(sq_tokenizer *tokenizer);
/* Highest id + 1 that this tokenizer produces. */
int sq_tokenizer_vocab_size(const sq_tokenizer *tokenizer);
const char *sq_tokenizer_kind(const sq_tokenizer *tokenizer); /* "bytes", "word", "char", "bpe", "llama2c" */

/* What a tokenizer produces, for checks against a model (squeeze check, the
 * stages) and for slicing text. */
typedef struct {
    const char *kind;       /* as sq_tokenizer_kind */
    const char *spec;       /* what it was loaded from */
    int vocab_size;         /* highest id it can produce + 1 */
    int entries;            /* distinct tokens the file lists */
    int declared_size;      /* the size the file itself states (Itera-Lite "vocab_size"), 0 if none */
    int exact_rows;         /* 1: a model must have exactly `entries` embedding rows (llama2.c reads
                               as many tokens from tokenizer.bin as the model's vocab_size) */
    int32_t bos_id, eos_id; /* put around every encoded text, -1 if none */
    int32_t unk_id;         /* the id text the tokenizer does not know becomes (Itera-Lite's <UNK>, a
                               tokenizer.json's unk_token), -1 if it has none (bytes, byte fallback) */
    int python_text;        /* 1: text is read as Python's open() does (universal newlines) and cut by
                               code points, as Itera-Lite's tokenizers see it; 0: the bytes as they are,
                               cut by bytes */
    int whole_chars;        /* with python_text 0: a cut moves forward to the next UTF-8 character
                               start (the tokenizer reads UTF-8 text) */
} sq_tokenizer_info;

void sq_tokenizer_get_info(const sq_tokenizer *tokenizer, sq_tokenizer_info *info);

/* Whether the tokenizer fits a model whose token embedding has model_rows
 * rows (model names the model in the message): an input error naming both
 * and both numbers if an id could index past the embedding, or, for a
 * llama2.c tokenizer.bin, if the file lists another number of tokens than
 * the model declares. */
sq_status sq_tokenizer_check_model(const sq_tokenizer *tokenizer, int model_rows, const char *model);

/* ids -> text, as the tokenizer's decoder says (bytes: the bytes; word: words
 * joined by spaces; char: the characters; bpe: the tokenizer.json decoder;
 * llama2c: run.c's decode).  An id the tokenizer does not have is an input
 * error.  *text is malloc'd and NUL terminated (free() it). */
sq_status sq_tokenizer_decode(const sq_tokenizer *tokenizer, const int32_t *ids, size_t count, char **text,
                              size_t *length);

/* Encodes text[0, length) (UTF-8 for word/char/bpe tokenizers: invalid UTF-8
 * is an input error naming the byte offset; any bytes for "bytes" and
 * "llama2c"), with the BOS/EOS ids the tokenizer puts around a text.  *tokens is
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
