/* plan_record.c - plan.json written and read from one definition (plan_record.h). */
#define _GNU_SOURCE /* asprintf */
#include "artifact/plan_record.h"

#include <errno.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *text(const char *value) { return json_string(value ? value : ""); }

static json_t *words(char *const *list, size_t count)
{
    json_t *array = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(array, text(list[i]));
    return array;
}

/* The fields of plan.json's root and of an instance, one row each in the
 * file's order: writing, reading and freeing a record all walk these rows. */
typedef enum {
    FIELD_TEXT,     /* char *: "" when absent */
    FIELD_SET_TEXT, /* char *: written only when set, NULL when absent */
    FIELD_WORDS,    /* char ** with its size_t count at aux */
    FIELD_INT,      /* int */
    FIELD_SET_INT,  /* int, present when the bool at aux is true */
} field_kind;

typedef struct {
    const char *key;
    field_kind kind;
    size_t at, aux; /* offsets in the record of the field and of its count or presence flag */
} field;

#define ROOT_TEXT(name) {#name, FIELD_TEXT, offsetof(sq_plan_record, name), 0}
#define INSTANCE(kind, name, aux) {#name, kind, offsetof(sq_plan_record_instance, name), aux}
#define INSTANCE_TEXT(name) INSTANCE(FIELD_TEXT, name, 0)

static const field root_fields[] = {
    ROOT_TEXT(run), ROOT_TEXT(config), ROOT_TEXT(run_dir), ROOT_TEXT(executor), ROOT_TEXT(written_utc),
};

static const field instance_fields[] = {
    INSTANCE_TEXT(id),
    INSTANCE_TEXT(stage),
    INSTANCE_TEXT(variant),
    INSTANCE_TEXT(key),
    INSTANCE(FIELD_WORDS, inputs, offsetof(sq_plan_record_instance, input_count)),
    INSTANCE_TEXT(dir),
    INSTANCE_TEXT(output),
    INSTANCE_TEXT(config),
    INSTANCE_TEXT(log),
    INSTANCE(FIELD_INT, ranks, 0),
    INSTANCE_TEXT(state),
    INSTANCE(FIELD_SET_INT, exit_code, offsetof(sq_plan_record_instance, has_exit_code)),
    INSTANCE(FIELD_SET_TEXT, job_id, 0),
    INSTANCE(FIELD_WORDS, command, offsetof(sq_plan_record_instance, command_count)),
};

#define FIELD_COUNT(fields) (sizeof fields / sizeof *fields)
/* The member of type at offset at of a record (const or not). */
#define MEMBER(type, record, at) (*(type *)((char *)(record) + (at)))
#define CONST_MEMBER(type, record, at) (*(type const *)(const void *)((const char *)(record) + (at)))

static void write_fields(json_t *object, const void *record, const field *fields, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const field *f = &fields[i];
        json_t *value = NULL;
        switch (f->kind) {
        case FIELD_TEXT: value = text(CONST_MEMBER(char *, record, f->at)); break;
        case FIELD_SET_TEXT:
            if (CONST_MEMBER(char *, record, f->at))
                value = text(CONST_MEMBER(char *, record, f->at));
            break;
        case FIELD_WORDS:
            value = words(CONST_MEMBER(char **, record, f->at), CONST_MEMBER(size_t, record, f->aux));
            break;
        case FIELD_INT: value = json_integer(CONST_MEMBER(int, record, f->at)); break;
        case FIELD_SET_INT:
            if (CONST_MEMBER(bool, record, f->aux))
                value = json_integer(CONST_MEMBER(int, record, f->at));
            break;
        }
        if (value)
            json_object_set_new(object, f->key, value);
    }
}

static char *copy_of(json_t *item, const char *key)
{
    const char *value = json_string_value(json_object_get(item, key));
    return strdup(value ? value : "");
}

