/* test_model_file.c - squeeze's HDF5 model form: plain, raw, quantized and aliased
 * tensors written, read back exactly, readable as HDF5; wrong kind or schema
 * version refused with a message naming both. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifact/artifact.h"
#include "modelio/loader.h"
#include "modelio/model_file.h"
#include "quant/format.h"
#include "test_support.h"

static char folder[] = "/tmp/sq_model_file_XXXXXX";

static void test_config(sq_model_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->family, sizeof cfg->family, "itera");
    cfg->vocab_size = 4;
    cfg->hidden_size = 3;
    cfg->num_layers = 1;
    cfg->max_seq_length = 8;
    cfg->layer_norm_eps = 1e-5;
    cfg->moe_layer_count = 1;
    cfg->moe_layers[0] = 0;
}

/* A plain qtensor with one "data" buffer of dtype holding `bytes`. */
static void plain(sq_qtensor *qt, const char *name, const char *format, sq_dtype dtype, int ndim,
                  const int64_t *shape, const void *bytes)
{
    void *data = NULL;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    sq_qtensor_init(qt, name, format, dtype, ndim, shape);
    ck_assert_int_eq(sq_qtensor_add_buffer(qt, "data", dtype, ndim, shape, &data), SQ_OK);
    memcpy(data, bytes, (size_t)n * sq_dtype_size(dtype));
}

static void alias(sq_qtensor *qt, const char *name, const char *of, int ndim, const int64_t *shape)
{
    sq_qtensor_init(qt, name, "fp32", SQ_DTYPE_F32, ndim, shape);
    qt->alias_of = strdup(of);
}

static void free_all(sq_qtensor *qts, int count)
{
    for (int i = 0; i < count; i++)
        sq_qtensor_free(&qts[i]);
}

/* Writes the tensors as /model of a committed artifact of `kind` at path. */
static sq_status write_model(const char *path, const char *kind, const sq_qtensor *qts, size_t count)
{
    sq_artifact_writer writer;
    sq_artifact_meta meta = {.kind = kind, .config_sha256 = "", .plan_key = "", .mpi_ranks = 1};
    sq_model_config cfg;
    sq_status st;
    test_config(&cfg);
    ck_assert_int_eq(sq_artifact_create(&writer, path, &meta), SQ_OK);
    st = sq_model_file_write(writer.file, &cfg, qts, count);
    if (st != SQ_OK) {
        sq_artifact_abort(&writer);
        return st;
    }
    return sq_artifact_commit(&writer);
}

/* f32, f16, bf16, an alias of the f32 tensor, an int64 buffer, a bool mask. */
static const float f32_values[6] = {1.5f, -2.25f, 3.0e-8f, 65504.0f, -0.0f, 7.0f};
static const uint16_t f16_bits[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};  /* 1, -2, smallest subnormal, 65504 */
static const uint16_t bf16_bits[4] = {0x3f80, 0xbf00, 0x4049, 0x0000}; /* 1, -0.5, 3.140625, 0 */
static const int64_t i64_values[3] = {9007199254740993LL, -1, 42};     /* 2^53 + 1: not exact in fp32 or fp64 */
static const uint8_t bool_values[2] = {1, 0};

static int build_plain_set(sq_qtensor *qts)
{
    const int64_t s23[2] = {2, 3}, s4[1] = {4}, s22[2] = {2, 2}, s3[1] = {3}, s2[1] = {2};
    plain(&qts[0], "layers.0.w.weight", "fp32", SQ_DTYPE_F32, 2, s23, f32_values);
    plain(&qts[1], "half.bias", "fp16", SQ_DTYPE_F16, 1, s4, f16_bits);
    plain(&qts[2], "brain.weight", "bf16", SQ_DTYPE_BF16, 2, s22, bf16_bits);
    alias(&qts[3], "lm_head.weight", "layers.0.w.weight", 2, s23);
    plain(&qts[4], "step.count", "raw", SQ_DTYPE_I64, 1, s3, i64_values);
    plain(&qts[5], "mask", "raw", SQ_DTYPE_BOOL, 1, s2, bool_values);
    return 6;
}

