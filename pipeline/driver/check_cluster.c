/* check_cluster.c - the cluster's own facts, asked before anything is queued
 * (docs/driver.md, "Cluster facts"): each stage's partition, CPUs, memory and
 * GPUs against what `sinfo` says the partition has, the account against
 * `sacctmgr`, and every batch script of the run through `sbatch --test-only`,
 * which asks the controller whether it would accept the job as written.
 *
 * sinfo's answer is the one that names the config line: a job that asks for 4
 * tasks on a partition of 2 CPUs is said at slurm.tasks (or evaluate.ranks);
 * sbatch --test-only is the catch-all for what the rules here do not know, said
 * at the script.  A cluster that cannot be asked (no controller reachable from
 * a laptop) is a warning: the facts were not verified, nothing was found wrong.
 */
#include "checks.h"
#include "proc.h"
#include "select.h"
#include "slurm_groups.h"
#include "slurm_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLUSTER_MAX_PARTITIONS 64

typedef struct {
    char name[128];
    bool is_default;
    int max_cpus;            /* CPUs of its biggest node */
    long total_cpus;         /* CPUs of all its nodes */
    long max_memory_mb;      /* memory of its biggest node */
    bool has_gpu;            /* a node with a gpu gres */
    char gres[256];          /* as sinfo says it, for the message */
} partition_facts;

typedef struct {
    partition_facts parts[CLUSTER_MAX_PARTITIONS];
    int count;
} cluster_facts;

/* `scontrol ping` answers at once when the controller is down, where sinfo
 * retries for its message timeout (9 s here): asked first, so that check on a
 * login node whose controller is away says so without the wait. */
static bool controller_answers(char **error)
{
    char *argv[] = {"scontrol", "ping", NULL};
    char *out = NULL;
    int code = 0;
    if (sq_capture(argv, true, 20, &out, &code) == SQ_OK && code == 0) {
        free(out);
        return true;
    }
    sq_error_clear();
    if (out)
        out[strcspn(out, "\n")] = '\0';
    *error = sq_strdupf("scontrol ping exited %d: %s", code, out && out[0] ? out : "(no output)");
    free(out);
    return false;
}

/* sinfo -h -o '%P|%c|%m|%G|%D': one line per partition and node configuration. */
static bool ask_sinfo(cluster_facts *c, char **error)
{
    char *argv[] = {"sinfo", "-h", "-o", "%P|%c|%m|%G|%D", NULL};
    char *out = NULL;
    int code = 0;
    memset(c, 0, sizeof *c);
    if (sq_capture(argv, true, 20, &out, &code) != SQ_OK || code != 0) {
        sq_error_clear();
        if (out)
            out[strcspn(out, "\n")] = '\0';
        *error = sq_strdupf("sinfo exited %d: %s", code, out && out[0] ? out : "(no output)");
        free(out);
        return false;
    }
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128], gres[256];
        char *field[5], *rest = line;
        int n = 0;
        while (n < 5 && (field[n] = strsep(&rest, "|")) != NULL)
            n++;
        if (n < 5 || field[0][0] == '\0')
            continue;
        /* "2" or "2+" (nodes of several sizes: the smallest), memory in MB likewise */
        int cpus = atoi(field[1]), nodes = atoi(field[4]);
        long memory = atol(field[2]);
        snprintf(name, sizeof name, "%s", field[0]);
        snprintf(gres, sizeof gres, "%s", field[3]);
        bool is_default = name[strlen(name) - 1] == '*';
        if (is_default)
            name[strlen(name) - 1] = '\0';
        partition_facts *p = NULL;
        for (int i = 0; i < c->count && !p; i++)
            if (strcmp(c->parts[i].name, name) == 0)
                p = &c->parts[i];
        if (p == NULL && c->count < CLUSTER_MAX_PARTITIONS) {
            p = &c->parts[c->count++];
            snprintf(p->name, sizeof p->name, "%s", name);
        }
        if (p == NULL)
            continue;
        p->is_default |= is_default;
        if (cpus > p->max_cpus)
            p->max_cpus = cpus;
        p->total_cpus += (long)cpus * nodes;
        if (memory > p->max_memory_mb)
            p->max_memory_mb = memory;
        p->has_gpu |= strncmp(gres, "gpu", 3) == 0 || strstr(gres, ",gpu") != NULL;
        if (p->gres[0] == '\0' || strcmp(gres, "(null)") != 0)
            snprintf(p->gres, sizeof p->gres, "%s", gres);
    }
    free(out);
    return true;
}

static const partition_facts *find_partition(const cluster_facts *c, const char *name)
{
    for (int i = 0; i < c->count; i++)
        if (name ? strcmp(c->parts[i].name, name) == 0 : c->parts[i].is_default)
            return &c->parts[i];
    return NULL;
}

static void partition_list(const cluster_facts *c, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0; i < c->count; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s%s", i ? ", " : "", c->parts[i].name,
                 c->parts[i].is_default ? " (default)" : "");
}

