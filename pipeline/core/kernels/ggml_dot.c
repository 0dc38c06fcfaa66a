/* ggml_dot.c - y = x W^T with W in ggml's block formats (Q8_0, Q4_0, Q4_1, Q4_K,
 * Q6_K), multiplied packed as llama.cpp's CPU backend multiplies them.
 *
 * The weights stay in the blocks the model file holds (quant/ggml_blocks.h: per
 * row the sequence of ggml blocks, byte for byte), so a tensor takes its bytes
 * on disk in memory.  As ggml does (ggml-cpu's type traits: vec_dot_type), the
 * activations of each token are quantized once per matrix product to the 8-bit
 * block type the weight format pairs with, and the block products are integer
 * dot products:
 *   Q8_0, Q4_0 x Q8_0   blocks of 32, d = absmax / 127 stored as fp16,
 *                        q = round_half_even(x * 127 / absmax)
 *                        (ggml-cpu quants.c::quantize_row_q8_0, its x86 form)
 *   Q4_1 x Q8_1          the same d and q, and s = fp16(d * sum(q))
 *                        (quantize_row_q8_1): the min's term is m * s
 *   Q4_K, Q6_K x Q8_K    blocks of 256, d = 1 / iscale with iscale = -127 / max
 *                        (max: the value of largest magnitude, signed),
 *                        q = min(127, nearest_int(iscale * x)), d a float
 *                        (quantize_row_q8_K_ref); squeeze keeps the integer
 *                        sum of each 32 (ggml: of each 16) for Q4_K's mins.
 * and per block (ggml_vec_dot_*):
 *   Q8_0  y += d_w d_x sum(q_w q_x)
 *   Q4_0  y += d_w d_x sum((n - 8) q_x)          n the nibble (low: inputs 0..15)
 *   Q4_1  y += d_w d_x sum(n q_x) + m_w s_x
 *   Q4_K  y += d_w d_x sum_j sc_j sum(n q_x)_j - dmin_w d_x sum_j m_j sum(q_x)_j
 *                                                 (8 sub-blocks of 32, 6-bit sc, m)
 *   Q6_K  y += d_w d_x sum_j sc_j sum((q6 - 32) q_x)_j   (16 sub-blocks of 16, int8 sc)
 * The integer sums are exact, so the scalar reference and the AVX2 kernel
 * differ only in the order of the float additions across blocks.  With
 * `evaluate.activations: fp32` the blocks are decoded to floats (the format's
 * dequantize_row) and multiplied with the unrounded activations instead.
 *
 * AVX2 follows ggml's x86 kernels: vpmaddubsw takes the unsigned codes (nibbles,
 * Q6_K's 6-bit values, |w| for Q8_0 with w's sign moved onto x) against the
 * signed activations, vpmaddwd sums pairs (with the sub-block scales for the
 * k-quants), and Q4_0's -8 and Q6_K's -32 come back from the activation sums.
 * Q8_0 and Q4_0 go 2 rows x 4 tokens per register block there.  With AVX-512 VNNI,
 * every format is rearranged once into 16-row panels (to_panels, to_kpanels) and
 * multiplied with vpdpbusd, 16 rows (output lanes) x 8 tokens per register block: Q8_0,
 * Q4_0 and Q4_1 per block of 32, the k-quants per sub-block with the rows' scales applied
 * to the exact sub-block sums (vpmulld), Q4_K's mins by vpdpwssd.  The integer sums stay
 * those of the scalar reference, which reads the panels as well (panels_ref).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels_internal.h"
#include "quant/ggml_blocks.h"
#include "tensor/tensor.h"

enum { ACT_Q8_0, ACT_Q8_1, ACT_Q8_K };

/* What each format's kernel needs besides its functions: the block kind and the activation type. */
static const sq_ggml_block_kind *matrix_kind(const sq_matrix *m)
{
    return sq_ggml_block_kind_of_format(m->kernel->format);
}

static int act_type(const sq_matrix *m)
{
    if (m->kernel == &sq_kernel_q4_1_q8_1)
        return ACT_Q8_1;
    return m->group == SQ_QK_K ? ACT_Q8_K : ACT_Q8_0;
}

/* ---- 16-row panels (the AVX-512 VNNI layout) ------------------------------------
 *
 * Where AVX-512 VNNI is active when the matrix is prepared (sq_isa_active: tests turn it off
 * to run the stored layout's AVX2 kernel), Q8_0 and Q4_0 are rearranged once, byte for byte, into
 * panels of 16 rows (qgemm.c's layout): per block of 32 inputs, groups of 16 rows x 4 bytes,
 * so that one vpdpbusd multiplies 16 rows by 4 broadcast activation bytes and the output
 * lanes are rows (no horizontal sums).  Q4_0: per group of 8 inputs, byte c of a row holds
 * input c in its low nibble and input 4 + c in its high one; Q8_0: per group of 4 inputs,
 * w + 128 (the unsigned operand).  The d of each block: [panel][block][16] fp16 in m->scales.
 * The values and their count stay those of the file (rows past the end are zero padding);
 * panel_block puts a stored block back together for the scalar reference. */
enum { GGML_PANELS = 1 };

/* The 32-value formats in panels: where d (and Q4_1's m) and the codes lie in a stored block. */
typedef struct {
    bool q4;        /* nibbles (Q4_0, Q4_1) or bytes (Q8_0) */
    bool min;       /* Q4_1: an fp16 m after d */
    size_t bytes;   /* the stored block */
    size_t codes;   /* the offset of qs in it */
} panel32_kind;

static panel32_kind panel32_of(const sq_matrix *m)
{
    if (m->kernel == &sq_kernel_q4_1_q8_1)
        return (panel32_kind){true, true, sizeof(sq_block_q4_1), 4};
    if (m->kernel == &sq_kernel_q4_0_q8_0)
        return (panel32_kind){true, false, sizeof(sq_block_q4_0), 2};
    return (panel32_kind){false, false, sizeof(sq_block_q8_0), 2};
}

/* The fp16 fields of a panel's block: d of 16 rows, then (Q4_1) m of 16 rows. */
static size_t panel32_halves(panel32_kind k) { return k.min ? 32 : 16; }

static sq_status to_panels(sq_matrix *m, const char *name)
{
    sq_status st;
    const panel32_kind k = panel32_of(m);
    const int nb = m->cols / 32, panels = (m->rows + 15) / 16;
    const size_t qs = k.q4 ? 16 : 32, halves = panel32_halves(k);
    const uint8_t *src = m->codes;
    uint8_t *codes = NULL;
    uint16_t *d = NULL;
    if ((st = sq_alloc(&codes, (size_t)panels * 16 * nb * qs, 1, name)) != SQ_OK)
        return st;
    if ((st = sq_alloc(&d, (size_t)panels * nb * halves, sizeof *d, name)) != SQ_OK) {
        free(codes);
        return st;
    }
    for (int r = 0; r < m->rows; r++)
        for (int b = 0; b < nb; b++) {
            const uint8_t *block = src + ((size_t)r * nb + b) * k.bytes;
            const size_t at = (size_t)(r / 16) * nb + (size_t)b;
            uint8_t *dst = codes + at * 16 * qs;
            memcpy(&d[at * halves + (size_t)(r % 16)], block, 2);
            if (k.min)
                memcpy(&d[at * halves + 16 + (size_t)(r % 16)], block + 2, 2);
            for (int i = 0; i < 32; i++) {
                if (k.q4) { /* input i: low nibble of qs[i] (i < 16) or high nibble of qs[i - 16] */
                    const int n = i < 16 ? block[k.codes + i] & 0x0f : block[k.codes + i - 16] >> 4;
                    const int g = i / 8, c = i % 8 % 4, hi = i % 8 / 4;
                    dst[((size_t)g * 16 + (size_t)(r % 16)) * 4 + (size_t)c] |= (uint8_t)(n << (4 * hi));
                } else {
                    dst[((size_t)(i / 4) * 16 + (size_t)(r % 16)) * 4 + (size_t)(i % 4)] = block[2 + i] ^ 0x80;
                }
            }
        }
    free(m->codes);
    m->codes = codes;
    m->scales = d;
    m->flags |= GGML_PANELS;
    m->bytes = (size_t)panels * nb * (16 * qs + 2 * halves);
    return SQ_OK;
}

