/* panel_gemm.c - y = x W^T with W packed once into panels of 16 outputs, for fp32,
 * fp16 and bf16 weights (fp16 and bf16 stay 16-bit in memory and are widened per
 * panel row inside the kernel).
 *
 * Layout: panel p holds outputs 16p .. 16p+15, input-major: panel[k][j] =
 * W[16p + j][k] (zero past the last output), so the kernel reads 16 consecutive
 * weights per input k.  This is the packed B operand of a GEMM (Goto and van de
 * Geijn, "Anatomy of high-performance matrix multiplication", 2008), made once
 * when the model is built instead of by the BLAS on every call; the kernel writes
 * y directly (no separate beta = 0 pass).
 *
 * The AVX2 kernel keeps a 6 x 16 block of y in twelve registers: per input k it
 * loads the panel row (two 8-float vectors, converted from 16-bit when needed),
 * broadcasts x[t][k] for six tokens and issues twelve FMAs (the register block
 * of BLIS's Haswell sgemm kernel); with AVX-512 a panel row is one register, and
 * two panels' rows are loaded side by side for eight tokens (an odd last panel: one
 * panel for twelve tokens).  Panels are the outer loop, so a weight panel
 * is read from memory once per window and the window's activations come from
 * cache.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_internal.h"
#include "tensor/tensor.h"

#define PANEL 16
#define MR 6

static size_t panel_count(int rows) { return ((size_t)rows + PANEL - 1) / PANEL; }

/* Starts a register block of up to max (<= 12) tokens from t: xr[i] the rows of x it reads
 * (sq_block_rows: the last real row repeated past the window's end); returns the real ones. */
static inline int block_rows(const float *x, int K, int t, int T, int max, const float **xr)
{
    int row[12];
    const int mr = sq_block_rows(t, T, max, row);
    for (int i = 0; i < max; i++)
        xr[i] = x + (size_t)row[i] * K;
    return mr;
}

/* Packs the rows of two row-major sources of `size`-byte elements (4 or 2), rows1 rows of src1 then
 * rows2 rows of src2 (NULL when rows2 is 0), as one [rows1 + rows2, cols] weight: stacked
 * weights are packed from where they lie, with no joined copy. */
static sq_status pack_panels(const void *src1, int rows1, const void *src2, int rows2, size_t size, int cols,
                             sq_matrix *m, const char *what)
{
    sq_status st = SQ_OK;
    const int rows = rows1 + rows2;
    size_t panels = panel_count(rows), bytes = panels * PANEL * (size_t)cols * size;
    char *out = NULL;
    SQ_TRY(sq_alloc(&out, bytes, 1, what));
    /* panel by panel, input-major: the output is written once, in order, and the panel's
     * 16 source rows are read side by side */
    for (size_t p = 0; p < panels; p++) {
        const char *row[PANEL];
        int n = 0;
        for (; n < PANEL && p * PANEL + (size_t)n < (size_t)rows; n++) {
            const size_t r = p * PANEL + (size_t)n;
            row[n] = r < (size_t)rows1 ? (const char *)src1 + r * cols * size
                                       : (const char *)src2 + (r - (size_t)rows1) * cols * size;
        }
        char *dst = out + p * (size_t)cols * PANEL * size;
        if (size == sizeof(float)) /* the two element sizes as constants: plain moves */
            for (int k = 0; k < cols; k++, dst += PANEL * sizeof(float))
                for (int j = 0; j < n; j++)
                    memcpy(dst + (size_t)j * sizeof(float), row[j] + (size_t)k * sizeof(float), sizeof(float));
        else
            for (int k = 0; k < cols; k++, dst += PANEL * sizeof(uint16_t))
                for (int j = 0; j < n; j++)
                    memcpy(dst + (size_t)j * sizeof(uint16_t), row[j] + (size_t)k * sizeof(uint16_t),
                           sizeof(uint16_t));
    }
    m->codes = out;
    m->bytes = bytes;
    m->rows = rows;
    m->cols = cols;
cleanup:
    return st;
}

sq_status sq_panel_pack_f32(const float *w, int rows, int cols, sq_matrix *m)
{
    m->kernel = &sq_kernel_f32_panel;
    return pack_panels(w, rows, NULL, 0, sizeof(float), cols, m, "fp32 weight panels");
}

sq_status sq_matrix_from_f32_stacked(const float *w1, int rows1, const float *w2, int rows2, int cols,
                                     sq_matrix *m)
{
    memset(m, 0, sizeof *m);
    m->kernel = &sq_kernel_f32_panel;
    return pack_panels(w1, rows1, w2, rows2, sizeof(float), cols, m, "fp32 weight panels");
}

