/* qgemm.c - y = x W^T with W kept in its quantized storage: int8 per row, and the
 * 4-bit formats (int4 Q4_0/Q4_1-like, bitsandbytes NF4, GPTQ 4- and 3-bit).
 *
 * Activations.  Each token's inputs are cut into blocks of 32 and quantized to
 * int8 with d = absmax / 127, q = round_half_even(x / d) (ggml's Q8_0,
 * ggml-quants.c::quantize_row_q8_0_ref), and the block's integer sum is kept
 * (the offset terms below need it).  The block products are integer dot
 * products, 32 at a time with AVX2's vpmaddubsw (u8 x s8 pairs summed to
 * int16) and vpmaddwd; vpmaddubsw takes one unsigned operand, so as ggml's
 * mul_sum_i8_pairs does we give it |w| and move w's sign onto x (vpsignb), which
 * keeps every pair sum within int16 (127 * 127 * 2 < 32767).
 *
 * int8 (quant/int8.c: w = q s_r):   y = s_r sum_b d_b <q_w, q_x>_b
 * 4-bit: all three are unpacked once, at prepare, into one layout: per row and
 * block of 32 inputs 16 bytes, byte j holding input j in its low nibble and
 * input j + 16 in its high nibble (ggml's block_q4_0 layout), and a 16-entry
 * int8 table turns a nibble into its integer value (vpshufb):
 *   int4 symmetric  w = d_g (q - 8)          table q - 8
 *   int4 asymmetric w = d_g q + m_g          table q,  + m_g sum_b d_b sum(q_x)_b
 *   gptq            w = s_g (q - z_g)        table q,  - s_g z_g sum_b d_b sum(q_x)_b
 *   nf4             w = absmax_b code[q]     table round(127 code[q]), scale absmax / 127
 * NF4's codes are not multiples of 1/127, so its table is the nearest int8 (at
 * most 1/254 of a block's absmax away, an eighth of the smallest gap between
 * two NF4 codes); this is how ggml runs its own non-linear 4-bit format
 * (IQ4_NL, kvalues_iq4nl).  Group scales stay in the stored precision (fp16 for
 * int4 and gptq), so the weights take no more memory than on disk.
 *
 * With fp32 activations (sq_kernel_options) the same kernels decode each block
 * of weights to floats and multiply with the unrounded inputs instead.
 *
 * With AVX-512 VNNI both kinds are rearranged once into panels of 16 rows (4 inputs x 16
 * rows per 64 bytes for int8, stored + 128 as vpdpbusd's unsigned operand; 8 nibbles x 16
 * rows for 4-bit) so that one vpdpbusd multiplies 16 outputs at once by a broadcast group of
 * activation bytes (read from tiles.c's tiles of 8 tokens): the output lanes are rows, no
 * horizontal sums are needed, and the codes keep their size.
 *
 * Layouts a loop here does not take (rows not a multiple of 32 inputs, groups
 * that are not whole 32-blocks, GPTQ act-order or 8-bit) are refused with
 * SQ_ERR_USAGE and run as dequantized fp32 panels (matrix.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels_internal.h"
#include "quant/nf4_codes.h"
#include "tensor/tensor.h"

#define QK 32
/* int8 weights have one scale per row, so the activations' block can be longer than
 * 32 and the integer sums run over it uninterrupted: the largest of 128, 64, 32 that
 * divides the row.  (Per-token scales, as W8A8 schemes use, would be the limit.) */
#define INT8_ACT_BLOCK 128

enum {
    INT8_PANELS = 8,  /* int8 codes in 16-row panels of 4-byte groups (vpdpbusd's layout) */
    Q4_SCALE_F32 = 1, /* scales are floats (nf4) instead of fp16 */
    Q4_MINS = 2,      /* extra: fp16 mins per group (int4 asymmetric) */
    Q4_ZEROS = 4,     /* extra: u8 zero points per group (gptq) */
    Q4_PANELS = 16,   /* 4-bit codes and side arrays in 16-row panels (the AVX-512 VNNI layout) */
};

static sq_status q4_finish(sq_matrix *m, const char *name);

/* The 16-row panels of the AVX-512 VNNI layout, int8 and 4-bit alike: per group of inputs (4
 * int8 codes, or 8 nibbles) 16 rows x 4 bytes; where byte `byte` of row r's group g lies. */
static inline size_t panel16_at(int r, size_t groups, size_t g, int byte)
{
    return (((size_t)(r / 16) * groups + g) * 16 + (size_t)(r % 16)) * 4 + (size_t)byte;
}

/* ---- activations ---------------------------------------------------------- */

/* Quantizes each token's inputs per block of `block` values (a multiple of 32): q, the
 * block's scale and integer sum. */
static void quantize_acts_ref(const float *x, int T, int cols, int block, sq_kernel_work *work)
{
    const int nb = cols / block;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < nb; b++) {
            const size_t at = (size_t)t * cols + (size_t)b * block;
            const float *v = x + at;
            float amax = 0.0f;
            for (int j = 0; j < block; j++)
                amax = fmaxf(amax, fabsf(v[j]));
            const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            int32_t sum = 0;
            for (int j = 0; j < block; j++) {
                work->q[at + j] = (int8_t)nearbyintf(v[j] * id);
                sum += work->q[at + j];
            }
            work->scale[(size_t)t * nb + b] = d;
            work->sum[(size_t)t * nb + b] = sum;
        }
}

/* ---- int8 per row --------------------------------------------------------- */

