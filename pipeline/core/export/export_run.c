/* export_run.c - a squeeze model out to GGUF or safetensors, with its record. */
#include "export/export_run.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "artifact/artifact.h"
#include "modelio/model_file.h"
#include "checkpoint/checkpoint.h"
#include "gguf/gguf_file.h"
#include "modelio/gguf_model.h"
#include "models/llama.h"
#include "modelio/loader.h"
#include "quant/format.h"
#include "util/hash.h"
#include "util/log.h"

/* The model as stored tensors: an artifact's own bytes, or any other model
 * (checkpoint, GGUF) loaded and kept as fp32. */
static sq_status load_stored(const char *path, const sq_run_config *config, sq_model_config *cfg,
                             sq_qtensor **tensors, size_t *count)
{
    sq_status st = SQ_OK;
    char kind[32];
    hid_t file = -1;
    sq_loaded_model model;
    bool loaded = false;

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* squeeze reports HDF5 errors itself */
    if (!sq_gguf_is_gguf(path) && H5Fis_hdf5(path) > 0) {
        SQ_TRY(sq_artifact_kind(path, kind, sizeof kind));
        if (strcmp(kind, "model") != 0 && strcmp(kind, "inspect") != 0)
            return sq_fail(SQ_ERR_INPUT, "%s is a squeeze '%s' artifact; export needs a 'model' artifact (from "
                           "compress), an 'inspect' artifact, a checkpoint or a .gguf", path, kind);
        SQ_TRY(sq_artifact_open(path, NULL, &file));
        st = sq_model_file_read_stored(file, cfg, tensors, count);
        if (st != SQ_OK)
            sq_error_context("%s", path);
        goto cleanup;
    }
    sq_error_clear();
    sq_family_hints hints = {.num_heads = config ? config->model.num_heads : 0};
    SQ_TRY(sq_model_load(path, config ? config->model.family : NULL, &hints, &model));
    loaded = true;
    *cfg = model.config;
    SQ_TRY(sq_model_baseline_qtensors(&model.tensors, tensors, count));
cleanup:
    if (file >= 0)
        H5Fclose(file);
    if (loaded)
        sq_loaded_model_free(&model);
    return st;
}

static void free_stored(sq_qtensor *tensors, size_t count)
{
    for (size_t i = 0; i < count; i++)
        sq_qtensor_free(&tensors[i]);
    free(tensors);
}

/* ---- safetensors ---- */

static sq_status copy_file(const char *from, const char *to)
{
    sq_status st = SQ_OK;
    FILE *in = fopen(from, "rb"), *out = NULL;
    char buf[65536];
    size_t n;
    if (in == NULL)
        return sq_fail(SQ_ERR_INPUT, "cannot read tokenizer file %s: %s", from, strerror(errno));
    if ((out = fopen(to, "wb")) == NULL)
        SQ_FAIL(SQ_ERR_RUN, "cannot write %s: %s", to, strerror(errno));
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            SQ_FAIL(SQ_ERR_RUN, "cannot write %s: %s", to, strerror(errno));
    if (ferror(in))
        SQ_FAIL(SQ_ERR_INPUT, "cannot read %s", from);
cleanup:
    fclose(in);
    if (out && fclose(out) != 0 && st == SQ_OK)
        st = sq_fail(SQ_ERR_RUN, "cannot write %s: %s", to, strerror(errno));
    return st;
}

/* config.json: transformers' LlamaConfig for llama; squeeze's config (with
 * model_type = the family) for the others, which transformers has no class for. */
static sq_status write_config_json(const sq_model_config *cfg, bool tied, const char *dtype, const char *path)
{
    sq_status st = SQ_OK;
    json_t *root = NULL;
    char *own = NULL;
    if (strcmp(cfg->family, "llama") == 0) {
        /* transformers' LlamaConfig (configuration_llama.py), what LlamaForCausalLM loads */
        const sq_llama_config *lc = sq_llama_config_c(cfg);
        root = json_object();
        json_object_set_new(root, "architectures", json_pack("[s]", "LlamaForCausalLM"));
        json_object_set_new(root, "model_type", json_string("llama"));
        json_object_set_new(root, "hidden_size", json_integer(cfg->hidden_size));
        json_object_set_new(root, "intermediate_size", json_integer(lc->ffn_size));
        json_object_set_new(root, "num_hidden_layers", json_integer(cfg->num_layers));
        json_object_set_new(root, "num_attention_heads", json_integer(lc->num_heads));
        json_object_set_new(root, "num_key_value_heads",
                            json_integer(lc->num_kv_heads > 0 ? lc->num_kv_heads : lc->num_heads));
        json_object_set_new(root, "head_dim", json_integer(lc->head_dim > 0 ? lc->head_dim
                                                                               : cfg->hidden_size / lc->num_heads));
        json_object_set_new(root, "rms_norm_eps", json_real(cfg->layer_norm_eps));
        json_object_set_new(root, "rope_theta", json_real(lc->rope_theta > 0 ? lc->rope_theta : 10000.0));
        json_object_set_new(root, "max_position_embeddings", json_integer(cfg->max_seq_length));
        json_object_set_new(root, "vocab_size", json_integer(cfg->vocab_size));
        json_object_set_new(root, "hidden_act", json_string("silu"));
        json_object_set_new(root, "attention_bias", json_false());
        json_object_set_new(root, "mlp_bias", json_false());
        json_object_set_new(root, "torch_dtype", json_string(dtype));
    } else {
        SQ_TRY(sq_model_config_to_json(cfg, &own));
        root = json_loads(own, 0, NULL);
        if (root == NULL)
            SQ_FAIL(SQ_ERR_RUN, "cannot build config.json");
        json_object_set_new(root, "model_type", json_string(cfg->family));
    }
    json_object_set_new(root, "tie_word_embeddings", json_boolean(tied));
    json_object_set_new(root, "squeeze_version", json_string(SQUEEZE_VERSION));
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot write %s", path);
cleanup:
    json_decref(root);
    free(own);
    return st;
}

