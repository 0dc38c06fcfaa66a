/* llama_forward.c - the Llama family forward pass, eval semantics.
 *
 * x = Emb[ids]; per layer
 *   h = RMSNorm(x) ; q, k, v = h Wq^T, h Wk^T, h Wv^T ; RoPE(q, k)
 *   per head j: P = softmax_causal(q_j k_g^T / sqrt(hd)), g = j / (H / KV) ; att_j = P v_g
 *   x += att Wo^T
 *   h = RMSNorm(x) ; x += (silu(h Wgate^T) * h Wup^T) Wdown^T
 * logits = RMSNorm(x) Head^T (Head = the embedding when tied).
 * RMSNorm(x) = x / sqrt(mean(x^2) + eps) * w.  RoPE rotates pairs of each head
 * by t * theta^(-2i/hd): adjacent pairs (2i, 2i+1) for Meta weights, (i, i+hd/2)
 * for HF weights (models/llama_names.h).  The angles are computed in double.
 * Buffers grow to the longest window seen, so a large max_position_embeddings
 * costs nothing until it is used.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/forward_internal.h"
#include "models/llama.h"
#include "models/llama_names.h"

#define NAME_LEN SQ_FW_NAME_LEN

typedef struct {
    float *attn_norm, *ffn_norm;
    const sq_matrix *wq, *wk, *wv, *wo, *gate, *up, *down; /* linear weights, as their kernels run them */
    char wq_name[NAME_LEN], wk_name[NAME_LEN], wv_name[NAME_LEN], wo_name[NAME_LEN], gate_name[NAME_LEN],
        up_name[NAME_LEN], down_name[NAME_LEN];
} llama_layer;

typedef struct {
    sq_fw_arena arena;
    llama_layer *layers;
    sq_fw_ends ends;         /* embedding, final RMSNorm, head */
    /* activations for up to `capacity` tokens (grown on demand, not in the arena) */
    int capacity;
    float *x, *h, *q, *k, *v, *att, *scores, *gate, *up, *cos, *sin;
} llama_state;

void sq_llama_free(void *opaque)
{
    llama_state *m = opaque;
    if (m != NULL) {
        float **const activations[] = {&m->x, &m->h, &m->q, &m->k, &m->v, &m->att, &m->scores, &m->gate, &m->up, &m->cos, &m->sin};
        sq_fw_state_free(&m->arena, activations, sizeof activations / sizeof activations[0], m);
    }
}

/* Buffers and RoPE tables for T tokens. */
static sq_status reserve(llama_state *m, const sq_model_config *cfg, int T)
{
    const sq_llama_config *own = sq_llama_config_c(cfg);
    const size_t d = (size_t)cfg->hidden_size, qd = (size_t)own->num_heads * own->head_dim,
                 kvd = (size_t)own->num_kv_heads * own->head_dim, f = (size_t)own->ffn_size,
                 half = (size_t)own->head_dim / 2, n = (size_t)T;
    sq_status st = SQ_OK;
    if (T <= m->capacity)
        return SQ_OK;
    const sq_fw_sized buffers[] = {{&m->x, n * d},   {&m->h, n * d},      {&m->q, n * qd},     {&m->k, n * kvd},
                                   {&m->v, n * kvd}, {&m->att, n * qd},   {&m->scores, n * n}, {&m->gate, n * f},
                                   {&m->up, n * f},  {&m->cos, n * half}, {&m->sin, n * half}};
    m->capacity = 0;
    SQ_TRY(sq_fw_alloc_buffers(&m->arena, buffers, sizeof buffers / sizeof buffers[0], "llama activations"));
    for (size_t t = 0; t < n; t++)
        for (size_t i = 0; i < half; i++) {
            double freq = pow(own->rope_theta, -(double)(2 * i) / (double)own->head_dim);
            m->cos[t * half + i] = (float)cos((double)t * freq);
            m->sin[t * half + i] = (float)sin((double)t * freq);
        }
    m->capacity = T;
cleanup:
    return st;
}

