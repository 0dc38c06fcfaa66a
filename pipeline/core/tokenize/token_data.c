/* token_data.c - the tokens of a data spec: text through a tokenizer, or
 * pre-tokenized ids (nanoGPT-style uint16/uint32 .bin, or an HDF5 dataset).
 *
 * The [start, end) fraction follows Itera-Lite's split (docs/itera-lite.md
 * 2.2): `text[int(0.9 * len(text)):]` on the decoded str, i.e. by characters
 * (code points) of the file as Python reads it: open(path, encoding='utf-8')
 * with universal newlines, so "\r\n" and a lone "\r" are one "\n".  With the
 * bytes tokenizer the file is taken as raw bytes and the fraction is by bytes;
 * so it is with tokenizer.json and tokenizer.bin tokenizers (they see the bytes
 * as they are, as transformers.js and llama2.c do), except that a cut that
 * would split a UTF-8 character moves forward to the character's end.
 * For pre-tokenized files the fraction is by tokens.  Cut points are
 * int(fraction * length), the same double product Python computes.
 */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "tokenize/tokenizer.h"
#include "tokenize/utf8.h"

static sq_status read_file(const char *path, unsigned char **data, size_t *size)
{
    sq_status st = SQ_OK;
    FILE *f = fopen(path, "rb");
    long length;
    *data = NULL;
    if (!f)
        return sq_fail(SQ_ERR_INPUT, "cannot open data file '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (length = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot determine the size of data file '%s'", path);
    SQ_TRY(sq_alloc(data, (size_t)length + 1, 1, path));
    if (length > 0 && fread(*data, 1, (size_t)length, f) != (size_t)length)
        SQ_FAIL(SQ_ERR_INPUT, "cannot read data file '%s': %s", path, strerror(errno));
    *size = (size_t)length;
cleanup:
    fclose(f);
    if (st != SQ_OK) {
        free(*data);
        *data = NULL;
    }
    return st;
}

/* Python's int(fraction * n) for 0 <= fraction <= 1. */
static size_t cut_point(double fraction, size_t n)
{
    return (size_t)(fraction * (double)n);
}

/* Universal newlines, in place: "\r\n" -> "\n", "\r" -> "\n". */
static size_t translate_newlines(unsigned char *text, size_t length)
{
    size_t out = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] == '\r') {
            text[out++] = '\n';
            if (i + 1 < length && text[i + 1] == '\n')
                i++;
        } else {
            text[out++] = text[i];
        }
    }
    return out;
}

/* Byte offset of code point number `index` in valid UTF-8 text. */
static size_t byte_offset_of_char(const unsigned char *text, size_t length, size_t index)
{
    size_t pos = 0;
    for (size_t c = 0; c < index && pos < length; c++) {
        uint32_t cp;
        pos += (size_t)sq_utf8_decode(text + pos, length - pos, &cp);
    }
    return pos;
}

static sq_status load_text(const sq_data_spec *spec, const sq_tokenizer *tokenizer, int32_t **tokens,
                           size_t *count, size_t *first_unit)
{
    sq_status st = SQ_OK;
    unsigned char *text = NULL;
    size_t length = 0, begin, end;
    if (!tokenizer)
        return sq_fail(SQ_ERR_USAGE, "data '%s' is text but no tokenizer was given (data.tokenizer: bytes or a "
                                     "tokenizer file)", spec->path);
    SQ_TRY(read_file(spec->path, &text, &length));
    sq_tokenizer_info info;
    sq_tokenizer_get_info(tokenizer, &info);
    if (!info.python_text) {
        begin = cut_point(spec->start, length);
        end = cut_point(spec->end, length);
        if (info.whole_chars) {
            while (begin < length && (text[begin] & 0xC0) == 0x80)
                begin++;
            while (end < length && (text[end] & 0xC0) == 0x80)
                end++;
        }
        *first_unit = begin;
    } else {
        size_t chars;
        length = translate_newlines(text, length);
        size_t valid = sq_utf8_validate(text, length, &chars);
        if (valid != length)
            SQ_FAIL(SQ_ERR_INPUT, "data file '%s' is not valid UTF-8 at byte %zu (after newline translation); "
                    "convert it with iconv or use the bytes tokenizer", spec->path, valid);
        size_t first = cut_point(spec->start, chars), last = cut_point(spec->end, chars);
        begin = byte_offset_of_char(text, length, first);
        end = begin + byte_offset_of_char(text + begin, length - begin, last - first);
        *first_unit = first;
    }
    st = sq_tokenizer_encode(tokenizer, (const char *)text + begin, end - begin, tokens, count);
    if (st != SQ_OK)
        sq_error_context("data file '%s'", spec->path);
cleanup:
    free(text);
    return st;
}

