/* tokenizer.c - the tokenizer kinds squeeze knows, behind one interface.
 *
 * One row per kind in `kinds` below; the first kind that recognises a spec
 * loads it.  Files are told apart by content, not by name: a llama2.c
 * tokenizer.bin parses as its records exactly to the end of the file, JSON
 * files are parsed once and each JSON kind looks at the keys.
 */
#include "tokenize/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/tokenizer_kind.h"

/* The first kind whose recognise() says yes loads the spec. */
static const sq_tokenizer_kind_ops *const kinds[] = {
    &sq_tokenizer_bytes_kind,
    &sq_tokenizer_llama2c_kind,
    &sq_tokenizer_hf_bpe_kind,
    &sq_tokenizer_itera_kind,
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/* Tokenizer files larger than this are not tokenizers (Llama 3's tokenizer.json is 9 MB). */
#define SQ_TOKENIZER_MAX_FILE (1u << 30)

struct sq_tokenizer {
    const sq_tokenizer_kind_ops *ops;
    void *state;
    sq_tokenizer_info info;
    char *spec;
};

/* ------------------------------------------------------------------ loading */

static sq_status read_whole_file(const char *path, unsigned char **bytes, size_t *size)
{
    sq_status st = SQ_OK;
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    *bytes = NULL;
    *size = 0;
    if (!f)
        return sq_fail(SQ_ERR_INPUT, "cannot open tokenizer '%s': %s (give \"bytes\" or the path of a tokenizer file: "
                                     "tokenizer.json, tokenizer.bin or an Itera-Lite JSON tokenizer)", path,
                       strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s' is not a regular file", path);
    long length = ftell(f);
    if (length < 0 || (unsigned long)length > SQ_TOKENIZER_MAX_FILE)
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s' is not a regular file of at most 1 GiB", path);
    rewind(f);
    SQ_TRY(sq_alloc(&buf, (size_t)length + 1, 1, "tokenizer file"));
    if (fread(buf, 1, (size_t)length, f) != (size_t)length)
        SQ_FAIL(SQ_ERR_INPUT, "cannot read tokenizer '%s': %s", path, strerror(errno));
    buf[length] = '\0';
    *bytes = buf;
    *size = (size_t)length;
    buf = NULL;
cleanup:
    free(buf);
    fclose(f);
    return st;
}

static int looks_like_json(const unsigned char *bytes, size_t size)
{
    size_t i = 0;
    if (size >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF)
        i = 3; /* UTF-8 byte order mark */
    while (i < size && (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\n' || bytes[i] == '\r'))
        i++;
    return i < size && (bytes[i] == '{' || bytes[i] == '[');
}

sq_status sq_tokenizer_load(const char *spec, sq_tokenizer **out)
{
    sq_status st = SQ_OK;
    sq_tokenizer *tok = NULL;
    unsigned char *bytes = NULL;
    sq_tokenizer_source src = {.spec = spec};
    *out = NULL;
    if (!spec || !*spec)
        return sq_fail(SQ_ERR_USAGE, "no tokenizer given: use \"bytes\" or the path of a tokenizer file");
    if (strcmp(spec, "bytes") != 0) {
        SQ_TRY(read_whole_file(spec, &bytes, &src.size));
        src.bytes = bytes;
    }
    /* Parse JSON once for the JSON kinds.  A tokenizer.bin whose first byte
     * happens to be '{' (max_token_length 123) still goes to llama2.c. */
    if (bytes && looks_like_json(bytes, src.size) && !sq_tokenizer_llama2c_kind.recognise(&src)) {
        json_error_t error;
        src.json = json_loadb((const char *)bytes, src.size, 0, &error);
        if (!src.json)
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s' is not valid JSON at line %d column %d: %s", spec, error.line,
                    error.column, error.text);
        if (!json_is_object(src.json))
            SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s': the top level is not a JSON object", spec);
    }
    const sq_tokenizer_kind_ops *ops = NULL;
    for (size_t i = 0; i < N_KINDS && !ops; i++)
        if (kinds[i]->recognise(&src))
            ops = kinds[i];
    /* A file that is not JSON can only be a tokenizer.bin: loading it as one
     * says where its records go wrong. */
    if (!ops && bytes && !src.json)
        ops = &sq_tokenizer_llama2c_kind;
    if (!ops && src.json)
        SQ_FAIL(SQ_ERR_INPUT, "tokenizer '%s' is JSON but neither a Hugging Face tokenizer.json (no \"model\") nor an "
                "Itera-Lite tokenizer (no \"token_to_id\" or \"token2id\")", spec);
    if (!ops)
        SQ_FAIL(SQ_ERR_USAGE, "tokenizer '%s' is not a tokenizer file: give \"bytes\" or the path of one", spec);
    SQ_TRY(sq_alloc(&tok, 1, sizeof(*tok), "tokenizer"));
    memset(tok, 0, sizeof(*tok));
    tok->ops = ops;
    tok->spec = strdup(spec);
    if (!tok->spec)
        SQ_FAIL(SQ_ERR_RUN, "out of memory");
    SQ_TRY(ops->load(&src, &tok->state));
    tok->info.bos_id = tok->info.eos_id = tok->info.unk_id = -1;
    ops->info(tok->state, &tok->info);
    tok->info.spec = tok->spec;
    *out = tok;
    tok = NULL;
cleanup:
    json_decref(src.json);
    free(bytes);
    sq_tokenizer_free(tok);
    return st;
}

void sq_tokenizer_free(sq_tokenizer *tokenizer)
{
    if (!tokenizer)
        return;
    if (tokenizer->state)
        tokenizer->ops->free(tokenizer->state);
    free(tokenizer->spec);
    free(tokenizer);
}

/* ------------------------------------------------------------------ facts */

int sq_tokenizer_vocab_size(const sq_tokenizer *tokenizer)
{
    return tokenizer->info.vocab_size;
}

const char *sq_tokenizer_kind(const sq_tokenizer *tokenizer)
{
    return tokenizer->info.kind;
}

void sq_tokenizer_get_info(const sq_tokenizer *tokenizer, sq_tokenizer_info *info)
{
    *info = tokenizer->info;
}

sq_status sq_tokenizer_check_model(const sq_tokenizer *tokenizer, int model_rows, const char *model)
{
    const sq_tokenizer_info *i = &tokenizer->info;
    if (i->exact_rows && i->entries != model_rows)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s' lists %d tokens but model %s declares a vocabulary of %d: "
                                     "llama2.c reads exactly vocab_size tokens from tokenizer.bin, so this is not "
                                     "the model's tokenizer", i->spec, i->entries, model, model_rows);
    if (i->vocab_size > model_rows)
        return sq_fail(SQ_ERR_INPUT, "tokenizer '%s' has %d ids (0..%d) but model %s's embedding has %d rows: ids at "
                                     "or above %d would index past it; use the tokenizer the model was trained with",
                       i->spec, i->vocab_size, i->vocab_size - 1, model, model_rows, model_rows);
    return SQ_OK;
}

/* ------------------------------------------------------------------ encoding */

sq_status sq_tokenizer_encode(const sq_tokenizer *tokenizer, const char *text, size_t length, int32_t **tokens,
                              size_t *count)
{
    sq_token_buffer buf = {0};
    sq_status st = tokenizer->ops->encode(tokenizer->state, text, length, &buf);
    if (st != SQ_OK) {
        free(buf.ids);
        buf = (sq_token_buffer){0};
    }
    *tokens = buf.ids;
    *count = buf.count;
    return st;
}

/* On success the text is never NULL, even when empty. */
sq_status sq_tokenizer_decode(const sq_tokenizer *tokenizer, const int32_t *ids, size_t count, char **text,
                              size_t *length)
{
    sq_byte_buffer buf = {0};
    sq_status st = tokenizer->ops->decode(tokenizer->state, ids, count, &buf);
    if (st == SQ_OK && !buf.bytes)
        st = sq_byte_buffer_append(&buf, "", 0);
    if (st != SQ_OK) {
        free(buf.bytes);
        buf = (sq_byte_buffer){0};
    }
    *text = buf.bytes;
    *length = buf.length;
    return st;
}
