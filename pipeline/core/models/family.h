/* family.h - the registry of model families.
 *
 * A family is one file in models/ that knows its checkpoint keys: it
 * recognises a tensor set, infers the whole config from tensor shapes (a key
 * it needs and does not find is an error naming the key), names each tensor's
 * parameter group, reports a broken checkpoint with what is wrong, and builds
 * the runnable model (models/forward.h).
 */
#ifndef SQ_MODELS_FAMILY_H
#define SQ_MODELS_FAMILY_H

#include <stdbool.h>

#include "models/model_config.h"
#include "tensor/tensor.h"

/* Parameter groups, as inspect and report print them. */
typedef enum {
    SQ_GROUP_EMBEDDING = 0,
    SQ_GROUP_POSITION,
    SQ_GROUP_SSM,
    SQ_GROUP_MOE_ROUTER,
    SQ_GROUP_MOE_EXPERT,
    SQ_GROUP_FFN,
    SQ_GROUP_ATTENTION,
    SQ_GROUP_NORM,
    SQ_GROUP_HEAD,
    SQ_GROUP_BUFFER,   /* non-parameter state: router.expert_counts, attention.causal_mask */
    SQ_GROUP_COUNT,
    SQ_GROUP_NONE = -1 /* belongs to no group: reported, never ignored */
} sq_param_group;

const char *sq_group_name(sq_param_group group); /* "embedding", "moe-expert", ... */

/* What the user (config or flags) can tell a family that shapes cannot. */
typedef struct {
    int num_heads; /* 0 when not given */
} sq_family_hints;

typedef struct sq_family {
    const char *name;
    const char *description;
    /* true when the tensor names look like this family's */
    bool (*recognise)(const sq_tensor_set *set);
    /* fills cfg from shapes (and the checkpoint's 'config' entry / hints) */
    sq_status (*infer_config)(const sq_tensor_set *set, const sq_family_hints *hints, sq_model_config *cfg);
    /* checks shapes and presence of every tensor the forward pass needs;
     * SQ_ERR_INPUT with what is wrong ("layer 1 is MoE but has no expert weights") */
    sq_status (*validate)(const sq_tensor_set *set, const sq_model_config *cfg);
    sq_param_group (*group_of)(const char *tensor_name);
    /* true for tensors that must stay in full precision in an SSM (conv1d, A_log,
     * D, delta_proj.bias, norms, biases); *reason says why */
    bool (*keep_full_precision)(const char *tensor_name, const char **reason);
} sq_family;

const sq_family *sq_family_detect(const sq_tensor_set *set);
const sq_family *sq_family_by_name(const char *name);
/* All registered families (NULL-terminated), for messages. */
const sq_family *const *sq_family_all(void);

/* The families (models/itera.c, models/itera_transformer.c). */
extern const sq_family sq_family_itera;
extern const sq_family sq_family_itera_transformer;
extern const sq_family sq_family_llama; /* models/llama.c */
extern const sq_family sq_family_mamba; /* models/mamba.c */

#endif
