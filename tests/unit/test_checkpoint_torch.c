/* test_checkpoint_torch.c - PyTorch zip checkpoints, the restricted unpickler,
 * format dispatch, and hostile inputs (which must fail cleanly and run nothing).
 *
 * Fixtures: the .pt files in tests/data/checkpoints/ from tests/reference/make_checkpoints.py
 * (torch 1.13); the real Itera-Lite checkpoint in tests/data/itera-lite/.
 * Hostile archives are built here with libzip from hand-written pickle bytes.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "artifact/artifact.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/pickle.h"
#include "modelio/loader.h"
#include "modelio/model_file.h"
#include "pickle_support.h"
#include "test_support.h"

#define FIXTURE(name) SQ_TEST_DATA "/checkpoints/" name
#define ITERA SQ_TEST_DATA "/itera-lite/itera_lite_micro_distilled.pt"

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static float f32_at(const sq_tensor *t, size_t i) { return ((const float *)t->data)[i]; }

/* ---- building hostile archives ---- */

typedef struct {
    const char *name;
    const void *data;
    size_t size;
} zip_item;

static void write_zip(const char *path, const zip_item *items, int count)
{
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    ck_assert_ptr_nonnull(z);
    for (int i = 0; i < count; i++) {
        zip_source_t *src = zip_source_buffer(z, items[i].data, items[i].size, 0);
        ck_assert_ptr_nonnull(src);
        ck_assert_int_ge(zip_file_add(z, items[i].name, src, ZIP_FL_OVERWRITE), 0);
    }
    ck_assert_int_eq(zip_close(z), 0);
}

static const float two_floats[2] = {1.5f, -2.5f};

/* An archive whose data.pkl is b and whose storage 'archive/data/0' holds two floats. */
static void write_checkpoint(const char *path, const byte_buf *b)
{
    zip_item items[] = {{"archive/data.pkl", b->bytes, b->n},
                        {"archive/byteorder", "little", 6},
                        {"archive/data/0", two_floats, sizeof two_floats}};
    write_zip(path, items, 3);
}

/* b as a checkpoint in a fresh work folder: reading it must fail with an input error
 * whose message contains needle. */
static void assert_pickle_refused(const byte_buf *b, const char *needle)
{
    sq_tensor_set set;
    work_dir_make();
    write_checkpoint(work_path("hostile.pt"), b);
    assert_error(sq_checkpoint_read(work_path("hostile.pt"), &set), needle);
    work_dir_remove();
}

/* The tensor name of the set, which must be there with this dtype. */
static const sq_tensor *must_find_of(const sq_tensor_set *set, const char *name, sq_dtype dtype)
{
    const sq_tensor *t = must_find(set, name);
    ck_assert_int_eq(t->dtype, dtype);
    return t;
}

/* An archive whose data.pkl is an empty dict, beside the entry `entry` holding data:
 * reading it must fail with an input error whose message contains needle. */
static void assert_archive_refused(const char *file, const char *entry, const char *data, const char *needle)
{
    sq_tensor_set set;
    byte_buf b = {0};
    pk_begin_dict(&b);
    put_byte(&b, '.');
    zip_item items[] = {{"archive/data.pkl", b.bytes, b.n}, {entry, data, strlen(data)}};
    work_dir_make();
    write_zip(work_path(file), items, 2);
    free(b.bytes);
    assert_error(sq_checkpoint_read(work_path(file), &set), needle);
    work_dir_remove();
}

/* ================= reading real checkpoints ================= */

