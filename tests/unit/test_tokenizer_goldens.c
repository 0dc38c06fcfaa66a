/* test_tokenizer_goldens.c - tokenizer.json (BPE, byte-level and
 * SentencePiece-style) and llama2.c tokenizer.bin against their references.
 *
 * Goldens (tests/data/tokenizers/goldens/, origin in tests/data/README.md):
 * encodings of six texts by @lenml/tokenizers, the transformers.js tokenizers
 * (tests/reference/tokenizer_goldens.mjs), and by llama2.c's run.c
 * (tests/reference/llama2c_goldens.sh).  Each record is
 *   text <file> <ids> <sha256 of the reference's decoding>            or
 *   chunk <file> <byte offset> <byte length> <ids> <sha256 ...>
 * followed by a line of ids; squeeze must give the same ids, token for token,
 * and decode the ids to the same text.  Also: bad tokenizer files, and
 * tokenizers that do not fit a model.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/tokenizer.h"
#include "util/hash.h"
#include "util/status.h"
#include "test_support.h"
#include "tokenizer_support.h"

#define TOK_DATA SQ_TEST_DATA "/tokenizers"

/* tokenizer.json files are committed gzipped; gzip is part of every Debian system. */
static const char *gunzip(const char *gz_path, const char *name)
{
    const char *out = work_path(name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s' > '%s'", gz_path, out);
    ck_assert_int_eq(system(cmd), 0);
    return out;
}

/* Checks every record of a goldens file; returns the number of ids compared. */
static long check_goldens(const sq_tokenizer *tok, const char *goldens_gz, int expect_records)
{
    char cmd[1200], *line = NULL;
    size_t cap = 0;
    long total = 0;
    int records = 0;
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", goldens_gz);
    FILE *g = popen(cmd, "r");
    ck_assert_ptr_nonnull(g);
    while (getline(&line, &cap, g) > 0) {
        if (line[0] == '#')
            continue;
        char name[256], sha[80];
        long offset = 0, length = -1, count = 0;
        if (strncmp(line, "chunk ", 6) == 0)
            ck_assert_int_eq(sscanf(line, "chunk %255s %ld %ld %ld %79s", name, &offset, &length, &count, sha), 5);
        else
            ck_assert_int_eq(sscanf(line, "text %255s %ld %79s", name, &count, sha), 3);
        ck_assert_int_gt(getline(&line, &cap, g), 0);
        int32_t *want = malloc(sizeof(int32_t) * (size_t)(count + 1));
        char *p = line;
        for (long i = 0; i < count; i++)
            want[i] = (int32_t)strtol(p, &p, 10);

        char path[600];
        size_t size;
        snprintf(path, sizeof path, "%s/%s", SQ_TEST_DATA, name);
        char *text = read_whole_file(path, &size);
        if (length < 0)
            length = (long)size;
        ck_assert_int_le(offset + length, (long)size);
        int32_t *ids = NULL;
        size_t got = 0;
        sq_status st = sq_tokenizer_encode(tok, text + offset, (size_t)length, &ids, &got);
        ck_assert_msg(st == SQ_OK, "%s: %s", name, sq_error_message());
        for (long i = 0; i < count && i < (long)got; i++)
            ck_assert_msg(ids[i] == want[i], "%s (bytes %ld+%ld): id %ld is %d, the reference says %d", name, offset,
                          length, i, ids[i], want[i]);
        ck_assert_msg((long)got == count, "%s (bytes %ld+%ld): %zu ids, the reference has %ld", name, offset, length,
                      got, count);

        char *decoded = NULL, hex[SQ_SHA256_HEX];
        size_t decoded_length = 0;
        st = sq_tokenizer_decode(tok, want, (size_t)count, &decoded, &decoded_length);
        ck_assert_msg(st == SQ_OK, "decoding %s: %s", name, sq_error_message());
        sq_sha256_hex(decoded, decoded_length, hex);
        ck_assert_msg(strcmp(hex, sha) == 0, "%s (bytes %ld+%ld): decoded text differs from the reference's", name,
                      offset, length);
        free(decoded);
        free(ids);
        free(text);
        free(want);
        total += count;
        records++;
    }
    free(line);
    ck_assert_int_eq(pclose(g), 0);
    ck_assert_int_eq(records, expect_records);
    return total;
}

/* ------------------------------------------------------------------ goldens */

START_TEST(bpe512_matches_transformers_js)
{
    sq_tokenizer *tok = load_ok(SQ_TEST_DATA "/bundled/bpe512/tokenizer.json");
    ck_assert_str_eq(sq_tokenizer_kind(tok), "bpe");
    ck_assert_int_eq(sq_tokenizer_vocab_size(tok), 512);
    ck_assert_int_eq(check_goldens(tok, TOK_DATA "/goldens/bpe512.txt.gz", 6), 202881);
    sq_tokenizer_free(tok);
}
END_TEST

START_TEST(split_regex_pair_merges_and_bos_match_transformers_js)
{
    sq_tokenizer *tok = load_ok(TOK_DATA "/bpe512_split/tokenizer.json");
    sq_tokenizer_info info;
    sq_tokenizer_get_info(tok, &info);
    ck_assert_int_eq(info.bos_id, 511);
    ck_assert_int_eq(info.eos_id, -1);
    ck_assert_int_eq(check_goldens(tok, TOK_DATA "/goldens/bpe512_split.txt.gz", 6), 202887);
    sq_tokenizer_free(tok);
}
END_TEST

START_TEST(unicode_normal_forms_match_transformers_js)
{
    /* Qwen2/3's layout: NFC, then Qwen's Split regex; and NFKC inside a normalizer Sequence. */
    sq_tokenizer *tok = load_ok(TOK_DATA "/bpe512_nfc/tokenizer.json");
    ck_assert_int_eq(check_goldens(tok, TOK_DATA "/goldens/bpe512_nfc.txt.gz", 6), 202902);
    sq_tokenizer_free(tok);
    tok = load_ok(TOK_DATA "/bpe512_nfkc/tokenizer.json");
    ck_assert_int_eq(check_goldens(tok, TOK_DATA "/goldens/bpe512_nfkc.txt.gz", 4), 73758);
    sq_tokenizer_free(tok);
}
END_TEST

START_TEST(gpt2_matches_transformers_js)
{
    work_dir_make();
    sq_tokenizer *tok = load_ok(gunzip(TOK_DATA "/gpt2/tokenizer.json.gz", "gpt2.json"));
    ck_assert_int_eq(sq_tokenizer_vocab_size(tok), 50257);
    ck_assert_int_eq(check_goldens(tok, TOK_DATA "/goldens/gpt2.txt.gz", 6), 126515);
    sq_tokenizer_free(tok);
    work_dir_remove();
}
END_TEST

START_TEST(llama2_sentencepiece_style_matches_transformers_js)
{
    work_dir_make();
    sq_tokenizer *tok = load_ok(gunzip(TOK_DATA "/llama2/tokenizer.json.gz", "llama2.json"));
    sq_tokenizer_info info;
    sq_tokenizer_get_info(tok, &info);
    ck_assert_int_eq(info.vocab_size, 32000);
    ck_assert_int_eq(info.entries, 32000);
    ck_assert_int_eq(info.bos_id, 1);
    ck_assert_int_eq(check_goldens(tok, TOK_DATA "/goldens/llama2.txt.gz", 6), 122199);
    sq_tokenizer_free(tok);
    work_dir_remove();
}
END_TEST

START_TEST(llama2c_tokenizer_bin_matches_run_c)
{
    sq_tokenizer *tok = load_ok(TOK_DATA "/llama2c/tokenizer.bin");
    sq_tokenizer_info info;
    sq_tokenizer_get_info(tok, &info);
    ck_assert_str_eq(info.kind, "llama2c");
    ck_assert_int_eq(info.entries, 618);
    ck_assert_int_eq(info.bos_id, 1);
    ck_assert_int_eq(check_goldens(tok, TOK_DATA "/goldens/llama2c.txt.gz", 333), 204049);
    sq_tokenizer_free(tok);
}
END_TEST

/* Byte-level tokenizers lose nothing: any valid UTF-8 comes back byte for byte. */
START_TEST(byte_level_decode_round_trips)
{
    sq_tokenizer *tok = load_ok(SQ_TEST_DATA "/bundled/bpe512/tokenizer.json");
    const char text[] = "a\x01\x7f \t\r\n\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80 <|endoftext|>x";
    int32_t *ids = NULL;
    size_t count = 0, length = 0;
    char *back = NULL;
    ck_assert_int_eq(sq_tokenizer_encode(tok, text, sizeof(text) - 1, &ids, &count), SQ_OK);
    ck_assert_int_eq(ids[count - 2], 511); /* the special token, matched before the regex */
    ck_assert_int_eq(sq_tokenizer_decode(tok, ids, count, &back, &length), SQ_OK);
    ck_assert_uint_eq(length, sizeof(text) - 1);
    ck_assert_mem_eq(back, text, length);
    free(back);
    int32_t bad = 512;
    ck_assert_int_eq(sq_tokenizer_decode(tok, &bad, 1, &back, &length), SQ_ERR_INPUT);
    assert_message_has("id 512");
    free(ids);
    sq_tokenizer_free(tok);
}
END_TEST

START_TEST(invalid_utf8_text_is_refused)
{
    assert_encode_refused(SQ_TEST_DATA "/bundled/bpe512/tokenizer.json", "abc\xff", 4, "byte 3");
}
END_TEST

/* ------------------------------------------------------------------ bad files */

static void expect_refused(const char *name, const char *message)
{
    char path[600];
    sq_tokenizer *tok = NULL;
    snprintf(path, sizeof path, "%s/broken/%s", TOK_DATA, name);
    ck_assert_msg(sq_tokenizer_load(path, &tok) == SQ_ERR_INPUT, "%s was not refused as bad input", name);
    ck_assert_ptr_null(tok);
    assert_message_has(path);
    assert_message_has(message);
}

START_TEST(bad_tokenizer_files_are_input_errors)
{
    expect_refused("not_json.json", "not valid JSON at line 3");
    expect_refused("unknown_model.json", "model type \"Unigram\" is not supported");
    expect_refused("merge_unknown_token.json", "merge 1 (\"ab c\") names \"c\", which is not in the vocabulary");
    expect_refused("merge_result_missing.json", "makes \"ab\", which is not in the vocabulary");
    expect_refused("duplicate_id.json", "id 1 is given to two tokens");
    expect_refused("bad_regex.json", "does not compile");
    expect_refused("unsupported_normalizer.json", "normalizer \"BertNormalizer\" is not supported");
    expect_refused("declared_size.json", "declares \"vocab_size\": 2 but token_to_id lists 3 tokens");
    expect_refused("truncated_tokenizer.bin", "a token's bytes run past the end of the file");
}
END_TEST

/* ------------------------------------------------------------------ tokenizer vs model */

START_TEST(tokenizer_that_does_not_fit_the_model_is_refused)
{
    sq_tokenizer *tok = load_ok(SQ_TEST_DATA "/bundled/bpe512/tokenizer.json");
    ck_assert_int_eq(sq_tokenizer_check_model(tok, 512, "m.safetensors"), SQ_OK);
    ck_assert_int_eq(sq_tokenizer_check_model(tok, 1024, "m.safetensors"), SQ_OK); /* padded embeddings are fine */
    ck_assert_int_eq(sq_tokenizer_check_model(tok, 256, "m.safetensors"), SQ_ERR_INPUT);
    assert_message_has("bpe512/tokenizer.json' has 512 ids");
    assert_message_has("m.safetensors's embedding has 256 rows");
    sq_tokenizer_free(tok);

    /* llama2.c reads exactly vocab_size records: any other count is the wrong file. */
    tok = load_ok(TOK_DATA "/llama2c/tokenizer.bin");
    ck_assert_int_eq(sq_tokenizer_check_model(tok, 618, "model.bin"), SQ_OK);
    ck_assert_int_eq(sq_tokenizer_check_model(tok, 32000, "model.bin"), SQ_ERR_INPUT);
    assert_message_has("lists 618 tokens but model model.bin declares a vocabulary of 32000");
    sq_tokenizer_free(tok);
}
END_TEST

START_TEST(kinds_are_told_apart_by_content)
{
    /* The same bytes under a misleading name load as what they are. */
    work_dir_make();
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", TOK_DATA "/llama2c/tokenizer.bin", work_path("tokenizer.json"));
    ck_assert_int_eq(system(cmd), 0);
    sq_tokenizer *tok = load_ok(work_path("tokenizer.json"));
    ck_assert_str_eq(sq_tokenizer_kind(tok), "llama2c");
    sq_tokenizer_free(tok);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", SQ_TEST_DATA "/bundled/bpe512/tokenizer.json",
             work_path("tokenizer.bin"));
    ck_assert_int_eq(system(cmd), 0);
    tok = load_ok(work_path("tokenizer.bin"));
    ck_assert_str_eq(sq_tokenizer_kind(tok), "bpe");
    sq_tokenizer_free(tok);
    work_dir_remove();
}
END_TEST

int main(void)
{
    const sq_test_case cases[] = {
        {.name = "goldens", .timeout = 120,
         .tests = SQ_TESTS(bpe512_matches_transformers_js, split_regex_pair_merges_and_bos_match_transformers_js,
                           unicode_normal_forms_match_transformers_js, gpt2_matches_transformers_js,
                           llama2_sentencepiece_style_matches_transformers_js, llama2c_tokenizer_bin_matches_run_c,
                           byte_level_decode_round_trips, invalid_utf8_text_is_refused)},
        {.name = "bad input", .tests = SQ_TESTS(bad_tokenizer_files_are_input_errors,
                                                tokenizer_that_does_not_fit_the_model_is_refused,
                                                kinds_are_told_apart_by_content)},
    };
    return sq_test_run(sq_test_suite("tokenizer goldens", cases, sizeof cases / sizeof *cases));
}
