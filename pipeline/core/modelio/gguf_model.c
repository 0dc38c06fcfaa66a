/* gguf_model.c - the table of GGUF architectures, and what every architecture
 * does the same way: each stored tensor to a GGUF tensor type (bytes copied
 * where GGUF has the format, else a stated conversion), and each GGUF tensor
 * back to fp32 for squeeze's forward pass.
 */
#include "modelio/gguf_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelio/gguf_arch.h"
#include "quant/format.h"
#include "quant/ggml_blocks.h"
#include "quant/quant_common.h"
#include "util/log.h"

static const sq_gguf_arch *const arch_table[] = {
    &sq_gguf_arch_llama,
    &sq_gguf_arch_mamba,
    &sq_gguf_arch_mamba2,
    &sq_gguf_arch_itera,
    &sq_gguf_arch_itera_transformer,
    NULL,
};

/* The plain float formats and their GGUF types, for writing and reading alike. */
typedef struct {
    const char *format;
    int ggml_type;
    sq_dtype dtype;
} plain_float;

static const plain_float plain_types[] = {
    {"fp32", SQ_GGML_TYPE_F32, SQ_DTYPE_F32},
    {"fp16", SQ_GGML_TYPE_F16, SQ_DTYPE_F16},
    {"bf16", SQ_GGML_TYPE_BF16, SQ_DTYPE_BF16},
};

/* The row of plain_types with that format name (format != NULL) or GGUF type, or NULL. */
static const plain_float *plain_type_of(const char *format, int ggml_type)
{
    for (size_t i = 0; i < sizeof plain_types / sizeof plain_types[0]; i++)
        if (format ? strcmp(plain_types[i].format, format) == 0 : plain_types[i].ggml_type == ggml_type)
            return &plain_types[i];
    return NULL;
}

/* The architecture that holds this model: its family's row, the first that takes the model
 * when a family has several (Mamba-1 and Mamba-2). */
static const sq_gguf_arch *arch_of_model(const sq_model_config *cfg)
{
    for (int i = 0; arch_table[i]; i++)
        if (strcmp(arch_table[i]->family, cfg->family) == 0 && (!arch_table[i]->takes || arch_table[i]->takes(cfg)))
            return arch_table[i];
    return NULL;
}

static const sq_gguf_arch *arch_named(const char *arch)
{
    for (int i = 0; arch_table[i]; i++)
        if (strcmp(arch_table[i]->arch, arch) == 0)
            return arch_table[i];
    return NULL;
}

const char *sq_gguf_arch_of_model(const sq_model_config *cfg)
{
    const sq_gguf_arch *a = arch_of_model(cfg);
    return a ? a->arch : NULL;
}

bool sq_gguf_arch_llama_cpp(const sq_model_config *cfg)
{
    const sq_gguf_arch *a = arch_of_model(cfg);
    return a && a->llama_cpp;
}

void sq_export_log_free(sq_export_log *log)
{
    free(log->tensors);
    memset(log, 0, sizeof *log);
}

