/* run_plan.c - what plan.json says about each variant of a run.
 *
 * plan.json is defined once, in artifact/plan_record.h (the driver writes it
 * from the same definition).  state is missing | stale | done | pending |
 * running | failed.  The report lists every planned variant: one whose
 * evaluation, compression or any stage upstream of them failed is shown as
 * failed, naming the stage, its exit code and its log; a variant that never
 * ran says so and names the log to look at.
 */
#include <stdio.h>
#include <string.h>

#include "artifact/plan_record.h"
#include "report/report_h5.h"
#include "report/run_results.h"

/* The instance that failed on the way to this one: the instance itself, or the
 * first failed one among its inputs, depth first (a plan is a DAG of at most
 * a few levels: inspect -> calibrate -> compress -> evaluate). */
static const sq_plan_record_instance *failed_upstream(const sq_plan_record *plan, const sq_plan_record_instance *item,
                                                      int depth)
{
    if (item == NULL || depth > 16)
        return NULL;
    if (strcmp(item->state, "failed") == 0)
        return item;
    for (size_t i = 0; i < item->input_count; i++) {
        const sq_plan_record_instance *found =
            failed_upstream(plan, sq_plan_record_find(plan, item->inputs[i]), depth + 1);
        if (found)
            return found;
    }
    return NULL;
}

static void record_failure(sq_variant_result *v, const sq_plan_record_instance *failed,
                           const sq_plan_record_instance *own)
{
    v->plan_failed = true;
    v->exit_code = failed->has_exit_code ? failed->exit_code : -1;
    snprintf(v->failed_stage, sizeof v->failed_stage, "%s", failed->stage);
    snprintf(v->log_path, sizeof v->log_path, "%s", failed->log);
    if (failed == own || strcmp(failed->variant, v->name) == 0)
        snprintf(v->failure, sizeof v->failure, "%s failed (exit %d)", failed->stage, v->exit_code);
    else
        snprintf(v->failure, sizeof v->failure, "not run: %s, which it needs, failed (exit %d)", failed->id,
                 v->exit_code);
}

sq_status sq_report_load_plan(sq_run_results *results)
{
    sq_plan_record plan;
    sq_status st;

    if (snprintf(results->plan_path, sizeof results->plan_path, "%s/%s", results->run_dir, SQ_PLAN_RECORD_FILE) >=
        (int)sizeof results->plan_path)
        return sq_fail(SQ_ERR_INPUT, "run folder path too long: %s", results->run_dir);
    if (!sq_report_file_exists(results->plan_path)) {
        results->plan_path[0] = '\0';
        return SQ_OK; /* stages run by hand: the evaluate/ folder is all there is */
    }
    if ((st = sq_plan_record_read(results->plan_path, &plan)) != SQ_OK)
        return st;
    if (plan.run[0])
        snprintf(results->run_name, sizeof results->run_name, "%s", plan.run);

    /* Every planned variant, in the plan's order; then any evaluate instance
     * of a variant the list lacks.  A plan without compress instances is an
     * evaluate-only run: its variants are only the baseline's settings. */
    results->evaluate_only = true;
    for (size_t i = 0; i < plan.instance_count; i++)
        if (strcmp(plan.instances[i].stage, "compress") == 0)
            results->evaluate_only = false;
    for (size_t i = 0; i < plan.variant_count && !results->evaluate_only; i++)
        if (plan.variants[i].name[0] && strcmp(plan.variants[i].name, "baseline") != 0)
            sq_report_variant(results, plan.variants[i].name);
    for (size_t i = 0; i < plan.instance_count; i++) {
        const sq_plan_record_instance *item = &plan.instances[i];
        if (strcmp(item->stage, "evaluate") == 0 && item->variant[0] && strcmp(item->variant, "baseline") != 0)
            sq_report_variant(results, item->variant);
    }

    for (int i = 0; i < results->variant_count; i++) {
        sq_variant_result *v = &results->variants[i];
        const sq_plan_record_instance *evaluate = sq_plan_record_of(&plan, "evaluate", v->name);
        const sq_plan_record_instance *compress = sq_plan_record_of(&plan, "compress", v->name);
        const sq_plan_record_instance *failed = failed_upstream(&plan, evaluate ? evaluate : compress, 0);
        v->planned = true;
        if (evaluate) {
            snprintf(v->planned_key, sizeof v->planned_key, "%s", evaluate->key);
            snprintf(v->planned_state, sizeof v->planned_state, "%s", evaluate->state);
        }
        if (failed) {
            record_failure(v, failed, evaluate);
        } else {
            /* Not failed (yet): the log of the first stage whose artifact is missing. */
            const sq_plan_record_instance *pending =
                compress && !sq_report_file_exists(v->model_path) ? compress : evaluate;
            v->exit_code = -1;
            if (pending) {
                snprintf(v->failed_stage, sizeof v->failed_stage, "%s", pending->stage);
                if (sq_report_file_exists(pending->log))
                    snprintf(v->log_path, sizeof v->log_path, "%s", pending->log);
                snprintf(v->failure, sizeof v->failure, "not run: plan.json records %s as %s (the run stopped before "
                         "it, or it is still queued)", pending->id, pending->state);
            }
        }
    }
    /* A failed baseline evaluation: named in the error when evaluate/baseline is missing. */
    const sq_plan_record_instance *baseline = sq_plan_record_of(&plan, "evaluate", "baseline");
    if (baseline) {
        const sq_plan_record_instance *failed = failed_upstream(&plan, baseline, 0);
        if (failed) {
            snprintf(results->baseline.name, sizeof results->baseline.name, "baseline");
            record_failure(&results->baseline, failed, baseline);
        }
    }
    sq_plan_record_free(&plan);
    return SQ_OK;
}
