/* compress_plan.c - deciding every tensor's format (compress_plan.h). */
#include "compress/compress_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

bool sq_dtype_is_float(sq_dtype dtype)
{
    return dtype == SQ_DTYPE_F32 || dtype == SQ_DTYPE_F16 || dtype == SQ_DTYPE_BF16 || dtype == SQ_DTYPE_F64;
}


void sq_compress_plan_free(sq_compress_plan *plan)
{
    free(plan->entries);
    memset(plan, 0, sizeof *plan);
}

void sq_plan_matrix_shape(int ndim, const int64_t *shape, int64_t *rows, int64_t *cols)
{
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= shape[d];
    *rows = ndim >= 2 ? shape[0] : 1;
    *cols = *rows > 0 ? numel / *rows : 0;
}

/* A tensor the format cannot hold goes to the format's declared fallback. */
static sq_status apply_fallback(sq_compress_plan *plan, sq_plan_entry *e)
{
    char why[128];
    int64_t rows, cols;
    const sq_quant_format *fallback;
    if (e->format == NULL || e->format->fits == NULL)
        return SQ_OK;
    sq_plan_matrix_shape(e->ndim, e->shape, &rows, &cols);
    if (e->format->fits(rows, cols, &e->options, why, sizeof why))
        return SQ_OK;
    fallback = e->format->fallback ? sq_quant_format_find(e->format->fallback) : NULL;
    if (fallback == NULL)
        return sq_fail(SQ_ERR_USAGE, "tensor '%s' cannot be stored as %s: %s, and %s declares no fallback; give it "
                       "another format in the precision map", e->name, e->format->name, why, e->format->name);
    sq_info("tensor '%s': %s; stored as %s, %s's declared fallback", e->name, why, fallback->name, e->format->name);
    snprintf(e->options_text, sizeof e->options_text, "fallback from %s: %s", e->format->name, why);
    e->fallback_from = e->format->name;
    e->format = fallback;
    sq_quant_options_default(&e->options);
    plan->fallbacks++;
    return SQ_OK;
}

sq_status sq_compress_plan_build(const sq_precision_map *map, const sq_family *family, const sq_tensor_set *set,
                                 const sq_input_tensor *input, sq_compress_plan *plan)
{
    sq_status st = SQ_OK;
    sq_map_tensor *tensors = NULL;
    sq_map_decision *decisions = NULL;
    memset(plan, 0, sizeof *plan);
    if (set->count == 0)
        return sq_fail(SQ_ERR_INPUT, "the model has no tensors");
    SQ_TRY(sq_alloc(&plan->entries, set->count, sizeof *plan->entries, "compress plan"));
    SQ_TRY(sq_alloc(&tensors, set->count, sizeof *tensors, "compress plan"));
    SQ_TRY(sq_alloc(&decisions, set->count, sizeof *decisions, "compress plan"));
    plan->count = set->count;

    for (size_t i = 0; i < set->count; i++) {
        const sq_tensor *t = &set->tensors[i];
        sq_plan_entry *e = &plan->entries[i];
        e->name = t->name;
        e->alias_of = t->alias_of;
        e->group = sq_family_group_of(family, t->name);
        e->original_dtype = input[i].dtype;
        e->ndim = t->ndim;
        memcpy(e->shape, t->shape, sizeof e->shape);
        e->bytes_before = input[i].bytes;
        tensors[i].name = t->name;
        tensors[i].alias_of = t->alias_of;
        /* Buffers (router.expert_counts) and integer tensors are state, not
         * weights: stored as they are, whatever the map says. */
        tensors[i].raw = e->group == SQ_GROUP_BUFFER || !sq_dtype_is_float(input[i].dtype);
        if (family)
            tensors[i].keep_full_precision = sq_family_keep_full_precision(family, t->name, &tensors[i].keep_reason);
        e->keep_reason = tensors[i].keep_reason;
    }

    SQ_TRY(sq_precision_map_resolve(map, tensors, set->count, decisions, &plan->summary));

    /* Formats: storage first, then aliases take their storage's format. */
    for (size_t i = 0; i < plan->count; i++) {
        sq_plan_entry *e = &plan->entries[i];
        e->decision = decisions[i];
        switch (e->decision.kind) {
        case SQ_DECIDED_RULE:
        case SQ_DECIDED_DEFAULT:
            e->format = e->decision.rule->format;
            e->options = e->decision.rule->options;
            snprintf(e->options_text, sizeof e->options_text, "%s", e->decision.rule->options_text);
            break;
        case SQ_DECIDED_KEPT:
            e->format = sq_quant_format_plain_for(e->original_dtype);
            sq_quant_options_for(e->format, &e->options);
            break;
        case SQ_DECIDED_RAW:
            /* Float buffers keep their plain format; other dtypes are written
             * as they are (format NULL: "raw"). */
            e->format = sq_dtype_is_float(e->original_dtype) ? sq_quant_format_plain_for(e->original_dtype) : NULL;
            sq_quant_options_default(&e->options);
            break;
        case SQ_DECIDED_ALIAS:
            break;
        }
        if (!e->format && e->decision.kind != SQ_DECIDED_ALIAS && e->decision.kind != SQ_DECIDED_RAW)
            SQ_FAIL(SQ_ERR_RUN, "no plain format registered for tensor '%s' (dtype %s)", e->name,
                    sq_dtype_name(e->original_dtype));
        SQ_TRY(apply_fallback(plan, e));
    }
    for (size_t i = 0; i < plan->count; i++) {
        sq_plan_entry *e = &plan->entries[i];
        if (e->decision.kind != SQ_DECIDED_ALIAS)
            continue;
        const sq_plan_entry *target = &plan->entries[e->decision.alias_target];
        e->format = target->format;
        e->options = target->options;
        memcpy(e->options_text, target->options_text, sizeof e->options_text);
    }
cleanup:
    free(tensors);
    free(decisions);
    if (st != SQ_OK)
        sq_compress_plan_free(plan);
    return st;
}
