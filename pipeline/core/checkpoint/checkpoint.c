/* checkpoint.c - picks the reader from the file's first bytes, not its name.
 *
 * Signatures: zip local file header "PK\3\4" (PKWARE APPNOTE 4.3.7) for torch.save
 * >= 1.6 and TorchScript; an 8-byte little-endian header length followed by '{'
 * for safetensors (squeeze's own HDF5 model form is recognised one layer up, in
 * modelio/loader.c); pickle PROTO 0x80 for the legacy torch.save format,
 * which starts with the pickled magic number 0x1950a86a20f9469cfc6c
 * (torch/serialization.py MAGIC_NUMBER).
 */
#include "checkpoint/checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

sq_status sq_checkpoint_set_source(sq_tensor_set *set, const char *path, const char *format)
{
    if (set->source_path == NULL && (set->source_path = strdup(path)) == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    if (set->source_format == NULL && (set->source_format = strdup(format)) == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    return SQ_OK;
}

sq_status sq_checkpoint_read_foreign(const char *path, sq_tensor_set *out)
{
    static const unsigned char zip_magic[4] = {'P', 'K', 3, 4};
    static const unsigned char legacy_torch[12] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc,
                                                   0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8};
    unsigned char head[32] = {0};
    size_t n;
    sq_status st;
    FILE *f = fopen(path, "rb");

    sq_tensor_set_init(out);
    if (f == NULL)
        return sq_fail(SQ_ERR_INPUT, "cannot open checkpoint '%s': %s; check the path", path, strerror(errno));
    n = fread(head, 1, sizeof head, f);
    off_t size = fseeko(f, 0, SEEK_END) == 0 ? ftello(f) : -1;
    fclose(f);

    /* First: llama2.c has no magic, and a header whose dim is 640 starts 0x80 0x02 like a pickle. */
    if (size > 0 && sq_llama2c_detect(head, n, (uint64_t)size)) {
        st = sq_llama2c_read(path, out);
        return st == SQ_OK ? sq_checkpoint_set_source(out, path, "llama2c-bin") : st;
    }

    if (n >= 4 && memcmp(head, zip_magic, 4) == 0) {
        st = sq_torch_read(path, out);
        return st == SQ_OK ? sq_checkpoint_set_source(out, path, "pytorch-zip") : st;
    }
    if (n >= 9 && head[8] == '{') {
        st = sq_safetensors_read(path, out);
        return st == SQ_OK ? sq_checkpoint_set_source(out, path, "safetensors") : st;
    }
    if ((n >= 12 && memcmp(head, legacy_torch, 12) == 0) || (n >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5))
        return sq_fail(SQ_ERR_INPUT,
                       "checkpoint '%s': not supported: legacy torch.save format (torch < 1.6); re-save with "
                       "torch >= 1.6 (torch.save(torch.load(old), new) writes the zip format)",
                       path);
    if (n == 0)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s' is empty; expected a PyTorch .pt, .safetensors or HDF5 model",
                       path);
    if (sq_llama2c_detect(head, n, 0)) /* a llama2.c header, but the size is off: say so */
        return sq_llama2c_read(path, out);
    return sq_fail(SQ_ERR_INPUT,
                   "checkpoint '%s' is not a format squeeze reads (first bytes %02x %02x %02x %02x): expected a "
                   "PyTorch zip checkpoint (torch.save >= 1.6, starts with 'PK'), a .safetensors file (8-byte "
                   "header length, then '{'), a llama2.c .bin (7-int header whose sizes match the file) or a squeeze HDF5 model",
                   path, head[0], head[1], head[2], head[3]);
}
