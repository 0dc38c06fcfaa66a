/* gptq.c - GPTQ (Frantar et al. 2022), following IST-DASLab/gptq/gptq.py::fasterquant.
 *
 * Input: the layer's H = X^T X / N from calibration (cols x cols, double).  The
 * reference keeps 2/N X^T X; the factor 2 cancels in every step below.
 *   1. dead inputs (H_jj == 0): H_jj = 1 and W[:, j] = 0            (gptq.py: dead)
 *   2. act-order: columns sorted by descending H_jj (stable)         (--act-order)
 *   3. H += damp * mean(diag H) * I                                  (--percdamp 0.01)
 *   4. U = upper Cholesky factor of H^-1 (cholesky, cholesky_inverse, cholesky upper)
 *   5. columns in blocks of 128: quantize column i, err = (w - q) / U_ii,
 *      update the rest of the block with err * U[i, i:], then the columns after
 *      the block with Err1 @ U[block, after] (lazy batch update)
 * Quantizer (gptq/quant.py::Quantizer, perchannel, mse off): per row (group_size
 * -1, from the whole row before the dead columns are zeroed, as fasterquant calls
 * find_params first) or per group of group_size columns, computed from the
 * current W when the loop enters the group, as the reference (without
 * static_groups) does: xmin = min(min x, 0), xmax = max(max x, 0) (sym:
 * +-max|x|), an all-zero range becomes [-1, 1], scale = (xmax - xmin) / maxq,
 * zero = round(-xmin / scale) (sym: (maxq + 1) / 2), q = clamp(round(x / scale)
 * + zero, 0, maxq), w = scale * (q - zero).  torch.round is half-to-even, so
 * is nearbyint.  One deliberate difference: the scale is rounded to fp16 (as
 * GPTQ checkpoints store it) before it is used, so the errors GPTQ propagates
 * are those of the stored weights.  Linear algebra in double (LAPACK dpotrf /
 * dpotri from OpenBLAS, cblas_dgemm for the lazy update).
 *
 * Storage: "qweight" u8: 4 and 3 bits two codes per byte, the even column in
 * the low nibble (GPTQ packs its int32 words lowest bits first; 3-bit codes
 * simply use a nibble each, so 3 bits are stored as large as 4), 8 bits one
 * per byte; [rows, ceil(cols/2)] or [rows, cols], in the original column
 * order.  "scales" f16 [rows, groups], "zeros" u8 [rows, groups], and with
 * act-order "g_idx" i32 [cols] (the group of each original column, as
 * AutoGPTQ stores it).  Attrs: bits, group_size, act_order, symmetric, damp,
 * gptq_loss (sum of (w-q)^2 / U_ii^2 / 2, the reference's "error").
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/format.h"
#include "quant/quant_common.h"

#define GPTQ_BLOCK 128 /* gptq.py fasterquant(blocksize=128) */

/* LAPACK from OpenBLAS, Fortran symbols (column-major).  A row-major symmetric
 * matrix is its own transpose, and the 'L' factor of the column-major view is
 * the upper factor U (H = U^T U) of the row-major one. */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);

typedef struct {
    float scale; /* fp16-representable */
    float zero;  /* integer in [0, maxq] */
} gptq_param;

/* Quantizer.find_params(x, weight=True) for one row slice. */
static gptq_param find_params(const double *x, int64_t count, int maxq, bool symmetric)
{
    gptq_param p;
    float xmin = 0.0f, xmax = 0.0f;
    for (int64_t j = 0; j < count; j++) {
        xmin = fminf(xmin, (float)x[j]);
        xmax = fmaxf(xmax, (float)x[j]);
    }
    if (symmetric) {
        xmax = fmaxf(fabsf(xmin), xmax);
        if (xmin < 0.0f)
            xmin = -xmax;
    }
    if (xmin == 0.0f && xmax == 0.0f) {
        xmin = -1.0f;
        xmax = 1.0f;
    }
    p.scale = sq_f16_to_f32(sq_f32_to_f16((xmax - xmin) / (float)maxq));
    p.zero = symmetric ? (float)(maxq + 1) / 2.0f : nearbyintf(-xmin / p.scale);
    p.zero = fminf((float)maxq, fmaxf(0.0f, p.zero));
    return p;
}