static void layer_name(const void *layer, const char *pattern, char *name, size_t size)
{
    sq_llama_layer_name(name, size, pattern, *(const int *)layer);
}

static sq_status load_layer(llama_state *m, const sq_fw_source *set, const sq_llama_names *nm, int i)
{
    llama_layer *L = &m->layers[i];
    const sq_fw_want wants[] = {
        {nm->attn_norm, &L->attn_norm, NULL, NULL}, {nm->wq, NULL, &L->wq, L->wq_name},
        {nm->wk, NULL, &L->wk, L->wk_name},         {nm->wv, NULL, &L->wv, L->wv_name},
        {nm->wo, NULL, &L->wo, L->wo_name},         {nm->ffn_norm, &L->ffn_norm, NULL, NULL},
        {nm->gate, NULL, &L->gate, L->gate_name},   {nm->up, NULL, &L->up, L->up_name},
        {nm->down, NULL, &L->down, L->down_name},
    };
    return sq_fw_load_wanted(&m->arena, set, layer_name, &i, wants, sizeof wants / sizeof wants[0]);
}

sq_status sq_llama_build(const sq_model_config *cfg, const sq_fw_source *src, void **out)
{
    const sq_tensor_set *set = src->set;
    const sq_llama_config *own = sq_llama_config_c(cfg);
    const sq_llama_names *nm = sq_llama_names_of(set);
    llama_state *m = NULL;
    sq_status st = SQ_OK;
    *out = NULL;
    if (nm == NULL || own->num_heads <= 0 || own->num_kv_heads <= 0 || own->head_dim <= 0 || own->ffn_size <= 0 ||
        own->num_heads % own->num_kv_heads != 0 || own->head_dim % 2 != 0 || own->rope_theta <= 1.0)
        return sq_fail(SQ_ERR_INPUT, "llama config is incomplete (heads %d, kv heads %d, head dim %d, ffn %d, "
                       "rope_theta %g)", own->num_heads, own->num_kv_heads, own->head_dim, own->ffn_size,
                       own->rope_theta);
    SQ_TRY(sq_alloc(&m, 1, sizeof *m, "llama model"));
    /* The head: its own tensor, else the embedding (tied: one storage, and the hook
     * names the embedding, the tensor that this linear multiplies by). */
    const sq_tensor *head = sq_tensor_set_find(set, nm->head), *emb = sq_tensor_set_find(set, nm->embed);
    const sq_family_ends ends = {
        .embedding = nm->embed, .norm_weight = nm->norm, .norm = SQ_NORM_RMS,
        .head = head && sq_tensor_set_resolve(set, head) != sq_tensor_set_resolve(set, emb) ? nm->head : NULL};
    SQ_TRY(sq_fw_load_ends(&m->arena, src, &ends, &m->ends));
    SQ_TRY(sq_fw_alloc(&m->arena, (size_t)cfg->num_layers, sizeof *m->layers, "llama layers", &m->layers));
    for (int i = 0; i < cfg->num_layers; i++)
        SQ_TRY(load_layer(m, src, nm, i));
    *out = m;
    m = NULL;
cleanup:
    sq_llama_free(m);
    return st;
}

/* Rotates every head of x [T, heads * hd] in place. */
static void rope(const llama_state *m, const sq_model_config *cfg, float *x, int T, int heads)
{
    const sq_llama_config *own = sq_llama_config_c(cfg);
    const int hd = own->head_dim, half = hd / 2;
    for (int t = 0; t < T; t++) {
        const float *c = m->cos + (size_t)t * half, *s = m->sin + (size_t)t * half;
        for (int h = 0; h < heads; h++) {
            float *v = x + ((size_t)t * heads + h) * hd;
            for (int i = 0; i < half; i++) {
                /* Meta: (v[2i], v[2i+1]); HF: (v[i], v[i + hd/2]) */
                float *a = own->rope_style == SQ_ROPE_ADJACENT ? v + 2 * i : v + i;
                float *b = own->rope_style == SQ_ROPE_ADJACENT ? v + 2 * i + 1 : v + i + half;
                const float x0 = *a, x1 = *b;
                *a = x0 * c[i] - x1 * s[i];
                *b = x1 * c[i] + x0 * s[i];
            }
        }
    }
}

