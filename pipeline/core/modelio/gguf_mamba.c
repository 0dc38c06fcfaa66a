/* gguf_mamba.c - the mamba family as llama.cpp's "mamba" (Mamba-1) and "mamba2"
 * (Mamba-2) GGUF architectures.
 *
 * As convert_hf_to_gguf.py's MambaModel / Mamba2Model write them and llama.cpp
 * reads them (src/llama-model.cpp, LLM_ARCH_MAMBA, LLM_ARCH_MAMBA2):
 *   <arch>.context_length (u32; the model has no position limit, convert writes
 *   2^20), embedding_length, block_count, feed_forward_length (0),
 *   attention.head_count (0), ssm.conv_kernel, ssm.inner_size, ssm.state_size,
 *   ssm.time_step_rank (u32: Mamba-1 the dt rank, Mamba-2 the head count),
 *   attention.layer_norm_rms_epsilon (f32); Mamba-1 also ssm.dt_b_c_rms
 *   (bool, false: plain Mamba), Mamba-2 ssm.group_count (u32).
 * Tensors: token_embd, blk.N.attn_norm, blk.N.ssm_in, blk.N.ssm_conv1d (weight
 * [channels, 1, K] squeezed to [channels, K]; and bias), blk.N.ssm_a =
 * -exp(A_log) (convert: "data_torch = -torch.exp(data_torch)"), blk.N.ssm_d,
 * blk.N.ssm_out, output_norm, output (absent when tied); Mamba-1 also
 * blk.N.ssm_x and blk.N.ssm_dt (weight, bias); Mamba-2 blk.N.ssm_dt.bias (HF's
 * dt_bias), ssm_a and ssm_d as [heads, 1] (convert: "unsqueeze A to use similar
 * shape semantics as Mamba-1") and blk.N.ssm_norm (the gated RMSNorm's weight)
 * as [groups, d_inner / groups].  ssm_conv1d and ssm_a are F32 whatever their
 * squeeze format: ggml's ssm_conv and ssm_scan take F32 only.  Read back,
 * A_log = log(-ssm_a) (rounded once more), the shapes are HF's again and the
 * names carry HF's "backbone." prefix.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/mamba.h"
#include "modelio/gguf_arch.h"
#include "modelio/gguf_tokenizer.h"

/* How a tensor's shape changes on its way into the file. */
enum { KEEP, SQUEEZE_CONV, HEAD_COLUMN, GROUP_ROWS };

/* suffix after "[backbone.]layers.N." or after the prefix for globals -> GGUF; '#' is the layer.
 * version: the architecture that has the row (1 "mamba", 2 "mamba2"), 0 both. */
typedef struct {
    const char *hf, *gguf;
    bool f32, neg_exp;
    int reshape;
    int version;
} mamba_name;

static const mamba_name names[] = {
    {"embeddings.weight", "token_embd.weight", false, false, KEEP, 0},
    {"layers.#.norm.weight", "blk.#.attn_norm.weight", false, false, KEEP, 0},
    {"layers.#.mixer.in_proj.weight", "blk.#.ssm_in.weight", false, false, KEEP, 0},
    {"layers.#.mixer.conv1d.weight", "blk.#.ssm_conv1d.weight", true, false, SQUEEZE_CONV, 0},
    {"layers.#.mixer.conv1d.bias", "blk.#.ssm_conv1d.bias", false, false, KEEP, 0},
    {"layers.#.mixer.x_proj.weight", "blk.#.ssm_x.weight", false, false, KEEP, 1},
    {"layers.#.mixer.dt_proj.weight", "blk.#.ssm_dt.weight", false, false, KEEP, 1},
    {"layers.#.mixer.dt_proj.bias", "blk.#.ssm_dt.bias", false, false, KEEP, 1},
    {"layers.#.mixer.dt_bias", "blk.#.ssm_dt.bias", false, false, KEEP, 2},
    {"layers.#.mixer.A_log", "blk.#.ssm_a", true, true, KEEP, 1},
    {"layers.#.mixer.A_log", "blk.#.ssm_a", true, true, HEAD_COLUMN, 2},
    {"layers.#.mixer.D", "blk.#.ssm_d", false, false, KEEP, 1},
    {"layers.#.mixer.D", "blk.#.ssm_d", false, false, HEAD_COLUMN, 2},
    {"layers.#.mixer.norm.weight", "blk.#.ssm_norm.weight", false, false, GROUP_ROWS, 2},
    {"layers.#.mixer.out_proj.weight", "blk.#.ssm_out.weight", false, false, KEEP, 0},
    {"norm_f.weight", "output_norm.weight", false, false, KEEP, 0},
};