static int quantize_code(double w, gptq_param p, int maxq)
{
    float q = nearbyintf((float)w / p.scale) + p.zero;
    return (int)fminf((float)maxq, fmaxf(0.0f, q));
}

/* Row-major U with U^T U = (H + damp)^-1, upper triangle, zeros below. */
/* The attributes gptq stores, named once for the writer and the reader. */
static const char attr_bits[] = "bits";
static const char attr_group_size[] = "group_size";
static const char attr_act_order[] = "act_order";

static sq_status inverse_cholesky_upper(const char *tensor_name, double *h, int n, double damp)
{
    int info = 0;
    double mean_diag = 0.0;
    for (int j = 0; j < n; j++)
        mean_diag += h[(int64_t)j * n + j];
    mean_diag /= n;
    for (int j = 0; j < n; j++)
        h[(int64_t)j * n + j] += damp * mean_diag;
    dpotrf_("L", &n, h, &n, &info, 1); /* torch.linalg.cholesky(H) */
    if (info == 0)
        dpotri_("L", &n, h, &n, &info, 1); /* torch.cholesky_inverse: upper triangle (row-major) holds H^-1 */
    if (info != 0)
        return sq_fail(SQ_ERR_RUN, "tensor '%s': X^T X + damping is not positive definite (LAPACK info %d); "
                       "raise damp (now %g) in the precision map or calibrate on more tokens", tensor_name, info,
                       damp);
    for (int i = 0; i < n; i++) /* mirror the upper triangle into the lower one */
        for (int j = 0; j < i; j++)
            h[(int64_t)i * n + j] = h[(int64_t)j * n + i];
    dpotrf_("L", &n, h, &n, &info, 1); /* torch.linalg.cholesky(Hinv, upper=True) */
    if (info != 0)
        return sq_fail(SQ_ERR_RUN, "tensor '%s': the inverse Hessian is not positive definite (LAPACK info %d); "
                       "raise damp (now %g)", tensor_name, info, damp);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            h[(int64_t)i * n + j] = 0.0;
    return SQ_OK;
}

typedef struct {
    const double *key;
    int index;
} order_entry;

static int descending_key(const void *a, const void *b)
{
    const order_entry *x = a, *y = b;
    if (*x->key != *y->key)
        return *x->key > *y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index); /* stable */
}

static sq_status check_options(const char *tensor_name, const sq_quant_options *o, int64_t cols)
{
    if (o->bits != 3 && o->bits != 4 && o->bits != 8)
        return sq_fail(SQ_ERR_USAGE, "tensor '%s': gptq bits %d is not supported; use 4 (or 3, 8)", tensor_name,
                       o->bits);
    if (o->group_size == 0 || o->group_size < -1)
        return sq_fail(SQ_ERR_USAGE, "tensor '%s': gptq group_size %d must be -1 (per row) or positive (128 is "
                       "typical)", tensor_name, o->group_size);
    if (!(o->damp >= 0.0) || !isfinite(o->damp))
        return sq_fail(SQ_ERR_USAGE, "tensor '%s': gptq damp %g must be >= 0 (0.01 is the reference's)", tensor_name,
                       o->damp);
    if (cols > 65536)
        return sq_fail(SQ_ERR_USAGE, "tensor '%s': %lld input columns is too many for gptq's dense X^T X here; "
                       "use nf4 or int4", tensor_name, (long long)cols);
    return SQ_OK;
}

