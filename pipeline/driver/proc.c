/* proc.c - child processes without a shell, shell quoting for the scripts the
 * driver writes, and small file helpers (atomic writes, mkdir -p, identities).
 *
 * Nothing here calls system() or popen(): a variant name or a YAML value is an
 * argv word, never shell text.  Words that go into generated scripts pass
 * through sq_shell_quote().
 */
#define _GNU_SOURCE /* vasprintf, pipe2 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/hash.h"

double sq_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *sq_strdupf(const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);
    return text;
}

char *sq_path_join(const char *dir, const char *name)
{
    return sq_strdupf("%s/%s", dir, name);
}

char **sq_argv_new(void)
{
    return calloc(1, sizeof(char *));
}

size_t sq_argv_count(char *const argv[])
{
    size_t n = 0;
    while (argv && argv[n])
        n++;
    return n;
}

sq_status sq_argv_push(char ***argv, const char *word)
{
    size_t n = sq_argv_count(*argv);
    char **grown = realloc(*argv, (n + 2) * sizeof *grown);
    if (grown == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    grown[n] = strdup(word);
    grown[n + 1] = NULL;
    *argv = grown;
    return grown[n] ? SQ_OK : sq_fail(SQ_ERR_RUN, "out of memory");
}

void sq_argv_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

char *sq_self_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return strdup(".");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    return strdup(exe);
}

static bool executable(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

char *sq_find_on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (strchr(name, '/'))
        return executable(name) ? strdup(name) : NULL;
    if (path == NULL)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        char *candidate = sq_strdupf("%.*s/%s", (int)len, len ? path : ".", name);
        if (candidate && executable(candidate))
            return candidate;
        free(candidate);
        path += len;
        if (*path == ':')
            path++;
    }
    return NULL;
}

char *sq_find_program(const char *bin_dir, const char *name)
{
    if (bin_dir) {
        char *candidate = sq_path_join(bin_dir, name);
        if (candidate && executable(candidate))
            return candidate;
        free(candidate);
    }
    return sq_find_on_path(name);
}

sq_status sq_capture(char *const argv[], bool merge_stderr, int timeout_s, char **output, int *exit_code)
{
    int pipefd[2];
    pid_t pid;
    char *buf = NULL;
    size_t used = 0, cap = 0;
    int status = 0;
    double deadline = timeout_s > 0 ? sq_now() + timeout_s : 0;
    bool timed_out = false;

    *output = NULL;
    *exit_code = -1;
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return sq_fail(SQ_ERR_RUN, "cannot create a pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return sq_fail(SQ_ERR_RUN, "cannot fork to run %s: %s", argv[0], strerror(errno));
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, STDIN_FILENO);
        dup2(pipefd[1], STDOUT_FILENO);
        dup2(merge_stderr ? pipefd[1] : devnull, STDERR_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    for (;;) {
        struct pollfd pfd = {pipefd[0], POLLIN, 0};
        int wait_ms = -1;
        if (deadline > 0) {
            double left = deadline - sq_now();
            if (left <= 0) {
                kill(pid, SIGKILL);
                timed_out = true;
                break;
            }
            wait_ms = (int)(left * 1000) + 1;
        }
        int ready = poll(&pfd, 1, wait_ms);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0)
            continue;
        if (cap - used < 4096) {
            char *grown = realloc(buf, cap + 65536);
            if (grown == NULL)
                break;
            buf = grown;
            cap += 65536;
        }
        ssize_t n = read(pipefd[0], buf + used, cap - used - 1);
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(pipefd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (buf == NULL)
        buf = calloc(1, 1);
    else
        buf[used] = '\0';
    *output = buf;
    if (timed_out)
        *exit_code = 124;
    else if (WIFEXITED(status))
        *exit_code = WEXITSTATUS(status);
    else
        *exit_code = 128 + WTERMSIG(status);
    return SQ_OK;
}

char *sq_shell_quote(const char *word)
{
    size_t n = 2;
    bool plain = word[0] != '\0';
    for (const char *p = word; *p; p++) {
        n += *p == '\'' ? 4 : 1;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._/-+=:,@%", *p)))
            plain = false;
    }
    if (plain)
        return strdup(word);
    char *out = malloc(n + 1), *q = out;
    if (out == NULL)
        return NULL;
    *q++ = '\'';
    for (const char *p = word; *p; p++) {
        if (*p == '\'') {
            memcpy(q, "'\\''", 4);
            q += 4;
        } else {
            *q++ = *p;
        }
    }
    *q++ = '\'';
    *q = '\0';
    return out;
}

char *sq_shell_join(char *const argv[])
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    if (stream == NULL)
        return NULL;
    for (size_t i = 0; argv && argv[i]; i++) {
        char *q = sq_shell_quote(argv[i]);
        fprintf(stream, "%s%s", i ? " " : "", q ? q : "''");
        free(q);
    }
    fclose(stream);
    return text;
}

sq_status sq_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return sq_fail(SQ_ERR_USAGE, "path too long: %s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return sq_fail(SQ_ERR_RUN, "cannot create folder %s: %s (check the output_root of the config)",
                               buf, strerror(errno));
            struct stat sb;
            if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
                return sq_fail(SQ_ERR_RUN, "%s is not a folder (check the output_root of the config)", buf);
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    return SQ_OK;
}

