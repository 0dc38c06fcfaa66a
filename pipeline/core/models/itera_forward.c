/* itera_forward.c - the Itera-Lite SSM + MoE forward pass, eval semantics.
 *
 * Mirrors docs/itera-lite.md 1.4 step by step (IteraLiteModel.forward of
 * github.com/CisnerosCodes/Itera-Lite); each block below cites the step.
 * Every projection runs as one sgemm over the whole window (delta_proj and B
 * share one, since both multiply a); the selective scan is the one sequential
 * loop (one N-vector state per sequence, shared by all di channels: unlike
 * Mamba, 0.4), and C s_t for all t is one sgemm after it.  The elementwise
 * steps between the sgemms are fused kernels (conv + SiLU, bias + softplus +
 * mean, skip + gate) over vec_math.h's vectors.  Nothing is allocated per call.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "models/forward_internal.h"
#include "models/itera.h"

/* The SSM's elementwise steps (3 exp per channel and token) are most of the forward's time
 * outside the matrix products at the bundled sizes: 16 floats a vector (vec_math.h). */
#define SQ_VF_WIDE 1
#include "models/vec_math.h"

#define NAME_MAX_LEN SQ_FW_NAME_LEN

typedef struct {
    /* SSM block (1.2: SSMBlock, S4Kernel) */
    const sq_matrix *in_proj; /* [2di, d] */
    float *conv_w;           /* [K, di]: conv1d.weight [di, 1, K] transposed once, so the
                                tap loop runs over contiguous channels */
    float *conv_b;           /* [di] */
    float *A;                /* [N]  -exp(A_log), computed once, zeros after it up to a multiple of
                                SQ_VF_LANES (whole vectors in the scan) */
    float *C_t;              /* [N, di]: ssm.C [di, N] transposed once (a plain [T,N] x [N,di] sgemm) */
    float *D;                /* [di] */
    const sq_matrix *delta_bw; /* [di + N, di]: delta_proj.weight rows, then B's rows (one kernel call),
                                  or delta_proj.weight alone when either is stored quantized */
    const sq_matrix *b_proj;   /* [N, di]: B on its own in that case, else NULL */
    float *delta_b;          /* [di] */
    const sq_matrix *out_proj; /* [d, di] */
    float *ssm_norm_w, *ssm_norm_b; /* [d] */
    /* FFN or MoE sub-block */
    int is_moe;
    float *ffn_norm_w, *ffn_norm_b; /* moe.norm (dense) or moe.layer.norm (MoE), [d] */
    const sq_matrix *ffn_w1, *ffn_w2; /* dense: [f, d], [d, f] */
    const sq_matrix *gate;   /* MoE: [E, d] */
    const sq_matrix **expert_w1; /* MoE: E x [f, d] */
    const sq_matrix **expert_w2; /* MoE: E x [d, f] */
    /* hook names: the weight tensors' names */
    char in_proj_name[NAME_MAX_LEN], delta_name[NAME_MAX_LEN], out_proj_name[NAME_MAX_LEN];
    char w1_name[NAME_MAX_LEN], w2_name[NAME_MAX_LEN], gate_name[NAME_MAX_LEN];
    char (*expert_w1_name)[NAME_MAX_LEN], (*expert_w2_name)[NAME_MAX_LEN];
} itera_layer;

typedef struct {
    sq_fw_arena arena;
    sq_fw_ends ends;         /* embeddings, final LayerNorm, head */
    itera_layer *layers;     /* [L] */
    /* activations, sized for S tokens */
    float *x;                /* [S, d] residual stream */
    float *h;                /* [S, d] normed input of a sub-block */
    float *z;                /* [S, 2di] in_proj output: u | g */
    float *a;                /* [S, di] SiLU(conv(u)) */
    float *dpre;             /* [S, di + N] delta_proj(a) without bias | B a, then the scan's states */
    float *delta;            /* [S] */
    float *decay;            /* [N rounded up to SQ_VF_LANES]: exp(delta[t] A) of one step */
    float *y;                /* [S, di] */
    float *hid;              /* [S, f] FFN / expert hidden */
    float *gathered;         /* [S, d] tokens routed to one expert */
    float *expert_out;       /* [S, d] */
    float *router_logits;    /* [S, E] */
    int *top_idx;            /* [S, k] */
    float *top_gate;         /* [S, k] */
    int *routed_token;       /* [S] tokens of the current expert */
    float *routed_gate;      /* [S] their gate values */
} itera_state;

