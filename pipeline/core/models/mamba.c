/* mamba.c - the Mamba family: Mamba-1 (HF MambaForCausalLM) and Mamba-2 (HF
 * Mamba2ForCausalLM), with or without the "backbone." prefix: keys, config,
 * parameter groups (docs/mamba.md).
 *
 * Mamba-1's config is all in the shapes: d_inner = in_proj rows / 2, state
 * N = A_log [di, N], conv kernel K = conv1d [di, 1, K], dt_rank R =
 * dt_proj [di, R].  Mamba-2's in_proj rows are 2 di + 2 G N + H, so G and N
 * are only separable with the config (n_groups or state_size); without either
 * it is an error asking for config.json.  The SSM parameters (A_log, D, the
 * dt biases, conv1d) stay in full precision by default, as for itera.
 * The forward pass is models/mamba_forward.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/family.h"
#include "models/hf_config.h"
#include "models/mamba.h"
#include "models/mamba_names.h"
#include "models/param_table.h"
#include "util/log.h"

SQ_FAMILY_CONFIG_FITS(sq_mamba_config);

#define KEEP_CONV "depthwise conv1d weight: small and sensitive; llama.cpp never quantizes ssm_conv1d " \
                  "(llama-quant.cpp: \"do not quantize Mamba's small yet 2D weights\")"
#define KEEP_A "A_log sets the state decay exp(-exp(A_log) dt), exponentially sensitive; llama.cpp keeps ssm_a in F32"
#define KEEP_D "D skip weights are 1-D; llama.cpp keeps ssm_d in F32"
#define KEEP_BIAS "bias: 1-D; llama.cpp keeps every tensor not ending in .weight in F32 (ssm_dt.bias, conv1d.bias)"
#define KEEP_NORM "RMSNorm weight: 1-D; llama.cpp keeps *_norm in F32"

#define RULES(P)                                                         \
    {P "embeddings.weight", SQ_GROUP_EMBEDDING, NULL},                   \
    {P "layers.#.norm.weight", SQ_GROUP_NORM, KEEP_NORM},                \
    {P "layers.#.mixer.in_proj.weight", SQ_GROUP_SSM, NULL},             \
    {P "layers.#.mixer.conv1d.weight", SQ_GROUP_SSM, KEEP_CONV},         \
    {P "layers.#.mixer.conv1d.bias", SQ_GROUP_SSM, KEEP_BIAS},           \
    {P "layers.#.mixer.x_proj.weight", SQ_GROUP_SSM, NULL},              \
    {P "layers.#.mixer.dt_proj.weight", SQ_GROUP_SSM, NULL},             \
    {P "layers.#.mixer.dt_proj.bias", SQ_GROUP_SSM, KEEP_BIAS},          \
    {P "layers.#.mixer.dt_bias", SQ_GROUP_SSM, KEEP_BIAS},               \
    {P "layers.#.mixer.A_log", SQ_GROUP_SSM, KEEP_A},                    \
    {P "layers.#.mixer.D", SQ_GROUP_SSM, KEEP_D},                        \
    {P "layers.#.mixer.norm.weight", SQ_GROUP_NORM, KEEP_NORM},          \
    {P "layers.#.mixer.out_proj.weight", SQ_GROUP_SSM, NULL},            \
    {P "norm_f.weight", SQ_GROUP_NORM, KEEP_NORM}

static const sq_param_rule mamba_rules[] = {
    RULES("backbone."),
    RULES(""),
    {"lm_head.weight", SQ_GROUP_HEAD, NULL},
    {NULL, SQ_GROUP_NONE, NULL},
};

static bool mamba_recognise(const sq_tensor_set *set)
{
    const char *prefix = sq_mamba_prefix(set);
    char name[160];
    if (prefix == NULL)
        return false;
    sq_mamba_name(name, sizeof name, prefix, 0, "mixer.in_proj.weight");
    return sq_tensor_set_find(set, name) != NULL;
}

/* Config switches whose non-default values squeeze's forward pass does not implement:
 * refused by name rather than run as something else. */
