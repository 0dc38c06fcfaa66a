/* run_config.c - the run's YAML into typed structs, with defaults. */
#include "config/run_config.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/hash.h"

static const char *const top_keys[] = {"run", "description", "output_root", "model", "data", "inspect",
                                       "calibrate", "compress", "evaluate", "targets", "sweep", "slurm", NULL};
static const char *const model_keys[] = {"checkpoint", "family", "num_heads", NULL};
static const char *const data_keys[] = {"tokenizer", "calibration", "evaluation", NULL};
static const char *const spec_keys[] = {"path", "format", "dataset", "start", "end", NULL};
static const char *const inspect_keys[] = {"target_hardware", NULL};
static const char *const calibrate_keys[] = {"windows", "window_length", "percentiles", "hessian", "ranks", NULL};
static const char *const compress_keys[] = {"recipe", "precision_map", "prune", NULL};
static const char *const evaluate_keys[] = {"window_length", "stride", "scoring", "offset", "max_windows",
                                            "store_logprobs", "ranks", "kernels", "activations", NULL};
static const char *const targets_keys[] = {"compression", "quality", NULL};

void sq_run_config_defaults(sq_run_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->data.calibration.format = "text";
    cfg->data.calibration.dataset = "tokens";
    cfg->data.calibration.end = 1.0;
    cfg->data.evaluation.format = "text";
    cfg->data.evaluation.dataset = "tokens";
    cfg->data.evaluation.end = 1.0;
    cfg->calibrate.windows = 32;
    cfg->calibrate.window_length = 128;
    cfg->calibrate.percentile_count = 1;
    cfg->calibrate.percentiles[0] = 99.99;
    cfg->calibrate.ranks = 1;
    cfg->evaluate.window_length = 128;
    cfg->evaluate.stride = 0; /* 0 = window_length, resolved after loading */
    cfg->evaluate.scoring = SQ_SCORE_ALL;
    cfg->evaluate.offset = 1;
    cfg->evaluate.ranks = 1;
    cfg->targets.compression = 2.0;
    cfg->targets.quality = 3.0;
}

char *sq_run_config_path(const sq_run_config *cfg, const char *path)
{
    char *joined;
    size_t size;
    if (path == NULL)
        return NULL;
    if (path[0] == '/' || cfg->dir == NULL)
        return strdup(path);
    size = strlen(cfg->dir) + strlen(path) + 2;
    joined = malloc(size);
    if (joined)
        snprintf(joined, size, "%s/%s", cfg->dir, path);
    /* "configs/../results" reads badly in every log line: canonical when it exists. */
    char canonical[PATH_MAX];
    if (joined && realpath(joined, canonical) != NULL) {
        free(joined);
        joined = strdup(canonical);
    }
    return joined;
}

static sq_status positive_int(const sq_yaml_node *map, const char *key, int minimum, int *out)
{
    char pos[512];
    int64_t value = *out;
    const sq_yaml_node *node = sq_yaml_get(map, key);
    sq_status st = sq_yaml_opt_int(map, key, &value);
    if (st != SQ_OK)
        return st;
    if (node && (value < minimum || value > INT32_MAX))
        return sq_fail(SQ_ERR_USAGE, "%s: '%s' must be at least %d, not %lld", sq_yaml_where(node, pos, sizeof pos),
                       key, minimum, (long long)value);
    *out = (int)value;
    return SQ_OK;
}