void sq_itera_free(void *opaque)
{
    itera_state *m = opaque;
    if (m == NULL)
        return;
    sq_fw_arena_free(&m->arena);
    free(m);
}

/* n rounded up to a multiple of SQ_VF_LANES. */
static size_t lanes_up(size_t n) { return (n + SQ_VF_LANES - 1) / SQ_VF_LANES * SQ_VF_LANES; }

static sq_status load_layer(itera_state *m, const sq_model_config *cfg, const sq_fw_source *set, int i)
{
    const sq_itera_config *own = sq_itera_config_c(cfg);
    itera_layer *L = &m->layers[i];
    sq_fw_arena *ar = &m->arena;
    const int E = cfg->num_experts, N = own->ssm_state_size, K = own->ssm_conv_kernel, di = own->d_inner;
    char name[NAME_MAX_LEN], b_name[NAME_MAX_LEN];
    float *a_log, *conv_raw, *C;
    sq_status st = SQ_OK;
    SQ_TRY(sq_fw_load_linearf(ar, set, &L->in_proj, L->in_proj_name, "layers.%d.ssm.in_proj.weight", i));
    SQ_TRY(sq_fw_loadf(ar, set, &conv_raw, "layers.%d.ssm.conv1d.weight", i));
    SQ_TRY(sq_fw_alloc_weights(ar, (size_t)K * di, sizeof(float), "conv weights", &L->conv_w));
    for (int c = 0; c < di; c++)
        for (int k = 0; k < K; k++)
            L->conv_w[(size_t)k * di + c] = conv_raw[(size_t)c * K + k];
    SQ_TRY(sq_fw_loadf(ar, set, &L->conv_b, "layers.%d.ssm.conv1d.bias", i));
    SQ_TRY(sq_fw_loadf(ar, set, &a_log, "layers.%d.ssm.ssm.A_log", i));
    SQ_TRY(sq_fw_loadf(ar, set, &C, "layers.%d.ssm.ssm.C", i));
    SQ_TRY(sq_fw_alloc_weights(ar, (size_t)N * di, sizeof(float), "C transposed", &L->C_t));
    for (int c = 0; c < di; c++)
        for (int n = 0; n < N; n++)
            L->C_t[(size_t)n * di + c] = C[(size_t)c * N + n];
    SQ_TRY(sq_fw_loadf(ar, set, &L->D, "layers.%d.ssm.ssm.D", i));
    snprintf(name, sizeof name, "layers.%d.ssm.ssm.delta_proj.weight", i);
    snprintf(b_name, sizeof b_name, "layers.%d.ssm.ssm.B", i);
    SQ_TRY(sq_fw_load_stacked(ar, set, name, b_name, &L->delta_bw, &L->b_proj));
    memcpy(L->delta_name, name, sizeof name);
    SQ_TRY(sq_fw_loadf(ar, set, &L->delta_b, "layers.%d.ssm.ssm.delta_proj.bias", i));
    SQ_TRY(sq_fw_load_linearf(ar, set, &L->out_proj, L->out_proj_name, "layers.%d.ssm.out_proj.weight", i));
    SQ_TRY(sq_fw_loadf(ar, set, &L->ssm_norm_w, "layers.%d.ssm.norm.weight", i));
    SQ_TRY(sq_fw_loadf(ar, set, &L->ssm_norm_b, "layers.%d.ssm.norm.bias", i));
    SQ_TRY(sq_fw_alloc_weights(ar, lanes_up((size_t)N), sizeof(float), "SSM decay rates", &L->A));
    for (int n = 0; n < N; n++) /* A = -torch.exp(self.A_log) */
        L->A[n] = -expf(a_log[n]);
    for (int j = 0; j < cfg->moe_layer_count; j++)
        L->is_moe = L->is_moe || cfg->moe_layers[j] == i;
    if (!L->is_moe) {
        SQ_TRY(sq_fw_loadf(ar, set, &L->ffn_norm_w, "layers.%d.moe.norm.weight", i));
        SQ_TRY(sq_fw_loadf(ar, set, &L->ffn_norm_b, "layers.%d.moe.norm.bias", i));
        SQ_TRY(sq_fw_load_linearf(ar, set, &L->ffn_w1, L->w1_name, "layers.%d.moe.ffn.w1.weight", i));
        SQ_TRY(sq_fw_load_linearf(ar, set, &L->ffn_w2, L->w2_name, "layers.%d.moe.ffn.w2.weight", i));
        goto cleanup;
    }
    if (E < cfg->top_k || E < 1)
        SQ_FAIL(SQ_ERR_INPUT, "broken checkpoint: layer %d is a MoE layer with %d experts, fewer than top-k = %d",
                i, E, cfg->top_k);
    SQ_TRY(sq_fw_loadf(ar, set, &L->ffn_norm_w, "layers.%d.moe.layer.norm.weight", i));
    SQ_TRY(sq_fw_loadf(ar, set, &L->ffn_norm_b, "layers.%d.moe.layer.norm.bias", i));
    SQ_TRY(sq_fw_load_linearf(ar, set, &L->gate, L->gate_name, "layers.%d.moe.layer.router.gate.weight", i));
    SQ_TRY(sq_fw_alloc(ar, (size_t)E, sizeof *L->expert_w1, "expert table", &L->expert_w1));
    SQ_TRY(sq_fw_alloc(ar, (size_t)E, sizeof *L->expert_w2, "expert table", &L->expert_w2));
    SQ_TRY(sq_fw_alloc(ar, (size_t)E, sizeof *L->expert_w1_name, "expert names", &L->expert_w1_name));
    SQ_TRY(sq_fw_alloc(ar, (size_t)E, sizeof *L->expert_w2_name, "expert names", &L->expert_w2_name));
    for (int e = 0; e < E; e++) {
        SQ_TRY(sq_fw_load_linearf(ar, set, &L->expert_w1[e], L->expert_w1_name[e],
                                  "layers.%d.moe.layer.experts.%d.w1.weight", i, e));
        SQ_TRY(sq_fw_load_linearf(ar, set, &L->expert_w2[e], L->expert_w2_name[e],
                                  "layers.%d.moe.layer.experts.%d.w2.weight", i, e));
    }
cleanup:
    return st;
}

