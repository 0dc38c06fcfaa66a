/* loader.c - a runnable model (config + fp32 tensors) from an artifact or a checkpoint.
 *
 * The one place that reads squeeze's HDF5 model form from a path
 * (read_model_hdf5, behind both sq_checkpoint_read and sq_model_load).
 * An HDF5 file must be a squeeze inspect or model artifact: its /model group
 * holds the family, the config and the tensors (modelio/model_file.h).  Any
 * other file goes to the checkpoint readers (checkpoint/checkpoint.h), then the
 * family registry detects the family, infers the config from tensor shapes and
 * validates that every tensor the forward pass needs is there.
 */
#include "modelio/loader.h"

#include <stdbool.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact/artifact.h"
#include "checkpoint/checkpoint.h"
#include "gguf/gguf_file.h"
#include "modelio/gguf_model.h"
#include "modelio/model_file.h"
#include "util/log.h"

/* "itera (description; expects keys ...; names 0 of 3 tensors here); ..." for
 * messages.  With a set, each family says how many of its tensors it can name. */
static void family_list(char *buf, size_t size, const sq_tensor_set *set)
{
    const sq_family *const *all = sq_family_all();
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; all[i] && used < size; i++) {
        const char *keys = all[i]->expects_keys;
        used += (size_t)snprintf(buf + used, size - used, "%s%s (%s", i ? "; " : "", all[i]->name,
                                 all[i]->description ? all[i]->description : "");
        if (keys && used < size)
            used += (size_t)snprintf(buf + used, size - used, "; expects keys such as %s", keys);
        if (set && used < size) {
            size_t named = 0;
            for (size_t t = 0; t < set->count; t++)
                named += sq_family_group_of(all[i], set->tensors[t].name) != SQ_GROUP_NONE;
            used += (size_t)snprintf(buf + used, size - used, "; names %zu of the %zu tensors here", named,
                                     set->count);
        }
        if (used < size)
            used += (size_t)snprintf(buf + used, size - used, ")");
    }
}

static sq_status family_named(const char *name, const char *path, const sq_family **family)
{
    char known[2048];
    *family = sq_family_by_name(name);
    if (*family)
        return SQ_OK;
    family_list(known, sizeof known, NULL);
    return sq_fail(SQ_ERR_INPUT, "%s: model family '%s' is not known; squeeze knows: %s", path, name, known);
}

/* Converts the float tensors of a checkpoint to fp32 in place (f16/bf16/f64 ->
 * f32): the forward pass runs in fp32.  Integer and bool buffers keep their dtype. */
static sq_status tensors_to_f32(sq_tensor_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        sq_tensor *t = &set->tensors[i];
        float *values = NULL;
        sq_status st;
        if (t->dtype == SQ_DTYPE_F32 || !(t->dtype == SQ_DTYPE_F16 || t->dtype == SQ_DTYPE_BF16 ||
                                          t->dtype == SQ_DTYPE_F64))
            continue;
        if (t->alias_of == NULL) {
            st = sq_tensor_to_f32(set, t, &values);
            if (st != SQ_OK)
                return st;
            sq_tensor_replace_data(set, t, values);
        }
        t->dtype = SQ_DTYPE_F32;
        t->nbytes = (size_t)sq_tensor_numel(t) * sizeof(float);
    }
    return SQ_OK;
}

/* The first dotted component that every tensor name shares ("model." of a
 * wrapper module that holds the model as an attribute), or 0 when there is none. */
static size_t common_key_prefix(const sq_tensor_set *set)
{
    const char *first, *dot;
    size_t n;
    if (set->count == 0)
        return 0;
    first = set->tensors[0].name;
    dot = strchr(first, '.');
    if (dot == NULL)
        return 0;
    n = (size_t)(dot - first) + 1;
    for (size_t i = 1; i < set->count; i++)
        if (strncmp(set->tensors[i].name, first, n) != 0 || set->tensors[i].name[n] == '\0')
            return 0;
    return n;
}

/* A wrapper's prefix on every key ("model.", "module." of DataParallel,
 * "_orig_mod." of torch.compile) hides the family's names.  When no family
 * recognises the keys as they are but one recognises them without the common
 * prefix, the prefix is stripped (every tensor renamed, aliases too) and said. */
