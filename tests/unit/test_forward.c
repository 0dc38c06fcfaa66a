/* test_forward.c - the C forward passes against the PyTorch reference's logits.
 *
 * Every tests/data/golden/<case>.h5 (written by tests/reference/make_golden.py
 * from tests/reference/itera_ref.py) names a checkpoint; it is read with
 * squeeze's checkpoint reader, the family detected, the config inferred and
 * validated, the model built, and each window's logits must match the
 * reference to 1e-4 on every logit.  Hooks must see every linear's input.
 */
#include <cblas.h>
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "artifact/artifact.h"
#include "checkpoint/checkpoint.h"
#include "modelio/loader.h"
#include "models/family.h"
#include "models/forward.h"
#include "models/forward_internal.h"
#include "models/itera_transformer.h"
#include "models/vec_math.h"
#include "test_support.h"

#define GOLDEN_TOLERANCE 1e-4

typedef struct {
    sq_tensor_set set;
    const sq_family *family;
    sq_model_config cfg;
    sq_model *model;
    sq_loaded_model artifact; /* a squeeze model artifact (the pruned goldens): config from /model */
} loaded;

static void load_checkpoint(const char *relative, int num_heads, loaded *out)
{
    char path[1024];
    sq_family_hints hints = {.num_heads = num_heads};
    snprintf(path, sizeof path, "%s/%s", SQ_TEST_DATA, relative);
    memset(out, 0, sizeof *out);
    sq_tensor_set_init(&out->set);
    if (strstr(relative, "golden/pruned/") == relative) {
        ck_assert_msg(sq_model_load(path, NULL, &hints, &out->artifact) == SQ_OK, "%s: %s", path,
                      sq_error_message());
        ck_assert_str_eq(out->artifact.kind, "model");
        out->family = out->artifact.family;
        out->cfg = out->artifact.config;
        ck_assert_msg(out->family->validate(&out->artifact.tensors, &out->cfg) == SQ_OK, "%s", sq_error_message());
        ck_assert_msg(sq_model_build(&out->cfg, &out->artifact.tensors, &out->model) == SQ_OK, "%s",
                      sq_error_message());
        return;
    }
    ck_assert_msg(sq_checkpoint_read(path, &out->set) == SQ_OK, "%s: %s", path, sq_error_message());
    out->family = sq_family_detect(&out->set);
    ck_assert_msg(out->family != NULL, "no family recognises %s", path);
    ck_assert_msg(out->family->infer_config(&out->set, &hints, &out->cfg) == SQ_OK, "%s", sq_error_message());
    ck_assert_msg(out->family->validate(&out->set, &out->cfg) == SQ_OK, "%s", sq_error_message());
    ck_assert_msg(sq_model_build(&out->cfg, &out->set, &out->model) == SQ_OK, "%s", sq_error_message());
}

static void unload(loaded *m)
{
    sq_model_free(m->model);
    sq_tensor_set_free(&m->set);
    if (m->artifact.family)
        sq_loaded_model_free(&m->artifact);
}

