/* text_file.h - writing a text file atomically: build it in memory, write it
 * to "<path>.tmp.<pid>", rename into place (a killed report leaves no half page). */
#ifndef SQ_REPORT_TEXT_FILE_H
#define SQ_REPORT_TEXT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

sq_status sq_write_file_atomic(const char *path, const char *text, size_t size);

/* "1.23 MiB" for a byte count. */
const char *sq_human_bytes(double bytes, char *out, size_t size);

/* "911,648" for a count. */
const char *sq_thousands(int64_t value, char *out, size_t size);

/* Escapes text for HTML into out (always terminated). */
const char *sq_html_escape(const char *text, char *out, size_t size);

#endif
