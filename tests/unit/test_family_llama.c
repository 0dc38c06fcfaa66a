/* test_family_llama.c - the llama and mamba families and the llama2.c reader:
 * recognition, config from config.json / the .bin header / shapes / the user,
 * errors for what cannot be inferred or does not agree, parameter groups, the
 * full-precision list, and hooks on every linear input.  The checkpoints are
 * those of tests/data/golden/ (tests/reference/make_golden_llama.py and
 * make_golden_mamba.py); their logits are checked in test_forward.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "modelio/loader.h"
#include "models/family.h"
#include "models/forward.h"
#include "models/llama.h"
#include "models/mamba.h"
#include "test_support.h"

static void golden_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/golden/%s", SQ_TEST_DATA, name);
}

static void read_golden(const char *name, sq_tensor_set *set)
{
    char path[1024];
    golden_path(path, sizeof path, name);
    ck_assert_msg(sq_checkpoint_read(path, set) == SQ_OK, "%s: %s", path, sq_error_message());
}

static void copy_file(const char *from, const char *to, long truncate_to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    long total = 0;
    ck_assert(in && out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (truncate_to >= 0 && total + (long)n > truncate_to)
            n = (size_t)(truncate_to - total);
        fwrite(buf, 1, n, out);
        total += (long)n;
    }
    fclose(in);
    fclose(out);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_llama_hf_config_json)
{
    sq_tensor_set set;
    sq_model_config cfg;
    const char *why = NULL;
    read_golden("llama_gqa_hf.safetensors", &set);
    ck_assert_ptr_eq(sq_family_detect(&set), &sq_family_llama);
    ck_assert_int_eq(sq_family_llama.infer_config(&set, NULL, &cfg), SQ_OK);
    ck_assert_str_eq(cfg.family, "llama");
    ck_assert_int_eq(sq_llama_config_c(&cfg)->num_heads, 8);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->num_kv_heads, 4);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->head_dim, 8);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->ffn_size, 96);
    ck_assert_int_eq(cfg.num_layers, 2);
    ck_assert_int_eq(cfg.vocab_size, 67);
    ck_assert_int_eq(cfg.max_seq_length, 48);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->rope_style, SQ_ROPE_HALF);
    ck_assert_int_eq(sq_family_llama.validate(&set, &cfg), SQ_OK);
    ck_assert_int_eq(sq_family_group_of(&sq_family_llama, "model.layers.1.self_attn.k_proj.weight"), SQ_GROUP_ATTENTION);
    ck_assert_int_eq(sq_family_group_of(&sq_family_llama, "model.layers.0.mlp.down_proj.weight"), SQ_GROUP_FFN);
    ck_assert_int_eq(sq_family_group_of(&sq_family_llama, "model.embed_tokens.weight"), SQ_GROUP_EMBEDDING);
    ck_assert_int_eq(sq_family_group_of(&sq_family_llama, "lm_head.weight"), SQ_GROUP_HEAD);
    ck_assert_int_eq(sq_family_group_of(&sq_family_llama, "model.layers.0.self_attn.q_proj.bias"), SQ_GROUP_NONE);
    ck_assert(sq_family_keep_full_precision(&sq_family_llama, "model.layers.1.input_layernorm.weight", &why) && why);
    ck_assert(!sq_family_keep_full_precision(&sq_family_llama, "model.layers.1.self_attn.q_proj.weight", &why));
    /* a JSON round trip keeps what the forward pass needs */
    char *json = NULL;
    sq_model_config back;
    ck_assert_int_eq(sq_model_config_to_json(&cfg, &json), SQ_OK);
    ck_assert_int_eq(sq_model_config_from_json(json, &back), SQ_OK);
    ck_assert_int_eq(sq_llama_config_c(&back)->num_kv_heads, 4);
    ck_assert_int_eq(sq_llama_config_c(&back)->rope_style, SQ_ROPE_HALF);
    ck_assert(sq_llama_config_c(&back)->rope_theta == sq_llama_config_c(&cfg)->rope_theta && back.layer_norm_eps == cfg.layer_norm_eps);
    free(json);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_llama_meta_and_llama2c)
{
    sq_tensor_set set;
    sq_model_config cfg;
    read_golden("llama_mha_meta.safetensors", &set);
    ck_assert_ptr_eq(sq_family_detect(&set), &sq_family_llama);
    ck_assert_int_eq(sq_family_llama.infer_config(&set, NULL, &cfg), SQ_OK);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->rope_style, SQ_ROPE_ADJACENT);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->num_heads, 5);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->num_kv_heads, 5);
    ck_assert(cfg.layer_norm_eps == 1e-6);
    ck_assert_int_eq(sq_family_group_of(&sq_family_llama, "output.weight"), SQ_GROUP_HEAD);
    sq_tensor_set_free(&set);

    read_golden("llama2c_untied.bin", &set);
    ck_assert_str_eq(set.source_format, "llama2c-bin");
    ck_assert_ptr_nonnull(sq_tensor_set_find(&set, "output.weight")); /* negative vocab_size: own classifier */
    ck_assert_int_eq(sq_family_llama.infer_config(&set, NULL, &cfg), SQ_OK);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->num_heads, 3);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->num_kv_heads, 1);
    ck_assert_int_eq(cfg.max_seq_length, 20);
    ck_assert_int_eq(cfg.vocab_size, 45);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->rope_style, SQ_ROPE_ADJACENT);
    sq_tensor_set_free(&set);

    read_golden("llama2c_gqa.bin", &set);
    ck_assert_ptr_null(sq_tensor_set_find(&set, "output.weight")); /* shared classifier */
    ck_assert_int_eq((int)set.count, 1 + 9 * 2 + 1);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_llama2c_bad_sizes)
{
    char from[1024], to[1024];
    sq_tensor_set set;
    work_dir_make();
    golden_path(from, sizeof from, "llama2c_gqa.bin");
    snprintf(to, sizeof to, "%s", work_path("cut.bin"));
    copy_file(from, to, 28 + 4 * 1000);
    assert_error(sq_checkpoint_read(to, &set), "implies");
    assert_message_has("cut.bin");
    ck_assert_int_eq((int)set.count, 0);
    copy_file(from, to, 20); /* shorter than the header: no format at all */
    ck_assert_int_eq(sq_checkpoint_read(to, &set), SQ_ERR_INPUT);
    work_dir_remove();
}
END_TEST

