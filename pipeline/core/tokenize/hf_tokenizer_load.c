/* hf_tokenizer_load.c - reading a tokenizer.json into sq_hf_tokenizer.
 *
 * File format: the serialisation of Hugging Face tokenizers' Tokenizer
 * (tokenizers/src/tokenizer/serialization.rs; keys model, added_tokens,
 * normalizer, pre_tokenizer, post_processor, decoder).  Every check here that
 * fails is an input error (exit 3) naming the file and the entry.
 */
#include "tokenize/hf_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenize/tokenizer_kind.h"
#include "util/log.h"

#define SPIECE_UNDERLINE "\xE2\x96\x81" /* U+2581 '▁', SentencePiece's space */

static sq_status copy_string(const char *s, char **out)
{
    *out = strdup(s ? s : "");
    return *out ? SQ_OK : sq_fail(SQ_ERR_RUN, "out of memory copying a tokenizer string");
}

/* A JSON member that must be a string (or absent/null when optional). */
static const char *string_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int bool_member(const json_t *obj, const char *key, int fallback)
{
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : fallback;
}

static const char *type_of(const json_t *obj)
{
    const char *type = string_member(obj, "type");
    return type ? type : "(no type)";
}

/* ------------------------------------------------------------------ model */

static sq_status load_vocab(sq_hf_tokenizer *tok, const json_t *model)
{
    sq_status st = SQ_OK;
    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab))
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': model.vocab is not an object of token -> id", tok->path);
    SQ_TRY(sq_vocab_table_init(&tok->vocab, json_object_size(vocab) + 64));
    const char *token;
    json_t *value;
    json_int_t max_id = -1;
    json_object_foreach(vocab, token, value) {
        json_int_t id = json_is_integer(value) ? json_integer_value(value) : -1;
        if (id < 0 || id >= INT32_MAX / 2)
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': model.vocab maps \"%s\" to %s, not an id >= 0", tok->path, token,
                    json_is_integer(value) ? "an out-of-range number" : "a non-integer");
        SQ_TRY(sq_vocab_table_put(&tok->vocab, token, strlen(token), (int32_t)id));
        if (id > max_id)
            max_id = id;
    }
    tok->vocab_size = (int32_t)(max_id + 1);
cleanup:
    return st;
}

static sq_status load_added_tokens(sq_hf_tokenizer *tok, const json_t *root)
{
    sq_status st = SQ_OK;
    json_t *list = json_object_get(root, "added_tokens");
    if (!list || json_is_null(list))
        return SQ_OK;
    if (!json_is_array(list))
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': added_tokens is not a list", tok->path);
    size_t n = json_array_size(list);
    if (n == 0)
        return SQ_OK;
    SQ_TRY(sq_alloc(&tok->added, n, sizeof(*tok->added), "added tokens"));
    memset(tok->added, 0, n * sizeof(*tok->added));
    for (size_t i = 0; i < n; i++) {
        json_t *entry = json_array_get(list, i);
        const char *content = string_member(entry, "content");
        json_t *id = json_object_get(entry, "id");
        if (!content || !*content || !json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= INT32_MAX / 2)
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': added_tokens[%zu] needs a non-empty \"content\" and an id >= 0",
                    tok->path, i);
        sq_hf_added_token *a = &tok->added[tok->n_added++];
        SQ_TRY(copy_string(content, &a->content));
        a->length = strlen(content);
        a->id = (int32_t)json_integer_value(id);
        a->lstrip = bool_member(entry, "lstrip", 0);
        a->rstrip = bool_member(entry, "rstrip", 0);
        a->special = bool_member(entry, "special", 0);
        /* The model's map gains the added tokens (transformers.js does the same). */
        SQ_TRY(sq_vocab_table_put(&tok->vocab, a->content, a->length, a->id));
        if (a->id + 1 > tok->vocab_size)
            tok->vocab_size = a->id + 1;
    }
cleanup:
    return st;
}