static sq_status int8_prepare(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m)
{
    sq_status st;
    int rows, cols;
    const sq_qbuffer *q, *scales;
    if ((st = sq_kernel_dims(qt, &rows, &cols)) != SQ_OK ||
        (st = sq_kernel_buffer(qt, "q", SQ_DTYPE_I8, (int64_t)rows * cols, &q)) != SQ_OK ||
        (st = sq_kernel_buffer(qt, "scales", SQ_DTYPE_F32, rows, &scales)) != SQ_OK)
        return st;
    if (cols % QK != 0)
        return sq_fail(SQ_ERR_USAGE, "tensor '%s': %d inputs are not whole blocks of %d", qt->name, cols, QK);
    m->kernel = &sq_kernel_int8_q8;
    m->rows = rows;
    m->cols = cols;
    m->fp32_activations = options->fp32_activations;
    m->group = INT8_ACT_BLOCK;
    while (cols % m->group != 0)
        m->group /= 2;
    const int8_t *src = q->data;
    if (sq_isa_detected() >= SQ_ISA_AVX512 && !options->fp32_activations && m->group % 64 == 0) {
        /* Panels of 16 rows: per group of 4 inputs, 16 rows x 4 bytes, so one vpdpbusd
         * multiplies 16 rows by 4 broadcast activation bytes (the output lanes are rows: no
         * horizontal sums).  The codes are stored + 128, vpdpbusd's unsigned operand, so that
         * the signed activations are the broadcast one (a memory operand of the instruction);
         * the kernel takes the 128 back with the activations' block sums. */
        const size_t panels = ((size_t)rows + 15) / 16, padded = panels * 16;
        uint8_t *codes = NULL;
        float *s = NULL;
        if ((st = sq_alloc(&codes, padded * cols, 1, qt->name)) != SQ_OK ||
            (st = sq_alloc(&s, padded, sizeof *s, qt->name)) != SQ_OK) {
            free(codes);
            return st;
        }
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < cols; k++)
                codes[panel16_at(r, (size_t)cols / 4, (size_t)(k / 4), k % 4)] =
                    (uint8_t)(src[(size_t)r * cols + k] + 128);
        memcpy(s, scales->data, (size_t)rows * sizeof *s);
        m->codes = codes;
        m->scales = s;
        m->flags |= INT8_PANELS;
        m->bytes = padded * cols + padded * sizeof *s;
        return SQ_OK;
    }
    if ((st = sq_alloc(&m->codes, (size_t)rows * cols, 1, qt->name)) != SQ_OK ||
        (st = sq_alloc(&m->scales, (size_t)rows, sizeof(float), qt->name)) != SQ_OK)
        return st;
    memcpy(m->codes, src, (size_t)rows * cols);
    memcpy(m->scales, scales->data, (size_t)rows * sizeof(float));
    m->bytes = (size_t)rows * cols + (size_t)rows * sizeof(float);
    return SQ_OK;
}

/* Weight (r, k) in either layout. */
static inline int8_t int8_at(const sq_matrix *m, int r, int k)
{
    if (m->flags & INT8_PANELS) /* stored + 128 */
        return (int8_t)(((const uint8_t *)m->codes)[panel16_at(r, (size_t)m->cols / 4, (size_t)(k / 4), k % 4)] - 128);
    return ((const int8_t *)m->codes)[(size_t)r * m->cols + k];
}

/* Row r as quant/int8.c dequantizes it: q s_r. */
static void int8_row(const sq_matrix *m, int r, float *out)
{
    const float s = ((const float *)m->scales)[r];
    if (m->flags & INT8_PANELS) { /* 4 inputs of the row every 64 bytes (int8_at's layout), + 128 */
        const uint8_t *at = (const uint8_t *)m->codes + panel16_at(r, (size_t)m->cols / 4, 0, 0);
        for (int k = 0; k < m->cols; k += 4, at += 64)
            for (int j = 0; j < 4; j++)
                out[k + j] = (float)(at[j] - 128) * s;
        return;
    }
    for (int k = 0; k < m->cols; k++)
        out[k] = (float)int8_at(m, r, k) * s;
}

static void int8_ref(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                     sq_kernel_work *work)
{
    const int K = m->cols, ab = m->group, nb = K / ab;
    const float *s = m->scales;
    if (!m->fp32_activations)
        quantize_acts_ref(x, T, K, m->group, work);
    for (int t = 0; t < T; t++)
        for (int r = 0; r < m->rows; r++) {
            float sum = 0.0f;
            if (m->fp32_activations) {
                for (int k = 0; k < K; k++)
                    sum += (float)int8_at(m, r, k) * x[(size_t)t * K + k];
            } else {
                const int8_t *q = work->q + (size_t)t * K;
                for (int b = 0; b < nb; b++) {
                    int32_t dot = 0;
                    for (int j = 0; j < ab; j++)
                        dot += (int32_t)int8_at(m, r, b * ab + j) * q[b * ab + j];
                    sum += (float)dot * work->scale[(size_t)t * nb + b];
                }
            }
            float *out = y + (size_t)t * ldy + r;
            *out = accumulate ? *out + sum * s[r] : sum * s[r];
        }
}

/* ---- 4-bit ------------------------------------------------------------------ */

/* Element (r, c) of a 4-bit matrix as each format stores it. */
typedef int (*nibble_at)(const uint8_t *bytes, int64_t r, int64_t c, int64_t cols, int group);

static int int4_nibble(const uint8_t *bytes, int64_t r, int64_t c, int64_t cols, int group)
{
    /* int4.c: in each group, byte j holds element j (low) and j + group/2 (high) */
    int64_t g = c / group, j = c % group, half = group / 2;
    uint8_t byte = bytes[r * (cols / 2) + g * half + j % half];
    return j < half ? byte & 0x0f : byte >> 4;
}

static int nf4_nibble(const uint8_t *bytes, int64_t r, int64_t c, int64_t cols, int group)
{
    (void)group;
    /* nf4.c: flat index i = r cols + c, the first element of a pair in the high nibble */
    int64_t i = r * cols + c;
    return i % 2 == 0 ? bytes[i / 2] >> 4 : bytes[i / 2] & 0x0f;
}

