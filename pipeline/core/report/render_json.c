/* render_json.c - report.json: every number of the report with the artifact
 * it came from.  Measured numbers sit under "measured" with the attribute
 * names of the evaluation artifact (docs/artifact-evaluation.md) and
 * "source" naming that file; doubles are written with 17 significant digits,
 * so they read back bit for bit.  What the report derives (standard error of
 * the change, speed ratio, verdict) sits under "derived". */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "report/run_results.h"
#include "report/text_file.h"

static json_t *text_or_null(const char *text)
{
    return text && text[0] ? json_string(text) : json_null();
}

static json_t *measured_json(const sq_variant_result *v, int is_baseline)
{
    json_t *m = json_object();
    json_object_set_new(m, "perplexity", json_real(v->perplexity));
    json_object_set_new(m, "ppl_stderr", json_real(v->ppl_stderr));
    json_object_set_new(m, "mean_nll", json_real(v->mean_nll));
    json_object_set_new(m, "nll_std", json_real(v->nll_std));
    json_object_set_new(m, "scored_tokens", json_integer(v->scored_tokens));
    json_object_set_new(m, "windows", json_integer(v->windows));
    json_object_set_new(m, "tokens_per_second", json_real(v->tokens_per_second));
    json_object_set_new(m, "seconds", json_real(v->seconds));
    json_object_set_new(m, "peak_rss_bytes", json_integer(v->peak_rss_bytes));
    json_object_set_new(m, "model_file_bytes", json_integer(v->file_bytes));
    json_object_set_new(m, "model_tensor_bytes", json_integer(v->tensor_bytes));
    json_object_set_new(m, "mpi_ranks", json_integer(v->mpi_ranks));
    if (!is_baseline) {
        json_object_set_new(m, "baseline_file_bytes", json_integer(v->baseline_file_bytes));
        json_object_set_new(m, "baseline_tensor_bytes", json_integer(v->baseline_tensor_bytes));
        json_object_set_new(m, "ratio_file_bytes", json_real(v->ratio_file));
        json_object_set_new(m, "ratio_tensor_bytes", json_real(v->ratio_tensor));
        json_object_set_new(m, "ppl_change_pct", json_real(v->ppl_change_pct));
        if (v->has_kl)
            json_object_set_new(m, "kl_divergence", json_real(v->kl_divergence));
    }
    return m;
}

static json_t *model_json(const sq_variant_result *v)
{
    json_t *model = json_object(), *groups = json_object(), *formats = json_array();
    json_object_set_new(model, "source", json_string(v->model_path));
    json_object_set_new(model, "precision_map", text_or_null(v->precision_map));
    json_object_set_new(model, "precision_map_description", text_or_null(v->map_description));
    json_object_set_new(model, "technique", text_or_null(v->technique));
    if (v->pruned) {
        /* /pruning of the model artifact: what was removed before the formats */
        json_t *pruning = json_object();
        json_object_set_new(pruning, "amounts", json_string(v->prune_amounts));
        json_object_set_new(pruning, "channels_removed", json_integer(v->channels_removed));
        json_object_set_new(pruning, "experts_removed", json_integer(v->experts_removed));
        json_object_set_new(pruning, "heads_removed", json_integer(v->heads_removed));
        json_object_set_new(model, "pruning", pruning);
    } else {
        json_object_set_new(model, "pruning", json_null());
    }
    json_object_set_new(model, "calibration", text_or_null(v->calibration_input));
    json_object_set_new(model, "mpi_ranks", json_integer(v->model_mpi_ranks));
    json_object_set_new(model, "squeeze_version", json_string(v->model_squeeze_version));
    for (int g = 0; v->has_groups && g < SQ_GROUP_COUNT; g++) {
        if (v->group_before[g] <= 0 && v->group_after[g] <= 0)
            continue;
        json_t *pair = json_object();
        json_object_set_new(pair, "bytes_before", json_integer(v->group_before[g]));
        json_object_set_new(pair, "bytes_after", json_integer(v->group_after[g]));
        json_object_set_new(groups, sq_group_name((sq_param_group)g), pair);
    }
    json_object_set_new(model, "groups", groups);
    for (int f = 0; f < v->format_count; f++) {
        json_t *item = json_object();
        json_object_set_new(item, "format", json_string(v->formats[f].name));
        json_object_set_new(item, "tensors", json_integer(v->formats[f].tensors));
        json_object_set_new(item, "bytes_before", json_integer(v->formats[f].bytes_before));
        json_object_set_new(item, "bytes_after", json_integer(v->formats[f].bytes_after));
        json_array_append_new(formats, item);
    }
    json_object_set_new(model, "formats", formats);
    return model;
}

