/* fuzz_torch.c - the PyTorch zip reader (checkpoint/torch_pt.c) end to end.
 *
 * Two kinds of input:
 *  - a whole file starting with the zip signature "PK\3\4" is read as it is:
 *    the zip layer (entry names, sizes, byteorder) on hostile archives;
 *  - anything else is a data.pkl: the harness wraps it in a valid archive
 *    (archive/data.pkl, archive/byteorder "little", storages archive/data/0..15
 *    of 4 KiB each, stored uncompressed as torch.save does) so that mutations
 *    reach the tensor records (storage keys, offsets, sizes, strides) instead of
 *    dying on the zip CRC.
 */
#include <zip.h>

#include "checkpoint/checkpoint.h"
#include "fuzz_support.h"

#define FUZZ_STORAGES 16
#define FUZZ_STORAGE_BYTES 4096

static int add_entry(zip_t *zip, const char *name, const void *data, size_t size)
{
    zip_source_t *source = zip_source_buffer(zip, data, size, 0);
    zip_int64_t index;
    if (source == NULL)
        return -1;
    index = zip_file_add(zip, name, source, ZIP_FL_OVERWRITE);
    if (index < 0) {
        zip_source_free(source);
        return -1;
    }
    return zip_set_file_compression(zip, (zip_uint64_t)index, ZIP_CM_STORE, 0);
}

static void write_archive(const char *path, const uint8_t *pickle, size_t size)
{
    static uint8_t storage[FUZZ_STORAGE_BYTES];
    int error = 0;
    zip_t *zip = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &error);
    if (zip == NULL)
        abort();
    for (size_t i = 0; i < sizeof storage; i++)
        storage[i] = (uint8_t)(i * 37u + 11u); /* finite floats and halves, varied ints */
    if (add_entry(zip, "archive/data.pkl", pickle, size) != 0 || add_entry(zip, "archive/byteorder", "little", 6) != 0)
        abort();
    for (int i = 0; i < FUZZ_STORAGES; i++) {
        char name[64];
        snprintf(name, sizeof name, "archive/data/%d", i);
        if (add_entry(zip, name, storage, sizeof storage) != 0)
            abort();
    }
    if (zip_close(zip) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    sq_tensor_set set;
    sq_status st;
    fuzz_quiet();
    if (size >= 4 && memcmp(data, "PK\3\4", 4) == 0) {
        fuzz_write_file("torch", ".pt", data, size, path, sizeof path);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/sqfuzz-%ld-torch.pt", tmp && *tmp ? tmp : "/tmp", (long)getpid());
        write_archive(path, data, size);
    }
    st = sq_torch_read(path, &set);
    if (st == SQ_OK) {
        /* every tensor has data or is an alias of an earlier one */
        for (size_t i = 0; i < set.count; i++)
            if (set.tensors[i].alias_of == NULL && set.tensors[i].data == NULL && sq_tensor_numel(&set.tensors[i]) > 0)
                abort();
        sq_tensor_set_free(&set);
    }
    fuzz_check_status(st);
    return 0;
}
