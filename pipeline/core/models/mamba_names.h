/* mamba_names.h - Mamba tensor names with or without "backbone." (internal to
 * models/mamba.c and models/mamba_forward.c). */
#ifndef SQ_MODELS_MAMBA_NAMES_H
#define SQ_MODELS_MAMBA_NAMES_H

#include <stdio.h>

#include "tensor/tensor.h"

/* "backbone." or "" by where the embedding is, or NULL when there is none. */
static inline const char *sq_mamba_prefix(const sq_tensor_set *set)
{
    if (sq_tensor_set_find(set, "backbone.embeddings.weight"))
        return "backbone.";
    if (sq_tensor_set_find(set, "embeddings.weight"))
        return "";
    return NULL;
}

/* "<prefix>layers.<layer>.<suffix>", or "<prefix><suffix>" for layer < 0. */
static inline void sq_mamba_name(char *buf, size_t size, const char *prefix, int layer, const char *suffix)
{
    if (layer < 0)
        snprintf(buf, size, "%s%s", prefix, suffix);
    else
        snprintf(buf, size, "%slayers.%d.%s", prefix, layer, suffix);
}

static inline int sq_mamba_count_layers(const sq_tensor_set *set, const char *prefix)
{
    char name[160];
    int n = 0;
    for (;; n++) {
        sq_mamba_name(name, sizeof name, prefix, n, "mixer.in_proj.weight");
        if (!sq_tensor_set_find(set, name))
            return n;
    }
}

#endif
