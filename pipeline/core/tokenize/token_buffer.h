/* token_buffer.h - growable arrays of token ids and of bytes, the outputs
 * of encoding and decoding. */
#ifndef SQ_TOKENIZE_TOKEN_BUFFER_H
#define SQ_TOKENIZE_TOKEN_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

typedef struct {
    int32_t *ids;
    size_t count, capacity;
} sq_token_buffer;

typedef struct {
    char *bytes;
    size_t length, capacity;
} sq_byte_buffer;

sq_status sq_token_buffer_push(sq_token_buffer *buf, int32_t id);
sq_status sq_byte_buffer_append(sq_byte_buffer *buf, const void *bytes, size_t length);
/* Appends the UTF-8 form of code point cp. */
sq_status sq_byte_buffer_append_utf8(sq_byte_buffer *buf, uint32_t cp);

#endif
