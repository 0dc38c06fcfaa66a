/* model_config.c - the model config to and from JSON (jansson). */
#include "models/model_config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

sq_status sq_model_config_to_json(const sq_model_config *cfg, char **json_out)
{
    json_t *root = json_object(), *moe = json_array();
    for (int i = 0; i < cfg->moe_layer_count; i++)
        json_array_append_new(moe, json_integer(cfg->moe_layers[i]));
    json_object_set_new(root, "family", json_string(cfg->family));
    json_object_set_new(root, "vocab_size", json_integer(cfg->vocab_size));
    json_object_set_new(root, "hidden_size", json_integer(cfg->hidden_size));
    json_object_set_new(root, "num_layers", json_integer(cfg->num_layers));
    json_object_set_new(root, "max_seq_length", json_integer(cfg->max_seq_length));
    json_object_set_new(root, "layer_norm_eps", json_real(cfg->layer_norm_eps));
    json_object_set_new(root, "ssm_state_size", json_integer(cfg->ssm_state_size));
    json_object_set_new(root, "ssm_conv_kernel", json_integer(cfg->ssm_conv_kernel));
    json_object_set_new(root, "ssm_expand", json_integer(cfg->ssm_expand));
    json_object_set_new(root, "d_inner", json_integer(cfg->d_inner));
    json_object_set_new(root, "num_experts", json_integer(cfg->num_experts));
    json_object_set_new(root, "expert_size", json_integer(cfg->expert_size));
    json_object_set_new(root, "top_k", json_integer(cfg->top_k));
    json_object_set_new(root, "moe_layers", moe);
    json_object_set_new(root, "num_heads", json_integer(cfg->num_heads));
    json_object_set_new(root, "ffn_size", json_integer(cfg->ffn_size));
    if (cfg->num_kv_heads > 0) {
        json_object_set_new(root, "num_kv_heads", json_integer(cfg->num_kv_heads));
        json_object_set_new(root, "head_dim", json_integer(cfg->head_dim));
        json_object_set_new(root, "rope_theta", json_real(cfg->rope_theta));
        json_object_set_new(root, "rope_style", json_integer(cfg->rope_style));
    }
    if (cfg->ssm_version > 0) {
        json_object_set_new(root, "ssm_version", json_integer(cfg->ssm_version));
        json_object_set_new(root, "dt_rank", json_integer(cfg->dt_rank));
        json_object_set_new(root, "ssm_groups", json_integer(cfg->ssm_groups));
        json_object_set_new(root, "ssm_heads", json_integer(cfg->ssm_heads));
    }
    *json_out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return *json_out ? SQ_OK : sq_fail(SQ_ERR_RUN, "cannot format the model config as JSON");
}

static int get_int(json_t *root, const char *key)
{
    json_t *value = json_object_get(root, key);
    return json_is_integer(value) ? (int)json_integer_value(value) : 0;
}

sq_status sq_model_config_from_json(const char *json, sq_model_config *cfg)
{
    json_error_t error;
    json_t *root = json_loads(json, 0, &error), *moe;
    const char *family;
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return sq_fail(SQ_ERR_INPUT, "model config_json is not a JSON object (line %d: %s)", error.line,
                       error.text);
    }
    memset(cfg, 0, sizeof *cfg);
    family = json_string_value(json_object_get(root, "family"));
    strncpy(cfg->family, family ? family : "", sizeof cfg->family - 1);
    cfg->vocab_size = get_int(root, "vocab_size");
    cfg->hidden_size = get_int(root, "hidden_size");
    cfg->num_layers = get_int(root, "num_layers");
    cfg->max_seq_length = get_int(root, "max_seq_length");
    cfg->layer_norm_eps = json_number_value(json_object_get(root, "layer_norm_eps"));
    cfg->ssm_state_size = get_int(root, "ssm_state_size");
    cfg->ssm_conv_kernel = get_int(root, "ssm_conv_kernel");
    cfg->ssm_expand = get_int(root, "ssm_expand");
    cfg->d_inner = get_int(root, "d_inner");
    cfg->num_experts = get_int(root, "num_experts");
    cfg->expert_size = get_int(root, "expert_size");
    cfg->top_k = get_int(root, "top_k");
    cfg->num_heads = get_int(root, "num_heads");
    cfg->ffn_size = get_int(root, "ffn_size");
    cfg->num_kv_heads = get_int(root, "num_kv_heads");
    cfg->head_dim = get_int(root, "head_dim");
    cfg->rope_theta = json_number_value(json_object_get(root, "rope_theta"));
    cfg->rope_style = get_int(root, "rope_style");
    cfg->ssm_version = get_int(root, "ssm_version");
    cfg->dt_rank = get_int(root, "dt_rank");
    cfg->ssm_groups = get_int(root, "ssm_groups");
    cfg->ssm_heads = get_int(root, "ssm_heads");
    moe = json_object_get(root, "moe_layers");
    for (size_t i = 0; json_is_array(moe) && i < json_array_size(moe) && i < SQ_MAX_LAYERS; i++)
        cfg->moe_layers[cfg->moe_layer_count++] = (int)json_integer_value(json_array_get(moe, i));
    json_decref(root);
    if (cfg->family[0] == '\0' || cfg->vocab_size <= 0 || cfg->hidden_size <= 0 || cfg->num_layers <= 0)
        return sq_fail(SQ_ERR_INPUT, "model config_json lacks family, vocab_size, hidden_size or num_layers");
    return SQ_OK;
}
