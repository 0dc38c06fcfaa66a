/* run_plan.c - plan.json, as the driver writes it (pipeline/driver/plan_json.c):
 *
 *   {"run": "demo", "variants": [{"name": "int8", ...}],
 *    "instances": [{"id": "compress/int8", "stage": "compress", "variant": "int8", "key": "...",
 *                   "inputs": ["inspect", "calibrate/3fa9..."], "log": ".../stage.log",
 *                   "state": "failed", "exit_code": 4, ...}]}
 *
 * state is missing | stale | done | pending | running | failed.  The report
 * lists every planned variant: one whose evaluation, compression or any stage
 * upstream of them failed is shown as failed, naming the stage, its exit code
 * and its log; a variant that never ran says so and names the log to look at.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "report/report_h5.h"
#include "report/run_results.h"

static const char *text_of(json_t *item, const char *key)
{
    const char *value = json_string_value(json_object_get(item, key));
    return value ? value : "";
}

static json_t *instance_by_id(json_t *instances, const char *id)
{
    size_t index;
    json_t *item;
    json_array_foreach(instances, index, item)
    {
        if (strcmp(text_of(item, "id"), id) == 0)
            return item;
    }
    return NULL;
}

static json_t *instance_of(json_t *instances, const char *stage, const char *variant)
{
    size_t index;
    json_t *item;
    json_array_foreach(instances, index, item)
    {
        if (strcmp(text_of(item, "stage"), stage) == 0 && strcmp(text_of(item, "variant"), variant) == 0)
            return item;
    }
    return NULL;
}

/* The instance that failed on the way to this one: the instance itself, or the
 * first failed one among its inputs, depth first (a plan is a DAG of at most
 * a few levels: inspect -> calibrate -> compress -> evaluate). */
static json_t *failed_upstream(json_t *instances, json_t *item, int depth)
{
    size_t index;
    json_t *input;
    if (item == NULL || depth > 16)
        return NULL;
    if (strcmp(text_of(item, "state"), "failed") == 0)
        return item;
    json_array_foreach(json_object_get(item, "inputs"), index, input)
    {
        json_t *found = failed_upstream(instances, instance_by_id(instances, json_string_value(input) ?
                                                                                  json_string_value(input) : ""),
                                        depth + 1);
        if (found)
            return found;
    }
    return NULL;
}

static void record_failure(sq_variant_result *v, json_t *failed, json_t *own)
{
    json_t *code = json_object_get(failed, "exit_code");
    v->plan_failed = true;
    v->exit_code = json_is_integer(code) ? (int)json_integer_value(code) : -1;
    snprintf(v->failed_stage, sizeof v->failed_stage, "%s", text_of(failed, "stage"));
    snprintf(v->log_path, sizeof v->log_path, "%s", text_of(failed, "log"));
    if (failed == own || strcmp(text_of(failed, "variant"), v->name) == 0)
        snprintf(v->failure, sizeof v->failure, "%s failed (exit %d)", text_of(failed, "stage"), v->exit_code);
    else
        snprintf(v->failure, sizeof v->failure, "not run: %s, which it needs, failed (exit %d)",
                 text_of(failed, "id"), v->exit_code);
}

sq_status sq_report_load_plan(sq_run_results *results)
{
    json_error_t error;
    json_t *root, *instances, *item;
    size_t index;

    snprintf(results->plan_path, sizeof results->plan_path, "%s/plan.json", results->run_dir);
    if (!sq_report_file_exists(results->plan_path)) {
        results->plan_path[0] = '\0';
        return SQ_OK; /* stages run by hand: the evaluate/ folder is all there is */
    }
    root = json_load_file(results->plan_path, 0, &error);
    if (root == NULL)
        return sq_fail(SQ_ERR_INPUT, "%s:%d:%d: not valid JSON (%s); rerun the driver or remove it", results->plan_path,
                       error.line, error.column, error.text);
    instances = json_object_get(root, "instances");
    if (!json_is_array(instances)) {
        json_decref(root);
        return sq_fail(SQ_ERR_INPUT, "%s has no 'instances' list: not a plan written by squeeze", results->plan_path);
    }
    if (text_of(root, "run")[0])
        snprintf(results->run_name, sizeof results->run_name, "%s", text_of(root, "run"));

    /* Every planned variant, in the plan's order; then any evaluate instance
     * of a variant the list lacks. */
    json_array_foreach(json_object_get(root, "variants"), index, item)
    {
        if (text_of(item, "name")[0] && strcmp(text_of(item, "name"), "baseline") != 0)
            sq_report_variant(results, text_of(item, "name"));
    }
    json_array_foreach(instances, index, item)
    {
        if (strcmp(text_of(item, "stage"), "evaluate") == 0 && text_of(item, "variant")[0] &&
            strcmp(text_of(item, "variant"), "baseline") != 0)
            sq_report_variant(results, text_of(item, "variant"));
    }

    for (int i = 0; i < results->variant_count; i++) {
        sq_variant_result *v = &results->variants[i];
        json_t *evaluate = instance_of(instances, "evaluate", v->name);
        json_t *compress = instance_of(instances, "compress", v->name);
        json_t *failed = failed_upstream(instances, evaluate ? evaluate : compress, 0);
        v->planned = true;
        if (evaluate) {
            snprintf(v->planned_key, sizeof v->planned_key, "%s", text_of(evaluate, "key"));
            snprintf(v->planned_state, sizeof v->planned_state, "%s", text_of(evaluate, "state"));
        }
        if (failed) {
            record_failure(v, failed, evaluate);
        } else {
            /* Not failed (yet): the log of the first stage whose artifact is missing. */
            json_t *pending = compress && !sq_report_file_exists(v->model_path) ? compress : evaluate;
            v->exit_code = -1;
            if (pending) {
                snprintf(v->failed_stage, sizeof v->failed_stage, "%s", text_of(pending, "stage"));
                if (sq_report_file_exists(text_of(pending, "log")))
                    snprintf(v->log_path, sizeof v->log_path, "%s", text_of(pending, "log"));
                snprintf(v->failure, sizeof v->failure, "not run: plan.json records %s as %s (the run stopped before "
                         "it, or it is still queued)", text_of(pending, "id"), text_of(pending, "state"));
            }
        }
    }
    /* A failed baseline evaluation: named in the error when evaluate/baseline is missing. */
    item = instance_of(instances, "evaluate", "baseline");
    if (item) {
        json_t *failed = failed_upstream(instances, item, 0);
        if (failed) {
            snprintf(results->baseline.name, sizeof results->baseline.name, "baseline");
            record_failure(&results->baseline, failed, item);
        }
    }
    json_decref(root);
    return SQ_OK;
}
