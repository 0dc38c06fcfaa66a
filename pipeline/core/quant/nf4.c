/* nf4.c - bitsandbytes NF4 (QLoRA), byte-compatible with quantize_4bit(quant_type="nf4").
 *
 * The tensor is flattened and cut into blocks of block_size elements (32..4096,
 * a power of two; default 64); the last block may be partial.  Each block keeps
 * its fp32 absmax; each value x becomes the NF4 code nearest to x * (1/absmax),
 * chosen by the decision tree of csrc/kernels.cu::dQuantizeNF4 (thresholds are
 * the midpoints between codes, compared with `>`).  Two codes per byte, the
 * first element in the HIGH nibble (byte k = q[2k] << 4 | q[2k+1]); an odd
 * element count pads the last low nibble with the code of 0.0 (7), as the
 * kernel's zero-filled load does.  Dequantization: x = code[q] * absmax.
 *
 * A block of zeros has absmax 0.  bitsandbytes then scales by 1/0 = inf, gets
 * NaN and the tree (and the torch backend's argmin) yields code 0; we store
 * the same code 0 without dividing, and 0 * code[0] brings zeros back.
 *
 * Double quantization (compress_statistics=True in functional.py::quantize_4bit):
 * offset = mean(absmax); the centred absmax values go through
 * quantize_blockwise(blocksize=256) with the signed 8-bit dynamic map of
 * create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): one fp32
 * nested absmax per 256 blocks, each value the index of the map entry nearest
 * to clamp(a * (1/nested_absmax), -1, 1) (backends/default/ops.py, argmin: the
 * first index on a tie).  absmax = map[q] * nested_absmax[i/256] + offset.
 * The mean is summed in double and rounded once to fp32 (torch sums fp32 in
 * its own order, which can differ in the last bit).
 *
 * Buffers: "packed" u8 [ceil(n/2)], and "absmax" f32 [blocks] or "absmax_q" u8
 * [blocks] + "nested_absmax" f32 [ceil(blocks/256)].  Attrs: block_size,
 * double_quant, nested_offset, nested_block_size (256).  The dynamic map is
 * rebuilt on load, not stored (1 KiB per tensor would outweigh small tensors).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/format.h"
#include "quant/nf4_codes.h"
#include "quant/quant_common.h"

#define NF4_DEFAULT_BLOCK 64
#define NESTED_BLOCK 256

/* functional.py::get_4bit_type("nf4"), also csrc/kernels.cu::nf4_dequantization_lut. */
const float sq_nf4_code[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

/* csrc/kernels.cu::dQuantizeNF4, branch for branch (NaN falls through to 0). */
uint8_t sq_nf4_encode(float x)
{
    if (x > 0.03979014977812767f) {
        if (x > 0.3893125355243683f) {
            if (x > 0.6427869200706482f)
                return x > 0.8614784181118011f ? 0xf : 0xe;
            return x > 0.5016634166240692f ? 0xd : 0xc;
        }
        if (x > 0.2035212516784668f)
            return x > 0.2920137718319893f ? 0xb : 0xa;
        return x > 0.1202552504837513f ? 0x9 : 0x8;
    }
    if (x > -0.33967943489551544f) {
        if (x > -0.13791173323988914f)
            return x > -0.045525018125772476f ? 0x7 : 0x6;
        return x > -0.23460740596055984f ? 0x5 : 0x4;
    }
    if (x > -0.6106329262256622f)
        return x > -0.4599952697753906f ? 0x3 : 0x2;
    return x > -0.8480964004993439f ? 0x1 : 0x0;
}

/* torch.linspace(start, end, steps) for float32 as torch's x86-64 AVX2 kernel
 * computes it (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp, with
 * cpu_serial_kernel_vec): step = (end - start) / (steps - 1) in float; an index
 * below steps/2 counts from start, the others back from end.  Values go 16 at a
 * time as two 8-lane vectors: base = one fused multiply-add, lane j =
 * base + j*step (product rounded, then the sum); the tail (< 16) is scalar, one
 * fused multiply-add each.  This reproduces torch.linspace bit for bit for the
 * sizes the dynamic map uses; other torch builds (no FMA, AVX-512) may differ
 * in the last bit of a few map entries, so bitsandbytes' map is not unique. */
static float linspace_scalar(float start, float end, float step, int steps, int i)
{
    return i < steps / 2 ? fmaf(step, (float)i, start) : fmaf(-step, (float)(steps - i - 1), end);
}

static void linspace_f32(float start, float end, int steps, float *out)
{
    float step = (end - start) / (float)(steps - 1);
    int i = 0;
    for (; i + 16 <= steps; i += 16) {
        for (int vector = i; vector < i + 16; vector += 8) {
            float base = linspace_scalar(start, end, step, steps, vector);
            out[vector] = base;
            for (int lane = 1; lane < 8; lane++) {
                volatile float lane_offset = (float)lane * step; /* rounded apart: no contraction into an FMA */
                out[vector + lane] = base + lane_offset;
            }
        }
    }
    for (; i < steps; i++)
        out[i] = linspace_scalar(start, end, step, steps, i);
}

static int compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* functional.py::create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8),
 * in float32 as torch computes it: for exponent i = 0..6 the 2^i midpoints of
 * linspace(0.1, 1, 2^i + 1), scaled by 10^(i-6), with both signs; then 0 and 1;
 * sorted.  additional_items = 2^(7-7) - 1 = 0 for this configuration. */
