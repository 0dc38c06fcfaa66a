/* split_regex.c - pre-tokenizer regexes through PCRE2 (see split_regex.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenize/split_regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sq_split_regex {
    pcre2_code *code;
};

const char SQ_GPT2_SPLIT_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* ECMAScript's \s (ECMA-262 WhiteSpace and LineTerminator: TAB, VT, FF, SP,
 * NBSP, ZWNBSP, the Zs space separators, LF, CR, LS, PS).  PCRE2's Unicode \s
 * is the White_Space property instead, as in Rust's regex crate: it has U+0085
 * (NEXT LINE) and lacks U+FEFF. */
#define JS_SPACES                                                                                    \
    "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}" \
    "\\x{FEFF}"

/* Copies pattern with \s and \S spelled as ECMAScript's set.  Inside a
 * character class \s becomes the set's members; \S inside a class is left as
 * PCRE2 reads it (no tokenizer pattern we know uses it). */
static sq_status rewrite_spaces(const char *pattern, char **out)
{
    size_t n = strlen(pattern);
    size_t grow = sizeof(JS_SPACES) + 4;
    char *buf = malloc(n * grow + 1); /* each escape grows to at most `grow` characters */
    if (!buf)
        return sq_fail(SQ_ERR_RUN, "out of memory copying a %zu-byte regex", n);
    size_t o = 0;
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < n) {
            char e = pattern[i + 1];
            i++;
            if (e == 's' && in_class) {
                o += (size_t)sprintf(buf + o, "%s", JS_SPACES);
            } else if (e == 's') {
                o += (size_t)sprintf(buf + o, "[%s]", JS_SPACES);
            } else if (e == 'S' && !in_class) {
                o += (size_t)sprintf(buf + o, "[^%s]", JS_SPACES);
            } else {
                buf[o++] = '\\';
                buf[o++] = e;
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            buf[o++] = c;
            /* A ']' right after '[' or '[^' is a literal member. */
            if (i + 1 < n && pattern[i + 1] == '^')
                buf[o++] = pattern[++i];
            if (i + 1 < n && pattern[i + 1] == ']')
                buf[o++] = pattern[++i];
            continue;
        }
        if (c == ']' && in_class)
            in_class = 0;
        buf[o++] = c;
    }
    buf[o] = '\0';
    *out = buf;
    return SQ_OK;
}

sq_status sq_split_regex_compile(const char *pattern, const char *where, sq_split_regex **out)
{
    sq_status st = SQ_OK;
    sq_split_regex *re = NULL;
    char *rewritten = NULL;
    *out = NULL;
    SQ_TRY(rewrite_spaces(pattern, &rewritten));
    SQ_TRY(sq_alloc(&re, 1, sizeof(*re), "regex"));
    int error_code;
    PCRE2_SIZE error_offset;
    re->code = pcre2_compile((PCRE2_SPTR)rewritten, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &error_code,
                             &error_offset, NULL);
    if (!re->code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof(message));
        SQ_FAIL(SQ_ERR_INPUT, "%s: the regex \"%s\" does not compile (PCRE2: %s, near character %zu)", where, pattern,
                (const char *)message, (size_t)error_offset);
    }
    /* JIT is a speed-up only; without it pcre2_match interprets. */
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    *out = re;
    re = NULL;
cleanup:
    free(rewritten);
    sq_split_regex_free(re);
    return st;
}

void sq_split_regex_free(sq_split_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    free(re);
}

static size_t utf8_char_length(unsigned char b)
{
    return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

/* Mirrors transformers.js regexSplit() (matches and gaps) and
 * String.prototype.match with a global /u regex (matches only): the search
 * resumes after each match, one character further after an empty one. */
sq_status sq_split_regex_split(const sq_split_regex *re, sq_split_mode mode, const char *text, size_t length,
                               sq_piece_fn emit, void *ctx)
{
    sq_status st = SQ_OK;
    pcre2_match_data *match = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!match)
        return sq_fail(SQ_ERR_RUN, "out of memory for regex match data");
    size_t prev = 0, pos = 0;
    while (pos <= length) {
        int rc = pcre2_match(re->code, (PCRE2_SPTR)text, length, pos, PCRE2_NO_UTF_CHECK, match, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(rc, message, sizeof(message));
            SQ_FAIL(SQ_ERR_RUN, "regex match failed at byte %zu: %s", pos, (const char *)message);
        }
        PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
        size_t start = ovector[0], end = ovector[1];
        if (mode != SQ_SPLIT_MATCHES && start > prev)
            SQ_TRY(emit(ctx, text + prev, start - prev));
        if (mode != SQ_SPLIT_REMOVED && end > start)
            SQ_TRY(emit(ctx, text + start, end - start));
        prev = end;
        if (end > start)
            pos = end;
        else if (end < length)
            pos = end + utf8_char_length((unsigned char)text[end]);
        else
            break;
    }
    if (mode != SQ_SPLIT_MATCHES && prev < length)
        SQ_TRY(emit(ctx, text + prev, length - prev));
cleanup:
    pcre2_match_data_free(match);
    return st;
}