static sq_status read_words(json_t *array, char ***out, size_t *count)
{
    size_t index;
    json_t *word;
    *count = 0;
    *out = calloc(json_array_size(array) + 1, sizeof **out);
    if (*out == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    json_array_foreach(array, index, word)
    {
        (*out)[(*count)++] = strdup(json_string_value(word) ? json_string_value(word) : "");
    }
    return SQ_OK;
}

/* A field absent from the JSON reads as "" (FIELD_TEXT), NULL, an empty list,
 * 0 or not set. */
static sq_status read_fields(json_t *object, void *record, const field *fields, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const field *f = &fields[i];
        json_t *value = json_object_get(object, f->key);
        switch (f->kind) {
        case FIELD_TEXT: MEMBER(char *, record, f->at) = copy_of(object, f->key); break;
        case FIELD_SET_TEXT:
            MEMBER(char *, record, f->at) = json_is_string(value) ? strdup(json_string_value(value)) : NULL;
            break;
        case FIELD_WORDS: {
            sq_status st = read_words(value, &MEMBER(char **, record, f->at), &MEMBER(size_t, record, f->aux));
            if (st != SQ_OK)
                return st;
            break;
        }
        case FIELD_INT: MEMBER(int, record, f->at) = (int)json_integer_value(value); break;
        case FIELD_SET_INT:
            MEMBER(bool, record, f->aux) = json_is_integer(value);
            MEMBER(int, record, f->at) = json_is_integer(value) ? (int)json_integer_value(value) : -1;
            break;
        }
    }
    return SQ_OK;
}

static void free_words(char **list, size_t count)
{
    for (size_t i = 0; list && i < count; i++)
        free(list[i]);
    free(list);
}

static void free_fields(void *record, const field *fields, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const field *f = &fields[i];
        if (f->kind == FIELD_TEXT || f->kind == FIELD_SET_TEXT)
            free(MEMBER(char *, record, f->at));
        else if (f->kind == FIELD_WORDS)
            free_words(MEMBER(char **, record, f->at), MEMBER(size_t, record, f->aux));
    }
}

