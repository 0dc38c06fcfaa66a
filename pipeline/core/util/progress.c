/* progress.c - a rewritten terminal line or plain log lines (progress.h). */
#include "util/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

enum {
    QUIET_SECONDS = 1,   /* loops shorter than this print nothing */
};
static const double TERMINAL_INTERVAL = 0.1; /* at most 10 redraws a second */
static const double CHANNEL_INTERVAL = 0.25; /* the progress file: at most 4 rewrites a second */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 24000 -> "24,000" */
static void with_thousands(double value, char *out, size_t size)
{
    char digits[32];
    size_t length, used = 0;
    snprintf(digits, sizeof digits, "%.0f", value < 0 ? 0.0 : value);
    length = strlen(digits);
    for (size_t i = 0; i < length && used + 2 < size; i++) {
        if (i > 0 && (length - i) % 3 == 0)
            out[used++] = ',';
        out[used++] = digits[i];
    }
    out[used] = '\0';
}

/* "windows 120/785 (15%), 24,000 tok/s" */
static void describe(const sq_progress *progress, double elapsed, char *out, size_t size)
{
    int percent = progress->total > 0 ? (int)(100 * progress->done / progress->total) : 100;
    int used = snprintf(out, size, "%s %lld/%lld (%d%%)", progress->what, (long long)progress->done,
                        (long long)progress->total, percent);
    if (progress->unit[0] && elapsed > 0 && used > 0 && (size_t)used < size) {
        char rate[32];
        with_thousands((double)progress->units / elapsed, rate, sizeof rate);
        snprintf(out + used, size - (size_t)used, ", %s %s/s", rate, progress->unit);
    }
}

/* The progress channel's one line, replaced whole (a reader never sees half of it). */
static void write_channel(sq_progress *progress, double now)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", progress->channel) >= (int)sizeof tmp)
        return;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return; /* progress is a courtesy: never a reason to fail the stage */
    fprintf(f, "%lld %lld %.3f %s\n", (long long)progress->done, (long long)progress->total,
            now - progress->started, progress->what);
    if (fclose(f) == 0)
        rename(tmp, progress->channel);
    else
        unlink(tmp);
    progress->last_written = now;
}

void sq_progress_start(sq_progress *progress, bool enabled, const char *what, int64_t total, const char *rate_unit)
{
    const char *channel = getenv("SQUEEZE_PROGRESS_FILE");
    memset(progress, 0, sizeof *progress);
    if (enabled && total > 0 && channel && channel[0]) {
        progress->channel = channel;
        snprintf(progress->what, sizeof progress->what, "%s", what);
        progress->total = total;
        progress->started = now_seconds();
        write_channel(progress, progress->started);
    }
    progress->enabled = enabled && total > 0 && sq_log_get_level() >= SQ_LOG_INFO;
    if (!progress->enabled)
        return;
    progress->terminal = isatty(STDERR_FILENO) == 1;
    snprintf(progress->what, sizeof progress->what, "%s", what);
    snprintf(progress->unit, sizeof progress->unit, "%s", rate_unit ? rate_unit : "");
    progress->total = total;
    progress->started = now_seconds();
}

void sq_progress_update(sq_progress *progress, int64_t done, int64_t units)
{
    double now, elapsed;
    char line[160];
    if (progress->channel) {
        progress->done = done;
        now = now_seconds();
        if (done >= progress->total || now - progress->last_written >= CHANNEL_INTERVAL)
            write_channel(progress, now);
    }
    if (!progress->enabled)
        return;
    progress->done = done;
    progress->units = units;
    now = now_seconds();
    elapsed = now - progress->started;
    if (elapsed < QUIET_SECONDS)
        return;
    if (progress->terminal) {
        if (done < progress->total && now - progress->last_drawn < TERMINAL_INTERVAL)
            return;
        describe(progress, elapsed, line, sizeof line);
        /* \033[K clears what a longer previous line left. */
        fprintf(stderr, "\r[%s] %s\033[K", sq_log_program(), line);
        fflush(stderr);
        progress->last_drawn = now;
        progress->drawn = true;
        return;
    }
    int tenths = progress->total > 0 ? (int)(10 * done / progress->total) : 10;
    if (tenths <= progress->tenths_reported)
        return;
    progress->tenths_reported = tenths;
    describe(progress, elapsed, line, sizeof line);
    sq_info("%s", line);
    progress->drawn = true;
}

void sq_progress_finish(sq_progress *progress)
{
    if (progress->enabled && progress->terminal && progress->drawn)
        fputc('\n', stderr);
    progress->enabled = false;
}
