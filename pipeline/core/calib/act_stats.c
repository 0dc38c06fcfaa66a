/* act_stats.c - accumulating linear-input statistics through the forward hooks,
 * and merging them over MPI ranks so that 1, 2 or 4 ranks give the same bits.
 */
#include "calib/act_stats.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib/histogram.h"
#include "models/vec_math.h"
#include "precision/precision_map.h"

sq_status sq_act_stats_init(sq_act_stats *stats, const sq_tensor_set *set, const sq_model_config *cfg,
                            int local_windows, char *const *hessian_patterns, int hessian_count)
{
    sq_status st = SQ_OK;
    size_t registered = 0;
    memset(stats, 0, sizeof *stats);
    stats->local_windows = local_windows;
    for (size_t i = 0; i < set->count; i++)
        if (set->tensors[i].ndim == 2)
            registered++;
    if (registered > 0)
        SQ_TRY(sq_alloc(&stats->linears, registered, sizeof *stats->linears, "linear statistics"));
    for (size_t i = 0; i < set->count; i++) {
        const sq_tensor *t = &set->tensors[i];
        sq_linear_stats *linear;
        if (t->ndim != 2)
            continue;
        linear = &stats->linears[stats->count++];
        linear->name = strdup(t->name);
        if (!linear->name)
            SQ_FAIL(SQ_ERR_RUN, "out of memory registering linears");
        linear->cols = (int)t->shape[1];
        for (int p = 0; p < hessian_count && !linear->want_hessian; p++)
            linear->want_hessian = sq_glob_match_braces(hessian_patterns[p], t->name);
    }
    stats->moe_layer_count = cfg->moe_layer_count;
    memcpy(stats->moe_layers, cfg->moe_layers, sizeof stats->moe_layers);
    stats->num_experts = cfg->num_experts;
    if (cfg->moe_layer_count > 0 && cfg->num_experts > 0)
        SQ_TRY(sq_alloc(&stats->expert_tokens, (size_t)cfg->moe_layer_count * (size_t)cfg->num_experts,
                        sizeof *stats->expert_tokens, "expert counts"));
cleanup:
    if (st != SQ_OK)
        sq_act_stats_free(stats);
    return st;
}

static void linear_free(sq_linear_stats *linear)
{
    free(linear->name);
    free(linear->absmax);
    free(linear->histogram);
    free(linear->window_abs);
    free(linear->window_sq);
    free(linear->hessian);
    free(linear->sum_abs);
    free(linear->sum_sq);
    memset(linear, 0, sizeof *linear);
}

void sq_act_stats_free(sq_act_stats *stats)
{
    for (size_t i = 0; i < stats->count; i++)
        linear_free(&stats->linears[i]);
    free(stats->linears);
    free(stats->expert_tokens);
    free(stats->scratch);
    free(stats->bins);
    memset(stats, 0, sizeof *stats);
}

/* Zeroed accumulators for a linear (on first sight, or before merging on a
 * rank that never saw it). */
static sq_status linear_allocate(sq_linear_stats *linear, int local_windows)
{
    sq_status st = SQ_OK;
    size_t cols = (size_t)linear->cols, windows = local_windows > 0 ? (size_t)local_windows : 1;
    if (linear->absmax)
        return SQ_OK;
    SQ_TRY(sq_alloc(&linear->absmax, cols, sizeof *linear->absmax, linear->name));
    SQ_TRY(sq_alloc(&linear->histogram, cols * SQ_HIST_BINS, sizeof *linear->histogram, linear->name));
    SQ_TRY(sq_alloc(&linear->window_abs, windows * cols, sizeof *linear->window_abs, linear->name));
    SQ_TRY(sq_alloc(&linear->window_sq, windows * cols, sizeof *linear->window_sq, linear->name));
    if (linear->want_hessian)
        SQ_TRY(sq_alloc(&linear->hessian, cols * cols, sizeof *linear->hessian, linear->name));
cleanup:
    return st;
}