void sq_nf4_dynamic_map(float map[256])
{
    const int max_exponent_bits = 7, total_bits = 8;
    const int non_sign_bits = total_bits - 1;
    float boundaries[(1 << 6) + 1];
    int n = 0;
    for (int i = 0; i < max_exponent_bits; i++) {
        int fraction_items = (1 << (i + non_sign_bits - max_exponent_bits)) + 1;
        float scale = (float)pow(10.0, (double)(-(max_exponent_bits - 1) + i));
        linspace_f32(0.1f, 1.0f, fraction_items, boundaries);
        for (int k = 0; k + 1 < fraction_items; k++) {
            float mean = (boundaries[k] + boundaries[k + 1]) / 2.0f;
            map[n++] = scale * mean;
            map[n++] = -scale * mean;
        }
    }
    map[n++] = 0.0f;
    map[n++] = 1.0f;
    qsort(map, (size_t)n, sizeof *map, compare_float);
}

/* quantize_blockwise's choice (backends/default/ops.py): the first index of
 * the smallest |x - map[k]|. */
static uint8_t dynamic_encode(const float map[256], float x)
{
    int best = 0;
    float best_distance = fabsf(x - map[0]);
    for (int k = 1; k < 256; k++) {
        float distance = fabsf(x - map[k]);
        if (distance < best_distance) {
            best_distance = distance;
            best = k;
        }
    }
    return (uint8_t)best;
}

/* The attributes nf4 stores, named once for the writer and the reader. */
static const char attr_block_size[] = "block_size";
static const char attr_double_quant[] = "double_quant";
static const char attr_nested_offset[] = "nested_offset";
static const char attr_nested_block_size[] = "nested_block_size";

/* bitsandbytes' block sizes: 32, 64, ..., 4096. */
static bool valid_block_size(int size) { return size >= 32 && size <= 4096 && (size & (size - 1)) == 0; }

static sq_status block_size_option(const char *tensor_name, const sq_quant_options *options, int *block_size)
{
    int size = options && options->block_size ? options->block_size : NF4_DEFAULT_BLOCK;
    if (!valid_block_size(size))
        return sq_fail(SQ_ERR_USAGE, "tensor '%s': nf4 block_size %d is not one of bitsandbytes' sizes "
                       "32, 64, 128, ..., 4096 (a power of two); 64 is the default", tensor_name, size);
    *block_size = size;
    return SQ_OK;
}

