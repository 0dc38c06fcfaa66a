/* test_driver_plan.c - the driver's plan as a library: expansion of a sweep
 * into stage instances walked from the stage table, their keys and states
 * (done / stale / missing from the artifacts' plan_key), and which instances
 * the executors select.  No stage runs: artifacts are written by hand. */
#include <check.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plan.h"
#include "select.h"
#include "test_support.h"

static char config_path[512];

static void write_config(const char *extra) { write_run_config(config_path, sizeof config_path, extra); }

static void setup(void)
{
    work_dir_make();
    setenv("SQUEEZE_RECIPES", SQ_SOURCE_DIR "/configs/recipes", 1);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void teardown(void) { work_dir_remove(); }

static sq_plan build(const char *extra)
{
    sq_plan plan;
    write_config(extra);
    sq_status st = sq_plan_build_in(config_path, "/nonexistent-bin", &plan);
    ck_assert_msg(st == SQ_OK, "plan: %s", sq_error_message());
    return plan;
}

static const sq_instance *by_id(const sq_plan *plan, const char *id)
{
    for (size_t i = 0; i < plan->count; i++)
        if (strcmp(plan->items[i]->id, id) == 0)
            return plan->items[i];
    ck_abort_msg("no instance %s in the plan", id);
    return NULL;
}

static size_t index_of(const sq_plan *plan, const char *id)
{
    for (size_t i = 0; i < plan->count; i++)
        if (strcmp(plan->items[i]->id, id) == 0)
            return i;
    ck_abort_msg("no instance %s in the plan", id);
    return 0;
}

/* Whether argv holds `flag value` next to each other. */
static bool has_pair(char *const *argv, const char *flag, const char *value)
{
    for (size_t i = 0; argv[i] && argv[i + 1]; i++)
        if (strcmp(argv[i], flag) == 0 && strcmp(argv[i + 1], value) == 0)
            return true;
    return false;
}

/* An HDF5 file whose root attribute plan_key is `key`: what a stage leaves. */
static void write_artifact(const sq_instance *inst, const char *key)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", inst->dir);
    ck_assert_int_eq(system(cmd), 0);
    hid_t file = H5Fcreate(inst->output, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(key) + 1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file, "plan_key", type, space, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(attr, type, key), 0);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(file);
}

START_TEST(test_demo_sweep_expands_in_table_order)
{
    sq_plan plan = build("sweep: {grid: {compress.recipe: [int8, nf4, ssm-mixed]}}\n");
    const char *want[] = {"inspect",        "calibrate/",   "evaluate/baseline", "compress/int8",
                          "evaluate/int8",  "compress/nf4", "evaluate/nf4",      "compress/ssm-mixed",
                          "evaluate/ssm-mixed", "report"};
    ck_assert_uint_eq(plan.count, 10);
    for (size_t i = 0; i < plan.count; i++)
        ck_assert_msg(strncmp(plan.items[i]->id, want[i], strlen(want[i])) == 0, "item %zu is %s, want %s", i,
                      plan.items[i]->id, want[i]);
    /* one calibration for the three variants: they do not vary calibration */
    const sq_instance *cal = plan.items[1], *inspect = plan.items[0], *base = by_id(&plan, "evaluate/baseline");
    ck_assert_str_eq(cal->step->name, "calibrate");
    ck_assert_uint_eq(strlen(cal->variant), 12);
    ck_assert_int_eq(cal->ranks, 2);
    ck_assert_int_eq(base->ranks, 3);
    ck_assert_str_eq(base->step->name, "baseline");
    /* the baseline keeps log-probs for KL: the step sets it in its config */
    ck_assert_str_eq(sq_yaml_get_path(base->config, "evaluate.store_logprobs")->value, "true");
    ck_assert_ptr_null(sq_yaml_get_path(by_id(&plan, "evaluate/nf4")->config, "evaluate.store_logprobs"));

    const sq_instance *compress = by_id(&plan, "compress/nf4"), *evaluate = by_id(&plan, "evaluate/nf4");
    ck_assert_int_eq(compress->input_count, 2);
    ck_assert_ptr_eq(compress->inputs[0], inspect);
    ck_assert_ptr_eq(compress->inputs[1], cal);
    ck_assert_ptr_eq(evaluate->inputs[0], compress);
    ck_assert_ptr_eq(evaluate->inputs[1], base);
    ck_assert_int_eq(compress->variant_index, 1);
    ck_assert_int_eq(base->variant_index, -1);
    /* argv: the table's words with the instance's paths */
    ck_assert(has_pair(compress->argv, "--model", inspect->output));
    ck_assert(has_pair(compress->argv, "--calibration", cal->output));
    ck_assert(has_pair(compress->argv, "--key", compress->key));
    ck_assert(has_pair(evaluate->argv, "--baseline", base->output));
    ck_assert(has_pair(evaluate->argv, "--variant", "nf4"));
    ck_assert(has_pair(base->argv, "--variant", "baseline"));
    ck_assert(strstr(inspect->argv[1], "itera_tiny_bytes.pt") != NULL);
    ck_assert(strstr(compress->argv[0], "squeeze-compress") != NULL);
    ck_assert(strstr(compress->output, "/results/unit/compress/nf4/model.h5") != NULL);
    const sq_instance *report = by_id(&plan, "report");
    ck_assert_int_eq(report->input_count, 4); /* the baseline and three variants */
    ck_assert(has_pair(report->argv, "--run-dir", plan.run_dir));
    sq_plan_free(&plan);
}
END_TEST

