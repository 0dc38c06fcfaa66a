/* forward_internal.h - what the family forward passes share (not a public API).
 *
 * forward.c holds the model object, the dispatch table (one entry per family),
 * the weight loader (any dtype to fp32, once) and the kernels every family
 * uses: LayerNorm, exact GELU, SiLU and the hooked sgemm linear.  The families'
 * forward passes are models/itera_forward.c and models/transformer_forward.c.
 */
#ifndef SQ_MODELS_FORWARD_INTERNAL_H
#define SQ_MODELS_FORWARD_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "models/forward.h"

/* Every fp32 array a model owns, freed together by sq_fw_arena_free(). */
typedef struct {
    void **blocks;
    int count;
    int capacity;
} sq_fw_arena;

/* Converts tensor `name` of the set to a fresh fp32 array owned by the arena. */
sq_status sq_fw_load(sq_fw_arena *arena, const sq_tensor_set *set, const char *name, float **out);
/* A zeroed buffer of count floats (or ints: size is the element size), owned by the arena. */
sq_status sq_fw_alloc(sq_fw_arena *arena, size_t count, size_t size, const char *what, void *out);
void sq_fw_arena_free(sq_fw_arena *arena);
/* The head: lm_head.weight when it is a tensor of its own (an untied copy, as dynamic
 * INT8 makes it, itera-lite.md 3.1), else the tied embedding (1.2). */
sq_status sq_fw_load_head(sq_fw_arena *arena, const sq_tensor_set *set, float *embedding, float **out);

/* y[rows, out] = x[rows, in] . W[out, in]^T + beta * y (PyTorch Linear, y = x W^T),
 * one cblas_sgemm; ldy is y's row stride.  Calls hooks->linear_input(name, x) first. */
void sq_fw_linear(const sq_forward_hooks *hooks, const char *name, const float *x, int rows, int in,
                  const float *w, int out, float *y, int ldy, float beta);

/* out = (x - mean) / sqrt(var_biased + eps) * w + b for each of rows rows of width d
 * (torch.nn.LayerNorm; out may equal x). */
void sq_fw_layernorm(const float *x, int rows, int d, const float *w, const float *b, double eps, float *out);

/* F.gelu default: exact erf form 0.5 v (1 + erf(v / sqrt 2)), in place (erf by a rational
 * approximation of a few ulp, vec_math.h). */
void sq_fw_gelu(float *v, size_t n);

/* False when any of the n values is NaN or infinite (a vectorisable scan). */
static inline int sq_fw_all_finite(const float *v, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= !(fabsf(v[i]) <= 3.4028235e38f);
    return !bad;
}

/* The families' forward passes. */
typedef struct {
    const char *family;
    sq_status (*build)(const sq_model_config *cfg, const sq_tensor_set *weights, void **state);
    sq_status (*forward)(void *state, const sq_model_config *cfg, const int32_t *tokens, int count,
                         float *logits, const sq_forward_hooks *hooks);
    void (*free)(void *state);
} sq_forward_impl;

extern const sq_forward_impl sq_itera_forward_impl;       /* models/itera_forward.c */
extern const sq_forward_impl sq_transformer_forward_impl; /* models/transformer_forward.c */

#endif
