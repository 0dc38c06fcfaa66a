/* test_driver_slurm.c - the slurm section's per-stage resources: partition,
 * account, qos, time, memory, gres and cpus_per_task, each one value for every
 * stage or {default: ..., <stage>: ...}, inherited from `default` by the
 * stages a map does not name; written as each stage's #SBATCH lines; a bad
 * value refused with the line:column where it was written.  No Slurm needed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "slurm_jobs.h"
#include "slurm_options.h"
#include "test_support.h"

static char config_path[512];

static void write_config(const char *slurm)
{
    char extra[1024];
    snprintf(extra, sizeof extra, "slurm:\n%s", slurm);
    write_run_config(config_path, sizeof config_path, extra);
}

static void setup(void)
{
    work_dir_make();
    setenv("SQUEEZE_RECIPES", SQ_SOURCE_DIR "/configs/recipes", 1);
    setenv("SQUEEZE_TEMPLATE_DIR", SQ_SOURCE_DIR "/slurm", 1);
}

static void teardown(void) { work_dir_remove(); }

/* The #SBATCH lines of the script written for one stage of the plan. */
static char *script_of(const sq_plan *plan, sq_stage_kind stage)
{
    sq_instance *items[16];
    size_t count = 0;
    char path[600], *text = NULL;
    for (size_t i = 0; i < plan->count && count < 16; i++)
        if (plan->items[i]->stage == stage)
            items[count++] = plan->items[i];
    ck_assert_uint_gt(count, 0);
    snprintf(path, sizeof path, "%s/%s.sbatch", work_dir(), sq_stage_name(stage));
    ck_assert_msg(sq_slurm_write_script(plan, stage, items, NULL, count, 0, path) == SQ_OK, "%s", sq_error_message());
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    char line[4096];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "#SBATCH ", 8) == 0)
            fputs(line, out);
    fclose(out);
    fclose(f);
    return text;
}

START_TEST(test_stages_inherit_the_default_and_override_it)
{
    sq_plan plan;
    write_config("  partition: {default: cpu, evaluate: gpu}\n"
                 "  account: proj42\n"
                 "  time: {default: \"00:10:00\", evaluate: \"01:00:00\"}\n"
                 "  memory: {default: 2G, compress: 8G}\n"
                 "  gres: {evaluate: \"gpu:1\"}\n"
                 "  cpus_per_task: {default: 1, compress: 4}\n");
    ck_assert_msg(sq_plan_build_in(config_path, "/nonexistent-bin", &plan) == SQ_OK, "%s", sq_error_message());
    const sq_slurm_options *o = &plan.slurm;
    ck_assert_str_eq(o->partition[SQ_STAGE_INSPECT], "cpu");
    ck_assert_str_eq(o->partition[SQ_STAGE_COMPRESS], "cpu");
    ck_assert_str_eq(o->partition[SQ_STAGE_EVALUATE], "gpu");
    ck_assert_str_eq(o->account[SQ_STAGE_REPORT], "proj42");
    ck_assert_ptr_null(o->gres[SQ_STAGE_COMPRESS]);
    ck_assert_str_eq(o->gres[SQ_STAGE_EVALUATE], "gpu:1");
    ck_assert_int_eq(o->cpus_per_task[SQ_STAGE_COMPRESS], 4);
    ck_assert_int_eq(o->cpus_per_task[SQ_STAGE_CALIBRATE], 1);

    char *evaluate = script_of(&plan, SQ_STAGE_EVALUATE);
    ck_assert_msg(strstr(evaluate, "#SBATCH --partition=gpu\n") && strstr(evaluate, "#SBATCH --gres=gpu:1\n") &&
                  strstr(evaluate, "#SBATCH --time=01:00:00\n") && strstr(evaluate, "#SBATCH --mem=2G\n") &&
                  strstr(evaluate, "#SBATCH --account=proj42\n") && strstr(evaluate, "#SBATCH --ntasks=3\n") &&
                  strstr(evaluate, "#SBATCH --cpus-per-task=1\n"), "evaluate's lines:\n%s", evaluate);
    char *compress = script_of(&plan, SQ_STAGE_COMPRESS);
    ck_assert_msg(strstr(compress, "#SBATCH --partition=cpu\n") && !strstr(compress, "--gres") &&
                  strstr(compress, "#SBATCH --time=00:10:00\n") && strstr(compress, "#SBATCH --mem=8G\n") &&
                  strstr(compress, "#SBATCH --cpus-per-task=4\n"), "compress's lines:\n%s", compress);
    free(evaluate);
    free(compress);

    /* where each stage's value was written: its own entry, else the default's */
    char pos[600];
    ck_assert_ptr_nonnull(strstr(sq_slurm_option_where(plan.doc.root, "partition", SQ_STAGE_EVALUATE, pos, sizeof pos),
                                 "run.yaml:12:"));
    ck_assert_ptr_nonnull(strstr(sq_slurm_option_where(plan.doc.root, "partition", SQ_STAGE_INSPECT, pos, sizeof pos),
                                 "run.yaml:12:"));
    ck_assert_ptr_nonnull(strstr(sq_slurm_option_where(plan.doc.root, "account", SQ_STAGE_INSPECT, pos, sizeof pos),
                                 "run.yaml:13:"));
    ck_assert_str_eq(sq_slurm_option_where(plan.doc.root, "gres", SQ_STAGE_COMPRESS, pos, sizeof pos), "");
    sq_plan_free(&plan);
}
END_TEST