sq_status sq_export_log_add(sq_export_log *log, const sq_export_tensor *row)
{
    sq_export_tensor *grown = realloc(log->tensors, (log->count + 1) * sizeof *grown);
    if (grown == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory for the export log");
    log->tensors = grown;
    log->tensors[log->count++] = *row;
    return SQ_OK;
}

/* The GGUF type and bytes of a stored tensor: copied when GGUF has its
 * format, else dequantized to F32.  *data is malloc'ed. */
static sq_status tensor_payload(const sq_gguf_arch *arch, const sq_qtensor *qt, bool force_f32, int *type,
                                void **data, uint64_t *nbytes, sq_export_tensor *row)
{
    const sq_ggml_block_kind *kind = sq_ggml_block_kind_of_format(qt->format);
    int64_t numel = sq_qtensor_numel(qt);
    const sq_qbuffer *buffer = NULL;
    bool one_d = qt->ndim == 1;
    int plain_type = -1;
    const plain_float *plain = plain_type_of(qt->format, -1);

    if (force_f32 && strcmp(qt->format, "fp32") != 0)
        kind = NULL; /* dequantized below */
    else if (plain && (plain->dtype == SQ_DTYPE_F32 || !(arch->llama_cpp && one_d)))
        plain_type = plain->ggml_type; /* llama.cpp takes 1-D tensors in F32 only */
    if (plain_type >= 0 && (buffer = sq_qtensor_buffer(qt, "data")) != NULL) {
        *type = plain_type;
        *nbytes = (uint64_t)numel * sq_dtype_size(plain->dtype);
        if ((*data = malloc(*nbytes ? *nbytes : 1)) == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory for tensor '%s'", qt->name);
        memcpy(*data, buffer->data, *nbytes);
        snprintf(row->stored_as, sizeof row->stored_as, "%s", sq_ggml_type_name(plain_type));
        return SQ_OK;
    }
    if (!force_f32 && strcmp(qt->format, "raw") == 0 && (buffer = sq_qtensor_buffer(qt, "data")) != NULL) {
        static const struct { sq_dtype dtype; int type; } raw[] = {
            {SQ_DTYPE_I8, SQ_GGML_TYPE_I8}, {SQ_DTYPE_I16, SQ_GGML_TYPE_I16}, {SQ_DTYPE_I32, SQ_GGML_TYPE_I32},
            {SQ_DTYPE_I64, SQ_GGML_TYPE_I64}, {SQ_DTYPE_F64, SQ_GGML_TYPE_F64},
        };
        for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
            if (buffer->dtype == raw[i].dtype) {
                *type = raw[i].type;
                *nbytes = (uint64_t)numel * sq_dtype_size(buffer->dtype);
                if ((*data = malloc(*nbytes ? *nbytes : 1)) == NULL)
                    return sq_fail(SQ_ERR_RUN, "out of memory for tensor '%s'", qt->name);
                memcpy(*data, buffer->data, *nbytes);
                snprintf(row->stored_as, sizeof row->stored_as, "%s", sq_ggml_type_name(raw[i].type));
                return SQ_OK;
            }
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' is a raw %s tensor, which GGUF cannot hold (I8, I16, I32, I64 "
                       "and F64 only)", qt->name, sq_dtype_name(buffer->dtype));
    }
    /* ggml's own blocks: rows of the stored matrix are GGUF rows when the
     * tensor is 1-D or 2-D (a 3-D tensor's GGUF rows are its last dimension). */
    if (!force_f32 && kind && qt->ndim <= 2 && (buffer = sq_qtensor_buffer(qt, "blocks")) != NULL) {
        *type = kind->ggml_type;
        *nbytes = (uint64_t)buffer->shape[0] * (uint64_t)buffer->shape[1];
        if ((*data = malloc(*nbytes ? *nbytes : 1)) == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory for tensor '%s'", qt->name);
        memcpy(*data, buffer->data, *nbytes);
        snprintf(row->stored_as, sizeof row->stored_as, "%s", kind->ggml_name);
        return SQ_OK;
    }
    /* Everything else: the values the variant computes with, in F32. */
    const sq_quant_format *format = sq_quant_format_find(qt->format);
    if (format == NULL || format->dequantize == NULL)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' has format '%s', which squeeze cannot dequantize", qt->name,
                       qt->format);
    float *values = NULL;
    sq_status st = sq_alloc(&values, (size_t)(numel ? numel : 1), sizeof *values, qt->name);
    if (st != SQ_OK)
        return st;
    if ((st = format->dequantize(qt, values)) != SQ_OK) {
        free(values);
        return st;
    }
    *type = SQ_GGML_TYPE_F32;
    *data = values;
    *nbytes = (uint64_t)numel * 4;
    snprintf(row->stored_as, sizeof row->stored_as, "F32");
    snprintf(row->conversion, sizeof row->conversion, "%s -> F32 (%s)", qt->format,
             force_f32 ? "llama.cpp's kernel for this tensor takes F32" :
             kind ? "a ggml block tensor of more than 2 dimensions" :
             arch->llama_cpp && one_d ? "llama.cpp reads 1-D tensors in F32" :
             "GGUF has no such type: dequantized, exact");
    return SQ_OK;
}

/* Reorders the rows of q or k from HF's layout (per head: first halves of the
 * RoPE pairs, then second halves) to the adjacent-pair layout llama.cpp's
 * "llama" architecture expects: convert_hf_to_gguf.py LlamaModel.permute,
 * w.reshape(n_head, 2, hd/2, cols).swapaxes(1, 2): new row h*hd + 2i + j =
 * old row h*hd + j*hd/2 + i.  Whole rows move, so quantized blocks move intact. */
static sq_status permute_rows(const char *name, void *data, uint64_t nbytes, int64_t rows, int heads)
{
    if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0 || nbytes % (uint64_t)rows != 0)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s': %lld rows do not split into %d heads of an even size", name,
                       (long long)rows, heads);
    uint64_t row_bytes = nbytes / (uint64_t)rows;
    int64_t hd = rows / heads;
    uint8_t *copy = malloc(nbytes);
    if (copy == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory for tensor '%s'", name);
    memcpy(copy, data, nbytes);
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < hd / 2; i++)
            for (int64_t j = 0; j < 2; j++)
                memcpy((uint8_t *)data + (uint64_t)(h * hd + 2 * i + j) * row_bytes,
                       copy + (uint64_t)(h * hd + j * (hd / 2) + i) * row_bytes, row_bytes);
    free(copy);
    return SQ_OK;
}

