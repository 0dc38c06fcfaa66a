/* slurm_options.c - the `slurm` section of a run config (docs/config.md).
 *
 *   slurm:
 *     partition: {default: cpu, evaluate: gpu}              or one value for all
 *     account: proj42
 *     qos: normal
 *     time: {default: "01:00:00", calibrate: "00:30:00"}   or one value for all
 *     memory: {default: 4G, calibrate: 8G}                  or one value for all
 *     gres: {evaluate: "gpu:1"}                             generic resources per stage
 *     cpus_per_task: {default: 1, compress: 2}              or one value for all
 *     tasks: {calibrate: 4, evaluate: 4}                    MPI ranks per stage
 *
 * Every per-stage option takes one value for all stages or a map whose
 * `default` entry is what the stages it does not name inherit.
 *     array_throttle: 4                                     at most 4 array tasks at once (%4)
 *     modules: [openmpi/4.1, hdf5/1.10]                     "module load" lines
 *     sbatch: ["--constraint=avx2", "--exclusive"]          extra #SBATCH lines
 *     launcher: mpirun                                      or "srun --mpi=pmix"
 *
 * Every value ends up in a batch script; values are checked here against the
 * syntax sbatch accepts (sbatch(1) --time, --mem) so that a typo fails in
 * `squeeze check` on the laptop, not after hours in the queue.
 */
#include "slurm_options.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const slurm_keys[] = {"partition", "account", "qos", "time", "memory", "gres", "cpus_per_task",
                                         "tasks", "array_throttle", "modules", "sbatch", "launcher", NULL};
static const char *const stage_keys[] = {"default", "inspect", "calibrate", "compress", "evaluate", "report", NULL};

static bool all_digits(const char *s, size_t len)
{
    if (len == 0 || len > 9)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* sbatch(1): "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
 * "days-hours:minutes" and "days-hours:minutes:seconds". */
bool sq_slurm_time_valid(const char *text)
{
    const char *p = text, *dash = strchr(text, '-');
    int colons = 0;
    if (strcmp(text, "UNLIMITED") == 0 || strcmp(text, "INFINITE") == 0)
        return true;
    if (dash) {
        if (!all_digits(text, (size_t)(dash - text)))
            return false;
        p = dash + 1;
    }
    for (const char *q = p;; q++) {
        if (*q == ':' || *q == '\0') {
            if (!all_digits(p, (size_t)(q - p)))
                return false;
            if (p != (dash ? dash + 1 : text) && q - p != 2)
                return false; /* minutes and seconds after a colon take two digits */
            if (*q == '\0')
                break;
            colons++;
            p = q + 1;
        }
    }
    return colons <= 2;
}

/* sbatch --mem: a number with an optional K, M, G or T suffix. */
bool sq_slurm_memory_valid(const char *text)
{
    size_t len = strlen(text);
    if (len == 0)
        return false;
    if (strchr("KMGTkmgt", text[len - 1]))
        len--;
    return all_digits(text, len);
}

/* partition, account and qos: Slurm names, which also need no quoting on an #SBATCH line */
static bool plain_name(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("._-,+", *s)))
            return false;
    return true;
}

bool sq_slurm_gres_valid(const char *text)
{
    const char *p = text;
    if (text[0] == '\0')
        return false;
    for (;;) {
        size_t len = strcspn(p, ",");
        int fields = 0;
        if (len == 0 || !isalpha((unsigned char)p[0]))
            return false; /* each entry starts with the resource's name */
        for (size_t i = 0, field = 0; i <= len; i++) {
            if (i == len || p[i] == ':') {
                if (i == field)
                    return false; /* empty field */
                fields++;
                field = i + 1;
            } else if (!(isalnum((unsigned char)p[i]) || strchr("._-", p[i]))) {
                return false;
            }
        }
        if (fields > 3)
            return false;
        if (p[len] == '\0')
            return true;
        p += len + 1;
    }
}

static bool positive_count(const char *text)
{
    return all_digits(text, strlen(text)) && atoi(text) >= 1;
}

const char *sq_slurm_option_where(const sq_yaml_node *root, const char *key, int stage, char *buf, size_t size)
{
    const sq_yaml_node *node = sq_yaml_get(sq_yaml_get(root, "slurm"), key);
    char pos[512];
    if (node && node->kind == SQ_YAML_MAP) {
        const sq_yaml_node *entry = stage >= 0 ? sq_yaml_get(node, sq_stage_name(stage)) : NULL;
        node = entry ? entry : sq_yaml_get(node, "default");
    }
    if (node == NULL || node->line == 0) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, size, "%s: ", sq_yaml_where(node, pos, sizeof pos));
    return buf;
}

typedef bool (*value_check)(const char *);