START_TEST(test_one_value_applies_to_every_stage)
{
    sq_plan plan;
    write_config("  partition: debug\n  gres: \"gpu:a100:2,shard:1\"\n  cpus_per_task: 2\n");
    ck_assert_msg(sq_plan_build_in(config_path, "/nonexistent-bin", &plan) == SQ_OK, "%s", sq_error_message());
    for (int s = 0; s < SQ_STAGE_COUNT; s++) {
        ck_assert_str_eq(plan.slurm.partition[s], "debug");
        ck_assert_str_eq(plan.slurm.gres[s], "gpu:a100:2,shard:1");
        ck_assert_int_eq(plan.slurm.cpus_per_task[s], 2);
    }
    sq_plan_free(&plan);
}
END_TEST

START_TEST(test_bad_values_name_their_line_and_column)
{
    static const struct {
        const char *slurm, *message;
    } cases[] = {
        {"  gres: {evaluate: \"gpu::1\"}\n", "run.yaml:12:20: slurm.gres.evaluate 'gpu::1' is not valid"},
        {"  gres: \"1:gpu\"\n", "run.yaml:12:9: slurm.gres '1:gpu' is not valid"},
        {"  cpus_per_task: 0\n", "run.yaml:12:18: slurm.cpus_per_task '0' is not valid: expected a whole number"},
        {"  cpus_per_task: {compress: two}\n", "slurm.cpus_per_task.compress 'two' is not valid"},
        {"  partition: {evaluate: \"gpu;rm\"}\n", "slurm.partition.evaluate 'gpu;rm' is not valid: expected a Slurm name"},
        {"  partition: {evalute: gpu}\n", "unknown key 'evalute' in slurm.partition"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sq_plan plan;
        write_config(cases[i].slurm);
        ck_assert_int_ne(sq_plan_build_in(config_path, "/nonexistent-bin", &plan), SQ_OK);
        ck_assert_msg(strstr(sq_error_message(), cases[i].message), "case %zu: '%s' lacks '%s'", i, sq_error_message(),
                      cases[i].message);
        sq_error_clear();
        sq_plan_free(&plan);
    }
    ck_assert(sq_slurm_gres_valid("gpu"));
    ck_assert(sq_slurm_gres_valid("gpu:1"));
    ck_assert(sq_slurm_gres_valid("gpu:tesla_v100:4"));
    ck_assert(!sq_slurm_gres_valid(""));
    ck_assert(!sq_slurm_gres_valid("gpu:1,"));
    ck_assert(!sq_slurm_gres_valid("gpu:a:b:c"));
    ck_assert(!sq_slurm_gres_valid("gpu 1"));
}
END_TEST

int main(void)
{
    const sq_test_case row = {.name = "resources", .timeout = 60, .setup = setup, .teardown = teardown,
                              .tests = SQ_TESTS(test_stages_inherit_the_default_and_override_it,
                                                test_one_value_applies_to_every_stage,
                                                test_bad_values_name_their_line_and_column)};
    return sq_test_run(sq_test_suite("driver_slurm", &row, 1));
}
