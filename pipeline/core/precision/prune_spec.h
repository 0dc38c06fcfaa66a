/* prune_spec.h - the `prune` section of a recipe or precision map (docs/precision-maps.md).
 *
 *   prune:
 *     - target: ffn-channels   # ffn-channels | heads | experts | ssm-state | ssm-conv | ssm-inner
 *       fraction: 0.25         # or count: N (per layer)
 *       unit: query-heads      # heads only: query-heads (default) | kv-groups
 *       layers: [0, 1]         # optional: must name every layer the target has (one size per model)
 *       force: true            # only for the ssm-* targets (see below)
 *
 * The ssm-* targets are refused (exit 2) unless `force: true`: the recurrent
 * state couples the state dimensions, the conv channels and the inner channels
 * of a selective-scan block, so removing one changes every later step.
 * Parsing checks keys, types and ranges (file:line:column); what needs the
 * model (counts, layer indices, top-k) is checked by compress/prune.c.
 */
#ifndef SQ_PRECISION_PRUNE_SPEC_H
#define SQ_PRECISION_PRUNE_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "config/yaml_tree.h"
#include "util/status.h"

typedef enum {
    SQ_PRUNE_FFN_CHANNELS = 0, /* FFN / SwiGLU intermediate channels, Wanda-style score */
    SQ_PRUNE_EXPERTS,          /* MoE experts, by calibration routing counts */
    SQ_PRUNE_SSM_STATE,        /* guarded */
    SQ_PRUNE_SSM_CONV,         /* guarded */
    SQ_PRUNE_SSM_INNER,        /* guarded */
    SQ_PRUNE_HEADS,            /* attention heads, by the o-projection's calibrated input */
} sq_prune_target;

/* What one unit of a `heads` rule is (compress/prune.h): */
typedef enum {
    SQ_HEAD_UNIT_QUERY = 0, /* query heads, the same number from every KV group */
    SQ_HEAD_UNIT_KV_GROUP,  /* whole KV groups: their query heads and their k/v head */
} sq_head_unit;

#define SQ_PRUNE_MAX_LAYERS 128

typedef struct {
    sq_prune_target target;
    double fraction;  /* in [0, 1), or < 0 when count is given */
    long count;       /* >= 0, or -1 when fraction is given */
    int layers[SQ_PRUNE_MAX_LAYERS];
    int layer_count;  /* 0: every layer the target has */
    bool force;
    sq_head_unit unit; /* heads only */
    char where[256];  /* file:line:column of the rule */
    int layer_line[SQ_PRUNE_MAX_LAYERS], layer_column[SQ_PRUNE_MAX_LAYERS]; /* of each layer index */
    int file_length;  /* where[0..file_length): the file */
} sq_prune_rule;

typedef struct {
    sq_prune_rule *rules;
    size_t count;
} sq_prune_spec;

/* node: the sequence under `prune:` (NULL: no pruning). */
sq_status sq_prune_spec_parse(const sq_yaml_node *node, sq_prune_spec *spec);
/* The run config's compress.prune: a map {target: fraction}, e.g.
 * {ffn-channels: 0.25, experts: 0.5}, each a rule on every layer appended to
 * spec (so a sweep can vary one amount: compress.prune.experts: [0, 0.25]).
 * A fraction of 0 adds no rule; a target the spec prunes already is an error.
 * node NULL: nothing. */
sq_status sq_prune_spec_add_fractions(const sq_yaml_node *node, sq_prune_spec *spec);
void sq_prune_spec_free(sq_prune_spec *spec);
const char *sq_prune_target_name(sq_prune_target target);
bool sq_prune_target_is_ssm(sq_prune_target target);

#endif
