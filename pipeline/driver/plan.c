/* plan.c - from the run YAML to stage instances with keys (DESIGN.md "Driver and Slurm").
 *
 * Order of execution: inspect, calibrate (one per distinct calibration config),
 * evaluate/baseline (one per distinct evaluation config), then per variant
 * compress/<v> and evaluate/<v>, and the report.
 *
 * A key is the sha256 of a text that lists, for the stage, the config sections
 * it reads (canonical YAML; `ranks` left out because 1, 2 or 4 ranks give the
 * same numbers), the identity of the files it reads (content sha256, or size
 * and mtime above 64 MiB) and its inputs' keys.  Instances with the same key
 * are one instance: variants share inspect, and share calibrate unless they
 * vary calibration options.
 */
#include "driver.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact/artifact.h"
#include "compress/compress.h"

static const char *const stage_names[SQ_STAGE_COUNT] = {"inspect", "calibrate", "compress", "evaluate", "report"};
static const char *const stage_programs[SQ_STAGE_COUNT] = {"squeeze-inspect", "squeeze-calibrate", "squeeze-compress",
                                                           "squeeze-evaluate", "squeeze-report"};

const char *sq_stage_name(sq_stage_kind stage) { return stage_names[stage]; }
const char *sq_stage_program(sq_stage_kind stage) { return stage_programs[stage]; }

int sq_stage_from_name(const char *name)
{
    for (int s = 0; s < SQ_STAGE_COUNT; s++)
        if (strcmp(stage_names[s], name) == 0)
            return s;
    return -1;
}

const char *sq_state_name(sq_state state)
{
    static const char *const names[] = {"missing", "stale", "done", "pending", "running", "failed"};
    return names[state];
}

/* ---- keys -------------------------------------------------------------- */

typedef struct {
    char *text;
    size_t size;
    FILE *stream;
} key_text;

static void key_begin(key_text *k, const char *what)
{
    k->text = NULL;
    k->size = 0;
    k->stream = open_memstream(&k->text, &k->size);
    fprintf(k->stream, "squeeze plan key v1\nstage %s\n", what);
}

/* Adds a section of the effective config (without `ranks`, which changes
 * nothing in the result, DESIGN.md "Determinism"). */
static void key_section(key_text *k, const sq_yaml_node *root, const char *dotted)
{
    const sq_yaml_node *node = sq_yaml_get_path(root, dotted);
    fprintf(k->stream, "section %s\n", dotted);
    if (node == NULL) {
        fputs("(absent)\n", k->stream);
        return;
    }
    sq_yaml_node *wrapper = sq_yaml_new_map();
    sq_yaml_node *copy = sq_yaml_clone(node);
    if (copy && copy->kind == SQ_YAML_MAP) {
        for (size_t i = 0; i < copy->count; i++) {
            if (strcmp(copy->keys[i]->value, "ranks") == 0) {
                sq_yaml_node_free(copy->keys[i]);
                sq_yaml_node_free(copy->items[i]);
                memmove(copy->keys + i, copy->keys + i + 1, (copy->count - i - 1) * sizeof *copy->keys);
                memmove(copy->items + i, copy->items + i + 1, (copy->count - i - 1) * sizeof *copy->items);
                copy->count--;
                i--;
            }
        }
    }
    sq_yaml_map_set(wrapper, "value", copy);
    sq_yaml_emit(k->stream, wrapper);
    sq_yaml_node_free(wrapper);
}

static void key_file(key_text *k, const char *role, const char *path)
{
    char identity[512];
    if (path == NULL || strcmp(path, "bytes") == 0) {
        fprintf(k->stream, "file %s %s\n", role, path ? path : "(none)");
        return;
    }
    sq_file_identity(path, identity, sizeof identity);
    fprintf(k->stream, "file %s %s\n", role, identity[0] ? identity : "(missing)");
}

static void key_input(key_text *k, const sq_instance *input)
{
    fprintf(k->stream, "input %s %s\n", input->id, input->key);
}

