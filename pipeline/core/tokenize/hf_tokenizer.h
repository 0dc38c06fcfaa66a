/* hf_tokenizer.h - Hugging Face tokenizer.json files with a BPE model.
 *
 * Encoding follows the tokenizers pipeline (https://huggingface.co/docs/tokenizers/pipeline)
 * as transformers.js implements it (src/tokenizers.js, PreTrainedTokenizer._encode_text):
 *   1. added tokens are matched first, longest match at each position, and cut
 *      the text into sections (lstrip/rstrip trim the neighbouring sections);
 *   2. each other section goes through the normalizer (Prepend, Replace, the
 *      Unicode normal forms NFC/NFD/NFKC/NFKD by utf8proc, Sequence),
 *   3. the pre-tokenizer (ByteLevel, Split with a regex, Sequence),
 *   4. the BPE model: characters of each piece merged by rank, then byte
 *      fallback (<0xNN>) or the unknown token for what is not in the vocabulary;
 *   5. the post-processor's template (BOS/EOS), TemplateProcessing "single".
 * Anything else in a file (another model type, normalizer, pre-tokenizer,
 * post-processor or decoder, BPE dropout, subword prefixes) is refused with
 * its name rather than silently encoded differently; docs/tokenizers.md lists
 * what is supported.
 */
#ifndef SQ_TOKENIZE_HF_TOKENIZER_H
#define SQ_TOKENIZE_HF_TOKENIZER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenize/merge_table.h"
#include "tokenize/split_regex.h"
#include "tokenize/token_buffer.h"
#include "tokenize/vocab_table.h"
#include "util/status.h"

typedef struct {
    char *content;
    size_t length;
    int32_t id;
    int lstrip, rstrip, special;
} sq_hf_added_token;

typedef enum { SQ_HF_NORM_PREPEND, SQ_HF_NORM_REPLACE, SQ_HF_NORM_UNICODE } sq_hf_norm_kind;
typedef struct {
    sq_hf_norm_kind kind;
    char *text;          /* Prepend: what; Replace: the pattern string */
    char *replacement;   /* Replace: the content */
    int unicode_options; /* NFC/NFD/NFKC/NFKD: utf8proc_map options */
} sq_hf_norm_step;

typedef enum { SQ_HF_PRE_BYTE_LEVEL, SQ_HF_PRE_SPLIT } sq_hf_pre_kind;
typedef struct {
    sq_hf_pre_kind kind;
    int add_prefix_space;  /* ByteLevel */
    sq_split_regex *regex; /* Split, or ByteLevel with use_regex (else NULL) */
    sq_split_mode mode;
} sq_hf_pre_step;

typedef enum {
    SQ_HF_DEC_BYTE_LEVEL, SQ_HF_DEC_REPLACE, SQ_HF_DEC_BYTE_FALLBACK, SQ_HF_DEC_FUSE, SQ_HF_DEC_STRIP
} sq_hf_dec_kind;
typedef struct {
    sq_hf_dec_kind kind;
    char *text, *replacement; /* Replace: pattern, content; Strip: content (one character) */
    int start, stop;          /* Strip */
} sq_hf_dec_step;

#define SQ_HF_MAX_STEPS 8

typedef struct {
    char *path;
    /* model */
    sq_vocab_table vocab;       /* token -> id (model vocabulary, then added tokens) */
    char **token_text;          /* [vocab_size] id -> token, NULL for an unused id */
    uint32_t *token_length;
    int32_t vocab_size;         /* highest id + 1 */
    int32_t entries;            /* distinct ids */
    sq_merge_table merges;
    int32_t unk_id;             /* -1: none */
    int byte_fallback, ignore_merges;
    int32_t byte_ids[256];      /* <0xNN> tokens, -1 where absent */
    /* pipeline */
    sq_hf_added_token *added;
    size_t n_added;
    sq_hf_norm_step norm[SQ_HF_MAX_STEPS];
    size_t n_norm;
    sq_hf_pre_step pre[SQ_HF_MAX_STEPS];
    size_t n_pre;
    int32_t *prefix, *suffix;   /* ids the post-processor puts around a text */
    size_t n_prefix, n_suffix;
    sq_hf_dec_step dec[SQ_HF_MAX_STEPS];
    size_t n_dec;
} sq_hf_tokenizer;

/* root: the parsed file (an object with "model"); path for messages. */
sq_status sq_hf_tokenizer_load(const char *path, json_t *root, sq_hf_tokenizer **out);
void sq_hf_tokenizer_free(sq_hf_tokenizer *tok);

/* text must be valid UTF-8 (an input error names the first bad byte). */
sq_status sq_hf_tokenizer_encode(const sq_hf_tokenizer *tok, const char *text, size_t length, sq_token_buffer *out);
sq_status sq_hf_tokenizer_decode(const sq_hf_tokenizer *tok, const int32_t *ids, size_t count, sq_byte_buffer *out);

#endif
