/* hf_tokenizer_encode.c - text -> ids and ids -> text for tokenizer.json BPE
 * (the pipeline in hf_tokenizer.h).  Each step names the transformers.js code
 * it mirrors (src/tokenizers.js); the Rust crate tokenizers agrees on the
 * files squeeze accepts. */
#include "tokenize/hf_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenize/bpe_merge.h"
#include "tokenize/byte_level.h"
#include "tokenize/utf8.h"

/* ECMAScript's WhiteSpace and LineTerminator code points: what String.trimStart /
 * trimEnd remove around added tokens with lstrip / rstrip. */
static int js_space(uint32_t cp)
{
    return (cp >= 9 && cp <= 13) || cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

typedef struct {
    const sq_hf_tokenizer *tok;
    sq_token_buffer *out;
    sq_bpe_workspace ws;
    sq_bpe_symbol *symbols;
    size_t symbol_capacity;
    sq_byte_buffer prefixed[SQ_HF_MAX_STEPS]; /* ByteLevel add_prefix_space copies */
    sq_byte_buffer mapped[SQ_HF_MAX_STEPS];   /* ByteLevel byte -> character copies */
    sq_byte_buffer normalized;
} encode_state;

typedef struct {
    encode_state *state;
    size_t step;
} step_ctx;

/* ------------------------------------------------------------------ model */

static int merge_rank(const void *ctx, int32_t left, int32_t right, int32_t *merged, double *priority)
{
    const sq_hf_tokenizer *tok = ctx;
    int32_t rank;
    if (!sq_merge_table_get(&tok->merges, left, right, &rank, merged))
        return 0;
    *priority = rank;
    return 1;
}

/* BPE.encode + BPE.bpe: one pre-tokenized piece. */
static sq_status model_encode(encode_state *s, const char *piece, size_t length)
{
    sq_status st = SQ_OK;
    const sq_hf_tokenizer *tok = s->tok;
    if (tok->ignore_merges) {
        int32_t whole = sq_vocab_table_get(&tok->vocab, piece, length, -1);
        if (whole >= 0)
            return sq_token_buffer_push(s->out, whole);
    }
    if (length > UINT32_MAX)
        return sq_fail(SQ_ERR_INPUT, "a piece of %zu bytes is too long to encode", length);
    if (s->symbol_capacity < length) {
        sq_bpe_symbol *grown = realloc(s->symbols, length * sizeof(*grown));
        if (!grown)
            return sq_fail(SQ_ERR_RUN, "out of memory for %zu BPE symbols", length);
        s->symbols = grown;
        s->symbol_capacity = length;
    }
    size_t n = 0;
    for (size_t pos = 0; pos < length;) {
        uint32_t cp;
        int len = sq_utf8_decode((const unsigned char *)piece + pos, length - pos, &cp);
        if (len == 0)
            len = 1; /* cannot happen: the text was validated */
        s->symbols[n].id = sq_vocab_table_get(&tok->vocab, piece + pos, (size_t)len, -1);
        s->symbols[n].start = (uint32_t)pos;
        s->symbols[n].length = (uint32_t)len;
        n++;
        pos += (size_t)len;
    }
    SQ_TRY(sq_bpe_merge(&s->ws, s->symbols, &n, merge_rank, tok));
    for (size_t i = 0; i < n; i++) {
        const sq_bpe_symbol *sym = &s->symbols[i];
        if (sym->id >= 0) {
            SQ_TRY(sq_token_buffer_push(s->out, sym->id));
            continue;
        }
        /* Not in the vocabulary: its UTF-8 bytes as <0xNN> tokens if all exist, else unk. */
        int all_bytes = tok->byte_fallback;
        for (uint32_t b = 0; all_bytes && b < sym->length; b++)
            all_bytes = tok->byte_ids[(unsigned char)piece[sym->start + b]] >= 0;
        if (all_bytes) {
            for (uint32_t b = 0; b < sym->length; b++)
                SQ_TRY(sq_token_buffer_push(s->out, tok->byte_ids[(unsigned char)piece[sym->start + b]]));
        } else if (tok->unk_id >= 0) {
            SQ_TRY(sq_token_buffer_push(s->out, tok->unk_id));
        } else {
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s' cannot encode \"%.*s\": it is not in the vocabulary and the "
                                  "tokenizer has neither byte fallback nor an unk_token", tok->path,
                    (int)sym->length, piece + sym->start);
        }
    }
cleanup:
    return st;
}

/* ------------------------------------------------------------------ pre-tokenizer */

static sq_status pre_step(encode_state *s, size_t step, const char *piece, size_t length);