/* The rows both architectures write first, in llama.cpp's order (the files' bytes depend on it). */
#define MAMBA_COMMON_KEYS \
    SQ_GGUF_MODEL_KEY("context_length", SQ_GGUF_UINT32, max_seq_length, false), \
    SQ_GGUF_MODEL_KEY("embedding_length", SQ_GGUF_UINT32, hidden_size, false), \
    SQ_GGUF_CONSTANT_KEY("feed_forward_length", SQ_GGUF_UINT32, 0), \
    SQ_GGUF_CONSTANT_KEY("attention.head_count", SQ_GGUF_UINT32, 0), \
    SQ_GGUF_MODEL_KEY("block_count", SQ_GGUF_UINT32, num_layers, false), \
    SQ_GGUF_FAMILY_KEY("ssm.conv_kernel", SQ_GGUF_UINT32, sq_mamba_config, ssm_conv_kernel, false), \
    SQ_GGUF_FAMILY_KEY("ssm.inner_size", SQ_GGUF_UINT32, sq_mamba_config, d_inner, false), \
    SQ_GGUF_FAMILY_KEY("ssm.state_size", SQ_GGUF_UINT32, sq_mamba_config, ssm_state_size, false),

/* The metadata keys llama.cpp reads for "mamba" and "mamba2" (written from a config whose
 * max_seq_length is 2^20: the model has no position limit, convert_hf_to_gguf.py writes that). */
static const sq_gguf_key keys_v1[] = {
    MAMBA_COMMON_KEYS
    SQ_GGUF_FAMILY_KEY("ssm.time_step_rank", SQ_GGUF_UINT32, sq_mamba_config, dt_rank, false),
    SQ_GGUF_MODEL_KEY("attention.layer_norm_rms_epsilon", SQ_GGUF_FLOAT32, layer_norm_eps, false),
    SQ_GGUF_CONSTANT_KEY("ssm.dt_b_c_rms", SQ_GGUF_BOOL, 0), /* plain Mamba: no RMS norm of dt, B, C */
};

