/* precision_map.c - parsing precision maps and deciding each tensor's format.
 *
 * The map's syntax and the glob semantics are in precision_map.h and
 * docs/precision-maps.md.  Everything a user can get wrong in a map is an
 * error that names file:line:column, because the seed's mixed-precision run
 * (docs/itera-lite.md 3.5) failed silently: patterns that matched the wrong
 * tensors, an "int8" that was never applied, a lm_head rule that did nothing.
 */
#include "precision/precision_map.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* ---- glob matching -------------------------------------------------------- */

/* Matches one [set] at *pattern (just after '[') against c; advances *pattern
 * past the closing ']'.  Returns false for a malformed set (caught earlier by
 * sq_glob_expand, so here it simply does not match). */
static bool match_set(const char **pattern, char c)
{
    const char *p = *pattern;
    bool negate = false, found = false;
    if (*p == '!' || *p == '^') {
        negate = true;
        p++;
    }
    /* A ']' right after '[' (or '[!') is a member, as in fnmatch. */
    if (*p == ']') {
        found = (c == ']');
        p++;
    }
    while (*p && *p != ']') {
        if (p[1] == '-' && p[2] && p[2] != ']') {
            if (c >= p[0] && c <= p[2])
                found = true;
            p += 3;
        } else {
            if (c == *p)
                found = true;
            p++;
        }
    }
    if (*p != ']')
        return false;
    *pattern = p + 1;
    return found != negate;
}