static int gptq_nibble(const uint8_t *bytes, int64_t r, int64_t c, int64_t cols, int group)
{
    (void)group;
    /* gptq.c: [rows, ceil(cols/2)], the even column in the low nibble */
    uint8_t byte = bytes[r * ((cols + 1) / 2) + c / 2];
    return c % 2 ? byte >> 4 : byte & 0x0f;
}

/* Codes in the kernel layout: row r, block b at (r nb + b) 16, input j in byte j % 16,
 * low nibble for j < 16. */
static sq_status q4_repack(const sq_qtensor *qt, const uint8_t *bytes, nibble_at nibble, int group, sq_matrix *m)
{
    sq_status st;
    const int nb = m->cols / QK;
    uint8_t *out = NULL;
    if ((st = sq_alloc(&out, (size_t)m->rows * nb * 16, 1, qt->name)) != SQ_OK)
        return st;
    for (int64_t r = 0; r < m->rows; r++)
        for (int64_t c = 0; c < m->cols; c++) {
            int j = (int)(c % QK);
            out[(r * nb + c / QK) * 16 + j % 16] |= (uint8_t)(nibble(bytes, r, c, m->cols, group) << (j < 16 ? 0 : 4));
        }
    m->codes = out;
    m->bytes += (size_t)m->rows * nb * 16;
    return SQ_OK;
}

static sq_status copy_buffer(const sq_qbuffer *b, size_t bytes, void **out, size_t *total, const char *what)
{
    sq_status st = sq_alloc(out, bytes, 1, what);
    if (st == SQ_OK) {
        memcpy(*out, b->data, bytes);
        *total += bytes;
    }
    return st;
}

static sq_status q4_begin(const sq_qtensor *qt, const sq_kernel_options *options, const sq_kernel *kernel,
                          int group, sq_matrix *m)
{
    sq_status st;
    int rows, cols;
    if ((st = sq_kernel_dims(qt, &rows, &cols)) != SQ_OK)
        return st;
    if (cols % QK != 0 || group <= 0 || group % QK != 0 || cols % group != 0)
        return sq_fail(SQ_ERR_USAGE, "tensor '%s' (%s): rows of %d inputs in groups of %d are not whole blocks of "
                       "%d", qt->name, qt->format, cols, group, QK);
    m->kernel = kernel;
    m->rows = rows;
    m->cols = cols;
    m->group = group;
    m->fp32_activations = options->fp32_activations;
    m->table_scale = 1.0f;
    for (int q = 0; q < 16; q++)
        m->table[q] = (int8_t)q;
    return SQ_OK;
}

static sq_status int4_prepare(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m)
{
    sq_status st;
    int group = (int)sq_qtensor_attr(qt, "group_size", 32);
    bool asymmetric = sq_qtensor_attr(qt, "asymmetric", 0.0) != 0.0;
    const sq_qbuffer *packed, *scales, *mins;
    if ((st = q4_begin(qt, options, &sq_kernel_int4_q8, group, m)) != SQ_OK)
        return st;
    int64_t groups = (int64_t)m->rows * (m->cols / group);
    if ((st = sq_kernel_buffer(qt, "packed", SQ_DTYPE_U8, (int64_t)m->rows * m->cols / 2, &packed)) != SQ_OK ||
        (st = sq_kernel_buffer(qt, "scales", SQ_DTYPE_F16, groups, &scales)) != SQ_OK ||
        (st = copy_buffer(scales, (size_t)groups * 2, &m->scales, &m->bytes, qt->name)) != SQ_OK)
        return st;
    if (asymmetric) {
        if ((st = sq_kernel_buffer(qt, "mins", SQ_DTYPE_F16, groups, &mins)) != SQ_OK ||
            (st = copy_buffer(mins, (size_t)groups * 2, &m->extra, &m->bytes, qt->name)) != SQ_OK)
            return st;
        m->flags |= Q4_MINS;
    } else {
        for (int q = 0; q < 16; q++)
            m->table[q] = (int8_t)(q - 8);
    }
    if ((st = q4_repack(qt, packed->data, int4_nibble, group, m)) != SQ_OK)
        return st;
    return q4_finish(m, qt->name);
}

static sq_status nf4_prepare(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m)
{
    sq_status st;
    int block = (int)sq_qtensor_attr(qt, "block_size", 64);
    const sq_qbuffer *packed;
    if ((st = q4_begin(qt, options, &sq_kernel_nf4_q8, block, m)) != SQ_OK)
        return st;
    int64_t n = (int64_t)m->rows * m->cols, blocks = n / block;
    if ((st = sq_kernel_buffer(qt, "packed", SQ_DTYPE_U8, (n + 1) / 2, &packed)) != SQ_OK)
        return st;
    /* The absmax of every block, as nf4.c's dequantize decodes it (plain or double-quantized):
     * dequantize a tensor of ones would need the codes; decode the absmax alone instead. */
    float *absmax = NULL;
    if ((st = sq_alloc(&absmax, (size_t)blocks, sizeof *absmax, qt->name)) != SQ_OK)
        return st;
    m->scales = absmax;
    m->bytes += (size_t)blocks * sizeof *absmax;
    m->flags |= Q4_SCALE_F32;
    if (sq_qtensor_attr(qt, "double_quant", 0.0) != 0.0) {
        const sq_qbuffer *absmax_q, *nested;
        int nested_block = (int)sq_qtensor_attr(qt, "nested_block_size", 256);
        float map[256], offset = (float)sq_qtensor_attr(qt, "nested_offset", 0.0);
        if (nested_block <= 0)
            return sq_fail(SQ_ERR_INPUT, "tensor '%s': nested_block_size %d", qt->name, nested_block);
        if ((st = sq_kernel_buffer(qt, "absmax_q", SQ_DTYPE_U8, blocks, &absmax_q)) != SQ_OK ||
            (st = sq_kernel_buffer(qt, "nested_absmax", SQ_DTYPE_F32, (blocks + nested_block - 1) / nested_block,
                                   &nested)) != SQ_OK)
            return st;
        sq_nf4_dynamic_map(map);
        const uint8_t *q = absmax_q->data;
        const float *nested_absmax = nested->data;
        for (int64_t b = 0; b < blocks; b++) { /* nf4.c: map[q] * nested + offset, in fp32 */
            float scaled = map[q[b]] * nested_absmax[b / nested_block];
            absmax[b] = scaled + offset;
        }
    } else {
        const sq_qbuffer *plain;
        if ((st = sq_kernel_buffer(qt, "absmax", SQ_DTYPE_F32, blocks, &plain)) != SQ_OK)
            return st;
        memcpy(absmax, plain->data, (size_t)blocks * sizeof *absmax);
    }
    m->table_scale = 1.0f / 127.0f;
    for (int q = 0; q < 16; q++)
        m->table[q] = (int8_t)lrintf(127.0f * sq_nf4_code[q]);
    if ((st = q4_repack(qt, packed->data, nf4_nibble, block, m)) != SQ_OK)
        return st;
    return q4_finish(m, qt->name);
}

