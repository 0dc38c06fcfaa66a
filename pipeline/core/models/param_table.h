/* param_table.h - table-driven tensor naming and shape checks shared by the families.
 *
 * Each family lists its tensors once, as name patterns ("layers.#.ssm.ssm.A_log",
 * '#' = a decimal index) with their parameter group and, for tensors that must
 * stay in full precision, the reason.  The group and the full-precision rule of a
 * tensor are lookups in that table, so a name matching no pattern is SQ_GROUP_NONE.
 * The require_*() helpers give infer_config()/validate() their error messages
 * ("missing tensor 'x' in model.pt: ...", "tensor 'x' is [a, b], expected [c, d]").
 */
#ifndef SQ_MODELS_PARAM_TABLE_H
#define SQ_MODELS_PARAM_TABLE_H

#include <stdbool.h>
#include <stdint.h>

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

typedef struct {
    const char *pattern;     /* '#' matches one or more decimal digits */
    sq_param_group group;
    const char *keep_reason; /* non-NULL: keep in full precision, and why */
} sq_param_rule;

/* True when name matches pattern exactly. */
bool sq_param_pattern_match(const char *pattern, const char *name);
/* A family's parameter group and full-precision rule for a tensor name, from its table
 * (sq_family.tensors): the first rule (the table ends with a NULL pattern) whose
 * pattern matches decides; sq_family_group_of() and sq_family_keep_full_precision()
 * (family.h) are these over the family's table. */
sq_param_group sq_param_group_in(const sq_param_rule *rules, const char *name);
bool sq_param_keep_in(const sq_param_rule *rules, const char *name, const char **reason);

/* The tensor or SQ_ERR_INPUT naming it (and the checkpoint it was looked for in). */
sq_status sq_param_require(const sq_tensor_set *set, const char *name, const sq_tensor **out);
/* As sq_param_require, and the tensor must have exactly ndim dims (shape not checked). */
sq_status sq_param_require_ndim(const sq_tensor_set *set, const char *name, int ndim, const sq_tensor **out);
/* Present with exactly this shape (ndim dims, dims d0, d1, d2). */
sq_status sq_param_require_shape(const sq_tensor_set *set, const char *name, int ndim, int64_t d0, int64_t d1,
                                 int64_t d2);
/* Counts i = 0, 1, ... while "<prefix><i><suffix>" names a tensor of the set. */
int sq_param_count_indexed(const sq_tensor_set *set, const char *prefix, const char *suffix);
/* True when some tensor name starts with prefix. */
bool sq_param_has_prefix(const sq_tensor_set *set, const char *prefix);

#endif
