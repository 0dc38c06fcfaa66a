/* param_table.c - name patterns and shape checks for the family tables. */
#include "models/param_table.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const group_names[SQ_GROUP_COUNT] = {
    [SQ_GROUP_EMBEDDING] = "embedding", [SQ_GROUP_POSITION] = "position",
    [SQ_GROUP_SSM] = "ssm",             [SQ_GROUP_MOE_ROUTER] = "moe-router",
    [SQ_GROUP_MOE_EXPERT] = "moe-expert", [SQ_GROUP_FFN] = "ffn",
    [SQ_GROUP_ATTENTION] = "attention", [SQ_GROUP_NORM] = "norm",
    [SQ_GROUP_HEAD] = "head",           [SQ_GROUP_BUFFER] = "buffer",
};

const char *sq_group_name(sq_param_group group)
{
    return (group >= 0 && group < SQ_GROUP_COUNT) ? group_names[group] : "none";
}

bool sq_param_pattern_match(const char *pattern, const char *name)
{
    while (*pattern) {
        if (*pattern == '#') {
            if (!isdigit((unsigned char)*name))
                return false;
            while (isdigit((unsigned char)*name))
                name++;
            pattern++;
        } else if (*pattern++ != *name++) {
            return false;
        }
    }
    return *name == '\0';
}

static const sq_param_rule *rule_find(const sq_param_rule *rules, const char *name)
{
    for (const sq_param_rule *rule = rules; rule->pattern; rule++)
        if (sq_param_pattern_match(rule->pattern, name))
            return rule;
    return NULL;
}

sq_param_group sq_param_group_in(const sq_param_rule *rules, const char *name)
{
    const sq_param_rule *rule = rule_find(rules, name);
    return rule ? rule->group : SQ_GROUP_NONE;
}

bool sq_param_keep_in(const sq_param_rule *rules, const char *name, const char **reason)
{
    const sq_param_rule *rule = rule_find(rules, name);
    const char *why = rule ? rule->keep_reason : NULL;
    if (reason)
        *reason = why;
    return why != NULL;
}

static const char *source_of(const sq_tensor_set *set)
{
    return set->source_path ? set->source_path : "the checkpoint";
}

sq_status sq_param_require(const sq_tensor_set *set, const char *name, const sq_tensor **out)
{
    const sq_tensor *t = sq_tensor_set_find(set, name);
    if (t == NULL)
        return sq_fail(SQ_ERR_INPUT,
                       "missing tensor '%s' in %s: the model needs it; check that the checkpoint is complete "
                       "and of the family it was detected as",
                       name, source_of(set));
    if (out)
        *out = t;
    return SQ_OK;
}

sq_status sq_param_require_ndim(const sq_tensor_set *set, const char *name, int ndim, const sq_tensor **out)
{
    const sq_tensor *t = NULL;
    char shape[96];
    sq_status st = sq_param_require(set, name, &t);
    if (st != SQ_OK)
        return st;
    if (t->ndim != ndim)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' in %s is %s, expected %d dimensions", name, source_of(set),
                       sq_shape_string(t, shape, sizeof shape), ndim);
    if (out)
        *out = t;
    return SQ_OK;
}

sq_status sq_param_require_shape(const sq_tensor_set *set, const char *name, int ndim, int64_t d0, int64_t d1,
                                 int64_t d2)
{
    const sq_tensor *t = NULL;
    const int64_t want[3] = {d0, d1, d2};
    char shape[96], expected[96];
    int len = 0;
    sq_status st = sq_param_require(set, name, &t);
    if (st != SQ_OK)
        return st;
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == want[i];
    if (same)
        return SQ_OK;
    len += snprintf(expected + len, sizeof expected - len, "[");
    for (int i = 0; i < ndim; i++)
        len += snprintf(expected + len, sizeof expected - len, "%s%lld", i ? ", " : "", (long long)want[i]);
    snprintf(expected + len, sizeof expected - len, "]");
    return sq_fail(SQ_ERR_INPUT, "broken checkpoint: tensor '%s' in %s is %s, expected %s from the inferred config",
                   name, source_of(set), sq_shape_string(t, shape, sizeof shape), expected);
}

int sq_param_count_indexed(const sq_tensor_set *set, const char *prefix, const char *suffix)
{
    char name[256];
    int count = 0;
    for (;;) {
        snprintf(name, sizeof name, "%s%d%s", prefix, count, suffix);
        if (sq_tensor_set_find(set, name) == NULL)
            return count;
        count++;
    }
}

bool sq_param_has_prefix(const sq_tensor_set *set, const char *prefix)
{
    size_t len = strlen(prefix);
    for (size_t i = 0; i < set->count; i++)
        if (strncmp(set->tensors[i].name, prefix, len) == 0)
            return true;
    return false;
}
