/* local.c - the local executor: `squeeze run` and `squeeze resume` without Slurm.
 *
 * Runs the plan in order.  Each stage is a child process started with execv
 * (no shell), its stdout and stderr going to <instance>/stage.log; MPI stages
 * with ranks > 1 start under `mpirun -np N --oversubscribe` (a laptop may
 * have fewer cores than ranks; the numbers do not depend on it).  A stage is
 * done only when it exited 0 AND its artifact carries the planned key.  The
 * first failure stops the run (unless --keep-going) with the log path and the
 * exact command to rerun it by hand; the report still runs when the baseline
 * evaluation exists, so that the failure is on the page (as on Slurm, where
 * the report job waits `afterany` on every evaluation).  A report written
 * while an evaluation is missing or failed is never marked done: `resume`
 * writes it again once the variant is fixed.
 *
 * What to run is sq_plan_select's answer (select.c), the same as on Slurm.
 * Fault injection for tests (fault.c): SQUEEZE_FAULT="<stage>:<variant>[,...]"
 * makes the matching instance fail with exit 4 before its program starts.
 */
#include "commands.h"
#include "cli/blas_core.h"
#include "fault.h"
#include "plan.h"
#include "proc.h"
#include "progress_view.h"
#include "run_lock.h"
#include "select.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t running_child = 0;
static volatile sig_atomic_t interrupted = 0;

static void forward_signal(int sig)
{
    interrupted = sig;
    if (running_child > 0)
        kill((pid_t)running_child, sig);
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

/* The first evaluation the report reads that is not done ("" when all are):
 * a report without it is written for people but never marked done. */
static const sq_instance *report_gap(const sq_instance *report)
{
    for (int j = 0; j < report->input_count; j++)
        if (report->inputs[j]->state != SQ_STATE_DONE)
            return report->inputs[j];
    return NULL;
}

/* The report can be written once every baseline evaluation is done: the
 * report stage needs it (docs/report.md) and lists the other variants as
 * failed or not run from plan.json. */
static const sq_instance *report_blocker(const sq_instance *report)
{
    for (int j = 0; j < report->input_count; j++) {
        const sq_instance *input = report->inputs[j];
        if (input->variant_index < 0 && input->state != SQ_STATE_DONE)
            return input;
    }
    return NULL;
}

/* Runs one instance; returns its exit code (0 = done with the right key;
 * for an incomplete report, 0 = written, and its state stays missing). */
/* Keeps the log of an earlier attempt: stage.log becomes stage.log.N, the
 * first free N (stage.log.1 is the first attempt), as the batch scripts do. */
static void keep_earlier_log(const char *log_path)
{
    char older[4096];
    if (access(log_path, F_OK) != 0)
        return;
    for (int n = 1; n < 10000; n++) {
        snprintf(older, sizeof older, "%s.%d", log_path, n);
        if (access(older, F_OK) != 0) {
            if (rename(log_path, older) != 0)
                fprintf(stderr, "squeeze: cannot keep %s as %s: %s\n", log_path, older, strerror(errno));
            return;
        }
    }
}

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

    keep_earlier_log(inst->log_path);
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
        char line[1024];
        sq_fault_describe(sq_stage_name(inst->stage), inst->variant, line, sizeof line);
        dprintf(log, "%s\n", line);
        close(log);
        sq_argv_free(argv);
        return 4;
    }
    char *progress_path = sq_path_join(inst->dir, "progress");
    sq_progress_view view;
    sq_progress_view_start(&view, inst->id, progress_path);
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
        setenv("SQUEEZE_PROGRESS_FILE", progress_path, 1); /* the progress channel (util/progress.h) */
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "squeeze: cannot start %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(log);
    free(progress_path);
    if (pid < 0) {
        fprintf(stderr, "squeeze: cannot fork: %s\n", strerror(errno));
        sq_progress_view_finish(&view);
        sq_argv_free(argv);
        return 4;
    }
    running_child = pid;
    /* wait for the stage, showing its progress every 100 ms */
    for (;;) {
        pid_t waited = waitpid(pid, &status, WNOHANG);
        if (waited == pid || (waited < 0 && errno != EINTR))
            break;
        sq_progress_view_poll(&view);
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    sq_progress_view_finish(&view);
    running_child = 0;
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == 0 && inst->stage == SQ_STAGE_REPORT && report_gap(inst)) {
        const sq_instance *gap = report_gap(inst);
        int fd = open(inst->log_path, O_WRONLY | O_APPEND);
        dprintf(fd >= 0 ? fd : 2, "squeeze: report written while %s is %s: not marked done (resume writes it again)\n",
                gap->id, sq_state_name(gap->state));
        if (fd >= 0)
            close(fd);
        fprintf(stderr, "squeeze: %-28s written in %.1f s, incomplete (%s is %s): %s/report/\n", inst->id,
                sq_now() - start, gap->id, sq_state_name(gap->state), plan->run_dir);
        sq_argv_free(argv);
        return 0;
    }
    if (code == 0) {
        if (inst->stage == SQ_STAGE_REPORT && sq_instance_mark_done(inst) != SQ_OK) {
            fprintf(stderr, "squeeze: %s: %s\n", inst->id, sq_error_message());
            sq_error_clear();
        }
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
    char *config = sq_shell_quote(plan->config_path); /* a line to paste into a shell */
    fprintf(stderr, "squeeze: rerun it by hand:\n  %s\n", command);
    fprintf(stderr, "squeeze: or, after fixing it: squeeze resume %s --stage %s%s%s\n", config,
            sq_stage_name(inst->stage), inst->variant[0] ? " --variant " : "", inst->variant);
    fprintf(stderr, "squeeze: (squeeze resume %s alone reruns everything not done, the report included)\n", config);
    free(config);
    free(command);
    sq_argv_free(argv);
}

