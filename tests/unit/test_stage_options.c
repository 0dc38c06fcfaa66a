/* test_stage_options.c - the stage command line table (pipeline/core/cli/stage_options.h): values,
 * flags, one positional argument, --help, and the usage errors every stage words the same way. */
#include <check.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/blas_core.h"
#include "cli/stage_options.h"
#include "test_support.h"

typedef struct {
    const char *config, *model, *out, *key, *positional;
    bool json, help;
} parsed;

/* Parses a NULL-terminated argument list with the table a stage like squeeze-evaluate has. */
static sq_status parse(parsed *p, bool take_positional, const char *first, ...)
{
    char *argv[16] = {"squeeze-test"};
    int argc = 1;
    va_list args;
    const sq_stage_option options[] = {
        SQ_OPTION_REQUIRED("config", &p->config), SQ_OPTION_REQUIRED("model", &p->model),
        SQ_OPTION_REQUIRED("out", &p->out),       SQ_OPTION("key", &p->key),
        SQ_FLAG("json", &p->json),
    };
    const sq_stage_command_line line = {"squeeze-test", options, SQ_OPTION_COUNT(options),
                                        take_positional ? &p->positional : NULL};
    memset(p, 0, sizeof *p);
    va_start(args, first);
    for (const char *a = first; a && argc < 15; a = va_arg(args, const char *))
        argv[argc++] = (char *)(uintptr_t)a; /* getopt takes char *const argv[] */
    va_end(args);
    argv[argc] = NULL;
    return sq_stage_parse(&line, argc, argv, &p->help);
}

START_TEST(test_values_flags_positional)
{
    parsed p;
    ck_assert_int_eq(parse(&p, true, "--config", "c.yaml", "model.pt", "--model=m.h5", "--out", "o.h5", "--json",
                           NULL), SQ_OK);
    ck_assert_str_eq(p.config, "c.yaml");
    ck_assert_str_eq(p.model, "m.h5");
    ck_assert_str_eq(p.out, "o.h5");
    ck_assert_str_eq(p.positional, "model.pt");
    ck_assert_ptr_null(p.key);
    ck_assert(p.json && !p.help);
}
END_TEST

START_TEST(test_help_needs_nothing)
{
    parsed p;
    ck_assert_int_eq(parse(&p, false, "--help", NULL), SQ_OK);
    ck_assert(p.help);
    ck_assert_int_eq(parse(&p, false, "--config", "c.yaml", "-h", NULL), SQ_OK);
    ck_assert(p.help);
}
END_TEST

START_TEST(test_usage_errors)
{
    parsed p;
    ck_assert_int_eq(parse(&p, false, "--out", "o.h5", NULL), SQ_ERR_USAGE);
    ck_assert_str_eq(sq_error_message(), "--config and --model are required (see squeeze-test --help)");
    ck_assert_int_eq(parse(&p, false, NULL), SQ_ERR_USAGE);
    ck_assert_str_eq(sq_error_message(), "--config, --model and --out are required (see squeeze-test --help)");
    ck_assert_int_eq(parse(&p, false, "--config", "c", "--model", "m", NULL), SQ_ERR_USAGE);
    ck_assert_str_eq(sq_error_message(), "--out is required (see squeeze-test --help)");
    ck_assert_int_eq(parse(&p, false, "--config", "c", "--frobnicate", NULL), SQ_ERR_USAGE);
    ck_assert_str_eq(sq_error_message(), "unknown option '--frobnicate' (see squeeze-test --help)");
    ck_assert_int_eq(parse(&p, false, "--config", "c", "--model", "m", "--out", NULL), SQ_ERR_USAGE);
    ck_assert_str_eq(sq_error_message(), "option --out needs a value (see squeeze-test --help)");
    ck_assert_int_eq(parse(&p, false, "--config", "c", "--model", "m", "--out", "o", "stray", NULL), SQ_ERR_USAGE);
    ck_assert_str_eq(sq_error_message(), "unexpected argument 'stray' (see squeeze-test --help)");
    ck_assert_int_eq(parse(&p, true, "a.pt", "b.pt", "--config", "c", "--model", "m", "--out", "o", NULL),
                     SQ_ERR_USAGE);
    ck_assert_str_eq(sq_error_message(), "unexpected argument 'b.pt' (see squeeze-test --help)");
}
END_TEST

/* The OpenBLAS core named for the stages: only OpenBLAS's generic fallback is replaced, by the
 * widest core the CPU's vectors allow. */
START_TEST(test_blas_core_advice)
{
    ck_assert_str_eq(sq_blas_core_advice("Prescott", true, true), "SkylakeX");
    ck_assert_str_eq(sq_blas_core_advice("Prescott", false, true), "Haswell");
    ck_assert_ptr_null(sq_blas_core_advice("Prescott", false, false));
    ck_assert_ptr_null(sq_blas_core_advice("SkylakeX", true, true));
    ck_assert_ptr_null(sq_blas_core_advice("Haswell", true, true));
    ck_assert_ptr_null(sq_blas_core_advice("Zen", true, true));
    ck_assert_ptr_null(sq_blas_core_advice(NULL, true, true));
    /* this machine: the advice is the fallback's replacement or nothing */
    const char *running = sq_blas_core_running(), *advice = sq_blas_core_for_this_cpu();
    ck_assert_ptr_nonnull(running);
    ck_assert_msg(advice == NULL || strcmp(running, "Prescott") == 0, "advice %s for core %s", advice, running);
}
END_TEST

int main(void)
{
    return sq_test_run_tests("stage_options", 0,
                             SQ_TESTS(test_values_flags_positional, test_help_needs_nothing, test_usage_errors,
                                      test_blas_core_advice));
}
