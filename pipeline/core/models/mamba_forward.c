/* mamba_forward.c - the Mamba family forward pass (Mamba-1 and Mamba-2), eval semantics.
 *
 * x = Emb[ids]; per layer x += mixer(RMSNorm(x)); logits = RMSNorm_f(x) Emb^T
 * (or lm_head.weight when the checkpoint has its own).  The mixers follow
 * tests/reference/mamba_ref.py (docs/mamba.md):
 *   Mamba-1: (u, z) = in_proj h; u = silu(causal depthwise conv(u) + b);
 *            (dt, B, C) = x_proj u; dt = softplus(dt_proj dt + bias); A = -exp(A_log);
 *            s_t = exp(dt A) s_{t-1} + dt B_t u_t; y_t = s_t . C_t + D u_t;
 *            out_proj(y * silu(z)).
 *   Mamba-2: (z, xBC, dt) = in_proj h; xBC = silu(conv(xBC) + b) -> x [H, P], B, C [G, N];
 *            dt = softplus(dt + dt_bias); S_t = exp(dt A_h) S_{t-1} + dt x_t B_t^T;
 *            y_t = S_t C_t + D_h x_t; out_proj(GroupRMSNorm(y * silu(z)) * w).
 * The scan is sequential over time and vectorised over the state (the inner
 * loops over N run on contiguous rows; the decay exponentials of a row go
 * through vec_math.h's vector exp).  Buffers grow to the longest window seen.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/forward_internal.h"
#include "models/mamba.h"
#include "models/mamba_names.h"
#include "models/vec_math.h"

#define NAME_LEN SQ_FW_NAME_LEN

typedef struct {
    float *norm, *conv_w, *conv_b, *dt_proj, *dt_bias, *A, *D, *gate_norm;
    const sq_matrix *in_proj, *x_proj, *out_proj; /* linear weights, as their kernels run them */
    char in_name[NAME_LEN], x_name[NAME_LEN], dt_name[NAME_LEN], out_name[NAME_LEN];
} mamba_layer;

typedef struct {
    sq_fw_arena arena;
    mamba_layer *layers;
    sq_fw_ends ends;         /* embedding, final RMSNorm, head */
    int conv_dim, proj_dim, dbc_dim;
    int capacity;
    float *x, *h, *proj, *conv, *dbc, *dt, *y, *state, *decay;
} mamba_state;

void sq_mamba_free(void *opaque)
{
    mamba_state *m = opaque;
    if (m != NULL) {
        float **const activations[] = {&m->x, &m->h, &m->proj, &m->conv, &m->dbc, &m->dt, &m->y};
        sq_fw_state_free(&m->arena, activations, sizeof activations / sizeof activations[0], m);
    }
}

static sq_status reserve(mamba_state *m, const sq_model_config *cfg, int T)
{
    const sq_mamba_config *own = sq_mamba_config_c(cfg);
    const size_t n = (size_t)T, d = (size_t)cfg->hidden_size, di = (size_t)own->d_inner;
    if (T <= m->capacity)
        return SQ_OK;
    const sq_fw_sized buffers[] = {
        {&m->x, n * d}, {&m->h, n * d}, {&m->proj, n * (size_t)m->proj_dim}, {&m->conv, n * (size_t)m->conv_dim},
        {&m->dbc, n * (size_t)m->dbc_dim}, {&m->dt, n * di}, {&m->y, n * di}};
    sq_status st = sq_fw_alloc_buffers(&m->arena, buffers, sizeof buffers / sizeof buffers[0], "mamba activations");
    m->capacity = st == SQ_OK ? T : 0;
    return st;
}

typedef struct {
    const char *prefix;
    int layer;
} layer_at;

static void layer_name(const void *at, const char *suffix, char *name, size_t size)
{
    const layer_at *a = at;
    sq_mamba_name(name, size, a->prefix, a->layer, suffix);
}