START_TEST(test_plain_state_dict)
{
    sq_tensor_set set;
    const sq_tensor *t;
    read_ok(sq_torch_read, FIXTURE("plain_state_dict.pt"), &set, 3);
    ck_assert_str_eq(set.tensors[0].name, "emb.weight");
    ck_assert_str_eq(set.tensors[1].name, "lin.weight");
    ck_assert_str_eq(set.tensors[2].name, "lin.bias");
    ck_assert_str_eq(set.source_format, "pytorch-zip");
    ck_assert_str_eq(set.source_path, FIXTURE("plain_state_dict.pt"));
    ck_assert_uint_eq(set.meta_count, 0);
    t = must_find_of(&set, "emb.weight", SQ_DTYPE_F32);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_int_eq(t->shape[0], 5);
    ck_assert_int_eq(t->shape[1], 4);
    ck_assert_uint_eq(t->nbytes, 80);
    for (int i = 0; i < 20; i++)
        ck_assert_float_eq(f32_at(t, (size_t)i), i * 0.5f);
    t = must_find(&set, "lin.weight");
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(f32_at(t, (size_t)i), i * 0.25f - 1.0f);
    t = must_find(&set, "lin.bias");
    ck_assert_float_eq(f32_at(t, 0), 0.5f);
    ck_assert_float_eq(f32_at(t, 1), -0.5f);
    ck_assert_float_eq(f32_at(t, 2), 1.5f);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_every_dtype)
{
    sq_tensor_set set;
    const sq_tensor *t;
    read_ok(sq_checkpoint_read, FIXTURE("dtypes.pt"), &set, 9);
    t = must_find_of(&set, "h", SQ_DTYPE_F16);
    ck_assert_int_eq(t->shape[0], 2);
    ck_assert_int_eq(t->shape[1], 3);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(sq_f16_to_f32(((const uint16_t *)t->data)[i]), i * 0.5f);
    t = must_find_of(&set, "b", SQ_DTYPE_BF16);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(sq_bf16_to_f32(((const uint16_t *)t->data)[i]), i * 0.25f - 0.5f);
    t = must_find_of(&set, "d", SQ_DTYPE_F64);
    ck_assert(((const double *)t->data)[0] == 1.0 / 3);
    ck_assert(((const double *)t->data)[1] == 2.0 / 3);
    t = must_find_of(&set, "l", SQ_DTYPE_I64);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(((const int64_t *)t->data)[i], i - 2);
    t = must_find_of(&set, "i", SQ_DTYPE_I32);
    ck_assert_int_eq(((const int32_t *)t->data)[1], -7);
    t = must_find_of(&set, "s", SQ_DTYPE_I16);
    ck_assert_int_eq(((const int16_t *)t->data)[1], -300);
    t = must_find_of(&set, "c", SQ_DTYPE_I8);
    ck_assert_int_eq(((const int8_t *)t->data)[0], -128);
    t = must_find_of(&set, "u", SQ_DTYPE_U8);
    ck_assert_int_eq(((const uint8_t *)t->data)[1], 255);
    t = must_find_of(&set, "flag", SQ_DTYPE_BOOL);
    ck_assert_int_eq(((const uint8_t *)t->data)[0], 1);
    ck_assert_int_eq(((const uint8_t *)t->data)[1], 0);
    ck_assert_int_eq(((const uint8_t *)t->data)[2], 1);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_nested_wrappers_and_meta)
{
    sq_tensor_set set;
    const char *config;
    read_ok(sq_torch_read, FIXTURE("nested.pt"), &set, 1);
    ck_assert_float_eq(f32_at(must_find(&set, "w"), 3), 3.0f);
    ck_assert_str_eq(sq_tensor_set_meta(&set, "epoch"), "7");
    ck_assert_str_eq(sq_tensor_set_meta(&set, "model.arch"), "'tiny-mlp'");
    config = sq_tensor_set_meta(&set, "config");
    ck_assert_ptr_nonnull(config);
    /* Python's own repr of the dict, float and bool spellings included */
    ck_assert_str_eq(config, "{'vocab_size': 2000, 'hidden_size': 64, 'eps': 1e-05, 'name': 'micro', "
                             "'moe_layers': [1, 3], 'tied': True}");
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_tied_weights_and_views)
{
    sq_tensor_set set;
    const sq_tensor *t;
    read_ok(sq_torch_read, FIXTURE("tied_views.pt"), &set, 8);
    t = must_find(&set, "embedding.weight");
    ck_assert_ptr_null(t->alias_of);
    ck_assert_float_eq(f32_at(t, 7), 107.0f);
    t = must_find(&set, "lm_head.weight");
    ck_assert_str_eq(t->alias_of, "embedding.weight");
    ck_assert_ptr_null(t->data);
    ck_assert_uint_eq(t->nbytes, 32);
    ck_assert_ptr_eq(sq_tensor_set_resolve(&set, t), must_find(&set, "embedding.weight"));
    /* views of one storage: same key, different size/stride/offset, so copies */
    t = must_find(&set, "base");
    ck_assert_ptr_null(t->alias_of);
    t = must_find(&set, "transposed");
    ck_assert_ptr_null(t->alias_of);
    ck_assert_int_eq(t->shape[0], 4);
    ck_assert_int_eq(t->shape[1], 3);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            ck_assert_float_eq(f32_at(t, (size_t)(i * 3 + j)), (float)(j * 4 + i));
    t = must_find(&set, "row_slice");
    ck_assert_int_eq(t->shape[0], 2);
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq(f32_at(t, (size_t)i), (float)(i + 4));
    t = must_find(&set, "col_slice");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            ck_assert_float_eq(f32_at(t, (size_t)(i * 2 + j)), (float)(i * 4 + j + 1));
    t = must_find(&set, "scalar");
    ck_assert_int_eq(t->ndim, 0);
    ck_assert_float_eq(f32_at(t, 0), 2.5f);
    t = must_find(&set, "empty");
    ck_assert_int_eq(t->shape[0], 0);
    ck_assert_int_eq(t->shape[1], 4);
    ck_assert_uint_eq(t->nbytes, 0);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_custom_class_config_is_opaque)
{
    sq_tensor_set set;
    read_ok(sq_torch_read, FIXTURE("custom_config.pt"), &set, 1);
    ck_assert_str_eq(sq_tensor_set_meta(&set, "config"),
                     "<opaque models.config.IteraLiteConfig(vocab_size=2000, hidden_size=64, num_layers=4)>");
    ck_assert_str_eq(sq_tensor_set_meta(&set, "compression_ratio"), "3.5");
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_torchscript_archive)
{
    sq_tensor_set set;
    const sq_tensor *t;
    read_ok(sq_checkpoint_read, FIXTURE("torchscript.pt"), &set, 3);
    ck_assert_str_eq(set.source_format, "torchscript");
    t = must_find(&set, "lin.weight");
    ck_assert_int_eq(t->shape[0], 2);
    ck_assert_int_eq(t->shape[1], 3);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(f32_at(t, (size_t)i), (float)i);
    ck_assert_float_eq(f32_at(must_find(&set, "lin.bias"), 0), -1.0f);
    t = must_find(&set, "emb.weight");
    ck_assert_float_eq(f32_at(t, 11), -5.5f);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_itera_lite_checkpoint)
{
    sq_tensor_set set;
    const sq_tensor *t;
    uint32_t bits;
    read_ok(sq_checkpoint_read, ITERA, &set, 61);
    ck_assert_str_eq(set.source_format, "pytorch-zip");
    t = must_find_of(&set, "embedding.weight", SQ_DTYPE_F32);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_int_eq(t->shape[0], 2000);
    ck_assert_int_eq(t->shape[1], 64);
    /* element values as torch.load prints them (bit patterns, exact) */
    memcpy(&bits, &((const float *)t->data)[0], 4);
    ck_assert_uint_eq(bits, 0x3db5c0f2u);
    memcpy(&bits, &((const float *)t->data)[1999 * 64 + 63], 4);
    ck_assert_uint_eq(bits, 0x3deef882u);
    t = must_find(&set, "layers.1.moe.layer.router.gate.weight");
    memcpy(&bits, &((const float *)t->data)[3 * 64 + 63], 4);
    ck_assert_uint_eq(bits, 0xbd1c2a44u);
    t = must_find(&set, "layers.2.ssm.conv1d.weight");
    ck_assert_int_eq(t->ndim, 3);
    memcpy(&bits, &((const float *)t->data)[127 * 4 + 3], 4);
    ck_assert_uint_eq(bits, 0xbd8421cdu);
    t = must_find(&set, "lm_head.weight");
    ck_assert_str_eq(t->alias_of, "embedding.weight");
    ck_assert_ptr_null(t->data);
    ck_assert_str_eq(sq_tensor_set_meta(&set, "compression_ratio"), "3.8088647941809466");
    ck_assert_uint_eq(set.meta_count, 1);
    sq_tensor_set_free(&set);
}
END_TEST