static const sq_gguf_key keys_v2[] = {
    MAMBA_COMMON_KEYS
    SQ_GGUF_FAMILY_KEY("ssm.time_step_rank", SQ_GGUF_UINT32, sq_mamba_config, ssm_heads, false),
    SQ_GGUF_FAMILY_KEY("ssm.group_count", SQ_GGUF_UINT32, sq_mamba_config, ssm_groups, false),
    SQ_GGUF_MODEL_KEY("attention.layer_norm_rms_epsilon", SQ_GGUF_FLOAT32, layer_norm_eps, false),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool takes_v1(const sq_model_config *cfg) { return sq_mamba_config_c(cfg)->ssm_version == 1; }
static bool takes_v2(const sq_model_config *cfg) { return sq_mamba_config_c(cfg)->ssm_version == 2; }

static sq_status write_metadata(const char *arch, const sq_gguf_key *keys, size_t count, const sq_model_config *cfg,
                                const char *tokenizer_path, sq_gguf_file *out)
{
    sq_status st = SQ_OK;
    sq_model_config written = *cfg;
    written.max_seq_length = 1 << 20;
    SQ_TRY(sq_gguf_write_keys(arch, keys, count, &written, out));
    SQ_TRY(sq_gguf_write_tokenizer(tokenizer_path, cfg->vocab_size, out));
cleanup:
    return st;
}

static sq_status mamba_write_metadata(const sq_model_config *cfg, const sq_qtensor *tensors, size_t count,
                                      const char *tokenizer_path, sq_gguf_file *out)
{
    (void)tensors; /* in the shared signature, unused here */
    (void)count;
    return write_metadata("mamba", keys_v1, COUNT(keys_v1), cfg, tokenizer_path, out);
}

static sq_status mamba2_write_metadata(const sq_model_config *cfg, const sq_qtensor *tensors, size_t count,
                                       const char *tokenizer_path, sq_gguf_file *out)
{
    (void)tensors; /* in the shared signature, unused here */
    (void)count;
    return write_metadata("mamba2", keys_v2, COUNT(keys_v2), cfg, tokenizer_path, out);
}

static bool has_row(int version, const mamba_name *row) { return row->version == 0 || row->version == version; }

static sq_status target_name(int version, const char *arch, const sq_model_config *cfg, const sq_qtensor *qt,
                             char *name, size_t size, sq_gguf_placement *place)
{
    const sq_mamba_config *mc = sq_mamba_config_c(cfg);
    const char *n = qt->name;
    int layer = 0;
    name[0] = '\0';
    if (strncmp(n, "backbone.", 9) == 0)
        n += 9;
    if (strcmp(qt->name, "lm_head.weight") == 0) {
        if (!qt->alias_of)
            snprintf(name, size, "output.weight");
        return SQ_OK;
    }
    for (size_t i = 0; i < COUNT(names); i++) {
        if (!has_row(version, &names[i]) || !sq_gguf_name_match(names[i].hf, n, &layer))
            continue;
        if (qt->alias_of)
            return SQ_OK;
        sq_gguf_name_expand("", names[i].gguf, layer, name, size);
        place->f32 = names[i].f32;
        place->neg_exp = names[i].neg_exp;
        switch (names[i].reshape) {
        case SQUEEZE_CONV: /* [channels, 1, K] -> [channels, K] */
            if (qt->ndim != 3 || qt->shape[1] != 1)
                return sq_fail(SQ_ERR_INPUT, "tensor '%s' is not a [channels, 1, kernel] conv1d weight", qt->name);
            place->ndim = 2;
            place->shape[0] = qt->shape[0];
            place->shape[1] = qt->shape[2];
            break;
        case HEAD_COLUMN: /* [heads] -> [heads, 1] */
            place->ndim = 2;
            place->shape[0] = qt->shape[0];
            place->shape[1] = 1;
            break;
        case GROUP_ROWS: /* [d_inner] -> [groups, d_inner / groups] */
            if (mc->ssm_groups <= 0 || qt->shape[0] % mc->ssm_groups != 0)
                return sq_fail(SQ_ERR_INPUT, "tensor '%s': %lld values do not split into %d groups", qt->name,
                               (long long)qt->shape[0], mc->ssm_groups);
            place->ndim = 2;
            place->shape[0] = mc->ssm_groups;
            place->shape[1] = qt->shape[0] / mc->ssm_groups;
            break;
        default:
            break;
        }
        return SQ_OK;
    }
    return sq_fail(SQ_ERR_INPUT, "tensor '%s' has no place in llama.cpp's %s architecture", qt->name, arch);
}

static sq_status mamba_target_name(const sq_model_config *cfg, const sq_qtensor *qt, char *name, size_t size,
                                   sq_gguf_placement *place)
{
    return target_name(1, "mamba", cfg, qt, name, size, place);
}

static sq_status mamba2_target_name(const sq_model_config *cfg, const sq_qtensor *qt, char *name, size_t size,
                                    sq_gguf_placement *place)
{
    return target_name(2, "mamba2", cfg, qt, name, size, place);
}

static sq_status read_config(const sq_gguf_file *f, int version, const sq_gguf_key *keys, size_t count,
                             sq_model_config *cfg)
{
    sq_status st = SQ_OK;
    const char *arch = version == 1 ? "mamba" : "mamba2";
    sq_mamba_config *mc = sq_mamba_config_of(cfg);
    mc->ssm_version = version;
    SQ_TRY(sq_gguf_read_keys(f, arch, keys, count, cfg));
    if (cfg->hidden_size > 0)
        mc->ssm_expand = mc->d_inner / cfg->hidden_size;
    SQ_TRY(sq_gguf_vocab_from_embedding(f, arch, cfg));
cleanup:
    return st;
}

static sq_status mamba_read_config(const sq_gguf_file *f, sq_model_config *cfg)
{
    return read_config(f, 1, keys_v1, COUNT(keys_v1), cfg);
}

static sq_status mamba2_read_config(const sq_gguf_file *f, sq_model_config *cfg)
{
    return read_config(f, 2, keys_v2, COUNT(keys_v2), cfg);
}

static sq_status squeeze_name(int version, const char *arch, const char *gguf_name, char *name, size_t size)
{
    int layer = 0;
    if (strcmp(gguf_name, "output.weight") == 0) {
        snprintf(name, size, "lm_head.weight");
        return SQ_OK;
    }
    for (size_t i = 0; i < COUNT(names); i++)
        if (has_row(version, &names[i]) && sq_gguf_name_match(names[i].gguf, gguf_name, &layer)) {
            sq_gguf_name_expand("backbone.", names[i].hf, layer, name, size);
            return SQ_OK;
        }
    return sq_fail(SQ_ERR_INPUT, "GGUF tensor '%s' is not one squeeze's mamba family knows (%s architecture)",
                   gguf_name, arch);
}

static sq_status mamba_squeeze_name(const sq_gguf_file *f, const char *gguf_name, char *name, size_t size)
{
    (void)f; /* in the shared signature, unused here */
    return squeeze_name(1, "mamba", gguf_name, name, size);
}

static sq_status mamba2_squeeze_name(const sq_gguf_file *f, const char *gguf_name, char *name, size_t size)
{
    (void)f; /* in the shared signature, unused here */
    return squeeze_name(2, "mamba2", gguf_name, name, size);
}

static bool ends_with(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    return n > m && strcmp(name + n - m, suffix) == 0;
}

static bool mamba_restores(const char *name)
{
    return ends_with(name, ".A_log") || ends_with(name, ".conv1d.weight") || ends_with(name, ".mixer.norm.weight") ||
           ends_with(name, ".mixer.D");
}

/* A_log = log(-ssm_a); conv1d back to [channels, 1, K]; Mamba-2's per-head and grouped
 * vectors back to 1-D. */
static sq_status mamba_restore(const char *name, float *values, int64_t numel, int *ndim, int64_t *shape)
{
    if (ends_with(name, ".A_log")) {
        for (int64_t i = 0; i < numel; i++) {
            if (!(values[i] < 0.0f))
                return sq_fail(SQ_ERR_INPUT, "%s: ssm_a value %g is not negative, so it is no -exp(A_log)", name,
                               (double)values[i]);
            values[i] = logf(-values[i]);
        }
    }
    if (ends_with(name, ".conv1d.weight") && *ndim == 2) {
        shape[2] = shape[1];
        shape[1] = 1;
        *ndim = 3;
    } else if (*ndim == 2 && (ends_with(name, ".mixer.norm.weight") || ((ends_with(name, ".A_log") ||
               ends_with(name, ".mixer.D")) && shape[1] == 1))) {
        shape[0] = numel;
        *ndim = 1;
    }
    return SQ_OK;
}

static sq_status mamba_complete(sq_tensor_set *set)
{
    return sq_gguf_tie_head(set, "lm_head.weight", "backbone.embeddings.weight");
}

const sq_gguf_arch sq_gguf_arch_mamba = {
    .family = "mamba", .arch = "mamba", .llama_cpp = true, .takes = takes_v1,
    .write_metadata = mamba_write_metadata, .target_name = mamba_target_name,
    .read_config = mamba_read_config, .squeeze_name = mamba_squeeze_name,
    .restore = mamba_restore, .restores = mamba_restores, .complete = mamba_complete,
};

const sq_gguf_arch sq_gguf_arch_mamba2 = {
    .family = "mamba", .arch = "mamba2", .llama_cpp = true, .takes = takes_v2,
    .write_metadata = mamba2_write_metadata, .target_name = mamba2_target_name,
    .read_config = mamba2_read_config, .squeeze_name = mamba2_squeeze_name,
    .restore = mamba_restore, .restores = mamba_restores, .complete = mamba_complete,
};