static sq_status choice(const sq_yaml_node *map, const char *key, const char *const *choices, const char **out)
{
    char pos[512];
    const sq_yaml_node *node = sq_yaml_get(map, key);
    const char *value = NULL;
    sq_status st;
    if (node == NULL)
        return SQ_OK;
    st = sq_yaml_as_string(node, key, &value);
    if (st != SQ_OK)
        return st;
    for (const char *const *c = choices; *c; c++) {
        if (strcmp(*c, value) == 0) {
            *out = *c;
            return SQ_OK;
        }
    }
    char list[256] = "";
    for (const char *const *c = choices; *c; c++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", c == choices ? "" : ", ", *c);
    return sq_fail(SQ_ERR_USAGE, "%s: '%s' must be one of %s, not '%s'", sq_yaml_where(node, pos, sizeof pos), key,
                   list, value);
}

static sq_status path_value(sq_run_config *cfg, const sq_yaml_node *map, const char *key, char **out)
{
    const char *value = NULL;
    sq_status st = sq_yaml_opt_string(map, key, &value);
    if (st != SQ_OK || value == NULL)
        return st;
    free(*out);
    *out = sq_run_config_path(cfg, value);
    return *out ? SQ_OK : sq_fail(SQ_ERR_RUN, "out of memory");
}

static sq_status parse_spec(sq_run_config *cfg, const sq_yaml_node *node, const char *where, sq_data_spec *spec,
                            char **path_storage)
{
    static const char *const formats[] = {"text", "u16", "u32", "hdf5", NULL};
    char pos[512];
    sq_status st;
    if (node == NULL)
        return SQ_OK;
    if (node->kind == SQ_YAML_SCALAR) { /* shorthand: just a path to a text file */
        free(*path_storage);
        *path_storage = sq_run_config_path(cfg, node->value);
        spec->path = *path_storage;
        return SQ_OK;
    }
    if ((st = sq_yaml_check_keys(node, where, spec_keys)) != SQ_OK)
        return st;
    if ((st = path_value(cfg, node, "path", path_storage)) != SQ_OK)
        return st;
    spec->path = *path_storage;
    if ((st = choice(node, "format", formats, &spec->format)) != SQ_OK)
        return st;
    if ((st = sq_yaml_opt_string(node, "dataset", &spec->dataset)) != SQ_OK)
        return st;
    if ((st = sq_yaml_opt_double(node, "start", &spec->start)) != SQ_OK)
        return st;
    if ((st = sq_yaml_opt_double(node, "end", &spec->end)) != SQ_OK)
        return st;
    if (spec->start < 0 || spec->end > 1 || spec->start >= spec->end)
        return sq_fail(SQ_ERR_USAGE, "%s: %s: start and end are fractions of the data with 0 <= start < end <= 1 "
                       "(got %g and %g)", sq_yaml_where(node, pos, sizeof pos), where, spec->start, spec->end);
    if (spec->path == NULL)
        return sq_fail(SQ_ERR_USAGE, "%s: %s needs a 'path'", sq_yaml_where(node, pos, sizeof pos), where);
    return SQ_OK;
}

/* Owned strings for the data paths live here (the spec only points at them). */
typedef struct {
    char *calibration_path;
    char *evaluation_path;
} spec_paths;

static sq_status parse_sections(sq_run_config *cfg, spec_paths *paths)
{
    static const char *const hardware[] = {"gpu", "cpu", "edge", NULL};
    static const char *const scorings[] = {"all", "new", "second-half", NULL};
    sq_status st = SQ_OK;
    const sq_yaml_node *root = cfg->doc.root, *section, *list;
    const char *text = NULL;
    char pos[512];

    if (root == NULL)
        return sq_fail(SQ_ERR_USAGE, "%s: the config is empty", cfg->path);
    SQ_TRY(sq_yaml_check_keys(root, "the run config", top_keys));

    text = NULL;
    SQ_TRY(sq_yaml_opt_string(root, "run", &text));
    if (text) {
        for (const char *p = text; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  strchr("._-", *p)))
                SQ_FAIL(SQ_ERR_USAGE, "%s: run name '%s' may only hold letters, digits, '.', '_' and '-'",
                        sq_yaml_where(sq_yaml_get(root, "run"), pos, sizeof pos), text);
        free(cfg->run_name);
        cfg->run_name = strdup(text);
    }
    SQ_TRY(path_value(cfg, root, "output_root", &cfg->output_root));

    section = sq_yaml_get(root, "model");
    SQ_TRY(sq_yaml_check_keys(section, "model", model_keys));
    SQ_TRY(path_value(cfg, section, "checkpoint", &cfg->model.checkpoint));
    text = NULL;
    SQ_TRY(sq_yaml_opt_string(section, "family", &text));
    if (text) {
        free(cfg->model.family);
        cfg->model.family = strdup(text);
    }
    SQ_TRY(positive_int(section, "num_heads", 1, &cfg->model.num_heads));

    section = sq_yaml_get(root, "data");
    SQ_TRY(sq_yaml_check_keys(section, "data", data_keys));
    text = NULL;
    SQ_TRY(sq_yaml_opt_string(section, "tokenizer", &text));
    if (text) {
        free(cfg->data.tokenizer);
        cfg->data.tokenizer = strcmp(text, "bytes") == 0 ? strdup(text) : sq_run_config_path(cfg, text);
    }
    SQ_TRY(parse_spec(cfg, sq_yaml_get(section, "calibration"), "data.calibration", &cfg->data.calibration,
                      &paths->calibration_path));
    SQ_TRY(parse_spec(cfg, sq_yaml_get(section, "evaluation"), "data.evaluation", &cfg->data.evaluation,
                      &paths->evaluation_path));

    section = sq_yaml_get(root, "inspect");
    SQ_TRY(sq_yaml_check_keys(section, "inspect", inspect_keys));
    SQ_TRY(choice(section, "target_hardware", hardware, &cfg->inspect.target_hardware));

    section = sq_yaml_get(root, "calibrate");
    SQ_TRY(sq_yaml_check_keys(section, "calibrate", calibrate_keys));
    SQ_TRY(positive_int(section, "windows", 1, &cfg->calibrate.windows));
    SQ_TRY(positive_int(section, "window_length", 2, &cfg->calibrate.window_length));
    SQ_TRY(positive_int(section, "ranks", 1, &cfg->calibrate.ranks));
    if ((list = sq_yaml_get(section, "percentiles")) != NULL) {
        SQ_TRY(sq_yaml_expect(list, SQ_YAML_SEQ, "calibrate.percentiles"));
        if (list->count == 0 || list->count > SQ_MAX_PERCENTILES)
            SQ_FAIL(SQ_ERR_USAGE, "%s: calibrate.percentiles needs 1 to %d values",
                    sq_yaml_where(list, pos, sizeof pos), SQ_MAX_PERCENTILES);
        cfg->calibrate.percentile_count = (int)list->count;
        for (size_t i = 0; i < list->count; i++) {
            SQ_TRY(sq_yaml_as_double(list->items[i], "calibrate.percentiles", &cfg->calibrate.percentiles[i]));
            if (cfg->calibrate.percentiles[i] <= 0 || cfg->calibrate.percentiles[i] > 100)
                SQ_FAIL(SQ_ERR_USAGE, "%s: a percentile lies in (0, 100], not %g",
                        sq_yaml_where(list->items[i], pos, sizeof pos), cfg->calibrate.percentiles[i]);
        }
    }
    if ((list = sq_yaml_get(section, "hessian")) != NULL) {
        SQ_TRY(sq_yaml_expect(list, SQ_YAML_SEQ, "calibrate.hessian"));
        if (list->count > SQ_MAX_PATTERNS)
            SQ_FAIL(SQ_ERR_USAGE, "%s: calibrate.hessian holds at most %d patterns",
                    sq_yaml_where(list, pos, sizeof pos), SQ_MAX_PATTERNS);
        for (size_t i = 0; i < list->count; i++) {
            SQ_TRY(sq_yaml_as_string(list->items[i], "calibrate.hessian", &text));
            cfg->calibrate.hessian[cfg->calibrate.hessian_count++] = strdup(text);
        }
    }

    section = sq_yaml_get(root, "compress");
    SQ_TRY(sq_yaml_check_keys(section, "compress", compress_keys));
    SQ_TRY(path_value(cfg, section, "recipe", &cfg->compress.recipe));
    cfg->compress.precision_map = sq_yaml_get(section, "precision_map");
    cfg->compress.prune = sq_yaml_get(section, "prune");
    if (cfg->compress.recipe && cfg->compress.precision_map)
        SQ_FAIL(SQ_ERR_USAGE, "%s: compress has both 'recipe' and 'precision_map'; give one",
                sq_yaml_where(section, pos, sizeof pos));

    section = sq_yaml_get(root, "evaluate");
    SQ_TRY(sq_yaml_check_keys(section, "evaluate", evaluate_keys));
    SQ_TRY(positive_int(section, "window_length", 2, &cfg->evaluate.window_length));
    SQ_TRY(positive_int(section, "stride", 1, &cfg->evaluate.stride));
    SQ_TRY(positive_int(section, "offset", 1, &cfg->evaluate.offset));
    SQ_TRY(positive_int(section, "max_windows", 0, &cfg->evaluate.max_windows));
    SQ_TRY(positive_int(section, "ranks", 1, &cfg->evaluate.ranks));
    SQ_TRY(sq_yaml_opt_bool(section, "store_logprobs", &cfg->evaluate.store_logprobs));
    text = NULL;
    SQ_TRY(choice(section, "scoring", scorings, &text));
    if (text)
        cfg->evaluate.scoring = strcmp(text, "all") == 0 ? SQ_SCORE_ALL
                                : strcmp(text, "new") == 0 ? SQ_SCORE_NEW
                                                           : SQ_SCORE_SECOND_HALF;
    if (cfg->evaluate.stride == 0)
        cfg->evaluate.stride = cfg->evaluate.window_length;
    {
        static const char *const kernel_paths[] = {"packed", "dequantized", NULL};
        static const char *const activation_kinds[] = {"int8", "fp32", NULL};
        text = NULL;
        SQ_TRY(choice(section, "kernels", kernel_paths, &text));
        cfg->evaluate.dequantized = text && strcmp(text, "dequantized") == 0;
        text = NULL;
        SQ_TRY(choice(section, "activations", activation_kinds, &text));
        cfg->evaluate.fp32_activations = text && strcmp(text, "fp32") == 0;
    }

    section = sq_yaml_get(root, "targets");
    SQ_TRY(sq_yaml_check_keys(section, "targets", targets_keys));
    SQ_TRY(sq_yaml_opt_double(section, "compression", &cfg->targets.compression));
    SQ_TRY(sq_yaml_opt_double(section, "quality", &cfg->targets.quality));
    if (cfg->targets.compression < 1.0 || cfg->targets.quality < 0)
        SQ_FAIL(SQ_ERR_USAGE, "%s: targets.compression must be >= 1 (a ratio) and targets.quality >= 0 (percent)",
                sq_yaml_where(section, pos, sizeof pos));

    cfg->sweep = sq_yaml_get(root, "sweep");
    cfg->slurm = sq_yaml_get(root, "slurm");
cleanup:
    return st;
}

