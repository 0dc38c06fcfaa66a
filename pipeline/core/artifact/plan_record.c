/* plan_record.c - plan.json written and read from one definition (plan_record.h). */
#define _GNU_SOURCE /* asprintf */
#include "artifact/plan_record.h"

#include <errno.h>
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

sq_status sq_plan_record_write(const sq_plan_record *plan, const char *path)
{
    sq_status st = SQ_OK;
    json_t *root = json_object(), *variants = json_array(), *instances = json_array();
    char *dump = NULL, *temp = NULL;
    FILE *f = NULL;

    json_object_set_new(root, "run", text(plan->run));
    json_object_set_new(root, "config", text(plan->config));
    json_object_set_new(root, "run_dir", text(plan->run_dir));
    json_object_set_new(root, "executor", text(plan->executor));
    json_object_set_new(root, "written_utc", text(plan->written_utc));
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
        const sq_plan_record_instance *inst = &plan->instances[i];
        json_t *item = json_object();
        json_object_set_new(item, "id", text(inst->id));
        json_object_set_new(item, "stage", text(inst->stage));
        json_object_set_new(item, "variant", text(inst->variant));
        json_object_set_new(item, "key", text(inst->key));
        json_object_set_new(item, "inputs", words(inst->inputs, inst->input_count));
        json_object_set_new(item, "dir", text(inst->dir));
        json_object_set_new(item, "output", text(inst->output));
        json_object_set_new(item, "config", text(inst->config));
        json_object_set_new(item, "log", text(inst->log));
        json_object_set_new(item, "ranks", json_integer(inst->ranks));
        json_object_set_new(item, "state", text(inst->state));
        if (inst->has_exit_code)
            json_object_set_new(item, "exit_code", json_integer(inst->exit_code));
        if (inst->job_id)
            json_object_set_new(item, "job_id", text(inst->job_id));
        json_object_set_new(item, "command", words(inst->command, inst->command_count));
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
    plan->run = copy_of(root, "run");
    plan->config = copy_of(root, "config");
    plan->run_dir = copy_of(root, "run_dir");
    plan->executor = copy_of(root, "executor");
    plan->written_utc = copy_of(root, "written_utc");
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
        sq_plan_record_instance *inst = &plan->instances[index];
        json_t *code = json_object_get(item, "exit_code"), *job = json_object_get(item, "job_id");
        inst->id = copy_of(item, "id");
        inst->stage = copy_of(item, "stage");
        inst->variant = copy_of(item, "variant");
        inst->key = copy_of(item, "key");
        SQ_TRY(read_words(json_object_get(item, "inputs"), &inst->inputs, &inst->input_count));
        inst->dir = copy_of(item, "dir");
        inst->output = copy_of(item, "output");
        inst->config = copy_of(item, "config");
        inst->log = copy_of(item, "log");
        inst->ranks = (int)json_integer_value(json_object_get(item, "ranks"));
        inst->state = copy_of(item, "state");
        inst->has_exit_code = json_is_integer(code);
        inst->exit_code = inst->has_exit_code ? (int)json_integer_value(code) : -1;
        inst->job_id = json_is_string(job) ? strdup(json_string_value(job)) : NULL;
        SQ_TRY(read_words(json_object_get(item, "command"), &inst->command, &inst->command_count));
    }
cleanup:
    json_decref(root);
    if (st != SQ_OK)
        sq_plan_record_free(plan);
    return st;
}

static void free_words(char **list, size_t count)
{
    for (size_t i = 0; list && i < count; i++)
        free(list[i]);
    free(list);
}

void sq_plan_record_free(sq_plan_record *plan)
{
    for (size_t v = 0; plan->variants && v < plan->variant_count; v++) {
        sq_plan_record_variant *var = &plan->variants[v];
        free(var->name);
        free_words(var->override_paths, var->override_count);
        free_words(var->override_json, var->override_count);
    }
    for (size_t i = 0; plan->instances && i < plan->instance_count; i++) {
        sq_plan_record_instance *inst = &plan->instances[i];
        free(inst->id);
        free(inst->stage);
        free(inst->variant);
        free(inst->key);
        free_words(inst->inputs, inst->input_count);
        free(inst->dir);
        free(inst->output);
        free(inst->config);
        free(inst->log);
        free(inst->state);
        free(inst->job_id);
        free_words(inst->command, inst->command_count);
    }
    free(plan->variants);
    free(plan->instances);
    free(plan->run);
    free(plan->config);
    free(plan->run_dir);
    free(plan->executor);
    free(plan->written_utc);
    memset(plan, 0, sizeof *plan);
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
