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

#include "kernels/matrix.h"
#include "models/family.h"
#include "models/forward.h"

/* Where a family's build takes its weights from: the tensor set, the quantized tensors kept
 * packed (their names are in the set with no data), and how to run them (forward.h). */
typedef struct sq_fw_source {
    sq_tensor_set *set;
    const sq_model_build_options *options;
    int max_tokens;          /* cfg->max_seq_length: the longest window a kernel's scratch must hold */
} sq_fw_source;

/* A linear layer's weight as its kernel runs it, and the tensor it came from. */
typedef struct {
    char name[96];
    sq_matrix matrix;
} sq_fw_linear_weight;

/* Every array a model owns (fp32 arrays, prepared weights, the kernels' scratch), freed
 * together by sq_fw_arena_free(). */
typedef struct {
    void **blocks;
    int count;
    int capacity;
    sq_fw_linear_weight **linears;
    int linear_count;
    int linear_capacity;
    int max_tokens;          /* the longest window (max_seq_length): sizes the kernels' scratch */
    uint64_t array_bytes;    /* fp32 arrays loaded from tensors (sq_fw_load) or made from them */
    uint64_t buffer_bytes;   /* activations and tables the forward allocates once (sq_fw_alloc) */
    uint64_t resized_bytes;  /* activations sized to the window (sq_fw_alloc_buffers), as now held */
    sq_kernel_work work;
} sq_fw_arena;

/* Tensor `name` as a fresh fp32 array owned by the arena (a packed tensor is dequantized). */
sq_status sq_fw_load(sq_fw_arena *arena, const sq_fw_source *src, const char *name, float **out);
/* The weight [out, in] of a linear layer, prepared for its kernel: a packed tensor stays
 * packed (unless the options ask for the dequantized reference), a plain one becomes fp32
 * panels.  Owned by the arena; listed for sq_model_linear_at. */
sq_status sq_fw_load_linear(sq_fw_arena *arena, const sq_fw_source *src, const char *name, const sq_matrix **out);
/* The longest tensor name the families build ("layers.%d.moe.layer.experts.%d.w1.weight"). */
#define SQ_FW_NAME_LEN 128
/* sq_fw_load and sq_fw_load_linear of the tensor a printf pattern names; keep (may be NULL)
 * receives the name, for the linear_input hook. */
sq_status sq_fw_loadf(sq_fw_arena *arena, const sq_fw_source *src, float **out, const char *pattern, ...)
    __attribute__((format(printf, 4, 5)));
sq_status sq_fw_load_linearf(sq_fw_arena *arena, const sq_fw_source *src, const sq_matrix **out,
                             char keep[SQ_FW_NAME_LEN], const char *pattern, ...) __attribute__((format(printf, 5, 6)));
/* Two weights stacked along the outputs into one matrix when both are plain (one kernel call
 * for both, as itera's delta_proj and B); *out2 is NULL then, else each keeps its own kernel. */
sq_status sq_fw_load_stacked(sq_fw_arena *arena, const sq_fw_source *src, const char *name1, const char *name2,
                             const sq_matrix **out1, const sq_matrix **out2);
/* One tensor a family's layer loads: a plain fp32 array (array) or a linear weight (linear),
 * named by the family's namer from part; keep (SQ_FW_NAME_LEN, may be NULL) receives the name. */
typedef struct {
    const char *part;
    float **array;
    const sq_matrix **linear;
    char *keep;
} sq_fw_want;
typedef void sq_fw_namer(const void *context, const char *part, char *name, size_t size);
sq_status sq_fw_load_wanted(sq_fw_arena *arena, const sq_fw_source *src, sq_fw_namer *namer, const void *context,
                            const sq_fw_want *wants, size_t count);
/* A zeroed buffer of count floats (or ints: size is the element size), owned by the arena:
 * activations and tables (sq_fw_alloc), or an array made from the weights (sq_fw_alloc_weights,
 * counted with them). */
sq_status sq_fw_alloc(sq_fw_arena *arena, size_t count, size_t size, const char *what, void *out);
sq_status sq_fw_alloc_weights(sq_fw_arena *arena, size_t count, size_t size, const char *what, void *out);
void sq_fw_arena_free(sq_fw_arena *arena);
/* A per-call activation buffer and the floats it holds. */
typedef struct {
    float **buffer;
    size_t count;
} sq_fw_sized;
/* Allocates each buffer afresh (zeroed) at its size, freeing what it held; on failure none
 * is left allocated. */
