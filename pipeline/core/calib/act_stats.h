/* act_stats.h - what calibration records about each linear layer's input.
 *
 * The forward pass calls the hooks of models/forward.h with the input x
 * [rows = tokens, cols = input features] of every linear and with every
 * router decision.  For each linear and each input channel this keeps:
 *   absmax       max |x|                       (max: exact in any order)
 *   sum |x|, sum x^2  per window, in double    (added over windows in window
 *                                               order at the end: same bits
 *                                               for 1, 2 or 4 ranks)
 *   histogram    counts of |x| per fixed log bucket (calib/histogram.h),
 *                per channel, uint32 (integer sums: exact in any order)
 *   X^T X        optional (calibrate.hessian), double, for GPTQ; summed over
 *                ranks by MPI_Reduce, so it may differ by rounding only
 * and per MoE layer how many tokens each expert was routed to.
 *
 * Per-channel histograms (not one per linear) because the formats take a
 * per-channel percentile (sq_calib_stats.act_percentile [cols]), and outlier
 * channels are exactly what percentile clipping must see (Mamba-PTQ, Quamba:
 * docs/reference-facts.md A4).  They cost cols * 514 * 4 bytes per linear in
 * memory (0.5 MiB for 256 inputs); the artifact keeps the percentiles read
 * from them and one histogram per linear (the sum over channels), not the
 * per-channel counts.
 */
#ifndef SQ_CALIB_ACT_STATS_H
#define SQ_CALIB_ACT_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "models/forward.h"
#include "models/model_config.h"
#include "tensor/tensor.h"

typedef struct {
    char *name;             /* the linear's weight name */
    int cols;               /* input features (weight shape [out, cols]) */
    bool seen;              /* the forward pass reported this linear */
    bool want_hessian;
    int64_t tokens;         /* rows seen (for an expert: tokens routed to it) */
    float *absmax;          /* [cols] */
    uint32_t *histogram;    /* [cols][SQ_HIST_BINS] */
    double *window_abs;     /* [local windows][cols]: per-window sums of |x| */
    double *window_sq;      /* [local windows][cols]: per-window sums of x^2 */
    double *hessian;        /* [cols][cols] X^T X (upper triangle while accumulating) */
    /* after sq_act_stats_merge, on rank 0: */
    double *sum_abs;        /* [cols] */
    double *sum_sq;         /* [cols] */
} sq_linear_stats;

typedef struct {
    sq_linear_stats *linears;
    size_t count;
    int local_windows;      /* windows this rank runs */
    int current_window;     /* local index of the window being run */
    int moe_layer_count;
    int moe_layers[SQ_MAX_LAYERS];
    int num_experts;
    int64_t *expert_tokens; /* [moe_layer_count][num_experts] */
    double *scratch;        /* rows x cols doubles for X^T X */
    size_t scratch_size;
    uint16_t *bins;         /* [cols] histogram buckets of one token row */
    size_t bins_size;
    /* the first problem a hook met (hooks cannot return a status) */
    sq_status hook_status;
    char hook_error[512];
} sq_act_stats;

/* Registers every 2-D tensor of the model as a possible linear (weight
 * [out, in]); the ones the forward pass reports become the calibrated linears.
 * hessian_patterns are globs (precision/precision_map.h semantics). */
sq_status sq_act_stats_init(sq_act_stats *stats, const sq_tensor_set *set, const sq_model_config *cfg,
                            int local_windows, char *const *hessian_patterns, int hessian_count);
void sq_act_stats_free(sq_act_stats *stats);

/* Hooks for sq_model_forward with context = stats. */
sq_forward_hooks sq_act_stats_hooks(sq_act_stats *stats);

/* Merges all ranks onto rank 0 (collective over MPI_COMM_WORLD): absmax by
 * max, histograms, token counts and expert counts by integer sums, per-window
 * sums folded in global window order through the ranks (rank r holds a
 * contiguous block of windows), X^T X by MPI_Reduce. */
sq_status sq_act_stats_merge(sq_act_stats *stats);

#endif
