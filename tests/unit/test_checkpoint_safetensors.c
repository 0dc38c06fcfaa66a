/* test_checkpoint_safetensors.c - reading and writing .safetensors, and refusing
 * damaged headers.  tests/data/checkpoints/tiny.safetensors is written by
 * tests/reference/make_checkpoints.py straight from the format definition, so the
 * reader is checked against an independent writer; bad files are built here.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "modelio/loader.h"
#include "test_support.h"

#define FIXTURE(name) SQ_TEST_DATA "/checkpoints/" name

/* A safetensors file from a header text (length field = header_len_field, or the
 * real length when 0) and data_len zero bytes of data. */
static const char *write_raw(const char *name, const char *header, uint64_t header_len_field, size_t data_len)
{
    const char *path = work_path(name);
    FILE *f = fopen(path, "wb");
    uint64_t len = header_len_field ? header_len_field : strlen(header);
    unsigned char len_bytes[8];
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 8; i++)
        len_bytes[i] = (unsigned char)(len >> (8 * i));
    fwrite(len_bytes, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data_len; i++)
        fputc(0, f);
    fclose(f);
    return path;
}

START_TEST(test_read_independent_fixture)
{
    sq_tensor_set set;
    const sq_tensor *t;
    read_ok(sq_checkpoint_read, FIXTURE("tiny.safetensors"), &set, 3);
    ck_assert_str_eq(set.source_format, "safetensors");
    /* file (data offset) order: c, a, b */
    ck_assert_str_eq(set.tensors[0].name, "c");
    ck_assert_str_eq(set.tensors[1].name, "a");
    ck_assert_str_eq(set.tensors[2].name, "b");
    t = must_find(&set, "a");
    ck_assert_int_eq(t->dtype, SQ_DTYPE_F32);
    ck_assert_int_eq(t->ndim, 2);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(((const float *)t->data)[i], 0.5f * (float)(i + 1));
    t = must_find(&set, "b");
    ck_assert_int_eq(t->dtype, SQ_DTYPE_BF16);
    ck_assert_float_eq(sq_bf16_to_f32(((const uint16_t *)t->data)[0]), 1.0f);
    ck_assert_float_eq(sq_bf16_to_f32(((const uint16_t *)t->data)[1]), -2.0f);
    ck_assert_float_eq(sq_bf16_to_f32(((const uint16_t *)t->data)[2]), 0.5f);
    t = must_find(&set, "c");
    ck_assert_int_eq(t->dtype, SQ_DTYPE_I64);
    ck_assert_int_eq(((const int64_t *)t->data)[0], -5);
    ck_assert_int_eq(((const int64_t *)t->data)[1], (int64_t)1 << 40);
    ck_assert_str_eq(sq_tensor_set_meta(&set, "format"), "pt");
    ck_assert_str_eq(sq_tensor_set_meta(&set, "origin"), "squeeze test");
    sq_tensor_set_free(&set);
}
END_TEST