static sq_status remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *e;
    char child[4096];
    if (dir == NULL)
        return SQ_OK;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        unlink(child);
    }
    closedir(dir);
    rmdir(path);
    return SQ_OK;
}

static sq_status export_safetensors(const sq_model_config *cfg, const sq_qtensor *tensors, size_t count,
                                    const char *tokenizer, const char *out_dir, char *main_file, size_t main_size,
                                    sq_export_log *log)
{
    sq_status st = SQ_OK;
    sq_tensor_set set;
    char tmp[4096], path[4096];
    bool tied = false;
    float *values = NULL;
    const char *widest = "float16"; /* torch_dtype: float32 when any weight is f32 */

    sq_tensor_set_init(&set);
    memset(log, 0, sizeof *log);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_dir, (long)getpid());
    remove_tree(tmp);
    if (mkdir(tmp, 0755) != 0)
        return sq_fail(SQ_ERR_RUN, "cannot create %s: %s", tmp, strerror(errno));
    for (size_t i = 0; i < count; i++) {
        const sq_qtensor *qt = &tensors[i];
        sq_export_tensor row;
        memset(&row, 0, sizeof row);
        snprintf(row.name, sizeof row.name, "%s", qt->name);
        snprintf(row.target, sizeof row.target, "%s", qt->name);
        snprintf(row.format, sizeof row.format, "%s", qt->format);
        if (qt->alias_of) {
            /* a tied tensor: written once, tie_word_embeddings in config.json */
            tied = true;
            row.target[0] = '\0';
            snprintf(row.conversion, sizeof row.conversion, "not written: shares storage with '%s'", qt->alias_of);
            SQ_TRY(sq_export_log_add(log, &row));
            continue;
        }
        const sq_qbuffer *data = sq_qtensor_buffer(qt, "data");
        bool plain = data && (strcmp(qt->format, "fp32") == 0 || strcmp(qt->format, "fp16") == 0 ||
                              strcmp(qt->format, "bf16") == 0 || strcmp(qt->format, "raw") == 0);
        void *bytes = NULL;
        sq_dtype dtype;
        size_t nbytes;
        if (plain) {
            dtype = data->dtype;
            nbytes = (size_t)sq_qtensor_numel(qt) * sq_dtype_size(dtype);
            SQ_TRY(sq_alloc(&bytes, nbytes ? nbytes : 1, 1, qt->name));
            memcpy(bytes, data->data, nbytes);
            snprintf(row.stored_as, sizeof row.stored_as, "%s", sq_dtype_name(dtype));
        } else {
            const sq_quant_format *format = sq_quant_format_find(qt->format);
            if (format == NULL)
                SQ_FAIL(SQ_ERR_INPUT, "tensor '%s' has format '%s', which squeeze cannot dequantize", qt->name,
                        qt->format);
            SQ_TRY(sq_alloc(&values, (size_t)sq_qtensor_numel(qt) + 1, sizeof *values, qt->name));
            SQ_TRY(format->dequantize(qt, values));
            bytes = values;
            values = NULL;
            dtype = SQ_DTYPE_F32;
            nbytes = (size_t)sq_qtensor_numel(qt) * 4;
            snprintf(row.stored_as, sizeof row.stored_as, "f32");
            snprintf(row.conversion, sizeof row.conversion, "%s -> f32 (safetensors has no %s form: dequantized, "
                     "exact)", qt->format, qt->format);
        }
        if (dtype == SQ_DTYPE_F32 && qt->ndim > 1)
            widest = "float32";
        else if (dtype == SQ_DTYPE_BF16 && strcmp(widest, "float16") == 0)
            widest = "bfloat16";
        st = sq_tensor_set_add(&set, qt->name, dtype, qt->ndim, qt->shape, bytes, NULL);
        if (st != SQ_OK) {
            free(bytes);
            goto cleanup;
        }
        row.bytes = nbytes;
        SQ_TRY(sq_export_log_add(log, &row));
    }
    if (snprintf(path, sizeof path, "%s/model.safetensors", tmp) >= (int)sizeof path)
        SQ_FAIL(SQ_ERR_USAGE, "export folder path too long: %s", tmp);
    SQ_TRY(sq_safetensors_write(path, &set));
    /* A llama without its own head (lm_head / output) uses the embedding: tied. */
    if (strcmp(cfg->family, "llama") == 0 && !sq_tensor_set_find(&set, "lm_head.weight") &&
        !sq_tensor_set_find(&set, "output.weight"))
        tied = true;
    if (snprintf(path, sizeof path, "%s/config.json", tmp) >= (int)sizeof path)
        SQ_FAIL(SQ_ERR_USAGE, "export folder path too long: %s", tmp);
    SQ_TRY(write_config_json(cfg, tied, widest, path));
    if (tokenizer && tokenizer[0] && strcmp(tokenizer, "bytes") != 0) {
        /* the tokenizer file and, beside a tokenizer.json, tokenizer_config.json */
        const char *base = strrchr(tokenizer, '/');
        base = base ? base + 1 : tokenizer;
        if (snprintf(path, sizeof path, "%s/%s", tmp, base) >= (int)sizeof path)
            SQ_FAIL(SQ_ERR_USAGE, "export folder path too long: %s", tmp);
        SQ_TRY(copy_file(tokenizer, path));
        char side[4096];
        if (snprintf(side, sizeof side, "%.*stokenizer_config.json", (int)(base - tokenizer), tokenizer) >=
            (int)sizeof side)
            SQ_FAIL(SQ_ERR_USAGE, "tokenizer path too long: %s", tokenizer);
        if (strcmp(base, "tokenizer.json") == 0 && access(side, R_OK) == 0) {
            if (snprintf(path, sizeof path, "%s/tokenizer_config.json", tmp) >= (int)sizeof path)
                SQ_FAIL(SQ_ERR_USAGE, "export folder path too long: %s", tmp);
            SQ_TRY(copy_file(side, path));
        }
    }
    /* complete: replace what was there */
    {
        char old[4096];
        struct stat info;
        snprintf(old, sizeof old, "%s.old.%ld", out_dir, (long)getpid());
        if (stat(out_dir, &info) == 0) {
            if (!S_ISDIR(info.st_mode))
                SQ_FAIL(SQ_ERR_USAGE, "%s exists and is not a folder; the safetensors export is a folder", out_dir);
            if (rename(out_dir, old) != 0)
                SQ_FAIL(SQ_ERR_RUN, "cannot move the old %s aside: %s", out_dir, strerror(errno));
        }
        if (rename(tmp, out_dir) != 0)
            SQ_FAIL(SQ_ERR_RUN, "cannot rename %s to %s: %s", tmp, out_dir, strerror(errno));
        remove_tree(old);
    }
    snprintf(main_file, main_size, "%s/model.safetensors", out_dir);