static void key_end(key_text *k, char out[SQ_SHA256_HEX])
{
    fclose(k->stream);
    sq_sha256_hex(k->text ? k->text : "", k->size, out);
    free(k->text);
}

/* ---- instances ----------------------------------------------------------- */

static sq_status add_instance(sq_plan *plan, sq_stage_kind stage, const char *variant, const char *sub,
                              const char *artifact, sq_yaml_node *config, sq_instance **out)
{
    sq_instance *inst = calloc(1, sizeof *inst);
    sq_instance **grown = realloc(plan->items, (plan->count + 1) * sizeof *grown);
    if (inst == NULL || grown == NULL) {
        free(inst);
        return sq_fail(SQ_ERR_RUN, "out of memory");
    }
    plan->items = grown;
    plan->items[plan->count++] = inst;
    inst->stage = stage;
    inst->variant = strdup(variant);
    inst->id = sub ? sq_strdupf("%s/%s", sq_stage_name(stage), sub) : strdup(sq_stage_name(stage));
    inst->dir = sq_path_join(plan->run_dir, inst->id);
    inst->output = sq_path_join(inst->dir, artifact);
    inst->config_path = sq_path_join(inst->dir, "config.yaml");
    inst->log_path = sq_path_join(inst->dir, "stage.log");
    inst->config = config;
    inst->ranks = 1;
    inst->variant_index = -1;
    inst->argv = sq_argv_new();
    *out = inst;
    return SQ_OK;
}

static sq_status push_args(sq_instance *inst, const char *const *words)
{
    sq_status st = SQ_OK;
    for (size_t i = 0; words[i]; i++)
        if ((st = sq_argv_push(&inst->argv, words[i])) != SQ_OK)
            break;
    return st;
}

static sq_status set_program(const sq_plan *plan, sq_instance *inst)
{
    char *path = sq_find_program(plan->bin_dir, sq_stage_program(inst->stage));
    sq_status st = sq_argv_push(&inst->argv, path ? path : sq_stage_program(inst->stage));
    free(path);
    return st;
}

sq_instance *sq_plan_find(const sq_plan *plan, sq_stage_kind stage, const char *variant)
{
    for (size_t i = 0; i < plan->count; i++)
        if (plan->items[i]->stage == stage && (variant == NULL || strcmp(plan->items[i]->variant, variant) == 0))
            return plan->items[i];
    return NULL;
}

static sq_instance *find_key(const sq_plan *plan, sq_stage_kind stage, const char *key)
{
    for (size_t i = 0; i < plan->count; i++)
        if (plan->items[i]->stage == stage && strcmp(plan->items[i]->key, key) == 0)
            return plan->items[i];
    return NULL;
}

/* The variant's config: the run YAML without sweep and slurm (the stages do not
 * read them, and a change to another variant must not touch this one), with
 * the sweep's values set and every path absolute. */
