/* gguf_arch.h - one GGUF architecture: how a family's model is written to and
 * read from GGUF (private to modelio/gguf_*.c).  The table of them is in
 * gguf_model.c; each architecture is its own file (gguf_native.c for
 * squeeze's own, gguf_llama.c for llama.cpp's "llama").
 */
#ifndef SQ_MODELIO_GGUF_ARCH_H
#define SQ_MODELIO_GGUF_ARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "modelio/gguf_model.h"

/* One metadata key of an architecture, "<arch>.<key>", and the config field it holds: an int
 * written as u32, a double written as f32, or a constant the architecture always writes (and
 * does not read back).  A table of these per architecture is written and read by
 * sq_gguf_write_keys / sq_gguf_read_keys (gguf_keys.c), so that a key's name, type and field are
 * said once. */
typedef enum {
    SQ_GGUF_IN_MODEL,    /* offset into sq_model_config */
    SQ_GGUF_IN_FAMILY,   /* offset into the family's own struct (cfg->own) */
    SQ_GGUF_CONSTANT,    /* `constant`, written only */
} sq_gguf_key_place;

typedef struct {
    const char *key;         /* after "<arch>." */
    sq_gguf_type type;       /* SQ_GGUF_UINT32 (int field), SQ_GGUF_FLOAT32 (double field), SQ_GGUF_BOOL (constant) */
    sq_gguf_key_place place;
    size_t offset;
    double constant;
    bool optional;           /* reading: a file without it leaves the field as it was */
} sq_gguf_key;

#define SQ_GGUF_MODEL_KEY(name, type, field, optional)                                                                 \
    {name, type, SQ_GGUF_IN_MODEL, offsetof(sq_model_config, field), 0.0, optional}
#define SQ_GGUF_FAMILY_KEY(name, type, family_type, field, optional)                                                   \
    {name, type, SQ_GGUF_IN_FAMILY, offsetof(family_type, field), 0.0, optional}
#define SQ_GGUF_CONSTANT_KEY(name, type, value) {name, type, SQ_GGUF_CONSTANT, 0, value, true}

/* Writes every key of the table (count rows) for architecture arch from cfg. */
sq_status sq_gguf_write_keys(const char *arch, const sq_gguf_key *keys, size_t count, const sq_model_config *cfg,
                             sq_gguf_file *out);
/* Reads every non-constant key of the table into cfg, checking its type; a missing key that is
 * not optional is SQ_ERR_INPUT naming it. */
sq_status sq_gguf_read_keys(const sq_gguf_file *f, const char *arch, const sq_gguf_key *keys, size_t count,
                            sq_model_config *cfg);

/* Layer-numbered names shared by the architectures' name tables: pattern with '#' standing for
 * a decimal layer index (*layer receives it), and the pattern expanded for a layer after a prefix. */
bool sq_gguf_name_match(const char *pattern, const char *name, int *layer);
void sq_gguf_name_expand(const char *prefix, const char *pattern, int layer, char *out, size_t size);

/* The vocabulary size from the embedding token_embd.weight (llama.cpp's reading: a
 * <arch>.vocab_size key is optional); a file without it as a 2-D tensor is SQ_ERR_INPUT. */
sq_status sq_gguf_vocab_from_embedding(const sq_gguf_file *f, const char *arch, sq_model_config *cfg);

/* A file without its head tensor has the head tied to the embedding (llama.cpp's reading): adds
 * head_name to set as an alias of embedding_name; nothing to do when the head is there. */
sq_status sq_gguf_tie_head(sq_tensor_set *set, const char *head_name, const char *embedding_name);

/* How a stored tensor goes into the file, besides its name. */
typedef struct {
    int permute_heads;   /* > 0: rows reordered from HF's half-split RoPE layout to adjacent pairs,
                            per head of this count */
    bool f32;            /* llama.cpp's kernel for it takes F32 only: written as F32 */
    bool neg_exp;        /* written as -exp(x) (Mamba's A_log is llama.cpp's ssm_a = -exp(A_log)) */
    int ndim;            /* > 0: written with this shape (dimensions of 1 squeezed out) */
    int64_t shape[SQ_GGUF_MAX_DIMS];
} sq_gguf_placement;

typedef struct sq_gguf_arch {
    const char *family;         /* squeeze family name */
    const char *arch;           /* general.architecture */
    bool llama_cpp;             /* llama.cpp reads it: 1-D tensors F32, no squeeze-only keys needed */
    /* optional: whether this row holds the model, when its family has several rows */
    bool (*takes)(const sq_model_config *cfg);
    /* the architecture's metadata (general.architecture and general.name are written by the caller) */
    sq_status (*write_metadata)(const sq_model_config *cfg, const sq_qtensor *tensors, size_t count,
                                const char *tokenizer_path, sq_gguf_file *out);
    /* the GGUF name of a stored tensor ("" when it is not written, e.g. a tied
     * head) and how it is placed (*place starts zeroed) */
    sq_status (*target_name)(const sq_model_config *cfg, const sq_qtensor *qt, char *name, size_t size,
                             sq_gguf_placement *place);
    /* reading: the config from the metadata and tensors (cfg starts zeroed, its family set
     * to this row's) */
    sq_status (*read_config)(const sq_gguf_file *f, sq_model_config *cfg);
    /* reading: the squeeze name of a GGUF tensor */
    sq_status (*squeeze_name)(const sq_gguf_file *f, const char *gguf_name, char *name, size_t size);
    /* reading, optional: undoes a placement's value transform and shape on the
     * fp32 values of the tensor now named name */
    sq_status (*restore)(const char *name, float *values, int64_t numel, int *ndim, int64_t *shape);
    /* with restore: whether it changes the tensor now named name (such a tensor is never kept packed) */
    bool (*restores)(const char *name);
    /* reading, optional: names the architecture leaves implicit (a tied head) */
    sq_status (*complete)(sq_tensor_set *set);
} sq_gguf_arch;

extern const sq_gguf_arch sq_gguf_arch_itera;
extern const sq_gguf_arch sq_gguf_arch_itera_transformer;
extern const sq_gguf_arch sq_gguf_arch_llama;
extern const sq_gguf_arch sq_gguf_arch_mamba;
extern const sq_gguf_arch sq_gguf_arch_mamba2;

#endif