static sq_status gptq_quantize(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                               const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out)
{
    sq_status st = SQ_OK;
    sq_quant_options o;
    double *w = NULL, *h = NULL, *block = NULL, *errors = NULL;
    int *perm = NULL, *codes = NULL;
    gptq_param *params = NULL;
    order_entry *order = NULL;
    uint8_t *qweight = NULL, *zeros = NULL;
    uint16_t *scales = NULL;
    int32_t *g_idx = NULL;
    double loss = 0.0;

    if (options)
        o = *options;
    else
        sq_quant_options_default(&o);
    sq_quant_begin(out, tensor_name, "gptq", rows, cols);
    SQ_TRY(check_options(tensor_name, &o, cols));
    if (calib == NULL || calib->hessian == NULL)
        SQ_FAIL(SQ_ERR_USAGE, "gptq needs the full X^T X for '%s': add a pattern matching it to calibrate.hessian in "
                "the run config", tensor_name);
    SQ_TRY(sq_quant_check_finite(tensor_name, values, rows, cols));

    int n = (int)cols, maxq = (1 << o.bits) - 1;
    int64_t group = o.group_size > 0 && o.group_size < cols ? o.group_size : cols;
    int64_t groups = (cols + group - 1) / group;
    SQ_TRY(sq_alloc(&w, (size_t)(rows * cols), sizeof *w, tensor_name));
    SQ_TRY(sq_alloc(&h, (size_t)(cols * cols), sizeof *h, tensor_name));
    SQ_TRY(sq_alloc(&perm, (size_t)cols, sizeof *perm, tensor_name));
    SQ_TRY(sq_alloc(&codes, (size_t)(rows * cols), sizeof *codes, tensor_name));
    SQ_TRY(sq_alloc(&params, (size_t)(rows * groups), sizeof *params, tensor_name));
    SQ_TRY(sq_alloc(&block, (size_t)(rows * GPTQ_BLOCK), sizeof *block, tensor_name));
    SQ_TRY(sq_alloc(&errors, (size_t)(rows * GPTQ_BLOCK), sizeof *errors, tensor_name));
    for (int64_t i = 0; i < cols * cols; i++) {
        if (!isfinite(calib->hessian[i]))
            SQ_FAIL(SQ_ERR_INPUT, "tensor '%s': calibrated X^T X entry (%lld, %lld) is not finite; rerun calibrate",
                    tensor_name, (long long)(i / cols), (long long)(i % cols));
        h[i] = calib->hessian[i];
    }
    for (int64_t i = 0; i < rows * cols; i++)
        w[i] = values[i];

    /* Per-row parameters come from the untouched W (fasterquant calls find_params first). */
    if (group == cols)
        for (int64_t r = 0; r < rows; r++)
            params[r] = find_params(w + r * cols, cols, maxq, o.symmetric);

    for (int64_t j = 0; j < cols; j++) {
        if (h[j * cols + j] == 0.0) { /* dead input: never active in calibration */
            h[j * cols + j] = 1.0;
            for (int64_t r = 0; r < rows; r++)
                w[r * cols + j] = 0.0;
        }
        perm[j] = (int)j;
    }
    if (o.act_order) {
        double *h_perm = NULL, *w_perm = NULL;
        double *diag = NULL;
        SQ_TRY(sq_alloc(&order, (size_t)cols, sizeof *order, tensor_name));
        SQ_TRY(sq_alloc(&diag, (size_t)cols, sizeof *diag, tensor_name));
        for (int64_t j = 0; j < cols; j++) {
            diag[j] = h[j * cols + j];
            order[j].key = &diag[j];
            order[j].index = (int)j;
        }
        qsort(order, (size_t)cols, sizeof *order, descending_key);
        for (int64_t j = 0; j < cols; j++)
            perm[j] = order[j].index;
        free(diag);
        st = sq_alloc(&h_perm, (size_t)(cols * cols), sizeof *h_perm, tensor_name);
        if (st == SQ_OK)
            st = sq_alloc(&w_perm, (size_t)(rows * cols), sizeof *w_perm, tensor_name);
        if (st != SQ_OK) {
            free(h_perm);
            goto cleanup;
        }
        for (int64_t i = 0; i < cols; i++)
            for (int64_t j = 0; j < cols; j++)
                h_perm[i * cols + j] = h[(int64_t)perm[i] * cols + perm[j]];
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < cols; j++)
                w_perm[r * cols + j] = w[r * cols + perm[j]];
        free(h);
        free(w);
        h = h_perm;
        w = w_perm;
    }

    SQ_TRY(inverse_cholesky_upper(tensor_name, h, n, o.damp));
    const double *u = h;

    for (int64_t i1 = 0; i1 < cols; i1 += GPTQ_BLOCK) {
        int64_t i2 = i1 + GPTQ_BLOCK < cols ? i1 + GPTQ_BLOCK : cols, count = i2 - i1;
        for (int64_t r = 0; r < rows; r++)
            memcpy(block + r * count, w + r * cols + i1, (size_t)count * sizeof *block);
        for (int64_t i = 0; i < count; i++) {
            int64_t col = i1 + i;
            double d = u[col * cols + col];
            if (group < cols && col % group == 0) /* entering a group: parameters from the current W */
                for (int64_t r = 0; r < rows; r++) {
                    int64_t width = col + group < cols ? group : cols - col;
                    params[r * groups + col / group] = find_params(w + r * cols + col, width, maxq, o.symmetric);
                }
            for (int64_t r = 0; r < rows; r++) {
                gptq_param p = params[r * groups + col / group];
                double *row = block + r * count;
                double x = row[i];
                int q = quantize_code(x, p, maxq);
                double dequantized = (double)(p.scale * ((float)q - p.zero));
                double err = (x - dequantized) / d;
                codes[r * cols + col] = q;
                loss += (x - dequantized) * (x - dequantized) / (d * d) / 2.0;
                for (int64_t k = i; k < count; k++)
                    row[k] -= err * u[col * cols + i1 + k];
                errors[r * count + i] = err;
            }
        }
        if (i2 < cols) /* W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:] */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)(cols - i2), (int)count, -1.0,
                        errors, (int)count, u + i1 * cols + i2, (int)cols, 1.0, w + i2, (int)cols);
    }

    /* Store in the original column order (Q[:, invperm]). */
    int64_t packed_cols = o.bits == 8 ? cols : (cols + 1) / 2;
    int64_t qshape[2] = {rows, packed_cols}, side_shape[2] = {rows, groups};
    SQ_TRY(sq_qtensor_add_buffer(out, "qweight", SQ_DTYPE_U8, 2, qshape, (void **)&qweight));
    SQ_TRY(sq_qtensor_add_buffer(out, "scales", SQ_DTYPE_F16, 2, side_shape, (void **)&scales));
    SQ_TRY(sq_qtensor_add_buffer(out, "zeros", SQ_DTYPE_U8, 2, side_shape, (void **)&zeros));
    if (o.act_order) {
        SQ_TRY(sq_qtensor_add_buffer(out, "g_idx", SQ_DTYPE_I32, 1, &cols, (void **)&g_idx));
        for (int64_t j = 0; j < cols; j++)
            g_idx[perm[j]] = (int32_t)(j / group);
    }
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t j = 0; j < cols; j++) {
            int q = codes[r * cols + j];
            int64_t original = perm[j];
            if (o.bits == 8)
                qweight[r * packed_cols + original] = (uint8_t)q;
            else
                qweight[r * packed_cols + original / 2] |= (uint8_t)(original % 2 ? q << 4 : q);
        }
        for (int64_t g = 0; g < groups; g++) {
            scales[r * groups + g] = sq_f32_to_f16(params[r * groups + g].scale);
            zeros[r * groups + g] = (uint8_t)params[r * groups + g].zero;
            if (isinf(sq_f16_to_f32(scales[r * groups + g])))
                SQ_FAIL(SQ_ERR_INPUT, "tensor '%s': row %lld: a gptq scale overflows fp16 (weights beyond 1e5); "
                        "use int8 for this tensor", tensor_name, (long long)r);
        }
    }
    sq_qtensor_set_attr(out, attr_bits, o.bits);
    sq_qtensor_set_attr(out, attr_group_size, o.group_size > 0 ? o.group_size : -1);
    sq_qtensor_set_attr(out, attr_act_order, o.act_order ? 1.0 : 0.0);
    sq_qtensor_set_attr(out, "symmetric", o.symmetric ? 1.0 : 0.0);
    sq_qtensor_set_attr(out, "damp", o.damp);
    sq_qtensor_set_attr(out, "gptq_loss", loss);