sq_status sq_fw_alloc_buffers(sq_fw_arena *arena, const sq_fw_sized *buffers, size_t n, const char *what);
/* Frees a family's state: its n per-call activation buffers, its arena, then the state itself. */
void sq_fw_state_free(sq_fw_arena *arena, float **const activations[], size_t n, void *state);

/* What a family has around its blocks (sq_family_ends names them): the token
 * embedding, a learned position embedding or none, the final norm and the head. */
typedef struct {
    float *embedding;       /* [V, d] fp32 data used in place, or NULL: the rows are decoded from */
    const sq_matrix *embedding_rows; /* the table in its kernel's layout (the head itself when tied) */
    float *position;        /* [S, d], or NULL */
    float *norm_w, *norm_b; /* [d] final norm; norm_b NULL when it has no bias */
    sq_norm_kind norm;      /* LayerNorm or RMSNorm */
    const sq_matrix *head;  /* [V, d]: the head when it is a tensor of its own (an untied copy,
                               as dynamic INT8 makes it, itera-lite.md 3.1), else the tied
                               embedding packed as a linear weight of its own */
    char head_name[SQ_FW_NAME_LEN]; /* the head's name for the linear_input hook */
    bool head_max_known;    /* the head runs as fp32 panels and its largest |w| was measured: */
    float head_max_abs;     /* that |w| (infinity when a weight is not finite), for sq_fw_logits'
                               finiteness bound; unknown (false, as zeroed) reads every logit */
} sq_fw_ends;

/* Loads the tensors the family's ends name (a NULL name: none). */
sq_status sq_fw_load_ends(sq_fw_arena *arena, const sq_fw_source *src, const sq_family_ends *names,
                          sq_fw_ends *ends);
/* x[t] = Emb[id_t] (+ Pos[t] when the family has one) for positions t = 0..T-1; x is [T, d]. */
void sq_fw_embed(const sq_fw_ends *ends, const int32_t *tokens, int T, int d, float *x);
/* logits[T, V] = norm(x; eps) head^T, with h [T, d] as scratch; inf/NaN logits are a
 * failure, never a number (DESIGN: exit 4). */
sq_status sq_fw_logits(const sq_fw_ends *ends, const sq_model_config *cfg, const sq_forward_hooks *hooks,
                       const float *x, int T, float *h, float *logits);

/* y[rows, out] = x[rows, in] . W[out, in]^T + beta * y (PyTorch Linear, y = x W^T; beta 0
 * or 1), with W's kernel (kernels/matrix.h); ldy is y's row stride.  Calls
 * hooks->linear_input(name, x) first. */
void sq_fw_linear(const sq_forward_hooks *hooks, const char *name, const float *x, int rows, int in,
                  const sq_matrix *w, int out, float *y, int ldy, float beta);
/* The same for a weight whose input x is that of the sq_fw_linear just before, unchanged
 * (projections that share their input): its kernel may reuse the quantized activations. */
void sq_fw_linear_again(const sq_forward_hooks *hooks, const char *name, const float *x, int rows, int in,
                        const sq_matrix *w, int out, float *y, int ldy, float beta);

/* out = (x - mean) / sqrt(var_biased + eps) * w + b for each of rows rows of width d
 * (torch.nn.LayerNorm; out may equal x). */
void sq_fw_layernorm(const float *x, int rows, int d, const float *w, const float *b, double eps, float *out);

/* out = x / sqrt(mean(x^2) + eps) * w for each of rows rows of width d (RMSNorm as
 * Llama's and Mamba's reference code computes it; the sum of squares in double, the rest
 * in fp32; out may equal x). */
void sq_fw_rmsnorm(const float *x, int rows, int d, const float *w, double eps, float *out);

/* F.gelu default: exact erf form 0.5 v (1 + erf(v / sqrt 2)), in place (erf by a rational
 * approximation of a few ulp, vec_math.h). */
void sq_fw_gelu(float *v, size_t n);

#endif