/* Block b of row r as the file stores it (d, m, then qs), from the panels. */
static void panel_block(const sq_matrix *m, panel32_kind k, int r, int b, uint8_t *block)
{
    const int nb = m->cols / 32;
    const size_t qs = k.q4 ? 16 : 32, halves = panel32_halves(k);
    const size_t at = (size_t)(r / 16) * nb + (size_t)b;
    const uint8_t *src = (const uint8_t *)m->codes + at * 16 * qs;
    const uint16_t *d = (const uint16_t *)m->scales + at * halves + (size_t)(r % 16);
    memcpy(block, d, 2);
    if (k.min)
        memcpy(block + 2, d + 16, 2);
    if (k.q4)
        memset(block + k.codes, 0, 16);
    for (int i = 0; i < 32; i++) {
        if (k.q4) {
            const int g = i / 8, c = i % 8 % 4, hi = i % 8 / 4;
            const int n = (src[((size_t)g * 16 + (size_t)(r % 16)) * 4 + (size_t)c] >> (4 * hi)) & 0x0f;
            block[k.codes + i % 16] |= (uint8_t)(n << (i < 16 ? 0 : 4));
        } else {
            block[2 + i] = src[((size_t)(i / 4) * 16 + (size_t)(r % 16)) * 4 + (size_t)(i % 4)] ^ 0x80;
        }
    }
}

/* Row r as the format's dequantize_row gives it: from the stored blocks, or block by block
 * put back together from the panels (panel_block) and decoded the same way. */
static void kpanel_row(const sq_matrix *m, int r, float *out);

static void ggml_row(const sq_matrix *m, int r, float *out)
{
    const sq_ggml_block_kind *kind = sq_ggml_block_kind_of_format(m->kernel->format);
    const int nb = m->cols / kind->block_values;
    if (!(m->flags & GGML_PANELS)) {
        kind->dequantize_row((const uint8_t *)m->codes + (size_t)r * nb * kind->block_bytes, out, m->cols);
        return;
    }
    if (kind->block_values == SQ_QK_K) {
        kpanel_row(m, r, out);
        return;
    }
    const panel32_kind k = panel32_of(m);
    uint8_t block[sizeof(sq_block_q8_0) > sizeof(sq_block_q4_1) ? sizeof(sq_block_q8_0) : sizeof(sq_block_q4_1)];
    for (int b = 0; b < nb; b++) {
        panel_block(m, k, r, b, block);
        kind->dequantize_row(block, out + (size_t)b * 32, 32);
    }
}

/* ---- 16-row panels of the k-quants (the AVX-512 VNNI layout) --------------------
 *
 * Q4_K and Q6_K are rearranged once into panels of 16 rows as well; per panel and super-block
 * of 256 the codes, then the block's numbers for the 16 rows (panel_q4_k, panel_q6_k in
 * m->scales).  Q4_K: per sub-block of 32, 4 groups of 8 inputs as Q4_0's panels (64 bytes:
 * 16 rows x 4 bytes, byte c holding inputs c and 4 + c in its nibbles); its 6-bit scales
 * unpacked to bytes, its mins as int16 pairs of two sub-blocks (the operand of vpdpwssd
 * against the activations' sums of two 32s).  Q6_K: per sub-block of 16, 4 groups of 4
 * inputs, each code q - 32 as a signed byte (16 rows x 4 bytes), multiplied with the
 * activations + 128 (work->qu, the unsigned operand); corr = 128 sum_j sc_j sum(q - 32)_j
 * takes the 128 back per row.  Q4_K keeps 156 bytes per row and 256 inputs (stored: 144),
 * Q6_K 278 (stored: 210: its codes become whole bytes). */
typedef struct {
    uint16_t d[16], dmin[16]; /* fp16 */
    uint8_t sc[8][16];        /* sub-block j's scale, per row */
    int16_t mn[4][16][2];     /* the mins of sub-blocks 2k and 2k + 1, per row */
} panel_q4_k;

typedef struct {
    uint16_t d[16];           /* fp16 */
    int32_t corr[16];
    int8_t sc[16][16];        /* sub-block j's scale (16 inputs), per row */
} panel_q6_k;

/* Q6_K value i of a block (dequantize_row_q6_K's layout: halves of 128, four runs of 32). */
static inline int q6_value(const sq_block_q6_k *w, int i)
{
    const int half = i / 128, r = i % 128, run = r / 32, l = r % 32;
    const uint8_t *ql = w->ql + 64 * half, *qh = w->qh + 32 * half;
    const int low = run % 2 ? ql[l + 32] : ql[l];
    return ((run < 2 ? low & 0x0f : low >> 4) | (((qh[l] >> (2 * run)) & 3) << 4)) - 32;
}

/* The byte of panel codes that holds input i of row r (Q4_K: in the nibble *shift). */
static size_t kpanel_byte(bool q4, int r, int i, int *shift)
{
    if (q4) { /* sub-block i / 32, group i % 32 / 8 */
        *shift = 4 * (i % 8 / 4);
        return ((size_t)(i / 8) * 16 + (size_t)(r % 16)) * 4 + (size_t)(i % 8 % 4);
    }
    *shift = 0;
    return ((size_t)(i / 4) * 16 + (size_t)(r % 16)) * 4 + (size_t)(i % 4);
}

static sq_status to_kpanels(sq_matrix *m, const char *name)
{
    sq_status st;
    const bool q4 = m->kernel == &sq_kernel_q4_k_q8_k;
    const int nb = m->cols / SQ_QK_K, panels = (m->rows + 15) / 16;
    const size_t codes_bytes = q4 ? 16 * 128 : 16 * 256, side = q4 ? sizeof(panel_q4_k) : sizeof(panel_q6_k);
    const size_t count = (size_t)panels * nb;
    uint8_t *codes = NULL, *sides = NULL;
    if ((st = sq_alloc(&codes, count * codes_bytes, 1, name)) != SQ_OK)
        return st;
    if ((st = sq_alloc(&sides, count * side, 1, name)) != SQ_OK) {
        free(codes);
        return st;
    }
    for (int r = 0; r < m->rows; r++)
        for (int b = 0; b < nb; b++) {
            const size_t at = (size_t)(r / 16) * nb + (size_t)b;
            const int l = r % 16;
            uint8_t *dst = codes + at * codes_bytes;
            int shift;
            if (q4) {
                const sq_block_q4_k *w = (const sq_block_q4_k *)m->codes + (size_t)r * nb + b;
                panel_q4_k *s = (panel_q4_k *)sides + at;
                s->d[l] = w->d;
                s->dmin[l] = w->dmin;
                for (int j = 0; j < 8; j++) {
                    uint8_t sc, mn;
                    sq_ggml_scale_min_k4(j, w->scales, &sc, &mn);
                    s->sc[j][l] = sc;
                    s->mn[j / 2][l][j % 2] = mn;
                }
                for (int i = 0; i < SQ_QK_K; i++) { /* sub-block i / 32: bytes 32 (j / 2), low nibble for even j */
                    const uint8_t byte = w->qs[32 * (i / 64) + i % 32];
                    const int n = i / 32 % 2 ? byte >> 4 : byte & 0x0f;
                    const size_t at_byte = kpanel_byte(true, r, i, &shift); /* sets shift first */
                    dst[at_byte] |= (uint8_t)(n << shift);
                }
            } else {
                const sq_block_q6_k *w = (const sq_block_q6_k *)m->codes + (size_t)r * nb + b;
                panel_q6_k *s = (panel_q6_k *)sides + at;
                int32_t corr = 0;
                s->d[l] = w->d;
                for (int j = 0; j < 16; j++) {
                    int32_t sum = 0;
                    s->sc[j][l] = w->scales[j];
                    for (int i = 16 * j; i < 16 * j + 16; i++) {
                        const int v = q6_value(w, i);
                        dst[kpanel_byte(false, r, i, &shift)] = (uint8_t)(int8_t)v;
                        sum += v;
                    }
                    corr += 128 * w->scales[j] * sum;
                }
                s->corr[l] = corr;
            }
        }
    free(m->codes);
    m->codes = codes;
    m->scales = sides;
    m->flags |= GGML_PANELS;
    m->bytes = count * (codes_bytes + side);
    return SQ_OK;
}

/* Input i of row r, block b of a k-quant panel: Q4_K's nibble, Q6_K's q - 32. */
static int kpanel_code(const sq_matrix *m, bool q4, int r, int b, int i)
{
    const size_t codes_bytes = q4 ? 16 * 128 : 16 * 256;
    const uint8_t *src = (const uint8_t *)m->codes + ((size_t)(r / 16) * (m->cols / SQ_QK_K) + b) * codes_bytes;
    int shift;
    const uint8_t byte = src[kpanel_byte(q4, r, i, &shift)];
    return q4 ? (byte >> shift) & 0x0f : (int8_t)byte;
}

/* Row r of a k-quant panel, in dequantize_row_q4_K's and _q6_K's order of operations:
 * Q4_K (d sc) q - dmin m per sub-block of 32, Q6_K (d sc) (q - 32) per sub-block of 16. */
