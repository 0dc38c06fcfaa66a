/* torch_pt.c - PyTorch zip checkpoints (torch.save, torch >= 1.6) and TorchScript archives.
 *
 * Layout (torch/serialization.py _save, caffe2/serialize/inline_container.h):
 *   <archive>/data.pkl        the pickled object (pickle.h reads it, never runs it)
 *   <archive>/data/<key>      raw bytes of each storage, named by its persistent id
 *   <archive>/byteorder       "little" or "big" (absent before torch 1.10: little)
 * A TorchScript archive (torch.jit.save) adds <archive>/code/ and constants.pkl;
 * its data.pkl holds the module objects, whose attributes we walk for tensors.
 *
 * Each tensor is torch._utils._rebuild_tensor_v2(storage, storage_offset, size,
 * stride, requires_grad, backward_hooks): we copy its elements into a fresh
 * contiguous row-major buffer.  Two tensors on the same storage with the same
 * offset, size and stride (tied weights) become one tensor and an alias.
 * A big-endian archive is refused rather than byte-swapped: no torch build in
 * use writes one, and an untested swap would silently corrupt weights.
 */
#include "checkpoint/checkpoint.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "checkpoint/pickle.h"
#include "checkpoint/zip_layout.h"
#include "util/log.h"

#define TORCH_MAX_PICKLE_BYTES ((zip_uint64_t)1 << 30) /* data.pkl of a 70B model is a few MB */
#define TORCH_MAX_KEY 64
#define TORCH_MAX_WALK_DEPTH 48
#define TORCH_MAX_WALK_NODES 4000000
/* Sizes the archive declares (an entry's uncompressed size, the bytes its tensors
 * materialise) may be at most this many times the file's own size: torch.save
 * stores entries uncompressed and views of one storage rarely overlap, so a real
 * checkpoint stays near 1x; a small hostile file cannot make squeeze allocate
 * gigabytes. */
#define TORCH_MAX_INFLATION 16
#define TORCH_SIZE_SLACK ((uint64_t)1 << 20)

/* torch/storage.py legacy typed storages -> element type. */
static const struct {
    const char *name;
    sq_dtype dtype;
} storage_types[] = {
    {"FloatStorage", SQ_DTYPE_F32}, {"HalfStorage", SQ_DTYPE_F16},   {"BFloat16Storage", SQ_DTYPE_BF16},
    {"DoubleStorage", SQ_DTYPE_F64}, {"CharStorage", SQ_DTYPE_I8},   {"ByteStorage", SQ_DTYPE_U8},
    {"ShortStorage", SQ_DTYPE_I16}, {"IntStorage", SQ_DTYPE_I32},    {"LongStorage", SQ_DTYPE_I64},
    {"BoolStorage", SQ_DTYPE_BOOL},
};

/* Wrapper keys under which training scripts keep the state dict, in order of preference. */
static const char *const state_dict_keys[] = {"model_state_dict", "state_dict", "model", "module",
                                              "net", "network", "weights", "params"};

typedef struct {
    char key[TORCH_MAX_KEY + 1];
    sq_dtype dtype;
    int64_t storage_numel;
    int64_t offset;
    int ndim;
    int64_t shape[SQ_MAX_DIMS];
    int64_t stride[SQ_MAX_DIMS];
} tensor_record;

typedef struct {
    tensor_record record;
    size_t index; /* in set->tensors */
} placed_tensor;

typedef struct {
    const char *path;
    zip_t *zip;
    char *prefix; /* <archive> */
    int torchscript;
    sq_tensor_set *set;
    placed_tensor *placed;
    size_t placed_count;
    size_t placed_capacity;
    size_t walk_nodes;
    int reading_qtensor;  /* parse_tensor accepts torch.QInt8Storage (a packed int8 weight) */
    size_t packed_linears;  /* torch dynamic-quantized Linear layers read (their weights dequantized) */
    size_t packed_qparams;  /* their unused output scale / zero_point entries, skipped */
    char packed_scheme[64]; /* the quantization schemes met ("per_tensor_affine and per_channel_affine") */
    uint64_t file_bytes;   /* the archive's size on disk */
    uint64_t materialised; /* bytes of tensor data copied out so far */
    sq_file_map *map;      /* the archive, mapped: stored storages are used where they lie */
    sq_zip_layout layout;  /* where the stored entries' data lies in the file */
    size_t mapped;         /* tensors whose data points into the mapped file */
} torch_reader;

static uint64_t size_limit(const torch_reader *r)
{
    return r->file_bytes * TORCH_MAX_INFLATION + TORCH_SIZE_SLACK;
}

/* ================= zip entries ================= */

/* Absolute paths and ".." components could point outside the archive: refuse. */
static int entry_name_is_safe(const char *name)
{
    const char *p = name;
    if (name[0] == '/' || name[0] == '\\' || (name[0] != '\0' && name[1] == ':'))
        return 0;
    while (*p) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += n;
        if (*p)
            p++;
    }
    return 1;
}