static inline float same(float v) { return v; }

/* Row r of the panels: input k of it lies PANEL values after input k - 1. */
#define PANEL_ROW(fn, type, widen)                                                                                     \
    static void fn(const sq_matrix *m, int r, float *out)                                                              \
    {                                                                                                                  \
        const type *b = (const type *)m->codes + (size_t)(r / PANEL) * (size_t)m->cols * PANEL + r % PANEL;         \
        for (int k = 0; k < m->cols; k++)                                                                              \
            out[k] = widen(b[(size_t)k * PANEL]);                                                                      \
    }
PANEL_ROW(f32_row, float, same)
PANEL_ROW(f16_row, uint16_t, sq_f16_to_f32)
PANEL_ROW(bf16_row, uint16_t, sq_bf16_to_f32)

float sq_matrix_max_abs_f32(const sq_matrix *m)
{
    if (m->kernel != &sq_kernel_f32_panel)
        return -1.0f;
    const float *v = (const float *)m->codes; /* the panels' zero padding changes no maximum */
    const size_t n = panel_count(m->rows) * PANEL * (size_t)m->cols;
    float worst = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float a = fabsf(v[i]);
        if (!(a <= FLT_MAX))
            return INFINITY;
        worst = a > worst ? a : worst;
    }
    return worst;
}

sq_status sq_matrix_from_16bit(const uint16_t *w, bool bf16, int rows, int cols, sq_matrix *m)
{
    memset(m, 0, sizeof *m);
    m->kernel = bf16 ? &sq_kernel_bf16_panel : &sq_kernel_f16_panel;
    return pack_panels(w, rows, NULL, 0, 2, cols, m, bf16 ? "bf16 weight panels" : "fp16 weight panels");
}

static sq_status prepare_16bit(const sq_qtensor *qt, sq_dtype dtype, const sq_kernel *kernel, sq_matrix *m)
{
    sq_status st;
    int rows, cols;
    const sq_qbuffer *data;
    if ((st = sq_kernel_dims(qt, &rows, &cols)) != SQ_OK ||
        (st = sq_kernel_buffer(qt, "data", dtype, (int64_t)rows * cols, &data)) != SQ_OK)
        return st;
    m->kernel = kernel;
    return pack_panels(data->data, rows, NULL, 0, 2, cols, m, qt->name);
}

static sq_status prepare_f32(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m)
{
    (void)options;
    sq_status st;
    int rows, cols;
    const sq_qbuffer *data;
    if ((st = sq_kernel_dims(qt, &rows, &cols)) != SQ_OK ||
        (st = sq_kernel_buffer(qt, "data", SQ_DTYPE_F32, (int64_t)rows * cols, &data)) != SQ_OK)
        return st;
    return sq_panel_pack_f32(data->data, rows, cols, m);
}

static sq_status prepare_f16(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m)
{
    (void)options;
    return prepare_16bit(qt, SQ_DTYPE_F16, &sq_kernel_f16_panel, m);
}

static sq_status prepare_bf16(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m)
{
    (void)options;
    return prepare_16bit(qt, SQ_DTYPE_BF16, &sq_kernel_bf16_panel, m);
}

/* ---- scalar reference --------------------------------------------------- */

#define REF_BODY(type, widen)                                                                   \
    const int K = m->cols;                                                                      \
    for (int t = 0; t < T; t++) {                                                               \
        const float *xt = x + (size_t)t * K;                                                    \
        for (int r = 0; r < m->rows; r++) {                                                     \
            const type *b = (const type *)m->codes + (size_t)(r / PANEL) * K * PANEL + r % PANEL; \
            float sum = 0.0f;                                                                   \
            for (int k = 0; k < K; k++)                                                         \
                sum += xt[k] * widen(b[(size_t)k * PANEL]);                                     \
            float *out = y + (size_t)t * ldy + r;                                               \
            *out = accumulate ? *out + sum : sum;                                               \
        }                                                                                       \
    }

#define REF_KERNEL(fn, type, widen)                                                                        \
    static void fn(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,                \
                   sq_kernel_work *work)                                                                         \
    {                                                                                                            \
        (void)work;                                                                                              \
        REF_BODY(type, widen)                                                                                    \
    }
REF_KERNEL(f32_ref, float, same)
REF_KERNEL(f16_ref, uint16_t, sq_f16_to_f32)
REF_KERNEL(bf16_ref, uint16_t, sq_bf16_to_f32)

/* ---- AVX2 + FMA + F16C ---------------------------------------------------- */

#if SQ_KERNELS_X86
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

#define LOAD_F32(b, k, half) _mm256_loadu_ps((const float *)(b) + (size_t)(k) * PANEL + 8 * (half))
#define LOAD_F16(b, k, half) \
    _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)(b) + (size_t)(k) * PANEL + 8 * (half))))
