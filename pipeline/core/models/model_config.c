/* model_config.c - the model config to and from JSON (jansson): the common keys
 * here, the family's own keys in the family (models/family.h). */
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

void sq_model_config_json_v1(const sq_model_config *cfg, const sq_model_config_v1_keys *keys, json_t *root)
{
    json_object_set_new(root, "ssm_state_size", json_integer(keys->ssm_state_size));
    json_object_set_new(root, "ssm_conv_kernel", json_integer(keys->ssm_conv_kernel));
    json_object_set_new(root, "ssm_expand", json_integer(keys->ssm_expand));
    json_object_set_new(root, "d_inner", json_integer(keys->d_inner));
    json_object_set_new(root, "num_experts", json_integer(cfg->num_experts));
    json_object_set_new(root, "expert_size", json_integer(keys->expert_size));
    json_object_set_new(root, "top_k", json_integer(cfg->top_k));
    json_object_set_new(root, "moe_layers", moe_layers_json(cfg));
    json_object_set_new(root, "num_heads", json_integer(keys->num_heads));
    json_object_set_new(root, "ffn_size", json_integer(keys->ffn_size));
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
    if (family && family->config_to_json) {
        family->config_to_json(cfg, root);
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
    if (family && family->config_from_json)
        family->config_from_json(root, cfg);
    json_decref(root);
    if (cfg->family[0] == '\0' || cfg->vocab_size <= 0 || cfg->hidden_size <= 0 || cfg->num_layers <= 0)
        return sq_fail(SQ_ERR_INPUT, "model config_json lacks family, vocab_size, hidden_size or num_layers");
    return SQ_OK;
}