static void kpanel_row(const sq_matrix *m, int r, float *out)
{
    const bool q4 = m->kernel == &sq_kernel_q4_k_q8_k;
    const int nb = m->cols / SQ_QK_K, l = r % 16;
    for (int b = 0; b < nb; b++, out += SQ_QK_K) {
        const size_t at = (size_t)(r / 16) * nb + (size_t)b;
        if (q4) {
            const panel_q4_k *s = (const panel_q4_k *)m->scales + at;
            const float d = sq_f16_to_f32(s->d[l]), min = sq_f16_to_f32(s->dmin[l]);
            for (int i = 0; i < SQ_QK_K; i++) {
                const int j = i / 32;
                const float d1 = d * s->sc[j][l], m1 = min * s->mn[j / 2][l][j % 2];
                out[i] = d1 * kpanel_code(m, true, r, b, i) - m1;
            }
        } else {
            const panel_q6_k *s = (const panel_q6_k *)m->scales + at;
            const float d = sq_f16_to_f32(s->d[l]);
            for (int i = 0; i < SQ_QK_K; i++)
                out[i] = d * s->sc[i / 16][l] * kpanel_code(m, false, r, b, i);
        }
    }
}

/* ---- preparing: the blocks as stored ------------------------------------- */

static sq_status ggml_prepare(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m,
                              const sq_kernel *kernel)
{
    sq_status st;
    int rows, cols;
    const sq_qbuffer *blocks;
    const sq_ggml_block_kind *kind = sq_ggml_block_kind_of_format(qt->format);
    if (kind == NULL)
        return sq_fail(SQ_ERR_RUN, "tensor '%s': %s is not a ggml block format", qt->name, qt->format);
    if ((st = sq_kernel_dims(qt, &rows, &cols)) != SQ_OK)
        return st;
    if (cols % kind->block_values != 0) /* the quantizer stores such rows in the fallback format */
        return sq_fail(SQ_ERR_USAGE, "tensor '%s' (%s): rows of %d inputs are not whole blocks of %d", qt->name,
                       qt->format, cols, kind->block_values);
    const size_t row_bytes = (size_t)(cols / kind->block_values) * (size_t)kind->block_bytes;
    if ((st = sq_kernel_buffer(qt, "blocks", SQ_DTYPE_U8, (int64_t)rows * (int64_t)row_bytes, &blocks)) != SQ_OK)
        return st;
    if ((st = sq_alloc(&m->codes, (size_t)rows * row_bytes, 1, qt->name)) != SQ_OK)
        return st;
    memcpy(m->codes, blocks->data, (size_t)rows * row_bytes);
    m->kernel = kernel;
    if (sq_isa_active() >= SQ_ISA_AVX512 && !options->fp32_activations) {
        m->rows = rows;
        m->cols = cols;
        st = kind->block_values == SQ_QK_K ? to_kpanels(m, qt->name) : to_panels(m, qt->name);
        if (st != SQ_OK) {
            free(m->codes);
            m->codes = NULL;
            return st;
        }
        m->group = kind->block_values;
        m->fp32_activations = false;
        return SQ_OK;
    }
    m->rows = rows;
    m->cols = cols;
    m->group = kind->block_values;
    m->fp32_activations = options->fp32_activations;
    m->bytes = (size_t)rows * row_bytes;
    return SQ_OK;
}

#define PREPARE(fn, kernel)                                                                                            \
    static sq_status fn(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m)                          \
    {                                                                                                                  \
        return ggml_prepare(qt, options, m, &kernel);                                                                  \
    }
PREPARE(prepare_q8_0, sq_kernel_q8_0_q8_0)
PREPARE(prepare_q4_0, sq_kernel_q4_0_q8_0)
PREPARE(prepare_q4_1, sq_kernel_q4_1_q8_1)
PREPARE(prepare_q4_k, sq_kernel_q4_k_q8_k)
PREPARE(prepare_q6_k, sq_kernel_q6_k_q8_k)

/* ---- activations (one code for every instruction set: the same bytes) ------ */

/* Q8_0 / Q8_1: per token and block of 32, q in work->q, d (fp16-rounded) in work->scale,
 * the integer sum in work->sum and, for Q8_1, s = fp16(d * sum) in work->aux. */
static void quantize_q8_0(const float *x, int T, int K, bool with_s, sq_kernel_work *work)
{
    const int nb = K / SQ_QK8_0;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < nb; b++) {
            const size_t at = (size_t)t * K + (size_t)b * SQ_QK8_0, bi = (size_t)t * nb + (size_t)b;
            const float *v = x + at;
            float amax = 0.0f;
            for (int j = 0; j < SQ_QK8_0; j++)
                amax = fmaxf(amax, fabsf(v[j]));
            const float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
            int32_t sum = 0;
            for (int j = 0; j < SQ_QK8_0; j++) {
                work->q[at + j] = (int8_t)nearbyintf(v[j] * id);
                sum += work->q[at + j];
            }
            work->scale[bi] = sq_f16_to_f32(sq_f32_to_f16(d));
            work->sum[bi] = sum;
            if (with_s)
                work->aux[bi] = sq_f16_to_f32(sq_f32_to_f16(d * (float)sum));
        }
}

/* Q8_K: per token and block of 256, q in work->q (and q + 128 in work->qu), d in
 * work->scale[t * K/256 + b], the integer sums of each 32 as int16 pairs (two 32s, the even
 * one low: the operand of vpdpwssd) in work->sum[t * K/32 + b * 8 + j], j < 4. */
static void quantize_q8_k(const float *x, int T, int K, sq_kernel_work *work)
{
    const int nb = K / SQ_QK_K;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < nb; b++) {
            const size_t at = (size_t)t * K + (size_t)b * SQ_QK_K;
            const float *v = x + at;
            int8_t *q = work->q + at;
            uint8_t *qu = work->qu + at;
            int32_t *sums = work->sum + at / 32;
            float max = 0.0f, amax = 0.0f;
            for (int j = 0; j < SQ_QK_K; j++) {
                const float ax = fabsf(v[j]);
                if (ax > amax) {
                    amax = ax;
                    max = v[j];
                }
            }
            if (amax == 0.0f) {
                memset(q, 0, SQ_QK_K);
                memset(qu, 128, SQ_QK_K);
                memset(sums, 0, SQ_QK_K / 64 * sizeof *sums);
                work->scale[(size_t)t * nb + b] = 0.0f;
                continue;
            }
            const float iscale = -127.0f / max;
            for (int j = 0; j < SQ_QK_K; j++) {
                const int n = sq_ggml_nearest_int(iscale * v[j]);
                q[j] = (int8_t)(n < 127 ? n : 127);
            }
            for (int j = 0; j < SQ_QK_K / 64; j++) {
                int32_t s[2] = {0, 0};
                for (int l = 0; l < 64; l++)
                    s[l / 32] += q[64 * j + l];
                sums[j] = (int32_t)((uint32_t)(uint16_t)s[0] | (uint32_t)(uint16_t)s[1] << 16);
            }
            for (int j = 0; j < SQ_QK_K; j++)
                qu[j] = (uint8_t)(q[j] + 128);
            work->scale[(size_t)t * nb + b] = 1.0f / iscale;
        }
}

static void quantize_acts(const sq_matrix *m, const float *x, int T, sq_kernel_work *work)
{
    const int act = act_type(m);
    if (act == ACT_Q8_K)
        quantize_q8_k(x, T, m->cols, work);
    else
        quantize_q8_0(x, T, m->cols, act == ACT_Q8_1, work);
}

/* ---- scalar reference: one row against one token --------------------------- */

typedef float (*row_dot_fn)(const uint8_t *row, int K, const sq_kernel_work *work, size_t t);

/* A block of 32 as integer codes, its d and its min (0 without one). */
typedef void (*decode32_fn)(const uint8_t *block, int32_t codes[32], float *d, float *min);

static void decode_q8_0(const uint8_t *block, int32_t codes[32], float *d, float *min)
{
    const sq_block_q8_0 *w = (const sq_block_q8_0 *)block;
    for (int j = 0; j < 32; j++)
        codes[j] = w->qs[j];
    *d = sq_f16_to_f32(w->d);
    *min = 0.0f;
}

static void decode_q4_0(const uint8_t *block, int32_t codes[32], float *d, float *min)
{
    const sq_block_q4_0 *w = (const sq_block_q4_0 *)block;
    for (int j = 0; j < 16; j++) { /* low nibbles: inputs 0..15, high: 16..31 */
        codes[j] = (w->qs[j] & 0x0f) - 8;
        codes[j + 16] = (w->qs[j] >> 4) - 8;
    }
    *d = sq_f16_to_f32(w->d);
    *min = 0.0f;
}

