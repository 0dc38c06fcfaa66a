/* report_h5.c - lenient HDF5 readers for the report (report_h5.h). */
#include "report/report_h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact/artifact.h"

bool sq_report_file_exists(const char *path)
{
    struct stat info;
    return path && path[0] && stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

/* Whether an attribute reader's status says it read the value; a failure is
 * not the report's error (the caller falls back), so its message is dropped. */
static bool was_read(sq_status st)
{
    if (st != SQ_OK)
        sq_error_clear();
    return st == SQ_OK;
}

double sq_report_attr_double(hid_t object, const char *name, double fallback)
{
    double value;
    /* HDF5 converts an integer attribute to double on read. */
    return sq_h5_has_attr(object, name) && was_read(sq_h5_read_attr_double(object, name, &value)) ? value : fallback;
}

int64_t sq_report_attr_int(hid_t object, const char *name, int64_t fallback)
{
    int64_t value;
    return sq_h5_has_attr(object, name) && was_read(sq_h5_read_attr_int(object, name, &value)) ? value : fallback;
}

void sq_report_attr_text(hid_t object, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    if (sq_h5_has_attr(object, name))
        (void)was_read(sq_h5_read_attr_text(object, name, out, size)); /* "" when unreadable */
}

bool sq_report_input_line(const char *inputs, const char *suffix, char *path, size_t path_size, char sha[65])
{
    const char *line = inputs;
    size_t suffix_length = strlen(suffix);
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        char entry[4096];
        const char *space;
        snprintf(entry, sizeof entry, "%.*s", (int)length, line);
        space = strrchr(entry, ' ');
        if (space && (size_t)(space - entry) >= suffix_length &&
            strncmp(space - suffix_length, suffix, suffix_length) == 0) {
            snprintf(path, path_size, "%.*s", (int)(space - entry), entry);
            snprintf(sha, 65, "%s", space + 1);
            return true;
        }
        line = end ? end + 1 : NULL;
    }
    return false;
}
