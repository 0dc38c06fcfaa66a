/* test_mapped_checkpoint.c - checkpoint data used where it lies in the mapped file.
 *
 * safetensors, a PyTorch zip's stored storages and GGUF tensors point into the
 * read-only mapping their set (or GGUF file) holds instead of being copied; a
 * misaligned tensor is copied out.  The set frees what it owns and unmaps the file
 * once (the ASan build of this test catches a double free or a free of mapped
 * memory), and a truncated or lying file is still refused with a message naming it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/zip_layout.h"
#include "gguf/gguf_file.h"
#include "modelio/loader.h"
#include "models/forward.h"
#include "test_support.h"

#define BUNDLED SQ_TEST_DATA "/bundled/itera_tiny_bytes"

/* t's data lies inside the mapping: [bytes, bytes + size). */
static int inside(const sq_file_map *map, const void *data, size_t nbytes)
{
    const unsigned char *begin = sq_file_map_bytes(map), *p = data;
    return map != NULL && p >= begin && p + nbytes <= begin + sq_file_map_size(map);
}

/* Every tensor with data of its own is mapped, none copied (at least `least` of them). */
static void assert_all_mapped(const sq_tensor_set *set, size_t least)
{
    size_t mapped = 0;
    ck_assert_ptr_nonnull(set->map);
    for (size_t i = 0; i < set->count; i++) {
        const sq_tensor *t = &set->tensors[i];
        if (t->alias_of)
            continue;
        ck_assert_msg(inside(set->map, t->data, t->nbytes), "tensor '%s' was copied, not mapped", t->name);
        ck_assert(sq_tensor_data_mapped(set, t));
        mapped++;
    }
    ck_assert_uint_ge(mapped, least);
}

static void truncate_copy(const char *from, const char *to, long drop)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    long size;
    char *bytes;
    ck_assert(in && out);
    fseek(in, 0, SEEK_END);
    size = ftell(in);
    fseek(in, 0, SEEK_SET);
    bytes = malloc((size_t)size);
    ck_assert_int_eq((long)fread(bytes, 1, (size_t)size, in), size);
    ck_assert_int_eq((long)fwrite(bytes, 1, (size_t)(size - drop), out), size - drop);
    free(bytes);
    fclose(in);
    fclose(out);
}

START_TEST(test_torch_storages_are_mapped)
{
    sq_tensor_set set;
    ck_assert_int_eq(sq_checkpoint_read(BUNDLED ".pt", &set), SQ_OK);
    assert_all_mapped(&set, 50);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_safetensors_are_mapped_and_match_torch)
{
    sq_tensor_set st, pt;
    ck_assert_int_eq(sq_checkpoint_read(BUNDLED ".safetensors", &st), SQ_OK);
    ck_assert_int_eq(sq_checkpoint_read(BUNDLED ".pt", &pt), SQ_OK);
    assert_all_mapped(&st, 50);
    for (size_t i = 0; i < st.count; i++) {
        const sq_tensor *a = sq_tensor_set_resolve(&st, &st.tensors[i]);
        const sq_tensor *b = sq_tensor_set_resolve(&pt, must_find(&pt, st.tensors[i].name));
        ck_assert_uint_eq(a->nbytes, b->nbytes);
        ck_assert_int_eq(memcmp(a->data, b->data, a->nbytes), 0);
    }
    sq_tensor_set_free(&st);
    sq_tensor_set_free(&pt);
}
END_TEST

/* llama2.c's .bin is a 28-byte header and fp32 arrays: all used in place. */
START_TEST(test_llama2c_is_mapped)
{
    sq_tensor_set set;
    ck_assert_int_eq(sq_checkpoint_read(SQ_TEST_DATA "/golden/llama2c_gqa.bin", &set), SQ_OK);
    ck_assert_str_eq(set.source_format, "llama2c-bin");
    assert_all_mapped(&set, 5);
    sq_tensor_set_free(&set);
}
END_TEST

/* A header length of 8k + 2 puts fp32 data at an address that is no multiple of 4:
 * the tensor is copied out (and reads right), the 16-bit one stays mapped. */
