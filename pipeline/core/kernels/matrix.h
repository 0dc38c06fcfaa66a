/* matrix.h - a linear layer's weight as its kernel wants it, and y = x W^T.
 *
 * A weight W [rows = outputs, cols = inputs] is prepared once, when the model
 * is built, from what the model file holds: plain fp32/fp16/bf16 data, or a
 * quantized tensor (quant/qtensor.h) that stays packed.  sq_matrix_matmul then
 * computes y[T, rows] = x[T, cols] W^T (+ y) for a whole window of T tokens
 * with the kernel the table (kernels/kernel_table.c) names for that storage
 * format: one row per format, each pointing to its scalar reference and, where
 * there is one, its AVX2 variant (cpu.h chooses at run time).  A format
 * without a kernel row (or whose layout a kernel does not take, e.g. a block
 * size it has no loop for) is dequantized once to fp32 panels: the record says
 * so (sq_matrix.kernel->name), nothing is silent.
 *
 * Quantized kernels quantize the activations of each token per block of 32 to
 * int8 (absmax / 127, as ggml's Q8_0) and multiply integers, unless the
 * options keep fp32 activations (weights decoded per block on the fly).
 */
#ifndef SQ_KERNELS_MATRIX_H
#define SQ_KERNELS_MATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant/qtensor.h"
#include "util/status.h"

typedef struct {
    bool fp32_activations;  /* quantized weights: multiply with fp32 activations (no int8 rounding) */
} sq_kernel_options;

/* Scratch that kernels share within one forward pass (activations quantized to
 * int8 and their block scales), sized once by sq_kernel_work_reserve.  tokens: the
 * window's, rounded up to a whole tile of 8 (the AVX-512 kernels' layout, tiles.c). */
typedef struct {
    int8_t *q;              /* [tokens * cols] */
    uint8_t *qu;            /* [tokens * cols] the same values + 128 (Q8_K's unsigned vpdpbusd operand) */
    float *scale;           /* [tokens * cols / 32] */
    int32_t *sum;           /* [tokens * cols / 32] sum of the int8 values of a block */
    float *row;             /* [2 * cols / 32] one weight row's block scales and offsets as floats */
    float *aux;             /* [tokens * cols / 32] a second float per block (s = d * sum) */
    size_t capacity;        /* values q holds */
    uint64_t bytes;         /* what the buffers above hold (sq_model_activation_bytes) */
    uint64_t calls;         /* matrix products run with this scratch (sq_matrix_matmul counts them) */
    bool again;             /* this product's x is the previous one's, unchanged (sq_matrix_matmul_again) */
    struct {                /* what q, qu, scale and sum hold, and the product that quantized them */
        const float *x;
        int tokens, cols, block;
        int kind;           /* how (kernels_internal.h: sq_acts_kind) */
        uint64_t call;
    } held;
} sq_kernel_work;

typedef struct sq_kernel sq_kernel;

typedef struct {
    const sq_kernel *kernel;
    int rows, cols;          /* W is [rows, cols]: outputs, inputs */
    int group;               /* quantized: values per scale group along a row (int8: per activation block) */
    int flags;               /* kernel-specific (int4: asymmetric) */
    void *codes;             /* owned: the kernel's layout of the weights (panels, codes) */
    void *scales;            /* owned: per-row or per-group scales (layout of the kernel) */
    void *extra;             /* owned: mins or zero points where the format has them */
    int8_t table[16];        /* 4-bit kernels: the integer value of each nibble */
    float table_scale;       /* 4-bit kernels: w = scale * table_scale * table[q] (+ offset) */
    size_t bytes;            /* bytes of codes + scales + extra: what the weight occupies in memory */
    bool fp32_activations;
    bool fallback;           /* no kernel took the stored layout: fp32 panels of the dequantized values */
    sq_kernel_work *work;    /* borrowed: the scratch of the model that runs it (may be NULL for panels) */
} sq_matrix;

struct sq_kernel {
    const char *name;        /* "f32-panel", "int8xq8", ... (recorded per tensor by evaluate) */
    const char *format;      /* the storage format it takes (quant/format.c names) */
    /* Fills m from a stored tensor (qt->format == format).  SQ_ERR_USAGE: a layout this
     * kernel has no loop for (sq_matrix_from_qtensor then falls back to fp32 panels);
     * SQ_ERR_INPUT: a damaged tensor. */
    sq_status (*prepare)(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m);
    /* y[T, rows] (row stride ldy) = x[T, cols] W^T, plus y when accumulate */
    void (*matmul_ref)(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                       sq_kernel_work *work);
    void (*matmul_avx2)(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                        sq_kernel_work *work);
    void (*matmul_avx512)(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                          sq_kernel_work *work);
    /* Row r of W into out[cols], decoded from the kernel's own layout exactly as the storage
     * format's dequantize gives it: the rows of a tied embedding are read from its head's
     * packed weight, so the table is held once, packed. */
    void (*row)(const sq_matrix *m, int r, float *out);
};

/* The kernel row for a storage format and its layout, or NULL (then: fp32 panels of the
 * dequantized values). */
const sq_kernel *sq_kernel_for_format(const char *format);
const sq_kernel *const *sq_kernel_all(void);

/* W from fp32 values [rows, cols] (copied into panels). */
sq_status sq_matrix_from_f32(const float *w, int rows, int cols, sq_matrix *m);
/* W = [W1; W2] from two fp32 sources [rows1, cols] and [rows2, cols], packed where they lie. */
sq_status sq_matrix_from_f32_stacked(const float *w1, int rows1, const float *w2, int rows2, int cols,
                                     sq_matrix *m);
/* W from fp16 or bf16 values (IEEE half or bfloat16 bits), kept 16-bit in panels. */
sq_status sq_matrix_from_16bit(const uint16_t *w, bool bf16, int rows, int cols, sq_matrix *m);
/* W from a stored tensor: its format's kernel when it takes the tensor, else fp32 panels of
 * the dequantized values (name of the tensor in messages: qt->name). */
sq_status sq_matrix_from_qtensor(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m);
/* Row r of W (0 <= r < rows) into out[cols], the values the stored format's dequantize gives
 * (an embedding row read from the packed weight, for any kernel). */
void sq_matrix_row(const sq_matrix *m, int r, float *out);
/* The largest |w| of W when it is stored as fp32 panels (infinity when a weight is NaN or
 * infinite); -1 for every other kernel. */
float sq_matrix_max_abs_f32(const sq_matrix *m);
void sq_matrix_free(sq_matrix *m);

/* y = x W^T (+ y); work must have room for T tokens of cols inputs (sq_kernel_work_reserve). */
void sq_matrix_matmul(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                      sq_kernel_work *work);
/* y = x W^T (+ y) where x is the input of the product run just before on the same work and has
 * not changed since (projections that share their input: Itera's delta_proj and B, Llama's q, k,
 * v and gate, up): a kernel that quantizes its activations as that product did reuses them. */
void sq_matrix_matmul_again(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                            sq_kernel_work *work);
/* "int8xq8/avx2": the kernel and the instruction set that runs it now. */
void sq_matrix_describe(const sq_matrix *m, char *buf, size_t size);

/* Room for windows of up to `tokens` tokens with up to `cols` inputs. */
sq_status sq_kernel_work_reserve(sq_kernel_work *work, int tokens, int cols);
void sq_kernel_work_free(sq_kernel_work *work);

#endif