static sq_status variant_config(const sq_plan *plan, const sq_variant_spec *spec, sq_yaml_node **out)
{
    sq_status st = SQ_OK;
    const sq_yaml_node *root = plan->doc.root;
    sq_yaml_node *copy = sq_yaml_new_map();
    if (copy == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    copy->file = root->file;
    copy->line = root->line;
    copy->column = root->column;
    for (size_t i = 0; i < root->count; i++) {
        if (strcmp(root->keys[i]->value, "sweep") == 0 || strcmp(root->keys[i]->value, "slurm") == 0)
            continue;
        SQ_TRY(sq_yaml_map_set(copy, root->keys[i]->value, sq_yaml_clone(root->items[i])));
        copy->keys[copy->count - 1]->line = root->keys[i]->line;
        copy->keys[copy->count - 1]->column = root->keys[i]->column;
        copy->keys[copy->count - 1]->file = root->keys[i]->file;
    }
    for (size_t i = 0; spec && i < spec->override_count; i++)
        SQ_TRY(sq_sweep_apply(copy, spec->overrides[i].path, spec->overrides[i].value, spec->overrides[i].where));
    SQ_TRY(sq_run_config_absolute_paths(copy, plan->config_dir));
cleanup:
    if (st != SQ_OK) {
        sq_yaml_node_free(copy);
        copy = NULL;
    }
    *out = copy;
    return st;
}

/* Validates a variant's effective config with the same parser the stages use. */
static sq_status variant_typed(const sq_plan *plan, const sq_yaml_node *config, const char *variant,
                               sq_run_config *cfg)
{
    sq_yaml_doc doc = {strdup(plan->config_path), sq_yaml_clone(config)};
    sq_status st = sq_run_config_from_doc(&doc, plan->config_path, cfg);
    if (st != SQ_OK && strcmp(variant, "default") != 0)
        sq_error_context("sweep variant '%s'", variant);
    sq_yaml_free(&doc);
    return st;
}

static sq_status set_scalar(sq_yaml_node *root, const char *section, const char *key, const char *value)
{
    sq_yaml_node *map = (sq_yaml_node *)sq_yaml_get(root, section);
    if (map == NULL) {
        sq_status st = sq_yaml_map_set(root, section, sq_yaml_new_map());
        if (st != SQ_OK)
            return st;
        map = (sq_yaml_node *)sq_yaml_get(root, section);
    }
    if (map->kind != SQ_YAML_MAP)
        return sq_fail(SQ_ERR_USAGE, "'%s' must be a mapping", section);
    return sq_yaml_map_set(map, key, sq_yaml_new_scalar(value));
}

static sq_status build_instances(sq_plan *plan)
{
    sq_status st = SQ_OK;
    key_text k;
    sq_instance *inspect = NULL, *inst = NULL;
    sq_instance **calibration_of = NULL, **baseline_of = NULL;
    const sq_run_config *first = NULL;
    int baselines = 0;

    SQ_TRY(sq_alloc(&calibration_of, plan->variant_count, sizeof *calibration_of, "plan"));
    SQ_TRY(sq_alloc(&baseline_of, plan->variant_count, sizeof *baseline_of, "plan"));
    first = &plan->variants[0].cfg;

    /* inspect: the model (no sweep may vary it) */
    SQ_TRY(add_instance(plan, SQ_STAGE_INSPECT, "", NULL, "inspect.h5", sq_yaml_clone(plan->variants[0].config),
                        &inspect));
    key_begin(&k, "inspect");
    key_section(&k, inspect->config, "model");
    key_section(&k, inspect->config, "inspect");
    key_file(&k, "checkpoint", first->model.checkpoint);
    key_end(&k, inspect->key);
    SQ_TRY(set_program(plan, inspect));
    {
        const char *words[] = {first->model.checkpoint ? first->model.checkpoint : "(model.checkpoint missing)",
                               "--config", inspect->config_path, "--out", inspect->output, "--key", inspect->key, NULL};
        SQ_TRY(push_args(inspect, words));
    }

    /* calibrate: one per distinct calibration config */
    for (size_t v = 0; v < plan->variant_count; v++) {
        const sq_variant *var = &plan->variants[v];
        char key[SQ_SHA256_HEX], id[16];
        key_begin(&k, "calibrate");
        key_section(&k, var->config, "calibrate");
        key_section(&k, var->config, "data.tokenizer");
        key_section(&k, var->config, "data.calibration");
        key_file(&k, "tokenizer", var->cfg.data.tokenizer);
        key_file(&k, "data", var->cfg.data.calibration.path);
        key_input(&k, inspect);
        key_end(&k, key);
        if ((calibration_of[v] = find_key(plan, SQ_STAGE_CALIBRATE, key)) != NULL)
            continue;
        snprintf(id, sizeof id, "%.12s", key);
        SQ_TRY(add_instance(plan, SQ_STAGE_CALIBRATE, id, id, "calibration.h5", sq_yaml_clone(var->config), &inst));
        memcpy(inst->key, key, sizeof key);
        inst->ranks = var->cfg.calibrate.ranks;
        inst->inputs[inst->input_count++] = inspect;
        SQ_TRY(set_program(plan, inst));
        const char *words[] = {"--config", inst->config_path, "--model", inspect->output, "--out", inst->output,
                               "--key", inst->key, NULL};
        SQ_TRY(push_args(inst, words));
        calibration_of[v] = inst;
    }

    /* evaluate/baseline: the uncompressed model, with log-probs kept for KL */
    for (size_t v = 0; v < plan->variant_count; v++) {
        const sq_variant *var = &plan->variants[v];
        char key[SQ_SHA256_HEX], name[32];
        sq_yaml_node *config = sq_yaml_clone(var->config);
        SQ_TRY(set_scalar(config, "evaluate", "store_logprobs", "true"));
        key_begin(&k, "evaluate-baseline");
        key_section(&k, config, "evaluate");
        key_section(&k, config, "data.tokenizer");
        key_section(&k, config, "data.evaluation");
        key_file(&k, "tokenizer", var->cfg.data.tokenizer);
        key_file(&k, "data", var->cfg.data.evaluation.path);
        key_input(&k, inspect);
        key_end(&k, key);
        if ((baseline_of[v] = find_key(plan, SQ_STAGE_EVALUATE, key)) != NULL) {
            sq_yaml_node_free(config);
            continue;
        }
        if (baselines++ == 0)
            snprintf(name, sizeof name, "baseline");
        else
            snprintf(name, sizeof name, "baseline-%.8s", key);
        SQ_TRY(add_instance(plan, SQ_STAGE_EVALUATE, name, name, "evaluation.h5", config, &inst));
        memcpy(inst->key, key, sizeof key);
        inst->ranks = var->cfg.evaluate.ranks;
        inst->inputs[inst->input_count++] = inspect;
        SQ_TRY(set_program(plan, inst));
        const char *words[] = {"--config", inst->config_path, "--model", inspect->output, "--out", inst->output,
                               "--variant", "baseline", "--key", inst->key, NULL};
        SQ_TRY(push_args(inst, words));
        baseline_of[v] = inst;
    }

    /* per variant: compress, then evaluate against its baseline */
    for (size_t v = 0; v < plan->variant_count; v++) {
        const sq_variant *var = &plan->variants[v];
        sq_instance *compress = NULL, *evaluate = NULL;
        SQ_TRY(add_instance(plan, SQ_STAGE_COMPRESS, var->name, var->name, "model.h5", sq_yaml_clone(var->config),
                            &compress));
        compress->variant_index = (int)v;
        key_begin(&k, "compress");
        key_section(&k, compress->config, "compress");
        {
            /* a recipe may be a bare name found in configs/recipes (compress.h) */
            char *recipe = NULL;
            if (var->cfg.compress.recipe && sq_compress_find_recipe(var->cfg.compress.recipe, &recipe) != SQ_OK)
                sq_error_clear();
            key_file(&k, "recipe", recipe ? recipe : var->cfg.compress.recipe);
            free(recipe);
        }
        key_input(&k, inspect);
        key_input(&k, calibration_of[v]);
        key_end(&k, compress->key);
        compress->inputs[compress->input_count++] = inspect;
        compress->inputs[compress->input_count++] = calibration_of[v];
        SQ_TRY(set_program(plan, compress));
        {
            const char *words[] = {"--config", compress->config_path, "--model", inspect->output, "--calibration",
                                   calibration_of[v]->output, "--out", compress->output, "--key", compress->key, NULL};
            SQ_TRY(push_args(compress, words));
        }

        SQ_TRY(add_instance(plan, SQ_STAGE_EVALUATE, var->name, var->name, "evaluation.h5", sq_yaml_clone(var->config),
                            &evaluate));
        evaluate->variant_index = (int)v;
        evaluate->ranks = var->cfg.evaluate.ranks;
        key_begin(&k, "evaluate");
        key_section(&k, evaluate->config, "evaluate");
        key_section(&k, evaluate->config, "data.tokenizer");
        key_section(&k, evaluate->config, "data.evaluation");
        key_file(&k, "tokenizer", var->cfg.data.tokenizer);
        key_file(&k, "data", var->cfg.data.evaluation.path);
        key_input(&k, compress);
        key_input(&k, baseline_of[v]);
        key_end(&k, evaluate->key);
        evaluate->inputs[evaluate->input_count++] = compress;
        evaluate->inputs[evaluate->input_count++] = baseline_of[v];
        SQ_TRY(set_program(plan, evaluate));
        {
            const char *words[] = {"--config", evaluate->config_path, "--model", compress->output, "--baseline",
                                   baseline_of[v]->output, "--out", evaluate->output, "--variant", var->name,
                                   "--key", evaluate->key, NULL};
            SQ_TRY(push_args(evaluate, words));
        }
    }

    /* report: every evaluation, whatever its outcome */
    sq_yaml_node *report_config = NULL;
    SQ_TRY(variant_config(plan, NULL, &report_config));
    SQ_TRY(add_instance(plan, SQ_STAGE_REPORT, "", NULL, "plan_key", report_config, &inst));
    key_begin(&k, "report");
    key_section(&k, inst->config, "targets");
    for (size_t i = 0; i < plan->count; i++) {
        if (plan->items[i]->stage == SQ_STAGE_EVALUATE) {
            key_input(&k, plan->items[i]);
            if (inst->input_count < SQ_MAX_INSTANCE_INPUTS)
                inst->inputs[inst->input_count++] = plan->items[i];
        }
    }
    key_end(&k, inst->key);
    SQ_TRY(set_program(plan, inst));
    {
        const char *words[] = {"--config", inst->config_path, "--run-dir", plan->run_dir, "--key", inst->key, NULL};
        SQ_TRY(push_args(inst, words));
    }
cleanup:
    free(calibration_of);
    free(baseline_of);
    return st;
}

/* ---- states ---------------------------------------------------------------- */

void sq_instance_artifact_key(const sq_instance *inst, char *key, size_t size)
{
    key[0] = '\0';
    if (access(inst->output, F_OK) != 0)
        return;
    if (inst->stage == SQ_STAGE_REPORT) {
        char *text = NULL;
        if (sq_read_file(inst->output, &text, NULL) == SQ_OK) {
            text[strcspn(text, "\n")] = '\0';
            snprintf(key, size, "%s", text);
        }
        free(text);
        sq_error_clear();
        return;
    }
    hid_t file = H5Fopen(inst->output, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        snprintf(key, size, "(unreadable)");
        return;
    }
    char *value = NULL;
    if (sq_h5_has_attr(file, "plan_key") && sq_h5_read_attr_string(file, "plan_key", &value) == SQ_OK)
        snprintf(key, size, "%s", value[0] ? value : "(none)");
    else
        snprintf(key, size, "(none)");
    free(value);
    sq_error_clear();
    H5Fclose(file);
}

sq_status sq_instance_mark_done(const sq_instance *inst)
{
    if (inst->stage != SQ_STAGE_REPORT)
        return SQ_OK;
    char *line = sq_strdupf("%s\n", inst->key);
    sq_status st = sq_write_file_atomic(inst->output, line, strlen(line));
    free(line);
    return st;
}

void sq_plan_refresh_states(sq_plan *plan)
{
    for (size_t i = 0; i < plan->count; i++) {
        sq_instance *inst = plan->items[i];
        char key[128];
        sq_instance_artifact_key(inst, key, sizeof key);
        inst->state = key[0] == '\0' ? SQ_STATE_MISSING : strcmp(key, inst->key) == 0 ? SQ_STATE_DONE : SQ_STATE_STALE;
        inst->exit_code = 0;
    }
}

sq_status sq_instance_prepare(const sq_plan *plan, const sq_instance *inst)
{
    sq_status st = SQ_OK;
    char *text = NULL;
    size_t size = 0;
    FILE *stream;
    (void)plan;
    SQ_TRY(sq_mkdir_p(inst->dir));
    stream = open_memstream(&text, &size);
    if (stream == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory");
    fprintf(stream, "# effective config of %s (written by squeeze from %s; plan key %s)\n", inst->id, plan->config_path,
            inst->key);
    st = sq_yaml_emit(stream, inst->config);
    fclose(stream);
    SQ_TRY(st);
    SQ_TRY(sq_write_file_atomic(inst->config_path, text, size));
cleanup:
    free(text);
    return st;
}

/* ---- the whole plan --------------------------------------------------------- */

sq_status sq_plan_build(const char *config_path, sq_plan *plan)
{
    sq_status st = SQ_OK;
    char absolute[PATH_MAX];
    memset(plan, 0, sizeof *plan);

    if (realpath(config_path, absolute) == NULL)
        return sq_fail(SQ_ERR_USAGE, "cannot read config %s: %s", config_path, strerror(errno));
    plan->config_path = strdup(absolute);
    plan->config_dir = strdup(absolute);
    *strrchr(plan->config_dir, '/') = '\0';
    if (plan->config_dir[0] == '\0')
        strcpy(plan->config_dir, "/");
    plan->bin_dir = sq_self_dir();

    /* values reach batch scripts and command lines: refuse control characters
     * before anything else reads them (script_values.c) */
    SQ_TRY(sq_yaml_load_file(&plan->doc, plan->config_path));
    SQ_TRY(sq_config_refuse_control(plan->doc.root));
    SQ_TRY(sq_run_config_load(plan->config_path, &plan->base));
    if (plan->doc.root == NULL || plan->doc.root->kind != SQ_YAML_MAP)
        SQ_FAIL(SQ_ERR_USAGE, "%s: the config must be a mapping of sections", plan->config_path);
    SQ_TRY(sq_plan_check_names(plan->config_path, plan->doc.root, plan->base.run_name));
    SQ_TRY(sq_slurm_options_parse(sq_yaml_get(plan->doc.root, "slurm"), &plan->slurm));
    SQ_TRY(sq_sweep_expand(sq_yaml_get(plan->doc.root, "sweep"), &plan->sweep));
    plan->run_name = strdup(plan->base.run_name);
    plan->run_dir = sq_path_join(plan->base.output_root, plan->run_name);

    SQ_TRY(sq_alloc(&plan->variants, plan->sweep.count, sizeof *plan->variants, "variants"));
    for (size_t v = 0; v < plan->sweep.count; v++) {
        sq_variant *var = &plan->variants[v];
        var->spec = &plan->sweep.variants[v];
        var->name = strdup(var->spec->name);
        plan->variant_count++;
        SQ_TRY(variant_config(plan, var->spec, &var->config));
        SQ_TRY(variant_typed(plan, var->config, var->name, &var->cfg));
        var->typed = true;
    }
    SQ_TRY(build_instances(plan));
    sq_plan_refresh_states(plan);
cleanup:
    return st;
}

void sq_plan_free(sq_plan *plan)
{
    for (size_t i = 0; i < plan->count; i++) {
        sq_instance *inst = plan->items[i];
        free(inst->variant);
        free(inst->id);
        free(inst->dir);
        free(inst->output);
        free(inst->config_path);
        free(inst->log_path);
        sq_yaml_node_free(inst->config);
        sq_argv_free(inst->argv);
        free(inst->detail);
        free(inst->job_id);
        free(inst);
    }
    free(plan->items);
    for (size_t v = 0; v < plan->variant_count; v++) {
        free(plan->variants[v].name);
        sq_yaml_node_free(plan->variants[v].config);
        if (plan->variants[v].typed)
            sq_run_config_free(&plan->variants[v].cfg);
    }
    free(plan->variants);
    sq_sweep_free(&plan->sweep);
    sq_slurm_options_free(&plan->slurm);
    if (plan->base.path)
        sq_run_config_free(&plan->base);
    sq_yaml_free(&plan->doc);
    free(plan->config_path);
    free(plan->config_dir);
    free(plan->run_name);
    free(plan->run_dir);
    free(plan->bin_dir);
    memset(plan, 0, sizeof *plan);
}
