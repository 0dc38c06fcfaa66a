/* evaluation.c - the distributed window loop and its reduction (evaluation.h). */
#include "metrics/evaluation.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/evaluation_file.h"
#include "metrics/mem.h"
#include "util/log.h"
#include "util/mpi_agree.h"
#include "util/progress.h"

/* Per-window numbers travel to the root as 6 doubles (counts are exact in a
 * double below 2^53). */
enum { PACK_NLL, PACK_NLL_SQ, PACK_SCORED, PACK_SIDE_NLL, PACK_SIDE_SCORED, PACK_KL, PACK_WIDTH };

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of this thread: what the forward pass costs when the machine is shared
 * (wall time then also counts the time other processes hold the core). */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A rank's block of windows [first, end) and its scored positions: those of
 * the windows before the block (where its log-prob rows start) and its own. */
static void block_rows(const sq_window_plan *plan, int rank, int ranks, int64_t *first, int64_t *end, int64_t *before,
                       int64_t *mine)
{
    sq_window_block(plan->count, rank, ranks, first, end);
    *before = *mine = 0;
    for (int64_t w = 0; w < *end; w++) {
        int64_t scored = plan->windows[w].score_end - plan->windows[w].score_begin;
        if (w < *first)
            *before += scored;
        else
            *mine += scored;
    }
}

/* Sums the gathered per-window numbers in window order and derives the results. */
static sq_status reduce_on_root(const double *all, const sq_eval_options *options, sq_eval_result *result)
{
    sq_status st = SQ_OK;
    int64_t windows = result->windows;
    SQ_TRY(sq_alloc(&result->window_nll, (size_t)windows, sizeof(double), "per-window NLL"));
    SQ_TRY(sq_alloc(&result->window_tokens, (size_t)windows, sizeof(int64_t), "per-window token counts"));
    if (options->baseline_path != NULL)
        SQ_TRY(sq_alloc(&result->window_kl, (size_t)windows, sizeof(double), "per-window KL"));
    for (int64_t w = 0; w < windows; w++) {
        const double *p = all + w * PACK_WIDTH;
        result->window_nll[w] = p[PACK_NLL];
        result->window_tokens[w] = (int64_t)p[PACK_SCORED];
        result->nll_sum += p[PACK_NLL];
        result->nll_sq_sum += p[PACK_NLL_SQ];
        result->scored += (int64_t)p[PACK_SCORED];
        result->side_nll_sum += p[PACK_SIDE_NLL];
        result->side_scored += (int64_t)p[PACK_SIDE_SCORED];
        result->kl_sum += p[PACK_KL];
        if (result->window_kl != NULL)
            result->window_kl[w] = p[PACK_KL];
    }
    if (result->scored == 0)
        SQ_FAIL(SQ_ERR_RUN, "the evaluation scored no token (%lld windows): nothing was measured; check "
                            "evaluate.window_length, evaluate.scoring and evaluate.max_windows",
                (long long)windows);
    /* llama-perplexity: PPL = exp(mean), stderr = PPL * sqrt(var / (N - 1)). */
    result->mean_nll = result->nll_sum / (double)result->scored;
    result->perplexity = exp(result->mean_nll);
    {
        double var = result->nll_sq_sum / (double)result->scored - result->mean_nll * result->mean_nll;
        if (var < 0.0)
            var = 0.0;
        result->nll_std = sqrt(var);
        result->ppl_stderr = result->scored > 1 ? result->perplexity * sqrt(var / (double)(result->scored - 1)) : 0.0;
    }
    if (!isfinite(result->mean_nll) || !isfinite(result->perplexity))
        SQ_FAIL(SQ_ERR_RUN, "the perplexity is %g (mean NLL %g over %lld tokens): the model produced "
                            "non-finite or overflowing log-likelihoods; this is a failure, not a result",
                result->perplexity, result->mean_nll, (long long)result->scored);
    if (options->side_offset && result->side_scored > 0) {
        result->side_mean_nll = result->side_nll_sum / (double)result->side_scored;
        result->side_perplexity = exp(result->side_mean_nll);
    }
    if (options->baseline_path != NULL) {
        result->kl_divergence = result->kl_sum / (double)result->scored;
        if (!isfinite(result->kl_divergence))
            SQ_FAIL(SQ_ERR_RUN, "the KL divergence to the baseline is %g: not a result", result->kl_divergence);
    }
cleanup:
    return st;
}