START_TEST(test_llama_heads_from_user_or_error)
{
    char from[1024], to[1024];
    sq_tensor_set set;
    sq_model_config cfg;
    sq_family_hints hints = {.num_heads = 8}, wrong = {.num_heads = 4};
    work_dir_make();
    golden_path(from, sizeof from, "llama_gqa_hf.safetensors");
    snprintf(to, sizeof to, "%s", work_path("bare.safetensors"));
    copy_file(from, to, -1);
    ck_assert_int_eq(sq_checkpoint_read(to, &set), SQ_OK);
    ck_assert_int_eq(sq_family_llama.infer_config(&set, NULL, &cfg), SQ_ERR_USAGE);
    assert_message_has("model.num_heads");
    ck_assert_int_eq(sq_family_llama.infer_config(&set, &hints, &cfg), SQ_OK);
    ck_assert_int_eq(sq_llama_config_c(&cfg)->num_kv_heads, 4); /* from the key rows once the head size is known */
    ck_assert_int_eq(cfg.max_seq_length, 2048);
    /* a config.json that contradicts the shapes or the user */
    write_text(work_path("config.json"), "{\"num_attention_heads\": 8, \"num_key_value_heads\": 2}");
    assert_error(sq_family_llama.infer_config(&set, NULL, &cfg), "num_key_value_heads = 2");
    write_text(work_path("config.json"), "{\"num_attention_heads\": 8}");
    ck_assert_int_eq(sq_family_llama.infer_config(&set, &wrong, &cfg), SQ_ERR_USAGE);
    assert_message_has("model.num_heads = 4");
    write_text(work_path("config.json"), "{\"num_attention_heads\": 8, \"rope_scaling\": {\"type\": \"llama3\"}}");
    assert_error(sq_family_llama.infer_config(&set, NULL, &cfg), "rope_scaling");
    write_text(work_path("config.json"), "{not json");
    assert_error(sq_family_llama.infer_config(&set, NULL, &cfg), "config.json");
    sq_tensor_set_free(&set);
    work_dir_remove();
}
END_TEST

