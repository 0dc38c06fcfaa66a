/* unigram.c - unigram perplexity of a text (unigram.h). */
#include "metrics/unigram.h"

#include <math.h>
#include <stdlib.h>

sq_status sq_unigram_perplexity(const int32_t *tokens, size_t count, int vocab, double *perplexity)
{
    int64_t *counts;
    double entropy = 0;
    *perplexity = 0;
    if (count == 0 || vocab <= 0)
        return SQ_OK;
    counts = calloc((size_t)vocab, sizeof *counts);
    if (counts == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory counting %d token ids", vocab);
    for (size_t i = 0; i < count; i++)
        if (tokens[i] >= 0 && tokens[i] < vocab)
            counts[tokens[i]]++;
    for (int c = 0; c < vocab; c++) {
        if (counts[c] == 0)
            continue;
        double p = (double)counts[c] / (double)count;
        entropy -= p * log(p);
    }
    free(counts);
    *perplexity = exp(entropy);
    return SQ_OK;
}
