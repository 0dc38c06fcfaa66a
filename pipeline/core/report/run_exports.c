/* run_exports.c - the exported files of a run, from their export records.
 *
 * `squeeze export` writes <run>/export/<variant>/export-<format>.json beside the
 * file (pipeline/core/export/export_run.c, docs/export.md): the file's sha256
 * and bytes on disk, and one row per tensor saying whether its bytes were
 * copied, converted (and how) or not written.  The report shows each record
 * as it is, with the conversions counted by kind, and checks only what is
 * cheap and cannot be faked by the record: that the file is still there with
 * the recorded size (hashing a multi-gigabyte file again is the user's call:
 * `sha256sum` against the record).  A record that cannot be read is an error
 * naming it (exit 3), like any other damaged artifact of the run.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/run_results.h"

static void copy_text(char *to, size_t size, json_t *value)
{
    snprintf(to, size, "%s", json_is_string(value) ? json_string_value(value) : "");
}

static int64_t integer(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* Counts the tensors per conversion text, keeps the most frequent ones. */
static void count_conversions(json_t *log, sq_export_result *e)
{
    sq_export_conversion seen[256];
    int kinds = 0;
    size_t i;
    json_t *row;
    json_array_foreach(log, i, row) {
        json_t *text = json_object_get(row, "conversion"), *target = json_object_get(row, "target");
        if (!json_is_string(text) || json_string_length(text) == 0 || !json_is_string(target))
            continue; /* copied, or not written (counted in not_written) */
        int k = 0;
        while (k < kinds && strncmp(seen[k].text, json_string_value(text), sizeof seen[k].text - 1) != 0)
            k++;
        if (k == kinds) {
            if (kinds == (int)(sizeof seen / sizeof *seen)) {
                e->other_conversions++;
                continue;
            }
            snprintf(seen[kinds].text, sizeof seen[kinds].text, "%s", json_string_value(text));
            seen[kinds++].tensors = 0;
        }
        seen[k].tensors++;
    }
    for (int a = 1; a < kinds; a++) /* most tensors first, then the record's order (stable insertion sort) */
        for (int b = a; b > 0 && seen[b].tensors > seen[b - 1].tensors; b--) {
            sq_export_conversion swap = seen[b];
            seen[b] = seen[b - 1];
            seen[b - 1] = swap;
        }
    for (int k = 0; k < kinds; k++) {
        if (k < SQ_REPORT_MAX_CONVERSIONS)
            e->conversions[e->conversion_count++] = seen[k];
        else
            e->other_conversions += seen[k].tensors;
    }
}

static sq_status load_record(const char *path, const char *variant, sq_export_result *e)
{
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error), *log;
    struct stat info;
    memset(e, 0, sizeof *e);
    if (root == NULL || !json_is_object(root))
        goto damaged;
    log = json_object_get(root, "tensor_log");
    if (!json_is_string(json_object_get(root, "squeeze_export")) || !json_is_string(json_object_get(root, "sha256")) ||
        !json_is_string(json_object_get(root, "file")) || !json_is_integer(json_object_get(root, "bytes_on_disk")) ||
        !json_is_array(log))
        goto damaged;
    snprintf(e->variant, sizeof e->variant, "%.*s", (int)sizeof e->variant - 1, variant);
    snprintf(e->record_path, sizeof e->record_path, "%.*s", (int)sizeof e->record_path - 1, path);
    copy_text(e->format, sizeof e->format, json_object_get(root, "squeeze_export"));
    copy_text(e->file, sizeof e->file, json_object_get(root, "file"));
    copy_text(e->architecture, sizeof e->architecture, json_object_get(root, "architecture"));
    copy_text(e->readers, sizeof e->readers, json_object_get(root, "readers"));
    copy_text(e->sha256, sizeof e->sha256, json_object_get(root, "sha256"));
    copy_text(e->created_utc, sizeof e->created_utc, json_object_get(root, "created_utc"));
    copy_text(e->plan_key, sizeof e->plan_key, json_object_get(root, "plan_key"));
    e->bytes_on_disk = integer(root, "bytes_on_disk");
    e->tensor_bytes = integer(root, "tensor_bytes");
    e->tensors = integer(root, "tensors");
    e->copied = integer(root, "copied");
    e->converted = integer(root, "converted");
    e->not_written = integer(root, "not_written");
    count_conversions(log, e);
    if (stat(e->file, &info) != 0)
        e->file_missing = true;
    else
        e->file_changed = (int64_t)info.st_size != e->bytes_on_disk;
    json_decref(root);
    return SQ_OK;
damaged:
    json_decref(root);
    return sq_fail(SQ_ERR_INPUT, "%s: not an export record (%s); export the variant again with squeeze export",
                   path, root == NULL ? error.text : "missing squeeze_export, file, sha256, bytes_on_disk or tensor_log");
}

static int is_record(const struct dirent *entry)
{
    size_t n = strlen(entry->d_name);
    return strncmp(entry->d_name, "export-", 7) == 0 && n > 12 && strcmp(entry->d_name + n - 5, ".json") == 0;
}

sq_status sq_report_load_exports(sq_run_results *results)
{
    sq_status st = SQ_OK;
    char folder[SQ_REPORT_PATH + 64], path[2 * SQ_REPORT_PATH + 128];
    struct dirent **variants = NULL, **records = NULL;
    int nv, nr = 0;
    snprintf(folder, sizeof folder, "%s/export", results->run_dir);
    nv = scandir(folder, &variants, NULL, alphasort);
    for (int i = 0; i < nv && st == SQ_OK; i++) {
        const char *variant = variants[i]->d_name;
        if (variant[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", folder, variant);
        nr = scandir(path, &records, is_record, alphasort);
        for (int j = 0; j < nr && st == SQ_OK; j++) {
            if (results->export_count == SQ_REPORT_MAX_EXPORTS) {
                st = sq_fail(SQ_ERR_INPUT, "%s: more than %d export records", folder, SQ_REPORT_MAX_EXPORTS);
                break;
            }
            snprintf(path, sizeof path, "%s/%s/%s", folder, variant, records[j]->d_name);
            st = load_record(path, variant, &results->exports[results->export_count]);
            if (st == SQ_OK)
                results->export_count++;
        }
        for (int j = 0; j < nr; j++)
            free(records[j]);
        free(records);
        records = NULL;
    }
    for (int i = 0; i < nv; i++)
        free(variants[i]);
    free(variants);
    return st;
}

void sq_report_export_words(const sq_export_result *e, char *out, size_t size)
{
    if (e->file_missing)
        snprintf(out, size, "MISSING: the file is no longer there; export the variant again");
    else if (e->file_changed)
        snprintf(out, size, "CHANGED: its size is no longer the recorded %lld bytes; export the variant again",
                 (long long)e->bytes_on_disk);
    else
        snprintf(out, size, "present with the recorded size; `sha256sum` it against the record");
}