typedef struct {
    int calls;
    char last[128];
    int head_seen;
} hook_count;

static void count_linear(void *context, const char *name, const float *x, int rows, int cols)
{
    hook_count *c = context;
    (void)x;
    ck_assert_int_gt(rows, 0);
    ck_assert_int_gt(cols, 0);
    c->calls++;
    snprintf(c->last, sizeof c->last, "%s", name);
}

static int hooked_calls(const char *checkpoint, const sq_family *family, char *last, size_t last_size)
{
    sq_tensor_set set;
    sq_model_config cfg;
    sq_model *model = NULL;
    hook_count count = {0};
    sq_forward_hooks hooks = {.context = &count, .linear_input = count_linear};
    int32_t tokens[7] = {1, 2, 3, 4, 5, 6, 7};
    read_golden(checkpoint, &set);
    ck_assert_ptr_eq(sq_family_detect(&set), family);
    ck_assert_int_eq(family->infer_config(&set, NULL, &cfg), SQ_OK);
    ck_assert_msg(sq_model_build(&cfg, &set, &model) == SQ_OK, "%s", sq_error_message());
    float *logits = malloc(sizeof(float) * 7 * (size_t)cfg.vocab_size);
    ck_assert_int_eq(sq_model_forward(model, tokens, 7, logits, &hooks), SQ_OK);
    snprintf(last, last_size, "%s", count.last);
    free(logits);
    sq_model_free(model);
    sq_tensor_set_free(&set);
    return count.calls;
}

START_TEST(test_hooks_see_every_linear)
{
    char last[128];
    /* llama: q, k, v, o, gate, up, down per layer, then the head (tied: the embedding) */
    ck_assert_int_eq(hooked_calls("llama_gqa_hf.safetensors", &sq_family_llama, last, sizeof last), 7 * 2 + 1);
    ck_assert_str_eq(last, "model.embed_tokens.weight");
    ck_assert_int_eq(hooked_calls("llama_untied_hf.safetensors", &sq_family_llama, last, sizeof last), 7 * 3 + 1);
    ck_assert_str_eq(last, "lm_head.weight");
    /* Mamba-1: in_proj, x_proj, dt_proj, out_proj; Mamba-2: in_proj, out_proj */
    ck_assert_int_eq(hooked_calls("mamba1_random.safetensors", &sq_family_mamba, last, sizeof last), 4 * 2 + 1);
    ck_assert_str_eq(last, "backbone.embeddings.weight");
    ck_assert_int_eq(hooked_calls("mamba2_noprefix.safetensors", &sq_family_mamba, last, sizeof last), 2 * 2 + 1);
    ck_assert_str_eq(last, "embeddings.weight");
}
END_TEST

