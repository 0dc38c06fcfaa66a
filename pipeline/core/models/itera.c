/* itera.c - the Itera-Lite SSM + MoE family: its keys, config and parameter groups.
 *
 * Follows docs/itera-lite.md section 1 (IteraLiteModel of
 * github.com/CisnerosCodes/Itera-Lite): keys in 1.3, config fields in 1.1.
 * The original checkpoints carry no config (3.7), so everything is inferred
 * from shapes, as the original loaders did.  The forward pass is in
 * models/itera_forward.c.
 */
#include <stdio.h>
#include <string.h>

#include "models/itera.h"
#include "models/param_table.h"

SQ_FAMILY_CONFIG_FITS(sq_itera_config);

/* Why a tensor stays in full precision (docs/reference-facts.md A2, "Kept in F32"). */
#define KEEP_CONV "depthwise conv1d weight: small and sensitive; llama.cpp never quantizes ssm_conv1d " \
                  "(llama-quant.cpp: \"do not quantize Mamba's small yet 2D weights\")"
#define KEEP_A "A_log sets the state decay exp(-exp(A_log)*delta), exponentially sensitive; llama.cpp keeps ssm_a " \
               "in F32 (1-D)"
#define KEEP_D "D skip weights are 1-D; llama.cpp keeps ssm_d in F32"
#define KEEP_BIAS "bias: 1-D; llama.cpp keeps every tensor not ending in .weight in F32 (ssm_dt.bias, conv1d.bias)"
#define KEEP_NORM "LayerNorm weight/bias: 1-D; llama.cpp keeps *_norm in F32, and Itera-Lite's own INT8/INT4 " \
                  "kept LayerNorms FP32"
#define KEEP_BUFFER "buffer (router.expert_counts, a training EMA), not a weight"