sq_status sq_gguf_model_build(const sq_model_config *cfg, const sq_qtensor *tensors, size_t count,
                              const char *tokenizer_path, const char *model_name, sq_gguf_file *out,
                              sq_export_log *log)
{
    sq_status st = SQ_OK;
    const sq_gguf_arch *arch = arch_of_model(cfg);
    void *data = NULL;

    sq_gguf_init(out);
    memset(log, 0, sizeof *log);
    if (arch == NULL) {
        char known[256] = "";
        for (int i = 0; arch_table[i]; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                     arch_table[i]->family);
        return sq_fail(SQ_ERR_INPUT, "family '%s' cannot be exported to GGUF: no GGUF architecture holds it "
                       "(GGUF export knows: %s); export it as safetensors instead", cfg->family, known);
    }
    SQ_TRY(sq_gguf_set_string(out, "general.architecture", arch->arch));
    SQ_TRY(sq_gguf_set_string(out, "general.name", model_name && model_name[0] ? model_name : cfg->family));
    SQ_TRY(sq_gguf_set_u32(out, "general.alignment", SQ_GGUF_DEFAULT_ALIGNMENT));
    SQ_TRY(sq_gguf_set_u32(out, "general.quantization_version", 2));
    SQ_TRY(arch->write_metadata(cfg, tensors, count, tokenizer_path, out));
    for (size_t i = 0; i < count; i++) {
        const sq_qtensor *qt = &tensors[i];
        sq_export_tensor row;
        sq_gguf_placement place;
        int type = 0, n_dims = qt->ndim;
        int64_t ne[SQ_GGUF_MAX_DIMS];
        uint64_t nbytes = 0;
        memset(&row, 0, sizeof row);
        snprintf(row.name, sizeof row.name, "%s", qt->name);
        snprintf(row.format, sizeof row.format, "%s", qt->format);
        memset(&place, 0, sizeof place);
        SQ_TRY(arch->target_name(cfg, qt, row.target, sizeof row.target, &place));
        if (row.target[0] == '\0') {
            snprintf(row.conversion, sizeof row.conversion, "not written: shares storage with '%s'",
                     qt->alias_of ? qt->alias_of : "?");
            SQ_TRY(sq_export_log_add(log, &row));
            continue;
        }
        if (qt->alias_of)
            SQ_FAIL(SQ_ERR_INPUT, "tensor '%s' shares storage with '%s'; the %s architecture has no place for "
                    "a second name", qt->name, qt->alias_of, arch->arch);
        if (n_dims < 1 || n_dims > SQ_GGUF_MAX_DIMS)
            SQ_FAIL(SQ_ERR_INPUT, "tensor '%s' has %d dimensions; GGUF holds 1 to 4", qt->name, n_dims);
        if (strlen(row.target) >= 64)
            SQ_FAIL(SQ_ERR_INPUT, "tensor name '%s' is %zu characters; GGUF (ggml) names hold 63", row.target,
                    strlen(row.target));
        SQ_TRY(tensor_payload(arch, qt, place.f32 || place.neg_exp, &type, &data, &nbytes, &row));
        if (place.neg_exp) {
            float *v = data;
            for (uint64_t e = 0; e < nbytes / 4; e++)
                v[e] = -expf(v[e]);
            snprintf(row.conversion + strlen(row.conversion), sizeof row.conversion - strlen(row.conversion),
                     "%swritten as -exp(x)", row.conversion[0] ? "; " : "");
        }
        if (place.permute_heads > 0) {
            SQ_TRY(permute_rows(qt->name, data, nbytes, qt->shape[0], place.permute_heads));
            snprintf(row.conversion + strlen(row.conversion), sizeof row.conversion - strlen(row.conversion),
                     "%srows permuted to llama.cpp's RoPE pair layout", row.conversion[0] ? "; " : "");
        }
        if (place.ndim > 0) {
            int64_t a = 1, b = 1;
            for (int d = 0; d < n_dims; d++)
                a *= qt->shape[d];
            for (int d = 0; d < place.ndim; d++)
                b *= place.shape[d];
            if (a != b)
                SQ_FAIL(SQ_ERR_RUN, "tensor '%s': placement shape does not hold its %lld values", qt->name,
                        (long long)a);
            n_dims = place.ndim;
            for (int d = 0; d < n_dims; d++)
                ne[d] = place.shape[n_dims - 1 - d];
        } else {
            for (int d = 0; d < n_dims; d++)
                ne[d] = qt->shape[n_dims - 1 - d];
        }
        SQ_TRY(sq_gguf_add_tensor(out, row.target, n_dims, ne, type, data, nbytes));
        free(data);
        data = NULL;
        row.bytes = nbytes;
        SQ_TRY(sq_export_log_add(log, &row));
    }
cleanup:
    free(data);
    if (st != SQ_OK) {
        sq_gguf_free(out);
        sq_export_log_free(log);
    }
    return st;
}