sq_status sq_itera_build(const sq_model_config *cfg, const sq_fw_source *set, void **out)
{
    const sq_itera_config *own = sq_itera_config_c(cfg);
    const size_t S = (size_t)cfg->max_seq_length, d = (size_t)cfg->hidden_size, di = (size_t)own->d_inner;
    const size_t N = (size_t)own->ssm_state_size, f = (size_t)own->expert_size;
    const size_t E = (size_t)(cfg->num_experts > 0 ? cfg->num_experts : 1), k = (size_t)cfg->top_k;
    itera_state *m = NULL;
    sq_fw_arena *ar;
    sq_status st = SQ_OK;
    *out = NULL;
    if (own->d_inner <= 0 || own->ssm_state_size <= 0 || own->ssm_conv_kernel <= 0 || own->expert_size <= 0 ||
        cfg->top_k <= 0)
        return sq_fail(SQ_ERR_INPUT, "itera config is incomplete (d_inner %d, state %d, conv %d, expert size %d, "
                       "top-k %d)", own->d_inner, own->ssm_state_size, own->ssm_conv_kernel, own->expert_size,
                       cfg->top_k);
    SQ_TRY(sq_alloc(&m, 1, sizeof *m, "itera model"));
    ar = &m->arena;
    SQ_TRY(sq_fw_load_ends(ar, set, &sq_family_itera.ends, &m->ends));
    SQ_TRY(sq_fw_alloc(ar, (size_t)cfg->num_layers, sizeof *m->layers, "itera layers", &m->layers));
    for (int i = 0; i < cfg->num_layers; i++)
        SQ_TRY(load_layer(m, cfg, set, i));
    SQ_TRY(sq_fw_alloc(ar, S * d, sizeof(float), "activations", &m->x));
    SQ_TRY(sq_fw_alloc(ar, S * d, sizeof(float), "activations", &m->h));
    SQ_TRY(sq_fw_alloc(ar, S * 2 * di, sizeof(float), "activations", &m->z));
    SQ_TRY(sq_fw_alloc(ar, S * di, sizeof(float), "activations", &m->a));
    SQ_TRY(sq_fw_alloc(ar, S * (di + N), sizeof(float), "activations", &m->dpre));
    SQ_TRY(sq_fw_alloc(ar, S, sizeof(float), "activations", &m->delta));
    SQ_TRY(sq_fw_alloc(ar, lanes_up(N), sizeof(float), "activations", &m->decay));
    SQ_TRY(sq_fw_alloc(ar, S * di, sizeof(float), "activations", &m->y));
    SQ_TRY(sq_fw_alloc(ar, S * f, sizeof(float), "activations", &m->hid));
    SQ_TRY(sq_fw_alloc(ar, S * d, sizeof(float), "activations", &m->gathered));
    SQ_TRY(sq_fw_alloc(ar, S * d, sizeof(float), "activations", &m->expert_out));
    SQ_TRY(sq_fw_alloc(ar, S * E, sizeof(float), "activations", &m->router_logits));
    SQ_TRY(sq_fw_alloc(ar, S * k, sizeof(int), "activations", &m->top_idx));
    SQ_TRY(sq_fw_alloc(ar, S * k, sizeof(float), "activations", &m->top_gate));
    SQ_TRY(sq_fw_alloc(ar, S, sizeof(int), "activations", &m->routed_token));
    SQ_TRY(sq_fw_alloc(ar, S, sizeof(float), "activations", &m->routed_gate));
    *out = m;
    m = NULL;
cleanup:
    sq_itera_free(m);
    return st;
}