/* ================= dispatch ================= */

START_TEST(test_legacy_format_refused)
{
    sq_tensor_set set;
    assert_error(sq_checkpoint_read(FIXTURE("legacy.pt"), &set), "legacy torch.save format (torch < 1.6)");
    assert_message_has("legacy.pt");
    assert_message_has("re-save with torch >= 1.6");
    ck_assert_uint_eq(set.count, 0);
}
END_TEST

START_TEST(test_unknown_format_refused)
{
    sq_tensor_set set;
    FILE *f;
    work_dir_make();
    f = fopen(work_path("notes.txt"), "w");
    fputs("hello, not a checkpoint\n", f);
    fclose(f);
    assert_error(sq_checkpoint_read(work_path("notes.txt"), &set), "is not a format squeeze reads");
    assert_message_has("notes.txt");
    assert_error(sq_checkpoint_read(work_path("missing.pt"), &set), "cannot open checkpoint");
    work_dir_remove();
}
END_TEST

START_TEST(test_squeeze_hdf5_round_trip)
{
    sq_tensor_set set, back;
    sq_qtensor *qt = NULL;
    size_t count = 0;
    sq_model_config cfg;
    sq_artifact_writer writer;
    sq_artifact_meta meta = {.kind = "inspect", .config_sha256 = "", .plan_key = "", .mpi_ranks = 1};
    work_dir_make();
    ck_assert_int_eq(sq_checkpoint_read(FIXTURE("plain_state_dict.pt"), &set), SQ_OK);
    ck_assert_int_eq(sq_model_baseline_qtensors(&set, &qt, &count), SQ_OK);
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.family, sizeof cfg.family, "itera");
    cfg.vocab_size = 5;
    cfg.hidden_size = 4;
    cfg.num_layers = 1;
    ck_assert_int_eq(sq_artifact_create(&writer, work_path("model.h5"), &meta), SQ_OK);
    ck_assert_int_eq(sq_model_file_write(writer.file, &cfg, qt, count), SQ_OK);
    ck_assert_int_eq(sq_artifact_commit(&writer), SQ_OK);
    ck_assert_msg(sq_checkpoint_read(work_path("model.h5"), &back) == SQ_OK, "%s", sq_error_message());
    ck_assert_str_eq(back.source_format, "squeeze-hdf5");
    ck_assert_uint_eq(back.count, 3);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(f32_at(must_find(&back, "lin.weight"), (size_t)i), i * 0.25f - 1.0f);
    sq_tensor_set_free(&back);
    /* an HDF5 file that is not a squeeze artifact is named and refused */
    assert_error(sq_checkpoint_read(SQ_TEST_DATA "/golden/micro.h5", &back), "micro.h5");
    for (size_t i = 0; i < count; i++)
        sq_qtensor_free(&qt[i]);
    free(qt);
    sq_tensor_set_free(&set);
    work_dir_remove();
}
END_TEST

