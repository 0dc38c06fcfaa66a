/* test_precision_map.c - precision-map parsing, glob semantics and decisions. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "precision/precision_map.h"
#include "util/status.h"
#include "test_support.h"

/* Parses text (named "map.yaml" in messages) into map; returns the status. */
static sq_status parse_text(const char *text, sq_precision_map *map, sq_yaml_doc *doc)
{
    sq_status st = sq_yaml_load_string(doc, text, "map.yaml");
    if (st != SQ_OK)
        return st;
    return sq_precision_map_parse(doc->root, map);
}

/* Parsing text must fail as a usage error whose message contains needle. */
static void expect_parse_refused(const char *text, const char *needle)
{
    sq_yaml_doc doc = {0};
    sq_precision_map map;
    ck_assert_int_eq(parse_text(text, &map, &doc), SQ_ERR_USAGE);
    assert_message_has(needle);
    sq_yaml_free(&doc);
}

/* A few Itera-Lite names: index 0..7. */
static const char *const itera_names[] = {
    "embedding.weight",                      /* 0 */
    "layers.0.ssm.in_proj.weight",           /* 1 */
    "layers.0.ssm.ssm.A_log",                /* 2: full precision */
    "layers.1.ssm.in_proj.weight",           /* 3 */
    "layers.1.moe.layer.experts.0.w1.weight",/* 4 */
    "layers.1.moe.layer.router.expert_counts", /* 5: raw buffer */
    "norm.weight",                           /* 6: full precision */
    "lm_head.weight",                        /* 7: alias of embedding.weight */
};
#define ITERA_COUNT 8

static void itera_tensors(sq_map_tensor *tensors)
{
    memset(tensors, 0, ITERA_COUNT * sizeof *tensors);
    for (int i = 0; i < ITERA_COUNT; i++)
        tensors[i].name = itera_names[i];
    tensors[2].keep_full_precision = true;
    tensors[2].keep_reason = "A_log sets the state decay";
    tensors[5].raw = true;
    tensors[6].keep_full_precision = true;
    tensors[6].keep_reason = "norm";
    tensors[7].alias_of = "embedding.weight";
}

START_TEST(star_stays_in_one_segment)
{
    /* The seed's bug: '.*' swallowed "0.ssm" and matched the inner ssm. */
    ck_assert(!sq_glob_match("layers.*.ssm.A_log", "layers.0.ssm.ssm.A_log"));
    ck_assert(sq_glob_match("layers.*.ssm.A_log", "layers.0.ssm.A_log"));
    ck_assert(sq_glob_match("layers.*.ssm.ssm.A_log", "layers.12.ssm.ssm.A_log"));
    ck_assert(!sq_glob_match("layers.*.weight", "layers.0.ssm.in_proj.weight"));
    ck_assert(sq_glob_match("*", "norm"));
    ck_assert(!sq_glob_match("*", "norm.weight"));
    ck_assert(sq_glob_match("layers.*", "layers.3"));
    ck_assert(!sq_glob_match("layers.*", "layers.3.ssm"));
    /* '*' may be empty, but never crosses the dot */
    ck_assert(sq_glob_match("layers.1*.ssm", "layers.1.ssm"));
    ck_assert(sq_glob_match("layers.1*.ssm", "layers.12.ssm"));
}
END_TEST

START_TEST(double_star_crosses_segments)
{
    ck_assert(sq_glob_match("**.A_log", "layers.0.ssm.ssm.A_log"));
    ck_assert(sq_glob_match("**", "lm_head.weight"));
    ck_assert(sq_glob_match("layers.*.moe.**", "layers.1.moe.layer.experts.3.w2.weight"));
    ck_assert(!sq_glob_match("layers.*.moe.**", "layers.1.ssm.in_proj.weight"));
    ck_assert(sq_glob_match("layers.**.weight", "layers.0.ssm.in_proj.weight"));
    ck_assert(!sq_glob_match("layers.**.bias", "layers.0.ssm.in_proj.weight"));
}
END_TEST

