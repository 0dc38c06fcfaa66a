/* cpu.c - the kernels' instruction-set choice (cpu.h). */
#include "kernels/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

static int detected = -1;
static int limit = SQ_ISA_AVX512;

sq_isa sq_isa_detected(void)
{
    if (detected < 0) {
        detected = SQ_ISA_SCALAR;
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        unsigned int eax, ebx, ecx, edx;
        int f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c)
            detected = SQ_ISA_AVX2;
        if (detected == SQ_ISA_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
            detected = SQ_ISA_AVX512;
#endif
    }
    return (sq_isa)detected;
}

sq_isa sq_isa_active(void)
{
    sq_isa cpu = sq_isa_detected();
    return (int)cpu < limit ? cpu : (sq_isa)limit;
}

sq_isa sq_isa_limit(sq_isa level)
{
    limit = (int)level;
    return sq_isa_active();
}

const char *sq_isa_name(sq_isa level)
{
    return level == SQ_ISA_AVX512 ? "avx512" : level == SQ_ISA_AVX2 ? "avx2" : "scalar";
}