static sq_status next_step(void *ctx, const char *piece, size_t length)
{
    step_ctx *c = ctx;
    return pre_step(c->state, c->step + 1, piece, length);
}

/* ByteLevel after its optional regex split: each byte written as its character. */
static sq_status byte_level_map(void *ctx, const char *piece, size_t length)
{
    sq_status st = SQ_OK;
    step_ctx *c = ctx;
    sq_byte_buffer *mapped = &c->state->mapped[c->step];
    mapped->length = 0;
    for (size_t i = 0; i < length; i++)
        SQ_TRY(sq_byte_buffer_append_utf8(mapped, sq_byte_level_char((unsigned char)piece[i])));
    SQ_TRY(pre_step(c->state, c->step + 1, mapped->bytes, mapped->length));
cleanup:
    return st;
}

/* PreTokenizerSequence: each step applies to every piece of the one before. */
static sq_status pre_step(encode_state *s, size_t step, const char *piece, size_t length)
{
    sq_status st = SQ_OK;
    const sq_hf_tokenizer *tok = s->tok;
    if (step == tok->n_pre)
        return model_encode(s, piece, length);
    const sq_hf_pre_step *pre = &tok->pre[step];
    step_ctx ctx = {s, step};
    if (pre->kind == SQ_HF_PRE_SPLIT)
        return sq_split_regex_split(pre->regex, pre->mode, piece, length, next_step, &ctx);
    /* ByteLevelPreTokenizer.pre_tokenize_text */
    if (pre->add_prefix_space && (length == 0 || piece[0] != ' ')) {
        sq_byte_buffer *prefixed = &s->prefixed[step];
        prefixed->length = 0;
        SQ_TRY(sq_byte_buffer_append(prefixed, " ", 1));
        SQ_TRY(sq_byte_buffer_append(prefixed, piece, length));
        piece = prefixed->bytes;
        length = prefixed->length;
    }
    if (pre->regex)
        SQ_TRY(sq_split_regex_split(pre->regex, SQ_SPLIT_MATCHES, piece, length, byte_level_map, &ctx));
    else
        SQ_TRY(byte_level_map(&ctx, piece, length));
cleanup:
    return st;
}

/* ------------------------------------------------------------------ normalizer */

static sq_status replace_all(sq_byte_buffer *buf, const char *pattern, const char *replacement)
{
    sq_status st = SQ_OK;
    sq_byte_buffer out = {0};
    size_t plen = strlen(pattern), rlen = strlen(replacement);
    SQ_TRY(sq_byte_buffer_append(&out, "", 0));
    for (size_t i = 0; i < buf->length;) {
        if (i + plen <= buf->length && memcmp(buf->bytes + i, pattern, plen) == 0) {
            SQ_TRY(sq_byte_buffer_append(&out, replacement, rlen));
            i += plen;
        } else {
            SQ_TRY(sq_byte_buffer_append(&out, buf->bytes + i, 1));
            i++;
        }
    }
    free(buf->bytes);
    *buf = out;
    out.bytes = NULL;
cleanup:
    free(out.bytes);
    return st;
}

/* One section between added tokens: normalizer, pre-tokenizer, model. */
static sq_status encode_section(encode_state *s, const char *text, size_t length)
{
    sq_status st = SQ_OK;
    const sq_hf_tokenizer *tok = s->tok;
    if (length == 0)
        return SQ_OK;
    if (tok->n_norm > 0) {
        sq_byte_buffer *buf = &s->normalized;
        buf->length = 0;
        SQ_TRY(sq_byte_buffer_append(buf, text, length));
        for (size_t i = 0; i < tok->n_norm; i++) {
            const sq_hf_norm_step *n = &tok->norm[i];
            if (n->kind == SQ_HF_NORM_PREPEND) {
                sq_byte_buffer out = {0};
                st = sq_byte_buffer_append(&out, n->text, strlen(n->text));
                if (st == SQ_OK)
                    st = sq_byte_buffer_append(&out, buf->bytes, buf->length);
                free(buf->bytes);
                *buf = out;
                SQ_TRY(st);
            } else if (n->kind == SQ_HF_NORM_UNICODE) {
                utf8proc_uint8_t *mapped = NULL;
                utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)buf->bytes,
                                                    (utf8proc_ssize_t)buf->length, &mapped, n->unicode_options);
                if (len < 0)
                    SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': Unicode normalisation failed: %s", tok->path,
                            utf8proc_errmsg(len));
                buf->length = 0;
                st = sq_byte_buffer_append(buf, mapped, (size_t)len);
                free(mapped);
                SQ_TRY(st);
            } else {
                SQ_TRY(replace_all(buf, n->text, n->replacement));
            }
        }
        text = buf->bytes;
        length = buf->length;
        if (length == 0)
            return SQ_OK;
    }
    SQ_TRY(pre_step(s, 0, text, length));
