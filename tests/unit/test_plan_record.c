/* test_plan_record.c - plan.json's one definition (artifact/plan_record.h):
 * what the driver writes is what the report reads, field by field, and a
 * damaged file is refused with its name (and line:column for broken JSON). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/plan_record.h"
#include "test_support.h"

static void setup(void) { work_dir_make(); }
static void teardown(void) { work_dir_remove(); }

static char **words(int n, ...)
{
    va_list ap;
    char **out = calloc((size_t)n + 1, sizeof *out);
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        out[i] = strdup(va_arg(ap, const char *));
    va_end(ap);
    return out;
}

START_TEST(test_written_record_reads_back)
{
    sq_plan_record rec, back;
    char path[512];
    snprintf(path, sizeof path, "%s/plan.json", work_dir());
    ck_assert_int_eq(sq_plan_record_alloc(&rec, 1, 2), SQ_OK);
    rec.run = strdup("demo");
    rec.config = strdup("/abs/demo.yaml");
    rec.run_dir = strdup("/abs/results/demo");
    rec.executor = strdup("local");
    rec.written_utc = strdup("2026-01-01T00:00:00Z");
    rec.variants[0].name = strdup("nf4");
    rec.variants[0].override_paths = words(2, "compress.recipe", "evaluate.windows");
    rec.variants[0].override_json = words(2, "\"nf4\"", "[1, 2]");
    rec.variants[0].override_count = 2;
    sq_plan_record_instance *a = &rec.instances[0], *b = &rec.instances[1];
    a->id = strdup("compress/nf4");
    a->stage = strdup("compress");
    a->variant = strdup("nf4");
    a->key = strdup("k1");
    a->inputs = words(2, "inspect", "calibrate/abc");
    a->input_count = 2;
    a->dir = strdup("/d");
    a->output = strdup("/d/model.h5");
    a->config = strdup("/d/config.yaml");
    a->log = strdup("/d/stage.log");
    a->ranks = 1;
    a->state = strdup("failed");
    a->has_exit_code = true;
    a->exit_code = 4;
    a->command = words(3, "/bin/squeeze-compress", "--out", "/d/model.h5");
    a->command_count = 3;
    b->id = strdup("report");
    b->stage = strdup("report");
    b->variant = strdup("");
    b->key = strdup("k2");
    b->inputs = words(0);
    b->dir = strdup("/r");
    b->output = strdup("/r/plan_key");
    b->config = strdup("/r/config.yaml");
    b->log = strdup("/r/stage.log");
    b->ranks = 1;
    b->state = strdup("pending");
    b->job_id = strdup("123_4");
    b->command = words(0);
    ck_assert_int_eq(sq_plan_record_write(&rec, path), SQ_OK);

    ck_assert_int_eq(sq_plan_record_read(path, &back), SQ_OK);
    ck_assert_str_eq(back.run, "demo");
    ck_assert_str_eq(back.executor, "local");
    ck_assert_uint_eq(back.variant_count, 1);
    ck_assert_uint_eq(back.variants[0].override_count, 2);
    ck_assert_str_eq(back.variants[0].override_paths[1], "evaluate.windows");
    ck_assert_str_eq(back.variants[0].override_json[1], "[1, 2]");
    ck_assert_uint_eq(back.instance_count, 2);
    const sq_plan_record_instance *ra = sq_plan_record_find(&back, "compress/nf4");
    ck_assert_ptr_nonnull(ra);
    ck_assert_str_eq(ra->inputs[1], "calibrate/abc");
    ck_assert(ra->has_exit_code);
    ck_assert_int_eq(ra->exit_code, 4);
    ck_assert_ptr_null(ra->job_id);
    ck_assert_uint_eq(ra->command_count, 3);
    ck_assert_str_eq(ra->command[2], "/d/model.h5");
    const sq_plan_record_instance *rb = sq_plan_record_of(&back, "report", "");
    ck_assert_ptr_eq(rb, &back.instances[1]);
    ck_assert(!rb->has_exit_code);
    ck_assert_str_eq(rb->job_id, "123_4");
    ck_assert_str_eq(rb->state, "pending");
    ck_assert_ptr_null(sq_plan_record_find(&back, "inspect"));
    sq_plan_record_free(&rec);
    sq_plan_record_free(&back);
}
END_TEST

START_TEST(test_damaged_files_are_refused)
{
    sq_plan_record rec;
    char path[512];
    snprintf(path, sizeof path, "%s/plan.json", work_dir());
    FILE *f = fopen(path, "w");
    fputs("{\"run\": \"demo\",\n  \"instances\": [\n", f);
    fclose(f);
    ck_assert_int_eq(sq_plan_record_read(path, &rec), SQ_ERR_INPUT);
    ck_assert_msg(strstr(sq_error_message(), "plan.json:3:") != NULL &&
                      strstr(sq_error_message(), "not valid JSON") != NULL,
                  "%s", sq_error_message());
    sq_error_clear();
    f = fopen(path, "w");
    fputs("{\"run\": \"demo\"}\n", f);
    fclose(f);
    ck_assert_int_eq(sq_plan_record_read(path, &rec), SQ_ERR_INPUT);
    ck_assert(strstr(sq_error_message(), "has no 'instances' list") != NULL);
    sq_error_clear();
}
END_TEST

int main(void)
{
    const sq_test_case row = {.name = "plan_record", .setup = setup, .teardown = teardown,
                              .tests = SQ_TESTS(test_written_record_reads_back, test_damaged_files_are_refused)};
    return sq_test_run(sq_test_suite("plan_record", &row, 1));
}
