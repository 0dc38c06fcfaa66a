/* select.c - which instances an executor runs (select.h).
 *
 * The local executor and the Slurm executor ask the same question; on a
 * laptop nothing is ever queued or running in Slurm, so the rule reads as
 * "what is not done, and what depends on it".
 */
#include "select.h"

#include <string.h>

static bool queued(const sq_instance *inst)
{
    return inst->state == SQ_STATE_PENDING || inst->state == SQ_STATE_RUNNING;
}

static sq_status select_one(const sq_plan *plan, const char *stage_name, const char *variant, bool *selected)
{
    int stage = sq_stage_from_name(stage_name);
    const sq_instance *inst = NULL;
    int matches = 0;
    if (stage < 0)
        return sq_fail(SQ_ERR_USAGE, "unknown stage '%s' (inspect, calibrate, compress, evaluate, report)",
                       stage_name);
    for (size_t i = 0; i < plan->count; i++) {
        const sq_instance *cand = plan->items[i];
        if ((int)cand->stage == stage && (variant == NULL || strcmp(cand->variant, variant) == 0)) {
            matches++;
            if (inst == NULL)
                inst = cand;
        }
    }
    if (matches > 1)
        return sq_fail(SQ_ERR_USAGE, "the plan has %d %s instances: name one with --variant (see squeeze plan %s)",
                       matches, stage_name, plan->config_path);
    if (inst == NULL)
        return sq_fail(SQ_ERR_USAGE, "the plan has no %s%s%s (see squeeze plan %s)", stage_name,
                       variant ? " of variant " : "", variant ? variant : "", plan->config_path);
    for (int j = 0; j < inst->input_count; j++)
        if (inst->inputs[j]->state != SQ_STATE_DONE && !queued(inst->inputs[j]))
            return sq_fail(SQ_ERR_USAGE, "%s needs %s, which is %s: resume without --stage first", inst->id,
                           inst->inputs[j]->id, sq_state_name(inst->inputs[j]->state));
    for (size_t i = 0; i < plan->count; i++)
        selected[i] = plan->items[i] == inst;
    return SQ_OK;
}

sq_status sq_plan_select(const sq_plan *plan, const char *stage, const char *variant, bool *selected)
{
    if (stage)
        return select_one(plan, stage, variant, selected);
    /* inputs come before their users in a plan, so one pass sees every upstream mark */
    for (size_t i = 0; i < plan->count; i++) {
        const sq_instance *inst = plan->items[i];
        selected[i] = inst->state != SQ_STATE_DONE && !queued(inst);
        for (int j = 0; j < inst->input_count && !selected[i] && !queued(inst); j++)
            for (size_t k = 0; k < i; k++)
                if (plan->items[k] == inst->inputs[j] && selected[k])
                    selected[i] = true;
    }
    return SQ_OK;
}