cleanup:
    free(w);
    free(h);
    free(perm);
    free(codes);
    free(params);
    free(block);
    free(errors);
    free(order);
    return sq_quant_end(out, st);
}

static sq_status gptq_dequantize(const sq_qtensor *qt, float *out)
{
    sq_status st;
    int64_t rows, cols;
    int bits = 0, group_size = 0;
    bool act_order = false;
    const sq_qbuffer *qweight, *scales, *zeros, *g_idx = NULL;
    if ((st = sq_qtensor_attr_int(qt, attr_bits, &bits)) != SQ_OK ||
        (st = sq_qtensor_attr_int(qt, attr_group_size, &group_size)) != SQ_OK ||
        (st = sq_qtensor_attr_flag(qt, attr_act_order, &act_order)) != SQ_OK ||
        (st = sq_quant_matrix_dims(qt, "scales", &rows, &cols)) != SQ_OK)
        return st;
    if (bits != 3 && bits != 4 && bits != 8)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s': stored gptq bits %d is invalid", qt->name, bits);
    int64_t group = group_size > 0 && group_size < cols ? group_size : cols;
    int64_t groups = (cols + group - 1) / group;
    int64_t packed_cols = bits == 8 ? cols : (cols + 1) / 2;
    if ((st = sq_qtensor_require_buffer(qt, "qweight", SQ_DTYPE_U8, rows * packed_cols, &qweight)) != SQ_OK ||
        (st = sq_qtensor_require_buffer(qt, "scales", SQ_DTYPE_F16, rows * groups, &scales)) != SQ_OK ||
        (st = sq_qtensor_require_buffer(qt, "zeros", SQ_DTYPE_U8, rows * groups, &zeros)) != SQ_OK)
        return st;
    if (act_order &&
        (st = sq_qtensor_require_buffer(qt, "g_idx", SQ_DTYPE_I32, cols, &g_idx)) != SQ_OK)
        return st;
    const uint8_t *q = qweight->data, *z = zeros->data;
    const uint16_t *s = scales->data;
    const int32_t *gi = g_idx ? g_idx->data : NULL;
    for (int64_t j = 0; j < cols; j++) {
        int64_t g = gi ? gi[j] : j / group;
        if (g < 0 || g >= groups)
            return sq_fail(SQ_ERR_INPUT, "tensor '%s': g_idx[%lld] = %lld is outside its %lld groups", qt->name,
                           (long long)j, (long long)g, (long long)groups);
        for (int64_t r = 0; r < rows; r++) {
            const uint8_t *row = q + r * packed_cols;
            int code = bits == 8 ? row[j] : (j % 2 ? row[j / 2] >> 4 : row[j / 2] & 0x0f);
            float scale = sq_f16_to_f32(s[r * groups + g]);
            out[r * cols + j] = scale * ((float)code - (float)z[r * groups + g]);
        }
    }
    return SQ_OK;
}