static sq_status refuse_unimplemented(const sq_hf_config *json)
{
    json_t *limit = json->root ? json_object_get(json->root, "time_step_limit") : NULL;
    json_t *v;
    if (json_is_array(limit) && json_array_size(limit) == 2) {
        double lo = json_number_value(json_array_get(limit, 0));
        json_t *hi = json_array_get(limit, 1);
        bool open_above = json_is_null(hi) || (json_is_number(hi) && isinf(json_number_value(hi))) ||
                          (json_is_number(hi) && json_number_value(hi) >= 1e30);
        if (lo > 0.0 || !open_above)
            return sq_fail(SQ_ERR_INPUT, "%s: time_step_limit clamps dt; squeeze's mamba family implements only the "
                           "default (0, inf)", json->source);
    }
    if ((v = json->root ? json_object_get(json->root, "norm_before_gate") : NULL) && json_is_true(v))
        return sq_fail(SQ_ERR_INPUT, "%s: norm_before_gate: true is not implemented (squeeze gates, then "
                       "normalises, as Mamba2ForCausalLM)", json->source);
    if ((v = json->root ? json_object_get(json->root, "rms_norm") : NULL) && json_is_false(v))
        return sq_fail(SQ_ERR_INPUT, "%s: rms_norm: false (no gated norm) is not implemented", json->source);
    return SQ_OK;
}

