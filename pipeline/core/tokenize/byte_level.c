/* byte_level.c - GPT-2's byte-to-unicode map (see byte_level.h). */
#include "tokenize/byte_level.h"

/* Mirrors bytes_to_unicode() in openai/gpt-2 src/encoder.py: the bytes that
 * are printable Latin-1 keep their code point; the rest get 256 + n in
 * increasing byte order. */
static int printable(unsigned b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t sq_byte_level_char(unsigned char b)
{
    if (printable(b))
        return b;
    uint32_t n = 0;
    for (unsigned c = 0; c < b; c++)
        n += !printable(c);
    return 256 + n;
}

int sq_byte_level_byte(uint32_t cp)
{
    if (cp < 256)
        return printable(cp) ? (int)cp : -1;
    uint32_t n = cp - 256;
    for (unsigned c = 0; c < 256; c++) {
        if (!printable(c) && n-- == 0)
            return (int)c;
    }
    return -1;
}
