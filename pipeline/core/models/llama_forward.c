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

#define NAME_LEN 96

typedef struct {
    float *attn_norm, *ffn_norm;
    const sq_matrix *wq, *wk, *wv, *wo, *gate, *up, *down; /* linear weights, as their kernels run them */
    char wq_name[NAME_LEN], wk_name[NAME_LEN], wv_name[NAME_LEN], wo_name[NAME_LEN], gate_name[NAME_LEN],
        up_name[NAME_LEN], down_name[NAME_LEN];
} llama_layer;

typedef struct {
    sq_fw_arena arena;
    llama_layer *layers;
    float *embedding, *norm;
    const sq_matrix *head;
    char head_name[NAME_LEN];
    /* activations for up to `capacity` tokens (grown on demand, not in the arena) */
    int capacity;
    float *x, *h, *q, *k, *v, *att, *scores, *gate, *up, *cos, *sin;
} llama_state;

static void free_activations(llama_state *m)
{
    float **const bufs[] = {&m->x, &m->h, &m->q, &m->k, &m->v, &m->att, &m->scores, &m->gate, &m->up, &m->cos, &m->sin};
    sq_fw_free_buffers(bufs, sizeof bufs / sizeof bufs[0]);
    m->capacity = 0;
}

void sq_llama_free(void *opaque)
{
    llama_state *m = opaque;
    if (m == NULL)
        return;
    free_activations(m);
    sq_fw_arena_free(&m->arena);
    free(m);
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
    free_activations(m);
    SQ_TRY(sq_alloc(&m->x, n * d, sizeof(float), "llama activations"));
    SQ_TRY(sq_alloc(&m->h, n * d, sizeof(float), "llama activations"));
    SQ_TRY(sq_alloc(&m->q, n * qd, sizeof(float), "llama activations"));
    SQ_TRY(sq_alloc(&m->k, n * kvd, sizeof(float), "llama activations"));
    SQ_TRY(sq_alloc(&m->v, n * kvd, sizeof(float), "llama activations"));
    SQ_TRY(sq_alloc(&m->att, n * qd, sizeof(float), "llama activations"));
    SQ_TRY(sq_alloc(&m->scores, n * n, sizeof(float), "llama attention scores"));
    SQ_TRY(sq_alloc(&m->gate, n * f, sizeof(float), "llama activations"));
    SQ_TRY(sq_alloc(&m->up, n * f, sizeof(float), "llama activations"));
    SQ_TRY(sq_alloc(&m->cos, n * half, sizeof(float), "RoPE table"));
    SQ_TRY(sq_alloc(&m->sin, n * half, sizeof(float), "RoPE table"));
    for (size_t t = 0; t < n; t++)
        for (size_t i = 0; i < half; i++) {
            double freq = pow(own->rope_theta, -(double)(2 * i) / (double)own->head_dim);
            m->cos[t * half + i] = (float)cos((double)t * freq);
            m->sin[t * half + i] = (float)sin((double)t * freq);
        }
    m->capacity = T;
cleanup:
    if (st != SQ_OK)
        free_activations(m);
    return st;
}

