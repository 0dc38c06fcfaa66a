/* ggml_blocks.h - ggml's block formats as squeeze stores them: the blocks
 * themselves, byte for byte, so that a GGUF writer copies them unchanged.
 *
 * A tensor of rows x cols (cols = ggml's ne[0], the contiguous dimension) is
 * one buffer "blocks" (u8 [rows, cols / block_values * block_bytes]); each row
 * is the sequence of ggml blocks that ggml's quantize_row_*_ref writes for it
 * (ggml-quants.c).  The block structs mirror ggml-common.h; fp16 fields are
 * IEEE binary16 bits, little-endian as on every host squeeze builds for.
 *
 * A row whose length is not a multiple of the block size cannot be stored in
 * these blocks.  As llama.cpp's quantizer does (llama-quant.cpp, "incompatible
 * tensor"), such a tensor falls back to another type, named in the kind's
 * `fallback` and recorded in the accounting (the tensor's stored format):
 *   q4_k -> q4_1 (llama.cpp uses Q5_0, which squeeze does not have; Q4_1 is
 *                 the 32-value block with a scale and a min, as Q4_K),
 *   q6_k -> q8_0 (as llama.cpp),
 *   q8_0, q4_0, q4_1 -> fp16 (llama.cpp's last resort).
 */
#ifndef SQ_QUANT_GGML_BLOCKS_H
#define SQ_QUANT_GGML_BLOCKS_H

#include <stdint.h>

#include "quant/format.h"

#define SQ_QK8_0 32
#define SQ_QK4_0 32
#define SQ_QK4_1 32
#define SQ_QK_K 256
#define SQ_K_SCALE_SIZE 12

/* 8.5 bits per weight: x = d * q */
typedef struct {
    uint16_t d;            /* fp16 */
    int8_t qs[SQ_QK8_0];
} sq_block_q8_0;
_Static_assert(sizeof(sq_block_q8_0) == 34, "block_q8_0 is 34 bytes");

/* 4.5 bits per weight: x = d * (q - 8); byte j: element j low nibble, j + 16 high */
typedef struct {
    uint16_t d;            /* fp16 */
    uint8_t qs[SQ_QK4_0 / 2];
} sq_block_q4_0;
_Static_assert(sizeof(sq_block_q4_0) == 18, "block_q4_0 is 18 bytes");

/* 5 bits per weight: x = d * q + m */
typedef struct {
    uint16_t d;            /* fp16 */
    uint16_t m;            /* fp16 */
    uint8_t qs[SQ_QK4_1 / 2];
} sq_block_q4_1;
_Static_assert(sizeof(sq_block_q4_1) == 20, "block_q4_1 is 20 bytes");

/* 4.5 bits per weight: 8 sub-blocks of 32, x = d * sc * q - dmin * m, with
 * 6-bit sc and m packed into 12 bytes (get_scale_min_k4) */
typedef struct {
    uint16_t d;            /* fp16, scale of the 6-bit scales */
    uint16_t dmin;         /* fp16, scale of the 6-bit mins */
    uint8_t scales[SQ_K_SCALE_SIZE];
    uint8_t qs[SQ_QK_K / 2];
} sq_block_q4_k;
_Static_assert(sizeof(sq_block_q4_k) == 144, "block_q4_K is 144 bytes");

/* 6.5625 bits per weight: 16 sub-blocks of 16, x = d * sc * (q - 32), q split
 * into 4 low bits (ql) and 2 high bits (qh); sc int8 */
typedef struct {
    uint8_t ql[SQ_QK_K / 2];
    uint8_t qh[SQ_QK_K / 4];
    int8_t scales[SQ_QK_K / 16];
    uint16_t d;            /* fp16, stored last */
} sq_block_q6_k;
_Static_assert(sizeof(sq_block_q6_k) == 210, "block_q6_K is 210 bytes");

/* One ggml block format: what the GGUF writer and reader need besides the
 * sq_quant_format itself. */
typedef struct {
    const char *format;    /* squeeze format name: "q8_0" */
    const char *ggml_name; /* "Q8_0" */
    int ggml_type;         /* ggml_type / GGUF tensor type id */
    int block_values;      /* 32 or 256 */
    int block_bytes;       /* sizeof the block struct */
    const char *fallback;  /* format used when a row does not fit the blocks */
    /* quantize_row_*_ref: n values (a multiple of block_values) into n / block_values blocks */
    void (*quantize_row)(const float *x, void *blocks, int64_t n);
    void (*dequantize_row)(const void *blocks, float *y, int64_t n);
} sq_ggml_block_kind;

/* The kind of a squeeze format name ("q4_k"), or NULL when it is not a ggml block format. */
const sq_ggml_block_kind *sq_ggml_block_kind_of_format(const char *format);
/* The kind of a ggml type id (GGUF tensor type), or NULL. */
const sq_ggml_block_kind *sq_ggml_block_kind_of_type(int ggml_type);

/* The row functions, as ggml-quants.c's quantize_row_*_ref / dequantize_row_*:
 * n values (a multiple of the block size) to n / block values blocks and back.
 * ggml_q8_0.c, ggml_q4.c and ggml_kquants.c hold them; ggml_blocks.c's table
 * (as ggml.c's type traits) makes each a storage format. */
void sq_ggml_quantize_row_q8_0(const float *x, void *blocks, int64_t n);
void sq_ggml_dequantize_row_q8_0(const void *blocks, float *y, int64_t n);
void sq_ggml_quantize_row_q4_0(const float *x, void *blocks, int64_t n);
void sq_ggml_dequantize_row_q4_0(const void *blocks, float *y, int64_t n);
void sq_ggml_quantize_row_q4_1(const float *x, void *blocks, int64_t n);
void sq_ggml_dequantize_row_q4_1(const void *blocks, float *y, int64_t n);
void sq_ggml_quantize_row_q4_k(const float *x, void *blocks, int64_t n);
void sq_ggml_dequantize_row_q4_k(const void *blocks, float *y, int64_t n);
void sq_ggml_quantize_row_q6_k(const float *x, void *blocks, int64_t n);
void sq_ggml_dequantize_row_q6_k(const void *blocks, float *y, int64_t n);

/* ggml's Q4_0 and Q4_1 arithmetic for one group of g values (g even; ggml's
 * blocks are 32): the fp32 scale d (Q4_1: and the min in *min), the g/2 bytes
 * of codes with element j in the low nibble and j + g/2 in the high one; and
 * back to values.  ggml_q4.c, shared by the ggml blocks and quant/int4.c. */
float sq_q4_0_group(const float *v, int g, uint8_t *qs);
float sq_q4_1_group(const float *v, int g, uint8_t *qs, float *min);
void sq_q4_0_group_values(const uint8_t *qs, int g, float d, float *y);
void sq_q4_1_group_values(const uint8_t *qs, int g, float d, float m, float *y);

/* ggml-quants.c::nearest_int: round to nearest, ties to even, through the
 * 1.5 * 2^23 trick, valid for |x| <= 4194303. */
static inline int sq_ggml_nearest_int(float fval)
{
    float val = fval + 12582912.f;
    int32_t i;
    __builtin_memcpy(&i, &val, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* ggml-quants.c::get_scale_min_k4: the j-th (0..7) 6-bit scale and min of a Q4_K block's
 * 12 scale bytes. */
static inline void sq_ggml_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

#endif
