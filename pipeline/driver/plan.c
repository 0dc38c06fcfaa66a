/* plan.c - from the run YAML to stage instances with keys (DESIGN.md "Driver and Slurm").
 *
 * The instances come from walking the stage table (stage_table.c) phase by
 * phase: inspect, calibrate (one per distinct calibration config),
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
#include "plan.h"
#include "proc.h"
#include "script_values.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact/artifact.h"
#include "compress/compress.h"

static const char *run_name_override;

void sq_plan_set_run_name(const char *name) { run_name_override = name; }

const char *sq_plan_run_name_override(void) { return run_name_override; }

const char *sq_state_name(sq_state state)
{
    static const char *const names[] = {"missing", "stale", "done", "pending", "running", "failed", "cancelled"};
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

static sq_status add_instance(sq_plan *plan, const sq_stage_step *step, const char *variant, const char *sub,
                              sq_yaml_node *config, sq_instance **out)
{
    sq_instance *inst = calloc(1, sizeof *inst);
    sq_instance **grown = realloc(plan->items, (plan->count + 1) * sizeof *grown);
    if (inst == NULL || grown == NULL) {
        free(inst);
        return sq_fail(SQ_ERR_RUN, "out of memory");
    }
    plan->items = grown;
    plan->items[plan->count++] = inst;
    inst->step = step;
    inst->stage = step->stage;
    inst->variant = strdup(variant);
    inst->id = sub ? sq_strdupf("%s/%s", sq_stage_name(step->stage), sub) : strdup(sq_stage_name(step->stage));
    inst->dir = sq_path_join(plan->run_dir, inst->id);
    inst->output = sq_path_join(inst->dir, step->artifact);
    inst->config_path = sq_path_join(inst->dir, "config.yaml");
    inst->log_path = sq_path_join(inst->dir, "stage.log");
    inst->config = config;
    inst->ranks = 1;
    inst->variant_index = -1;
    inst->argv = sq_argv_new();
    *out = inst;
    return SQ_OK;
}

sq_instance *sq_plan_find(const sq_plan *plan, sq_stage_kind stage, const char *variant)
{
    for (size_t i = 0; i < plan->count; i++)
        if (plan->items[i]->stage == stage && (variant == NULL || strcmp(plan->items[i]->variant, variant) == 0))
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
    sq_yaml_node *map = sq_yaml_get_mutable(root, section);
    if (map == NULL) {
        sq_status st = sq_yaml_map_set(root, section, sq_yaml_new_map());
        if (st != SQ_OK)
            return st;
        map = sq_yaml_get_mutable(root, section);
    }
    if (map->kind != SQ_YAML_MAP)
        return sq_fail(SQ_ERR_USAGE, "'%s' must be a mapping", section);
    return sq_yaml_map_set(map, key, sq_yaml_new_scalar(value));
}

/* The identity of a file a step's key covers, from the variant's config. */
static void key_step_file(key_text *k, const sq_step_file_role *role, const sq_run_config *cfg)
{
    const char *path = NULL;
    char *recipe = NULL;
    switch (role->file) {
    case SQ_FILE_CHECKPOINT:
        path = cfg->model.checkpoint;
        break;
    case SQ_FILE_TOKENIZER:
        path = cfg->data.tokenizer;
        break;
    case SQ_FILE_CALIBRATION_DATA:
        path = cfg->data.calibration.path;
        break;
    case SQ_FILE_EVALUATION_DATA:
        path = cfg->data.evaluation.path;
        break;
    case SQ_FILE_RECIPE:
        /* a recipe may be a bare name found in configs/recipes (compress.h) */
        if (cfg->compress.recipe && sq_compress_find_recipe(cfg->compress.recipe, &recipe) != SQ_OK)
            sq_error_clear();
        path = recipe ? recipe : cfg->compress.recipe;
        break;
    }
    key_file(k, role->role, path);
    free(recipe);
}

/* of[step][variant]: the instance of each step for each variant. */
static size_t step_index(const sq_stage_step *step) { return (size_t)(step - sq_stage_steps); }