static const sq_family *detect_without_prefix(sq_tensor_set *set)
{
    size_t n = common_key_prefix(set);
    const sq_family *family;
    sq_tensor_set view = *set;
    sq_tensor *renamed;
    if (n == 0 || (renamed = malloc(set->count * sizeof *renamed)) == NULL)
        return NULL;
    for (size_t i = 0; i < set->count; i++) {
        renamed[i] = set->tensors[i];
        renamed[i].name += n;
        if (renamed[i].alias_of && strncmp(renamed[i].alias_of, set->tensors[0].name, n) == 0)
            renamed[i].alias_of += n;
    }
    view.tensors = renamed;
    family = sq_family_detect(&view);
    free(renamed);
    if (family == NULL)
        return NULL;
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(n < sizeof prefix ? n : sizeof prefix - 1), set->tensors[0].name);
    for (size_t i = 0; i < set->count; i++) {
        sq_tensor *t = &set->tensors[i];
        memmove(t->name, t->name + n, strlen(t->name + n) + 1);
        if (t->alias_of && strncmp(t->alias_of, prefix, n) == 0)
            memmove(t->alias_of, t->alias_of + n, strlen(t->alias_of + n) + 1);
    }
    sq_info("%s: every one of its %zu tensor names starts with '%s' (a wrapper module's attribute); stripped that "
            "prefix, and family %s recognises the names without it", set->source_path ? set->source_path :
            "checkpoint", set->count, prefix, family->name);
    return family;
}

sq_status sq_model_detect_family(sq_tensor_set *set, const char *family_name, const sq_family **family)
{
    char known[2048], keys[512];
    size_t used = 0;
    if (family_name && family_name[0] && strcmp(family_name, "auto") != 0)
        return family_named(family_name, set->source_path ? set->source_path : "checkpoint", family);
    *family = sq_family_detect(set);
    if (*family == NULL)
        *family = detect_without_prefix(set);
    if (*family)
        return SQ_OK;
    family_list(known, sizeof known, set);
    keys[0] = '\0';
    for (size_t i = 0; i < set->count && i < 6 && used < sizeof keys; i++)
        used += (size_t)snprintf(keys + used, sizeof keys - used, "%s'%s'", i ? ", " : "", set->tensors[i].name);
    return sq_fail(SQ_ERR_INPUT,
                   "%s: no model family recognises its %zu tensors (first keys: %s%s). squeeze knows: %s. If the "
                   "model is one of these with renamed keys, rename them back; otherwise its family is not "
                   "supported yet (docs: adding a model family)",
                   set->source_path ? set->source_path : "checkpoint", set->count, keys[0] ? keys : "none",
                   set->count > 6 ? ", ..." : "", known);
}

/* The one reader of squeeze's HDF5 model form from a path: opens the file and
 * reads /model (modelio/model_file.h).  With kind (a buffer of kind_size bytes)
 * the file must be an inspect or model artifact and its kind is copied there;
 * without, any HDF5 file holding /model is read. */
static sq_status read_model_hdf5(const char *path, char *kind, size_t kind_size, sq_model_config *cfg,
                                 sq_tensor_set *set, uint64_t *stored, sq_loaded_model *packed)
{
    sq_status st = SQ_OK;
    hid_t file = -1;
    char *found = NULL;

    SQ_TRY(sq_artifact_open(path, NULL, &file));
    if (kind) {
        SQ_TRY(sq_h5_read_attr_string(file, "squeeze_artifact", &found));
        if (strcmp(found, "inspect") != 0 && strcmp(found, "model") != 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s is a squeeze '%s' artifact, but a model is needed here: give an 'inspect' or "
                    "'model' artifact (or a checkpoint)", path, found);
        snprintf(kind, kind_size, "%s", found);
    }
    if (packed)
        SQ_TRY(sq_model_file_read_packed(file, cfg, set, stored, &packed->packed, &packed->packed_count));
    else
        SQ_TRY(sq_model_file_read(file, cfg, set, stored));
cleanup:
    free(found);
    if (file >= 0)
        H5Fclose(file);
    return st;
}

sq_status sq_checkpoint_read(const char *path, sq_tensor_set *out)
{
    /* HDF5 File Format Specification, superblock signature. */
    static const unsigned char hdf5_magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8] = {0};
    size_t n = 0;
    sq_status st;
    sq_model_config cfg;
    FILE *f = fopen(path, "rb");

    if (f != NULL) {
        n = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    if (n >= 4 && memcmp(head, "GGUF", 4) == 0) {
        st = sq_gguf_model_read(path, &cfg, out, NULL, NULL, NULL);
        if (st != SQ_OK)
            sq_error_context("reading GGUF '%s'", path);
        return st;
    }
    if (n < sizeof head || memcmp(head, hdf5_magic, sizeof head) != 0)
        return sq_checkpoint_read_foreign(path, out); /* names the file when it cannot be opened */
    memset(&cfg, 0, sizeof cfg);
    sq_tensor_set_init(out);
    st = read_model_hdf5(path, NULL, 0, &cfg, out, NULL, NULL);
    if (st != SQ_OK) {
        sq_error_context("reading squeeze model '%s'", path);
        sq_tensor_set_free(out);
        return st;
    }
    return sq_checkpoint_set_source(out, path, "squeeze-hdf5");
}

/* A stored model (squeeze HDF5, GGUF) names its family: it must be registered, be the
 * one asked for (model.family, or auto), and its tensors must pass its validation. */
