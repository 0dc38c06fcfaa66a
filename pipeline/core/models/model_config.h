/* model_config.h - the inferred configuration of a model, family independent. */
#ifndef SQ_MODELS_MODEL_CONFIG_H
#define SQ_MODELS_MODEL_CONFIG_H

#include "util/status.h"

#define SQ_MAX_LAYERS 128

typedef struct {
    char family[32];        /* "itera", "itera-transformer" */
    int vocab_size;         /* V: embedding.weight [V, d] */
    int hidden_size;        /* d */
    int num_layers;         /* L */
    int max_seq_length;     /* S: position_embedding.weight [S, d] */
    double layer_norm_eps;  /* 1e-5 for both families */
    /* itera (SSM + MoE) */
    int ssm_state_size;     /* N: layers.0.ssm.ssm.B [N, di] */
    int ssm_conv_kernel;    /* K: conv1d.weight [di, 1, K] */
    int ssm_expand;         /* e = di / d */
    int d_inner;            /* di */
    int num_experts;        /* E: router.gate.weight [E, d] */
    int expert_size;        /* f: expert / ffn w1 [f, d] */
    int top_k;              /* 2 (Itera-Lite's only value) */
    int moe_layer_count;
    int moe_layers[SQ_MAX_LAYERS];
    /* itera-transformer */
    int num_heads;          /* H: from the checkpoint's config or the user, never guessed */
    int ffn_size;           /* I: blocks.0.ffn.w1.weight [I, d]; llama: the SwiGLU inner size */
    /* llama (models/llama.c): layer_norm_eps is the RMSNorm eps */
    int num_kv_heads;       /* KV <= H, H % KV == 0 (grouped-query attention) */
    int head_dim;           /* hd: q rows / H */
    double rope_theta;      /* RoPE base, 10000 unless the config says otherwise */
    int rope_style;         /* SQ_ROPE_*: follows the tensor naming */
    /* mamba (models/mamba.c): d_inner, ssm_state_size, ssm_conv_kernel as above */
    int ssm_version;        /* 1 (MambaForCausalLM) or 2 (Mamba2ForCausalLM) */
    int dt_rank;            /* Mamba-1: dt_proj.weight [di, R] */
    int ssm_groups;         /* Mamba-2: B/C groups */
    int ssm_heads;          /* Mamba-2: heads (A_log [heads]) */
} sq_model_config;

/* How RoPE pairs the features of a head. */
enum {
    SQ_ROPE_ADJACENT = 1, /* (x[2i], x[2i+1]): Meta / llama2.c weights */
    SQ_ROPE_HALF = 2,     /* (x[i], x[i + hd/2]): HF weights, q/k rows permuted (rotate_half) */
};

/* JSON form (jansson) stored in artifacts as the attribute config_json. */
sq_status sq_model_config_to_json(const sq_model_config *cfg, char **json_out);
sq_status sq_model_config_from_json(const char *json, sq_model_config *cfg);

#endif