static sq_status load_layer(mamba_state *m, const sq_model_config *cfg, const sq_fw_source *set, const char *prefix,
                            int i)
{
    const sq_mamba_config *own = sq_mamba_config_c(cfg);
    mamba_layer *L = &m->layers[i];
    const layer_at at = {prefix, i};
    const sq_fw_want common[] = {
        {"norm.weight", &L->norm, NULL, NULL}, {"mixer.in_proj.weight", NULL, &L->in_proj, L->in_name},
        {"mixer.conv1d.weight", &L->conv_w, NULL, NULL}, {"mixer.conv1d.bias", &L->conv_b, NULL, NULL},
        {"mixer.A_log", &L->A, NULL, NULL}, {"mixer.D", &L->D, NULL, NULL},
        {"mixer.out_proj.weight", NULL, &L->out_proj, L->out_name},
    };
    const sq_fw_want v1[] = {
        {"mixer.x_proj.weight", NULL, &L->x_proj, L->x_name}, {"mixer.dt_proj.weight", &L->dt_proj, NULL, L->dt_name},
        {"mixer.dt_proj.bias", &L->dt_bias, NULL, NULL},
    };
    const sq_fw_want v2[] = {{"mixer.dt_bias", &L->dt_bias, NULL, NULL}, {"mixer.norm.weight", &L->gate_norm, NULL, NULL}};
    sq_status st = SQ_OK;
    SQ_TRY(sq_fw_load_wanted(&m->arena, set, layer_name, &at, common, sizeof common / sizeof common[0]));
    if (own->ssm_version == 1)
        SQ_TRY(sq_fw_load_wanted(&m->arena, set, layer_name, &at, v1, sizeof v1 / sizeof v1[0]));
    else
        SQ_TRY(sq_fw_load_wanted(&m->arena, set, layer_name, &at, v2, sizeof v2 / sizeof v2[0]));
    /* A = -exp(A_log), once */
    const size_t count = own->ssm_version == 1 ? (size_t)own->d_inner * own->ssm_state_size : (size_t)own->ssm_heads;
    for (size_t j = 0; j < count; j++)
        L->A[j] = -expf(L->A[j]);
cleanup:
    return st;
}

sq_status sq_mamba_build(const sq_model_config *cfg, const sq_fw_source *src, void **out)
{
    const sq_tensor_set *set = src->set;
    const sq_mamba_config *own = sq_mamba_config_c(cfg);
    const char *prefix = sq_mamba_prefix(set);
    mamba_state *m = NULL;
    sq_status st = SQ_OK;
    *out = NULL;
    if (prefix == NULL || own->d_inner <= 0 || own->ssm_state_size <= 0 || own->ssm_conv_kernel <= 0 ||
        (own->ssm_version == 1 && own->dt_rank <= 0) ||
        (own->ssm_version == 2 && (own->ssm_heads <= 0 || own->ssm_groups <= 0 || own->ssm_heads % own->ssm_groups ||
                                   own->d_inner % own->ssm_heads)) ||
        (own->ssm_version != 1 && own->ssm_version != 2))
        return sq_fail(SQ_ERR_INPUT, "mamba config is incomplete (version %d, d_inner %d, state %d, conv %d)",
                       own->ssm_version, own->d_inner, own->ssm_state_size, own->ssm_conv_kernel);
    SQ_TRY(sq_alloc(&m, 1, sizeof *m, "mamba model"));
    const int di = own->d_inner, N = own->ssm_state_size, GN = own->ssm_groups * N;
    m->conv_dim = own->ssm_version == 1 ? di : di + 2 * GN;
    m->proj_dim = own->ssm_version == 1 ? 2 * di : di + m->conv_dim + own->ssm_heads;
    m->dbc_dim = own->ssm_version == 1 ? own->dt_rank + 2 * N : 0;
    /* the head: lm_head.weight when it is a tensor of its own, else the tied embedding
     * (the hook then names the tensor this linear multiplies by) */
    char embed_name[NAME_LEN], norm_name[NAME_LEN];
    sq_mamba_name(embed_name, sizeof embed_name, prefix, -1, "embeddings.weight");
    sq_mamba_name(norm_name, sizeof norm_name, prefix, -1, "norm_f.weight");
    const sq_tensor *head = sq_tensor_set_find(set, "lm_head.weight"), *emb = sq_tensor_set_find(set, embed_name);
    const sq_family_ends ends = {
        .embedding = embed_name, .norm_weight = norm_name, .norm = SQ_NORM_RMS,
        .head = head && sq_tensor_set_resolve(set, head) != sq_tensor_set_resolve(set, emb) ? "lm_head.weight" : NULL};
    SQ_TRY(sq_fw_load_ends(&m->arena, src, &ends, &m->ends));
    SQ_TRY(sq_fw_alloc(&m->arena, (size_t)cfg->num_layers, sizeof *m->layers, "mamba layers", &m->layers));
    for (int i = 0; i < cfg->num_layers; i++)
        SQ_TRY(load_layer(m, cfg, src, prefix, i));
    const size_t state = own->ssm_version == 1 ? (size_t)di * N : (size_t)di * N; /* [di, N] or [H, P, N] */
    SQ_TRY(sq_fw_alloc(&m->arena, state, sizeof(float), "ssm state", &m->state));
    SQ_TRY(sq_fw_alloc(&m->arena, (size_t)N, sizeof(float), "ssm decay", &m->decay));
    *out = m;
    m = NULL;
cleanup:
    sq_mamba_free(m);
    return st;
}