START_TEST(plain_raw_and_alias_round_trip)
{
    char path[256];
    sq_qtensor qts[6];
    int count = build_plain_set(qts);
    sq_model_config cfg;
    sq_tensor_set set;
    uint64_t stored = 0;
    hid_t file;
    const sq_tensor *t;

    snprintf(path, sizeof path, "%s/plain.h5", folder);
    ck_assert_int_eq(write_model(path, "model", qts, (size_t)count), SQ_OK);
    free_all(qts, count);

    ck_assert_int_eq(sq_artifact_open(path, "model", &file), SQ_OK);
    ck_assert_int_eq(sq_model_file_read(file, &cfg, &set, &stored), SQ_OK);
    H5Fclose(file);
    ck_assert_str_eq(cfg.family, "itera");
    ck_assert_int_eq(cfg.vocab_size, 4);
    ck_assert_int_eq((int)set.count, 6);
    /* order kept */
    ck_assert_str_eq(set.tensors[0].name, "layers.0.w.weight");
    ck_assert_str_eq(set.tensors[5].name, "mask");
    /* 24 (f32 [2,3]) + 8 (f16 [4]) + 8 (bf16 [2,2]) + 24 (i64 [3]) + 2 (bool [2]); the alias adds nothing */
    ck_assert_uint_eq(stored, 66);

    t = sq_tensor_set_find(&set, "layers.0.w.weight");
    ck_assert_int_eq(t->dtype, SQ_DTYPE_F32);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_int_eq(t->shape[1], 3);
    ck_assert_mem_eq(t->data, f32_values, sizeof f32_values);

    t = sq_tensor_set_find(&set, "half.bias");
    ck_assert_int_eq(t->dtype, SQ_DTYPE_F32); /* dequantized to fp32 */
    ck_assert_float_eq(((float *)t->data)[0], 1.0f);
    ck_assert_float_eq(((float *)t->data)[1], -2.0f);
    ck_assert_float_eq(((float *)t->data)[2], ldexpf(1.0f, -24));
    ck_assert_float_eq(((float *)t->data)[3], 65504.0f);

    t = sq_tensor_set_find(&set, "brain.weight");
    ck_assert_float_eq(((float *)t->data)[1], -0.5f);
    ck_assert_float_eq(((float *)t->data)[2], 3.140625f);

    t = sq_tensor_set_find(&set, "lm_head.weight");
    ck_assert_ptr_nonnull(t->alias_of);
    ck_assert_str_eq(t->alias_of, "layers.0.w.weight");
    ck_assert_ptr_null(t->data);
    ck_assert_int_eq(t->shape[0], 2);

    t = sq_tensor_set_find(&set, "step.count");
    ck_assert_int_eq(t->dtype, SQ_DTYPE_I64); /* raw keeps its dtype and every bit */
    ck_assert_mem_eq(t->data, i64_values, sizeof i64_values);
    t = sq_tensor_set_find(&set, "mask");
    ck_assert_int_eq(t->dtype, SQ_DTYPE_BOOL);
    ck_assert_mem_eq(t->data, bool_values, sizeof bool_values);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(hdf5_layout_as_documented)
{
    char path[256], *text = NULL;
    sq_qtensor qts[6];
    int count = build_plain_set(qts);
    hid_t file, dataset, type;
    int64_t tensor_count = 0, shape[8];
    int ndim = 0;
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t a, b;
#else
    H5O_info_t a, b;
#endif

    snprintf(path, sizeof path, "%s/layout.h5", folder);
    ck_assert_int_eq(write_model(path, "model", qts, (size_t)count), SQ_OK);
    free_all(qts, count);
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    hid_t model = H5Gopen2(file, "model", H5P_DEFAULT);
    ck_assert_int_eq(sq_h5_read_attr_string(model, "family", &text), SQ_OK);
    ck_assert_str_eq(text, "itera");
    free(text);
    ck_assert_int_eq(sq_h5_read_attr_string(model, "config_json", &text), SQ_OK);
    ck_assert_ptr_nonnull(strstr(text, "\"vocab_size\":4"));
    free(text);
    ck_assert_int_eq(sq_h5_read_attr_int(model, "tensor_count", &tensor_count), SQ_OK);
    ck_assert_int_eq(tensor_count, 6);
    ck_assert_int_eq(sq_h5_read_attr_string(model, "aliases", &text), SQ_OK);
    ck_assert_str_eq(text, "lm_head.weight=layers.0.w.weight\n");
    free(text);
    H5Gclose(model);

    /* f32 little-endian IEEE */
    dataset = H5Dopen2(file, "model/tensors/layers.0.w.weight", H5P_DEFAULT);
    type = H5Dget_type(dataset);
    ck_assert(H5Tequal(type, H5T_IEEE_F32LE) > 0);
    ck_assert_int_eq(sq_h5_read_attr_ints(dataset, "shape", shape, 8, &ndim), SQ_OK);
    ck_assert_int_eq(ndim, 2);
    ck_assert_int_eq(shape[0], 2);
    ck_assert_int_eq(sq_h5_read_attr_string(dataset, "format", &text), SQ_OK);
    ck_assert_str_eq(text, "fp32");
    free(text);
    ck_assert(sq_h5_has_attr(dataset, "original_dtype"));
    H5Tclose(type);
    H5Dclose(dataset);

    /* f16: a 2-byte IEEE float (h5py: float16), not an integer */
    dataset = H5Dopen2(file, "model/tensors/half.bias", H5P_DEFAULT);
    type = H5Dget_type(dataset);
    ck_assert_int_eq(H5Tget_class(type), H5T_FLOAT);
    ck_assert_int_eq((int)H5Tget_size(type), 2);
    H5Tclose(type);
    H5Dclose(dataset);

    /* bf16: u16 bits with format bf16 */
    dataset = H5Dopen2(file, "model/tensors/brain.weight", H5P_DEFAULT);
    type = H5Dget_type(dataset);
    ck_assert(H5Tequal(type, H5T_STD_U16LE) > 0);
    ck_assert_int_eq(sq_h5_read_attr_string(dataset, "format", &text), SQ_OK);
    ck_assert_str_eq(text, "bf16");
    free(text);
    H5Tclose(type);
    H5Dclose(dataset);

    /* raw int64 */
    dataset = H5Dopen2(file, "model/tensors/step.count", H5P_DEFAULT);
    type = H5Dget_type(dataset);
    ck_assert(H5Tequal(type, H5T_STD_I64LE) > 0);
    H5Tclose(type);
    H5Dclose(dataset);

    /* the alias is a hard link: one object, two names */
#if H5_VERSION_GE(1, 12, 0)
    ck_assert_int_ge(H5Oget_info_by_name3(file, "model/tensors/lm_head.weight", &a, H5O_INFO_BASIC, H5P_DEFAULT), 0);
    ck_assert_int_ge(H5Oget_info_by_name3(file, "model/tensors/layers.0.w.weight", &b, H5O_INFO_BASIC, H5P_DEFAULT), 0);
    ck_assert_int_eq(memcmp(&a.token, &b.token, sizeof a.token), 0);
#else
    ck_assert_int_ge(H5Oget_info_by_name2(file, "model/tensors/lm_head.weight", &a, H5O_INFO_BASIC, H5P_DEFAULT), 0);
    ck_assert_int_ge(H5Oget_info_by_name2(file, "model/tensors/layers.0.w.weight", &b, H5O_INFO_BASIC, H5P_DEFAULT), 0);
    ck_assert(a.addr == b.addr);
#endif
    ck_assert_uint_eq(a.rc, 2);
    H5Fclose(file);
}
END_TEST

START_TEST(quantized_tensor_round_trip_through_registry)
{
    char path[256];
    const sq_quant_format *int8 = sq_quant_format_find("int8");
    sq_quant_options options;
    sq_qtensor qts[2];
    float weights[4 * 8], expected[4 * 8];
    const int64_t shape[2] = {4, 8};
    sq_model_config cfg;
    sq_tensor_set set;
    uint64_t stored = 0;
    hid_t file, group;
    char *text = NULL;

    ck_assert_ptr_nonnull(int8);
    for (int i = 0; i < 32; i++)
        weights[i] = sinf((float)i * 0.7f) * (float)(1 + i % 5);
    sq_quant_options_default(&options);
    ck_assert_int_eq(int8->quantize("q.weight", weights, 4, 8, &options, NULL, &qts[0]), SQ_OK);
    ck_assert_int_eq(int8->dequantize(&qts[0], expected), SQ_OK);
    alias(&qts[1], "tied.weight", "q.weight", 2, shape);

    snprintf(path, sizeof path, "%s/quant.h5", folder);
    ck_assert_int_eq(write_model(path, "model", qts, 2), SQ_OK);
    /* the stored bytes are the buffers' bytes: q (i8 [4,8]) + scales (f32 [4]) */
    ck_assert_uint_eq(sq_qtensor_bytes(&qts[0]), 32 + 16);
    free_all(qts, 2);

    ck_assert_int_eq(sq_artifact_open(path, "model", &file), SQ_OK);
    group = H5Gopen2(file, "model/tensors/q.weight", H5P_DEFAULT);
    ck_assert_int_ge(group, 0); /* a quantized tensor is a group */
    ck_assert_int_eq(sq_h5_read_attr_string(group, "format", &text), SQ_OK);
    ck_assert_str_eq(text, "int8");
    free(text);
    ck_assert(sq_h5_has_attr(group, "original_dtype"));
    ck_assert(sq_h5_has_attr(group, "shape"));
    ck_assert(sq_h5_exists(group, "q"));
    ck_assert(sq_h5_exists(group, "scales"));
    H5Gclose(group);
    ck_assert_int_eq(sq_model_file_read(file, &cfg, &set, &stored), SQ_OK);
    H5Fclose(file);
    ck_assert_uint_eq(stored, 48);
    ck_assert_int_eq((int)set.count, 2);
    ck_assert_mem_eq(set.tensors[0].data, expected, sizeof expected);
    ck_assert_str_eq(set.tensors[1].alias_of, "q.weight");
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(unknown_format_is_an_input_error_naming_it)
{
    char path[256];
    sq_qtensor qt;
    const int64_t shape[1] = {4};
    void *data = NULL;
    sq_model_config cfg;
    sq_tensor_set set;
    hid_t file;
    sq_qtensor_init(&qt, "odd.weight", "zz9", SQ_DTYPE_F32, 1, shape);
    ck_assert_int_eq(sq_qtensor_add_buffer(&qt, "packed", SQ_DTYPE_U8, 1, shape, &data), SQ_OK);
    snprintf(path, sizeof path, "%s/odd.h5", folder);
    ck_assert_int_eq(write_model(path, "model", &qt, 1), SQ_OK);
    sq_qtensor_free(&qt);
    ck_assert_int_eq(sq_artifact_open(path, "model", &file), SQ_OK);
    ck_assert_int_eq(sq_model_file_read(file, &cfg, &set, NULL), SQ_ERR_INPUT);
    H5Fclose(file);
    assert_message_has("zz9");
    assert_message_has("odd.weight");
    assert_message_has("nf4"); /* lists the known formats */
}
END_TEST

START_TEST(bad_tensors_are_refused_on_write)
{
    char path[256];
    sq_qtensor qt;
    const int64_t shape[1] = {2};
    const float values[2] = {1, 2};

    /* a '/' would make HDF5 groups out of the name */
    plain(&qt, "a/b", "fp32", SQ_DTYPE_F32, 1, shape, values);
    snprintf(path, sizeof path, "%s/slash.h5", folder);
    ck_assert_int_eq(write_model(path, "model", &qt, 1), SQ_ERR_INPUT);
    assert_message_has("a/b");
    ck_assert_int_ne(access(path, F_OK), 0); /* aborted: nothing left */
    sq_qtensor_free(&qt);

    /* a tensor labelled fp16 holding fp32 data (the seed's "INT8 stored as FP16" in reverse) */
    plain(&qt, "w", "fp16", SQ_DTYPE_F32, 1, shape, values);
    snprintf(path, sizeof path, "%s/label.h5", folder);
    ck_assert_int_eq(write_model(path, "model", &qt, 1), SQ_ERR_RUN);
    assert_message_has("fp16");
    sq_qtensor_free(&qt);

    /* an alias of a tensor the model does not hold */
    alias(&qt, "lm_head.weight", "embedding.weight", 1, shape);
    snprintf(path, sizeof path, "%s/dangling.h5", folder);
    ck_assert_int_eq(write_model(path, "model", &qt, 1), SQ_ERR_RUN);
    assert_message_has("embedding.weight");
    sq_qtensor_free(&qt);
}
END_TEST

START_TEST(baseline_converts_floats_and_keeps_raw)
{
    sq_tensor_set set;
    sq_qtensor *qts = NULL;
    size_t count = 0;
    const int64_t s2[1] = {2};
    uint16_t *half = malloc(2 * sizeof *half);
    int64_t *counter = malloc(2 * sizeof *counter);
    half[0] = 0x3555; /* 0.333251953125 */
    half[1] = 0xfc00; /* -inf stays -inf */
    counter[0] = 9007199254740993LL;
    counter[1] = 7;
    sq_tensor_set_init(&set);
    ck_assert_int_eq(sq_tensor_set_add(&set, "embedding.weight", SQ_DTYPE_F16, 1, s2, half, NULL), SQ_OK);
    ck_assert_int_eq(sq_tensor_set_add(&set, "steps", SQ_DTYPE_I64, 1, s2, counter, NULL), SQ_OK);
    ck_assert_int_eq(sq_tensor_set_add(&set, "lm_head.weight", SQ_DTYPE_F16, 1, s2, NULL, "embedding.weight"), SQ_OK);
    ck_assert_int_eq(sq_model_baseline_qtensors(&set, &qts, &count), SQ_OK);
    ck_assert_uint_eq(count, 3);
    ck_assert_str_eq(qts[0].format, "fp32");
    ck_assert_int_eq(qts[0].original_dtype, SQ_DTYPE_F16);
    ck_assert_int_eq(qts[0].buffers[0].dtype, SQ_DTYPE_F32);
    ck_assert_float_eq(((float *)qts[0].buffers[0].data)[0], 0.333251953125f);
    ck_assert(isinf(((float *)qts[0].buffers[0].data)[1]));
    ck_assert_str_eq(qts[1].format, "raw");
    ck_assert_int_eq(qts[1].buffers[0].dtype, SQ_DTYPE_I64);
    ck_assert_mem_eq(qts[1].buffers[0].data, counter, 2 * sizeof *counter);
    ck_assert_str_eq(qts[2].alias_of, "embedding.weight");
    ck_assert_int_eq(qts[2].buffer_count, 0);
    ck_assert_uint_eq(sq_qtensor_bytes(&qts[2]), 0);
    for (size_t i = 0; i < count; i++)
        sq_qtensor_free(&qts[i]);
    free(qts);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(wrong_kind_and_schema_version_are_refused)
{
    char path[256];
    sq_qtensor qts[6];
    int count = build_plain_set(qts);
    hid_t file;
    sq_loaded_model loaded;
    int64_t future = SQ_SCHEMA_VERSION + 98;

    snprintf(path, sizeof path, "%s/calib.h5", folder);
    ck_assert_int_eq(write_model(path, "calibration", qts, (size_t)count), SQ_OK);
    free_all(qts, count);

    /* a stage that wants a model artifact names both kinds */
    ck_assert_int_eq(sq_artifact_open(path, "model", &file), SQ_ERR_INPUT);
    assert_message_has("'calibration'");
    assert_message_has("'model'");
    /* the loader takes inspect and model artifacts only */
    ck_assert_int_eq(sq_model_load(path, NULL, NULL, &loaded), SQ_ERR_INPUT);
    assert_message_has("'calibration'");
    assert_message_has("inspect");

    /* a file from a future schema names both versions */
    file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_eq(sq_h5_write_attr_int(file, "schema_version", future), SQ_OK);
    H5Fclose(file);
    ck_assert_int_eq(sq_artifact_open(path, "calibration", &file), SQ_ERR_INPUT);
    assert_message_has("schema_version 99");
    assert_message_has("schema_version 1");
}
END_TEST

START_TEST(damaged_alias_table_is_detected)
{
    char path[256];
    sq_qtensor qts[6];
    int count = build_plain_set(qts);
    hid_t file, model;
    sq_model_config cfg;
    sq_tensor_set set;

    snprintf(path, sizeof path, "%s/damaged.h5", folder);
    ck_assert_int_eq(write_model(path, "model", qts, (size_t)count), SQ_OK);
    free_all(qts, count);
    /* claim an alias that is not a link to its target */
    file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    model = H5Gopen2(file, "model", H5P_DEFAULT);
    ck_assert_int_eq(sq_h5_write_attr_string(model, "aliases", "lm_head.weight=layers.0.w.weight\nmask=half.bias\n"),
                     SQ_OK);
    H5Gclose(model);
    H5Fclose(file);
    ck_assert_int_eq(sq_artifact_open(path, "model", &file), SQ_OK);
    ck_assert_int_eq(sq_model_file_read(file, &cfg, &set, NULL), SQ_ERR_INPUT);
    H5Fclose(file);
    assert_message_has("'mask'");
}
END_TEST

int main(void)
{
    if (mkdtemp(folder) == NULL)
        return 1;
    const sq_test_case row = {.name = "model_file",
                              .tests = SQ_TESTS(plain_raw_and_alias_round_trip, hdf5_layout_as_documented,
                                                quantized_tensor_round_trip_through_registry,
                                                unknown_format_is_an_input_error_naming_it,
                                                bad_tensors_are_refused_on_write,
                                                baseline_converts_floats_and_keeps_raw,
                                                wrong_kind_and_schema_version_are_refused,
                                                damaged_alias_table_is_detected)};
    int result = sq_test_run_in_order(sq_test_suite("model_file", &row, 1));
    char command[300];
    snprintf(command, sizeof command, "rm -rf %s", folder);
    if (system(command) != 0)
        return 1;
    return result;
}
