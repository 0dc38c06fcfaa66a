/* itera_transformer.h - Itera-Lite's Transformer baseline (models/itera_transformer.c,
 * models/transformer_forward.c): its own config fields (docs/itera-lite.md 1.6). */
#ifndef SQ_MODELS_ITERA_TRANSFORMER_H
#define SQ_MODELS_ITERA_TRANSFORMER_H

#include "models/family.h"

typedef struct {
    int num_heads; /* H: from the checkpoint's config or the user, never guessed */
    int ffn_size;  /* I: blocks.0.ffn.w1.weight [I, d] */
} sq_itera_transformer_config;

static inline sq_itera_transformer_config *sq_itera_transformer_config_of(sq_model_config *cfg)
{
    return SQ_FAMILY_CONFIG(cfg, sq_itera_transformer_config);
}
static inline const sq_itera_transformer_config *sq_itera_transformer_config_c(const sq_model_config *cfg)
{
    return SQ_FAMILY_CONFIG_CONST(cfg, sq_itera_transformer_config);
}

extern const sq_family sq_family_itera_transformer;

/* The forward pass (models/transformer_forward.c). */
struct sq_fw_source;
sq_status sq_transformer_build(const sq_model_config *cfg, const struct sq_fw_source *src, void **out);
sq_status sq_transformer_forward(void *state, const sq_model_config *cfg, const int32_t *tokens, int count,
                                 float *logits, const sq_forward_hooks *hooks);
void sq_transformer_free(void *state);

#endif