#define LOAD_BF16(b, k, half)                                                                                \
    _mm256_castsi256_ps(_mm256_slli_epi32(                                                                   \
        _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)(b) + (size_t)(k) * PANEL + \
                                                                8 * (half)))), 16))

/* Stores rows 0..mr-1 of the 6 x 16 block c into y (nr valid columns). */
AVX2 static inline void store_block(__m256 c[MR][2], int mr, int nr, float *y, int ldy, bool accumulate)
{
    for (int i = 0; i < mr; i++) {
        float *out = y + (size_t)i * ldy;
        if (nr == PANEL) {
            if (accumulate) {
                c[i][0] = _mm256_add_ps(c[i][0], _mm256_loadu_ps(out));
                c[i][1] = _mm256_add_ps(c[i][1], _mm256_loadu_ps(out + 8));
            }
            _mm256_storeu_ps(out, c[i][0]);
            _mm256_storeu_ps(out + 8, c[i][1]);
        } else {
            float lanes[PANEL];
            _mm256_storeu_ps(lanes, c[i][0]);
            _mm256_storeu_ps(lanes + 8, c[i][1]);
            for (int j = 0; j < nr; j++)
                out[j] = accumulate ? out[j] + lanes[j] : lanes[j];
        }
    }
}

#define AVX2_BODY(type, LOAD)                                                                      \
    const int K = m->cols, N = m->rows;                                                            \
    for (size_t p = 0; p < panel_count(N); p++) {                                                  \
        const type *b = (const type *)m->codes + p * (size_t)K * PANEL;                            \
        const int nr = sq_panel_outputs(N, (int)p);                                                \
        for (int t = 0; t < T; t += MR) {                                                          \
            const float *xr[MR];                                                                   \
            const int mr = block_rows(x, K, t, T, MR, xr);                                         \
            __m256 c[MR][2];                                                                       \
            for (int i = 0; i < MR; i++)                                                           \
                c[i][0] = c[i][1] = _mm256_setzero_ps();                                           \
            for (int k = 0; k < K; k++) {                                                          \
                const __m256 b0 = LOAD(b, k, 0), b1 = LOAD(b, k, 1);                               \
                _Pragma("GCC unroll 6") for (int i = 0; i < MR; i++)                              \
                {                                                                                  \
                    const __m256 a = _mm256_broadcast_ss(xr[i] + k);                               \
                    c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);                                     \
                    c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);                                     \
                }                                                                                  \
            }                                                                                      \
            store_block(c, mr, nr, y + (size_t)t * ldy + p * PANEL, ldy, accumulate);              \
        }                                                                                          \
    }

/* AVX-512: a panel row is one 16-float register; 12 tokens x 16 outputs in twelve
 * accumulators, each FMA taking x[t][k] as an embedded broadcast. */
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define MR512 12

#define LOAD512_F32(b, k) _mm512_loadu_ps((const float *)(b) + (size_t)(k) * PANEL)
#define LOAD512_F16(b, k) \
    _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)(b) + (size_t)(k) * PANEL)))
#define LOAD512_BF16(b, k)                                                                              \
    _mm512_castsi512_ps(_mm512_slli_epi32(                                                              \
        _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)(b) + (size_t)(k) * PANEL))), 16))

#define AVX512_BODY(type, LOAD)                                                                    \
    for (; p < panel_count(N); p++) {                                                              \
        const type *b = (const type *)m->codes + p * (size_t)K * PANEL;                            \
        const int nr = sq_panel_outputs(N, (int)p);                                                \
        for (int t = 0; t < T; t += MR512) {                                                       \
            const float *xr[MR512];                                                                \
            const int mr = block_rows(x, K, t, T, MR512, xr);                                      \
            __m512 c[MR512];                                                                       \
            {   /* k = 0 starts the sums (a product rounds as an FMA onto zero) */                 \
                const __m512 w = LOAD(b, 0);                                                       \
                _Pragma("GCC unroll 12") for (int i = 0; i < MR512; i++)                          \
                    c[i] = _mm512_mul_ps(_mm512_set1_ps(xr[i][0]), w);                             \
            }                                                                                      \
            for (int k = 1; k < K; k++) {                                                          \
                const __m512 w = LOAD(b, k);                                                       \
                _Pragma("GCC unroll 12") for (int i = 0; i < MR512; i++)                          \
                    c[i] = _mm512_fmadd_ps(_mm512_set1_ps(xr[i][k]), w, c[i]);                     \
            }                                                                                      \
            sq_store_block16(y, ldy, t, p * PANEL, c, mr, nr, _mm512_set1_ps(1.0f), accumulate);   \
        }                                                                                          \
    }

