/* sweep.c - the `sweep` section: grid and zip over dotted option paths.
 *
 *   sweep:
 *     grid:  {compress.recipe: [recipes/int8.yaml, recipes/nf4.yaml]}   every combination
 *            {compress.prune.experts: [0, 0.25]}    pruning amounts (names "experts0", "experts25")
 *     zip:   {evaluate.window_length: [64, 128], evaluate.stride: [32, 64]}  side by side
 *     names: [int8-w64, ...]                 optional, one per variant
 *
 * Variants: the zip rows (outer) times the grid combinations (the last grid
 * path varies fastest).  A derived name joins the value parts with '_'; a part
 * is the value's basename without extension for paths, with characters
 * outside [A-Za-z0-9._-] replaced by '-'.  Names must be unique (else give
 * `names:`); a name is a folder and a Slurm array element, never shell text.
 */
#include "sweep.h"
#include "script_values.h"

#include <stdlib.h>
#include <string.h>

static const char *const sweep_keys[] = {"grid", "zip", "names", NULL};

bool sq_variant_name_valid(const char *name)
{
    if (!sq_folder_name_valid(name))
        return false;
    return strncmp(name, "baseline", 8) != 0; /* evaluate/baseline* holds the uncompressed model */
}

void sq_sweep_name_part(const char *value, char *buf, size_t size)
{
    const char *start = value;
    size_t len = strlen(value);
    const char *slash = strrchr(value, '/');
    if (slash && slash[1] != '\0') {
        start = slash + 1;
        len = strlen(start);
    }
    const char *dot = strrchr(start, '.');
    if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0 || strcmp(dot, ".json") == 0))
        len = (size_t)(dot - start);
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < size; i++) {
        char c = start[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._-", c);
        buf[n++] = ok ? c : '-';
    }
    buf[n] = '\0';
    if (n == 0)
        snprintf(buf, size, "empty");
    if (buf[0] == '.' || buf[0] == '-')
        buf[0] = '_';
}

/* A pruning amount's name part: the target's short name and the percent
 * ("ffn-channels" 0.25 -> "ffn25", "experts" 0.125 -> "experts12.5"), so that a
 * variant says what it removed.  False when value is not a fraction. */
static bool prune_part(const char *target, const char *value, char *buf, size_t size)
{
    char *end = NULL;
    double fraction = strtod(value, &end);
    const char *dash = strchr(target, '-');
    if (end == value || *end != '\0' || !(fraction >= 0.0 && fraction < 1.0))
        return false;
    /* "ffn-channels" -> "ffn"; a one-word target stays whole */
    snprintf(buf, size, "%.*s%.4g", dash ? (int)(dash - target) : (int)strlen(target), target, fraction * 100.0);
    return true;
}

/* The name part of one override: a prune amount (compress.prune.<target>:
 * fraction, or compress.prune: {target: fraction, ...}; an empty map is
 * "noprune"), else sq_sweep_name_part of a scalar, else "v<variant>". */
static void override_part(const sq_override *o, size_t v, char *buf, size_t size)
{
    const sq_yaml_node *value = o->value;
    static const char prefix[] = "compress.prune.";
    char raw[128];
    buf[0] = '\0';
    if (value->kind == SQ_YAML_SCALAR && strncmp(o->path, prefix, sizeof prefix - 1) == 0 &&
        prune_part(o->path + sizeof prefix - 1, value->value, raw, sizeof raw)) {
        sq_sweep_name_part(raw, buf, size);
        return;
    }
    if (value->kind == SQ_YAML_MAP && strcmp(o->path, "compress.prune") == 0) {
        char joined[128] = "noprune";
        size_t i, n = 0;
        for (i = 0; i < value->count; i++) {
            if (value->items[i]->kind != SQ_YAML_SCALAR ||
                !prune_part(value->keys[i]->value, value->items[i]->value, raw, sizeof raw) ||
                n + strlen(raw) + 2 > sizeof joined)
                break;
            n += (size_t)snprintf(joined + n, sizeof joined - n, "%s%s", i ? "-" : "", raw);
        }
        if (i == value->count) {
            sq_sweep_name_part(joined, buf, size);
            return;
        }
    }
    if (value->kind == SQ_YAML_SCALAR)
        sq_sweep_name_part(value->value, buf, size);
    else
        snprintf(buf, size, "v%zu", v);
}

/* The paths that a sweep may not vary: one model per run. */
static bool path_sweepable(const char *path)
{
    return strncmp(path, "model.", 6) != 0 && strncmp(path, "inspect.", 8) != 0 && strncmp(path, "sweep", 5) != 0 &&
           strncmp(path, "slurm", 5) != 0 && strcmp(path, "run") != 0 && strcmp(path, "output_root") != 0;
}

