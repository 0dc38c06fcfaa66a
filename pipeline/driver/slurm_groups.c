/* slurm_groups.c - the sbatch calls of a submission (slurm_groups.h).
 *
 * For the demo sweep: inspect (one job), calibrate (one job, an array if
 * variants need several calibrations), baseline (likewise), compress and
 * evaluate (arrays over the variants, evaluate task i after compress task i
 * only), report (after every evaluation, whatever its outcome): 6 sbatch
 * calls for a sweep of any size, plus one compress/evaluate pair per
 * MaxArraySize chunk.  The array index of a variant's tasks is its index in
 * the sweep, which keeps aftercorr pairs aligned across resubmissions.
 */
#include "slurm_groups.h"
#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sq_slurm_array_spec(const int *ids, size_t count, int throttle)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (f == NULL)
        return NULL;
    for (size_t i = 0; i < count;) {
        size_t j = i;
        while (j + 1 < count && ids[j + 1] == ids[j] + 1)
            j++;
        if (j > i)
            fprintf(f, "%s%d-%d", i ? "," : "", ids[i], ids[j]);
        else
            fprintf(f, "%s%d", i ? "," : "", ids[i]);
        i = j + 1;
    }
    if (throttle > 0)
        fprintf(f, "%%%d", throttle);
    fclose(f);
    return text;
}

static sq_job_group *new_group(sq_submission *s, const sq_stage_step *step, const char *suffix, int chunk)
{
    sq_job_group *grown = realloc(s->groups, (s->group_count + 1) * sizeof *grown);
    if (grown == NULL)
        return NULL;
    s->groups = grown;
    sq_job_group *g = &s->groups[s->group_count++];
    memset(g, 0, sizeof *g);
    g->stage = step->stage;
    g->step = step;
    g->label = sq_strdupf("%s%s", step->name, suffix);
    g->chunk = chunk;
    g->corr_group = -1;
    return g->label ? g : NULL;
}