START_TEST(test_calibration_and_baseline_are_shared_by_key)
{
    sq_plan plan = build("sweep: {grid: {calibrate.windows: [4, 8], evaluate.max_windows: [4, 2]}}\n");
    int calibrations = 0, baselines = 0;
    for (size_t i = 0; i < plan.count; i++) {
        calibrations += plan.items[i]->stage == SQ_STAGE_CALIBRATE;
        baselines += strcmp(plan.items[i]->step->name, "baseline") == 0;
    }
    ck_assert_int_eq(calibrations, 2);
    ck_assert_int_eq(baselines, 2);
    ck_assert_uint_eq(plan.variant_count, 4);
    /* the second baseline is named after its key */
    const sq_instance *second = NULL;
    for (size_t i = 0; i < plan.count; i++)
        if (strncmp(plan.items[i]->id, "evaluate/baseline-", 18) == 0)
            second = plan.items[i];
    ck_assert_ptr_nonnull(second);
    ck_assert_int_eq(strncmp(second->variant + 9, second->key, 8), 0);
    sq_plan_free(&plan);
}
END_TEST

START_TEST(test_report_reads_every_evaluation_of_a_large_sweep)
{
    /* 70 variants: more than the 64 inputs a report used to be capped at */
    char sweep[1024] = "sweep: {grid: {targets.quality: [";
    for (int i = 1; i <= 70; i++)
        snprintf(sweep + strlen(sweep), sizeof sweep - strlen(sweep), "%s%d", i > 1 ? ", " : "", i);
    strcat(sweep, "]}}\n");
    sq_plan plan = build(sweep);
    const sq_instance *report = by_id(&plan, "report");
    ck_assert_uint_eq(plan.variant_count, 70);
    ck_assert_int_eq(report->input_count, 71);
    ck_assert_str_eq(report->inputs[70]->id, "evaluate/70");
    sq_plan_free(&plan);
}
END_TEST

/* Edits the config in place with a sed expression. */
static void edit_config(const char *sed)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "sed -i '%s' '%s'", sed, config_path);
    ck_assert_int_eq(system(cmd), 0);
}

static sq_plan rebuild(void)
{
    sq_plan plan;
    sq_status st = sq_plan_build_in(config_path, "/nonexistent-bin", &plan);
    ck_assert_msg(st == SQ_OK, "plan: %s", sq_error_message());
    return plan;
}

