/* transformer_forward.c - the Itera-Lite Transformer baseline forward pass, eval semantics.
 *
 * Mirrors docs/itera-lite.md 1.6 (models/transformer_baseline.py of
 * github.com/CisnerosCodes/Itera-Lite): pre-norm blocks of causal multi-head
 * attention and a GELU FFN, learned positions, tied head, no Linear biases.
 * The causal mask is applied by limiting each query row to keys 0..t, which
 * is what masking the scores to -inf above the diagonal does.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "models/forward_internal.h"
#include "models/itera_transformer.h"

#define NAME_MAX_LEN SQ_FW_NAME_LEN

typedef struct {
    float *ln1_w, *ln1_b;    /* [d] */
    const sq_matrix *qkv;    /* [3d, d]: q | k | v along the output dim */
    const sq_matrix *out_proj; /* [d, d] */
    float *ln2_w, *ln2_b;    /* [d] */
    const sq_matrix *w1;     /* [I, d] */
    const sq_matrix *w2;     /* [d, I] */
    char qkv_name[NAME_MAX_LEN], out_name[NAME_MAX_LEN], w1_name[NAME_MAX_LEN], w2_name[NAME_MAX_LEN];
} transformer_block;

typedef struct {
    sq_fw_arena arena;
    sq_fw_ends ends;         /* embeddings, final LayerNorm, head */
    transformer_block *blocks;
    /* activations, sized for S tokens */
    float *x;                /* [S, d] residual stream */
    float *h;                /* [S, d] normed input */
    float *qkv;              /* [S, 3d] */
    float *scores;           /* [S, S] one head's attention weights */
    float *att;              /* [S, d] heads concatenated */
    float *hid;              /* [S, I] */
} transformer_state;

void sq_transformer_free(void *opaque)
{
    transformer_state *m = opaque;
    if (m == NULL)
        return;
    sq_fw_arena_free(&m->arena);
    free(m);
}

static sq_status load_block(transformer_state *m, const sq_fw_source *set, int i)
{
    transformer_block *B = &m->blocks[i];
    sq_fw_arena *ar = &m->arena;
    sq_status st = SQ_OK;
    SQ_TRY(sq_fw_loadf(ar, set, &B->ln1_w, "blocks.%d.ln1.weight", i));
    SQ_TRY(sq_fw_loadf(ar, set, &B->ln1_b, "blocks.%d.ln1.bias", i));
    SQ_TRY(sq_fw_load_linearf(ar, set, &B->qkv, B->qkv_name, "blocks.%d.attention.qkv.weight", i));
    SQ_TRY(sq_fw_load_linearf(ar, set, &B->out_proj, B->out_name, "blocks.%d.attention.out_proj.weight", i));
    SQ_TRY(sq_fw_loadf(ar, set, &B->ln2_w, "blocks.%d.ln2.weight", i));
    SQ_TRY(sq_fw_loadf(ar, set, &B->ln2_b, "blocks.%d.ln2.bias", i));
    SQ_TRY(sq_fw_load_linearf(ar, set, &B->w1, B->w1_name, "blocks.%d.ffn.w1.weight", i));
    SQ_TRY(sq_fw_load_linearf(ar, set, &B->w2, B->w2_name, "blocks.%d.ffn.w2.weight", i));
cleanup:
    return st;
}

sq_status sq_transformer_build(const sq_model_config *cfg, const sq_fw_source *set, void **out)
{
    const sq_itera_transformer_config *own = sq_itera_transformer_config_c(cfg);
    const size_t S = (size_t)cfg->max_seq_length, d = (size_t)cfg->hidden_size, ffn_dim = (size_t)own->ffn_size;
    const size_t a = (size_t)own->num_heads * (size_t)sq_itera_transformer_head_dim(cfg); /* d unless pruned */
    transformer_state *m = NULL;
    sq_fw_arena *ar;
    sq_status st = SQ_OK;
    *out = NULL;
    if (own->num_heads <= 0 || (own->head_dim <= 0 && cfg->hidden_size % own->num_heads != 0) || own->ffn_size <= 0)
        return sq_fail(SQ_ERR_INPUT, "itera-transformer config is incomplete (num_heads %d for hidden %d, "
                       "ffn size %d): set model.num_heads", own->num_heads, cfg->hidden_size, own->ffn_size);
    SQ_TRY(sq_alloc(&m, 1, sizeof *m, "transformer model"));
    ar = &m->arena;
    SQ_TRY(sq_fw_load_ends(ar, set, &sq_family_itera_transformer.ends, &m->ends));
    SQ_TRY(sq_fw_alloc(ar, (size_t)cfg->num_layers, sizeof *m->blocks, "transformer blocks", &m->blocks));
    for (int i = 0; i < cfg->num_layers; i++)
        SQ_TRY(load_block(m, set, i));
    SQ_TRY(sq_fw_alloc(ar, S * d, sizeof(float), "activations", &m->x));
    SQ_TRY(sq_fw_alloc(ar, S * d, sizeof(float), "activations", &m->h));
    SQ_TRY(sq_fw_alloc(ar, S * 3 * a, sizeof(float), "activations", &m->qkv));
    SQ_TRY(sq_fw_alloc(ar, S * S, sizeof(float), "activations", &m->scores));
    SQ_TRY(sq_fw_alloc(ar, S * a, sizeof(float), "activations", &m->att));
    SQ_TRY(sq_fw_alloc(ar, S * ffn_dim, sizeof(float), "activations", &m->hid));
    *out = m;
    m = NULL;
cleanup:
    sq_transformer_free(m);
    return st;
}