/* ================= damaged and hostile inputs ================= */

START_TEST(test_truncated_zip)
{
    sq_tensor_set set;
    FILE *in = fopen(FIXTURE("plain_state_dict.pt"), "rb"), *out;
    unsigned char buf[4096];
    size_t n;
    work_dir_make();
    ck_assert_ptr_nonnull(in);
    n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    out = fopen(work_path("cut.pt"), "wb");
    fwrite(buf, 1, n * 2 / 3, out); /* the central directory is lost */
    fclose(out);
    assert_error(sq_checkpoint_read(work_path("cut.pt"), &set), "not a readable zip archive");
    assert_message_has("cut.pt");
    work_dir_remove();
}
END_TEST

START_TEST(test_zip_without_data_pkl)
{
    sq_tensor_set set;
    zip_item items[] = {{"archive/readme.txt", "hello", 5}};
    work_dir_make();
    write_zip(work_path("nopkl.pt"), items, 1);
    assert_error(sq_checkpoint_read(work_path("nopkl.pt"), &set), "without <archive>/data.pkl");
    work_dir_remove();
}
END_TEST

START_TEST(test_zip_entry_with_dotdot)
{
    assert_archive_refused("dotdot.pt", "archive/../../evil.sh", "echo", "'archive/../../evil.sh'");
    assert_message_has("'..' component");
}
END_TEST

START_TEST(test_unknown_opcode)
{
    byte_buf b = {0};
    pk_begin_dict(&b);
    put_byte(&b, 0xff);
    put_byte(&b, '.');
    assert_pickle_refused(&b, "unknown pickle opcode 0xff at offset 3");
    free(b.bytes);
}
END_TEST