static void decode_q4_1(const uint8_t *block, int32_t codes[32], float *d, float *min)
{
    const sq_block_q4_1 *w = (const sq_block_q4_1 *)block;
    for (int j = 0; j < 16; j++) {
        codes[j] = w->qs[j] & 0x0f;
        codes[j + 16] = w->qs[j] >> 4;
    }
    *d = sq_f16_to_f32(w->d);
    *min = sq_f16_to_f32(w->m);
}

/* One block of 32 against token t's block b: d_w d_x <codes, q_x> (+ m_w s_x for Q4_1: work->aux). */
static float block32_term(const uint8_t *block, const sq_kernel_work *work, int K, size_t t, int b,
                          decode32_fn decode)
{
    const int nb = K / 32;
    const int8_t *q = work->q + t * K + (size_t)b * 32;
    int32_t codes[32], dot = 0;
    float d, min, term;
    decode(block, codes, &d, &min);
    for (int j = 0; j < 32; j++)
        dot += codes[j] * q[j];
    term = d * work->scale[t * nb + b] * (float)dot;
    if (min != 0.0f)
        term += min * work->aux[t * nb + b];
    return term;
}

/* Q8_0, Q4_0, Q4_1 rows: the sum of their block terms. */
static float dot_blocks32_ref(const uint8_t *row, int K, const sq_kernel_work *work, size_t t, size_t block_bytes,
                              decode32_fn decode)
{
    float sum = 0.0f;
    for (int b = 0; b < K / 32; b++)
        sum += block32_term(row + (size_t)b * block_bytes, work, K, t, b, decode);
    return sum;
}

static float dot_q8_0_ref(const uint8_t *row, int K, const sq_kernel_work *work, size_t t)
{
    return dot_blocks32_ref(row, K, work, t, sizeof(sq_block_q8_0), decode_q8_0);
}

static float dot_q4_0_ref(const uint8_t *row, int K, const sq_kernel_work *work, size_t t)
{
    return dot_blocks32_ref(row, K, work, t, sizeof(sq_block_q4_0), decode_q4_0);
}

static float dot_q4_1_ref(const uint8_t *row, int K, const sq_kernel_work *work, size_t t)
{
    return dot_blocks32_ref(row, K, work, t, sizeof(sq_block_q4_1), decode_q4_1);
}

/* A k-quant super-block as the scalar reference reads it, from either layout: the codes
 * (Q4_K's nibbles, Q6_K's q - 32), d, and the sub-blocks' scales (and Q4_K's mins, dmin). */
typedef struct {
    int code[SQ_QK_K], sc[16], mn[8];
    float d, dmin;
} kblock;

static void kblock_q4_k(const sq_block_q4_k *w, kblock *k)
{
    for (int j = 0; j < 8; j++) { /* sub-block j: bytes 32 (j/2), low nibble for even j */
        uint8_t sc, mn;
        sq_ggml_scale_min_k4(j, w->scales, &sc, &mn);
        k->sc[j] = sc;
        k->mn[j] = mn;
        for (int l = 0; l < 32; l++)
            k->code[32 * j + l] = j % 2 ? w->qs[32 * (j / 2) + l] >> 4 : w->qs[32 * (j / 2) + l] & 0x0f;
    }
    k->d = sq_f16_to_f32(w->d);
    k->dmin = sq_f16_to_f32(w->dmin);
}

static void kblock_q6_k(const sq_block_q6_k *w, kblock *k)
{
    for (int i = 0; i < SQ_QK_K; i++)
        k->code[i] = q6_value(w, i);
    for (int j = 0; j < 16; j++)
        k->sc[j] = w->scales[j];
    k->d = sq_f16_to_f32(w->d);
    k->dmin = 0.0f;
}

/* Block b of row r from the k-quant panels (to_kpanels). */
static void kblock_panel(const sq_matrix *m, bool q4, int r, int b, kblock *k)
{
    const size_t at = (size_t)(r / 16) * (m->cols / SQ_QK_K) + (size_t)b;
    const int l = r % 16;
    for (int i = 0; i < SQ_QK_K; i++)
        k->code[i] = kpanel_code(m, q4, r, b, i);
    if (q4) {
        const panel_q4_k *s = (const panel_q4_k *)m->scales + at;
        for (int j = 0; j < 8; j++) {
            k->sc[j] = s->sc[j][l];
            k->mn[j] = s->mn[j / 2][l][j % 2];
        }
        k->d = sq_f16_to_f32(s->d[l]);
        k->dmin = sq_f16_to_f32(s->dmin[l]);
    } else {
        const panel_q6_k *s = (const panel_q6_k *)m->scales + at;
        for (int j = 0; j < 16; j++)
            k->sc[j] = s->sc[j][l];
        k->d = sq_f16_to_f32(s->d[l]);
        k->dmin = 0.0f;
    }
}

/* The sum of the Q8_K activations of sub-block j (of 32) of a block: quantize_q8_k keeps them
 * as int16 pairs, the low half for even j. */
static inline int32_t q8k_sum(const int32_t *pairs, int j)
{
    const uint32_t v = (uint32_t)pairs[j / 2];
    return (int16_t)(uint16_t)(j % 2 ? v >> 16 : v & 0xffff);
}

/* Token t's block b against a k-quant block: Q4_K (8 sub-blocks of 32) d d_x sum_j sc_j
 * sum(n q_x)_j - dmin d_x sum_j m_j sum(q_x)_j, Q6_K (16 of 16) d d_x sum_j sc_j sum(q q_x)_j. */
static float kblock_term(const kblock *k, bool q4, const sq_kernel_work *work, int K, size_t t, int b)
{
    const int nb = K / SQ_QK_K, sub = q4 ? 32 : 16;
    const int8_t *q = work->q + t * K + (size_t)b * SQ_QK_K;
    const int32_t *pairs = work->sum + (t * K + (size_t)b * SQ_QK_K) / 32;
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < SQ_QK_K / sub; j++) {
        int32_t dot = 0;
        for (int l = sub * j; l < sub * j + sub; l++)
            dot += k->code[l] * q[l];
        isum += k->sc[j] * dot;
        if (q4)
            msum += k->mn[j] * q8k_sum(pairs, j);
    }
    const float dx = work->scale[t * nb + b];
    return k->d * dx * (float)isum - k->dmin * dx * (float)msum;
}

/* Q4_K and Q6_K rows: each block decoded, then its term. */
static float dot_kquant_ref(const uint8_t *row, int K, const sq_kernel_work *work, size_t t, bool q4)
{
    float sum = 0.0f;
    kblock k;
    for (int b = 0; b < K / SQ_QK_K; b++) {
        if (q4)
            kblock_q4_k((const sq_block_q4_k *)row + b, &k);
        else
            kblock_q6_k((const sq_block_q6_k *)row + b, &k);
        sum += kblock_term(&k, q4, work, K, t, b);
    }
    return sum;
}

static float dot_q4_k_ref(const uint8_t *row, int K, const sq_kernel_work *work, size_t t)
{
    return dot_kquant_ref(row, K, work, t, true);
}

static float dot_q6_k_ref(const uint8_t *row, int K, const sq_kernel_work *work, size_t t)
{
    return dot_kquant_ref(row, K, work, t, false);
}

/* Panels (the AVX-512 layout, run where AVX-512 is turned off: tests): each block put back
 * together, then the same terms as the stored blocks. */
static void panels_ref(const sq_matrix *m, int T, float *y, int ldy, bool accumulate, const sq_kernel_work *work)
{
    const bool kquant = m->group == SQ_QK_K, q4k = m->kernel == &sq_kernel_q4_k_q8_k;
    const panel32_kind k = panel32_of(m);
    const decode32_fn decode = k.min ? decode_q4_1 : k.q4 ? decode_q4_0 : decode_q8_0;
    uint8_t block[sizeof(sq_block_q8_0)];
    kblock kb;
    for (int r = 0; r < m->rows; r++)
        for (int t = 0; t < T; t++) {
            float sum = 0.0f;
            for (int b = 0; b < m->cols / m->group; b++) {
                if (kquant) {
                    kblock_panel(m, q4k, r, b, &kb);
                    sum += kblock_term(&kb, q4k, work, m->cols, (size_t)t, b);
                } else {
                    panel_block(m, k, r, b, block);
                    sum += block32_term(block, work, m->cols, (size_t)t, b, decode);
                }
            }
            float *out = y + (size_t)t * ldy + r;
            *out = accumulate ? *out + sum : sum;
        }
}

/* ---- the loops --------------------------------------------------------------- */