static sq_status mamba_infer_config(const sq_tensor_set *set, const sq_family_hints *hints, sq_model_config *cfg)
{
    sq_mamba_config *own = sq_mamba_config_of(cfg);
    static const char *const k_hidden[] = {"hidden_size", "d_model", NULL};
    static const char *const k_layers[] = {"num_hidden_layers", "n_layer", NULL};
    static const char *const k_vocab[] = {"vocab_size", NULL};
    static const char *const k_state[] = {"state_size", "d_state", NULL};
    static const char *const k_inner[] = {"intermediate_size", NULL};
    static const char *const k_conv[] = {"conv_kernel", "d_conv", NULL};
    static const char *const k_rank[] = {"time_step_rank", NULL};
    static const char *const k_groups[] = {"n_groups", "ngroups", NULL};
    static const char *const k_heads[] = {"num_heads", NULL};
    static const char *const k_eps[] = {"layer_norm_epsilon", "norm_epsilon", "rms_norm_eps", NULL};
    static const char *const k_seq[] = {"max_position_embeddings", NULL};
    const char *source = set->source_path ? set->source_path : "the checkpoint";
    const char *prefix = sq_mamba_prefix(set);
    const sq_tensor *emb, *in_proj, *a_log, *conv, *out_proj;
    sq_hf_config json = {0};
    char name[160];
    long long value = 0;
    bool found = false;
    sq_status st = SQ_OK;
    (void)hints;

    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->family, sizeof cfg->family, "mamba");
    if (prefix == NULL)
        SQ_FAIL(SQ_ERR_INPUT, "%s has no backbone.embeddings.weight or embeddings.weight: not a Mamba checkpoint",
                source);
    SQ_TRY(sq_hf_config_load(set, &json));
    SQ_TRY(refuse_unimplemented(&json));
    sq_mamba_name(name, sizeof name, prefix, -1, "embeddings.weight");
    SQ_TRY(sq_param_require_ndim(set, name, 2, &emb));
    cfg->vocab_size = (int)emb->shape[0];
    cfg->hidden_size = (int)emb->shape[1];
    cfg->num_layers = sq_mamba_count_layers(set, prefix);
    if (cfg->num_layers < 1 || cfg->num_layers > SQ_MAX_LAYERS)
        SQ_FAIL(SQ_ERR_INPUT, "%s has %d Mamba layers; squeeze supports 1 to %d", source, cfg->num_layers,
                SQ_MAX_LAYERS);
    sq_mamba_name(name, sizeof name, prefix, 0, "mixer.in_proj.weight");
    SQ_TRY(sq_param_require_ndim(set, name, 2, &in_proj));
    sq_mamba_name(name, sizeof name, prefix, 0, "mixer.A_log");
    SQ_TRY(sq_param_require(set, name, &a_log));
    sq_mamba_name(name, sizeof name, prefix, 0, "mixer.conv1d.weight");
    SQ_TRY(sq_param_require_ndim(set, name, 3, &conv));
    sq_mamba_name(name, sizeof name, prefix, 0, "mixer.out_proj.weight");
    SQ_TRY(sq_param_require_ndim(set, name, 2, &out_proj));
    own->ssm_conv_kernel = (int)conv->shape[2];
    own->d_inner = (int)out_proj->shape[1];
    own->ssm_expand = own->d_inner / cfg->hidden_size;
    sq_mamba_name(name, sizeof name, prefix, 0, "mixer.dt_bias");
    own->ssm_version = sq_tensor_set_find(set, name) ? 2 : 1;
    if (own->ssm_version == 1) {
        const sq_tensor *dt_proj;
        if (a_log->ndim != 2)
            SQ_FAIL(SQ_ERR_INPUT, "%s: Mamba-1 A_log is [d_inner, state], found %d dimensions", source, a_log->ndim);
        own->ssm_state_size = (int)a_log->shape[1];
        sq_mamba_name(name, sizeof name, prefix, 0, "mixer.dt_proj.weight");
        SQ_TRY(sq_param_require_ndim(set, name, 2, &dt_proj));
        own->dt_rank = (int)dt_proj->shape[1];
        SQ_TRY(sq_hf_config_agree(&json, k_inner, own->d_inner, source));
        SQ_TRY(sq_hf_config_agree(&json, k_rank, own->dt_rank, source));
    } else {
        if (a_log->ndim != 1)
            SQ_FAIL(SQ_ERR_INPUT, "%s: Mamba-2 A_log is [heads], found %d dimensions", source, a_log->ndim);
        own->ssm_heads = (int)a_log->shape[0];
        SQ_TRY(sq_hf_config_agree(&json, k_heads, own->ssm_heads, source));
        long long gn2 = in_proj->shape[0] - 2LL * own->d_inner - own->ssm_heads; /* 2 G N */
        long long groups = 0, state = 0;
        bool has_groups = false, has_state = false;
        SQ_TRY(sq_hf_config_int(&json, k_groups, &groups, &has_groups));
        SQ_TRY(sq_hf_config_int(&json, k_state, &state, &has_state));
        if (!has_groups && !has_state)
            SQ_FAIL(SQ_ERR_INPUT, "%s: Mamba-2 in_proj has 2 x groups x state = %lld rows for B and C, and without a "
                    "config.json (n_groups, state_size) the two cannot be told apart; put the model's config.json "
                    "beside it", source, gn2);
        if (!has_groups)
            groups = state > 0 && gn2 % (2 * state) == 0 ? gn2 / (2 * state) : 0;
        if (!has_state)
            state = groups > 0 && gn2 % (2 * groups) == 0 ? gn2 / (2 * groups) : 0;
        if (groups <= 0 || state <= 0 || 2 * groups * state != gn2 || own->ssm_heads % groups != 0 ||
            own->d_inner % own->ssm_heads != 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s: in_proj has %lld rows, which is not 2 d_inner (%d) + 2 n_groups (%lld) "
                    "state_size (%lld) + heads (%d) with heads divisible by n_groups", source,
                    (long long)in_proj->shape[0], own->d_inner, groups, state, own->ssm_heads);
        own->ssm_groups = (int)groups;
        own->ssm_state_size = (int)state;
    }
    SQ_TRY(sq_hf_config_agree(&json, k_hidden, cfg->hidden_size, source));
    SQ_TRY(sq_hf_config_agree(&json, k_layers, cfg->num_layers, source));
    SQ_TRY(sq_hf_config_agree(&json, k_vocab, cfg->vocab_size, source));
    SQ_TRY(sq_hf_config_agree(&json, k_state, own->ssm_state_size, source));
    SQ_TRY(sq_hf_config_agree(&json, k_conv, own->ssm_conv_kernel, source));
    double eps = 0.0;
    SQ_TRY(sq_hf_config_real(&json, k_eps, &eps, &found));
    cfg->layer_norm_eps = found ? eps : 1e-5; /* MambaConfig's default */
    if (cfg->layer_norm_eps <= 0.0)
        SQ_FAIL(SQ_ERR_INPUT, "%s: layer_norm_epsilon must be positive", json.source);
    /* No positions: any window length works; this bounds one window's buffers. */
    SQ_TRY(sq_hf_config_int(&json, k_seq, &value, &found));
    cfg->max_seq_length = found && value > 0 ? (int)value : 65536;
cleanup:
    sq_hf_config_free(&json);
    return st;
}