static sq_status scan_entries(torch_reader *r)
{
    zip_int64_t count = zip_get_num_entries(r->zip, 0);
    int has_constants = 0, has_code = 0;
    for (zip_int64_t i = 0; i < count; i++) {
        const char *name = zip_get_name(r->zip, (zip_uint64_t)i, 0);
        const char *slash;
        if (name == NULL)
            return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': zip entry %lld has no readable name; the file is damaged",
                           r->path, (long long)i);
        if (!entry_name_is_safe(name))
            return sq_fail(SQ_ERR_INPUT,
                           "checkpoint '%s': zip entry '%s' has an absolute path or a '..' component; refusing "
                           "the archive (a PyTorch checkpoint never has one)",
                           r->path, name);
        slash = strchr(name, '/');
        if (r->prefix == NULL && slash != NULL && strcmp(slash, "/data.pkl") == 0) {
            r->prefix = strndup(name, (size_t)(slash - name));
            if (r->prefix == NULL)
                return sq_fail(SQ_ERR_RUN, "out of memory");
        }
    }
    if (r->prefix == NULL)
        return sq_fail(SQ_ERR_INPUT,
                       "checkpoint '%s' is a zip archive without <archive>/data.pkl: not a PyTorch checkpoint "
                       "(torch.save >= 1.6 writes one); check the file",
                       r->path);
    for (zip_int64_t i = 0; i < count; i++) {
        const char *name = zip_get_name(r->zip, (zip_uint64_t)i, 0);
        size_t plen = strlen(r->prefix);
        if (strncmp(name, r->prefix, plen) != 0 || name[plen] != '/')
            continue;
        if (strcmp(name + plen, "/constants.pkl") == 0)
            has_constants = 1;
        if (strncmp(name + plen, "/code/", 6) == 0)
            has_code = 1;
    }
    r->torchscript = has_constants && has_code;
    return SQ_OK;
}

static sq_status entry_stat(torch_reader *r, const char *entry, zip_stat_t *stat, int *found)
{
    zip_stat_init(stat);
    *found = zip_stat(r->zip, entry, 0, stat) == 0;
    if (*found && !(stat->valid & ZIP_STAT_SIZE))
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': zip entry '%s' has no size; the file is damaged", r->path, entry);
    if (*found && stat->size > size_limit(r))
        return sq_fail(SQ_ERR_INPUT,
                       "checkpoint '%s': zip entry '%s' declares %llu bytes uncompressed, over %d times the archive's "
                       "%llu bytes; refusing it (torch.save stores entries uncompressed: re-save the checkpoint)",
                       r->path, entry, (unsigned long long)stat->size, TORCH_MAX_INFLATION,
                       (unsigned long long)r->file_bytes);
    return SQ_OK;
}

/* Reads len bytes at byte offset off of an entry into dst. */
static sq_status entry_read(torch_reader *r, const char *entry, zip_uint64_t off, zip_uint64_t len, void *dst)
{
    sq_status st = SQ_OK;
    zip_file_t *file = zip_fopen(r->zip, entry, 0);
    if (file == NULL)
        SQ_FAIL(SQ_ERR_INPUT, "checkpoint '%s': cannot open zip entry '%s': %s", r->path, entry,
                zip_strerror(r->zip));
    if (off > 0 && zip_fseek(file, (zip_int64_t)off, SEEK_SET) != 0) {
        /* a compressed entry cannot seek: read and drop the bytes before off */
        char skip[65536];
        zip_fclose(file);
        file = zip_fopen(r->zip, entry, 0);
        while (file != NULL && off > 0) {
            zip_uint64_t n = off < sizeof skip ? off : sizeof skip;
            if (zip_fread(file, skip, n) != (zip_int64_t)n)
                SQ_FAIL(SQ_ERR_INPUT, "checkpoint '%s': zip entry '%s' is truncated; the file is damaged", r->path,
                        entry);
            off -= n;
        }
        if (file == NULL)
            SQ_FAIL(SQ_ERR_INPUT, "checkpoint '%s': cannot reopen zip entry '%s'", r->path, entry);
    }
    {
        char *out = dst;
        zip_uint64_t done = 0;
        while (done < len) {
            zip_int64_t n = zip_fread(file, out + done, len - done);
            if (n <= 0)
                SQ_FAIL(SQ_ERR_INPUT,
                        "checkpoint '%s': zip entry '%s' is truncated or corrupt (read %llu of %llu bytes: %s); "
                        "the file is damaged, re-save it",
                        r->path, entry, (unsigned long long)done, (unsigned long long)len,
                        n < 0 ? zip_file_strerror(file) : "end of entry");
            done += (zip_uint64_t)n;
        }
    }
cleanup:
    if (file != NULL)
        zip_fclose(file);
    return st;
}

static sq_status read_whole_entry(torch_reader *r, const char *entry, zip_uint64_t max, unsigned char **data,
                                  size_t *size, int *found)
{
    zip_stat_t stat;
    sq_status st = entry_stat(r, entry, &stat, found);
    *data = NULL;
    if (st != SQ_OK || !*found)
        return st;
    if (stat.size > max)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': zip entry '%s' is %llu bytes, over the limit of %llu", r->path,
                       entry, (unsigned long long)stat.size, (unsigned long long)max);
    st = sq_alloc(data, (size_t)stat.size + 1, 1, entry);
    if (st == SQ_OK)
        st = entry_read(r, entry, 0, stat.size, *data);
    if (st != SQ_OK) {
        free(*data);
        *data = NULL;
        return st;
    }
    *size = (size_t)stat.size;
    return SQ_OK;
}

static sq_status check_byteorder(torch_reader *r)
{
    char entry[4096];
    unsigned char *data = NULL;
    size_t size = 0;
    int found = 0;
    sq_status st;
    snprintf(entry, sizeof entry, "%s/byteorder", r->prefix);
    st = read_whole_entry(r, entry, 64, &data, &size, &found);
    if (st != SQ_OK || !found)
        return st; /* torch < 1.10 wrote no byteorder entry: little-endian */
    if (size == 6 && memcmp(data, "little", 6) == 0)
        st = SQ_OK;
    else if (size == 3 && memcmp(data, "big", 3) == 0)
        st = sq_fail(SQ_ERR_INPUT,
                     "not supported: checkpoint '%s' was saved on a big-endian machine (byteorder 'big'); "
                     "load and re-save it on a little-endian machine",
                     r->path);
    else
        st = sq_fail(SQ_ERR_INPUT, "checkpoint '%s': entry '%s' is neither 'little' nor 'big'", r->path, entry);
    free(data);
    return st;
}

/* ================= tensors ================= */

static int is_int(const sq_pickle_value *v) { return v != NULL && v->kind == SQ_PK_INT; }