/* time/memory: one string for every stage, or {default: ..., <stage>: ...}. */
static sq_status per_stage_strings(const sq_yaml_node *section, const char *key, value_check valid,
                                   const char *expected, char **out)
{
    char pos[512];
    const sq_yaml_node *node = sq_yaml_get(section, key);
    sq_status st;
    if (node == NULL)
        return SQ_OK;
    if (node->kind == SQ_YAML_SCALAR) {
        if (!valid(node->value))
            return sq_fail(SQ_ERR_USAGE, "%s: slurm.%s '%s' is not valid: expected %s",
                           sq_yaml_where(node, pos, sizeof pos), key, node->value, expected);
        for (int s = 0; s < SQ_STAGE_COUNT; s++)
            out[s] = strdup(node->value);
        return SQ_OK;
    }
    char where[64];
    snprintf(where, sizeof where, "slurm.%s", key);
    if ((st = sq_yaml_check_keys(node, where, stage_keys)) != SQ_OK)
        return st;
    for (size_t i = 0; i < node->count; i++) {
        const char *text;
        if ((st = sq_yaml_as_string(node->items[i], key, &text)) != SQ_OK)
            return st;
        if (!valid(text))
            return sq_fail(SQ_ERR_USAGE, "%s: slurm.%s.%s '%s' is not valid: expected %s",
                           sq_yaml_where(node->items[i], pos, sizeof pos), key, node->keys[i]->value, text, expected);
    }
    const sq_yaml_node *fallback = sq_yaml_get(node, "default");
    for (int s = 0; s < SQ_STAGE_COUNT; s++) {
        const sq_yaml_node *v = sq_yaml_get(node, sq_stage_name(s));
        if (v == NULL)
            v = fallback;
        if (v)
            out[s] = strdup(v->value);
    }
    return SQ_OK;
}

static sq_status string_list(const sq_yaml_node *section, const char *key, char **out, int *count)
{
    char pos[512];
    const sq_yaml_node *node = sq_yaml_get(section, key);
    sq_status st;
    if (node == NULL)
        return SQ_OK;
    if ((st = sq_yaml_expect(node, SQ_YAML_SEQ, key)) != SQ_OK)
        return st;
    if (node->count > SQ_SLURM_MAX_LINES)
        return sq_fail(SQ_ERR_USAGE, "%s: slurm.%s holds at most %d entries", sq_yaml_where(node, pos, sizeof pos), key,
                       SQ_SLURM_MAX_LINES);
    for (size_t i = 0; i < node->count; i++) {
        const char *text;
        if ((st = sq_yaml_as_string(node->items[i], key, &text)) != SQ_OK)
            return st;
        for (const char *p = text; *p; p++)
            if ((unsigned char)*p < 0x20)
                return sq_fail(SQ_ERR_USAGE, "%s: slurm.%s entries must be one line without control characters",
                               sq_yaml_where(node->items[i], pos, sizeof pos), key);
        if (text[0] == '\0')
            return sq_fail(SQ_ERR_USAGE, "%s: slurm.%s has an empty entry", sq_yaml_where(node->items[i], pos, sizeof pos),
                           key);
        out[(*count)++] = strdup(text);
    }
    return SQ_OK;
}

