/* itera_tokenizer.c - Itera-Lite's JSON tokenizers.
 *
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
#include <stdlib.h>
#include <string.h>

#include "tokenize/tokenizer_kind.h"
#include "tokenize/utf8.h"
#include "tokenize/vocab_table.h"
#include "util/log.h"

/* Id that Itera-Lite's tokenizers give unknown tokens: `.get(token, 1)` (<UNK>). */
#define SQ_TOKEN_UNKNOWN 1

typedef struct {
    int char_level;          /* 0: word, 1: char */
    int vocab_size;          /* highest id + 1 */
    int declared_vocab_size; /* the file's "vocab_size" field (may be larger), 0 if absent */
    sq_vocab_table table;    /* token string -> id */
    char **id_text;          /* [vocab_size] id -> token, for decoding; NULL for unused ids */
} itera_tokenizer;

static const char *map_key_of(const json_t *root)
{
    /* FrequencyTokenizer writes token_to_id; SimpleTokenizer writes token2id. */
    return json_object_get(root, "token_to_id") ? "token_to_id" : "token2id";
}

static int itera_recognise(const sq_tokenizer_source *src)
{
    return src->json && json_is_object(json_object_get(src->json, map_key_of(src->json)));
}

static void itera_free(void *state)
{
    itera_tokenizer *tok = state;
    if (!tok)
        return;
    sq_vocab_table_free(&tok->table);
    free(tok->id_text);
    free(tok);
}

static sq_status itera_load(const sq_tokenizer_source *src, void **state)
{
    sq_status st = SQ_OK;
    const char *path = src->spec;
    json_t *root = src->json;
    itera_tokenizer *tok = NULL;
    const char *map_key = map_key_of(root);
    json_t *map = json_object_get(root, map_key);
    SQ_TRY(sq_alloc(&tok, 1, sizeof(*tok), "tokenizer"));
    memset(tok, 0, sizeof(*tok));
    tok->char_level = 0; /* FrequencyTokenizer has no "level" and is word level */
    json_t *level = json_object_get(root, "level");
    if (level) {
        const char *name = json_string_value(level);
        if (name && strcmp(name, "word") == 0)
            tok->char_level = 0;
        else if (name && strcmp(name, "char") == 0)
            tok->char_level = 1;
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
        if (id < 0 || !json_is_integer(value))
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': \"%s\" in %s maps to %s, not an id >= 0", path, token, map_key,
                    json_is_integer(value) ? "a negative number" : "a non-integer");
        if (id > SQ_TOKENIZER_MAX_ID)
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': \"%.80s\" in %s maps to id %lld, beyond any vocabulary (at most %d); "
                    "the file is damaged", path, token, map_key, (long long)id, SQ_TOKENIZER_MAX_ID);
        /* jansson keys are NUL terminated; Itera-Lite tokens never contain NUL. */
        SQ_TRY(sq_vocab_table_put(&tok->table, token, strlen(token), (int32_t)id));
        if (id > max_id)
            max_id = (int32_t)id;
    }
    if (max_id < SQ_TOKEN_UNKNOWN)
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': %s has no id %d (<UNK>), which unknown tokens map to", path, map_key,
                SQ_TOKEN_UNKNOWN);
    /* A file that lists more tokens than it declares contradicts itself; declaring more is
     * FrequencyTokenizer's capacity (tokenizer_2000.json declares 2000 and lists 184). */
    if (tok->declared_vocab_size > 0 && (size_t)tok->declared_vocab_size < tok->table.count)
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s' declares \"vocab_size\": %d but %s lists %zu tokens", path,
                tok->declared_vocab_size, map_key, tok->table.count);
    tok->vocab_size = max_id + 1;
    SQ_TRY(sq_alloc(&tok->id_text, (size_t)tok->vocab_size, sizeof(char *), "tokenizer ids"));
    memset(tok->id_text, 0, (size_t)tok->vocab_size * sizeof(char *));
    for (size_t slot = 0; slot < tok->table.capacity; slot++)
        if (tok->table.keys[slot] && !tok->id_text[tok->table.ids[slot]])
            tok->id_text[tok->table.ids[slot]] = tok->table.keys[slot];
    sq_debug("tokenizer %s: %s level, %zu entries, vocab %d (declared %d)", path, tok->char_level ? "char" : "word",
             tok->table.count, tok->vocab_size, tok->declared_vocab_size);
    *state = tok;
    tok = NULL;
cleanup:
    itera_free(tok);
    return st;
}

static void itera_info(const void *state, sq_tokenizer_info *info)
{
    const itera_tokenizer *tok = state;
    info->kind = tok->char_level ? "char" : "word";
    info->vocab_size = tok->vocab_size;
    info->entries = (int)tok->table.count;
    info->declared_size = tok->declared_vocab_size;
    info->python_text = 1;
    info->unk_id = SQ_TOKEN_UNKNOWN;
}

static sq_status invalid_utf8(size_t offset)
{
    return sq_fail(SQ_ERR_INPUT, "text is not valid UTF-8 at byte %zu (Itera-Lite's tokenizers read text as "
                                 "UTF-8; convert the file with iconv)", offset);
}

/* text.lower().split(), each word looked up. */
static sq_status encode_words(const itera_tokenizer *tok, const unsigned char *text, size_t length,
                              sq_token_buffer *out)
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
                SQ_TRY(sq_token_buffer_push(out, sq_vocab_table_get(&tok->table, word, word_len, SQ_TOKEN_UNKNOWN)));
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
static sq_status encode_chars(const itera_tokenizer *tok, const unsigned char *text, size_t length,
                              sq_token_buffer *out)
{
    sq_status st = SQ_OK;
    size_t pos = 0;
    while (pos < length) {
        uint32_t cp;
        int len = sq_utf8_decode(text + pos, length - pos, &cp);
        if (len == 0)
            return invalid_utf8(pos);
        SQ_TRY(sq_token_buffer_push(out, sq_vocab_table_get(&tok->table, (const char *)text + pos, (size_t)len,
                                                            SQ_TOKEN_UNKNOWN)));
        pos += (size_t)len;
    }
cleanup:
    return st;
}

static sq_status itera_encode(const void *state, const char *text, size_t length, sq_token_buffer *out)
{
    const itera_tokenizer *tok = state;
    if (tok->char_level)
        return encode_chars(tok, (const unsigned char *)text, length, out);
    return encode_words(tok, (const unsigned char *)text, length, out);
}

/* " ".join(id_to_token) for words, "".join for characters. */
static sq_status itera_decode(const void *state, const int32_t *ids, size_t count, sq_byte_buffer *out)
{
    sq_status st = SQ_OK;
    const itera_tokenizer *tok = state;
    for (size_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= tok->vocab_size || !tok->id_text[ids[i]])
            return sq_fail(SQ_ERR_INPUT, "token %zu: id %d is not in the tokenizer's vocabulary", i, ids[i]);
        if (i > 0 && !tok->char_level)
            SQ_TRY(sq_byte_buffer_append(out, " ", 1));
        SQ_TRY(sq_byte_buffer_append(out, tok->id_text[ids[i]], strlen(tok->id_text[ids[i]])));
    }
cleanup:
    return st;
}

const sq_tokenizer_kind_ops sq_tokenizer_itera_kind = SQ_TOKENIZER_KIND("Itera-Lite JSON", itera);