static inline float silu(float v) { return v / (1.0f + expf(-v)); }

/* torch.nn.functional.softplus (beta 1, threshold 20). */
static inline float softplus(float v) { return v > 20.0f ? v : log1pf(expf(v)); }

/* out[t, c] = silu(b[c] + sum_k w[c, k] in[t - K + 1 + k, c]) for the C channels
 * starting at column `from` of in (row stride ld). */
static void causal_conv(const float *in, int ld, int from, int T, int C, const float *w, const float *b, int K,
                        float *out)
{
    for (int t = 0; t < T; t++) {
        float *o = out + (size_t)t * C;
        for (int c = 0; c < C; c++)
            o[c] = b[c];
        for (int k = 0; k < K; k++) {
            const int src = t - K + 1 + k;
            if (src < 0)
                continue;
            const float *row = in + (size_t)src * ld + from;
            for (int c = 0; c < C; c++)
                o[c] += w[(size_t)c * K + k] * row[c];
        }
        for (int c = 0; c < C; c++)
            o[c] = silu(o[c]);
    }
}

SQ_VEC_KERNEL static void exp_row(float *v, size_t n) { SQ_VF_MAP(v, n, sq_vf_exp); }

static void mixer1(mamba_state *m, const mamba_layer *L, const sq_model_config *cfg, int T,
                   const sq_forward_hooks *hooks)
{
    const sq_mamba_config *own = sq_mamba_config_c(cfg);
    const int d = cfg->hidden_size, di = own->d_inner, N = own->ssm_state_size, R = own->dt_rank;
    const int P2 = 2 * di, DBC = m->dbc_dim;
    sq_fw_linear(hooks, L->in_name, m->h, T, d, L->in_proj, P2, m->proj, P2, 0.0f);
    causal_conv(m->proj, P2, 0, T, di, L->conv_w, L->conv_b, own->ssm_conv_kernel, m->conv);
    sq_fw_linear(hooks, L->x_name, m->conv, T, di, L->x_proj, DBC, m->dbc, DBC, 0.0f);
    /* dt = softplus(dt_proj(dbc[:, :R]) + bias) */
    if (hooks && hooks->linear_input) {
        /* the hook sees the dt_proj input as a dense [T, R] matrix */
        float *dense = m->y;
        for (int t = 0; t < T; t++)
            memcpy(dense + (size_t)t * R, m->dbc + (size_t)t * DBC, (size_t)R * sizeof(float));
        hooks->linear_input(hooks->context, L->dt_name, dense, T, R);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, di, R, 1.0f, m->dbc, DBC, L->dt_proj, R, 0.0f, m->dt, di);
    for (int t = 0; t < T; t++)
        for (int c = 0; c < di; c++)
            m->dt[(size_t)t * di + c] = softplus(m->dt[(size_t)t * di + c] + L->dt_bias[c]);
    memset(m->state, 0, (size_t)di * N * sizeof(float));
    for (int t = 0; t < T; t++) {
        const float *B = m->dbc + (size_t)t * DBC + R, *C = B + N, *u = m->conv + (size_t)t * di,
                    *dt = m->dt + (size_t)t * di, *z = m->proj + (size_t)t * P2 + di;
        float *y = m->y + (size_t)t * di;
        for (int c = 0; c < di; c++) {
            float *s = m->state + (size_t)c * N;
            const float *A = L->A + (size_t)c * N;
            const float dtc = dt[c], dtu = dtc * u[c];
            for (int n = 0; n < N; n++)
                m->decay[n] = dtc * A[n];
            exp_row(m->decay, (size_t)N);
            float acc = 0.0f;
            for (int n = 0; n < N; n++) {
                s[n] = m->decay[n] * s[n] + dtu * B[n];
                acc += s[n] * C[n];
            }
            y[c] = (acc + L->D[c] * u[c]) * silu(z[c]);
        }
    }
    sq_fw_linear(hooks, L->out_name, m->y, T, di, L->out_proj, d, m->x, d, 1.0f);
}