/* Two panels side by side: 8 tokens x 32 outputs in sixteen accumulators.  Per input k the two
 * panel rows are loaded once and each of the 8 broadcasts feeds two FMAs: 10 loads per 16 FMAs
 * (13 per 12 in the one-panel block above), so the two FMA ports, not the two load ports, set
 * the pace; and 8 rows divide the usual windows (128, 256 positions) with no padded rows.  The
 * panels of a matrix go through this block two at a time, an odd last one through the block above. */
#define MR512W 8

#define AVX512_PAIR_BODY(type, LOAD)                                                               \
    const size_t step = (size_t)K * PANEL;                                                         \
    for (; p + 2 <= panel_count(N); p += 2) {                                                      \
        const type *b = (const type *)m->codes + p * step, *b2 = b + step;                         \
        const int nr = sq_panel_outputs(N, (int)p + 1);                                            \
        for (int t = 0; t < T; t += MR512W) {                                                      \
            const float *xr[MR512W];                                                               \
            const int mr = block_rows(x, K, t, T, MR512W, xr);                                     \
            __m512 c[2][MR512W];                                                                   \
            {   /* k = 0 starts the sums (a product rounds as an FMA onto zero): no zeroed block */ \
                const __m512 w0 = LOAD(b, 0), w1 = LOAD(b2, 0);                                    \
                _Pragma("GCC unroll 8") for (int i = 0; i < MR512W; i++)                          \
                {                                                                                  \
                    const __m512 a = _mm512_set1_ps(xr[i][0]);                                     \
                    c[0][i] = _mm512_mul_ps(a, w0);                                                \
                    c[1][i] = _mm512_mul_ps(a, w1);                                                \
                }                                                                                  \
            }                                                                                      \
            for (int k = 1; k < K; k++) {                                                          \
                const __m512 w0 = LOAD(b, k), w1 = LOAD(b2, k);                                    \
                _Pragma("GCC unroll 8") for (int i = 0; i < MR512W; i++)                          \
                {                                                                                  \
                    const __m512 a = _mm512_set1_ps(xr[i][k]);                                     \
                    c[0][i] = _mm512_fmadd_ps(a, w0, c[0][i]);                                     \
                    c[1][i] = _mm512_fmadd_ps(a, w1, c[1][i]);                                     \
                }                                                                                  \
            }                                                                                      \
            sq_store_block16(y, ldy, t, p * PANEL, c[0], mr, PANEL, _mm512_set1_ps(1.0f), accumulate); \
            sq_store_block16(y, ldy, t, (p + 1) * PANEL, c[1], mr, nr, _mm512_set1_ps(1.0f), accumulate); \
        }                                                                                          \
    }

/* Each format's AVX2 and AVX-512 kernels: the bodies above with its panel loads. */
#define SIMD_KERNELS(prefix, type, LOAD_AVX2, LOAD_AVX512)                                                      \
    AVX2 static void prefix##_avx2(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate, \
                                   sq_kernel_work *work)                                                         \
    {                                                                                                            \
        (void)work;                                                                                              \
        AVX2_BODY(type, LOAD_AVX2)                                                                               \
    }                                                                                                            \
    AVX512 static void prefix##_avx512(const sq_matrix *m, const float *x, int T, float *y, int ldy,            \
                                       bool accumulate, sq_kernel_work *work)                                    \
    {                                                                                                            \
        (void)work;                                                                                              \
        const int K = m->cols, N = m->rows;                                                                      \
        size_t p = 0;                                                                                            \
        if (K < 1) { /* the blocks start their sums with input 0 */                                              \
            prefix##_ref(m, x, T, y, ldy, accumulate, work);                                                     \
            return;                                                                                              \
        }                                                                                                        \
        AVX512_PAIR_BODY(type, LOAD_AVX512)                                                                      \
        AVX512_BODY(type, LOAD_AVX512)                                                                           \
    }
SIMD_KERNELS(f32, float, LOAD_F32, LOAD512_F32)
SIMD_KERNELS(f16, uint16_t, LOAD_F16, LOAD512_F16)
SIMD_KERNELS(bf16, uint16_t, LOAD_BF16, LOAD512_BF16)
#endif

SQ_KERNEL_ROW(sq_kernel_f32_panel, "f32-panel", "fp32", prepare_f32, f32);
SQ_KERNEL_ROW(sq_kernel_f16_panel, "f16-panel", "fp16", prepare_f16, f16);
SQ_KERNEL_ROW(sq_kernel_bf16_panel, "bf16-panel", "bf16", prepare_bf16, bf16);
