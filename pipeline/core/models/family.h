/* family.h - the registry of model families: one row carries everything about a family.
 *
 * A family is its own files in models/ (models/itera.{h,c} and itera_forward.c,
 * for example) and one row in the table of models/family.c.  The row (an
 * sq_family) says how to recognise the family's checkpoints, infer and validate
 * its config, store its own config fields as JSON, name each tensor's parameter
 * group and whether it must stay in full precision, which tensors sit around
 * its blocks, and how to run it.  Nothing outside models/ names a family:
 * the stages, messages and docs' lists come from the table
 * (docs/architecture.md, "Adding a model family").
 */
#ifndef SQ_MODELS_FAMILY_H
#define SQ_MODELS_FAMILY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/forward.h"
#include "models/model_config.h"
#include "models/param_table.h"
#include "tensor/tensor.h"

/* What the user (config or flags) can tell a family that shapes cannot. */
struct sq_fw_source; /* models/forward_internal.h: where a build takes its weights from */

typedef struct {
    int num_heads; /* 0 when not given */
} sq_family_hints;

/* The final norm before the head. */
typedef enum {
    SQ_NORM_LAYER = 0, /* torch.nn.LayerNorm: weight and bias */
    SQ_NORM_RMS,       /* RMSNorm (Llama, Mamba): weight only */
} sq_norm_kind;

/* The tensors around the blocks, by name; models/forward.c loads them
 * (sq_fw_load_ends) and applies them (sq_fw_embed, sq_fw_logits). */
typedef struct {
    const char *embedding;   /* token embedding [V, d] */
    const char *position;    /* learned position embedding [S, d], or NULL (none: rotary, SSM) */
    const char *norm_weight; /* final norm [d] */
    const char *norm_bias;   /* final norm bias [d]; NULL (none) only with SQ_NORM_RMS */
    const char *head;        /* [V, d]; when absent from the set, or sharing the embedding's
                                storage, the head is the tied embedding */
    sq_norm_kind norm;
} sq_family_ends;

/* Structured pruning (compress/prune.h): one group of FFN channels removed
 * together, channel j being row j of every `rows` tensor and column j of `cols`. */
#define SQ_PRUNE_NAME_LEN 128
#define SQ_SSM_GUARD_REASON                                                                                        \
    "the recurrent state couples them: h_t = exp(delta A) h_(t-1) + delta B x_t carries every state dimension "    \
    "and inner channel from step to step, and the conv mixes each channel over the last K steps, so a removed "    \
    "dimension changes every later step, not one output (pruning SSM state was measured 0% prunable)"
typedef struct {
    char rows[2][SQ_PRUNE_NAME_LEN]; /* gate + up (SwiGLU), or w1 */
    int row_count;
    char cols[SQ_PRUNE_NAME_LEN];    /* down, or w2: its input is the channel */
} sq_ffn_group;

/* The attention of one layer for head pruning: query head h is rows
 * [h hd, (h+1) hd) of q and the same columns of o; KV group g (query heads
 * g H/KV .. (g+1) H/KV - 1) reads k/v head g.  A fused projection (q == k == v,
 * one tensor [3 H hd, d] laid out q | k | v) has KV == H. */
typedef struct {
    char q[SQ_PRUNE_NAME_LEN], k[SQ_PRUNE_NAME_LEN], v[SQ_PRUNE_NAME_LEN], o[SQ_PRUNE_NAME_LEN];
    bool fused;
    int heads, kv_heads, head_dim;
} sq_head_layout;

/* Forced SSM pruning (a rule with force: true, compress/prune.h): where one
 * SSM dimension j (an inner channel, or a state dimension) sits in a layer's
 * tensors: index offsets[o] + j along axis 0 (axis 0) or the last axis (axis 1)
 * of each slice's tensor. */
#define SQ_SSM_MAX_SLICES 12
typedef struct {
    char tensor[SQ_PRUNE_NAME_LEN];
    int axis;          /* 0: rows, 1: the last axis */
    int offsets[2], offset_count;
} sq_ssm_slice;
typedef struct {
    sq_ssm_slice slices[SQ_SSM_MAX_SLICES];
    int count;
    int size;                    /* the dimension's size (d_inner or the state size) */
    char out[SQ_PRUNE_NAME_LEN]; /* inner channels: the output projection [d, di] whose columns score them */
} sq_ssm_layout;

/* Appends a slice (off1 < 0: one offset) to a layout. */
void sq_ssm_layout_add(sq_ssm_layout *out, const char *tensor, int axis, int off0, int off1);

