/* checks.h - the parts of `squeeze check` (check.c runs them in order), one
 * file per thing checked: check_programs.c (stage programs, mpirun),
 * check_slurm.c (the Slurm client tools and the MPI launcher), check_cluster.c
 * (partitions, CPUs, GPUs and accounts against sinfo and sacctmgr, every batch
 * script through sbatch --test-only),
 * check_output.c (the output folder), check_tokenizer.c (the tokenizer
 * against the model), check_windows.c (the windows against the model's
 * maximum sequence length), check_data.c (the data against one window),
 * check_precision_map.c (the precision map against the checkpoint's tensors);
 * check_report.c says what each found, once per distinct problem. */
#ifndef SQ_DRIVER_CHECKS_H
#define SQ_DRIVER_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

#include "commands.h"
#include "modelio/loader.h"
#include "tokenize/tokenizer.h"

#define SQ_CHECK_MAX_SEEN 512

typedef struct {
    bool gate;                       /* the gate of run, submit and resume: problems to stderr, no "ok:" lines */
    int problems;
    int warnings;
    int repeats;                     /* the same problem met again (another variant): counted once */
    char *seen[SQ_CHECK_MAX_SEEN];   /* the problems printed so far */
    int seen_count;
} sq_check_result;

/* One message per distinct problem: sweep variants share most of their config,
 * so a mistake in it would otherwise be reported once per variant. */
void sq_check_problem(sq_check_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sq_check_warning(sq_check_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A verified fact ("ok: ..."), not printed as the gate. */
void sq_check_note(const sq_check_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sq_check_result_free(sq_check_result *r);
/* "file:line:column: " of an option in a variant's config (where it was written), or "". */
const char *sq_check_where(const sq_yaml_node *root, const char *dotted, char *buf, size_t size);

void sq_check_programs(const sq_plan *plan, sq_check_result *r);
void sq_check_slurm(const sq_plan *plan, const sq_command_options *opts, sq_check_result *r);
void sq_check_cluster(const sq_plan *plan, const sq_command_options *opts, sq_check_result *r);
void sq_check_output(const sq_plan *plan, sq_check_result *r);

/* The tokenizer of a variant, loaded and checked against the model (NULL when
 * there is none); NULL when it does not load (said as a problem). */
sq_tokenizer *sq_check_tokenizer(const sq_run_config *cfg, const sq_yaml_node *root, const sq_loaded_model *model,
                                 sq_check_result *r);
/* with_calibration: the calibration window too (a run that compresses). */
void sq_check_windows(const sq_run_config *cfg, const sq_yaml_node *root, int max_seq, bool with_calibration,
                      sq_check_result *r);

/* The data files met so far (tokenizer|path|format|start|end), read once for all variants. */
typedef struct {
    char *key;
    size_t tokens;
    size_t unknown;                  /* of them, the tokenizer's unknown token */
    bool ok;
} sq_check_data_entry;

typedef struct {
    sq_check_data_entry *entries;
    size_t count;
} sq_check_data_cache;

/* The evaluation data, and the calibration data when the run compresses (with_calibration). */
void sq_check_data(const sq_run_config *cfg, const sq_yaml_node *root, const sq_tokenizer *tok, int vocab,
                   bool with_calibration, sq_check_data_cache *cache, sq_check_result *r);
void sq_check_data_cache_free(sq_check_data_cache *cache);

void sq_check_precision_map(const sq_variant *var, const sq_loaded_model *model, sq_check_result *r);

#endif
