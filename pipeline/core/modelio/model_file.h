/* model_file.h - squeeze's HDF5 model form (docs/artifacts.md).
 *
 *   /model                      group; attrs family, config_json, tensor_count,
 *                               aliases ("lm_head.weight=embedding.weight\n...")
 *   /model/tensors/<name>       plain tensor: a dataset (f32, f16 as IEEE half,
 *                               bf16 as u16) with attrs format, original_dtype, shape;
 *                               format "raw": a non-float tensor (int64 counter,
 *                               bool mask) in its own dtype, never converted;
 *                               quantized tensor: a group with attrs format,
 *                               original_dtype, shape and the format's scalars,
 *                               holding one dataset per buffer (packed, absmax...)
 *   an alias                    an HDF5 hard link to the tensor it shares storage with
 *
 * inspect writes it (the fp32 baseline) into its artifact; compress writes it
 * into the model artifact.  Readers dequantize to fp32 for the forward pass.
 */
#ifndef SQ_MODELIO_MODEL_FILE_H
#define SQ_MODELIO_MODEL_FILE_H

#include <hdf5.h>

#include "models/model_config.h"
#include "quant/qtensor.h"
#include "tensor/tensor.h"

sq_status sq_model_file_write(hid_t file, const sq_model_config *cfg, const sq_qtensor *tensors, size_t count);

/* Reads /model: the config and every tensor dequantized to fp32 (aliases kept as
 * aliases; "raw" tensors come back in their own integer/bool dtype).  stored_bytes, when not NULL, receives the sum of the stored buffers'
 * bytes (shared storage once). */
sq_status sq_model_file_read(hid_t file, sq_model_config *cfg, sq_tensor_set *set, uint64_t *stored_bytes);
/* As sq_model_file_read, but quantized tensors stay as stored: *packed (malloc'd, count
 * *packed_count, each freed with sq_qtensor_free) holds them, and the set has their names and
 * original shapes with no data (the forward's kernels multiply with them packed); fp16 and
 * bf16 tensors stay 16-bit in the set. */
sq_status sq_model_file_read_packed(hid_t file, sq_model_config *cfg, sq_tensor_set *set, uint64_t *stored_bytes,
                                    sq_qtensor **packed, size_t *packed_count);

/* Reads /model as stored, without dequantizing: each tensor as an sq_qtensor
 * (a plain tensor has one buffer "data"; an alias has alias_of set, no
 * buffers, and its owner's shape and format).  For writers of other forms
 * (GGUF, safetensors) that copy the stored bytes.  Free each with
 * sq_qtensor_free, then the array. */
sq_status sq_model_file_read_stored(hid_t file, sq_model_config *cfg, sq_qtensor **tensors, size_t *count);

/* Converts a tensor set (from any reader) to plain fp32 qtensors, aliases kept:
 * the baseline that inspect stores.  Non-float tensors become format "raw" in
 * their own dtype: never dropped, never rounded. */
sq_status sq_model_baseline_qtensors(const sq_tensor_set *set, sq_qtensor **tensors, size_t *count);

#endif
