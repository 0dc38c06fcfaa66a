/* token_buffer.c - growable id and byte arrays (see token_buffer.h). */
#include "tokenize/token_buffer.h"

#include <stdlib.h>
#include <string.h>

sq_status sq_token_buffer_push(sq_token_buffer *buf, int32_t id)
{
    sq_status st = sq_grow(&buf->ids, &buf->capacity, buf->count + 1, sizeof *buf->ids, 1024, "the token buffer");
    if (st != SQ_OK)
        return st;
    buf->ids[buf->count++] = id;
    return SQ_OK;
}

sq_status sq_byte_buffer_append(sq_byte_buffer *buf, const void *bytes, size_t length)
{
    if (buf->length + length + 1 > buf->capacity) {
        size_t capacity = buf->capacity ? buf->capacity : 256;
        while (capacity < buf->length + length + 1)
            capacity *= 2;
        char *grown = realloc(buf->bytes, capacity);
        if (!grown)
            return sq_fail(SQ_ERR_RUN, "out of memory growing a text buffer to %zu bytes", capacity);
        buf->bytes = grown;
        buf->capacity = capacity;
    }
    if (length)
        memcpy(buf->bytes + buf->length, bytes, length);
    buf->length += length;
    buf->bytes[buf->length] = '\0';
    return SQ_OK;
}

sq_status sq_byte_buffer_append_utf8(sq_byte_buffer *buf, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return sq_byte_buffer_append(buf, u, n);
}
