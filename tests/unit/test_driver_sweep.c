/* test_driver_sweep.c - the driver's sweep expansion (grid and zip into named
 * variants), the Slurm array splitting of a submission (groups, chunks by
 * MaxArraySize, task ids, aftercorr pairs, --array and --dependency text) and
 * the quoting of values for #SBATCH lines. */
#include <check.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "precision/prune_spec.h"
#include "proc.h"
#include "script_values.h"
#include "select.h"
#include "slurm_groups.h"
#include "sweep.h"
#include "test_support.h"

static sq_yaml_doc doc;

static const sq_yaml_node *parse(const char *text)
{
    sq_yaml_free(&doc);
    ck_assert_int_eq(sq_yaml_load_string(&doc, text, "sweep.yaml"), SQ_OK);
    return sq_yaml_get(doc.root, "sweep");
}

static void teardown_doc(void) { sq_yaml_free(&doc); }

START_TEST(test_no_sweep_is_one_default_variant)
{
    sq_sweep sweep;
    ck_assert_int_eq(sq_sweep_expand(NULL, &sweep), SQ_OK);
    ck_assert_uint_eq(sweep.count, 1);
    ck_assert_str_eq(sweep.variants[0].name, "default");
    ck_assert_uint_eq(sweep.variants[0].override_count, 0);
    sq_sweep_free(&sweep);
}
END_TEST

START_TEST(test_grid_is_every_combination_last_path_fastest)
{
    sq_sweep sweep;
    const sq_yaml_node *section = parse("sweep:\n  grid:\n    compress.recipe: [recipes/int8.yaml, nf4]\n"
                                        "    evaluate.window_length: [64, 128, 256]\n");
    ck_assert_int_eq(sq_sweep_expand(section, &sweep), SQ_OK);
    ck_assert_uint_eq(sweep.count, 6);
    ck_assert_str_eq(sweep.variants[0].name, "int8_64");
    ck_assert_str_eq(sweep.variants[1].name, "int8_128");
    ck_assert_str_eq(sweep.variants[3].name, "nf4_64");
    ck_assert_str_eq(sweep.variants[5].name, "nf4_256");
    ck_assert_uint_eq(sweep.variants[4].override_count, 2);
    ck_assert_str_eq(sweep.variants[4].overrides[1].path, "evaluate.window_length");
    ck_assert_str_eq(sweep.variants[4].overrides[1].value->value, "128");
    sq_sweep_free(&sweep);
}
END_TEST

START_TEST(test_zip_pairs_and_names_rename)
{
    sq_sweep sweep;
    const sq_yaml_node *section = parse("sweep:\n  zip: {evaluate.window_length: [64, 128], evaluate.stride: [32, 64]}\n"
                                        "  names: [short, long]\n");
    ck_assert_int_eq(sq_sweep_expand(section, &sweep), SQ_OK);
    ck_assert_uint_eq(sweep.count, 2);
    ck_assert_str_eq(sweep.variants[1].name, "long");
    ck_assert_str_eq(sweep.variants[1].overrides[1].value->value, "64");
    sq_sweep_free(&sweep);
}
END_TEST

START_TEST(test_bad_sweeps_name_their_position)
{
    sq_sweep sweep;
    ck_assert_int_eq(sq_sweep_expand(parse("sweep:\n  zip: {evaluate.window_length: [64, 128], evaluate.stride: [1]}\n"),
                                     &sweep),
                     SQ_ERR_USAGE);
    ck_assert(strstr(sq_error_message(), "equal lengths") != NULL);
    sq_error_clear();
    ck_assert_int_eq(sq_sweep_expand(parse("sweep:\n  grid: {model.checkpoint: [a.pt, b.pt]}\n"), &sweep), SQ_ERR_USAGE);
    ck_assert(strstr(sq_error_message(), "sweep.yaml:3:") != NULL || strstr(sq_error_message(), "sweep.yaml:") != NULL);
    sq_error_clear();
    /* names are folders: never "..", never a path */
    ck_assert_int_eq(sq_sweep_expand(parse("sweep:\n  grid: {compress.recipe: [int8, nf4]}\n  names: [.., b]\n"), &sweep),
                     SQ_ERR_USAGE);
    sq_error_clear();
    ck_assert_int_eq(sq_sweep_expand(parse("sweep:\n  grid: {compress.recipe: [int8, nf4]}\n  names: [a/b, b]\n"), &sweep),
                     SQ_ERR_USAGE);
    sq_error_clear();
    /* derived names that collide */
    ck_assert_int_eq(sq_sweep_expand(parse("sweep:\n  grid: {compress.recipe: [a/int8.yaml, b/int8.yaml]}\n"), &sweep),
                     SQ_ERR_USAGE);
    sq_error_clear();
}
END_TEST

