/* gguf_native.c - squeeze's own GGUF architectures ("itera",
 * "itera-transformer"): the tensors keep squeeze's names, the config travels
 * as squeeze.config_json, and tied tensors as squeeze.aliases ("a=b\n...").
 * squeeze reads these files back; no other runtime knows these architectures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelio/gguf_arch.h"

static sq_status native_write_metadata(const sq_model_config *cfg, const sq_qtensor *tensors, size_t count,
                                       const char *tokenizer_path, sq_gguf_file *out)
{
    (void)tokenizer_path; /* in the shared signature, unused here */
    sq_status st = SQ_OK;
    char *json = NULL, *aliases = NULL;
    size_t used = 0, size = 1;
    SQ_TRY(sq_model_config_to_json(cfg, &json));
    SQ_TRY(sq_gguf_set_string(out, "squeeze.config_json", json));
    for (size_t i = 0; i < count; i++)
        if (tensors[i].alias_of)
            size += strlen(tensors[i].name) + strlen(tensors[i].alias_of) + 2;
    SQ_TRY(sq_alloc(&aliases, size, 1, "aliases"));
    aliases[0] = '\0';
    for (size_t i = 0; i < count; i++)
        if (tensors[i].alias_of)
            used += (size_t)snprintf(aliases + used, size - used, "%s=%s\n", tensors[i].name, tensors[i].alias_of);
    SQ_TRY(sq_gguf_set_string(out, "squeeze.aliases", aliases));
cleanup:
    free(json);
    free(aliases);
    return st;
}

static sq_status native_target_name(const sq_model_config *cfg, const sq_qtensor *qt, char *name, size_t size,
                                    sq_gguf_placement *place)
{
    (void)cfg; /* in the shared signature, unused here */
    (void)place;
    /* shared storage is written once; squeeze.aliases names the other names */
    snprintf(name, size, "%s", qt->alias_of ? "" : qt->name);
    return SQ_OK;
}

static sq_status native_read_config(const sq_gguf_file *f, sq_model_config *cfg)
{
    const char *json;
    sq_status st = sq_gguf_get_string(f, "squeeze.config_json", &json);
    if (st != SQ_OK)
        return st;
    return sq_model_config_from_json(json, cfg);
}

static sq_status native_squeeze_name(const sq_gguf_file *f, const char *gguf_name, char *name, size_t size)
{
    (void)f; /* in the shared signature, unused here */
    snprintf(name, size, "%s", gguf_name);
    return SQ_OK;
}

const sq_gguf_arch sq_gguf_arch_itera = {
    .family = "itera", .arch = "itera", .llama_cpp = false,
    .write_metadata = native_write_metadata, .target_name = native_target_name,
    .read_config = native_read_config, .squeeze_name = native_squeeze_name,
};

const sq_gguf_arch sq_gguf_arch_itera_transformer = {
    .family = "itera-transformer", .arch = "itera-transformer", .llama_cpp = false,
    .write_metadata = native_write_metadata, .target_name = native_target_name,
    .read_config = native_read_config, .squeeze_name = native_squeeze_name,
};
