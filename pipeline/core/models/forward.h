/* forward.h - running a model: logits for a window of tokens.
 *
 * sq_model_build() takes the config and a tensor set (any float dtype; it is
 * converted to fp32 once, and quantized models are dequantized by the model
 * file reader before they get here) and allocates every buffer for windows up
 * to max_seq_length once.  sq_model_forward() computes logits [T, V] with
 * OpenBLAS sgemm for the projections.  Hooks let calibrate see the input of
 * every linear layer and every router decision.
 */
#ifndef SQ_MODELS_FORWARD_H
#define SQ_MODELS_FORWARD_H

#include <stdint.h>

#include "models/model_config.h"
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
/* tokens[T], T <= max_seq_length; logits is T x vocab_size.  hooks may be NULL. */
sq_status sq_model_forward(sq_model *model, const int32_t *tokens, int count, float *logits,
                           const sq_forward_hooks *hooks);
const sq_model_config *sq_model_get_config(const sq_model *model);
void sq_model_free(sq_model *model);

#endif
