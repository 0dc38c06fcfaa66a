/* gguf_model.h - squeeze models as GGUF files, and GGUF files as squeeze models.
 *
 * One table row per model family says which GGUF architecture holds it
 * (gguf_model.c; docs/export.md):
 *   llama              llama.cpp's "llama": its metadata keys with the types
 *                      llama.cpp checks, its tensor names (token_embd,
 *                      blk.N.attn_q, ...), q/k rows in the adjacent-pair RoPE
 *                      layout that convert_hf_to_gguf.py writes, and the
 *                      tokenizer (tokenizer.ggml.*) from a HF tokenizer.json;
 *   mamba (Mamba-1)    llama.cpp's "mamba" (gguf_mamba.c);
 *   mamba (Mamba-2)    llama.cpp's "mamba2" (gguf_mamba.c);
 *   itera, itera-transformer
 *                      architecture "itera" / "itera-transformer", squeeze's
 *                      own tensor names and config (squeeze.config_json):
 *                      squeeze reads these back; no other runtime knows them.
 * Each tensor keeps its stored squeeze format when GGUF has it (fp32 F32,
 * fp16 F16, bf16 BF16, q8_0 Q8_0, q4_0 Q4_0, q4_1 Q4_1, q4_k Q4_K, q6_k Q6_K:
 * the bytes are copied); any other format is dequantized to F32 (exact: the
 * values the variant computes with), and a 1-D tensor of a llama.cpp
 * architecture is F32 (llama.cpp keeps norms in F32).  Every such conversion is
 * listed in the export log.
 */
#ifndef SQ_MODELIO_GGUF_MODEL_H
#define SQ_MODELIO_GGUF_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf/gguf_file.h"
#include "models/family.h"
#include "models/model_config.h"
#include "quant/qtensor.h"
#include "tensor/tensor.h"

/* What happened to one tensor of the model on its way out. */
typedef struct {
    char name[128];          /* squeeze name */
    char target[128];        /* name in the exported file ("" when not written: a tied alias) */
    char format[16];         /* squeeze's stored format */
    char stored_as[16];      /* "F32", "Q4_K", "f16", ... */
    char conversion[96];     /* "" when the bytes were copied; else what was done */
    uint64_t bytes;          /* bytes of the tensor in the exported file */
} sq_export_tensor;

typedef struct {
    sq_export_tensor *tensors;
    size_t count;
} sq_export_log;

void sq_export_log_free(sq_export_log *log);
sq_status sq_export_log_add(sq_export_log *log, const sq_export_tensor *row);

/* The GGUF architecture a model exports to, or NULL when none. */
const char *sq_gguf_arch_of_model(const sq_model_config *cfg);
/* True when llama.cpp reads that architecture (false: squeeze only). */
bool sq_gguf_arch_llama_cpp(const sq_model_config *cfg);

/* Builds the GGUF of a model given as stored tensors (modelio/model_file.h's
 * stored form).  tokenizer_path: a HF tokenizer.json, needed by llama.cpp's
 * architectures (NULL or "bytes": none).  SQ_ERR_INPUT when the family has no
 * GGUF architecture, naming both. */
sq_status sq_gguf_model_build(const sq_model_config *cfg, const sq_qtensor *tensors, size_t count,
                              const char *tokenizer_path, const char *model_name, sq_gguf_file *out,
                              sq_export_log *log);

/* Reads a GGUF (from squeeze or elsewhere) as a runnable model's parts: config,
 * family and fp32 tensors under the family's names.  stored_bytes: the
 * tensors' bytes in the file.  With packed non-NULL, the 2-D tensors whose
 * GGUF type is a squeeze format (the ggml blocks Q8_0 ... Q6_K, F16, BF16)
 * stay in their stored bytes as quantized tensors in *packed (the set gets
 * their name and shape with no data, as sq_model_load_packed does for a model
 * artifact), so that the forward pass runs them with the packed kernels. */
sq_status sq_gguf_model_read(const char *path, sq_model_config *cfg, sq_tensor_set *set, uint64_t *stored_bytes,
                             sq_qtensor **packed, size_t *packed_count);

#endif