/* a = SiLU(u'), u'[t,c] = bias[c] + sum_k w[c,0,k] u[t-(K-1)+k, c] with u[<0] = 0:
 * nn.Conv1d(di, di, K, padding=K-1, groups=di) cut to the first T outputs (causal),
 * a vector of channels at a time, the SiLU applied while the sum is in registers.
 * conv_lanes is one vector, channels c .. c + n - 1: always inlined, so that the
 * full vectors of the row (n the constant SQ_VF_LANES) are plain loads and stores. */
SQ_VF_INLINE void conv_lanes(const itera_layer *L, const float *z, int t, int di, int K, int first, int c, size_t n,
                             float *a)
{
    sq_vf acc = sq_vf_load_n(L->conv_b + c, n);
    for (int k = first; k < K; k++) {
        const float *u = z + (size_t)(t - (K - 1) + k) * 2 * di + c, *w = L->conv_w + (size_t)k * di + c;
        acc = acc + sq_vf_load_n(w, n) * sq_vf_load_n(u, n);
    }
    sq_vf_store_n(a + c, sq_vf_silu(acc), n);
}

SQ_VEC_KERNEL static void conv_silu(const itera_layer *L, const float *z, int T, int di, int K, float *a_out)
{
    for (int t = 0; t < T; t++) {
        float *a = a_out + (size_t)t * di;
        const int first = t - (K - 1) < 0 ? K - 1 - t : 0; /* taps reading u[<0] contribute 0 */
        int c = 0;
        for (; c + SQ_VF_LANES <= di; c += SQ_VF_LANES)
            conv_lanes(L, z, t, di, K, first, c, SQ_VF_LANES, a);
        if (c < di)
            conv_lanes(L, z, t, di, K, first, c, (size_t)(di - c), a);
    }
}