/* id -> token text, and the count of distinct ids; two tokens with one id are an error. */
static sq_status build_id_index(sq_hf_tokenizer *tok)
{
    sq_status st = SQ_OK;
    size_t n = (size_t)tok->vocab_size;
    SQ_TRY(sq_alloc(&tok->token_text, n ? n : 1, sizeof(char *), "token index"));
    SQ_TRY(sq_alloc(&tok->token_length, n ? n : 1, sizeof(uint32_t), "token index"));
    memset(tok->token_text, 0, (n ? n : 1) * sizeof(char *));
    for (size_t slot = 0; slot < tok->vocab.capacity; slot++) {
        const char *key = tok->vocab.keys[slot];
        if (!key)
            continue;
        int32_t id = tok->vocab.ids[slot];
        if (tok->token_text[id]) {
            /* An added token repeating a vocabulary entry under its own id is allowed. */
            if (strcmp(tok->token_text[id], key) != 0)
                SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': id %d is given to two tokens, \"%s\" and \"%s\"", tok->path,
                        id, tok->token_text[id], key);
            continue;
        }
        tok->token_text[id] = tok->vocab.keys[slot];
        tok->token_length[id] = (uint32_t)tok->vocab.key_lengths[slot];
        tok->entries++;
    }
    for (size_t i = 0; i < tok->n_added; i++) {
        sq_hf_added_token *a = &tok->added[i];
        if (!tok->token_text[a->id]) {
            tok->token_text[a->id] = a->content;
            tok->token_length[a->id] = (uint32_t)a->length;
            tok->entries++;
        }
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof(name), "<0x%02X>", b);
        tok->byte_ids[b] = sq_vocab_table_get(&tok->vocab, name, strlen(name), -1);
    }
cleanup:
    return st;
}

static sq_status vocab_id(const sq_hf_tokenizer *tok, const char *token, size_t length, size_t merge_index,
                          const char *line, int32_t *id)
{
    *id = sq_vocab_table_get(&tok->vocab, token, length, -1);
    if (*id < 0)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': merge %zu (\"%s\") names \"%.*s\", which is not in the "
                                     "vocabulary", tok->path, merge_index, line, (int)length, token);
    return SQ_OK;
}

static sq_status load_merges(sq_hf_tokenizer *tok, const json_t *model)
{
    sq_status st = SQ_OK;
    char *joined = NULL;
    json_t *merges = json_object_get(model, "merges");
    if (!json_is_array(merges))
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': model.merges is not a list", tok->path);
    size_t n = json_array_size(merges);
    if (n >= INT32_MAX)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': %zu merges are too many", tok->path, n);
    SQ_TRY(sq_merge_table_init(&tok->merges, n));
    for (size_t i = 0; i < n; i++) {
        json_t *entry = json_array_get(merges, i);
        const char *left, *right;
        size_t left_len, right_len;
        char line[256];
        if (json_is_string(entry)) {
            /* "a b": exactly one space, as tokenizers' BPE deserialiser demands. */
            const char *s = json_string_value(entry);
            const char *space = strchr(s, ' ');
            if (!space || space == s || !space[1] || strchr(space + 1, ' '))
                SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': merge %zu (\"%s\") is not two tokens separated by one space",
                        tok->path, i, s);
            left = s;
            left_len = (size_t)(space - s);
            right = space + 1;
            right_len = strlen(right);
            snprintf(line, sizeof(line), "%s", s);
        } else if (json_is_array(entry) && json_array_size(entry) == 2 && json_is_string(json_array_get(entry, 0)) &&
                   json_is_string(json_array_get(entry, 1))) {
            left = json_string_value(json_array_get(entry, 0));
            right = json_string_value(json_array_get(entry, 1));
            left_len = strlen(left);
            right_len = strlen(right);
            snprintf(line, sizeof(line), "%s %s", left, right);
        } else {
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': merge %zu is neither \"a b\" nor [\"a\", \"b\"]", tok->path, i);
        }
        int32_t a, b, merged;
        SQ_TRY(vocab_id(tok, left, left_len, i, line, &a));
        SQ_TRY(vocab_id(tok, right, right_len, i, line, &b));
        free(joined);
        SQ_TRY(sq_alloc(&joined, left_len + right_len + 1, 1, "merge"));
        memcpy(joined, left, left_len);
        memcpy(joined + left_len, right, right_len);
        merged = sq_vocab_table_get(&tok->vocab, joined, left_len + right_len, -1);
        if (merged < 0)
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': merge %zu (\"%s\") makes \"%.*s\", which is not in the vocabulary",
                    tok->path, i, line, (int)(left_len + right_len), joined);
        sq_merge_table_put(&tok->merges, a, b, (int32_t)i, merged);
    }
