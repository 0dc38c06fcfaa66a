/* test_support.h - what the unit tests share: running a suite, a scratch folder,
 * assertions on the error message, and small value helpers.
 *
 * CMake compiles each tests/unit/test_*.c on its own, so everything here is a
 * static inline function or a macro (a macro where a failure should report the
 * test's own line).
 */
#ifndef SQ_TEST_SUPPORT_H
#define SQ_TEST_SUPPORT_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quant/format.h"
#include "tensor/tensor.h"
#include "util/status.h"

/* ---- running ---- */

static inline int sq_test_run_with(Suite *suite, enum fork_status fork)
{
    SRunner *runner = srunner_create(suite);
    srunner_set_fork_status(runner, fork);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Runs every test of the suite, each in its own process (check's default, CK_FORK
 * in the environment decides); EXIT_SUCCESS when all pass. */
static inline int sq_test_run(Suite *suite) { return sq_test_run_with(suite, CK_FORK_GETENV); }

/* As sq_test_run, all in this process and in order (tests that build on each other). */
static inline int sq_test_run_in_order(Suite *suite) { return sq_test_run_with(suite, CK_NOFORK); }

/* One case of a suite, as a row of a table: a main lists its tests instead of
 * registering them one call at a time. */
typedef struct {
    const char *name;
    int timeout;                /* seconds each test may take; 0 keeps check's default */
    SFun setup, teardown;       /* a checked fixture, run in each test's process; NULL for none */
    const TTest *const *tests;  /* NULL-terminated (SQ_TESTS); NULL for none */
} sq_test_case;

/* The tests of a case, as the NULL-terminated list sq_test_case holds. */
#define SQ_TESTS(...) ((const TTest *const[]){__VA_ARGS__, NULL})

/* Adds the case to suite; returns it for what a row does not say (a loop test, an unchecked fixture). */
static inline TCase *sq_test_add_case(Suite *suite, const sq_test_case *row)
{
    TCase *tc = tcase_create(row->name);
    if (row->timeout > 0)
        tcase_set_timeout(tc, row->timeout);
    if (row->setup != NULL || row->teardown != NULL)
        tcase_add_checked_fixture(tc, row->setup, row->teardown);
    for (const TTest *const *test = row->tests; test != NULL && *test != NULL; test++)
        tcase_add_test(tc, *test);
    suite_add_tcase(suite, tc);
    return tc;
}

/* A suite named `name` of the `count` cases in rows. */
static inline Suite *sq_test_suite(const char *name, const sq_test_case *rows, size_t count)
{
    Suite *suite = suite_create(name);
    for (size_t i = 0; i < count; i++)
        sq_test_add_case(suite, &rows[i]);
    return suite;
}

/* The main of a suite of one case named like it: runs tests (NULL-terminated) as sq_test_run does. */
static inline int sq_test_run_tests(const char *name, int timeout, const TTest *const *tests)
{
    const sq_test_case row = {.name = name, .timeout = timeout, .tests = tests};
    return sq_test_run(sq_test_suite(name, &row, 1));
}

/* ---- a scratch folder for one test ---- */

static inline char *work_dir(void)
{
    static char dir[256];
    return dir;
}

/* Creates a fresh /tmp/sq_unit_XXXXXX; work_dir_remove() deletes it with its contents. */
static inline void work_dir_make(void)
{
    snprintf(work_dir(), 256, "/tmp/sq_unit_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(work_dir()));
}

static inline void work_dir_remove(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work_dir());
    ck_assert_int_eq(system(cmd), 0);
}

/* "<work dir>/<name>"; the last four results stay valid at once. */
/* A run config in the scratch folder (path receives its name): the bundled model and data, calibrate
 * on 2 ranks, evaluate on 3, the int8 recipe (10 lines), and `extra` appended (the driver's tests). */
static inline void write_run_config(char *path, size_t size, const char *extra)
{
    snprintf(path, size, "%s/run.yaml", work_dir());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "run: unit\n"
            "output_root: results\n"
            "model: {checkpoint: %s/bundled/itera_tiny_bytes.pt}\n"
            "data:\n"
            "  tokenizer: bytes\n"
            "  calibration: {path: %s/bundled/austen_train.txt, end: 0.02}\n"
            "  evaluation: {path: %s/bundled/austen_val.txt, end: 0.25}\n"
            "calibrate: {windows: 4, window_length: 32, ranks: 2}\n"
            "evaluate: {window_length: 32, max_windows: 4, ranks: 3}\n"
            "compress: {recipe: int8}\n"
            "%s",
            SQ_TEST_DATA, SQ_TEST_DATA, SQ_TEST_DATA, extra);
    fclose(f);
}

static inline const char *work_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 512, "%s/%s", work_dir(), name);
    return p;
}

/* ---- files ---- */

/* The whole file at path, NUL-terminated (text or bytes), malloc'd; size (unless NULL) receives its
 * length. A file that cannot be read fails the test, naming it. */
static inline char *read_whole_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (size != NULL)
        *size = (size_t)n;
    return buf;
}

/* ---- error messages ---- */

/* The last error message (util/status.h) contains needle. */
#define assert_message_has(needle)                                                                          \
    ck_assert_msg(strstr(sq_error_message(), (needle)) != NULL, "message '%s' lacks '%s'", sq_error_message(), \
                  (needle))

/* st is an input error (exit 3) whose message contains needle. */
#define assert_error(st, needle)                   \
    do {                                           \
        ck_assert_int_eq((st), SQ_ERR_INPUT);      \
        assert_message_has(needle);                \
    } while (0)

/* The default quantization options with the block size (0: the format's own) and the int4 and nf4 switches set. */
static inline sq_quant_options block_options(int block_size, bool asymmetric, bool double_quant)
{
    sq_quant_options o;
    sq_quant_options_default(&o);
    o.block_size = block_size;
    o.asymmetric = asymmetric;
    o.double_quant = double_quant;
    return o;
}

/* Quantizing w (rows x cols) to the format named fmt is an input error whose message names the tensor
 * and says where (e.g. "element 4 (row 1, column 1)"); name and where are string literals. */
#define assert_quantize_refused(fmt, name, w, rows, cols, where)                                            \
    do {                                                                                                \
        sq_qtensor refused_;                                                                            \
        ck_assert_int_eq(sq_quant_format_find(fmt)->quantize(name, w, rows, cols, NULL, NULL, &refused_), \
                         SQ_ERR_INPUT);                                                                 \
        assert_message_has("'" name "'");                                                               \
        assert_message_has(where);                                                                      \
    } while (0)

/* ---- values ---- */

/* path read by reader (a format's own, or sq_checkpoint_read by the file's first bytes):
 * it loads, holding count tensors. */
static inline void read_ok(sq_status (*reader)(const char *, sq_tensor_set *), const char *path, sq_tensor_set *set,
                           size_t count)
{
    sq_status st = reader(path, set);
    ck_assert_msg(st == SQ_OK, "%s: %s", path, sq_error_message());
    ck_assert_uint_eq(set->count, count);
}

static inline const sq_tensor *must_find(const sq_tensor_set *set, const char *name)
{
    const sq_tensor *t = sq_tensor_set_find(set, name);
    ck_assert_msg(t != NULL, "tensor '%s' missing", name);
    return t;
}

static inline float from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t to_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* A uniform value in [-1, 1) from a 64-bit LCG (Knuth's MMIX constants), reproducible
 * across machines. */
static inline float uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(*state >> 40) / 16777216.0f * 2.0f - 1.0f;
}

#endif
