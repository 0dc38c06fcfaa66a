/* test_artifact.c - atomic artifact files, root attributes, kind and version checks. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifact/artifact.h"
#include "test_support.h"

static char folder[] = "/tmp/sq_artifact_XXXXXX";

static int count_files(void)
{
    int count = 0;
    struct dirent *entry;
    DIR *dir = opendir(folder);
    while ((entry = readdir(dir)) != NULL)
        count += entry->d_name[0] != '.';
    closedir(dir);
    return count;
}

START_TEST(commit_renames_and_attributes_are_there)
{
    char path[256], input[256];
    sq_artifact_writer writer;
    sq_artifact_meta meta = {.kind = "evaluation", .config_sha256 = "abc", .plan_key = "k1", .mpi_ranks = 2};
    hid_t file;
    char *value = NULL;
    int64_t ranks = 0, version = 0;
    FILE *in;
    snprintf(input, sizeof input, "%s/input.txt", folder);
    in = fopen(input, "w");
    fputs("hello\n", in);
    fclose(in);
    meta.input_count = 1;
    meta.inputs[0] = input;
    snprintf(path, sizeof path, "%s/eval.h5", folder);
    ck_assert_int_eq(sq_artifact_create(&writer, path, &meta), SQ_OK);
    ck_assert_int_ne(access(path, F_OK), 0); /* not there until commit */
    ck_assert_int_eq(sq_artifact_commit(&writer), SQ_OK);
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(count_files(), 2); /* no temporary left behind */

    ck_assert_int_eq(sq_artifact_open(path, "evaluation", &file), SQ_OK);
    ck_assert_int_eq(sq_h5_read_attr_int(file, "mpi_ranks", &ranks), SQ_OK);
    ck_assert_int_eq(ranks, 2);
    ck_assert_int_eq(sq_h5_read_attr_int(file, "schema_version", &version), SQ_OK);
    ck_assert_int_eq(version, SQ_SCHEMA_VERSION);
    ck_assert_int_eq(sq_h5_read_attr_string(file, "inputs", &value), SQ_OK);
    /* sha256 of "hello\n" */
    ck_assert_ptr_nonnull(strstr(value, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"));
    free(value);
    static const char *const provenance[] = {"created_utc", "host", "squeeze_version", "config_sha256"};
    for (size_t i = 0; i < sizeof provenance / sizeof *provenance; i++)
        ck_assert_msg(sq_h5_has_attr(file, provenance[i]), "attribute %s missing", provenance[i]);
    H5Fclose(file);

    ck_assert_int_eq(sq_artifact_open(path, "model", &file), SQ_ERR_INPUT);
    assert_message_has("is a squeeze 'evaluation' artifact, but a 'model' artifact is needed");
    unlink(path);
    unlink(input);
}
END_TEST

START_TEST(abort_leaves_nothing)
{
    char path[256];
    sq_artifact_writer writer;
    sq_artifact_meta meta = {.kind = "model"};
    snprintf(path, sizeof path, "%s/model.h5", folder);
    ck_assert_int_eq(sq_artifact_create(&writer, path, &meta), SQ_OK);
    ck_assert_int_eq(count_files(), 1);
    sq_artifact_abort(&writer);
    ck_assert_int_eq(count_files(), 0);
}
END_TEST

START_TEST(wrong_version_and_foreign_files_are_refused)
{
    char path[256];
    sq_artifact_writer writer;
    sq_artifact_meta meta = {.kind = "model"};
    hid_t file;
    FILE *text;
    snprintf(path, sizeof path, "%s/old.h5", folder);
    ck_assert_int_eq(sq_artifact_create(&writer, path, &meta), SQ_OK);
    ck_assert_int_eq(sq_h5_write_attr_int(writer.file, "schema_version", 99), SQ_OK);
    ck_assert_int_eq(sq_artifact_commit(&writer), SQ_OK);
    ck_assert_int_eq(sq_artifact_open(path, "model", &file), SQ_ERR_INPUT);
    assert_message_has("schema_version 99");
    unlink(path);

    snprintf(path, sizeof path, "%s/notes.txt", folder);
    text = fopen(path, "w");
    fputs("not hdf5", text);
    fclose(text);
    ck_assert_int_eq(sq_artifact_open(path, "model", &file), SQ_ERR_INPUT);
    assert_message_has("is not an HDF5 file");
    unlink(path);
    snprintf(path, sizeof path, "%s/missing.h5", folder);
    ck_assert_int_eq(sq_artifact_open(path, "model", &file), SQ_ERR_INPUT);
    assert_message_has("missing.h5");
}
END_TEST

START_TEST(create_in_missing_folder_fails_clearly)
{
    sq_artifact_writer writer;
    sq_artifact_meta meta = {.kind = "model"};
    ck_assert_int_eq(sq_artifact_create(&writer, "/nonexistent/folder/m.h5", &meta), SQ_ERR_RUN);
    assert_message_has("/nonexistent/folder/m.h5");
}
END_TEST

/* The readers artifacts share: a string column back as written, rows of a 2-D
 * dataset, a string attribute cut to a buffer; each refuses what it cannot read. */
START_TEST(string_columns_rows_and_text_attributes_read_back)
{
    char path[256], text[8];
    const char *values[] = {"int8", NULL, "a-longer-name"};
    const int32_t grid[3][2] = {{1, 2}, {3, 4}, {5, 6}};
    uint64_t dims[2] = {3, 2};
    char *packed = NULL;
    int32_t *rows = NULL;
    size_t width = 0, count = 0;
    int ndim = 0;
    uint64_t shape[8] = {0};
    hid_t file;
    snprintf(path, sizeof path, "%s/readers.h5", folder);
    file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    ck_assert_int_eq(sq_h5_write_strings(file, "names", values, 3), SQ_OK);
    ck_assert_int_eq(sq_h5_write_dataset(file, "grid", H5T_NATIVE_INT32, 2, dims, grid), SQ_OK);
    ck_assert_int_eq(sq_h5_write_attr_string(file, "note", "longer than the buffer"), SQ_OK);

    ck_assert_int_eq(sq_h5_read_strings(file, "names", &packed, &width, &count), SQ_OK);
    ck_assert_uint_eq(count, 3);
    ck_assert_uint_eq(width, strlen("a-longer-name") + 2); /* stored width + a terminator */
    ck_assert_str_eq(packed, "int8");
    ck_assert_str_eq(packed + width, "");
    ck_assert_str_eq(packed + 2 * width, "a-longer-name");
    free(packed);
    ck_assert_int_eq(sq_h5_read_strings(file, "grid", &packed, &width, &count), SQ_ERR_INPUT);
    ck_assert_ptr_null(packed);
    assert_message_has("not a 1-D fixed-length string column");
    ck_assert_int_eq(sq_h5_read_strings(file, "absent", &packed, &width, &count), SQ_ERR_INPUT);
    assert_message_has("'absent' is missing");

    ck_assert_int_eq(sq_h5_dataset_shape(file, "grid", &ndim, shape), SQ_OK);
    ck_assert_int_eq(ndim, 2);
    ck_assert(shape[0] == 3 && shape[1] == 2);
    ck_assert_int_eq(sq_h5_read_rows(file, "grid", H5T_NATIVE_INT32, 1, 2, 2, (void **)&rows), SQ_OK);
    ck_assert(rows[0] == 3 && rows[1] == 4 && rows[2] == 5 && rows[3] == 6);
    free(rows);
    ck_assert_int_eq(sq_h5_read_rows(file, "grid", H5T_NATIVE_INT32, 2, 2, 2, (void **)&rows), SQ_ERR_INPUT);
    ck_assert_ptr_null(rows);
    assert_message_has("no rows 2..3");
    ck_assert_int_eq(sq_h5_read_rows(file, "grid", H5T_NATIVE_INT32, 0, 1, 3, (void **)&rows), SQ_ERR_INPUT);
    ck_assert_ptr_null(rows);

    ck_assert_int_eq(sq_h5_read_attr_text(file, "note", text, sizeof text), SQ_OK);
    ck_assert_str_eq(text, "longer ");
    ck_assert_int_eq(sq_h5_read_attr_text(file, "absent", text, sizeof text), SQ_ERR_INPUT);
    ck_assert_str_eq(text, "");
    sq_h5_close(file);
    unlink(path);
}
END_TEST

int main(void)
{
    if (mkdtemp(folder) == NULL)
        return EXIT_FAILURE;
    const sq_test_case row = {.name = "artifact",
                              .tests = SQ_TESTS(commit_renames_and_attributes_are_there, abort_leaves_nothing,
                                                wrong_version_and_foreign_files_are_refused,
                                                create_in_missing_folder_fails_clearly,
                                                string_columns_rows_and_text_attributes_read_back)};
    int result = sq_test_run_in_order(sq_test_suite("artifact", &row, 1)); /* tests share the folder in order */
    rmdir(folder);
    return result;
}
