/* fuzz_support.h - what every fuzz harness shares.
 *
 * A harness defines LLVMFuzzerTestOneInput(data, size) and nothing else; it is
 * linked either with libFuzzer (clang, -fsanitize=fuzzer, SQUEEZE_FUZZ=ON) or
 * with replay_main.c, which feeds it every file of the folders it is given
 * (tests/fuzz/regressions/<harness>/ and the seed corpora) in the normal build.
 *
 * The readers take paths, so an input is written to a per-process file under
 * $TMPDIR (or /tmp) and read back; the file is reused by every run.
 */
#ifndef SQ_FUZZ_SUPPORT_H
#define SQ_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modelio/loader.h"
#include "util/log.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Errors are the expected outcome of most inputs: keep the logs quiet. */
static inline void fuzz_quiet(void)
{
    static int done;
    if (!done) {
        sq_log_set_level(SQ_LOG_ERROR);
        done = 1;
    }
}

/* Writes data to "<tmp>/sqfuzz-<pid>-<tag><suffix>" and returns that path (static buffer per tag); logs quiet. */
static inline const char *fuzz_write_file(const char *tag, const char *suffix, const uint8_t *data, size_t size,
                                          char *path, size_t path_size)
{
    const char *tmp = getenv("TMPDIR");
    FILE *f;
    fuzz_quiet();
    snprintf(path, path_size, "%s/sqfuzz-%ld-%s%s", tmp && *tmp ? tmp : "/tmp", (long)getpid(), tag, suffix);
    f = fopen(path, "wb");
    if (f == NULL)
        abort(); /* the harness cannot work without its scratch file */
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    return path;
}

/* The input as a NUL-terminated string (the config readers take text); NULL when out of memory; logs quiet. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    fuzz_quiet();
    if (text != NULL) {
        memcpy(text, data, size);
        text[size] = '\0';
    }
    return text;
}

/* An error must carry a message: a reader that fails silently is a bug too. */
static inline void fuzz_check_status(sq_status st)
{
    if (st != SQ_OK && sq_error_message()[0] == '\0')
        abort();
    if (st != SQ_OK && st != SQ_ERR_USAGE && st != SQ_ERR_INPUT && st != SQ_ERR_RUN)
        abort();
    sq_error_clear();
}

/* The file as a runnable model (modelio/loader.h), any format: loads or fails with a message. */
static inline void fuzz_check_model_load(const char *path)
{
    sq_loaded_model model;
    memset(&model, 0, sizeof model);
    sq_status st = sq_model_load(path, NULL, NULL, &model);
    if (st == SQ_OK)
        sq_loaded_model_free(&model);
    fuzz_check_status(st);
    if (st != SQ_OK)
        return;
    /* and as evaluate loads it: quantized tensors kept in their stored bytes */
    st = sq_model_load_packed(path, NULL, NULL, &model);
    if (st == SQ_OK)
        sq_loaded_model_free(&model);
    fuzz_check_status(st);
}

#endif