START_TEST(test_mamba_configs_and_groups)
{
    sq_tensor_set set;
    sq_model_config cfg;
    const char *why = NULL;
    read_golden("mamba1_random.safetensors", &set);
    ck_assert_int_eq(sq_family_mamba.infer_config(&set, NULL, &cfg), SQ_OK);
    ck_assert_int_eq(sq_mamba_config_c(&cfg)->ssm_version, 1);
    ck_assert_int_eq(sq_mamba_config_c(&cfg)->d_inner, 48);
    ck_assert_int_eq(sq_mamba_config_c(&cfg)->ssm_state_size, 5);
    ck_assert_int_eq(sq_mamba_config_c(&cfg)->dt_rank, 3);
    ck_assert_int_eq(sq_mamba_config_c(&cfg)->ssm_conv_kernel, 4);
    ck_assert_int_eq(sq_family_mamba.validate(&set, &cfg), SQ_OK);
    sq_tensor_set_free(&set);
    read_golden("mamba2_random.safetensors", &set);
    ck_assert_int_eq(sq_family_mamba.infer_config(&set, NULL, &cfg), SQ_OK);
    ck_assert_int_eq(sq_mamba_config_c(&cfg)->ssm_version, 2);
    ck_assert_int_eq(sq_mamba_config_c(&cfg)->ssm_heads, 8);
    ck_assert_int_eq(sq_mamba_config_c(&cfg)->ssm_groups, 2);
    ck_assert_int_eq(sq_mamba_config_c(&cfg)->ssm_state_size, 6);
    sq_tensor_set_free(&set);
    static const char *const kept[] = {"backbone.layers.0.mixer.A_log", "backbone.layers.3.mixer.D",
                                       "layers.1.mixer.dt_bias", "backbone.layers.0.mixer.dt_proj.bias",
                                       "backbone.layers.0.mixer.conv1d.weight", "layers.2.mixer.conv1d.bias",
                                       "backbone.norm_f.weight", "layers.0.mixer.norm.weight"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        ck_assert_msg(sq_family_keep_full_precision(&sq_family_mamba, kept[i], &why) && why, "%s", kept[i]);
    ck_assert(!sq_family_keep_full_precision(&sq_family_mamba, "backbone.layers.0.mixer.in_proj.weight", &why));
    ck_assert_int_eq(sq_family_group_of(&sq_family_mamba, "backbone.layers.0.mixer.x_proj.weight"), SQ_GROUP_SSM);
    ck_assert_int_eq(sq_family_group_of(&sq_family_mamba, "embeddings.weight"), SQ_GROUP_EMBEDDING);
    ck_assert_int_eq(sq_family_group_of(&sq_family_mamba, "backbone.layers.0.norm.weight"), SQ_GROUP_NORM);
}
END_TEST

START_TEST(test_mamba2_needs_config)
{
    char from[1024];
    sq_tensor_set set;
    sq_model_config cfg;
    work_dir_make();
    golden_path(from, sizeof from, "mamba2_random.safetensors");
    copy_file(from, work_path("m2.safetensors"), -1);
    ck_assert_int_eq(sq_checkpoint_read(work_path("m2.safetensors"), &set), SQ_OK);
    assert_error(sq_family_mamba.infer_config(&set, NULL, &cfg), "config.json");
    write_text(work_path("m2.config.json"), "{\"n_groups\": 2}");
    ck_assert_int_eq(sq_family_mamba.infer_config(&set, NULL, &cfg), SQ_OK);
    ck_assert_int_eq(sq_mamba_config_c(&cfg)->ssm_state_size, 6);
    write_text(work_path("m2.config.json"), "{\"n_groups\": 2, \"state_size\": 12}");
    assert_error(sq_family_mamba.infer_config(&set, NULL, &cfg), "in_proj");
    write_text(work_path("m2.config.json"), "{\"n_groups\": 2, \"time_step_limit\": [0.0, Infinity]}");
    ck_assert_int_eq(sq_family_mamba.infer_config(&set, NULL, &cfg), SQ_OK); /* Python's json writes Infinity */
    write_text(work_path("m2.config.json"), "{\"n_groups\": 2, \"time_step_limit\": [0.001, 0.1]}");
    assert_error(sq_family_mamba.infer_config(&set, NULL, &cfg), "time_step_limit");
    write_text(work_path("m2.config.json"), "{\"n_groups\": 2, \"time_step_limit\": [0.0, null]}");
    ck_assert_int_eq(sq_family_mamba.infer_config(&set, NULL, &cfg), SQ_OK);
    sq_tensor_set_free(&set);
    work_dir_remove();
}
END_TEST

int main(void)
{
    return sq_test_run_tests("family_llama_mamba", 0,
                             SQ_TESTS(test_llama_hf_config_json, test_llama_meta_and_llama2c, test_llama2c_bad_sizes,
                                      test_llama_heads_from_user_or_error, test_hooks_see_every_linear,
                                      test_mamba_configs_and_groups, test_mamba2_needs_config));
}