static const sq_format_option gptq_options[] = {
    SQ_FORMAT_OPTION("bits", SQ_OPTION_INT, bits, 4, 2, 8, "code width: 3, 4 or 8"),
    SQ_FORMAT_OPTION("group_size", SQ_OPTION_INT, group_size, -1, -1, 1 << 20, "columns per scale, -1 = per row"),
    SQ_FORMAT_OPTION("act_order", SQ_OPTION_BOOL, act_order, 0, 0, 1, "quantize columns by decreasing diag(X^T X)"),
    SQ_FORMAT_OPTION("damp", SQ_OPTION_NUMBER, damp, 0.01, 0, 1, "dampening, a fraction of mean diag(X^T X)"),
    SQ_FORMAT_OPTION("symmetric", SQ_OPTION_BOOL, symmetric, 0, 0, 1, "symmetric quantizer (gptq.py --sym)"),
    {.name = NULL},
};

const sq_quant_format sq_format_gptq = {
    .name = "gptq",
    .description = "GPTQ: 4-bit (3, 8) codes chosen with calibrated X^T X and error feedback, "
                   "fp16 scale and zero per row or group",
    .format_class = SQ_FORMAT_CLASS_LOWBIT,
    .bits_per_weight = 4.0,
    .block_size = 0,
    .calibration = SQ_CALIB_HESSIAN,
    .options = gptq_options,
    .quantize = gptq_quantize,
    .dequantize = gptq_dequantize,
};
