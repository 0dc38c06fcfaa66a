/* kernels_internal.h - what the kernel files share (not a public API). */
#ifndef SQ_KERNELS_INTERNAL_H
#define SQ_KERNELS_INTERNAL_H

#include "kernels/matrix.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define SQ_KERNELS_X86 1
#else
#define SQ_KERNELS_X86 0
#endif

/* The named buffer of qt with this dtype and element count, or SQ_ERR_INPUT naming the tensor. */
sq_status sq_kernel_buffer(const sq_qtensor *qt, const char *name, sq_dtype dtype, int64_t count,
                           const sq_qbuffer **out);
/* rows = shape[0] of qt (its original shape), cols = the rest; SQ_ERR_INPUT unless 2-D-like. */
sq_status sq_kernel_dims(const sq_qtensor *qt, int *rows, int *cols);

/* fp32 panels of w [rows, cols] (panel_gemm.c): also the fallback of every format. */
sq_status sq_panel_pack_f32(const float *w, int rows, int cols, sq_matrix *m);

extern const sq_kernel sq_kernel_f32_panel, sq_kernel_f16_panel, sq_kernel_bf16_panel; /* panel_gemm.c */
extern const sq_kernel sq_kernel_int8_q8;                                                /* qgemm_int8.c */
extern const sq_kernel sq_kernel_int4_q8, sq_kernel_nf4_q8, sq_kernel_gptq_q8;          /* qgemm_q4.c */

#endif
