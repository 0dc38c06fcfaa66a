/* fuzz_artifact.c - the HDF5 artifact readers on hostile artifacts.
 *
 * Flipping bytes of an HDF5 file mostly exercises libhdf5's own parser, which
 * squeeze cannot fix.  What squeeze owns is what it does with a file that HDF5
 * reads fine but that says something hostile: a wrong kind or schema version,
 * an attribute of the wrong type or with many values, a dataset whose declared
 * shape is huge, a missing or extra tensor, a hard link that makes a cycle.  So
 * this harness is structure-aware: the input picks one of the real artifacts in
 * tests/fuzz/artifacts/ (inspect, calibration, nf4 and GPTQ models, evaluation,
 * written by the stages from tests/data/golden/random_itera_odd.pt) and a list
 * of edits made through the HDF5 API; then every reader squeeze has for that
 * kind runs on the result:
 *   sq_artifact_kind, sq_artifact_open (kind and schema_version), sq_model_load
 *   (/model: family, config, every tensor dequantized), sq_calib_file_open and
 *   sq_calib_file_linear, sq_baseline_read and sq_baseline_read_rows.
 *
 * Input: byte 0 picks the base file; then edits of 4 bytes plus a payload:
 *   op, object (index into the file's objects), selector, payload length.
 */
#include <hdf5.h>
#include <stdbool.h>

#include "artifact/artifact.h"
#include "calib/calib_file.h"
#include "fuzz_support.h"
#include "metrics/evaluation_file.h"
#include "modelio/loader.h"

static const char *const bases[] = {"inspect.h5", "calibration.h5", "model-nf4.h5", "model-gptq.h5",
                                    "evaluation.h5"};
#define BASE_COUNT (sizeof bases / sizeof bases[0])
#define MAX_OBJECTS 512
#define MAX_ATTR_NAMES 128

typedef struct {
    uint8_t *bytes;
    size_t size;
} blob;

static blob base_files[BASE_COUNT];

typedef struct {
    char *paths[MAX_OBJECTS]; /* "/" first */
    size_t count;
    char *attr_names[MAX_ATTR_NAMES];
    size_t attr_count;
} object_list;

static void load_bases(void)
{
    for (size_t i = 0; i < BASE_COUNT; i++) {
        char path[1024];
        FILE *f;
        long size;
        snprintf(path, sizeof path, "%s/artifacts/%s", SQ_FUZZ_DIR, bases[i]);
        f = fopen(path, "rb");
        if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
            abort();
        base_files[i].bytes = malloc((size_t)size);
        if (base_files[i].bytes == NULL || fread(base_files[i].bytes, 1, (size_t)size, f) != (size_t)size)
            abort();
        base_files[i].size = (size_t)size;
        fclose(f);
    }
}

static herr_t note_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    object_list *list = data;
    (void)loc;
    (void)info;
    for (size_t i = 0; i < list->attr_count; i++)
        if (strcmp(list->attr_names[i], name) == 0)
            return 0;
    if (list->attr_count < MAX_ATTR_NAMES)
        list->attr_names[list->attr_count++] = strdup(name);
    return 0;
}

static herr_t note_object(hid_t root, const char *name, const H5O_info_t *info, void *data)
{
    object_list *list = data;
    char path[2048];
    hid_t object;
    if (list->count >= MAX_OBJECTS)
        return 1;
    snprintf(path, sizeof path, "%s%s", strcmp(name, ".") == 0 ? "" : "/", strcmp(name, ".") == 0 ? "/" : name);
    list->paths[list->count++] = strdup(path);
    object = H5Oopen(root, name, H5P_DEFAULT);
    if (object >= 0) {
        hsize_t n = 0;
        H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &n, note_attr, list);
        H5Oclose(object);
    }
    (void)info;
    return 0;
}

static void list_free(object_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->paths[i]);
    for (size_t i = 0; i < list->attr_count; i++)
        free(list->attr_names[i]);
}

/* A dataspace from the selector: scalar, or 1-D with 1..4 points, or empty. */
static hid_t make_space(uint8_t selector)
{
    hsize_t dims[1];
    switch (selector % 4) {
    case 0: return H5Screate(H5S_SCALAR);
    case 1: dims[0] = 0; return H5Screate_simple(1, dims, NULL);
    default: dims[0] = 1 + (selector >> 2) % 4; return H5Screate_simple(1, dims, NULL);
    }
}

