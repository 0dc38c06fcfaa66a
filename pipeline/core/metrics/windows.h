/* windows.h - which tokens of the evaluation text each window feeds to the
 * model and which of its predictions are scored (docs/evaluate.md).
 *
 * A window is a span of window_length consecutive tokens of the text.  With a
 * prediction offset k, the model is fed the first window_length - k tokens of
 * the span, and the logits at position t (0-based within the window) predict
 * the span's token t + k.  So every target lies inside its own window, and a
 * window has window_length - k predictions that can be scored:
 *
 *   scoring "all"          every prediction t in [0, window_length - k)
 *   scoring "new"          only targets that no earlier window scored (sliding
 *                          windows as the Hugging Face perplexity guide does it)
 *   scoring "second-half"  llama-perplexity's protocol: non-overlapping chunks
 *                          of n_ctx tokens, predictions t in [n_ctx/2, n_ctx - k)
 *                          (255 of a 512-token chunk at k = 1, as
 *                          tools/perplexity/perplexity.cpp scores them)
 *
 * Windows start at 0, stride, 2*stride, ... while a whole window fits in the
 * text; tokens after the last whole window are not used (no padding, no short
 * last window), so every window is the same computation on every rank.
 */
#ifndef SQ_METRICS_WINDOWS_H
#define SQ_METRICS_WINDOWS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/run_config.h"
#include "util/status.h"

/* llama-perplexity's default n_ctx (tools/perplexity/perplexity.cpp main). */
#define SQ_SECOND_HALF_DEFAULT_WINDOW 512

typedef struct {
    int window_length;       /* evaluate.window_length: tokens per window (inputs + targets) */
    int stride;              /* evaluate.stride: tokens between window starts */
    sq_scoring scoring;
    int offset;              /* evaluate.offset: logits at t predict token t + offset */
    int max_windows;         /* evaluate.max_windows: 0 = all */
    bool window_length_given; /* the config set evaluate.window_length (else the default) */
    bool stride_given;        /* the config set evaluate.stride */
} sq_window_options;

typedef struct {
    int64_t start;   /* first token of the window in the text */
    int score_begin; /* first scored prediction position */
    int score_end;   /* one past the last scored position (<= inputs) */
} sq_window;

typedef struct {
    int window_length; /* as resolved (second-half: the chunk length n_ctx) */
    int stride;
    int offset;
    sq_scoring scoring;
    int inputs;        /* tokens fed to the model per window: window_length - offset */
    int64_t count;     /* number of windows */
    sq_window *windows;
    int64_t scored;    /* predictions scored over all windows */
    int64_t unused_tail; /* tokens after the last window (never fed or scored) */
    char note[256];    /* what was resolved or clamped, for the log ("" when nothing) */
} sq_window_plan;

/* The evaluate section of a run config as window options (what it set and
 * what it left to the defaults): evaluate and squeeze check read it alike. */
void sq_window_options_from_config(const sq_run_config *cfg, sq_window_options *options);
/* The protocol rules alone, without a text (the first part of
 * sq_window_plan_build below): squeeze check applies exactly these, so it
 * accepts and refuses what evaluate does, with the same message. */
sq_status sq_window_protocol_resolve(const sq_window_options *options, int max_seq_length, sq_window_plan *plan);

/* "all", "new", "second-half". */
const char *sq_scoring_name(sq_scoring scoring);
/* Parses a scoring name; returns -1 when unknown. */
int sq_scoring_from_name(const char *name);

/* Resolves the protocol against the model's maximum sequence length:
 *  - offset < 1, stride < 1, or a window with no prediction: usage error;
 *  - second-half: window_length defaults to 512 (llama-perplexity's n_ctx) and
 *    is clamped to max_seq_length when it was not given (said in note); the
 *    stride is the window length (a different evaluate.stride is a usage error);
 *  - window_length - offset > max_seq_length: usage error naming
 *    evaluate.window_length and the maximum.
 * Then lays out the windows over token_count tokens; a text shorter than one
 * window is an input error giving the token count and the window length. */
sq_status sq_window_plan_build(const sq_window_options *options, int max_seq_length, int64_t token_count,
                               sq_window_plan *plan);
void sq_window_plan_free(sq_window_plan *plan);

/* The contiguous block of windows [*first, *end) that rank `rank` of `ranks`
 * evaluates: window order is rank order, so gathering the blocks in rank order
 * gives the windows in index order. */
void sq_window_block(int64_t count, int rank, int ranks, int64_t *first, int64_t *end);

#endif
