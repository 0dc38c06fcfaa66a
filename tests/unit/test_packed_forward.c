/* test_packed_forward.c - compressed models run compressed: the bundled models with their
 * linear weights quantized (int8, int4, nf4, and bf16 for a plain 16-bit case), built with
 * the weights kept packed, against the same weights dequantized to fp32 (the reference path,
 * evaluate.kernels: dequantized).  The perplexity of a window of real text must agree within
 * 0.5% with int8 activations, 0.01% for int8 weights with fp32 activations, 0.1% for bf16; every linear reports its kernel; with release the tensor
 * set keeps no data once the model is built.  With the tied embedding quantized too, the head runs
 * its format's kernel and the embedding's rows come from that one packed copy: the model holds no
 * fp32 table beside it, and a 4-bit weight takes at most 15% more memory than its stored bytes. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelio/loader.h"
#include "models/family.h"
#include "models/forward.h"
#include "quant/format.h"
#include "test_support.h"

enum { T = 128 };

typedef struct {
    const char *checkpoint;
    const char *format;
    const char *kernel;   /* what the quantized linears must run */
    double tolerance;     /* relative, on the windows' perplexity */
    bool fp32_activations;
    int windows;          /* consecutive windows of T tokens measured (0: one) */
    bool embedding;       /* the token embedding (the tied head) quantized too */
} packed_case;

/* int8 weights with int8 activations (per block of 128) move one window's perplexity by up to
 * a few tenths of a percent (measured: -0.15% .. +0.13%); with fp32 activations the kernel
 * computes what the reference does. */
static const packed_case cases[] = {
    {"bundled/itera_tiny_bytes.safetensors", "int8", "int8xq8", 0.005, false, 1, false},
    {"bundled/itera_tiny_bytes.safetensors", "int8", "int8xq8(fp32 activations)", 0.0001, true, 1, false},
    {"bundled/itera_tiny_bytes.safetensors", "int4", "q4xq8", 0.005, false, 1, false},
    {"bundled/itera_tiny_bytes.safetensors", "nf4", "nf4xq8", 0.005, false, 1, false},
    {"bundled/itera_tiny_bytes.safetensors", "bf16", "bf16-panel", 0.001, false, 1, false},
    {"bundled/transformer_tiny_bytes.safetensors", "int8", "int8xq8", 0.005, false, 1, false},
    {"bundled/transformer_tiny_bytes.safetensors", "int8", "int8xq8(fp32 activations)", 0.0001, true, 1, false},
    {"bundled/transformer_tiny_bytes.safetensors", "nf4", "nf4xq8(fp32 activations)", 0.005, true, 1, false},
    {"bundled/transformer_tiny_bytes.safetensors", "nf4", "nf4xq8", 0.005, false, 1, false},
    /* BPE models fed bytes: the NLL is high, the comparison the same */
    {"bundled/llama_tiny/model.safetensors", "int8", "int8xq8", 0.005, false, 1, false},
    {"bundled/llama_tiny/model.safetensors", "nf4", "nf4xq8", 0.005, false, 1, false},
    {"bundled/mamba_tiny/model.safetensors", "int8", "int8xq8", 0.005, false, 1, false},
    /* ggml's block formats with ggml's activation types (kernels/ggml_dot.c): 0.1% for 8-bit
     * weights, 0.5% for 4-bit, over 8 windows (1024 tokens: one window of 128 moves by up to
     * 0.16% for q8_0 on the byte-level Itera, the rounding noise of single tokens); the k-quants
     * on the linears whose rows are whole 256-blocks */
    {"bundled/itera_tiny_bytes.safetensors", "q8_0", "q8_0xq8_0", 0.001, false, 8, false},
    {"bundled/itera_tiny_bytes.safetensors", "q4_0", "q4_0xq8_0", 0.005, false, 8, false},
    {"bundled/itera_tiny_bytes.safetensors", "q4_1", "q4_1xq8_1", 0.005, false, 8, false},
    {"bundled/itera_tiny_bytes.safetensors", "q4_k", "q4_Kxq8_K", 0.005, false, 8, false},
    {"bundled/itera_tiny_bytes.safetensors", "q6_k", "q6_Kxq8_K", 0.001, false, 8, false},
    {"bundled/itera_tiny_bytes.safetensors", "q4_k", "q4_Kxq8_K(fp32 activations)", 0.0001, true, 1, false},
    {"bundled/llama_tiny/model.safetensors", "q8_0", "q8_0xq8_0", 0.001, false, 8, false},
    {"bundled/llama_tiny/model.safetensors", "q4_0", "q4_0xq8_0", 0.005, false, 8, false},
    {"bundled/mamba_tiny/model.safetensors", "q8_0", "q8_0xq8_0", 0.001, false, 8, false},
    /* the tied embedding quantized as well: the head through the format's kernel */
    {"bundled/itera_tiny_bytes.safetensors", "int4", "q4xq8", 0.005, false, 8, true},
    {"bundled/llama_tiny/model.safetensors", "nf4", "nf4xq8", 0.005, false, 8, true},
    {"bundled/llama_tiny/model.safetensors", "q4_0", "q4_0xq8_0", 0.005, false, 8, true},
    {"bundled/mamba_tiny/model.safetensors", "q8_0", "q8_0xq8_0", 0.001, false, 8, true},
};

