/* forward.c - building and running a model: dispatch on the family, weight
 * loading (plain tensors to fp32, linear weights to their kernels' form), the
 * embedding and head steps, and what the families share (LayerNorm, GELU, the
 * hooked linear).
 *
 * The families' forward passes are their rows' build / forward / free_state
 * (models/family.h), in models/<family>_forward.c.
 * The library never sets OpenBLAS's thread count: the stages do.
 */
#include "models/forward.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "models/family.h"
#include "quant/format.h"
#include "models/forward_internal.h"
#define SQ_VF_WIDE 1 /* the norms, GELU and the logits' check: 16 floats a vector (vec_math.h) */
#include "models/vec_math.h"

struct sq_model {
    sq_model_config cfg;
    const sq_family *family;
    void *state;
};

sq_status sq_model_build(const sq_model_config *cfg, const sq_tensor_set *weights, sq_model **out)
{
    /* nothing packed and nothing released: the set is only read (release is off) */
    sq_tensor_set *readonly;
    memcpy(&readonly, &weights, sizeof readonly);
    return sq_model_build_ex(cfg, readonly, NULL, out);
}

sq_status sq_model_build_ex(const sq_model_config *cfg, sq_tensor_set *weights,
                            const sq_model_build_options *options, sq_model **out)
{
    static const sq_model_build_options plain = {0};
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
    sq_fw_source src = {.set = weights, .options = options ? options : &plain, .max_tokens = cfg->max_seq_length};
    SQ_TRY(model->family->build(&model->cfg, &src, &model->state));
    if (src.options->release) /* what the forward did not take (tensors it does not use) goes too */
        for (size_t i = 0; i < weights->count; i++)
            sq_tensor_drop_data(weights, &weights->tensors[i]);
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

/* The packed tensor of that name, or NULL. */
static sq_qtensor *packed_tensor(const sq_fw_source *src, const char *name)
{
    for (size_t i = 0; i < src->options->packed_count; i++)
        if (src->options->packed[i].name && strcmp(src->options->packed[i].name, name) == 0)
            return &src->options->packed[i];
    return NULL;
}

/* With options->release, a tensor's data goes once the model holds its own form of it,
 * unless another name shares its storage (a tied head reads it again). */
static void release(const sq_fw_source *src, const char *name)
{
    sq_tensor_set *set = src->set;
    sq_qtensor *qt;
    if (!src->options->release)
        return;
    if ((qt = packed_tensor(src, name)) != NULL) {
        sq_qtensor_free(qt);
        return;
    }
    for (size_t i = 0; i < set->count; i++)
        if (set->tensors[i].alias_of && strcmp(set->tensors[i].alias_of, name) == 0)
            return;
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->tensors[i].name, name) == 0 && set->tensors[i].alias_of == NULL)
            sq_tensor_drop_data(set, &set->tensors[i]);
}

static sq_status missing(const sq_fw_source *src, const char *name)
{
    return sq_fail(SQ_ERR_INPUT, "missing tensor '%s' in %s: the forward pass needs it", name,
                   src->set->source_path ? src->set->source_path : "the model");
}

/* A fresh fp32 copy of a tensor, from the set or dequantized from its packed form. */
static sq_status load_f32(const sq_fw_source *src, const char *name, float **out)
{
    const sq_qtensor *qt = packed_tensor(src, name);
    const sq_tensor *t = sq_tensor_set_find(src->set, name);
    sq_status st = SQ_OK;
    *out = NULL;
    if (qt) {
        const sq_quant_format *format = sq_quant_format_find(qt->format);
        if (format == NULL)
            return sq_fail(SQ_ERR_INPUT, "tensor '%s': unknown storage format '%s'", name, qt->format);
        SQ_TRY(sq_alloc(out, (size_t)sq_qtensor_numel(qt), sizeof **out, name));
        SQ_TRY(format->dequantize(qt, *out));
        return SQ_OK;
    }
    if (t == NULL)
        return missing(src, name);
    if (sq_tensor_set_resolve(src->set, t)->data == NULL)
        return sq_fail(SQ_ERR_RUN, "tensor '%s' was released before the forward pass read it", name);
    return sq_tensor_to_f32(src->set, t, out);
cleanup:
    free(*out);
    *out = NULL;
    return st;
}