static sq_status gptq_prepare(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m)
{
    sq_status st;
    int bits = (int)sq_qtensor_attr(qt, "bits", 4), rows, cols;
    int group = (int)sq_qtensor_attr(qt, "group_size", -1);
    const sq_qbuffer *qweight, *scales, *zeros;
    if ((st = sq_kernel_dims(qt, &rows, &cols)) != SQ_OK)
        return st;
    if (bits != 3 && bits != 4)
        return sq_fail(SQ_ERR_USAGE, "tensor '%s': gptq with %d bits has no 4-bit kernel", qt->name, bits);
    if (sq_qtensor_attr(qt, "act_order", 0.0) != 0.0)
        return sq_fail(SQ_ERR_USAGE, "tensor '%s': gptq act-order groups are not contiguous", qt->name);
    if (group <= 0 || group >= cols)
        group = cols;
    if ((st = q4_begin(qt, options, &sq_kernel_gptq_q8, group, m)) != SQ_OK)
        return st;
    int64_t groups = (int64_t)rows * (cols / group);
    if ((st = sq_kernel_buffer(qt, "qweight", SQ_DTYPE_U8, (int64_t)rows * ((cols + 1) / 2), &qweight)) != SQ_OK ||
        (st = sq_kernel_buffer(qt, "scales", SQ_DTYPE_F16, groups, &scales)) != SQ_OK ||
        (st = sq_kernel_buffer(qt, "zeros", SQ_DTYPE_U8, groups, &zeros)) != SQ_OK ||
        (st = copy_buffer(scales, (size_t)groups * 2, &m->scales, &m->bytes, qt->name)) != SQ_OK ||
        (st = copy_buffer(zeros, (size_t)groups, &m->extra, &m->bytes, qt->name)) != SQ_OK)
        return st;
    m->flags |= Q4_ZEROS;
    if ((st = q4_repack(qt, qweight->data, gptq_nibble, group, m)) != SQ_OK)
        return st;
    return q4_finish(m, qt->name);
}

/* Where group g of row r keeps its scale (and min or zero): [rows][groups], or in panels
 * [rows/16][groups][16]. */
static inline size_t q4_side(const sq_matrix *m, int r, int g)
{
    const int groups = m->cols / m->group;
    if (m->flags & Q4_PANELS)
        return ((size_t)(r / 16) * groups + (size_t)g) * 16 + (size_t)(r % 16);
    return (size_t)r * groups + (size_t)g;
}

/* The nibble of weight (r, k): ggml's block layout per row, or in panels, per group of 8
 * inputs 16 rows x 4 bytes, byte i of row j holding input 8g + i (low) and 8g + 4 + i (high). */
static inline int q4_code(const sq_matrix *m, int r, int k)
{
    const uint8_t *codes = m->codes;
    if (m->flags & Q4_PANELS) {
        uint8_t byte = codes[panel16_at(r, (size_t)m->cols / 8, (size_t)(k / 8), k % 4)];
        return k % 8 < 4 ? byte & 0x0f : byte >> 4;
    }
    const uint8_t *qs = codes + ((size_t)r * (m->cols / QK) + (size_t)(k / QK)) * 16;
    const int j = k % QK;
    return j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;
}

/* Rearranges a prepared 4-bit matrix into panels of 16 rows for the AVX-512 kernel: the same
 * bytes for the codes, the side arrays moved (rows padded to 16 with zeros). */
static sq_status q4_to_panels(sq_matrix *m, const char *name)
{
    sq_status st = SQ_OK;
    const size_t panels = ((size_t)m->rows + 15) / 16, groups = (size_t)(m->cols / m->group);
    const size_t scale_size = (m->flags & Q4_SCALE_F32) ? 4 : 2, extra_size = (m->flags & Q4_MINS) ? 2 : 1;
    uint8_t *codes = NULL;
    char *scales = NULL, *extra = NULL;
    SQ_TRY(sq_alloc(&codes, panels * 16 * (size_t)m->cols / 2, 1, name));
    SQ_TRY(sq_alloc(&scales, panels * 16 * groups, scale_size, name));
    if (m->extra)
        SQ_TRY(sq_alloc(&extra, panels * 16 * groups, extra_size, name));
    for (int r = 0; r < m->rows; r++) {
        for (int k = 0; k < m->cols; k++) {
            size_t at = panel16_at(r, (size_t)m->cols / 8, (size_t)(k / 8), k % 4);
            codes[at] |= (uint8_t)(q4_code(m, r, k) << (k % 8 < 4 ? 0 : 4));
        }
        for (size_t g = 0; g < groups; g++) {
            size_t from = (size_t)r * groups + g, to = ((size_t)(r / 16) * groups + g) * 16 + (size_t)(r % 16);
            memcpy(scales + to * scale_size, (const char *)m->scales + from * scale_size, scale_size);
            if (extra)
                memcpy(extra + to * extra_size, (const char *)m->extra + from * extra_size, extra_size);
        }
    }
    free(m->codes);
    free(m->scales);
    free(m->extra);
    m->codes = codes;
    m->scales = scales;
    m->extra = extra;
    m->flags |= Q4_PANELS;
    m->bytes = panels * 16 * ((size_t)m->cols / 2 + groups * (scale_size + (extra ? extra_size : 0)));
    return SQ_OK;
cleanup:
    free(codes);
    free(scales);
    free(extra);
    return st;
}