cleanup:
    free(joined);
    return st;
}

static sq_status load_model(sq_hf_tokenizer *tok, const json_t *root)
{
    sq_status st = SQ_OK;
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model))
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s' has no \"model\" object: not a Hugging Face tokenizer.json",
                       tok->path);
    const char *type = string_member(model, "type");
    /* Files written before "type" was serialised are BPE when they have merges. */
    if (!type && json_object_get(model, "merges"))
        type = "BPE";
    if (!type || strcmp(type, "BPE") != 0)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': model type \"%s\" is not supported; squeeze reads BPE "
                                     "tokenizer.json files (byte-level as GPT-2/Llama 3/Qwen, or SentencePiece-style "
                                     "as Llama 2/Mistral)", tok->path, type ? type : "(none)");
    json_t *dropout = json_object_get(model, "dropout");
    if (json_is_number(dropout) && json_number_value(dropout) > 0)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': BPE dropout %g makes encoding random; set \"dropout\" to null",
                       tok->path, json_number_value(dropout));
    const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const char *affix = string_member(model, affixes[i]);
        if (affix && *affix)
            return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': model.%s \"%s\" is not supported (only byte-level and "
                                         "SentencePiece-style BPE)", tok->path, affixes[i], affix);
    }
    tok->byte_fallback = bool_member(model, "byte_fallback", 0);
    tok->ignore_merges = bool_member(model, "ignore_merges", 0);
    SQ_TRY(load_vocab(tok, model));
    SQ_TRY(load_added_tokens(tok, root));
    /* the id index is sized by the highest id: ids far beyond the tokens listed would make a small
     * hostile file allocate gigabytes (real vocabularies are dense: ids 0 .. entries - 1) */
    if (tok->vocab_size > SQ_TOKENIZER_MAX_ID ||
        (size_t)tok->vocab_size > 16 * (tok->vocab.count + tok->n_added) + 1024)
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': ids reach %d but the file lists %zu tokens; the file is damaged",
                tok->path, tok->vocab_size - 1, tok->vocab.count);
    SQ_TRY(build_id_index(tok));
    SQ_TRY(load_merges(tok, model));
    tok->unk_id = -1;
    const char *unk = string_member(model, "unk_token");
    if (unk) {
        tok->unk_id = sq_vocab_table_get(&tok->vocab, unk, strlen(unk), -1);
        if (tok->unk_id < 0)
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': unk_token \"%s\" is not in the vocabulary", tok->path, unk);
    }
cleanup:
    return st;
}

/* ------------------------------------------------------------------ normalizer */

static sq_status normalizer_step(sq_hf_tokenizer *tok, const json_t *n, const char *type)
{
    sq_status st = SQ_OK;
    if (tok->n_norm == SQ_HF_MAX_STEPS)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': more than %d normalizer steps", tok->path, SQ_HF_MAX_STEPS);
    sq_hf_norm_step *step = &tok->norm[tok->n_norm];
    if (strcmp(type, "Prepend") == 0) {
        const char *prepend = string_member(n, "prepend");
        if (!prepend)
            return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': normalizer Prepend has no \"prepend\" string", tok->path);
        step->kind = SQ_HF_NORM_PREPEND;
        SQ_TRY(copy_string(prepend, &step->text));
    } else if (strcmp(type, "Replace") == 0) {
        const char *pattern = string_member(json_object_get(n, "pattern"), "String");
        const char *content = string_member(n, "content");
        if (!pattern || !*pattern || !content)
            return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': normalizer Replace needs a \"pattern\" {\"String\": ...} and "
                                         "a \"content\" (regex patterns are not supported)", tok->path);
        step->kind = SQ_HF_NORM_REPLACE;
        SQ_TRY(copy_string(pattern, &step->text));
        SQ_TRY(copy_string(content, &step->replacement));
    } else if (strcmp(type, "NFC") == 0 || strcmp(type, "NFD") == 0 || strcmp(type, "NFKC") == 0 ||
               strcmp(type, "NFKD") == 0) {
        /* Unicode normal forms (UAX #15) as utf8proc computes them. */
        step->kind = SQ_HF_NORM_UNICODE;
        int compat = type[2] == 'K';
        int compose = type[compat ? 3 : 2] == 'C';
        step->unicode_options = UTF8PROC_STABLE | (compose ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) |
                                (compat ? UTF8PROC_COMPAT : 0);
    } else {
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': normalizer \"%s\" is not supported (squeeze supports Prepend, "
                                     "Replace with a string, NFC, NFD, NFKC, NFKD, and Sequence of those)", tok->path,
                       type);
    }
    tok->n_norm++;