typedef struct sq_family {
    const char *name;         /* model.family, config_json's "family" */
    const char *description;  /* one line with the source it follows */
    const char *expects_keys; /* for messages: "embedding.weight, layers.0.ssm.in_proj.weight, ..." */

    /* -- recognising and configuring a checkpoint ------------------------------ */
    /* true when the tensor names look like this family's */
    bool (*recognise)(const sq_tensor_set *set);
    /* fills cfg (common fields and the family's own, SQ_FAMILY_CONFIG) from shapes,
     * the checkpoint's 'config' entry and the hints; a key it needs and does not
     * find is an error naming the key */
    sq_status (*infer_config)(const sq_tensor_set *set, const sq_family_hints *hints, sq_model_config *cfg);
    /* checks shapes and presence of every tensor the forward pass needs;
     * SQ_ERR_INPUT with what is wrong ("layer 1 is MoE but has no expert weights") */
    sq_status (*validate)(const sq_tensor_set *set, const sq_model_config *cfg);
    /* its own config fields as keys of config_json (the common keys are done;
     * models/model_config.h), ending with a NULL key */
    const sq_config_field *config_fields;

    /* -- its tensors ------------------------------------------------------------ */
    /* every tensor name: parameter group, and why it stays in full precision
     * (conv1d, A_log, D, biases, norms); ends with a NULL pattern */
    const sq_param_rule *tensors;
    sq_family_ends ends;

    /* -- running it (models/forward.h calls these) ------------------------------ */
    /* allocates every buffer for windows up to max_seq_length once */
    /* src: the tensor set and the packed tensors, models/forward_internal.h */
    sq_status (*build)(const sq_model_config *cfg, const struct sq_fw_source *src, void **state);
    /* logits [count, V]; calls hooks->linear_input before every linear (weight name,
     * input rows) and hooks->router after every routing decision (hooks may be NULL) */
    sq_status (*forward)(void *state, const sq_model_config *cfg, const int32_t *tokens, int count,
                         float *logits, const sq_forward_hooks *hooks);
    void (*free_state)(void *state);

    /* -- structured pruning (compress/prune.h); NULL where the family has none -- */
    /* the FFN channel groups of `layer` (dense FFN: one; MoE layer: one per expert),
     * at most max; returns how many */
    int (*ffn_groups)(const sq_tensor_set *set, const sq_model_config *cfg, int layer, sq_ffn_group *groups,
                      int max);
    /* the config field holding the FFN inner size, which pruning shrinks */
    int *(*ffn_size)(sq_model_config *cfg);
    /* MoE: tensors of one expert ("layers.%d.moe.layer.experts.%d.w1.weight": layer, expert)
     * and tensors whose dim 0 runs over the experts ("layers.%d.moe.layer.router.gate.weight"),
     * NULL-terminated */
    const char *const *expert_tensors;
    const char *const *router_tensors;
    /* attention heads of `layer` (false: the layer has no attention), and the
     * config after pruning: heads and kv_heads per layer, the head size kept */
    bool (*head_layout)(const sq_tensor_set *set, const sq_model_config *cfg, int layer, sq_head_layout *out);
    void (*set_heads)(sq_model_config *cfg, int heads, int kv_heads);
    /* non-NULL for a family with a selective-scan (SSM) block: why its state,
     * conv and inner channels are not pruned */
    const char *ssm_guard;
    /* forced SSM pruning: the layout of the inner channels (state false) or the
     * state dimensions (state true) of `layer` (NULL message: the layer has it;
     * else why this model cannot), and the config field holding its size */
    const char *(*ssm_layout)(const sq_tensor_set *set, const sq_model_config *cfg, int layer, bool state,
                              sq_ssm_layout *out);
    int *(*ssm_size)(sq_model_config *cfg, bool state);
} sq_family;

/* In a family's header: the typed accessors of its own config struct TYPE in
 * sq_model_config.own, TYPE_of (mutable) and TYPE_c (const). */
#define SQ_FAMILY_CONFIG_ACCESSORS(type)                                                                      \
    static inline type *type##_of(sq_model_config *cfg) { return SQ_FAMILY_CONFIG(cfg, type); }              \
    static inline const type *type##_c(const sq_model_config *cfg) { return SQ_FAMILY_CONFIG_CONST(cfg, type); }

/* In a family's header: its forward pass, PREFIX_build, PREFIX_forward and PREFIX_free
 * (the row's build, forward and free_state). */
#define SQ_FAMILY_FORWARD_DECLARE(prefix)                                                                    \
    sq_status prefix##_build(const sq_model_config *cfg, const struct sq_fw_source *src, void **out);        \
    sq_status prefix##_forward(void *state, const sq_model_config *cfg, const int32_t *tokens, int count,    \
                               float *logits, const sq_forward_hooks *hooks);                                \
    void prefix##_free(void *state)
/* In a family's row: how it reads a checkpoint, PREFIX_recognise, PREFIX_infer_config,
 * PREFIX_validate, PREFIX_config_fields and its tensor rules PREFIX_rules, in its file. */
#define SQ_FAMILY_CHECKPOINT(prefix)                                                                          \
    .recognise = prefix##_recognise, .infer_config = prefix##_infer_config, .validate = prefix##_validate,   \
    .config_fields = prefix##_config_fields, .tensors = prefix##_rules
/* In a family's row: those three as its build, forward and free_state. */
#define SQ_FAMILY_FORWARD(prefix) .build = prefix##_build, .forward = prefix##_forward, .free_state = prefix##_free

const sq_family *sq_family_detect(const sq_tensor_set *set);
const sq_family *sq_family_by_name(const char *name);
/* All registered families (NULL-terminated), in detection order. */
const sq_family *const *sq_family_all(void);
/* "itera, itera-transformer": the registered names, for messages. */
void sq_family_names(char *buf, size_t size);

/* The tensors after a family's blocks, by its ends row: the final norm [d] (and its bias
 * when the row names one), and the head [V, d] when the set has one (else it is tied). */
sq_status sq_family_require_final(const sq_family *family, const sq_tensor_set *set, const sq_model_config *cfg);

/* A tensor's parameter group and its full-precision rule, from the family's table. */
sq_param_group sq_family_group_of(const sq_family *family, const char *tensor_name);
bool sq_family_keep_full_precision(const sq_family *family, const char *tensor_name, const char **reason);

#endif
