/* compress.c - model + calibration + precision map -> model artifact (compress.h). */
#include "compress/compress.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact/artifact.h"
#include "calib/calib_file.h"
#include "calib/model_identity.h"
#include "compress/accounting.h"
#include "compress/compress_plan.h"
#include "compress/compress_summary.h"
#include "compress/prune.h"
#include "modelio/loader.h"
#include "modelio/model_file.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/progress.h"

/* ---- finding the precision map -------------------------------------------- */

static bool is_file(const char *path)
{
    struct stat info;
    return path && stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

sq_status sq_compress_find_recipe(const char *recipe, char **found)
{
    char exe[PATH_MAX], candidate[PATH_MAX * 2], name[PATH_MAX], tried[2048];
    const char *dirs[3] = {NULL, NULL, NULL};
    char exe_recipes[PATH_MAX + 64] = "", exe_share[PATH_MAX + 64] = "";
    ssize_t length;
    size_t used = 0;
    *found = NULL;
    if (is_file(recipe)) {
        *found = strdup(recipe);
        return *found ? SQ_OK : sq_fail(SQ_ERR_RUN, "out of memory");
    }
    /* A bare name ("nf4") or a path that does not exist: look for its file name. */
    {
        char copy[PATH_MAX];
        snprintf(copy, sizeof copy, "%s", recipe);
        snprintf(name, sizeof name, "%s", basename(copy));
    }
    if (!strchr(name, '.'))
        strncat(name, ".yaml", sizeof name - strlen(name) - 1);
    dirs[0] = getenv("SQUEEZE_RECIPES");
    length = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (length > 0) {
        exe[length] = '\0';
        char *dir = dirname(exe);
        snprintf(exe_recipes, sizeof exe_recipes, "%s/../configs/recipes", dir);
        snprintf(exe_share, sizeof exe_share, "%s/../share/squeeze/configs/recipes", dir);
        dirs[1] = exe_recipes;
        dirs[2] = exe_share;
    }
    tried[0] = '\0';
    for (int i = 0; i < 3; i++) {
        if (!dirs[i] || !dirs[i][0])
            continue;
        snprintf(candidate, sizeof candidate, "%s/%s", dirs[i], name);
        if (is_file(candidate)) {
            *found = realpath(candidate, NULL);
            if (!*found)
                *found = strdup(candidate);
            return SQ_OK;
        }
        used += (size_t)snprintf(tried + used, used < sizeof tried ? sizeof tried - used : 0, "%s%s",
                                 used ? ", " : "", dirs[i]);
    }
    return sq_fail(SQ_ERR_USAGE,
                   "compress.recipe '%s' is not a file, and no recipe %s is in %s; the recipes squeeze ships are in "
                   "configs/recipes/ (fp32, fp16, bf16, int8, nf4, nf4-double, int4-g32, gptq-int4, seed-mixed, ssm-mixed)",
                   recipe, name, tried[0] ? tried : "(no recipe folder found)");
}

sq_status sq_compress_load_map(const sq_compress_request *request, sq_precision_map *map)
{
    sq_status st = SQ_OK;
    char *recipe = NULL;
    const sq_run_config *cfg = request->config;
    if (request->map_path) {
        SQ_TRY(sq_precision_map_load(request->map_path, map));
    } else if (cfg && cfg->compress.precision_map) {
        SQ_TRY(sq_precision_map_parse(cfg->compress.precision_map, map));
    } else if (cfg && cfg->compress.recipe) {
        SQ_TRY(sq_compress_find_recipe(cfg->compress.recipe, &recipe));
        SQ_TRY(sq_precision_map_load(recipe, map));
    } else {
        SQ_FAIL(SQ_ERR_USAGE, "no precision map: set compress.recipe (a file in configs/recipes/) or "
                              "compress.precision_map in %s, or pass --map FILE",
                cfg && cfg->path ? cfg->path : "the config");
    }
    /* the run config's amounts (a sweep axis) join the map's prune rules */
    if (cfg)
        SQ_TRY(sq_prune_spec_add_fractions(cfg->compress.prune, &map->prune));
    sq_info("precision map %s: %zu rule%s, %s%s%s%s", map->source, map->rule_count, map->rule_count == 1 ? "" : "s",
            map->has_default ? "default " : "no default", map->has_default ? map->default_rule.format->name : "",
            map->description ? ": " : "", map->description ? map->description : "");
cleanup:
    free(recipe);
    return st;
}

/* ---- what the input holds -------------------------------------------------- */

/* Per tensor of the loaded model: original dtype and stored bytes, read by a
 * second path (the checkpoint reader, or the artifact's datasets) so that the
 * accounting can be checked against the loader's own total. */
static sq_status input_tensors(const char *path, const sq_loaded_model *loaded, sq_tensor_set *original,
                               sq_input_tensor *input)
{
    sq_status st = SQ_OK;
    if (strcmp(loaded->kind, "checkpoint") != 0)
        return sq_accounting_artifact_inputs(path, &loaded->tensors, input);
    SQ_TRY(sq_checkpoint_read(path, original));
    for (size_t i = 0; i < loaded->tensors.count; i++) {
        const sq_tensor *t = &loaded->tensors.tensors[i];
        const sq_tensor *o = sq_tensor_set_find(original, t->name);
        if (!o)
            SQ_FAIL(SQ_ERR_INPUT, "%s: tensor '%s' of the loaded model is not in the checkpoint", path, t->name);
        input[i].dtype = o->dtype;
        input[i].bytes = o->alias_of ? 0 : (uint64_t)o->nbytes;
    }
cleanup:
    return st;
}

/* ---- calibration ------------------------------------------------------------ */

static sq_status check_calibration(const sq_calib_file *calib, const sq_loaded_model *loaded,
                                   const sq_model_identity *identity, const char *model_path)
{
    sq_status st = SQ_OK;
    char mine[512], theirs[512];
    if (!sq_model_identity_equal(identity, &calib->identity))
        SQ_FAIL(SQ_ERR_INPUT,
                "calibration %s belongs to another model: it was made on %s = %s, but the model to compress is "
                "%s = %s; calibrate this model (squeeze-calibrate --model %s)",
                calib->path, calib->model_path ? calib->model_path : "?",
                sq_model_identity_describe(&calib->identity, &calib->config, theirs, sizeof theirs), model_path,
                sq_model_identity_describe(identity, &loaded->config, mine, sizeof mine), model_path);
    sq_info("calibration %s: %lld tokens in %lld windows, same model (names+shapes sha256 %.12s)", calib->path,
            (long long)calib->tokens, (long long)calib->windows, identity->tensors_sha256);
cleanup:
    return st;
}

/* The statistics for tensor `index`: its own, or those of a tied name that is
 * the linear (lm_head.weight shares storage with embedding.weight). */
static sq_status stats_for(const sq_calib_file *calib, const sq_compress_plan *plan, size_t index, int64_t cols,
                           bool *found, sq_calib_linear *linear)
{
    sq_status st = SQ_OK;
    *found = false;
    if (!calib)
        return SQ_OK;
    for (size_t j = 0; j < plan->count && !*found; j++) {
        const sq_plan_entry *e = &plan->entries[j];
        if (j != index && !(e->alias_of && strcmp(e->alias_of, plan->entries[index].name) == 0))
            continue;
        SQ_TRY(sq_calib_file_linear(calib, e->name, found, linear));
        if (*found && linear->cols != cols) {
            sq_calib_linear_free(linear);
            *found = false;
        }
    }
cleanup:
    return st;
}

/* The statistics of a tensor that pruning reshaped or renamed: its source's
 * in the input model, restricted to the input columns that survive (for a
 * down projection whose channels went, the Hessian's rows and columns of the
 * kept channels: their activations are unchanged, silu(g_j) * u_j depends on
 * channel j alone).  Later layers' inputs do change with an earlier layer's
 * pruning; like every tensor here they use the input model's statistics. */
static sq_status pruned_stats(const sq_calib_file *calib, const sq_pruned_tensor *source, int64_t cols, bool *found,
                              sq_calib_linear *linear)
{
    sq_status st = SQ_OK;
    *found = false;
    if (!calib)
        return SQ_OK;
    SQ_TRY(sq_calib_file_linear(calib, source->source, found, linear));
    if (*found && source->cols)
        SQ_TRY(sq_calib_linear_keep_cols(linear, source->cols, source->col_count));
    if (*found && linear->cols != cols) {
        sq_calib_linear_free(linear);
        *found = false;
    }
cleanup:
    return st;
}

/* ---- quantizing one tensor -------------------------------------------------- */

static sq_status store_tensor(const sq_plan_entry *e, const sq_plan_entry *target, const sq_loaded_model *loaded,
                              const sq_tensor_set *original, const sq_calib_linear *calib, sq_qtensor *out)
{
    sq_status st = SQ_OK;
    const sq_tensor *t = sq_tensor_set_find(&loaded->tensors, e->name);
    float *values = NULL;
    int64_t rows, cols;
    if (e->decision.kind == SQ_DECIDED_ALIAS) {
        sq_qtensor_init(out, e->name, target->format ? target->format->name : "raw", e->original_dtype, e->ndim,
                        e->shape);
        out->alias_of = strdup(e->alias_of);
        return out->alias_of ? SQ_OK : sq_fail(SQ_ERR_RUN, "out of memory");
    }
    if (!e->format) {
        /* A non-float buffer, kept byte for byte from the checkpoint. */
        const sq_tensor *o = original ? sq_tensor_set_find(original, e->name) : NULL;
        void *data = NULL;
        if (!o || !o->data)
            return sq_fail(SQ_ERR_INPUT, "tensor '%s' (%s) cannot be stored raw: its original data is not available",
                           e->name, sq_dtype_name(e->original_dtype));
        sq_qtensor_init(out, e->name, "raw", o->dtype, e->ndim, e->shape);
        SQ_TRY(sq_qtensor_add_buffer(out, "data", o->dtype, e->ndim, e->shape, &data));
        memcpy(data, o->data, o->nbytes);
        return SQ_OK;
    }
    /* Formats see a matrix: rows = output channels (shape[0]), cols = the rest. */
    sq_plan_matrix_shape(e->ndim, e->shape, &rows, &cols);
    SQ_TRY(sq_tensor_to_f32(&loaded->tensors, t, &values));
    if (sq_format_needs_hessian(e->format) && !(calib && calib->hessian))
        SQ_FAIL(SQ_ERR_USAGE,
                "format %s for '%s' needs the X^T X of its input: calibrate with calibrate.hessian covering it "
                "(e.g. \"**.weight\") and pass --calibration",
                e->format->name, e->name);
    st = e->format->quantize(e->name, values, rows, cols, &e->options, calib ? &calib->stats : NULL, out);
    if (st != SQ_OK) {
        sq_error_context("tensor '%s' as %s (rule %s)", e->name, e->format->name,
                         e->decision.rule ? e->decision.rule->where : sq_map_decision_label(&e->decision));
        goto cleanup;
    }
    /* The format stored a [rows, cols] matrix; the model keeps the original shape. */
    out->ndim = e->ndim;
    memcpy(out->shape, e->shape, sizeof out->shape);
    out->original_dtype = e->original_dtype;
cleanup:
    free(values);
    return st;
}

/* ---- the pruning record ------------------------------------------------------ */

/* /pruning: one entry per removed row, column or expert, as columns (a few
 * bytes each, so the record does not outweigh what pruning saves): tensor
 * (into /pruning/tensors), removed (row, column, expert: /pruning@removed_kinds),
 * index in the input model, score, score_kind (/pruning@score_kinds); and the totals. */
static sq_status write_pruning(hid_t file, const sq_prune_record *pruned, const sq_precision_map *map,
                               const sq_model_identity *before)
{
    sq_status st = SQ_OK;
    hid_t group = -1;
    int32_t *tensor = NULL, *index = NULL;
    int8_t *kind = NULL, *score_kind = NULL;
    double *score = NULL;
    uint64_t dims[1] = {pruned->count};
    SQ_TRY(sq_h5_group(file, "pruning", &group));
    SQ_TRY(sq_h5_write_attr_string(group, "source", map->source));
    SQ_TRY(sq_model_identity_write_attrs(group, "source_", before));
    {
        /* what was asked, in words the report shows beside the variant: "ffn-channels 25%, experts 2 per layer" */
        char amounts[512] = "";
        for (size_t r = 0; r < map->prune.count; r++) {
            const sq_prune_rule *rule = &map->prune.rules[r];
            size_t n = strlen(amounts);
            if (rule->count >= 0)
                snprintf(amounts + n, sizeof amounts - n, "%s%s %ld per layer", r ? ", " : "",
                         sq_prune_target_name(rule->target), rule->count);
            else
                snprintf(amounts + n, sizeof amounts - n, "%s%s %.4g%%", r ? ", " : "",
                         sq_prune_target_name(rule->target), rule->fraction * 100.0);
        }
        SQ_TRY(sq_h5_write_attr_string(group, "amounts", amounts));
    }
    {
        char kinds[1024];
        size_t at = 0;
        for (int k = 0; k < SQ_PRUNED_KIND_COUNT; k++)
            at += (size_t)snprintf(kinds + at, sizeof kinds - at, "%s%d %s", k ? ", " : "", k,
                                   sq_pruned_kind_names[k]);
        SQ_TRY(sq_h5_write_attr_string(group, "removed_kinds", kinds));
        at = 0;
        for (int k = 0; k < SQ_SCORE_KIND_COUNT && at < sizeof kinds; k++)
            at += (size_t)snprintf(kinds + at, sizeof kinds - at, "%s%d %s", k ? "; " : "", k,
                                   sq_score_kind_names[k]);
        SQ_TRY(sq_h5_write_attr_string(group, "score_kinds", kinds));
    }
    SQ_TRY(sq_h5_write_attr_int(group, "channels_removed", (int64_t)pruned->channels_removed));
    SQ_TRY(sq_h5_write_attr_int(group, "experts_removed", (int64_t)pruned->experts_removed));
    SQ_TRY(sq_h5_write_attr_int(group, "heads_removed", (int64_t)pruned->heads_removed));
    SQ_TRY(sq_h5_write_attr_int(group, "ssm_removed", (int64_t)pruned->ssm_removed));
    /* non-empty: SSM dimensions were pruned past the guard (force: true); the report flags it */
    SQ_TRY(sq_h5_write_attr_string(group, "forced_ssm", pruned->forced));
    SQ_TRY(sq_h5_write_attr_int(group, "removed_tensor_bytes", (int64_t)pruned->removed_bytes));
    SQ_TRY(sq_h5_write_attr_int(group, "stats_carried", (int64_t)pruned->stats_carried));
    if (!pruned->count)
        goto cleanup;
    SQ_TRY(sq_alloc(&tensor, pruned->count, sizeof *tensor, "pruning record"));
    SQ_TRY(sq_alloc(&index, pruned->count, sizeof *index, "pruning record"));
    SQ_TRY(sq_alloc(&kind, pruned->count, sizeof *kind, "pruning record"));
    SQ_TRY(sq_alloc(&score_kind, pruned->count, sizeof *score_kind, "pruning record"));
    SQ_TRY(sq_alloc(&score, pruned->count, sizeof *score, "pruning record"));
    for (size_t i = 0; i < pruned->count; i++) {
        tensor[i] = pruned->items[i].tensor;
        index[i] = pruned->items[i].index;
        kind[i] = pruned->items[i].kind;
        score_kind[i] = pruned->items[i].score_kind;
        score[i] = pruned->items[i].score;
    }
    SQ_TRY(sq_h5_write_strings(group, "tensors", (const char *const *)pruned->tensors, pruned->tensor_count));
    SQ_TRY(sq_h5_write_dataset(group, "tensor", H5T_NATIVE_INT32, 1, dims, tensor));
    SQ_TRY(sq_h5_write_dataset(group, "removed", H5T_NATIVE_INT8, 1, dims, kind));
    SQ_TRY(sq_h5_write_dataset(group, "index", H5T_NATIVE_INT32, 1, dims, index));
    SQ_TRY(sq_h5_write_dataset(group, "score", H5T_NATIVE_DOUBLE, 1, dims, score));
    SQ_TRY(sq_h5_write_dataset(group, "score_kind", H5T_NATIVE_INT8, 1, dims, score_kind));
cleanup:
    free(tensor);
    free(index);
    free(kind);
    free(score_kind);
    free(score);
    sq_h5_close(group);
    return st;
}

/* ---- the stage -------------------------------------------------------------- */

static sq_status file_size(const char *path, uint64_t *bytes)
{
    struct stat info;
    if (stat(path, &info) != 0)
        return sq_fail(SQ_ERR_RUN, "cannot stat %s", path);
    *bytes = (uint64_t)info.st_size;
    return SQ_OK;
}

sq_status sq_compress_run(const sq_compress_request *request, char **summary_json)
{
    sq_status st = SQ_OK;
    const sq_run_config *cfg = request->config;
    sq_precision_map map = {0};
    sq_loaded_model loaded;
    sq_tensor_set original;
    sq_input_tensor *input = NULL;
    sq_compress_plan plan = {0};
    sq_calib_file calib = {.file = -1};
    sq_qtensor *stored = NULL;
    sq_accounting accounting = {0};
    sq_artifact_writer writer = {0};
    sq_artifact_meta meta = {0};
    sq_model_identity identity = {0};
    sq_family_hints hints = {.num_heads = cfg ? cfg->model.num_heads : 0};
    char config_sha[SQ_SHA256_HEX] = "";
    bool have_model = false, have_calib = false, created = false;
    size_t calibrated = 0, reshaped_quantized = 0;
    uint64_t out_bytes = 0;
    sq_progress progress = {0};
    sq_prune_record pruned = {0};
    sq_model_identity pruned_from = {0};
    bool have_pruned_from = false;

    memset(&loaded, 0, sizeof loaded);
    sq_tensor_set_init(&original);
    if (summary_json)
        *summary_json = NULL;
    SQ_TRY(sq_compress_load_map(request, &map));
    SQ_TRY(sq_model_load(request->model_path, cfg && cfg->model.family ? cfg->model.family : "auto", &hints,
                         &loaded));
    have_model = true;
    SQ_TRY(sq_alloc(&input, loaded.tensors.count, sizeof *input, "input tensors"));
    SQ_TRY(input_tensors(request->model_path, &loaded, &original, input));
    /* Names and shapes survive compression, so this is also the identity of
     * the model compress writes; it is recorded as the source's. */
    SQ_TRY(sq_model_identity_compute(&loaded.config, &loaded.tensors, &identity));
    if (request->calibration_path) {
        SQ_TRY(sq_calib_file_open(request->calibration_path, &calib));
        have_calib = true;
        SQ_TRY(check_calibration(&calib, &loaded, &identity, request->model_path));
    }

    /* Pruning first: the formats then store the smaller tensors. */
    if (map.prune.count) {
        SQ_TRY(sq_prune_apply(&map.prune, loaded.family, &loaded.config, &loaded.tensors,
                              original.count ? &original : NULL, input, have_calib ? &calib : NULL, &pruned));
        sq_info("pruned: %zu FFN channels, %zu experts, %zu attention heads and %zu SSM dimensions removed (%zu "
                "removals recorded, %zu tensors changed shape or index)", pruned.channels_removed,
                pruned.experts_removed, pruned.heads_removed, pruned.ssm_removed, pruned.count, pruned.touched_count);
        if (pruned.forced[0])
            sq_warn("SSM pruned past the guard (force: true): %s; the model artifact records it (/pruning@forced_ssm) "
                    "and the report flags it", pruned.forced);
        /* The formats store the pruned model: it is the accounting's source (what
         * evaluate checks the artifact against); the model before pruning is
         * recorded under /pruning. */
        pruned_from = identity;
        memset(&identity, 0, sizeof identity);
        have_pruned_from = true;
        SQ_TRY(sq_model_identity_compute(&loaded.config, &loaded.tensors, &identity));
    }
    SQ_TRY(sq_compress_plan_build(&map, loaded.family, &loaded.tensors, input, &plan));
    sq_info("%zu tensors: %zu by a rule, %zu by the default, %zu kept in full precision, %zu raw buffers, %zu "
            "aliases%s",
            plan.count, plan.summary.by_rule, plan.summary.by_default, plan.summary.kept, plan.summary.raw,
            plan.summary.aliases, plan.summary.forced_lower ? " (some forced below full precision: see warnings)" : "");

    SQ_TRY(sq_alloc(&stored, plan.count, sizeof *stored, "compressed tensors"));
    /* GPTQ on a large model takes a while per tensor; small models finish
     * before progress would show anything. */
    sq_progress_start(&progress, true, "tensors", (int64_t)plan.count, NULL);
    for (size_t i = 0; i < plan.count; i++) {
        const sq_plan_entry *e = &plan.entries[i];
        const sq_plan_entry *target = e->decision.kind == SQ_DECIDED_ALIAS ? &plan.entries[e->decision.alias_target]
                                                                         : NULL;
        sq_calib_linear linear = {0};
        bool found = false;
        int64_t numel = 1;
        for (int d = 0; d < e->ndim; d++)
            numel *= e->shape[d];
        if (e->format && e->decision.kind != SQ_DECIDED_ALIAS && (e->decision.kind == SQ_DECIDED_RULE ||
                                                                 e->decision.kind == SQ_DECIDED_DEFAULT)) {
            int64_t rows = e->ndim >= 2 ? e->shape[0] : 1;
            const sq_pruned_tensor *source = sq_prune_source(&pruned, e->name);
            /* a pruned tensor's statistics were taken on its old columns or under its old name */
            if (source) {
                SQ_TRY(pruned_stats(have_calib ? &calib : NULL, source, rows > 0 ? numel / rows : 0, &found, &linear));
                pruned.stats_carried += found;
                reshaped_quantized++;
            } else {
                SQ_TRY(stats_for(have_calib ? &calib : NULL, &plan, i, rows > 0 ? numel / rows : 0, &found,
                                 &linear));
            }
            calibrated += found;
        }
        st = store_tensor(e, target, &loaded, original.count ? &original : NULL, found ? &linear : NULL, &stored[i]);
        sq_calib_linear_free(&linear);
        SQ_TRY(st);
        sq_debug("%s: %s (%s) %s", e->name, stored[i].format, sq_map_decision_label(&e->decision), e->options_text);
        sq_progress_update(&progress, (int64_t)i + 1, 0);
    }
    sq_progress_finish(&progress);
    if (have_calib)
        sq_info("%zu tensors quantized with calibration statistics", calibrated);
    if (have_calib && map.prune.count)
        sq_info("%zu of the %zu tensors pruning reshaped or renamed that a format quantizes had their source's "
                "statistics (those of the kept input columns)", pruned.stats_carried, reshaped_quantized);

    SQ_TRY(sq_accounting_build(&plan, stored, &accounting));
    sq_accounting_print(&accounting, stderr);
    /* the experts pruned away are accounted in the pruning record, not in the plan */
    SQ_TRY(sq_accounting_check(&accounting, loaded.tensor_bytes - pruned.removed_bytes, request->model_path));

    if (cfg)
        SQ_TRY(sq_run_config_section_sha256(cfg, "", config_sha));
    meta.kind = "model";
    meta.config_sha256 = config_sha;
    meta.plan_key = request->plan_key ? request->plan_key : "";
    meta.mpi_ranks = 1;
    meta.inputs[meta.input_count++] = request->model_path;
    if (request->calibration_path)
        meta.inputs[meta.input_count++] = request->calibration_path;
    if (is_file(map.source))
        meta.inputs[meta.input_count++] = map.source;
    SQ_TRY(sq_artifact_create(&writer, request->out_path, &meta));
    created = true;
    SQ_TRY(sq_model_file_write(writer.file, &loaded.config, stored, plan.count));
    SQ_TRY(sq_accounting_write(writer.file, &accounting, loaded.tensor_bytes, map.source, map.description,
                               &identity));
    if (map.prune.count)
        SQ_TRY(write_pruning(writer.file, &pruned, &map, &pruned_from));
    SQ_TRY(sq_artifact_commit(&writer));
    created = false;

    /* Measured, never computed: the file as it lies on disk. */
    SQ_TRY(file_size(request->out_path, &out_bytes));
    sq_info("wrote %s: %llu bytes on disk (stat); input %s: %llu bytes on disk; file ratio %.3fx; tensor bytes "
            "%llu -> %llu (%.3fx)",
            request->out_path, (unsigned long long)out_bytes, request->model_path,
            (unsigned long long)loaded.file_bytes, out_bytes ? (double)loaded.file_bytes / (double)out_bytes : 0.0,
            (unsigned long long)accounting.total_before, (unsigned long long)accounting.total_after,
            accounting.total_after ? (double)accounting.total_before / (double)accounting.total_after : 0.0);
    if (summary_json) {
        sq_compress_summary summary = {
            .output_path = request->out_path, .file_bytes = out_bytes, .input_path = request->model_path,
            .input_kind = loaded.kind, .input_file_bytes = loaded.file_bytes, .input_tensor_bytes = loaded.tensor_bytes,
            .calibration_path = request->calibration_path, .accounting = &accounting, .map = &map,
            .source = &identity};
        SQ_TRY(sq_compress_summary_json(&summary, summary_json));
    }
cleanup:
    sq_progress_finish(&progress);
    if (created)
        sq_artifact_abort(&writer);
    sq_accounting_free(&accounting);
    if (stored) {
        for (size_t i = 0; i < plan.count; i++)
            if (stored[i].name)
                sq_qtensor_free(&stored[i]);
        free(stored);
    }
    sq_compress_plan_free(&plan);
    sq_model_identity_free(&identity);
    if (have_calib)
        sq_calib_file_close(&calib);
    free(input);
    sq_tensor_set_free(&original);
    if (have_model)
        sq_loaded_model_free(&loaded);
    sq_precision_map_free(&map);
    sq_prune_record_free(&pruned);
    if (have_pruned_from)
        sq_model_identity_free(&pruned_from);
    return st;
}