/* fp32 activations: each block decoded once per row, multiplied with every token. */
static void matmul_fp32(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate)
{
    const sq_ggml_block_kind *kind = matrix_kind(m);
    const int K = m->cols, nb = K / kind->block_values, bv = kind->block_values;
    const size_t row_bytes = (size_t)nb * (size_t)kind->block_bytes;
    float block[SQ_QK_K];
    for (int r = 0; r < m->rows; r++) {
        const uint8_t *row = (const uint8_t *)m->codes + (size_t)r * row_bytes;
        for (int t = 0; t < T; t++)
            if (!accumulate)
                y[(size_t)t * ldy + r] = 0.0f;
        for (int b = 0; b < nb; b++) {
            kind->dequantize_row(row + (size_t)b * kind->block_bytes, block, bv);
            for (int t = 0; t < T; t++) {
                const float *xb = x + (size_t)t * K + (size_t)b * bv;
                float part = 0.0f;
                for (int j = 0; j < bv; j++)
                    part += block[j] * xb[j];
                y[(size_t)t * ldy + r] += part;
            }
        }
    }
}

static void matmul_rows(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                        sq_kernel_work *work, row_dot_fn dot)
{
    const sq_ggml_block_kind *kind = matrix_kind(m);
    const size_t row_bytes = (size_t)(m->cols / kind->block_values) * (size_t)kind->block_bytes;
    if (m->fp32_activations) {
        matmul_fp32(m, x, T, y, ldy, accumulate);
        return;
    }
    quantize_acts(m, x, T, work);
    if (m->flags & GGML_PANELS) { /* the AVX-512 layout, run where AVX-512 is turned off (tests) */
        panels_ref(m, T, y, ldy, accumulate, work);
        return;
    }
    for (int r = 0; r < m->rows; r++) { /* a row's blocks stay in L1 while every token passes */
        const uint8_t *row = (const uint8_t *)m->codes + (size_t)r * row_bytes;
        for (int t = 0; t < T; t++) {
            float *out = y + (size_t)t * ldy + r;
            const float v = dot(row, m->cols, work, (size_t)t);
            *out = accumulate ? *out + v : v;
        }
    }
}

#define MATMUL(fn, dot)                                                                                                \
    static void fn(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,                      \
                   sq_kernel_work *work)                                                                               \
    {                                                                                                                  \
        matmul_rows(m, x, T, y, ldy, accumulate, work, dot);                                                           \
    }
MATMUL(q8_0_ref, dot_q8_0_ref)
MATMUL(q4_0_ref, dot_q4_0_ref)
MATMUL(q4_1_ref, dot_q4_1_ref)
MATMUL(q4_k_ref, dot_q4_k_ref)
MATMUL(q6_k_ref, dot_q6_k_ref)

/* ---- AVX2 + FMA + F16C ------------------------------------------------------ */

#if SQ_KERNELS_X86
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 32 unsigned codes (< 128) x 32 signed activations, pair sums as 8 int32. */
AVX2 static inline __m256i dot_u8_i8(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* 32 nibbles of 16 bytes: low nibbles (inputs 0..15) then high nibbles (16..31). */
AVX2 static inline __m256i nibbles_32(const uint8_t *qs)
{
    const __m128i bytes = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes), _mm256_set1_epi8(0x0f));
}

/* an immediate operand: clang requires a constant expression */
enum { ROUND_NEAREST_EVEN = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC };

/* quantize_q8_0 in AVX2, the same bytes: the same absmax, 127 / absmax, product rounded half
 * to even (nearbyintf in the default rounding mode), the scales through the same fp16 rounding. */
AVX2 static void quantize_q8_0_avx2(const float *x, int T, int K, bool with_s, sq_kernel_work *work)
{
    const int nb = K / SQ_QK8_0;
    if (sq_acts_held(work, x, T, K, SQ_QK8_0, with_s ? SQ_ACTS_GGML_Q8_1 : SQ_ACTS_GGML_Q8_0))
        return;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < nb; b++) {
            const size_t at = (size_t)t * K + (size_t)b * SQ_QK8_0, bi = (size_t)t * nb + (size_t)b;
            const float *v = x + at;
            __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8), v2 = _mm256_loadu_ps(v + 16),
                   v3 = _mm256_loadu_ps(v + 24);
            __m256 mx = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                      _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
            __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
            h = _mm_max_ps(h, _mm_movehl_ps(h, h));
            h = _mm_max_ss(h, _mm_movehdup_ps(h));
            const float amax = _mm_cvtss_f32(h), d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
            const __m256 mul = _mm256_set1_ps(id);
            __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, mul), ROUND_NEAREST_EVEN));
            __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, mul), ROUND_NEAREST_EVEN));
            __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, mul), ROUND_NEAREST_EVEN));
            __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, mul), ROUND_NEAREST_EVEN));
            __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
            /* packs interleave the 128-bit lanes; the permute puts the 32 values back in order */
            __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            packed = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(work->q + at), packed);
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
            const int32_t sum = _mm_cvtsi128_si32(s4);
            work->scale[bi] = sq_f16_to_f32(sq_f32_to_f16(d));
            work->sum[bi] = sum;
            if (with_s)
                work->aux[bi] = sq_f16_to_f32(sq_f32_to_f16(d * (float)sum));
        }
}

/* quantize_q8_k in AVX2, the same bytes: the first value of largest magnitude gives
 * iscale = -127 / max, q = iscale x rounded to nearest even (nearest_int's rounding; no value
 * passes 127 in magnitude, so packing's saturation is the min), the same sums and q + 128. */
AVX2 static void quantize_q8_k_avx2(const float *x, int T, int K, sq_kernel_work *work)
{
    const int nb = K / SQ_QK_K;
    if (sq_acts_held(work, x, T, K, SQ_QK_K, SQ_ACTS_GGML_Q8_K))
        return;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), flip = _mm256_set1_epi8((char)0x80);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < nb; b++) {
            const size_t at = (size_t)t * K + (size_t)b * SQ_QK_K;
            const float *v = x + at;
            int32_t *sums = work->sum + at / 32;
            const float amax = sq_absmax_avx2(v, SQ_QK_K);
            if (amax == 0.0f) {
                memset(work->q + at, 0, SQ_QK_K);
                memset(work->qu + at, 128, SQ_QK_K);
                memset(sums, 0, SQ_QK_K / 64 * sizeof *sums);
                work->scale[(size_t)t * nb + b] = 0.0f;
                continue;
            }
            float max = amax;
            for (int j = 0; j < SQ_QK_K; j += 8) { /* the first value of that magnitude, with its sign */
                const int hit = _mm256_movemask_ps(
                    _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(v + j)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
                if (hit) {
                    max = v[j + __builtin_ctz((unsigned)hit)];
                    break;
                }
            }
            const float iscale = -127.0f / max;
            const __m256 mul = _mm256_set1_ps(iscale);
            for (int j = 0; j < SQ_QK_K; j += 64) {
                __m256i s[2];
                for (int h32 = 0; h32 < 2; h32++) {
                    const float *u = v + j + 32 * h32;
                    const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(u), mul));
                    const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(u + 8), mul));
                    const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(u + 16), mul));
                    const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(u + 24), mul));
                    s[h32] = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
                    __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
                    packed = _mm256_permutevar8x32_epi32(packed, order);
                    _mm256_storeu_si256((__m256i *)(work->q + at + j + 32 * h32), packed);
                    _mm256_storeu_si256((__m256i *)(work->qu + at + j + 32 * h32), _mm256_xor_si256(packed, flip));
                }
                /* the two 32-sums, then as an int16 pair */
                __m256i pair = _mm256_hadd_epi32(s[0], s[1]); /* lanes: s0 s0 s1 s1 | s0 s0 s1 s1 */
                pair = _mm256_hadd_epi32(pair, pair);
                const __m128i both = _mm_add_epi32(_mm256_castsi256_si128(pair), _mm256_extracti128_si256(pair, 1));
                const int32_t s0 = _mm_cvtsi128_si32(both), s1 = _mm_extract_epi32(both, 1);
                sums[j / 64] = (int32_t)((uint32_t)(uint16_t)s0 | (uint32_t)(uint16_t)s1 << 16);
            }
            work->scale[(size_t)t * nb + b] = 1.0f / iscale;
        }
}

#define TILE 4 /* tokens that share one decoded weight block */

/* Q8_0 and Q4_0 rows (signed codes, one fp16 d per block of 32) against Q8_0 activations,
 * in register blocks of SR rows x ST tokens: each weight block is decoded once for ST tokens
 * and each activation block loaded once for SR rows.  Per weight block |w| once, then per
 * token w's sign moved onto x (ggml's mul_sum_i8_pairs), so every pair sum of vpmaddubsw
 * stays within int16.  Rows and tokens past the end repeat the last real one
 * (sq_block_rows); their results are not stored.  Inlined with q4 constant. */