static sq_status load_layer(llama_state *m, const sq_fw_source *set, const sq_llama_names *nm, int i)
{
    llama_layer *L = &m->layers[i];
    char name[NAME_LEN];
    sq_status st = SQ_OK;
#define LOAD(field, pattern, keep)                        \
    do {                                                  \
        sq_llama_layer_name(name, sizeof name, pattern, i);        \
        SQ_TRY(sq_fw_load(&m->arena, set, name, &field)); \
        if (keep)                                         \
            snprintf(keep, NAME_LEN, "%s", name);         \
    } while (0)
#define LOAD_LINEAR(field, pattern, keep)                        \
    do {                                                         \
        sq_llama_layer_name(name, sizeof name, pattern, i);      \
        SQ_TRY(sq_fw_load_linear(&m->arena, set, name, &field)); \
        snprintf(keep, NAME_LEN, "%s", name);                    \
    } while (0)
    LOAD(L->attn_norm, nm->attn_norm, (char *)NULL);
    LOAD_LINEAR(L->wq, nm->wq, L->wq_name);
    LOAD_LINEAR(L->wk, nm->wk, L->wk_name);
    LOAD_LINEAR(L->wv, nm->wv, L->wv_name);
    LOAD_LINEAR(L->wo, nm->wo, L->wo_name);
    LOAD(L->ffn_norm, nm->ffn_norm, (char *)NULL);
    LOAD_LINEAR(L->gate, nm->gate, L->gate_name);
    LOAD_LINEAR(L->up, nm->up, L->up_name);
    LOAD_LINEAR(L->down, nm->down, L->down_name);
#undef LOAD
#undef LOAD_LINEAR
cleanup:
    return st;
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
    SQ_TRY(sq_fw_load(&m->arena, src, nm->embed, &m->embedding));
    SQ_TRY(sq_fw_alloc(&m->arena, (size_t)cfg->num_layers, sizeof *m->layers, "llama layers", &m->layers));
    for (int i = 0; i < cfg->num_layers; i++)
        SQ_TRY(load_layer(m, src, nm, i));
    SQ_TRY(sq_fw_load(&m->arena, src, nm->norm, &m->norm));
    /* The head: its own tensor, else the embedding (tied: one storage, and the hook
     * names the embedding, the tensor that this linear multiplies by). */
    const sq_tensor *head = sq_tensor_set_find(set, nm->head), *emb = sq_tensor_set_find(set, nm->embed);
    if (head && sq_tensor_set_resolve(set, head) != sq_tensor_set_resolve(set, emb)) {
        SQ_TRY(sq_fw_load_linear(&m->arena, src, nm->head, &m->head));
        snprintf(m->head_name, sizeof m->head_name, "%s", nm->head);
    } else {
        SQ_TRY(sq_fw_linear_from_f32(&m->arena, src, nm->embed, m->embedding, (int)emb->shape[0], (int)emb->shape[1],
                                     &m->head));
        snprintf(m->head_name, sizeof m->head_name, "%s", nm->embed);
    }
    *out = m;
    m = NULL;
cleanup:
    sq_llama_free(m);
    return st;
}

/* out = x / sqrt(mean(x^2) + eps) * w per row (the sum in double). */
static void rmsnorm(const float *x, int rows, int d, const float *w, double eps, float *out)
{
    for (int r = 0; r < rows; r++) {
        const float *v = x + (size_t)r * d;
        float *o = out + (size_t)r * d;
        double ss = 0.0;
        for (int j = 0; j < d; j++)
            ss += (double)v[j] * v[j];
        const float inv = (float)(1.0 / sqrt(ss / d + eps));
        for (int j = 0; j < d; j++)
            o[j] = v[j] * inv * w[j];
    }
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
    rmsnorm(m->x, T, d, L->attn_norm, cfg->layer_norm_eps, m->h);
    sq_fw_linear(hooks, L->wq_name, m->h, T, d, L->wq, qd, m->q, qd, 0.0f);
    sq_fw_linear(hooks, L->wk_name, m->h, T, d, L->wk, kvd, m->k, kvd, 0.0f);
    sq_fw_linear(hooks, L->wv_name, m->h, T, d, L->wv, kvd, m->v, kvd, 0.0f);
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
    rmsnorm(m->x, T, d, L->ffn_norm, cfg->layer_norm_eps, m->h);
    sq_fw_linear(hooks, L->gate_name, m->h, T, d, L->gate, f, m->gate, f, 0.0f);
    sq_fw_linear(hooks, L->up_name, m->h, T, d, L->up, f, m->up, f, 0.0f);
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
    const int d = cfg->hidden_size, V = cfg->vocab_size;
    sq_status st = reserve(m, cfg, T);
    if (st != SQ_OK)
        return st;
    for (int t = 0; t < T; t++)
        memcpy(m->x + (size_t)t * d, m->embedding + (size_t)tokens[t] * d, (size_t)d * sizeof(float));
    for (int i = 0; i < cfg->num_layers; i++) {
        attention(m, &m->layers[i], cfg, T, hooks);
        mlp(m, &m->layers[i], cfg, T, hooks);
    }
    rmsnorm(m->x, T, d, m->norm, cfg->layer_norm_eps, m->h);
    sq_fw_linear(hooks, m->head_name, m->h, T, d, m->head, V, logits, V, 0.0f);
    for (size_t i = 0; i < (size_t)T * V; i++)
        if (!(fabsf(logits[i]) <= 3.4028235e38f))
            return sq_fail(SQ_ERR_RUN, "llama forward produced a non-finite logit (window of %d tokens): the weights "
                           "may be corrupt", T);
    return SQ_OK;
}