/* sbatch --mem in MB (K, M, G, T; no suffix is MB). */
static long memory_mb(const char *text)
{
    char *end;
    long value = strtol(text, &end, 10);
    switch (*end) {
    case 'K': case 'k': return value / 1024;
    case 'G': case 'g': return value * 1024;
    case 'T': case 't': return value * 1024 * 1024;
    default: return value;
    }
}

/* The tasks of a stage's jobs (slurm.tasks, else the most ranks of its instances) and where that was set. */
static int stage_tasks(const sq_plan *plan, int stage, char *where, size_t size)
{
    int ranks = 1;
    const char *option = stage == SQ_STAGE_CALIBRATE ? "calibrate.ranks" : "evaluate.ranks";
    if (plan->slurm.tasks[stage] > 0) {
        char dotted[64];
        snprintf(dotted, sizeof dotted, "slurm.tasks.%s", sq_stage_name(stage));
        sq_check_where(plan->doc.root, dotted, where, size);
        if (where[0] == '\0')
            sq_check_where(plan->doc.root, "slurm.tasks", where, size);
        return plan->slurm.tasks[stage];
    }
    for (size_t i = 0; i < plan->count; i++)
        if ((int)plan->items[i]->stage == stage && plan->items[i]->ranks > ranks)
            ranks = plan->items[i]->ranks;
    sq_check_where(plan->doc.root, option, where, size);
    return ranks;
}

/* One stage's resources against its partition; true when a problem was said. */
static bool check_stage(const sq_plan *plan, const cluster_facts *c, int stage, sq_check_result *r)
{
    const sq_slurm_options *o = &plan->slurm;
    char where[600], list[1024];
    int before = r->problems + r->repeats;
    const partition_facts *p = find_partition(c, o->partition[stage]);
    if (p == NULL) {
        partition_list(c, list, sizeof list);
        if (o->partition[stage])
            sq_check_problem(r, "%sslurm.partition '%s' is not a partition of this cluster (sinfo lists: %s)",
                             sq_slurm_option_where(plan->doc.root, "partition", stage, where, sizeof where),
                             o->partition[stage], list[0] ? list : "none");
        else
            sq_check_problem(r, "the cluster has no default partition (sinfo lists: %s): set slurm.partition", list);
        return true;
    }
    int tasks = stage_tasks(plan, stage, where, sizeof where);
    int per_task = o->cpus_per_task[stage] > 0 ? o->cpus_per_task[stage] : 1;
    if (per_task > p->max_cpus) {
        sq_check_problem(r, "%sslurm.cpus_per_task %d: no node of partition %s has more than %d CPUs",
                         sq_slurm_option_where(plan->doc.root, "cpus_per_task", stage, where, sizeof where), per_task,
                         p->name, p->max_cpus);
    } else if ((long)tasks * per_task > p->total_cpus) {
        sq_check_problem(r, "%sa job of %d task%s x %d CPU%s = %d CPUs, but partition %s has %ld CPUs in all (sinfo): "
                         "Slurm refuses the job; use at most %ld tasks or a bigger partition", where, tasks,
                         tasks == 1 ? "" : "s", per_task, per_task == 1 ? "" : "s", tasks * per_task, p->name,
                         p->total_cpus, p->total_cpus / per_task);
    }
    if (o->gres[stage] && strncmp(o->gres[stage], "gpu", 3) == 0 && !p->has_gpu)
        sq_check_problem(r, "%sslurm.gres '%s': no node of partition %s has a GPU (sinfo: gres %s); send the "
                         "stages that need one to a GPU partition (slurm.partition.<stage>) or drop the gres",
                         sq_slurm_option_where(plan->doc.root, "gres", stage, where, sizeof where), o->gres[stage],
                         p->name, p->gres);
    if (o->memory[stage] && p->max_memory_mb > 0 && memory_mb(o->memory[stage]) > p->max_memory_mb)
        sq_check_problem(r, "%sslurm.memory %s: the nodes of partition %s have at most %ld MB",
                         sq_slurm_option_where(plan->doc.root, "memory", stage, where, sizeof where), o->memory[stage],
                         p->name, p->max_memory_mb);
    return r->problems + r->repeats > before;
}

/* The account must be one the accounting database knows; a cluster without
 * one (sacctmgr cannot answer) accepts any name, which is said as a warning. */
static void check_accounts(const sq_plan *plan, sq_check_result *r)
{
    char where[600];
    for (int s = 0; s < SQ_STAGE_COUNT; s++) {
        const char *account = plan->slurm.account[s];
        if (account == NULL)
            continue;
        char **argv = sq_argv_new();
        char *out = NULL;
        int code = 0;
        char *tool = sq_find_on_path("sacctmgr");
        sq_argv_push(&argv, "sacctmgr");
        sq_argv_push(&argv, "-n");
        sq_argv_push(&argv, "-P");
        sq_argv_push(&argv, "show");
        sq_argv_push(&argv, "account");
        sq_argv_push(&argv, account);
        sq_argv_push(&argv, "format=Account");
        if (tool)
            sq_capture(argv, true, 20, &out, &code);
        sq_argv_free(argv);
        sq_error_clear();
        sq_slurm_option_where(plan->doc.root, "account", s, where, sizeof where);
        if (tool == NULL || code != 0) {
            if (out)
                out[strcspn(out, "\n")] = '\0';
            sq_check_warning(r, "%sslurm.account '%s' cannot be verified: %s%s; without an accounting database "
                             "Slurm takes any account name", where, account, tool ? "sacctmgr: " : "sacctmgr is not on PATH",
                             tool && out ? out : "");
        } else if (out == NULL || strstr(out, account) == NULL) {
            sq_check_problem(r, "%sslurm.account '%s' is not an account of this cluster (sacctmgr show account)",
                             where, account);
        }
        free(tool);
        free(out);
    }
}