cleanup:
    return st;
}

/* ------------------------------------------------------------------ pre-tokenizer */

/* A literal string as a PCRE2 pattern. */
static sq_status literal_pattern(const char *s, char **out)
{
    size_t n = strlen(s);
    char *p = malloc(2 * n + 1);
    if (!p)
        return sq_fail(SQ_ERR_RUN, "out of memory for a split pattern");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            p[o++] = '\\';
        p[o++] = (char)c;
    }
    p[o] = '\0';
    *out = p;
    return SQ_OK;
}

static sq_status pre_tokenizer_step(sq_hf_tokenizer *tok, const json_t *p, const char *type)
{
    sq_status st = SQ_OK;
    char *literal = NULL;
    char where[512];
    if (tok->n_pre == SQ_HF_MAX_STEPS)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': more than %d pre-tokenizer steps", tok->path, SQ_HF_MAX_STEPS);
    sq_hf_pre_step *step = &tok->pre[tok->n_pre];
    snprintf(where, sizeof(where), "tokenizer '%s' pre_tokenizer %s", tok->path, type);
    if (strcmp(type, "ByteLevel") == 0) {
        step->kind = SQ_HF_PRE_BYTE_LEVEL;
        step->add_prefix_space = bool_member(p, "add_prefix_space", 0);
        step->mode = SQ_SPLIT_MATCHES;
        if (bool_member(p, "use_regex", 1))
            SQ_TRY(sq_split_regex_compile(SQ_GPT2_SPLIT_PATTERN, where, &step->regex));
    } else if (strcmp(type, "Split") == 0) {
        json_t *pattern = json_object_get(p, "pattern");
        const char *regex = string_member(pattern, "Regex");
        const char *string = string_member(pattern, "String");
        const char *behavior = string_member(p, "behavior");
        step->kind = SQ_HF_PRE_SPLIT;
        if (bool_member(p, "invert", 0))
            SQ_FAIL(SQ_ERR_INPUT, "%s: \"invert\": true is not supported", where);
        if (behavior && strcmp(behavior, "Isolated") == 0)
            step->mode = SQ_SPLIT_ISOLATED;
        else if (behavior && strcmp(behavior, "Removed") == 0)
            step->mode = SQ_SPLIT_REMOVED;
        else
            SQ_FAIL(SQ_ERR_INPUT, "%s: behavior \"%s\" is not supported (Isolated or Removed)", where,
                    behavior ? behavior : "(none)");
        if (regex) {
            SQ_TRY(sq_split_regex_compile(regex, where, &step->regex));
        } else if (string && *string) {
            SQ_TRY(literal_pattern(string, &literal));
            SQ_TRY(sq_split_regex_compile(literal, where, &step->regex));
        } else {
            SQ_FAIL(SQ_ERR_INPUT, "%s: \"pattern\" needs a non-empty \"Regex\" or \"String\"", where);
        }
    } else {
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': pre_tokenizer \"%s\" is not supported (squeeze supports ByteLevel, "
                              "Split and Sequence of those)", tok->path, type);
    }
    tok->n_pre++;
cleanup:
    free(literal);
    return st;
}

/* ------------------------------------------------------------------ post-processor */

static sq_status template_ids(sq_hf_tokenizer *tok, const json_t *special_tokens, const char *name, int32_t **ids,
                              size_t *count)
{
    json_t *entry = json_object_get(special_tokens, name);
    json_t *list = json_object_get(entry, "ids");
    if (!json_is_array(list))
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': post_processor TemplateProcessing uses \"%s\" but its "
                                     "special_tokens do not give its ids", tok->path, name);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id >= tok->vocab_size)
            return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': post_processor special token \"%s\" has id %lld, outside "
                                         "the vocabulary [0, %d)", tok->path, name, (long long)id, tok->vocab_size);
        int32_t *grown = realloc(*ids, (*count + 1) * sizeof(int32_t));
        if (!grown)
            return sq_fail(SQ_ERR_RUN, "out of memory for post-processor ids");
        *ids = grown;
        (*ids)[(*count)++] = (int32_t)id;
    }
    return SQ_OK;
}

