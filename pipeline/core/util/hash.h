/* hash.h - SHA-256 (OpenSSL's libcrypto) of files and memory, as hex. */
#ifndef SQ_UTIL_HASH_H
#define SQ_UTIL_HASH_H

#include <stddef.h>

#include "util/status.h"

#define SQ_SHA256_HEX 65 /* 64 hex digits and the terminator */

void sq_sha256_hex(const void *data, size_t size, char out[SQ_SHA256_HEX]);
sq_status sq_sha256_file(const char *path, char out[SQ_SHA256_HEX]);

#endif