cleanup:
    free(values);
    sq_tensor_set_free(&set);
    if (st != SQ_OK) {
        remove_tree(tmp);
        sq_export_log_free(log);
    }
    return st;
}

/* ---- the record ---- */

static sq_status write_record(const sq_export_request *req, const sq_model_config *cfg, const char *main_file,
                              const sq_export_log *log, char **summary_json)
{
    sq_status st = SQ_OK;
    json_t *root = json_object(), *rows = json_array();
    char sha[SQ_SHA256_HEX], model_sha[SQ_SHA256_HEX], record_path[4096], stamp[32];
    struct stat info;
    size_t copied = 0, converted = 0, skipped = 0;
    uint64_t tensor_bytes = 0;
    char *text = NULL;
    time_t now = time(NULL);

    SQ_TRY(sq_sha256_file(main_file, sha));
    SQ_TRY(sq_sha256_file(req->model_path, model_sha));
    if (stat(main_file, &info) != 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot stat %s: %s", main_file, strerror(errno));
    for (size_t i = 0; i < log->count; i++) {
        const sq_export_tensor *t = &log->tensors[i];
        json_t *row = json_object();
        json_object_set_new(row, "name", json_string(t->name));
        json_object_set_new(row, "target", t->target[0] ? json_string(t->target) : json_null());
        json_object_set_new(row, "format", json_string(t->format));
        json_object_set_new(row, "stored_as", json_string(t->stored_as));
        json_object_set_new(row, "conversion", json_string(t->conversion));
        json_object_set_new(row, "bytes", json_integer((json_int_t)t->bytes));
        json_array_append_new(rows, row);
        if (!t->target[0])
            skipped++;
        else if (t->conversion[0])
            converted++;
        else
            copied++;
        tensor_bytes += t->bytes;
    }
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_object_set_new(root, "squeeze_export", json_string(req->format));
    json_object_set_new(root, "created_utc", json_string(stamp));
    json_object_set_new(root, "squeeze_version", json_string(SQUEEZE_VERSION));
    json_object_set_new(root, "plan_key", json_string(req->plan_key ? req->plan_key : ""));
    json_object_set_new(root, "variant", req->variant ? json_string(req->variant) : json_null());
    json_object_set_new(root, "family", json_string(cfg->family));
    if (strcmp(req->format, "gguf") == 0) {
        const char *arch = sq_gguf_arch_of_model(cfg);
        json_object_set_new(root, "architecture", json_string(arch ? arch : ""));
        json_object_set_new(root, "readers", json_string(sq_gguf_arch_llama_cpp(cfg)
                                                             ? "llama.cpp and squeeze"
                                                             : "squeeze only: no other runtime knows this architecture"));
    }
    json_object_set_new(root, "model", json_string(req->model_path));
    json_object_set_new(root, "model_sha256", json_string(model_sha));
    json_object_set_new(root, "path", json_string(req->out_path));
    json_object_set_new(root, "file", json_string(main_file));
    json_object_set_new(root, "sha256", json_string(sha));
    json_object_set_new(root, "bytes_on_disk", json_integer((json_int_t)info.st_size));
    json_object_set_new(root, "tensor_bytes", json_integer((json_int_t)tensor_bytes));
    json_object_set_new(root, "tensors", json_integer((json_int_t)log->count));
    json_object_set_new(root, "copied", json_integer((json_int_t)copied));
    json_object_set_new(root, "converted", json_integer((json_int_t)converted));
    json_object_set_new(root, "not_written", json_integer((json_int_t)skipped));
    json_object_set_new(root, "tensor_log", rows);
    rows = NULL;
    if (req->record_path)
        snprintf(record_path, sizeof record_path, "%s", req->record_path);
    else
        snprintf(record_path, sizeof record_path, "%s.export.json", req->out_path);
    {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", record_path, (long)getpid());
        if (json_dump_file(root, tmp, JSON_INDENT(1)) != 0 || rename(tmp, record_path) != 0) {
            unlink(tmp);
            SQ_FAIL(SQ_ERR_RUN, "cannot write the export record %s: %s", record_path, strerror(errno));
        }
    }
    sq_info("exported %s (%s, %s): %zu tensors: %zu copied, %zu converted, %zu not written (shared storage); "
            "%lld bytes on disk, sha256 %s; record %s", main_file, req->format, cfg->family, log->count, copied,
            converted, skipped, (long long)info.st_size, sha, record_path);
    if (summary_json) {
        json_object_del(root, "tensor_log");
        text = json_dumps(root, JSON_COMPACT);
        *summary_json = text;
    }
cleanup:
    json_decref(rows);
    json_decref(root);
    return st;
}

sq_status sq_export_run(const sq_export_request *req, char **summary_json)
{
    sq_status st = SQ_OK;
    sq_model_config cfg;
    sq_qtensor *tensors = NULL;
    size_t count = 0;
    sq_gguf_file gguf;
    sq_export_log log = {0};
    char main_file[4096];
    const char *tokenizer = req->config ? req->config->data.tokenizer : NULL;
    bool is_gguf = strcmp(req->format, "gguf") == 0;

    sq_gguf_init(&gguf);
    if (!is_gguf && strcmp(req->format, "safetensors") != 0)
        return sq_fail(SQ_ERR_USAGE, "export format '%s' is not known; use gguf or safetensors", req->format);
    SQ_TRY(load_stored(req->model_path, req->config, &cfg, &tensors, &count));
    if (is_gguf) {
        const char *name = req->variant ? req->variant : req->config ? req->config->run_name : NULL;
        st = sq_gguf_model_build(&cfg, tensors, count, tokenizer, name, &gguf, &log);
        if (st != SQ_OK) {
            sq_error_context("exporting %s (family %s) to GGUF", req->model_path, cfg.family);
            goto cleanup;
        }
        SQ_TRY(sq_gguf_write(&gguf, req->out_path));
        snprintf(main_file, sizeof main_file, "%s", req->out_path);
    } else {
        SQ_TRY(export_safetensors(&cfg, tensors, count, tokenizer, req->out_path, main_file, sizeof main_file, &log));
    }
    SQ_TRY(write_record(req, &cfg, main_file, &log, summary_json));
cleanup:
    sq_gguf_free(&gguf);
    sq_export_log_free(&log);
    free_stored(tensors, count);
    return st;
}