/* The set's own fp32 data of a tensor, when the model may take it over as it is (release
 * is on, nothing else reads it and it is no alias): used in place, no second copy.  Data
 * mapped from the checkpoint file is never taken (it is read-only and the set's to
 * unmap): the caller copies or packs it. */
static float *take_f32(const sq_fw_source *src, const char *name)
{
    sq_tensor_set *set = src->set;
    if (!src->options->release || packed_tensor(src, name) != NULL)
        return NULL;
    for (size_t i = 0; i < set->count; i++)
        if (set->tensors[i].alias_of && strcmp(set->tensors[i].alias_of, name) == 0)
            return NULL;
    for (size_t i = 0; i < set->count; i++) {
        sq_tensor *t = &set->tensors[i];
        if (strcmp(t->name, name) == 0 && t->alias_of == NULL && t->dtype == SQ_DTYPE_F32)
            return sq_tensor_take_data(set, t);
    }
    return NULL;
}

sq_status sq_fw_load(sq_fw_arena *arena, const sq_fw_source *src, const char *name, float **out)
{
    const sq_qtensor *qt = packed_tensor(src, name);
    const sq_tensor *t = sq_tensor_set_find(src->set, name);
    sq_status st = SQ_OK;
    if ((*out = take_f32(src, name)) == NULL) {
        st = load_f32(src, name, out);
        if (st != SQ_OK)
            return st;
    }
    arena->array_bytes += (uint64_t)(qt ? sq_qtensor_numel(qt) : sq_tensor_numel(t)) * sizeof(float);
    release(src, name);
    return arena_keep(arena, *out);
}

sq_status sq_fw_loadf(sq_fw_arena *arena, const sq_fw_source *src, float **out, const char *pattern, ...)
{
    char name[SQ_FW_NAME_LEN];
    va_list args;
    va_start(args, pattern);
    vsnprintf(name, sizeof name, pattern, args);
    va_end(args);
    return sq_fw_load(arena, src, name, out);
}

