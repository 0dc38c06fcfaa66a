/* pickle_support.h - growable byte buffers, and the pickle opcodes the checkpoint
 * tests write by hand (their names and layouts as CPython's Lib/pickletools.py
 * documents them).
 *
 * Like test_support.h, everything here is static inline: each test is its own program.
 */
#ifndef SQ_PICKLE_SUPPORT_H
#define SQ_PICKLE_SUPPORT_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes being built; start from {0}, free(bytes) when done. */
typedef struct {
    unsigned char *bytes;
    size_t n, cap;
} byte_buf;

static inline void put(byte_buf *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        b->bytes = realloc(b->bytes, cap);
        ck_assert_ptr_nonnull(b->bytes);
        b->cap = cap;
    }
    memcpy(b->bytes + b->n, data, n);
    b->n += n;
}

static inline void put_byte(byte_buf *b, unsigned char c) { put(b, &c, 1); }

static inline void put_repeat(byte_buf *b, unsigned char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_byte(b, c);
}

static inline void put_str(byte_buf *b, const char *s) { put(b, s, strlen(s)); }

/* BINUNICODE: 'X', the length as 4 bytes little-endian, the UTF-8 bytes. */
static inline void pk_str(byte_buf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    unsigned char len[4] = {n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >> 24};
    put_byte(b, 'X');
    put(b, len, 4);
    put(b, s, n);
}

/* GLOBAL: 'c', module and name each ended by a newline. */
static inline void pk_global(byte_buf *b, const char *module, const char *name)
{
    put_byte(b, 'c');
    put_str(b, module);
    put_byte(b, '\n');
    put_str(b, name);
    put_byte(b, '\n');
}

/* An int as Python's pickler writes it: BININT1 ('K', one byte) for 0..255, otherwise BININT
 * ('J', 4 bytes little-endian; the pickler's BININT2 for 256..65535 is left out). */
static inline void pk_int(byte_buf *b, int32_t v)
{
    uint32_t u = (uint32_t)v;
    unsigned char bytes[4] = {u & 0xff, (u >> 8) & 0xff, (u >> 16) & 0xff, u >> 24};
    put_byte(b, v >= 0 && v <= 255 ? 'K' : 'J');
    put(b, bytes, v >= 0 && v <= 255 ? 1 : 4);
}

/* PROTO 2, EMPTY_DICT: how a state dict's pickle starts. */
static inline void pk_begin_dict(byte_buf *b)
{
    put_byte(b, 0x80);
    put_byte(b, 2);
    put_byte(b, '}');
}

/* rebuild(('storage', FloatStorage, key, 'cpu', numel), 0, (size,), (stride,), False, OrderedDict()):
 * a 1-D tensor as torch.save pickles it (rebuild: torch._utils._rebuild_tensor_v2, or another name). */
static inline void pk_tensor(byte_buf *b, const char *rebuild, const char *key, int32_t numel, int32_t size,
                             int32_t stride)
{
    pk_global(b, "torch._utils", rebuild);
    put_byte(b, '(');
    put_byte(b, '(');
    pk_str(b, "storage");
    pk_global(b, "torch", "FloatStorage");
    pk_str(b, key);
    pk_str(b, "cpu");
    pk_int(b, numel);
    put_byte(b, 't');
    put_byte(b, 'Q');
    pk_int(b, 0);
    pk_int(b, size);
    put_byte(b, 0x85);
    pk_int(b, stride);
    put_byte(b, 0x85);
    put_byte(b, 0x89);
    pk_global(b, "collections", "OrderedDict");
    put_byte(b, ')');
    put_byte(b, 'R');
    put_byte(b, 't');
    put_byte(b, 'R');
}

/* A protocol-2 pickle of {name: tensor} (pk_tensor), a state dict of one tensor. */
static inline void pk_one_tensor_dict(byte_buf *b, const char *name, const char *rebuild, const char *key,
                                      int32_t numel, int32_t size, int32_t stride)
{
    pk_begin_dict(b);
    pk_str(b, name);
    pk_tensor(b, rebuild, key, numel, size, stride);
    put_byte(b, 's');
    put_byte(b, '.');
}

#endif