/* The window's tokens: bytes of real English text. */
static void text_tokens(int32_t *tokens, int window)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/bundled/austen_val.txt", SQ_TEST_DATA);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char bytes[T + 1];
    ck_assert_int_eq(fseek(f, 4096 + (long)window * T, SEEK_SET), 0);
    ck_assert_int_eq(fread(bytes, 1, sizeof bytes, f), sizeof bytes);
    fclose(f);
    for (int t = 0; t <= T; t++)
        tokens[t] = bytes[t];
}

static double mean_nll(const float *logits, const int32_t *tokens, int vocab)
{
    double sum = 0.0;
    for (int t = 0; t < T; t++) {
        const float *row = logits + (size_t)t * vocab;
        double max = row[0], s = 0.0;
        for (int v = 1; v < vocab; v++)
            max = fmax(max, row[v]);
        for (int v = 0; v < vocab; v++)
            s += exp(row[v] - max);
        sum += max + log(s) - row[tokens[t + 1]];
    }
    return sum / T;
}

/* What a model holds besides its linear weights: the fp32 arrays (norms, convolutions, ...). */
static uint64_t array_bytes(const sq_model *model)
{
    uint64_t linears = 0;
    char kernel[64];
    for (int i = 0; i < sq_model_linear_count(model); i++) {
        const char *name;
        size_t bytes;
        sq_model_linear_at(model, i, &name, kernel, sizeof kernel, &bytes);
        linears += bytes;
    }
    return sq_model_weight_bytes(model) - linears;
}

/* Loads the checkpoint and quantizes every block's 2-D weight (and with c->embedding the token
 * embedding): the set keeps their names and
 * shapes without data, *packed holds them. */
static void load_quantized(const packed_case *c, sq_loaded_model *out, sq_qtensor **packed, size_t *count)
{
    char path[1024];
    const sq_quant_format *format = sq_quant_format_find(c->format);
    sq_quant_options options;
    sq_quant_options_default(&options);
    snprintf(path, sizeof path, "%s/%s", SQ_TEST_DATA, c->checkpoint);
    ck_assert_msg(sq_model_load(path, "auto", NULL, out) == SQ_OK, "%s", sq_error_message());
    *packed = calloc(out->tensors.count, sizeof **packed);
    *count = 0;
    for (size_t i = 0; i < out->tensors.count; i++) {
        sq_tensor *t = &out->tensors.tensors[i];
        const bool embedding = c->embedding && strstr(t->name, "embed") && !strstr(t->name, "position");
        if (t->ndim != 2 || t->alias_of ||
            (strstr(t->name, "layers.") == NULL && strncmp(t->name, "blocks.", 7) != 0 && !embedding))
            continue;
        if (t->shape[1] % 32 != 0) /* int4 needs whole groups (a precision map gives these another format) */
            continue;
        if (c->format[0] == 'q' && c->format[3] == 'k' && t->shape[1] % 256 != 0)
            continue; /* k-quants: whole super-blocks (else the format falls back to q4_1 / q8_0) */
        sq_qtensor *qt = &(*packed)[(*count)++];
        ck_assert_msg(format->quantize(t->name, t->data, t->shape[0], t->shape[1], &options, NULL, qt) == SQ_OK,
                      "%s: %s", t->name, sq_error_message());
        sq_tensor_drop_data(&out->tensors, t);
    }
    ck_assert_int_gt((int)*count, 4);
}