static sq_status keep_linear(sq_fw_arena *arena, const char *name, sq_fw_linear_weight **out)
{
    sq_status st = SQ_OK;
    sq_fw_linear_weight *w = NULL;
    if (arena->linear_count == arena->linear_capacity) {
        int capacity = arena->linear_capacity ? 2 * arena->linear_capacity : 32;
        sq_fw_linear_weight **grown = realloc(arena->linears, (size_t)capacity * sizeof *grown);
        if (grown == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory for the model's weight table");
        arena->linears = grown;
        arena->linear_capacity = capacity;
    }
    SQ_TRY(sq_alloc(&w, 1, sizeof *w, name));
    snprintf(w->name, sizeof w->name, "%s", name);
    arena->linears[arena->linear_count++] = w;
    *out = w;
cleanup:
    return st;
}

/* The kernels' scratch holds the largest window times the widest input. */
static sq_status reserve_work(sq_fw_arena *arena, const sq_fw_source *src, const sq_matrix *m)
{
    if (src->max_tokens > arena->max_tokens)
        arena->max_tokens = src->max_tokens;
    return sq_kernel_work_reserve(&arena->work, arena->max_tokens, m->cols);
}

sq_status sq_fw_load_linear(sq_fw_arena *arena, const sq_fw_source *src, const char *name, const sq_matrix **out)
{
    sq_status st = SQ_OK;
    sq_fw_linear_weight *w;
    float *values = NULL;
    const sq_qtensor *qt = packed_tensor(src, name);
    SQ_TRY(keep_linear(arena, name, &w));
    if (qt && !src->options->dequantized) {
        sq_kernel_options options = {.fp32_activations = src->options->fp32_activations};
        SQ_TRY(sq_matrix_from_qtensor(qt, &options, &w->matrix));
    } else {
        const sq_tensor *t = qt ? NULL : sq_tensor_set_find(src->set, name);
        const sq_tensor *data = t ? sq_tensor_set_resolve(src->set, t) : NULL;
        int64_t rows = qt ? qt->shape[0] : t ? t->shape[0] : 0;
        if (!qt && (t == NULL || t->ndim != 2))
            SQ_FAIL(SQ_ERR_INPUT, "tensor '%s' is no [out, in] weight matrix", name);
        if (data && data->data && (data->dtype == SQ_DTYPE_F16 || data->dtype == SQ_DTYPE_BF16) &&
            !src->options->dequantized) { /* 16-bit weights stay 16-bit, widened in the kernel */
            SQ_TRY(sq_matrix_from_16bit(data->data, data->dtype == SQ_DTYPE_BF16, (int)rows, (int)t->shape[1],
                                        &w->matrix));
            goto prepared;
        }
        const int cols = (int)((qt ? sq_qtensor_numel(qt) : sq_tensor_numel(t)) / rows);
        if (data && data->data && data->dtype == SQ_DTYPE_F32) { /* packed straight from the set's data */
            SQ_TRY(sq_matrix_from_f32(data->data, (int)rows, cols, &w->matrix));
            goto prepared;
        }
        SQ_TRY(load_f32(src, name, &values));
        SQ_TRY(sq_matrix_from_f32(values, (int)rows, cols, &w->matrix));
        if (qt)
            w->matrix.fallback = true; /* the dequantized reference path */
    }
prepared:
    w->matrix.work = &arena->work;
    SQ_TRY(reserve_work(arena, src, &w->matrix));
    release(src, name);
    *out = &w->matrix;
cleanup:
    free(values);
    return st;
}

sq_status sq_fw_load_linearf(sq_fw_arena *arena, const sq_fw_source *src, const sq_matrix **out,
                             char keep[SQ_FW_NAME_LEN], const char *pattern, ...)
{
    char name[SQ_FW_NAME_LEN];
    va_list args;
    va_start(args, pattern);
    vsnprintf(name, sizeof name, pattern, args);
    va_end(args);
    if (keep != NULL)
        memcpy(keep, name, sizeof name);
    return sq_fw_load_linear(arena, src, name, out);
}

sq_status sq_fw_load_wanted(sq_fw_arena *arena, const sq_fw_source *src, sq_fw_namer *namer, const void *context,
                            const sq_fw_want *wants, size_t count)
{
    char name[SQ_FW_NAME_LEN];
    for (size_t i = 0; i < count; i++) {
        sq_status st;
        namer(context, wants[i].part, name, sizeof name);
        if (wants[i].keep != NULL)
            memcpy(wants[i].keep, name, sizeof name);
        st = wants[i].linear ? sq_fw_load_linear(arena, src, name, wants[i].linear)
                             : sq_fw_load(arena, src, name, wants[i].array);
        if (st != SQ_OK)
            return st;
    }
    return SQ_OK;
}

sq_status sq_fw_load_stacked(sq_fw_arena *arena, const sq_fw_source *src, const char *name1, const char *name2,
                             const sq_matrix **out1, const sq_matrix **out2)
{
    sq_status st = SQ_OK;
    float *a = NULL, *b = NULL;
    const sq_tensor *t1 = sq_tensor_set_find(src->set, name1), *t2 = sq_tensor_set_find(src->set, name2);
    sq_fw_linear_weight *w;
    *out2 = NULL;
    if (packed_tensor(src, name1) || packed_tensor(src, name2)) { /* each with its own kernel */
        SQ_TRY(sq_fw_load_linear(arena, src, name1, out1));
        SQ_TRY(sq_fw_load_linear(arena, src, name2, out2));
        goto cleanup;
    }
    if (t1 == NULL || t2 == NULL)
        return missing(src, t1 ? name2 : name1);
    if (t1->ndim != 2 || t2->ndim != 2 || t1->shape[1] != t2->shape[1])
        return sq_fail(SQ_ERR_INPUT, "tensors '%s' and '%s' cannot be stacked: their rows differ in length", name1,
                       name2);
    const int64_t r1 = t1->shape[0], r2 = t2->shape[0], cols = t1->shape[1];
    /* fp32 data is packed from the set where it lies; other dtypes are widened first */
    const sq_tensor *d1 = sq_tensor_set_resolve(src->set, t1), *d2 = sq_tensor_set_resolve(src->set, t2);
    const float *p1 = d1 && d1->data && d1->dtype == SQ_DTYPE_F32 ? d1->data : NULL;
    const float *p2 = d2 && d2->data && d2->dtype == SQ_DTYPE_F32 ? d2->data : NULL;
    if (p1 == NULL) {
        SQ_TRY(load_f32(src, name1, &a));
        p1 = a;
    }
    if (p2 == NULL) {
        SQ_TRY(load_f32(src, name2, &b));
        p2 = b;
    }
    SQ_TRY(keep_linear(arena, name1, &w));
    SQ_TRY(sq_matrix_from_f32_stacked(p1, (int)r1, p2, (int)r2, (int)cols, &w->matrix));
    w->matrix.work = &arena->work;
    SQ_TRY(reserve_work(arena, src, &w->matrix));
    release(src, name1);
    release(src, name2);
    *out1 = &w->matrix;
cleanup:
    free(a);
    free(b);
    return st;
}

static sq_status arena_alloc(sq_fw_arena *arena, size_t count, size_t size, const char *what, void *out,
                             uint64_t *counted)
{
    void **ptr = out;
    sq_status st = sq_alloc_counted(ptr, count, size, what, counted);
    return st == SQ_OK ? arena_keep(arena, *ptr) : st;
}

sq_status sq_fw_alloc(sq_fw_arena *arena, size_t count, size_t size, const char *what, void *out)
{
    return arena_alloc(arena, count, size, what, out, &arena->buffer_bytes);
}

sq_status sq_fw_alloc_weights(sq_fw_arena *arena, size_t count, size_t size, const char *what, void *out)
{
    return arena_alloc(arena, count, size, what, out, &arena->array_bytes);
}

void sq_fw_state_free(sq_fw_arena *arena, float **const activations[], size_t n, void *state)
{
    for (size_t i = 0; i < n; i++) {
        free(*activations[i]);
        *activations[i] = NULL;
    }
    sq_fw_arena_free(arena);
    free(state);
}

sq_status sq_fw_alloc_buffers(sq_fw_arena *arena, const sq_fw_sized *buffers, size_t n, const char *what)
{
    sq_status st = SQ_OK;
    arena->resized_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        free(*buffers[i].buffer);
        *buffers[i].buffer = NULL;
    }
    for (size_t i = 0; i < n && st == SQ_OK; i++)
        st = sq_alloc_counted(buffers[i].buffer, buffers[i].count > 0 ? buffers[i].count : 1, sizeof(float), what,
                              &arena->resized_bytes);
    if (st != SQ_OK)
        for (size_t i = 0; i < n; i++) {
            free(*buffers[i].buffer);
            *buffers[i].buffer = NULL;
        }
    return st;
}

