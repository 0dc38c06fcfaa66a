/* unigram.h - the perplexity of a unigram model of a text, fitted to that
 * same text: exp of the entropy of its token frequencies.
 *
 * It is the floor any language model should clear on the text it is scored
 * on: counting tokens needs no model at all.  A model whose perplexity is far
 * above it is not reading the text it was trained on: the usual causes are a
 * tokenizer other than the model's (data.tokenizer) or a wrong prediction
 * offset (evaluate.offset).  evaluate records it and warns (docs/evaluate.md). */
#ifndef SQ_METRICS_UNIGRAM_H
#define SQ_METRICS_UNIGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

/* How many times the unigram perplexity a model's may be before evaluate warns. */
#define SQ_UNIGRAM_WARN_FACTOR 2.0

/* exp(-sum_c p_c log p_c) over the ids of tokens[0, count) (ids in [0, vocab));
 * 0 when count is 0.  SQ_ERR_RUN when out of memory. */
sq_status sq_unigram_perplexity(const int32_t *tokens, size_t count, int vocab, double *perplexity);

#endif
