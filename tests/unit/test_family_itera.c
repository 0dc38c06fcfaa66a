/* test_family_itera.c - the itera and itera-transformer families: recognition,
 * config inference from shapes, broken checkpoints, parameter groups and the
 * full-precision list, on the real distilled micro checkpoint
 * (tests/data/itera-lite/, github.com/CisnerosCodes/Itera-Lite, MIT) and the
 * random transformer of tests/data/golden/.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelio/loader.h"
#include "models/family.h"
#include "models/itera.h"
#include "models/itera_transformer.h"
#include "test_support.h"

static void read_set(const char *relative, sq_tensor_set *set)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", SQ_TEST_DATA, relative);
    sq_tensor_set_init(set);
    ck_assert_msg(sq_checkpoint_read(path, set) == SQ_OK, "%s: %s", path, sq_error_message());
}

/* A copy of src without the tensors for which drop() is true; `reshape` names one
 * tensor whose first dimension becomes new_rows (its leading rows kept). */
typedef bool (*drop_fn)(const char *name);

static void copy_set(const sq_tensor_set *src, drop_fn drop, const char *reshape, int64_t new_rows,
                     bool keep_meta, sq_tensor_set *out)
{
    sq_tensor_set_init(out);
    for (size_t i = 0; i < src->count; i++) {
        const sq_tensor *t = &src->tensors[i];
        if (drop && drop(t->name))
            continue;
        int64_t shape[SQ_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        if (reshape && strcmp(t->name, reshape) == 0)
            shape[0] = new_rows;
        if (t->alias_of) {
            ck_assert(sq_tensor_set_add(out, t->name, t->dtype, t->ndim, shape, NULL, t->alias_of) == SQ_OK);
            continue;
        }
        size_t bytes = t->nbytes + 1;
        void *data = malloc(bytes);
        memcpy(data, t->data, t->nbytes);
        ck_assert(sq_tensor_set_add(out, t->name, t->dtype, t->ndim, shape, data, NULL) == SQ_OK);
    }
    for (size_t i = 0; keep_meta && i < src->meta_count; i++)
        ck_assert(sq_tensor_set_add_meta(out, src->meta[i].key, src->meta[i].repr) == SQ_OK);
}

START_TEST(test_micro_config_inferred)
{
    sq_tensor_set set;
    sq_model_config cfg;
    read_set("itera-lite/itera_lite_micro_distilled.pt", &set);
    const sq_family *family = sq_family_detect(&set);
    ck_assert_ptr_eq(family, &sq_family_itera);
    ck_assert_str_eq(family->name, "itera");
    ck_assert(family->infer_config(&set, NULL, &cfg) == SQ_OK);
    ck_assert_str_eq(cfg.family, "itera");
    ck_assert_int_eq(cfg.vocab_size, 2000);
    ck_assert_int_eq(cfg.hidden_size, 64);
    ck_assert_int_eq(cfg.num_layers, 3);
    ck_assert_int_eq(sq_itera_config_c(&cfg)->ssm_state_size, 8);
    ck_assert_int_eq(sq_itera_config_c(&cfg)->ssm_conv_kernel, 4);
    ck_assert_int_eq(sq_itera_config_c(&cfg)->ssm_expand, 2);
    ck_assert_int_eq(sq_itera_config_c(&cfg)->d_inner, 128);
    ck_assert_int_eq(cfg.num_experts, 4);
    ck_assert_int_eq(sq_itera_config_c(&cfg)->expert_size, 32);
    ck_assert_int_eq(cfg.top_k, 2);
    ck_assert_int_eq(cfg.moe_layer_count, 1);
    ck_assert_int_eq(cfg.moe_layers[0], 1);
    ck_assert_int_eq(cfg.max_seq_length, 128);
    ck_assert(cfg.layer_norm_eps == 1e-5);
    ck_assert(family->validate(&set, &cfg) == SQ_OK);
    /* Every tensor of the real checkpoint belongs to a group. */
    for (size_t i = 0; i < set.count; i++)
        ck_assert_msg(sq_family_group_of(family, set.tensors[i].name) != SQ_GROUP_NONE, "%s has no group",
                      set.tensors[i].name);
    sq_tensor_set_free(&set);
}
END_TEST

static bool drop_experts_1_to_3(const char *name)
{
    return strncmp(name, "layers.1.moe.layer.experts.", 27) == 0 && name[27] != '0';
}

static bool drop_all_experts(const char *name) { return strncmp(name, "layers.1.moe.layer.experts.", 27) == 0; }

static bool drop_layer2_d(const char *name) { return strcmp(name, "layers.2.ssm.ssm.D") == 0; }

static bool drop_b(const char *name) { return strcmp(name, "layers.0.ssm.ssm.B") == 0; }

static bool drop_expert2_w2(const char *name) { return strcmp(name, "layers.1.moe.layer.experts.2.w2.weight") == 0; }

/* infer_config then validate; returns the first failure's status (message in sq_error_message). */
static sq_status infer_and_validate(const sq_tensor_set *set)
{
    sq_model_config cfg;
    sq_status st = sq_family_itera.infer_config(set, NULL, &cfg);
    return st != SQ_OK ? st : sq_family_itera.validate(set, &cfg);
}

/* Broken copies of the micro model (copy_set's drop, reshape and rows) and what infer_config or validate
 * says about each: an input error whose message holds every needle. */
static const struct {
    const char *what;
    drop_fn drop;
    const char *reshape;
    int64_t rows;
    const char *needles[2];
} broken_cases[] = {
    {"a router with fewer experts than top-k: gate [1, 64], one expert left", drop_experts_1_to_3,
     "layers.1.moe.layer.router.gate.weight", 1, {"layer 1", "fewer than top-k = 2"}},
    {"a MoE layer without expert weights (Itera-Lite's Phase 7 mixed-precision file: gate [0, d])", drop_all_experts,
     "layers.1.moe.layer.router.gate.weight", 0,
     {"broken checkpoint: layer 1 is a MoE layer but has 0 experts (router gate [0, 64]"}},
    {"experts gone but the router intact", drop_all_experts, NULL, 0,
     {"layer 1 is a MoE layer but has 0 experts (router gate [4, 64]"}},
    {"one expert matrix missing", drop_expert2_w2, NULL, 0, {"'layers.1.moe.layer.experts.2.w2.weight'"}},
    {"a missing key the forward pass needs: validate names it", drop_layer2_d, NULL, 0,
     {"missing tensor 'layers.2.ssm.ssm.D'"}},
    {"a missing key the config is inferred from: infer_config names it", drop_b, NULL, 0,
     {"missing tensor 'layers.0.ssm.ssm.B'"}},
    {"a wrong shape", NULL, "layers.2.ssm.out_proj.weight", 63,
     {"'layers.2.ssm.out_proj.weight'", "[63, 128], expected [64, 128]"}},
};

START_TEST(test_broken_checkpoints)
{
    sq_tensor_set micro, broken;
    read_set("itera-lite/itera_lite_micro_distilled.pt", &micro);
    for (size_t i = 0; i < sizeof broken_cases / sizeof *broken_cases; i++) {
        copy_set(&micro, broken_cases[i].drop, broken_cases[i].reshape, broken_cases[i].rows, true, &broken);
        ck_assert_msg(infer_and_validate(&broken) == SQ_ERR_INPUT, "%s: %s", broken_cases[i].what,
                      sq_error_message());
        for (int k = 0; k < 2 && broken_cases[i].needles[k] != NULL; k++)
            assert_message_has(broken_cases[i].needles[k]);
        sq_tensor_set_free(&broken);
    }
    sq_tensor_set_free(&micro);
}
END_TEST

START_TEST(test_transformer_heads)
{
    sq_tensor_set set, bare;
    sq_model_config cfg;
    sq_family_hints hints = {0};
    read_set("golden/random_transformer.pt", &set);
    ck_assert_ptr_eq(sq_family_detect(&set), &sq_family_itera_transformer);
    ck_assert(!sq_family_itera.recognise(&set));
    /* From the checkpoint's config entry ("{... 'num_heads': 3}"). */
    ck_assert_msg(sq_family_itera_transformer.infer_config(&set, &hints, &cfg) == SQ_OK, "%s", sq_error_message());
    ck_assert_int_eq(sq_itera_transformer_config_c(&cfg)->num_heads, 3);
    ck_assert_int_eq(cfg.vocab_size, 101);
    ck_assert_int_eq(cfg.hidden_size, 48);
    ck_assert_int_eq(cfg.num_layers, 2);
    ck_assert_int_eq(sq_itera_transformer_config_c(&cfg)->ffn_size, 80);
    ck_assert_int_eq(cfg.max_seq_length, 40);
    ck_assert(sq_family_itera_transformer.validate(&set, &cfg) == SQ_OK);
    /* A user value that disagrees with the checkpoint is refused. */
    hints.num_heads = 4;
    ck_assert_int_eq(sq_family_itera_transformer.infer_config(&set, &hints, &cfg), SQ_ERR_USAGE);
    /* Without a config entry: only the user's hint, else an error asking for model.num_heads. */
    copy_set(&set, NULL, NULL, 0, false, &bare);
    hints.num_heads = 0;
    ck_assert_int_eq(sq_family_itera_transformer.infer_config(&bare, &hints, &cfg), SQ_ERR_USAGE);
    assert_message_has("model.num_heads");
    hints.num_heads = 3;
    ck_assert(sq_family_itera_transformer.infer_config(&bare, &hints, &cfg) == SQ_OK);
    ck_assert_int_eq(sq_itera_transformer_config_c(&cfg)->num_heads, 3);
    hints.num_heads = 5; /* does not divide 48 */
    ck_assert_int_eq(sq_family_itera_transformer.infer_config(&bare, &hints, &cfg), SQ_ERR_USAGE);
    for (size_t i = 0; i < set.count; i++)
        ck_assert_msg(sq_family_group_of(&sq_family_itera_transformer, set.tensors[i].name) != SQ_GROUP_NONE, "%s",
                      set.tensors[i].name);
    sq_tensor_set_free(&bare);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_groups_and_full_precision)
{
    const sq_family *itera = &sq_family_itera, *tr = &sq_family_itera_transformer;
    const char *reason = NULL;
    struct { const char *name; sq_param_group group; bool keep; } cases[] = {
        {"embedding.weight", SQ_GROUP_EMBEDDING, false},
        {"position_embedding.weight", SQ_GROUP_POSITION, false},
        {"layers.0.ssm.in_proj.weight", SQ_GROUP_SSM, false},
        {"layers.0.ssm.conv1d.weight", SQ_GROUP_SSM, true},
        {"layers.0.ssm.conv1d.bias", SQ_GROUP_SSM, true},
        {"layers.12.ssm.ssm.A_log", SQ_GROUP_SSM, true},
        {"layers.0.ssm.ssm.B", SQ_GROUP_SSM, false},
        {"layers.0.ssm.ssm.C", SQ_GROUP_SSM, false},
        {"layers.0.ssm.ssm.D", SQ_GROUP_SSM, true},
        {"layers.0.ssm.ssm.delta_proj.weight", SQ_GROUP_SSM, false},
        {"layers.0.ssm.ssm.delta_proj.bias", SQ_GROUP_SSM, true},
        {"layers.0.ssm.out_proj.weight", SQ_GROUP_SSM, false},
        {"layers.0.ssm.norm.weight", SQ_GROUP_NORM, true},
        {"layers.0.moe.norm.bias", SQ_GROUP_NORM, true},
        {"layers.0.moe.ffn.w1.weight", SQ_GROUP_FFN, false},
        {"layers.1.moe.layer.router.gate.weight", SQ_GROUP_MOE_ROUTER, false},
        {"layers.1.moe.layer.router.expert_counts", SQ_GROUP_BUFFER, true},
        {"layers.1.moe.layer.experts.2.w1.weight", SQ_GROUP_MOE_EXPERT, false},
        {"layers.1.moe.layer.experts.13.w2.weight", SQ_GROUP_MOE_EXPERT, false},
        {"layers.1.moe.layer.norm.weight", SQ_GROUP_NORM, true},
        {"norm.bias", SQ_GROUP_NORM, true},
        {"lm_head.weight", SQ_GROUP_HEAD, false},
        /* names of no group: Itera-Lite's own key-renaming bug (3.4), typos, other families */
        {"layers.1.moe.moe.experts.0.w1.weight", SQ_GROUP_NONE, false},
        {"layers.x.ssm.in_proj.weight", SQ_GROUP_NONE, false},
        {"layers.0.ssm.in_proj.weight.extra", SQ_GROUP_NONE, false},
        {"blocks.0.attention.qkv.weight", SQ_GROUP_NONE, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(sq_family_group_of(itera, cases[i].name) == cases[i].group, "%s: group %s", cases[i].name,
                      sq_group_name(sq_family_group_of(itera, cases[i].name)));
        ck_assert_msg(sq_family_keep_full_precision(itera, cases[i].name, &reason) == cases[i].keep, "%s", cases[i].name);
        ck_assert(cases[i].keep ? reason != NULL && strlen(reason) > 10 : reason == NULL);
    }
    ck_assert(sq_family_keep_full_precision(itera, "layers.0.ssm.conv1d.weight", &reason));
    ck_assert_ptr_nonnull(strstr(reason, "llama.cpp"));
    ck_assert_int_eq(sq_family_group_of(tr, "blocks.3.attention.qkv.weight"), SQ_GROUP_ATTENTION);
    ck_assert_int_eq(sq_family_group_of(tr, "blocks.0.attention.out_proj.weight"), SQ_GROUP_ATTENTION);
    ck_assert_int_eq(sq_family_group_of(tr, "blocks.0.attention.causal_mask"), SQ_GROUP_BUFFER);
    ck_assert_int_eq(sq_family_group_of(tr, "blocks.0.ffn.w2.weight"), SQ_GROUP_FFN);
    ck_assert_int_eq(sq_family_group_of(tr, "blocks.0.ln2.bias"), SQ_GROUP_NORM);
    ck_assert_int_eq(sq_family_group_of(tr, "layers.0.ssm.in_proj.weight"), SQ_GROUP_NONE);
    ck_assert(sq_family_keep_full_precision(tr, "blocks.0.attention.causal_mask", &reason));
    ck_assert(sq_family_keep_full_precision(tr, "blocks.1.ln1.weight", &reason));
    ck_assert(!sq_family_keep_full_precision(tr, "blocks.1.ffn.w1.weight", &reason));
}
END_TEST

int main(void)
{
    return sq_test_run_tests("family-itera", 0,
                             SQ_TESTS(test_micro_config_inferred, test_broken_checkpoints, test_transformer_heads,
                                      test_groups_and_full_precision));
}
