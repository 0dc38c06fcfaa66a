/* itera.h - the Itera-Lite SSM + MoE family (models/itera.c, models/itera_forward.c).
 *
 * Its own config fields (docs/itera-lite.md 1.1), kept in sq_model_config.own;
 * the routing facts (num_experts, top_k, moe_layers) are common fields.
 */
#ifndef SQ_MODELS_ITERA_H
#define SQ_MODELS_ITERA_H

#include "models/family.h"

typedef struct {
    int ssm_state_size;  /* N: layers.0.ssm.ssm.B [N, di] */
    int ssm_conv_kernel; /* K: conv1d.weight [di, 1, K] */
    int ssm_expand;      /* e = di / d */
    int d_inner;         /* di */
    int expert_size;     /* f: expert / ffn w1 [f, d] */
} sq_itera_config;

static inline sq_itera_config *sq_itera_config_of(sq_model_config *cfg)
{
    return SQ_FAMILY_CONFIG(cfg, sq_itera_config);
}
static inline const sq_itera_config *sq_itera_config_c(const sq_model_config *cfg)
{
    return SQ_FAMILY_CONFIG_CONST(cfg, sq_itera_config);
}

extern const sq_family sq_family_itera;

/* The forward pass (models/itera_forward.c), the row's build / forward / free_state. */
struct sq_fw_source;
sq_status sq_itera_build(const sq_model_config *cfg, const struct sq_fw_source *src, void **out);
sq_status sq_itera_forward(void *state, const sq_model_config *cfg, const int32_t *tokens, int count,
                           float *logits, const sq_forward_hooks *hooks);
void sq_itera_free(void *state);

#endif
