/* tokenizer.c - the tokenizer kinds squeeze knows, behind one interface.
 *
 *   bytes  each byte is its own id (vocab 256), for byte-level models such as
 *          the bundled defaults (tests/data/bundled/README.md)
 *   word   Itera-Lite's FrequencyTokenizer (utils/dataset_loader.py: keys
 *          vocab_size/token_to_id/id_to_token) and SimpleTokenizer(level='word')
 *          (utils/data.py: keys token2id/id2token/vocab_size/level):
 *          `[token_to_id.get(w, 1) for w in text.lower().split()]`
 *   char   SimpleTokenizer(level='char'): `[token2id.get(c, 1) for c in list(text)]`,
 *          one id per code point
 *
 * (docs/itera-lite.md 2.1.)  Lowercasing is ASCII only (A-Z): Python's
 * str.lower() also maps non-ASCII capitals, but every Itera-Lite vocabulary is
 * pure ASCII, so a word with a non-ASCII letter is unknown (id 1) either way.
 * The one exception would be a character whose lowercase is ASCII (U+212A
 * KELVIN SIGN -> 'k', U+0130 -> 'i' + U+0307 is not ASCII); squeeze keeps it as is.
 * Splitting follows str.split() exactly, including Unicode whitespace.
 */
#include "tokenize/tokenizer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/utf8.h"
#include "tokenize/vocab_table.h"
#include "util/log.h"

/* Id that Itera-Lite's tokenizers give unknown tokens: `.get(token, 1)` (<UNK>). */
#define SQ_TOKEN_UNKNOWN 1

typedef enum { SQ_TOKENIZER_BYTES, SQ_TOKENIZER_WORD, SQ_TOKENIZER_CHAR } sq_tokenizer_kind_id;

struct sq_tokenizer {
    sq_tokenizer_kind_id kind;
    int vocab_size;          /* highest id + 1 */
    int declared_vocab_size; /* the file's "vocab_size" field (may be larger), 0 if absent */
    sq_vocab_table table;    /* word/char: token string -> id */
};

static const char *const kind_names[] = {"bytes", "word", "char"};

/* ------------------------------------------------------------------ loading */

static sq_status load_json_tokenizer(const char *path, sq_tokenizer *tok)
{
    sq_status st = SQ_OK;
    json_error_t error;
    json_t *root = NULL;
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return sq_fail(SQ_ERR_INPUT, "cannot open tokenizer '%s': %s (give \"bytes\" or the path of a JSON "
                                     "tokenizer)", path, strerror(errno));
    fclose(probe);
    root = json_load_file(path, 0, &error);
    if (!root)
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s' is not valid JSON at line %d column %d: %s", path, error.line,
                error.column, error.text);
    if (!json_is_object(root))
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': the top level is not a JSON object", path);

    /* FrequencyTokenizer writes token_to_id; SimpleTokenizer writes token2id. */
    const char *map_key = json_object_get(root, "token_to_id") ? "token_to_id" : "token2id";
    json_t *map = json_object_get(root, map_key);
    if (!json_is_object(map))
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s' has no \"token_to_id\" or \"token2id\" object: not an Itera-Lite "
                "tokenizer", path);

    tok->kind = SQ_TOKENIZER_WORD; /* FrequencyTokenizer has no "level" and is word level */
    json_t *level = json_object_get(root, "level");
    if (level) {
        const char *name = json_string_value(level);
        if (name && strcmp(name, "word") == 0)
            tok->kind = SQ_TOKENIZER_WORD;
        else if (name && strcmp(name, "char") == 0)
            tok->kind = SQ_TOKENIZER_CHAR;
        else
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': \"level\" must be \"word\" or \"char\"", path);
    }
    json_t *declared = json_object_get(root, "vocab_size");
    if (declared && json_is_integer(declared))
        tok->declared_vocab_size = (int)json_integer_value(declared);

    SQ_TRY(sq_vocab_table_init(&tok->table, json_object_size(map)));
    const char *token;
    json_t *value;
    int32_t max_id = -1;
    json_object_foreach(map, token, value) {
        json_int_t id = json_is_integer(value) ? json_integer_value(value) : -1;
        if (id < 0 || id > INT32_MAX - 1)
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': \"%s\" in %s maps to %s, not an id >= 0", path, token, map_key,
                    json_is_integer(value) ? "a negative number" : "a non-integer");
        /* jansson keys are NUL terminated; Itera-Lite tokens never contain NUL. */
        SQ_TRY(sq_vocab_table_put(&tok->table, token, strlen(token), (int32_t)id));
        if (id > max_id)
            max_id = (int32_t)id;
    }
    if (max_id < SQ_TOKEN_UNKNOWN)
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': %s has no id %d (<UNK>), which unknown tokens map to", path, map_key,
                SQ_TOKEN_UNKNOWN);
    tok->vocab_size = max_id + 1;
    sq_debug("tokenizer %s: %s level, %zu entries, vocab %d (declared %d)", path, kind_names[tok->kind],
             tok->table.count, tok->vocab_size, tok->declared_vocab_size);
cleanup:
    json_decref(root);
    return st;
}