START_TEST(test_truncated_pickle)
{
    byte_buf b = {0};
    put_byte(&b, 0x80);
    put_byte(&b, 2);
    put_byte(&b, 'X'); /* a string claiming 4 GB */
    put(&b, "\xff\xff\xff\xff" "abc", 7);
    assert_pickle_refused(&b, "truncated pickle");
    free(b.bytes);
}
END_TEST

/* {'state_dict': {'w': tensor}, 'hook': os.system('touch <marker>')}: the call is
 * recorded as an opaque object, never made. */
START_TEST(test_os_system_is_never_run)
{
    sq_tensor_set set;
    byte_buf b = {0};
    char command[600];
    const char *hook;
    work_dir_make();
    snprintf(command, sizeof command, "touch %s", work_path("os_system_ran"));
    pk_begin_dict(&b);
    put_byte(&b, '(');
    pk_str(&b, "state_dict");
    put_byte(&b, '}');
    pk_str(&b, "w");
    pk_tensor(&b, "_rebuild_tensor_v2", "0", 2, 2, 1);
    put_byte(&b, 's');
    pk_str(&b, "hook");
    pk_global(&b, "os", "system");
    pk_str(&b, command);
    put_byte(&b, 0x85);
    put_byte(&b, 'R');
    put_byte(&b, 'u');
    put_byte(&b, '.');
    write_checkpoint(work_path("system.pt"), &b);
    free(b.bytes);
    ck_assert_int_eq(sq_checkpoint_read(work_path("system.pt"), &set), SQ_OK);
    ck_assert(!file_exists(work_path("os_system_ran")));
    ck_assert_uint_eq(set.count, 1);
    ck_assert_float_eq(f32_at(must_find(&set, "w"), 1), -2.5f);
    hook = sq_tensor_set_meta(&set, "hook");
    ck_assert_ptr_nonnull(hook);
    ck_assert_msg(strncmp(hook, "<opaque os.system('touch ", 25) == 0, "%s", hook);
    sq_tensor_set_free(&set);
    work_dir_remove();
}
END_TEST

/* builtins.eval("open(marker, 'w')") as the whole pickle: nothing to read, nothing run. */
START_TEST(test_builtins_eval_is_never_run)
{
    sq_tensor_set set;
    byte_buf b = {0};
    char code[600];
    work_dir_make();
    snprintf(code, sizeof code, "open('%s', 'w')", work_path("eval_ran"));
    put_byte(&b, 0x80);
    put_byte(&b, 4);
    put_byte(&b, 0x8c); /* SHORT_BINUNICODE + STACK_GLOBAL, as protocol 4 spells it */
    put_byte(&b, 8);
    put(&b, "builtins", 8);
    put_byte(&b, 0x94);
    put_byte(&b, 0x8c);
    put_byte(&b, 4);
    put(&b, "eval", 4);
    put_byte(&b, 0x94);
    put_byte(&b, 0x93);
    pk_str(&b, code);
    put_byte(&b, 0x85);
    put_byte(&b, 'R');
    put_byte(&b, '.');
    write_checkpoint(work_path("eval.pt"), &b);
    free(b.bytes);
    assert_error(sq_checkpoint_read(work_path("eval.pt"), &set), "no tensors found");
    assert_message_has("<opaque builtins.eval(");
    ck_assert(!file_exists(work_path("eval_ran")));
    work_dir_remove();
}
END_TEST

START_TEST(test_quantized_tensor_refused)
{
    byte_buf b = {0};
    pk_one_tensor_dict(&b, "q.weight", "_rebuild_qtensor", "0", 2, 2, 1);
    assert_pickle_refused(&b, "not supported: quantized tensor 'q.weight'");
    free(b.bytes);
}
END_TEST

START_TEST(test_tensor_beyond_storage)
{
    byte_buf b = {0};
    pk_one_tensor_dict(&b, "w", "_rebuild_tensor_v2", "0", 2, 9, 1); /* 9 elements of a 2-element storage */
    assert_pickle_refused(&b, "tensor 'w' reaches element 8");
    free(b.bytes);
}
END_TEST

START_TEST(test_storage_key_with_path)
{
    byte_buf b = {0};
    pk_one_tensor_dict(&b, "w", "_rebuild_tensor_v2", "../0", 2, 2, 1);
    assert_pickle_refused(&b, "storage key '../0' is not a plain name");
    free(b.bytes);
}
END_TEST

