/* loader.h - "give me a runnable model from this path", whatever the path is.
 *
 * Accepts an inspect artifact, a model artifact (compressed), a GGUF file
 * (modelio/gguf_model.h: its architecture names the family), or a foreign
 * checkpoint (.pt, .safetensors).  For a foreign checkpoint the family is
 * detected (or taken from family_name) and the config inferred; for an artifact
 * both are read from /model.  The tensor set is fp32 (dequantized); integer and
 * bool buffers (format "raw" in a model file) keep their own dtype.
 */
#ifndef SQ_MODELIO_LOADER_H
#define SQ_MODELIO_LOADER_H

#include <stdint.h>

#include "models/family.h"
#include "models/model_config.h"
#include "quant/qtensor.h"
#include "tensor/tensor.h"

typedef struct {
    sq_model_config config;
    const sq_family *family;
    sq_tensor_set tensors;     /* fp32, aliases kept (a packed tensor: name and shape, no data) */
    sq_qtensor *packed;        /* sq_model_load_packed: the quantized tensors as stored */
    size_t packed_count;
    char kind[32];             /* "inspect", "model", "gguf" or "checkpoint" */
    uint64_t file_bytes;       /* stat() of the path */
    uint64_t tensor_bytes;     /* bytes of the stored tensors (shared storage once):
                                  for an artifact, the stored buffers' bytes; for a
                                  checkpoint, the tensors' bytes in their dtype */
} sq_loaded_model;

/* Any model file squeeze reads as a tensor set, picked by its first bytes: the
 * "GGUF" magic is a GGUF file (modelio/gguf_model.h, names as its architecture
 * maps them back), the HDF5 signature is squeeze's own model form (any artifact holding /model, read
 * as stored: dequantized to fp32, source_format "squeeze-hdf5"); anything else
 * goes to the foreign readers (checkpoint/checkpoint.h).  Errors name the file. */
sq_status sq_checkpoint_read(const char *path, sq_tensor_set *out);

/* family_name NULL or "auto" to detect. */
sq_status sq_model_load(const char *path, const char *family_name, const sq_family_hints *hints,
                        sq_loaded_model *out);
/* As sq_model_load, but a model artifact's quantized tensors stay packed (out->packed) for
 * sq_model_build_ex, instead of being dequantized to fp32 here. */
sq_status sq_model_load_packed(const char *path, const char *family_name, const sq_family_hints *hints,
                               sq_loaded_model *out);
void sq_loaded_model_free(sq_loaded_model *model);

/* The family of a tensor set: family_name when given (not NULL, "" or "auto"),
 * else detected from its keys.  An unknown name, or keys no family recognises,
 * is SQ_ERR_INPUT listing the families squeeze knows and the set's first keys. */
sq_status sq_model_detect_family(sq_tensor_set *set, const char *family_name, const sq_family **family);

#endif
