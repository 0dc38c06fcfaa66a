/* gguf_tokenizer.c - HF tokenizer.json (byte-level BPE) to tokenizer.ggml.*.
 *
 * What llama.cpp's vocabulary loader reads (src/llama-vocab.cpp), as
 * convert_hf_to_gguf.py writes it for a GPT-2-style tokenizer
 * (_set_vocab_gpt2): model "gpt2", the token strings by id, their types
 * (1 normal, 3 control for special added tokens, 4 user-defined for other added
 * tokens, 5 unused for padding), merges "a b" in rank order, the pre-tokenizer
 * ("gpt-2": the GPT-2 split regex that a ByteLevel pre-tokenizer with
 * use_regex applies) and the BOS/EOS ids.  BPE has no per-token scores, so
 * tokenizer.ggml.scores is not written (as convert_hf_to_gguf.py does for gpt2).
 */
#include "modelio/gguf_tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5 };

static int special_id(json_t *added, const char *const *candidates)
{
    for (int c = 0; candidates[c]; c++) {
        size_t i;
        json_t *tok;
        json_array_foreach(added, i, tok) {
            const char *content = json_string_value(json_object_get(tok, "content"));
            if (content && strcmp(content, candidates[c]) == 0 && json_is_integer(json_object_get(tok, "id")))
                return (int)json_integer_value(json_object_get(tok, "id"));
        }
    }
    return -1;
}