/* After a 4-bit prepare: panels where the AVX-512 kernel will run it. */
static sq_status q4_finish(sq_matrix *m, const char *name)
{
    if (sq_isa_detected() >= SQ_ISA_AVX512 && !m->fp32_activations)
        return q4_to_panels(m, name);
    return SQ_OK;
}

/* Scale and offset of group g of row r: w = scale table[q] + offset. */
static inline float q4_scale(const sq_matrix *m, size_t index)
{
    float s = (m->flags & Q4_SCALE_F32) ? ((const float *)m->scales)[index]
                                        : sq_f16_to_f32(((const uint16_t *)m->scales)[index]);
    return s * m->table_scale;
}

static inline float q4_offset(const sq_matrix *m, size_t index)
{
    if (m->flags & Q4_MINS)
        return sq_f16_to_f32(((const uint16_t *)m->extra)[index]);
    if (m->flags & Q4_ZEROS)
        return -sq_f16_to_f32(((const uint16_t *)m->scales)[index]) * (float)((const uint8_t *)m->extra)[index];
    return 0.0f;
}

/* Row r as its format's dequantize gives it, in the same order of operations (bit for bit):
 * the codes and side arrays of either layout, and NF4's own codes, not the kernel's int8 table.
 * 8 inputs at a time (a group's scale and offset hold for them all: groups are whole 32s). */
static void q4_row(const sq_matrix *m, int r, float *out)
{
    const uint8_t *codes = m->codes;
    const int nb = m->cols / QK;
    for (int k0 = 0; k0 < m->cols; k0 += 8, out += 8) {
        int q[8];
        if (m->flags & Q4_PANELS) { /* q4_code: 4 bytes, inputs k0..k0+3 low, k0+4..k0+7 high */
            const uint8_t *b = codes + panel16_at(r, (size_t)m->cols / 8, (size_t)(k0 / 8), 0);
            for (int j = 0; j < 4; j++) {
                q[j] = b[j] & 0x0f;
                q[4 + j] = b[j] >> 4;
            }
        } else {
            const uint8_t *qs = codes + ((size_t)r * nb + (size_t)(k0 / QK)) * 16;
            for (int j = 0; j < 8; j++) {
                const int i = k0 % QK + j;
                q[j] = i < 16 ? qs[i] & 0x0f : qs[i - 16] >> 4;
            }
        }
        const size_t side = q4_side(m, r, k0 / m->group);
        if (m->flags & Q4_SCALE_F32) { /* nf4.c: code[q] absmax */
            const float absmax = ((const float *)m->scales)[side];
            for (int j = 0; j < 8; j++)
                out[j] = sq_nf4_code[q[j]] * absmax;
            continue;
        }
        const float d = sq_f16_to_f32(((const uint16_t *)m->scales)[side]);
        if (m->flags & Q4_ZEROS) { /* gptq.c: s (q - z) */
            const float z = (float)((const uint8_t *)m->extra)[side];
            for (int j = 0; j < 8; j++)
                out[j] = d * ((float)q[j] - z);
        } else if (m->flags & Q4_MINS) { /* int4.c asymmetric (ggml's q4_1): q d + m */
            const float mn = sq_f16_to_f32(((const uint16_t *)m->extra)[side]);
            for (int j = 0; j < 8; j++)
                out[j] = (float)q[j] * d + mn;
        } else { /* int4.c symmetric (ggml's q4_0): (q - 8) d */
            for (int j = 0; j < 8; j++)
                out[j] = (float)(q[j] - 8) * d;
        }
    }
}

static void q4_ref(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                   sq_kernel_work *work)
{
    const int K = m->cols, nb = K / QK, per_group = m->group / QK;
    if (!m->fp32_activations)
        quantize_acts_ref(x, T, K, QK, work);
    for (int t = 0; t < T; t++)
        for (int r = 0; r < m->rows; r++) {
            float sum = 0.0f;
            for (int b = 0; b < nb; b++) {
                const size_t gi = q4_side(m, r, b / per_group);
                const float scale = q4_scale(m, gi), offset = q4_offset(m, gi);
                if (m->fp32_activations) {
                    const float *xb = x + (size_t)t * K + (size_t)b * QK;
                    float part = 0.0f, xs = 0.0f;
                    for (int j = 0; j < QK; j++) {
                        part += (float)m->table[q4_code(m, r, b * QK + j)] * xb[j];
                        xs += xb[j];
                    }
                    sum += scale * part + offset * xs;
                } else {
                    const int8_t *q8 = work->q + (size_t)t * K + (size_t)b * QK;
                    const float d = work->scale[(size_t)t * nb + b];
                    int32_t dot = 0;
                    for (int j = 0; j < QK; j++)
                        dot += (int32_t)m->table[q4_code(m, r, b * QK + j)] * q8[j];
                    sum += scale * d * (float)dot + offset * d * (float)work->sum[(size_t)t * nb + b];
                }
            }
            float *out = y + (size_t)t * ldy + r;
            *out = accumulate ? *out + sum : sum;
        }
}