sq_status sq_run_config_from_doc(sq_yaml_doc *doc, const char *path, sq_run_config *cfg)
{
    sq_status st;
    char *copy, *base, *dot;
    char absolute[PATH_MAX];
    spec_paths paths = {NULL, NULL};

    sq_run_config_defaults(cfg);
    cfg->doc = *doc;
    memset(doc, 0, sizeof *doc);
    cfg->path = strdup(path);
    copy = strdup(realpath(path, absolute) ? absolute : path);
    cfg->dir = strdup(dirname(copy));
    free(copy);
    copy = strdup(path);
    base = basename(copy);
    dot = strrchr(base, '.');
    if (dot && dot != base)
        *dot = '\0';
    cfg->run_name = strdup(base);
    free(copy);
    cfg->model.family = strdup("auto");
    cfg->data.tokenizer = strdup("bytes");
    cfg->inspect.target_hardware = "gpu";

    st = parse_sections(cfg, &paths);
    /* The data specs point into these two strings; the config owns them. */
    cfg->data.calibration.path = paths.calibration_path;
    cfg->data.evaluation.path = paths.evaluation_path;
    if (cfg->output_root == NULL)
        cfg->output_root = sq_run_config_path(cfg, "results");
    if (st != SQ_OK)
        sq_run_config_free(cfg);
    return st;
}

