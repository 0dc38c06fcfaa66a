/* fuzz_gguf.c - the GGUF reader (gguf/gguf_file.c) and the model it holds
 * (modelio/gguf_model.c through sq_model_load).
 *
 * The container reader checks every length, count, type and offset against the
 * file; the model reader then maps tensor names and shapes onto a family.
 * Seeds: small .gguf files written by squeeze-export (tests/fuzz/seeds/gguf/);
 * dictionary: dict/gguf.dict (the magic, value types, general.* keys).
 */
#include "fuzz_support.h"
#include "gguf/gguf_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    sq_gguf_file file;
    sq_status st;
    fuzz_write_file("gguf", ".gguf", data, size, path, sizeof path);
    sq_gguf_init(&file);
    st = sq_gguf_read(path, &file);
    if (st == SQ_OK) {
        uint64_t total = 0;
        for (size_t i = 0; i < file.tensor_count; i++)
            total += file.tensors[i].nbytes;
        if (total > size) /* every tensor byte comes from the file */
            abort();
    }
    sq_gguf_free(&file);
    fuzz_check_status(st);
    if (st == SQ_OK)
        fuzz_check_model_load(path);
    return 0;
}