void sq_eval_result_free(sq_eval_result *result)
{
    free(result->window_nll);
    free(result->window_tokens);
    free(result->window_kl);
    free(result->logprobs);
    result->window_nll = result->window_kl = NULL;
    result->window_tokens = NULL;
    result->logprobs = NULL;
}

sq_status sq_evaluate(MPI_Comm comm, sq_model *model, const int32_t *tokens, const sq_window_plan *plan,
                      const sq_eval_options *options, sq_eval_result *result)
{
    sq_status st = SQ_OK, local = SQ_OK;
    int rank = 0, ranks = 1;
    int64_t first, end, row_first = 0, rows = 0, row = 0, processed = 0;
    int vocab = sq_model_get_config(model)->vocab_size;
    size_t V = (size_t)vocab;
    float *logits = NULL;
    double *work = NULL, *packed = NULL, *all = NULL;
    uint16_t *baseline = NULL, *lp_local = NULL;
    int *counts = NULL, *displs = NULL;
    double loop_start, forward_local = 0.0, loop_local = 0.0;
    double loop_cpu_start, forward_cpu_local = 0.0, loop_cpu_local = 0.0;
    uint64_t rss_local, rss_max = 0, buffers_local = 0; /* this rank's buffers, counted as allocated */
    MPI_Datatype row_type = MPI_DATATYPE_NULL;
    sq_progress progress;
    char progress_what[48];

    memset(result, 0, sizeof *result);
    result->windows = plan->count;
    result->vocab = vocab;
    result->side_perplexity = result->side_mean_nll = result->kl_divergence = NAN;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &ranks);
    block_rows(plan, rank, ranks, &first, &end, &row_first, &rows);

    /* Everything a rank needs, allocated before the loop. */
    local = sq_alloc_counted(&logits, (size_t)plan->inputs * V, sizeof(float), "logits", &buffers_local);
    if (local == SQ_OK)
        local = sq_alloc_counted(&work, 2 * V, sizeof(double), "log-softmax scratch", &buffers_local);
    if (local == SQ_OK)
        local = sq_alloc_counted(&packed, (size_t)(end - first + 1) * PACK_WIDTH, sizeof(double), "window sums",
                                 &buffers_local);
    if (local == SQ_OK && options->store_logprobs)
        local = sq_alloc_counted(&lp_local, (size_t)rows * V + 1, sizeof(uint16_t), "log-probs to store",
                                 &buffers_local);
    if (local == SQ_OK && options->baseline_path != NULL) {
        if (options->baseline_rows != plan->scored)
            local = sq_fail(SQ_ERR_INPUT, "baseline %s holds log-probs of %lld positions but this evaluation scores "
                                          "%lld: the baseline comes from a different evaluation setup",
                            options->baseline_path, (long long)options->baseline_rows, (long long)plan->scored);
        else if (rows > 0) {
            local = sq_baseline_read_rows(options->baseline_path, row_first, rows, vocab, &baseline);
            buffers_local += (uint64_t)rows * V * sizeof *baseline; /* allocated by the reader */
        }
    }
    SQ_TRY(sq_mpi_agree(comm, local));

    MPI_Barrier(comm);
    loop_start = now_seconds();
    loop_cpu_start = cpu_seconds();
    /* Rank 0 shows its own block; the others' progress is alike (same work). */
    snprintf(progress_what, sizeof progress_what, ranks > 1 ? "rank 0 of %d: windows" : "windows", ranks);
    sq_progress_start(&progress, rank == 0, progress_what, end - first, "tok");
    for (int64_t w = first; w < end; w++) {
        const sq_window *window = &plan->windows[w];
        const int32_t *window_tokens = tokens + window->start;
        sq_window_score score;
        double forward_start = now_seconds(), forward_cpu_start = cpu_seconds();
        local = sq_model_forward(model, window_tokens, plan->inputs, logits, NULL);
        forward_local += now_seconds() - forward_start;
        forward_cpu_local += cpu_seconds() - forward_cpu_start;
        if (local != SQ_OK) {
            sq_error_context("window %lld (tokens %lld..%lld)", (long long)w, (long long)window->start,
                             (long long)(window->start + plan->window_length - 1));
            break;
        }
        processed += plan->inputs;
        sq_score_window(logits, vocab, window_tokens, plan, window, options->side_offset,
                        baseline ? baseline + (size_t)row * V : NULL,
                        lp_local ? lp_local + (size_t)row * V : NULL, work, &score);
        row += score.scored;
        double *p = packed + (w - first) * PACK_WIDTH;
        p[PACK_NLL] = score.nll_sum;
        p[PACK_NLL_SQ] = score.nll_sq_sum;
        p[PACK_SCORED] = (double)score.scored;
        p[PACK_SIDE_NLL] = score.side_nll_sum;
        p[PACK_SIDE_SCORED] = (double)score.side_scored;
        p[PACK_KL] = score.kl_sum;
        sq_progress_update(&progress, w - first + 1, processed);
    }
    sq_progress_finish(&progress);
    loop_local = now_seconds() - loop_start;
    loop_cpu_local = cpu_seconds() - loop_cpu_start;
    SQ_TRY(sq_mpi_agree(comm, local));

    /* Gather the per-window sums in rank order = window order. */
    if (rank == 0) {
        local = sq_alloc(&counts, (size_t)ranks, sizeof(int), "gather counts");
        if (local == SQ_OK)
            local = sq_alloc(&displs, (size_t)ranks, sizeof(int), "gather offsets");
        if (local == SQ_OK)
            local = sq_alloc_counted(&all, (size_t)plan->count * PACK_WIDTH + 1, sizeof(double), "all window sums",
                                     &buffers_local);
        for (int r = 0; local == SQ_OK && r < ranks; r++) {
            int64_t f, e;
            sq_window_block(plan->count, r, ranks, &f, &e);
            counts[r] = (int)((e - f) * PACK_WIDTH);
            displs[r] = (int)(f * PACK_WIDTH);
        }
        if (local == SQ_OK && (int64_t)plan->count * PACK_WIDTH > INT_MAX)
            local = sq_fail(SQ_ERR_USAGE, "%lld windows are too many to gather: set evaluate.max_windows",
                            (long long)plan->count);
    }
    SQ_TRY(sq_mpi_agree(comm, local));
    MPI_Gatherv(packed, (int)((end - first) * PACK_WIDTH), MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, comm);

    rss_local = sq_peak_rss_bytes();
    MPI_Reduce(&forward_local, &result->forward_seconds, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    MPI_Reduce(&loop_local, &result->seconds, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    MPI_Reduce(&forward_cpu_local, &result->forward_cpu_seconds, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    MPI_Reduce(&loop_cpu_local, &result->cpu_seconds, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    MPI_Reduce(&rss_local, &rss_max, 1, MPI_UINT64_T, MPI_MAX, 0, comm);
    MPI_Reduce(&buffers_local, &result->buffer_bytes, 1, MPI_UINT64_T, MPI_MAX, 0, comm);
    MPI_Reduce(&processed, &result->processed, 1, MPI_INT64_T, MPI_SUM, 0, comm);
    result->peak_rss_bytes = rss_max;

    if (options->store_logprobs) {
        /* One row = one scored position's vocab log-probs, so counts stay small. */
        MPI_Type_contiguous(vocab, MPI_UINT16_T, &row_type);
        MPI_Type_commit(&row_type);
        local = SQ_OK;
        if (rank == 0) {
            for (int r = 0; r < ranks; r++) {
                int64_t f, e, before, mine;
                block_rows(plan, r, ranks, &f, &e, &before, &mine);
                if (before > INT_MAX || mine > INT_MAX)
                    local = sq_fail(SQ_ERR_USAGE, "%lld scored positions are too many to store log-probs for: "
                                                  "set evaluate.max_windows", (long long)plan->scored);
                counts[r] = (int)mine;
                displs[r] = (int)before;
            }
            if (local == SQ_OK)
                local = sq_alloc(&result->logprobs, (size_t)plan->scored * V + 1, sizeof(uint16_t), "log-probs");
            result->logprob_rows = plan->scored;
        }
        SQ_TRY(sq_mpi_agree(comm, local));
        MPI_Gatherv(lp_local, (int)rows, row_type, result->logprobs, counts, displs, row_type, 0, comm);
    }

    local = SQ_OK;
    if (rank == 0) {
        local = reduce_on_root(all, options, result);
        result->tokens_per_second = result->forward_seconds > 0.0 ? (double)result->processed / result->forward_seconds : 0.0;
        result->scored_tokens_per_second = result->seconds > 0.0 ? (double)result->scored / result->seconds : 0.0;
    }
    SQ_TRY(sq_mpi_agree(comm, local));
cleanup:
    if (row_type != MPI_DATATYPE_NULL)
        MPI_Type_free(&row_type);
    free(logits);
    free(work);
    free(packed);
    free(all);
    free(baseline);
    free(lp_local);
    free(counts);
    free(displs);
    if (st != SQ_OK)
        sq_eval_result_free(result);
    return st;
}