START_TEST(question_sets_and_braces)
{
    ck_assert(sq_glob_match("layers.?.ssm", "layers.7.ssm"));
    ck_assert(!sq_glob_match("layers.?.ssm", "layers.17.ssm"));
    ck_assert(!sq_glob_match("a?b", "a.b"));
    ck_assert(sq_glob_match("layers.[13].moe", "layers.3.moe"));
    ck_assert(!sq_glob_match("layers.[13].moe", "layers.2.moe"));
    ck_assert(sq_glob_match("layers.[0-2].moe", "layers.2.moe"));
    ck_assert(sq_glob_match("layers.[!0].moe", "layers.1.moe"));
    ck_assert(!sq_glob_match("layers.[!0].moe", "layers.0.moe"));
    ck_assert(sq_glob_match_braces("layers.*.ssm.{in_proj,out_proj}.weight", "layers.2.ssm.out_proj.weight"));
    ck_assert(!sq_glob_match_braces("layers.*.ssm.{in_proj,out_proj}.weight", "layers.2.ssm.conv1d.weight"));
    ck_assert(sq_glob_match_braces("{a,b{c,d}}.x", "bd.x"));
}
END_TEST

START_TEST(malformed_pattern_names_its_line)
{
    expect_parse_refused("rules:\n  - pattern: \"layers.{a,b.weight\"\n    format: fp16\n", "map.yaml:2:");
    assert_message_has("'{' without '}'");
}
END_TEST

START_TEST(options_are_parsed)
{
    sq_yaml_doc doc = {0};
    sq_precision_map map;
    sq_status st = parse_text("description: test\n"
                              "rules:\n"
                              "  - pattern: [\"layers.*.ssm.in_proj.weight\", embedding.weight]\n"
                              "    format: nf4\n"
                              "    block_size: 128\n"
                              "    double_quant: true\n"
                              "    note: why\n"
                              "default: {format: int8, weight_percentile: 99.9}\n",
                              &map, &doc);
    ck_assert_msg(st == SQ_OK, "%s", sq_error_message());
    ck_assert_uint_eq(map.rule_count, 1);
    ck_assert_uint_eq(map.rules[0].pattern_count, 2);
    ck_assert_str_eq(map.rules[0].format->name, "nf4");
    ck_assert_int_eq(map.rules[0].options.block_size, 128);
    ck_assert(map.rules[0].options.double_quant);
    ck_assert_str_eq(map.rules[0].options_text, "block_size=128 double_quant=true");
    ck_assert_str_eq(map.rules[0].note, "why");
    ck_assert(map.has_default);
    ck_assert_str_eq(map.default_rule.format->name, "int8");
    ck_assert_double_eq_tol(map.default_rule.options.weight_percentile, 99.9, 1e-12);
    ck_assert_str_eq(map.description, "test");
    sq_precision_map_free(&map);
    sq_yaml_free(&doc);
}
END_TEST

START_TEST(unknown_format_names_line_and_column)
{
    expect_parse_refused("rules:\n"
                         "  - pattern: embedding.weight\n"
                         "    format: int3\n",
                         "map.yaml:3:13");
    assert_message_has("unknown format 'int3'");
    assert_message_has("nf4"); /* lists the known formats */
}
END_TEST

START_TEST(unknown_option_names_line_and_column)
{
    /* block_size is an nf4/int4 option, not int8's */
    expect_parse_refused("rules:\n"
                         "  - pattern: embedding.weight\n"
                         "    format: int8\n"
                         "    block_size: 64\n",
                         "map.yaml:4:5");
    assert_message_has("format 'int8' has no option 'block_size'");
    expect_parse_refused("default:\n  format: nf4\n  blocksize: 64\n", "map.yaml:3:3");
    assert_message_has("unknown key 'blocksize'");
    expect_parse_refused("default:\n  format: nf4\n  block_size: many\n", "map.yaml:3:15");
    expect_parse_refused("rules: []\ndefaults: fp16\n", "defaults");
}
END_TEST

/* A map resolved against the Itera names: the decisions, the summary, and what
 * holds them (freed by resolved_free, or by the next resolve_map into it). */
typedef struct {
    sq_yaml_doc doc;
    sq_precision_map map;
    sq_map_decision d[ITERA_COUNT];
    sq_map_summary summary;
} resolved;

static void resolved_free(resolved *r)
{
    sq_precision_map_free(&r->map);
    sq_yaml_free(&r->doc);
    memset(r, 0, sizeof *r);
}

static sq_status resolve_map(resolved *r, const char *text)
{
    sq_map_tensor tensors[ITERA_COUNT];
    resolved_free(r);
    sq_status st = parse_text(text, &r->map, &r->doc);
    if (st != SQ_OK)
        return st;
    itera_tensors(tensors);
    return sq_precision_map_resolve(&r->map, tensors, ITERA_COUNT, r->d, &r->summary);
}