/* delta[t] = mean_j softplus(p[t, j] + b[j]) over the di columns of row t of p
 * (S4Kernel: F.softplus(self.delta_proj(a)).mean(dim=-1), beta 1, threshold 20). */
SQ_VEC_KERNEL static void delta_mean(const float *p, int ldp, const float *bias, int T, int di, float *delta)
{
    for (int t = 0; t < T; t++) {
        const float *row = p + (size_t)t * ldp;
        sq_vf sum = sq_vf_splat(0.0f);
        int c = 0;
        for (; c + SQ_VF_LANES <= di; c += SQ_VF_LANES)
            sum = sum + sq_vf_softplus(sq_vf_load(row + c) + sq_vf_load(bias + c));
        if (c < di) { /* the zero lanes of a partial load would add softplus(0) = ln 2 */
            const size_t n = (size_t)(di - c);
            sum = sum + sq_vf_first(sq_vf_softplus(sq_vf_load_n(row + c, n) + sq_vf_load_n(bias + c, n)), n);
        }
        delta[t] = sq_vf_sum(sum) / (float)di;
    }
}

/* Channels c .. c + n - 1 of the block's output at one step (scan_output): C s (N terms)
 * summed in registers beside the skip and gate terms.  Always inlined, so that the full
 * vectors of the row (n the constant SQ_VF_LANES) are plain loads and stores. */
SQ_VF_INLINE void scan_lanes(const itera_layer *L, const float *s, int N, int di, int c, size_t n, const float *a,
                             const float *g, float *o)
{
    sq_vf y = sq_vf_splat(0.0f);
    for (int k = 0; k < N; k++)
        y = y + sq_vf_splat(s[k]) * sq_vf_load_n(L->C_t + (size_t)k * di + c, n);
    y = y + sq_vf_load_n(L->D + c, n) * sq_vf_load_n(a + c, n);
    sq_vf_store_n(o + c, y * sq_vf_silu(sq_vf_load_n(g + c, n)), n);
}

/* The selective scan and the block's output in one pass over the window (S4Kernel.forward,
 * then the SSMBlock's gate):
 *   s_t = exp(delta[t] A) * s_{t-1} + delta[t] (B a[t]),  s_{-1} = 0
 *   o[t] = (C s_t + D * a[t]) * SiLU(g[t]),  g = z[:, di:]
 * bx[t] (row stride ld) holds B a[t] and is overwritten with s_t.  Step t reads the state
 * of step t - 1 while it is in cache, and C s_t (N = ssm_state_size terms, a few) is
 * summed in registers beside the skip and gate terms: the states, y and o are never
 * written and read back as separate passes.  The decays exp(delta[t] A) are whole vectors
 * (A is padded with zeros to a multiple of SQ_VF_LANES) stored in decay; the state's N
 * multiply-adds (N = 8: half a vector) are a plain loop over them. */
SQ_VEC_KERNEL static void scan_output(const itera_layer *L, const float *delta, int T, int N, int di, float *bx,
                                      int ld, const float *a_in, const float *z, float *decay, float *o_out)
{
    for (int t = 0; t < T; t++) {
        const float dt = delta[t];
        float *s = bx + (size_t)t * ld;
        if (t == 0)
            for (int n = 0; n < N; n++)
                s[n] = dt * s[n];
        else {
            for (int n = 0; n < N; n += SQ_VF_LANES)
                sq_vf_store(decay + n, sq_vf_exp_neg(sq_vf_splat(dt) * sq_vf_load(L->A + n)));
            const float *prev = s - ld;
            for (int n = 0; n < N; n++) {
                const float v = dt * s[n];
                s[n] = decay[n] * prev[n] + v;
            }
        }
        const float *g = z + (size_t)t * 2 * di + di, *a = a_in + (size_t)t * di;
        float *o = o_out + (size_t)t * di;
        int c = 0;
        for (; c + SQ_VF_LANES <= di; c += SQ_VF_LANES)
            scan_lanes(L, s, N, di, c, SQ_VF_LANES, a, g, o);
        if (c < di)
            scan_lanes(L, s, N, di, c, (size_t)(di - c), a, g, o);
    }
}