void sq_fw_arena_free(sq_fw_arena *arena)
{
    for (int i = 0; i < arena->count; i++)
        free(arena->blocks[i]);
    free(arena->blocks);
    for (int i = 0; i < arena->linear_count; i++) {
        sq_matrix_free(&arena->linears[i]->matrix);
        free(arena->linears[i]);
    }
    free(arena->linears);
    sq_kernel_work_free(&arena->work);
    memset(arena, 0, sizeof *arena);
}

/* The head: the family's head tensor when it is one of its own (run by its kernel), else
 * the tied embedding (one storage, itera-lite.md 1.3), run by its format's kernel as an
 * untied head is.  The embedding is held once: a tied table is the head's weight, packed
 * as the head runs it, and each token's row is decoded from it (sq_matrix_row); an untied
 * table is used in place when it is fp32 data, else kept packed in its format's layout as
 * well.  Nothing is widened to an fp32 table beside its packed form. */
sq_status sq_fw_load_ends(sq_fw_arena *arena, const sq_fw_source *src, const sq_family_ends *names,
                          sq_fw_ends *ends)
{
    sq_status st = SQ_OK;
    const sq_tensor *own = names->head ? sq_tensor_set_find(src->set, names->head) : NULL;
    const sq_tensor *emb = sq_tensor_set_find(src->set, names->embedding);
    const sq_tensor *emb_data = emb ? sq_tensor_set_resolve(src->set, emb) : NULL;
    const bool tied = own == NULL || sq_tensor_set_resolve(src->set, own) == emb_data;
    const bool plain_f32 = emb_data && emb_data->data && emb_data->dtype == SQ_DTYPE_F32 &&
                           packed_tensor(src, names->embedding) == NULL;
    memset(ends, 0, sizeof *ends);
    ends->norm = names->norm;
    snprintf(ends->head_name, sizeof ends->head_name, "%s", names->head ? names->head : names->embedding);
    if (tied) {
        SQ_TRY(sq_fw_load_linear(arena, src, names->embedding, &ends->head));
        ends->embedding_rows = ends->head;
    } else {
        if (plain_f32)
            SQ_TRY(sq_fw_load(arena, src, names->embedding, &ends->embedding));
        else
            SQ_TRY(sq_fw_load_linear(arena, src, names->embedding, &ends->embedding_rows));
        SQ_TRY(sq_fw_load_linear(arena, src, names->head, &ends->head));
    }
    ends->head_max_abs = sq_matrix_max_abs_f32(ends->head);
    ends->head_max_known = ends->head_max_abs >= 0.0f;
    if (names->position)
        SQ_TRY(sq_fw_load(arena, src, names->position, &ends->position));
    SQ_TRY(sq_fw_load(arena, src, names->norm_weight, &ends->norm_w));
    if (names->norm_bias)
        SQ_TRY(sq_fw_load(arena, src, names->norm_bias, &ends->norm_b));
cleanup:
    return st;
}

