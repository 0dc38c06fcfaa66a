/* stage_options.c - getopt_long over a stage's option table (stage_options.h). */
#include "cli/stage_options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/mpi_agree.h"

/* Table indices are the getopt values, below every character getopt returns
 * (':', '?'); --help returns 'h' like -h. */
enum { MAX_OPTIONS = 32, VERSION_OPTION = 'V' };

/* Whether the last parse met --version (one command line per process). */
static bool version_asked;

/* "--config, --model and --out" for the required options not given. */
static void missing_list(const sq_stage_command_line *line, char *out, size_t size)
{
    size_t missing = 0, used = 0, total = 0;
    for (size_t i = 0; i < line->option_count; i++)
        total += line->options[i].required && *line->options[i].value == NULL;
    out[0] = '\0';
    for (size_t i = 0; i < line->option_count && used < size; i++) {
        const sq_stage_option *o = &line->options[i];
        if (!o->required || *o->value != NULL)
            continue;
        missing++;
        used += (size_t)snprintf(out + used, size - used, "%s--%s",
                                 missing == 1 ? "" : missing == total ? " and " : ", ", o->name);
    }
}

sq_status sq_stage_parse(const sq_stage_command_line *line, int argc, char **argv, bool *help)
{
    struct option long_options[MAX_OPTIONS + 3];
    size_t count = line->option_count;
    int c, index;
    char missing[512];

    *help = false;
    if (count > MAX_OPTIONS)
        return sq_fail(SQ_ERR_RUN, "%s: %zu options, at most %d", line->program, count, MAX_OPTIONS);
    for (size_t i = 0; i < count; i++) {
        const sq_stage_option *o = &line->options[i];
        long_options[i] = (struct option){o->name, o->value ? required_argument : no_argument, NULL, (int)i};
        if (o->value)
            *o->value = NULL;
        else
            *o->flag = false;
    }
    long_options[count] = (struct option){"help", no_argument, NULL, 'h'};
    long_options[count + 1] = (struct option){"version", no_argument, NULL, VERSION_OPTION};
    long_options[count + 2] = (struct option){NULL, 0, NULL, 0};
    version_asked = false;
    if (line->positional)
        *line->positional = NULL;

    opterr = 0;  /* the messages below say it the squeeze way */
    optind = 1;
    /* A leading ':' makes a missing value ':' instead of '?'. */
    while ((c = getopt_long(argc, argv, ":h", long_options, &index)) != -1) {
        if (c == 'h' || c == VERSION_OPTION) {
            *help = true;
            version_asked = c == VERSION_OPTION;
            return SQ_OK;
        }
        if (c == ':')
            return sq_fail(SQ_ERR_USAGE, "option %s needs a value (see %s --help)", argv[optind - 1], line->program);
        if (c < 0 || (size_t)c >= count)
            return sq_fail(SQ_ERR_USAGE, "unknown option '%s' (see %s --help)", argv[optind - 1], line->program);
        if (line->options[c].value)
            *line->options[c].value = optarg;
        else
            *line->options[c].flag = true;
    }
    if (line->positional && optind < argc)
        *line->positional = argv[optind++];
    if (optind < argc)
        return sq_fail(SQ_ERR_USAGE, "unexpected argument '%s' (see %s --help)", argv[optind], line->program);
    missing_list(line, missing, sizeof missing);
    if (missing[0])
        return sq_fail(SQ_ERR_USAGE, "%s %s required (see %s --help)", missing, strchr(missing, ' ') ? "are" : "is",
                       line->program);
    return SQ_OK;
}

int sq_stage_exit_status(sq_status st)
{
    /* an MPI failure agreed by the ranks was logged once, by the rank that failed */
    if (st != SQ_OK && !sq_mpi_failure_logged())
        sq_error("%s (%s)", sq_error_message(), sq_status_name(st));
    return (int)st;
}

void sq_stage_print_help(const sq_stage_command_line *line, const char *usage)
{
    if (version_asked)
        printf("%s %s\n", line->program, SQUEEZE_VERSION); /* the build's version, as sq_version() */
    else
        fputs(usage, stdout);
}

bool sq_stage_version_asked(void)
{
    return version_asked;
}
