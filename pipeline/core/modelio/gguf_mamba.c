/* gguf_mamba.c - the mamba family (Mamba-1) as llama.cpp's "mamba" GGUF architecture.
 *
 * As convert_hf_to_gguf.py's MambaModel writes it and llama.cpp reads it
 * (src/llama-model.cpp, LLM_ARCH_MAMBA):
 *   mamba.context_length (u32; the model has no position limit, convert writes
 *   2^20), mamba.embedding_length, mamba.block_count, mamba.feed_forward_length
 *   (0) and mamba.attention.head_count (0), mamba.ssm.conv_kernel,
 *   mamba.ssm.inner_size, mamba.ssm.state_size, mamba.ssm.time_step_rank (u32),
 *   mamba.attention.layer_norm_rms_epsilon (f32), mamba.ssm.dt_b_c_rms (bool,
 *   false: plain Mamba).
 * Tensors: token_embd, blk.N.attn_norm, blk.N.ssm_in, blk.N.ssm_conv1d (weight
 * [di, 1, K] squeezed to [di, K]; and bias), blk.N.ssm_x, blk.N.ssm_dt (weight,
 * bias), blk.N.ssm_a = -exp(A_log) (convert_hf_to_gguf.py: "data_torch =
 * -torch.exp(data_torch)"), blk.N.ssm_d, blk.N.ssm_out, output_norm, output
 * (absent when tied).  ssm_conv1d and ssm_a are F32 whatever their squeeze
 * format: ggml's ssm_conv and ssm_scan take F32 only.
 * Mamba-2 (llama.cpp's "mamba2") is not written: exporting one is an error
 * naming it.  Read back, A_log = log(-ssm_a) (rounded once more) and the
 * names carry HF's "backbone." prefix.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/mamba.h"
#include "modelio/gguf_arch.h"
#include "modelio/gguf_tokenizer.h"

/* suffix after "[backbone.]layers.N." or after the prefix for globals -> GGUF; '#' is the layer */
static const struct {
    const char *hf, *gguf;
    bool f32, neg_exp, squeeze_conv;
} names[] = {
    {"embeddings.weight", "token_embd.weight", false, false, false},
    {"layers.#.norm.weight", "blk.#.attn_norm.weight", false, false, false},
    {"layers.#.mixer.in_proj.weight", "blk.#.ssm_in.weight", false, false, false},
    {"layers.#.mixer.conv1d.weight", "blk.#.ssm_conv1d.weight", true, false, true},
    {"layers.#.mixer.conv1d.bias", "blk.#.ssm_conv1d.bias", false, false, false},
    {"layers.#.mixer.x_proj.weight", "blk.#.ssm_x.weight", false, false, false},
    {"layers.#.mixer.dt_proj.weight", "blk.#.ssm_dt.weight", false, false, false},
    {"layers.#.mixer.dt_proj.bias", "blk.#.ssm_dt.bias", false, false, false},
    {"layers.#.mixer.A_log", "blk.#.ssm_a", true, true, false},
    {"layers.#.mixer.D", "blk.#.ssm_d", false, false, false},
    {"layers.#.mixer.out_proj.weight", "blk.#.ssm_out.weight", false, false, false},
    {"norm_f.weight", "output_norm.weight", false, false, false},
};

/* The metadata keys llama.cpp reads for "mamba" (context_length: the model has no position
 * limit, convert_hf_to_gguf.py writes 2^20). */
static const sq_gguf_key keys[] = {
    SQ_GGUF_MODEL_KEY("context_length", SQ_GGUF_UINT32, max_seq_length, false),
    SQ_GGUF_MODEL_KEY("embedding_length", SQ_GGUF_UINT32, hidden_size, false),
    SQ_GGUF_CONSTANT_KEY("feed_forward_length", SQ_GGUF_UINT32, 0),
    SQ_GGUF_CONSTANT_KEY("attention.head_count", SQ_GGUF_UINT32, 0),
    SQ_GGUF_MODEL_KEY("block_count", SQ_GGUF_UINT32, num_layers, false),
    SQ_GGUF_FAMILY_KEY("ssm.conv_kernel", SQ_GGUF_UINT32, sq_mamba_config, ssm_conv_kernel, false),
    SQ_GGUF_FAMILY_KEY("ssm.inner_size", SQ_GGUF_UINT32, sq_mamba_config, d_inner, false),
    SQ_GGUF_FAMILY_KEY("ssm.state_size", SQ_GGUF_UINT32, sq_mamba_config, ssm_state_size, false),
    SQ_GGUF_FAMILY_KEY("ssm.time_step_rank", SQ_GGUF_UINT32, sq_mamba_config, dt_rank, false),
    SQ_GGUF_MODEL_KEY("attention.layer_norm_rms_epsilon", SQ_GGUF_FLOAT32, layer_norm_eps, false),
    SQ_GGUF_CONSTANT_KEY("ssm.dt_b_c_rms", SQ_GGUF_BOOL, 0), /* plain Mamba: no RMS norm of dt, B, C */
};