cleanup:
    return st;
}

/* ------------------------------------------------------------------ added tokens */

/* The longest added token that starts at text[pos], or -1 (DictionarySplitter). */
static long added_at(const sq_hf_tokenizer *tok, const char *text, size_t length, size_t pos)
{
    long best = -1;
    size_t best_length = 0;
    for (size_t i = 0; i < tok->n_added; i++) {
        const sq_hf_added_token *a = &tok->added[i];
        if (a->length > best_length && a->length <= length - pos && a->content[0] == text[pos] &&
            memcmp(a->content, text + pos, a->length) == 0) {
            best = (long)i;
            best_length = a->length;
        }
    }
    return best;
}

/* Bytes of text[start, end) without trailing JavaScript whitespace. */
static size_t trim_end(const char *text, size_t start, size_t end)
{
    size_t keep = start;
    for (size_t pos = start; pos < end;) {
        uint32_t cp;
        int len = sq_utf8_decode((const unsigned char *)text + pos, end - pos, &cp);
        pos += (size_t)(len ? len : 1);
        if (!js_space(cp))
            keep = pos;
    }
    return keep;
}

static size_t trim_start(const char *text, size_t start, size_t end)
{
    while (start < end) {
        uint32_t cp;
        int len = sq_utf8_decode((const unsigned char *)text + start, end - start, &cp);
        if (!len || !js_space(cp))
            break;
        start += (size_t)len;
    }
    return start;
}

/* PreTrainedTokenizer._encode_text: sections between added tokens, the
 * neighbours of lstrip/rstrip tokens trimmed. */
static sq_status encode_text(encode_state *s, const char *text, size_t length)
{
    sq_status st = SQ_OK;
    const sq_hf_tokenizer *tok = s->tok;
    size_t start = 0, pos = 0;
    int strip_next = 0; /* the previous added token has rstrip */
    while (pos < length) {
        long hit = tok->n_added ? added_at(tok, text, length, pos) : -1;
        if (hit < 0) {
            pos++;
            continue;
        }
        const sq_hf_added_token *a = &tok->added[hit];
        size_t section_start = strip_next ? trim_start(text, start, pos) : start;
        size_t section_end = a->lstrip ? trim_end(text, section_start, pos) : pos;
        SQ_TRY(encode_section(s, text + section_start, section_end - section_start));
        SQ_TRY(sq_token_buffer_push(s->out, a->id));
        pos += a->length;
        start = pos;
        strip_next = a->rstrip;
    }
    if (strip_next)
        start = trim_start(text, start, length);
    SQ_TRY(encode_section(s, text + start, length - start));
cleanup:
    return st;
}

sq_status sq_hf_tokenizer_encode(const sq_hf_tokenizer *tok, const char *text, size_t length, sq_token_buffer *out)
{
    sq_status st = SQ_OK;
    encode_state s = {.tok = tok, .out = out};
    size_t chars;
    size_t bad = sq_utf8_validate((const unsigned char *)text, length, &chars);
    if (bad < length)
        return sq_fail(SQ_ERR_INPUT, "text is not valid UTF-8 at byte %zu (tokenizer '%s' reads UTF-8 text; convert "
                                     "the file with iconv)", bad, tok->path);
    for (size_t i = 0; i < tok->n_prefix; i++)
        SQ_TRY(sq_token_buffer_push(out, tok->prefix[i]));
    SQ_TRY(encode_text(&s, text, length));
    for (size_t i = 0; i < tok->n_suffix; i++)
        SQ_TRY(sq_token_buffer_push(out, tok->suffix[i]));
cleanup:
    sq_bpe_workspace_free(&s.ws);
    free(s.symbols);
    for (size_t i = 0; i < SQ_HF_MAX_STEPS; i++) {
        free(s.prefixed[i].bytes);
        free(s.mapped[i].bytes);
    }
    free(s.normalized.bytes);
    return st;
}

/* ------------------------------------------------------------------ decoding */

typedef struct {
    sq_byte_buffer *pieces;
    int *added; /* the piece is an added token (ByteLevel leaves it as text) */
    size_t count;
} piece_list;

static void piece_list_free(piece_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->pieces[i].bytes);
    free(list->pieces);
    free(list->added);
}

static int is_added(const sq_hf_tokenizer *tok, int32_t id)
{
    for (size_t i = 0; i < tok->n_added; i++)
        if (tok->added[i].id == id)
            return 1;
    return 0;
}

