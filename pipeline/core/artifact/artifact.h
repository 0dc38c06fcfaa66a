/* artifact.h - the HDF5 files that stages hand to each other.
 *
 * Every artifact carries the root attributes of DESIGN.md: squeeze_artifact
 * (inspect | calibration | model | evaluation), schema_version, created_utc,
 * squeeze_version, config_sha256, inputs, mpi_ranks, host, and plan_key (the
 * driver's key for the stage instance, "" when run by hand).  A writer creates
 * "<path>.tmp.<pid>" in the same folder and renames it into place only in
 * sq_artifact_commit(), so a killed stage never leaves a half artifact.
 */
#ifndef SQ_ARTIFACT_ARTIFACT_H
#define SQ_ARTIFACT_ARTIFACT_H

#include <hdf5.h>
#include <stdint.h>

#include "util/status.h"

#define SQ_SCHEMA_VERSION 1
#define SQ_MAX_INPUTS 16

typedef struct {
    const char *kind;          /* "inspect", "calibration", "model", "evaluation" */
    const char *config_sha256; /* sha256 of the stage's effective config ("" if none) */
    const char *plan_key;      /* the driver's key, or "" */
    int mpi_ranks;
    int input_count;
    const char *inputs[SQ_MAX_INPUTS]; /* input file paths; their sha256 is computed on create */
} sq_artifact_meta;

typedef struct {
    hid_t file;
    char *final_path;
    char *temp_path;
} sq_artifact_writer;

sq_status sq_artifact_create(sq_artifact_writer *writer, const char *path, const sq_artifact_meta *meta);
/* Flushes, closes and renames into place.  The writer is finished either way. */
sq_status sq_artifact_commit(sq_artifact_writer *writer);
/* Closes and deletes the temporary file (safe to call after commit: no-op). */
void sq_artifact_abort(sq_artifact_writer *writer);

/* Opens an artifact read-only and checks its kind and schema version; a wrong
 * kind or version is an input error that names the file, both kinds and versions. */
sq_status sq_artifact_open(const char *path, const char *expected_kind, hid_t *file_out);
/* Reads the kind of any squeeze artifact ("" when the file is not one). */
sq_status sq_artifact_kind(const char *path, char *kind, size_t size);

/* Sets up HDF5 for a squeeze program; called first, before any other HDF5 call.  HDF5
 * prints no error stack (squeeze reports errors itself), and its exit handler is not
 * installed: a file whose close failed (a full disk) stays open inside HDF5 1.10, and
 * that handler's second attempt to close it crashed the process after its clean error
 * exit.  squeeze closes every file it writes itself, so the handler has nothing to do. */
void sq_h5_library_setup(void);

/* Closes an HDF5 identifier of any kind (file, group, dataset, attribute,
 * datatype, dataspace, property list).  A negative one (never opened) is
 * skipped, so a function's one cleanup path closes whatever it got to open. */
void sq_h5_close(hid_t id);

/* A new string datatype of size bytes (or H5T_VARIABLE), null-terminated, in
 * the given character set (HDF5 converts none into another); close it. */
hid_t sq_h5_string_type(size_t size, H5T_cset_t cset);

/* Attribute helpers on any HDF5 object (group or dataset). */
sq_status sq_h5_write_attr_string(hid_t object, const char *name, const char *value);
sq_status sq_h5_write_attr_int(hid_t object, const char *name, int64_t value);
sq_status sq_h5_write_attr_double(hid_t object, const char *name, double value);
sq_status sq_h5_write_attr_ints(hid_t object, const char *name, const int64_t *values, int count);
/* Reads a string attribute into a malloc'd string. */
sq_status sq_h5_read_attr_string(hid_t object, const char *name, char **value);
/* Reads a string attribute into a buffer of size bytes, cut to fit ("" on failure). */
sq_status sq_h5_read_attr_text(hid_t object, const char *name, char *out, size_t size);
sq_status sq_h5_read_attr_int(hid_t object, const char *name, int64_t *value);
sq_status sq_h5_read_attr_double(hid_t object, const char *name, double *value);
sq_status sq_h5_read_attr_ints(hid_t object, const char *name, int64_t *values, int max_count, int *count);
int sq_h5_has_attr(hid_t object, const char *name);

/* Input error when a dataset declares more elements (count) than its file's
 * bytes can hold, so that a small hostile file never makes a reader allocate
 * much more than its size.  sq_h5_read_dataset checks it; readers that size a
 * buffer from a dataset's extent themselves call it first. */
sq_status sq_h5_check_extent(hid_t dataset, const char *name, uint64_t count);

/* Datasets: 1-D or N-D, native types.  dims has ndim entries. Compression off:
 * the artifact's bytes on disk are the data's bytes (measured sizes stay honest). */
sq_status sq_h5_write_dataset(hid_t parent, const char *name, hid_t native_type, int ndim, const uint64_t *dims,
                              const void *data);
/* A 1-D dataset of fixed-length UTF-8 strings, as wide as the longest value (h5py reads
 * it as bytes, h5dump prints it as text); a NULL value is written as "". */
sq_status sq_h5_write_strings(hid_t parent, const char *name, const char *const *values, size_t count);
/* The rank (at most 8) and dimensions of a dataset. */
sq_status sq_h5_dataset_shape(hid_t parent, const char *name, int *ndim, uint64_t dims[8]);
/* Reads rows [first, first + count) of a 2-D dataset whose rows hold
 * row_length values, as native_type, into a malloc'd buffer (NULL on failure). */
sq_status sq_h5_read_rows(hid_t parent, const char *name, hid_t native_type, int64_t first, int64_t count,
                          uint64_t row_length, void **data);
/* Reads a whole dataset into a malloc'd buffer of the given native type; returns
 * its dimensions (up to 8). */
sq_status sq_h5_read_dataset(hid_t parent, const char *name, hid_t native_type, void **data, int *ndim,
                             uint64_t *dims);
/* Reads a 1-D dataset of fixed-length strings (as sq_h5_write_strings writes
 * them): rows strings in a malloc'd *packed, width bytes apart, each ending in
 * a null even when the stored one filled its width. */
sq_status sq_h5_read_strings(hid_t parent, const char *name, char **packed, size_t *width, size_t *rows);
/* Creates (or opens) a group path such as "tensors/layers.0". */
sq_status sq_h5_group(hid_t parent, const char *name, hid_t *group);
int sq_h5_exists(hid_t parent, const char *name);

/* The HDF5 type squeeze uses on disk for IEEE half precision (h5py reads it as
 * float16).  Owned by the library; do not close. */
hid_t sq_h5_f16_type(void);

/* squeeze's version string. */
const char *sq_version(void);

#endif