/* One golden file: returns the largest |C - reference| over all its windows. */
static double check_golden_case(const char *h5_path)
{
    hid_t file = H5Fopen(h5_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char *checkpoint = NULL, *family = NULL;
    int64_t windows = 0, heads = 0;
    double worst = 0.0;
    loaded m;
    ck_assert_msg(file >= 0, "cannot open %s", h5_path);
    ck_assert(sq_h5_read_attr_string(file, "checkpoint", &checkpoint) == SQ_OK);
    ck_assert(sq_h5_read_attr_string(file, "family", &family) == SQ_OK);
    ck_assert(sq_h5_read_attr_int(file, "windows", &windows) == SQ_OK);
    ck_assert(sq_h5_read_attr_int(file, "num_heads", &heads) == SQ_OK);
    /* No hint: a transformer's head count must come from the checkpoint's config entry. */
    load_checkpoint(checkpoint, 0, &m);
    ck_assert_str_eq(m.family->name, family);
    if (strcmp(family, "itera-transformer") == 0)
        ck_assert_int_eq(sq_itera_transformer_config_c(&m.cfg)->num_heads, (int)heads);
    for (int w = 0; w < windows; w++) {
        char name[32];
        int32_t *tokens = NULL;
        float *ref = NULL, *logits = NULL;
        int ndim;
        uint64_t tdims[8], ldims[8];
        snprintf(name, sizeof name, "tokens_%d", w);
        ck_assert(sq_h5_read_dataset(file, name, H5T_NATIVE_INT32, (void **)&tokens, &ndim, tdims) == SQ_OK);
        snprintf(name, sizeof name, "logits_%d", w);
        ck_assert(sq_h5_read_dataset(file, name, H5T_NATIVE_FLOAT, (void **)&ref, &ndim, ldims) == SQ_OK);
        ck_assert_int_eq((int)ldims[0], (int)tdims[0]);
        ck_assert_int_eq((int)ldims[1], m.cfg.vocab_size);
        const int T = (int)tdims[0], V = m.cfg.vocab_size;
        logits = malloc((size_t)T * V * sizeof *logits);
        ck_assert_msg(sq_model_forward(m.model, tokens, T, logits, NULL) == SQ_OK, "%s", sq_error_message());
        double diff = 0.0;
        for (size_t i = 0; i < (size_t)T * V; i++)
            diff = fmax(diff, fabs((double)logits[i] - ref[i]));
        ck_assert_msg(diff <= GOLDEN_TOLERANCE, "%s window %d (T=%d): max |C - reference| = %.3g > %.0e", h5_path,
                      w, T, diff, GOLDEN_TOLERANCE);
        worst = fmax(worst, diff);
        free(tokens);
        free(ref);
        free(logits);
    }
    unload(&m);
    free(checkpoint);
    free(family);
    H5Fclose(file);
    return worst;
}

START_TEST(test_golden_logits)
{
    char dir_path[1024], path[1300];
    int cases = 0;
    bool seen_micro = false, seen_itera = false, seen_transformer = false, seen_odd = false,
         seen_bundled_itera = false, seen_bundled_transformer = false;
    snprintf(dir_path, sizeof dir_path, "%s/golden", SQ_TEST_DATA);
    DIR *dir = opendir(dir_path);
    ck_assert_msg(dir != NULL, "cannot open %s", dir_path);
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
        size_t len = strlen(entry->d_name);
        if (len < 4 || strcmp(entry->d_name + len - 3, ".h5") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir_path, entry->d_name);
        double worst = check_golden_case(path);
        printf("golden %-28s max |C - reference| = %.3g\n", entry->d_name, worst);
        seen_micro = seen_micro || strcmp(entry->d_name, "micro.h5") == 0;
        seen_itera = seen_itera || strcmp(entry->d_name, "random_itera.h5") == 0;
        seen_transformer = seen_transformer || strcmp(entry->d_name, "random_transformer.h5") == 0;
        seen_odd = seen_odd || strcmp(entry->d_name, "random_itera_odd.h5") == 0; /* vector tails */
        seen_bundled_itera = seen_bundled_itera || strcmp(entry->d_name, "itera_tiny_bytes.h5") == 0;
        seen_bundled_transformer = seen_bundled_transformer || strcmp(entry->d_name, "transformer_tiny_bytes.h5") == 0;
        cases++;
    }
    closedir(dir);
    /* the llama and mamba families: both RoPE pairings and namings, GQA, untied heads,
     * llama2.c .bin files, Mamba-1 and Mamba-2 with and without backbone. */
    static const char *const families[] = {"llama_gqa_hf.h5", "llama_gqa_meta.h5", "llama_mha_meta.h5",
                                           "llama_untied_hf.h5", "llama2c_gqa.h5", "llama2c_untied.h5",
                                           "llama_tiny.h5", "llama_tiny_bin.h5", "mamba_tiny.h5",
                                           "mamba1_random.h5", "mamba1_noprefix.h5", "mamba2_random.h5",
                                           "mamba2_noprefix.h5",
                                           /* pruned models against references of the pruned architectures
                                            * (tests/reference/make_golden_pruned.py) */
                                           "pruned_transformer_heads.h5", "pruned_llama_heads_ffn.h5",
                                           "pruned_llama_groups.h5", "pruned_micro_experts.h5",
                                           "pruned_mamba1_forced.h5"};
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir_path, families[i]);
        ck_assert_msg(access(path, R_OK) == 0, "golden case %s is missing", families[i]);
    }
    ck_assert_msg(seen_micro && seen_itera && seen_transformer && seen_odd && seen_bundled_itera &&
                      seen_bundled_transformer,
                  "golden cases micro, random_itera, random_transformer, random_itera_odd, itera_tiny_bytes and "
                  "transformer_tiny_bytes must all be present (%d found)", cases);
}
END_TEST

