/* progress_view.c - the running stage's progress under `squeeze run`.
 *
 * The stage writes one line, "<done> <total> <seconds> <what>", into the file
 * named by SQUEEZE_PROGRESS_FILE (util/progress.c); the driver polls it while
 * it waits for the stage.  The ETA is the stage's own loop time scaled to
 * what is left: seconds * (total - done) / done.  On a terminal the line is
 * rewritten in place, as the stages do; in a log (stderr a file or a pipe)
 * one plain line per quarter, so a sweep's log stays readable.
 */
#include "progress_view.h"
#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const double REDRAW_INTERVAL = 0.2;

void sq_progress_view_start(sq_progress_view *view, const char *id, const char *path)
{
    const char *after = getenv("SQUEEZE_PROGRESS_AFTER");
    memset(view, 0, sizeof *view);
    snprintf(view->id, sizeof view->id, "%s", id);
    view->path = strdup(path);
    view->terminal = isatty(STDERR_FILENO) == 1;
    view->started = sq_now();
    view->after = after && after[0] ? atof(after) : 1.0;
    if (view->path)
        unlink(view->path); /* a line left by an earlier attempt is not this one's */
}

/* 75 -> "1:15", 3700 -> "1:01:40" */
static void clock_text(double seconds, char *out, size_t size)
{
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

void sq_progress_view_poll(sq_progress_view *view)
{
    char line[256], what[64], eta[32], elapsed_text[32];
    long long done = 0, total = 0;
    double seconds = 0, now = sq_now();
    if (view->path == NULL || now - view->started < view->after)
        return;
    if (view->terminal && now - view->last_drawn < REDRAW_INTERVAL)
        return;
    FILE *f = fopen(view->path, "r");
    if (f == NULL)
        return; /* not written yet, or a stage without a long loop */
    bool parsed = fgets(line, sizeof line, f) != NULL &&
                  sscanf(line, "%lld %lld %lf %63[^\n]", &done, &total, &seconds, what) == 4 && total > 0 &&
                  done >= 0 && done <= total;
    fclose(f);
    if (!parsed)
        return;
    int percent = (int)(100 * done / total);
    clock_text(now - view->started, elapsed_text, sizeof elapsed_text);
    if (done > 0 && done < total)
        clock_text(seconds * (double)(total - done) / (double)done, eta, sizeof eta);
    else
        snprintf(eta, sizeof eta, done == total ? "0:00" : "?");
    if (view->terminal) {
        fprintf(stderr, "\rsqueeze: %-28s %s %lld/%lld (%d%%), %s elapsed, ETA %s\033[K", view->id, what, done, total,
                percent, elapsed_text, eta);
        fflush(stderr);
        view->drawn = true;
        view->last_drawn = now;
        return;
    }
    if (strcmp(what, view->what) != 0) {
        snprintf(view->what, sizeof view->what, "%s", what);
        view->quarters = 0;
    }
    int quarters = (int)(4 * done / total);
    if (quarters <= view->quarters || quarters >= 4)
        return; /* the stage's "done in" line says the end */
    view->quarters = quarters;
    fprintf(stderr, "squeeze: %-28s %s %lld/%lld (%d%%), %s elapsed, ETA %s\n", view->id, what, done, total, percent,
            elapsed_text, eta);
}

void sq_progress_view_finish(sq_progress_view *view)
{
    if (view->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    if (view->path) {
        unlink(view->path);
        free(view->path);
    }
    view->path = NULL;
    view->drawn = false;
}
