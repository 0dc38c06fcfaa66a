/* blas_core.h - which OpenBLAS core the stages run.
 *
 * OpenBLAS picks its kernels for the CPU when it loads (DYNAMIC_ARCH builds, as Debian's).
 * On an x86 CPU newer than the library it falls back to its Prescott (SSE3) kernels however
 * wide the CPU's vectors are: Debian 12's OpenBLAS 0.3.21 does so on Intel family 6 model 207,
 * and calibrate's X^T X (dsyrk) and GPTQ's updates (dgemm, the Cholesky factor) then run at a
 * fraction of the CPU's speed.  OPENBLAS_CORETYPE names the core instead; it is read when the
 * library loads, before main, so a process can only set it for the processes it starts: the
 * driver does, for the stages (the user's own setting wins), and a stage started by hand says
 * what to set. */
#ifndef SQ_CLI_BLAS_CORE_H
#define SQ_CLI_BLAS_CORE_H

#include <stdbool.h>

/* The core to name for a CPU with these vector extensions when the loaded OpenBLAS chose
 * `detected` (openblas_get_corename()), or NULL to leave OpenBLAS's choice: only the generic
 * fallback "Prescott" is replaced, by "SkylakeX" where the CPU has what its kernels use
 * (AVX-512 F, CD, BW, DQ and VL) and by "Haswell" where it has AVX2 and FMA. */
const char *sq_blas_core_advice(const char *detected, bool avx512, bool avx2_fma);

/* sq_blas_core_advice for this process's OpenBLAS and CPU, or NULL when OPENBLAS_CORETYPE is
 * already set (the user's choice wins). */
const char *sq_blas_core_for_this_cpu(void);

/* The core this process's OpenBLAS runs ("SkylakeX", "Prescott", ...). */
const char *sq_blas_core_running(void);

#endif
