/* prune_spec.c - parsing the `prune` section (prune_spec.h). */
#include "precision/prune_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const target_names[] = {"ffn-channels", "experts", "ssm-state", "ssm-conv", "ssm-inner", "heads"};
#define TARGET_LIST "ffn-channels, heads, experts, ssm-state, ssm-conv, ssm-inner"

const char *sq_prune_target_name(sq_prune_target target)
{
    return (unsigned)target < sizeof target_names / sizeof target_names[0] ? target_names[target] : "?";
}

bool sq_prune_target_is_ssm(sq_prune_target target)
{
    return target == SQ_PRUNE_SSM_STATE || target == SQ_PRUNE_SSM_CONV || target == SQ_PRUNE_SSM_INNER;
}

/* The index of a target's name, or -1. */
static int target_index(const char *name)
{
    for (size_t i = 0; i < sizeof target_names / sizeof target_names[0]; i++)
        if (strcmp(name, target_names[i]) == 0)
            return (int)i;
    return -1;
}

static const char *const rule_keys[] = {"target", "fraction", "count", "layers", "force", "unit", "note", NULL};

static sq_status parse_rule(const sq_yaml_node *node, sq_prune_rule *rule)
{
    sq_status st = SQ_OK;
    const char *target = NULL;
    const sq_yaml_node *layers;
    char where[256];
    bool has_fraction, has_count;
    memset(rule, 0, sizeof *rule);
    rule->fraction = -1.0;
    rule->count = -1;
    SQ_TRY(sq_yaml_expect(node, SQ_YAML_MAP, "prune rule"));
    snprintf(rule->where, sizeof rule->where, "%s", sq_yaml_where(node, where, sizeof where));
    {
        /* the file part of "file:line:column", for the positions of the layer indices */
        char suffix[48];
        size_t n = strlen(rule->where);
        size_t m = (size_t)snprintf(suffix, sizeof suffix, ":%d:%d", node->line, node->column);
        rule->file_length = n >= m && strcmp(rule->where + n - m, suffix) == 0 ? (int)(n - m) : (int)n;
    }
    SQ_TRY(sq_yaml_check_keys(node, "prune rule", rule_keys));
    SQ_TRY(sq_yaml_opt_string(node, "target", &target));
    if (!target)
        SQ_FAIL(SQ_ERR_USAGE, "%s: a prune rule needs 'target' (" TARGET_LIST ")", rule->where);
    if (target_index(target) < 0)
        SQ_FAIL(SQ_ERR_USAGE, "%s: unknown prune target '%s'; the targets are " TARGET_LIST,
                sq_yaml_where(sq_yaml_get(node, "target"), where, sizeof where), target);
    rule->target = (sq_prune_target)target_index(target);
    has_fraction = sq_yaml_get(node, "fraction") != NULL;
    has_count = sq_yaml_get(node, "count") != NULL;
    if (has_fraction == has_count)
        SQ_FAIL(SQ_ERR_USAGE, "%s: a prune rule takes exactly one of 'fraction' (per layer, 0 <= f < 1) and 'count'",
                rule->where);
    if (has_fraction) {
        SQ_TRY(sq_yaml_opt_double(node, "fraction", &rule->fraction));
        if (!(rule->fraction >= 0.0 && rule->fraction < 1.0))
            SQ_FAIL(SQ_ERR_USAGE, "%s: prune fraction %g is outside [0, 1): pruning everything is not a model",
                    sq_yaml_where(sq_yaml_get(node, "fraction"), where, sizeof where), rule->fraction);
    } else {
        int64_t count = 0;
        SQ_TRY(sq_yaml_opt_int(node, "count", &count));
        if (count < 0)
            SQ_FAIL(SQ_ERR_USAGE, "%s: prune count %lld is negative",
                    sq_yaml_where(sq_yaml_get(node, "count"), where, sizeof where), (long long)count);
        rule->count = (long)count;
    }
    SQ_TRY(sq_yaml_opt_bool(node, "force", &rule->force));
    if (rule->force && !sq_prune_target_is_ssm(rule->target))
        SQ_FAIL(SQ_ERR_USAGE, "%s: 'force' only applies to the ssm-* targets", rule->where);
    {
        const char *unit = NULL;
        SQ_TRY(sq_yaml_opt_string(node, "unit", &unit));
        if (unit && rule->target != SQ_PRUNE_HEADS)
            SQ_FAIL(SQ_ERR_USAGE, "%s: 'unit' only applies to target: heads",
                    sq_yaml_where(sq_yaml_get(node, "unit"), where, sizeof where));
        if (unit && strcmp(unit, "kv-groups") == 0)
            rule->unit = SQ_HEAD_UNIT_KV_GROUP;
        else if (unit && strcmp(unit, "query-heads") != 0)
            SQ_FAIL(SQ_ERR_USAGE, "%s: unknown head unit '%s'; the units are query-heads (the same number from "
                    "every KV group) and kv-groups (whole groups with their k/v head)",
                    sq_yaml_where(sq_yaml_get(node, "unit"), where, sizeof where), unit);
    }
    layers = sq_yaml_get(node, "layers");
    if (layers) {
        SQ_TRY(sq_yaml_expect(layers, SQ_YAML_SEQ, "prune layers"));
        if (layers->count == 0 || layers->count > SQ_PRUNE_MAX_LAYERS)
            SQ_FAIL(SQ_ERR_USAGE, "%s: 'layers' needs 1 to %d layer indices",
                    sq_yaml_where(layers, where, sizeof where), SQ_PRUNE_MAX_LAYERS);
        for (size_t i = 0; i < layers->count; i++) {
            int64_t value = 0;
            SQ_TRY(sq_yaml_as_int(layers->items[i], "layer index", &value));
            if (value < 0 || value >= SQ_PRUNE_MAX_LAYERS)
                SQ_FAIL(SQ_ERR_USAGE, "%s: layer index %lld is out of range",
                        sq_yaml_where(layers->items[i], where, sizeof where), (long long)value);
            rule->layer_line[rule->layer_count] = layers->items[i]->line;
            rule->layer_column[rule->layer_count] = layers->items[i]->column;
            rule->layers[rule->layer_count++] = (int)value;
        }
    }
cleanup:
    return st;
}