/* ---- hooks ---------------------------------------------------------------- */

#define MAX_CALLS 64

typedef struct {
    int calls;
    char names[MAX_CALLS][96];
    int rows[MAX_CALLS], cols[MAX_CALLS];
    int router_calls, router_layer, router_tokens, router_k;
    int experts[128 * 2];
    float gate_input[128 * 64];   /* layer 1's router input, T x d */
    float expert_input[4][128 * 64];
    int expert_rows[4];
} hook_log;

static void on_linear(void *context, const char *name, const float *x, int rows, int cols)
{
    hook_log *log = context;
    ck_assert_int_lt(log->calls, MAX_CALLS);
    snprintf(log->names[log->calls], sizeof log->names[0], "%s", name);
    log->rows[log->calls] = rows;
    log->cols[log->calls] = cols;
    log->calls++;
    if (strcmp(name, "layers.1.moe.layer.router.gate.weight") == 0)
        memcpy(log->gate_input, x, (size_t)rows * cols * sizeof *x);
    int e;
    /* sscanf stops matching after %d, so the .w1 suffix is checked apart */
    if (sscanf(name, "layers.1.moe.layer.experts.%d.", &e) == 1 && strstr(name, ".w1.weight") && e >= 0 && e < 4) {
        memcpy(log->expert_input[e], x, (size_t)rows * cols * sizeof *x);
        log->expert_rows[e] = rows;
    }
}

static void on_router(void *context, int layer, const int *experts, int tokens, int k)
{
    hook_log *log = context;
    log->router_calls++;
    log->router_layer = layer;
    log->router_tokens = tokens;
    log->router_k = k;
    memcpy(log->experts, experts, (size_t)tokens * k * sizeof *experts);
}

static int find_call(const hook_log *log, const char *name)
{
    for (int i = 0; i < log->calls; i++)
        if (strcmp(log->names[i], name) == 0)
            return i;
    return -1;
}

