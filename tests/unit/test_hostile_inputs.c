/* test_hostile_inputs.c - resource limits: sizes a file declares are checked
 * against the file's real size and sane bounds before anything is allocated.
 *
 * Every hostile file is generated here (nothing big is committed).  Each reader
 * runs in a child process whose address space is limited to what it had plus a
 * small multiple of the hostile file's size (RLIMIT_AS; skipped under
 * AddressSanitizer, which reserves terabytes of address space up front): the
 * reader must return an input error naming the problem, never crash, never
 * allocate what the file claims, and never overflow the C stack on deep nesting.
 */
#include <check.h>
#include <hdf5.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include "artifact/artifact.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/pickle.h"
#include "config/yaml_tree.h"
#include "pickle_support.h"
#include "test_support.h"
#include "tokenize/tokenizer.h"

#if defined(__SANITIZE_ADDRESS__)
#define SQ_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SQ_UNDER_ASAN 1
#endif
#endif
#ifndef SQ_UNDER_ASAN
#define SQ_UNDER_ASAN 0
#endif

#define MB ((size_t)1 << 20)
/* The multiple of a hostile file's size that reading it may cost, plus room for
 * the libraries' own start-up allocations. */
#define ALLOWED_MULTIPLE 48
#define ALLOWED_SLACK (64 * MB)

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static size_t file_size(const char *path)
{
    struct stat info;
    ck_assert_int_eq(stat(path, &info), 0);
    return (size_t)info.st_size;
}

/* ---- running a reader under a memory limit ---- */

typedef sq_status (*reader_fn)(const char *path);

static size_t vm_bytes(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld", &pages) != 1)
        pages = 0;
    if (f)
        fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Runs fn(path) in a child limited to its current address space plus
 * ALLOWED_MULTIPLE x input_bytes + ALLOWED_SLACK.  Asserts that it returned
 * `expect` and that its message holds `needle`. */
static void expect_refused(reader_fn fn, const char *path, size_t input_bytes, sq_status expect, const char *needle)
{
    int fds[2], status = 0;
    char message[2048] = "";
    ssize_t got;
    pid_t pid;
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sq_status st;
        close(fds[0]);
        if (!SQ_UNDER_ASAN) {
            struct rlimit limit;
            rlim_t budget = vm_bytes() + ALLOWED_MULTIPLE * input_bytes + ALLOWED_SLACK;
            limit.rlim_cur = limit.rlim_max = budget;
            setrlimit(RLIMIT_AS, &limit);
        }
        st = fn(path);
        if (write(fds[1], sq_error_message(), strlen(sq_error_message())) < 0)
            _exit(100);
        _exit((int)st);
    }
    close(fds[1]);
    got = read(fds[0], message, sizeof message - 1);
    message[got > 0 ? got : 0] = '\0';
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "%s: the reader died (signal %d) instead of refusing the file", path,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    ck_assert_msg(WEXITSTATUS(status) == (int)expect, "%s: exit %d, expected %d (message: %s)", path,
                  WEXITSTATUS(status), (int)expect, message);
    ck_assert_msg(strstr(message, needle) != NULL, "%s: message lacks '%s': %s", path, needle, message);
}

/* Reads path into a tensor set with reader and lets it go: only the status counts here. */
static sq_status read_tensors(sq_status (*reader)(const char *, sq_tensor_set *), const char *path)
{
    sq_tensor_set set;
    sq_status st = reader(path, &set);
    if (st == SQ_OK)
        sq_tensor_set_free(&set);
    return st;
}

static sq_status read_checkpoint(const char *path) { return read_tensors(sq_checkpoint_read_foreign, path); }
static sq_status read_safetensors(const char *path) { return read_tensors(sq_safetensors_read, path); }

static sq_status read_tokenizer(const char *path)
{
    sq_tokenizer *tok = NULL;
    sq_status st = sq_tokenizer_load(path, &tok);
    sq_tokenizer_free(tok);
    return st;
}