/* 1.4 step 2: x = x + out_proj(S4Kernel(SiLU(conv(u))) * SiLU(g)), u | g = in_proj(LN(x)). */
static void ssm_block(itera_state *m, const itera_layer *L, const sq_model_config *cfg, int T,
                      const sq_forward_hooks *hooks)
{
    const sq_itera_config *own = sq_itera_config_c(cfg);
    const int d = cfg->hidden_size, di = own->d_inner, N = own->ssm_state_size, K = own->ssm_conv_kernel;
    const int ldp = di + N; /* a row of dpre: delta_proj(a) without bias | B a */
    /* h = LN(x; ssm.norm, eps 1e-5) */
    sq_fw_layernorm(m->x, T, d, L->ssm_norm_w, L->ssm_norm_b, 1e-5, m->h);
    /* z = h W_in^T; u = z[:, :di], g = z[:, di:]  (chunk(2)) */
    sq_fw_linear(hooks, L->in_proj_name, m->h, T, d, L->in_proj, 2 * di, m->z, 2 * di, 0.0f);
    conv_silu(L, m->z, T, di, K, m->a);
    /* one sgemm for both products of a: [delta_proj.weight; B] is [di + N, di], so
     * dpre[t] = (W_delta a[t] | B a[t]); the bias is added in delta_mean */
    sq_fw_linear(hooks, L->delta_name, m->a, T, di, L->delta_bw, L->b_proj ? di : ldp, m->dpre, ldp, 0.0f);
    if (L->b_proj) /* B stored quantized: its own kernel, into the columns after delta's, on the same a */
        sq_matrix_matmul_again(L->b_proj, m->a, T, m->dpre + di, ldp, false, L->b_proj->work);
    delta_mean(m->dpre, ldp, L->delta_b, T, di, m->delta);
    scan_output(L, m->delta, T, N, di, m->dpre + di, ldp, m->a, m->z, m->decay, m->y);
    /* x = r + o W_out^T (no bias) */
    sq_fw_linear(hooks, L->out_proj_name, m->y, T, di, L->out_proj, d, m->x, d, 1.0f);
}

/* 1.4 step 3, dense: x = x + W2 GELU(W1 LN(x; moe.norm)). */
static void dense_ffn(itera_state *m, const itera_layer *L, const sq_model_config *cfg, int T,
                      const sq_forward_hooks *hooks)
{
    const sq_itera_config *own = sq_itera_config_c(cfg);
    const int d = cfg->hidden_size, f = own->expert_size;
    sq_fw_layernorm(m->x, T, d, L->ffn_norm_w, L->ffn_norm_b, 1e-5, m->h);
    sq_fw_linear(hooks, L->w1_name, m->h, T, d, L->ffn_w1, f, m->hid, f, 0.0f);
    sq_fw_gelu(m->hid, (size_t)T * f);
    sq_fw_linear(hooks, L->w2_name, m->hid, T, f, L->ffn_w2, d, m->x, d, 1.0f);
}

/* 1.4 step 3, MoE: hn = LN(x); top-k of the router logits; softmax over the k
 * selected; x = x + sum_j g_j W2_{idx_j} GELU(W1_{idx_j} hn). */
