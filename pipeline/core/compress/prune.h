/* prune.h - structured pruning, applied by compress before the formats.
 *
 * The recipe's `prune` section (precision/prune_spec.h) names what to remove:
 *   ffn-channels  FFN / SwiGLU intermediate channels (Llama gate/up/down, Itera
 *                 FFN and experts), lowest Wanda-style score per FFN:
 *                 score_j = ||W_out[:, j]||_2 * sqrt(mean(x_j^2)), x_j the channel's
 *                 activation entering the output projection, from the calibration
 *                 artifact (Sun et al., "A Simple and Effective Pruning Approach for
 *                 Large Language Models", arXiv:2306.11695, aggregated per channel);
 *   experts       MoE experts with the fewest tokens routed to them in calibration
 *                 (routing/expert_tokens); the router's rows follow, the kept
 *                 experts are renumbered 0..E'-1, and top-k must stay <= E';
 *   heads         attention heads (Llama, Itera-Lite transformer), lowest score per
 *                 layer: score_h = sqrt(sum_{j in head h} ||W_o[:, j]||_2^2 * mean(x_j^2)),
 *                 x the attention output entering the o-projection (calibration's
 *                 statistics of that linear; the Wanda score summed in squares over
 *                 the head's hd columns).  unit query-heads removes the same number
 *                 of query heads from every KV group (the k/v heads stay; with
 *                 KV == H a head is its own group and its k/v go with it); unit
 *                 kv-groups removes whole groups (score: sqrt of the sum of its
 *                 heads' squared scores) with their k/v head.  Every layer keeps
 *                 the same head counts (the config holds one H and one KV).
 * The tensors really shrink (or go), the config's sizes follow (ffn size,
 * num_experts), so the model written is the smaller model.  Every removed row,
 * column and expert is recorded with its score.  The ssm-* targets are refused
 * (exit 2) with the family's reason unless the rule says force: true; then
 * they run (Itera-Lite and Mamba-1: inner channels scored like FFN channels
 * through the SSM's output projection, state dimensions by the norm of their
 * B/C weights; ssm-conv is ssm-inner, the conv being depthwise), warned in
 * the log and recorded in record->forced (the report flags it).
 */
#ifndef SQ_COMPRESS_PRUNE_H
#define SQ_COMPRESS_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "calib/calib_file.h"
#include "compress/compress_plan.h"
#include "models/family.h"
#include "precision/prune_spec.h"
#include "tensor/tensor.h"

/* What a removed item is, and what scored it. */
typedef enum {
    SQ_PRUNED_ROW = 0,
    SQ_PRUNED_COLUMN,
    SQ_PRUNED_EXPERT,
    SQ_PRUNED_HEAD,    /* query head h: rows [h hd, (h+1) hd) of q (of q, k and v when fused), columns of o */
    SQ_PRUNED_KV_HEAD, /* k/v head g: rows [g hd, (g+1) hd) of k and v */
    SQ_PRUNED_KIND_COUNT
} sq_pruned_kind;
typedef enum {
    SQ_SCORE_WANDA = 0,
    SQ_SCORE_WEIGHT_NORM,
    SQ_SCORE_ROUTED_TOKENS,
    SQ_SCORE_HEAD,             /* sqrt(sum over the head's o columns j of |W_o[:, j]|^2 mean(x_j^2)) */
    SQ_SCORE_HEAD_WEIGHT_NORM, /* the same with mean(x_j^2) = 1 (no calibration statistics) */
    SQ_SCORE_SSM_STATE,        /* forced: the L2 norm of the B/C weights of a state dimension */
    SQ_SCORE_KIND_COUNT
} sq_score_kind;
extern const char *const sq_pruned_kind_names[SQ_PRUNED_KIND_COUNT];
extern const char *const sq_score_kind_names[SQ_SCORE_KIND_COUNT];

typedef struct {
    int32_t tensor;  /* into sq_prune_record.tensors (names in the input model) */
    int8_t kind;     /* sq_pruned_kind */
    int8_t score_kind;
    int32_t index;   /* row, column or expert index in the input model */
    double score;
} sq_pruned_item;

/* Where a tensor that pruning reshaped or renamed comes from, so that its
 * calibration statistics (taken on the input model) can follow it: the
 * statistics of `source`, restricted to the input columns in `cols`. */
typedef struct {
    char *name;     /* after pruning */
    char *source;   /* in the input model (an expert renumbered keeps its old name here) */
    int *cols;      /* the kept input columns, as indices of the source's columns; NULL: all */
    int col_count;
} sq_pruned_tensor;

typedef struct {
    char **tensors;      /* the tensors items refer to, once each */
    size_t tensor_count, tensor_capacity;
    sq_pruned_item *items;
    size_t count, capacity;
    sq_pruned_tensor *touched; /* tensors whose shape or index changed, with their source */
    size_t touched_count, touched_capacity;
    uint64_t removed_bytes; /* input bytes of the tensors removed whole (experts) */
    size_t channels_removed, experts_removed, heads_removed;
    size_t stats_carried;   /* set by compress: touched tensors quantized with their source's statistics */
    size_t ssm_removed;  /* SSM inner channels or state dimensions, forced past the guard (all layers) */
    char forced[1024];   /* "file:line:column: ssm-inner 16 of 128 per layer; ...": every forced rule */
} sq_prune_record;

/* Applies every rule of spec to set (fp32 tensors) and cfg.  original (the
 * checkpoint's own tensors, may be NULL) follows for buffers stored raw;
 * input (one per tensor of set, may be NULL) follows removals.  calib may be
 * NULL: ffn-channels then score by weight norm alone (warned); experts need it.
 * Errors: SQ_ERR_USAGE (exit 2) for a rule the model cannot take (more than
 * exists, a layer out of range, top-k above the remaining experts, an SSM
 * target), naming the rule's file:line:column. */
sq_status sq_prune_apply(const sq_prune_spec *spec, const sq_family *family, sq_model_config *cfg,
                         sq_tensor_set *set, sq_tensor_set *original, sq_input_tensor *input,
                         const sq_calib_file *calib, sq_prune_record *record);
bool sq_prune_touched(const sq_prune_record *record, const char *name);
/* The source of a tensor (name after pruning) that pruning touched, or NULL. */
const sq_pruned_tensor *sq_prune_source(const sq_prune_record *record, const char *name);
void sq_prune_record_free(sq_prune_record *record);

#endif
