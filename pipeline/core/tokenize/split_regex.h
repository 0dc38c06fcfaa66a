/* split_regex.h - the regular expressions of tokenizer.json pre-tokenizers
 * (Split with a Regex, ByteLevel's GPT-2 pattern), run by PCRE2.
 *
 * Patterns are compiled in UTF + UCP mode, so \p{L}, \p{N}, \s and (?i:...)
 * are Unicode-aware as in the Rust `regex` crate that Hugging Face tokenizers
 * uses and in JavaScript's /u regexes that transformers.js uses.  One rewrite
 * makes \s mean what it means in ECMAScript (ECMA-262, WhiteSpace and
 * LineTerminator), as in transformers.js, the reference squeeze is tested
 * against: PCRE2's and Rust's Unicode \s (the White_Space property) include
 * U+0085 NEXT LINE and exclude U+FEFF, JavaScript's the other way round.
 */
#ifndef SQ_TOKENIZE_SPLIT_REGEX_H
#define SQ_TOKENIZE_SPLIT_REGEX_H

#include <stddef.h>

#include "util/status.h"

typedef struct sq_split_regex sq_split_regex;

/* Which parts of the text a split keeps. */
typedef enum {
    SQ_SPLIT_MATCHES,          /* only the matches (ByteLevel: text.match(pattern)) */
    SQ_SPLIT_ISOLATED,         /* matches and the text between them, in order (Split "Isolated") */
    SQ_SPLIT_REMOVED,          /* only the text between matches (Split "Removed") */
} sq_split_mode;

/* Compiles pattern; an invalid pattern is an input error naming `where`
 * (e.g. "tokenizer.json pre_tokenizer") and PCRE2's message and offset. */
sq_status sq_split_regex_compile(const char *pattern, const char *where, sq_split_regex **out);
void sq_split_regex_free(sq_split_regex *re);

/* Splits text[0, length) (valid UTF-8) and calls emit(ctx, piece, piece_length)
 * for each non-empty piece, in text order. */
typedef sq_status (*sq_piece_fn)(void *ctx, const char *piece, size_t length);
sq_status sq_split_regex_split(const sq_split_regex *re, sq_split_mode mode, const char *text, size_t length,
                               sq_piece_fn emit, void *ctx);

/* GPT-2's pre-tokenizer pattern, the one ByteLevel applies when use_regex is
 * true (HF tokenizers pre_tokenizers/byte_level.rs). */
extern const char SQ_GPT2_SPLIT_PATTERN[];

#endif
