/* model_identity.c - family + config + sha256 of sorted tensor names and shapes. */
#include "calib/model_identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "util/log.h"

static int compare_names(const void *a, const void *b)
{
    const sq_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* sha256 of "name shape" lines, one per tensor in name order. */
static sq_status names_and_shapes_sha256(const sq_tensor_set *set, char sha256[SQ_SHA256_HEX])
{
    sq_status st = SQ_OK;
    const sq_tensor **sorted = NULL;
    char *text = NULL;
    size_t size = 1, used = 0;
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
    sq_sha256_hex(text, used, sha256);
cleanup:
    free(sorted);
    free(text);
    return st;
}

sq_status sq_model_identity_compute(const sq_model_config *cfg, const sq_tensor_set *set, sq_model_identity *out)
{
    sq_status st = SQ_OK;
    memset(out, 0, sizeof *out);
    snprintf(out->family, sizeof out->family, "%s", cfg->family);
    out->tensor_count = (long)set->count;
    SQ_TRY(names_and_shapes_sha256(set, out->tensors_sha256));
    SQ_TRY(sq_model_config_to_json(cfg, &out->config_json)); /* last: a failure leaves nothing to free */
cleanup:
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

/* The identity's attributes, each under a prefix ("" or "source_"). */
enum { KEY_FAMILY, KEY_CONFIG_JSON, KEY_TENSORS_SHA256, KEY_TENSOR_COUNT, KEY_COUNT };
static const char *const keys[KEY_COUNT] = {"family", "config_json", "model_tensors_sha256", "model_tensor_count"};

static const char *key_name(char out[96], const char *prefix, int key)
{
    snprintf(out, 96, "%s%s", prefix ? prefix : "", keys[key]);
    return out;
}

sq_status sq_model_identity_write_attrs(hid_t object, const char *prefix, const sq_model_identity *identity)
{
    sq_status st = SQ_OK;
    char name[96];
    SQ_TRY(sq_h5_write_attr_string(object, key_name(name, prefix, KEY_FAMILY), identity->family));
    SQ_TRY(sq_h5_write_attr_string(object, key_name(name, prefix, KEY_CONFIG_JSON),
                                   identity->config_json ? identity->config_json : ""));
    SQ_TRY(sq_h5_write_attr_string(object, key_name(name, prefix, KEY_TENSORS_SHA256), identity->tensors_sha256));
    SQ_TRY(sq_h5_write_attr_int(object, key_name(name, prefix, KEY_TENSOR_COUNT), identity->tensor_count));
cleanup:
    return st;
}

sq_status sq_model_identity_read_attrs(hid_t object, const char *prefix, sq_model_identity *identity, bool *found)
{
    sq_status st = SQ_OK;
    char name[96];
    int64_t count = 0;
    int present = 0;
    memset(identity, 0, sizeof *identity);
    *found = false;
    for (int key = 0; key < KEY_COUNT; key++)
        present += sq_h5_has_attr(object, key_name(name, prefix, key)) > 0;
    if (present == 0)
        return SQ_OK;
    if (present != KEY_COUNT)
        SQ_FAIL(SQ_ERR_INPUT, "the model identity attributes %sfamily, %sconfig_json, %smodel_tensors_sha256 and "
                "%smodel_tensor_count are recorded only in part: the artifact is damaged; write it again",
                prefix, prefix, prefix, prefix);
    SQ_TRY(sq_h5_read_attr_text(object, key_name(name, prefix, KEY_FAMILY), identity->family,
                                sizeof identity->family));
    SQ_TRY(sq_h5_read_attr_string(object, key_name(name, prefix, KEY_CONFIG_JSON), &identity->config_json));
    SQ_TRY(sq_h5_read_attr_text(object, key_name(name, prefix, KEY_TENSORS_SHA256), identity->tensors_sha256,
                                sizeof identity->tensors_sha256));
    SQ_TRY(sq_h5_read_attr_int(object, key_name(name, prefix, KEY_TENSOR_COUNT), &count));
    identity->tensor_count = (long)count;
    *found = true;
cleanup:
    if (st != SQ_OK)
        sq_model_identity_free(identity);
    return st;
}

sq_status sq_model_identity_of_loaded(const char *path, const sq_loaded_model *loaded, sq_model_identity *out)
{
    sq_status st = SQ_OK;
    sq_model_identity recorded = {0};
    hid_t file = -1, accounting = -1;
    bool found = false;
    char mine[512], theirs[512];
    SQ_TRY(sq_model_identity_compute(&loaded->config, &loaded->tensors, out));
    if (strcmp(loaded->kind, "model") != 0)
        goto cleanup;
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot open %s as HDF5 to read the model it was compressed from", path);
    if (!sq_h5_exists(file, "accounting")) {
        sq_debug("%s has no /accounting: its own identity stands for its source's", path);
        goto cleanup;
    }
    accounting = H5Gopen2(file, "accounting", H5P_DEFAULT);
    SQ_TRY(sq_model_identity_read_attrs(accounting, "source_", &recorded, &found));
    if (!found) {
        sq_debug("%s records no source model (/accounting@source_*): written by an earlier squeeze-compress", path);
        goto cleanup;
    }
    if (!sq_model_identity_equal(&recorded, out))
        SQ_FAIL(SQ_ERR_INPUT,
                "%s says it was compressed from %s, but its tensors and config are %s: the artifact is not what it "
                "says; compress the model again",
                path, sq_model_identity_describe(&recorded, NULL, theirs, sizeof theirs),
                sq_model_identity_describe(out, &loaded->config, mine, sizeof mine));
cleanup:
    sq_model_identity_free(&recorded);
    sq_h5_close(accounting);
    sq_h5_close(file);
    if (st != SQ_OK)
        sq_model_identity_free(out);
    return st;
}