/* Hooks cannot return a status: the first problem is kept and reported after the window. */
static void hook_fail(sq_act_stats *stats, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hook_fail(sq_act_stats *stats, const char *fmt, ...)
{
    va_list args;
    if (stats->hook_status != SQ_OK)
        return;
    stats->hook_status = SQ_ERR_RUN;
    va_start(args, fmt);
    vsnprintf(stats->hook_error, sizeof stats->hook_error, fmt, args);
    va_end(args);
}

static sq_linear_stats *find_linear(sq_act_stats *stats, const char *name)
{
    for (size_t i = 0; i < stats->count; i++)
        if (strcmp(stats->linears[i].name, name) == 0)
            return &stats->linears[i];
    return NULL;
}

typedef double vd4 __attribute__((vector_size(4 * sizeof(double))));
typedef float vf4 __attribute__((vector_size(4 * sizeof(float))));

/* absmax[c] = max(absmax[c], |v_c|), abs_sum[c] += |v_c|, sq_sum[c] += v_c^2 (in double,
 * the square exact) for the cols values of one token row, eight channels at a time:
 * each channel's sums still add the rows in row order, so the bits are those of the
 * plain loop.  False (and the row only partly counted) when a value is NaN or Inf. */
SQ_VEC_KERNEL static bool row_stats(const float *row, int cols, float *absmax, double *abs_sum, double *sq_sum)
{
    sq_vi bad = {0};
    int c = 0;
    for (; c + SQ_VF_LANES <= cols; c += SQ_VF_LANES) {
        sq_vf v = sq_vf_load(row + c), a, m = sq_vf_load(absmax + c);
        sq_vi bits;
        memcpy(&bits, &v, sizeof bits);
        bits &= 0x7fffffff;
        bad |= bits >= 0x7f800000;
        memcpy(&a, &bits, sizeof a);
        sq_vf_store(absmax + c, sq_vf_select(a > m, a, m));
        for (int half = 0; half < 2; half++) {
            vf4 a4, v4;
            memcpy(&a4, (const float *)&a + 4 * half, sizeof a4);
            memcpy(&v4, (const float *)&v + 4 * half, sizeof v4);
            vd4 ad = __builtin_convertvector(a4, vd4), vd = __builtin_convertvector(v4, vd4), s, q;
            memcpy(&s, abs_sum + c + 4 * half, sizeof s);
            memcpy(&q, sq_sum + c + 4 * half, sizeof q);
            s += ad;
            q += vd * vd;
            memcpy(abs_sum + c + 4 * half, &s, sizeof s);
            memcpy(sq_sum + c + 4 * half, &q, sizeof q);
        }
    }
    int any_bad = 0;
    for (int lane = 0; lane < SQ_VF_LANES; lane++)
        any_bad |= bad[lane];
    for (; c < cols; c++) {
        float v = row[c], a = fabsf(v);
        any_bad |= !isfinite(v);
        if (a > absmax[c])
            absmax[c] = a;
        abs_sum[c] += (double)a;
        sq_sum[c] += (double)v * (double)v;
    }
    return !any_bad;
}

static void on_linear_input(void *context, const char *weight_name, const float *x, int rows, int cols)
{
    sq_act_stats *stats = context;
    sq_linear_stats *linear;
    double *window_abs, *window_sq;
    if (stats->hook_status != SQ_OK || rows <= 0)
        return;
    linear = find_linear(stats, weight_name);
    if (!linear) {
        hook_fail(stats, "the forward pass reported linear '%s' (%d x %d), which is no 2-D tensor of the model",
                  weight_name, rows, cols);
        return;
    }
    if (linear->cols != cols) {
        hook_fail(stats, "the forward pass reported %d input features for linear '%s', its weight has %d", cols,
                  weight_name, linear->cols);
        return;
    }
    if (linear_allocate(linear, stats->local_windows) != SQ_OK) {
        hook_fail(stats, "out of memory for the statistics of '%s'", weight_name);
        return;
    }
    linear->seen = true;
    window_abs = linear->window_abs + (size_t)stats->current_window * (size_t)cols;
    window_sq = linear->window_sq + (size_t)stats->current_window * (size_t)cols;
    if ((size_t)cols > stats->bins_size) {
        uint16_t *grown = realloc(stats->bins, (size_t)cols * sizeof *grown);
        if (!grown) {
            hook_fail(stats, "out of memory for the histogram of '%s'", weight_name);
            return;
        }
        stats->bins = grown;
        stats->bins_size = (size_t)cols;
    }
    for (int r = 0; r < rows; r++) {
        const float *row = x + (size_t)r * (size_t)cols;
        if (!row_stats(row, cols, linear->absmax, window_abs, window_sq)) {
            int c = 0;
            while (c < cols && isfinite(row[c]))
                c++;
            hook_fail(stats, "the input of linear '%s' holds a non-finite value (token row %d, channel %d): "
                      "the model or its weights are broken", weight_name, r, c);
            return;
        }
        sq_hist_bin_row(row, (size_t)cols, stats->bins);
        uint32_t *histogram = linear->histogram;
        for (int c = 0; c < cols; c++, histogram += SQ_HIST_BINS)
            histogram[stats->bins[c]]++;
    }
    linear->tokens += rows;
    if (linear->want_hessian) {
        size_t need = (size_t)rows * (size_t)cols;
        if (need > stats->scratch_size) {
            double *grown = realloc(stats->scratch, need * sizeof *grown);
            if (!grown) {
                hook_fail(stats, "out of memory for X^T X of '%s'", weight_name);
                return;
            }
            stats->scratch = grown;
            stats->scratch_size = need;
        }
        for (size_t i = 0; i < need; i++)
            stats->scratch[i] = (double)x[i];
        /* H += X^T X (GPTQ add_batch, without its 2/N scaling: applied once at the end). */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, cols, rows, 1.0, stats->scratch, cols, 1.0,
                    linear->hessian, cols);
    }
}