enum { SR = 2, ST = 4 }; /* AVX2 has 16 vector registers: 2 rows x 4 tokens of accumulators */

AVX2 static inline __attribute__((always_inline)) void signed32_rows(const sq_matrix *m, int T, float *y, int ldy,
                                                                    bool accumulate, const sq_kernel_work *work,
                                                                    size_t block_bytes, bool q4)
{
    const int K = m->cols, nb = K / 32;
    const __m256i low = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
    for (int r0 = 0; r0 < m->rows; r0 += SR) {
        int rr[SR], tt[ST];
        const int nr = sq_block_rows(r0, m->rows, SR, rr);
        const uint8_t *rows[SR];
        for (int j = 0; j < SR; j++)
            rows[j] = (const uint8_t *)m->codes + (size_t)rr[j] * (size_t)nb * block_bytes;
        for (int t0 = 0; t0 < T; t0 += ST) {
            const int mr = sq_block_rows(t0, T, ST, tt);
            __m256 acc[SR][ST];
            _Pragma("GCC unroll 8") for (int j = 0; j < SR; j++)
                _Pragma("GCC unroll 8") for (int i = 0; i < ST; i++) acc[j][i] = _mm256_setzero_ps();
            for (int b = 0; b < nb; b++) {
                __m256i w[SR], aw[SR];
                float wd[SR];
                _Pragma("GCC unroll 8") for (int j = 0; j < SR; j++) {
                    const uint8_t *block = rows[j] + (size_t)b * block_bytes; /* d is the first field */
                    wd[j] = _cvtsh_ss(*(const uint16_t *)block);
                    if (q4) {
                        const __m128i bytes = _mm_loadu_si128((const __m128i *)(block + 2));
                        w[j] = _mm256_sub_epi8(
                            _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes), low), eight);
                    } else {
                        w[j] = _mm256_loadu_si256((const __m256i *)(block + 2));
                    }
                    aw[j] = _mm256_sign_epi8(w[j], w[j]);
                }
                _Pragma("GCC unroll 8") for (int i = 0; i < ST; i++) {
                    const size_t tok = (size_t)tt[i];
                    const __m256i xv = _mm256_loadu_si256((const __m256i *)(work->q + tok * K + (size_t)b * 32));
                    const float xd = work->scale[tok * nb + b];
                    _Pragma("GCC unroll 8") for (int j = 0; j < SR; j++) acc[j][i] = _mm256_fmadd_ps(
                        _mm256_set1_ps(wd[j] * xd),
                        _mm256_cvtepi32_ps(dot_u8_i8(aw[j], _mm256_sign_epi8(xv, w[j]))), acc[j][i]);
                }
            }
            float sums[SR][ST]; /* constant indices keep acc in registers */
            _Pragma("GCC unroll 8") for (int j = 0; j < SR; j++)
                _Pragma("GCC unroll 8") for (int i = 0; i < ST; i++) sums[j][i] = hsum_ps(acc[j][i]);
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < nr; j++) {
                    float *out = y + (size_t)(t0 + i) * ldy + r0 + j;
                    *out = accumulate ? *out + sums[j][i] : sums[j][i];
                }
        }
    }
}


AVX2 static void q8_0_avx2(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                           sq_kernel_work *work)
{
    if (m->flags & GGML_PANELS) { /* the AVX-512 layout, run where AVX-512 is turned off (tests) */
        q8_0_ref(m, x, T, y, ldy, accumulate, work);
        return;
    }
    if (m->fp32_activations) {
        matmul_fp32(m, x, T, y, ldy, accumulate);
        return;
    }
    quantize_q8_0_avx2(x, T, m->cols, false, work);
    signed32_rows(m, T, y, ldy, accumulate, work, sizeof(sq_block_q8_0), false);
}

AVX2 static void q4_0_avx2(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                           sq_kernel_work *work)
{
    if (m->flags & GGML_PANELS) { /* the AVX-512 layout, run where AVX-512 is turned off (tests) */
        q4_0_ref(m, x, T, y, ldy, accumulate, work);
        return;
    }
    if (m->fp32_activations) {
        matmul_fp32(m, x, T, y, ldy, accumulate);
        return;
    }
    quantize_q8_0_avx2(x, T, m->cols, false, work);
    signed32_rows(m, T, y, ldy, accumulate, work, sizeof(sq_block_q4_0), true);
}

/* Q4_1 x Q8_1: unsigned nibbles straight into vpmaddubsw; the min's term m_w s_x per block. */
AVX2 static void q4_1_avx2(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                           sq_kernel_work *work)
{
    if (m->flags & GGML_PANELS) { /* the AVX-512 layout, run where AVX-512 is turned off (tests) */
        q4_1_ref(m, x, T, y, ldy, accumulate, work);
        return;
    }
    const int K = m->cols, nb = K / SQ_QK4_1;
    float *wd = work->row, *wm = work->row + nb;
    if (m->fp32_activations) {
        matmul_fp32(m, x, T, y, ldy, accumulate);
        return;
    }
    quantize_q8_0_avx2(x, T, K, true, work);
    for (int r = 0; r < m->rows; r++) {
        const sq_block_q4_1 *w = (const sq_block_q4_1 *)m->codes + (size_t)r * nb;
        for (int b = 0; b < nb; b++) {
            wd[b] = _cvtsh_ss(w[b].d);
            wm[b] = _cvtsh_ss(w[b].m);
        }
        for (int t = 0; t < T; t += TILE) {
            const int mr = T - t < TILE ? T - t : TILE;
            __m256 acc[TILE] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            float mins[TILE] = {0.0f, 0.0f, 0.0f, 0.0f};
            for (int b = 0; b < nb; b++) {
                const __m256i n = nibbles_32(w[b].qs);
                _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                    const size_t tok = (size_t)(t + i);
                    const __m256i xv = _mm256_loadu_si256((const __m256i *)(work->q + tok * K + (size_t)b * 32));
                    acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(wd[b] * work->scale[tok * nb + b]),
                                             _mm256_cvtepi32_ps(dot_u8_i8(n, xv)), acc[i]);
                    mins[i] += wm[b] * work->aux[tok * nb + b];
                }
            }
            _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                float *out = y + (size_t)(t + i) * ldy + r;
                const float v = hsum_ps(acc[i]) + mins[i];
                *out = accumulate ? *out + v : v;
            }
        }
    }
}

/* Q4_K x Q8_K: per super-block the 8 scales and mins decoded once for a tile of tokens; each
 * 32 bytes of codes are two sub-blocks (low and high nibbles), multiplied by vpmaddubsw and
 * weighted by their 6-bit scales in vpmaddwd. */
AVX2 static void q4_k_avx2(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                           sq_kernel_work *work)
{
    if (m->flags & GGML_PANELS) { /* the AVX-512 layout, run where AVX-512 is turned off (tests) */
        q4_k_ref(m, x, T, y, ldy, accumulate, work);
        return;
    }
    const int K = m->cols, nb = K / SQ_QK_K;
    const __m256i low = _mm256_set1_epi8(0x0f);
    if (m->fp32_activations) {
        matmul_fp32(m, x, T, y, ldy, accumulate);
        return;
    }
    quantize_q8_k_avx2(x, T, K, work);
    for (int r = 0; r < m->rows; r++) {
        const sq_block_q4_k *w = (const sq_block_q4_k *)m->codes + (size_t)r * nb;
        for (int t = 0; t < T; t += TILE) {
            const int mr = T - t < TILE ? T - t : TILE;
            __m256 acc[TILE] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            float mins[TILE] = {0.0f, 0.0f, 0.0f, 0.0f};
            for (int b = 0; b < nb; b++) {
                uint8_t sc[8], mn[8];
                for (int j = 0; j < 8; j++)
                    sq_ggml_scale_min_k4(j, w[b].scales, &sc[j], &mn[j]);
                const float d = _cvtsh_ss(w[b].d), dmin = _cvtsh_ss(w[b].dmin);
                __m256i isum[TILE] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                      _mm256_setzero_si256()};
                for (int j = 0; j < 4; j++) {
                    const __m256i bytes = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * j));
                    const __m256i lo = _mm256_and_si256(bytes, low);
                    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low);
                    const __m256i s_lo = _mm256_set1_epi16(sc[2 * j]), s_hi = _mm256_set1_epi16(sc[2 * j + 1]);
                    _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                        const int8_t *q = work->q + (size_t)(t + i) * K + (size_t)b * SQ_QK_K + 64 * j;
                        const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q));
                        const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q + 32)));
                        isum[i] = _mm256_add_epi32(isum[i], _mm256_add_epi32(_mm256_madd_epi16(plo, s_lo),
                                                                             _mm256_madd_epi16(phi, s_hi)));
                    }
                }
                _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                    const size_t tok = (size_t)(t + i);
                    const int32_t *sums = work->sum + (tok * K + (size_t)b * SQ_QK_K) / 32;
                    const float dx = work->scale[tok * nb + b];
                    int32_t msum = 0;
                    for (int j = 0; j < 8; j++)
                        msum += mn[j] * q8k_sum(sums, j);
                    acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(d * dx), _mm256_cvtepi32_ps(isum[i]), acc[i]);
                    mins[i] += dmin * dx * (float)msum;
                }
            }
            _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                float *out = y + (size_t)(t + i) * ldy + r;
                const float v = hsum_ps(acc[i]) - mins[i];
                *out = accumulate ? *out + v : v;
            }
        }
    }
}

