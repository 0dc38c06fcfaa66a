/* forward_internal.h - what the family forward passes share (not a public API).
 *
 * forward.c holds the model object (dispatching to the family's build / forward /
 * free_state, models/family.h), the weight loader (any dtype to fp32, once), the
 * steps before and after the blocks (embeddings, final norm and head, named by
 * the family's ends) and the kernels every family uses: LayerNorm, RMSNorm,
 * exact GELU and the hooked sgemm linear.  The families' forward passes are
 * models/<family>_forward.c.
 */
#ifndef SQ_MODELS_FORWARD_INTERNAL_H
#define SQ_MODELS_FORWARD_INTERNAL_H

#include <stdint.h>

#include "models/family.h"
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

/* What a family has around its blocks (sq_family_ends names them): the token
 * embedding, a learned position embedding or none, the final norm and the head. */
typedef struct {
    float *embedding;       /* [V, d] */
    float *position;        /* [S, d], or NULL */
    float *norm_w, *norm_b; /* [d] final norm; norm_b NULL when it has no bias */
    sq_norm_kind norm;      /* LayerNorm or RMSNorm */
    float *head;            /* [V, d]: the head when it is a tensor of its own (an untied
                               copy, as dynamic INT8 makes it, itera-lite.md 3.1), else the
                               tied embedding */
    const char *head_name;  /* the head's name for the linear_input hook */
} sq_fw_ends;

/* Loads the tensors the family's ends name (a NULL name: none). */
sq_status sq_fw_load_ends(sq_fw_arena *arena, const sq_tensor_set *set, const sq_family_ends *names,
                          sq_fw_ends *ends);
/* x[t] = Emb[id_t] (+ Pos[t] when the family has one) for positions t = 0..T-1; x is [T, d]. */
void sq_fw_embed(const sq_fw_ends *ends, const int32_t *tokens, int T, int d, float *x);
/* logits[T, V] = norm(x; eps) head^T, with h [T, d] as scratch; inf/NaN logits are a
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

/* out = x / sqrt(mean(x^2) + eps) * w for each of rows rows of width d (RMSNorm as
 * Llama's and Mamba's reference code computes it, in fp32; out may equal x). */
void sq_fw_rmsnorm(const float *x, int rows, int d, const float *w, double eps, float *out);

/* F.gelu default: exact erf form 0.5 v (1 + erf(v / sqrt 2)), in place (erf by a rational
 * approximation of a few ulp, vec_math.h). */
void sq_fw_gelu(float *v, size_t n);

#endif