/* Every script of the run, written to a scratch folder and given to sbatch
 * --test-only (no dependencies: the jobs they name do not exist yet). */
static void check_scripts(const sq_plan *plan, const bool *stage_said, sq_check_result *r)
{
    sq_submission s = {0};
    bool *all = calloc(plan->count + 1, sizeof *all);
    char scratch[] = "/tmp/squeeze-check-slurm.XXXXXX";
    int accepted = 0, groups = 0;
    if (all == NULL || mkdtemp(scratch) == NULL) {
        free(all);
        return;
    }
    for (size_t i = 0; i < plan->count; i++)
        all[i] = true;
    if (sq_submission_group(plan, all, sq_slurm_max_array_size(), &s) != SQ_OK) {
        sq_check_problem(r, "the batch scripts cannot be grouped: %s", sq_error_message());
        sq_error_clear();
    }
    for (size_t gi = 0; gi < s.group_count; gi++) {
        sq_job_group *g = &s.groups[gi];
        char *script = sq_strdupf("%s/%s.%d.sbatch", scratch, g->label, g->chunk);
        groups++;
        if (sq_slurm_write_script(plan, g->stage, g->items, g->array ? g->tasks : NULL, g->count, g->offset, script) !=
            SQ_OK) {
            sq_check_problem(r, "the %s batch script cannot be written: %s", g->label, sq_error_message());
            sq_error_clear();
            free(script);
            continue;
        }
        char *spec = g->array ? sq_slurm_array_spec(g->tasks, g->count, plan->slurm.array_throttle) : NULL;
        char *array = spec ? sq_strdupf("--array=%s", spec) : NULL;
        char *argv[] = {"sbatch", "--test-only", array ? array : script, array ? script : NULL, NULL};
        char *out = NULL;
        int code = 0;
        sq_capture(argv, true, 30, &out, &code);
        sq_error_clear();
        if (code == 0) {
            accepted++;
        } else if (!stage_said[g->stage]) {
            /* a refusal the rules above did not explain: sbatch's own words */
            char where[600];
            for (char *nl = out ? strchr(out, '\n') : NULL; nl && nl[1]; nl = strchr(out, '\n'))
                *nl = ' ';
            if (out)
                out[strcspn(out, "\n")] = '\0';
            sq_check_problem(r, "%sthe %s job (slurm/%s.sbatch) is refused by sbatch --test-only: %s",
                             sq_check_where(plan->doc.root, "slurm", where, sizeof where), g->label, g->label,
                             out && out[0] ? out : "(no message)");
        }
        free(out);
        free(array);
        free(spec);
        unlink(script);
        free(script);
    }
    if (groups > 0 && accepted == groups)
        sq_check_note(r, "sbatch --test-only accepts all %d batch scripts of the run", groups);
    sq_submission_free(&s);
    free(all);
    rmdir(scratch);
}

void sq_check_cluster(const sq_plan *plan, const sq_command_options *opts, sq_check_result *r)
{
    cluster_facts c;
    char *error = NULL;
    bool stage_said[SQ_STAGE_COUNT] = {false};
    bool used[SQ_STAGE_COUNT] = {false};
    if (!plan->slurm.present || opts->local_only)
        return;
    char *sbatch = sq_find_on_path("sbatch"), *sinfo = sq_find_on_path("sinfo");
    char *scontrol = sq_find_on_path("scontrol");
    bool tools = sbatch && sinfo && scontrol;
    free(sbatch);
    free(sinfo);
    free(scontrol);
    if (!tools)
        return; /* said by sq_check_slurm */
    if (!controller_answers(&error) || !ask_sinfo(&c, &error)) {
        sq_check_warning(r, "the cluster could not be asked (%s): partitions, CPUs, GPUs and the batch scripts were "
                         "not verified; run `squeeze check` again where the Slurm controller answers", error);
        free(error);
        return;
    }
    for (size_t i = 0; i < plan->count; i++)
        used[plan->items[i]->stage] = true;
    int stages = 0;
    for (int s = 0; s < SQ_STAGE_COUNT; s++)
        if (used[s]) {
            stage_said[s] = check_stage(plan, &c, s, r);
            stages += !stage_said[s];
        }
    if (stages > 0)
        sq_check_note(r, "sinfo: the partitions of %d stage%s have the CPUs, memory and GPUs they ask for", stages,
                      stages == 1 ? "" : "s");
    check_accounts(plan, r);
    check_scripts(plan, stage_said, r);
}
