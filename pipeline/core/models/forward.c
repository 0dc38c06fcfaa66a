/* forward.c - building and running a model: dispatch on the family, weight
 * loading, the embedding and head steps, and the kernels the families share
 * (LayerNorm, GELU, hooked sgemm).
 *
 * The families' forward passes are their rows' build / forward / free_state
 * (models/family.h), in models/<family>_forward.c.
 * The library never sets OpenBLAS's thread count: the stages do.
 */
#include "models/forward.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/family.h"
#include "models/forward_internal.h"
#include "models/vec_math.h"

struct sq_model {
    sq_model_config cfg;
    const sq_family *family;
    void *state;
};

sq_status sq_model_build(const sq_model_config *cfg, const sq_tensor_set *weights, sq_model **out)
{
    sq_model *model = NULL;
    sq_status st = SQ_OK;
    *out = NULL;
    SQ_TRY(sq_alloc(&model, 1, sizeof *model, "model"));
    model->cfg = *cfg;
    model->family = sq_family_by_name(cfg->family);
    if (model->family == NULL || model->family->build == NULL) {
        char known[512];
        sq_family_names(known, sizeof known);
        SQ_FAIL(SQ_ERR_INPUT, "no forward pass for model family '%s' (known: %s)", cfg->family, known);
    }
    if (cfg->vocab_size <= 0 || cfg->hidden_size <= 0 || cfg->max_seq_length <= 0 || cfg->num_layers <= 0)
        SQ_FAIL(SQ_ERR_INPUT, "model config of family '%s' is incomplete (vocab %d, hidden %d, max seq %d, "
                "layers %d)", cfg->family, cfg->vocab_size, cfg->hidden_size, cfg->max_seq_length,
                cfg->num_layers);
    /* Every shape the forward pass indexes with is checked first, whoever built the
     * config (inferred from a checkpoint, or read from an artifact's config_json). */
    SQ_TRY(model->family->validate(weights, cfg));
    SQ_TRY(model->family->build(&model->cfg, weights, &model->state));
    *out = model;
    model = NULL;
cleanup:
    sq_model_free(model);
    return st;
}

sq_status sq_model_forward(sq_model *model, const int32_t *tokens, int count, float *logits,
                           const sq_forward_hooks *hooks)
{
    const sq_model_config *cfg = &model->cfg;
    if (count < 1 || count > cfg->max_seq_length)
        return sq_fail(SQ_ERR_INPUT, "window of %d tokens: the model takes 1 to %d (max_seq_length)", count,
                       cfg->max_seq_length);
    for (int t = 0; t < count; t++)
        if (tokens[t] < 0 || tokens[t] >= cfg->vocab_size)
            return sq_fail(SQ_ERR_INPUT, "token id %d at position %d is outside the vocabulary [0, %d)",
                           tokens[t], t, cfg->vocab_size);
    return model->family->forward(model->state, cfg, tokens, count, logits, hooks);
}

const sq_model_config *sq_model_get_config(const sq_model *model) { return &model->cfg; }

void sq_model_free(sq_model *model)
{
    if (model == NULL)
        return;
    if (model->family && model->state)
        model->family->free_state(model->state);
    free(model);
}

/* ---- weights and buffers ------------------------------------------------ */

static sq_status arena_keep(sq_fw_arena *arena, void *block)
{
    if (arena->count == arena->capacity) {
        int capacity = arena->capacity ? 2 * arena->capacity : 64;
        void **grown = realloc(arena->blocks, (size_t)capacity * sizeof *grown);
        if (grown == NULL) {
            free(block);
            return sq_fail(SQ_ERR_RUN, "out of memory for the model's weight table");
        }
        arena->blocks = grown;
        arena->capacity = capacity;
    }
    arena->blocks[arena->count++] = block;
    return SQ_OK;
}

sq_status sq_fw_load(sq_fw_arena *arena, const sq_tensor_set *set, const char *name, float **out)
{
    const sq_tensor *t = sq_tensor_set_find(set, name);
    sq_status st;
    if (t == NULL)
        return sq_fail(SQ_ERR_INPUT, "missing tensor '%s' in %s: the forward pass needs it", name,
                       set->source_path ? set->source_path : "the model");
    st = sq_tensor_to_f32(set, t, out);
    return st == SQ_OK ? arena_keep(arena, *out) : st;
}

sq_status sq_fw_alloc(sq_fw_arena *arena, size_t count, size_t size, const char *what, void *out)
{
    void **ptr = out;
    sq_status st = sq_alloc(ptr, count, size, what);
    return st == SQ_OK ? arena_keep(arena, *ptr) : st;
}

void sq_fw_arena_free(sq_fw_arena *arena)
{
    for (int i = 0; i < arena->count; i++)
        free(arena->blocks[i]);
    free(arena->blocks);
    memset(arena, 0, sizeof *arena);
}

/* The head: the family's head tensor when it is one of its own, else the tied
 * embedding (one storage, itera-lite.md 1.3). */
static sq_status load_head(sq_fw_arena *arena, const sq_tensor_set *set, const sq_family_ends *names,
                           float *embedding, float **out)
{
    const sq_tensor *head = names->head ? sq_tensor_set_find(set, names->head) : NULL;
    const sq_tensor *emb = sq_tensor_set_find(set, names->embedding);
    if (head == NULL || sq_tensor_set_resolve(set, head) == sq_tensor_set_resolve(set, emb)) {
        *out = embedding;
        return SQ_OK;
    }
    return sq_fw_load(arena, set, names->head, out);
}