static void mixer2(mamba_state *m, const mamba_layer *L, const sq_model_config *cfg, int T,
                   const sq_forward_hooks *hooks)
{
    const sq_mamba_config *own = sq_mamba_config_c(cfg);
    const int d = cfg->hidden_size, di = own->d_inner, N = own->ssm_state_size, H = own->ssm_heads,
              G = own->ssm_groups, P = di / H, per_group = H / G, CD = m->conv_dim, PD = m->proj_dim;
    sq_fw_linear(hooks, L->in_name, m->h, T, d, L->in_proj, PD, m->proj, PD, 0.0f);
    causal_conv(m->proj, PD, di, T, CD, L->conv_w, L->conv_b, own->ssm_conv_kernel, m->conv);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < H; j++)
            m->dt[(size_t)t * H + j] = softplus(m->proj[(size_t)t * PD + di + CD + j] + L->dt_bias[j]);
    memset(m->state, 0, (size_t)di * N * sizeof(float));
    for (int t = 0; t < T; t++) {
        const float *xs = m->conv + (size_t)t * CD, *Bs = xs + di, *Cs = Bs + G * N, *z = m->proj + (size_t)t * PD;
        float *y = m->y + (size_t)t * di;
        for (int j = 0; j < H; j++) {
            const int g = j / per_group;
            const float dt = m->dt[(size_t)t * H + j], decay = expf(dt * L->A[j]);
            const float *B = Bs + (size_t)g * N, *C = Cs + (size_t)g * N;
            for (int p = 0; p < P; p++) {
                float *s = m->state + ((size_t)j * P + p) * N;
                const float xv = xs[j * P + p], dtx = dt * xv;
                float acc = 0.0f;
                for (int n = 0; n < N; n++) {
                    s[n] = decay * s[n] + dtx * B[n];
                    acc += s[n] * C[n];
                }
                y[j * P + p] = (acc + L->D[j] * xv) * silu(z[j * P + p]);
            }
        }
        /* gated RMSNorm, per group of di / G features */
        const int gs = di / G;
        for (int g = 0; g < G; g++)
            sq_fw_rmsnorm(y + g * gs, 1, gs, L->gate_norm + g * gs, cfg->layer_norm_eps, y + g * gs);
    }
    sq_fw_linear(hooks, L->out_name, m->y, T, di, L->out_proj, d, m->x, d, 1.0f);
}

sq_status sq_mamba_forward(void *opaque, const sq_model_config *cfg, const int32_t *tokens, int T, float *logits,
                               const sq_forward_hooks *hooks)
{
    const sq_mamba_config *own = sq_mamba_config_c(cfg);
    mamba_state *m = opaque;
    const int d = cfg->hidden_size;
    sq_status st = reserve(m, cfg, T);
    if (st != SQ_OK)
        return st;
    sq_fw_embed(&m->ends, tokens, T, d, m->x);
    for (int i = 0; i < cfg->num_layers; i++) {
        const mamba_layer *L = &m->layers[i];
        sq_fw_rmsnorm(m->x, T, d, L->norm, cfg->layer_norm_eps, m->h);
        if (own->ssm_version == 1)
            mixer1(m, L, cfg, T, hooks);
        else
            mixer2(m, L, cfg, T, hooks);
    }
    return sq_fw_logits(&m->ends, cfg, hooks, m->x, T, m->h, logits);
}
