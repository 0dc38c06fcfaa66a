/* tokenizer_kind.h - what one kind of tokenizer provides to the registry in
 * tokenizer.c.  A kind is its own file(s) plus one row of that table: it
 * recognises its files by their content, loads them, and encodes/decodes.
 */
#ifndef SQ_TOKENIZE_TOKENIZER_KIND_H
#define SQ_TOKENIZE_TOKENIZER_KIND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenize/token_buffer.h"
#include "tokenize/tokenizer.h"
#include "util/status.h"

/* A tokenizer spec as the registry has read it. */
typedef struct {
    const char *spec;            /* as given: "bytes" or a path */
    const unsigned char *bytes;  /* the file's content (NULL for "bytes") */
    size_t size;
    json_t *json;                /* the top-level object when the file is JSON, else NULL */
} sq_tokenizer_source;

typedef struct {
    const char *name;            /* the kind's name in messages and docs */
    /* 1 if src is this kind's (checked in table order; the first that says yes loads it). */
    int (*recognise)(const sq_tokenizer_source *src);
    sq_status (*load)(const sq_tokenizer_source *src, void **state);
    void (*free)(void *state);
    /* Fills what sq_tokenizer_get_info reports. */
    void (*info)(const void *state, sq_tokenizer_info *info);
    sq_status (*encode)(const void *state, const char *text, size_t length, sq_token_buffer *out);
    sq_status (*decode)(const void *state, const int32_t *ids, size_t count, sq_byte_buffer *out);
} sq_tokenizer_kind_ops;

/* A kind's row: its name and its six functions, named PREFIX_recognise, PREFIX_load,
 * PREFIX_free, PREFIX_info, PREFIX_encode and PREFIX_decode in its file. */
#define SQ_TOKENIZER_KIND(kind_name, prefix)                                                                      \
    {                                                                                                             \
        .name = (kind_name), .recognise = prefix##_recognise, .load = prefix##_load, .free = prefix##_free,       \
        .info = prefix##_info, .encode = prefix##_encode, .decode = prefix##_decode,                              \
    }

/* Models are sized by the highest id: an id beyond any real vocabulary (the largest
 * are a few hundred thousand) is damage, refused before anything is sized by it. */
#define SQ_TOKENIZER_MAX_ID ((1 << 24) - 1)

extern const sq_tokenizer_kind_ops sq_tokenizer_bytes_kind;
extern const sq_tokenizer_kind_ops sq_tokenizer_itera_kind;
extern const sq_tokenizer_kind_ops sq_tokenizer_hf_bpe_kind;
extern const sq_tokenizer_kind_ops sq_tokenizer_llama2c_kind;

#endif
