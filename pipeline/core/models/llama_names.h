/* llama_names.h - the two tensor namings of the Llama family (internal to
 * models/llama.c and models/llama_forward.c).
 *
 * HF (transformers LlamaForCausalLM) and Meta (github.com/meta-llama/llama
 * model.py, llama2.c) name the same tensors differently, and their wq/wk rows
 * differ by a permutation that matches their RoPE pairing: HF rotates
 * (x[i], x[i + hd/2]), Meta (x[2i], x[2i+1]).  Each naming is read as it is
 * and the RoPE pairing follows it.  "%d" is the layer index.
 */
#ifndef SQ_MODELS_LLAMA_NAMES_H
#define SQ_MODELS_LLAMA_NAMES_H

#include <stdio.h>
#include <string.h>

#include "models/llama.h"
#include "tensor/tensor.h"

typedef struct {
    const char *embed, *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *gate, *up, *down, *norm, *head;
    int rope_style;
} sq_llama_names;

static const sq_llama_names sq_llama_hf_names = {
    "model.embed_tokens.weight",
    "model.layers.%d.input_layernorm.weight",
    "model.layers.%d.self_attn.q_proj.weight",
    "model.layers.%d.self_attn.k_proj.weight",
    "model.layers.%d.self_attn.v_proj.weight",
    "model.layers.%d.self_attn.o_proj.weight",
    "model.layers.%d.post_attention_layernorm.weight",
    "model.layers.%d.mlp.gate_proj.weight",
    "model.layers.%d.mlp.up_proj.weight",
    "model.layers.%d.mlp.down_proj.weight",
    "model.norm.weight",
    "lm_head.weight",
    SQ_ROPE_HALF,
};

static const sq_llama_names sq_llama_meta_names = {
    "tok_embeddings.weight",
    "layers.%d.attention_norm.weight",
    "layers.%d.attention.wq.weight",
    "layers.%d.attention.wk.weight",
    "layers.%d.attention.wv.weight",
    "layers.%d.attention.wo.weight",
    "layers.%d.ffn_norm.weight",
    "layers.%d.feed_forward.w1.weight",
    "layers.%d.feed_forward.w3.weight",
    "layers.%d.feed_forward.w2.weight",
    "norm.weight",
    "output.weight",
    SQ_ROPE_ADJACENT,
};

/* pattern with its "%d" replaced by layer (no printf: the patterns are data). */
static inline void sq_llama_layer_name(char *buf, size_t size, const char *pattern, int layer)
{
    const char *at = strstr(pattern, "%d");
    if (at == NULL) {
        snprintf(buf, size, "%s", pattern);
        return;
    }
    snprintf(buf, size, "%.*s%d%s", (int)(at - pattern), pattern, layer, at + 2);
}

/* The naming whose embedding a set holds (HF first), or NULL. */
static inline const sq_llama_names *sq_llama_names_of(const sq_tensor_set *set)
{
    if (sq_tensor_set_find(set, sq_llama_hf_names.embed))
        return &sq_llama_hf_names;
    if (sq_tensor_set_find(set, sq_llama_meta_names.embed))
        return &sq_llama_meta_names;
    return NULL;
}

#endif
