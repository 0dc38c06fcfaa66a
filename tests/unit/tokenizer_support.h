/* tokenizer_support.h - what the tokenizer tests share (test_tokenize.c,
 * test_tokenizer_goldens.c): loading one that must load, comparing ids, and a
 * text the tokenizer must refuse.  Static inline, as test_support.h. */
#ifndef SQ_TOKENIZER_SUPPORT_H
#define SQ_TOKENIZER_SUPPORT_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "test_support.h"
#include "tokenize/tokenizer.h"

static inline sq_tokenizer *load_ok(const char *spec)
{
    sq_tokenizer *tok = NULL;
    sq_status st = sq_tokenizer_load(spec, &tok);
    ck_assert_msg(st == SQ_OK, "loading %s: %s", spec, sq_error_message());
    return tok;
}

static inline void assert_ids(const int32_t *got, size_t got_count, const int32_t *want, size_t want_count)
{
    ck_assert_uint_eq(got_count, want_count);
    for (size_t i = 0; i < want_count; i++)
        ck_assert_msg(got[i] == want[i], "id %zu: got %d, want %d", i, got[i], want[i]);
}

/* The tokenizer spec loads, and encoding text with it fails with an input error naming needle, returning no ids. */
static inline void assert_encode_refused(const char *spec, const char *text, size_t length, const char *needle)
{
    sq_tokenizer *tok = load_ok(spec);
    int32_t *ids = NULL;
    size_t count = 0;
    ck_assert_int_eq(sq_tokenizer_encode(tok, text, length, &ids, &count), SQ_ERR_INPUT);
    assert_message_has(needle);
    ck_assert_ptr_null(ids);
    sq_tokenizer_free(tok);
}

#endif