START_TEST(test_keys_follow_what_a_stage_reads)
{
    sq_plan a = build("sweep: {grid: {compress.recipe: [int8, nf4]}}\n");
    sq_plan same = rebuild();
    for (size_t i = 0; i < a.count; i++)
        ck_assert_str_eq(a.items[i]->key, same.items[i]->key);
    ck_assert_str_ne(by_id(&a, "compress/int8")->key, by_id(&a, "compress/nf4")->key);

    /* more calibration windows: calibrate and everything downstream change, inspect and the baseline do not */
    edit_config("s/windows: 4, window_length: 32, ranks: 2/windows: 8, window_length: 32, ranks: 2/");
    sq_plan b = rebuild();
    ck_assert_str_eq(by_id(&a, "inspect")->key, by_id(&b, "inspect")->key);
    ck_assert_str_eq(by_id(&a, "evaluate/baseline")->key, by_id(&b, "evaluate/baseline")->key);
    ck_assert_str_ne(a.items[1]->key, b.items[1]->key);
    ck_assert_str_ne(by_id(&a, "compress/int8")->key, by_id(&b, "compress/int8")->key);
    ck_assert_str_ne(by_id(&a, "evaluate/int8")->key, by_id(&b, "evaluate/int8")->key);
    ck_assert_str_ne(by_id(&a, "report")->key, by_id(&b, "report")->key);

    /* ranks alone change no number, so no key */
    edit_config("s/windows: 8, window_length: 32, ranks: 2/windows: 4, window_length: 32, ranks: 1/");
    sq_plan c = rebuild();
    ck_assert_int_eq(c.items[1]->ranks, 1);
    for (size_t i = 0; i < a.count; i++)
        ck_assert_str_eq(a.items[i]->key, c.items[i]->key);
    sq_plan_free(&a);
    sq_plan_free(&same);
    sq_plan_free(&b);
    sq_plan_free(&c);
}
END_TEST

START_TEST(test_states_come_from_the_artifacts_keys)
{
    sq_plan plan = build("");
    const sq_instance *inspect = by_id(&plan, "inspect"), *cal = plan.items[1];
    for (size_t i = 0; i < plan.count; i++)
        ck_assert_int_eq(plan.items[i]->state, SQ_STATE_MISSING);
    write_artifact(inspect, inspect->key);
    write_artifact(cal, "an-older-key");
    sq_plan_refresh_states(&plan);
    ck_assert_int_eq(inspect->state, SQ_STATE_DONE);
    ck_assert_int_eq(cal->state, SQ_STATE_STALE);
    ck_assert_int_eq(by_id(&plan, "compress/default")->state, SQ_STATE_MISSING);
    /* the report's key is a text file written when it completes */
    const sq_instance *report = by_id(&plan, "report");
    ck_assert_int_eq(sq_instance_prepare(&plan, report), SQ_OK); /* its folder and config.yaml */
    ck_assert_int_eq(sq_instance_mark_done(report), SQ_OK);
    sq_plan_refresh_states(&plan);
    ck_assert_int_eq(report->state, SQ_STATE_DONE);
    sq_plan_free(&plan);
}
END_TEST

static void set_states(sq_plan *plan, sq_state state)
{
    for (size_t i = 0; i < plan->count; i++)
        plan->items[i]->state = state;
}

START_TEST(test_selection_runs_what_is_not_done_and_what_follows)
{
    sq_plan plan = build("sweep: {grid: {compress.recipe: [int8, nf4]}}\n");
    bool *sel = calloc(plan.count, sizeof *sel);
    ck_assert_int_eq(sq_plan_select(&plan, NULL, NULL, sel), SQ_OK);
    for (size_t i = 0; i < plan.count; i++)
        ck_assert(sel[i]);

    set_states(&plan, SQ_STATE_DONE);
    plan.items[index_of(&plan, "compress/nf4")]->state = SQ_STATE_STALE;
    ck_assert_int_eq(sq_plan_select(&plan, NULL, NULL, sel), SQ_OK);
    for (size_t i = 0; i < plan.count; i++) {
        const char *id = plan.items[i]->id;
        bool want = strcmp(id, "compress/nf4") == 0 || strcmp(id, "evaluate/nf4") == 0 || strcmp(id, "report") == 0;
        ck_assert_msg(sel[i] == want, "%s selected=%d", id, sel[i]);
    }

    /* queued in Slurm: neither resubmitted nor, downstream, redone */
    set_states(&plan, SQ_STATE_DONE);
    plan.items[index_of(&plan, "compress/int8")]->state = SQ_STATE_FAILED;
    plan.items[index_of(&plan, "evaluate/int8")]->state = SQ_STATE_PENDING;
    plan.items[index_of(&plan, "report")]->state = SQ_STATE_PENDING;
    ck_assert_int_eq(sq_plan_select(&plan, NULL, NULL, sel), SQ_OK);
    for (size_t i = 0; i < plan.count; i++)
        ck_assert_msg(sel[i] == (strcmp(plan.items[i]->id, "compress/int8") == 0), "%s", plan.items[i]->id);
    free(sel);
    sq_plan_free(&plan);
}
END_TEST