static void attention(llama_state *m, const llama_layer *L, const sq_model_config *cfg, int T,
                      const sq_forward_hooks *hooks)
{
    const sq_llama_config *own = sq_llama_config_c(cfg);
    const int d = cfg->hidden_size, H = own->num_heads, KV = own->num_kv_heads, hd = own->head_dim;
    const int qd = H * hd, kvd = KV * hd, group = H / KV;
    const float scale = (float)(1.0 / sqrt((double)hd));
    sq_fw_rmsnorm(m->x, T, d, L->attn_norm, cfg->layer_norm_eps, m->h);
    sq_fw_linear(hooks, L->wq_name, m->h, T, d, L->wq, qd, m->q, qd, 0.0f);
    sq_fw_linear_again(hooks, L->wk_name, m->h, T, d, L->wk, kvd, m->k, kvd, 0.0f);
    sq_fw_linear_again(hooks, L->wv_name, m->h, T, d, L->wv, kvd, m->v, kvd, 0.0f);
    rope(m, cfg, m->q, T, H);
    rope(m, cfg, m->k, T, KV);
    for (int j = 0; j < H; j++) {
        const int g = j / group; /* repeat_kv: query head j reads key/value head j / (H / KV) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, m->q + j * hd, qd, m->k + g * hd, kvd,
                    0.0f, m->scores, T);
        for (int t = 0; t < T; t++) {
            float *row = m->scores + (size_t)t * T, max = row[0], sum = 0.0f;
            for (int s = 1; s <= t; s++)
                max = row[s] > max ? row[s] : max;
            for (int s = 0; s <= t; s++) {
                row[s] = expf(row[s] - max);
                sum += row[s];
            }
            const float inv = 1.0f / sum;
            for (int s = 0; s <= t; s++)
                row[s] *= inv;
            for (int s = t + 1; s < T; s++)
                row[s] = 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, m->scores, T, m->v + g * hd, kvd,
                    0.0f, m->att + j * hd, qd);
    }
    sq_fw_linear(hooks, L->wo_name, m->att, T, qd, L->wo, d, m->x, d, 1.0f);
}

static void mlp(llama_state *m, const llama_layer *L, const sq_model_config *cfg, int T, const sq_forward_hooks *hooks)
{
    const sq_llama_config *own = sq_llama_config_c(cfg);
    const int d = cfg->hidden_size, f = own->ffn_size;
    const size_t n = (size_t)T * f;
    sq_fw_rmsnorm(m->x, T, d, L->ffn_norm, cfg->layer_norm_eps, m->h);
    sq_fw_linear(hooks, L->gate_name, m->h, T, d, L->gate, f, m->gate, f, 0.0f);
    sq_fw_linear_again(hooks, L->up_name, m->h, T, d, L->up, f, m->up, f, 0.0f);
    for (size_t i = 0; i < n; i++) {
        const float g = m->gate[i];
        m->gate[i] = g / (1.0f + expf(-g)) * m->up[i]; /* silu(gate) * up */
    }
    sq_fw_linear(hooks, L->down_name, m->gate, T, f, L->down, d, m->x, d, 1.0f);
}

sq_status sq_llama_forward(void *opaque, const sq_model_config *cfg, const int32_t *tokens, int T, float *logits,
                               const sq_forward_hooks *hooks)
{
    llama_state *m = opaque;
    const int d = cfg->hidden_size;
    sq_status st = reserve(m, cfg, T);
    if (st != SQ_OK)
        return st;
    sq_fw_embed(&m->ends, tokens, T, d, m->x);
    for (int i = 0; i < cfg->num_layers; i++) {
        attention(m, &m->layers[i], cfg, T, hooks);
        mlp(m, &m->layers[i], cfg, T, hooks);
    }
    return sq_fw_logits(&m->ends, cfg, hooks, m->x, T, m->h, logits);
}
