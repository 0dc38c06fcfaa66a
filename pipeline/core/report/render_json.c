/* render_json.c - report.json: every number of the report with the artifact
 * it came from (jansson keeps doubles exact: %.17g). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "report/run_results.h"
#include "report/text_file.h"

static json_t *variant_json(const sq_variant_result *v, int is_baseline)
{
    json_t *item = json_object();
    json_object_set_new(item, "name", json_string(v->name));
    if (!v->evaluated) {
        json_object_set_new(item, "verdict", json_string(sq_verdict_name(v->verdict)));
        json_object_set_new(item, "failure", json_string(v->failure));
        json_object_set_new(item, "log", json_string(v->log_path));
        return item;
    }
    json_object_set_new(item, "perplexity", json_real(v->perplexity));
    json_object_set_new(item, "ppl_stderr", json_real(v->ppl_stderr));
    json_object_set_new(item, "mean_nll", json_real(v->mean_nll));
    json_object_set_new(item, "scored_tokens", json_integer(v->scored_tokens));
    json_object_set_new(item, "windows", json_integer(v->windows));
    json_object_set_new(item, "tokens_per_second", json_real(v->tokens_per_second));
    json_object_set_new(item, "peak_rss_bytes", json_real(v->peak_rss_bytes));
    json_object_set_new(item, "model_file_bytes", json_real(v->file_bytes));
    json_object_set_new(item, "model_tensor_bytes", json_real(v->tensor_bytes));
    json_object_set_new(item, "mpi_ranks", json_integer(v->mpi_ranks));
    json_object_set_new(item, "plan_key", json_string(v->plan_key));
    json_object_set_new(item, "squeeze_version", json_string(v->squeeze_version));
    json_object_set_new(item, "source", json_string(v->evaluation_path));
    if (!is_baseline) {
        json_object_set_new(item, "ratio_file_bytes", json_real(v->ratio_file));
        json_object_set_new(item, "ratio_tensor_bytes", json_real(v->ratio_tensor));
        json_object_set_new(item, "ppl_change_pct", json_real(v->ppl_change_pct));
        json_object_set_new(item, "ppl_change_stderr_pct", json_real(v->ppl_change_stderr_pct));
        json_object_set_new(item, "speed_ratio", json_real(v->speed_ratio));
        if (v->has_kl)
            json_object_set_new(item, "kl_divergence", json_real(v->kl_divergence));
        json_object_set_new(item, "verdict", json_string(sq_verdict_name(v->verdict)));
        json_object_set_new(item, "pareto", json_boolean(v->pareto));
        if (v->has_groups) {
            json_t *groups = json_object();
            for (int g = 0; g < SQ_GROUP_COUNT; g++) {
                if (v->group_before[g] <= 0)
                    continue;
                json_t *pair = json_object();
                json_object_set_new(pair, "bytes_before", json_real(v->group_before[g]));
                json_object_set_new(pair, "bytes_after", json_real(v->group_after[g]));
                json_object_set_new(groups, sq_group_name((sq_param_group)g), pair);
            }
            json_object_set_new(item, "groups", groups);
            json_object_set_new(item, "groups_source", json_string(v->model_path));
        }
    }
    return item;
}

sq_status sq_report_write_json(const sq_run_results *results, const char *path)
{
    json_t *root = json_object(), *variants = json_array(), *targets = json_object(), *model = json_object();
    char *text;
    sq_status st;
    json_object_set_new(root, "run", json_string(results->run_name));
    json_object_set_new(root, "run_dir", json_string(results->run_dir));
    json_object_set_new(root, "squeeze_version", json_string(sq_version()));
    json_object_set_new(targets, "compression", json_real(results->target_compression));
    json_object_set_new(targets, "quality_pct", json_real(results->target_quality));
    json_object_set_new(targets, "target_hardware", json_string(results->target_hardware));
    json_object_set_new(root, "targets", targets);
    json_object_set_new(model, "family", json_string(results->family));
    json_object_set_new(model, "parameters", json_integer(results->parameters));
    json_object_set_new(model, "source", json_string(results->inspect_path));
    json_object_set_new(root, "model", model);
    json_object_set_new(root, "baseline", variant_json(&results->baseline, 1));
    for (int i = 0; i < results->variant_count; i++)
        json_array_append_new(variants, variant_json(&results->variants[i], 0));
    json_object_set_new(root, "variants", variants);
    json_object_set_new(root, "recommended",
                        results->recommended >= 0 ? json_string(results->variants[results->recommended].name)
                                                  : json_null());
    if (results->moe_layer_count > 0) {
        json_t *routing = json_object();
        for (int m = 0; m < results->moe_layer_count; m++) {
            json_t *counts = json_array();
            char key[32];
            for (int e = 0; e < results->expert_count; e++)
                json_array_append_new(counts, json_integer(results->expert_tokens[m][e]));
            snprintf(key, sizeof key, "layer_%d", results->moe_layers[m]);
            json_object_set_new(routing, key, counts);
        }
        json_object_set_new(root, "expert_routing", routing);
        json_object_set_new(root, "expert_routing_source", json_string(results->calibration_path));
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (text == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot format report.json");
    st = sq_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}
