/* compress_summary.c - the --json summary of a compression (compress_summary.h). */
#include "compress/compress_summary.h"

#include <jansson.h>
#include <string.h>

/* A ratio of two measured sizes; 0 when there is nothing to divide by (JSON
 * has no inf). */
static double ratio(uint64_t numerator, uint64_t denominator)
{
    return denominator ? (double)numerator / (double)denominator : 0.0;
}

static json_t *rule_json(const sq_map_rule *rule)
{
    json_t *object = json_object(), *patterns = json_array();
    for (size_t p = 0; p < rule->pattern_count; p++)
        json_array_append_new(patterns, json_string(rule->patterns[p].text));
    if (rule->pattern_count > 0)
        json_object_set_new(object, "patterns", patterns);
    else
        json_decref(patterns);
    json_object_set_new(object, "format", json_string(rule->format ? rule->format->name : ""));
    json_object_set_new(object, "options", json_string(rule->options_text));
    if (rule->pattern_count > 0)
        json_object_set_new(object, "optional", json_boolean(rule->optional));
    if (rule->where[0])
        json_object_set_new(object, "where", json_string(rule->where));
    return object;
}

static json_t *map_json(const sq_precision_map *map)
{
    json_t *object = json_object(), *rules = json_array();
    json_object_set_new(object, "source", json_string(map->source ? map->source : ""));
    json_object_set_new(object, "description", map->description ? json_string(map->description) : json_null());
    for (size_t r = 0; r < map->rule_count; r++)
        json_array_append_new(rules, rule_json(&map->rules[r]));
    json_object_set_new(object, "rules", rules);
    json_object_set_new(object, "default", map->has_default ? rule_json(&map->default_rule) : json_null());
    return object;
}

sq_status sq_compress_summary_json(const sq_compress_summary *summary, char **json)
{
    const sq_accounting *accounting = summary->accounting;
    sq_format_total totals[SQ_ACCOUNTING_MAX_FORMATS];
    size_t format_count = sq_accounting_format_totals(accounting, totals, SQ_ACCOUNTING_MAX_FORMATS);
    json_t *o = json_object(), *formats = json_array(), *source = json_object();

    json_object_set_new(o, "output", json_string(summary->output_path));
    json_object_set_new(o, "file_bytes", json_integer((json_int_t)summary->file_bytes));
    json_object_set_new(o, "input", json_string(summary->input_path));
    json_object_set_new(o, "input_kind", json_string(summary->input_kind));
    json_object_set_new(o, "input_file_bytes", json_integer((json_int_t)summary->input_file_bytes));
    json_object_set_new(o, "input_tensor_bytes", json_integer((json_int_t)summary->input_tensor_bytes));
    json_object_set_new(o, "calibration",
                        summary->calibration_path ? json_string(summary->calibration_path) : json_null());
    json_object_set_new(o, "tensor_count", json_integer((json_int_t)accounting->count));
    json_object_set_new(o, "tensor_bytes_before", json_integer((json_int_t)accounting->total_before));
    json_object_set_new(o, "tensor_bytes_after", json_integer((json_int_t)accounting->total_after));
    json_object_set_new(o, "ratio_tensor_bytes", json_real(ratio(accounting->total_before, accounting->total_after)));
    json_object_set_new(o, "ratio_file_bytes", json_real(ratio(summary->input_file_bytes, summary->file_bytes)));
    for (size_t f = 0; f < format_count; f++) {
        json_t *row = json_object();
        json_object_set_new(row, "format", json_string(totals[f].name));
        json_object_set_new(row, "tensors", json_integer((json_int_t)totals[f].tensors));
        json_object_set_new(row, "bytes_before", json_integer((json_int_t)totals[f].before));
        json_object_set_new(row, "bytes_after", json_integer((json_int_t)totals[f].after));
        json_array_append_new(formats, row);
    }
    json_object_set_new(o, "formats", formats);
    json_object_set_new(o, "precision_map", map_json(summary->map));
    json_object_set_new(source, "family", json_string(summary->source->family));
    json_object_set_new(source, "config_json", json_string(summary->source->config_json));
    json_object_set_new(source, "model_tensors_sha256", json_string(summary->source->tensors_sha256));
    json_object_set_new(source, "model_tensor_count", json_integer(summary->source->tensor_count));
    json_object_set_new(o, "source_model", source);

    *json = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (*json == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot format the --json summary of %s", summary->output_path);
    return SQ_OK;
}
