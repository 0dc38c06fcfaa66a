/* blas_core.c - which OpenBLAS core the stages run (cli/blas_core.h). */
#include "cli/blas_core.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

const char *sq_blas_core_advice(const char *detected, bool avx512, bool avx2_fma)
{
    if (detected == NULL || strcmp(detected, "Prescott") != 0)
        return NULL;
    return avx512 ? "SkylakeX" : avx2_fma ? "Haswell" : NULL;
}

const char *sq_blas_core_running(void) { return openblas_get_corename(); }

const char *sq_blas_core_for_this_cpu(void)
{
    bool avx512 = false, avx2_fma = false;
    if (getenv("OPENBLAS_CORETYPE") != NULL)
        return NULL;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
    avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return sq_blas_core_advice(sq_blas_core_running(), avx512, avx2_fma);
}
