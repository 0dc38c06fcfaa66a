/* hf_config.c - finding and reading the JSON config of a checkpoint (jansson). */
#include "models/hf_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Python's json module writes float('inf') as Infinity and nan as NaN, which are not
 * JSON (transformers' Mamba2 config.json has "time_step_limit": [0.0, Infinity]).
 * Outside strings they become 1e308 / -1e308 / null; anything else is left as it is. */
static char *python_json_text(const char *path, size_t limit)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL, *out = NULL;
    size_t n = 0, o = 0;
    if (f == NULL)
        return NULL;
    if ((text = malloc(limit + 1)) != NULL)
        n = fread(text, 1, limit, f);
    fclose(f);
    if (text == NULL || n == limit || (out = malloc(2 * n + 1)) == NULL) {
        free(text);
        return NULL;
    }
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (in_string) {
            out[o++] = c;
            if (c == '\\' && i + 1 < n)
                out[o++] = text[++i];
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
            out[o++] = c;
        } else if (n - i >= 8 && memcmp(text + i, "Infinity", 8) == 0) {
            memcpy(out + o, "1e308", 5);
            o += 5;
            i += 7;
        } else if (n - i >= 3 && memcmp(text + i, "NaN", 3) == 0) {
            memcpy(out + o, "null", 4);
            o += 4;
            i += 2;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    free(text);
    return out;
}

static sq_status load_file(const char *path, sq_hf_config *out)
{
    json_error_t error;
    char *text = python_json_text(path, 16u << 20);
    if (text == NULL)
        return sq_fail(SQ_ERR_INPUT, "model config %s cannot be read, or is over 16 MiB", path);
    out->root = json_loads(text, JSON_REJECT_DUPLICATES, &error);
    free(text);
    if (out->root == NULL || !json_is_object(out->root)) {
        json_decref(out->root);
        out->root = NULL;
        return sq_fail(SQ_ERR_INPUT, "model config %s is not a JSON object (line %d column %d: %s)", path,
                       error.line, error.column, error.text);
    }
    snprintf(out->source, sizeof out->source, "%s", path);
    return SQ_OK;
}

sq_status sq_hf_config_load(const sq_tensor_set *set, sq_hf_config *out)
{
    char path[1024];
    const char *source = set->source_path;
    memset(out, 0, sizeof *out);
    if (source) {
        const char *slash = strrchr(source, '/'), *dot = strrchr(source, '.');
        int stem = (int)(dot && (!slash || dot > slash) ? dot - source : (int)strlen(source));
        snprintf(path, sizeof path, "%.*s.config.json", stem, source);
        if (access(path, F_OK) == 0)
            return load_file(path, out);
        snprintf(path, sizeof path, "%.*sconfig.json", slash ? (int)(slash - source + 1) : 0, source);
        if (access(path, F_OK) == 0)
            return load_file(path, out);
    }
    const char *meta = sq_tensor_set_meta(set, "config");
    if (meta) {
        json_t *root = json_loads(meta, 0, NULL);
        if (json_is_object(root)) {
            out->root = root;
            snprintf(out->source, sizeof out->source, "the 'config' metadata of %s", source ? source : "the checkpoint");
        } else {
            json_decref(root); /* a printed Python dict (Itera-Lite's .pt): not for this reader */
        }
    }
    return SQ_OK;
}

void sq_hf_config_free(sq_hf_config *cfg)
{
    json_decref(cfg->root);
    memset(cfg, 0, sizeof *cfg);
}

static json_t *first_of(const sq_hf_config *cfg, const char *const *keys, const char **key)
{
    for (int i = 0; cfg->root && keys[i]; i++) {
        json_t *value = json_object_get(cfg->root, keys[i]);
        if (value && !json_is_null(value)) {
            *key = keys[i];
            return value;
        }
    }
    return NULL;
}

typedef enum { HF_INTEGER, HF_NUMBER, HF_BOOLEAN } hf_kind;

/* The first of keys the file gives (*found false: none), which must be of the kind asked
 * for, into *value: a long long, a double or a bool. */
static sq_status read_value(const sq_hf_config *cfg, const char *const *keys, hf_kind kind, void *value, bool *found)
{
    static const char *const must_be[] = {"an integer", "a number", "true or false"};
    const char *key = NULL;
    json_t *v = first_of(cfg, keys, &key);
    *found = v != NULL;
    if (!v)
        return SQ_OK;
    if (!(kind == HF_INTEGER ? json_is_integer(v) : kind == HF_NUMBER ? json_is_number(v) : json_is_boolean(v)))
        return sq_fail(SQ_ERR_INPUT, "%s: \"%s\" must be %s", cfg->source, key, must_be[kind]);
    if (kind == HF_INTEGER)
        *(long long *)value = json_integer_value(v);
    else if (kind == HF_NUMBER)
        *(double *)value = json_number_value(v);
    else
        *(bool *)value = json_is_true(v);
    return SQ_OK;
}

sq_status sq_hf_config_int(const sq_hf_config *cfg, const char *const *keys, long long *value, bool *found)
{
    return read_value(cfg, keys, HF_INTEGER, value, found);
}

sq_status sq_hf_config_real(const sq_hf_config *cfg, const char *const *keys, double *value, bool *found)
{
    return read_value(cfg, keys, HF_NUMBER, value, found);
}

sq_status sq_hf_config_bool(const sq_hf_config *cfg, const char *const *keys, bool *value, bool *found)
{
    return read_value(cfg, keys, HF_BOOLEAN, value, found);
}

bool sq_hf_config_has(const sq_hf_config *cfg, const char *key)
{
    json_t *v = cfg->root ? json_object_get(cfg->root, key) : NULL;
    return v && !json_is_null(v);
}

sq_status sq_hf_config_agree(const sq_hf_config *cfg, const char *const *keys, long long shape_value,
                             const char *checkpoint)
{
    long long value = 0;
    bool found = false;
    sq_status st = sq_hf_config_int(cfg, keys, &value, &found);
    if (st == SQ_OK && found && value != shape_value)
        st = sq_fail(SQ_ERR_INPUT, "%s says %s = %lld, but the tensors of %s give %lld", cfg->source, keys[0], value,
                     checkpoint, shape_value);
    return st;
}
