/* llama2c_tokenizer.c - llama2.c's tokenizer.bin (see llama2c_tokenizer.h). */
#include "tokenize/llama2c_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/bpe_merge.h"
#include "tokenize/tokenizer_kind.h"
#include "util/log.h"

static int32_t read_i32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static float read_f32(const unsigned char *p)
{
    uint32_t bits = (uint32_t)read_i32(p);
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

/* Walks the records; returns the token count, or -1 (with *bad_offset) if the
 * bytes are not a tokenizer.bin. */
static long walk(const unsigned char *bytes, size_t size, size_t *bad_offset, const char **why)
{
    long count = 0;
    *why = NULL;
    if (size < 4) {
        *bad_offset = 0;
        *why = "shorter than its 4-byte header";
        return -1;
    }
    int32_t max_length = read_i32(bytes);
    if (max_length <= 0 || max_length > 65536) {
        *bad_offset = 0;
        *why = "max_token_length is not in 1..65536";
        return -1;
    }
    size_t pos = 4;
    while (pos < size) {
        if (size - pos < 8) {
            *bad_offset = pos;
            *why = "a token record is cut short";
            return -1;
        }
        int32_t len = read_i32(bytes + pos + 4);
        if (len < 0 || len > max_length || (size_t)len > size - pos - 8) {
            *bad_offset = pos;
            *why = len < 0 || len > max_length ? "a token length is outside 0..max_token_length"
                                               : "a token's bytes run past the end of the file";
            return -1;
        }
        if (memchr(bytes + pos + 8, 0, (size_t)len)) {
            *bad_offset = pos;
            *why = "a token contains a NUL byte (llama2.c's strings cannot)";
            return -1;
        }
        pos += 8 + (size_t)len;
        count++;
        if (count > INT32_MAX / 2) {
            *bad_offset = pos;
            *why = "too many tokens";
            return -1;
        }
    }
    return count;
}

int sq_llama2c_tokenizer_recognise(const unsigned char *bytes, size_t size)
{
    size_t bad;
    const char *why;
    return walk(bytes, size, &bad, &why) > SQ_LLAMA2C_BYTE_OFFSET + 255;
}

sq_status sq_llama2c_tokenizer_load(const char *path, const unsigned char *bytes, size_t size,
                                    sq_llama2c_tokenizer **out)
{
    sq_status st = SQ_OK;
    sq_llama2c_tokenizer *tok = NULL;
    size_t bad;
    const char *why;
    *out = NULL;
    long count = walk(bytes, size, &bad, &why);
    if (count < 0)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s' is neither JSON (tokenizer.json, Itera-Lite) nor a llama2.c "
                                     "tokenizer.bin: as a tokenizer.bin (int32 max_token_length, then float score, "
                                     "int32 length, bytes per token, to the end of the file), %s at byte %zu", path,
                       why, bad);
    if (count < SQ_LLAMA2C_BYTE_OFFSET + 256)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s' has %ld tokens; a llama2.c tokenizer.bin has at least 259 "
                                     "(<unk>, <s>, </s> and the 256 byte tokens)", path, count);
    SQ_TRY(sq_alloc(&tok, 1, sizeof(*tok), "tokenizer"));
    memset(tok, 0, sizeof(*tok));
    tok->path = strdup(path);
    tok->count = (int32_t)count;
    tok->max_token_length = read_i32(bytes);
    SQ_TRY(sq_alloc(&tok->text, (size_t)count, sizeof(char *), "tokenizer.bin tokens"));
    memset(tok->text, 0, (size_t)count * sizeof(char *));
    SQ_TRY(sq_alloc(&tok->length, (size_t)count, sizeof(uint32_t), "tokenizer.bin tokens"));
    SQ_TRY(sq_alloc(&tok->score, (size_t)count, sizeof(float), "tokenizer.bin scores"));
    SQ_TRY(sq_vocab_table_init(&tok->lookup, (size_t)count));
    size_t pos = 4;
    for (int32_t i = 0; i < tok->count; i++) {
        tok->score[i] = read_f32(bytes + pos);
        uint32_t len = (uint32_t)read_i32(bytes + pos + 4);
        SQ_TRY(sq_alloc(&tok->text[i], len + 1, 1, "tokenizer.bin token"));
        memcpy(tok->text[i], bytes + pos + 8, len);
        tok->text[i][len] = '\0';
        tok->length[i] = len;
        SQ_TRY(sq_vocab_table_put(&tok->lookup, tok->text[i], len, i));
        pos += 8 + len;
    }
    tok->space_id = sq_vocab_table_get(&tok->lookup, " ", 1, -1);
    sq_debug("tokenizer %s: llama2.c tokenizer.bin, %d tokens, max length %d", path, tok->count,
             tok->max_token_length);
    *out = tok;
    tok = NULL;
cleanup:
    sq_llama2c_tokenizer_free(tok);
    return st;
}

void sq_llama2c_tokenizer_free(sq_llama2c_tokenizer *tok)
{
    if (!tok)
        return;
    if (tok->text)
        for (int32_t i = 0; i < tok->count; i++)
            free(tok->text[i]);
    free(tok->text);
    free(tok->length);
    free(tok->score);
    sq_vocab_table_free(&tok->lookup);
    free(tok->path);
    free(tok);
}

typedef struct {
    const sq_llama2c_tokenizer *tok;
    char *joined; /* room for two tokens */
} pair_ctx;

/* run.c encode's merge test: the concatenation is a token with score > -1e10;
 * higher scores first, so the priority is the negated score. */
