/* unknown_tokens.c - the share of a text's tokens that are <UNK> (unknown_tokens.h). */
#include "metrics/unknown_tokens.h"

#include <stdio.h>

size_t sq_unknown_token_count(const int32_t *tokens, size_t count, int32_t unk_id)
{
    size_t unknown = 0;
    if (unk_id < 0)
        return 0;
    for (size_t i = 0; i < count; i++)
        unknown += tokens[i] == unk_id;
    return unknown;
}

const char *sq_unknown_token_warning(size_t unknown, size_t count, int32_t unk_id, const char *tokenizer,
                                     const char *data, char *buf, size_t size)
{
    buf[0] = '\0';
    if (count == 0 || (double)unknown <= SQ_UNKNOWN_TOKEN_WARN_RATE * (double)count)
        return buf;
    snprintf(buf, size, "%.1f%% of the %zu tokens of %s are the unknown token (id %d) of data.tokenizer %s (more "
             "than %.0f%%): the tokenizer does not know this text's words, so a perplexity measures how well the "
             "model predicts <UNK>, not the text; use the tokenizer the model was trained with, or text of the kind "
             "it was built from", 100.0 * (double)unknown / (double)count, count, data, unk_id, tokenizer,
             100.0 * SQ_UNKNOWN_TOKEN_WARN_RATE);
    return buf;
}