static sq_status push_input(sq_instance ***inputs, int *count, sq_instance *input)
{
    sq_instance **grown = realloc(*inputs, (size_t)(*count + 1) * sizeof *grown);
    if (grown == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    *inputs = grown;
    (*inputs)[(*count)++] = input;
    return SQ_OK;
}

/* The instances a step reads for variant v, in key order: the same variant's
 * instance of each named step, or for "*<stage>" every instance of that stage
 * planned so far (no cap: a sweep of any size is reported). */
static sq_status step_inputs(const sq_plan *plan, sq_instance ***of, const sq_stage_step *step, size_t v,
                             sq_instance ***inputs, int *count)
{
    sq_status st = SQ_OK;
    *inputs = NULL;
    *count = 0;
    for (size_t i = 0; i < SQ_STEP_MAX_INPUTS && step->inputs[i] && st == SQ_OK; i++) {
        const char *name = step->inputs[i];
        if (name[0] == '*') {
            int stage = sq_stage_from_name(name + 1);
            for (size_t j = 0; j < plan->count && st == SQ_OK; j++)
                if ((int)plan->items[j]->stage == stage)
                    st = push_input(inputs, count, plan->items[j]);
        } else {
            const sq_stage_step *from = sq_stage_step_find(name);
            if (from == NULL || of[step_index(from)][v] == NULL)
                return sq_fail(SQ_ERR_RUN, "stage table: step %s reads %s, which is not planned before it", step->name,
                               name);
            st = push_input(inputs, count, of[step_index(from)][v]);
        }
    }
    return st;
}

/* The stage command: the program, then the step's argv with its @words filled in. */
static sq_status step_argv(const sq_plan *plan, const sq_stage_step *step, const sq_variant *var, sq_instance *inst)
{
    char *program = sq_find_program(plan->bin_dir, sq_stage_program(step->stage));
    sq_status st = sq_argv_push(&inst->argv, program ? program : sq_stage_program(step->stage));
    free(program);
    for (size_t a = 0; st == SQ_OK && a < SQ_STEP_MAX_ARGS && step->argv[a]; a++) {
        const char *word = step->argv[a];
        if (word[0] == '@') {
            const char *name = word + 1;
            if (strcmp(name, "config") == 0)
                word = inst->config_path;
            else if (strcmp(name, "output") == 0)
                word = inst->output;
            else if (strcmp(name, "key") == 0)
                word = inst->key;
            else if (strcmp(name, "variant") == 0)
                word = var->name;
            else if (strcmp(name, "run_dir") == 0)
                word = plan->run_dir;
            else if (strcmp(name, "checkpoint") == 0)
                word = var->cfg.model.checkpoint ? var->cfg.model.checkpoint : "(model.checkpoint missing)";
            else {
                word = NULL;
                for (int j = 0; j < inst->input_count && word == NULL; j++)
                    if (strcmp(inst->inputs[j]->step->name, name) == 0)
                        word = inst->inputs[j]->output;
                if (word == NULL)
                    return sq_fail(SQ_ERR_RUN, "stage table: step %s names @%s, which is not one of its inputs",
                                   step->name, name);
            }
        }
        st = sq_argv_push(&inst->argv, word);
    }
    return st;
}

/* The instance of one step for variant v: built, or the one it shares. */
static sq_status walk_step(sq_plan *plan, sq_instance ***of, const sq_stage_step *step, size_t v, int *baselines)
{
    sq_status st = SQ_OK;
    const sq_variant *var = &plan->variants[v];
    sq_instance **inputs = NULL, *inst = NULL;
    sq_yaml_node *config = NULL;
    int input_count = 0;
    char key[SQ_SHA256_HEX], name[64];
    key_text k;

    if (step->expand == SQ_EXPAND_ONCE && v > 0) {
        of[step_index(step)][v] = of[step_index(step)][0];
        return SQ_OK;
    }
    if (step->run_config)
        SQ_TRY(variant_config(plan, NULL, &config));
    else
        config = sq_yaml_clone(var->config);
    if (config == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory");
    if (step->set_section)
        SQ_TRY(set_scalar(config, step->set_section, step->set_key, step->set_value));
    SQ_TRY(step_inputs(plan, of, step, v, &inputs, &input_count));

    key_begin(&k, step->key_tag);
    for (size_t i = 0; i < SQ_STEP_MAX_SECTIONS && step->sections[i]; i++)
        key_section(&k, config, step->sections[i]);
    for (size_t i = 0; i < step->file_count; i++)
        key_step_file(&k, &step->files[i], &var->cfg);
    for (int i = 0; i < input_count; i++)
        key_input(&k, inputs[i]);
    key_end(&k, key);

    if (step->expand == SQ_EXPAND_DISTINCT) {
        for (size_t i = 0; i < plan->count && inst == NULL; i++)
            if (plan->items[i]->step == step && strcmp(plan->items[i]->key, key) == 0)
                inst = plan->items[i];
        if (inst) {
            of[step_index(step)][v] = inst;
            goto cleanup;
        }
    }
    switch (step->naming) {
    case SQ_NAME_NONE:
        name[0] = '\0';
        break;
    case SQ_NAME_KEY:
        snprintf(name, sizeof name, "%.12s", key);
        break;
    case SQ_NAME_BASELINE:
        if ((*baselines)++ == 0)
            snprintf(name, sizeof name, "baseline");
        else
            snprintf(name, sizeof name, "baseline-%.8s", key);
        break;
    case SQ_NAME_VARIANT:
        snprintf(name, sizeof name, "%s", var->name);
        break;
    }
    SQ_TRY(add_instance(plan, step, name, name[0] ? name : NULL, config, &inst));
    config = NULL; /* the instance owns it */
    memcpy(inst->key, key, sizeof key);
    inst->inputs = inputs;
    inst->input_count = input_count;
    inputs = NULL;
    inst->ranks = step->ranks == SQ_RANKS_CALIBRATE ? var->cfg.calibrate.ranks
                  : step->ranks == SQ_RANKS_EVALUATE ? var->cfg.evaluate.ranks : 1;
    inst->variant_index = step->expand == SQ_EXPAND_PER_VARIANT ? (int)v : -1;
    SQ_TRY(step_argv(plan, step, var, inst));
    of[step_index(step)][v] = inst;
cleanup:
    sq_yaml_node_free(config);
    free(inputs);
    return st;
}

/* Walks the stage table phase by phase; within a phase, variant by variant,
 * so a variant's compress and evaluate stand side by side in the plan. */
static sq_status build_instances(sq_plan *plan)
{
    sq_status st = SQ_OK;
    sq_instance ***of = NULL;
    int baselines = 0, last_phase = 0;

    SQ_TRY(sq_alloc(&of, sq_stage_step_count, sizeof *of, "plan"));
    for (size_t s = 0; s < sq_stage_step_count; s++) {
        SQ_TRY(sq_alloc(&of[s], plan->variant_count, sizeof *of[s], "plan"));
        if (sq_stage_steps[s].phase > last_phase)
            last_phase = sq_stage_steps[s].phase;
    }
    plan->evaluate_only = true;
    for (size_t v = 0; v < plan->variant_count; v++)
        if (plan->variants[v].cfg.compress.recipe || plan->variants[v].cfg.compress.precision_map ||
            plan->variants[v].cfg.compress.prune) /* pruning without a map: compress says what is missing */
            plan->evaluate_only = false;
    for (int phase = 0; phase <= last_phase; phase++)
        for (size_t v = 0; v < plan->variant_count; v++)
            for (size_t s = 0; s < sq_stage_step_count; s++)
                if (sq_stage_steps[s].phase == phase && !(plan->evaluate_only && sq_stage_steps[s].compresses))
                    SQ_TRY(walk_step(plan, of, &sq_stage_steps[s], v, &baselines));
cleanup:
    for (size_t s = 0; of && s < sq_stage_step_count; s++)
        free(of[s]);
    free(of);
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
    char *bin_dir = sq_self_dir();
    sq_status st = sq_plan_build_in(config_path, bin_dir, plan);
    free(bin_dir);
    return st;
}

sq_status sq_plan_build_in(const char *config_path, const char *bin_dir, sq_plan *plan)
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
    plan->bin_dir = strdup(bin_dir);

    /* values reach batch scripts and command lines: refuse control characters
     * before anything else reads them (script_values.c) */
    SQ_TRY(sq_yaml_load_file(&plan->doc, plan->config_path));
    SQ_TRY(sq_config_refuse_control(plan->doc.root));
    SQ_TRY(sq_run_config_load(plan->config_path, &plan->base));
    if (plan->doc.root == NULL || plan->doc.root->kind != SQ_YAML_MAP)
        SQ_FAIL(SQ_ERR_USAGE, "%s: the config must be a mapping of sections", plan->config_path);
    if (run_name_override) {
        if (!sq_folder_name_valid(run_name_override))
            SQ_FAIL(SQ_ERR_USAGE, "--run '%s' is not a run name: letters, digits, '.', '_' and '-', not starting with "
                    "'.' or '-'", run_name_override);
        free(plan->base.run_name);
        plan->base.run_name = strdup(run_name_override);
    }
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
        free(inst->inputs);
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
