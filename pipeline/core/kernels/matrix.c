/* matrix.c - preparing weights for their kernels, the kernel table, and the
 * dispatch of y = x W^T on the CPU's instruction set (matrix.h). */
#include "kernels/matrix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels_internal.h"
#include "quant/format.h"

/* The table: one row per storage format that has a kernel.  A new format (the
 * ggml block formats) adds its kernel file and one row here. */
static const sq_kernel *const kernels[] = {
    &sq_kernel_f32_panel, &sq_kernel_f16_panel, &sq_kernel_bf16_panel, &sq_kernel_int8_q8,
    &sq_kernel_int4_q8,   &sq_kernel_nf4_q8,    &sq_kernel_gptq_q8,    &sq_kernel_q8_0_q8_0,
    &sq_kernel_q4_0_q8_0, &sq_kernel_q4_1_q8_1, &sq_kernel_q4_k_q8_k, &sq_kernel_q6_k_q8_k, NULL,
};

const sq_kernel *const *sq_kernel_all(void) { return kernels; }

const sq_kernel *sq_kernel_for_format(const char *format)
{
    for (int i = 0; kernels[i]; i++)
        if (strcmp(kernels[i]->format, format) == 0)
            return kernels[i];
    return NULL;
}

sq_status sq_kernel_buffer(const sq_qtensor *qt, const char *name, sq_dtype dtype, int64_t count,
                           const sq_qbuffer **out)
{
    return sq_qtensor_require_buffer(qt, name, dtype, count, out);
}

sq_status sq_kernel_dims(const sq_qtensor *qt, int *rows, int *cols)
{
    int64_t numel = sq_qtensor_numel(qt);
    if (qt->ndim < 1 || qt->shape[0] <= 0 || numel % qt->shape[0] != 0 || numel / qt->shape[0] > (1 << 30) ||
        qt->shape[0] > (1 << 30))
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' is no weight matrix a kernel can take", qt->name);
    *rows = (int)qt->shape[0];
    *cols = (int)(numel / qt->shape[0]);
    return SQ_OK;
}

sq_status sq_matrix_from_f32(const float *w, int rows, int cols, sq_matrix *m)
{
    memset(m, 0, sizeof *m);
    return sq_panel_pack_f32(w, rows, cols, m);
}

sq_status sq_matrix_from_qtensor(const sq_qtensor *qt, const sq_kernel_options *options, sq_matrix *m)
{
    static const sq_kernel_options defaults = {0};
    const sq_kernel *kernel = sq_kernel_for_format(qt->format);
    sq_status st = SQ_OK;
    float *values = NULL;
    int rows, cols;
    memset(m, 0, sizeof *m);
    if (options == NULL)
        options = &defaults;
    SQ_TRY(sq_kernel_dims(qt, &rows, &cols));
    if (kernel) {
        st = kernel->prepare(qt, options, m);
        if (st != SQ_ERR_USAGE) /* prepared, or a damaged tensor that no fallback would read either */
            goto cleanup;
        sq_error_clear(); /* a layout the kernel has no loop for: fp32 panels, recorded as such */
        sq_matrix_free(m);
    }
    const sq_quant_format *format = sq_quant_format_find(qt->format);
    if (format == NULL)
        SQ_FAIL(SQ_ERR_INPUT, "tensor '%s': unknown storage format '%s'", qt->name, qt->format);
    SQ_TRY(sq_alloc(&values, (size_t)rows * (size_t)cols, sizeof *values, qt->name));
    SQ_TRY(format->dequantize(qt, values));
    SQ_TRY(sq_panel_pack_f32(values, rows, cols, m));
    m->fallback = true;
cleanup:
    free(values);
    if (st != SQ_OK)
        sq_matrix_free(m);
    return st;
}

void sq_matrix_free(sq_matrix *m)
{
    if (m == NULL)
        return;
    free(m->codes);
    free(m->scales);
    free(m->extra);
    memset(m, 0, sizeof *m);
}

void sq_matrix_matmul(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                      sq_kernel_work *work)
{
    if (T <= 0)
        return;
    if (work)
        work->calls++;
    sq_isa isa = sq_isa_active();
    if (m->kernel->matmul_avx512 && isa >= SQ_ISA_AVX512)
        m->kernel->matmul_avx512(m, x, T, y, ldy, accumulate, work);
    else if (m->kernel->matmul_avx2 && isa >= SQ_ISA_AVX2)
        m->kernel->matmul_avx2(m, x, T, y, ldy, accumulate, work);
    else
        m->kernel->matmul_ref(m, x, T, y, ldy, accumulate, work);
}

void sq_matrix_matmul_again(const sq_matrix *m, const float *x, int T, float *y, int ldy, bool accumulate,
                            sq_kernel_work *work)
{
    if (work)
        work->again = true;
    sq_matrix_matmul(m, x, T, y, ldy, accumulate, work);
    if (work)
        work->again = false;
}

void sq_matrix_row(const sq_matrix *m, int r, float *out) { m->kernel->row(m, r, out); }

void sq_matrix_describe(const sq_matrix *m, char *buf, size_t size)
{
    sq_isa isa = sq_isa_active();
    if (isa >= SQ_ISA_AVX512 && !m->kernel->matmul_avx512)
        isa = SQ_ISA_AVX2;
    if (isa >= SQ_ISA_AVX2 && !m->kernel->matmul_avx2)
        isa = SQ_ISA_SCALAR;
    snprintf(buf, size, "%s%s/%s%s", m->kernel->name, m->fp32_activations ? "(fp32 activations)" : "",
             sq_isa_name(isa), m->fallback ? " (dequantized)" : "");
}

sq_status sq_kernel_work_reserve(sq_kernel_work *work, int tokens, int cols)
{
    sq_status st = SQ_OK;
    /* the AVX-512 kernels' tiles of SQ_TILE tokens (tiles.c): the last one is whole, padded */
    const size_t tiles = ((size_t)(tokens > 0 ? tokens : 1) + SQ_TILE - 1) / SQ_TILE;
    const size_t values = tiles * SQ_TILE * (size_t)cols, blocks = (values + 31) / 32;
    if (values <= work->capacity)
        return SQ_OK;
    sq_kernel_work_free(work);
    SQ_TRY(sq_alloc_counted(&work->q, values + 64, 1, "quantized activations", &work->bytes));
    SQ_TRY(sq_alloc_counted(&work->qu, values + 64, 1, "quantized activations", &work->bytes));
    SQ_TRY(sq_alloc_counted(&work->scale, blocks + 1, sizeof *work->scale, "activation scales", &work->bytes));
    SQ_TRY(sq_alloc_counted(&work->sum, blocks + 1, sizeof *work->sum, "activation sums", &work->bytes));
    SQ_TRY(sq_alloc_counted(&work->row, 2 * blocks + 2, sizeof *work->row, "weight row scales", &work->bytes));
    SQ_TRY(sq_alloc_counted(&work->aux, blocks + 1, sizeof *work->aux, "activation block sums", &work->bytes));
    work->capacity = values;
cleanup:
    if (st != SQ_OK)
        sq_kernel_work_free(work);
    return st;
}

void sq_kernel_work_free(sq_kernel_work *work)
{
    free(work->q);
    free(work->qu);
    free(work->scale);
    free(work->sum);
    free(work->row);
    free(work->aux);
    memset(work, 0, sizeof *work);
}
