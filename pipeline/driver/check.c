/* check.c - `squeeze check CONFIG`: everything that failed the seed's cluster
 * jobs, caught on the laptop in seconds (DESIGN.md "Who uses it").
 *
 * In order: the config (unknown keys, wrong types, sweep and slurm sections,
 * every variant's effective config, all with file:line:column); the programs
 * (stage binaries next to squeeze or on PATH, mpirun when ranks > 1, the Slurm
 * tools and the MPI launcher when the config has a slurm section); the output
 * folder (really writable: a file is created and removed); the checkpoint
 * (exists and loads, through the same loader the stages use); the tokenizer
 * against the model's vocabulary; the data against one window; the windows
 * against the model's maximum sequence length; the precision map against the
 * checkpoint's tensors (compress_plan.h: a pattern that matches nothing, a
 * tensor no rule covers).  Every problem is listed; exit 0 only if none.
 */
#include "commands.h"
#include "proc.h"
#include "slurm_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress/compress.h"
#include "compress/compress_plan.h"
#include "metrics/windows.h"
#include "modelio/loader.h"
#include "tokenize/tokenizer.h"
#include "util/log.h"

#define CHECK_MAX_SEEN 512

/* As the gate of run, submit and resume (sq_check_gate): problems go to
 * stderr, the verified facts are not printed. */
static bool gate_mode;

typedef struct {
    int problems;
    int warnings;
    int repeats;                  /* the same problem met again (another variant): counted once */
    char *seen[CHECK_MAX_SEEN];   /* the problems printed so far */
    int seen_count;
} check_result;

/* One message per distinct problem: sweep variants share most of their config,
 * so a mistake in it would otherwise be reported once per variant. */