static sq_status stored_family(const char *path, const char *family_name, sq_loaded_model *out)
{
    sq_status st = SQ_OK;
    SQ_TRY(family_named(out->config.family, path, &out->family));
    if (family_name && family_name[0] && strcmp(family_name, "auto") != 0 &&
        strcmp(family_name, out->config.family) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s holds a '%s' model, but family '%s' was asked for (model.family); use 'auto' or "
                "'%s'", path, out->config.family, family_name, out->config.family);
    SQ_TRY(out->family->validate(&out->tensors, &out->config));
cleanup:
    return st;
}

static sq_status load_artifact(const char *path, const char *family_name, bool packed, sq_loaded_model *out)
{
    sq_status st = SQ_OK;
    uint64_t stored = 0;

    SQ_TRY(read_model_hdf5(path, out->kind, sizeof out->kind, &out->config, &out->tensors, &stored,
                           packed ? out : NULL));
    SQ_TRY(stored_family(path, family_name, out));
    out->tensor_bytes = stored;
cleanup:
    return st;
}

/* A GGUF file: its architecture names the family (modelio/gguf_model.h). */
static sq_status load_gguf(const char *path, const char *family_name, bool packed, sq_loaded_model *out)
{
    sq_status st = SQ_OK;
    snprintf(out->kind, sizeof out->kind, "gguf");
    SQ_TRY(sq_gguf_model_read(path, &out->config, &out->tensors, &out->tensor_bytes, packed ? &out->packed : NULL,
                              &out->packed_count));
    SQ_TRY(stored_family(path, family_name, out));
cleanup:
    return st;
}

static sq_status load_checkpoint(const char *path, const char *family_name, const sq_family_hints *hints,
                                 sq_loaded_model *out)
{
    sq_status st = SQ_OK;
    sq_family_hints none = {0};
    SQ_TRY(sq_checkpoint_read_foreign(path, &out->tensors));
    snprintf(out->kind, sizeof out->kind, "checkpoint");
    /* The tensors' bytes in their own dtype, shared storage once (before fp32 conversion). */
    for (size_t i = 0; i < out->tensors.count; i++)
        if (out->tensors.tensors[i].alias_of == NULL)
            out->tensor_bytes += out->tensors.tensors[i].nbytes;
    SQ_TRY(sq_model_detect_family(&out->tensors, family_name, &out->family));
    SQ_TRY(out->family->infer_config(&out->tensors, hints ? hints : &none, &out->config));
    SQ_TRY(out->family->validate(&out->tensors, &out->config));
    SQ_TRY(tensors_to_f32(&out->tensors));
cleanup:
    return st;
}

static sq_status load(const char *path, const char *family_name, const sq_family_hints *hints, bool packed,
                      sq_loaded_model *out);

sq_status sq_model_load(const char *path, const char *family_name, const sq_family_hints *hints,
                        sq_loaded_model *out)
{
    return load(path, family_name, hints, false, out);
}

sq_status sq_model_load_packed(const char *path, const char *family_name, const sq_family_hints *hints,
                               sq_loaded_model *out)
{
    return load(path, family_name, hints, true, out);
}

static sq_status load(const char *path, const char *family_name, const sq_family_hints *hints, bool packed,
                      sq_loaded_model *out)
{
    sq_status st = SQ_OK;
    struct stat info;
    memset(out, 0, sizeof *out);
    sq_tensor_set_init(&out->tensors);
    if (stat(path, &info) != 0)
        return sq_fail(SQ_ERR_INPUT, "cannot read model %s: %s", path, strerror(errno));
    if (!S_ISREG(info.st_mode))
        return sq_fail(SQ_ERR_INPUT, "model %s is not a regular file", path);
    out->file_bytes = (uint64_t)info.st_size;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* squeeze reports HDF5 errors itself */
    if (sq_gguf_is_gguf(path))
        st = load_gguf(path, family_name, packed, out);
    else if (H5Fis_hdf5(path) > 0)
        st = load_artifact(path, family_name, packed, out);
    else
        st = load_checkpoint(path, family_name, hints, out);
    if (st != SQ_OK) {
        sq_loaded_model_free(out);
        return st;
    }
    sq_info("loaded %s (%s, family %s): %zu tensors (%zu kept packed), %llu tensor bytes, %llu file bytes", path,
            out->kind, out->family->name, out->tensors.count, out->packed_count,
            (unsigned long long)out->tensor_bytes, (unsigned long long)out->file_bytes);
    return SQ_OK;
}

void sq_loaded_model_free(sq_loaded_model *model)
{
    sq_tensor_set_free(&model->tensors);
    for (size_t i = 0; i < model->packed_count; i++)
        sq_qtensor_free(&model->packed[i]);
    free(model->packed);
    memset(model, 0, sizeof *model);
}
