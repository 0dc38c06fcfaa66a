/* model_identity.h - which model a calibration belongs to.
 *
 * A calibration records, per linear, statistics of that model's activations;
 * used with another model they would be silently wrong.  The identity is the
 * family, the config as JSON and a sha256 over the sorted tensor names and
 * shapes ("name [d0, d1]\n" each), so the same model read from its .pt, its
 * inspect artifact or a compressed model artifact has the same identity.
 */
#ifndef SQ_CALIB_MODEL_IDENTITY_H
#define SQ_CALIB_MODEL_IDENTITY_H

#include <hdf5.h>
#include <stdbool.h>

#include "modelio/loader.h"
#include "models/model_config.h"
#include "tensor/tensor.h"
#include "util/hash.h"

typedef struct {
    char family[32];
    char *config_json;             /* malloc'd */
    char tensors_sha256[SQ_SHA256_HEX];
    long tensor_count;
} sq_model_identity;

sq_status sq_model_identity_compute(const sq_model_config *cfg, const sq_tensor_set *set, sq_model_identity *out);
void sq_model_identity_free(sq_model_identity *identity);
bool sq_model_identity_equal(const sq_model_identity *a, const sq_model_identity *b);
/* "itera (vocab 2000, hidden 64, 4 layers, 61 tensors, sha256 1a2b3c4d...)" into buf. */
const char *sq_model_identity_describe(const sq_model_identity *identity, const sq_model_config *cfg, char *buf,
                                       size_t size);

/* The identity of the model behind a loaded path, as squeeze-evaluate records
 * it: computed from the tensors, and for a compressed model (kind "model")
 * the identity of the model it was compressed from, read from /accounting
 * (source_*).  The two must agree, since compression keeps names and shapes:
 * a model artifact that says otherwise is an input error.  A model artifact
 * written before source_* was recorded gets the computed identity. */
sq_status sq_model_identity_of_loaded(const char *path, const sq_loaded_model *loaded, sq_model_identity *out);

/* The identity as attributes of an HDF5 object: <prefix>family,
 * <prefix>config_json, <prefix>model_tensors_sha256, <prefix>model_tensor_count.
 * The calibration root uses prefix "", a model artifact's /accounting
 * "source_" (the model it was compressed from), an evaluation's /evaluation ""
 * (docs/artifact-calibration.md, docs/artifacts.md, docs/artifact-evaluation.md). */
sq_status sq_model_identity_write_attrs(hid_t object, const char *prefix, const sq_model_identity *identity);
/* *found is false (and nothing is read) when the object has none of them,
 * as in artifacts written before they were recorded; an object with only
 * some of them is an input error. */
sq_status sq_model_identity_read_attrs(hid_t object, const char *prefix, sq_model_identity *identity, bool *found);

#endif
