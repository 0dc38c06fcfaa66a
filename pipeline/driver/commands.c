/* commands.c - the `squeeze` command line: which command, which config,
 * which options (docs/driver.md).  The executable's main only sets up the
 * process and calls sq_driver_main. */
#include "commands.h"
#include "artifact/artifact.h"
#include "fault.h"
#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: squeeze COMMAND CONFIG [options]\n"
    "\n"
    "commands:\n"
    "  plan CONFIG [--json]        the stage instances, their keys and states (done/stale/missing)\n"
    "  check CONFIG [--local]      preflight in seconds: config, programs, files, model, data, maps\n"
    "  run CONFIG [--keep-going]   run the plan here (mpirun for MPI stages with ranks > 1)\n"
    "                              run, submit and resume run check first and stop on a problem\n"
    "                              (--no-check skips it)\n"
    "  submit CONFIG [--dry-run]   write one batch script per stage and submit them to Slurm\n"
    "  status CONFIG [--json]      every stage: done/running/pending/failed/cancelled/stale/missing;\n"
    "                              exit 0 all done, 4 failed or cancelled, 5 still running, 6 not done\n"
    "  resume CONFIG [--stage S [--variant V]] [--slurm]\n"
    "                              rerun what failed, is stale or missing (or exactly one instance);\n"
    "                              resubmits to Slurm when the run was submitted (or with --slurm)\n"
    "  cancel CONFIG               scancel the run's queued and running jobs\n"
    "  export CONFIG [--variant V] [--format gguf|safetensors]\n"
    "                              write a variant (default: the report's recommendation) for\n"
    "                              llama.cpp (GGUF) or PyTorch (safetensors): <run>/export/<variant>/\n"
    "\n"
    "  --run NAME                  (every command) the run folder <output_root>/NAME instead of the\n"
    "                              config's `run:`: one config, several runs side by side\n"
    "  --version                   squeeze's version (every stage program takes --version too)\n"
    "\n"
    "Exit codes: 0 ok, 2 usage or config error, 3 bad input, 4 a stage failed.\n"
    "Fault injection for tests: SQUEEZE_FAULT=<stage>:<variant> fails that instance with exit 4\n"
    "(`squeeze fault-check STAGE VARIANT` applies the rule for the generated batch scripts).\n"
    "See docs/driver.md and docs/config.md.\n";

/* `squeeze fault-check STAGE VARIANT`: exit 4 with the fault's line when
 * SQUEEZE_FAULT names the instance, else 0 ("-" is the empty variant, as the
 * batch scripts print it). */
static int fault_check(int argc, char **argv)
{
    char line[1024];
    if (argc != 4) {
        fprintf(stderr, "usage: squeeze fault-check STAGE VARIANT\n");
        return 2;
    }
    const char *variant = strcmp(argv[3], "-") == 0 ? "" : argv[3];
    if (!sq_fault_matches(argv[2], variant))
        return 0;
    sq_fault_describe(argv[2], variant, line, sizeof line);
    printf("%s\n", line);
    return 4;
}

/* A submitted run resumes on Slurm: its ledger says so. */
static int resume(const sq_command_options *opts)
{
    bool submitted = opts->slurm;
    if (!submitted) {
        sq_plan plan;
        if (sq_plan_build(opts->config, &plan) == SQ_OK) {
            char *ledger = sq_path_join(plan.run_dir, "ledger.json");
            FILE *f = fopen(ledger, "r");
            submitted = f != NULL;
            if (f)
                fclose(f);
            free(ledger);
        }
        sq_plan_free(&plan);
        sq_error_clear();
    }
    return submitted ? sq_cmd_submit(opts, true) : sq_cmd_run(opts, true);
}

int sq_driver_main(int argc, char **argv)
{
    sq_command_options opts = {0};
    const char *command;
    for (int i = 1; i < argc; i++) /* anywhere on the line, with or without a command or config */
        if (strcmp(argv[i], "--version") == 0) {
            printf("squeeze %s\n", sq_version());
            return 0;
        }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "fault-check") == 0)
        return fault_check(argc, argv);
    command = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(arg, "--dry-run") == 0) {
            opts.dry_run = true;
        } else if (strcmp(arg, "--keep-going") == 0 || strcmp(arg, "-k") == 0) {
            opts.keep_going = true;
        } else if (strcmp(arg, "--local") == 0) {
            opts.local_only = true;
        } else if (strcmp(arg, "--slurm") == 0) {
            opts.slurm = true;
        } else if (strcmp(arg, "--no-check") == 0) {
            opts.no_check = true;
        } else if (strcmp(arg, "--json") == 0) {
            opts.json = true;
        } else if ((strcmp(arg, "--stage") == 0 || strcmp(arg, "--variant") == 0) && i + 1 < argc) {
            if (arg[2] == 's')
                opts.stage = argv[++i];
            else
                opts.variant = argv[++i];
        } else if (strcmp(arg, "--format") == 0 && i + 1 < argc) {
            opts.format = argv[++i];
        } else if (strcmp(arg, "--run") == 0 && i + 1 < argc) {
            sq_plan_set_run_name(argv[++i]);
        } else if (strncmp(arg, "--run=", 6) == 0) {
            sq_plan_set_run_name(arg + 6);
        } else if (strncmp(arg, "--stage=", 8) == 0) {
            opts.stage = arg + 8;
        } else if (strncmp(arg, "--variant=", 10) == 0) {
            opts.variant = arg + 10;
        } else if (arg[0] == '-') {
            fprintf(stderr, "squeeze %s: unknown option %s\n%s", command, arg, usage);
            return 2;
        } else if (opts.config == NULL) {
            opts.config = arg;
        } else {
            fprintf(stderr, "squeeze %s: one config only (got %s and %s)\n", command, opts.config, arg);
            return 2;
        }
    }
    if (opts.config == NULL) {
        fprintf(stderr, "squeeze %s: name the run config (squeeze %s CONFIG)\n", command, command);
        return 2;
    }
    if (strcmp(command, "export") == 0)
        return sq_cmd_export(&opts);
    if (opts.variant && !opts.stage) {
        fprintf(stderr, "squeeze %s: --variant needs --stage\n", command);
        return 2;
    }
    if (strcmp(command, "plan") == 0)
        return sq_cmd_plan(&opts);
    if (strcmp(command, "check") == 0)
        return sq_cmd_check(&opts);
    /* check is the gate of everything that runs or queues stages */
    bool runs = strcmp(command, "run") == 0 || strcmp(command, "submit") == 0 || strcmp(command, "resume") == 0;
    if (runs && !opts.no_check && !opts.dry_run) {
        int rc = sq_check_gate(&opts, command);
        if (rc != 0)
            return rc;
    }
    if (strcmp(command, "run") == 0)
        return sq_cmd_run(&opts, false);
    if (strcmp(command, "submit") == 0)
        return sq_cmd_submit(&opts, false);
    if (strcmp(command, "status") == 0)
        return sq_cmd_status(&opts);
    if (strcmp(command, "cancel") == 0)
        return sq_cmd_cancel(&opts);
    if (strcmp(command, "resume") == 0)
        return resume(&opts);
    fprintf(stderr, "squeeze: unknown command '%s'\n%s", command, usage);
    return 2;
}
