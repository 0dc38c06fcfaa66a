/* llama.h - the Llama-style decoder family (models/llama.c, models/llama_forward.c):
 * its own config fields (docs/llama.md), kept in sq_model_config.own; the common
 * layer_norm_eps is the RMSNorm eps. */
#ifndef SQ_MODELS_LLAMA_H
#define SQ_MODELS_LLAMA_H

#include "models/family.h"

typedef struct {
    int num_heads;     /* H: from the checkpoint's config or the user, never guessed */
    int ffn_size;      /* the SwiGLU inner size */
    int num_kv_heads;  /* KV <= H, H % KV == 0 (grouped-query attention) */
    int head_dim;      /* hd: q rows / H */
    double rope_theta; /* RoPE base, 10000 unless the config says otherwise */
    int rope_style;    /* SQ_ROPE_*: follows the tensor naming */
} sq_llama_config;

/* How RoPE pairs the features of a head. */
enum {
    SQ_ROPE_ADJACENT = 1, /* (x[2i], x[2i+1]): Meta / llama2.c weights */
    SQ_ROPE_HALF = 2,     /* (x[i], x[i + hd/2]): HF weights, q/k rows permuted (rotate_half) */
};

static inline sq_llama_config *sq_llama_config_of(sq_model_config *cfg)
{
    return SQ_FAMILY_CONFIG(cfg, sq_llama_config);
}
static inline const sq_llama_config *sq_llama_config_c(const sq_model_config *cfg)
{
    return SQ_FAMILY_CONFIG_CONST(cfg, sq_llama_config);
}

extern const sq_family sq_family_llama;

/* The forward pass (models/llama_forward.c). */
struct sq_fw_source;
sq_status sq_llama_build(const sq_model_config *cfg, const struct sq_fw_source *src, void **out);
sq_status sq_llama_forward(void *state, const sq_model_config *cfg, const int32_t *tokens, int count,
                           float *logits, const sq_forward_hooks *hooks);
void sq_llama_free(void *state);

#endif
