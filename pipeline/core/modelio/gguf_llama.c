/* gguf_llama.c - the llama family as llama.cpp's "llama" GGUF architecture.
 *
 * Metadata as llama.cpp reads it (src/llama-model.cpp, llm_load_hparams; the
 * key names of gguf-py's constants.py), with the types it checks: u32 counts,
 * f32 RMSNorm epsilon and RoPE base:
 *   llama.context_length, llama.embedding_length, llama.block_count,
 *   llama.feed_forward_length, llama.attention.head_count,
 *   llama.attention.head_count_kv, llama.attention.layer_norm_rms_epsilon,
 *   llama.rope.freq_base, llama.rope.dimension_count, llama.vocab_size.
 * Tensor names (gguf-py tensor_mapping.py): token_embd, blk.N.attn_norm,
 * blk.N.attn_q/k/v, blk.N.attn_output, blk.N.ffn_norm, blk.N.ffn_gate/up/down,
 * output_norm, output (absent when the head is tied to the embedding: llama.cpp
 * then uses token_embd).
 *
 * RoPE layout: llama.cpp's "llama" rotates adjacent pairs (x[2i], x[2i+1]), as
 * Meta's weights are laid out.  HF's q_proj/k_proj rows are permuted for
 * rotate_half (pairs (x[i], x[i + hd/2])); convert_hf_to_gguf.py undoes that
 * with LlamaModel.permute (q with n_head, k with n_head_kv), and so does this
 * file (gguf_model.c permute_rows).  Meta-named tensors are written as they are.
 * Read back, a llama GGUF becomes Meta names with adjacent-pair RoPE, which
 * squeeze's llama family runs as it is.
 *
 * The tokenizer comes from the run's HF tokenizer.json (modelio/gguf_tokenizer.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/llama.h"
#include "modelio/gguf_arch.h"
#include "modelio/gguf_tokenizer.h"

/* squeeze name pattern (HF, Meta) -> GGUF name; '#' is the layer index.
 * permute: 'q' or 'k' for HF's q_proj/k_proj. */
static const struct {
    const char *hf, *meta, *gguf;
    char permute;
} names[] = {
    {"model.embed_tokens.weight", "tok_embeddings.weight", "token_embd.weight", 0},
    {"model.layers.#.input_layernorm.weight", "layers.#.attention_norm.weight", "blk.#.attn_norm.weight", 0},
    {"model.layers.#.self_attn.q_proj.weight", "layers.#.attention.wq.weight", "blk.#.attn_q.weight", 'q'},
    {"model.layers.#.self_attn.k_proj.weight", "layers.#.attention.wk.weight", "blk.#.attn_k.weight", 'k'},
    {"model.layers.#.self_attn.v_proj.weight", "layers.#.attention.wv.weight", "blk.#.attn_v.weight", 0},
    {"model.layers.#.self_attn.o_proj.weight", "layers.#.attention.wo.weight", "blk.#.attn_output.weight", 0},
    {"model.layers.#.post_attention_layernorm.weight", "layers.#.ffn_norm.weight", "blk.#.ffn_norm.weight", 0},
    {"model.layers.#.mlp.gate_proj.weight", "layers.#.feed_forward.w1.weight", "blk.#.ffn_gate.weight", 0},
    {"model.layers.#.mlp.up_proj.weight", "layers.#.feed_forward.w3.weight", "blk.#.ffn_up.weight", 0},
    {"model.layers.#.mlp.down_proj.weight", "layers.#.feed_forward.w2.weight", "blk.#.ffn_down.weight", 0},
    {"model.norm.weight", "norm.weight", "output_norm.weight", 0},
    {"lm_head.weight", "output.weight", "output.weight", 0},
};

/* The metadata keys llama.cpp reads for "llama", with their types and fields (written from a
 * config whose defaults are filled in: llama_written_config). */
static const sq_gguf_key keys[] = {
    SQ_GGUF_MODEL_KEY("context_length", SQ_GGUF_UINT32, max_seq_length, false),
    SQ_GGUF_MODEL_KEY("embedding_length", SQ_GGUF_UINT32, hidden_size, false),
    SQ_GGUF_MODEL_KEY("block_count", SQ_GGUF_UINT32, num_layers, false),
    SQ_GGUF_FAMILY_KEY("feed_forward_length", SQ_GGUF_UINT32, sq_llama_config, ffn_size, false),
    SQ_GGUF_FAMILY_KEY("attention.head_count", SQ_GGUF_UINT32, sq_llama_config, num_heads, false),
    SQ_GGUF_FAMILY_KEY("attention.head_count_kv", SQ_GGUF_UINT32, sq_llama_config, num_kv_heads, true),
    SQ_GGUF_MODEL_KEY("attention.layer_norm_rms_epsilon", SQ_GGUF_FLOAT32, layer_norm_eps, false),
    SQ_GGUF_FAMILY_KEY("rope.freq_base", SQ_GGUF_FLOAT32, sq_llama_config, rope_theta, true),
    SQ_GGUF_FAMILY_KEY("rope.dimension_count", SQ_GGUF_UINT32, sq_llama_config, head_dim, true),
    SQ_GGUF_MODEL_KEY("vocab_size", SQ_GGUF_UINT32, vocab_size, true),
};

