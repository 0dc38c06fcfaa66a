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

SQ_FAMILY_CONFIG_ACCESSORS(sq_llama_config) /* sq_llama_config_of, sq_llama_config_c */

extern const sq_family sq_family_llama;

/* The forward pass (models/llama_forward.c): sq_llama_build, sq_llama_forward and sq_llama_free, the row's
 * build / forward / free_state. */
SQ_FAMILY_FORWARD_DECLARE(sq_llama);

#endif
