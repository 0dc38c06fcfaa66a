/* itera_transformer.h - Itera-Lite's Transformer baseline (models/itera_transformer.c,
 * models/transformer_forward.c): its own config fields (docs/itera-lite.md 1.6). */
#ifndef SQ_MODELS_ITERA_TRANSFORMER_H
#define SQ_MODELS_ITERA_TRANSFORMER_H

#include "models/family.h"

typedef struct {
    int num_heads; /* H: from the checkpoint's config or the user, never guessed */
    int ffn_size;  /* I: blocks.0.ffn.w1.weight [I, d] */
    int head_dim;  /* hd: 0 means d / H (the checkpoint's own); set when heads were pruned */
} sq_itera_transformer_config;

SQ_FAMILY_CONFIG_ACCESSORS(sq_itera_transformer_config) /* sq_itera_transformer_config_of, sq_itera_transformer_config_c */

/* The head size, and the width of the attention (H hd: d unless heads were pruned). */
static inline int sq_itera_transformer_head_dim(const sq_model_config *cfg)
{
    const sq_itera_transformer_config *own = sq_itera_transformer_config_c(cfg);
    return own->head_dim > 0 ? own->head_dim : own->num_heads > 0 ? cfg->hidden_size / own->num_heads : 0;
}

extern const sq_family sq_family_itera_transformer;

/* The forward pass (models/transformer_forward.c): sq_transformer_build, sq_transformer_forward and sq_transformer_free, the row's
 * build / forward / free_state. */
SQ_FAMILY_FORWARD_DECLARE(sq_transformer);

#endif