static sq_status fuse(piece_list *list)
{
    sq_status st = SQ_OK;
    if (list->count < 2)
        return SQ_OK;
    for (size_t i = 1; i < list->count; i++) {
        SQ_TRY(sq_byte_buffer_append(&list->pieces[0], list->pieces[i].bytes, list->pieces[i].length));
        free(list->pieces[i].bytes);
        list->pieces[i].bytes = NULL;
    }
    list->count = 1;
    list->added[0] = 0;
cleanup:
    return st;
}

static sq_status decode_step(const sq_hf_tokenizer *tok, const sq_hf_dec_step *d, piece_list *list)
{
    (void)tok; /* in the shared signature, unused here */
    sq_status st = SQ_OK;
    for (size_t i = 0; i < list->count; i++) {
        sq_byte_buffer *p = &list->pieces[i];
        switch (d->kind) {
        case SQ_HF_DEC_REPLACE:
            SQ_TRY(replace_all(p, d->text, d->replacement));
            break;
        case SQ_HF_DEC_BYTE_FALLBACK: {
            /* "<0xNN>" becomes the byte NN (kept raw: invalid UTF-8 is not replaced by U+FFFD). */
            unsigned value;
            char tail;
            if (p->length == 6 && sscanf(p->bytes, "<0x%2X%c", &value, &tail) == 2 && tail == '>') {
                p->bytes[0] = (char)value;
                p->length = 1;
            }
            break;
        }
        case SQ_HF_DEC_STRIP: {
            size_t clen = strlen(d->text), lead = 0, trail = 0;
            while ((int)lead < d->start && (lead + 1) * clen <= p->length &&
                   memcmp(p->bytes + lead * clen, d->text, clen) == 0)
                lead++;
            while ((int)trail < d->stop && (lead + trail + 1) * clen <= p->length &&
                   memcmp(p->bytes + p->length - (trail + 1) * clen, d->text, clen) == 0)
                trail++;
            memmove(p->bytes, p->bytes + lead * clen, p->length - (lead + trail) * clen);
            p->length -= (lead + trail) * clen;
            break;
        }
        case SQ_HF_DEC_BYTE_LEVEL: {
            if (list->added[i])
                break;
            sq_byte_buffer out = {0};
            for (size_t pos = 0; pos < p->length;) {
                uint32_t cp;
                int len = sq_utf8_decode((const unsigned char *)p->bytes + pos, p->length - pos, &cp);
                int byte = len ? sq_byte_level_byte(cp) : -1;
                if (byte >= 0) {
                    unsigned char b = (unsigned char)byte;
                    st = sq_byte_buffer_append(&out, &b, 1);
                } else {
                    st = sq_byte_buffer_append(&out, p->bytes + pos, (size_t)(len ? len : 1));
                }
                if (st != SQ_OK) {
                    free(out.bytes);
                    goto cleanup;
                }
                pos += (size_t)(len ? len : 1);
            }
            free(p->bytes);
            *p = out;
            break;
        }
        case SQ_HF_DEC_FUSE:
            break;
        }
    }
    if (d->kind == SQ_HF_DEC_FUSE || d->kind == SQ_HF_DEC_BYTE_LEVEL)
        SQ_TRY(fuse(list));
cleanup:
    return st;
}

sq_status sq_hf_tokenizer_decode(const sq_hf_tokenizer *tok, const int32_t *ids, size_t count, sq_byte_buffer *out)
{
    sq_status st = SQ_OK;
    piece_list list = {0};
    SQ_TRY(sq_alloc(&list.pieces, count ? count : 1, sizeof(sq_byte_buffer), "decoded pieces"));
    SQ_TRY(sq_alloc(&list.added, count ? count : 1, sizeof(int), "decoded pieces"));
    memset(list.pieces, 0, (count ? count : 1) * sizeof(sq_byte_buffer));
    for (size_t i = 0; i < count; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= tok->vocab_size || !tok->token_text[id])
            SQ_FAIL(SQ_ERR_INPUT, "token %zu: id %d is not in the vocabulary of tokenizer '%s' (ids 0..%d)", i, id,
                    tok->path, tok->vocab_size - 1);
        list.added[i] = is_added(tok, id);
        SQ_TRY(sq_byte_buffer_append(&list.pieces[list.count++], tok->token_text[id], tok->token_length[id]));
    }
    for (size_t i = 0; i < tok->n_dec; i++)
        SQ_TRY(decode_step(tok, &tok->dec[i], &list));
    for (size_t i = 0; i < list.count; i++)
        SQ_TRY(sq_byte_buffer_append(out, list.pieces[i].bytes, list.pieces[i].length));
    if (!out->bytes)
        SQ_TRY(sq_byte_buffer_append(out, "", 0));
cleanup:
    piece_list_free(&list);
    return st;
}
