/* forward_internal.h - what the family forward passes share (not a public API).
 *
 * forward.c holds the model object, the dispatch table (one entry per family),
 * the weight loader (any dtype to fp32, once), the steps before and after the
 * blocks (embeddings, final LayerNorm and head) and the kernels every family
 * uses: LayerNorm, exact GELU and the hooked sgemm linear.  The families'
 * forward passes are models/itera_forward.c and models/transformer_forward.c.
 */
#ifndef SQ_MODELS_FORWARD_INTERNAL_H
#define SQ_MODELS_FORWARD_INTERNAL_H

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

/* What both families have around their blocks (itera-lite.md 1.2, 1.6): learned token
 * and position embeddings, the final LayerNorm and the head. */
typedef struct {
    float *embedding;       /* [V, d] */
    float *position;        /* [S, d] */
    float *norm_w, *norm_b; /* [d] final LayerNorm */
    float *head;            /* [V, d]: lm_head.weight when it is a tensor of its own (an untied
                               copy, as dynamic INT8 makes it, 3.1), else the tied embedding */
} sq_fw_ends;

/* Loads embedding.weight, position_embedding.weight, norm.weight, norm.bias and the head. */
sq_status sq_fw_load_ends(sq_fw_arena *arena, const sq_tensor_set *set, sq_fw_ends *ends);
/* x[t] = Emb[id_t] + Pos[t] for positions t = 0..T-1; x is [T, d]. */
void sq_fw_embed(const sq_fw_ends *ends, const int32_t *tokens, int T, int d, float *x);
/* logits[T, V] = LN(x; norm, eps) head^T, with h [T, d] as scratch; inf/NaN logits are a
 * failure, never a number (DESIGN: exit 4). */
sq_status sq_fw_logits(const sq_fw_ends *ends, const sq_model_config *cfg, const sq_forward_hooks *hooks,
                       const float *x, int T, float *h, float *logits);

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
extern const sq_forward_impl sq_llama_forward_impl;       /* models/llama_forward.c */
extern const sq_forward_impl sq_mamba_forward_impl;       /* models/mamba_forward.c */

#endif