START_TEST(test_packed_matches_dequantized)
{
    const packed_case *c = &cases[_i];
    sq_loaded_model a, b;
    sq_qtensor *packed_a, *packed_b;
    size_t count_a, count_b;
    sq_model *packed_model = NULL, *reference = NULL;
    int32_t tokens[T + 1];
    char kernel[64];

    load_quantized(c, &a, &packed_a, &count_a);
    load_quantized(c, &b, &packed_b, &count_b);
    sq_model_build_options run_packed = {.packed = packed_a, .packed_count = count_a, .release = true,
                                         .fp32_activations = c->fp32_activations};
    sq_model_build_options run_reference = {.packed = packed_b, .packed_count = count_b, .dequantized = true};
    ck_assert_msg(sq_model_build_ex(&a.config, &a.tensors, &run_packed, &packed_model) == SQ_OK, "%s",
                  sq_error_message());
    ck_assert_msg(sq_model_build_ex(&b.config, &b.tensors, &run_reference, &reference) == SQ_OK, "%s",
                  sq_error_message());

    /* one copy: nothing of the loaded weights is left once the model holds them */
    for (size_t i = 0; i < a.tensors.count; i++)
        ck_assert_msg(a.tensors.tensors[i].data == NULL, "%s kept its data", a.tensors.tensors[i].name);
    for (size_t i = 0; i < count_a; i++)
        ck_assert_int_eq(packed_a[i].buffer_count, 0);

    /* every quantized linear runs its format's kernel, the others fp32 panels */
    int quantized = 0;
    uint64_t held = 0, stored_sum = 0;
    for (int i = 0; i < sq_model_linear_count(packed_model); i++) {
        const char *name;
        size_t bytes;
        sq_model_linear_at(packed_model, i, &name, kernel, sizeof kernel, &bytes);
        ck_assert_int_gt((int)bytes, 0);
        const sq_qtensor *stored = NULL;
        for (size_t j = 0; j < count_b; j++)
            stored = strcmp(packed_b[j].name, name) == 0 ? &packed_b[j] : stored;
        const bool is_packed = stored != NULL;
        if (is_packed && strncmp(kernel, c->kernel, strlen(c->kernel)) == 0) {
            quantized++;
            held += bytes;
            stored_sum += sq_qtensor_bytes(stored);
        } else
            ck_assert_msg(!is_packed || strstr(kernel, "(dequantized)"), "%s runs %s", name, kernel);
    }
    ck_assert_int_gt(quantized, 4);
    /* 4-bit codes stay 4-bit: the packed weights within 15% of their stored bytes (row panels of
     * 16, the kernels' fp32 scales included) */
    fprintf(stderr, "%s %s: packed weights %llu bytes in memory for %llu stored\n", c->checkpoint, c->format,
            (unsigned long long)held, (unsigned long long)stored_sum);
    if (strstr("int4 nf4 q4_0 q4_1 q4_k", c->format))
        ck_assert_msg((double)held <= 1.15 * (double)stored_sum, "%s %s: %llu bytes in memory for %llu stored",
                      c->checkpoint, c->format, (unsigned long long)held, (unsigned long long)stored_sum);
    /* no fp32 copy of a quantized embedding beside its packed form: the fp32 arrays the model
     * holds are those of the same model whose embedding stayed fp32 (then the head's panels) */
    if (c->embedding) {
        packed_case blocks_only = *c;
        sq_loaded_model p;
        sq_qtensor *packed_p;
        size_t count_p;
        sq_model *fp32_embedding = NULL;
        blocks_only.embedding = false;
        load_quantized(&blocks_only, &p, &packed_p, &count_p);
        sq_model_build_options run = {.packed = packed_p, .packed_count = count_p, .release = true};
        ck_assert_msg(sq_model_build_ex(&p.config, &p.tensors, &run, &fp32_embedding) == SQ_OK, "%s",
                      sq_error_message());
        ck_assert_uint_eq(array_bytes(packed_model), array_bytes(fp32_embedding));
        sq_model_free(fp32_embedding);
        for (size_t i = 0; i < count_p; i++)
            sq_qtensor_free(&packed_p[i]);
        free(packed_p);
        sq_loaded_model_free(&p);
    }

    const int vocab = a.config.vocab_size, windows = c->windows > 0 ? c->windows : 1;
    float *la = malloc((size_t)T * vocab * sizeof *la), *lb = malloc((size_t)T * vocab * sizeof *lb);
    double nll_packed = 0.0, nll_reference = 0.0;
    for (int w = 0; w < windows; w++) {
        text_tokens(tokens, w);
        ck_assert_int_eq(sq_model_forward(packed_model, tokens, T, la, NULL), SQ_OK);
        ck_assert_int_eq(sq_model_forward(reference, tokens, T, lb, NULL), SQ_OK);
        nll_packed += mean_nll(la, tokens, vocab) / windows;
        nll_reference += mean_nll(lb, tokens, vocab) / windows;
    }
    ck_assert_msg(isfinite(nll_packed) && nll_reference > 0.1 && nll_reference < (vocab == 256 ? 3.0 : 12.0),
                  "NLL %g / %g", nll_packed, nll_reference);
    /* perplexity exp(mean NLL): its relative change is exp(difference) - 1 */
    const double ppl_change = exp(nll_packed - nll_reference) - 1.0;
    fprintf(stderr, "%s %s (%s, %d x %d tokens): perplexity packed vs dequantized %+.4f%%\n", c->checkpoint,
            c->format, c->kernel, windows, T, 100.0 * ppl_change);
    ck_assert_msg(fabs(ppl_change) <= c->tolerance, "%s %s: mean NLL packed %.6f vs dequantized %.6f: perplexity %+.3f%%",
                  c->checkpoint, c->format, nll_packed, nll_reference, 100.0 * ppl_change);
    free(la);
    free(lb);
    sq_model_free(packed_model);
    sq_model_free(reference);
    for (size_t i = 0; i < count_a; i++)
        sq_qtensor_free(&packed_a[i]);
    for (size_t i = 0; i < count_b; i++)
        sq_qtensor_free(&packed_b[i]);
    free(packed_a);
    free(packed_b);
    sq_loaded_model_free(&a);
    sq_loaded_model_free(&b);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("packed_forward");
    const sq_test_case row = {.name = "packed", .timeout = 120};
    tcase_add_loop_test(sq_test_add_case(suite, &row), test_packed_matches_dequantized, 0,
                        (int)(sizeof cases / sizeof *cases));
    return sq_test_run(suite);
}
