/* script_values.c - what a config value must be before it reaches a batch
 * script, an sbatch argument or a command line (docs/driver.md "Values in
 * scripts and command lines").
 *
 * Three rules, applied once when the plan is built:
 *   - no control character anywhere in the run YAML (keys and values) except
 *     in `description`, which is free text that never reaches a script: a
 *     newline ends a comment or an #SBATCH line and starts a command, a
 *     carriage return or an escape sequence hides text on a terminal;
 *   - run and variant names are single folder names: letters, digits, '.',
 *     '_', '-', not starting with '.' or '-' (so never "." or ".."), which
 *     keeps every instance folder inside the run folder;
 *   - the config file's own path (it reaches the report job's command line)
 *     holds no control character either.
 * The scripts then quote every value for its context: sq_shell_quote for
 * shell words, sq_sbatch_quote for #SBATCH lines (sbatch parses them itself),
 * and no value is ever written into a comment.
 */
#include "script_values.h"

#include <stdlib.h>
#include <string.h>

static int control_byte(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return *p;
    return -1;
}

/* The dotted path of a node for messages: "slurm.modules[0]". */
static sq_status refuse_control(const sq_yaml_node *node, char *path, size_t size)
{
    char pos[512];
    size_t len = strlen(path);
    if (node == NULL)
        return SQ_OK;
    if (node->kind == SQ_YAML_SCALAR) {
        int byte = control_byte(node->value);
        if (byte >= 0)
            return sq_fail(SQ_ERR_USAGE, "%s: %s holds a control character (byte 0x%02x): values that reach batch "
                           "scripts and command lines must be one line of printable text",
                           sq_yaml_where(node, pos, sizeof pos), path[0] ? path : "the value", byte);
        return SQ_OK;
    }
    for (size_t i = 0; i < node->count; i++) {
        sq_status st;
        if (node->kind == SQ_YAML_MAP) {
            const sq_yaml_node *key = node->keys[i];
            int byte = control_byte(key->value);
            snprintf(path + len, size - len, "%s%s", len ? "." : "", key->value);
            if (byte >= 0)
                return sq_fail(SQ_ERR_USAGE, "%s: the key %s holds a control character (byte 0x%02x)",
                               sq_yaml_where(key, pos, sizeof pos), path, byte);
            if (len == 0 && strcmp(key->value, "description") == 0)
                continue; /* free text shown in the report, never in a script */
        } else {
            snprintf(path + len, size - len, "[%zu]", i);
        }
        if ((st = refuse_control(node->items[i], path, size)) != SQ_OK)
            return st;
        path[len] = '\0';
    }
    return SQ_OK;
}

sq_status sq_config_refuse_control(const sq_yaml_node *root)
{
    char path[1024] = "";
    return refuse_control(root, path, sizeof path);
}

bool sq_folder_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || name[0] == '.' || name[0] == '-' || strlen(name) > 100)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("._-", *p)))
            return false;
    return true;
}

sq_status sq_plan_check_names(const char *config_path, const sq_yaml_node *root, const char *run_name)
{
    char pos[512];
    int byte = control_byte(config_path);
    if (byte >= 0)
        return sq_fail(SQ_ERR_USAGE, "the config path holds a control character (byte 0x%02x): rename the file",
                       byte);
    if (sq_folder_name_valid(run_name))
        return SQ_OK;
    const sq_yaml_node *run = sq_yaml_get(root, "run");
    if (run)
        return sq_fail(SQ_ERR_USAGE, "%s: run name '%s' must be one folder name: letters, digits, '.', '_' and '-', "
                       "not starting with '.' or '-'", sq_yaml_where(run, pos, sizeof pos), run_name);
    return sq_fail(SQ_ERR_USAGE, "%s: the run is named after the file, and '%s' is not one folder name (letters, "
                   "digits, '.', '_' and '-', not starting with '.' or '-'): set `run:` in the config",
                   config_path, run_name);
}

char *sq_sbatch_quote(const char *word)
{
    /* sbatch reads "#SBATCH" lines itself (src/sbatch/opt.c _get_argument): a
     * backslash takes the next byte literally, quotes group, an unescaped '#'
     * starts a comment.  Every byte outside a plain set is backslash-escaped. */
    size_t len = strlen(word);
    char *out = malloc(2 * len + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (const char *p = word; *p; p++) {
        /* bytes of UTF-8 sequences (>= 0x80) are neither spaces nor quotes to sbatch */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              (unsigned char)*p >= 0x80 || strchr("/._-%+,=:@", *p)))
            *o++ = '\\';
        *o++ = *p;
    }
    *o = '\0';
    return out;
}
