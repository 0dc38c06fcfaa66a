/* kernels_internal.h - what the kernel files share (not a public API). */
#ifndef SQ_KERNELS_INTERNAL_H
#define SQ_KERNELS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/matrix.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define SQ_KERNELS_X86 1
#else
#define SQ_KERNELS_X86 0
#endif

/* The named buffer of qt with this dtype and element count, or SQ_ERR_INPUT naming the tensor
 * (sq_qtensor_require_buffer). */
sq_status sq_kernel_buffer(const sq_qtensor *qt, const char *name, sq_dtype dtype, int64_t count,
                           const sq_qbuffer **out);
/* rows = shape[0] of qt (its original shape), cols = the rest; SQ_ERR_INPUT unless 2-D-like. */
sq_status sq_kernel_dims(const sq_qtensor *qt, int *rows, int *cols);

/* fp32 panels of w [rows, cols] (panel_gemm.c): also the fallback of every format. */
sq_status sq_panel_pack_f32(const float *w, int rows, int cols, sq_matrix *m);

/* The token rows of a register block of up to max tokens from t: row[i] for i < max, the
 * rows past the window repeating the last one (their results are never stored); returns
 * mr, the block's real tokens. */
static inline int sq_block_rows(int t, int T, int max, int *row)
{
    const int mr = T - t < max ? T - t : max;
    for (int i = 0; i < max; i++)
        row[i] = t + (i < mr ? i : mr - 1);
    return mr;
}

/* The outputs of panel p of 16 (nr of them real; the matrix has rows outputs). */
static inline int sq_panel_outputs(int rows, int p) { return rows - p * 16 < 16 ? rows - p * 16 : 16; }

/* One row of a kernel's table: its name, the storage format it takes, its prepare and its
 * PREFIX_ref, PREFIX_avx2 and PREFIX_avx512 (none where the build has no x86 SIMD). */
