/* hash.c - SHA-256 through OpenSSL's EVP interface. */
#include "util/hash.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static void to_hex(const unsigned char *digest, unsigned length, char out[SQ_SHA256_HEX])
{
    for (unsigned i = 0; i < length && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

void sq_sha256_hex(const void *data, size_t size, char out[SQ_SHA256_HEX])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    EVP_Digest(data, size, digest, &length, EVP_sha256(), NULL);
    to_hex(digest, length, out);
}

sq_status sq_sha256_file(const char *path, char out[SQ_SHA256_HEX])
{
    sq_status st = SQ_OK;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned char buffer[1 << 16];
    unsigned length = 0;
    size_t got;
    EVP_MD_CTX *ctx = NULL;
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return sq_fail(SQ_ERR_INPUT, "cannot open %s: %s", path, strerror(errno));
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        SQ_FAIL(SQ_ERR_RUN, "cannot initialise SHA-256");
    while ((got = fread(buffer, 1, sizeof buffer, file)) > 0)
        EVP_DigestUpdate(ctx, buffer, got);
    if (ferror(file))
        SQ_FAIL(SQ_ERR_INPUT, "read error on %s", path);
    EVP_DigestFinal_ex(ctx, digest, &length);
    to_hex(digest, length, out);
cleanup:
    EVP_MD_CTX_free(ctx);
    fclose(file);
    return st;
}
