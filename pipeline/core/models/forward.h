/* forward.h - running a model: logits for a window of tokens.
 *
 * sq_model_build() takes the config and a tensor set (any float dtype; it is
 * converted to fp32 once) and allocates every buffer for windows up to
 * max_seq_length once; sq_model_build_ex() also takes quantized tensors kept
 * packed.  Linear layers run through kernels/ (fp32 panels packed once, or
 * their format's kernel); sq_model_forward() computes logits [T, V].  Hooks let calibrate see the input of
 * every linear layer and every router decision.
 */
#ifndef SQ_MODELS_FORWARD_H
#define SQ_MODELS_FORWARD_H

#include <stdint.h>

#include <stdbool.h>
#include <stddef.h>

#include "kernels/matrix.h"
#include "models/model_config.h"
#include "quant/qtensor.h"
#include "tensor/tensor.h"

typedef struct {
    void *context;
    /* x is rows x cols, row-major: the rows are tokens (for an expert, only the
     * tokens routed to it), cols the linear's input features.  weight_name is
     * the linear's tensor name ("layers.0.ssm.in_proj.weight", "lm_head.weight"). */
    void (*linear_input)(void *context, const char *weight_name, const float *x, int rows, int cols);
    /* experts is T x k: the experts chosen for each token of the window. */
    void (*router)(void *context, int layer, const int *experts, int tokens, int k);
} sq_forward_hooks;

typedef struct sq_model sq_model;

sq_status sq_model_build(const sq_model_config *cfg, const sq_tensor_set *weights, sq_model **out);

/* How sq_model_build_ex runs a compressed model.  Quantized tensors given in `packed`
 * (their names in the set with no data, as modelio's loader leaves them) are multiplied
 * in their stored form by their format's kernel (kernels/matrix.h). */
typedef struct {
    sq_qtensor *packed;          /* quantized tensors kept packed, or NULL */
    size_t packed_count;
    bool fp32_activations;       /* quantized kernels multiply with fp32 activations, not int8 */
    bool dequantized;            /* the reference path: packed tensors dequantized to fp32 once */
    bool release;                /* free each tensor's data (set and packed) once the model holds it:
                                    one copy of the weights; the set keeps names and shapes */
} sq_model_build_options;

sq_status sq_model_build_ex(const sq_model_config *cfg, sq_tensor_set *weights,
                            const sq_model_build_options *options, sq_model **out);
/* The model's linear weights: count, and for each its tensor name, "kernel/isa" and bytes in memory. */
int sq_model_linear_count(const sq_model *model);
void sq_model_linear_at(const sq_model *model, int i, const char **name, char *kernel, size_t kernel_size,
                        size_t *bytes);
/* Bytes of the model's weights in memory: prepared linear weights and the fp32 arrays it keeps
 * (norms, embeddings, conv, ...), not counting the activation buffers. */
uint64_t sq_model_weight_bytes(const sq_model *model);
/* Bytes of the buffers the forward pass holds beside the weights: activations sized for the
 * longest window (or the last one run), routing tables and the kernels' quantized-activation
 * scratch. */
uint64_t sq_model_activation_bytes(const sq_model *model);
/* The prepared weight of linear i (rows, cols, kernel) for benchmarks. */
const sq_matrix *sq_model_linear_matrix(const sq_model *model, int i);
/* tokens[T], T <= max_seq_length; logits is T x vocab_size.  hooks may be NULL. */
sq_status sq_model_forward(sq_model *model, const int32_t *tokens, int count, float *logits,
                           const sq_forward_hooks *hooks);
const sq_model_config *sq_model_get_config(const sq_model *model);
void sq_model_free(sq_model *model);

#endif
