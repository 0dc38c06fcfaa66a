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

SQ_FAMILY_CONFIG_ACCESSORS(sq_itera_config) /* sq_itera_config_of, sq_itera_config_c */

/* The tensors around the blocks of both Itera-Lite models (this family and
 * itera-transformer): learned position embedding, final LayerNorm, tied head. */
#define SQ_ITERA_LITE_ENDS                                                                                 \
    {.embedding = "embedding.weight", .position = "position_embedding.weight", .norm_weight = "norm.weight", \
     .norm_bias = "norm.bias", .head = "lm_head.weight", .norm = SQ_NORM_LAYER}

extern const sq_family sq_family_itera;

/* The forward pass (models/itera_forward.c): sq_itera_build, sq_itera_forward and sq_itera_free, the row's
 * build / forward / free_state. */
SQ_FAMILY_FORWARD_DECLARE(sq_itera);

#endif
