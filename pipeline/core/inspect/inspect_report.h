/* inspect_report.h - the facts the inspect stage finds in a checkpoint.
 *
 * Reads a checkpoint (or a squeeze artifact), detects its family, infers and
 * validates its config, and accounts for every tensor: each one is in a
 * parameter group, a buffer (non-parameter state such as router.expert_counts)
 * or in no group (listed as a warning, never ignored); shared storage (the
 * tied lm_head.weight) is listed as an alias and counted once, as PyTorch's
 * sum(p.numel() for p in model.parameters()) does.  Then it asks the decision
 * matrix (advice/decision_matrix.h) for a recommendation.
 *
 * The facts are printed as text, as one JSON object (jansson), or written into
 * the inspect artifact (/inspect; schema in docs/artifacts.md), next to the
 * fp32 baseline in /model.
 */
#ifndef SQ_INSPECT_INSPECT_REPORT_H
#define SQ_INSPECT_INSPECT_REPORT_H

#include <hdf5.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "advice/decision_matrix.h"
#include "models/family.h"
#include "models/model_config.h"
#include "tensor/tensor.h"

typedef struct {
    const char *family;          /* NULL or "auto": detect */
    sq_family_hints hints;       /* num_heads for a transformer without a config */
    sq_advice_hardware hardware; /* inspect.target_hardware */
    double quality_pct;          /* targets.quality: accepted perplexity increase, percent */
} sq_inspect_options;

typedef struct {
    char *path;                  /* what was inspected */
    uint64_t file_bytes;         /* stat() of the file */
    sq_tensor_set set;           /* the tensors in their stored dtype (fp32 for an artifact) */
    const sq_family *family;
    sq_model_config config;
    sq_param_group *groups;      /* per tensor of set (aliases: the group of their own name) */

    int64_t parameters;          /* sum of numel: parameters, shared storage once, no buffers */
    int64_t group_parameters[SQ_GROUP_COUNT]; /* SQ_GROUP_BUFFER stays 0 */
    int group_tensors[SQ_GROUP_COUNT];        /* tensors per group, aliases included */
    int64_t ungrouped_parameters;             /* float tensors no group claims (counted as parameters) */
    size_t ungrouped_count;
    size_t matched_count;        /* tensors in a parameter group, aliases included */
    size_t buffer_count;
    int64_t buffer_elements;
    size_t alias_count;
    int64_t state_dict_elements; /* every tensor, aliases and buffers included: sum over state_dict */
    uint64_t tensor_bytes;       /* bytes of the stored tensors in their dtype, shared storage once */

    sq_advice_arch arch;         /* from the groups: SSM params -> ssm, attention -> transformer */
    sq_advice advice;
} sq_inspect_report;

/* Reads path and gathers every fact; errors are SQ_ERR_INPUT (missing, corrupt,
 * unknown family: the message lists the families and the keys they expect). */
sq_status sq_inspect_run(const char *path, const sq_inspect_options *options, sq_inspect_report *report);
void sq_inspect_report_free(sq_inspect_report *report);

/* The human-readable report (tensor table, aliases, family and config, groups,
 * buffers, accounting, non-tensor entries, recommendation). */
void sq_inspect_print(FILE *out, const sq_inspect_report *report);
/* The same facts as one JSON object (caller json_decref()s). */
sq_status sq_inspect_to_json(const sq_inspect_report *report, json_t **json);
/* Writes /inspect (the facts) and /model (the fp32 baseline, aliases as hard
 * links) into an open artifact file. */
sq_status sq_inspect_write(hid_t file, const sq_inspect_report *report);

#endif