static sq_status parse_int_tuple(torch_reader *r, const char *name, const char *what, const sq_pickle_value *v,
                                 int64_t *out, int *count)
{
    if (v == NULL || v->kind != SQ_PK_TUPLE)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': tensor '%s': its %s is not a tuple", r->path, name, what);
    if (v->count > SQ_MAX_DIMS)
        return sq_fail(SQ_ERR_INPUT, "not supported: checkpoint '%s': tensor '%s' has %zu dimensions (at most %d)",
                       r->path, name, v->count, SQ_MAX_DIMS);
    for (size_t i = 0; i < v->count; i++) {
        if (!is_int(v->items[i]) || v->items[i]->i < 0)
            return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': tensor '%s': %s entry %zu is not a non-negative integer",
                           r->path, name, what, i);
        out[i] = v->items[i]->i;
    }
    *count = (int)v->count;
    return SQ_OK;
}

static int storage_key_is_safe(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > TORCH_MAX_KEY)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = key[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'))
            return 0;
    }
    return 1;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, ...) with storage the
 * persistent id ('storage', storage_type, key, location, numel) of torch/serialization.py. */
static sq_status parse_tensor(torch_reader *r, const char *name, const sq_pickle_value *tensor, tensor_record *rec)
{
    const sq_pickle_value *args = tensor->args;
    const sq_pickle_value *pid, *type;
    int stride_count = 0;
    sq_status st;
    memset(rec, 0, sizeof *rec);
    if (args->kind != SQ_PK_TUPLE || args->count < 4)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': tensor '%s': _rebuild_tensor_v2 needs 4 arguments", r->path,
                       name);
    pid = args->items[0]->kind == SQ_PK_PERSID ? args->items[0]->args : NULL;
    if (pid == NULL || pid->kind != SQ_PK_TUPLE || pid->count < 5 || pid->items[0]->kind != SQ_PK_STR ||
        strcmp(pid->items[0]->str, "storage") != 0)
        return sq_fail(SQ_ERR_INPUT,
                       "checkpoint '%s': tensor '%s': its storage is not a ('storage', type, key, location, numel) "
                       "record",
                       r->path, name);
    type = pid->items[1];
    if (type->kind != SQ_PK_GLOBAL || pid->items[2]->kind != SQ_PK_STR || !is_int(pid->items[4]) ||
        pid->items[4]->i < 0)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': tensor '%s': malformed storage record", r->path, name);
    rec->dtype = SQ_DTYPE_COUNT;
    for (size_t i = 0; i < sizeof storage_types / sizeof storage_types[0]; i++)
        if (strcmp(type->str, "torch") == 0 && strcmp(type->name, storage_types[i].name) == 0)
            rec->dtype = storage_types[i].dtype;
    if (r->reading_qtensor && strcmp(type->str, "torch") == 0 && strcmp(type->name, "QInt8Storage") == 0)
        rec->dtype = SQ_DTYPE_I8; /* the int8 codes of a quantized tensor: dequantized by the caller */
    if (rec->dtype == SQ_DTYPE_COUNT)
        return sq_fail(SQ_ERR_INPUT,
                       "not supported: checkpoint '%s': tensor '%s' has storage type %s.%s (squeeze reads float, "
                       "half, bfloat16, double, int8/16/32/64, uint8 and bool storages)",
                       r->path, name, type->str, type->name);
    if (!storage_key_is_safe(pid->items[2]->str))
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': tensor '%s': storage key '%.80s' is not a plain name", r->path,
                       name, pid->items[2]->str);
    strcpy(rec->key, pid->items[2]->str);
    rec->storage_numel = pid->items[4]->i;
    if (!is_int(args->items[1]) || args->items[1]->i < 0)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': tensor '%s': storage offset is not a non-negative integer",
                       r->path, name);
    rec->offset = args->items[1]->i;
    st = parse_int_tuple(r, name, "size", args->items[2], rec->shape, &rec->ndim);
    if (st == SQ_OK)
        st = parse_int_tuple(r, name, "stride", args->items[3], rec->stride, &stride_count);
    if (st == SQ_OK && stride_count != rec->ndim)
        st = sq_fail(SQ_ERR_INPUT, "checkpoint '%s': tensor '%s' has %d sizes but %d strides", r->path, name,
                     rec->ndim, stride_count);
    return st;
}

static int records_alias(const tensor_record *a, const tensor_record *b)
{
    if (strcmp(a->key, b->key) != 0 || a->dtype != b->dtype || a->offset != b->offset || a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i] || a->stride[i] != b->stride[i])
            return 0;
    return 1;
}

static sq_status remember_placed(torch_reader *r, const tensor_record *rec)
{
    sq_status st = sq_grow(&r->placed, &r->placed_capacity, r->placed_count + 1, sizeof *r->placed, 64,
                           "the placed tensors");
    if (st != SQ_OK)
        return st;
    r->placed[r->placed_count].record = *rec;
    r->placed[r->placed_count].index = r->set->count - 1;
    r->placed_count++;
    return SQ_OK;
}

/* The bytes [off, off + len) of a storage entry in the mapped file, when the entry is
 * stored uncompressed (as torch.save writes them) and they are aligned for elements
 * of esize bytes (torch.save aligns entries to 64 bytes); else NULL and the caller
 * copies through libzip.  libzip's view of the entry (method, size) must agree with
 * the central directory's, and the range is checked against the file again. */
static const void *mapped_storage(torch_reader *r, const char *entry, const zip_stat_t *stat, uint64_t off,
                                  uint64_t len, size_t esize)
{
    const sq_zip_stored_entry *e = sq_zip_layout_find(&r->layout, entry);
    const void *at = NULL;
    if (e == NULL || !(stat->valid & ZIP_STAT_COMP_METHOD) || stat->comp_method != ZIP_CM_STORE ||
        e->size != stat->size || off > e->size || len > e->size - off)
        return NULL;
    if (sq_file_map_range(r->map, e->data_offset + off, len, entry, &at) != SQ_OK)
        return NULL;
    return (uintptr_t)at % esize == 0 ? at : NULL;
}