sq_status sq_fw_load_ends(sq_fw_arena *arena, const sq_tensor_set *set, const sq_family_ends *names,
                          sq_fw_ends *ends)
{
    sq_status st = SQ_OK;
    memset(ends, 0, sizeof *ends);
    ends->norm = names->norm;
    ends->head_name = names->head ? names->head : names->embedding;
    SQ_TRY(sq_fw_load(arena, set, names->embedding, &ends->embedding));
    if (names->position)
        SQ_TRY(sq_fw_load(arena, set, names->position, &ends->position));
    SQ_TRY(sq_fw_load(arena, set, names->norm_weight, &ends->norm_w));
    if (names->norm_bias)
        SQ_TRY(sq_fw_load(arena, set, names->norm_bias, &ends->norm_b));
    SQ_TRY(load_head(arena, set, names, ends->embedding, &ends->head));
cleanup:
    return st;
}

/* ---- the steps before and after the blocks ------------------------------- */

/* False when any of the n values is NaN or infinite (a vectorisable scan). */
static int all_finite(const float *v, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= !(fabsf(v[i]) <= 3.4028235e38f);
    return !bad;
}

void sq_fw_embed(const sq_fw_ends *ends, const int32_t *tokens, int T, int d, float *x)
{
    for (int t = 0; t < T; t++) {
        const float *e = ends->embedding + (size_t)tokens[t] * d;
        float *row = x + (size_t)t * d;
        if (ends->position == NULL) {
            memcpy(row, e, (size_t)d * sizeof *row);
            continue;
        }
        const float *p = ends->position + (size_t)t * d;
        for (int c = 0; c < d; c++)
            row[c] = e[c] + p[c];
    }
}

sq_status sq_fw_logits(const sq_fw_ends *ends, const sq_model_config *cfg, const sq_forward_hooks *hooks,
                       const float *x, int T, float *h, float *logits)
{
    const int d = cfg->hidden_size, V = cfg->vocab_size;
    if (ends->norm == SQ_NORM_RMS)
        sq_fw_rmsnorm(x, T, d, ends->norm_w, cfg->layer_norm_eps, h);
    else
        sq_fw_layernorm(x, T, d, ends->norm_w, ends->norm_b, cfg->layer_norm_eps, h);
    sq_fw_linear(hooks, ends->head_name, h, T, d, ends->head, V, logits, V, 0.0f);
    if (!all_finite(logits, (size_t)T * V))
        return sq_fail(SQ_ERR_RUN, "%s forward produced a non-finite logit (window of %d tokens): the weights "
                       "may be corrupt", cfg->family, T);
    return SQ_OK;
}

/* ---- kernels ------------------------------------------------------------ */

void sq_fw_linear(const sq_forward_hooks *hooks, const char *name, const float *x, int rows, int in,
                  const float *w, int out, float *y, int ldy, float beta)
{
    if (hooks && hooks->linear_input)
        hooks->linear_input(hooks->context, name, x, rows, in);
    if (rows == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, w, in, beta, y, ldy);
}

SQ_VEC_KERNEL void sq_fw_layernorm(const float *x, int rows, int d, const float *w, const float *b, double eps,
                                   float *out)
{
    /* Two passes in float, a vector at a time: the mean, then the biased variance of
     * the centred values (no E[x^2] - E[x]^2 cancellation); torch.nn.LayerNorm's CPU
     * kernel also accumulates float rows in float. */
    const int full = d - d % SQ_VF_LANES;
    const size_t tail = (size_t)(d - full);
    for (int r = 0; r < rows; r++) {
        const float *v = x + (size_t)r * d;
        float *o = out + (size_t)r * d;
        sq_vf sum = sq_vf_splat(0.0f), sq = sq_vf_splat(0.0f);
        for (int j = 0; j < full; j += SQ_VF_LANES)
            sum = sum + sq_vf_load(v + j);
        if (tail) /* a partial load's zero lanes add nothing */
            sum = sum + sq_vf_load_n(v + full, tail);
        const sq_vf mean = sq_vf_splat(sq_vf_sum(sum) / (float)d);
        for (int j = 0; j < full; j += SQ_VF_LANES) {
            const sq_vf c = sq_vf_load(v + j) - mean;
            sq = sq + c * c;
        }
        if (tail) {
            const sq_vf c = sq_vf_first(sq_vf_load_n(v + full, tail) - mean, tail);
            sq = sq + c * c;
        }
        const sq_vf inv = sq_vf_splat((float)(1.0 / sqrt((double)sq_vf_sum(sq) / d + eps)));
        for (int j = 0; j < d; j += SQ_VF_LANES) {
            const size_t n = (size_t)(d - j);
            const sq_vf c = (sq_vf_load_n(v + j, n) - mean) * inv;
            sq_vf_store_n(o + j, c * sq_vf_load_n(w + j, n) + sq_vf_load_n(b + j, n), n);
        }
    }
}

void sq_fw_rmsnorm(const float *x, int rows, int d, const float *w, double eps, float *out)
{
    for (int r = 0; r < rows; r++) {
        const float *v = x + (size_t)r * d;
        float *o = out + (size_t)r * d;
        float sq = 0.0f;
        for (int j = 0; j < d; j++)
            sq += v[j] * v[j];
        const float inv = (float)(1.0 / sqrt((double)(sq / (float)d) + eps));
        for (int j = 0; j < d; j++)
            o[j] = w[j] * (v[j] * inv);
    }
}

SQ_VEC_KERNEL void sq_fw_gelu(float *v, size_t n) { SQ_VF_MAP(v, n, sq_vf_gelu); }
