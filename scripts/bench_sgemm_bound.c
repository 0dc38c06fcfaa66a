/* bench_sgemm_bound.c - the sgemm-bound limit of a model's forward pass, for
 * scripts/bench_evaluate.sh: every linear layer of the model as one OpenBLAS sgemm
 * (x [T, in] times W^T, beta 0, exactly the shapes the forward runs) in sequence
 * and nothing else, and the same layers through squeeze's own kernels (as the
 * model prepared them).  Prints tokens/s of each: no forward pass can be faster
 * than its sgemm-bound limit with the same GEMMs.
 *
 *   bench_sgemm_bound MODEL T REPEATS
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "modelio/loader.h"
#include "models/forward.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    sq_loaded_model loaded;
    sq_model *model = NULL;
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL T REPEATS\n", argv[0]);
        return 2;
    }
    const int T = atoi(argv[2]), repeats = atoi(argv[3]);
    if (sq_model_load_packed(argv[1], "auto", NULL, &loaded) != SQ_OK) {
        fprintf(stderr, "%s\n", sq_error_message());
        return 3;
    }
    sq_model_build_options options = {.packed = loaded.packed, .packed_count = loaded.packed_count};
    if (sq_model_build_ex(&loaded.config, &loaded.tensors, &options, &model) != SQ_OK) {
        fprintf(stderr, "%s\n", sq_error_message());
        return 3;
    }
    int n = sq_model_linear_count(model), widest = 1, tallest = 1;
    for (int i = 0; i < n; i++) {
        const sq_matrix *m = sq_model_linear_matrix(model, i);
        widest = m->cols > widest ? m->cols : widest;
        tallest = m->rows > tallest ? m->rows : tallest;
    }
    float *x = malloc((size_t)T * widest * sizeof *x), *y = malloc((size_t)T * tallest * sizeof *y);
    float **w = calloc((size_t)n, sizeof *w);
    for (size_t i = 0; i < (size_t)T * widest; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (int i = 0; i < n; i++) {
        const sq_matrix *m = sq_model_linear_matrix(model, i);
        w[i] = malloc((size_t)m->rows * m->cols * sizeof **w);
        for (size_t j = 0; j < (size_t)m->rows * m->cols; j++)
            w[i][j] = (float)((j * 40503u) % 1000) / 10000.0f - 0.05f;
    }
    double flops = 0.0, t0 = cpu_seconds();
    for (int r = 0; r < repeats; r++)
        for (int i = 0; i < n; i++) {
            const sq_matrix *m = sq_model_linear_matrix(model, i);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, m->rows, m->cols, 1.0f, x, m->cols, w[i],
                        m->cols, 0.0f, y, m->rows);
            flops += 2.0 * T * m->rows * m->cols;
        }
    double blas = cpu_seconds() - t0;
    t0 = cpu_seconds();
    for (int r = 0; r < repeats; r++)
        for (int i = 0; i < n; i++) {
            const sq_matrix *m = sq_model_linear_matrix(model, i);
            sq_matrix_matmul(m, x, T, y, m->rows, false, m->work);
        }
    double own = cpu_seconds() - t0;
    printf("openblas_tokens_per_second %.0f\nopenblas_gflops %.1f\nkernels_tokens_per_second %.0f\nkernels_gflops %.1f\n",
           (double)T * repeats / blas, flops / blas / 1e9, (double)T * repeats / own, flops / own / 1e9);
    for (int i = 0; i < n; i++)
        free(w[i]);
    free(w);
    free(x);
    free(y);
    sq_model_free(model);
    sq_loaded_model_free(&loaded);
    return 0;
}
