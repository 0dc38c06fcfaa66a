/* proc.h - processes, files, paths and argv lists for the driver (proc.c). */
#ifndef SQ_DRIVER_PROC_H
#define SQ_DRIVER_PROC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/status.h"

/* Absolute path of an executable: next to the squeeze binary first, then PATH.
 * NULL when not found. */
char *sq_find_program(const char *bin_dir, const char *name);
char *sq_find_on_path(const char *name);
char *sq_self_dir(void);
/* Runs argv (execvp, no shell), capturing stdout (and stderr when merge) into
 * a malloc'd string; *exit_code receives the exit status (128+signal when killed).
 * timeout_s > 0 kills the child after that many seconds (exit 124). */
sq_status sq_capture(char *const argv[], bool merge_stderr, int timeout_s, char **output, int *exit_code);
/* Shell-quoted form of one word ('...' with ' -> '\''), malloc'd. */
char *sq_shell_quote(const char *word);
/* A whole argv quoted and joined with spaces, malloc'd. */
char *sq_shell_join(char *const argv[]);
sq_status sq_mkdir_p(const char *path);
/* Writes text to path via a temporary name and rename (never half a file). */
sq_status sq_write_file_atomic(const char *path, const char *text, size_t size);
sq_status sq_read_file(const char *path, char **text, size_t *size);
char *sq_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *sq_path_join(const char *dir, const char *name);
/* "path size=N mtime=S.NS" or a content sha256 for files up to 64 MiB; "" when absent. */
void sq_file_identity(const char *path, char *out, size_t size);
char **sq_argv_new(void);
sq_status sq_argv_push(char ***argv, const char *word);
void sq_argv_free(char **argv);
size_t sq_argv_count(char *const argv[]);
double sq_now(void);

#endif