/* ---- reading ---- */

static sq_status tensor_to_f32(const char *path, const sq_gguf_tensor *t, float *out)
{
    int64_t ne0 = t->ne[0], rows = 1;
    for (int d = 1; d < t->n_dims; d++)
        rows *= t->ne[d];
    const sq_ggml_block_kind *kind = sq_ggml_block_kind_of_type(t->type);
    if (kind) {
        uint64_t row_bytes = (uint64_t)(ne0 / kind->block_values) * (uint64_t)kind->block_bytes;
        for (int64_t r = 0; r < rows; r++)
            kind->dequantize_row((const uint8_t *)t->data + (uint64_t)r * row_bytes, out + r * ne0, ne0);
        return SQ_OK;
    }
    int64_t n = rows * ne0;
    const uint16_t *h = t->data;
    switch (t->type) {
    case SQ_GGML_TYPE_F32:
        memcpy(out, t->data, (size_t)n * 4);
        return SQ_OK;
    case SQ_GGML_TYPE_F16:
        for (int64_t i = 0; i < n; i++)
            out[i] = sq_f16_to_f32(h[i]);
        return SQ_OK;
    case SQ_GGML_TYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            out[i] = sq_bf16_to_f32(h[i]);
        return SQ_OK;
    default:
        return sq_fail(SQ_ERR_INPUT, "%s: tensor '%s' has ggml type %s, which is not a float weight", path, t->name,
                       sq_ggml_type_name(t->type) ? sq_ggml_type_name(t->type) : "?");
    }
}