static json_t *variant_json(const sq_run_results *r, const sq_variant_result *v, int is_baseline)
{
    json_t *item = json_object();
    json_object_set_new(item, "name", json_string(v->name));
    if (!is_baseline)
        json_object_set_new(item, "verdict", json_string(sq_verdict_name(v->verdict)));
    if (!v->evaluated) {
        json_object_set_new(item, "failure", json_string(v->failure));
        json_object_set_new(item, "failed_stage", text_or_null(v->failed_stage));
        json_object_set_new(item, "exit_code", v->exit_code >= 0 ? json_integer(v->exit_code) : json_null());
        json_object_set_new(item, "log", text_or_null(v->log_path));
        return item;
    }
    json_object_set_new(item, "source", json_string(v->evaluation_path));
    json_object_set_new(item, "measured", measured_json(v, is_baseline));
    if (!is_baseline) {
        json_t *derived = json_object();
        char words[2048];
        json_object_set_new(derived, "ppl_change_stderr_pct", json_real(v->ppl_change_stderr_pct));
        json_object_set_new(derived, "ppl_change_stderr_method",
                            json_string(v->paired ? "paired per-window NLL differences"
                                                  : "both perplexities' standard errors, independent"));
        json_object_set_new(derived, "ratio_size", json_real(v->ratio_size));
        json_object_set_new(derived, "speed_comparable", json_boolean(v->speed_comparable));
        json_object_set_new(derived, "speed_ratio", v->speed_comparable ? json_real(v->speed_ratio) : json_null());
        json_object_set_new(derived, "tied_with",
                            v->tied_with >= 0 ? json_string(r->variants[v->tied_with].name) : json_null());
        json_object_set_new(derived, "meets_compression", json_boolean(v->ratio_size >= r->target_compression));
        json_object_set_new(derived, "meets_quality", json_boolean(v->ppl_change_pct <= r->target_quality));
        json_object_set_new(derived, "pareto", json_boolean(v->pareto));
        json_object_set_new(item, "derived", derived);
        sq_report_matrix_words(r, v, words, sizeof words);
        json_object_set_new(item, "decision_matrix", json_string(words));
        if (v->has_model)
            json_object_set_new(item, "model", model_json(v));
        json_object_set_new(item, "stale", json_boolean(v->stale));
    }
    /* SSM dimensions pruned past the guard (force: true), or null */
    json_object_set_new(item, "forced_ssm", text_or_null(v->forced_ssm));
    json_object_set_new(item, "log", text_or_null(v->log_path));
    json_object_set_new(item, "plan_key", json_string(v->plan_key));
    json_object_set_new(item, "created_utc", json_string(v->created_utc));
    json_object_set_new(item, "config_sha256", json_string(v->config_sha256));
    json_object_set_new(item, "squeeze_version", json_string(v->squeeze_version));
    return item;
}

