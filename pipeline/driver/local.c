/* local.c - the local executor: `squeeze run` and `squeeze resume` without Slurm.
 *
 * Runs the plan in order.  Each stage is a child process started with execv
 * (no shell), its stdout and stderr going to <instance>/stage.log; MPI stages
 * with ranks > 1 start under `mpirun -np N --oversubscribe` (a laptop may
 * have fewer cores than ranks; the numbers do not depend on it).  A stage is
 * done only when it exited 0 AND its artifact carries the planned key.  The
 * first failure stops the run (unless --keep-going) with the log path and the
 * exact command to rerun it by hand.
 *
 * Fault injection for tests: SQUEEZE_FAULT="<stage>:<variant>[,...]" makes the
 * matching instance fail with exit 4 before its program starts (the same rule
 * as the generated Slurm scripts); "<stage>" alone matches every instance of
 * that stage.
 */
#include "driver.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t running_child = 0;
static volatile sig_atomic_t interrupted = 0;

static void forward_signal(int sig)
{
    interrupted = sig;
    if (running_child > 0)
        kill((pid_t)running_child, sig);
}

bool sq_fault_matches(const char *stage, const char *variant)
{
    const char *faults = getenv("SQUEEZE_FAULT");
    char want[512];
    if (faults == NULL || faults[0] == '\0')
        return false;
    snprintf(want, sizeof want, "%s:%s", stage, variant);
    for (const char *p = faults; *p;) {
        size_t len = strcspn(p, ",");
        if ((len == strlen(want) && strncmp(p, want, len) == 0) || (len == strlen(stage) && strncmp(p, stage, len) == 0))
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* The full command: the launcher for MPI stages with more than one rank. */
static char **full_command(const sq_plan *plan, const sq_instance *inst)
{
    char **argv = sq_argv_new();
    if (inst->ranks > 1) {
        char ranks[16];
        char *mpirun = sq_find_on_path("mpirun");
        snprintf(ranks, sizeof ranks, "%d", inst->ranks);
        sq_argv_push(&argv, mpirun ? mpirun : "mpirun");
        sq_argv_push(&argv, "-np");
        sq_argv_push(&argv, ranks);
        sq_argv_push(&argv, "--oversubscribe");
        /* Open MPI refuses root unless told; a container or a CI machine runs as
         * root, and the local executor is the laptop/CI path, not a shared host. */
        if (geteuid() == 0)
            sq_argv_push(&argv, "--allow-run-as-root");
        free(mpirun);
    }
    (void)plan;
    for (size_t i = 0; inst->argv[i]; i++)
        sq_argv_push(&argv, inst->argv[i]);
    return argv;
}

/* Leftover temporary artifacts of a killed attempt ("<artifact>.tmp.<pid>"). */
static void remove_temporaries(const sq_instance *inst)
{
    glob_t found;
    char *pattern = sq_strdupf("%s.tmp.*", inst->output);
    if (pattern && glob(pattern, 0, NULL, &found) == 0) {
        for (size_t i = 0; i < found.gl_pathc; i++) {
            fprintf(stderr, "squeeze: removing %s (left by an interrupted attempt)\n", found.gl_pathv[i]);
            unlink(found.gl_pathv[i]);
        }
        globfree(&found);
    }
    free(pattern);
}

static void print_log_tail(const char *path)
{
    char *text = NULL;
    size_t size = 0;
    if (sq_read_file(path, &text, &size) != SQ_OK) {
        sq_error_clear();
        return;
    }
    size_t lines = 0, start = size;
    while (start > 0 && lines < 8) {
        start--;
        if (text[start] == '\n' && start + 1 < size)
            lines++;
    }
    if (start > 0)
        start++;
    fprintf(stderr, "---- last lines of %s ----\n%s%s----\n", path, text + start,
            size && text[size - 1] != '\n' ? "\n" : "");
    free(text);
}

/* Runs one instance; returns its exit code (0 = done with the right key). */
static int run_instance(sq_plan *plan, sq_instance *inst)
{
    char **argv = NULL;
    int status = 0, code;
    pid_t pid;
    double start = sq_now();
    char key[128];
    sq_status st = sq_instance_prepare(plan, inst);
    if (st != SQ_OK) {
        fprintf(stderr, "squeeze: %s: %s\n", inst->id, sq_error_message());
        return 4;
    }
    remove_temporaries(inst);
    if (inst->stage == SQ_STAGE_REPORT)
        unlink(inst->output); /* the report's key file is rewritten only when it completes */
    argv = full_command(plan, inst);
    fprintf(stderr, "squeeze: %-28s running (log %s)\n", inst->id, inst->log_path);

    int log = open(inst->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log < 0) {
        fprintf(stderr, "squeeze: cannot write %s: %s\n", inst->log_path, strerror(errno));
        sq_argv_free(argv);
        return 4;
    }
    char *shown = sq_shell_join(argv);
    dprintf(log, "squeeze: %s: %s\n", inst->id, shown);
    free(shown);
    if (sq_fault_matches(sq_stage_name(inst->stage), inst->variant)) {
        dprintf(log, "squeeze: SQUEEZE_FAULT=%s: failing %s on purpose before it starts (exit 4)\n",
                getenv("SQUEEZE_FAULT"), inst->id);
        close(log);
        sq_argv_free(argv);
        return 4;
    }
    pid_t parent = getpid();
    pid = fork();
    if (pid == 0) {
        /* the stage dies with the driver, so no orphan keeps writing into the folder */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(4);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, STDIN_FILENO);
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "squeeze: cannot start %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(log);
    if (pid < 0) {
        fprintf(stderr, "squeeze: cannot fork: %s\n", strerror(errno));
        sq_argv_free(argv);
        return 4;
    }
    running_child = pid;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    running_child = 0;
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == 0) {
        if (inst->stage == SQ_STAGE_REPORT)
            sq_instance_mark_done(inst);
        sq_instance_artifact_key(inst, key, sizeof key);
        if (strcmp(key, inst->key) != 0) {
            int fd = open(inst->log_path, O_WRONLY | O_APPEND);
            dprintf(fd >= 0 ? fd : 2, "squeeze: %s exited 0 but %s %s (expected plan_key %s)\n", inst->id,
                    inst->output, key[0] ? "carries another plan_key" : "was not written", inst->key);
            if (fd >= 0)
                close(fd);
            code = 4;
        }
    }
    if (code == 0)
        fprintf(stderr, "squeeze: %-28s done in %.1f s\n", inst->id, sq_now() - start);
    sq_argv_free(argv);
    return code;
}

static void print_rerun(const sq_plan *plan, const sq_instance *inst)
{
    char **argv = full_command(plan, inst);
    char *command = sq_shell_join(argv);
    char *log = sq_shell_quote(inst->log_path);
    fprintf(stderr, "squeeze: rerun it by hand:\n  %s\n", command);
    fprintf(stderr, "squeeze: or, after fixing it: squeeze resume %s --stage %s%s%s\n", plan->config_path,
            sq_stage_name(inst->stage), inst->variant[0] ? " --variant " : "", inst->variant);
    free(log);
    free(command);
    sq_argv_free(argv);
}

/* Marks what to run: what is not done, and everything downstream of it. */
static sq_status select_instances(sq_plan *plan, const sq_command_options *opts, bool *run)
{
    if (opts->stage) {
        int stage = sq_stage_from_name(opts->stage);
        const char *variant = opts->variant ? opts->variant : "";
        if (stage < 0)
            return sq_fail(SQ_ERR_USAGE, "unknown stage '%s' (inspect, calibrate, compress, evaluate, report)",
                           opts->stage);
        sq_instance *inst = NULL;
        int matches = 0;
        for (size_t i = 0; i < plan->count; i++) {
            sq_instance *cand = plan->items[i];
            if ((int)cand->stage != stage)
                continue;
            if (opts->variant ? strcmp(cand->variant, variant) == 0 : true) {
                matches++;
                if (inst == NULL)
                    inst = cand;
            }
        }
        if (matches > 1)
            return sq_fail(SQ_ERR_USAGE, "the plan has %d %s instances: name one with --variant (see squeeze plan %s)",
                           matches, opts->stage, plan->config_path);
        if (inst == NULL)
            return sq_fail(SQ_ERR_USAGE, "the plan has no %s%s%s (see squeeze plan %s)", opts->stage,
                           opts->variant ? " of variant " : "", opts->variant ? opts->variant : "", plan->config_path);
        for (int j = 0; j < inst->input_count; j++)
            if (inst->inputs[j]->state != SQ_STATE_DONE)
                return sq_fail(SQ_ERR_USAGE, "%s needs %s, which is %s: resume without --stage first", inst->id,
                               inst->inputs[j]->id, sq_state_name(inst->inputs[j]->state));
        for (size_t i = 0; i < plan->count; i++)
            run[i] = plan->items[i] == inst;
        return SQ_OK;
    }
    for (size_t i = 0; i < plan->count; i++) {
        sq_instance *inst = plan->items[i];
        run[i] = inst->state != SQ_STATE_DONE;
        for (int j = 0; j < inst->input_count && !run[i]; j++)
            for (size_t k = 0; k < i; k++)
                if (plan->items[k] == inst->inputs[j] && run[k])
                    run[i] = true;
    }
    return SQ_OK;
}

static size_t item_of(const sq_plan *plan, const sq_instance *inst)
{
    for (size_t i = 0; i < plan->count; i++)
        if (plan->items[i] == inst)
            return i;
    return 0;
}

int sq_cmd_run(const sq_command_options *opts, bool resume)
{
    sq_plan plan;
    sq_run_lock lock = {-1, NULL};
    bool *run = NULL, *succeeded = NULL;
    int failures = 0, ran = 0, todo = 0, rc = 0;
    struct sigaction sa;

    if (sq_plan_build(opts->config, &plan) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        sq_plan_free(&plan);
        return 2;
    }
    if (sq_run_lock_take(plan.run_dir, resume ? "resume" : "run", &lock) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        sq_plan_free(&plan);
        return 2;
    }
    run = calloc(plan.count, sizeof *run);
    succeeded = calloc(plan.count, sizeof *succeeded);
    if (select_instances(&plan, opts, run) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        rc = 2;
        goto cleanup;
    }
    for (size_t i = 0; i < plan.count; i++)
        todo += run[i];
    fprintf(stderr, "squeeze: run %s: %zu stage instances, %d to run, %zu done (folder %s)\n", plan.run_name,
            plan.count, todo, plan.count - (size_t)todo, plan.run_dir);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sq_plan_write_json(&plan, "local");

    for (size_t i = 0; i < plan.count && !interrupted; i++) {
        sq_instance *inst = plan.items[i];
        if (!run[i])
            continue;
        /* an input that is not done, or that this run meant to redo and could not */
        const sq_instance *blocker = NULL;
        for (int j = 0; j < inst->input_count && !blocker; j++) {
            const sq_instance *input = inst->inputs[j];
            bool redone = false;
            for (size_t k = 0; k < i; k++)
                if (plan.items[k] == input && run[k])
                    redone = true;
            if (input->state != SQ_STATE_DONE || (redone && !succeeded[item_of(&plan, input)]))
                blocker = input;
        }
        if (blocker) {
            fprintf(stderr, "squeeze: %-28s skipped: needs %s\n", inst->id, blocker->id);
            continue;
        }
        int code = run_instance(&plan, inst);
        ran++;
        if (code == 0) {
            inst->state = SQ_STATE_DONE;
            succeeded[i] = true;
        } else {
            inst->state = SQ_STATE_FAILED;
            inst->exit_code = code;
            failures++;
            fprintf(stderr, "squeeze: %s FAILED (exit %d); log: %s\n", inst->id, code, inst->log_path);
            print_log_tail(inst->log_path);
            print_rerun(&plan, inst);
        }
        sq_plan_write_json(&plan, "local");
        if (code != 0 && !opts->keep_going)
            break;
    }
    if (interrupted) {
        fprintf(stderr, "squeeze: interrupted by signal %d\n", (int)interrupted);
        rc = 4;
    } else if (failures) {
        fprintf(stderr, "squeeze: %d stage(s) failed; `squeeze status %s` shows the run\n", failures, opts->config);
        rc = 4;
    } else {
        bool all = true;
        for (size_t i = 0; i < plan.count; i++)
            all &= plan.items[i]->state == SQ_STATE_DONE;
        fprintf(stderr, "squeeze: %s: %d stage(s) run; report in %s/report/\n", all ? "run complete" : "run incomplete",
                ran, plan.run_dir);
        rc = all ? 0 : 4;
    }
cleanup:
    free(run);
    free(succeeded);
    sq_run_lock_release(&lock);
    sq_plan_free(&plan);
    return rc;
}