sq_status sq_prune_spec_parse(const sq_yaml_node *node, sq_prune_spec *spec)
{
    sq_status st = SQ_OK;
    memset(spec, 0, sizeof *spec);
    if (!node)
        return SQ_OK;
    SQ_TRY(sq_yaml_expect(node, SQ_YAML_SEQ, "prune"));
    if (node->count == 0)
        return SQ_OK;
    SQ_TRY(sq_alloc(&spec->rules, node->count, sizeof *spec->rules, "prune rules"));
    for (size_t i = 0; i < node->count; i++) {
        SQ_TRY(parse_rule(node->items[i], &spec->rules[i]));
        spec->count++;
    }
cleanup:
    if (st != SQ_OK)
        sq_prune_spec_free(spec);
    return st;
}

sq_status sq_prune_spec_add_fractions(const sq_yaml_node *node, sq_prune_spec *spec)
{
    sq_status st = SQ_OK;
    char where[256];
    sq_prune_rule *grown;
    if (!node)
        return SQ_OK;
    SQ_TRY(sq_yaml_expect(node, SQ_YAML_MAP, "compress.prune"));
    for (size_t i = 0; i < node->count; i++) {
        const sq_yaml_node *key = node->keys[i];
        double fraction = 0.0;
        int target = target_index(key->value);
        if (target < 0)
            SQ_FAIL(SQ_ERR_USAGE, "%s: compress.prune: unknown prune target '%s'; the targets are " TARGET_LIST,
                    sq_yaml_where(key, where, sizeof where), key->value);
        SQ_TRY(sq_yaml_as_double(node->items[i], "compress.prune fraction", &fraction));
        sq_yaml_where(node->items[i], where, sizeof where);
        if (!(fraction >= 0.0 && fraction < 1.0))
            SQ_FAIL(SQ_ERR_USAGE, "%s: compress.prune.%s: fraction %g is outside [0, 1): pruning everything is not "
                    "a model", where, key->value, fraction);
        for (size_t r = 0; r < spec->count; r++)
            if ((int)spec->rules[r].target == target)
                SQ_FAIL(SQ_ERR_USAGE, "%s: compress.prune.%s: the precision map prunes %s already (%s); give the "
                        "amount in one place", where, key->value, key->value, spec->rules[r].where);
        if (fraction == 0.0)
            continue; /* the unpruned point of a sweep: no rule, no record */
        grown = realloc(spec->rules, (spec->count + 1) * sizeof *spec->rules);
        if (!grown)
            SQ_FAIL(SQ_ERR_RUN, "out of memory (prune rules)");
        spec->rules = grown;
        memset(&spec->rules[spec->count], 0, sizeof *spec->rules);
        spec->rules[spec->count].target = (sq_prune_target)target;
        spec->rules[spec->count].fraction = fraction;
        spec->rules[spec->count].count = -1;
        snprintf(spec->rules[spec->count].where, sizeof spec->rules[spec->count].where, "%s", where);
        spec->count++;
    }
cleanup:
    return st;
}

void sq_prune_spec_free(sq_prune_spec *spec)
{
    free(spec->rules);
    memset(spec, 0, sizeof *spec);
}