START_TEST(test_big_endian_refused)
{
    assert_archive_refused("big.pt", "archive/byteorder", "big", "big-endian");
}
END_TEST

/* A list that contains itself prints with a bounded depth instead of recursing forever. */
START_TEST(test_cyclic_pickle_prints_bounded)
{
    sq_tensor_set set;
    byte_buf b = {0};
    const char *loop;
    pk_begin_dict(&b);
    pk_str(&b, "w");
    pk_tensor(&b, "_rebuild_tensor_v2", "0", 2, 2, 1);
    put_byte(&b, 's');
    pk_str(&b, "loop");
    put_byte(&b, ']');
    put_byte(&b, 'q');
    put_byte(&b, 0);
    put_byte(&b, 'h');
    put_byte(&b, 0);
    put_byte(&b, 'a'); /* L.append(L) */
    put_byte(&b, 's');
    put_byte(&b, '.');
    work_dir_make();
    write_checkpoint(work_path("cycle.pt"), &b);
    free(b.bytes);
    ck_assert_int_eq(sq_checkpoint_read(work_path("cycle.pt"), &set), SQ_OK);
    loop = sq_tensor_set_meta(&set, "loop");
    ck_assert_ptr_nonnull(loop);
    ck_assert_msg(strncmp(loop, "[[[[", 4) == 0 && strstr(loop, "...") != NULL, "%s", loop);
    sq_tensor_set_free(&set);
    work_dir_remove();
}
END_TEST

/* Every prefix of a real pickle is a truncated pickle: each must fail cleanly. */
START_TEST(test_every_truncation_of_a_pickle_fails_cleanly)
{
    zip_t *z;
    zip_stat_t zs;
    zip_file_t *f;
    unsigned char *bytes;
    int err = 0;
    z = zip_open(FIXTURE("tied_views.pt"), ZIP_RDONLY, &err);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(zip_stat(z, "tied_views/data.pkl", 0, &zs), 0);
    bytes = malloc(zs.size);
    f = zip_fopen(z, "tied_views/data.pkl", 0);
    ck_assert_int_eq(zip_fread(f, bytes, zs.size), (zip_int64_t)zs.size);
    zip_fclose(f);
    zip_discard(z);
    for (size_t n = 0; n + 1 < zs.size; n++) {
        sq_pickle *pk = NULL;
        const sq_pickle_value *root = NULL;
        sq_status st = sq_pickle_load(bytes, n, "prefix", &pk, &root);
        ck_assert_msg(st == SQ_ERR_INPUT, "prefix of %zu bytes gave %d", n, st);
        ck_assert_ptr_null(pk);
    }
    {
        sq_pickle *pk = NULL;
        const sq_pickle_value *root = NULL;
        ck_assert_int_eq(sq_pickle_load(bytes, zs.size, "whole", &pk, &root), SQ_OK);
        ck_assert_int_eq(root->kind, SQ_PK_DICT);
        ck_assert_uint_eq(root->count, 8);
        sq_pickle_free(pk);
    }
    free(bytes);
}
END_TEST

int main(void)
{
    const sq_test_case cases[] = {
        {.name = "read", .tests = SQ_TESTS(test_plain_state_dict, test_every_dtype, test_nested_wrappers_and_meta,
                                           test_tied_weights_and_views, test_custom_class_config_is_opaque,
                                           test_torchscript_archive, test_itera_lite_checkpoint)},
        {.name = "dispatch", .tests = SQ_TESTS(test_legacy_format_refused, test_unknown_format_refused,
                                               test_squeeze_hdf5_round_trip)},
        {.name = "hostile", .tests = SQ_TESTS(test_truncated_zip, test_zip_without_data_pkl, test_zip_entry_with_dotdot,
                                              test_unknown_opcode, test_truncated_pickle, test_os_system_is_never_run,
                                              test_builtins_eval_is_never_run, test_quantized_tensor_refused,
                                              test_tensor_beyond_storage, test_storage_key_with_path,
                                              test_big_endian_refused, test_cyclic_pickle_prints_bounded,
                                              test_every_truncation_of_a_pickle_fails_cleanly)},
    };
    return sq_test_run(sq_test_suite("checkpoint_torch", cases, sizeof cases / sizeof *cases));
}