static sq_status post_processor_step(sq_hf_tokenizer *tok, const json_t *p, const char *type)
{
    sq_status st = SQ_OK;
    if (strcmp(type, "ByteLevel") == 0) {
        /* Only adjusts offsets, which squeeze does not report. */
    } else if (strcmp(type, "TemplateProcessing") == 0) {
        json_t *single = json_object_get(p, "single");
        json_t *special_tokens = json_object_get(p, "special_tokens");
        int seen_sequence = 0;
        size_t i;
        json_t *item;
        if (!json_is_array(single))
            return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': post_processor TemplateProcessing has no \"single\" list",
                           tok->path);
        json_array_foreach(single, i, item) {
            json_t *special = json_object_get(item, "SpecialToken");
            if (special) {
                const char *name = string_member(special, "id");
                if (!name)
                    return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': post_processor template item %zu has no token id",
                                   tok->path, i);
                if (seen_sequence)
                    SQ_TRY(template_ids(tok, special_tokens, name, &tok->suffix, &tok->n_suffix));
                else
                    SQ_TRY(template_ids(tok, special_tokens, name, &tok->prefix, &tok->n_prefix));
            } else if (json_object_get(item, "Sequence")) {
                seen_sequence = 1;
            }
        }
    } else {
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': post_processor \"%s\" is not supported (squeeze supports "
                                     "TemplateProcessing, ByteLevel and Sequence of those)", tok->path, type);
    }
cleanup:
    return st;
}

/* ------------------------------------------------------------------ decoder */

static sq_status decoder_step(sq_hf_tokenizer *tok, const json_t *d, const char *type)
{
    sq_status st = SQ_OK;
    if (tok->n_dec == SQ_HF_MAX_STEPS)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': more than %d decoder steps", tok->path, SQ_HF_MAX_STEPS);
    sq_hf_dec_step *step = &tok->dec[tok->n_dec];
    if (strcmp(type, "ByteLevel") == 0) {
        step->kind = SQ_HF_DEC_BYTE_LEVEL;
    } else if (strcmp(type, "ByteFallback") == 0) {
        step->kind = SQ_HF_DEC_BYTE_FALLBACK;
    } else if (strcmp(type, "Fuse") == 0) {
        step->kind = SQ_HF_DEC_FUSE;
    } else if (strcmp(type, "Replace") == 0) {
        const char *pattern = string_member(json_object_get(d, "pattern"), "String");
        const char *content = string_member(d, "content");
        if (!pattern || !*pattern || !content)
            return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': decoder Replace needs a \"pattern\" {\"String\": ...} and a "
                                         "\"content\"", tok->path);
        step->kind = SQ_HF_DEC_REPLACE;
        SQ_TRY(copy_string(pattern, &step->text));
        SQ_TRY(copy_string(content, &step->replacement));
    } else if (strcmp(type, "Strip") == 0) {
        const char *content = string_member(d, "content");
        step->kind = SQ_HF_DEC_STRIP;
        SQ_TRY(copy_string(content ? content : " ", &step->text));
        step->start = (int)json_integer_value(json_object_get(d, "start"));
        step->stop = (int)json_integer_value(json_object_get(d, "stop"));
    } else {
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': decoder \"%s\" is not supported (squeeze supports ByteLevel, "
                                     "Replace, ByteFallback, Fuse, Strip and Sequence of those)", tok->path, type);
    }
    tok->n_dec++;
cleanup:
    return st;
}

/* ------------------------------------------------------------------ sections */

/* The sections of tokenizer.json after the model, in the order they run: each is absent,
 * null, one step, or a "Sequence" of steps listed under list_key (Sequences nest). */
typedef struct {
    const char *key;      /* in the file, and in messages */
    const char *list_key; /* a Sequence's list of steps */
    sq_status (*step)(sq_hf_tokenizer *tok, const json_t *step, const char *type);
} hf_section;