/* Every tensor name of the family (itera-lite.md 1.3), first match wins. */
static const sq_param_rule itera_rules[] = {
    {"embedding.weight", SQ_GROUP_EMBEDDING, NULL},
    {"position_embedding.weight", SQ_GROUP_POSITION, NULL},
    {"layers.#.ssm.in_proj.weight", SQ_GROUP_SSM, NULL},
    {"layers.#.ssm.conv1d.weight", SQ_GROUP_SSM, KEEP_CONV},
    {"layers.#.ssm.conv1d.bias", SQ_GROUP_SSM, KEEP_BIAS},
    {"layers.#.ssm.ssm.A_log", SQ_GROUP_SSM, KEEP_A},
    {"layers.#.ssm.ssm.B", SQ_GROUP_SSM, NULL},
    {"layers.#.ssm.ssm.C", SQ_GROUP_SSM, NULL},
    {"layers.#.ssm.ssm.D", SQ_GROUP_SSM, KEEP_D},
    {"layers.#.ssm.ssm.delta_proj.weight", SQ_GROUP_SSM, NULL},
    {"layers.#.ssm.ssm.delta_proj.bias", SQ_GROUP_SSM, KEEP_BIAS},
    {"layers.#.ssm.out_proj.weight", SQ_GROUP_SSM, NULL},
    {"layers.#.ssm.norm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"layers.#.ssm.norm.bias", SQ_GROUP_NORM, KEEP_NORM},
    {"layers.#.moe.norm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"layers.#.moe.norm.bias", SQ_GROUP_NORM, KEEP_NORM},
    {"layers.#.moe.ffn.w1.weight", SQ_GROUP_FFN, NULL},
    {"layers.#.moe.ffn.w2.weight", SQ_GROUP_FFN, NULL},
    {"layers.#.moe.layer.router.expert_counts", SQ_GROUP_BUFFER, KEEP_BUFFER},
    {"layers.#.moe.layer.router.gate.weight", SQ_GROUP_MOE_ROUTER, NULL},
    {"layers.#.moe.layer.experts.#.w1.weight", SQ_GROUP_MOE_EXPERT, NULL},
    {"layers.#.moe.layer.experts.#.w2.weight", SQ_GROUP_MOE_EXPERT, NULL},
    {"layers.#.moe.layer.norm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"layers.#.moe.layer.norm.bias", SQ_GROUP_NORM, KEEP_NORM},
    {"norm.weight", SQ_GROUP_NORM, KEEP_NORM},
    {"norm.bias", SQ_GROUP_NORM, KEEP_NORM},
    {"lm_head.weight", SQ_GROUP_HEAD, NULL},
    {NULL, SQ_GROUP_NONE, NULL},
};

static bool itera_recognise(const sq_tensor_set *set)
{
    return sq_tensor_set_find(set, "layers.0.ssm.in_proj.weight") != NULL;
}

/* A layer is MoE when it has any moe.layer.* tensor (router, experts or norm):
 * the original MoELayer(use_moe=True) holds them under 'layer' (1.2). */
static bool layer_is_moe(const sq_tensor_set *set, int layer)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "layers.%d.moe.layer.", layer);
    return sq_param_has_prefix(set, prefix);
}

static sq_status itera_infer_config(const sq_tensor_set *set, const sq_family_hints *hints, sq_model_config *cfg)
{
    sq_itera_config *own = sq_itera_config_of(cfg);
    const sq_tensor *emb, *pos, *conv, *ssm_b, *t;
    char name[128];
    sq_status st = SQ_OK;
    (void)hints; /* every field of this family is in the shapes */
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->family, sizeof cfg->family, "itera");
    SQ_TRY(sq_param_require_ndim(set, "embedding.weight", 2, &emb));                     /* [V, d] */
    SQ_TRY(sq_param_require_ndim(set, "position_embedding.weight", 2, &pos));            /* [S, d] */
    SQ_TRY(sq_param_require_ndim(set, "layers.0.ssm.conv1d.weight", 3, &conv));          /* [di, 1, K] */
    SQ_TRY(sq_param_require_ndim(set, "layers.0.ssm.ssm.B", 2, &ssm_b));                 /* [N, di] */
    cfg->vocab_size = (int)emb->shape[0];
    cfg->hidden_size = (int)emb->shape[1];
    cfg->max_seq_length = (int)pos->shape[0];
    cfg->num_layers = sq_param_count_indexed(set, "layers.", ".ssm.in_proj.weight");
    own->d_inner = (int)conv->shape[0];
    own->ssm_conv_kernel = (int)conv->shape[2];
    own->ssm_state_size = (int)ssm_b->shape[0];
    own->ssm_expand = cfg->hidden_size > 0 ? own->d_inner / cfg->hidden_size : 0;
    cfg->layer_norm_eps = 1e-5; /* IteraLiteConfig default; the block norms use PyTorch's 1e-5 too */
    cfg->top_k = 2;             /* Itera-Lite's only value (1.1) */
    if (cfg->num_layers > SQ_MAX_LAYERS)
        SQ_FAIL(SQ_ERR_INPUT, "%s has %d layers; squeeze supports at most %d",
                set->source_path ? set->source_path : "the checkpoint", cfg->num_layers, SQ_MAX_LAYERS);
    if (own->d_inner % cfg->hidden_size != 0)
        SQ_FAIL(SQ_ERR_INPUT, "layers.0.ssm.conv1d.weight has %d channels, not a multiple of hidden size %d",
                own->d_inner, cfg->hidden_size);
    for (int i = 0; i < cfg->num_layers; i++) {
        if (layer_is_moe(set, i)) {
            cfg->moe_layers[cfg->moe_layer_count++] = i;
            /* E from the first MoE layer's router gate [E, d]; validate() checks the others. */
            snprintf(name, sizeof name, "layers.%d.moe.layer.router.gate.weight", i);
            if (cfg->moe_layer_count == 1) {
                SQ_TRY(sq_param_require_ndim(set, name, 2, &t));
                cfg->num_experts = (int)t->shape[0];
            }
            snprintf(name, sizeof name, "layers.%d.moe.layer.experts.0.w1.weight", i);
        } else {
            snprintf(name, sizeof name, "layers.%d.moe.ffn.w1.weight", i);
        }
        /* f from the first expert or dense FFN w1 [f, d] found. */
        t = sq_tensor_set_find(set, name);
        if (own->expert_size == 0 && t != NULL && t->ndim == 2)
            own->expert_size = (int)t->shape[0];
    }
    if (cfg->num_layers > 0 && own->expert_size == 0)
        SQ_FAIL(SQ_ERR_INPUT,
                "broken checkpoint %s: no layer has FFN or expert weights (layers.N.moe.ffn.w1.weight or "
                "layers.N.moe.layer.experts.0.w1.weight), so the expert size cannot be inferred",
                set->source_path ? set->source_path : "");
cleanup:
    return st;
}