START_TEST(test_hooks_see_every_linear)
{
    enum { T = 50 };
    loaded m;
    hook_log *log = calloc(1, sizeof *log);
    sq_forward_hooks hooks = {.context = log, .linear_input = on_linear, .router = on_router};
    int32_t tokens[T];
    float *logits = malloc((size_t)T * 2000 * sizeof *logits);
    char name[96];
    load_checkpoint("itera-lite/itera_lite_micro_distilled.pt", 0, &m);
    for (int t = 0; t < T; t++)
        tokens[t] = 4 + (t * 37) % 170;
    ck_assert(sq_model_forward(m.model, tokens, T, logits, &hooks) == SQ_OK);
    /* Every linear of the micro model, with its input shape (itera-lite.md 1.2). */
    struct { const char *name; int rows, cols; } expected[] = {
        {"layers.0.ssm.in_proj.weight", T, 64}, {"layers.0.ssm.ssm.delta_proj.weight", T, 128},
        {"layers.0.ssm.out_proj.weight", T, 128}, {"layers.0.moe.ffn.w1.weight", T, 64},
        {"layers.0.moe.ffn.w2.weight", T, 32}, {"layers.1.ssm.in_proj.weight", T, 64},
        {"layers.1.ssm.ssm.delta_proj.weight", T, 128}, {"layers.1.ssm.out_proj.weight", T, 128},
        {"layers.1.moe.layer.router.gate.weight", T, 64}, {"layers.2.ssm.in_proj.weight", T, 64},
        {"layers.2.ssm.ssm.delta_proj.weight", T, 128}, {"layers.2.ssm.out_proj.weight", T, 128},
        {"layers.2.moe.ffn.w1.weight", T, 64}, {"layers.2.moe.ffn.w2.weight", T, 32},
        {"lm_head.weight", T, 64},
    };
    int non_expert = (int)(sizeof expected / sizeof expected[0]);
    for (int i = 0; i < non_expert; i++) {
        int call = find_call(log, expected[i].name);
        ck_assert_msg(call >= 0, "no linear_input call for %s", expected[i].name);
        ck_assert_int_eq(log->rows[call], expected[i].rows);
        ck_assert_int_eq(log->cols[call], expected[i].cols);
    }
    /* The router: once, for layer 1, T x 2 distinct experts per token. */
    ck_assert_int_eq(log->router_calls, 1);
    ck_assert_int_eq(log->router_layer, 1);
    ck_assert_int_eq(log->router_tokens, T);
    ck_assert_int_eq(log->router_k, 2);
    int routed[4] = {0};
    for (int t = 0; t < T; t++) {
        int a = log->experts[2 * t], b = log->experts[2 * t + 1];
        ck_assert(a >= 0 && a < 4 && b >= 0 && b < 4 && a != b);
        routed[a]++;
        routed[b]++;
    }
    /* Experts: exactly the routed tokens, in token order, each row the router's input row. */
    int expert_calls = 0;
    for (int e = 0; e < 4; e++) {
        snprintf(name, sizeof name, "layers.1.moe.layer.experts.%d.w1.weight", e);
        int w1 = find_call(log, name);
        snprintf(name, sizeof name, "layers.1.moe.layer.experts.%d.w2.weight", e);
        int w2 = find_call(log, name);
        if (routed[e] == 0) {
            ck_assert_int_eq(w1, -1);
            continue;
        }
        ck_assert_msg(w1 >= 0 && w2 >= 0, "expert %d got %d tokens but no hook call", e, routed[e]);
        ck_assert_int_eq(log->rows[w1], routed[e]);
        ck_assert_int_eq(log->cols[w1], 64);
        ck_assert_int_eq(log->rows[w2], routed[e]);
        ck_assert_int_eq(log->cols[w2], 32);
        expert_calls += 2;
        int row = 0;
        for (int t = 0; t < T; t++) {
            if (log->experts[2 * t] != e && log->experts[2 * t + 1] != e)
                continue;
            ck_assert_mem_eq(log->expert_input[e] + row * 64, log->gate_input + t * 64, 64 * sizeof(float));
            row++;
        }
    }
    ck_assert_int_eq(log->calls, non_expert + expert_calls);
    unload(&m);
    free(logits);
    free(log);
}
END_TEST

/* ---- the vectorised activations against double precision ------------------------ */