static sq_status read_yaml(const char *path)
{
    sq_yaml_doc doc;
    sq_status st = sq_yaml_load_file(&doc, path);
    if (st == SQ_OK)
        sq_yaml_free(&doc);
    return st;
}

static sq_status read_h5_dataset(const char *path)
{
    hid_t file;
    void *data = NULL;
    int ndim = 0;
    uint64_t dims[8];
    sq_status st = sq_artifact_open(path, "model", &file);
    if (st != SQ_OK)
        return st;
    st = sq_h5_read_dataset(file, "model/huge", H5T_NATIVE_FLOAT, &data, &ndim, dims);
    free(data);
    H5Fclose(file);
    return st;
}

/* ---- pickles and archives ---- */

static void write_archive(const char *path, const byte_buf *pickle, int compress_pickle, const void *storage,
                          size_t storage_bytes)
{
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    zip_int64_t index;
    ck_assert_ptr_nonnull(z);
    index = zip_file_add(z, "archive/data.pkl", zip_source_buffer(z, pickle->bytes, pickle->n, 0), 0);
    ck_assert_int_ge(index, 0);
    zip_set_file_compression(z, (zip_uint64_t)index, compress_pickle ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 9);
    if (storage != NULL)
        ck_assert_int_ge(zip_file_add(z, "archive/data/0", zip_source_buffer(z, storage, storage_bytes, 0), 0), 0);
    ck_assert_int_eq(zip_close(z), 0);
}

/* A zip entry that inflates to 64 MB from a file of about 64 KB. */
START_TEST(zip_entry_declaring_more_than_the_file_holds)
{
    byte_buf pickle = {0};
    const char *path = work_path("bomb.pt");
    put_byte(&pickle, 0x80);
    put_byte(&pickle, 2);
    put_repeat(&pickle, 'N', 64 * MB);
    write_archive(path, &pickle, 1, NULL, 0);
    ck_assert_uint_lt(file_size(path), 1 * MB);
    expect_refused(read_checkpoint, path, file_size(path), SQ_ERR_INPUT, "declares");
    free(pickle.bytes);
}
END_TEST

/* One float of storage viewed with stride 0 as 2^28 elements (1 GiB). */
START_TEST(stride_zero_view_of_one_element)
{
    byte_buf pickle = {0};
    const float one = 1.0f;
    const char *path = work_path("stride0.pt");
    pk_one_tensor_dict(&pickle, "w", "_rebuild_tensor_v2", "0", 1, 1 << 28, 0);
    write_archive(path, &pickle, 0, &one, sizeof one);
    expect_refused(read_checkpoint, path, file_size(path), SQ_ERR_INPUT, "overlap");
    free(pickle.bytes);
}
END_TEST

/* A checkpoint named name whose pickle is PROTO 2 and 10 MB of the one-byte opcode op
 * (then STOP when stop): refused with an input error naming needle. */
static void expect_ten_million_opcodes_refused(const char *name, unsigned char op, bool stop, const char *needle)
{
    byte_buf pickle = {0};
    const char *path = work_path(name);
    put_byte(&pickle, 0x80);
    put_byte(&pickle, 2);
    put_repeat(&pickle, op, 10 * MB);
    if (stop)
        put_byte(&pickle, '.');
    write_archive(path, &pickle, 0, NULL, 0);
    expect_refused(read_checkpoint, path, file_size(path), SQ_ERR_INPUT, needle);
    free(pickle.bytes);
}

/* 10 MB of one-byte opcodes that each make a new list: refused at the object cap. */
START_TEST(pickle_of_ten_million_lists)
{
    expect_ten_million_opcodes_refused("lists.pt", ']', true, "objects");
}
END_TEST

/* 10 MB of MARKs: the mark stack lives on the heap and the pickle ends without STOP. */
START_TEST(pickle_of_ten_million_marks)
{
    expect_ten_million_opcodes_refused("marks.pt", '(', false, "without STOP");
}
END_TEST