static sq_status llama_write_metadata(const sq_model_config *cfg, const sq_qtensor *tensors, size_t count,
                                      const char *tokenizer_path, sq_gguf_file *out)
{
    (void)tensors; /* in the shared signature, unused here */
    (void)count; /* in the shared signature, unused here */
    sq_status st = SQ_OK;
    sq_model_config written = *cfg; /* the defaults squeeze's llama family runs with, made explicit */
    sq_llama_config *lc = sq_llama_config_of(&written);
    if (lc->head_dim <= 0 && lc->num_heads > 0)
        lc->head_dim = written.hidden_size / lc->num_heads;
    if (lc->num_heads <= 0 || lc->head_dim <= 0)
        return sq_fail(SQ_ERR_INPUT, "llama model without a head count: GGUF's llama.attention.head_count needs it "
                       "(model.num_heads in the run config)");
    if (written.max_seq_length <= 0)
        written.max_seq_length = 2048;
    if (lc->num_kv_heads <= 0)
        lc->num_kv_heads = lc->num_heads;
    if (lc->rope_theta <= 0)
        lc->rope_theta = 10000.0;
    SQ_TRY(sq_gguf_write_keys("llama", keys, sizeof keys / sizeof keys[0], &written, out));
    SQ_TRY(sq_gguf_write_tokenizer(tokenizer_path, cfg->vocab_size, out));
cleanup:
    return st;
}

static sq_status llama_target_name(const sq_model_config *cfg, const sq_qtensor *qt, char *name, size_t size,
                                   sq_gguf_placement *place)
{
    int layer = 0;
    const sq_llama_config *lc = sq_llama_config_c(cfg);
    name[0] = '\0';
    if (strstr(qt->name, "rotary_emb.inv_freq"))
        return SQ_OK; /* a buffer llama.cpp recomputes from llama.rope.freq_base */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bool hf = sq_gguf_name_match(names[i].hf, qt->name, &layer);
        if (!hf && !sq_gguf_name_match(names[i].meta, qt->name, &layer))
            continue;
        if (qt->alias_of) /* a tied head: llama.cpp uses token_embd when output is absent */
            return SQ_OK;
        sq_gguf_name_expand("", names[i].gguf, layer, name, size);
        if (hf && names[i].permute)
            place->permute_heads = names[i].permute == 'q'
                                 ? lc->num_heads
                                 : (lc->num_kv_heads > 0 ? lc->num_kv_heads : lc->num_heads);
        return SQ_OK;
    }
    return sq_fail(SQ_ERR_INPUT, "tensor '%s' has no place in llama.cpp's llama architecture", qt->name);
}

static sq_status llama_read_config(const sq_gguf_file *f, sq_model_config *cfg)
{
    sq_status st = SQ_OK;
    sq_llama_config *lc = sq_llama_config_of(cfg);
    lc->rope_theta = 10000.0; /* llama.cpp's defaults for the optional keys */
    lc->num_kv_heads = -1;
    lc->head_dim = -1;
    SQ_TRY(sq_gguf_read_keys(f, "llama", keys, sizeof keys / sizeof keys[0], cfg));
    if (lc->num_kv_heads < 0)
        lc->num_kv_heads = lc->num_heads;
    if (lc->num_heads <= 0 || cfg->hidden_size % lc->num_heads != 0)
        SQ_FAIL(SQ_ERR_INPUT, "llama.attention.head_count %d does not divide llama.embedding_length %d",
                lc->num_heads, cfg->hidden_size);
    if (lc->head_dim >= 0 && lc->head_dim != cfg->hidden_size / lc->num_heads)
        SQ_FAIL(SQ_ERR_INPUT, "llama.rope.dimension_count %d is not the head size %d: partial RoPE is not "
                "something squeeze's llama family runs", lc->head_dim, cfg->hidden_size / lc->num_heads);
    lc->head_dim = cfg->hidden_size / lc->num_heads;
    SQ_TRY(sq_gguf_vocab_from_embedding(f, "llama", cfg));
    lc->rope_style = SQ_ROPE_ADJACENT; /* GGUF holds the adjacent-pair layout */
cleanup:
    return st;
}

static sq_status llama_squeeze_name(const sq_gguf_file *f, const char *gguf_name, char *name, size_t size)
{
    (void)f; /* in the shared signature, unused here */
    int layer = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (sq_gguf_name_match(names[i].gguf, gguf_name, &layer)) {
            sq_gguf_name_expand("", names[i].meta, layer, name, size);
            return SQ_OK;
        }
    return sq_fail(SQ_ERR_INPUT, "GGUF tensor '%s' is not one squeeze's llama family knows (llama architecture: "
                   "token_embd, blk.N.attn_norm/attn_q/attn_k/attn_v/attn_output/ffn_norm/ffn_gate/ffn_up/ffn_down, "
                   "output_norm, output)", gguf_name);
}

/* No output.weight: the head is tied to the embedding (llama.cpp's reading). */
static sq_status llama_complete(sq_tensor_set *set)
{
    return sq_gguf_tie_head(set, "output.weight", "tok_embeddings.weight");
}

const sq_gguf_arch sq_gguf_arch_llama = {
    .family = "llama", .arch = "llama", .llama_cpp = true,
    .write_metadata = llama_write_metadata, .target_name = llama_target_name,
    .read_config = llama_read_config, .squeeze_name = llama_squeeze_name, .complete = llama_complete,
};
