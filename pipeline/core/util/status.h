/* status.h - error codes and messages that travel up to the stage's main().
 *
 * Every library function that can fail returns sq_status.  The first failure
 * records a message with sq_fail(); callers on the way up may add context with
 * sq_error_context() ("while reading model.pt: ...").  main() prints the
 * message and exits with the status value, which doubles as the exit code
 * that DESIGN.md fixes: 2 usage/config, 3 bad input, 4 failure while running.
 *
 * Convention (HDF5/PETSc style): a function that owns resources declares
 * `sq_status st = SQ_OK;`, wraps calls in SQ_TRY(), and frees everything
 * after one `cleanup:` label.
 */
#ifndef SQ_UTIL_STATUS_H
#define SQ_UTIL_STATUS_H

#include <stdarg.h>

typedef enum {
    SQ_OK = 0,
    SQ_ERR_USAGE = 2,   /* bad command line or config (YAML) */
    SQ_ERR_INPUT = 3,   /* missing, corrupt or unsupported input file or tensor */
    SQ_ERR_RUN = 4,     /* failure while running (NaN perplexity, I/O error, OOM) */
} sq_status;

/* Records a formatted message (what, where, what to do) and returns code. */
sq_status sq_fail(sq_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends "context: " to the current message. */
void sq_error_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current message ("" when none). */
const char *sq_error_message(void);

/* Forgets the current message (after an error was handled). */
void sq_error_clear(void);

/* Name of a status for logs: "usage error", "input error", "runtime error". */
const char *sq_status_name(sq_status st);

/* Allocation that fails with a message instead of returning NULL silently. */
#include <stddef.h>
sq_status sq_alloc(void *out_ptr, size_t count, size_t size, const char *what);
/* sq_alloc that adds the bytes it allocated to *counted (memory accounted where it is
 * allocated: the model's weights and buffers, the evaluation's). */
#include <stdint.h>
sq_status sq_alloc_counted(void *out_ptr, size_t count, size_t size, const char *what, uint64_t *counted);
/* Room for `needed` items of item_size in the growing array *items_ptr of *capacity items:
 * the capacity doubles (from `first` when 0) until it holds them.  Out of memory, the
 * array and capacity stay as they were and the message names `what`. */
sq_status sq_grow(void *items_ptr, size_t *capacity, size_t needed, size_t item_size, size_t first,
                  const char *what);

#define SQ_TRY(expr)                  \
    do {                              \
        st = (expr);                  \
        if (st != SQ_OK) goto cleanup; \
    } while (0)

#define SQ_FAIL(code, ...)                 \
    do {                                   \
        st = sq_fail((code), __VA_ARGS__); \
        goto cleanup;                      \
    } while (0)

#endif
