/* plan_json.c - results/<run>/plan.json: the plan as the report and people read it.
 *
 *   {"run": "demo", "config": "/abs/demo.yaml", "run_dir": "...", "executor": "local",
 *    "written_utc": "...", "variants": [{"name": "int8", "overrides": {"compress.recipe": "..."}}],
 *    "instances": [{"id": "compress/int8", "stage": "compress", "variant": "int8", "key": "...",
 *                   "inputs": ["inspect", "calibrate/3fa9..."], "output": "...", "config": "...",
 *                   "log": "...", "ranks": 1, "state": "failed", "exit_code": 4,
 *                   "command": ["/abs/squeeze-compress", "--config", ...]}]}
 *
 * The local executor rewrites it after every stage, so a failure (state,
 * exit code, log) survives the driver; `status` reads it back.
 */
#include "driver.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *yaml_to_json(const sq_yaml_node *node)
{
    if (node == NULL)
        return json_null();
    if (node->kind == SQ_YAML_SCALAR)
        return json_string(node->value);
    if (node->kind == SQ_YAML_SEQ) {
        json_t *list = json_array();
        for (size_t i = 0; i < node->count; i++)
            json_array_append_new(list, yaml_to_json(node->items[i]));
        return list;
    }
    json_t *map = json_object();
    for (size_t i = 0; i < node->count; i++)
        json_object_set_new(map, node->keys[i]->value, yaml_to_json(node->items[i]));
    return map;
}

static void utc_now(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

sq_status sq_plan_write_json(const sq_plan *plan, const char *executor)
{
    sq_status st = SQ_OK;
    char stamp[32];
    json_t *root = json_object(), *variants = json_array(), *instances = json_array();
    char *text = NULL, *path = NULL;

    utc_now(stamp, sizeof stamp);
    json_object_set_new(root, "run", json_string(plan->run_name));
    json_object_set_new(root, "config", json_string(plan->config_path));
    json_object_set_new(root, "run_dir", json_string(plan->run_dir));
    json_object_set_new(root, "executor", json_string(executor));
    json_object_set_new(root, "written_utc", json_string(stamp));
    for (size_t v = 0; v < plan->variant_count; v++) {
        json_t *item = json_object(), *overrides = json_object();
        const sq_variant_spec *spec = plan->variants[v].spec;
        json_object_set_new(item, "name", json_string(plan->variants[v].name));
        for (size_t i = 0; spec && i < spec->override_count; i++)
            json_object_set_new(overrides, spec->overrides[i].path, yaml_to_json(spec->overrides[i].value));
        json_object_set_new(item, "overrides", overrides);
        json_array_append_new(variants, item);
    }
    json_object_set_new(root, "variants", variants);
    for (size_t i = 0; i < plan->count; i++) {
        const sq_instance *inst = plan->items[i];
        json_t *item = json_object(), *inputs = json_array(), *command = json_array();
        json_object_set_new(item, "id", json_string(inst->id));
        json_object_set_new(item, "stage", json_string(sq_stage_name(inst->stage)));
        json_object_set_new(item, "variant", json_string(inst->variant));
        json_object_set_new(item, "key", json_string(inst->key));
        for (int j = 0; j < inst->input_count; j++)
            json_array_append_new(inputs, json_string(inst->inputs[j]->id));
        json_object_set_new(item, "inputs", inputs);
        json_object_set_new(item, "dir", json_string(inst->dir));
        json_object_set_new(item, "output", json_string(inst->output));
        json_object_set_new(item, "config", json_string(inst->config_path));
        json_object_set_new(item, "log", json_string(inst->log_path));
        json_object_set_new(item, "ranks", json_integer(inst->ranks));
        json_object_set_new(item, "state", json_string(sq_state_name(inst->state)));
        if (inst->state == SQ_STATE_FAILED)
            json_object_set_new(item, "exit_code", json_integer(inst->exit_code));
        if (inst->job_id)
            json_object_set_new(item, "job_id", json_string(inst->job_id));
        for (size_t a = 0; inst->argv[a]; a++)
            json_array_append_new(command, json_string(inst->argv[a]));
        json_object_set_new(item, "command", command);
        json_array_append_new(instances, item);
    }
    json_object_set_new(root, "instances", instances);
    text = json_dumps(root, JSON_INDENT(2));
    if (text == NULL)
        SQ_FAIL(SQ_ERR_RUN, "cannot format plan.json");
    SQ_TRY(sq_mkdir_p(plan->run_dir));
    path = sq_path_join(plan->run_dir, "plan.json");
    {
        size_t len = strlen(text);
        char *with_newline = sq_strdupf("%s\n", text);
        st = sq_write_file_atomic(path, with_newline, len + 1);
        free(with_newline);
    }
cleanup:
    free(text);
    free(path);
    json_decref(root);
    return st;
}

void sq_plan_read_failures(sq_plan *plan)
{
    char *path = sq_path_join(plan->run_dir, "plan.json");
    json_t *root = json_load_file(path, 0, NULL);
    json_t *instances = root ? json_object_get(root, "instances") : NULL;
    size_t index;
    json_t *item;
    free(path);
    json_array_foreach(instances, index, item) {
        const char *id = json_string_value(json_object_get(item, "id"));
        const char *key = json_string_value(json_object_get(item, "key"));
        const char *state = json_string_value(json_object_get(item, "state"));
        if (id == NULL || key == NULL || state == NULL || strcmp(state, "failed") != 0)
            continue;
        for (size_t i = 0; i < plan->count; i++) {
            sq_instance *inst = plan->items[i];
            /* a failure counts while the instance is still what failed and is not done since */
            if (strcmp(inst->id, id) == 0 && strcmp(inst->key, key) == 0 && inst->state != SQ_STATE_DONE) {
                inst->state = SQ_STATE_FAILED;
                inst->exit_code = (int)json_integer_value(json_object_get(item, "exit_code"));
            }
        }
    }
    json_decref(root);
}
