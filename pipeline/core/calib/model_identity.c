/* model_identity.c - family + config + sha256 of sorted tensor names and shapes. */
#include "calib/model_identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_names(const void *a, const void *b)
{
    const sq_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

sq_status sq_model_identity_compute(const sq_model_config *cfg, const sq_tensor_set *set, sq_model_identity *out)
{
    sq_status st = SQ_OK;
    const sq_tensor **sorted = NULL;
    char *text = NULL;
    size_t size = 1, used = 0;
    memset(out, 0, sizeof *out);
    snprintf(out->family, sizeof out->family, "%s", cfg->family);
    SQ_TRY(sq_model_config_to_json(cfg, &out->config_json));
    if (set->count > 0)
        SQ_TRY(sq_alloc(&sorted, set->count, sizeof *sorted, "tensor list"));
    for (size_t i = 0; i < set->count; i++) {
        sorted[i] = &set->tensors[i];
        size += strlen(set->tensors[i].name) + 24 * (size_t)(set->tensors[i].ndim + 1);
    }
    /* Sorted: a pickle keeps module order, HDF5 iterates names alphabetically. */
    if (set->count > 1)
        qsort(sorted, set->count, sizeof *sorted, compare_names);
    SQ_TRY(sq_alloc(&text, size, 1, "tensor list"));
    for (size_t i = 0; i < set->count; i++) {
        char shape[256];
        used += (size_t)snprintf(text + used, size - used, "%s %s\n", sorted[i]->name,
                                 sq_shape_string(sorted[i], shape, sizeof shape));
    }
    sq_sha256_hex(text, used, out->tensors_sha256);
    out->tensor_count = (long)set->count;
cleanup:
    free(sorted);
    free(text);
    if (st != SQ_OK)
        sq_model_identity_free(out);
    return st;
}

void sq_model_identity_free(sq_model_identity *identity)
{
    free(identity->config_json);
    memset(identity, 0, sizeof *identity);
}

bool sq_model_identity_equal(const sq_model_identity *a, const sq_model_identity *b)
{
    return strcmp(a->family, b->family) == 0 && strcmp(a->tensors_sha256, b->tensors_sha256) == 0 &&
           a->config_json && b->config_json && strcmp(a->config_json, b->config_json) == 0;
}

const char *sq_model_identity_describe(const sq_model_identity *identity, const sq_model_config *cfg, char *buf,
                                       size_t size)
{
    if (cfg)
        snprintf(buf, size, "%s (vocab %d, hidden %d, %d layers, %ld tensors, names+shapes sha256 %.12s)",
                 identity->family, cfg->vocab_size, cfg->hidden_size, cfg->num_layers, identity->tensor_count,
                 identity->tensors_sha256);
    else
        snprintf(buf, size, "%s (%ld tensors, names+shapes sha256 %.12s)", identity->family,
                 identity->tensor_count, identity->tensors_sha256);
    return buf;
}
