/* gguf_arch.h - one GGUF architecture: how a family's model is written to and
 * read from GGUF (private to modelio/gguf_*.c).  The table of them is in
 * gguf_model.c; each architecture is its own file (gguf_native.c for
 * squeeze's own, gguf_llama.c for llama.cpp's "llama").
 */
#ifndef SQ_MODELIO_GGUF_ARCH_H
#define SQ_MODELIO_GGUF_ARCH_H

#include <stdbool.h>

#include "modelio/gguf_model.h"

typedef struct sq_gguf_arch {
    const char *family;         /* squeeze family name */
    const char *arch;           /* general.architecture */
    bool llama_cpp;             /* llama.cpp reads it: 1-D tensors F32, no squeeze-only keys needed */
    /* the architecture's metadata (general.architecture and general.name are written by the caller) */
    sq_status (*write_metadata)(const sq_model_config *cfg, const sq_qtensor *tensors, size_t count,
                                const char *tokenizer_path, sq_gguf_file *out);
    /* the GGUF name of a stored tensor ("" when it is not written, e.g. a tied
     * head); *permute_heads > 0 when its rows must be reordered from HF's
     * half-split RoPE layout to the adjacent-pair layout, per head of that count */
    sq_status (*target_name)(const sq_model_config *cfg, const sq_qtensor *qt, char *name, size_t size,
                             int *permute_heads);
    /* reading: the config from the metadata and tensors */
    sq_status (*read_config)(const sq_gguf_file *f, sq_model_config *cfg);
    /* reading: the squeeze name of a GGUF tensor */
    sq_status (*squeeze_name)(const sq_gguf_file *f, const char *gguf_name, char *name, size_t size);
} sq_gguf_arch;

extern const sq_gguf_arch sq_gguf_arch_itera;
extern const sq_gguf_arch sq_gguf_arch_itera_transformer;

#endif