static sq_status check_axis(const sq_yaml_node *map, const char *where, size_t *length, bool equal)
{
    char pos[512];
    if (map == NULL)
        return SQ_OK;
    if (map->kind != SQ_YAML_MAP)
        return sq_fail(SQ_ERR_USAGE, "%s: sweep.%s must map option paths to lists of values "
                       "(e.g. compress.recipe: [a.yaml, b.yaml])", sq_yaml_where(map, pos, sizeof pos), where);
    for (size_t i = 0; i < map->count; i++) {
        const sq_yaml_node *key = map->keys[i], *list = map->items[i];
        if (!path_sweepable(key->value) || strchr(key->value, '.') == NULL ||
            key->value[strlen(key->value) - 1] == '.')
            return sq_fail(SQ_ERR_USAGE, "%s: sweep.%s: '%s' is not an option path that a sweep may vary "
                           "(use section.option such as compress.recipe; one model per run)",
                           sq_yaml_where(key, pos, sizeof pos), where, key->value);
        if (list->kind != SQ_YAML_SEQ || list->count == 0)
            return sq_fail(SQ_ERR_USAGE, "%s: sweep.%s.%s must be a non-empty list of values",
                           sq_yaml_where(list, pos, sizeof pos), where, key->value);
        if (equal && *length != 0 && list->count != *length)
            return sq_fail(SQ_ERR_USAGE, "%s: sweep.zip lists must have equal lengths: '%s' has %zu values, "
                           "'%s' has %zu (zip pairs the i-th values; use grid for every combination)",
                           sq_yaml_where(list, pos, sizeof pos), key->value, list->count, map->keys[0]->value,
                           *length);
        if (equal)
            *length = list->count;
    }
    return SQ_OK;
}

sq_status sq_sweep_expand(const sq_yaml_node *section, sq_sweep *out)
{
    sq_status st = SQ_OK;
    char pos[512];
    const sq_yaml_node *grid, *zip, *names;
    size_t zip_length = 0, total = 1, paths = 0;

    memset(out, 0, sizeof *out);
    if (section == NULL || (section->kind == SQ_YAML_SCALAR && section->value[0] == '\0')) {
        SQ_TRY(sq_alloc(&out->variants, 1, sizeof *out->variants, "sweep"));
        out->count = 1;
        out->variants[0].name = strdup("default");
        return SQ_OK;
    }
    SQ_TRY(sq_yaml_check_keys(section, "sweep", sweep_keys));
    grid = sq_yaml_get(section, "grid");
    zip = sq_yaml_get(section, "zip");
    names = sq_yaml_get(section, "names");
    SQ_TRY(check_axis(grid, "grid", &zip_length, false));
    SQ_TRY(check_axis(zip, "zip", &zip_length, true));
    if ((grid == NULL || grid->count == 0) && (zip == NULL || zip->count == 0))
        SQ_FAIL(SQ_ERR_USAGE, "%s: sweep needs grid or zip option lists", sq_yaml_where(section, pos, sizeof pos));
    /* a path may appear once */
    for (int a = 0; a < 2; a++) {
        const sq_yaml_node *m = a ? zip : grid;
        for (size_t i = 0; m && i < m->count; i++) {
            paths++;
            for (int b = 0; b < 2; b++) {
                const sq_yaml_node *n = b ? zip : grid;
                for (size_t j = 0; n && j < n->count; j++)
                    if ((b > a || (b == a && j > i)) && strcmp(m->keys[i]->value, n->keys[j]->value) == 0)
                        SQ_FAIL(SQ_ERR_USAGE, "%s: sweep varies '%s' twice", sq_yaml_where(n->keys[j], pos, sizeof pos),
                                n->keys[j]->value);
            }
        }
    }
    for (size_t i = 0; grid && i < grid->count; i++)
        total *= grid->items[i]->count;
    if (zip_length)
        total *= zip_length;
    if (total > 100000)
        SQ_FAIL(SQ_ERR_USAGE, "%s: the sweep has %zu variants; at most 100000", sq_yaml_where(section, pos, sizeof pos),
                total);
    if (names) {
        if (names->kind != SQ_YAML_SEQ || names->count != total)
            SQ_FAIL(SQ_ERR_USAGE, "%s: sweep.names must list one name per variant: %zu names for %zu variants",
                    sq_yaml_where(names, pos, sizeof pos), names->kind == SQ_YAML_SEQ ? names->count : 0, total);
    }
    SQ_TRY(sq_alloc(&out->variants, total, sizeof *out->variants, "sweep variants"));
    out->count = total;
    for (size_t v = 0; v < total; v++) {
        sq_variant_spec *spec = &out->variants[v];
        size_t rest = v, grid_combos = total / (zip_length ? zip_length : 1);
        size_t zip_row = rest / grid_combos, combo = rest % grid_combos;
        char name[512] = "";
        SQ_TRY(sq_alloc(&spec->overrides, paths, sizeof *spec->overrides, "sweep overrides"));
        for (size_t i = 0; zip && i < zip->count; i++) {
            spec->overrides[spec->override_count].path = strdup(zip->keys[i]->value);
            spec->overrides[spec->override_count].where = zip->keys[i];
            spec->overrides[spec->override_count++].value = zip->items[i]->items[zip_row];
        }
        /* grid: last path fastest */
        size_t stride = grid_combos;
        for (size_t i = 0; grid && i < grid->count; i++) {
            stride /= grid->items[i]->count;
            size_t index = (combo / stride) % grid->items[i]->count;
            spec->overrides[spec->override_count].path = strdup(grid->keys[i]->value);
            spec->overrides[spec->override_count].where = grid->keys[i];
            spec->overrides[spec->override_count++].value = grid->items[i]->items[index];
        }
        if (names) {
            const char *given = NULL;
            SQ_TRY(sq_yaml_as_string(names->items[v], "sweep.names", &given));
            if (!sq_variant_name_valid(given))
                SQ_FAIL(SQ_ERR_USAGE, "%s: variant name '%s' may only hold letters, digits, '.', '_' and '-', must "
                        "not start with '.', '-' or 'baseline'",
                        sq_yaml_where(names->items[v], pos, sizeof pos), given);
            snprintf(name, sizeof name, "%s", given);
        } else {
            for (size_t i = 0; i < spec->override_count; i++) {
                char part[128];
                override_part(&spec->overrides[i], v, part, sizeof part);
                snprintf(name + strlen(name), sizeof name - strlen(name), "%s%s", i ? "_" : "", part);
            }
            if (strncmp(name, "baseline", 8) == 0) {
                memmove(name + 2, name, strlen(name) + 1);
                memcpy(name, "v-", 2);
            }
        }
        spec->name = strdup(name);
        for (size_t w = 0; w < v; w++)
            if (strcmp(out->variants[w].name, name) == 0)
                SQ_FAIL(SQ_ERR_USAGE, "%s: two sweep variants are both named '%s' (variants %zu and %zu); "
                        "give unique names with sweep.names",
                        sq_yaml_where(names ? names->items[v] : section, pos, sizeof pos), name, w + 1, v + 1);
    }
cleanup:
    if (st != SQ_OK)
        sq_sweep_free(out);
    return st;
}

