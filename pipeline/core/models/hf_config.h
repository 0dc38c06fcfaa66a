/* hf_config.h - the JSON config that travels with a checkpoint.
 *
 * A Hugging Face model directory holds config.json beside model.safetensors;
 * squeeze also accepts "<stem>.config.json" beside "<stem>.safetensors", so that
 * several models can share a folder.  Failing both, a checkpoint's own metadata
 * entry "config" is used when it is a JSON object (llama2.c's header, as the
 * .bin reader records it; a safetensors __metadata__ "config").
 */
#ifndef SQ_MODELS_HF_CONFIG_H
#define SQ_MODELS_HF_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "tensor/tensor.h"

typedef struct {
    json_t *root;     /* NULL when the checkpoint has no config */
    char source[1024]; /* the file (or "metadata of FILE") it came from, for messages */
} sq_hf_config;

/* SQ_ERR_INPUT naming the file when a config file exists but is not a JSON object. */
sq_status sq_hf_config_load(const sq_tensor_set *set, sq_hf_config *out);
void sq_hf_config_free(sq_hf_config *cfg);

/* The first of the NULL-terminated keys that is present: integer (or boolean) value;
 * *found false when none is present.  A present key with a value of the wrong type
 * is SQ_ERR_INPUT naming the key and the file. */
sq_status sq_hf_config_int(const sq_hf_config *cfg, const char *const *keys, long long *value, bool *found);
sq_status sq_hf_config_real(const sq_hf_config *cfg, const char *const *keys, double *value, bool *found);
sq_status sq_hf_config_bool(const sq_hf_config *cfg, const char *const *keys, bool *value, bool *found);
/* A value the tensors' shapes give and the config's for the same thing (the first present
 * of keys) must agree: SQ_ERR_INPUT naming the file, the key and both values if not. */
sq_status sq_hf_config_agree(const sq_hf_config *cfg, const char *const *keys, long long shape_value,
                             const char *checkpoint);
/* A present, non-null key (for refusing features squeeze does not implement). */
bool sq_hf_config_has(const sq_hf_config *cfg, const char *key);

#endif
