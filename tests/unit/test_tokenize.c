/* test_tokenize.c - tokenizers and token files (pipeline/core/tokenize).
 *
 * Expected ids come from Itera-Lite's Python definitions, printed by
 * tests/reference/tokenize_vectors.py (run it after changing a sample here).
 */
#include <check.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenize/tokenizer.h"
#include "util/status.h"
#include "test_support.h"
#include "tokenizer_support.h"

#define ITERA_DATA SQ_TEST_DATA "/itera-lite"

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    fclose(f);
}

/* The tokenizer at spec is of kind with vocab ids and encodes text as Python does (want). */
static void assert_encodes_as_python(const char *spec, const char *kind, int vocab, const char *text,
                                     const int32_t *want, size_t want_count)
{
    sq_tokenizer *tok = load_ok(spec);
    int32_t *ids = NULL;
    size_t count = 0;
    ck_assert_str_eq(sq_tokenizer_kind(tok), kind);
    ck_assert_int_eq(sq_tokenizer_vocab_size(tok), vocab);
    ck_assert_int_eq(sq_tokenizer_encode(tok, text, strlen(text), &ids, &count), SQ_OK);
    assert_ids(ids, count, want, want_count);
    free(ids);
    sq_tokenizer_free(tok);
}

/* ------------------------------------------------------------------ tokenizers */

START_TEST(bytes_round_trip)
{
    sq_tokenizer *tok = load_ok("bytes");
    const char text[] = "Emma Woodhouse, handsome\n\xc3\xa9\x00\xff!";
    size_t length = sizeof(text) - 1;
    int32_t *ids = NULL;
    size_t count = 0;
    ck_assert_str_eq(sq_tokenizer_kind(tok), "bytes");
    ck_assert_int_eq(sq_tokenizer_vocab_size(tok), 256);
    ck_assert_int_eq(sq_tokenizer_encode(tok, text, length, &ids, &count), SQ_OK);
    ck_assert_uint_eq(count, length);
    char back[sizeof(text)];
    for (size_t i = 0; i < count; i++) {
        ck_assert_int_ge(ids[i], 0);
        ck_assert_int_lt(ids[i], 256);
        back[i] = (char)ids[i];
    }
    ck_assert_mem_eq(back, text, length);
    ck_assert_int_eq(ids[length - 2], 255); /* bytes are unsigned ids */
    free(ids);
    sq_tokenizer_free(tok);
}
END_TEST

/* "Once upon a time, there was a little Fox.\n\tThe  BEAR<U+00A0>ran away!" */
static const char word_sample[] = "Once upon a time, there was a little Fox.\n\tThe  BEAR\xc2\xa0ran away!";

