/* checkpoint.h - one interface over the foreign checkpoint formats squeeze reads.
 *
 * sq_checkpoint_read_foreign() looks at the file's first bytes (not its name)
 * and dispatches: a zip archive is a PyTorch checkpoint (or a TorchScript
 * archive), an 8-byte length followed by '{' is safetensors.  squeeze's own
 * HDF5 model form is read one layer up: sq_checkpoint_read() in
 * modelio/loader.h takes any of them.  The result is a
 * tensor set: every tensor by name, with shared storage recorded as aliases,
 * plus the checkpoint's top-level non-tensor entries (printed, never run).
 *
 * Errors are SQ_ERR_INPUT and name the file and, where one is involved, the
 * tensor or pickle record.  Every reader initialises *out itself and leaves it
 * empty (freed) on error; on success the caller frees it with sq_tensor_set_free.
 * source_format is "pytorch-zip", "torchscript", "safetensors" or "llama2c-bin".
 */
#ifndef SQ_CHECKPOINT_CHECKPOINT_H
#define SQ_CHECKPOINT_CHECKPOINT_H

#include <stdbool.h>

#include "tensor/tensor.h"

sq_status sq_checkpoint_read_foreign(const char *path, sq_tensor_set *out);
/* Records where a set was read from and in which format (unless a reader already did). */
sq_status sq_checkpoint_set_source(sq_tensor_set *set, const char *path, const char *format);

/* The individual readers (checkpoint/torch_pt.c, safetensors.c). */
sq_status sq_torch_read(const char *path, sq_tensor_set *out);
sq_status sq_safetensors_read(const char *path, sq_tensor_set *out);
/* llama2.c's legacy .bin (checkpoint/llama2c.c): detected by a plausible header whose
 * implied size equals the file size; tensors get the Meta names (tok_embeddings.weight,
 * layers.N.attention.wq.weight, ...), the header goes to meta "config" as JSON.
 * file_size 0: only whether the header is plausible. */
bool sq_llama2c_detect(const unsigned char *head, size_t n, uint64_t file_size);
sq_status sq_llama2c_read(const char *path, sq_tensor_set *out);

/* Writes a tensor set as .safetensors (aliases are written as separate copies,
 * since the format has no sharing; metadata goes to __metadata__). */
sq_status sq_safetensors_write(const char *path, const sq_tensor_set *set);

#endif