/* ---- the steps before and after the blocks ------------------------------- */

/* False when any of the n values is NaN or infinite.  v * 0 is 0 for a finite v and NaN for
 * NaN and both infinities, so a sum of v * 0 stays 0 exactly when every value is finite: one
 * multiply-add a vector (four sums, so that no add waits for the one before), where a
 * comparison of |v| with FLT_MAX took four operations.  A pass over every logit of the
 * window, so it runs SQ_VF_LANES at a time. */
SQ_VEC_KERNEL static int all_finite(const float *v, size_t n)
{
    const sq_vf zero = sq_vf_splat(0.0f);
    sq_vf s0 = zero, s1 = zero, s2 = zero, s3 = zero;
    size_t i = 0;
    for (; i + 4 * SQ_VF_LANES <= n; i += 4 * SQ_VF_LANES) {
        s0 = s0 + sq_vf_load(v + i) * zero;
        s1 = s1 + sq_vf_load(v + i + SQ_VF_LANES) * zero;
        s2 = s2 + sq_vf_load(v + i + 2 * SQ_VF_LANES) * zero;
        s3 = s3 + sq_vf_load(v + i + 3 * SQ_VF_LANES) * zero;
    }
    for (; i + SQ_VF_LANES <= n; i += SQ_VF_LANES)
        s0 = s0 + sq_vf_load(v + i) * zero;
    float tail = 0.0f;
    for (; i < n; i++)
        tail += v[i] * 0.0f;
    return sq_vf_sum((s0 + s1) + (s2 + s3)) + tail == 0.0f;
}

/* The largest |v| of n values as its bits, the sign cleared: a finite float's magnitude
 * orders as its bits do, and NaN and the infinities are above every finite value
 * (>= 0x7F800000). */
SQ_VEC_KERNEL static int32_t max_abs_bits(const float *v, size_t n)
{
    const sq_vi magnitude = (sq_vi){0} + 0x7FFFFFFF;
    sq_vi m = (sq_vi){0};
    size_t i = 0;
    for (; i + SQ_VF_LANES <= n; i += SQ_VF_LANES) {
        sq_vi a;
        memcpy(&a, v + i, sizeof a);
        a &= magnitude;
        const sq_vi above = a > m;
        m = (above & a) | (~above & m);
    }
    int32_t worst = 0;
    for (int lane = 0; lane < SQ_VF_LANES; lane++)
        worst = m[lane] > worst ? m[lane] : worst;
    for (; i < n; i++) {
        int32_t a;
        memcpy(&a, v + i, sizeof a);
        a &= 0x7FFFFFFF;
        worst = a > worst ? a : worst;
    }
    return worst;
}

/* True when every logit of the window is finite.  Logit j of token t is a sum of d products
 * h[t,k] W[j,k], so its magnitude, and that of every partial sum, is at most
 * (1 + gamma_d) d max|h| max|W| <= 2 d max|h| max|W| (gamma_d = d 2^-24 / (1 - d 2^-24), the
 * rounding of d multiply-adds; d < 2^23).  When the head runs as fp32 panels, whose largest |W|
 * the build measured, and d max|h| max|W| <= FLT_MAX / 2, every logit is finite without reading
 * them: a pass over the T x d values of h instead of the T x V logits (31 times fewer on a
 * 2,000-word vocabulary of width 64).  A NaN or infinity in h or W, or a bound that does not
 * hold, sends it to the pass over every logit, which decides. */
