/* test_progress.c - progress lines of long loops (pipeline/core/util/progress.h), as a batch log
 * sees them: stderr is a file here, so plain lines, one per tenth, none for a loop under a second. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/progress.h"
#include "test_support.h"

/* Runs `steps` updates, sleeping `first_sleep` seconds before the first one, with stderr sent to a
 * temporary file; returns what was written (malloc'd). */
static char *run_loop(bool enabled, int64_t steps, double first_sleep, const char *unit)
{
    char path[] = "/tmp/test_progress_XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    sq_progress progress;
    char *text = calloc(1, 8192);
    FILE *in;
    ck_assert(fd >= 0 && saved >= 0 && text != NULL);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    sq_progress_start(&progress, enabled, "windows", steps, unit);
    for (int64_t i = 1; i <= steps; i++) {
        if (i == 1 && first_sleep > 0) {
            struct timespec pause = {.tv_sec = (time_t)first_sleep,
                                     .tv_nsec = (long)((first_sleep - (double)(time_t)first_sleep) * 1e9)};
            nanosleep(&pause, NULL);
        }
        sq_progress_update(&progress, i, i * 256000);
    }
    sq_progress_finish(&progress);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    in = fopen(path, "r");
    ck_assert(in != NULL);
    size_t length = fread(text, 1, 8191, in);
    text[length] = '\0';
    fclose(in);
    unlink(path);
    return text;
}

static int count_lines(const char *text)
{
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    return lines;
}

START_TEST(test_plain_line_per_tenth)
{
    sq_log_init("squeeze-test");
    char *text = run_loop(true, 20, 1.05, "tok");
    /* Step 1 is 5% (no tenth yet); steps 2, 4, ..., 20 each complete another tenth. */
    ck_assert_int_eq(count_lines(text), 10);
    ck_assert_ptr_nonnull(strstr(text, "[squeeze-test] info: windows 2/20 (10%), "));
    ck_assert_ptr_nonnull(strstr(text, "[squeeze-test] info: windows 20/20 (100%), "));
    ck_assert_ptr_null(strstr(text, "windows 3/20"));
    ck_assert_ptr_null(strchr(text, '\r')); /* a log file gets no terminal rewrites */
    /* 5,120,000 units in a bit over a second: a rate with thousands separators */
    const char *rate = strstr(text, "windows 20/20 (100%), ");
    ck_assert_ptr_nonnull(rate);
    rate += strlen("windows 20/20 (100%), ");
    ck_assert(rate[0] >= '1' && rate[0] <= '9');
    ck_assert_ptr_nonnull(strstr(rate, " tok/s\n"));
    ck_assert(strchr(rate, ',') != NULL && strchr(rate, ',') < strstr(rate, " tok/s"));
    free(text);
}
END_TEST

START_TEST(test_short_loop_quiet)
{
    sq_log_init("squeeze-test");
    char *text = run_loop(true, 1000, 0, "tok");
    ck_assert_str_eq(text, "");
    free(text);
}
END_TEST

START_TEST(test_disabled_and_below_info)
{
    sq_log_init("squeeze-test");
    char *text = run_loop(false, 4, 1.05, "tok"); /* another rank than 0 */
    ck_assert_str_eq(text, "");
    free(text);
    sq_log_set_level(SQ_LOG_WARN);
    text = run_loop(true, 4, 1.05, "tok");
    ck_assert_str_eq(text, "");
    free(text);
    sq_log_set_level(SQ_LOG_INFO);
}
END_TEST

START_TEST(test_no_rate)
{
    sq_log_init("squeeze-test");
    char *text = run_loop(true, 2, 1.05, NULL);
    ck_assert_str_eq(text, "[squeeze-test] info: windows 1/2 (50%)\n[squeeze-test] info: windows 2/2 (100%)\n");
    free(text);
}
END_TEST

int main(void)
{
    return sq_test_run_tests("progress", 20,
                             SQ_TESTS(test_plain_line_per_tenth, test_short_loop_quiet, test_disabled_and_below_info,
                                      test_no_rate));
}