START_TEST(test_safetensors_misaligned_is_copied)
{
    static const char header[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                 "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]}}";
    const float a[2] = {1.5f, -2.25f};
    const uint16_t h[2] = {0x3c00, 0xc000};
    uint64_t len = strlen(header);
    unsigned char len_bytes[8];
    const char *path;
    FILE *f;
    sq_tensor_set set;
    work_dir_make();
    path = work_path("odd.safetensors");
    while (len % 8 != 2)
        len++;
    for (int i = 0; i < 8; i++)
        len_bytes[i] = (unsigned char)(len >> (8 * i));
    f = fopen(path, "wb");
    fwrite(len_bytes, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = strlen(header); i < len; i++)
        fputc(' ', f);
    fwrite(a, sizeof a, 1, f);
    fwrite(h, sizeof h, 1, f);
    fclose(f);
    ck_assert_int_eq(sq_checkpoint_read(path, &set), SQ_OK);
    ck_assert(!sq_tensor_data_mapped(&set, must_find(&set, "a")));
    ck_assert(sq_tensor_data_mapped(&set, must_find(&set, "h")));
    ck_assert_float_eq(((const float *)must_find(&set, "a")->data)[1], -2.25f);
    ck_assert_uint_eq(((const uint16_t *)must_find(&set, "h")->data)[1], 0xc000);
    sq_tensor_set_free(&set);
    work_dir_remove();
}
END_TEST

/* Dropping, replacing, making writable and removing mapped data never frees it;
 * the set frees the rest and unmaps once. */
START_TEST(test_set_frees_what_it_owns)
{
    sq_tensor_set set;
    sq_tensor *t;
    float *copy;
    ck_assert_int_eq(sq_checkpoint_read(BUNDLED ".pt", &set), SQ_OK);
    t = &set.tensors[0];
    ck_assert_ptr_null(sq_tensor_take_data(&set, t)); /* mapped: not handed over */
    ck_assert_int_eq(sq_tensor_make_writable(&set, t), SQ_OK);
    ck_assert(!sq_tensor_data_mapped(&set, t));
    ((unsigned char *)t->data)[0] ^= 1; /* its own copy: writable */
    copy = sq_tensor_take_data(&set, t);
    ck_assert_ptr_nonnull(copy);
    ck_assert_ptr_null(t->data);
    sq_tensor_replace_data(&set, t, copy);
    sq_tensor_drop_data(&set, &set.tensors[1]);
    ck_assert_ptr_null(set.tensors[1].data);
    sq_tensor_set_remove(&set, 2);
    sq_tensor_set_free(&set);
}
END_TEST

/* The model takes no mapped data over: with release on it copies or packs it, drops
 * the set's data and runs; freeing the model and then the set frees each once. */
START_TEST(test_model_built_from_mapped_set)
{
    sq_loaded_model m;
    sq_model *model = NULL;
    sq_model_build_options options = {.release = true};
    int32_t tokens[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float *logits;
    ck_assert_int_eq(sq_model_load(BUNDLED ".pt", "auto", NULL, &m), SQ_OK);
    ck_assert_int_eq(sq_model_build_ex(&m.config, &m.tensors, &options, &model), SQ_OK);
    for (size_t i = 0; i < m.tensors.count; i++)
        ck_assert_msg(m.tensors.tensors[i].data == NULL, "'%s' kept its data", m.tensors.tensors[i].name);
    logits = malloc(8 * (size_t)m.config.vocab_size * sizeof *logits);
    ck_assert_int_eq(sq_model_forward(model, tokens, 8, logits, NULL), SQ_OK);
    free(logits);
    sq_model_free(model);
    sq_loaded_model_free(&m);
}
END_TEST

START_TEST(test_truncated_files_are_refused)
{
    sq_tensor_set set;
    work_dir_make();
    truncate_copy(BUNDLED ".safetensors", work_path("cut.safetensors"), 1);
    assert_error(sq_checkpoint_read(work_path("cut.safetensors"), &set), "truncated");
    assert_message_has("cut.safetensors");
    truncate_copy(BUNDLED ".pt", work_path("cut.pt"), 100);
    assert_error(sq_checkpoint_read(work_path("cut.pt"), &set), "cut.pt");
    work_dir_remove();
}
END_TEST

START_TEST(test_gguf_tensors_are_mapped_and_checked)
{
    sq_gguf_file out, in;
    const float values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int64_t ne[1] = {8};
    work_dir_make();
    sq_gguf_init(&out);
    ck_assert_int_eq(sq_gguf_add_tensor(&out, "w", 1, ne, SQ_GGML_TYPE_F32, values, sizeof values), SQ_OK);
    ck_assert_int_eq(sq_gguf_add_tensor(&out, "v", 1, ne, SQ_GGML_TYPE_F32, values, sizeof values), SQ_OK);
    ck_assert_int_eq(sq_gguf_write(&out, work_path("m.gguf")), SQ_OK);
    sq_gguf_free(&out);
    ck_assert_int_eq(sq_gguf_read(work_path("m.gguf"), &in), SQ_OK);
    for (size_t i = 0; i < in.tensor_count; i++) {
        ck_assert(inside(in.map, in.tensors[i].data, (size_t)in.tensors[i].nbytes));
        ck_assert_uint_eq((uintptr_t)in.tensors[i].data % in.alignment, 0);
        ck_assert_int_eq(memcmp(in.tensors[i].data, values, sizeof values), 0);
    }
    sq_gguf_free(&in);
    truncate_copy(work_path("m.gguf"), work_path("cut.gguf"), 4);
    assert_error(sq_gguf_read(work_path("cut.gguf"), &in), "truncated");
    work_dir_remove();
}
END_TEST

/* A stored entry of a zip whose central directory claims more bytes than the file
 * holds is not mapped (and libzip refuses the archive). */
static void write_zip(const char *path, const void *data, size_t size)
{
    int error = 0;
    zip_t *zip = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &error);
    zip_source_t *source;
    zip_int64_t index;
    ck_assert_ptr_nonnull(zip);
    source = zip_source_buffer(zip, data, size, 0);
    index = zip_file_add(zip, "archive/data/0", source, ZIP_FL_OVERWRITE);
    ck_assert_int_ge(index, 0);
    ck_assert_int_eq(zip_set_file_compression(zip, (zip_uint64_t)index, ZIP_CM_STORE, 0), 0);
    ck_assert_int_eq(zip_close(zip), 0);
}

static void patch_u32(const char *path, long at, uint32_t value)
{
    FILE *f = fopen(path, "r+b");
    unsigned char b[4] = {(unsigned char)value, (unsigned char)(value >> 8), (unsigned char)(value >> 16),
                          (unsigned char)(value >> 24)};
    ck_assert_ptr_nonnull(f);
    fseek(f, at, SEEK_SET);
    fwrite(b, 1, 4, f);
    fclose(f);
}

START_TEST(test_zip_layout_checks_ranges)
{
    static const char payload[] = "0123456789abcdef0123456789abcdef";
    sq_file_map *map;
    sq_zip_layout layout;
    const sq_zip_stored_entry *e;
    const char *path;
    long central;
    work_dir_make();
    path = work_path("a.zip");
    write_zip(path, payload, sizeof payload);
    ck_assert_int_eq(sq_file_map_open(path, &map), SQ_OK);
    ck_assert_int_eq(sq_zip_layout_read(map, &layout), SQ_OK);
    ck_assert_uint_eq(layout.count, 1);
    e = sq_zip_layout_find(&layout, "archive/data/0");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->size, sizeof payload);
    ck_assert_int_eq(memcmp(sq_file_map_bytes(map) + e->data_offset, payload, sizeof payload), 0);
    /* the central directory starts where the payload's local entry ends */
    central = (long)(e->data_offset + e->size);
    sq_zip_layout_free(&layout);
    sq_file_map_release(map);
    /* both sizes (central header bytes 20 and 24) claim 1 MB: the entry is not mapped */
    patch_u32(path, central + 20, 1u << 20);
    patch_u32(path, central + 24, 1u << 20);
    ck_assert_int_eq(sq_file_map_open(path, &map), SQ_OK);
    ck_assert_int_eq(sq_zip_layout_read(map, &layout), SQ_OK);
    ck_assert_uint_eq(layout.count, 0);
    sq_zip_layout_free(&layout);
    sq_file_map_release(map);
    work_dir_remove();
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        test_torch_storages_are_mapped, test_safetensors_are_mapped_and_match_torch, test_llama2c_is_mapped,
        test_safetensors_misaligned_is_copied, test_set_frees_what_it_owns, test_model_built_from_mapped_set,
        test_truncated_files_are_refused, test_gguf_tensors_are_mapped_and_checked, test_zip_layout_checks_ranges,
    };
    Suite *s = suite_create("mapped_checkpoint");
    TCase *tc = tcase_create("mapped");
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return sq_test_run(s);
}
