/* itera_transformer.c - Itera-Lite's Transformer baseline: keys, config, parameter groups.
 *
 * Follows docs/itera-lite.md 1.6 (models/transformer_baseline.py of
 * github.com/CisnerosCodes/Itera-Lite).  Everything but the head count is in
 * the shapes; the head count comes from the checkpoint's 'config' entry
 * ("{'num_heads': 4, ...}") or from the user (model.num_heads), never guessed.
 * The forward pass is in models/transformer_forward.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/itera.h" /* SQ_ITERA_LITE_ENDS */
#include "models/itera_transformer.h"
#include "models/param_table.h"

SQ_FAMILY_CONFIG_FITS(sq_itera_transformer_config);

#define KEEP_NORM "LayerNorm weight/bias: 1-D; llama.cpp keeps *_norm in F32 (convert_hf_to_gguf.py)"
#define KEEP_MASK "buffer (attention.causal_mask, a constant tril of ones), not a weight"

static const sq_param_rule transformer_rules[] = {
    {"embedding.weight", SQ_GROUP_EMBEDDING, NULL},
    {"position_embedding.weight", SQ_GROUP_POSITION, NULL},
    {"blocks.#.ln1.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"blocks.#.ln1.bias", SQ_GROUP_NORM, KEEP_NORM},
    {"blocks.#.attention.causal_mask", SQ_GROUP_BUFFER, KEEP_MASK},
    {"blocks.#.attention.qkv.weight", SQ_GROUP_ATTENTION, NULL},
    {"blocks.#.attention.out_proj.weight", SQ_GROUP_ATTENTION, NULL},
    {"blocks.#.ln2.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"blocks.#.ln2.bias", SQ_GROUP_NORM, KEEP_NORM},
    {"blocks.#.ffn.w1.weight", SQ_GROUP_FFN, NULL},
    {"blocks.#.ffn.w2.weight", SQ_GROUP_FFN, NULL},
    {"norm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"norm.bias", SQ_GROUP_NORM, KEEP_NORM},
    {"lm_head.weight", SQ_GROUP_HEAD, NULL},
    {NULL, SQ_GROUP_NONE, NULL},
};

static bool transformer_recognise(const sq_tensor_set *set)
{
    return sq_tensor_set_find(set, "blocks.0.attention.qkv.weight") != NULL;
}

/* The number after 'num_heads' or 'n_heads' in a printed dict ("{'num_heads': 4}",
 * or an object repr "num_heads=4"); 0 when absent. */
static int heads_from_meta(const char *repr)
{
    static const char *const keys[] = {"num_heads", "n_heads"};
    if (repr == NULL)
        return 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *at = repr;
        while ((at = strstr(at, keys[k])) != NULL) {
            /* a whole word: "n_heads" must not match inside "num_kv_n_heads" */
            bool starts = at == repr || !(isalnum((unsigned char)at[-1]) || at[-1] == '_');
            at += strlen(keys[k]);
            if (!starts || isalnum((unsigned char)*at) || *at == '_')
                continue;
            while (*at == '\'' || *at == '"' || *at == ' ' || *at == ':' || *at == '=')
                at++;
            if (isdigit((unsigned char)*at))
                return atoi(at);
        }
    }
    return 0;
}

static sq_status transformer_infer_config(const sq_tensor_set *set, const sq_family_hints *hints,
                                          sq_model_config *cfg)
{
    sq_itera_transformer_config *own = sq_itera_transformer_config_of(cfg);
    const sq_tensor *emb, *pos, *w1;
    const char *source = set->source_path ? set->source_path : "the checkpoint";
    sq_status st = SQ_OK;
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->family, sizeof cfg->family, "itera-transformer");
    SQ_TRY(sq_param_require_ndim(set, "embedding.weight", 2, &emb));         /* [V, d] */
    SQ_TRY(sq_param_require_ndim(set, "position_embedding.weight", 2, &pos)); /* [S, d] */
    SQ_TRY(sq_param_require_ndim(set, "blocks.0.ffn.w1.weight", 2, &w1));    /* [I, d] */
    cfg->vocab_size = (int)emb->shape[0];
    cfg->hidden_size = (int)emb->shape[1];
    cfg->max_seq_length = (int)pos->shape[0];
    cfg->num_layers = sq_param_count_indexed(set, "blocks.", ".attention.qkv.weight");
    own->ffn_size = (int)w1->shape[0];
    cfg->layer_norm_eps = 1e-5; /* get_transformer_tiny_config, 1.6 */
    if (cfg->num_layers > SQ_MAX_LAYERS)
        SQ_FAIL(SQ_ERR_INPUT, "%s has %d blocks; squeeze supports at most %d", source, cfg->num_layers,
                SQ_MAX_LAYERS);
    int from_checkpoint = heads_from_meta(sq_tensor_set_meta(set, "config"));
    int from_user = hints ? hints->num_heads : 0;
    if (from_checkpoint > 0 && from_user > 0 && from_checkpoint != from_user)
        SQ_FAIL(SQ_ERR_USAGE,
                "model.num_heads = %d in the config, but the checkpoint %s says num_heads = %d; remove "
                "model.num_heads or make it agree",
                from_user, source, from_checkpoint);
    own->num_heads = from_checkpoint > 0 ? from_checkpoint : from_user;
    if (own->num_heads <= 0)
        SQ_FAIL(SQ_ERR_USAGE,
                "the attention head count of %s is not in its shapes and the checkpoint has no config entry "
                "with num_heads: set model.num_heads in the config (Itera-Lite's transformer uses 4)",
                source);
    if (cfg->hidden_size % own->num_heads != 0)
        SQ_FAIL(SQ_ERR_USAGE, "num_heads = %d does not divide the hidden size %d of %s", own->num_heads,
                cfg->hidden_size, source);
cleanup:
    return st;
}

static sq_status transformer_validate(const sq_tensor_set *set, const sq_model_config *cfg)
{
    const sq_itera_transformer_config *own = sq_itera_transformer_config_c(cfg);
    const int d = cfg->hidden_size, ffn = own->ffn_size, s = cfg->max_seq_length;
    const int a = own->num_heads * sq_itera_transformer_head_dim(cfg); /* attention width: d unless pruned */
    char name[128];
    sq_status st = SQ_OK;
    if (cfg->num_layers < 1)
        SQ_FAIL(SQ_ERR_INPUT, "%s has no blocks.0.attention.qkv.weight: not an Itera-Lite transformer",
                set->source_path ? set->source_path : "the checkpoint");
    if (own->num_heads < 1 || (own->head_dim == 0 && d % own->num_heads) || own->head_dim < 0)
        SQ_FAIL(SQ_ERR_INPUT, "itera-transformer config of %s is inconsistent (%d heads of %d for hidden %d)",
                set->source_path ? set->source_path : "the checkpoint", own->num_heads, own->head_dim, d);
    SQ_TRY(sq_param_require_shape(set, "embedding.weight", 2, cfg->vocab_size, d, 0));
    SQ_TRY(sq_param_require_shape(set, "position_embedding.weight", 2, s, d, 0));
    for (int i = 0; i < cfg->num_layers; i++) {
        struct { const char *suffix; int ndim; int64_t d0, d1; } block[] = {
            {"ln1.weight", 1, d, 0},          {"ln1.bias", 1, d, 0},
            {"attention.qkv.weight", 2, 3 * a, d}, {"attention.out_proj.weight", 2, d, a},
            {"ln2.weight", 1, d, 0},          {"ln2.bias", 1, d, 0},
            {"ffn.w1.weight", 2, ffn, d},     {"ffn.w2.weight", 2, d, ffn},
        };
        for (size_t j = 0; j < sizeof block / sizeof block[0]; j++) {
            snprintf(name, sizeof name, "blocks.%d.%s", i, block[j].suffix);
            SQ_TRY(sq_param_require_shape(set, name, block[j].ndim, block[j].d0, block[j].d1, 0));
        }
        /* The mask buffer is recomputed (causal); when present it must fit the window. */
        snprintf(name, sizeof name, "blocks.%d.attention.causal_mask", i);
        const sq_tensor *mask = sq_tensor_set_find(set, name);
        if (mask && mask->ndim == 4)
            SQ_TRY(mask->shape[2] == s && mask->shape[3] == s
                       ? SQ_OK
                       : sq_fail(SQ_ERR_INPUT, "broken checkpoint: %s is [%lld, %lld, %lld, %lld], expected "
                                 "[1, 1, %d, %d]", name, (long long)mask->shape[0], (long long)mask->shape[1],
                                 (long long)mask->shape[2], (long long)mask->shape[3], s, s));
    }
    SQ_TRY(sq_family_require_final(&sq_family_itera_transformer, set, cfg));
cleanup:
    return st;
}

/* Its own config fields, as keys of config_json (models/model_config.h). */
static const sq_config_field transformer_config_fields[] = {
    SQ_CONFIG_INT(sq_itera_transformer_config, num_heads), SQ_CONFIG_INT(sq_itera_transformer_config, ffn_size),
    /* only a model with pruned heads has it, so other artifacts stay byte-identical */
    SQ_CONFIG_INT_IF_SET(sq_itera_transformer_config, head_dim), {NULL, 0, false, false},
};

/* Heads: the fused qkv [3 H hd, d] is q | k | v by rows; out_proj takes the heads' columns. */
static bool transformer_head_layout(const sq_tensor_set *set, const sq_model_config *cfg, int layer,
                                    sq_head_layout *out)
{
    const sq_itera_transformer_config *own = sq_itera_transformer_config_c(cfg);
    (void)set;
    if (layer < 0 || layer >= cfg->num_layers)
        return false;
    snprintf(out->q, SQ_PRUNE_NAME_LEN, "blocks.%d.attention.qkv.weight", layer);
    snprintf(out->k, SQ_PRUNE_NAME_LEN, "%s", out->q);
    snprintf(out->v, SQ_PRUNE_NAME_LEN, "%s", out->q);
    snprintf(out->o, SQ_PRUNE_NAME_LEN, "blocks.%d.attention.out_proj.weight", layer);
    out->fused = true;
    out->heads = out->kv_heads = own->num_heads;
    out->head_dim = sq_itera_transformer_head_dim(cfg);
    return true;
}

static void transformer_set_heads(sq_model_config *cfg, int heads, int kv_heads)
{
    sq_itera_transformer_config *own = sq_itera_transformer_config_of(cfg);
    (void)kv_heads; /* multi-head attention: every head is its own KV group */
    own->head_dim = sq_itera_transformer_head_dim(cfg);
    own->num_heads = heads;
}

const sq_family sq_family_itera_transformer = {
    .name = "itera-transformer",
    .description = "Itera-Lite's Transformer baseline (github.com/CisnerosCodes/Itera-Lite, docs/sources.md)",
    .expects_keys = "embedding.weight, blocks.0.attention.qkv.weight, blocks.N.ffn.w1.weight",
    SQ_FAMILY_CHECKPOINT(transformer),
    .ends = SQ_ITERA_LITE_ENDS,
    SQ_FAMILY_FORWARD(sq_transformer),
    .head_layout = transformer_head_layout,
    .set_heads = transformer_set_heads,
};
