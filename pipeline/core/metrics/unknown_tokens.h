/* unknown_tokens.h - how much of a text the tokenizer could not read: the
 * share of its tokens that are the tokenizer's unknown token (<UNK>, a
 * tokenizer.json's unk_token).
 *
 * A model scored on text that its tokenizer maps to <UNK> is scored on a
 * stream of one repeated id, not on the text: a word-level tokenizer built
 * from another corpus turns most of a text into <UNK> and the perplexity is
 * meaningless, however good it looks.  evaluate records the rate and warns
 * above SQ_UNKNOWN_TOKEN_WARN_RATE; `squeeze check` warns by the same rule
 * (docs/evaluate.md, "Unknown tokens"). */
#ifndef SQ_METRICS_UNKNOWN_TOKENS_H
#define SQ_METRICS_UNKNOWN_TOKENS_H

#include <stddef.h>
#include <stdint.h>

/* The share of unknown tokens above which evaluate and check warn: 5%.  A word
 * tokenizer on the text it was built from stays well below it (Itera-Lite's
 * 184-word tokenizer on its TinyStories text: 0%), on a text of another kind
 * far above (the same tokenizer on Jane Austen: 73%). */
#define SQ_UNKNOWN_TOKEN_WARN_RATE 0.05

/* Tokens of tokens[0, count) equal to unk_id; 0 when unk_id < 0 (the tokenizer has none). */
size_t sq_unknown_token_count(const int32_t *tokens, size_t count, int32_t unk_id);

/* The warning's text when count tokens hold `unknown` unknown ones and their
 * share is above SQ_UNKNOWN_TOKEN_WARN_RATE ("" otherwise): what to check,
 * for evaluate's log and check's output alike.  Returns buf. */
const char *sq_unknown_token_warning(size_t unknown, size_t count, int32_t unk_id, const char *tokenizer,
                                     const char *data, char *buf, size_t size);

#endif
