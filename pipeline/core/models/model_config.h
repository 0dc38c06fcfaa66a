/* model_config.h - a model's configuration: what every family has, plus the family's own part.
 *
 * The common fields are what the code outside models/ reads (sizes, the final
 * norm's eps, and the mixture-of-experts routing that calibration records).
 * Everything else belongs to the family: it declares its own struct in its
 * header (models/itera.h: sq_itera_config) and keeps it in `own`, a fixed-size
 * area inside this struct, so a config is still copied, compared and stored by
 * value.  A family reads its part with SQ_FAMILY_CONFIG / SQ_FAMILY_CONFIG_CONST
 * and lists its fields' JSON keys in a table (sq_family.config_fields,
 * models/family.h) that this file writes and reads.
 */
#ifndef SQ_MODELS_MODEL_CONFIG_H
#define SQ_MODELS_MODEL_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/status.h"

#define SQ_MAX_LAYERS 128
#define SQ_FAMILY_CONFIG_BYTES 512

typedef struct {
    char family[32];        /* the family's name in the registry (models/family.c) */
    int vocab_size;         /* V: rows of the token embedding */
    int hidden_size;        /* d */
    int num_layers;         /* L */
    int max_seq_length;     /* S: the longest window the forward pass takes */
    double layer_norm_eps;  /* eps of the final norm (LayerNorm or RMSNorm) */
    /* Mixture-of-experts routing, for the router hook and calibration's routing
     * statistics: moe_layer_count 0 for a dense model. */
    int num_experts;        /* E */
    int top_k;              /* experts per token */
    int moe_layer_count;
    int moe_layers[SQ_MAX_LAYERS];
    /* The family's own fields: its struct, reached through SQ_FAMILY_CONFIG. */
    union {
        max_align_t align;
        unsigned char bytes[SQ_FAMILY_CONFIG_BYTES];
    } own;
} sq_model_config;

/* The family's own part of cfg as its struct type (a family's header wraps these in
 * typed accessors, e.g. sq_itera_config_of).  The family's file checks with
 * SQ_FAMILY_CONFIG_FITS that its struct fits. */
#define SQ_FAMILY_CONFIG(cfg, type) ((type *)(void *)(cfg)->own.bytes)
#define SQ_FAMILY_CONFIG_CONST(cfg, type) ((const type *)(const void *)(cfg)->own.bytes)
#define SQ_FAMILY_CONFIG_FITS(type) \
    _Static_assert(sizeof(type) <= SQ_FAMILY_CONFIG_BYTES, #type " does not fit sq_model_config.own")

/* JSON form (jansson) stored in artifacts as the attribute config_json: the common
 * keys, then the family's own (its config_to_json).  A family the registry does
 * not know is read with its common keys only; loading it fails later, naming it. */
sq_status sq_model_config_to_json(const sq_model_config *cfg, char **json_out);
sq_status sq_model_config_from_json(const char *json, sq_model_config *cfg);

/* The integer at key (0 when absent or not an integer). */
int sq_model_config_json_int(const json_t *root, const char *key);

/* One field of a family's own config struct and its key in config_json (the
 * field's name): a family's table of them ends with a NULL key.
 *
 * The keys every squeeze model config carried before families kept their own
 * parts (ssm_state_size, ssm_conv_kernel, ssm_expand, d_inner, num_experts,
 * expert_size, top_k, moe_layers, num_heads, ffn_size) are written first, in
 * that order after layer_norm_eps, with 0 where the family has no such field,
 * so the artifacts stay byte-identical; the family's other fields follow in
 * its table's order. */
typedef struct {
    const char *key;
    size_t offset; /* of the field in the family's config struct */
    bool real;     /* a double; otherwise an int */
    bool if_set;   /* written only when not 0 (a key that only some models have) */
} sq_config_field;
#define SQ_CONFIG_INT(type, field) {#field, offsetof(type, field), false, false}
#define SQ_CONFIG_REAL(type, field) {#field, offsetof(type, field), true, false}
#define SQ_CONFIG_INT_IF_SET(type, field) {#field, offsetof(type, field), false, true}

#endif