START_TEST(test_vec_math_accuracy)
{
    double worst_exp = 0.0, worst_softplus = 0.0, worst_silu = 0.0;
    float e[SQ_VF_LANES], sp[SQ_VF_LANES], si[SQ_VF_LANES];
    for (int i = 0; i <= 400000; i++) {
        float x = -87.0f + 175.0f * (float)i / 400000.0f, v[4] = {x, x * 0.25f, -x * 0.125f, x * 0.01f};
        for (int k = 0; k < 4; k++) {
            sq_vf_store(e, sq_vf_exp(sq_vf_splat(v[k])));
            sq_vf_store(sp, sq_vf_softplus(sq_vf_splat(v[k])));
            sq_vf_store(si, sq_vf_silu(sq_vf_splat(v[k])));
            double xd = v[k];
            double ref_exp = exp(xd);
            double ref_softplus = xd > 20.0 ? xd : log1p(exp(xd));
            double ref_silu = xd / (1.0 + exp(-xd));
            worst_exp = fmax(worst_exp, fabs(e[k % SQ_VF_LANES] - ref_exp) / ref_exp);
            worst_softplus = fmax(worst_softplus, fabs(sp[0] - ref_softplus) / fmax(ref_softplus, 1e-30));
            if (fabs(ref_silu) > 1e-30)
                worst_silu = fmax(worst_silu, fabs(si[SQ_VF_LANES - 1] - ref_silu) / fabs(ref_silu));
        }
    }
    printf("vec_math max relative error: exp %.2g, softplus %.2g, silu %.2g\n", worst_exp, worst_softplus,
           worst_silu);
    /* float epsilon is 1.19e-7: a few ulp at most */
    ck_assert_msg(worst_exp < 4e-7, "exp %.3g", worst_exp);
    ck_assert_msg(worst_softplus < 6e-7, "softplus %.3g", worst_softplus);
    ck_assert_msg(worst_silu < 6e-7, "silu %.3g", worst_silu);
    /* erf and GELU (the FFNs' activation) against double precision: absolute error, since
     * erf is bounded and GELU's error grows with |x| (0.5 x erf_error) */
    double worst_erf = 0.0, worst_gelu = 0.0;
    float er[SQ_VF_LANES], ge[SQ_VF_LANES];
    for (int i = -400000; i <= 400000; i++) {
        float x = 10.0f * (float)i / 400000.0f;
        sq_vf_store(er, sq_vf_erf(sq_vf_splat(x)));
        sq_vf_store(ge, sq_vf_gelu(sq_vf_splat(x)));
        double xd = x;
        worst_erf = fmax(worst_erf, fabs(er[0] - erf(xd)));
        worst_gelu = fmax(worst_gelu, fabs(ge[0] - 0.5 * xd * (1.0 + erf(xd / sqrt(2.0)))) / fmax(1.0, fabs(xd)));
    }
    printf("vec_math max absolute error: erf %.2g, gelu %.2g (relative to max(1, |x|))\n", worst_erf, worst_gelu);
    ck_assert_msg(worst_erf < 6e-7, "erf %.3g", worst_erf); /* a few ulp of 1 */
    ck_assert_msg(worst_gelu < 6e-7, "gelu %.3g", worst_gelu);
    /* partial loads and stores (row widths not a multiple of the lanes) touch only n floats */
    float row[SQ_VF_LANES + 3], out[SQ_VF_LANES + 3];
    for (int i = 0; i < SQ_VF_LANES + 3; i++) {
        row[i] = (float)(i + 1);
        out[i] = -1.0f;
    }
    sq_vf part = sq_vf_load_n(row + 3, 3);
    ck_assert(part[0] == 4.0f && part[1] == 5.0f && part[2] == 6.0f && part[3] == 0.0f &&
              part[SQ_VF_LANES - 1] == 0.0f);
    sq_vf_store_n(out + 3, sq_vf_splat(9.0f), 2);
    ck_assert(out[2] == -1.0f && out[3] == 9.0f && out[4] == 9.0f && out[5] == -1.0f);
    ck_assert(sq_vf_sum(sq_vf_first(sq_vf_splat(2.0f), 3)) == 6.0f);
    ck_assert(sq_vf_sum(sq_vf_load(row)) == (float)(SQ_VF_LANES * (SQ_VF_LANES + 1) / 2));
    /* the map macro's tail (n not a multiple of the lanes) */
    float tail[SQ_VF_LANES + 3] = {-1, 0, 1, 2, 3, 21, -30};
    SQ_VF_MAP(tail, 7, sq_vf_softplus);
    ck_assert(fabs(tail[5] - 21.0f) == 0.0f && fabs(tail[1] - (float)log(2.0)) < 1e-7 && tail[6] > 0.0f);
    ck_assert(tail[7] == 0.0f); /* past n: untouched */
}
END_TEST