/* ---- AVX2 + FMA + F16C ---------------------------------------------------- */

#if SQ_KERNELS_X86
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define TILE 4 /* tokens per pass over a row's blocks */

AVX2 static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* an immediate operand: clang requires a constant expression, not a const variable */
enum { ROUND_NEAREST_EVEN = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC };

/* The same values as quantize_acts_ref, bit for bit: the same absmax, the same
 * float division and reciprocal, the same product rounded half to even. */
AVX2 static void quantize_acts_avx2(const float *x, int T, int cols, int block, sq_kernel_work *work)
{
    const int nb = cols / block;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < nb; b++) {
            const size_t at = (size_t)t * cols + (size_t)b * block;
            const float *v = x + at;
            const float amax = sq_absmax_avx2(v, block), d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            const __m256 mul = _mm256_set1_ps(id);
            __m256i s = _mm256_setzero_si256();
            for (int j = 0; j < block; j += 32) {
                __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(v + j), mul), ROUND_NEAREST_EVEN));
                __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(v + j + 8), mul), ROUND_NEAREST_EVEN));
                __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(v + j + 16), mul), ROUND_NEAREST_EVEN));
                __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(v + j + 24), mul), ROUND_NEAREST_EVEN));
                s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
                /* pack to int8 in input order: packs interleave the 128-bit lanes, the permute undoes it */
                __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
                p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
                _mm256_storeu_si256((__m256i *)(work->q + at + j), p);
            }
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            s4 = _mm_hadd_epi32(s4, s4);
            s4 = _mm_hadd_epi32(s4, s4);
            work->scale[(size_t)t * nb + b] = d;
            work->sum[(size_t)t * nb + b] = _mm_cvtsi128_si32(s4);
        }
}

/* sum of the products of 32 int8 pairs as 8 int32 lanes: |w| (unsigned) times x with w's sign */
AVX2 static inline __m256i dot_i8(__m256i abs_w, __m256i w, __m256i x)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
}

/* 32 weights of one block as floats, from 32 int8 values */
AVX2 static inline void widen_i8(__m256i w, __m256 out[4])
{
    __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
    out[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
    out[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
    out[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
    out[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}

AVX2 static inline __m256 dot_f32(const __m256 w[4], const float *x, __m256 acc)
{
    acc = _mm256_fmadd_ps(w[0], _mm256_loadu_ps(x), acc);
    acc = _mm256_fmadd_ps(w[1], _mm256_loadu_ps(x + 8), acc);
    acc = _mm256_fmadd_ps(w[2], _mm256_loadu_ps(x + 16), acc);
    return _mm256_fmadd_ps(w[3], _mm256_loadu_ps(x + 24), acc);
}

AVX2 static void int8_avx2(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                           sq_kernel_work *work)
{
    const int K = m->cols, ab = m->group, nb = K / ab;
    const int8_t *codes = m->codes;
    const float *s = m->scales;
    if (m->flags & INT8_PANELS) { /* the AVX-512 layout, run where AVX-512 is turned off (tests) */
        int8_ref(m, x, T, y, ldy, accumulate, work);
        return;
    }
    if (!m->fp32_activations)
        quantize_acts_avx2(x, T, K, ab, work);
    for (int r = 0; r < m->rows; r++) {
        const int8_t *wr = codes + (size_t)r * K;
        for (int t = 0; t < T; t += TILE) {
            const int mr = T - t < TILE ? T - t : TILE;
            __m256 acc[TILE] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            if (m->fp32_activations) {
                for (int k = 0; k < K; k += QK) {
                    __m256 wf[4];
                    widen_i8(_mm256_loadu_si256((const __m256i *)(wr + k)), wf);
                    _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr)
                        acc[i] = dot_f32(wf, x + (size_t)(t + i) * K + k, acc[i]);
                }
            } else {
                for (int b = 0; b < nb; b++) {
                    __m256i dot[TILE] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                         _mm256_setzero_si256()};
                    for (int k = b * ab; k < (b + 1) * ab; k += QK) { /* exact int32 sums over the block */
                        const __m256i w = _mm256_loadu_si256((const __m256i *)(wr + k));
                        const __m256i aw = _mm256_abs_epi8(w);
                        _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                            const __m256i q = _mm256_loadu_si256((const __m256i *)(work->q + (size_t)(t + i) * K + k));
                            dot[i] = _mm256_add_epi32(dot[i], dot_i8(aw, w, q));
                        }
                    }
                    _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr)
                        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[i]),
                                                 _mm256_set1_ps(work->scale[(size_t)(t + i) * nb + b]), acc[i]);
                }
            }
            _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                float *out = y + (size_t)(t + i) * ldy + r;
                const float v = hsum(acc[i]) * s[r];
                *out = accumulate ? *out + v : v;
            }
        }
    }
}

/* AVX-512 VNNI on 16-row panels: per group of 4 inputs one vpdpbusd multiplies 16 rows x 4
 * weights (stored + 128: the unsigned operand) with the 4 activation bytes of a token (signed,
 * broadcast from memory by the instruction itself) and adds each row's 4 products into its
 * int32 lane, with no intermediate saturation (Intel's VNNI).  Per activation block the lanes
 * lose the + 128 (128 x the activations' block sum, exactly), become floats and take the
 * block's scale d.  The output lanes are 16 consecutive outputs of y, so nothing is summed
 * across lanes; a tile of 8 tokens per pass. */
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define MRV SQ_TILE /* tokens per pass: a tile of activations (tiles.c) */