sq_status sq_write_file_atomic(const char *path, const char *text, size_t size)
{
    char *temp = sq_strdupf("%s.tmp.%d", path, (int)getpid());
    FILE *file;
    if (temp == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    file = fopen(temp, "wb");
    if (file == NULL) {
        sq_status st = sq_fail(SQ_ERR_RUN, "cannot write %s: %s", temp, strerror(errno));
        free(temp);
        return st;
    }
    bool ok = fwrite(text, 1, size, file) == size;
    ok = fflush(file) == 0 && ok;
    ok = fsync(fileno(file)) == 0 && ok;
    ok = fclose(file) == 0 && ok;
    if (!ok || rename(temp, path) != 0) {
        sq_status st = sq_fail(SQ_ERR_RUN, "cannot write %s: %s", path, strerror(errno));
        unlink(temp);
        free(temp);
        return st;
    }
    free(temp);
    return SQ_OK;
}

sq_status sq_read_file(const char *path, char **text, size_t *size)
{
    FILE *file = fopen(path, "rb");
    char *buf = NULL;
    size_t used = 0, cap = 0;
    *text = NULL;
    if (file == NULL)
        return sq_fail(SQ_ERR_INPUT, "cannot read %s: %s", path, strerror(errno));
    for (;;) {
        if (cap - used < 4096) {
            char *grown = realloc(buf, cap + 65536);
            if (grown == NULL) {
                free(buf);
                fclose(file);
                return sq_fail(SQ_ERR_RUN, "out of memory reading %s", path);
            }
            buf = grown;
            cap += 65536;
        }
        size_t n = fread(buf + used, 1, cap - used - 1, file);
        used += n;
        if (n == 0)
            break;
    }
    fclose(file);
    buf[used] = '\0';
    *text = buf;
    if (size)
        *size = used;
    return SQ_OK;
}

void sq_file_identity(const char *path, char *out, size_t size)
{
    struct stat sb;
    char hex[SQ_SHA256_HEX];
    out[0] = '\0';
    if (path == NULL || stat(path, &sb) != 0)
        return;
    /* Small files (recipes, tokenizers, test models) by content, so that a copy
     * or a touch does not make a stage stale; big ones by size and mtime. */
    if (S_ISREG(sb.st_mode) && sb.st_size <= (64 << 20) && sq_sha256_file(path, hex) == SQ_OK)
        snprintf(out, size, "sha256=%s", hex);
    else
        snprintf(out, size, "%s size=%lld mtime=%lld.%09ld", path, (long long)sb.st_size,
                 (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
}