/* A memo index of 2^32 - 1 in a 20-byte pickle. */
START_TEST(pickle_memo_index_beyond_the_file)
{
    static const unsigned char bytes[] = {0x80, 2, 'N', 'r', 0xff, 0xff, 0xff, 0xff, '.'};
    sq_pickle *pickle = NULL;
    const sq_pickle_value *root = NULL;
    assert_error(sq_pickle_load(bytes, sizeof bytes, "memo.pkl", &pickle, &root), "memo index 4294967295");
    ck_assert_ptr_null(pickle);
}
END_TEST

/* A safetensors header whose shape product overflows, and one whose tensor claims 2^40 bytes. */
START_TEST(safetensors_shapes_beyond_the_data)
{
    static const char *const headers[] = {
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[274877906944],\"data_offsets\":[0,1099511627776]}}",
    };
    static const char *const needles[] = {"overflows", "outside the data section"};
    for (int i = 0; i < 2; i++) {
        byte_buf file = {0};
        uint64_t n = strlen(headers[i]);
        unsigned char len[8];
        char name[64];
        for (int k = 0; k < 8; k++)
            len[k] = (unsigned char)(n >> (8 * k));
        put(&file, len, 8);
        put_str(&file, headers[i]);
        put_repeat(&file, 0, 4);
        snprintf(name, sizeof name, "shape%d.safetensors", i);
        write_file(work_path(name), file.bytes, file.n);
        expect_refused(read_checkpoint, work_path(name), file.n, SQ_ERR_INPUT, needles[i]);
        free(file.bytes);
    }
}
END_TEST

/* A header length of 2^62 in a 16-byte file. */
START_TEST(safetensors_header_longer_than_the_file)
{
    static const unsigned char bytes[16] = {0, 0, 0, 0, 0, 0, 0, 0x40, '{', '}'};
    write_file(work_path("len.safetensors"), bytes, sizeof bytes);
    expect_refused(read_checkpoint, work_path("len.safetensors"), sizeof bytes, SQ_ERR_INPUT, "longer than the file");
}
END_TEST

/* A safetensors header of 5 MB of nested JSON arrays: an error, not a stack overflow. */
START_TEST(safetensors_header_nested_five_million_deep)
{
    byte_buf file = {0};
    size_t depth = 5 * MB;
    unsigned char len[8];
    for (int k = 0; k < 8; k++)
        len[k] = (unsigned char)((uint64_t)(2 * depth) >> (8 * k));
    put(&file, len, 8);
    put_repeat(&file, '[', depth);
    put_repeat(&file, ']', depth);
    write_file(work_path("deep.safetensors"), file.bytes, file.n);
    expect_refused(read_safetensors, work_path("deep.safetensors"), file.n, SQ_ERR_INPUT, "not valid JSON");
    free(file.bytes);
}
END_TEST

/* A tokenizer of 10 MB of nested JSON objects. */
START_TEST(tokenizer_nested_ten_million_deep)
{
    byte_buf file = {0};
    for (size_t i = 0; i < 2 * MB; i++)
        put_str(&file, "{\"a\":");
    write_file(work_path("deep.json"), file.bytes, file.n);
    expect_refused(read_tokenizer, work_path("deep.json"), file.n, SQ_ERR_INPUT, "not valid JSON");
    free(file.bytes);
}
END_TEST

/* Token ids far beyond any vocabulary: the model would be sized by them. */
START_TEST(tokenizer_id_beyond_any_vocabulary)
{
    const char *text = "{\"token2id\": {\"<PAD>\": 0, \"<UNK>\": 1, \"x\": 2147483000}, \"level\": \"char\"}";
    write_file(work_path("bigid.json"), text, strlen(text));
    expect_refused(read_tokenizer, work_path("bigid.json"), strlen(text), SQ_ERR_INPUT, "2147483000");
}
END_TEST

