/* llama2c.c - llama2.c's legacy .bin checkpoint (github.com/karpathy/llama2.c,
 * export.py legacy_export, read by run.c memory_map_weights).
 *
 * Layout: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; a negative vocab_size means the classifier
 * is not shared with the embedding), then fp32 arrays in a fixed order:
 * tok_embeddings [V, d]; per kind, all layers: attention_norm [d], wq [d, d],
 * wk [kv, d], wv [kv, d], wo [d, d], ffn_norm [d], w1 [f, d], w2 [d, f],
 * w3 [f, d] (kv = n_kv_heads * d / n_heads); norm [d]; the RoPE tables
 * freq_cis_real and freq_cis_imag [seq_len, hd / 2] (recomputed by squeeze, so
 * skipped and logged); output.weight [V, d] when not shared.
 *
 * The format has no magic number: a file is taken for llama2.c when its
 * header is plausible and the file size is exactly what the header implies,
 * so no other format can be mistaken for it and a truncated file is refused
 * before anything is read.  Tensors get the Meta names of llama2.c's model.py;
 * the header goes to the metadata entry "config" as JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "util/log.h"

#define HEADER_BYTES 28

typedef struct {
    int32_t dim, hidden, layers, heads, kv_heads, vocab, seq_len;
} header;

static int32_t le32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void parse_header(const unsigned char *raw, header *h)
{
    h->dim = le32(raw);
    h->hidden = le32(raw + 4);
    h->layers = le32(raw + 8);
    h->heads = le32(raw + 12);
    h->kv_heads = le32(raw + 16);
    h->vocab = le32(raw + 20);
    h->seq_len = le32(raw + 24);
}

/* The float count the header implies, or 0 when the header is not plausible
 * (every product is bounded, so the sum cannot overflow 64 bits). */
static uint64_t expected_floats(const header *h)
{
    const int64_t limit = 1 << 20;
    int64_t d = h->dim, f = h->hidden, L = h->layers, H = h->heads, KV = h->kv_heads, S = h->seq_len;
    int64_t V = h->vocab < 0 ? -(int64_t)h->vocab : h->vocab;
    if (d <= 0 || f <= 0 || L <= 0 || H <= 0 || KV <= 0 || V <= 0 || S <= 0 || d > limit || f > limit ||
        L > 4096 || H > d || KV > H || V > 16 * limit || S > 16 * limit || d % H != 0 || H % KV != 0 ||
        (d / H) % 2 != 0)
        return 0;
    int64_t kv = KV * (d / H);
    uint64_t n = (uint64_t)(V * d);
    n += (uint64_t)L * (uint64_t)(d + d * d + 2 * kv * d + d * d + d + 3 * f * d);
    n += (uint64_t)d + (uint64_t)(S * (d / H));
    if (h->vocab < 0)
        n += (uint64_t)(V * d);
    return n;
}

bool sq_llama2c_detect(const unsigned char *head, size_t n, uint64_t file_size)
{
    header h;
    if (n < HEADER_BYTES)
        return false;
    parse_header(head, &h);
    uint64_t floats = expected_floats(&h);
    return floats > 0 && (file_size == 0 || file_size == HEADER_BYTES + 4 * floats);
}

/* The next count floats of the mapped file (at *at) as a tensor, used where they lie: the
 * header is 28 bytes, so every float is aligned to 4.  The whole size was checked against
 * the header already; the mapping checks each range again. */
static sq_status add_tensor(const sq_file_map *map, uint64_t *at, sq_tensor_set *out, const char *name, int ndim,
                            int64_t d0, int64_t d1)
{
    int64_t shape[2] = {d0, d1};
    uint64_t bytes = (uint64_t)d0 * (uint64_t)(ndim == 2 ? d1 : 1) * sizeof(float);
    const void *data;
    sq_status st = sq_file_map_range(map, *at, bytes, name, &data);
    if (st != SQ_OK)
        return st;
    *at += bytes;
    return sq_tensor_set_add(out, name, SQ_DTYPE_F32, ndim, shape, (void *)(uintptr_t)data, NULL);
}

