/* cpu.h - which instruction set the kernels run on, decided once at run time.
 *
 * Every kernel has a plain C reference (SQ_ISA_SCALAR) and, where it pays, a
 * variant compiled for AVX2 + FMA + F16C (and AVX-512 with VNNI where a kernel
 * has one) with GCC's target attribute, so one
 * binary runs on any x86-64 and uses the wider units where the CPU has them
 * (as ggml and the forward's vec_math.h do).  The choice can be lowered, never
 * raised above what the CPU supports: tests run the reference and the SIMD
 * kernel on the same inputs, and evaluate's reference path can force scalar.
 */
#ifndef SQ_KERNELS_CPU_H
#define SQ_KERNELS_CPU_H

typedef enum {
    SQ_ISA_SCALAR = 0,  /* portable C */
    SQ_ISA_AVX2 = 1,    /* AVX2 + FMA + F16C (x86-64-v3) */
    SQ_ISA_AVX512 = 2,  /* AVX-512 F, BW, VL and VNNI (vpdpbusd): integer dot products 64 bytes at a time */
} sq_isa;

/* What the CPU supports (probed once). */
sq_isa sq_isa_detected(void);
/* What the kernels use now: the detected level unless lowered by sq_isa_limit. */
sq_isa sq_isa_active(void);
/* Caps the level the kernels use (never above the detected one); returns the active level. */
sq_isa sq_isa_limit(sq_isa level);
const char *sq_isa_name(sq_isa level);

#endif