START_TEST(first_match_wins)
{
    resolved r = {0};
    sq_status st = resolve_map(&r, "rules:\n"
                                   "  - pattern: \"layers.0.**\"\n"
                                   "    format: int8\n"
                                   "  - pattern: \"layers.*.ssm.in_proj.weight\"\n"
                                   "    format: nf4\n"
                                   "  - pattern: \"**.weight\"\n"
                                   "    format: fp16\n");
    ck_assert_msg(st == SQ_OK, "%s", sq_error_message());
    ck_assert_int_eq(r.d[1].kind, SQ_DECIDED_RULE);
    ck_assert_str_eq(r.d[1].rule->format->name, "int8"); /* layers.0 in_proj: rule 0 before rule 1 */
    ck_assert_int_eq(r.d[1].rule_index, 0);
    ck_assert_str_eq(r.d[3].rule->format->name, "nf4");  /* layers.1 in_proj: rule 1 */
    ck_assert_str_eq(r.d[4].rule->format->name, "fp16"); /* expert: rule 2 */
    ck_assert_str_eq(r.d[0].rule->format->name, "fp16"); /* embedding: rule 2 */
    ck_assert_str_eq(sq_map_decision_label(&r.d[4]), "**.weight");
    /* A_log: matched by layers.0.** with int8: applied, and flagged */
    ck_assert_int_eq(r.d[2].kind, SQ_DECIDED_RULE);
    ck_assert(r.d[2].forced_lower);
    ck_assert_uint_eq(r.summary.forced_lower, 2);
    /* norm.weight is matched by **.weight -> fp16, forced lower too */
    ck_assert(r.d[6].forced_lower);
    ck_assert_int_eq(r.d[5].kind, SQ_DECIDED_RAW);   /* rules never apply to buffers */
    ck_assert_int_eq(r.d[7].kind, SQ_DECIDED_ALIAS); /* lm_head follows embedding: same rule, no conflict */
    ck_assert_int_eq(r.d[7].alias_target, 0);
    resolved_free(&r);
}
END_TEST

START_TEST(unmatched_pattern_is_an_error)
{
    resolved r = {0};
    /* The seed's pattern: with '*' inside one segment it names no Itera-Lite tensor. */
    sq_status st = resolve_map(&r, "rules:\n"
                                   "  - pattern: \"**.in_proj.weight\"\n"
                                   "    format: nf4\n"
                                   "  - pattern: \"layers.*.ssm.A_log\"\n"
                                   "    format: fp16\n"
                                   "default: fp16\n");
    ck_assert_int_eq(st, SQ_ERR_USAGE);
    assert_message_has("map.yaml:4:14: pattern 'layers.*.ssm.A_log'");
    /* and says what the pattern would have matched with '**' */
    assert_message_has("with '**' it would match 'layers.0.ssm.ssm.A_log'");

    /* optional: true lets it pass */
    st = resolve_map(&r, "rules:\n"
                         "  - pattern: \"layers.*.ssm.A_log\"\n"
                         "    format: fp16\n"
                         "    optional: true\n"
                         "default: fp16\n");
    ck_assert_msg(st == SQ_OK, "%s", sq_error_message());
    ck_assert_int_eq(r.d[2].kind, SQ_DECIDED_KEPT);
    resolved_free(&r);
}
END_TEST

START_TEST(default_coverage)
{
    resolved r = {0};
    /* No default: embedding and the expert are covered by nothing. */
    sq_status st = resolve_map(&r, "rules:\n  - pattern: \"layers.*.ssm.in_proj.weight\"\n    format: nf4\n");
    ck_assert_int_eq(st, SQ_ERR_USAGE);
    assert_message_has("embedding.weight, layers.1.moe.layer.experts.0.w1.weight");
    assert_message_has("no default");

    /* With a default: they take it; full-precision tensors stay kept. */
    st = resolve_map(&r, "rules:\n  - pattern: \"layers.*.ssm.in_proj.weight\"\n    format: nf4\ndefault: int8\n");
    ck_assert_msg(st == SQ_OK, "%s", sq_error_message());
    ck_assert_int_eq(r.d[0].kind, SQ_DECIDED_DEFAULT);
    ck_assert_str_eq(r.d[0].rule->format->name, "int8");
    ck_assert_str_eq(sq_map_decision_label(&r.d[0]), "default");
    ck_assert_int_eq(r.d[2].kind, SQ_DECIDED_KEPT);
    ck_assert_str_eq(sq_map_decision_label(&r.d[2]), "kept: full precision");
    ck_assert_int_eq(r.d[6].kind, SQ_DECIDED_KEPT);
    ck_assert_uint_eq(r.summary.considered, 6); /* 8 less the raw buffer and the alias */
    ck_assert_uint_eq(r.summary.by_rule, 2);
    ck_assert_uint_eq(r.summary.by_default, 2);
    ck_assert_uint_eq(r.summary.kept, 2);
    /* 2 of 6 = 33% > 30% */
    ck_assert(r.summary.default_warning);
    resolved_free(&r);
}
END_TEST