/* max |v[i]| over [begin, end): the absmax of one block (and of one nested block of absmaxes). */
static float range_absmax(const float *v, int64_t begin, int64_t end)
{
    float amax = 0.0f;
    for (int64_t i = begin; i < end; i++)
        amax = fmaxf(amax, fabsf(v[i]));
    return amax;
}

static sq_status nf4_quantize(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                              const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out)
{
    (void)calib; /* in the shared signature, unused here */
    sq_status st = SQ_OK;
    int block_size = NF4_DEFAULT_BLOCK;
    int64_t n = rows * cols;
    int64_t blocks = 0, packed_count = (n + 1) / 2;
    uint8_t *packed = NULL;
    float *absmax = NULL;
    bool double_quant = options && options->double_quant;

    sq_quant_begin(out, tensor_name, "nf4", rows, cols);
    SQ_TRY(block_size_option(tensor_name, options, &block_size));
    SQ_TRY(sq_quant_check_finite(tensor_name, values, rows, cols));
    blocks = (n + block_size - 1) / block_size;
    SQ_TRY(sq_qtensor_add_buffer(out, "packed", SQ_DTYPE_U8, 1, &packed_count, (void **)&packed));
    if (double_quant)
        SQ_TRY(sq_alloc(&absmax, (size_t)blocks, sizeof *absmax, tensor_name));
    else
        SQ_TRY(sq_qtensor_add_buffer(out, "absmax", SQ_DTYPE_F32, 1, &blocks, (void **)&absmax));

    for (int64_t b = 0; b < blocks; b++) {
        int64_t begin = b * block_size, end = begin + block_size < n ? begin + block_size : n;
        float amax = range_absmax(values, begin, end);
        absmax[b] = amax;
        /* kQuantizeBlockwise multiplies by the reciprocal, it does not divide. */
        float inverse = amax > 0.0f ? 1.0f / amax : 0.0f;
        for (int64_t i = begin; i < end; i++) {
            uint8_t code = amax > 0.0f ? sq_nf4_encode(fminf(1.0f, fmaxf(-1.0f, values[i] * inverse))) : 0;
            if (i % 2 == 0)
                packed[i / 2] = (uint8_t)(code << 4);
            else
                packed[i / 2] |= code;
        }
    }
    if (n % 2 == 1)
        packed[n / 2] |= sq_nf4_encode(0.0f);

    if (double_quant) {
        float map[256];
        double sum = 0.0;
        int64_t nested_count = (blocks + NESTED_BLOCK - 1) / NESTED_BLOCK;
        uint8_t *absmax_q = NULL;
        float *nested = NULL;
        sq_nf4_dynamic_map(map);
        for (int64_t b = 0; b < blocks; b++)
            sum += absmax[b];
        float offset = (float)(sum / (double)blocks);
        SQ_TRY(sq_qtensor_add_buffer(out, "absmax_q", SQ_DTYPE_U8, 1, &blocks, (void **)&absmax_q));
        SQ_TRY(sq_qtensor_add_buffer(out, "nested_absmax", SQ_DTYPE_F32, 1, &nested_count, (void **)&nested));
        for (int64_t b = 0; b < blocks; b++)
            absmax[b] -= offset;
        for (int64_t j = 0; j < nested_count; j++) {
            int64_t begin = j * NESTED_BLOCK, end = begin + NESTED_BLOCK < blocks ? begin + NESTED_BLOCK : blocks;
            float amax = range_absmax(absmax, begin, end);
            nested[j] = amax;
            float inverse = amax > 0.0f ? 1.0f / amax : 0.0f;
            for (int64_t b = begin; b < end; b++)
                absmax_q[b] = amax > 0.0f ? dynamic_encode(map, fminf(1.0f, fmaxf(-1.0f, absmax[b] * inverse))) : 0;
        }
        sq_qtensor_set_attr(out, attr_nested_offset, offset);
        sq_qtensor_set_attr(out, attr_nested_block_size, NESTED_BLOCK);
    }
    sq_qtensor_set_attr(out, attr_block_size, block_size);
    sq_qtensor_set_attr(out, attr_double_quant, double_quant ? 1.0 : 0.0);
cleanup:
    if (double_quant)
        free(absmax);
    return sq_quant_end(out, st);
}

