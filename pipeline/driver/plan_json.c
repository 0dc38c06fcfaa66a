/* plan_json.c - results/<run>/plan.json from a plan, and failures read back
 * from it.  The file's definition (fields, writer, reader) is
 * artifact/plan_record.h, shared with the report that reads it.
 *
 * The local executor rewrites it after every stage, so a failure (state,
 * exit code, log) survives the driver; `status` reads it back.
 */
#include "plan.h"
#include "proc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "artifact/plan_record.h"

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

static char *yaml_json_text(const sq_yaml_node *node)
{
    json_t *value = yaml_to_json(node);
    char *text = json_dumps(value, JSON_ENCODE_ANY);
    json_decref(value);
    return text;
}

static char **copy_words(char *const *words, size_t count)
{
    char **out = calloc(count + 1, sizeof *out);
    for (size_t i = 0; out && i < count; i++)
        out[i] = strdup(words[i]);
    return out;
}

sq_status sq_plan_write_json(const sq_plan *plan, const char *executor)
{
    sq_status st = SQ_OK;
    sq_plan_record rec;
    char stamp[32], *path = NULL;
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    SQ_TRY(sq_plan_record_alloc(&rec, plan->variant_count, plan->count));
    rec.run = strdup(plan->run_name);
    rec.config = strdup(plan->config_path);
    rec.run_dir = strdup(plan->run_dir);
    rec.executor = strdup(executor);
    rec.written_utc = strdup(stamp);
    for (size_t v = 0; v < plan->variant_count; v++) {
        sq_plan_record_variant *out = &rec.variants[v];
        const sq_variant_spec *spec = plan->variants[v].spec;
        size_t n = spec ? spec->override_count : 0;
        out->name = strdup(plan->variants[v].name);
        out->override_paths = calloc(n + 1, sizeof *out->override_paths);
        out->override_json = calloc(n + 1, sizeof *out->override_json);
        if (out->override_paths == NULL || out->override_json == NULL)
            SQ_FAIL(SQ_ERR_RUN, "out of memory");
        for (size_t i = 0; i < n; i++) {
            out->override_paths[i] = strdup(spec->overrides[i].path);
            out->override_json[i] = yaml_json_text(spec->overrides[i].value);
            out->override_count++;
        }
    }
    for (size_t i = 0; i < plan->count; i++) {
        const sq_instance *inst = plan->items[i];
        sq_plan_record_instance *out = &rec.instances[i];
        out->id = strdup(inst->id);
        out->stage = strdup(sq_stage_name(inst->stage));
        out->variant = strdup(inst->variant);
        out->key = strdup(inst->key);
        out->inputs = calloc((size_t)inst->input_count + 1, sizeof *out->inputs);
        if (out->inputs == NULL)
            SQ_FAIL(SQ_ERR_RUN, "out of memory");
        for (int j = 0; j < inst->input_count; j++)
            out->inputs[out->input_count++] = strdup(inst->inputs[j]->id);
        out->dir = strdup(inst->dir);
        out->output = strdup(inst->output);
        out->config = strdup(inst->config_path);
        out->log = strdup(inst->log_path);
        out->ranks = inst->ranks;
        out->state = strdup(sq_state_name(inst->state));
        out->has_exit_code = inst->state == SQ_STATE_FAILED;
        out->exit_code = inst->exit_code;
        out->job_id = inst->job_id ? strdup(inst->job_id) : NULL;
        out->command_count = sq_argv_count(inst->argv);
        out->command = copy_words(inst->argv, out->command_count);
    }
    SQ_TRY(sq_mkdir_p(plan->run_dir));
    path = sq_path_join(plan->run_dir, SQ_PLAN_RECORD_FILE);
    SQ_TRY(sq_plan_record_write(&rec, path));
cleanup:
    free(path);
    sq_plan_record_free(&rec);
    return st;
}

void sq_plan_read_failures(sq_plan *plan)
{
    char *path = sq_path_join(plan->run_dir, SQ_PLAN_RECORD_FILE);
    sq_plan_record rec;
    if (sq_plan_record_read(path, &rec) != SQ_OK) {
        sq_error_clear(); /* no plan.json yet, or an unreadable one: no failures to add */
        free(path);
        return;
    }
    free(path);
    for (size_t r = 0; r < rec.instance_count; r++) {
        const sq_plan_record_instance *item = &rec.instances[r];
        if (strcmp(item->state, "failed") != 0)
            continue;
        for (size_t i = 0; i < plan->count; i++) {
            sq_instance *inst = plan->items[i];
            /* a failure counts while the instance is still what failed and is not done since */
            if (strcmp(inst->id, item->id) == 0 && strcmp(inst->key, item->key) == 0 && inst->state != SQ_STATE_DONE) {
                inst->state = SQ_STATE_FAILED;
                inst->exit_code = item->has_exit_code ? item->exit_code : 0;
            }
        }
    }
    sq_plan_record_free(&rec);
}