/* x += out_proj(MHA(LN1(x))): causal softmax(q k^T / sqrt(hd)) v per head. */
static void attention(transformer_state *m, const transformer_block *B, const sq_model_config *cfg, int T,
                      const sq_forward_hooks *hooks)
{
    const sq_itera_transformer_config *own = sq_itera_transformer_config_c(cfg);
    /* a = H hd is d, unless heads were pruned (compress/prune.h) */
    const int d = cfg->hidden_size, H = own->num_heads, hd = sq_itera_transformer_head_dim(cfg), a = H * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    sq_fw_layernorm(m->x, T, d, B->ln1_w, B->ln1_b, cfg->layer_norm_eps, m->h);
    /* qkv = LN1(x) W_qkv^T, split q | k | v, each viewed as [H, T, hd] */
    sq_fw_linear(hooks, B->qkv_name, m->h, T, d, B->qkv, 3 * a, m->qkv, 3 * a, 0.0f);
    for (int head = 0; head < H; head++) {
        const float *q = m->qkv + head * hd, *k = m->qkv + a + head * hd, *v = m->qkv + 2 * a + head * hd;
        /* scores = q k^T * hd^-0.5 (the full square; only j <= t is read) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q, 3 * a, k, 3 * a, 0.0f,
                    m->scores, T);
        /* masked_fill(mask == 0, -inf) then softmax: row t keeps keys 0..t */
        for (int t = 0; t < T; t++) {
            float *row = m->scores + (size_t)t * T, max = row[0], sum = 0.0f;
            for (int j = 1; j <= t; j++)
                max = row[j] > max ? row[j] : max;
            for (int j = 0; j <= t; j++) {
                row[j] = expf(row[j] - max);
                sum += row[j];
            }
            for (int j = 0; j <= t; j++)
                row[j] /= sum;
            for (int j = t + 1; j < T; j++)
                row[j] = 0.0f;
        }
        /* att[:, head] = P v, heads concatenated along the feature dim */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, m->scores, T, v, 3 * a, 0.0f,
                    m->att + head * hd, a);
    }
    sq_fw_linear(hooks, B->out_name, m->att, T, a, B->out_proj, d, m->x, d, 1.0f);
}

/* x += W2 GELU_erf(W1 LN2(x)). */
static void ffn(transformer_state *m, const transformer_block *B, const sq_model_config *cfg, int T,
                const sq_forward_hooks *hooks)
{
    const sq_itera_transformer_config *own = sq_itera_transformer_config_c(cfg);
    const int d = cfg->hidden_size, ffn_dim = own->ffn_size;
    sq_fw_layernorm(m->x, T, d, B->ln2_w, B->ln2_b, cfg->layer_norm_eps, m->h);
    sq_fw_linear(hooks, B->w1_name, m->h, T, d, B->w1, ffn_dim, m->hid, ffn_dim, 0.0f);
    sq_fw_gelu(m->hid, (size_t)T * ffn_dim);
    sq_fw_linear(hooks, B->w2_name, m->hid, T, ffn_dim, B->w2, d, m->x, d, 1.0f);
}

sq_status sq_transformer_forward(void *opaque, const sq_model_config *cfg, const int32_t *tokens, int T,
                                     float *logits, const sq_forward_hooks *hooks)
{
    transformer_state *m = opaque;
    /* x = Emb[ids] + Pos[0..T-1] */
    sq_fw_embed(&m->ends, tokens, T, cfg->hidden_size, m->x);
    for (int i = 0; i < cfg->num_layers; i++) {
        attention(m, &m->blocks[i], cfg, T, hooks);
        ffn(m, &m->blocks[i], cfg, T, hooks);
    }
    /* final LN and the tied head */
    return sq_fw_logits(&m->ends, cfg, hooks, m->x, T, m->h, logits);
}
