/* mamba.h - the Mamba-1 / Mamba-2 family (models/mamba.c, models/mamba_forward.c):
 * its own config fields (docs/mamba.md), kept in sq_model_config.own. */
#ifndef SQ_MODELS_MAMBA_H
#define SQ_MODELS_MAMBA_H

#include "models/family.h"

typedef struct {
    int ssm_state_size;  /* N */
    int ssm_conv_kernel; /* K: conv1d.weight [channels, 1, K] */
    int d_inner;         /* di: out_proj.weight [d, di] */
    int ssm_expand;      /* di / d */
    int ssm_version;     /* 1 (MambaForCausalLM) or 2 (Mamba2ForCausalLM) */
    int dt_rank;         /* Mamba-1: dt_proj.weight [di, R] */
    int ssm_groups;      /* Mamba-2: B/C groups */
    int ssm_heads;       /* Mamba-2: heads (A_log [heads]) */
} sq_mamba_config;

static inline sq_mamba_config *sq_mamba_config_of(sq_model_config *cfg)
{
    return SQ_FAMILY_CONFIG(cfg, sq_mamba_config);
}
static inline const sq_mamba_config *sq_mamba_config_c(const sq_model_config *cfg)
{
    return SQ_FAMILY_CONFIG_CONST(cfg, sq_mamba_config);
}

extern const sq_family sq_family_mamba;

/* The forward pass (models/mamba_forward.c). */
struct sq_fw_source;
sq_status sq_mamba_build(const sq_model_config *cfg, const struct sq_fw_source *src, void **out);
sq_status sq_mamba_forward(void *state, const sq_model_config *cfg, const int32_t *tokens, int count,
                           float *logits, const sq_forward_hooks *hooks);
void sq_mamba_free(void *state);

#endif