START_TEST(test_prune_amounts_are_axes_with_readable_names)
{
    sq_sweep sweep;
    sq_prune_spec spec = {0};
    sq_yaml_doc cfg = {0};
    /* a pruning amount times a format: every combination, named by what it removed */
    const sq_yaml_node *section = parse("sweep:\n  grid:\n    compress.prune.experts: [0, 0.125, 0.25, 0.5]\n"
                                        "    compress.recipe: [fp32, configs/recipes/nf4.yaml]\n");
    ck_assert_int_eq(sq_sweep_expand(section, &sweep), SQ_OK);
    ck_assert_uint_eq(sweep.count, 8);
    ck_assert_str_eq(sweep.variants[0].name, "experts0_fp32");
    ck_assert_str_eq(sweep.variants[3].name, "experts12.5_nf4");
    ck_assert_str_eq(sweep.variants[5].name, "experts25_nf4");
    ck_assert_str_eq(sweep.variants[6].name, "experts50_fp32");
    /* the override lands in the variant's compress section as compress.prune = {experts: 0.25} */
    ck_assert_int_eq(sq_yaml_load_string(&cfg, "compress:\n  recipe: nf4\n", "run.yaml"), SQ_OK);
    ck_assert_int_eq(sq_sweep_apply(cfg.root, sweep.variants[5].overrides[0].path, sweep.variants[5].overrides[0].value,
                                    sweep.variants[5].overrides[0].where),
                     SQ_OK);
    const sq_yaml_node *prune = sq_yaml_get(sq_yaml_get(cfg.root, "compress"), "prune");
    ck_assert_ptr_nonnull(prune);
    ck_assert_int_eq(sq_prune_spec_add_fractions(prune, &spec), SQ_OK);
    ck_assert_uint_eq(spec.count, 1);
    ck_assert_int_eq(spec.rules[0].target, SQ_PRUNE_EXPERTS);
    ck_assert(spec.rules[0].fraction == 0.25 && spec.rules[0].count == -1 && spec.rules[0].layer_count == 0);
    /* the same target in the recipe and the run config: one place only */
    ck_assert_int_eq(sq_prune_spec_add_fractions(prune, &spec), SQ_ERR_USAGE);
    ck_assert(strstr(sq_error_message(), "prunes experts already") != NULL);
    sq_error_clear();
    sq_prune_spec_free(&spec);
    sq_yaml_free(&cfg);
    sq_sweep_free(&sweep);

    /* 0 adds no rule (the unpruned point); a whole map names every target; an empty one is noprune */
    section = parse("sweep:\n  grid:\n    compress.prune: [{}, {ffn-channels: 0.25, experts: 0.5}, {ffn-channels: 0}]\n");
    ck_assert_int_eq(sq_sweep_expand(section, &sweep), SQ_OK);
    ck_assert_str_eq(sweep.variants[0].name, "noprune");
    ck_assert_str_eq(sweep.variants[1].name, "ffn25-experts50");
    ck_assert_str_eq(sweep.variants[2].name, "ffn0");
    ck_assert_int_eq(sq_prune_spec_add_fractions(sweep.variants[2].overrides[0].value, &spec), SQ_OK);
    ck_assert_uint_eq(spec.count, 0);
    ck_assert_int_eq(sq_prune_spec_add_fractions(sweep.variants[1].overrides[0].value, &spec), SQ_OK);
    ck_assert_uint_eq(spec.count, 2);
    sq_prune_spec_free(&spec);
    sq_sweep_free(&sweep);

    /* bad amounts name their position */
    ck_assert_int_eq(sq_yaml_load_string(&cfg, "prune: {ffn-channels: 1.0}\n", "run.yaml"), SQ_OK);
    ck_assert_int_eq(sq_prune_spec_add_fractions(sq_yaml_get(cfg.root, "prune"), &spec), SQ_ERR_USAGE);
    ck_assert(strstr(sq_error_message(), "run.yaml:1:") != NULL && strstr(sq_error_message(), "[0, 1)") != NULL);
    sq_error_clear();
    sq_yaml_free(&cfg);
    ck_assert_int_eq(sq_yaml_load_string(&cfg, "prune: {attention: 0.5}\n", "run.yaml"), SQ_OK);
    ck_assert_int_eq(sq_prune_spec_add_fractions(sq_yaml_get(cfg.root, "prune"), &spec), SQ_ERR_USAGE);
    ck_assert(strstr(sq_error_message(), "unknown prune target 'attention'") != NULL);
    sq_error_clear();
    sq_yaml_free(&cfg);
    sq_prune_spec_free(&spec);
    /* a value that is not a fraction keeps the plain name part */
    ck_assert_int_eq(sq_sweep_expand(parse("sweep:\n  grid: {compress.prune.experts: [x]}\n"), &sweep), SQ_OK);
    ck_assert_str_eq(sweep.variants[0].name, "x");
    sq_sweep_free(&sweep);
}
END_TEST