sq_status sq_gguf_write_tokenizer(const char *path, int vocab_size, sq_gguf_file *out)
{
    sq_status st = SQ_OK;
    json_error_t error;
    json_t *root = NULL, *model, *vocab, *merges, *added, *value;
    char **tokens = NULL, **merge_text = NULL;
    int32_t *types = NULL;
    size_t n_merges = 0, i;
    const char *key;
    static const char *const bos_names[] = {"<s>", "<|begin_of_text|>", "<|endoftext|>", "<|bos|>", NULL};
    static const char *const eos_names[] = {"</s>", "<|end_of_text|>", "<|endoftext|>", "<|eos|>", NULL};

    if (path == NULL || path[0] == '\0' || strcmp(path, "bytes") == 0)
        return sq_gguf_set_string(out, "tokenizer.ggml.model", "no_vocab");
    if ((root = json_load_file(path, 0, &error)) == NULL)
        return sq_fail(SQ_ERR_INPUT, "%s:%d:%d: cannot read the tokenizer: %s", path, error.line, error.column,
                       error.text);
    model = json_object_get(root, "model");
    vocab = json_object_get(model, "vocab");
    merges = json_object_get(model, "merges");
    added = json_object_get(root, "added_tokens");
    if (!json_is_object(model) || !json_is_string(json_object_get(model, "type")) ||
        strcmp(json_string_value(json_object_get(model, "type")), "BPE") != 0 || !json_is_object(vocab) ||
        !json_is_array(merges))
        SQ_FAIL(SQ_ERR_INPUT, "%s: GGUF export writes HF byte-level BPE tokenizers (model.type \"BPE\" with vocab "
                "and merges); this tokenizer is not one", path);
    if (vocab_size <= 0 || (size_t)vocab_size < json_object_size(vocab))
        SQ_FAIL(SQ_ERR_INPUT, "%s: the tokenizer has %zu tokens but the model's embedding has %d rows", path,
                json_object_size(vocab), vocab_size);
    SQ_TRY(sq_alloc(&tokens, (size_t)vocab_size, sizeof *tokens, "tokens"));
    SQ_TRY(sq_alloc(&types, (size_t)vocab_size, sizeof *types, "token types"));
    json_object_foreach(vocab, key, value) {
        json_int_t id = json_integer_value(value);
        if (!json_is_integer(value) || id < 0 || id >= vocab_size)
            SQ_FAIL(SQ_ERR_INPUT, "%s: token '%s' has id %lld, outside the model's %d rows", path, key,
                    (long long)id, vocab_size);
        if (tokens[id])
            SQ_FAIL(SQ_ERR_INPUT, "%s: id %lld is given to two tokens", path, (long long)id);
        tokens[id] = strdup(key);
        types[id] = TOKEN_NORMAL;
    }
    json_array_foreach(added, i, value) {
        json_t *idv = json_object_get(value, "id");
        const char *content = json_string_value(json_object_get(value, "content"));
        json_int_t id = json_integer_value(idv);
        if (!json_is_integer(idv) || content == NULL || id < 0 || id >= vocab_size)
            SQ_FAIL(SQ_ERR_INPUT, "%s: added_tokens[%zu] has no valid id or content", path, i);
        if (tokens[id] && strcmp(tokens[id], content) != 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s: id %lld is '%s' in the vocabulary but '%s' in added_tokens", path,
                    (long long)id, tokens[id], content);
        if (!tokens[id])
            tokens[id] = strdup(content);
        types[id] = json_is_true(json_object_get(value, "special")) ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
    }
    for (int id = 0; id < vocab_size; id++)
        if (!tokens[id]) {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%d]", id);
            tokens[id] = strdup(pad);
            types[id] = TOKEN_UNUSED;
        }
    for (int id = 0; id < vocab_size; id++)
        if (!tokens[id])
            SQ_FAIL(SQ_ERR_RUN, "out of memory for the vocabulary");
    n_merges = json_array_size(merges);
    SQ_TRY(sq_alloc(&merge_text, n_merges ? n_merges : 1, sizeof *merge_text, "merges"));
    json_array_foreach(merges, i, value) {
        /* "a b" (tokenizers < 0.20) or ["a", "b"] */
        if (json_is_string(value)) {
            merge_text[i] = strdup(json_string_value(value));
        } else if (json_is_array(value) && json_array_size(value) == 2 &&
                   json_is_string(json_array_get(value, 0)) && json_is_string(json_array_get(value, 1))) {
            const char *a = json_string_value(json_array_get(value, 0)), *b = json_string_value(json_array_get(value, 1));
            if ((merge_text[i] = malloc(strlen(a) + strlen(b) + 2)) != NULL)
                sprintf(merge_text[i], "%s %s", a, b);
        } else {
            SQ_FAIL(SQ_ERR_INPUT, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", path, i);
        }
        if (merge_text[i] == NULL)
            SQ_FAIL(SQ_ERR_RUN, "out of memory for the merges");
    }
    SQ_TRY(sq_gguf_set_string(out, "tokenizer.ggml.model", "gpt2"));
    SQ_TRY(sq_gguf_set_string(out, "tokenizer.ggml.pre", "gpt-2"));
    SQ_TRY(sq_gguf_set_string_array(out, "tokenizer.ggml.tokens", (const char *const *)tokens, (uint64_t)vocab_size));
    SQ_TRY(sq_gguf_set_array(out, "tokenizer.ggml.token_type", SQ_GGUF_INT32, types, (uint64_t)vocab_size));
    SQ_TRY(sq_gguf_set_string_array(out, "tokenizer.ggml.merges", (const char *const *)merge_text, n_merges));
    {
        int bos = special_id(added, bos_names), eos = special_id(added, eos_names);
        if (bos >= 0)
            SQ_TRY(sq_gguf_set_u32(out, "tokenizer.ggml.bos_token_id", (uint32_t)bos));
        if (eos >= 0)
            SQ_TRY(sq_gguf_set_u32(out, "tokenizer.ggml.eos_token_id", (uint32_t)eos));
        SQ_TRY(sq_gguf_set_bool(out, "tokenizer.ggml.add_bos_token", false));
    }
cleanup:
    if (tokens)
        for (int id = 0; id < vocab_size; id++)
            free(tokens[id]);
    if (merge_text)
        for (i = 0; i < n_merges; i++)
            free(merge_text[i]);
    free(tokens);
    free(merge_text);
    free(types);
    json_decref(root);
    return st;
}