/* Q6_K x Q8_K: per half super-block the four runs of 32 six-bit codes (0..63) assembled once
 * for a tile of tokens; vpmaddubsw of the codes minus that of 32 (ggml's q8s) gives the
 * (q - 32) x pair sums, vpmaddwd weights each 16 with its int8 scale. */
AVX2 static void q6_k_avx2(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                           sq_kernel_work *work)
{
    if (m->flags & GGML_PANELS) { /* the AVX-512 layout, run where AVX-512 is turned off (tests) */
        q6_k_ref(m, x, T, y, ldy, accumulate, work);
        return;
    }
    const int K = m->cols, nb = K / SQ_QK_K;
    const __m256i low = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3), m32 = _mm256_set1_epi8(32);
    if (m->fp32_activations) {
        matmul_fp32(m, x, T, y, ldy, accumulate);
        return;
    }
    quantize_q8_k_avx2(x, T, K, work);
    for (int r = 0; r < m->rows; r++) {
        const sq_block_q6_k *w = (const sq_block_q6_k *)m->codes + (size_t)r * nb;
        for (int t = 0; t < T; t += TILE) {
            const int mr = T - t < TILE ? T - t : TILE;
            __m256 acc[TILE] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            for (int b = 0; b < nb; b++) {
                __m256i isum[TILE] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                      _mm256_setzero_si256()};
                for (int half = 0; half < 2; half++) {
                    const uint8_t *ql = w[b].ql + 64 * half, *qh = w[b].qh + 32 * half;
                    const int8_t *sc = w[b].scales + 8 * half;
                    const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
                    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
                    const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
                    const __m256i lows[4] = {_mm256_and_si256(l0, low), _mm256_and_si256(l1, low),
                                             _mm256_and_si256(_mm256_srli_epi16(l0, 4), low),
                                             _mm256_and_si256(_mm256_srli_epi16(l1, 4), low)};
                    for (int run = 0; run < 4; run++) { /* inputs 128 half + 32 run ..: sub-blocks 2 run, 2 run + 1 */
                        const __m256i highs =
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * run), three), 4);
                        const __m256i v = _mm256_or_si256(lows[run], highs);
                        const __m256i scales =
                            _mm256_set_m128i(_mm_set1_epi16(sc[2 * run + 1]), _mm_set1_epi16(sc[2 * run]));
                        _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                            const __m256i xv = _mm256_loadu_si256((const __m256i *)(
                                work->q + (size_t)(t + i) * K + (size_t)b * SQ_QK_K + 128 * half + 32 * run));
                            const __m256i p =
                                _mm256_sub_epi16(_mm256_maddubs_epi16(v, xv), _mm256_maddubs_epi16(m32, xv));
                            isum[i] = _mm256_add_epi32(isum[i], _mm256_madd_epi16(p, scales));
                        }
                    }
                }
                const float d = _cvtsh_ss(w[b].d);
                _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr)
                    acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(d * work->scale[(size_t)(t + i) * nb + b]),
                                             _mm256_cvtepi32_ps(isum[i]), acc[i]);
            }
            _Pragma("GCC unroll 4") for (int i = 0; i < TILE; i++) if (i < mr) {
                float *out = y + (size_t)(t + i) * ldy + r;
                const float v = hsum_ps(acc[i]);
                *out = accumulate ? *out + v : v;
            }
        }
    }
}

/* ---- AVX-512 VNNI -------------------------------------------------------------- */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* Q8_0 and Q4_0 panels (to_panels) against Q8_0 activations: per group of 4 inputs one
 * vpdpbusd adds each of 16 rows' 4 products with a token's 4 broadcast activation bytes into
 * the row's int32 lane, exactly (qgemm.c's q4_avx512, a tile of 8 tokens per pass).  The unsigned
 * operand is the weight: Q4_0's nibble n = w + 8, Q8_0's w + 128, so per block the lanes lose
 * bias x the activations' sum, become floats and take the 16 rows' d times the token's d. */
#define MRV SQ_TILE

AVX512 static inline __attribute__((always_inline)) void panels_avx512(const sq_matrix *m, int T, float *y, int ldy,
                                                                      bool accumulate, const sq_kernel_work *work,
                                                                      const bool q4, const bool min)
{
    const int K = m->cols, nb = K / 32, bias = min ? 0 : q4 ? 8 : 128;
    const size_t qs = q4 ? 16 : 32, halves = panel32_halves(panel32_of(m));
    const __m512i low = _mm512_set1_epi8(0x0f);
    for (int p = 0; p * 16 < m->rows; p++) {
        const int nr = sq_panel_outputs(m->rows, p);
        for (int t = 0; t < T; t += MRV) {
            /* the tile of activations (tiles.c): 8 tokens' 4 bytes per group of 4 inputs, and per
             * block their 8 fp16-rounded scales, integer sums and (Q8_1) s side by side */
            const int32_t *xg = (const int32_t *)work->q + (size_t)t * (K / 4);
            const size_t side = sq_tile_side(t, nb, 0);
            const float *d = work->scale + side, *s = work->aux + side;
            const int32_t *sum = work->sum + side;
            __m512 acc[MRV];
            _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                acc[i] = _mm512_setzero_ps();
            for (int b = 0; b < nb; b++, xg += 8 * MRV, d += MRV, s += MRV, sum += MRV) {
                const size_t at = (size_t)p * nb + (size_t)b;
                const uint8_t *blk = (const uint8_t *)m->codes + at * 16 * qs;
                const uint16_t *half = (const uint16_t *)m->scales + at * halves;
                __m512i dot[MRV];
                _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                    dot[i] = _mm512_setzero_si512();
                if (q4) {
                    _Pragma("GCC unroll 4") for (int g = 0; g < 4; g++) { /* 4 groups of 8 inputs */
                        const __m512i bytes = _mm512_loadu_si512(blk + (size_t)g * 64);
                        const __m512i lo = _mm512_and_si512(bytes, low);
                        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low);
                        _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) {
                            dot[i] = sq_dpbusd_bcast(dot[i], lo, xg + 2 * g * MRV + i);
                            dot[i] = sq_dpbusd_bcast(dot[i], hi, xg + (2 * g + 1) * MRV + i);
                        }
                    }
                } else {
                    for (int g = 0; g < 8; g++) { /* 8 groups of 4 inputs */
                        const __m512i w = _mm512_loadu_si512(blk + (size_t)g * 64);
                        _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                            dot[i] = sq_dpbusd_bcast(dot[i], w, xg + g * MRV + i);
                    }
                }
                const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)half));
                _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) {
                    const __m512i exact = _mm512_sub_epi32(dot[i], _mm512_set1_epi32(bias * sum[i]));
                    acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(dw, _mm512_set1_ps(d[i])),
                                             acc[i]);
                }
                if (min) { /* Q4_1: m_w s_x */
                    const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(half + 16)));
                    _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                        acc[i] = _mm512_fmadd_ps(mw, _mm512_set1_ps(s[i]), acc[i]);
                }
            }
            _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) if (t + i < T)
                sq_store_row16(y, ldy, t + i, (size_t)p * 16, acc[i], nr, accumulate);
        }
    }
}

AVX512 static void q8_0_panels(const sq_matrix *m, int T, float *y, int ldy, bool accumulate,
                               const sq_kernel_work *work)
{
    panels_avx512(m, T, y, ldy, accumulate, work, false, false);
}

AVX512 static void q4_0_panels(const sq_matrix *m, int T, float *y, int ldy, bool accumulate,
                               const sq_kernel_work *work)
{
    panels_avx512(m, T, y, ldy, accumulate, work, true, false);
}

AVX512 static void q4_1_panels(const sq_matrix *m, int T, float *y, int ldy, bool accumulate,
                               const sq_kernel_work *work)
{
    panels_avx512(m, T, y, ldy, accumulate, work, true, true);
}