static sq_status group_add(sq_submission *s, sq_job_group *g, size_t item, int task)
{
    sq_instance **items = realloc(g->items, (g->count + 1) * sizeof *items);
    if (items)
        g->items = items;
    int *tasks = realloc(g->tasks, (g->count + 1) * sizeof *tasks);
    if (tasks)
        g->tasks = tasks;
    if (items == NULL || tasks == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    g->items[g->count] = s->plan->items[item];
    g->tasks[g->count] = task;
    g->count++;
    s->group_of[item] = (int)(g - s->groups);
    return SQ_OK;
}

static size_t item_index(const sq_plan *plan, const sq_instance *inst)
{
    for (size_t i = 0; i < plan->count; i++)
        if (plan->items[i] == inst)
            return i;
    return 0;
}

/* A step that runs once or per distinct key: positions as task ids. */
static sq_status group_positional(sq_submission *s, const sq_stage_step *step, int max_array)
{
    sq_job_group *g = NULL;
    for (size_t i = 0; i < s->plan->count; i++) {
        if (!s->submit[i] || s->plan->items[i]->step != step)
            continue;
        if (g == NULL || (int)g->count == max_array)
            if ((g = new_group(s, step, "", 0)) == NULL)
                return sq_fail(SQ_ERR_RUN, "out of memory");
        sq_status st = group_add(s, g, i, (int)g->count);
        if (st != SQ_OK)
            return st;
    }
    return SQ_OK;
}

/* Steps first..last-1 follow the variants one by one: arrays over the variant
 * index, chunk by chunk; a step reading the previous one's instance of the
 * same variant pairs with it (aftercorr) when that instance is submitted too. */
static sq_status group_per_variant(sq_submission *s, size_t first, size_t last, int max_array)
{
    const sq_plan *plan = s->plan;
    int chunks = (int)((plan->variant_count + (size_t)max_array - 1) / (size_t)max_array);
    for (int c = 0; c < chunks; c++) {
        int offset = c * max_array, previous = -1;
        for (size_t t = first; t < last; t++) {
            const sq_stage_step *step = &sq_stage_steps[t];
            sq_job_group *paired = NULL, *single = NULL;
            int mine = -1;
            for (size_t i = 0; i < plan->count; i++) {
                const sq_instance *inst = plan->items[i];
                if (!s->submit[i] || inst->step != step || inst->variant_index / max_array != c)
                    continue;
                bool corr = false;
                for (int j = 0; j < inst->input_count && previous >= 0; j++)
                    if (inst->inputs[j]->step == s->groups[previous].step &&
                        s->submit[item_index(plan, inst->inputs[j])])
                        corr = true;
                /* the block's first step leads; a later one pairs with it or runs alone */
                sq_job_group **slot = corr || t == first ? &paired : &single;
                if (*slot == NULL) {
                    /* "<step>-only": tasks whose previous step is not submitted with them */
                    *slot = new_group(s, step, slot == &single ? "-only" : "", c);
                    if (*slot == NULL)
                        return sq_fail(SQ_ERR_RUN, "out of memory");
                    (*slot)->offset = offset;
                    (*slot)->corr_group = corr ? previous : -1;
                    if (slot == &paired)
                        mine = (int)(*slot - s->groups);
                }
                sq_status st = group_add(s, *slot, i, inst->variant_index - offset);
                if (st != SQ_OK)
                    return st;
            }
            previous = mine;
        }
    }
    return SQ_OK;
}

sq_status sq_submission_group(const sq_plan *plan, const bool *submit, int max_array, sq_submission *out)
{
    sq_status st = SQ_OK;
    memset(out, 0, sizeof *out);
    out->plan = plan;
    out->submit = submit;
    if (max_array < 1)
        max_array = 1;
    SQ_TRY(sq_alloc(&out->group_of, plan->count + 1, sizeof *out->group_of, "submission"));
    for (size_t i = 0; i < plan->count; i++)
        out->group_of[i] = -1;
    for (size_t t = 0; t < sq_stage_step_count;) {
        const sq_stage_step *step = &sq_stage_steps[t];
        if (step->expand != SQ_EXPAND_PER_VARIANT) {
            SQ_TRY(group_positional(out, step, max_array));
            t++;
            continue;
        }
        size_t last = t + 1;
        while (last < sq_stage_step_count && sq_stage_steps[last].expand == SQ_EXPAND_PER_VARIANT &&
               sq_stage_steps[last].phase == step->phase)
            last++;
        SQ_TRY(group_per_variant(out, t, last, max_array));
        t = last;
    }
    for (size_t gi = 0; gi < out->group_count; gi++) {
        sq_job_group *g = &out->groups[gi];
        g->array = g->step->expand == SQ_EXPAND_PER_VARIANT || g->count > 1;
    }
cleanup:
    if (st != SQ_OK)
        sq_submission_free(out);
    return st;
}

void sq_submission_free(sq_submission *s)
{
    for (size_t gi = 0; gi < s->group_count; gi++) {
        free(s->groups[gi].label);
        free(s->groups[gi].items);
        free(s->groups[gi].tasks);
        free(s->groups[gi].job_id);
    }
    free(s->groups);
    free(s->group_of);
    memset(s, 0, sizeof *s);
}

char *sq_submission_dependency(const sq_submission *s, const sq_job_group *g)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    int n = 0;
    const char *type = g->stage == SQ_STAGE_REPORT ? "afterany" : "afterok";
    char **seen = NULL;
    size_t seen_count = 0;
    if (f == NULL)
        return NULL;
    for (size_t i = 0; i < g->count; i++) {
        const sq_instance *inst = g->items[i];
        for (int j = 0; j < inst->input_count; j++) {
            const sq_instance *input = inst->inputs[j];
            size_t index = item_index(s->plan, input);
            const char *id = NULL, *kind = type;
            if (s->submit[index] && s->group_of[index] >= 0) {
                if (s->group_of[index] == g->corr_group)
                    kind = "aftercorr";
                id = s->groups[s->group_of[index]].job_id;
            } else if (input->state == SQ_STATE_PENDING || input->state == SQ_STATE_RUNNING) {
                id = input->job_id;
            }
            if (id == NULL)
                continue;
            char *dep = sq_strdupf("%s:%s", kind, id);
            bool dup = false;
            for (size_t k = 0; k < seen_count && !dup; k++)
                dup = strcmp(seen[k], dep) == 0;
            if (dup) {
                free(dep);
                continue;
            }
            char **grown = realloc(seen, (seen_count + 1) * sizeof *seen);
            if (grown == NULL) {
                free(dep);
                continue;
            }
            seen = grown;
            seen[seen_count++] = dep;
            fprintf(f, "%s%s", n++ ? "," : "", dep);
        }
    }
    fclose(f);
    for (size_t k = 0; k < seen_count; k++)
        free(seen[k]);
    free(seen);
    if (n == 0) {
        free(text);
        return NULL;
    }
    return text;
}