AVX512 static void int8_avx512(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                               sq_kernel_work *work)
{
    const int K = m->cols, ab = m->group, nb = K / ab, groups = K / 4;
    if (!(m->flags & INT8_PANELS)) {
        int8_avx2(m, x, T, y, ldy, accumulate, work);
        return;
    }
    const uint8_t *codes = m->codes;
    const float *scales = m->scales;
    sq_quantize_tiles_avx512(x, T, K, ab, SQ_TILES_Q8, work);
    for (int p = 0; p * 16 < m->rows; p++) {
        const int nr = sq_panel_outputs(m->rows, p);
        const __m512 s = _mm512_loadu_ps(scales + (size_t)p * 16);
        const uint8_t *panel = codes + (size_t)p * groups * 64;
        for (int t = 0; t < T; t += MRV) {
            const int32_t *tile = (const int32_t *)work->q + (size_t)t * (K / 4);
            const float *d = work->scale + sq_tile_side(t, nb, 0);
            const int32_t *sum = work->sum + sq_tile_side(t, nb, 0);
            __m512 acc[MRV];
            _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                acc[i] = _mm512_setzero_ps();
            for (int b = 0; b < nb; b++, d += MRV, sum += MRV) {
                __m512i dot[MRV];
                _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                    dot[i] = _mm512_setzero_si512();
                for (int g = b * (ab / 4); g < (b + 1) * (ab / 4); g++) {
                    const __m512i w = _mm512_loadu_si512(panel + (size_t)g * 64);
                    const int32_t *xg = tile + (size_t)g * MRV;
                    _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                        dot[i] = sq_dpbusd_bcast(dot[i], w, xg + i);
                }
                /* the codes' + 128 taken back exactly: sum (w + 128) x = sum w x + 128 sum x */
                _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) {
                    const __m512i exact = _mm512_sub_epi32(dot[i], _mm512_set1_epi32(128 * sum[i]));
                    acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), _mm512_set1_ps(d[i]), acc[i]);
                }
            }
            _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) if (t + i < T)
                sq_store_row16(y, ldy, t + i, (size_t)p * 16, _mm512_mul_ps(acc[i], s), nr, accumulate);
        }
    }
}

AVX2 static void q4_avx2(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                         sq_kernel_work *work)
{
    const int K = m->cols, nb = K / QK, per_group = m->group / QK, groups = K / m->group;
    const uint8_t *codes = m->codes;
    const bool has_offset = (m->flags & (Q4_MINS | Q4_ZEROS)) != 0;
    const __m128i table128 = _mm_loadu_si128((const __m128i *)m->table);
    const __m256i table = _mm256_set_m128i(table128, table128), low = _mm256_set1_epi8(0x0f);
    if (m->flags & Q4_PANELS) { /* the AVX-512 layout, run where AVX-512 is turned off (tests) */
        q4_ref(m, x, T, y, ldy, accumulate, work);
        return;
    }
    if (!m->fp32_activations)
        quantize_acts_avx2(x, T, K, QK, work);
    float *row_scale = work->row, *row_offset = work->row + nb;
    for (int r = 0; r < m->rows; r++) {
        for (int b = 0; b < nb; b++) { /* the row's group scales as floats, once per row */
            const size_t gi = (size_t)r * groups + (size_t)(b / per_group);
            row_scale[b] = q4_scale(m, gi);
            row_offset[b] = has_offset ? q4_offset(m, gi) : 0.0f;
        }
        for (int t = 0; t < T; t += TILE) {
            const int mr = T - t < TILE ? T - t : TILE;
            __m256 acc[TILE] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            float off[TILE] = {0.0f, 0.0f, 0.0f, 0.0f};
            for (int b = 0; b < nb; b++) {
                const float scale = row_scale[b], offset = row_offset[b];
                const __m128i bytes = _mm_loadu_si128((const __m128i *)(codes + ((size_t)r * nb + b) * 16));
                const __m256i nibbles = _mm256_and_si256(
                    _mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes), low); /* inputs 0..15 | 16..31 */
                const __m256i w = _mm256_shuffle_epi8(table, nibbles);
                if (m->fp32_activations) {
                    __m256 wf[4];
                    widen_i8(w, wf);
                    const __m256 sv = _mm256_set1_ps(scale);
                    for (int q = 0; q < 4; q++)
                        wf[q] = _mm256_mul_ps(wf[q], sv);
                    _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                        const float *xb = x + (size_t)(t + i) * K + (size_t)b * QK;
                        acc[i] = dot_f32(wf, xb, acc[i]);
                        if (has_offset) {
                            __m256 xs = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(xb), _mm256_loadu_ps(xb + 8)),
                                                      _mm256_add_ps(_mm256_loadu_ps(xb + 16), _mm256_loadu_ps(xb + 24)));
                            off[i] += offset * hsum(xs);
                        }
                    }
                    continue;
                }
                const __m256i aw = _mm256_abs_epi8(w);
                _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                    const size_t row = (size_t)(t + i);
                    const __m256i q = _mm256_loadu_si256((const __m256i *)(work->q + row * K + (size_t)b * QK));
                    const float d = work->scale[row * nb + b];
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8(aw, w, q)), _mm256_set1_ps(scale * d), acc[i]);
                    if (has_offset)
                        off[i] += offset * d * (float)work->sum[row * nb + b];
                }
            }
            _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                float *out = y + (size_t)(t + i) * ldy + r;
                const float v = hsum(acc[i]) + off[i];
                *out = accumulate ? *out + v : v;
            }
        }
    }
}
/* 4-bit on AVX-512 VNNI, panels of 16 rows: per group of 8 inputs one 64-byte load holds
 * 16 rows x 8 nibbles; masked and shifted they are the unsigned operands of two vpdpbusd
 * (the table, shifted by `bias` to be non-negative, maps them first where the format needs
 * one), each against 4 broadcast int8 activations of a token.  Per block of 32 the lanes
 * become floats and take the group's 16 scales times the block's activation scale d; one
 * more multiply-add of the block's d x sum (the tile's s) takes back the table's shift and
 * adds the format's mins or zero points: w = scale (table[q] + bias) + offset - bias scale.
 * Output lanes are 16 consecutive outputs; a tile of 8 tokens per pass. */
