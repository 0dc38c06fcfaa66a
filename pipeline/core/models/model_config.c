/* model_config.c - the model config to and from JSON (jansson): the common keys,
 * then the family's own fields from its table (sq_family.config_fields). */
#include "models/model_config.h"

#include <stdlib.h>
#include <string.h>

#include "models/family.h"

int sq_model_config_json_int(const json_t *root, const char *key)
{
    json_t *value = json_object_get(root, key);
    return json_is_integer(value) ? (int)json_integer_value(value) : 0;
}

static json_t *moe_layers_json(const sq_model_config *cfg)
{
    json_t *moe = json_array();
    for (int i = 0; i < cfg->moe_layer_count; i++)
        json_array_append_new(moe, json_integer(cfg->moe_layers[i]));
    return moe;
}

/* The keys of every config before families kept their own parts, in their order. */
static const char *const v1_keys[] = {"ssm_state_size", "ssm_conv_kernel", "ssm_expand", "d_inner", "num_experts",
                                      "expert_size",    "top_k",           "moe_layers", "num_heads", "ffn_size",
                                      NULL};

static const sq_config_field *field_of(const sq_config_field *fields, const char *key)
{
    for (; fields->key; fields++)
        if (strcmp(fields->key, key) == 0)
            return fields;
    return NULL;
}

static bool is_v1_key(const char *key)
{
    for (int i = 0; v1_keys[i]; i++)
        if (strcmp(v1_keys[i], key) == 0)
            return true;
    return false;
}

static json_t *field_json(const sq_model_config *cfg, const sq_config_field *field)
{
    const unsigned char *own = cfg->own.bytes + field->offset;
    if (field->real)
        return json_real(*(const double *)(const void *)own);
    return json_integer(*(const int *)(const void *)own);
}

static void fields_to_json(const sq_model_config *cfg, const sq_config_field *fields, json_t *root)
{
    for (int i = 0; v1_keys[i]; i++) {
        const sq_config_field *field = field_of(fields, v1_keys[i]);
        json_t *value;
        if (strcmp(v1_keys[i], "num_experts") == 0)
            value = json_integer(cfg->num_experts);
        else if (strcmp(v1_keys[i], "top_k") == 0)
            value = json_integer(cfg->top_k);
        else if (strcmp(v1_keys[i], "moe_layers") == 0)
            value = moe_layers_json(cfg);
        else
            value = field ? field_json(cfg, field) : json_integer(0);
        json_object_set_new(root, v1_keys[i], value);
    }
    for (; fields->key; fields++)
        if (!is_v1_key(fields->key) &&
            !(fields->if_set && *(const int *)(const void *)(cfg->own.bytes + fields->offset) == 0))
            json_object_set_new(root, fields->key, field_json(cfg, fields));
}

static void fields_from_json(const json_t *root, const sq_config_field *fields, sq_model_config *cfg)
{
    for (; fields->key; fields++) {
        unsigned char *own = cfg->own.bytes + fields->offset;
        if (fields->real)
            *(double *)(void *)own = json_number_value(json_object_get(root, fields->key));
        else
            *(int *)(void *)own = sq_model_config_json_int(root, fields->key);
    }
}

sq_status sq_model_config_to_json(const sq_model_config *cfg, char **json_out)
{
    json_t *root = json_object();
    const sq_family *family = sq_family_by_name(cfg->family);
    json_object_set_new(root, "family", json_string(cfg->family));
    json_object_set_new(root, "vocab_size", json_integer(cfg->vocab_size));
    json_object_set_new(root, "hidden_size", json_integer(cfg->hidden_size));
    json_object_set_new(root, "num_layers", json_integer(cfg->num_layers));
    json_object_set_new(root, "max_seq_length", json_integer(cfg->max_seq_length));
    json_object_set_new(root, "layer_norm_eps", json_real(cfg->layer_norm_eps));
    if (family && family->config_fields) {
        fields_to_json(cfg, family->config_fields, root);
    } else if (cfg->moe_layer_count > 0) {
        json_object_set_new(root, "num_experts", json_integer(cfg->num_experts));
        json_object_set_new(root, "top_k", json_integer(cfg->top_k));
        json_object_set_new(root, "moe_layers", moe_layers_json(cfg));
    }
    *json_out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return *json_out ? SQ_OK : sq_fail(SQ_ERR_RUN, "cannot format the model config as JSON");
}

sq_status sq_model_config_from_json(const char *json, sq_model_config *cfg)
{
    json_error_t error;
    json_t *root = json_loads(json, 0, &error), *moe;
    const char *family_name;
    const sq_family *family;
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return sq_fail(SQ_ERR_INPUT, "model config_json is not a JSON object (line %d: %s)", error.line,
                       error.text);
    }
    memset(cfg, 0, sizeof *cfg);
    family_name = json_string_value(json_object_get(root, "family"));
    strncpy(cfg->family, family_name ? family_name : "", sizeof cfg->family - 1);
    cfg->vocab_size = sq_model_config_json_int(root, "vocab_size");
    cfg->hidden_size = sq_model_config_json_int(root, "hidden_size");
    cfg->num_layers = sq_model_config_json_int(root, "num_layers");
    cfg->max_seq_length = sq_model_config_json_int(root, "max_seq_length");
    cfg->layer_norm_eps = json_number_value(json_object_get(root, "layer_norm_eps"));
    cfg->num_experts = sq_model_config_json_int(root, "num_experts");
    cfg->top_k = sq_model_config_json_int(root, "top_k");
    moe = json_object_get(root, "moe_layers");
    for (size_t i = 0; json_is_array(moe) && i < json_array_size(moe) && i < SQ_MAX_LAYERS; i++)
        cfg->moe_layers[cfg->moe_layer_count++] = (int)json_integer_value(json_array_get(moe, i));
    family = sq_family_by_name(cfg->family);
    if (family && family->config_fields)
        fields_from_json(root, family->config_fields, cfg);
    json_decref(root);
    if (cfg->family[0] == '\0' || cfg->vocab_size <= 0 || cfg->hidden_size <= 0 || cfg->num_layers <= 0)
        return sq_fail(SQ_ERR_INPUT, "model config_json lacks family, vocab_size, hidden_size or num_layers");
    return SQ_OK;
}