/* ---- errors and speed -------------------------------------------------------------- */

/* The final norm of RMSNorm families (models/family.h SQ_NORM_RMS), against PyTorch 1.13
 * (Debian python3-torch) evaluating Llama's reference RMSNorm,
 * w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)), in float32 with eps 1e-5. */
START_TEST(test_rmsnorm_matches_torch)
{
    const float x[2][5] = {{1.0f, -2.0f, 3.0f, -4.0f, 0.5f}, {0.25f, 0.0f, -1.5f, 2.0f, 8.0f}};
    const float w[5] = {1.0f, 0.5f, 2.0f, -1.0f, 1.5f};
    const float want[2][5] = {{0.4065575f, -0.4065575f, 2.43934488f, 1.62623f, 0.30491811f},
                              {0.0666666478f, 0.0f, -0.799999774f, -0.533333182f, 3.19999909f}};
    float out[2][5];
    sq_fw_rmsnorm(&x[0][0], 2, 5, w, 1e-5, &out[0][0]);
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 5; j++)
            ck_assert_msg(fabsf(out[r][j] - want[r][j]) <= 2e-7f * fmaxf(1.0f, fabsf(want[r][j])),
                          "row %d col %d: %.9g, torch %.9g", r, j, out[r][j], want[r][j]);
}
END_TEST

/* A corrupt weight reaches the logits as NaN or infinity: the forward pass fails and says so. */
START_TEST(test_forward_rejects_non_finite_logits)
{
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    int32_t tokens[16];
    float *logits = malloc(16 * 2000 * sizeof *logits);
    for (int t = 0; t < 16; t++)
        tokens[t] = 4 + t;
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        loaded m;
        load_checkpoint("itera-lite/itera_lite_micro_distilled.pt", 0, &m);
        ck_assert(sq_model_forward(m.model, tokens, 16, logits, NULL) == SQ_OK);
        sq_model_free(m.model);
        float *embedding = NULL; /* the tied head's last row: one logit per token goes bad, no input */
        for (size_t i = 0; i < m.set.count; i++)
            if (strcmp(m.set.tensors[i].name, "embedding.weight") == 0) {
                /* the checkpoint's data is mapped read-only: this test's own copy to damage */
                ck_assert(sq_tensor_make_writable(&m.set, &m.set.tensors[i]) == SQ_OK);
                embedding = m.set.tensors[i].data;
            }
        ck_assert_ptr_nonnull(embedding);
        embedding[1999 * 64 + 5] = bad[b];
        ck_assert(sq_model_build(&m.cfg, &m.set, &m.model) == SQ_OK);
        ck_assert_int_eq(sq_model_forward(m.model, tokens, 16, logits, NULL), SQ_ERR_RUN);
        assert_message_has("non-finite logit");
        unload(&m);
    }
    free(logits);
}
END_TEST

/* The finiteness check may skip reading the logits when the head's largest weight and the
 * normed input bound every logit below FLT_MAX: whatever the head's magnitude, the forward pass
 * succeeds exactly when every logit it wrote is finite (huge finite weights overflow some
 * logits to infinity and must be caught; moderate ones must pass). */
