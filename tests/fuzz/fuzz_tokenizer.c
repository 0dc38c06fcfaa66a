/* fuzz_tokenizer.c - the tokenizer files and the encoders (tokenize/).
 *
 * The first byte picks what the rest is:
 *   0..127    a tokenizer file of any kind sq_tokenizer_load recognises (Hugging
 *             Face tokenizer.json, llama2.c tokenizer.bin, Itera-Lite JSON),
 *             loaded, then asked to encode a fixed text
 *   128..255  text, encoded by the word, the char and the bytes tokenizers of the
 *             fixtures (any bytes: invalid UTF-8 must be an error naming the offset)
 * Every id produced must lie in [0, vocab size).
 * Seeds: tests/fuzz/seeds/tokenizer/ (the Itera-Lite tokenizers, the bundled BPE
 * tokenizer.json, text); dictionary: dict/tokenizer.dict.
 */
#include "fuzz_support.h"
#include "tokenize/tokenizer.h"

static const char sample[] = "Once upon a time, there was a little Girl.\tShe said \xc3\xa9t\xc3\xa9 \xe2\x80\x83 ok\n";

static void encode_checked(const sq_tokenizer *tok, const char *text, size_t length)
{
    int32_t *ids = NULL;
    size_t count = 0;
    sq_status st = sq_tokenizer_encode(tok, text, length, &ids, &count);
    if (st == SQ_OK) {
        int vocab = sq_tokenizer_vocab_size(tok);
        for (size_t i = 0; i < count; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                abort();
        if (count > length + 1) /* never more ids than bytes */
            abort();
    }
    free(ids);
    fuzz_check_status(st);
}

static sq_tokenizer *fixture(const char *spec)
{
    sq_tokenizer *tok = NULL;
    if (sq_tokenizer_load(spec, &tok) != SQ_OK) {
        fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s\n", spec, sq_error_message());
        abort();
    }
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sq_tokenizer *word, *chars, *bytes;
    fuzz_quiet();
    if (size == 0)
        return 0;
    if (data[0] < 128) {
        char path[512];
        sq_tokenizer *tok = NULL;
        sq_status st;
        fuzz_write_file("tok", ".json", data + 1, size - 1, path, sizeof path);
        st = sq_tokenizer_load(path, &tok);
        if (st == SQ_OK) {
            encode_checked(tok, sample, sizeof sample - 1);
            sq_tokenizer_free(tok);
        }
        fuzz_check_status(st);
        return 0;
    }
    if (word == NULL) {
        word = fixture(SQ_TEST_DATA "/itera-lite/tokenizer_quality.json");
        chars = fixture(SQ_TEST_DATA "/itera-lite/tokenizer_tiny.json");
        bytes = fixture("bytes");
    }
    encode_checked(word, (const char *)data + 1, size - 1);
    encode_checked(chars, (const char *)data + 1, size - 1);
    encode_checked(bytes, (const char *)data + 1, size - 1);
    return 0;
}