static void write_attr(hid_t object, const char *name, uint8_t selector, const uint8_t *payload, size_t length)
{
    hid_t space = make_space(selector), type = -1, attr;
    hssize_t points = H5Sget_simple_extent_npoints(space);
    uint8_t kind = (uint8_t)(selector >> 4) % 4;
    if (H5Aexists(object, name) > 0)
        H5Adelete(object, name);
    if (kind == 0) { /* fixed-length string of the payload */
        type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, length > 0 ? length : 1);
    } else if (kind == 1) { /* variable-length string */
        type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, H5T_VARIABLE);
    } else {
        type = H5Tcopy(kind == 2 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE);
    }
    attr = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0 && points > 0) {
        size_t width = kind == 0 ? (length > 0 ? length : 1) : 8;
        uint8_t *buffer = calloc((size_t)points, width + 1);
        char **strings = calloc((size_t)points, sizeof *strings);
        char *text = calloc(1, length + 1);
        if (buffer != NULL && strings != NULL && text != NULL) {
            if (length > 0)
                memcpy(text, payload, length);
            for (hssize_t i = 0; i < points; i++) {
                strings[i] = text;
                for (size_t b = 0; b < width; b++)
                    buffer[(size_t)i * width + b] = length ? payload[((size_t)i * width + b) % length] : 0;
            }
            H5Awrite(attr, type, kind == 1 ? (void *)strings : (void *)buffer);
        }
        free(buffer);
        free(strings);
        free(text);
    }
    if (attr >= 0)
        H5Aclose(attr);
    H5Tclose(type);
    H5Sclose(space);
}

/* Replaces (or adds) a dataset: type and rank from the selector, dimensions from
 * the payload; chunked with unallocated storage when the selector says so, so a
 * tiny file can declare a dataset of 2^40 elements. */
static void write_dataset(hid_t parent, const char *name, uint8_t selector, const uint8_t *payload, size_t length)
{
    static const hid_t *const types[] = {&H5T_NATIVE_FLOAT_g, &H5T_NATIVE_UINT8_g, &H5T_NATIVE_UINT16_g,
                                         &H5T_NATIVE_INT64_g, &H5T_NATIVE_DOUBLE_g, &H5T_NATIVE_INT32_g};
    int rank = selector % 4;
    bool chunked = (selector & 0x80) != 0;
    hsize_t dims[3] = {1, 1, 1}, maxdims[3], chunk[3] = {1, 1, 1};
    hid_t type, space, dcpl, dataset;
    H5open();
    type = *types[(selector >> 2) % 6];
    for (int i = 0; i < rank; i++) {
        uint32_t d = 0;
        for (int b = 0; b < 4; b++)
            d = (d << 8) | (length > (size_t)(4 * i + b) ? payload[4 * i + b] : 0);
        dims[i] = chunked ? d : d % 4097;
        maxdims[i] = H5S_UNLIMITED;
    }
    if (H5Lexists(parent, name, H5P_DEFAULT) > 0)
        H5Ldelete(parent, name, H5P_DEFAULT);
    space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, chunked ? maxdims : NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked && rank > 0)
        H5Pset_chunk(dcpl, rank, chunk);
    dataset = H5Dcreate2(parent, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dataset >= 0 && !chunked) {
        hssize_t points = H5Sget_simple_extent_npoints(space);
        size_t bytes = (size_t)points * H5Tget_size(type);
        uint8_t *buffer = malloc(bytes ? bytes : 1);
        if (buffer != NULL) {
            for (size_t b = 0; b < bytes; b++)
                buffer[b] = length ? payload[b % length] : (uint8_t)b;
            H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
            free(buffer);
        }
    }
    if (dataset >= 0)
        H5Dclose(dataset);
    H5Pclose(dcpl);
    H5Sclose(space);
}

static void split_path(const char *path, char *parent, size_t size, const char **leaf)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash && slash != path ? (size_t)(slash - path) : 1;
    if (n >= size)
        n = size - 1;
    memcpy(parent, path, n);
    parent[n] = '\0';
    *leaf = slash ? slash + 1 : path;
}

