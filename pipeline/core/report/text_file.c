/* text_file.c - atomic text files and HTML escaping for the report writers. */
#include "report/text_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

sq_status sq_write_file_atomic(const char *path, const char *text, size_t size)
{
    char temp[4096];
    FILE *file;
    snprintf(temp, sizeof temp, "%s.tmp.%ld", path, (long)getpid());
    file = fopen(temp, "wb");
    if (file == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot create %s: %s", temp, strerror(errno));
    if (fwrite(text, 1, size, file) != size || fclose(file) != 0) {
        unlink(temp);
        return sq_fail(SQ_ERR_RUN, "cannot write %s", temp);
    }
    if (rename(temp, path) != 0) {
        unlink(temp);
        return sq_fail(SQ_ERR_RUN, "cannot rename %s to %s: %s", temp, path, strerror(errno));
    }
    return SQ_OK;
}

const char *sq_html_escape(const char *text, char *out, size_t size)
{
    size_t used = 0;
    for (const char *p = text; *p && used + 7 < size; p++) {
        const char *entity = NULL;
        switch (*p) {
        case '&': entity = "&amp;"; break;
        case '<': entity = "&lt;"; break;
        case '>': entity = "&gt;"; break;
        case '"': entity = "&quot;"; break;
        case '\'': entity = "&#39;"; break;
        default: break;
        }
        if (entity) {
            size_t length = strlen(entity);
            memcpy(out + used, entity, length);
            used += length;
        } else {
            out[used++] = *p;
        }
    }
    out[used] = '\0';
    return out;
}

const char *sq_human_bytes(double bytes, char *out, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024.0 && unit < 4) {
        bytes /= 1024.0;
        unit++;
    }
    snprintf(out, size, unit == 0 ? "%.0f %s" : "%.2f %s", bytes, units[unit]);
    return out;
}

const char *sq_thousands(int64_t value, char *out, size_t size)
{
    char digits[32], grouped[48];
    int length = snprintf(digits, sizeof digits, "%lld", (long long)(value < 0 ? -value : value)), used = 0;
    if (value < 0)
        grouped[used++] = '-';
    for (int i = 0; i < length; i++) {
        if (i > 0 && (length - i) % 3 == 0)
            grouped[used++] = ',';
        grouped[used++] = digits[i];
    }
    grouped[used] = '\0';
    snprintf(out, size, "%s", grouped);
    return out;
}
