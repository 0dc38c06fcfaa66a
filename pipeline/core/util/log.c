/* log.c - leveled logging to stderr, one line per call. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_program = "squeeze";
static sq_log_level log_level = SQ_LOG_INFO;
static int log_rank = 0;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void sq_log_init(const char *program)
{
    const char *env = getenv("SQUEEZE_LOG");
    log_program = program;
    if (env == NULL)
        return;
    for (int i = 0; i <= SQ_LOG_DEBUG; i++)
        if (strncmp(env, level_names[i], 4) == 0)
            log_level = (sq_log_level)i;
}

void sq_log_set_level(sq_log_level level) { log_level = level; }
void sq_log_set_rank(int rank) { log_rank = rank; }
sq_log_level sq_log_get_level(void) { return log_level; }
const char *sq_log_program(void) { return log_program; }

void sq_log(sq_log_level level, const char *fmt, ...)
{
    va_list args;
    if (level > log_level)
        return;
    /* Non-root ranks only report problems; info would repeat N times. */
    if (log_rank != 0 && level > SQ_LOG_WARN)
        return;
    fprintf(stderr, "[%s] %s: ", log_program, level_names[level]);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
}