static sq_status mamba_validate(const sq_tensor_set *set, const sq_model_config *cfg)
{
    const sq_mamba_config *own = sq_mamba_config_c(cfg);
    const char *source = set->source_path ? set->source_path : "the checkpoint";
    const char *prefix = sq_mamba_prefix(set);
    const int64_t d = cfg->hidden_size, di = own->d_inner, N = own->ssm_state_size, K = own->ssm_conv_kernel,
                  R = own->dt_rank, H = own->ssm_heads, G = own->ssm_groups;
    char name[160];
    sq_status st = SQ_OK;
    if (prefix == NULL || cfg->num_layers < 1 || d < 1 || di < 1 || N < 1 || K < 1 ||
        (own->ssm_version == 1 && R < 1) ||
        (own->ssm_version == 2 && (H < 1 || G < 1 || H % G != 0 || di % H != 0)) ||
        (own->ssm_version != 1 && own->ssm_version != 2))
        SQ_FAIL(SQ_ERR_INPUT, "mamba config of %s is inconsistent (version %d, d %lld, d_inner %lld, state %lld, conv "
                "%lld, dt_rank %lld, heads %lld, groups %lld)", source, own->ssm_version, (long long)d, (long long)di,
                (long long)N, (long long)K, (long long)R, (long long)H, (long long)G);
    sq_mamba_name(name, sizeof name, prefix, -1, "embeddings.weight");
    SQ_TRY(sq_param_require_shape(set, name, 2, cfg->vocab_size, d, 0));
    for (int i = 0; i < cfg->num_layers; i++) {
        const int64_t conv_dim = own->ssm_version == 1 ? di : di + 2 * G * N;
        struct { const char *suffix; int ndim; int64_t d0, d1, d2; } v1[] = {
            {"norm.weight", 1, d, 0, 0},
            {"mixer.in_proj.weight", 2, 2 * di, d, 0},
            {"mixer.conv1d.weight", 3, di, 1, K},
            {"mixer.conv1d.bias", 1, di, 0, 0},
            {"mixer.x_proj.weight", 2, R + 2 * N, di, 0},
            {"mixer.dt_proj.weight", 2, di, R, 0},
            {"mixer.dt_proj.bias", 1, di, 0, 0},
            {"mixer.A_log", 2, di, N, 0},
            {"mixer.D", 1, di, 0, 0},
            {"mixer.out_proj.weight", 2, d, di, 0},
        }, v2[] = {
            {"norm.weight", 1, d, 0, 0},
            {"mixer.in_proj.weight", 2, 2 * di + 2 * G * N + H, d, 0},
            {"mixer.conv1d.weight", 3, conv_dim, 1, K},
            {"mixer.conv1d.bias", 1, conv_dim, 0, 0},
            {"mixer.dt_bias", 1, H, 0, 0},
            {"mixer.A_log", 1, H, 0, 0},
            {"mixer.D", 1, H, 0, 0},
            {"mixer.norm.weight", 1, di, 0, 0},
            {"mixer.out_proj.weight", 2, d, di, 0},
        };
        const size_t count = own->ssm_version == 1 ? sizeof v1 / sizeof v1[0] : sizeof v2 / sizeof v2[0];
        for (size_t j = 0; j < count; j++) {
            const __typeof__(v1[0]) *e = own->ssm_version == 1 ? &v1[j] : &v2[j];
            sq_mamba_name(name, sizeof name, prefix, i, e->suffix);
            SQ_TRY(sq_param_require_shape(set, name, e->ndim, e->d0, e->d1, e->d2));
        }
    }
    sq_mamba_name(name, sizeof name, prefix, -1, "norm_f.weight");
    SQ_TRY(sq_param_require_shape(set, name, 1, d, 0, 0));
    if (sq_tensor_set_find(set, "lm_head.weight"))
        SQ_TRY(sq_param_require_shape(set, "lm_head.weight", 2, cfg->vocab_size, d, 0));
    /* in_proj / out_proj biases (use_bias: true) are not implemented: refused, never dropped. */
    for (size_t t = 0; t < set->count; t++) {
        const char *n = set->tensors[t].name;
        if (strstr(n, "in_proj.bias") || strstr(n, "out_proj.bias") || strstr(n, "x_proj.bias"))
            SQ_FAIL(SQ_ERR_INPUT, "%s has '%s' (use_bias: true), which squeeze's mamba family does not implement",
                    source, n);
    }
cleanup:
    return st;
}

