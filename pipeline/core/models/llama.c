/* llama.c - the Llama family (Llama 1/2/3, Mistral, Qwen2-style decoders
 * without biases, TinyLlama, llama2.c models): keys, config, groups.
 *
 * Per layer: RMSNorm -> attention with RoPE and grouped-query attention
 * (n_kv_heads <= n_heads) -> residual -> RMSNorm -> SwiGLU MLP -> residual;
 * final RMSNorm; head tied to the embedding or not (docs/llama.md).  Tensor
 * names are HF's or Meta's (models/llama_names.h), each read as it is.
 *
 * Config: from the checkpoint's JSON config (models/hf_config.h: HF
 * config.json, or llama2.c's header) and from shapes.  Everything but the head
 * count is in the shapes; the head count comes from the config or from the
 * user (model.num_heads), never guessed.  A config value that contradicts a
 * shape is an error naming both.  The forward pass is models/llama_forward.c.
 */
#include <stdio.h>
#include <string.h>

#include "models/family.h"
#include "models/llama.h"
#include "models/hf_config.h"
#include "models/llama_names.h"
#include "models/param_table.h"
#include "util/log.h"

SQ_FAMILY_CONFIG_FITS(sq_llama_config);

#define KEEP_NORM "RMSNorm weight: 1-D; llama.cpp keeps *_norm in F32 (convert_hf_to_gguf.py)"
#define KEEP_ROPE "buffer (rotary inv_freq, recomputed from rope_theta), not a weight"