static void problem(check_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(check_result *r, const char *fmt, ...)
{
    va_list ap;
    char buffer[4096], *text;
    va_start(ap, fmt);
    vsnprintf(buffer, sizeof buffer, fmt, ap);
    va_end(ap);
    text = strdup(buffer);
    for (int i = 0; text && i < r->seen_count; i++) {
        if (strcmp(r->seen[i], text) == 0) {
            r->repeats++;
            free(text);
            return;
        }
    }
    fprintf(gate_mode ? stderr : stdout, "%serror: %s\n", gate_mode ? "squeeze: check: " : "", buffer);
    if (text && r->seen_count < CHECK_MAX_SEEN)
        r->seen[r->seen_count++] = text;
    else
        free(text);
    r->problems++;
}

static void warning(check_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warning(check_result *r, const char *fmt, ...)
{
    va_list ap;
    char buffer[4096];
    va_start(ap, fmt);
    vsnprintf(buffer, sizeof buffer, fmt, ap);
    va_end(ap);
    for (int i = 0; i < r->seen_count; i++)
        if (strcmp(r->seen[i], buffer) == 0)
            return; /* said once for all variants */
    fprintf(gate_mode ? stderr : stdout, "%swarning: %s\n", gate_mode ? "squeeze: check: " : "", buffer);
    if (r->seen_count < CHECK_MAX_SEEN)
        r->seen[r->seen_count++] = strdup(buffer);
    r->warnings++;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    if (gate_mode)
        return;
    va_start(ap, fmt);
    fputs("ok: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

/* "file:line:column: " of an option in a variant's config (where it was written). */
static const char *where(const sq_yaml_node *root, const char *dotted, char *buf, size_t size)
{
    const sq_yaml_node *node = sq_yaml_get_path(root, dotted);
    if (node == NULL || node->line == 0) {
        buf[0] = '\0';
        return buf;
    }
    char pos[512];
    snprintf(buf, size, "%s: ", sq_yaml_where(node, pos, sizeof pos));
    return buf;
}

static void check_programs(const sq_plan *plan, const sq_command_options *opts, check_result *r)
{
    int found = 0;
    bool need_mpirun = false;
    for (int s = 0; s < SQ_STAGE_COUNT; s++) {
        char *path = sq_find_program(plan->bin_dir, sq_stage_program(s));
        if (path == NULL)
            problem(r, "missing executable %s: not next to squeeze (%s) nor on PATH; build it (cmake --build) or "
                    "add its folder to PATH", sq_stage_program(s), plan->bin_dir);
        else
            found++;
        free(path);
    }
    if (found == SQ_STAGE_COUNT)
        note("stage programs found (%s)", plan->bin_dir);
    for (size_t i = 0; i < plan->count; i++)
        need_mpirun |= plan->items[i]->ranks > 1;
    if (need_mpirun) {
        char *mpirun = sq_find_on_path("mpirun");
        if (mpirun == NULL)
            problem(r, "missing executable mpirun: calibrate.ranks or evaluate.ranks is above 1, so the local "
                    "run needs Open MPI's mpirun on PATH (or set ranks: 1)");
        free(mpirun);
    }
    if (plan->slurm.present && !opts->local_only) {
        static const char *const tools[] = {"sbatch", "squeue", "scontrol", "scancel", "sacct", NULL};
        int missing = 0;
        for (int i = 0; tools[i]; i++) {
            char *path = sq_find_on_path(tools[i]);
            if (path == NULL) {
                problem(r, "missing executable %s: the config has a slurm section, so submit needs the Slurm "
                        "client tools on PATH (use `squeeze check --local` for a local run only)", tools[i]);
                missing++;
            }
            free(path);
        }
        char *launcher = sq_find_on_path(plan->slurm.launcher[0]);
        bool mpi_jobs = false;
        for (size_t i = 0; i < plan->count; i++)
            mpi_jobs |= plan->items[i]->ranks > 1 || plan->slurm.tasks[plan->items[i]->stage] > 1;
        if (launcher == NULL && mpi_jobs) {
            char pos[600];
            if (plan->slurm.module_count > 0)
                printf("warning: %sslurm.launcher %s is not on PATH here; it must come from the module lines\n",
                       where(plan->doc.root, "slurm.launcher", pos, sizeof pos), plan->slurm.launcher[0]);
            else
                problem(r, "%smissing executable %s (slurm.launcher) for the MPI stages: not on PATH and no "
                        "slurm.modules to load it", where(plan->doc.root, "slurm.launcher", pos, sizeof pos),
                        plan->slurm.launcher[0]);
        }
        free(launcher);
        if (missing == 0)
            note("Slurm client tools found");
    }
}

/* The output folder: the nearest existing folder of run_dir must take a new file. */
static void check_output(const sq_plan *plan, check_result *r)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s", plan->run_dir);
    while (stat(path, &sb) != 0) {
        char *slash = strrchr(path, '/');
        if (slash == NULL || slash == path) {
            snprintf(path, sizeof path, "/");
            break;
        }
        *slash = '\0';
    }
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        problem(r, "output folder %s cannot be created: %s is not a folder (check output_root)", plan->run_dir, path);
        return;
    }
    char *probe = sq_strdupf("%s/.squeeze-check.XXXXXX", path);
    int fd = mkstemp(probe);
    if (fd < 0) {
        problem(r, "output folder %s is not writable: cannot create a file in %s: %s (check output_root)",
                plan->run_dir, path, strerror(errno));
    } else {
        close(fd);
        unlink(probe);
        note("output folder %s is writable", plan->run_dir);
    }
    free(probe);
}

typedef struct {
    char *key;       /* tokenizer|path|format|start|end */
    size_t tokens;
    bool ok;
} data_cache;

static void check_data(const sq_run_config *cfg, const sq_yaml_node *root, const char *which, const sq_data_spec *spec,
                       const sq_tokenizer *tok, int vocab, int window, int needed, const char *window_option,
                       data_cache **cache, size_t *cache_count, check_result *r)
{
    char pos[600];
    if (spec->path == NULL) {
        problem(r, "%sdata.%s is not set: give the text (or token file) the %s stage reads",
                where(root, "data", pos, sizeof pos), which, strcmp(which, "evaluation") == 0 ? "evaluate" : "calibrate");
        return;
    }
    char *key = sq_strdupf("%s|%s|%s|%g|%g", cfg->data.tokenizer, spec->path, spec->format, spec->start, spec->end);
    data_cache *hit = NULL;
    for (size_t i = 0; i < *cache_count && !hit; i++)
        if (strcmp((*cache)[i].key, key) == 0)
            hit = &(*cache)[i];
    if (hit == NULL) {
        data_cache entry = {key, 0, false};
        char option[64];
        snprintf(option, sizeof option, "data.%s", which);
        if (access(spec->path, R_OK) != 0) {
            problem(r, "%sdata.%s file %s: %s", where(root, option, pos, sizeof pos), which, spec->path, strerror(errno));
        } else if (tok) {
            int32_t *tokens = NULL;
            sq_status st = sq_data_load_tokens(spec, tok, vocab, &tokens, &entry.tokens);
            if (st != SQ_OK)
                problem(r, "%sdata.%s cannot be read: %s", where(root, option, pos, sizeof pos), which,
                        sq_error_message());
            else
                entry.ok = true;
            sq_error_clear();
            free(tokens);
        }
        *cache = realloc(*cache, (*cache_count + 1) * sizeof **cache);
        (*cache)[(*cache_count)++] = entry;
        hit = &(*cache)[*cache_count - 1];
        if (hit->ok)
            note("data.%s %s: %zu tokens", which, spec->path, hit->tokens);
    } else {
        free(key);
    }
    if (hit->ok && hit->tokens < (size_t)needed)
        problem(r, "%sdata.%s %s has %zu tokens, shorter than one window (%s = %d needs %d tokens): use more text "
                "or a shorter window", where(root, window_option, pos, sizeof pos), which, spec->path, hit->tokens,
                window_option, window, needed);
}

static void check_variant(const sq_plan *plan, const sq_variant *var, const sq_loaded_model *model,
                          data_cache **cache, size_t *cache_count, check_result *r)
{
    (void)plan; /* in the shared signature, unused here */
    const sq_run_config *cfg = &var->cfg;
    const sq_yaml_node *root = var->config;
    char pos[600];
    sq_tokenizer *tok = NULL;
    int vocab = model ? model->config.vocab_size : 0;
    int max_seq = model ? model->config.max_seq_length : 0;

    /* tokenizer against the model */
    if (sq_tokenizer_load(cfg->data.tokenizer, &tok) != SQ_OK) {
        problem(r, "%sdata.tokenizer cannot be loaded: %s", where(root, "data.tokenizer", pos, sizeof pos),
                sq_error_message());
        sq_error_clear();
        tok = NULL;
    } else if (model && sq_tokenizer_vocab_size(tok) > vocab) {
        problem(r, "%sdata.tokenizer %s has a vocabulary of %d ids but the model's embedding has %d rows: ids at "
                "or above %d would index past it; use the tokenizer the model was trained with",
                where(root, "data.tokenizer", pos, sizeof pos), cfg->data.tokenizer, sq_tokenizer_vocab_size(tok),
                vocab, vocab);
    } else if (model && sq_tokenizer_check_model(tok, vocab, cfg->model.checkpoint) != SQ_OK) {
        /* the tokenizer's own rules against the model (a llama2.c tokenizer.bin lists exactly its rows) */
        problem(r, "%s%s", where(root, "data.tokenizer", pos, sizeof pos), sq_error_message());
        sq_error_clear();
    } else {
        /* a file that declares another size than it holds was written for another model or cut short:
         * the ids still fit, so only the evaluation would show it (evaluate's unigram check) */
        sq_tokenizer_info info;
        sq_tokenizer_get_info(tok, &info);
        if (info.declared_size > 0 && info.entries > 0 && info.declared_size != info.entries)
            warning(r, "%sdata.tokenizer %s declares %d tokens but holds %d; make sure it is the tokenizer the model "
                    "was trained with (evaluate warns when the model reads the text worse than its own token "
                    "counts do)", where(root, "data.tokenizer", pos, sizeof pos), cfg->data.tokenizer,
                    info.declared_size, info.entries);
    }

    /* windows against the model: evaluate's own rule (metrics/windows.h), offset included */
    if (max_seq > 0) {
        sq_window_options window_options;
        sq_window_plan window_plan;
        sq_window_options_from_config(cfg, &window_options);
        if (sq_window_protocol_resolve(&window_options, max_seq, &window_plan) != SQ_OK) {
            problem(r, "%s%s", where(root, "evaluate.window_length", pos, sizeof pos), sq_error_message());
            sq_error_clear();
        }
    }
    if (max_seq > 0 && cfg->calibrate.window_length > max_seq)
        problem(r, "%scalibrate.window_length %d is longer than the model's maximum sequence length %d: use at "
                "most %d", where(root, "calibrate.window_length", pos, sizeof pos), cfg->calibrate.window_length,
                max_seq, max_seq);

    /* data against one window (a window predicts offset tokens ahead) */
    check_data(cfg, root, "evaluation", &cfg->data.evaluation, tok, vocab, cfg->evaluate.window_length,
               cfg->evaluate.window_length + cfg->evaluate.offset, "evaluate.window_length", cache, cache_count, r);
    check_data(cfg, root, "calibration", &cfg->data.calibration, tok, vocab, cfg->calibrate.window_length,
               cfg->calibrate.window_length, "calibrate.window_length", cache, cache_count, r);

    /* the precision map against the checkpoint's tensors */
    sq_compress_request request = {.config = cfg};
    sq_precision_map map = {0};
    const char *option = cfg->compress.precision_map ? "compress.precision_map" : "compress.recipe";
    if (sq_compress_load_map(&request, &map) != SQ_OK) {
        problem(r, "%s%s", where(root, option, pos, sizeof pos), sq_error_message());
        sq_error_clear();
    } else if (model) {
        sq_input_tensor *input = calloc(model->tensors.count + 1, sizeof *input);
        sq_compress_plan cplan = {0};
        for (size_t i = 0; i < model->tensors.count; i++) {
            input[i].dtype = model->tensors.tensors[i].dtype;
            input[i].bytes = model->tensors.tensors[i].alias_of ? 0 : model->tensors.tensors[i].nbytes;
        }
        if (sq_compress_plan_build(&map, model->family, &model->tensors, input, &cplan) != SQ_OK) {
            problem(r, "variant %s: precision map %s does not fit the checkpoint: %s", var->name, map.source,
                    sq_error_message());
            sq_error_clear();
        } else {
            note("variant %s: precision map %s decides all %zu tensors (%zu by rule, %zu by default, %zu kept)",
                 var->name, map.source, cplan.count, cplan.summary.by_rule, cplan.summary.by_default,
                 cplan.summary.kept);
            /* every tensor's shape against its format's constraints: the ones that do not fit are stored in
             * the format's declared fallback, said here before compress does it */
            for (size_t i = 0; i < cplan.count; i++)
                if (cplan.entries[i].fallback_from)
                    note("variant %s: tensor %s: %s", var->name, cplan.entries[i].name,
                         cplan.entries[i].options_text);
            sq_compress_plan_free(&cplan);
        }
        free(input);
    }
    sq_precision_map_free(&map);
    if (tok)
        sq_tokenizer_free(tok);
}

int sq_cmd_check(const sq_command_options *opts)
{
    double start = sq_now();
    check_result r = {0};
    sq_plan plan;
    sq_loaded_model model;
    bool have_model = false;
    data_cache *cache = NULL;
    size_t cache_count = 0;
    char pos[600];

    sq_log_level level = sq_log_get_level();
    FILE *summary = gate_mode ? stderr : stdout;
    if (getenv("SQUEEZE_LOG") == NULL)
        sq_log_set_level(SQ_LOG_ERROR); /* the library's info lines would drown the verdicts */
    if (sq_plan_build(opts->config, &plan) != SQ_OK) {
        problem(&r, "%s", sq_error_message());
        fprintf(summary, "check %s: 1 problem (the config must be fixed before the other checks) in %.2f s\n",
                opts->config, sq_now() - start);
        for (int i = 0; i < r.seen_count; i++)
            free(r.seen[i]);
        sq_plan_free(&plan);
        sq_log_set_level(level);
        return 2;
    }
    note("config %s: run %s, %zu variant%s, %zu stage instances", plan.config_path, plan.run_name,
         plan.variant_count, plan.variant_count == 1 ? "" : "s", plan.count);
    check_programs(&plan, opts, &r);
    check_output(&plan, &r);

    const sq_run_config *first = &plan.variants[0].cfg;
    const sq_yaml_node *root = plan.variants[0].config;
    if (first->model.checkpoint == NULL) {
        problem(&r, "%s: model.checkpoint is not set: name the checkpoint to compress", plan.config_path);
    } else if (access(first->model.checkpoint, R_OK) != 0) {
        problem(&r, "%smodel.checkpoint %s: %s", where(root, "model.checkpoint", pos, sizeof pos),
                first->model.checkpoint, strerror(errno));
    } else {
        sq_family_hints hints = {first->model.num_heads};
        if (sq_model_load(first->model.checkpoint, first->model.family, &hints, &model) != SQ_OK) {
            problem(&r, "%smodel.checkpoint %s does not load: %s", where(root, "model.checkpoint", pos, sizeof pos),
                    first->model.checkpoint, sq_error_message());
            sq_error_clear();
        } else {
            have_model = true;
            note("checkpoint %s loads: family %s, %zu tensors, vocab %d, max sequence %d", first->model.checkpoint,
                 model.config.family, model.tensors.count, model.config.vocab_size, model.config.max_seq_length);
        }
    }
    for (size_t v = 0; v < plan.variant_count; v++)
        check_variant(&plan, &plan.variants[v], have_model ? &model : NULL, &cache, &cache_count, &r);

    for (size_t i = 0; i < cache_count; i++)
        free(cache[i].key);
    free(cache);
    if (have_model)
        sq_loaded_model_free(&model);
    if (!gate_mode || r.problems)
        fprintf(summary, "check %s: %d problem%s%s%s in %.2f s%s\n", opts->config, r.problems,
                r.problems == 1 ? "" : "s", r.repeats ? " (met again in other variants, shown once)" : "",
                r.warnings ? (r.warnings == 1 ? ", 1 warning" : ", warnings above") : "", sq_now() - start,
                r.problems ? "" : ": the run can go");
    for (int i = 0; i < r.seen_count; i++)
        free(r.seen[i]);
    sq_plan_free(&plan);
    sq_log_set_level(level);
    return r.problems ? 2 : 0;
}

int sq_check_gate(const sq_command_options *opts, const char *command)
{
    sq_command_options check = *opts;
    int rc;
    /* run and resume (locally) need no Slurm tools; submit does */
    check.local_only = strcmp(command, "submit") != 0 && !opts->slurm;
    gate_mode = true;
    rc = sq_cmd_check(&check);
    gate_mode = false;
    if (rc != 0)
        fprintf(stderr, "squeeze %s: stopped before anything ran or was queued: fix the problems above (squeeze "
                "check %s lists them with what was verified), or skip the check with --no-check\n", command,
                opts->config);
    return rc;
}