START_TEST(test_selection_of_one_instance)
{
    sq_plan plan = build("sweep: {grid: {compress.recipe: [int8, nf4]}}\n");
    bool *sel = calloc(plan.count, sizeof *sel);
    set_states(&plan, SQ_STATE_DONE);
    ck_assert_int_eq(sq_plan_select(&plan, "compress", NULL, sel), SQ_ERR_USAGE);
    ck_assert(strstr(sq_error_message(), "has 2 compress instances") != NULL);
    sq_error_clear();
    ck_assert_int_eq(sq_plan_select(&plan, "squash", NULL, sel), SQ_ERR_USAGE);
    sq_error_clear();
    ck_assert_int_eq(sq_plan_select(&plan, "compress", "fp8", sel), SQ_ERR_USAGE);
    sq_error_clear();
    ck_assert_int_eq(sq_plan_select(&plan, "compress", "nf4", sel), SQ_OK);
    for (size_t i = 0; i < plan.count; i++)
        ck_assert(sel[i] == (strcmp(plan.items[i]->id, "compress/nf4") == 0));
    ck_assert_int_eq(sq_plan_select(&plan, "inspect", NULL, sel), SQ_OK);
    ck_assert(sel[0]);
    /* its inputs must be done, or queued in Slurm */
    plan.items[1]->state = SQ_STATE_MISSING;
    ck_assert_int_eq(sq_plan_select(&plan, "compress", "nf4", sel), SQ_ERR_USAGE);
    ck_assert(strstr(sq_error_message(), "needs calibrate/") != NULL);
    sq_error_clear();
    plan.items[1]->state = SQ_STATE_RUNNING;
    ck_assert_int_eq(sq_plan_select(&plan, "compress", "nf4", sel), SQ_OK);
    free(sel);
    sq_plan_free(&plan);
}
END_TEST

START_TEST(test_hostile_names_are_refused_with_their_position)
{
    sq_plan plan;
    write_config("");
    edit_config("s/^run: unit$/run: ../");
    ck_assert_int_eq(sq_plan_build_in(config_path, "/nonexistent-bin", &plan), SQ_ERR_USAGE);
    ck_assert_msg(strstr(sq_error_message(), "run.yaml:1:6: run name '..'") != NULL, "%s", sq_error_message());
    sq_plan_free(&plan);
    sq_error_clear();
    edit_config("s/^run: ..$/run: unit/; s/^output_root: results$/output_root: \"a\\\\nb\"/");
    ck_assert_int_eq(sq_plan_build_in(config_path, "/nonexistent-bin", &plan), SQ_ERR_USAGE);
    ck_assert_msg(strstr(sq_error_message(), "run.yaml:2:14: output_root holds a control character") != NULL, "%s",
                  sq_error_message());
    sq_plan_free(&plan);
    sq_error_clear();
}
END_TEST

int main(void)
{
    const sq_test_case row = {.name = "plan", .timeout = 60, .setup = setup, .teardown = teardown,
                              .tests = SQ_TESTS(test_demo_sweep_expands_in_table_order,
                                                test_calibration_and_baseline_are_shared_by_key,
                                                test_report_reads_every_evaluation_of_a_large_sweep,
                                                test_keys_follow_what_a_stage_reads,
                                                test_states_come_from_the_artifacts_keys,
                                                test_selection_runs_what_is_not_done_and_what_follows,
                                                test_selection_of_one_instance,
                                                test_hostile_names_are_refused_with_their_position)};
    return sq_test_run(sq_test_suite("driver_plan", &row, 1));
}