void sq_sweep_free(sq_sweep *sweep)
{
    for (size_t v = 0; v < sweep->count; v++) {
        for (size_t i = 0; i < sweep->variants[v].override_count; i++)
            free(sweep->variants[v].overrides[i].path);
        free(sweep->variants[v].overrides);
        free(sweep->variants[v].name);
    }
    free(sweep->variants);
    memset(sweep, 0, sizeof *sweep);
}

/* Keys created for the sweep take the position of the sweep's path, so that a
 * misspelt path ("compres.recipe") is reported where it was written. */
static void place_key(sq_yaml_node *map, const char *key, const sq_yaml_node *where)
{
    for (size_t i = 0; where && i < map->count; i++) {
        if (strcmp(map->keys[i]->value, key) == 0 && map->keys[i]->line == 0) {
            map->keys[i]->line = where->line;
            map->keys[i]->column = where->column;
            map->keys[i]->file = where->file;
        }
    }
}

sq_status sq_sweep_apply(sq_yaml_node *root, const char *path, const sq_yaml_node *value, const sq_yaml_node *where)
{
    char part[256];
    const char *p = path;
    sq_yaml_node *map = root;
    char pos[512];
    for (;;) {
        size_t len = strcspn(p, ".");
        if (len == 0 || len >= sizeof part)
            return sq_fail(SQ_ERR_USAGE, "%s: bad option path '%s' in the sweep", sq_yaml_where(value, pos, sizeof pos),
                           path);
        memcpy(part, p, len);
        part[len] = '\0';
        if (p[len] == '\0') {
            sq_yaml_node *copy = sq_yaml_clone(value);
            if (copy == NULL)
                return sq_fail(SQ_ERR_RUN, "out of memory");
            sq_status st = sq_yaml_map_set(map, part, copy);
            place_key(map, part, where);
            return st;
        }
        sq_yaml_node *child = sq_yaml_get_mutable(map, part);
        if (child == NULL) {
            child = sq_yaml_new_map();
            sq_status st = sq_yaml_map_set(map, part, child);
            if (st != SQ_OK)
                return st;
            place_key(map, part, where);
            child->line = where ? where->line : 0;
            child->column = where ? where->column : 0;
            child->file = where ? where->file : NULL;
        } else if (child->kind != SQ_YAML_MAP) {
            return sq_fail(SQ_ERR_USAGE, "%s: the sweep sets '%s', but '%.*s' is not a section in the config",
                           sq_yaml_where(value, pos, sizeof pos), path, (int)(p - path + len), path);
        }
        map = child;
        p += len + 1;
    }
}