/* The exported files as their records give them (run_exports.c). */
static json_t *exports_json(const sq_run_results *r)
{
    json_t *list = json_array();
    char words[SQ_REPORT_PATH + 128];
    for (int i = 0; i < r->export_count; i++) {
        const sq_export_result *e = &r->exports[i];
        json_t *item = json_object(), *conversions = json_array();
        for (int c = 0; c < e->conversion_count; c++)
            json_array_append_new(conversions, json_pack("{s:s,s:I}", "conversion", e->conversions[c].text, "tensors",
                                                         (json_int_t)e->conversions[c].tensors));
        sq_report_export_words(e, words, sizeof words);
        json_object_set_new(item, "variant", json_string(e->variant));
        json_object_set_new(item, "format", json_string(e->format));
        json_object_set_new(item, "file", json_string(e->file));
        json_object_set_new(item, "architecture", text_or_null(e->architecture));
        json_object_set_new(item, "readers", text_or_null(e->readers));
        json_object_set_new(item, "sha256", json_string(e->sha256));
        json_object_set_new(item, "bytes_on_disk", json_integer(e->bytes_on_disk));
        json_object_set_new(item, "tensor_bytes", json_integer(e->tensor_bytes));
        json_object_set_new(item, "tensors", json_integer(e->tensors));
        json_object_set_new(item, "copied", json_integer(e->copied));
        json_object_set_new(item, "converted", json_integer(e->converted));
        json_object_set_new(item, "not_written", json_integer(e->not_written));
        json_object_set_new(item, "conversions", conversions);
        json_object_set_new(item, "other_conversions", json_integer(e->other_conversions));
        json_object_set_new(item, "file_state", json_string(words));
        json_object_set_new(item, "record", json_string(e->record_path));
        json_object_set_new(item, "created_utc", json_string(e->created_utc));
        json_array_append_new(list, item);
    }
    return list;
}

static json_t *advice_items(const sq_run_results *r, const sq_advice_item *items, int count, bool avoided)
{
    json_t *list = json_array();
    for (int i = 0; i < count; i++) {
        json_t *item = json_object();
        char measured[2048];
        bool contradicts = sq_report_measured_words(r, items[i].technique, avoided, measured, sizeof measured);
        json_object_set_new(item, "measured", json_string(measured));
        json_object_set_new(item, "contradicted_by_measurement", json_boolean(contradicts));
        json_object_set_new(item, "technique", json_string(items[i].technique));
        json_object_set_new(item, "title", json_string(items[i].title));
        json_object_set_new(item, "reason", json_string(items[i].reason));
        json_object_set_new(item, "how", json_string(items[i].squeeze_how));
        json_array_append_new(list, item);
    }
    return list;
}

static json_t *advice_json(const sq_run_results *r)
{
    json_t *advice = json_object(), *caveats = json_array();
    const sq_advice *a = &r->advice;
    json_object_set_new(advice, "architecture", json_string(sq_advice_arch_name(a->input.arch)));
    json_object_set_new(advice, "parameters", json_integer(a->input.parameters));
    json_object_set_new(advice, "size_class", json_string(sq_advice_size_name(a->size)));
    json_object_set_new(advice, "target_hardware", json_string(sq_advice_hardware_name(a->input.hardware)));
    json_object_set_new(advice, "quality_constraint_pct", json_real(a->input.quality_pct));
    json_object_set_new(advice, "quality_class", json_string(sq_advice_quality_name(a->quality)));
    json_object_set_new(advice, "summary", json_string(a->summary));
    json_object_set_new(advice, "recommended", advice_items(r, a->recommended, a->recommended_count, false));
    json_object_set_new(advice, "avoided", advice_items(r, a->avoided, a->avoided_count, true));
    for (int i = 0; i < a->caveat_count; i++)
        json_array_append_new(caveats, json_string(a->caveats[i]));
    json_object_set_new(advice, "caveats", caveats);
    json_object_set_new(advice, "source", json_string("rules of thumb (advice/decision_matrix.c) applied to the inspect artifact"));
    return advice;
}