static sq_status load_bin(const sq_data_spec *spec, int width, int32_t **tokens, size_t *count, size_t *first_unit)
{
    sq_status st = SQ_OK;
    unsigned char *raw = NULL;
    size_t size = 0;
    SQ_TRY(read_file(spec->path, &raw, &size));
    if (size % (size_t)width != 0)
        SQ_FAIL(SQ_ERR_INPUT, "token file '%s' has %zu bytes, not a multiple of %d: is it really %s?", spec->path,
                size, width, width == 2 ? "uint16 (format u16)" : "uint32 (format u32)");
    size_t n = size / (size_t)width;
    size_t begin = cut_point(spec->start, n), end = cut_point(spec->end, n);
    SQ_TRY(sq_alloc(tokens, end - begin, sizeof(int32_t), "tokens"));
    for (size_t i = begin; i < end; i++) {
        const unsigned char *p = raw + i * (size_t)width; /* little endian, as numpy's tofile on x86 */
        uint32_t v = width == 2 ? (uint32_t)(p[0] | (p[1] << 8))
                                : (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                                      ((uint32_t)p[3] << 24);
        if (v > INT32_MAX) {
            free(*tokens);
            *tokens = NULL;
            SQ_FAIL(SQ_ERR_INPUT, "token file '%s': token at position %zu is %u, beyond any vocabulary", spec->path,
                    i, v);
        }
        (*tokens)[i - begin] = (int32_t)v;
    }
    *count = end - begin;
    *first_unit = begin;
cleanup:
    free(raw);
    return st;
}

static sq_status load_hdf5(const sq_data_spec *spec, int32_t **tokens, size_t *count, size_t *first_unit)
{
    sq_status st = SQ_OK;
    const char *name = spec->dataset && *spec->dataset ? spec->dataset : "tokens";
    hid_t file = -1, dataset = -1, type = -1;
    int64_t *values = NULL;
    int ndim = 0;
    uint64_t dims[8] = {0};
    file = H5Fopen(spec->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot open '%s' as HDF5", spec->path);
    if (!sq_h5_exists(file, name))
        SQ_FAIL(SQ_ERR_INPUT, "HDF5 file '%s' has no dataset '%s' (set data.dataset)", spec->path, name);
    dataset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dataset < 0 || (type = H5Dget_type(dataset)) < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot open dataset '%s' in '%s'", name, spec->path);
    if (H5Tget_class(type) != H5T_INTEGER)
        SQ_FAIL(SQ_ERR_INPUT, "dataset '%s' in '%s' does not hold integers: token ids must be an integer type",
                name, spec->path);
    if (H5Tget_sign(type) == H5T_SGN_NONE && H5Tget_size(type) >= 8)
        SQ_FAIL(SQ_ERR_INPUT, "dataset '%s' in '%s' is uint64: store token ids as a type of at most 32 bits",
                name, spec->path);
    SQ_TRY(sq_h5_read_dataset(file, name, H5T_NATIVE_INT64, (void **)&values, &ndim, dims));
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= dims[i]; /* any shape, read in row-major order */
    size_t begin = cut_point(spec->start, n), end = cut_point(spec->end, n);
    SQ_TRY(sq_alloc(tokens, end - begin, sizeof(int32_t), "tokens"));
    for (size_t i = begin; i < end; i++) {
        if (values[i] < 0 || values[i] > INT32_MAX) {
            free(*tokens);
            *tokens = NULL;
            SQ_FAIL(SQ_ERR_INPUT, "dataset '%s' in '%s': token at position %zu is %lld, not a valid id", name,
                    spec->path, i, (long long)values[i]);
        }
        (*tokens)[i - begin] = (int32_t)values[i];
    }
    *count = end - begin;
    *first_unit = begin;
cleanup:
    free(values);
    sq_h5_close(type);
    sq_h5_close(dataset);
    sq_h5_close(file);
    return st;
}

sq_status sq_data_load_tokens(const sq_data_spec *spec, const sq_tokenizer *tokenizer, int vocab_size,
                              int32_t **tokens, size_t *count)
{
    sq_status st = SQ_OK;
    sq_data_spec s = *spec;
    size_t first_unit = 0; /* where the selection starts in the file: character, byte or token */
    const char *unit;
    *tokens = NULL;
    *count = 0;
    if (!s.path || !*s.path)
        return sq_fail(SQ_ERR_USAGE, "no data file given (data.path)");
    if (!s.format || !*s.format)
        s.format = "text";
    if (s.start == 0.0 && s.end == 0.0)
        s.end = 1.0; /* a zeroed spec means the whole file */
    if (!(s.start >= 0.0 && s.start < s.end && s.end <= 1.0))
        return sq_fail(SQ_ERR_USAGE, "data range [%g, %g) of '%s' is not a fraction range 0 <= start < end <= 1",
                       s.start, s.end, s.path);

    if (strcmp(s.format, "text") == 0) {
        SQ_TRY(load_text(&s, tokenizer, tokens, count, &first_unit));
        sq_tokenizer_info info;
        sq_tokenizer_get_info(tokenizer, &info);
        unit = info.python_text ? "character" : "byte";
    } else if (strcmp(s.format, "u16") == 0 || strcmp(s.format, "u32") == 0) {
        SQ_TRY(load_bin(&s, s.format[1] == '1' ? 2 : 4, tokens, count, &first_unit));
        unit = "token";
    } else if (strcmp(s.format, "hdf5") == 0) {
        SQ_TRY(load_hdf5(&s, tokens, count, &first_unit));
        unit = "token";
    } else {
        return sq_fail(SQ_ERR_USAGE, "unknown data format '%s' for '%s' (text, u16, u32 or hdf5)", s.format,
                       s.path);
    }

    if (*count == 0)
        SQ_FAIL(SQ_ERR_INPUT, "data '%s' range [%g, %g) holds no tokens", s.path, s.start, s.end);
    if (vocab_size > 0) {
        for (size_t i = 0; i < *count; i++) {
            if ((*tokens)[i] >= vocab_size) {
                if (strcmp(unit, "token") == 0)
                    SQ_FAIL(SQ_ERR_INPUT, "data '%s': token id %d at position %zu (of the file) is outside the "
                            "model's vocabulary [0, %d): wrong tokenizer or model?", s.path, (*tokens)[i],
                            first_unit + i, vocab_size);
                SQ_FAIL(SQ_ERR_INPUT, "data '%s': token id %d at position %zu of the selection (which starts at "
                        "%s %zu of the file) is outside the model's vocabulary [0, %d): the tokenizer does not "
                        "match the model", s.path, (*tokens)[i], i, unit, first_unit, vocab_size);
            }
        }
    }
cleanup:
    if (st != SQ_OK) {
        free(*tokens);
        *tokens = NULL;
        *count = 0;
    }
    return st;
}