/* The panels' loop, compiled once per format (always inlined into q4_avx512's calls with
 * constant `identity`, whether the table needs its shuffle, and `flags`, the side arrays), so
 * that no test of either is left inside the loop. */
AVX512 static inline __attribute__((always_inline)) void q4_panels(const sq_matrix *m, int T, float *y, int ldy,
                                                                  bool accumulate, const sq_kernel_work *work,
                                                                  __m512i table, int bias, const bool identity,
                                                                  const int flags)
{
    const int K = m->cols, nb = K / QK, per_group = m->group / QK, groups = K / m->group;
    const __m512i low = _mm512_set1_epi8(0x0f);
    const __m512 shift = _mm512_set1_ps((float)bias), table_scale = _mm512_set1_ps(m->table_scale);
    for (int p = 0; p * 16 < m->rows; p++) {
        const int nr = sq_panel_outputs(m->rows, p);
        const uint8_t *panel = (const uint8_t *)m->codes + (size_t)p * (K / 8) * 64;
        for (int t = 0; t < T; t += MRV) {
            const int32_t *xg = (const int32_t *)work->q + (size_t)t * (K / 4);
            const float *d = work->scale + sq_tile_side(t, nb, 0), *ds = work->aux + sq_tile_side(t, nb, 0);
            const uint8_t *codes = panel;
            __m512 acc[MRV];
            _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                acc[i] = _mm512_setzero_ps();
            for (int gr = 0; gr < groups; gr++) {
                /* the group's 16 scales and offsets (w = scale table[q] + offset) */
                const size_t at = ((size_t)p * groups + (size_t)gr) * 16;
                const __m512 sc = (flags & Q4_SCALE_F32)
                                      ? _mm512_loadu_ps((const float *)m->scales + at)
                                      : _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)m->scales + at)));
                const __m512 scale = _mm512_mul_ps(sc, table_scale);
                __m512 offset = _mm512_setzero_ps();
                if (flags & Q4_MINS)
                    offset = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)m->extra + at)));
                else if (flags & Q4_ZEROS)
                    offset = _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), sc),
                                           _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                                               _mm_loadu_si128((const __m128i *)((const uint8_t *)m->extra + at)))));
                offset = _mm512_fnmadd_ps(shift, scale, offset); /* the table's shift taken back */
                for (int b = 0; b < per_group; b++, d += MRV, ds += MRV) {
                    __m512i dot[MRV];
                    _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                        dot[i] = _mm512_setzero_si512();
                    _Pragma("GCC unroll 4") for (int g = 0; g < 4; g++, codes += 64, xg += 2 * MRV) {
                        /* 8 inputs: 4 in the low nibbles, the next 4 in the high ones */
                        const __m512i bytes = _mm512_loadu_si512(codes);
                        __m512i lo = _mm512_and_si512(bytes, low), hi = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low);
                        if (!identity) {
                            lo = _mm512_shuffle_epi8(table, lo);
                            hi = _mm512_shuffle_epi8(table, hi);
                        }
                        _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) {
                            dot[i] = sq_dpbusd_bcast(dot[i], lo, xg + i);
                            dot[i] = sq_dpbusd_bcast(dot[i], hi, xg + MRV + i);
                        }
                    }
                    _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) {
                        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[i]), _mm512_mul_ps(scale, _mm512_set1_ps(d[i])),
                                                 acc[i]);
                        acc[i] = _mm512_fmadd_ps(offset, _mm512_set1_ps(ds[i]), acc[i]);
                    }
                }
            }
            _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) if (t + i < T)
                sq_store_row16(y, ldy, t + i, (size_t)p * 16, acc[i], nr, accumulate);
        }
    }
}

AVX512 static void q4_avx512(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                             sq_kernel_work *work)
{
    if (!(m->flags & Q4_PANELS)) {
        q4_avx2(m, x, T, y, ldy, accumulate, work);
        return;
    }
    int bias = 0;
    for (int q = 0; q < 16; q++)
        bias = -m->table[q] > bias ? -m->table[q] : bias;
    uint8_t shifted[16];
    bool identity = true;
    for (int q = 0; q < 16; q++) {
        shifted[q] = (uint8_t)(m->table[q] + bias);
        identity = identity && shifted[q] == q;
    }
    const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)shifted));
    sq_quantize_tiles_avx512(x, T, m->cols, QK, SQ_TILES_Q8, work);
    const int side = m->flags & (Q4_SCALE_F32 | Q4_MINS | Q4_ZEROS);
    if (identity && side == 0) /* int4 symmetric (bias 8) */
        q4_panels(m, T, y, ldy, accumulate, work, table, bias, true, 0);
    else if (identity && side == Q4_MINS) /* int4 asymmetric */
        q4_panels(m, T, y, ldy, accumulate, work, table, bias, true, Q4_MINS);
    else if (identity && side == Q4_ZEROS) /* gptq */
        q4_panels(m, T, y, ldy, accumulate, work, table, bias, true, Q4_ZEROS);
    else if (!identity && side == Q4_SCALE_F32) /* nf4 */
        q4_panels(m, T, y, ldy, accumulate, work, table, bias, false, Q4_SCALE_F32);
    else
        q4_panels(m, T, y, ldy, accumulate, work, table, bias, identity, side);
}
#endif

SQ_KERNEL_ROW(sq_kernel_int8_q8, "int8xq8", "int8", int8_prepare, int8);
SQ_KERNEL_ROW(sq_kernel_int4_q8, "q4xq8", "int4", int4_prepare, q4);
SQ_KERNEL_ROW(sq_kernel_nf4_q8, "nf4xq8", "nf4", nf4_prepare, q4);
SQ_KERNEL_ROW(sq_kernel_gptq_q8, "gptq4xq8", "gptq", gptq_prepare, q4);