/* The tensor's elements, in row-major order of its size: where they lie in the mapped
 * file when the tensor is contiguous in a stored entry, else copied out of its storage. */
static sq_status add_tensor(torch_reader *r, const char *name, const sq_pickle_value *tensor)
{
    sq_status st = SQ_OK;
    tensor_record rec;
    char entry[4096];
    zip_stat_t stat;
    int found = 0, contiguous = 1;
    size_t esize;
    int64_t numel = 1, last = 0, expected_stride = 1;
    unsigned char *data = NULL, *span = NULL;

    SQ_TRY(parse_tensor(r, name, tensor, &rec));
    for (size_t i = 0; i < r->placed_count; i++)
        if (records_alias(&r->placed[i].record, &rec)) {
            const char *first = r->set->tensors[r->placed[i].index].name;
            st = sq_tensor_set_add(r->set, name, rec.dtype, rec.ndim, rec.shape, NULL, first);
            goto cleanup;
        }
    esize = sq_dtype_size(rec.dtype);
    /* numel and the last element's index, overflow-checked: the sizes come from the file */
    for (int i = rec.ndim - 1; i >= 0; i--) {
        int64_t reach;
        if (__builtin_mul_overflow(numel, rec.shape[i], &numel) ||
            (rec.shape[i] > 0 && (__builtin_mul_overflow(rec.shape[i] - 1, rec.stride[i], &reach) ||
                                  __builtin_add_overflow(last, reach, &last))))
            SQ_FAIL(SQ_ERR_INPUT, "checkpoint '%s': tensor '%s': sizes or strides overflow", r->path, name);
        if (rec.shape[i] != 1 && rec.stride[i] != expected_stride)
            contiguous = 0;
        expected_stride *= rec.shape[i] ? rec.shape[i] : 1;
    }
    if (numel > 0 && (__builtin_add_overflow(last, rec.offset, &last) || last >= rec.storage_numel))
        SQ_FAIL(SQ_ERR_INPUT,
                "checkpoint '%s': tensor '%s' reaches element %lld of storage '%s', which holds %lld elements; "
                "the checkpoint is damaged",
                r->path, name, (long long)last, rec.key, (long long)rec.storage_numel);
    snprintf(entry, sizeof entry, "%s/data/%s", r->prefix, rec.key);
    SQ_TRY(entry_stat(r, entry, &stat, &found));
    if (!found)
        SQ_FAIL(SQ_ERR_INPUT, "checkpoint '%s': tensor '%s': storage entry '%s' is missing from the archive", r->path,
                name, entry);
    if ((uint64_t)rec.storage_numel > stat.size / esize)
        SQ_FAIL(SQ_ERR_INPUT,
                "checkpoint '%s': tensor '%s': storage '%s' should hold %lld %s elements but has %llu bytes; "
                "the checkpoint is damaged",
                r->path, name, entry, (long long)rec.storage_numel, sq_dtype_name(rec.dtype),
                (unsigned long long)stat.size);
    /* views that overlap (stride 0, or many tensors on one storage) would copy the
     * same bytes again and again: bound the total by the file's size */
    if (__builtin_add_overflow(r->materialised, (uint64_t)numel * esize, &r->materialised) ||
        r->materialised > size_limit(r))
        SQ_FAIL(SQ_ERR_INPUT,
                "checkpoint '%s': tensor '%s' (%lld elements) brings the tensors' bytes to over %d times the "
                "archive's %llu bytes: its views of storage '%s' overlap (stride 0?); refusing the checkpoint",
                r->path, name, (long long)numel, TORCH_MAX_INFLATION, (unsigned long long)r->file_bytes, rec.key);
    if (numel > 0 && contiguous) {
        const void *at = mapped_storage(r, entry, &stat, (uint64_t)rec.offset * esize, (uint64_t)numel * esize, esize);
        if (at != NULL) {
            SQ_TRY(sq_tensor_set_add(r->set, name, rec.dtype, rec.ndim, rec.shape, (void *)(uintptr_t)at, NULL));
            r->mapped++;
            SQ_TRY(remember_placed(r, &rec));
            goto cleanup;
        }
    }
    SQ_TRY(sq_alloc(&data, (size_t)numel, esize, name));
    if (numel > 0 && contiguous) {
        SQ_TRY(entry_read(r, entry, (zip_uint64_t)rec.offset * esize, (zip_uint64_t)numel * esize, data));
    } else if (numel > 0) {
        /* a view (transpose, slice): gather element by element (torch.Tensor.contiguous) */
        int64_t index[SQ_MAX_DIMS] = {0};
        size_t span_elements = (size_t)(last - rec.offset + 1);
        SQ_TRY(sq_alloc(&span, span_elements, esize, name));
        SQ_TRY(entry_read(r, entry, (zip_uint64_t)rec.offset * esize, (zip_uint64_t)span_elements * esize, span));
        for (int64_t e = 0; e < numel; e++) {
            int64_t src = 0;
            for (int d = 0; d < rec.ndim; d++)
                src += index[d] * rec.stride[d];
            memcpy(data + (size_t)e * esize, span + (size_t)src * esize, esize);
            for (int d = rec.ndim - 1; d >= 0; d--) {
                if (++index[d] < rec.shape[d])
                    break;
                index[d] = 0;
            }
        }
    }
    SQ_TRY(sq_tensor_set_add(r->set, name, rec.dtype, rec.ndim, rec.shape, data, NULL));
    data = NULL;
    SQ_TRY(remember_placed(r, &rec));
cleanup:
    free(data);
    free(span);
    return st;
}

/* ================= torch dynamic-quantized Linear layers ================= */