START_TEST(test_forward_finiteness_bound)
{
    static const float scale[] = {1e30f, 1e36f, 1e37f, 1e38f, 3e38f};
    int32_t tokens[16];
    float *logits = malloc(16 * 2000 * sizeof *logits);
    int passed = 0, failed = 0;
    for (int t = 0; t < 16; t++)
        tokens[t] = 4 + t;
    for (size_t b = 0; b < sizeof scale / sizeof scale[0]; b++) {
        loaded m;
        load_checkpoint("itera-lite/itera_lite_micro_distilled.pt", 0, &m);
        sq_model_free(m.model);
        float *embedding = NULL; /* the tied head's last row, a word no token of the window is */
        for (size_t i = 0; i < m.set.count; i++)
            if (strcmp(m.set.tensors[i].name, "embedding.weight") == 0) {
                /* the checkpoint's data is mapped read-only: this test's own copy to change */
                ck_assert(sq_tensor_make_writable(&m.set, &m.set.tensors[i]) == SQ_OK);
                embedding = m.set.tensors[i].data;
            }
        ck_assert_ptr_nonnull(embedding);
        for (int k = 0; k < 64; k++)
            embedding[1999 * 64 + k] = scale[b];
        ck_assert(sq_model_build(&m.cfg, &m.set, &m.model) == SQ_OK);
        const sq_status st = sq_model_forward(m.model, tokens, 16, logits, NULL);
        bool finite = true;
        for (int i = 0; i < 16 * 2000; i++)
            finite = finite && isfinite(logits[i]);
        ck_assert_msg(st == (finite ? SQ_OK : SQ_ERR_RUN), "head row x %g: status %d, logits %s", scale[b], st,
                      finite ? "finite" : "not finite");
        passed += st == SQ_OK;
        failed += st != SQ_OK;
        unload(&m);
    }
    ck_assert(passed > 0 && failed > 0); /* both outcomes met */
    free(logits);
}
END_TEST

START_TEST(test_forward_rejects_bad_windows)
{
    loaded m;
    int32_t tokens[130] = {0};
    float *logits = malloc(130 * 2000 * sizeof *logits);
    load_checkpoint("itera-lite/itera_lite_micro_distilled.pt", 0, &m);
    ck_assert_int_eq(sq_model_forward(m.model, tokens, 129, logits, NULL), SQ_ERR_INPUT);
    assert_message_has("128");
    tokens[3] = 2000;
    ck_assert_int_eq(sq_model_forward(m.model, tokens, 10, logits, NULL), SQ_ERR_INPUT);
    assert_message_has("position 3");
    /* The same window twice gives the same logits: no state leaks between calls. */
    float *again = malloc(128 * 2000 * sizeof *again);
    for (int t = 0; t < 128; t++)
        tokens[t] = 4 + (t * 13) % 150;
    ck_assert(sq_model_forward(m.model, tokens, 128, logits, NULL) == SQ_OK);
    ck_assert(sq_model_forward(m.model, tokens, 37, again, NULL) == SQ_OK);
    ck_assert(sq_model_forward(m.model, tokens, 128, again, NULL) == SQ_OK);
    ck_assert_mem_eq(logits, again, 128 * 2000 * sizeof *again);
    unload(&m);
    free(logits);
    free(again);
}
END_TEST

START_TEST(test_forward_speed_micro)
{
    /* Measured, not asserted against a machine-dependent number: printed for the report. */
    loaded m;
    int32_t tokens[128];
    float *logits = malloc(128 * 2000 * sizeof *logits);
    struct timespec start, end;
    load_checkpoint("itera-lite/itera_lite_micro_distilled.pt", 0, &m);
    for (int t = 0; t < 128; t++)
        tokens[t] = 4 + (t * 7) % 180;
    const int reps = 50;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int r = 0; r < reps; r++)
        ck_assert(sq_model_forward(m.model, tokens, 128, logits, NULL) == SQ_OK);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ms = ((end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6) / reps;
    printf("micro forward, 1 x 128 tokens: %.3f ms (%.0f tokens/s)\n", ms, 128 / ms * 1e3);
    ck_assert(ms > 0.0);
    unload(&m);
    free(logits);
}
END_TEST

int main(void)
{
    openblas_set_num_threads(1); /* as the stages do: one rank, one core; the speed printed is single-thread */
    return sq_test_run_tests("forward", 120,
                             SQ_TESTS(test_golden_logits, test_hooks_see_every_linear, test_forward_rejects_bad_windows,
                                      test_forward_rejects_non_finite_logits, test_forward_finiteness_bound,
                                      test_rmsnorm_matches_torch,
                                      test_vec_math_accuracy, test_forward_speed_micro));
}