static sq_status validate_moe_layer(const sq_tensor_set *set, const sq_model_config *cfg, int i)
{
    const sq_itera_config *own = sq_itera_config_c(cfg);
    const int d = cfg->hidden_size, f = own->expert_size;
    const sq_tensor *gate;
    char name[128], prefix[64], shape[64];
    sq_status st = SQ_OK;
    snprintf(name, sizeof name, "layers.%d.moe.layer.router.gate.weight", i);
    SQ_TRY(sq_param_require_ndim(set, name, 2, &gate));
    snprintf(prefix, sizeof prefix, "layers.%d.moe.layer.experts.", i);
    int experts = sq_param_count_indexed(set, prefix, ".w1.weight");
    sq_shape_string(gate, shape, sizeof shape);
    /* The Phase 7 mixed-precision checkpoint: gate [0,128], experts gone (itera-lite.md 3.5). */
    if (experts == 0)
        SQ_FAIL(SQ_ERR_INPUT,
                "broken checkpoint: layer %d is a MoE layer but has 0 experts (router gate %s, no "
                "layers.%d.moe.layer.experts.N.w1.weight); the checkpoint lost its expert weights",
                i, shape, i);
    if (gate->shape[0] < cfg->top_k)
        SQ_FAIL(SQ_ERR_INPUT,
                "broken checkpoint: layer %d is a MoE layer whose router has %lld experts (router gate %s), "
                "fewer than top-k = %d",
                i, (long long)gate->shape[0], shape, cfg->top_k);
    if (gate->shape[0] != cfg->num_experts || gate->shape[1] != d)
        SQ_FAIL(SQ_ERR_INPUT, "broken checkpoint: layer %d router gate is %s, expected [%d, %d]", i, shape,
                cfg->num_experts, d);
    if (experts != cfg->num_experts)
        SQ_FAIL(SQ_ERR_INPUT, "broken checkpoint: layer %d has %d experts' weights but its router gate %s routes "
                "to %d", i, experts, shape, cfg->num_experts);
    snprintf(name, sizeof name, "layers.%d.moe.layer.router.expert_counts", i);
    if (sq_tensor_set_find(set, name))
        SQ_TRY(sq_param_require_shape(set, name, 1, cfg->num_experts, 0, 0));
    for (int e = 0; e < cfg->num_experts; e++) {
        snprintf(name, sizeof name, "layers.%d.moe.layer.experts.%d.w1.weight", i, e);
        SQ_TRY(sq_param_require_shape(set, name, 2, f, d, 0));
        snprintf(name, sizeof name, "layers.%d.moe.layer.experts.%d.w2.weight", i, e);
        SQ_TRY(sq_param_require_shape(set, name, 2, d, f, 0));
    }
    snprintf(name, sizeof name, "layers.%d.moe.layer.norm.weight", i);
    SQ_TRY(sq_param_require_shape(set, name, 1, d, 0, 0));
    snprintf(name, sizeof name, "layers.%d.moe.layer.norm.bias", i);
    SQ_TRY(sq_param_require_shape(set, name, 1, d, 0, 0));
cleanup:
    return st;
}