/* torch.ao.quantization.quantize_dynamic replaces each nn.Linear by a dynamic
 * quantized Linear whose state dict holds, instead of weight and bias,
 * "<prefix>._packed_params.dtype" (torch.qint8) and
 * "<prefix>._packed_params._packed_params" = (qweight, bias)
 * (torch/ao/nn/quantized/modules/linear.py, LinearPackedParams._save_to_state_dict).
 * qweight is torch._utils._rebuild_qtensor(storage, offset, size, stride,
 * quantizer_params, requires_grad, backward_hooks) over a QInt8Storage, with
 * quantizer_params (torch.per_tensor_affine, scale, zero_point) or
 * (torch.per_channel_affine, scales, zero_points, axis) (torch/_utils.py).
 * squeeze reads the int8 codes and dequantizes them as Tensor.dequantize()
 * does, (q - zero_point) * scale, into "<prefix>.weight" and "<prefix>.bias". */
static const char packed_suffix[] = "._packed_params._packed_params";
static const char packed_dtype_suffix[] = "._packed_params.dtype";

static int ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

/* The float values of a small tensor (scales, zero points) read as doubles. */
static sq_status read_small_vector(torch_reader *r, const char *name, const sq_pickle_value *v, double **out,
                                   int64_t *count)
{
    sq_status st = SQ_OK;
    size_t before = r->set->count;
    *out = NULL;
    if (v->kind != SQ_PK_TENSOR)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': packed weight '%s': its per-channel scales or zero points are "
                       "not a tensor", r->path, name);
    SQ_TRY(add_tensor(r, name, v));
    {
        sq_tensor *t = &r->set->tensors[r->set->count - 1];
        int64_t n = sq_tensor_numel(t);
        double *values = malloc((size_t)(n > 0 ? n : 1) * sizeof *values);
        if (values == NULL)
            SQ_FAIL(SQ_ERR_RUN, "out of memory");
        for (int64_t i = 0; i < n; i++) {
            switch (t->dtype) {
            case SQ_DTYPE_F64: values[i] = ((const double *)t->data)[i]; break;
            case SQ_DTYPE_F32: values[i] = ((const float *)t->data)[i]; break;
            case SQ_DTYPE_I64: values[i] = (double)((const int64_t *)t->data)[i]; break;
            case SQ_DTYPE_I32: values[i] = (double)((const int32_t *)t->data)[i]; break;
            default:
                free(values);
                SQ_FAIL(SQ_ERR_INPUT, "checkpoint '%s': packed weight '%s': scales of dtype %s", r->path, name,
                        sq_dtype_name(t->dtype));
            }
        }
        *out = values;
        *count = n;
    }
cleanup:
    /* the helper tensor is not part of the model */
    while (r->set->count > before) {
        sq_tensor_set_remove(r->set, r->set->count - 1);
        r->placed_count -= r->placed_count > 0 && r->placed[r->placed_count - 1].index == r->set->count;
    }
    return st;
}

/* "<prefix>.scale" and "<prefix>.zero_point" of a dynamic quantized Linear are
 * the output quantization parameters of the static module it derives from;
 * dynamic quantization never uses them (the output stays float). */
static int is_packed_module_qparam(const sq_pickle_value *sd, const char *key)
{
    char packed[1100];
    size_t n = strlen(key);
    size_t cut = ends_with(key, ".scale") ? n - 6 : ends_with(key, ".zero_point") ? n - 11 : 0;
    if (cut == 0 || cut + sizeof packed_suffix > sizeof packed)
        return 0;
    memcpy(packed, key, cut);
    snprintf(packed + cut, sizeof packed - cut, "%s", packed_suffix);
    return sq_pickle_dict_get(sd, packed) != NULL;
}