sq_status sq_llama2c_read(const char *path, sq_tensor_set *out)
{
    static const struct {
        const char *key;
        int ndim;
        char rows, cols; /* 'd' dim, 'k' kv dim, 'f' hidden, 0 none */
    } per_layer[] = {
        {"attention_norm.weight", 1, 'd', 0}, {"attention.wq.weight", 2, 'd', 'd'},
        {"attention.wk.weight", 2, 'k', 'd'}, {"attention.wv.weight", 2, 'k', 'd'},
        {"attention.wo.weight", 2, 'd', 'd'}, {"ffn_norm.weight", 1, 'd', 0},
        {"feed_forward.w1.weight", 2, 'f', 'd'}, {"feed_forward.w2.weight", 2, 'd', 'f'},
        {"feed_forward.w3.weight", 2, 'f', 'd'},
    };
    char name[128], config[512];
    header h;
    sq_status st = SQ_OK;
    sq_file_map *map = NULL;
    uint64_t at = HEADER_BYTES, size;

    sq_tensor_set_init(out);
    SQ_TRY(sq_file_map_open(path, &map));
    SQ_TRY(sq_tensor_set_use_map(out, map));
    size = sq_file_map_size(map);
    if (size < HEADER_BYTES)
        SQ_FAIL(SQ_ERR_INPUT, "llama2.c checkpoint '%s': cannot read its 28-byte header", path);
    parse_header(sq_file_map_bytes(map), &h);
    uint64_t floats = expected_floats(&h);
    if (floats == 0 || size != HEADER_BYTES + 4 * floats)
        SQ_FAIL(SQ_ERR_INPUT,
                "llama2.c checkpoint '%s': header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, "
                "vocab_size %d, seq_len %d) implies %llu bytes, the file has %lld",
                path, h.dim, h.hidden, h.layers, h.heads, h.kv_heads, h.vocab, h.seq_len,
                (unsigned long long)(HEADER_BYTES + 4 * floats), (long long)size);
    const int64_t d = h.dim, hd = h.dim / h.heads, kv = (int64_t)h.kv_heads * hd;
    const int64_t V = h.vocab < 0 ? -(int64_t)h.vocab : h.vocab;
    SQ_TRY(add_tensor(map, &at, out, "tok_embeddings.weight", 2, V, d));
    for (size_t k = 0; k < sizeof per_layer / sizeof per_layer[0]; k++)
        for (int i = 0; i < h.layers; i++) {
            int64_t dims[2];
            for (int j = 0; j < 2; j++) {
                char c = j == 0 ? per_layer[k].rows : per_layer[k].cols;
                dims[j] = c == 'd' ? d : c == 'k' ? kv : c == 'f' ? h.hidden : 0;
            }
            snprintf(name, sizeof name, "layers.%d.%s", i, per_layer[k].key);
            SQ_TRY(add_tensor(map, &at, out, name, per_layer[k].ndim, dims[0], dims[1]));
        }
    SQ_TRY(add_tensor(map, &at, out, "norm.weight", 1, d, 0));
    /* freq_cis_real / freq_cis_imag: squeeze computes RoPE itself (models/llama_forward.c). */
    at += 2 * (uint64_t)h.seq_len * (uint64_t)(hd / 2) * 4;
    if (h.vocab < 0)
        SQ_TRY(add_tensor(map, &at, out, "output.weight", 2, V, d));
    snprintf(config, sizeof config,
             "{\"dim\": %d, \"hidden_dim\": %d, \"n_layers\": %d, \"n_heads\": %d, \"n_kv_heads\": %d, "
             "\"vocab_size\": %lld, \"seq_len\": %d, \"shared_classifier\": %s}",
             h.dim, h.hidden, h.layers, h.heads, h.kv_heads, (long long)V, h.seq_len, h.vocab > 0 ? "true" : "false");
    SQ_TRY(sq_tensor_set_add_meta(out, "config", config));
    sq_info("%s: llama2.c checkpoint, %zu tensors used in place from the mapped file; the 2 RoPE tables (freq_cis_real, freq_cis_imag, "
            "[%d, %lld]) skipped: recomputed from the head size", path, out->count, h.seq_len, (long long)(hd / 2));
cleanup:
    sq_file_map_release(map);
    if (st != SQ_OK)
        sq_tensor_set_free(out);
    return st;
}