static void moe_ffn(itera_state *m, const itera_layer *L, const sq_model_config *cfg, int layer, int T,
                    const sq_forward_hooks *hooks)
{
    const sq_itera_config *own = sq_itera_config_c(cfg);
    const int d = cfg->hidden_size, f = own->expert_size, E = cfg->num_experts, k = cfg->top_k;
    sq_fw_layernorm(m->x, T, d, L->ffn_norm_w, L->ffn_norm_b, 1e-5, m->h);
    /* logits = W_gate hn */
    sq_fw_linear(hooks, L->gate_name, m->h, T, d, L->gate, E, m->router_logits, E, 0.0f);
    /* (v, idx) = topk(logits, k), sorted descending; ties keep the lower index */
    for (int t = 0; t < T; t++) {
        const float *logit = m->router_logits + (size_t)t * E;
        int *idx = m->top_idx + (size_t)t * k;
        float *gate = m->top_gate + (size_t)t * k;
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int e = 0; e < E; e++) {
                bool taken = false;
                for (int p = 0; p < j; p++)
                    taken = taken || idx[p] == e;
                if (!taken && (best < 0 || logit[e] > logit[best]))
                    best = e;
            }
            idx[j] = best;
        }
        /* g = softmax(v) over the k selected logits only (v[0] is the largest) */
        float sum = 0.0f;
        for (int j = 0; j < k; j++) {
            gate[j] = expf(logit[idx[j]] - logit[idx[0]]);
            sum += gate[j];
        }
        for (int j = 0; j < k; j++)
            gate[j] /= sum;
    }
    if (hooks && hooks->router)
        hooks->router(hooks->context, layer, m->top_idx, T, k);
    /* x += sum over experts e = 0..E-1 of gate_e * expert_e(hn), on the routed tokens only
     * (no renormalisation, no capacity limit); x is not read by the experts (they take hn),
     * so each expert's share is added to it directly */
    for (int e = 0; e < E; e++) {
        int rows = 0;
        for (int t = 0; t < T; t++)
            for (int j = 0; j < k; j++)
                if (m->top_idx[(size_t)t * k + j] == e) {
                    m->routed_token[rows] = t;
                    m->routed_gate[rows] = m->top_gate[(size_t)t * k + j];
                    memcpy(m->gathered + (size_t)rows * d, m->h + (size_t)t * d, (size_t)d * sizeof(float));
                    rows++;
                }
        if (rows == 0)
            continue;
        sq_fw_linear(hooks, L->expert_w1_name[e], m->gathered, rows, d, L->expert_w1[e], f, m->hid, f, 0.0f);
        sq_fw_gelu(m->hid, (size_t)rows * f);
        sq_fw_linear(hooks, L->expert_w2_name[e], m->hid, rows, f, L->expert_w2[e], d, m->expert_out, d, 0.0f);
        for (int r = 0; r < rows; r++) {
            float *o = m->x + (size_t)m->routed_token[r] * d;
            const float *y = m->expert_out + (size_t)r * d;
            const sq_vf g = sq_vf_splat(m->routed_gate[r]);
            for (int c = 0; c < d; c += SQ_VF_LANES) { /* the gate multiplies after w2 */
                const size_t n = (size_t)(d - c);
                sq_vf_store_n(o + c, sq_vf_load_n(o + c, n) + sq_vf_load_n(y + c, n) * g, n);
            }
        }
    }
}

sq_status sq_itera_forward(void *opaque, const sq_model_config *cfg, const int32_t *tokens, int T,
                               float *logits, const sq_forward_hooks *hooks)
{
    itera_state *m = opaque;
    /* 1.4 step 1: x[t] = Emb[id_t] + Pos[t], positions 0..T-1 */
    sq_fw_embed(&m->ends, tokens, T, cfg->hidden_size, m->x);
    /* steps 2-3 per layer */
    for (int i = 0; i < cfg->num_layers; i++) {
        const itera_layer *L = &m->layers[i];
        ssm_block(m, L, cfg, T, hooks);
        if (L->is_moe)
            moe_ffn(m, L, cfg, i, T, hooks);
        else
            dense_ffn(m, L, cfg, T, hooks);
    }
    /* step 4: logits = LN(x; norm, eps) Emb^T (tied head) */
    return sq_fw_logits(&m->ends, cfg, hooks, m->x, T, m->h, logits);
}