/* A tokenizer.json of 200 bytes whose one token has id 10^7: the id index would be sized by it. */
START_TEST(tokenizer_json_with_a_sparse_id)
{
    const char *text = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 10000000}, \"merges\": []}}";
    write_file(work_path("tokenizer.json"), text, strlen(text));
    expect_refused(read_tokenizer, work_path("tokenizer.json"), strlen(text), SQ_ERR_INPUT, "ids reach 10000000");
}
END_TEST

/* YAML nested a million levels deep, in flow and in block style. */
START_TEST(yaml_nested_a_million_deep)
{
    byte_buf flow = {0}, block = {0};
    put_str(&flow, "model: ");
    put_repeat(&flow, '[', MB);
    put_repeat(&flow, ']', MB);
    put_byte(&flow, '\n');
    write_file(work_path("flow.yaml"), flow.bytes, flow.n);
    expect_refused(read_yaml, work_path("flow.yaml"), flow.n, SQ_ERR_USAGE, "nested deeper than 64");
    for (int i = 0; i < 200; i++) {
        put_repeat(&block, ' ', (size_t)i);
        put_str(&block, "k:\n");
    }
    write_file(work_path("block.yaml"), block.bytes, block.n);
    expect_refused(read_yaml, work_path("block.yaml"), block.n, SQ_ERR_USAGE, "nested deeper than 64");
    free(flow.bytes);
    free(block.bytes);
}
END_TEST

/* The billion-laughs alias expansion: refused at the first alias, nothing expanded. */
START_TEST(yaml_alias_expansion)
{
    byte_buf text = {0};
    put_str(&text, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (char c = 'b'; c <= 'j'; c++) {
        char line[128];
        snprintf(line, sizeof line, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c, c - 1, c - 1,
                 c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
        put_str(&text, line);
    }
    write_file(work_path("laughs.yaml"), text.bytes, text.n);
    expect_refused(read_yaml, work_path("laughs.yaml"), text.n, SQ_ERR_USAGE, "aliases");
    free(text.bytes);
}
END_TEST

/* An artifact of a few KB whose chunked dataset declares 2^40 floats. */
START_TEST(hdf5_dataset_declaring_a_terabyte)
{
    const char *path = work_path("huge.h5");
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[1] = {(hsize_t)1 << 40}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {1024};
    hid_t space, dcpl, dataset, group;
    ck_assert_int_ge(file, 0);
    ck_assert_int_eq(sq_h5_write_attr_string(file, "squeeze_artifact", "model"), SQ_OK);
    ck_assert_int_eq(sq_h5_write_attr_int(file, "schema_version", SQ_SCHEMA_VERSION), SQ_OK);
    group = H5Gcreate2(file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    space = H5Screate_simple(1, dims, maxdims);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    dataset = H5Dcreate2(group, "huge", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert_int_ge(dataset, 0);
    H5Dclose(dataset);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Gclose(group);
    H5Fclose(file);
    ck_assert_uint_lt(file_size(path), 64 * 1024);
    expect_refused(read_h5_dataset, path, file_size(path), SQ_ERR_INPUT, "more than its file");
}
END_TEST

static void setup(void) { work_dir_make(); }
static void teardown(void) { work_dir_remove(); }

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const sq_test_case row = {.name = "limits", .timeout = 120, .setup = setup, .teardown = teardown,
                              .tests = SQ_TESTS(zip_entry_declaring_more_than_the_file_holds,
                                                stride_zero_view_of_one_element, pickle_of_ten_million_lists,
                                                pickle_of_ten_million_marks, pickle_memo_index_beyond_the_file,
                                                safetensors_shapes_beyond_the_data,
                                                safetensors_header_longer_than_the_file,
                                                safetensors_header_nested_five_million_deep,
                                                tokenizer_nested_ten_million_deep, tokenizer_id_beyond_any_vocabulary,
                                                tokenizer_json_with_a_sparse_id, yaml_nested_a_million_deep,
                                                yaml_alias_expansion, hdf5_dataset_declaring_a_terabyte)};
    return sq_test_run(sq_test_suite("hostile_inputs", &row, 1));
}