static bool logits_finite(const sq_fw_ends *ends, const float *h, int T, int d, const float *logits, int V)
{
    if (ends->head_max_known) { /* else no bound: h is not read */
        const int32_t h_bits = max_abs_bits(h, (size_t)T * d);
        float h_max;
        memcpy(&h_max, &h_bits, sizeof h_max);
        if (h_bits < 0x7F800000 && (float)d * h_max * ends->head_max_abs <= FLT_MAX / 2) /* overflow fails */
            return true;
    }
    return all_finite(logits, (size_t)T * V);
}

void sq_fw_embed(const sq_fw_ends *ends, const int32_t *tokens, int T, int d, float *x)
{
    for (int t = 0; t < T; t++) {
        float *row = x + (size_t)t * d;
        if (ends->embedding != NULL)
            memcpy(row, ends->embedding + (size_t)tokens[t] * d, (size_t)d * sizeof *row);
        else
            sq_matrix_row(ends->embedding_rows, tokens[t], row);
        if (ends->position == NULL)
            continue;
        const float *p = ends->position + (size_t)t * d;
        for (int c = 0; c < d; c++)
            row[c] += p[c];
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
    if (!logits_finite(ends, h, T, d, logits, V))
        return sq_fail(SQ_ERR_RUN, "%s forward produced a non-finite logit (window of %d tokens): the weights "
                       "may be corrupt", cfg->family, T);
    return SQ_OK;
}

/* ---- kernels ------------------------------------------------------------ */

static void linear(const sq_forward_hooks *hooks, const char *name, const float *x, int rows, int in,
                   const sq_matrix *w, float *y, int ldy, float beta, bool same_input)
{
    if (hooks && hooks->linear_input)
        hooks->linear_input(hooks->context, name, x, rows, in);
    if (rows == 0)
        return;
    if (same_input)
        sq_matrix_matmul_again(w, x, rows, y, ldy, beta != 0.0f, w->work);
    else
        sq_matrix_matmul(w, x, rows, y, ldy, beta != 0.0f, w->work);
}

void sq_fw_linear(const sq_forward_hooks *hooks, const char *name, const float *x, int rows, int in,
                  const sq_matrix *w, int out, float *y, int ldy, float beta)
{
    (void)out; /* w knows its outputs */
    linear(hooks, name, x, rows, in, w, y, ldy, beta, false);
}

void sq_fw_linear_again(const sq_forward_hooks *hooks, const char *name, const float *x, int rows, int in,
                        const sq_matrix *w, int out, float *y, int ldy, float beta)
{
    (void)out;
    linear(hooks, name, x, rows, in, w, y, ldy, beta, true);
}

uint64_t sq_model_weight_bytes(const sq_model *model)
{
    const sq_fw_arena *arena = model->state;
    uint64_t bytes = arena->array_bytes;
    for (int i = 0; i < arena->linear_count; i++)
        bytes += arena->linears[i]->matrix.bytes;
    return bytes;
}

uint64_t sq_model_activation_bytes(const sq_model *model)
{
    const sq_fw_arena *arena = model->state;
    return arena->buffer_bytes + arena->resized_bytes + arena->work.bytes;
}

const sq_matrix *sq_model_linear_matrix(const sq_model *model, int i)
{
    const sq_fw_arena *arena = model->state;
    return &arena->linears[i]->matrix;
}

int sq_model_linear_count(const sq_model *model)
{
    const sq_fw_arena *arena = model->state; /* every family's state begins with its arena */
    return arena ? arena->linear_count : 0;
}

void sq_model_linear_at(const sq_model *model, int i, const char **name, char *kernel, size_t kernel_size,
                        size_t *bytes)
{
    const sq_fw_arena *arena = model->state;
    const sq_fw_linear_weight *w = arena->linears[i];
    *name = w->name;
    sq_matrix_describe(&w->matrix, kernel, kernel_size);
    *bytes = w->matrix.bytes;
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
        double ss = 0.0;
        for (int j = 0; j < d; j++)
            ss += (double)v[j] * v[j];
        const float inv = (float)(1.0 / sqrt(ss / d + eps));
        for (int j = 0; j < d; j++)
            o[j] = v[j] * inv * w[j];
    }
}

SQ_VEC_KERNEL void sq_fw_gelu(float *v, size_t n) { SQ_VF_MAP(v, n, sq_vf_gelu); }
