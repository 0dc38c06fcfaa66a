/* fuzz_safetensors.c - the safetensors reader (checkpoint/safetensors.c).
 * Seeds: the .safetensors fixtures; dictionary: dict/safetensors.dict. */
#include "checkpoint/checkpoint.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    sq_tensor_set set;
    sq_status st = sq_safetensors_read(fuzz_write_file("st", ".safetensors", data, size, path, sizeof path), &set);
    if (st == SQ_OK) {
        size_t total = 0;
        for (size_t i = 0; i < set.count; i++)
            if (set.tensors[i].alias_of == NULL)
                total += set.tensors[i].nbytes;
        if (total > size) /* every byte read comes from the file: never more than it holds */
            abort();
        sq_tensor_set_free(&set);
    }
    fuzz_check_status(st);
    return 0;
}