static sq_status itera_validate(const sq_tensor_set *set, const sq_model_config *cfg)
{
    const sq_itera_config *own = sq_itera_config_c(cfg);
    const int d = cfg->hidden_size, di = own->d_inner, n = own->ssm_state_size, k = own->ssm_conv_kernel;
    const int f = own->expert_size;
    char name[128];
    sq_status st = SQ_OK;
    if (cfg->num_layers < 1)
        SQ_FAIL(SQ_ERR_INPUT, "%s has no layers.0.ssm.in_proj.weight: not an Itera-Lite checkpoint",
                set->source_path ? set->source_path : "the checkpoint");
    SQ_TRY(sq_param_require_shape(set, "embedding.weight", 2, cfg->vocab_size, d, 0));
    SQ_TRY(sq_param_require_shape(set, "position_embedding.weight", 2, cfg->max_seq_length, d, 0));
    for (int i = 0; i < cfg->num_layers; i++) {
        /* SSM block (1.3, in saved order). */
        struct { const char *suffix; int ndim; int64_t d0, d1, d2; } ssm[] = {
            {"ssm.in_proj.weight", 2, 2 * di, d, 0},  {"ssm.conv1d.weight", 3, di, 1, k},
            {"ssm.conv1d.bias", 1, di, 0, 0},         {"ssm.ssm.A_log", 1, n, 0, 0},
            {"ssm.ssm.B", 2, n, di, 0},               {"ssm.ssm.C", 2, di, n, 0},
            {"ssm.ssm.D", 1, di, 0, 0},               {"ssm.ssm.delta_proj.weight", 2, di, di, 0},
            {"ssm.ssm.delta_proj.bias", 1, di, 0, 0}, {"ssm.out_proj.weight", 2, d, di, 0},
            {"ssm.norm.weight", 1, d, 0, 0},          {"ssm.norm.bias", 1, d, 0, 0},
        };
        for (size_t j = 0; j < sizeof ssm / sizeof ssm[0]; j++) {
            snprintf(name, sizeof name, "layers.%d.%s", i, ssm[j].suffix);
            SQ_TRY(sq_param_require_shape(set, name, ssm[j].ndim, ssm[j].d0, ssm[j].d1, ssm[j].d2));
        }
        bool moe = false;
        for (int m = 0; m < cfg->moe_layer_count; m++)
            moe = moe || cfg->moe_layers[m] == i;
        if (moe) {
            SQ_TRY(validate_moe_layer(set, cfg, i));
        } else {
            snprintf(name, sizeof name, "layers.%d.moe.norm.weight", i);
            SQ_TRY(sq_param_require_shape(set, name, 1, d, 0, 0));
            snprintf(name, sizeof name, "layers.%d.moe.norm.bias", i);
            SQ_TRY(sq_param_require_shape(set, name, 1, d, 0, 0));
            snprintf(name, sizeof name, "layers.%d.moe.ffn.w1.weight", i);
            SQ_TRY(sq_param_require_shape(set, name, 2, f, d, 0));
            snprintf(name, sizeof name, "layers.%d.moe.ffn.w2.weight", i);
            SQ_TRY(sq_param_require_shape(set, name, 2, d, f, 0));
        }
    }
    /* The head is tied to the embedding; an untied copy (dynamic INT8, 3.1) must match it. */
    SQ_TRY(sq_family_require_final(&sq_family_itera, set, cfg));
cleanup:
    return st;
}

/* Its own config fields, as keys of config_json (models/model_config.h). */
static const sq_config_field itera_config_fields[] = {
    SQ_CONFIG_INT(sq_itera_config, ssm_state_size), SQ_CONFIG_INT(sq_itera_config, ssm_conv_kernel),
    SQ_CONFIG_INT(sq_itera_config, ssm_expand), SQ_CONFIG_INT(sq_itera_config, d_inner),
    SQ_CONFIG_INT(sq_itera_config, expert_size), {NULL, 0, false, false},
};

/* Channel j of an FFN (dense, or one expert): row j of w1, column j of w2;
 * every FFN of the model shares expert_size. */
static int itera_ffn_groups(const sq_tensor_set *set, const sq_model_config *cfg, int layer, sq_ffn_group *groups,
                            int max)
{
    int n = 0;
    if (layer < 0 || layer >= cfg->num_layers)
        return 0;
    if (!layer_is_moe(set, layer)) {
        if (max < 1)
            return 0;
        snprintf(groups[0].rows[0], SQ_PRUNE_NAME_LEN, "layers.%d.moe.ffn.w1.weight", layer);
        snprintf(groups[0].cols, SQ_PRUNE_NAME_LEN, "layers.%d.moe.ffn.w2.weight", layer);
        groups[0].row_count = 1;
        return 1;
    }
    for (int e = 0; e < cfg->num_experts && n < max; e++, n++) {
        snprintf(groups[n].rows[0], SQ_PRUNE_NAME_LEN, "layers.%d.moe.layer.experts.%d.w1.weight", layer, e);
        snprintf(groups[n].cols, SQ_PRUNE_NAME_LEN, "layers.%d.moe.layer.experts.%d.w2.weight", layer, e);
        groups[n].row_count = 1;
    }
    return n;
}