static const hf_section sections[] = {
    {"normalizer", "normalizers", normalizer_step},
    {"pre_tokenizer", "pretokenizers", pre_tokenizer_step},
    {"post_processor", "processors", post_processor_step},
    {"decoder", "decoders", decoder_step},
};

static sq_status load_section(sq_hf_tokenizer *tok, const hf_section *section, const json_t *node)
{
    sq_status st = SQ_OK;
    if (!node || json_is_null(node))
        return SQ_OK;
    const char *type = type_of(node);
    if (strcmp(type, "Sequence") != 0)
        return section->step(tok, node, type);
    json_t *list = json_object_get(node, section->list_key);
    if (!json_is_array(list))
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s': %s Sequence has no \"%s\" list", tok->path, section->key,
                       section->list_key);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) SQ_TRY(load_section(tok, section, item));
cleanup:
    return st;
}

/* ------------------------------------------------------------------ entry points */

sq_status sq_hf_tokenizer_load(const char *path, json_t *root, sq_hf_tokenizer **out)
{
    sq_status st = SQ_OK;
    sq_hf_tokenizer *tok = NULL;
    *out = NULL;
    SQ_TRY(sq_alloc(&tok, 1, sizeof(*tok), "tokenizer"));
    memset(tok, 0, sizeof(*tok));
    SQ_TRY(copy_string(path, &tok->path));
    SQ_TRY(load_model(tok, root));
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        SQ_TRY(load_section(tok, &sections[i], json_object_get(root, sections[i].key)));
    sq_debug("tokenizer %s: BPE, %d ids (%d entries), %zu merges, %zu added tokens, %zu normalizer / %zu "
             "pre-tokenizer / %zu decoder steps, %zu + %zu template ids", path, tok->vocab_size, tok->entries,
             tok->merges.count, tok->n_added, tok->n_norm, tok->n_pre, tok->n_dec, tok->n_prefix, tok->n_suffix);
    *out = tok;
    tok = NULL;
cleanup:
    sq_hf_tokenizer_free(tok);
    return st;
}

void sq_hf_tokenizer_free(sq_hf_tokenizer *tok)
{
    if (!tok)
        return;
    sq_vocab_table_free(&tok->vocab);
    free(tok->token_text);
    free(tok->token_length);
    sq_merge_table_free(&tok->merges);
    for (size_t i = 0; i < tok->n_added; i++)
        free(tok->added[i].content);
    free(tok->added);
    for (size_t i = 0; i < SQ_HF_MAX_STEPS; i++) {
        free(tok->norm[i].text);
        free(tok->norm[i].replacement);
        sq_split_regex_free(tok->pre[i].regex);
        free(tok->dec[i].text);
        free(tok->dec[i].replacement);
    }
    free(tok->prefix);
    free(tok->suffix);
    free(tok->path);
    free(tok);
}

/* ------------------------------------------------------------------ registry row */

static int hf_recognise(const sq_tokenizer_source *src)
{
    return src->json && json_object_get(src->json, "model") != NULL;
}

static sq_status hf_load(const sq_tokenizer_source *src, void **state)
{
    return sq_hf_tokenizer_load(src->spec, src->json, (sq_hf_tokenizer **)state);
}

static void hf_free(void *state)
{
    sq_hf_tokenizer_free(state);
}

static void hf_info(const void *state, sq_tokenizer_info *info)
{
    const sq_hf_tokenizer *tok = state;
    info->kind = "bpe";
    info->vocab_size = tok->vocab_size;
    info->entries = tok->entries;
    info->whole_chars = 1;
    info->unk_id = tok->unk_id;
    if (tok->n_prefix > 0)
        info->bos_id = tok->prefix[tok->n_prefix - 1];
    if (tok->n_suffix > 0)
        info->eos_id = tok->suffix[0];
}

static sq_status hf_encode(const void *state, const char *text, size_t length, sq_token_buffer *out)
{
    return sq_hf_tokenizer_encode(state, text, length, out);
}

static sq_status hf_decode(const void *state, const int32_t *ids, size_t count, sq_byte_buffer *out)
{
    return sq_hf_tokenizer_decode(state, ids, count, out);
}

const sq_tokenizer_kind_ops sq_tokenizer_hf_bpe_kind = SQ_TOKENIZER_KIND("tokenizer.json (BPE)", hf);
