/* gguf_keys.c - what the GGUF architectures (gguf_llama.c, gguf_mamba.c) do the
 * same way: their metadata keys as a table of (key, type, config field) written
 * and read by one loop, and their layer-numbered tensor names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelio/gguf_arch.h"

static void *field_of(const sq_gguf_key *k, sq_model_config *cfg)
{
    return k->place == SQ_GGUF_IN_FAMILY ? (void *)(cfg->own.bytes + k->offset) : (void *)((char *)cfg + k->offset);
}

static double value_of(const sq_gguf_key *k, const sq_model_config *cfg)
{
    if (k->place == SQ_GGUF_CONSTANT)
        return k->constant;
    const void *field = k->place == SQ_GGUF_IN_FAMILY ? (const void *)(cfg->own.bytes + k->offset)
                                                      : (const void *)((const char *)cfg + k->offset);
    return k->type == SQ_GGUF_FLOAT32 ? *(const double *)field : (double)*(const int *)field;
}

sq_status sq_gguf_write_keys(const char *arch, const sq_gguf_key *keys, size_t count, const sq_model_config *cfg,
                             sq_gguf_file *out)
{
    sq_status st = SQ_OK;
    char name[128];
    for (size_t i = 0; i < count && st == SQ_OK; i++) {
        const double v = value_of(&keys[i], cfg);
        snprintf(name, sizeof name, "%s.%s", arch, keys[i].key);
        if (keys[i].type == SQ_GGUF_FLOAT32)
            st = sq_gguf_set_f32(out, name, (float)v);
        else if (keys[i].type == SQ_GGUF_BOOL)
            st = sq_gguf_set_bool(out, name, v != 0.0);
        else if (v < 0.0 || v > 4294967295.0)
            st = sq_fail(SQ_ERR_INPUT, "%s = %g does not fit GGUF's u32", name, v);
        else
            st = sq_gguf_set_u32(out, name, (uint32_t)v);
    }
    return st;
}

sq_status sq_gguf_read_keys(const sq_gguf_file *f, const char *arch, const sq_gguf_key *keys, size_t count,
                            sq_model_config *cfg)
{
    sq_status st = SQ_OK;
    char name[128];
    for (size_t i = 0; i < count && st == SQ_OK; i++) {
        const sq_gguf_key *k = &keys[i];
        snprintf(name, sizeof name, "%s.%s", arch, k->key);
        if (k->place == SQ_GGUF_CONSTANT || (k->optional && sq_gguf_find(f, name) == NULL))
            continue;
        if (k->type == SQ_GGUF_FLOAT32) {
            float v;
            if ((st = sq_gguf_get_f32(f, name, &v)) == SQ_OK)
                *(double *)field_of(k, cfg) = v;
        } else {
            uint32_t v;
            if ((st = sq_gguf_get_u32(f, name, &v)) == SQ_OK && v > 0x7fffffffu)
                st = sq_fail(SQ_ERR_INPUT, "%s = %u is out of range", name, v);
            if (st == SQ_OK)
                *(int *)field_of(k, cfg) = (int)v;
        }
    }
    return st;
}

bool sq_gguf_name_match(const char *pattern, const char *name, int *layer)
{
    const char *hash = strchr(pattern, '#');
    if (hash == NULL)
        return strcmp(pattern, name) == 0;
    size_t head = (size_t)(hash - pattern);
    char *end;
    if (strncmp(pattern, name, head) != 0 || name[head] < '0' || name[head] > '9')
        return false;
    long v = strtol(name + head, &end, 10);
    if (strcmp(end, hash + 1) != 0 || v > 100000)
        return false;
    *layer = (int)v;
    return true;
}

void sq_gguf_name_expand(const char *prefix, const char *pattern, int layer, char *out, size_t size)
{
    const char *hash = strchr(pattern, '#');
    if (hash == NULL)
        snprintf(out, size, "%s%s", prefix, pattern);
    else
        snprintf(out, size, "%s%.*s%d%s", prefix, (int)(hash - pattern), pattern, layer, hash + 1);
}

sq_status sq_gguf_vocab_from_embedding(const sq_gguf_file *f, const char *arch, sq_model_config *cfg)
{
    const sq_gguf_tensor *embd = sq_gguf_find_tensor(f, "token_embd.weight");
    if (embd == NULL || embd->n_dims != 2)
        return sq_fail(SQ_ERR_INPUT, "a %s GGUF needs the 2-D tensor token_embd.weight", arch);
    cfg->vocab_size = (int)embd->ne[1];
    return SQ_OK;
}

sq_status sq_gguf_tie_head(sq_tensor_set *set, const char *head_name, const char *embedding_name)
{
    const sq_tensor *embd = sq_tensor_set_find(set, embedding_name);
    if (sq_tensor_set_find(set, head_name) || embd == NULL)
        return SQ_OK;
    return sq_tensor_set_add(set, head_name, embd->dtype, embd->ndim, embd->shape, NULL, embedding_name);
}