static size_t item_of(const sq_plan *plan, const sq_instance *inst)
{
    for (size_t i = 0; i < plan->count; i++)
        if (plan->items[i] == inst)
            return i;
    return 0;
}

/* The stages run on this machine: where its OpenBLAS would run its generic kernels, they are
 * started with the core for this CPU (cli/blas_core.h; the user's own OPENBLAS_CORETYPE wins).
 * Only here: a Slurm job's node may have another CPU than the node that submits it. */
static void name_blas_core(void)
{
    const char *core = sq_blas_core_for_this_cpu();
    if (core) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        sq_debug("OpenBLAS chose its generic %s kernels for this CPU: the stages run with OPENBLAS_CORETYPE=%s",
                 sq_blas_core_running(), core);
    }
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
    name_blas_core();
    run = calloc(plan.count, sizeof *run);
    succeeded = calloc(plan.count, sizeof *succeeded);
    if (sq_plan_select(&plan, opts->stage, opts->variant, run) != SQ_OK) {
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
    /* Whatever this run redoes changes what the report would show: an old
     * report stops counting as done now, so a run that fails or is killed
     * half-way never leaves one marked done. */
    sq_instance *report = sq_plan_find(&plan, SQ_STAGE_REPORT, "");
    if (report && run[item_of(&plan, report)] && report->state == SQ_STATE_DONE) {
        unlink(report->output);
        report->state = SQ_STATE_MISSING;
    }
    sq_plan_write_json(&plan, "local");

    const sq_instance *stopped_at = NULL;
    int not_run = 0;
    bool told_not_run = false, report_written = false;
    for (size_t i = 0; i < plan.count && !interrupted; i++) {
        sq_instance *inst = plan.items[i];
        if (!run[i])
            continue;
        if (stopped_at && inst != report) {
            not_run++;
            continue;
        }
        /* an input that is not done, or that this run meant to redo and could not;
         * the report needs only the baseline (it lists the rest as failed or not run) */
        const sq_instance *blocker = NULL;
        if (inst == report) {
            blocker = report_blocker(inst);
        } else {
            for (int j = 0; j < inst->input_count && !blocker; j++) {
                const sq_instance *input = inst->inputs[j];
                bool redone = false;
                for (size_t k = 0; k < i; k++)
                    if (plan.items[k] == input && run[k])
                        redone = true;
                if (input->state != SQ_STATE_DONE || (redone && !succeeded[item_of(&plan, input)]))
                    blocker = input;
            }
        }
        if (blocker) {
            fprintf(stderr, "squeeze: %-28s skipped: needs %s\n", inst->id, blocker->id);
            continue;
        }
        if (stopped_at) {
            fprintf(stderr, "squeeze: %d stage(s) not run after the failure of %s; writing the report anyway\n",
                    not_run, stopped_at->id);
            told_not_run = true;
        }
        int code = run_instance(&plan, inst);
        ran++;
        report_written |= code == 0 && inst == report;
        if (code == 0 && inst == report && report_gap(inst)) {
            inst->state = SQ_STATE_MISSING; /* written, but incomplete: resume writes it again */
        } else if (code == 0) {
            inst->state = SQ_STATE_DONE;
            succeeded[i] = true;
        } else {
            inst->state = SQ_STATE_FAILED;
            inst->exit_code = code;
            failures++;
            fprintf(stderr, "squeeze: %s FAILED (exit %d); log: %s\n", inst->id, code, inst->log_path);
            print_log_tail(inst->log_path);
            if (!opts->keep_going && stopped_at == NULL)
                stopped_at = inst;
        }
        sq_plan_write_json(&plan, "local");
    }
    if (stopped_at && not_run && !told_not_run)
        fprintf(stderr, "squeeze: %d stage(s) not run after the failure of %s\n", not_run, stopped_at->id);
    if (interrupted) {
        fprintf(stderr, "squeeze: interrupted by signal %d\n", (int)interrupted);
        rc = 4;
    } else if (failures) {
        /* last, after the report's lines: each failure, its log and how to rerun it */
        for (size_t i = 0; i < plan.count; i++) {
            const sq_instance *inst = plan.items[i];
            if (!run[i] || inst->state != SQ_STATE_FAILED)
                continue;
            fprintf(stderr, "squeeze: %s FAILED (exit %d); log: %s\n", inst->id, inst->exit_code, inst->log_path);
            print_rerun(&plan, inst);
        }
        if (report_written)
            fprintf(stderr, "squeeze: the report in %s/report/ shows the failure (not marked done)\n", plan.run_dir);
        fprintf(stderr, "squeeze: %d stage(s) failed; `squeeze status %s` shows the run\n", failures, opts->config);
        rc = 4;
    } else {
        bool all = true;
        for (size_t i = 0; i < plan.count; i++)
            all &= plan.items[i]->state == SQ_STATE_DONE;
        fprintf(stderr, "squeeze: %s: %d stage(s) run; report in %s/report/\n", all ? "run complete" : "run incomplete",
                ran, plan.run_dir);
        if (all) /* the one line on stdout: the page to open, for a script to pick up */
            printf("%s/report/report.html\n", plan.run_dir);
        /* `resume --stage` asked for one instance, and it is done: that succeeded, whatever else is left */
        if (!all && opts->stage)
            fprintf(stderr, "squeeze: the instance asked for is done; `squeeze resume %s%s%s` runs what is left\n",
                    opts->config, sq_plan_run_name_override() ? " --run " : "",
                    sq_plan_run_name_override() ? sq_plan_run_name_override() : "");
        rc = all || opts->stage ? 0 : 4;
    }
cleanup:
    free(run);
    free(succeeded);
    sq_run_lock_release(&lock);
    sq_plan_free(&plan);
    return rc;
}
