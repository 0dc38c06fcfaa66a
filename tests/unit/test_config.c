/* test_config.c - the YAML tree and the run config: types, unknown keys, positions. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/run_config.h"
#include "config/yaml_tree.h"
#include "test_support.h"

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/sq_config_XXXXXX.yaml");
    int fd = mkstemps(path, 5);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* A run config of this text is refused as a usage error whose message contains needle. */
static void expect_config_refused(const char *text, const char *needle)
{
    sq_run_config cfg;
    char *path = write_temp(text);
    ck_assert_int_eq(sq_run_config_load(path, &cfg), SQ_ERR_USAGE);
    assert_message_has(needle);
    unlink(path);
    free(path);
}

START_TEST(unknown_key_names_line_and_column)
{
    expect_config_refused("model:\n  checkpoint: m.pt\nevaluate:\n  window_length: 64\n  strde: 32\n",
                          ":5:3: unknown key 'strde' in evaluate");
    assert_message_has("stride");
}
END_TEST

START_TEST(wrong_type_is_refused)
{
    expect_config_refused("evaluate:\n  window_length: \"128\"\n", ":2:18: 'window_length' must be an integer");
    expect_config_refused("targets:\n  quality: lots\n", "must be a finite number, not 'lots'");
}
END_TEST

START_TEST(values_defaults_and_relative_paths)
{
    sq_run_config cfg;
    char *path = write_temp("run: demo-1\nmodel:\n  checkpoint: models/m.pt\ndata:\n  tokenizer: bytes\n"
                            "  evaluation: {path: text.txt, start: 0.9}\nevaluate:\n  window_length: 64\n"
                            "  scoring: second-half\ncalibrate:\n  percentiles: [99.9, 99.99]\n");
    ck_assert_int_eq(sq_run_config_load(path, &cfg), SQ_OK);
    ck_assert_str_eq(cfg.run_name, "demo-1");
    ck_assert_str_eq(cfg.model.checkpoint, "/tmp/models/m.pt");
    ck_assert_str_eq(cfg.data.evaluation.path, "/tmp/text.txt");
    ck_assert_double_eq(cfg.data.evaluation.start, 0.9);
    ck_assert_double_eq(cfg.data.evaluation.end, 1.0);
    ck_assert_int_eq(cfg.evaluate.window_length, 64);
    ck_assert_int_eq(cfg.evaluate.stride, 64); /* defaults to the window */
    ck_assert_int_eq(cfg.evaluate.scoring, SQ_SCORE_SECOND_HALF);
    ck_assert_int_eq(cfg.evaluate.offset, 1);
    ck_assert_int_eq(cfg.calibrate.percentile_count, 2);
    ck_assert_double_eq(cfg.calibrate.percentiles[1], 99.99);
    ck_assert_str_eq(cfg.inspect.target_hardware, "gpu");
    ck_assert_double_eq(cfg.targets.quality, 3.0);
    sq_run_config_free(&cfg);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(bad_choice_and_range)
{
    expect_config_refused("evaluate:\n  scoring: some\n", "must be one of all, new, second-half, not 'some'");
    expect_config_refused("data:\n  evaluation: {path: t.txt, start: 0.9, end: 0.5}\n", "0 <= start < end <= 1");
}
END_TEST

START_TEST(syntax_error_and_duplicate_key)
{
    sq_yaml_doc doc;
    ck_assert_int_eq(sq_yaml_load_string(&doc, "a: [1, 2\nb: 3\n", "x.yaml"), SQ_ERR_USAGE);
    assert_message_has("x.yaml:");
    ck_assert_int_eq(sq_yaml_load_string(&doc, "a: 1\nb: 2\na: 3\n", "y.yaml"), SQ_ERR_USAGE);
    assert_message_has("y.yaml:3:1: key 'a' appears twice (first at line 1)");
    ck_assert_int_eq(sq_yaml_load_string(&doc, "a: &x 1\nb: *x\n", "z.yaml"), SQ_ERR_USAGE);
    assert_message_has("aliases");
}
END_TEST

START_TEST(emit_round_trip_keeps_values_and_types)
{
    sq_yaml_doc doc, again;
    char *text = NULL;
    size_t size = 0;
    FILE *stream;
    ck_assert_int_eq(sq_yaml_load_string(&doc,
                                         "name: \"a b; rm -rf /\"\nn: 12\nq: \"12\"\nlist:\n  - x\n  - {k: v}\n"
                                         "empty: []\n",
                                         "in.yaml"),
                     SQ_OK);
    stream = open_memstream(&text, &size);
    ck_assert_int_eq(sq_yaml_emit(stream, doc.root), SQ_OK);
    fclose(stream);
    ck_assert_int_eq(sq_yaml_load_string(&again, text, "out.yaml"), SQ_OK);
    ck_assert_str_eq(sq_yaml_get(again.root, "name")->value, "a b; rm -rf /");
    ck_assert(!sq_yaml_get(again.root, "n")->quoted);
    ck_assert(sq_yaml_get(again.root, "q")->quoted); /* a quoted "12" stays a string */
    ck_assert_int_eq(sq_yaml_get(again.root, "list")->count, 2);
    ck_assert_str_eq(sq_yaml_get(sq_yaml_get(again.root, "list")->items[1], "k")->value, "v");
    ck_assert_int_eq(sq_yaml_get(again.root, "empty")->kind, SQ_YAML_SEQ);
    free(text);
    sq_yaml_free(&doc);
    sq_yaml_free(&again);
}
END_TEST

int main(void)
{
    return sq_test_run_tests("config", 0,
                             SQ_TESTS(unknown_key_names_line_and_column, wrong_type_is_refused,
                                      values_defaults_and_relative_paths, bad_choice_and_range,
                                      syntax_error_and_duplicate_key, emit_round_trip_keeps_values_and_types));
}