sq_status sq_run_config_load(const char *path, sq_run_config *cfg)
{
    sq_yaml_doc doc;
    sq_status st = sq_yaml_load_file(&doc, path);
    if (st != SQ_OK) {
        sq_run_config_defaults(cfg);
        return st;
    }
    return sq_run_config_from_doc(&doc, path, cfg);
}

void sq_run_config_free(sq_run_config *cfg)
{
    free(cfg->path);
    free(cfg->dir);
    free(cfg->run_name);
    free(cfg->output_root);
    free(cfg->model.checkpoint);
    free(cfg->model.family);
    free(cfg->data.tokenizer);
    /* the specs' paths are the config's own copies (const for their readers) */
    free((void *)(uintptr_t)cfg->data.calibration.path);
    free((void *)(uintptr_t)cfg->data.evaluation.path);
    for (int i = 0; i < cfg->calibrate.hessian_count; i++)
        free(cfg->calibrate.hessian[i]);
    free(cfg->compress.recipe);
    sq_yaml_free(&cfg->doc);
    memset(cfg, 0, sizeof *cfg);
}

static sq_status absolutize(sq_yaml_node *map, const char *key, const char *dir)
{
    sq_yaml_node *node = sq_yaml_get_mutable(map, key);
    char *joined;
    size_t size;
    if (node == NULL || node->kind != SQ_YAML_SCALAR || node->value[0] == '/' || strcmp(node->value, "bytes") == 0)
        return SQ_OK;
    size = strlen(dir) + strlen(node->value) + 2;
    joined = malloc(size);
    if (joined == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    snprintf(joined, size, "%s/%s", dir, node->value);
    free(node->value);
    node->value = joined;
    char canonical[PATH_MAX]; /* as in sq_run_config_path: no "configs/../" in logs */
    if (realpath(joined, canonical) != NULL) {
        free(node->value);
        node->value = strdup(canonical);
    }
    return node->value ? SQ_OK : sq_fail(SQ_ERR_RUN, "out of memory");
}

sq_status sq_run_config_absolute_paths(sq_yaml_node *root, const char *dir)
{
    sq_status st = SQ_OK;
    sq_yaml_node *data, *spec;
    if (root == NULL || root->kind != SQ_YAML_MAP)
        return SQ_OK;
    SQ_TRY(absolutize(root, "output_root", dir));
    SQ_TRY(absolutize(sq_yaml_get_mutable(root, "model"), "checkpoint", dir));
    SQ_TRY(absolutize(sq_yaml_get_mutable(root, "compress"), "recipe", dir));
    data = sq_yaml_get_mutable(root, "data");
    SQ_TRY(absolutize(data, "tokenizer", dir));
    SQ_TRY(absolutize(data, "calibration", dir)); /* the scalar shorthand */
    SQ_TRY(absolutize(data, "evaluation", dir));
    if ((spec = sq_yaml_get_mutable(data, "calibration")) != NULL)
        SQ_TRY(absolutize(spec, "path", dir));
    if ((spec = sq_yaml_get_mutable(data, "evaluation")) != NULL)
        SQ_TRY(absolutize(spec, "path", dir));
cleanup:
    return st;
}

sq_status sq_run_config_section_sha256(const sq_run_config *cfg, const char *section, char *out_hex65)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream;
    const sq_yaml_node *node = section[0] ? sq_yaml_get(cfg->doc.root, section) : cfg->doc.root;
    sq_status st = SQ_OK;
    stream = open_memstream(&text, &size);
    if (stream == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot open a memory stream");
    if (node != NULL) {
        if (node->kind == SQ_YAML_MAP) {
            st = sq_yaml_emit(stream, node);
        } else {
            sq_yaml_node *wrapper = sq_yaml_new_map();
            sq_yaml_map_set(wrapper, section, sq_yaml_clone(node));
            st = sq_yaml_emit(stream, wrapper);
            sq_yaml_node_free(wrapper);
        }
    }
    fclose(stream);
    if (st == SQ_OK)
        sq_sha256_hex(text ? text : "", size, out_hex65);
    free(text);
    return st;
}