static void edit(hid_t file, object_list *list, uint8_t op, uint8_t which, uint8_t selector, const uint8_t *payload,
                 size_t length)
{
    const char *path = list->paths[which % list->count];
    const char *attr_name = list->attr_count ? list->attr_names[selector % list->attr_count] : "squeeze_artifact";
    char parent_path[2048], name[64];
    const char *leaf;
    hid_t object = H5Oopen(file, path, H5P_DEFAULT), parent;
    if (object < 0)
        return; /* deleted by an earlier edit */
    split_path(path, parent_path, sizeof parent_path, &leaf);
    switch (op % 6) {
    case 0: /* delete one of the object's attributes */
        H5Adelete_by_idx(file, path, H5_INDEX_NAME, H5_ITER_INC, selector, H5P_DEFAULT);
        break;
    case 1: /* an attribute of another type, rank or value */
        write_attr(object, attr_name, payload && length ? payload[0] : selector, payload, length);
        break;
    case 2: /* delete the object */
        if (strcmp(path, "/") != 0)
            H5Ldelete(file, path, H5P_DEFAULT);
        break;
    case 3: /* replace it by a dataset of another type and shape */
        if (strcmp(path, "/") != 0 && (parent = H5Oopen(file, parent_path, H5P_DEFAULT)) >= 0) {
            H5Oclose(object);
            object = -1;
            write_dataset(parent, leaf, selector, payload, length);
            H5Oclose(parent);
        }
        break;
    case 4: /* a hard link to another object inside this group (aliases, cycles) */
        if (H5Iget_type(object) == H5I_GROUP) {
            const char *target = list->paths[selector % list->count];
            snprintf(name, sizeof name, "fz%u", (unsigned)(length ? payload[0] : selector));
            if (H5Lexists(object, name, H5P_DEFAULT) <= 0)
                H5Lcreate_hard(file, target, object, name, H5P_DEFAULT, H5P_DEFAULT);
        }
        break;
    case 5: /* a new dataset in this group */
        if (H5Iget_type(object) == H5I_GROUP) {
            snprintf(name, sizeof name, "%.*s", (int)(length < 40 ? length : 40), payload ? (const char *)payload : "");
            if (name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0)
                snprintf(name, sizeof name, "extra%u", (unsigned)selector);
            write_dataset(object, name, selector, payload, length);
        }
        break;
    }
    if (object >= 0)
        H5Oclose(object);
}

static void run_readers(const char *path, const object_list *list)
{
    char kind[64];
    hid_t file = -1;
    sq_status st;
    fuzz_check_status(sq_artifact_kind(path, kind, sizeof kind));
    st = sq_artifact_open(path, NULL, &file);
    if (st == SQ_OK)
        H5Fclose(file);
    fuzz_check_status(st);
    fuzz_check_model_load(path);
    {
        sq_calib_file calib;
        memset(&calib, 0, sizeof calib);
        st = sq_calib_file_open(path, &calib);
        if (st == SQ_OK) {
            /* every linear the file names, and one it does not */
            for (size_t i = 0; i <= list->count; i++) {
                const char *prefix = "/calibration/linears/";
                const char *name = i < list->count ? list->paths[i] : "/calibration/linears/no.such.weight";
                sq_calib_linear linear;
                bool found = false;
                if (strncmp(name, prefix, strlen(prefix)) != 0 || strchr(name + strlen(prefix), '/') != NULL)
                    continue;
                memset(&linear, 0, sizeof linear);
                fuzz_check_status(sq_calib_file_linear(&calib, name + strlen(prefix), &found, &linear));
                if (found)
                    sq_calib_linear_free(&linear);
            }
            sq_calib_file_close(&calib);
        }
        fuzz_check_status(st);
    }
    {
        sq_baseline_info info;
        memset(&info, 0, sizeof info);
        st = sq_baseline_read(path, &info);
        if (st == SQ_OK && info.has_logprobs && info.logprob_rows > 0 && info.vocab > 0) {
            uint16_t *rows = NULL;
            fuzz_check_status(sq_baseline_read_rows(path, 0, 1, info.vocab, &rows));
            free(rows);
            rows = NULL;
            fuzz_check_status(sq_baseline_read_rows(path, info.logprob_rows - 1, 2, info.vocab, &rows));
            free(rows);
        }
        fuzz_check_status(st);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    object_list list;
    hid_t file;
    size_t pos = 1;
    fuzz_quiet();
    if (size < 1)
        return 0;
    if (base_files[0].bytes == NULL) {
        load_bases();
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    }
    fuzz_write_file("artifact", ".h5", base_files[data[0] % BASE_COUNT].bytes, base_files[data[0] % BASE_COUNT].size,
                    path, sizeof path);
    memset(&list, 0, sizeof list);
    file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0)
        abort();
    H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, note_object, &list, H5O_INFO_BASIC);
    for (int edits = 0; pos + 4 <= size && edits < 16; edits++) {
        uint8_t op = data[pos], which = data[pos + 1], selector = data[pos + 2];
        size_t length = data[pos + 3];
        pos += 4;
        if (length > size - pos)
            length = size - pos;
        edit(file, &list, op, which, selector, length ? data + pos : NULL, length);
        pos += length;
    }
    H5Fclose(file);
    run_readers(path, &list);
    list_free(&list);
    return 0;
}