sq_status sq_plan_record_write(const sq_plan_record *plan, const char *path)
{
    sq_status st = SQ_OK;
    json_t *root = json_object(), *variants = json_array(), *instances = json_array();
    char *dump = NULL, *temp = NULL;
    FILE *f = NULL;

    write_fields(root, plan, root_fields, FIELD_COUNT(root_fields));
    for (size_t v = 0; v < plan->variant_count; v++) {
        const sq_plan_record_variant *var = &plan->variants[v];
        json_t *item = json_object(), *overrides = json_object();
        json_object_set_new(item, "name", text(var->name));
        for (size_t i = 0; i < var->override_count; i++) {
            json_t *value = json_loads(var->override_json[i], JSON_DECODE_ANY, NULL);
            json_object_set_new(overrides, var->override_paths[i], value ? value : json_null());
        }
        json_object_set_new(item, "overrides", overrides);
        json_array_append_new(variants, item);
    }
    json_object_set_new(root, "variants", variants);
    for (size_t i = 0; i < plan->instance_count; i++) {
        json_t *item = json_object();
        write_fields(item, &plan->instances[i], instance_fields, FIELD_COUNT(instance_fields));
        json_array_append_new(instances, item);
    }
    json_object_set_new(root, "instances", instances);

    dump = json_dumps(root, JSON_INDENT(2));
    if (dump == NULL)
        SQ_FAIL(SQ_ERR_RUN, "cannot format %s", path);
    if (asprintf(&temp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        temp = NULL;
        SQ_FAIL(SQ_ERR_RUN, "out of memory");
    }
    f = fopen(temp, "w");
    if (f == NULL)
        SQ_FAIL(SQ_ERR_RUN, "cannot write %s: %s", temp, strerror(errno));
    if (fprintf(f, "%s\n", dump) < 0 || fclose(f) != 0) {
        f = NULL;
        unlink(temp);
        SQ_FAIL(SQ_ERR_RUN, "cannot write %s: %s", temp, strerror(errno));
    }
    f = NULL;
    if (rename(temp, path) != 0) {
        unlink(temp);
        SQ_FAIL(SQ_ERR_RUN, "cannot rename %s to %s: %s", temp, path, strerror(errno));
    }
cleanup:
    if (f)
        fclose(f);
    free(temp);
    free(dump);
    json_decref(root);
    return st;
}

sq_status sq_plan_record_alloc(sq_plan_record *plan, size_t variants, size_t instances)
{
    memset(plan, 0, sizeof *plan);
    plan->variants = calloc(variants + 1, sizeof *plan->variants);
    plan->instances = calloc(instances + 1, sizeof *plan->instances);
    if (plan->variants == NULL || plan->instances == NULL) {
        sq_plan_record_free(plan);
        return sq_fail(SQ_ERR_RUN, "out of memory");
    }
    plan->variant_count = variants;
    plan->instance_count = instances;
    return SQ_OK;
}

void sq_plan_record_free(sq_plan_record *plan)
{
    for (size_t v = 0; plan->variants && v < plan->variant_count; v++) {
        sq_plan_record_variant *var = &plan->variants[v];
        free(var->name);
        free_words(var->override_paths, var->override_count);
        free_words(var->override_json, var->override_count);
    }
    for (size_t i = 0; plan->instances && i < plan->instance_count; i++)
        free_fields(&plan->instances[i], instance_fields, FIELD_COUNT(instance_fields));
    free(plan->variants);
    free(plan->instances);
    free_fields(plan, root_fields, FIELD_COUNT(root_fields));
    memset(plan, 0, sizeof *plan);
}

sq_status sq_plan_record_read(const char *path, sq_plan_record *plan)
{
    sq_status st = SQ_OK;
    json_error_t error;
    json_t *root, *instances, *variants, *item;
    size_t index;

    memset(plan, 0, sizeof *plan);
    root = json_load_file(path, 0, &error);
    if (root == NULL)
        return sq_fail(SQ_ERR_INPUT, "%s:%d:%d: not valid JSON (%s); rerun the driver or remove it", path, error.line,
                       error.column, error.text);
    instances = json_object_get(root, "instances");
    if (!json_is_array(instances)) {
        json_decref(root);
        return sq_fail(SQ_ERR_INPUT, "%s has no 'instances' list: not a plan written by squeeze", path);
    }
    variants = json_object_get(root, "variants");
    SQ_TRY(sq_plan_record_alloc(plan, json_array_size(variants), json_array_size(instances)));
    SQ_TRY(read_fields(root, plan, root_fields, FIELD_COUNT(root_fields)));
    json_array_foreach(variants, index, item)
    {
        sq_plan_record_variant *var = &plan->variants[index];
        json_t *overrides = json_object_get(item, "overrides"), *value;
        const char *key;
        size_t n = json_object_size(overrides), i = 0;
        var->name = copy_of(item, "name");
        var->override_paths = calloc(n + 1, sizeof *var->override_paths);
        var->override_json = calloc(n + 1, sizeof *var->override_json);
        if (var->override_paths == NULL || var->override_json == NULL)
            SQ_FAIL(SQ_ERR_RUN, "out of memory");
        json_object_foreach(overrides, key, value)
        {
            var->override_paths[i] = strdup(key);
            var->override_json[i] = json_dumps(value, JSON_ENCODE_ANY);
            i++;
        }
        var->override_count = i;
    }
    json_array_foreach(instances, index, item)
    {
        SQ_TRY(read_fields(item, &plan->instances[index], instance_fields, FIELD_COUNT(instance_fields)));
    }
cleanup:
    json_decref(root);
    if (st != SQ_OK)
        sq_plan_record_free(plan);
    return st;
}

const sq_plan_record_instance *sq_plan_record_find(const sq_plan_record *plan, const char *id)
{
    for (size_t i = 0; i < plan->instance_count; i++)
        if (plan->instances[i].id && strcmp(plan->instances[i].id, id) == 0)
            return &plan->instances[i];
    return NULL;
}

const sq_plan_record_instance *sq_plan_record_of(const sq_plan_record *plan, const char *stage, const char *variant)
{
    for (size_t i = 0; i < plan->instance_count; i++)
        if (strcmp(plan->instances[i].stage, stage) == 0 && strcmp(plan->instances[i].variant, variant) == 0)
            return &plan->instances[i];
    return NULL;
}