/* Forced SSM pruning (docs/itera-lite.md 1.3): inner channel j is rows j and
 * di + j of in_proj (signal, gate), conv channel j, column j of B, row j of C,
 * D[j], row and column j of delta_proj (delta is the mean over all channels,
 * so every kept channel's step changes too) and column j of out_proj; state
 * dimension n is A_log[n], row n of B and column n of C. */
static void slice(sq_ssm_layout *out, int layer, const char *suffix, int axis, int off0, int off1)
{
    char name[SQ_PRUNE_NAME_LEN];
    snprintf(name, sizeof name, "layers.%d.ssm.%s", layer, suffix);
    sq_ssm_layout_add(out, name, axis, off0, off1);
}

static const char *itera_ssm_layout(const sq_tensor_set *set, const sq_model_config *cfg, int layer, bool state,
                                    sq_ssm_layout *out)
{
    const sq_itera_config *own = sq_itera_config_c(cfg);
    (void)set;
    memset(out, 0, sizeof *out);
    if (state) {
        out->size = own->ssm_state_size;
        slice(out, layer, "ssm.A_log", 0, 0, -1);
        slice(out, layer, "ssm.B", 0, 0, -1);
        slice(out, layer, "ssm.C", 1, 0, -1);
        return NULL;
    }
    out->size = own->d_inner;
    slice(out, layer, "in_proj.weight", 0, 0, own->d_inner);
    slice(out, layer, "conv1d.weight", 0, 0, -1);
    slice(out, layer, "conv1d.bias", 0, 0, -1);
    slice(out, layer, "ssm.B", 1, 0, -1);
    slice(out, layer, "ssm.C", 0, 0, -1);
    slice(out, layer, "ssm.D", 0, 0, -1);
    slice(out, layer, "ssm.delta_proj.weight", 0, 0, -1);
    slice(out, layer, "ssm.delta_proj.weight", 1, 0, -1);
    slice(out, layer, "ssm.delta_proj.bias", 0, 0, -1);
    slice(out, layer, "out_proj.weight", 1, 0, -1);
    snprintf(out->out, sizeof out->out, "layers.%d.ssm.out_proj.weight", layer);
    return NULL;
}

/* ssm_expand stays the checkpoint's: d_inner is what the forward pass reads */
static int *itera_ssm_size(sq_model_config *cfg, bool state)
{
    return state ? &sq_itera_config_of(cfg)->ssm_state_size : &sq_itera_config_of(cfg)->d_inner;
}

static int *itera_ffn_size(sq_model_config *cfg)
{
    return &sq_itera_config_of(cfg)->expert_size;
}

static const char *const itera_expert_tensors[] = {"layers.%d.moe.layer.experts.%d.w1.weight",
                                                   "layers.%d.moe.layer.experts.%d.w2.weight", NULL};
static const char *const itera_router_tensors[] = {"layers.%d.moe.layer.router.gate.weight",
                                                   "layers.%d.moe.layer.router.expert_counts", NULL};

const sq_family sq_family_itera = {
    .name = "itera",
    .description = "Itera-Lite SSM + MoE (github.com/CisnerosCodes/Itera-Lite, docs/sources.md)",
    .expects_keys = "embedding.weight, layers.0.ssm.in_proj.weight, layers.N.moe.*",
    SQ_FAMILY_CHECKPOINT(itera),
    .ends = SQ_ITERA_LITE_ENDS,
    SQ_FAMILY_FORWARD(sq_itera),
    .ffn_groups = itera_ffn_groups,
    .ffn_size = itera_ffn_size,
    .expert_tensors = itera_expert_tensors,
    .router_tensors = itera_router_tensors,
    .ssm_guard = SQ_SSM_GUARD_REASON,
    .ssm_layout = itera_ssm_layout,
    .ssm_size = itera_ssm_size,
};