sq_status sq_report_write_json(const sq_run_results *r, const char *path)
{
    json_t *root = json_object(), *variants = json_array(), *config = json_object(), *model = json_object();
    json_t *setup = json_object(), *params = json_object();
    const sq_variant_result *base = &r->baseline;
    char words[2048], *text;
    sq_status st;

    json_object_set_new(root, "run", json_string(r->run_name));
    json_object_set_new(root, "run_dir", json_string(r->run_dir));
    json_object_set_new(root, "squeeze_version", json_string(sq_version()));
    json_object_set_new(root, "plan_key", json_string(r->plan_key));
    json_object_set_new(root, "plan", text_or_null(r->plan_path));
    json_object_set_new(config, "path", text_or_null(r->config_path));
    json_object_set_new(config, "sha256", text_or_null(r->config_sha256));
    json_object_set_new(config, "targets.compression", json_real(r->target_compression));
    json_object_set_new(config, "targets.quality", json_real(r->target_quality));
    json_object_set_new(config, "inspect.target_hardware", json_string(r->target_hardware));
    json_object_set_new(root, "config", config);

    json_object_set_new(model, "source", text_or_null(r->inspect_path));
    json_object_set_new(model, "checkpoint", text_or_null(r->checkpoint));
    json_object_set_new(model, "family", text_or_null(r->family));
    json_object_set_new(model, "parameters", json_integer(r->parameters));
    json_object_set_new(model, "checkpoint_file_bytes", json_integer(r->checkpoint_file_bytes));
    json_object_set_new(model, "checkpoint_tensor_bytes", json_integer(r->checkpoint_tensor_bytes));
    for (int g = 0; g < SQ_GROUP_COUNT; g++)
        if (r->group_params[g] > 0)
            json_object_set_new(params, sq_group_name((sq_param_group)g), json_integer(r->group_params[g]));
    json_object_set_new(model, "parameters_per_group", params);
    json_object_set_new(model, "config", r->config_json[0] ? json_loads(r->config_json, 0, NULL) : json_null());
    json_object_set_new(root, "model", model);
    {
        json_t *size_base = json_object();
        json_object_set_new(size_base, "path", json_string(r->size_base_path));
        json_object_set_new(size_base, "file_bytes", json_integer(r->size_base_bytes));
        json_object_set_new(size_base, "kind", json_string(r->size_base_is_checkpoint ? "checkpoint" : "baseline model"));
        json_object_set_new(root, "size_baseline", size_base);
    }

    json_object_set_new(setup, "source", json_string(base->evaluation_path));
    json_object_set_new(setup, "data_path", json_string(base->setup.data_path));
    json_object_set_new(setup, "tokenizer", json_string(base->setup.tokenizer));
    json_object_set_new(setup, "tokens_sha256", json_string(base->setup.tokens_sha256));
    json_object_set_new(setup, "text_tokens", json_integer(base->setup.text_tokens));
    json_object_set_new(setup, "window_length", json_integer(base->setup.window_length));
    json_object_set_new(setup, "stride", json_integer(base->setup.stride));
    json_object_set_new(setup, "scoring", json_string(base->setup.scoring));
    json_object_set_new(setup, "offset", json_integer(base->setup.offset));
    json_object_set_new(setup, "max_windows", json_integer(base->setup.max_windows));
    json_object_set_new(root, "evaluation_setup", setup);

    json_object_set_new(root, "baseline", variant_json(r, base, 1));
    for (int i = 0; i < r->variant_count; i++)
        json_array_append_new(variants, variant_json(r, &r->variants[i], 0));
    json_object_set_new(root, "variants", variants);
    json_object_set_new(root, "recommended",
                        r->recommended >= 0 ? json_string(r->variants[r->recommended].name) : json_null());
    json_object_set_new(root, "closest", r->closest >= 0 ? json_string(r->variants[r->closest].name) : json_null());
    sq_report_recommendation_words(r, words, sizeof words);
    json_object_set_new(root, "recommendation", json_string(words));
    if (r->has_advice)
        json_object_set_new(root, "decision_matrix", advice_json(r));
    if (r->moe_layer_count > 0) {
        json_t *routing = json_object();
        for (int m = 0; m < r->moe_layer_count; m++) {
            json_t *counts = json_array();
            char key[32];
            for (int e = 0; e < r->expert_count; e++)
                json_array_append_new(counts, json_integer(r->expert_tokens[m][e]));
            snprintf(key, sizeof key, "layer_%d", r->moe_layers[m]);
            json_object_set_new(routing, key, counts);
        }
        json_object_set_new(root, "expert_routing", routing);
        json_object_set_new(root, "expert_routing_top_k", json_integer(r->top_k));
        json_object_set_new(root, "expert_routing_source", json_string(r->calibration_path));
    }
    json_object_set_new(root, "exports", exports_json(r));
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (text == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot format report.json (a number that is not finite?)");
    size_t length = strlen(text);
    text[length] = '\n'; /* replaces the terminator: the file ends with a newline */
    st = sq_write_file_atomic(path, text, length + 1);
    free(text);
    return st;
}