/* Its own config fields, as keys of config_json (models/model_config.h). */
static const sq_config_field mamba_config_fields[] = {
    SQ_CONFIG_INT(sq_mamba_config, ssm_state_size), SQ_CONFIG_INT(sq_mamba_config, ssm_conv_kernel),
    SQ_CONFIG_INT(sq_mamba_config, d_inner), SQ_CONFIG_INT(sq_mamba_config, ssm_expand),
    SQ_CONFIG_INT(sq_mamba_config, ssm_version), SQ_CONFIG_INT(sq_mamba_config, dt_rank),
    SQ_CONFIG_INT(sq_mamba_config, ssm_groups), SQ_CONFIG_INT(sq_mamba_config, ssm_heads), {NULL, 0, false, false},
};

/* Forced SSM pruning, Mamba-1 (docs/mamba.md): inner channel j is rows j and
 * di + j of in_proj (x, z), conv channel j, column j of x_proj, row j of dt_proj
 * and its bias, row j of A_log, D[j] and column j of out_proj; state dimension
 * n is rows R + n (B) and R + N + n (C) of x_proj and column n of A_log.
 * Mamba-2 mixes heads, groups and a conv over x|B|C: refused. */
static void mamba_slice(sq_ssm_layout *out, const char *prefix, int layer, const char *suffix, int axis, int off0,
                        int off1)
{
    char name[SQ_PRUNE_NAME_LEN];
    sq_mamba_name(name, sizeof name, prefix, layer, suffix);
    sq_ssm_layout_add(out, name, axis, off0, off1);
}

static const char *mamba_ssm_layout(const sq_tensor_set *set, const sq_model_config *cfg, int layer, bool state,
                                    sq_ssm_layout *out)
{
    const sq_mamba_config *own = sq_mamba_config_c(cfg);
    const char *prefix = sq_mamba_prefix(set);
    memset(out, 0, sizeof *out);
    if (own->ssm_version != 1 || prefix == NULL)
        return "squeeze prunes Mamba-1 SSMs only: a Mamba-2 block ties its inner channels to heads and groups and "
               "convolves x, B and C together";
    if (state) {
        out->size = own->ssm_state_size;
        mamba_slice(out, prefix, layer, "mixer.x_proj.weight", 0, own->dt_rank, own->dt_rank + own->ssm_state_size);
        mamba_slice(out, prefix, layer, "mixer.A_log", 1, 0, -1);
        return NULL;
    }
    out->size = own->d_inner;
    mamba_slice(out, prefix, layer, "mixer.in_proj.weight", 0, 0, own->d_inner);
    mamba_slice(out, prefix, layer, "mixer.conv1d.weight", 0, 0, -1);
    mamba_slice(out, prefix, layer, "mixer.conv1d.bias", 0, 0, -1);
    mamba_slice(out, prefix, layer, "mixer.x_proj.weight", 1, 0, -1);
    mamba_slice(out, prefix, layer, "mixer.dt_proj.weight", 0, 0, -1);
    mamba_slice(out, prefix, layer, "mixer.dt_proj.bias", 0, 0, -1);
    mamba_slice(out, prefix, layer, "mixer.A_log", 0, 0, -1);
    mamba_slice(out, prefix, layer, "mixer.D", 0, 0, -1);
    mamba_slice(out, prefix, layer, "mixer.out_proj.weight", 1, 0, -1);
    sq_mamba_name(out->out, sizeof out->out, prefix, layer, "mixer.out_proj.weight");
    return NULL;
}

/* ssm_expand stays the checkpoint's: d_inner is what the forward pass reads */
static int *mamba_ssm_size(sq_model_config *cfg, bool state)
{
    return state ? &sq_mamba_config_of(cfg)->ssm_state_size : &sq_mamba_config_of(cfg)->d_inner;
}

const sq_family sq_family_mamba = {
    .name = "mamba",
    .description = "Mamba-1 and Mamba-2 selective state-space models (HF MambaForCausalLM / Mamba2ForCausalLM "
                   "names, with or without backbone.; docs/mamba.md)",
    .expects_keys = "backbone.embeddings.weight, backbone.layers.0.mixer.in_proj.weight (backbone. optional), "
                    "mixer.A_log",
    SQ_FAMILY_CHECKPOINT(mamba),
    /* no .ends: "backbone." is optional in the names (mamba_names.h), so
     * mamba_forward.c loads its embedding, final RMSNorm and head itself */
    SQ_FAMILY_FORWARD(sq_mamba),
    .ssm_guard = SQ_SSM_GUARD_REASON,
    .ssm_layout = mamba_ssm_layout,
    .ssm_size = mamba_ssm_size,
};