sq_status sq_slurm_options_parse(const sq_yaml_node *section, sq_slurm_options *out)
{
    sq_status st = SQ_OK;
    char pos[512];
    const sq_yaml_node *node;
    const char *text = NULL;
    int64_t number;

    memset(out, 0, sizeof *out);
    out->launcher[0] = strdup("mpirun");
    out->launcher_argc = 1;
    if (section == NULL)
        return SQ_OK;
    out->present = true;
    SQ_TRY(sq_yaml_check_keys(section, "slurm", slurm_keys));
    SQ_TRY(per_stage_strings(section, "partition", plain_name,
                             "a Slurm name (letters, digits, '.', '_', '-', ',')", out->partition));
    SQ_TRY(per_stage_strings(section, "account", plain_name,
                             "a Slurm name (letters, digits, '.', '_', '-', ',')", out->account));
    SQ_TRY(per_stage_strings(section, "qos", plain_name, "a Slurm name (letters, digits, '.', '_', '-', ',')",
                             out->qos));
    SQ_TRY(per_stage_strings(section, "gres", sq_slurm_gres_valid,
                             "sbatch --gres syntax: name[:type][:count] entries separated by ',' (e.g. \"gpu:1\")",
                             out->gres));
    {
        char *cpus[SQ_STAGE_COUNT] = {0};
        st = per_stage_strings(section, "cpus_per_task", positive_count, "a whole number of CPUs, at least 1", cpus);
        for (int s = 0; s < SQ_STAGE_COUNT; s++) {
            out->cpus_per_task[s] = cpus[s] ? atoi(cpus[s]) : 0;
            free(cpus[s]);
        }
        if (st != SQ_OK)
            goto cleanup;
    }
    SQ_TRY(per_stage_strings(section, "time", sq_slurm_time_valid,
                             "sbatch --time syntax: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. \"00:30:00\")",
                             out->time));
    SQ_TRY(per_stage_strings(section, "memory", sq_slurm_memory_valid,
                             "a number with an optional K, M, G or T suffix (e.g. 4G)", out->memory));
    if ((node = sq_yaml_get(section, "tasks")) != NULL) {
        if (node->kind == SQ_YAML_SCALAR) {
            SQ_TRY(sq_yaml_as_int(node, "slurm.tasks", &number));
            if (number < 1 || number > 100000)
                SQ_FAIL(SQ_ERR_USAGE, "%s: slurm.tasks must be at least 1", sq_yaml_where(node, pos, sizeof pos));
            out->tasks[SQ_STAGE_CALIBRATE] = out->tasks[SQ_STAGE_EVALUATE] = (int)number;
        } else {
            static const char *const mpi_keys[] = {"calibrate", "evaluate", NULL};
            SQ_TRY(sq_yaml_check_keys(node, "slurm.tasks (only the MPI stages take tasks)", mpi_keys));
            for (size_t i = 0; i < node->count; i++) {
                SQ_TRY(sq_yaml_as_int(node->items[i], node->keys[i]->value, &number));
                if (number < 1 || number > 100000)
                    SQ_FAIL(SQ_ERR_USAGE, "%s: slurm.tasks.%s must be at least 1",
                            sq_yaml_where(node->items[i], pos, sizeof pos), node->keys[i]->value);
                out->tasks[sq_stage_from_name(node->keys[i]->value)] = (int)number;
            }
        }
    }
    if ((node = sq_yaml_get(section, "array_throttle")) != NULL) {
        SQ_TRY(sq_yaml_as_int(node, "slurm.array_throttle", &number));
        if (number < 0 || number > 100000)
            SQ_FAIL(SQ_ERR_USAGE, "%s: slurm.array_throttle must be 0 (no limit) or more",
                    sq_yaml_where(node, pos, sizeof pos));
        out->array_throttle = (int)number;
    }
    SQ_TRY(string_list(section, "modules", out->modules, &out->module_count));
    SQ_TRY(string_list(section, "sbatch", out->sbatch_lines, &out->sbatch_line_count));
    for (int i = 0; i < out->sbatch_line_count; i++)
        if (strncmp(out->sbatch_lines[i], "--", 2) != 0 && out->sbatch_lines[i][0] != '-')
            SQ_FAIL(SQ_ERR_USAGE, "%s: slurm.sbatch entries are sbatch options such as \"--constraint=avx2\", not '%s'",
                    sq_yaml_where(sq_yaml_get(section, "sbatch")->items[i], pos, sizeof pos), out->sbatch_lines[i]);
    if ((node = sq_yaml_get(section, "launcher")) != NULL) {
        SQ_TRY(sq_yaml_as_string(node, "slurm.launcher", &text));
        free(out->launcher[0]);
        out->launcher[0] = NULL;
        out->launcher_argc = 0;
        /* split on spaces: the launcher is a program and its options, no shell syntax */
        const char *p = text;
        while (*p) {
            while (*p == ' ')
                p++;
            size_t len = strcspn(p, " ");
            if (len == 0)
                break;
            if (out->launcher_argc == 7)
                SQ_FAIL(SQ_ERR_USAGE, "%s: slurm.launcher has too many words", sq_yaml_where(node, pos, sizeof pos));
            out->launcher[out->launcher_argc++] = strndup(p, len);
            p += len;
        }
        if (out->launcher_argc == 0)
            SQ_FAIL(SQ_ERR_USAGE, "%s: slurm.launcher is empty (use mpirun or \"srun --mpi=pmix\")",
                    sq_yaml_where(node, pos, sizeof pos));
        for (const char *c = text; *c; c++)
            if (strchr(";&|<>`$()\\\"'\n", *c))
                SQ_FAIL(SQ_ERR_USAGE, "%s: slurm.launcher is a program and its options (mpirun, \"srun --mpi=pmix\"), "
                        "not shell code: '%c' is not allowed", sq_yaml_where(node, pos, sizeof pos), *c);
    }
cleanup:
    if (st != SQ_OK)
        sq_slurm_options_free(out);
    return st;
}

void sq_slurm_options_free(sq_slurm_options *opts)
{
    for (int s = 0; s < SQ_STAGE_COUNT; s++) {
        free(opts->partition[s]);
        free(opts->account[s]);
        free(opts->qos[s]);
        free(opts->gres[s]);
        free(opts->time[s]);
        free(opts->memory[s]);
    }
    for (int i = 0; i < opts->module_count; i++)
        free(opts->modules[i]);
    for (int i = 0; i < opts->sbatch_line_count; i++)
        free(opts->sbatch_lines[i]);
    for (int i = 0; i < opts->launcher_argc; i++)
        free(opts->launcher[i]);
    memset(opts, 0, sizeof *opts);
}
