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

SQ_FAMILY_CONFIG_ACCESSORS(sq_mamba_config) /* sq_mamba_config_of, sq_mamba_config_c */

extern const sq_family sq_family_mamba;

/* The forward pass (models/mamba_forward.c): sq_mamba_build, sq_mamba_forward and sq_mamba_free, the row's
 * build / forward / free_state. */
SQ_FAMILY_FORWARD_DECLARE(sq_mamba);

#endif
