/* fuzz_config.c - the YAML run config (config/yaml_tree.c, config/run_config.c).
 *
 * Parses the input as a run config; when it parses as YAML, also checks that
 * emitting the tree and parsing the emitted text gives the same text again:
 * the driver hands stages an effective config written by sq_yaml_emit, so the
 * emitter must never write something that reads back differently.
 * Seeds: the YAML files of configs/ and tests/data/broken-configs/; dictionary: dict/yaml.dict.
 */
#include "config/run_config.h"
#include "config/yaml_tree.h"
#include "fuzz_support.h"

static char *emit(const sq_yaml_node *node, size_t *length)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, length);
    if (out == NULL)
        abort();
    if (sq_yaml_emit(out, node) != SQ_OK) {
        fclose(out);
        free(text);
        return NULL;
    }
    fclose(out);
    return text;
}

static void check_round_trip(const sq_yaml_node *root)
{
    size_t first_len = 0, second_len = 0;
    char *first, *second = NULL;
    sq_yaml_doc again;
    sq_status st;
    if (root == NULL)
        return;
    first = emit(root, &first_len);
    if (first == NULL) {
        sq_error_clear();
        return;
    }
    st = sq_yaml_load_string(&again, first, "emitted.yaml");
    if (st != SQ_OK) {
        fprintf(stderr, "emitted YAML does not parse: %s\n---\n%s\n---\n", sq_error_message(), first);
        abort();
    }
    if (again.root != NULL)
        second = emit(again.root, &second_len);
    if (second == NULL || second_len != first_len || memcmp(first, second, first_len) != 0) {
        fprintf(stderr, "emitted YAML reads back differently:\n---\n%s\n---\n%s\n---\n", first,
                second ? second : "(nothing)");
        abort();
    }
    sq_yaml_free(&again);
    free(first);
    free(second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    sq_yaml_doc doc;
    sq_run_config cfg;
    sq_status st;
    if (text == NULL)
        return 0;
    st = sq_yaml_load_string(&doc, text, "fuzz.yaml");
    if (st == SQ_OK) {
        check_round_trip(doc.root);
        st = sq_run_config_from_doc(&doc, "fuzz.yaml", &cfg);
        if (st == SQ_OK)
            sq_run_config_free(&cfg);
        sq_yaml_free(&doc);
    }
    fuzz_check_status(st);
    free(text);
    return 0;
}