sq_status sq_tokenizer_load(const char *spec, sq_tokenizer **out)
{
    sq_status st = SQ_OK;
    sq_tokenizer *tok = NULL;
    *out = NULL;
    if (!spec || !*spec)
        return sq_fail(SQ_ERR_USAGE, "no tokenizer given: use \"bytes\" or the path of a JSON tokenizer");
    SQ_TRY(sq_alloc(&tok, 1, sizeof(*tok), "tokenizer"));
    if (strcmp(spec, "bytes") == 0) {
        tok->kind = SQ_TOKENIZER_BYTES;
        tok->vocab_size = 256;
    } else {
        SQ_TRY(load_json_tokenizer(spec, tok));
    }
    *out = tok;
    tok = NULL;
cleanup:
    sq_tokenizer_free(tok);
    return st;
}

void sq_tokenizer_free(sq_tokenizer *tokenizer)
{
    if (!tokenizer)
        return;
    sq_vocab_table_free(&tokenizer->table);
    free(tokenizer);
}

int sq_tokenizer_vocab_size(const sq_tokenizer *tokenizer)
{
    return tokenizer->vocab_size;
}

const char *sq_tokenizer_kind(const sq_tokenizer *tokenizer)
{
    return kind_names[tokenizer->kind];
}

/* ------------------------------------------------------------------ encoding */

/* Growable id buffer. */
typedef struct {
    int32_t *ids;
    size_t count, capacity;
} id_buffer;

static sq_status push_id(id_buffer *buf, int32_t id)
{
    if (buf->count == buf->capacity) {
        size_t capacity = buf->capacity ? 2 * buf->capacity : 1024;
        int32_t *grown = realloc(buf->ids, capacity * sizeof(int32_t));
        if (!grown)
            return sq_fail(SQ_ERR_RUN, "out of memory growing the token buffer to %zu ids", capacity);
        buf->ids = grown;
        buf->capacity = capacity;
    }
    buf->ids[buf->count++] = id;
    return SQ_OK;
}

static sq_status invalid_utf8(size_t offset)
{
    return sq_fail(SQ_ERR_INPUT, "text is not valid UTF-8 at byte %zu (Itera-Lite's tokenizers read text as "
                                 "UTF-8; convert the file with iconv)", offset);
}

/* text.lower().split(), each word looked up. */
static sq_status encode_words(const sq_tokenizer *tok, const unsigned char *text, size_t length, id_buffer *out)
{
    sq_status st = SQ_OK;
    char *word = NULL;
    size_t word_len = 0, pos = 0;
    SQ_TRY(sq_alloc(&word, length + 1, 1, "word buffer"));
    while (pos <= length) {
        uint32_t cp = ' '; /* the end of the text ends the last word */
        int len = 1;
        if (pos < length) {
            len = sq_utf8_decode(text + pos, length - pos, &cp);
            if (len == 0) {
                st = invalid_utf8(pos);
                goto cleanup;
            }
        }
        if (sq_py_isspace(cp)) {
            if (word_len > 0)
                SQ_TRY(push_id(out, sq_vocab_table_get(&tok->table, word, word_len, SQ_TOKEN_UNKNOWN)));
            word_len = 0;
        } else {
            for (int i = 0; i < len; i++) {
                char c = (char)text[pos + (size_t)i];
                word[word_len++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
            }
        }
        pos += (size_t)len;
    }
cleanup:
    free(word);
    return st;
}

/* list(text): one lookup per code point. */
static sq_status encode_chars(const sq_tokenizer *tok, const unsigned char *text, size_t length, id_buffer *out)
{
    sq_status st = SQ_OK;
    size_t pos = 0;
    while (pos < length) {
        uint32_t cp;
        int len = sq_utf8_decode(text + pos, length - pos, &cp);
        if (len == 0)
            return invalid_utf8(pos);
        SQ_TRY(push_id(out, sq_vocab_table_get(&tok->table, (const char *)text + pos, (size_t)len,
                                               SQ_TOKEN_UNKNOWN)));
        pos += (size_t)len;
    }
cleanup:
    return st;
}

sq_status sq_tokenizer_encode(const sq_tokenizer *tokenizer, const char *text, size_t length, int32_t **tokens,
                              size_t *count)
{
    sq_status st = SQ_OK;
    id_buffer buf = {0};
    const unsigned char *bytes = (const unsigned char *)text;
    *tokens = NULL;
    *count = 0;
    switch (tokenizer->kind) {
    case SQ_TOKENIZER_BYTES:
        SQ_TRY(sq_alloc(&buf.ids, length, sizeof(int32_t), "byte tokens"));
        for (size_t i = 0; i < length; i++)
            buf.ids[i] = bytes[i];
        buf.count = length;
        break;
    case SQ_TOKENIZER_WORD:
        SQ_TRY(encode_words(tokenizer, bytes, length, &buf));
        break;
    case SQ_TOKENIZER_CHAR:
        SQ_TRY(encode_chars(tokenizer, bytes, length, &buf));
        break;
    }
    *tokens = buf.ids;
    *count = buf.count;
    buf.ids = NULL;
cleanup:
    free(buf.ids);
    return st;
}