static int merge_score(const void *ctx, int32_t left, int32_t right, int32_t *merged, double *priority)
{
    const pair_ctx *c = ctx;
    const sq_llama2c_tokenizer *tok = c->tok;
    size_t a = tok->length[left], b = tok->length[right];
    memcpy(c->joined, tok->text[left], a);
    memcpy(c->joined + a, tok->text[right], b);
    int32_t id = sq_vocab_table_get(&tok->lookup, c->joined, a + b, -1);
    if (id < 0 || !(tok->score[id] > -1e10f))
        return 0;
    *merged = id;
    *priority = -(double)tok->score[id];
    return 1;
}

/* The kind's encode (sq_tokenizer_kind_ops): state is the sq_llama2c_tokenizer. */
static sq_status l2c_encode(const void *state, const char *text, size_t length, sq_token_buffer *out)
{
    const sq_llama2c_tokenizer *tok = state;
    sq_status st = SQ_OK;
    sq_bpe_symbol *symbols = NULL;
    sq_bpe_workspace ws = {0};
    pair_ctx ctx = {tok, NULL};
    size_t n = 0;
    const unsigned char *s = (const unsigned char *)text;
    /* run.c reads a C string: the text ends at its first NUL. */
    const unsigned char *nul = memchr(s, 0, length);
    if (nul)
        length = (size_t)(nul - s);
    SQ_TRY(sq_token_buffer_push(out, SQ_LLAMA2C_BOS));
    if (length == 0)
        goto cleanup;
    if (tok->space_id < 0)
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s' has no \" \" token, which llama2.c puts before the text", tok->path);
    /* One symbol per byte at most, plus the dummy prefix. */
    SQ_TRY(sq_alloc(&symbols, length + 1, sizeof(*symbols), "tokenizer.bin symbols"));
    SQ_TRY(sq_alloc(&ctx.joined, 2 * (size_t)tok->max_token_length + 1, 1, "merge buffer"));
    symbols[n++] = (sq_bpe_symbol){tok->space_id, 0, 1};
    /* Mirrors run.c encode's code point loop, including its handling of stray
     * continuation bytes (at most 3 follow a lead byte). */
    size_t start = 0, str_len = 0;
    for (size_t c = 0; c < length; c++) {
        if ((s[c] & 0xC0) != 0x80) {
            str_len = 0;
            start = c;
        }
        if (str_len == 0)
            start = c;
        str_len++;
        int next_continues = c + 1 < length && (s[c + 1] & 0xC0) == 0x80;
        if (next_continues && str_len < 4)
            continue;
        int32_t id = sq_vocab_table_get(&tok->lookup, text + start, str_len, -1);
        if (id >= 0) {
            symbols[n++] = (sq_bpe_symbol){id, (uint32_t)start, (uint32_t)str_len};
        } else {
            for (size_t i = 0; i < str_len; i++) {
                int32_t byte_id = SQ_LLAMA2C_BYTE_OFFSET + s[start + i];
                symbols[n++] = (sq_bpe_symbol){byte_id, (uint32_t)(start + i), 1};
            }
        }
        str_len = 0;
    }
    SQ_TRY(sq_bpe_merge(&ws, symbols, &n, merge_score, &ctx));
    for (size_t i = 0; i < n; i++)
        SQ_TRY(sq_token_buffer_push(out, symbols[i].id));
cleanup:
    sq_bpe_workspace_free(&ws);
    free(symbols);
    free(ctx.joined);
    return st;
}

/* run.c decode, token by token: a piece after BOS loses its leading space,
 * and "<0xNN>" pieces are the byte NN. */
static sq_status l2c_decode(const void *state, const int32_t *ids, size_t count, sq_byte_buffer *out)
{
    const sq_llama2c_tokenizer *tok = state;
    sq_status st = SQ_OK;
    int32_t prev = -1;
    SQ_TRY(sq_byte_buffer_append(out, "", 0));
    for (size_t i = 0; i < count; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= tok->count)
            SQ_FAIL(SQ_ERR_INPUT, "token %zu: id %d is not in tokenizer '%s' (ids 0..%d)", i, id, tok->path,
                    tok->count - 1);
        const char *piece = tok->text[id];
        size_t len = tok->length[id];
        if (prev == SQ_LLAMA2C_BOS && len > 0 && piece[0] == ' ') {
            piece++;
            len--;
        }
        unsigned value;
        char tail;
        if (len == 6 && sscanf(piece, "<0x%2X%c", &value, &tail) == 2 && tail == '>') {
            unsigned char b = (unsigned char)value;
            SQ_TRY(sq_byte_buffer_append(out, &b, 1));
        } else {
            SQ_TRY(sq_byte_buffer_append(out, piece, len));
        }
        prev = id;
    }
cleanup:
    return st;
}

/* ------------------------------------------------------------------ registry row */

static int l2c_recognise(const sq_tokenizer_source *src)
{
    return src->bytes && sq_llama2c_tokenizer_recognise(src->bytes, src->size);
}

static sq_status l2c_load(const sq_tokenizer_source *src, void **state)
{
    return sq_llama2c_tokenizer_load(src->spec, src->bytes, src->size, (sq_llama2c_tokenizer **)state);
}

static void l2c_free(void *state)
{
    sq_llama2c_tokenizer_free(state);
}

static void l2c_info(const void *state, sq_tokenizer_info *info)
{
    const sq_llama2c_tokenizer *tok = state;
    info->kind = "llama2c";
    info->vocab_size = info->entries = tok->count;
    info->exact_rows = 1;
    info->bos_id = SQ_LLAMA2C_BOS;
}

const sq_tokenizer_kind_ops sq_tokenizer_llama2c_kind = SQ_TOKENIZER_KIND("llama2.c tokenizer.bin", l2c);