/* The k-quants' panels (to_kpanels) against Q8_K, one body for both (q4 constant once inlined).
 * Q4_K: per sub-block of 32 the 16 rows' nibble products by vpdpbusd as Q4_0's panels, times
 * the rows' 6-bit scales (vpmulld) into the block's exact integer sum; the mins' sum by
 * vpdpwssd of the rows' min pairs with the token's pairs of 32-sums; then d d_x isum -
 * dmin d_x msum per row lane.  Q6_K: per sub-block of 16 the activations + 128 (unsigned)
 * times the rows' q - 32 (signed), times the rows' int8 scales; the rows' corr takes the 128
 * back, then d d_x isum per row lane. */
AVX512 static inline __attribute__((always_inline)) void kquant_panels(const sq_matrix *m, int T, float *y, int ldy,
                                                                      bool accumulate, const sq_kernel_work *work,
                                                                      bool q4)
{
    const int K = m->cols, nb = K / SQ_QK_K, subs = q4 ? 8 : 16;
    const size_t codes_bytes = q4 ? 16 * 128 : 16 * 256;
    const __m512i low = _mm512_set1_epi8(0x0f);
    for (int p = 0; p * 16 < m->rows; p++) {
        const int nr = sq_panel_outputs(m->rows, p);
        for (int t = 0; t < T; t += MRV) {
            int row[MRV];
            const int32_t *xr[MRV];
            __m512 acc[MRV];
            const int mr = sq_start_block16(q4 ? (const void *)work->q : (const void *)work->qu, K, t, T, MRV, row,
                                            xr, acc);
            for (int b = 0; b < nb; b++) {
                const size_t at = (size_t)p * nb + (size_t)b;
                const uint8_t *blk = (const uint8_t *)m->codes + at * codes_bytes;
                const panel_q4_k *s4 = (const panel_q4_k *)m->scales + at;
                const panel_q6_k *s6 = (const panel_q6_k *)m->scales + at;
                __m512i isum[MRV];
                _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                    isum[i] = _mm512_setzero_si512();
                for (int j = 0; j < subs; j++) {
                    __m512i dot[MRV];
                    _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++)
                        dot[i] = _mm512_setzero_si512();
                    for (int g = 0; g < 4; g++) {
                        const __m512i bytes = _mm512_loadu_si512(blk + (size_t)(4 * j + g) * 64);
                        if (q4) { /* words of 4 activation bytes: 8 per sub-block, 2 per group */
                            const __m512i lo = _mm512_and_si512(bytes, low);
                            const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low);
                            const int w = 64 * b + 8 * j + 2 * g;
                            _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) {
                                dot[i] = sq_dpbusd_bcast(dot[i], lo, xr[i] + w);
                                dot[i] = sq_dpbusd_bcast(dot[i], hi, xr[i] + w + 1);
                            }
                        } else {
                            const int w = 64 * b + 4 * j + g;
                            _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) dot[i] =
                                _mm512_dpbusd_epi32(dot[i], _mm512_set1_epi32(xr[i][w]), bytes);
                        }
                    }
                    const __m512i sc = q4 ? _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)s4->sc[j]))
                                          : _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)s6->sc[j]));
                    _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) isum[i] =
                        _mm512_add_epi32(isum[i], _mm512_mullo_epi32(dot[i], sc));
                }
                const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(q4 ? s4->d : s6->d)));
                _Pragma("GCC unroll 8") for (int i = 0; i < MRV; i++) {
                    const __m512 dx = _mm512_set1_ps(work->scale[(size_t)row[i] * nb + (size_t)b]);
                    if (q4) {
                        const int32_t *pairs = work->sum + ((size_t)row[i] * K + (size_t)b * SQ_QK_K) / 32;
                        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)s4->dmin));
                        __m512i msum = _mm512_setzero_si512();
                        for (int k = 0; k < 4; k++)
                            msum = _mm512_dpwssd_epi32(msum, _mm512_loadu_si512(s4->mn[k]),
                                                       _mm512_set1_epi32(pairs[k]));
                        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_mul_ps(d, dx), acc[i]);
                        acc[i] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(dmin, dx), acc[i]);
                    } else {
                        const __m512i exact = _mm512_sub_epi32(isum[i], _mm512_loadu_si512(s6->corr));
                        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(d, dx), acc[i]);
                    }
                }
            }
            sq_store_block16(y, ldy, t, (size_t)p * 16, acc, mr, nr, _mm512_set1_ps(1.0f), accumulate);
        }
    }
}

AVX512 static void q4_k_panels(const sq_matrix *m, int T, float *y, int ldy, bool accumulate,
                               const sq_kernel_work *work)
{
    kquant_panels(m, T, y, ldy, accumulate, work, true);
}

AVX512 static void q6_k_panels(const sq_matrix *m, int T, float *y, int ldy, bool accumulate,
                               const sq_kernel_work *work)
{
    kquant_panels(m, T, y, ldy, accumulate, work, false);
}

/* The AVX-512 entry of each format: its panels, or (prepared with AVX-512 off, or fp32
 * activations) the AVX2 kernel of the stored blocks. */
#define AVX512_ENTRY(fn, avx2, quantize, panels)                                                                       \
    AVX512 static void fn(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,               \
                          sq_kernel_work *work)                                                                        \
    {                                                                                                                  \
        if (!(m->flags & GGML_PANELS)) {                                                                               \
            avx2(m, x, T, y, ldy, accumulate, work);                                                                   \
            return;                                                                                                    \
        }                                                                                                              \
        quantize;                                                                                                      \
        panels(m, T, y, ldy, accumulate, work);                                                                        \
    }
AVX512_ENTRY(q8_0_avx512, q8_0_avx2, sq_quantize_tiles_avx512(x, T, m->cols, SQ_QK8_0, SQ_TILES_GGML_Q8_0, work),
             q8_0_panels)
AVX512_ENTRY(q4_0_avx512, q4_0_avx2, sq_quantize_tiles_avx512(x, T, m->cols, SQ_QK8_0, SQ_TILES_GGML_Q8_0, work),
             q4_0_panels)
AVX512_ENTRY(q4_1_avx512, q4_1_avx2, sq_quantize_tiles_avx512(x, T, m->cols, SQ_QK8_0, SQ_TILES_GGML_Q8_1, work),
             q4_1_panels)
AVX512_ENTRY(q4_k_avx512, q4_k_avx2, quantize_q8_k_avx2(x, T, m->cols, work), q4_k_panels)
AVX512_ENTRY(q6_k_avx512, q6_k_avx2, quantize_q8_k_avx2(x, T, m->cols, work), q6_k_panels)
#else
#define q8_0_avx2 NULL
#define q4_0_avx2 NULL
#define q4_1_avx2 NULL
#define q4_k_avx2 NULL
#define q6_k_avx2 NULL
#define q8_0_avx512 NULL
#define q4_0_avx512 NULL
#define q4_1_avx512 NULL
#define q4_k_avx512 NULL
#define q6_k_avx512 NULL
#endif

const sq_kernel sq_kernel_q8_0_q8_0 = {
    .name = "q8_0xq8_0", .format = "q8_0", .prepare = prepare_q8_0, .matmul_ref = q8_0_ref, .matmul_avx2 = q8_0_avx2,
    .matmul_avx512 = q8_0_avx512, .row = ggml_row,
};
const sq_kernel sq_kernel_q4_0_q8_0 = {
    .name = "q4_0xq8_0", .format = "q4_0", .prepare = prepare_q4_0, .matmul_ref = q4_0_ref, .matmul_avx2 = q4_0_avx2,
    .matmul_avx512 = q4_0_avx512, .row = ggml_row,
};
const sq_kernel sq_kernel_q4_1_q8_1 = {
    .name = "q4_1xq8_1", .format = "q4_1", .prepare = prepare_q4_1, .matmul_ref = q4_1_ref, .matmul_avx2 = q4_1_avx2,
    .matmul_avx512 = q4_1_avx512, .row = ggml_row,
};
const sq_kernel sq_kernel_q4_k_q8_k = {
    .name = "q4_Kxq8_K", .format = "q4_k", .prepare = prepare_q4_k, .matmul_ref = q4_k_ref, .matmul_avx2 = q4_k_avx2,
    .matmul_avx512 = q4_k_avx512, .row = ggml_row,
};
const sq_kernel sq_kernel_q6_k_q8_k = {
    .name = "q6_Kxq8_K", .format = "q6_k", .prepare = prepare_q6_k, .matmul_ref = q6_k_ref, .matmul_avx2 = q6_k_avx2,
    .matmul_avx512 = q6_k_avx512, .row = ggml_row,
};