static void on_router(void *context, int layer, const int *experts, int tokens, int k)
{
    sq_act_stats *stats = context;
    int slot = -1;
    if (stats->hook_status != SQ_OK)
        return;
    for (int i = 0; i < stats->moe_layer_count; i++)
        if (stats->moe_layers[i] == layer)
            slot = i;
    if (slot < 0 || !stats->expert_tokens) {
        hook_fail(stats, "the router of layer %d reported decisions, but the config has no MoE layer %d", layer,
                  layer);
        return;
    }
    for (int i = 0; i < tokens * k; i++) {
        if (experts[i] < 0 || experts[i] >= stats->num_experts) {
            hook_fail(stats, "the router of layer %d chose expert %d, outside the model's %d experts", layer,
                      experts[i], stats->num_experts);
            return;
        }
        stats->expert_tokens[(size_t)slot * (size_t)stats->num_experts + (size_t)experts[i]]++;
    }
}

sq_forward_hooks sq_act_stats_hooks(sq_act_stats *stats)
{
    sq_forward_hooks hooks = {.context = stats, .linear_input = on_linear_input, .router = on_router};
    return hooks;
}

/* ---- merging over ranks --------------------------------------------------- */

static sq_status mpi_check(int rc, const char *what)
{
    if (rc != MPI_SUCCESS)
        return sq_fail(SQ_ERR_RUN, "MPI failed while merging calibration statistics (%s)", what);
    return SQ_OK;
}

/* Folds this rank's per-window sums into the running totals that arrive from
 * the previous rank, and passes them on; the last rank sends the result to
 * rank 0.  Every addition happens in global window order, starting from 0, so
 * the totals have the same bits whatever the number of ranks. */