START_TEST(default_warning_threshold)
{
    resolved r = {0};
    /* 1 of 6 to the default (17%): no warning */
    sq_status st = resolve_map(&r, "rules:\n"
                                   "  - pattern: [\"layers.*.ssm.in_proj.weight\", \"layers.*.moe.**\"]\n"
                                   "    format: nf4\n"
                                   "default: int8\n");
    ck_assert_msg(st == SQ_OK, "%s", sq_error_message());
    ck_assert_uint_eq(r.summary.by_default, 1);
    ck_assert(!r.summary.default_warning);

    /* a default-only map chose the default on purpose: no warning */
    st = resolve_map(&r, "default: fp16\n");
    ck_assert_msg(st == SQ_OK, "%s", sq_error_message());
    ck_assert_uint_eq(r.summary.by_default, 4);
    ck_assert(!r.summary.default_warning);
    resolved_free(&r);
}
END_TEST

START_TEST(tied_tensors_must_agree)
{
    resolved r = {0};
    sq_status st = resolve_map(&r, "rules:\n"
                                   "  - pattern: embedding.weight\n"
                                   "    format: int8\n"
                                   "  - pattern: lm_head.weight\n"
                                   "    format: nf4\n"
                                   "default: fp16\n");
    ck_assert_int_eq(st, SQ_ERR_USAGE);
    assert_message_has("tied tensor lm_head.weight");
    assert_message_has("map.yaml:4:5");

    /* the same format and options under two rules is fine */
    st = resolve_map(&r, "rules:\n"
                         "  - pattern: embedding.weight\n"
                         "    format: int8\n"
                         "  - pattern: lm_head.weight\n"
                         "    format: int8\n"
                         "default: fp16\n");
    ck_assert_msg(st == SQ_OK, "%s", sq_error_message());
    ck_assert_int_eq(r.d[7].kind, SQ_DECIDED_ALIAS);
    ck_assert_uint_eq(r.summary.aliases, 1);
    resolved_free(&r);
}
END_TEST

START_TEST(recipes_parse)
{
    /* Every shipped recipe parses (their effect on a real model: test_compress.sh). */
    static const char *const recipes[] = {"fp16", "bf16", "int8", "nf4", "nf4-double", "int4-g32", "gptq-int4",
                                          "seed-mixed", "ssm-mixed", NULL};
    for (int i = 0; recipes[i]; i++) {
        char path[1024];
        sq_precision_map map;
        snprintf(path, sizeof path, "%s/configs/recipes/%s.yaml", SQ_SOURCE_DIR, recipes[i]);
        sq_status st = sq_precision_map_load(path, &map);
        ck_assert_msg(st == SQ_OK, "%s: %s", path, sq_error_message());
        ck_assert_msg(map.description != NULL, "%s has a description", path);
        sq_precision_map_free(&map);
    }
}
END_TEST

int main(void)
{
    const sq_test_case cases[] = {
        {.name = "glob", .tests = SQ_TESTS(star_stays_in_one_segment, double_star_crosses_segments,
                                           question_sets_and_braces)},
        {.name = "parse", .tests = SQ_TESTS(malformed_pattern_names_its_line, options_are_parsed,
                                            unknown_format_names_line_and_column, unknown_option_names_line_and_column,
                                            recipes_parse)},
        {.name = "resolve", .tests = SQ_TESTS(first_match_wins, unmatched_pattern_is_an_error, default_coverage,
                                              default_warning_threshold, tied_tensors_must_agree)},
    };
    return sq_test_run(sq_test_suite("precision_map", cases, sizeof cases / sizeof *cases));
}