static sq_status add_packed_linear(torch_reader *r, const char *key, const sq_pickle_value *value)
{
    sq_status st = SQ_OK;
    char base[1024], name[1100], callable[256];
    const sq_pickle_value *qweight, *bias, *qargs, *params;
    double *scales = NULL, *zero_points = NULL;
    int64_t scale_count = 1, zero_count = 1, axis = 0;
    double scale = 0, zero_point = 0;
    size_t n = strlen(key) - strlen(packed_suffix);
    if (n >= sizeof base)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': key '%.80s...' is too long", r->path, key);
    memcpy(base, key, n);
    base[n] = '\0';
    if (value->kind != SQ_PK_TUPLE || value->count < 1)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': '%s' is not a (weight, bias) tuple of a torch quantized "
                       "Linear", r->path, key);
    qweight = value->items[0];
    bias = value->count > 1 ? value->items[1] : NULL;
    if (qweight->kind != SQ_PK_OBJECT || !sq_pickle_is_global(qweight->callable, "torch._utils", "_rebuild_qtensor"))
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': the weight of '%s' is %s, not a quantized tensor "
                       "(torch._utils._rebuild_qtensor)", r->path, key,
                       qweight->kind == SQ_PK_OBJECT ? sq_pickle_callable_name(qweight, callable, sizeof callable)
                                                     : "not an object");
    qargs = qweight->args;
    if (qargs == NULL || qargs->kind != SQ_PK_TUPLE || qargs->count < 5 || qargs->items[4]->kind != SQ_PK_TUPLE ||
        qargs->items[4]->count < 3 || qargs->items[4]->items[0]->kind != SQ_PK_GLOBAL)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': the quantized weight of '%s' has no (scheme, scale, zero "
                       "point) record", r->path, key);
    params = qargs->items[4];
    snprintf(name, sizeof name, "%s.weight", base);
    if (strcmp(params->items[0]->name, "per_tensor_affine") == 0) {
        if (params->items[1]->kind != SQ_PK_FLOAT || params->items[2]->kind != SQ_PK_INT)
            return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': '%s': per-tensor scale or zero point malformed", r->path,
                           name);
        scale = params->items[1]->f;
        zero_point = (double)params->items[2]->i;
    } else if (strcmp(params->items[0]->name, "per_channel_affine") == 0 && params->count >= 4 &&
               params->items[3]->kind == SQ_PK_INT) {
        SQ_TRY(read_small_vector(r, name, params->items[1], &scales, &scale_count));
        SQ_TRY(read_small_vector(r, name, params->items[2], &zero_points, &zero_count));
        axis = params->items[3]->i;
    } else {
        return sq_fail(SQ_ERR_INPUT, "not supported: checkpoint '%s': '%s' is quantized with scheme torch.%s; squeeze "
                       "reads per_tensor_affine and per_channel_affine int8 weights. Dequantize the model in PyTorch "
                       "(a float copy of each Linear's weight().dequantize()) and save its state_dict",
                       r->path, name, params->items[0]->name);
    }
    if (strstr(r->packed_scheme, params->items[0]->name) == NULL) { /* the schemes met, for the one message */
        size_t used = strlen(r->packed_scheme);
        snprintf(r->packed_scheme + used, sizeof r->packed_scheme - used, "%s%s", used ? " and " : "",
                 params->items[0]->name);
    }
    {
        /* the int8 codes, through the ordinary tensor path (offset, size, stride, views) */
        sq_pickle_value view = *qweight;
        view.kind = SQ_PK_TENSOR;
        r->reading_qtensor = 1;
        st = add_tensor(r, name, &view);
        r->reading_qtensor = 0;
        SQ_TRY(st);
    }
    {
        sq_tensor *t = &r->set->tensors[r->set->count - 1];
        int64_t count = sq_tensor_numel(t), inner = 1, channels = 1;
        const int8_t *codes = t->data;
        float *values;
        if (t->alias_of != NULL || t->dtype != SQ_DTYPE_I8)
            SQ_FAIL(SQ_ERR_INPUT, "checkpoint '%s': '%s' shares storage with another tensor or is not int8", r->path,
                    name);
        if (scales && axis >= 0 && axis < t->ndim)
            channels = t->shape[axis];
        if (scales && (axis < 0 || axis >= t->ndim || scale_count != channels || zero_count != channels))
            SQ_FAIL(SQ_ERR_INPUT, "checkpoint '%s': '%s': %lld scales and %lld zero points for %lld channels on axis "
                    "%lld", r->path, name, (long long)scale_count, (long long)zero_count, (long long)channels,
                    (long long)axis);
        for (int d = (int)axis + 1; d < t->ndim; d++)
            inner *= t->shape[d];
        values = malloc((size_t)(count > 0 ? count : 1) * sizeof *values);
        if (values == NULL)
            SQ_FAIL(SQ_ERR_RUN, "out of memory");
        for (int64_t i = 0; i < count; i++) {
            int64_t c = scales ? (i / inner) % channels : 0;
            double s = scales ? scales[c] : scale, z = scales ? zero_points[c] : zero_point;
            values[i] = (float)(((double)codes[i] - z) * s); /* Tensor.dequantize(): (q - zp) * scale */
        }
        sq_tensor_replace_data(r->set, t, values);
        t->dtype = SQ_DTYPE_F32;
        t->nbytes = (size_t)count * sizeof(float);
    }
    if (bias != NULL && bias->kind == SQ_PK_TENSOR) {
        snprintf(name, sizeof name, "%s.bias", base);
        SQ_TRY(add_tensor(r, name, bias));
    }
    r->packed_linears++;
cleanup:
    free(scales);
    free(zero_points);
    return st;
}

/* A record that stands for a tensor we cannot read fails, naming the tensor. */
static sq_status refuse_tensor_like(torch_reader *r, const char *name, const sq_pickle_value *v)
{
    char callable[1100];
    if (v->kind != SQ_PK_OBJECT || v->callable == NULL || v->callable->kind != SQ_PK_GLOBAL)
        return SQ_OK;
    if (sq_pickle_is_global(v->callable, "torch._utils", "_rebuild_qtensor"))
        return sq_fail(SQ_ERR_INPUT,
                       "not supported: quantized tensor '%s' in checkpoint '%s' (torch._utils._rebuild_qtensor); "
                       "dequantize it in PyTorch (tensor.dequantize()) and re-save",
                       name, r->path);
    if (strcmp(v->callable->str, "torch._utils") == 0 && strncmp(v->callable->name, "_rebuild", 8) == 0)
        return sq_fail(SQ_ERR_INPUT,
                       "not supported: tensor '%s' in checkpoint '%s' is stored with %s (squeeze reads dense "
                       "tensors, torch._utils._rebuild_tensor_v2); convert it to a dense CPU tensor and re-save",
                       name, r->path, sq_pickle_callable_name(v, callable, sizeof callable));
    return SQ_OK;
}

static int is_tensor_like(const sq_pickle_value *v)
{
    return v->kind == SQ_PK_TENSOR ||
           (v->kind == SQ_PK_OBJECT && v->callable != NULL && v->callable->kind == SQ_PK_GLOBAL &&
            strcmp(v->callable->str, "torch._utils") == 0 && strncmp(v->callable->name, "_rebuild", 8) == 0);
}