static sq_status fold_window_sums(sq_linear_stats *linear, int local_windows, int rank, int size)
{
    sq_status st = SQ_OK;
    size_t cols = (size_t)linear->cols;
    double *running = NULL;
    SQ_TRY(sq_alloc(&running, 2 * cols, sizeof *running, linear->name));
    if (rank > 0)
        SQ_TRY(mpi_check(MPI_Recv(running, (int)(2 * cols), MPI_DOUBLE, rank - 1, 0, MPI_COMM_WORLD,
                                  MPI_STATUS_IGNORE), "receive window sums"));
    for (int w = 0; w < local_windows; w++)
        for (size_t c = 0; c < cols; c++) {
            running[c] += linear->window_abs[(size_t)w * cols + c];
            running[cols + c] += linear->window_sq[(size_t)w * cols + c];
        }
    if (size > 1) {
        if (rank < size - 1)
            SQ_TRY(mpi_check(MPI_Send(running, (int)(2 * cols), MPI_DOUBLE, rank + 1, 0, MPI_COMM_WORLD),
                             "send window sums"));
        else
            SQ_TRY(mpi_check(MPI_Send(running, (int)(2 * cols), MPI_DOUBLE, 0, 1, MPI_COMM_WORLD),
                             "send window sums"));
        if (rank == 0)
            SQ_TRY(mpi_check(MPI_Recv(running, (int)(2 * cols), MPI_DOUBLE, size - 1, 1, MPI_COMM_WORLD,
                                      MPI_STATUS_IGNORE), "receive window sums"));
    }
    if (rank == 0) {
        SQ_TRY(sq_alloc(&linear->sum_abs, cols, sizeof *linear->sum_abs, linear->name));
        SQ_TRY(sq_alloc(&linear->sum_sq, cols, sizeof *linear->sum_sq, linear->name));
        memcpy(linear->sum_abs, running, cols * sizeof *running);
        memcpy(linear->sum_sq, running + cols, cols * sizeof *running);
    }
cleanup:
    free(running);
    return st;
}

/* MPI_Reduce onto rank 0 in place. */
static sq_status reduce(void *data, int count, MPI_Datatype type, MPI_Op op, int rank, const char *what)
{
    if (rank == 0)
        return mpi_check(MPI_Reduce(MPI_IN_PLACE, data, count, type, op, 0, MPI_COMM_WORLD), what);
    return mpi_check(MPI_Reduce(data, NULL, count, type, op, 0, MPI_COMM_WORLD), what);
}

sq_status sq_act_stats_merge(sq_act_stats *stats)
{
    sq_status st = SQ_OK;
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (size_t i = 0; i < stats->count; i++) {
        sq_linear_stats *linear = &stats->linears[i];
        int seen = linear->seen, seen_anywhere = 0;
        size_t cols = (size_t)linear->cols;
        SQ_TRY(mpi_check(MPI_Allreduce(&seen, &seen_anywhere, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "seen"));
        if (!seen_anywhere)
            continue;
        /* A rank whose windows never reached this linear (an expert no token
         * of its windows was routed to) contributes zeros. */
        SQ_TRY(linear_allocate(linear, stats->local_windows));
        linear->seen = true;
        SQ_TRY(reduce(&linear->tokens, 1, MPI_INT64_T, MPI_SUM, rank, "token counts"));
        SQ_TRY(reduce(linear->absmax, (int)cols, MPI_FLOAT, MPI_MAX, rank, "absmax"));
        SQ_TRY(reduce(linear->histogram, (int)(cols * SQ_HIST_BINS), MPI_UINT32_T, MPI_SUM, rank, "histograms"));
        SQ_TRY(fold_window_sums(linear, stats->local_windows, rank, size));
        if (linear->hessian) {
            SQ_TRY(reduce(linear->hessian, (int)(cols * cols), MPI_DOUBLE, MPI_SUM, rank, "X^T X"));
            /* dsyrk filled the upper triangle; mirror it. */
            for (size_t r = 0; r < cols; r++)
                for (size_t c = 0; c < r; c++)
                    linear->hessian[r * cols + c] = linear->hessian[c * cols + r];
        }
    }
    if (stats->expert_tokens)
        SQ_TRY(reduce(stats->expert_tokens, stats->moe_layer_count * stats->num_experts, MPI_INT64_T, MPI_SUM, rank,
                      "expert counts"));
cleanup:
    return st;
}
