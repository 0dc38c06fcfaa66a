/* utf8.c - strict UTF-8 decoding (RFC 3629, as CPython's 'utf-8' codec
 * accepts it) and str.split()'s whitespace set. */
#include "tokenize/utf8.h"

int sq_utf8_decode(const unsigned char *text, size_t length, uint32_t *code_point)
{
    unsigned char b0 = text[0];
    uint32_t cp;
    int len;
    if (b0 < 0x80) {
        *code_point = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) { /* C0/C1 would be overlong two-byte forms */
        len = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        cp = b0 & 0x07;
    } else {
        return 0;
    }
    if ((size_t)len > length)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((text[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (text[i] & 0x3F);
    }
    /* Overlong three/four-byte forms, UTF-16 surrogates, beyond Unicode. */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF)
        return 0;
    *code_point = cp;
    return len;
}

int sq_py_isspace(uint32_t c)
{
    /* CPython Objects/unicodetype_db.h _PyUnicode_IsWhitespace: bidirectional
     * types WS, B, S and category Zs. */
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

size_t sq_utf8_validate(const unsigned char *text, size_t length, size_t *chars)
{
    size_t pos = 0, count = 0;
    while (pos < length) {
        uint32_t cp;
        int len = sq_utf8_decode(text + pos, length - pos, &cp);
        if (len == 0)
            break;
        pos += (size_t)len;
        count++;
    }
    if (chars)
        *chars = count;
    return pos;
}
