/* check_report.c - how `squeeze check` says what it found: each distinct
 * problem or warning once (sweep variants share most of their config), the
 * verified facts as "ok:" lines; as the gate of run, submit and resume
 * everything goes to stderr and the facts are not printed. */
#include "checks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool seen_before(const sq_check_result *r, const char *text)
{
    for (int i = 0; i < r->seen_count; i++)
        if (strcmp(r->seen[i], text) == 0)
            return true;
    return false;
}

static void say(const sq_check_result *r, const char *kind, const char *text)
{
    fprintf(r->gate ? stderr : stdout, "%s%s: %s\n", r->gate ? "squeeze: check: " : "", kind, text);
}

void sq_check_problem(sq_check_result *r, const char *fmt, ...)
{
    va_list ap;
    char buffer[4096], *text;
    va_start(ap, fmt);
    vsnprintf(buffer, sizeof buffer, fmt, ap);
    va_end(ap);
    text = strdup(buffer);
    if (text && seen_before(r, text)) {
        r->repeats++;
        free(text);
        return;
    }
    say(r, "error", buffer);
    if (text && r->seen_count < SQ_CHECK_MAX_SEEN)
        r->seen[r->seen_count++] = text;
    else
        free(text);
    r->problems++;
}

void sq_check_warning(sq_check_result *r, const char *fmt, ...)
{
    va_list ap;
    char buffer[4096];
    va_start(ap, fmt);
    vsnprintf(buffer, sizeof buffer, fmt, ap);
    va_end(ap);
    if (seen_before(r, buffer))
        return; /* said once for all variants */
    say(r, "warning", buffer);
    if (r->seen_count < SQ_CHECK_MAX_SEEN)
        r->seen[r->seen_count++] = strdup(buffer);
    r->warnings++;
}

void sq_check_note(const sq_check_result *r, const char *fmt, ...)
{
    va_list ap;
    if (r->gate)
        return;
    va_start(ap, fmt);
    fputs("ok: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

void sq_check_result_free(sq_check_result *r)
{
    for (int i = 0; i < r->seen_count; i++)
        free(r->seen[i]);
    r->seen_count = 0;
}

const char *sq_check_where(const sq_yaml_node *root, const char *dotted, char *buf, size_t size)
{
    const sq_yaml_node *node = sq_yaml_get_path(root, dotted);
    if (node == NULL || node->line == 0) {
        buf[0] = '\0';
        return buf;
    }
    char pos[512];
    snprintf(buf, size, "%s: ", sq_yaml_where(node, pos, sizeof pos));
    return buf;
}
