/* bytes_tokenizer.c - the "bytes" tokenizer: each byte is its own id (vocab
 * 256), for byte-level models such as the bundled defaults
 * (tests/data/bundled/README.md). */
#include <string.h>

#include "tokenize/tokenizer_kind.h"

static int bytes_recognise(const sq_tokenizer_source *src)
{
    return !src->bytes && strcmp(src->spec, "bytes") == 0;
}

static sq_status bytes_load(const sq_tokenizer_source *src, void **state)
{
    (void)src; /* in the shared signature, unused here */
    static int no_state; /* a non-NULL state the other functions ignore */
    *state = &no_state;
    return SQ_OK;
}

static void bytes_free(void *state)
{
    (void)state; /* in the shared signature, unused here */
}

static void bytes_info(const void *state, sq_tokenizer_info *info)
{
    (void)state; /* in the shared signature, unused here */
    info->kind = "bytes";
    info->vocab_size = info->entries = 256;
}

static sq_status bytes_encode(const void *state, const char *text, size_t length, sq_token_buffer *out)
{
    (void)state; /* in the shared signature, unused here */
    sq_status st = SQ_OK;
    SQ_TRY(sq_alloc(&out->ids, length ? length : 1, sizeof(int32_t), "byte tokens"));
    out->capacity = length ? length : 1;
    for (size_t i = 0; i < length; i++)
        out->ids[i] = (unsigned char)text[i];
    out->count = length;
cleanup:
    return st;
}

static sq_status bytes_decode(const void *state, const int32_t *ids, size_t count, sq_byte_buffer *out)
{
    (void)state; /* in the shared signature, unused here */
    sq_status st = SQ_OK;
    for (size_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] > 255)
            return sq_fail(SQ_ERR_INPUT, "token %zu: id %d is not a byte (0..255)", i, ids[i]);
        unsigned char b = (unsigned char)ids[i];
        SQ_TRY(sq_byte_buffer_append(out, &b, 1));
    }
cleanup:
    return st;
}

const sq_tokenizer_kind_ops sq_tokenizer_bytes_kind = SQ_TOKENIZER_KIND("bytes", bytes);