#if SQ_KERNELS_X86
#define SQ_KERNEL_ROW(id, kernel_name, storage_format, prepare_fn, prefix)                                       \
    const sq_kernel id = {.name = kernel_name, .format = storage_format, .prepare = prepare_fn,                  \
                          .matmul_ref = prefix##_ref, .matmul_avx2 = prefix##_avx2, .matmul_avx512 = prefix##_avx512, \
                          .row = prefix##_row}
#else
#define SQ_KERNEL_ROW(id, kernel_name, storage_format, prepare_fn, prefix)                                       \
    const sq_kernel id = {.name = kernel_name, .format = storage_format, .prepare = prepare_fn,                  \
                          .matmul_ref = prefix##_ref, .row = prefix##_row}
#endif

/* How a kernel quantized its activations into the scratch (sq_kernel_work.held.kind). */
typedef enum {
    SQ_ACTS_TILES = 1,       /* tiles.c: q, d, sums and d x sum in tiles of 8 tokens (qgemm.c's kernels) */
    SQ_ACTS_GGML_Q8_0,       /* ggml_dot.c: Q8_0 (fp16-rounded d, sums) */
    SQ_ACTS_GGML_Q8_1,       /* ggml_dot.c: Q8_1 (Q8_0 and s = d x sum) */
    SQ_ACTS_GGML_Q8_K,       /* ggml_dot.c: Q8_K (q, q + 128, sums of 16 and 32) */
    SQ_ACTS_GGML_Q8_0_TILES, /* tiles.c: ggml's Q8_0 in tiles of 8 tokens (fp16-rounded d, sums) */
    SQ_ACTS_GGML_Q8_1_TILES, /* tiles.c: ggml's Q8_1 in tiles of 8 tokens (Q8_0 and s = d x sum) */
} sq_acts_kind;

/* True when work already holds x quantized this way: the caller says x is the previous
 * product's input, unchanged (sq_matrix_matmul_again), and that product, the one just before
 * (no other kernel wrote the scratch since), quantized the same window with the same block and
 * kind.  Records x as what the scratch holds from now on. */
static inline bool sq_acts_held(sq_kernel_work *work, const float *x, int T, int cols, int block, sq_acts_kind kind)
{
    const bool held = work->again && work->held.call + 1 == work->calls && work->held.x == x &&
                      work->held.tokens == T && work->held.cols == cols && work->held.block == block &&
                      work->held.kind == (int)kind;
    work->held.x = x;
    work->held.tokens = T;
    work->held.cols = cols;
    work->held.block = block;
    work->held.kind = (int)kind;
    work->held.call = work->calls;
    return held;
}

/* The AVX-512 VNNI kernels' activations: tiles of SQ_TILE tokens (tiles.c), in one of these forms. */
#define SQ_TILE 8
typedef enum { /* each the sq_acts_kind the scratch then holds */
    SQ_TILES_Q8 = SQ_ACTS_TILES,                  /* q, d, integer sums (work->sum), d x sum (work->aux) */
    SQ_TILES_GGML_Q8_0 = SQ_ACTS_GGML_Q8_0_TILES, /* ggml's Q8_0: q, d rounded to fp16, integer sums */
    SQ_TILES_GGML_Q8_1 = SQ_ACTS_GGML_Q8_1_TILES, /* ggml's Q8_1: Q8_0 and s = fp16(d x sum) in work->aux */
} sq_tile_form;

/* Where block b of the tile holding token t keeps its SQ_TILE tokens' scales (and sums):
 * work->scale + sq_tile_side(...), token i of the tile at + i.  The tile's activation bytes
 * start at byte t x cols of work->q: group g of 4 inputs at 4 SQ_TILE g, token i at + 4 i. */
static inline size_t sq_tile_side(int t, int nb, int b)
{
    return ((size_t)(t / SQ_TILE) * (size_t)nb + (size_t)b) * SQ_TILE;
}

/* x [T, cols] quantized per block of `block` inputs (a multiple of 16) into tiles, in `form`
 * (unless the product just before left them there: sq_acts_held). */
void sq_quantize_tiles_avx512(const float *x, int T, int cols, int block, sq_tile_form form, sq_kernel_work *work);

#if SQ_KERNELS_X86
#include <immintrin.h>
/* The largest |v[j]| of n floats (n a multiple of 8): the activation quantizers' absmax. */
__attribute__((target("avx2"))) static inline float sq_absmax_avx2(const float *v, int n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8)
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(v + j)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* acc + vpdpbusd(u, the 4 signed bytes at p broadcast): the broadcast as the instruction's own
 * memory operand ({1to16}).  GCC 12 does not fold _mm512_set1_epi32 into it: it emits a
 * vpbroadcastd per product, and register copies around the tied accumulator. */
__attribute__((target("avx512f,avx512vnni"))) static inline __m512i sq_dpbusd_bcast(__m512i acc, __m512i u,
                                                                                   const int32_t *p)
{
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(u), "m"(*p));
    return acc;
}

/* Starts a register block of up to max tokens from t (sq_block_rows: row[i]) for the AVX-512
 * VNNI panel kernels: xr[i] the token's activation bytes (q: [T, K] int8 or uint8) read 4 at a
 * time, acc[i] zeroed; returns mr, the block's real tokens. */
__attribute__((target("avx512f"))) static inline int sq_start_block16(const void *q, int K, int t, int T, int max,
                                                                      int *row, const int32_t **xr, __m512 *acc)
{
    const int mr = sq_block_rows(t, T, max, row);
    _Pragma("GCC unroll 8") for (int i = 0; i < max; i++) {
        xr[i] = (const int32_t *)((const uint8_t *)q + (size_t)row[i] * K);
        acc[i] = _mm512_setzero_ps();
    }
    return mr;
}

/* Stores outputs col .. col + 15 of y's row t: v, plus y when accumulate, the outputs past
 * the nr real ones masked off. */
__attribute__((target("avx512f"))) static inline void sq_store_row16(float *y, int ldy, int t, size_t col, __m512 v,
                                                                     int nr, bool accumulate)
{
    const __mmask16 mask = (__mmask16)((1u << nr) - 1u);
    float *out = y + (size_t)t * ldy + col;
    if (accumulate)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, out));
    _mm512_mask_storeu_ps(out, mask, v);
}

/* Stores block rows t .. t + mr - 1 of y, outputs col .. col + 15: acc[i] * scale, plus y when
 * accumulate, the outputs past the nr real ones masked off (the AVX-512 kernels' epilogue). */
__attribute__((target("avx512f"))) static inline void sq_store_block16(float *y, int ldy, int t, size_t col,
                                                                       const __m512 *acc, int mr, int nr,
                                                                       __m512 scale, bool accumulate)
{
    for (int i = 0; i < mr; i++)
        sq_store_row16(y, ldy, t + i, col, _mm512_mul_ps(acc[i], scale), nr, accumulate);
}
#endif

extern const sq_kernel sq_kernel_f32_panel, sq_kernel_f16_panel, sq_kernel_bf16_panel; /* panel_gemm.c */
extern const sq_kernel sq_kernel_int8_q8;                                                /* qgemm.c */
extern const sq_kernel sq_kernel_int4_q8, sq_kernel_nf4_q8, sq_kernel_gptq_q8;          /* qgemm.c */
extern const sq_kernel sq_kernel_q8_0_q8_0, sq_kernel_q4_0_q8_0, sq_kernel_q4_1_q8_1,   /* ggml_dot.c */
    sq_kernel_q4_k_q8_k, sq_kernel_q6_k_q8_k;

#endif