static const sq_param_rule llama_rules[] = {
    /* HF */
    {"model.embed_tokens.weight", SQ_GROUP_EMBEDDING, NULL},
    {"model.layers.#.input_layernorm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"model.layers.#.post_attention_layernorm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"model.layers.#.self_attn.q_proj.weight", SQ_GROUP_ATTENTION, NULL},
    {"model.layers.#.self_attn.k_proj.weight", SQ_GROUP_ATTENTION, NULL},
    {"model.layers.#.self_attn.v_proj.weight", SQ_GROUP_ATTENTION, NULL},
    {"model.layers.#.self_attn.o_proj.weight", SQ_GROUP_ATTENTION, NULL},
    {"model.layers.#.self_attn.rotary_emb.inv_freq", SQ_GROUP_BUFFER, KEEP_ROPE},
    {"model.layers.#.mlp.gate_proj.weight", SQ_GROUP_FFN, NULL},
    {"model.layers.#.mlp.up_proj.weight", SQ_GROUP_FFN, NULL},
    {"model.layers.#.mlp.down_proj.weight", SQ_GROUP_FFN, NULL},
    {"model.norm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"lm_head.weight", SQ_GROUP_HEAD, NULL},
    /* Meta / llama2.c */
    {"tok_embeddings.weight", SQ_GROUP_EMBEDDING, NULL},
    {"layers.#.attention_norm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"layers.#.ffn_norm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"layers.#.attention.wq.weight", SQ_GROUP_ATTENTION, NULL},
    {"layers.#.attention.wk.weight", SQ_GROUP_ATTENTION, NULL},
    {"layers.#.attention.wv.weight", SQ_GROUP_ATTENTION, NULL},
    {"layers.#.attention.wo.weight", SQ_GROUP_ATTENTION, NULL},
    {"layers.#.feed_forward.w1.weight", SQ_GROUP_FFN, NULL},
    {"layers.#.feed_forward.w2.weight", SQ_GROUP_FFN, NULL},
    {"layers.#.feed_forward.w3.weight", SQ_GROUP_FFN, NULL},
    {"norm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"output.weight", SQ_GROUP_HEAD, NULL},
    {NULL, SQ_GROUP_NONE, NULL},
};

static bool llama_recognise(const sq_tensor_set *set)
{
    return (sq_tensor_set_find(set, "model.embed_tokens.weight") &&
            sq_tensor_set_find(set, "model.layers.0.self_attn.q_proj.weight")) ||
           (sq_tensor_set_find(set, "tok_embeddings.weight") &&
            sq_tensor_set_find(set, "layers.0.attention.wq.weight"));
}

#define layer_name sq_llama_layer_name

static sq_status llama_infer_config(const sq_tensor_set *set, const sq_family_hints *hints, sq_model_config *cfg)
{
    sq_llama_config *own = sq_llama_config_of(cfg);
    static const char *const k_hidden[] = {"hidden_size", "dim", NULL};
    static const char *const k_inter[] = {"intermediate_size", "hidden_dim", NULL};
    static const char *const k_layers[] = {"num_hidden_layers", "n_layers", NULL};
    static const char *const k_heads[] = {"num_attention_heads", "n_heads", NULL};
    static const char *const k_kv[] = {"num_key_value_heads", "n_kv_heads", NULL};
    static const char *const k_vocab[] = {"vocab_size", NULL};
    static const char *const k_eps[] = {"rms_norm_eps", "norm_eps", NULL};
    static const char *const k_theta[] = {"rope_theta", NULL};
    static const char *const k_seq[] = {"max_position_embeddings", "seq_len", "max_seq_len", NULL};
    static const char *const k_tie[] = {"tie_word_embeddings", "shared_classifier", NULL};
    static const char *const k_head_dim[] = {"head_dim", NULL};
    const char *source = set->source_path ? set->source_path : "the checkpoint";
    const sq_llama_names *names = sq_llama_names_of(set);
    const sq_tensor *emb, *wq, *wk, *gate;
    sq_hf_config json = {0};
    char name[160];
    long long value = 0;
    bool found = false, tied = true;
    sq_status st = SQ_OK;

    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->family, sizeof cfg->family, "llama");
    if (names == NULL)
        SQ_FAIL(SQ_ERR_INPUT, "%s has neither model.embed_tokens.weight (HF) nor tok_embeddings.weight (Meta): not "
                "a Llama-style checkpoint", source);
    SQ_TRY(sq_hf_config_load(set, &json));
    if (sq_hf_config_has(&json, "rope_scaling"))
        SQ_FAIL(SQ_ERR_INPUT, "%s has rope_scaling (Llama 3.1-style long-context RoPE); squeeze's llama family "
                "implements plain RoPE only", json.source);
    own->rope_style = names->rope_style;
    SQ_TRY(sq_param_require_ndim(set, names->embed, 2, &emb)); /* [V, d] */
    layer_name(name, sizeof name, names->wq, 0);
    SQ_TRY(sq_param_require_ndim(set, name, 2, &wq)); /* [H hd, d] */
    layer_name(name, sizeof name, names->wk, 0);
    SQ_TRY(sq_param_require_ndim(set, name, 2, &wk)); /* [KV hd, d] */
    layer_name(name, sizeof name, names->gate, 0);
    SQ_TRY(sq_param_require_ndim(set, name, 2, &gate)); /* [f, d] */
    cfg->vocab_size = (int)emb->shape[0];
    cfg->hidden_size = (int)emb->shape[1];
    own->ffn_size = (int)gate->shape[0];
    cfg->num_layers = names == &sq_llama_hf_names
                          ? sq_param_count_indexed(set, "model.layers.", ".self_attn.q_proj.weight")
                          : sq_param_count_indexed(set, "layers.", ".attention.wq.weight");
    if (cfg->num_layers > SQ_MAX_LAYERS)
        SQ_FAIL(SQ_ERR_INPUT, "%s has %d layers; squeeze supports at most %d", source, cfg->num_layers, SQ_MAX_LAYERS);
    SQ_TRY(sq_hf_config_agree(&json, k_hidden, cfg->hidden_size, source));
    SQ_TRY(sq_hf_config_agree(&json, k_inter, own->ffn_size, source));
    SQ_TRY(sq_hf_config_agree(&json, k_layers, cfg->num_layers, source));
    SQ_TRY(sq_hf_config_agree(&json, k_vocab, cfg->vocab_size, source));

    /* The head count: config or user, never guessed; both given must agree. */
    SQ_TRY(sq_hf_config_int(&json, k_heads, &value, &found));
    int from_config = found ? (int)value : 0, from_user = hints ? hints->num_heads : 0;
    if (from_config > 0 && from_user > 0 && from_config != from_user)
        SQ_FAIL(SQ_ERR_USAGE, "model.num_heads = %d in the config, but %s says %d; remove model.num_heads or make it "
                "agree", from_user, json.source, from_config);
    own->num_heads = from_config > 0 ? from_config : from_user;
    if (own->num_heads <= 0)
        SQ_FAIL(SQ_ERR_USAGE, "the attention head count of %s is not in its shapes and it has no config.json (or "
                "<name>.config.json) with num_attention_heads: set model.num_heads in the config", source);
    if (wq->shape[0] % own->num_heads != 0 || (wq->shape[0] / own->num_heads) % 2 != 0)
        SQ_FAIL(SQ_ERR_USAGE, "%d heads do not split the %lld query rows of %s into even head sizes", own->num_heads,
                (long long)wq->shape[0], source);
    own->head_dim = (int)(wq->shape[0] / own->num_heads);
    SQ_TRY(sq_hf_config_agree(&json, k_head_dim, own->head_dim, source));
    if (wk->shape[0] % own->head_dim != 0 || own->num_heads % (int)(wk->shape[0] / own->head_dim) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s: %lld key rows are not a whole number of %d-wide heads dividing the %d query heads",
                source, (long long)wk->shape[0], own->head_dim, own->num_heads);
    own->num_kv_heads = (int)(wk->shape[0] / own->head_dim);
    SQ_TRY(sq_hf_config_agree(&json, k_kv, own->num_kv_heads, source));

    double real = 0.0;
    SQ_TRY(sq_hf_config_real(&json, k_eps, &real, &found));
    cfg->layer_norm_eps = found ? real : 1e-5; /* llama2.c and Meta's Llama 2 */
    if (!found)
        sq_info("%s: no rms_norm_eps in a config; using 1e-5 (Llama 2, llama2.c)", source);
    SQ_TRY(sq_hf_config_real(&json, k_theta, &real, &found));
    own->rope_theta = found ? real : 10000.0;
    SQ_TRY(sq_hf_config_int(&json, k_seq, &value, &found));
    cfg->max_seq_length = found ? (int)value : 2048;
    if (!found)
        sq_info("%s: no max_position_embeddings in a config; windows up to 2048 tokens", source);
    if (cfg->layer_norm_eps <= 0.0 || own->rope_theta <= 1.0 || cfg->max_seq_length <= 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s: rms_norm_eps %g, rope_theta %g, max_position_embeddings %d: each must be positive "
                "(and rope_theta > 1)", json.root ? json.source : source, cfg->layer_norm_eps, own->rope_theta,
                cfg->max_seq_length);
    SQ_TRY(sq_hf_config_bool(&json, k_tie, &tied, &found));
    if (found && !tied && !sq_tensor_set_find(set, names->head))
        SQ_FAIL(SQ_ERR_INPUT, "%s says the head is not tied to the embedding, but %s has no %s", json.source, source,
                names->head);
cleanup:
    sq_hf_config_free(&json);
    return st;
}

static sq_status llama_validate(const sq_tensor_set *set, const sq_model_config *cfg)
{
    const sq_llama_config *own = sq_llama_config_c(cfg);
    const char *source = set->source_path ? set->source_path : "the checkpoint";
    const sq_llama_names *names = sq_llama_names_of(set);
    const int64_t d = cfg->hidden_size, f = own->ffn_size, q = (int64_t)own->num_heads * own->head_dim,
                  kv = (int64_t)own->num_kv_heads * own->head_dim;
    char name[160];
    sq_status st = SQ_OK;
    if (names == NULL || cfg->num_layers < 1)
        SQ_FAIL(SQ_ERR_INPUT, "%s has no Llama embedding or layer 0: not a Llama-style checkpoint", source);
    if (own->num_heads < 1 || own->num_kv_heads < 1 || own->head_dim < 2 || own->head_dim % 2 ||
        own->num_heads % own->num_kv_heads || own->rope_style != names->rope_style)
        SQ_FAIL(SQ_ERR_INPUT, "llama config of %s is inconsistent (heads %d, kv heads %d, head dim %d, rope style %d "
                "for %s names)", source, own->num_heads, own->num_kv_heads, own->head_dim, own->rope_style,
                names == &sq_llama_hf_names ? "HF" : "Meta");
    SQ_TRY(sq_param_require_shape(set, names->embed, 2, cfg->vocab_size, d, 0));
    for (int i = 0; i < cfg->num_layers; i++) {
        struct { const char *pattern; int ndim; int64_t d0, d1; } block[] = {
            {names->attn_norm, 1, d, 0}, {names->wq, 2, q, d},       {names->wk, 2, kv, d},
            {names->wv, 2, kv, d},       {names->wo, 2, d, q},       {names->ffn_norm, 1, d, 0},
            {names->gate, 2, f, d},      {names->up, 2, f, d},       {names->down, 2, d, f},
        };
        for (size_t j = 0; j < sizeof block / sizeof block[0]; j++) {
            layer_name(name, sizeof name, block[j].pattern, i);
            SQ_TRY(sq_param_require_shape(set, name, block[j].ndim, block[j].d0, block[j].d1, 0));
        }
    }
    SQ_TRY(sq_param_require_shape(set, names->norm, 1, d, 0, 0));
    if (sq_tensor_set_find(set, names->head))
        SQ_TRY(sq_param_require_shape(set, names->head, 2, cfg->vocab_size, d, 0));
    /* Qwen2's q/k/v biases and the like: refused, never silently dropped. */
    for (size_t t = 0; t < set->count; t++) {
        size_t len = strlen(set->tensors[t].name);
        if (len > 5 && strcmp(set->tensors[t].name + len - 5, ".bias") == 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s has the bias '%s'; squeeze's llama family has no biases (Qwen2-style q/k/v "
                    "biases are not supported yet)", source, set->tensors[t].name);
    }
cleanup:
    return st;
}

/* Its own config fields, as keys of config_json (models/model_config.h). */
static const sq_config_field llama_config_fields[] = {
    SQ_CONFIG_INT(sq_llama_config, num_heads), SQ_CONFIG_INT(sq_llama_config, ffn_size),
    SQ_CONFIG_INT(sq_llama_config, num_kv_heads), SQ_CONFIG_INT(sq_llama_config, head_dim),
    SQ_CONFIG_REAL(sq_llama_config, rope_theta), SQ_CONFIG_INT(sq_llama_config, rope_style), {NULL, 0, false, false},
};

/* Channel j of the SwiGLU MLP: row j of gate and up, column j of down. */
static int llama_ffn_groups(const sq_tensor_set *set, const sq_model_config *cfg, int layer, sq_ffn_group *groups,
                            int max)
{
    const sq_llama_names *nm = sq_llama_names_of(set);
    if (nm == NULL || layer < 0 || layer >= cfg->num_layers || max < 1)
        return 0;
    layer_name(groups[0].rows[0], SQ_PRUNE_NAME_LEN, nm->gate, layer);
    layer_name(groups[0].rows[1], SQ_PRUNE_NAME_LEN, nm->up, layer);
    groups[0].row_count = 2;
    layer_name(groups[0].cols, SQ_PRUNE_NAME_LEN, nm->down, layer);
    return 1;
}

/* Heads: q/k/v rows and o columns in blocks of head_dim (HF's rotate-half
 * permutation stays inside a head). */
static bool llama_head_layout(const sq_tensor_set *set, const sq_model_config *cfg, int layer, sq_head_layout *out)
{
    const sq_llama_names *nm = sq_llama_names_of(set);
    const sq_llama_config *own = sq_llama_config_c(cfg);
    if (nm == NULL || layer < 0 || layer >= cfg->num_layers)
        return false;
    layer_name(out->q, SQ_PRUNE_NAME_LEN, nm->wq, layer);
    layer_name(out->k, SQ_PRUNE_NAME_LEN, nm->wk, layer);
    layer_name(out->v, SQ_PRUNE_NAME_LEN, nm->wv, layer);
    layer_name(out->o, SQ_PRUNE_NAME_LEN, nm->wo, layer);
    out->fused = false;
    out->heads = own->num_heads;
    out->kv_heads = own->num_kv_heads;
    out->head_dim = own->head_dim;
    return true;
}

static void llama_set_heads(sq_model_config *cfg, int heads, int kv_heads)
{
    sq_llama_config_of(cfg)->num_heads = heads;
    sq_llama_config_of(cfg)->num_kv_heads = kv_heads;
}

static int *llama_ffn_size(sq_model_config *cfg)
{
    return &sq_llama_config_of(cfg)->ffn_size;
}

const sq_family sq_family_llama = {
    .name = "llama",
    .description = "Llama-style decoder: RMSNorm, RoPE, grouped-query attention, SwiGLU (HF, Meta and llama2.c "
                   "namings; docs/llama.md)",
    .expects_keys = "model.embed_tokens.weight + model.layers.0.self_attn.q_proj.weight (HF), or "
                    "tok_embeddings.weight + layers.0.attention.wq.weight (Meta, llama2.c .bin)",
    SQ_FAMILY_CHECKPOINT(llama),
    /* no .ends: the names depend on the checkpoint's naming (llama_names.h), so
     * llama_forward.c loads its embedding, final RMSNorm and head itself */
    SQ_FAMILY_FORWARD(sq_llama),
    .ffn_groups = llama_ffn_groups,
    .ffn_size = llama_ffn_size,
    .head_layout = llama_head_layout,
    .set_heads = llama_set_heads,
};