static sq_status add_meta(torch_reader *r, const char *key, const sq_pickle_value *v)
{
    sq_status st;
    char *repr = sq_pickle_repr(v);
    if (repr == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory printing '%s'", key);
    st = sq_tensor_set_add_meta(r->set, key, repr);
    free(repr);
    return st;
}

static char *join_name(const char *prefix, const char *key)
{
    size_t n = strlen(prefix) + strlen(key) + 2;
    char *joined = malloc(n);
    if (joined != NULL)
        snprintf(joined, n, "%s%s%s", prefix, prefix[0] ? "." : "", key);
    return joined;
}

/* ================= finding the state dict ================= */

static int dict_has_tensor(const sq_pickle_value *dict)
{
    for (size_t i = 0; i < dict->count; i++)
        if (is_tensor_like(dict->items[2 * i + 1]))
            return 1;
    return 0;
}

/* Follows wrapper keys ({'model': {'state_dict': ...}}) down to a dict that holds
 * tensors; path receives the keys taken. */
static const sq_pickle_value *find_state_dict(const sq_pickle_value *v, int depth, const char **path, int *path_len)
{
    if (v->kind != SQ_PK_DICT || depth > 4)
        return NULL;
    if (dict_has_tensor(v))
        return v;
    for (size_t k = 0; k < sizeof state_dict_keys / sizeof state_dict_keys[0]; k++) {
        const sq_pickle_value *child = sq_pickle_dict_get(v, state_dict_keys[k]);
        const sq_pickle_value *found;
        if (child == NULL)
            continue;
        path[depth] = state_dict_keys[k];
        found = find_state_dict(child, depth + 1, path, path_len);
        if (found != NULL) {
            if (*path_len < depth + 1)
                *path_len = depth + 1;
            return found;
        }
    }
    return NULL;
}

static sq_status read_state_dict(torch_reader *r, const sq_pickle_value *sd, const char *prefix)
{
    sq_status st = SQ_OK;
    for (size_t i = 0; i < sd->count && st == SQ_OK; i++) {
        const sq_pickle_value *key = sd->items[2 * i];
        const sq_pickle_value *value = sd->items[2 * i + 1];
        char *meta_key;
        if (key->kind != SQ_PK_STR)
            return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': state dict entry %zu has a key that is not a string", r->path,
                           i);
        if (value->kind == SQ_PK_TENSOR && is_packed_module_qparam(sd, key->str)) {
            r->packed_qparams++;
            continue;
        }
        if (value->kind == SQ_PK_TENSOR) {
            st = add_tensor(r, key->str, value);
            continue;
        }
        if (ends_with(key->str, packed_suffix)) {
            st = add_packed_linear(r, key->str, value);
            continue;
        }
        if (ends_with(key->str, packed_dtype_suffix))
            continue; /* torch.qint8: said once for the whole model below */
        st = refuse_tensor_like(r, key->str, value);
        if (st != SQ_OK)
            return st;
        meta_key = join_name(prefix, key->str);
        if (meta_key == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory");
        sq_info("checkpoint %s: state dict entry '%s' is not a tensor; kept as metadata", r->path, key->str);
        st = add_meta(r, meta_key, value);
        free(meta_key);
    }
    return st;
}

/* The entries beside the path to the state dict, at every level, become metadata. */
static sq_status read_wrapper_meta(torch_reader *r, const sq_pickle_value *root, const char **path, int path_len,
                                   char **sd_prefix)
{
    sq_status st = SQ_OK;
    const sq_pickle_value *level = root;
    char *prefix = strdup("");
    if (prefix == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    for (int d = 0; d < path_len && st == SQ_OK; d++) {
        char *next;
        for (size_t i = 0; i < level->count && st == SQ_OK; i++) {
            const sq_pickle_value *key = level->items[2 * i];
            char *meta_key;
            char tmp[32];
            const char *key_text = key->kind == SQ_PK_STR ? key->str : tmp;
            if (key->kind == SQ_PK_STR && strcmp(key->str, path[d]) == 0)
                continue;
            if (key->kind != SQ_PK_STR)
                snprintf(tmp, sizeof tmp, "%s", key->kind == SQ_PK_INT ? "<int key>" : "<key>");
            meta_key = join_name(prefix, key_text);
            if (meta_key == NULL)
                st = sq_fail(SQ_ERR_RUN, "out of memory");
            else
                st = add_meta(r, meta_key, level->items[2 * i + 1]);
            free(meta_key);
        }
        next = join_name(prefix, path[d]);
        free(prefix);
        prefix = next;
        if (prefix == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory");
        level = sq_pickle_dict_get(level, path[d]);
    }
    if (st == SQ_OK)
        *sd_prefix = prefix;
    else
        free(prefix);
    return st;
}

/* ================= walking objects (TorchScript, torch.save(model)) ================= */

static sq_status walk_value(torch_reader *r, const sq_pickle_value *v, const char *name, int depth);

static sq_status walk_dict(torch_reader *r, const sq_pickle_value *dict, const char *prefix, int depth)
{
    sq_status st = SQ_OK;
    for (size_t i = 0; i < dict->count && st == SQ_OK; i++) {
        const sq_pickle_value *key = dict->items[2 * i];
        char *child;
        if (key->kind != SQ_PK_STR)
            continue;
        /* nn.Module keeps its members in _parameters, _buffers, _modules: they add no name part */
        if (strcmp(key->str, "_parameters") == 0 || strcmp(key->str, "_buffers") == 0 ||
            strcmp(key->str, "_modules") == 0)
            child = strdup(prefix);
        else
            child = join_name(prefix, key->str);
        if (child == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory");
        st = walk_value(r, dict->items[2 * i + 1], child, depth + 1);
        free(child);
    }
    return st;
}

static sq_status walk_value(torch_reader *r, const sq_pickle_value *v, const char *name, int depth)
{
    if (++r->walk_nodes > TORCH_MAX_WALK_NODES)
        return sq_fail(SQ_ERR_INPUT, "checkpoint '%s': its object graph has over %d nodes; refusing it", r->path,
                       TORCH_MAX_WALK_NODES);
    if (depth > TORCH_MAX_WALK_DEPTH)
        return SQ_OK; /* a back reference (cycle): what lies below was reached another way */
    switch (v->kind) {
    case SQ_PK_TENSOR:
        if (sq_tensor_set_find(r->set, name) != NULL)
            return SQ_OK;
        return add_tensor(r, name[0] ? name : "tensor", v);
    case SQ_PK_OBJECT: {
        sq_status st = refuse_tensor_like(r, name, v);
        if (st == SQ_OK && v->state != NULL && v->state->kind == SQ_PK_DICT)
            st = walk_dict(r, v->state, name, depth);
        return st;
    }
    case SQ_PK_DICT: return walk_dict(r, v, name, depth);
    default: return SQ_OK;
    }
}

/* ================= the reader ================= */

static sq_status read_objects(torch_reader *r, const sq_pickle_value *root)
{
    sq_status st = SQ_OK;
    const char *path[8];
    int path_len = 0;
    const sq_pickle_value *sd = r->torchscript ? NULL : find_state_dict(root, 0, path, &path_len);
    char *prefix = NULL;

    if (sd != NULL) {
        SQ_TRY(read_wrapper_meta(r, root, path, path_len, &prefix));
        SQ_TRY(read_state_dict(r, sd, prefix));
    } else if (root->kind == SQ_PK_DICT && !r->torchscript) {
        /* a dict holding whole modules ({'model': model, 'epoch': 3}): entries without tensors are metadata */
        for (size_t i = 0; i < root->count; i++) {
            const sq_pickle_value *key = root->items[2 * i];
            size_t before = r->set->count;
            if (key->kind != SQ_PK_STR)
                continue;
            SQ_TRY(walk_value(r, root->items[2 * i + 1], key->str, 1));
            if (r->set->count == before)
                SQ_TRY(add_meta(r, key->str, root->items[2 * i + 1]));
        }
    } else {
        SQ_TRY(walk_value(r, root, "", 0));
    }
    if (r->set->count == 0 && r->torchscript)
        SQ_FAIL(SQ_ERR_INPUT,
                "checkpoint '%s' is a TorchScript archive (torch.jit.save) whose data.pkl holds no tensors; "
                "save the weights with torch.save(model.state_dict(), path)",
                r->path);
    if (r->set->count == 0) {
        char *repr = sq_pickle_repr(root);
        if (repr != NULL && strlen(repr) > 300)
            strcpy(repr + 297, "...");
        st = sq_fail(SQ_ERR_INPUT,
                     "no tensors found in checkpoint '%s': its pickle holds %s; expected a state dict "
                     "(torch.save(model.state_dict(), path)) or a dict with 'model_state_dict' or 'state_dict'",
                     r->path, repr ? repr : "an object");
        free(repr);
        goto cleanup;
    }
cleanup:
    free(prefix);
    return st;
}

sq_status sq_torch_read(const char *path, sq_tensor_set *out)
{
    sq_status st = SQ_OK;
    torch_reader r;
    int zip_error = 0, found = 0;
    char entry[4096], where[4200];
    unsigned char *pickle_bytes = NULL;
    size_t pickle_size = 0;
    sq_pickle *pickle = NULL;
    const sq_pickle_value *root = NULL;

    memset(&r, 0, sizeof r);
    r.path = path;
    r.set = out;
    sq_tensor_set_init(out);
    {
        struct stat info;
        if (stat(path, &info) == 0)
            r.file_bytes = (uint64_t)info.st_size;
    }
    r.zip = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zip_error);
    if (r.zip == NULL) {
        zip_error_t error;
        zip_error_init_with_code(&error, zip_error);
        st = sq_fail(SQ_ERR_INPUT,
                     "checkpoint '%s' is not a readable zip archive (%s): truncated or damaged, or not a "
                     "torch.save >= 1.6 file; check the file or re-save it",
                     path, zip_error_strerror(&error));
        zip_error_fini(&error);
        goto cleanup;
    }
    SQ_TRY(sq_file_map_open(path, &r.map));
    SQ_TRY(sq_zip_layout_read(r.map, &r.layout));
    SQ_TRY(sq_tensor_set_use_map(out, r.map));
    SQ_TRY(scan_entries(&r));
    SQ_TRY(check_byteorder(&r));
    snprintf(entry, sizeof entry, "%s/data.pkl", r.prefix);
    SQ_TRY(read_whole_entry(&r, entry, TORCH_MAX_PICKLE_BYTES, &pickle_bytes, &pickle_size, &found));
    snprintf(where, sizeof where, "'%s' entry '%s'", path, entry);
    SQ_TRY(sq_pickle_load(pickle_bytes, pickle_size, where, &pickle, &root));
    SQ_TRY(read_objects(&r, root));
    if (r.packed_linears > 0)
        sq_warn("checkpoint %s is a PyTorch dynamic-quantized model (torch.ao.quantization.quantize_dynamic): %zu "
                "Linear layers hold packed int8 weights (%s); squeeze read them and dequantized each as "
                "Tensor.dequantize() does (their %zu unused output scale/zero_point entries skipped), so this int8 "
                "model is the baseline. To compare against the fp32 model it was made from, give that model's "
                "checkpoint instead",
                path, r.packed_linears, r.packed_scheme, r.packed_qparams);
    for (size_t i = 0; i < out->meta_count; i++)
        if (ends_with(out->meta[i].key, "quantization_info"))
            sq_warn("checkpoint %s has a '%s' entry (%.200s): its float weights may be fake-quantized (rounded to a "
                    "low-bit grid and stored as floats), so its quality already carries that rounding and sizes are "
                    "against a float file; prefer the checkpoint from before that quantization",
                    path, out->meta[i].key, out->meta[i].repr);
    out->source_path = strdup(path);
    out->source_format = strdup(r.torchscript ? "torchscript" : "pytorch-zip");
    if (out->source_path == NULL || out->source_format == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory");
    sq_info("read %zu tensors and %zu metadata entries from %s (%s; %zu used in place from the mapped file)",
            out->count, out->meta_count, path, out->source_format, r.mapped);
cleanup:
    if (st != SQ_OK)
        sq_tensor_set_free(out);
    sq_pickle_free(pickle);
    free(pickle_bytes);
    free(r.placed);
    free(r.prefix);
    if (r.zip != NULL)
        zip_discard(r.zip);
    sq_zip_layout_free(&r.layout);
    sq_file_map_release(r.map);
    return st;
}