/* The squeeze format that holds a GGUF tensor's bytes as they are, or NULL:
 * ggml's blocks ("blocks" [rows, row bytes]) or fp16/bf16 bits ("data"). */
static const char *packed_format(const sq_gguf_arch *arch, const sq_gguf_tensor *t, const char *name)
{
    const sq_ggml_block_kind *kind = sq_ggml_block_kind_of_type(t->type);
    const plain_float *plain = plain_type_of(NULL, t->type);
    const char *format = kind ? kind->format : plain && plain->dtype != SQ_DTYPE_F32 ? plain->format : NULL;
    if (t->n_dims != 2 || format == NULL || sq_quant_format_find(format) == NULL)
        return NULL;
    if (arch->restores && arch->restores(name))
        return NULL; /* its values or shape change on reading: through fp32 */
    return format;
}

/* The tensor as the quantized tensor its squeeze format stores, its bytes copied. */
static sq_status keep_packed(const sq_gguf_tensor *t, const char *name, const char *format, const int64_t *shape,
                             sq_qtensor *out)
{
    const sq_ggml_block_kind *kind = sq_ggml_block_kind_of_type(t->type);
    int64_t buffer_shape[2] = {shape[0], shape[1]};
    sq_dtype dtype = kind ? SQ_DTYPE_U8 : plain_type_of(format, -1)->dtype;
    void *data = NULL;
    if (kind)
        buffer_shape[1] = shape[1] / kind->block_values * kind->block_bytes;
    if ((uint64_t)buffer_shape[0] * (uint64_t)buffer_shape[1] * sq_dtype_size(dtype) != t->nbytes)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' (%s): %llu bytes, not the %lld x %lld of its type", t->name,
                       format, (unsigned long long)t->nbytes, (long long)shape[0], (long long)shape[1]);
    sq_quant_begin(out, name, format, shape[0], shape[1]);
    sq_status st = sq_qtensor_add_buffer(out, kind ? "blocks" : "data", dtype, 2, buffer_shape, &data);
    if (st == SQ_OK)
        memcpy(data, t->data, (size_t)t->nbytes);
    return sq_quant_end(out, st);
}

