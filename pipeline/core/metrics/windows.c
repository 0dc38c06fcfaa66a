/* windows.c - the window plan of an evaluation (windows.h, docs/evaluate.md). */
#include "metrics/windows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const scoring_names[] = {"all", "new", "second-half"};

const char *sq_scoring_name(sq_scoring scoring)
{
    if ((int)scoring < 0 || (int)scoring > SQ_SCORE_SECOND_HALF)
        return "?";
    return scoring_names[scoring];
}

int sq_scoring_from_name(const char *name)
{
    for (int i = 0; i <= SQ_SCORE_SECOND_HALF; i++)
        if (strcmp(name, scoring_names[i]) == 0)
            return i;
    return -1;
}

void sq_window_options_from_config(const sq_run_config *cfg, sq_window_options *options)
{
    const sq_yaml_node *section = cfg->doc.root ? sq_yaml_get(cfg->doc.root, "evaluate") : NULL;
    memset(options, 0, sizeof *options);
    options->window_length = cfg->evaluate.window_length;
    options->stride = cfg->evaluate.stride;
    options->scoring = cfg->evaluate.scoring;
    options->offset = cfg->evaluate.offset;
    options->max_windows = cfg->evaluate.max_windows;
    options->window_length_given = section != NULL && sq_yaml_get(section, "window_length") != NULL;
    options->stride_given = section != NULL && sq_yaml_get(section, "stride") != NULL;
}

/* Settles window_length and stride for the protocol; fails on impossible ones. */
sq_status sq_window_protocol_resolve(const sq_window_options *options, int max_seq_length, sq_window_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    int window = options->window_length;
    int stride = options->stride;
    int offset = options->offset;

    plan->note[0] = '\0';
    if (offset < 1)
        return sq_fail(SQ_ERR_USAGE, "evaluate.offset is %d: it must be 1 (next token) or more (2 for a model "
                                     "trained to predict t+2)", offset);
    if (options->scoring == SQ_SCORE_SECOND_HALF) {
        /* llama-perplexity: n_ctx = 512 unless set, and never beyond the model's
         * trained context (it warns when n_ctx > n_ctx_train). */
        if (!options->window_length_given) {
            window = SQ_SECOND_HALF_DEFAULT_WINDOW;
            if (window > max_seq_length) {
                snprintf(plan->note, sizeof plan->note,
                         "scoring second-half: window length %d (llama-perplexity's n_ctx) clamped to the "
                         "model's max_seq_length %d", window, max_seq_length);
                window = max_seq_length;
            }
        }
        if (options->stride_given && options->stride != window)
            return sq_fail(SQ_ERR_USAGE, "evaluate.stride is %d but scoring second-half uses non-overlapping chunks "
                                         "(stride = window length %d): remove evaluate.stride or set it to %d",
                           options->stride, window, window);
        stride = window;
    } else if (!options->stride_given) {
        stride = window;
    }
    if (window - offset < 1)
        return sq_fail(SQ_ERR_USAGE, "evaluate.window_length %d leaves no prediction at offset %d: a window needs "
                                     "at least offset + 1 = %d tokens", window, offset, offset + 1);
    if (options->scoring == SQ_SCORE_SECOND_HALF && window / 2 >= window - offset)
        return sq_fail(SQ_ERR_USAGE, "evaluate.window_length %d is too short for scoring second-half at offset %d: "
                                     "its second half has no prediction", window, offset);
    if (stride < 1)
        return sq_fail(SQ_ERR_USAGE, "evaluate.stride is %d: it must be at least 1", stride);
    if (window - offset > max_seq_length)
        return sq_fail(SQ_ERR_USAGE, "evaluate.window_length %d feeds %d positions to the model at offset %d, more "
                                     "than its max_seq_length %d: set evaluate.window_length to at most %d",
                       window, window - offset, offset, max_seq_length, max_seq_length + offset);
    plan->window_length = window;
    plan->stride = stride;
    plan->offset = offset;
    plan->scoring = options->scoring;
    plan->inputs = window - offset;
    return SQ_OK;
}

sq_status sq_window_plan_build(const sq_window_options *options, int max_seq_length, int64_t token_count,
                               sq_window_plan *plan)
{
    sq_status st = SQ_OK;
    int64_t count, target_end = 0;

    memset(plan, 0, sizeof *plan);
    SQ_TRY(sq_window_protocol_resolve(options, max_seq_length, plan));
    if (token_count < plan->window_length)
        SQ_FAIL(SQ_ERR_INPUT, "the evaluation text has %lld tokens, fewer than one window of %d tokens "
                              "(evaluate.window_length): use a longer text (data.evaluation) or a shorter window",
                (long long)token_count, plan->window_length);
    count = (token_count - plan->window_length) / plan->stride + 1;
    if (options->max_windows > 0 && count > options->max_windows)
        count = options->max_windows;
    SQ_TRY(sq_alloc(&plan->windows, (size_t)count, sizeof *plan->windows, "window plan"));
    plan->count = count;
    for (int64_t w = 0; w < count; w++) {
        sq_window *win = &plan->windows[w];
        win->start = w * plan->stride;
        win->score_begin = 0;
        win->score_end = plan->inputs;
        if (plan->scoring == SQ_SCORE_SECOND_HALF) {
            /* perplexity.cpp: first = n_ctx/2; logits [first, n_ctx - 1) at k = 1. */
            win->score_begin = plan->window_length / 2;
        } else if (plan->scoring == SQ_SCORE_NEW && w > 0) {
            /* Targets are tokens start + t + offset; the ones below target_end
             * were scored by an earlier window. */
            int64_t first_new = target_end - win->start - plan->offset;
            win->score_begin = first_new > 0 ? (int)first_new : 0;
        }
        target_end = win->start + plan->window_length;
        plan->scored += win->score_end - win->score_begin;
    }
    plan->unused_tail = token_count - (plan->windows[count - 1].start + plan->window_length);
cleanup: /* nothing fails once the windows are allocated */
    return st;
}

void sq_window_plan_free(sq_window_plan *plan)
{
    free(plan->windows);
    plan->windows = NULL;
    plan->count = 0;
}

void sq_window_block(int64_t count, int rank, int ranks, int64_t *first, int64_t *end)
{
    /* Balanced contiguous blocks: the first count % ranks ranks take one more. */
    int64_t base = count / ranks, extra = count % ranks;
    *first = rank * base + (rank < extra ? rank : extra);
    *end = *first + base + (rank < extra ? 1 : 0);
}