START_TEST(test_folder_names_and_sbatch_quoting)
{
    ck_assert(sq_folder_name_valid("int8-w64_v1.2"));
    ck_assert(!sq_folder_name_valid(".."));
    ck_assert(!sq_folder_name_valid("."));
    ck_assert(!sq_folder_name_valid("a/b"));
    ck_assert(!sq_folder_name_valid("-x"));
    ck_assert(!sq_folder_name_valid("a b"));
    char *q = sq_sbatch_quote("/runs/o $(x) 'q\" #h%j/ü");
    ck_assert_str_eq(q, "/runs/o\\ \\$\\(x\\)\\ \\'q\\\"\\ \\#h%j/ü");
    free(q);
}
END_TEST

/* ---- array splitting ---- */

static char config_path[512];

static sq_plan sweep_plan(int variants)
{
    sq_plan plan;
    work_dir_make();
    setenv("SQUEEZE_RECIPES", SQ_SOURCE_DIR "/configs/recipes", 1);
    snprintf(config_path, sizeof config_path, "%s/split.yaml", work_dir());
    FILE *f = fopen(config_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "run: split\noutput_root: results\nmodel: {checkpoint: %s/bundled/itera_tiny_bytes.pt}\n"
               "data: {tokenizer: bytes, calibration: %s/bundled/austen_train.txt, "
               "evaluation: %s/bundled/austen_val.txt}\ncompress: {recipe: int8}\nsweep: {grid: {targets.quality: [",
            SQ_TEST_DATA, SQ_TEST_DATA, SQ_TEST_DATA);
    for (int i = 0; i < variants; i++)
        fprintf(f, "%s%d", i ? ", " : "", i + 1);
    fprintf(f, "]}}\n");
    fclose(f);
    ck_assert_msg(sq_plan_build_in(config_path, "/nonexistent-bin", &plan) == SQ_OK, "%s", sq_error_message());
    return plan;
}

static void name_jobs(sq_submission *s)
{
    for (size_t g = 0; g < s->group_count; g++)
        s->groups[g].job_id = s->groups[g].chunk ? sq_strdupf("<%s.%d>", s->groups[g].label, s->groups[g].chunk)
                                                  : sq_strdupf("<%s>", s->groups[g].label);
}