sq_status sq_gguf_model_read(const char *path, sq_model_config *cfg, sq_tensor_set *set, uint64_t *stored_bytes,
                             sq_qtensor **packed, size_t *packed_count)
{
    size_t packed_capacity = 0;
    sq_status st = SQ_OK;
    sq_gguf_file f;
    const char *arch_name = NULL;
    const sq_gguf_arch *arch;
    float *values = NULL;
    uint64_t bytes = 0;

    memset(cfg, 0, sizeof *cfg);
    sq_tensor_set_init(set);
    SQ_TRY(sq_gguf_read(path, &f));
    if ((st = sq_gguf_get_string(&f, "general.architecture", &arch_name)) != SQ_OK) {
        sq_error_context("%s", path);
        goto cleanup;
    }
    arch = arch_named(arch_name);
    if (arch == NULL) {
        char known[256] = "";
        for (int i = 0; arch_table[i]; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", arch_table[i]->arch);
        SQ_FAIL(SQ_ERR_INPUT, "%s: GGUF architecture '%s' has no squeeze model family (squeeze reads: %s)", path,
                arch_name, known);
    }
    snprintf(cfg->family, sizeof cfg->family, "%s", arch->family);
    if ((st = arch->read_config(&f, cfg)) != SQ_OK) {
        sq_error_context("%s (architecture %s)", path, arch->arch);
        goto cleanup;
    }
    set->source_path = strdup(path);
    set->source_format = strdup("gguf");
    for (size_t i = 0; i < f.tensor_count; i++) {
        const sq_gguf_tensor *t = &f.tensors[i];
        char name[256];
        int64_t shape[SQ_MAX_DIMS], numel = 1;
        SQ_TRY(arch->squeeze_name(&f, t->name, name, sizeof name));
        for (int d = 0; d < t->n_dims; d++) {
            shape[d] = t->ne[t->n_dims - 1 - d];
            numel *= shape[d];
        }
        bytes += t->nbytes;
        if (t->type == SQ_GGML_TYPE_I8 || t->type == SQ_GGML_TYPE_I16 || t->type == SQ_GGML_TYPE_I32 ||
            t->type == SQ_GGML_TYPE_I64 || t->type == SQ_GGML_TYPE_F64) {
            /* state, not weights: kept in its own dtype, as the model form keeps "raw" tensors */
            sq_dtype dtype = t->type == SQ_GGML_TYPE_I8    ? SQ_DTYPE_I8
                             : t->type == SQ_GGML_TYPE_I16 ? SQ_DTYPE_I16
                             : t->type == SQ_GGML_TYPE_I32 ? SQ_DTYPE_I32
                             : t->type == SQ_GGML_TYPE_I64 ? SQ_DTYPE_I64
                                                           : SQ_DTYPE_F64;
            void *copy = NULL;
            SQ_TRY(sq_alloc(&copy, t->nbytes ? (size_t)t->nbytes : 1, 1, name));
            memcpy(copy, t->data, (size_t)t->nbytes);
            st = sq_tensor_set_add(set, name, dtype, t->n_dims, shape, copy, NULL);
            if (st != SQ_OK) {
                free(copy);
                goto cleanup;
            }
            continue;
        }
        const char *format = packed ? packed_format(arch, t, name) : NULL;
        if (format) {
            SQ_TRY(sq_grow(packed, &packed_capacity, *packed_count + 1, sizeof **packed, 32, "the packed tensors"));
            SQ_TRY(keep_packed(t, name, format, shape, &(*packed)[*packed_count]));
            (*packed_count)++;
            SQ_TRY(sq_tensor_set_add(set, name, SQ_DTYPE_F32, t->n_dims, shape, NULL, NULL));
            continue;
        }
        SQ_TRY(sq_alloc(&values, (size_t)(numel ? numel : 1), sizeof *values, name));
        SQ_TRY(tensor_to_f32(path, t, values));
        int ndim = t->n_dims;
        if (arch->restore)
            SQ_TRY(arch->restore(name, values, numel, &ndim, shape));
        SQ_TRY(sq_tensor_set_add(set, name, SQ_DTYPE_F32, ndim, shape, values, NULL));
        values = NULL;
    }
    {
        /* squeeze.aliases: tied names written once */
        const sq_gguf_kv *aliases = sq_gguf_find(&f, "squeeze.aliases");
        const char *line = aliases && aliases->type == SQ_GGUF_STRING ? aliases->data : "";
        while (*line) {
            const char *end = strchr(line, '\n'), *eq = strchr(line, '=');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            if (eq && eq < line + len) {
                char alias[256], owner[256];
                snprintf(alias, sizeof alias, "%.*s", (int)(eq - line), line);
                snprintf(owner, sizeof owner, "%.*s", (int)(line + len - eq - 1), eq + 1);
                const sq_tensor *o = sq_tensor_set_find(set, owner);
                if (o == NULL)
                    SQ_FAIL(SQ_ERR_INPUT, "%s: squeeze.aliases names '%s' as sharing storage with '%s', which the "
                            "file does not hold", path, alias, owner);
                SQ_TRY(sq_tensor_set_add(set, alias, o->dtype, o->ndim, o->shape, NULL, owner));
            }
            line += len + (end ? 1 : 0);
        }
    }
    if (arch->complete)
        SQ_TRY(arch->complete(set));
    if (stored_bytes)
        *stored_bytes = bytes;
    sq_info("read %s: GGUF architecture %s, %zu tensors, %llu tensor bytes", path, arch->arch, f.tensor_count,
            (unsigned long long)bytes);
cleanup:
    free(values);
    sq_gguf_free(&f);
    if (st != SQ_OK)
        sq_tensor_set_free(set);
    return st;
}