START_TEST(word_tokenizer_2000_matches_python)
{
    /* text.lower().split(): U+00A0 splits too; "ran" and "away!" are unknown.  The vocabulary is
     * max id + 1, not the declared 2000. */
    static const int32_t want[] = {20, 21, 5, 22, 11, 6, 5, 14, 110, 4, 19, 1, 1};
    assert_encodes_as_python(ITERA_DATA "/tokenizer_2000.json", "word", 184, word_sample, want,
                             sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(word_tokenizer_quality_matches_python)
{
    static const int32_t want[] = {21, 22, 5, 23, 11, 6, 5, 14, 110, 4, 18, 1, 1};
    assert_encodes_as_python(ITERA_DATA "/tokenizer_quality.json", "word", 184, word_sample, want,
                             sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(word_tokenizer_empty_and_blank_text)
{
    sq_tokenizer *tok = load_ok(ITERA_DATA "/tokenizer_2000.json");
    int32_t *ids = NULL;
    size_t count = 7;
    ck_assert_int_eq(sq_tokenizer_encode(tok, " \n\t\r\v\f ", 7, &ids, &count), SQ_OK);
    ck_assert_uint_eq(count, 0);
    free(ids);
    sq_tokenizer_free(tok);
}
END_TEST

START_TEST(char_tokenizer_matches_python)
{
    /* list("The fox, Hi-q\u00e9"): case kept, 'é' is one unknown character. */
    static const int32_t want[] = {25, 18, 5, 4, 17, 11, 40, 33, 4, 32, 10, 38, 39, 1};
    assert_encodes_as_python(ITERA_DATA "/tokenizer_tiny.json", "char", 42, "The fox, Hi-q\xc3\xa9", want,
                             sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(invalid_utf8_is_refused)
{
    /* 0xC0 0xAF is an overlong '/', which Python's utf-8 codec rejects. */
    assert_encode_refused(ITERA_DATA "/tokenizer_tiny.json", "ab\xc0\xaf", 4, "byte 2");
}
END_TEST

START_TEST(invalid_json_is_refused)
{
    const char *path;
    sq_tokenizer *tok = NULL;
    work_dir_make();
    path = work_path("broken_tokenizer.json");
    const char broken[] = "{\n  \"token2id\": {\"<PAD>\": 0,\n    \"<UNK>\" 1}\n}\n";
    write_file(path, broken, strlen(broken));
    ck_assert_int_eq(sq_tokenizer_load(path, &tok), SQ_ERR_INPUT);
    ck_assert_ptr_null(tok);
    assert_message_has(path);
    assert_message_has("line 3");

    /* Valid JSON that is not a tokenizer. */
    path = work_path("not_tokenizer.json");
    write_file(path, "{\"vocab\": [1, 2]}", 17);
    ck_assert_int_eq(sq_tokenizer_load(path, &tok), SQ_ERR_INPUT);
    assert_message_has("token2id");

    /* A missing file. */
    ck_assert_int_eq(sq_tokenizer_load(SQ_TEST_DATA "/no/such/tokenizer.json", &tok), SQ_ERR_INPUT);
    work_dir_remove();
}
END_TEST

/* ------------------------------------------------------------------ data files */

static void assert_itera_validation_split(const char *tokenizer_path, int32_t first, int64_t sum)
{
    sq_tokenizer *tok = load_ok(tokenizer_path);
    /* Phase 4 split: text[int(0.9 * len(text)):] (docs/itera-lite.md 2.2). */
    sq_data_spec val = {.path = ITERA_DATA "/tinystories_train.txt", .format = "text", .start = 0.9, .end = 1.0};
    sq_data_spec train = val;
    train.start = 0.0;
    train.end = 0.9;
    int32_t *ids = NULL;
    size_t count = 0, unknown = 0;
    int64_t total = 0;
    ck_assert_msg(sq_data_load_tokens(&val, tok, 184, &ids, &count) == SQ_OK, "%s", sq_error_message());
    ck_assert_uint_eq(count, 2846);
    for (size_t i = 0; i < count; i++) {
        unknown += ids[i] == 1;
        total += ids[i];
    }
    ck_assert_uint_eq(unknown, 0);
    ck_assert_int_eq(ids[0], first);
    ck_assert_int_eq(total, sum);
    free(ids);
    ck_assert_int_eq(sq_data_load_tokens(&train, tok, 184, &ids, &count), SQ_OK);
    ck_assert_uint_eq(count, 25739);
    free(ids);
    sq_tokenizer_free(tok);
}

START_TEST(itera_validation_split_2000)
{
    assert_itera_validation_split(ITERA_DATA "/tokenizer_2000.json", 39, 122631);
}
END_TEST

START_TEST(itera_validation_split_quality)
{
    assert_itera_validation_split(ITERA_DATA "/tokenizer_quality.json", 54, 120941);
}
END_TEST

START_TEST(itera_validation_split_char)
{
    sq_tokenizer *tok = load_ok(ITERA_DATA "/tokenizer_tiny.json");
    sq_data_spec val = {.path = ITERA_DATA "/tinystories_train.txt", .format = "text", .start = 0.9, .end = 1.0};
    int32_t *ids = NULL;
    size_t count = 0, unknown = 0;
    int64_t total = 0;
    ck_assert_int_eq(sq_data_load_tokens(&val, tok, 42, &ids, &count), SQ_OK);
    for (size_t i = 0; i < count; i++) {
        unknown += ids[i] == 1;
        total += ids[i];
    }
    ck_assert_uint_eq(count, 15281);
    ck_assert_uint_eq(unknown, 439);
    ck_assert_int_eq(total, 173968);
    free(ids);
    sq_tokenizer_free(tok);
}
END_TEST

START_TEST(text_fraction_counts_characters_and_newlines_as_python)
{
    const char *path;
    sq_tokenizer *tok = load_ok(ITERA_DATA "/tokenizer_tiny.json");
    int32_t *ids = NULL;
    size_t count = 0;
    work_dir_make();
    path = work_path("utf8.txt");
    /* Python reads "é\r\nab\rcd" as "é\nab\ncd": 7 characters; int(0.5 * 7) = 3,
     * so [0.5, 1) is "b\ncd" -> b (30), '\n' (unknown 1), c (15), d (16). */
    write_file(path, "\xc3\xa9\r\nab\rcd", 9);
    sq_data_spec spec = {.path = path, .format = "text", .start = 0.5, .end = 1.0};
    ck_assert_int_eq(sq_data_load_tokens(&spec, tok, 42, &ids, &count), SQ_OK);
    static const int32_t want[] = {30, 1, 15, 16};
    assert_ids(ids, count, want, 4);
    free(ids);

    /* The bytes tokenizer keeps raw bytes: fraction by bytes, int(0.5 * 9) = 4 -> "ab\rcd". */
    sq_tokenizer *bytes = load_ok("bytes");
    ck_assert_int_eq(sq_data_load_tokens(&spec, bytes, 256, &ids, &count), SQ_OK);
    static const int32_t want_bytes[] = {'a', 'b', '\r', 'c', 'd'};
    assert_ids(ids, count, want_bytes, 5);
    free(ids);

    /* A zeroed range means the whole file. */
    sq_data_spec whole = {.path = path};
    ck_assert_int_eq(sq_data_load_tokens(&whole, bytes, 256, &ids, &count), SQ_OK);
    ck_assert_uint_eq(count, 9);
    free(ids);

    /* Bytes outside a smaller model vocabulary: position named. */
    ck_assert_int_eq(sq_data_load_tokens(&whole, bytes, 128, &ids, &count), SQ_ERR_INPUT);
    assert_message_has("position 0");
    ck_assert_ptr_null(ids);
    sq_tokenizer_free(bytes);
    sq_tokenizer_free(tok);
    work_dir_remove();
}
END_TEST

START_TEST(u16_and_u32_bin_files)
{
    const char *path16, *path32;
    int32_t *ids = NULL;
    size_t count = 0;
    work_dir_make();
    path16 = work_path("tokens.u16.bin");
    path32 = work_path("tokens.u32.bin");
    /* little endian: 1, 258, 65535, 7 and 5, 70000, 2 */
    const unsigned char u16[] = {1, 0, 2, 1, 0xff, 0xff, 7, 0};
    const unsigned char u32[] = {5, 0, 0, 0, 0x70, 0x11, 0x01, 0, 2, 0, 0, 0};
    write_file(path16, u16, sizeof(u16));
    write_file(path32, u32, sizeof(u32));

    sq_data_spec s16 = {.path = path16, .format = "u16", .start = 0.0, .end = 1.0};
    ck_assert_int_eq(sq_data_load_tokens(&s16, NULL, 0, &ids, &count), SQ_OK);
    static const int32_t want16[] = {1, 258, 65535, 7};
    assert_ids(ids, count, want16, 4);
    free(ids);
    /* [0.5, 1) of 4 tokens = the last two */
    s16.start = 0.5;
    ck_assert_int_eq(sq_data_load_tokens(&s16, NULL, 65536, &ids, &count), SQ_OK);
    assert_ids(ids, count, want16 + 2, 2);
    free(ids);
    /* 65535 at position 2 is outside a 50257 vocabulary */
    s16.start = 0.0;
    ck_assert_int_eq(sq_data_load_tokens(&s16, NULL, 50257, &ids, &count), SQ_ERR_INPUT);
    assert_message_has("position 2");
    assert_message_has("65535");
    ck_assert_ptr_null(ids);

    sq_data_spec s32 = {.path = path32, .format = "u32", .start = 0.0, .end = 1.0};
    ck_assert_int_eq(sq_data_load_tokens(&s32, NULL, 100000, &ids, &count), SQ_OK);
    static const int32_t want32[] = {5, 70000, 2};
    assert_ids(ids, count, want32, 3);
    free(ids);
    ck_assert_int_eq(sq_data_load_tokens(&s32, NULL, 70000, &ids, &count), SQ_ERR_INPUT);
    assert_message_has("position 1");

    /* 7 bytes are not whole uint16 values */
    write_file(path16, u16, 7);
    ck_assert_int_eq(sq_data_load_tokens(&s16, NULL, 0, &ids, &count), SQ_ERR_INPUT);
    assert_message_has("not a multiple of 2");
    work_dir_remove();
}
END_TEST

static void write_h5(const char *path, const char *name, hid_t type, const void *data, hsize_t n)
{
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(ds, 0);
    ck_assert_int_ge(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Dclose(ds);
    H5Sclose(space);
    H5Fclose(file);
}

START_TEST(hdf5_token_files)
{
    const char *path;
    int32_t *ids = NULL;
    size_t count = 0;
    work_dir_make();
    path = work_path("tokens.h5");

    /* default dataset name "tokens", 16-bit signed */
    const int16_t small[] = {3, 1, 4, 1, 5, 9, 2, 6};
    write_h5(path, "tokens", H5T_NATIVE_INT16, small, 8);
    sq_data_spec spec = {.path = path, .format = "hdf5"};
    ck_assert_msg(sq_data_load_tokens(&spec, NULL, 10, &ids, &count) == SQ_OK, "%s", sq_error_message());
    static const int32_t want[] = {3, 1, 4, 1, 5, 9, 2, 6};
    assert_ids(ids, count, want, 8);
    free(ids);
    /* 9 at position 5 is outside vocab 9 */
    ck_assert_int_eq(sq_data_load_tokens(&spec, NULL, 9, &ids, &count), SQ_ERR_INPUT);
    assert_message_has("position 5");

    /* a named uint8 dataset, the last quarter */
    const uint8_t bytes[] = {10, 20, 30, 40, 50, 60, 70, 80};
    write_h5(path, "ids", H5T_NATIVE_UINT8, bytes, 8);
    sq_data_spec named = {.path = path, .format = "hdf5", .dataset = "ids", .start = 0.75, .end = 1.0};
    ck_assert_int_eq(sq_data_load_tokens(&named, NULL, 256, &ids, &count), SQ_OK);
    static const int32_t want_tail[] = {70, 80};
    assert_ids(ids, count, want_tail, 2);
    free(ids);
    /* no dataset "tokens" in that file */
    ck_assert_int_eq(sq_data_load_tokens(&spec, NULL, 256, &ids, &count), SQ_ERR_INPUT);
    assert_message_has("tokens");

    /* a negative id names its position */
    const int32_t negative[] = {0, 1, -4, 2};
    write_h5(path, "tokens", H5T_NATIVE_INT32, negative, 4);
    ck_assert_int_eq(sq_data_load_tokens(&spec, NULL, 256, &ids, &count), SQ_ERR_INPUT);
    assert_message_has("position 2");
    ck_assert_ptr_null(ids);

    /* floats are not token ids */
    const float floats[] = {1.0f, 2.0f};
    write_h5(path, "tokens", H5T_NATIVE_FLOAT, floats, 2);
    ck_assert_int_eq(sq_data_load_tokens(&spec, NULL, 256, &ids, &count), SQ_ERR_INPUT);
    assert_message_has("integer");
    work_dir_remove();
}
END_TEST

START_TEST(bundled_validation_text_as_bytes)
{
    /* The bundled default models' validation split (tests/data/bundled/README.md). */
    sq_tokenizer *tok = load_ok("bytes");
    sq_data_spec val = {.path = SQ_TEST_DATA "/bundled/austen_val.txt", .format = "text"};
    int32_t *ids = NULL;
    size_t count = 0;
    ck_assert_msg(sq_data_load_tokens(&val, tok, 256, &ids, &count) == SQ_OK, "%s", sq_error_message());
    ck_assert_uint_eq(count, 201205);
    ck_assert_int_eq(ids[0], 't');          /* "time upon a head naturally clear" */
    ck_assert_int_eq(ids[count - 1], '\n'); /* "Finis\n" */
    free(ids);
    sq_tokenizer_free(tok);
}
END_TEST

START_TEST(bad_specs_are_usage_errors)
{
    int32_t *ids = NULL;
    size_t count = 0;
    sq_data_spec no_tokenizer = {.path = ITERA_DATA "/tinystories_train.txt", .format = "text"};
    ck_assert_int_eq(sq_data_load_tokens(&no_tokenizer, NULL, 0, &ids, &count), SQ_ERR_USAGE);
    sq_data_spec bad_format = {.path = ITERA_DATA "/tinystories_train.txt", .format = "parquet"};
    ck_assert_int_eq(sq_data_load_tokens(&bad_format, NULL, 0, &ids, &count), SQ_ERR_USAGE);
    sq_data_spec bad_range = {.path = ITERA_DATA "/tinystories_train.txt", .format = "u16", .start = 0.9,
                              .end = 0.5};
    ck_assert_int_eq(sq_data_load_tokens(&bad_range, NULL, 0, &ids, &count), SQ_ERR_USAGE);
    sq_data_spec missing = {.path = SQ_TEST_DATA "/no/such/file.bin", .format = "u16"};
    ck_assert_int_eq(sq_data_load_tokens(&missing, NULL, 0, &ids, &count), SQ_ERR_INPUT);
    ck_assert_ptr_null(ids);
}
END_TEST

int main(void)
{
    const sq_test_case cases[] = {
        {.name = "tokenizers", .tests = SQ_TESTS(bytes_round_trip, word_tokenizer_2000_matches_python,
                                                 word_tokenizer_quality_matches_python,
                                                 word_tokenizer_empty_and_blank_text, char_tokenizer_matches_python,
                                                 invalid_utf8_is_refused, invalid_json_is_refused)},
        {.name = "data", .tests = SQ_TESTS(itera_validation_split_2000, itera_validation_split_quality,
                                           itera_validation_split_char,
                                           text_fraction_counts_characters_and_newlines_as_python,
                                           u16_and_u32_bin_files, hdf5_token_files, bundled_validation_text_as_bytes,
                                           bad_specs_are_usage_errors)},
    };
    return sq_test_run(sq_test_suite("tokenize", cases, sizeof cases / sizeof *cases));
}