START_TEST(test_arrays_split_by_max_array_size)
{
    sq_plan plan = sweep_plan(7);
    bool *all = calloc(plan.count, sizeof *all);
    sq_submission s;
    ck_assert_int_eq(sq_plan_select(&plan, NULL, NULL, all), SQ_OK);
    ck_assert_int_eq(sq_submission_group(&plan, all, 3, &s), SQ_OK);
    const char *labels[] = {"inspect", "calibrate", "baseline", "compress", "evaluate", "compress",
                            "evaluate", "compress", "evaluate", "report"};
    const int chunks[] = {0, 0, 0, 0, 0, 1, 1, 2, 2, 0};
    const int counts[] = {1, 1, 1, 3, 3, 3, 3, 1, 1, 1};
    ck_assert_uint_eq(s.group_count, 10);
    for (size_t g = 0; g < s.group_count; g++) {
        ck_assert_str_eq(s.groups[g].label, labels[g]);
        ck_assert_int_eq(s.groups[g].chunk, chunks[g]);
        ck_assert_uint_eq(s.groups[g].count, (size_t)counts[g]);
    }
    /* tasks are local to the chunk; the offset gives the variant index back */
    ck_assert_int_eq(s.groups[5].offset, 3);
    ck_assert_int_eq(s.groups[5].tasks[2], 2);
    ck_assert_int_eq(s.groups[5].items[2]->variant_index, 5);
    ck_assert(s.groups[7].array);
    ck_assert(!s.groups[0].array);
    ck_assert_int_eq(s.groups[6].corr_group, 5);

    char *spec = sq_slurm_array_spec(s.groups[3].tasks, s.groups[3].count, 2);
    ck_assert_str_eq(spec, "0-2%2");
    free(spec);
    int ids[] = {0, 1, 2, 5, 7, 8};
    spec = sq_slurm_array_spec(ids, 6, 0);
    ck_assert_str_eq(spec, "0-2,5,7-8");
    free(spec);

    name_jobs(&s);
    char *dep = sq_submission_dependency(&s, &s.groups[6]);
    ck_assert_str_eq(dep, "aftercorr:<compress.1>,afterok:<baseline>");
    free(dep);
    dep = sq_submission_dependency(&s, &s.groups[9]);
    ck_assert_str_eq(dep, "afterany:<baseline>,afterany:<evaluate>,afterany:<evaluate.1>,afterany:<evaluate.2>");
    free(dep);
    ck_assert_ptr_null(sq_submission_dependency(&s, &s.groups[0]));
    sq_submission_free(&s);
    free(all);
    sq_plan_free(&plan);
    work_dir_remove();
}
END_TEST

START_TEST(test_an_evaluation_alone_is_evaluate_only)
{
    sq_plan plan = sweep_plan(4);
    bool *sel = calloc(plan.count, sizeof *sel);
    sq_submission s;
    for (size_t i = 0; i < plan.count; i++)
        plan.items[i]->state = SQ_STATE_DONE;
    /* variant 3's evaluation and, downstream of it, the report */
    for (size_t i = 0; i < plan.count; i++)
        if (strcmp(plan.items[i]->id, "evaluate/3") == 0)
            plan.items[i]->state = SQ_STATE_FAILED;
    ck_assert_int_eq(sq_plan_select(&plan, NULL, NULL, sel), SQ_OK);
    ck_assert_int_eq(sq_submission_group(&plan, sel, 1001, &s), SQ_OK);
    ck_assert_uint_eq(s.group_count, 2);
    ck_assert_str_eq(s.groups[0].label, "evaluate-only");
    ck_assert_int_eq(s.groups[0].tasks[0], 2); /* the variant's index in the sweep */
    ck_assert(s.groups[0].array);
    ck_assert_str_eq(s.groups[1].label, "report");
    name_jobs(&s);
    char *dep = sq_submission_dependency(&s, &s.groups[0]);
    ck_assert_ptr_null(dep); /* its compress and baseline are done */
    sq_submission_free(&s);
    free(sel);
    sq_plan_free(&plan);
    work_dir_remove();
}
END_TEST

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const sq_test_case cases[] = {
        {.name = "sweep",
         .teardown = teardown_doc,
         .tests = SQ_TESTS(test_no_sweep_is_one_default_variant, test_grid_is_every_combination_last_path_fastest,
                           test_zip_pairs_and_names_rename, test_bad_sweeps_name_their_position,
                           test_prune_amounts_are_axes_with_readable_names, test_folder_names_and_sbatch_quoting)},
        {.name = "arrays",
         .timeout = 60,
         .tests = SQ_TESTS(test_arrays_split_by_max_array_size, test_an_evaluation_alone_is_evaluate_only)},
    };
    return sq_test_run(sq_test_suite("driver_sweep", cases, sizeof cases / sizeof *cases));
}
