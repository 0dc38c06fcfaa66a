/* fuzz_precision_map.c - precision maps (quant/precision_map.c): YAML rules,
 * glob patterns with {a,b} alternatives and [classes], and resolving them
 * against the tensor names of the bundled Itera-Lite model.
 * Seeds: the recipes in configs/recipes/; dictionary: dict/yaml.dict.
 */
#include "config/yaml_tree.h"
#include "fuzz_support.h"
#include "precision/precision_map.h"

static const char *const names[] = {
    "embedding.weight", "lm_head.weight", "layers.0.ssm.in_proj.weight", "layers.0.ssm.conv1d.weight",
    "layers.0.ssm.A_log", "layers.0.ssm.D", "layers.0.moe.experts.0.w1.weight", "layers.0.moe.router.weight",
    "layers.1.attn.q_proj.weight", "layers.1.norm.weight", "norm_f.bias", "a*b?[c]{d}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { N = sizeof names / sizeof names[0] };
    char *text = fuzz_text(data, size);
    sq_yaml_doc doc;
    sq_precision_map map;
    sq_map_tensor tensors[N];
    sq_map_decision decisions[N];
    sq_map_summary summary;
    sq_status st;
    int loaded;
    if (text == NULL)
        return 0;
    memset(&map, 0, sizeof map);
    st = sq_yaml_load_string(&doc, text, "fuzz-map.yaml");
    loaded = st == SQ_OK;
    if (st == SQ_OK && doc.root != NULL) {
        st = sq_precision_map_parse(doc.root, &map);
        if (st == SQ_OK) {
            memset(tensors, 0, sizeof tensors);
            for (size_t i = 0; i < N; i++) {
                tensors[i].name = names[i];
                tensors[i].alias_of = i == 1 ? names[0] : NULL;
                tensors[i].keep_full_precision = strstr(names[i], "A_log") != NULL;
                tensors[i].keep_reason = "fuzz";
            }
            st = sq_precision_map_resolve(&map, tensors, N, decisions, &summary);
            if (st == SQ_OK)
                for (size_t i = 0; i < N; i++)
                    (void)sq_map_decision_label(&decisions[i]);
        }
        sq_precision_map_free(&map);
    }
    if (st == SQ_OK && doc.root != NULL) {
        /* glob matching on its own: the first scalar as a pattern against every name */
        const sq_yaml_node *node = doc.root;
        while (node != NULL && node->kind != SQ_YAML_SCALAR)
            node = node->count > 0 ? node->items[0] : NULL;
        if (node != NULL)
            for (size_t i = 0; i < N; i++)
                (void)sq_glob_match_braces(node->value, names[i]);
    }
    if (loaded)
        sq_yaml_free(&doc);
    fuzz_check_status(st);
    free(text);
    return 0;
}
