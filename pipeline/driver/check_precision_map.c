/* check_precision_map.c - a variant's precision map (or recipe) against the
 * checkpoint's tensors (compress_plan.h): it parses, no pattern matches
 * nothing, every tensor is decided; the tensors whose shape their format
 * cannot hold are listed with the declared fallback compress will use. */
#include "checks.h"

#include <stdlib.h>

#include "compress/compress.h"
#include "compress/compress_plan.h"

void sq_check_precision_map(const sq_variant *var, const sq_loaded_model *model, sq_check_result *r)
{
    const sq_run_config *cfg = &var->cfg;
    char pos[600];
    sq_compress_request request = {.config = cfg};
    sq_precision_map map = {0};
    const char *option = cfg->compress.precision_map ? "compress.precision_map" : "compress.recipe";
    if (sq_compress_load_map(&request, &map) != SQ_OK) {
        sq_check_problem(r, "%s%s", sq_check_where(var->config, option, pos, sizeof pos), sq_error_message());
        sq_error_clear();
    } else if (model) {
        sq_input_tensor *input = calloc(model->tensors.count + 1, sizeof *input);
        sq_compress_plan cplan = {0};
        for (size_t i = 0; i < model->tensors.count; i++) {
            input[i].dtype = model->tensors.tensors[i].dtype;
            input[i].bytes = model->tensors.tensors[i].alias_of ? 0 : model->tensors.tensors[i].nbytes;
        }
        if (sq_compress_plan_build(&map, model->family, &model->tensors, input, &cplan) != SQ_OK) {
            sq_check_problem(r, "variant %s: precision map %s does not fit the checkpoint: %s", var->name,
                             map.source, sq_error_message());
            sq_error_clear();
        } else {
            sq_check_note(r, "variant %s: precision map %s decides all %zu tensors (%zu by rule, %zu by default, "
                          "%zu kept)", var->name, map.source, cplan.count, cplan.summary.by_rule,
                          cplan.summary.by_default, cplan.summary.kept);
            /* every tensor's shape against its format's constraints: the ones that do not fit are stored in
             * the format's declared fallback, said here before compress does it */
            for (size_t i = 0; i < cplan.count; i++)
                if (cplan.entries[i].fallback_from)
                    sq_check_note(r, "variant %s: tensor %s: %s", var->name, cplan.entries[i].name,
                                  cplan.entries[i].options_text);
            sq_compress_plan_free(&cplan);
        }
        free(input);
    }
    sq_precision_map_free(&map);
}