static sq_status nf4_dequantize(const sq_qtensor *qt, float *out)
{
    sq_status st = SQ_OK;
    int64_t n = sq_qtensor_numel(qt);
    int block_size = 0;
    int64_t blocks;
    bool double_quant = false;
    const sq_qbuffer *packed, *absmax_buffer;
    float *absmax = NULL;

    SQ_TRY(sq_qtensor_attr_int(qt, attr_block_size, &block_size));
    SQ_TRY(sq_qtensor_attr_flag(qt, attr_double_quant, &double_quant));
    if (!valid_block_size(block_size))
        return sq_fail(SQ_ERR_INPUT, "tensor '%s': stored nf4 block_size %d is invalid", qt->name, block_size);
    blocks = (n + block_size - 1) / block_size;
    SQ_TRY(sq_qtensor_require_buffer(qt, "packed", SQ_DTYPE_U8, (n + 1) / 2, &packed));
    SQ_TRY(sq_alloc(&absmax, (size_t)blocks, sizeof *absmax, qt->name));
    if (double_quant) {
        const sq_qbuffer *absmax_q, *nested;
        float map[256];
        double stored_offset;
        SQ_TRY(sq_qtensor_attr_real(qt, attr_nested_offset, &stored_offset));
        float offset = (float)stored_offset;
        SQ_TRY(sq_qtensor_require_buffer(qt, "absmax_q", SQ_DTYPE_U8, blocks, &absmax_q));
        SQ_TRY(sq_qtensor_require_buffer(qt, "nested_absmax", SQ_DTYPE_F32, (blocks + NESTED_BLOCK - 1) / NESTED_BLOCK,
                                       &nested));
        sq_nf4_dynamic_map(map);
        const uint8_t *q = absmax_q->data;
        const float *nested_absmax = nested->data;
        /* dequantize_blockwise(absmax_q, state2) + offset, both in fp32. */
        for (int64_t b = 0; b < blocks; b++) {
            float scaled = map[q[b]] * nested_absmax[b / NESTED_BLOCK];
            absmax[b] = scaled + offset;
        }
    } else {
        SQ_TRY(sq_qtensor_require_buffer(qt, "absmax", SQ_DTYPE_F32, blocks, &absmax_buffer));
        memcpy(absmax, absmax_buffer->data, (size_t)blocks * sizeof *absmax);
    }
    const uint8_t *bytes = packed->data;
    for (int64_t i = 0; i < n; i++) {
        uint8_t code = i % 2 == 0 ? bytes[i / 2] >> 4 : bytes[i / 2] & 0xf;
        out[i] = sq_nf4_code[code] * absmax[i / block_size];
    }
cleanup:
    free(absmax);
    return st;
}

static const sq_format_option nf4_options[] = {
    SQ_FORMAT_OPTION("block_size", SQ_OPTION_INT, block_size, NF4_DEFAULT_BLOCK, 1, 1 << 20,
                     "values per absmax: 32..4096, a power of two"),
    SQ_FORMAT_OPTION("double_quant", SQ_OPTION_BOOL, double_quant, 0, 0, 1,
                     "quantize the absmax values to 8 bits too (bitsandbytes compress_statistics)"),
    {.name = NULL},
};

const sq_quant_format sq_format_nf4 = {
    .name = "nf4",
    .description = "bitsandbytes NF4: 4-bit normal-float codes, fp32 absmax per block of 64 "
                   "(optionally double-quantized to 8 bits)",
    .format_class = SQ_FORMAT_CLASS_LOWBIT,
    .bits_per_weight = 4.5,
    .block_size = NF4_DEFAULT_BLOCK,
    .calibration = SQ_CALIB_NONE,
    .options = nf4_options,
    .quantize = nf4_quantize,
    .dequantize = nf4_dequantize,
};