/* torch checkpoint (with a tied alias) -> safetensors -> read back: same tensors, same bytes. */
START_TEST(test_write_read_round_trip)
{
    sq_tensor_set set, back;
    struct stat info;
    FILE *f;
    unsigned char len_bytes[8];
    uint64_t header_len = 0, data_bytes = 0;
    work_dir_make();
    ck_assert_int_eq(sq_checkpoint_read(FIXTURE("tied_views.pt"), &set), SQ_OK);
    ck_assert_int_eq(sq_tensor_set_add_meta(&set, "note", "round \"trip\""), SQ_OK);
    ck_assert_int_eq(sq_safetensors_write(work_path("out.safetensors"), &set), SQ_OK);
    ck_assert_int_eq(access(work_path("out.safetensors.tmp"), F_OK), -1);

    /* layout: 8-byte length, header padded to a multiple of 8, then exactly the tensor bytes */
    f = fopen(work_path("out.safetensors"), "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(len_bytes, 1, 8, f), 8);
    fclose(f);
    for (int i = 7; i >= 0; i--)
        header_len = (header_len << 8) | len_bytes[i];
    ck_assert_uint_eq(header_len % 8, 0);
    for (size_t i = 0; i < set.count; i++)
        data_bytes += set.tensors[i].nbytes;
    ck_assert_int_eq(stat(work_path("out.safetensors"), &info), 0);
    ck_assert_uint_eq((uint64_t)info.st_size, 8 + header_len + data_bytes);

    ck_assert_int_eq(sq_safetensors_read(work_path("out.safetensors"), &back), SQ_OK);
    ck_assert_uint_eq(back.count, set.count);
    for (size_t i = 0; i < set.count; i++) {
        const sq_tensor *a = sq_tensor_set_resolve(&set, &set.tensors[i]);
        const sq_tensor *b = &back.tensors[i];
        ck_assert_str_eq(b->name, set.tensors[i].name); /* written in the order given */
        ck_assert_int_eq(b->dtype, a->dtype);
        ck_assert_int_eq(b->ndim, set.tensors[i].ndim);
        ck_assert_uint_eq(b->nbytes, set.tensors[i].nbytes);
        ck_assert_ptr_null(b->alias_of); /* the format has no sharing: the alias is a copy */
        ck_assert_int_eq(memcmp(a->data, b->data, b->nbytes), 0);
    }
    ck_assert_str_eq(sq_tensor_set_meta(&back, "note"), "round \"trip\"");
    sq_tensor_set_free(&set);
    sq_tensor_set_free(&back);
    work_dir_remove();
}
END_TEST

START_TEST(test_header_longer_than_file)
{
    sq_tensor_set set;
    work_dir_make();
    assert_error(sq_checkpoint_read(write_raw("long.safetensors", "{\"a\":{}}", 4096, 0), &set),
                 "header length 4096 is longer than the file");
    work_dir_remove();
}
END_TEST

START_TEST(test_offsets_out_of_range)
{
    sq_tensor_set set;
    work_dir_make();
    assert_error(sq_checkpoint_read(write_raw("range.safetensors",
                                              "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 0,
                                              8),
                                    &set),
                 "tensor 'w': data_offsets [0, 16] lie outside the data section of 8 bytes");
    work_dir_remove();
}
END_TEST

START_TEST(test_overlapping_offsets)
{
    sq_tensor_set set;
    work_dir_make();
    assert_error(sq_checkpoint_read(write_raw("overlap.safetensors",
                                              "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                              "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                                              0, 12),
                                    &set),
                 "tensors 'x' [0, 8] and 'y' [4, 12] overlap");
    work_dir_remove();
}
END_TEST

START_TEST(test_unknown_dtype)
{
    sq_tensor_set set;
    work_dir_make();
    assert_error(sq_checkpoint_read(write_raw("dtype.safetensors",
                                              "{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 0,
                                              2),
                                    &set),
                 "tensor 'q' has dtype 'F8_E4M3'");
    work_dir_remove();
}
END_TEST

START_TEST(test_size_mismatch_and_bad_json)
{
    sq_tensor_set set;
    work_dir_make();
    assert_error(sq_checkpoint_read(write_raw("size.safetensors",
                                              "{\"w\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 8),
                                    &set),
                 "span 8 bytes but shape and dtype F16 need 6");
    assert_error(sq_checkpoint_read(write_raw("json.safetensors", "{\"w\": [1, ", 0, 0), &set), "not valid JSON");
    assert_error(sq_checkpoint_read(write_raw("dup.safetensors",
                                              "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                                              "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                                              0, 2),
                                    &set),
                 "not valid JSON");
    assert_error(sq_safetensors_read(write_raw("short.safetensors", "", 3, 0), &set), "longer than the file");
    work_dir_remove();
}
END_TEST

int main(void)
{
    return sq_test_run_tests("checkpoint_safetensors", 0,
                             SQ_TESTS(test_read_independent_fixture, test_write_read_round_trip,
                                      test_header_longer_than_file, test_offsets_out_of_range, test_overlapping_offsets,
                                      test_unknown_dtype, test_size_mismatch_and_bad_json));
}