static sq_status mamba_write_metadata(const sq_model_config *cfg, const sq_qtensor *tensors, size_t count,
                                      const char *tokenizer_path, sq_gguf_file *out)
{
    (void)tensors; /* in the shared signature, unused here */
    (void)count; /* in the shared signature, unused here */
    sq_status st = SQ_OK;
    const sq_mamba_config *mc = sq_mamba_config_c(cfg);
    if (mc->ssm_version != 1)
        return sq_fail(SQ_ERR_INPUT, "a Mamba-%d model: GGUF export writes Mamba-1 (llama.cpp's 'mamba'); "
                       "llama.cpp's 'mamba2' architecture is not written by squeeze yet", mc->ssm_version);
    sq_model_config written = *cfg;
    written.max_seq_length = 1 << 20;
    SQ_TRY(sq_gguf_write_keys("mamba", keys, sizeof keys / sizeof keys[0], &written, out));
    SQ_TRY(sq_gguf_write_tokenizer(tokenizer_path, cfg->vocab_size, out));
cleanup:
    return st;
}

static sq_status mamba_target_name(const sq_model_config *cfg, const sq_qtensor *qt, char *name, size_t size,
                                   sq_gguf_placement *place)
{
    (void)cfg; /* in the shared signature, unused here */
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
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!sq_gguf_name_match(names[i].hf, n, &layer))
            continue;
        if (qt->alias_of)
            return SQ_OK;
        sq_gguf_name_expand("", names[i].gguf, layer, name, size);
        place->f32 = names[i].f32;
        place->neg_exp = names[i].neg_exp;
        if (names[i].squeeze_conv) { /* [di, 1, K] -> [di, K] */
            if (qt->ndim != 3 || qt->shape[1] != 1)
                return sq_fail(SQ_ERR_INPUT, "tensor '%s' is not a [d_inner, 1, kernel] conv1d weight", qt->name);
            place->ndim = 2;
            place->shape[0] = qt->shape[0];
            place->shape[1] = qt->shape[2];
        }
        return SQ_OK;
    }
    return sq_fail(SQ_ERR_INPUT, "tensor '%s' has no place in llama.cpp's mamba architecture", qt->name);
}

static sq_status mamba_read_config(const sq_gguf_file *f, sq_model_config *cfg)
{
    sq_status st = SQ_OK;
    const sq_gguf_tensor *embd = sq_gguf_find_tensor(f, "token_embd.weight");
    sq_mamba_config *mc;
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->family, sizeof cfg->family, "mamba");
    mc = sq_mamba_config_of(cfg);
    mc->ssm_version = 1;
    SQ_TRY(sq_gguf_read_keys(f, "mamba", keys, sizeof keys / sizeof keys[0], cfg));
    if (cfg->hidden_size > 0)
        mc->ssm_expand = mc->d_inner / cfg->hidden_size;
    if (embd == NULL || embd->n_dims != 2)
        SQ_FAIL(SQ_ERR_INPUT, "a mamba GGUF needs the 2-D tensor token_embd.weight");
    cfg->vocab_size = (int)embd->ne[1];
cleanup:
    return st;
}

static sq_status mamba_squeeze_name(const sq_gguf_file *f, const char *gguf_name, char *name, size_t size)
{
    (void)f; /* in the shared signature, unused here */
    int layer = 0;
    if (strcmp(gguf_name, "output.weight") == 0) {
        snprintf(name, size, "lm_head.weight");
        return SQ_OK;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (sq_gguf_name_match(names[i].gguf, gguf_name, &layer)) {
            sq_gguf_name_expand("backbone.", names[i].hf, layer, name, size);
            return SQ_OK;
        }
    return sq_fail(SQ_ERR_INPUT, "GGUF tensor '%s' is not one squeeze's mamba family knows", gguf_name);
}

static sq_status mamba_restore(const char *name, float *values, int64_t numel, int *ndim, int64_t *shape)
{
    size_t n = strlen(name);
    if (n > 6 && strcmp(name + n - 6, ".A_log") == 0) {
        for (int64_t i = 0; i < numel; i++) {
            if (!(values[i] < 0.0f))
                return sq_fail(SQ_ERR_INPUT, "%s: ssm_a value %g is not negative, so it is no -exp(A_log)", name,
                               (double)values[i]);
            values[i] = logf(-values[i]);
        }
    } else if (n > 14 && strcmp(name + n - 14, ".conv1d.weight") == 0 && *ndim == 2) {
        shape[2] = shape[1];
        shape[1] = 1;
        *ndim = 3;
    }
    return SQ_OK;
}

static sq_status mamba_complete(sq_tensor_set *set)
{
    const sq_tensor *embd = sq_tensor_set_find(set, "backbone.embeddings.weight");
    if (sq_tensor_set_find(set, "lm_head.weight") || embd == NULL)
        return SQ_OK;
    return sq_tensor_set_add(set, "lm_head.weight", embd->dtype, embd->ndim, embd->shape, NULL,
                             "backbone.embeddings.weight");
}

const sq_gguf_arch sq_gguf_arch_mamba = {
    .family = "mamba", .arch = "mamba", .llama_cpp = true,
    .write_metadata = mamba_write_metadata, .target_name = mamba_target_name,
    .read_config = mamba_read_config, .squeeze_name = mamba_squeeze_name,
    .restore = mamba_restore, .complete = mamba_complete,
};
