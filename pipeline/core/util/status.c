/* status.c - the one error message of the process, built up with context. */
#include "util/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_MESSAGE_MAX 4096

static char error_message[SQ_MESSAGE_MAX];

sq_status sq_fail(sq_status code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, args);
    va_end(args);
    return code;
}

void sq_error_context(const char *fmt, ...)
{
    char prefix[SQ_MESSAGE_MAX];
    char joined[2 * SQ_MESSAGE_MAX + 4];
    va_list args;
    va_start(args, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, args);
    va_end(args);
    snprintf(joined, sizeof joined, "%s: %s", prefix, error_message);
    memcpy(error_message, joined, sizeof error_message - 1);
    error_message[sizeof error_message - 1] = '\0';
}

const char *sq_error_message(void) { return error_message; }

void sq_error_clear(void) { error_message[0] = '\0'; }

const char *sq_status_name(sq_status st)
{
    switch (st) {
    case SQ_OK: return "ok";
    case SQ_ERR_USAGE: return "usage error";
    case SQ_ERR_INPUT: return "input error";
    case SQ_ERR_RUN: return "runtime error";
    }
    return "error";
}

sq_status sq_grow(void *items_ptr, size_t *capacity, size_t needed, size_t item_size, size_t first,
                  const char *what)
{
    void **items = items_ptr;
    size_t next = *capacity ? *capacity : first;
    if (needed <= *capacity)
        return SQ_OK;
    while (next < needed) {
        if (next > ((size_t)-1) / 2)
            return sq_fail(SQ_ERR_RUN, "out of memory growing %s past %zu items", what, next);
        next *= 2;
    }
    if (next > ((size_t)-1) / item_size)
        return sq_fail(SQ_ERR_RUN, "out of memory growing %s to %zu items", what, next);
    void *grown = realloc(*items, next * item_size);
    if (grown == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory growing %s to %zu items", what, next);
    *items = grown;
    *capacity = next;
    return SQ_OK;
}

sq_status sq_alloc(void *out_ptr, size_t count, size_t size, const char *what)
{
    void **out = out_ptr;
    if (count != 0 && size > ((size_t)-1) / count)
        return sq_fail(SQ_ERR_INPUT, "size overflow allocating %zu x %zu bytes for %s", count, size, what);
    *out = calloc(count ? count : 1, size ? size : 1);
    if (*out == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory allocating %zu bytes for %s", count * size, what);
    return SQ_OK;
}

sq_status sq_alloc_counted(void *out_ptr, size_t count, size_t size, const char *what, uint64_t *counted)
{
    sq_status st = sq_alloc(out_ptr, count, size, what);
    if (st == SQ_OK)
        *counted += (uint64_t)count * size;
    return st;
}
