/* evaluation.h - perplexity (and KL to a baseline) of a model over a window
 * plan, with the windows spread over MPI ranks.
 *
 * Determinism (DESIGN.md): rank r evaluates a contiguous block of windows
 * (sq_window_block), each window's sums are computed in position order by
 * perplexity.c, the root gathers the per-window sums with MPI_Gatherv (blocks
 * arrive in rank order = window order) and adds them in window order.  A
 * window's numbers do not depend on which rank computed it (single-threaded
 * BLAS: the stage calls openblas_set_num_threads(1)), so the perplexity is
 * bit-identical for 1, 2 or 4 ranks.
 */
#ifndef SQ_METRICS_EVALUATION_H
#define SQ_METRICS_EVALUATION_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics/perplexity.h"
#include "metrics/windows.h"
#include "models/forward.h"

typedef struct {
    bool store_logprobs;       /* keep this model's log-probs of every scored position (a baseline) */
    bool side_offset;          /* also score each prediction against token t + offset + 1 */
    const char *baseline_path; /* NULL, or a baseline evaluation holding logprobs: adds KL */
    int64_t baseline_rows;     /* rows of the baseline's logprobs (checked) */
} sq_eval_options;

typedef struct {
    int64_t windows;
    int vocab;
    /* per window, window order (root only) */
    double *window_nll;
    int64_t *window_tokens;
    double *window_kl;         /* NULL without a baseline */
    /* totals (root only), summed in window order */
    double nll_sum, nll_sq_sum, side_nll_sum, kl_sum;
    int64_t scored, side_scored;
    int64_t processed;         /* positions fed to the model, all ranks */
    double perplexity, mean_nll, nll_std, ppl_stderr;
    double side_perplexity, side_mean_nll; /* NAN unless side_offset */
    double kl_divergence;      /* mean KL over scored tokens; NAN without a baseline */
    /* measured */
    double forward_seconds;    /* max over ranks of the time inside the forward pass */
    double seconds;            /* max over ranks of the whole window loop (forward + scoring) */
    double forward_cpu_seconds; /* max over ranks of the CPU time of the forward pass (not counting
                                   time other processes held the core: shared machines) */
    double cpu_seconds;        /* the same for the whole window loop */
    double tokens_per_second;  /* processed / forward_seconds */
    double scored_tokens_per_second; /* scored / seconds */
    uint64_t peak_rss_bytes;   /* max over ranks */
    uint64_t buffer_bytes;     /* the window loop's own buffers (logits, scoring scratch, log-probs,
                                  baseline rows), max over ranks */
    /* this model's log-probs [scored, vocab], IEEE half (root, store_logprobs) */
    uint16_t *logprobs;
    int64_t logprob_rows;
} sq_eval_result;

/* Collective over comm.  Every rank holds the same model, tokens and plan.
 * Fails (the same status on every rank) when any rank fails, when no token is
 * scored, or when the perplexity is not finite (SQ_ERR_RUN). */
sq_status sq_evaluate(MPI_Comm comm, sq_model *model, const int32_t *tokens, const sq_window_plan *plan,
                      const sq_eval_options *options, sq_eval_result *result);
void sq_eval_result_free(sq_eval_result *result);

#endif