bool sq_glob_match(const char *pattern, const char *name)
{
    const char *p = pattern, *s = name;
    while (*p) {
        if (p[0] == '*' && p[1] == '*') {
            /* '**': any run of characters, dots included. */
            while (*p == '*')
                p++;
            if (*p == '\0')
                return true;
            for (const char *t = s;; t++) {
                if (sq_glob_match(p, t))
                    return true;
                if (*t == '\0')
                    return false;
            }
        }
        if (*p == '*') {
            /* '*': any run inside one segment, so it stops at the next '.'. */
            p++;
            for (const char *t = s;; t++) {
                if (sq_glob_match(p, t))
                    return true;
                if (*t == '\0' || *t == '.')
                    return false;
            }
        }
        if (*p == '?') {
            if (*s == '\0' || *s == '.')
                return false;
            p++;
            s++;
            continue;
        }
        if (*p == '[') {
            p++;
            if (*s == '\0' || *s == '.' || !match_set(&p, *s))
                return false;
            s++;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return *s == '\0';
}

void sq_glob_expansion_free(char **expanded, size_t count)
{
    if (!expanded)
        return;
    for (size_t i = 0; i < count; i++)
        free(expanded[i]);
    free(expanded);
}

#define SQ_GLOB_MAX_EXPANSIONS 4096

typedef struct {
    char **items;
    size_t count, capacity;
} string_list;

static sq_status list_push(string_list *list, char *item, const char *where)
{
    if (list->count == SQ_GLOB_MAX_EXPANSIONS) {
        free(item);
        return sq_fail(SQ_ERR_USAGE, "%s: pattern expands to more than %d alternatives; split it into rules", where,
                       SQ_GLOB_MAX_EXPANSIONS);
    }
    sq_status st = sq_grow(&list->items, &list->capacity, list->count + 1, sizeof *list->items, 4,
                           "a pattern's expansions");
    if (st != SQ_OK) {
        free(item);
        return st;
    }
    list->items[list->count++] = item;
    return SQ_OK;
}

/* Expands the first top-level {a,b} of text into list, recursively. */
static sq_status expand_into(const char *text, const char *where, string_list *list)
{
    const char *open = NULL, *close = NULL;
    int depth = 0;
    for (const char *c = text; *c; c++) {
        if (*c == '{') {
            if (depth++ == 0)
                open = c;
        } else if (*c == '}') {
            if (depth == 0)
                return sq_fail(SQ_ERR_USAGE, "%s: pattern '%s' has a '}' without '{'", where, text);
            if (--depth == 0) {
                close = c;
                break;
            }
        }
    }
    if (open && !close)
        return sq_fail(SQ_ERR_USAGE, "%s: pattern '%s' has a '{' without '}'", where, text);
    if (!open) {
        char *copy = strdup(text);
        if (!copy)
            return sq_fail(SQ_ERR_RUN, "out of memory expanding a pattern");
        return list_push(list, copy, where);
    }
    /* Split the alternatives at top-level commas. */
    const char *start = open + 1;
    depth = 0;
    for (const char *c = open + 1; c <= close; c++) {
        if (*c == '{')
            depth++;
        else if (*c == '}' && c != close)
            depth--;
        if ((*c == ',' && depth == 0) || c == close) {
            size_t prefix = (size_t)(open - text), alt = (size_t)(c - start), suffix = strlen(close + 1);
            char *joined = malloc(prefix + alt + suffix + 1);
            sq_status st;
            if (!joined)
                return sq_fail(SQ_ERR_RUN, "out of memory expanding a pattern");
            memcpy(joined, text, prefix);
            memcpy(joined + prefix, start, alt);
            memcpy(joined + prefix + alt, close + 1, suffix + 1);
            st = expand_into(joined, where, list);
            free(joined);
            if (st != SQ_OK)
                return st;
            start = c + 1;
        }
    }
    return SQ_OK;
}

static sq_status check_brackets(const char *pattern, const char *where)
{
    for (const char *c = pattern; *c; c++) {
        if (*c != '[')
            continue;
        const char *p = c + 1;
        if (*p == '!' || *p == '^')
            p++;
        if (*p == ']')
            p++;
        while (*p && *p != ']')
            p++;
        if (*p != ']')
            return sq_fail(SQ_ERR_USAGE, "%s: pattern '%s' has a '[' without ']'", where, pattern);
        c = p;
    }
    return SQ_OK;
}

sq_status sq_glob_expand(const char *pattern, const char *where, char ***out, size_t *count)
{
    sq_status st = SQ_OK;
    string_list list = {0};
    *out = NULL;
    *count = 0;
    if (pattern[0] == '\0')
        return sq_fail(SQ_ERR_USAGE, "%s: empty pattern", where);
    SQ_TRY(expand_into(pattern, where, &list));
    for (size_t i = 0; i < list.count; i++)
        SQ_TRY(check_brackets(list.items[i], where));
    *out = list.items;
    *count = list.count;
    list.items = NULL;
cleanup:
    if (st != SQ_OK)
        sq_glob_expansion_free(list.items, list.count);
    return st;
}

bool sq_glob_match_braces(const char *pattern, const char *name)
{
    char **expanded = NULL;
    size_t count = 0;
    bool matched = false;
    if (sq_glob_expand(pattern, "pattern", &expanded, &count) != SQ_OK) {
        sq_error_clear();
        return false;
    }
    for (size_t i = 0; i < count && !matched; i++)
        matched = sq_glob_match(expanded[i], name);
    sq_glob_expansion_free(expanded, count);
    return matched;
}

/* ---- options -------------------------------------------------------------- */

/* True when some format takes an option of this name: a key that no format
 * takes is an unknown key, one that another format takes is the wrong option. */
static bool any_format_takes(const char *name)
{
    const sq_quant_format *const *all = sq_quant_format_all();
    for (int i = 0; all[i]; i++)
        if (sq_format_option_find(all[i], name))
            return true;
    return false;
}

static void format_option_list(const sq_quant_format *format, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (!format->options || !format->options[0].name) {
        snprintf(buf, size, "none");
        return;
    }
    for (int i = 0; format->options[i].name && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", format->options[i].name);
}

static void format_name_list(char *buf, size_t size)
{
    const sq_quant_format *const *all = sq_quant_format_all();
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; all && all[i] && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", all[i]->name);
}

static sq_status parse_option(const sq_yaml_node *key, const sq_yaml_node *value, sq_map_rule *rule)
{
    char where[256], known[256];
    const sq_format_option *option = sq_format_option_find(rule->format, key->value);
    const char *name = key->value;
    double numeric = 0;
    sq_status st = SQ_OK;
    sq_yaml_where(key, where, sizeof where);
    format_option_list(rule->format, known, sizeof known);
    if (option == NULL && !any_format_takes(name))
        return sq_fail(SQ_ERR_USAGE,
                       "%s: unknown key '%s' in a precision-map rule; a rule has pattern, format, note, optional "
                       "and the options of its format (%s takes: %s)",
                       where, name, rule->format->name, known);
    if (option == NULL)
        return sq_fail(SQ_ERR_USAGE, "%s: format '%s' has no option '%s' (it takes: %s)", where,
                       rule->format->name, name, known);
    switch (option->type) {
    case SQ_OPTION_INT: {
        int64_t v;
        SQ_TRY(sq_yaml_as_int(value, name, &v));
        numeric = (double)v;
        break;
    }
    case SQ_OPTION_BOOL: {
        bool v;
        SQ_TRY(sq_yaml_as_bool(value, name, &v));
        numeric = v;
        break;
    }
    case SQ_OPTION_NUMBER:
        SQ_TRY(sq_yaml_as_double(value, name, &numeric));
        break;
    }
    if (numeric < option->min || numeric > option->max) {
        sq_yaml_where(value, where, sizeof where);
        return sq_fail(SQ_ERR_USAGE, "%s: option %s = %s is out of range [%g, %g]", where, name, value->value,
                       option->min, option->max);
    }
    sq_format_option_set(option, &rule->options, numeric);
    size_t used = strlen(rule->options_text);
    snprintf(rule->options_text + used, sizeof rule->options_text - used, "%s%s=%s", used ? " " : "", name,
             value->value);
cleanup:
    return st;
}

/* ---- rules ---------------------------------------------------------------- */

static void rule_free(sq_map_rule *rule)
{
    for (size_t i = 0; i < rule->pattern_count; i++) {
        free(rule->patterns[i].text);
        sq_glob_expansion_free(rule->patterns[i].expanded, rule->patterns[i].expanded_count);
    }
    free(rule->patterns);
    free(rule->note);
    memset(rule, 0, sizeof *rule);
}

static sq_status add_pattern(sq_map_rule *rule, const sq_yaml_node *node)
{
    char where[256];
    const char *text;
    sq_status st = SQ_OK;
    sq_map_pattern *grown, *pattern;
    SQ_TRY(sq_yaml_as_string(node, "pattern", &text));
    sq_yaml_where(node, where, sizeof where);
    grown = realloc(rule->patterns, (rule->pattern_count + 1) * sizeof *grown);
    if (!grown)
        return sq_fail(SQ_ERR_RUN, "out of memory reading a precision map");
    rule->patterns = grown;
    pattern = &rule->patterns[rule->pattern_count];
    memset(pattern, 0, sizeof *pattern);
    pattern->line = node->line;
    pattern->column = node->column;
    pattern->text = strdup(text);
    rule->pattern_count++;
    if (!pattern->text)
        return sq_fail(SQ_ERR_RUN, "out of memory reading a precision map");
    SQ_TRY(sq_glob_expand(text, where, &pattern->expanded, &pattern->expanded_count));
cleanup:
    return st;
}

static sq_status parse_format(const sq_yaml_node *node, sq_map_rule *rule)
{
    char where[256], known[256];
    const char *name;
    sq_status st = SQ_OK;
    SQ_TRY(sq_yaml_as_string(node, "format", &name));
    rule->format = sq_quant_format_find(name);
    if (!rule->format) {
        format_name_list(known, sizeof known);
        return sq_fail(SQ_ERR_USAGE, "%s: unknown format '%s' (squeeze knows: %s)",
                       sq_yaml_where(node, where, sizeof where), name, known);
    }
    sq_quant_options_for(rule->format, &rule->options);
cleanup:
    return st;
}

/* A rule (with_patterns) or the default (a map without 'pattern'). */
static sq_status parse_rule(const sq_yaml_node *node, bool with_patterns, sq_map_rule *rule)
{
    char where[256];
    const sq_yaml_node *format = NULL, *pattern = NULL;
    sq_status st = SQ_OK;
    memset(rule, 0, sizeof *rule);
    rule->line = node->line;
    rule->column = node->column;
    sq_yaml_where(node, rule->where, sizeof rule->where);
    if (!with_patterns && node->kind == SQ_YAML_SCALAR) {
        /* default: fp16 */
        return parse_format(node, rule);
    }
    SQ_TRY(sq_yaml_expect(node, SQ_YAML_MAP, with_patterns ? "precision-map rule" : "precision-map default"));
    format = sq_yaml_get(node, "format");
    pattern = sq_yaml_get(node, "pattern");
    if (!format)
        return sq_fail(SQ_ERR_USAGE, "%s: %s has no 'format'", rule->where,
                       with_patterns ? "precision-map rule" : "precision-map default");
    SQ_TRY(parse_format(format, rule));
    if (with_patterns) {
        if (!pattern)
            return sq_fail(SQ_ERR_USAGE, "%s: precision-map rule has no 'pattern'", rule->where);
        if (pattern->kind == SQ_YAML_SEQ) {
            if (pattern->count == 0)
                return sq_fail(SQ_ERR_USAGE, "%s: 'pattern' is an empty list", sq_yaml_where(pattern, where, sizeof where));
            for (size_t i = 0; i < pattern->count; i++)
                SQ_TRY(add_pattern(rule, pattern->items[i]));
        } else {
            SQ_TRY(add_pattern(rule, pattern));
        }
    } else if (pattern) {
        return sq_fail(SQ_ERR_USAGE, "%s: the default applies to every tensor no rule matches; it takes no 'pattern'",
                       sq_yaml_where(pattern, where, sizeof where));
    }
    for (size_t i = 0; i < node->count; i++) {
        const sq_yaml_node *key = node->keys[i];
        if (strcmp(key->value, "format") == 0 || strcmp(key->value, "pattern") == 0)
            continue;
        if (with_patterns && strcmp(key->value, "optional") == 0) {
            SQ_TRY(sq_yaml_as_bool(node->items[i], "optional", &rule->optional));
            continue;
        }
        if (strcmp(key->value, "note") == 0) {
            const char *note;
            SQ_TRY(sq_yaml_as_string(node->items[i], "note", &note));
            free(rule->note);
            rule->note = strdup(note);
            continue;
        }
        SQ_TRY(parse_option(key, node->items[i], rule));
    }
cleanup:
    return st;
}

void sq_precision_map_free(sq_precision_map *map)
{
    for (size_t i = 0; i < map->rule_count; i++)
        rule_free(&map->rules[i]);
    free(map->rules);
    rule_free(&map->default_rule);
    free(map->source);
    free(map->description);
    sq_prune_spec_free(&map->prune);
    memset(map, 0, sizeof *map);
}

static const char *const map_keys[] = {"description", "rules", "default", "prune", NULL};

sq_status sq_precision_map_parse(const sq_yaml_node *node, sq_precision_map *map)
{
    sq_status st = SQ_OK;
    const sq_yaml_node *rules = NULL, *fallback = NULL;
    char where[256];
    memset(map, 0, sizeof *map);
    if (!node)
        return sq_fail(SQ_ERR_USAGE, "the precision map is empty: give 'rules' and/or 'default'");
    map->source = strdup(node->file ? node->file : "(inline)");
    if (node->kind == SQ_YAML_SEQ) {
        rules = node;
    } else {
        const char *description = NULL;
        SQ_TRY(sq_yaml_expect(node, SQ_YAML_MAP, "precision map"));
        SQ_TRY(sq_yaml_check_keys(node, "precision map", map_keys));
        SQ_TRY(sq_yaml_opt_string(node, "description", &description));
        if (description)
            map->description = strdup(description);
        rules = sq_yaml_get(node, "rules");
        fallback = sq_yaml_get(node, "default");
        SQ_TRY(sq_prune_spec_parse(sq_yaml_get(node, "prune"), &map->prune));
    }
    if (rules) {
        SQ_TRY(sq_yaml_expect(rules, SQ_YAML_SEQ, "rules"));
        if (rules->count > 0) {
            SQ_TRY(sq_alloc(&map->rules, rules->count, sizeof *map->rules, "precision-map rules"));
            for (size_t i = 0; i < rules->count; i++) {
                /* counted before parsing, so that a half-parsed rule is freed too */
                map->rule_count++;
                SQ_TRY(parse_rule(rules->items[i], true, &map->rules[i]));
            }
        }
    }
    if (fallback) {
        SQ_TRY(parse_rule(fallback, false, &map->default_rule));
        snprintf(map->default_rule.where, sizeof map->default_rule.where, "%s",
                 sq_yaml_where(fallback, where, sizeof where));
        map->has_default = true;
    }
    if (map->rule_count == 0 && !map->has_default)
        SQ_FAIL(SQ_ERR_USAGE, "%s: the precision map has no rules and no default",
                sq_yaml_where(node, where, sizeof where));
cleanup:
    if (st != SQ_OK)
        sq_precision_map_free(map);
    return st;
}

sq_status sq_precision_map_load(const char *path, sq_precision_map *map)
{
    sq_yaml_doc doc = {0};
    sq_status st = SQ_OK;
    memset(map, 0, sizeof *map);
    SQ_TRY(sq_yaml_load_file(&doc, path));
    if (!doc.root)
        SQ_FAIL(SQ_ERR_USAGE, "%s: the precision map file is empty", path);
    SQ_TRY(sq_precision_map_parse(doc.root, map));
    free(map->source);
    map->source = strdup(path);
cleanup:
    sq_yaml_free(&doc);
    return st;
}

/* ---- resolving against a model ------------------------------------------- */

static bool pattern_matches(const sq_map_pattern *pattern, const char *name)
{
    for (size_t i = 0; i < pattern->expanded_count; i++)
        if (sq_glob_match(pattern->expanded[i], name))
            return true;
    return false;
}

/* First rule (and its pattern) that matches name, or -1. */
static long first_rule(const sq_precision_map *map, const char *name, const sq_map_pattern **which)
{
    for (size_t r = 0; r < map->rule_count; r++)
        for (size_t p = 0; p < map->rules[r].pattern_count; p++)
            if (pattern_matches(&map->rules[r].patterns[p], name)) {
                if (which)
                    *which = &map->rules[r].patterns[p];
                return (long)r;
            }
    return -1;
}

static bool rules_agree(const sq_map_rule *a, const sq_map_rule *b)
{
    return a == b || (a && b && a->format == b->format && sq_quant_options_equal(a->format, &a->options, &b->options));
}

static long find_tensor(const sq_map_tensor *tensors, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(tensors[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* The first name the pattern would match if each single '*' crossed dots:
 * the likeliest mistake is a '*' meant to span "0.ssm" (the seed's map). */
static const char *near_miss(const char *text, const sq_map_tensor *tensors, size_t count)
{
    char relaxed[1024];
    size_t used = 0;
    const char *found = NULL;
    for (const char *c = text; *c && used + 3 < sizeof relaxed; c++) {
        if (c[0] == '*' && c[1] != '*' && (c == text || c[-1] != '*')) {
            relaxed[used++] = '*';
            relaxed[used++] = '*';
        } else {
            relaxed[used++] = *c;
        }
    }
    relaxed[used] = '\0';
    if (strcmp(relaxed, text) == 0)
        return NULL;
    for (size_t t = 0; t < count && !found; t++)
        if (sq_glob_match_braces(relaxed, tensors[t].name))
            found = tensors[t].name;
    return found;
}

/* Every pattern must match at least one tensor name: a typo must not pass. */
static sq_status check_patterns_used(const sq_precision_map *map, const sq_map_tensor *tensors, size_t count)
{
    char message[2048];
    size_t used = 0, unused = 0;
    message[0] = '\0';
    for (size_t r = 0; r < map->rule_count; r++) {
        if (map->rules[r].optional)
            continue;
        for (size_t p = 0; p < map->rules[r].pattern_count; p++) {
            const sq_map_pattern *pattern = &map->rules[r].patterns[p];
            bool hit = false;
            for (size_t t = 0; t < count && !hit; t++)
                hit = pattern_matches(pattern, tensors[t].name);
            if (!hit) {
                const char *near = near_miss(pattern->text, tensors, count);
                unused++;
                if (used < sizeof message)
                    used += (size_t)snprintf(message + used, sizeof message - used, "%s  %s:%d:%d: pattern '%s'",
                                             unused > 1 ? "\n" : "", map->source, pattern->line, pattern->column,
                                             pattern->text);
                if (near && used < sizeof message)
                    used += (size_t)snprintf(message + used, sizeof message - used,
                                             " (with '**' it would match '%s')", near);
            }
        }
    }
    if (unused == 0)
        return SQ_OK;
    return sq_fail(SQ_ERR_USAGE,
                   "%zu pattern%s of precision map %s match%s no tensor of the model (%zu tensors, e.g. '%s', "
                   "'%s'); '*' stays inside one dot-separated segment, '**' crosses segments:\n%s",
                   unused, unused == 1 ? "" : "s", map->source, unused == 1 ? "es" : "", count,
                   count > 0 ? tensors[0].name : "", count > 2 ? tensors[2].name : "", message);
}

sq_status sq_precision_map_resolve(const sq_precision_map *map, const sq_map_tensor *tensors, size_t count,
                                   sq_map_decision *decisions, sq_map_summary *summary)
{
    char message[2048];
    size_t used = 0, uncovered = 0;
    sq_status st = SQ_OK;
    memset(summary, 0, sizeof *summary);
    SQ_TRY(check_patterns_used(map, tensors, count));

    /* Storage-owning tensors first; aliases follow their storage below. */
    for (size_t i = 0; i < count; i++) {
        const sq_map_tensor *t = &tensors[i];
        sq_map_decision *d = &decisions[i];
        memset(d, 0, sizeof *d);
        d->rule_index = -1;
        d->alias_target = -1;
        if (t->alias_of) {
            d->kind = SQ_DECIDED_ALIAS;
            continue;
        }
        if (t->raw) {
            d->kind = SQ_DECIDED_RAW;
            summary->raw++;
            continue;
        }
        summary->considered++;
        d->rule_index = first_rule(map, t->name, &d->pattern);
        if (d->rule_index >= 0) {
            d->kind = SQ_DECIDED_RULE;
            d->rule = &map->rules[d->rule_index];
            summary->by_rule++;
            if (t->keep_full_precision && strcmp(d->rule->format->name, "fp32") != 0) {
                d->forced_lower = true;
                summary->forced_lower++;
                sq_warn("%s: rule at %s forces %s to %s, applied as asked, although the family keeps it in full "
                        "precision: %s",
                        map->source, d->rule->where, t->name, d->rule->format->name,
                        t->keep_reason ? t->keep_reason : "(no reason given)");
            }
        } else if (t->keep_full_precision) {
            d->kind = SQ_DECIDED_KEPT;
            summary->kept++;
        } else if (map->has_default) {
            d->kind = SQ_DECIDED_DEFAULT;
            d->rule = &map->default_rule;
            summary->by_default++;
        } else {
            uncovered++;
            if (used < sizeof message)
                used += (size_t)snprintf(message + used, sizeof message - used, "%s%s", uncovered > 1 ? ", " : "",
                                         t->name);
        }
    }
    if (uncovered > 0)
        SQ_FAIL(SQ_ERR_USAGE,
                "%zu tensor%s of the model %s covered by no rule of precision map %s, and the map has no "
                "default: %s; add a rule for %s or a 'default:'",
                uncovered, uncovered == 1 ? "" : "s", uncovered == 1 ? "is" : "are", map->source, message,
                uncovered == 1 ? "it" : "them");

    /* Tied tensors stay tied: the alias follows its storage's decision; a rule
     * that names the alias with another format is a contradiction. */
    for (size_t i = 0; i < count; i++) {
        const sq_map_tensor *t = &tensors[i];
        sq_map_decision *d = &decisions[i];
        const sq_map_pattern *pattern = NULL;
        long own_rule;
        if (!t->alias_of)
            continue;
        d->alias_target = find_tensor(tensors, count, t->alias_of);
        if (d->alias_target < 0 || tensors[d->alias_target].alias_of)
            SQ_FAIL(SQ_ERR_INPUT, "tensor '%s' shares storage with '%s', which is %s", t->name, t->alias_of,
                    d->alias_target < 0 ? "not in the model" : "itself an alias");
        summary->aliases++;
        own_rule = first_rule(map, t->name, &pattern);
        if (own_rule >= 0) {
            const sq_map_decision *target = &decisions[d->alias_target];
            const sq_map_rule *mine = &map->rules[own_rule];
            bool agree = (target->kind == SQ_DECIDED_RULE || target->kind == SQ_DECIDED_DEFAULT) &&
                         rules_agree(mine, target->rule);
            if (!agree)
                SQ_FAIL(SQ_ERR_USAGE,
                        "%s: rule at %s gives tied tensor %s format %s, but it shares storage with %s, which gets "
                        "%s (%s); tied tensors are stored once: give both names the same rule",
                        map->source, mine->where, t->name, mine->format->name, t->alias_of,
                        target->rule ? target->rule->format->name : "its own precision",
                        target->rule ? target->rule->where
                                     : (target->kind == SQ_DECIDED_KEPT ? "kept: full precision" : "raw"));
        }
    }

    /* A map of only a default ("default: fp16"), or a default with optional
     * exceptions (a recipe for several families), chose the default for the
     * model on purpose; with required rules, many tensors falling through is a
     * sign of patterns that do not match what the writer thought. */
    size_t required_rules = 0;
    for (size_t r = 0; r < map->rule_count; r++)
        required_rules += !map->rules[r].optional;
    if (required_rules > 0 && summary->considered > 0 &&
        (double)summary->by_default > SQ_MAP_DEFAULT_WARN_FRACTION * (double)summary->considered) {
        used = 0;
        message[0] = '\0';
        for (size_t i = 0; i < count && used < sizeof message; i++)
            if (decisions[i].kind == SQ_DECIDED_DEFAULT)
                used += (size_t)snprintf(message + used, sizeof message - used, "\n  %s", tensors[i].name);
        summary->default_warning = true;
        sq_warn("%s: %zu of %zu tensors (%.0f%%, more than %.0f%%) fall to the default (%s): check the patterns; "
                "they are:%s",
                map->source, summary->by_default, summary->considered,
                100.0 * (double)summary->by_default / (double)summary->considered,
                100.0 * SQ_MAP_DEFAULT_WARN_FRACTION, map->default_rule.format->name, message);
    }
cleanup:
    return st;
}

const char *sq_map_decision_label(const sq_map_decision *decision)
{
    switch (decision->kind) {
    case SQ_DECIDED_RULE:
        return decision->pattern ? decision->pattern->text : "rule";
    case SQ_DECIDED_DEFAULT:
        return "default";
    case SQ_DECIDED_KEPT:
        return "kept: full precision";
    case SQ_DECIDED_RAW:
        return "raw";
    case SQ_DECIDED_ALIAS:
        return "alias";
    }
    return "?";
}
