/* accounting.h - one row per tensor: what it was, what it became, in bytes.
 *
 * The seed's "2.27x" was bookkeeping over tensors that were never converted
 * and MoE weights that had been dropped (docs/itera-lite.md 3.5).  Here every
 * tensor of the input has a row (name, group, the rule that decided it, the
 * format, bytes before, bytes after), aliases included with 0 bytes, and the
 * sum of 'before' must equal the input's tensor bytes (shared storage once),
 * or compress fails.  The model artifact carries the table as /accounting
 * (docs/artifacts.md); stderr gets it as text with counts per format.
 */
#ifndef SQ_COMPRESS_ACCOUNTING_H
#define SQ_COMPRESS_ACCOUNTING_H

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>

#include "calib/model_identity.h"
#include "compress/compress_plan.h"
#include "quant/qtensor.h"

typedef struct {
    const char *name;
    const char *group;
    const char *rule;      /* pattern text, "default", "kept: full precision", "raw", "alias" */
    char format[24];       /* stored format ("raw" for a non-float buffer kept as it is) */
    const char *options;
    uint64_t before, after;
} sq_accounting_row;

typedef struct {
    sq_accounting_row *rows;
    size_t count;
    uint64_t total_before, total_after;
} sq_accounting;

/* One storage format's share, in the order formats first appear in the rows;
 * aliases are counted under "alias". */
typedef struct {
    char name[24];
    uint64_t tensors, before, after;
} sq_format_total;

#define SQ_ACCOUNTING_MAX_FORMATS 32

/* stored[i] is the compressed form of plan->entries[i]. */
sq_status sq_accounting_build(const sq_compress_plan *plan, const sq_qtensor *stored, sq_accounting *out);
void sq_accounting_free(sq_accounting *accounting);

/* Fails (SQ_ERR_RUN) unless the sum of 'before' equals the input's tensor
 * bytes as its reader measured them: a tensor dropped or counted twice. */
sq_status sq_accounting_check(const sq_accounting *accounting, uint64_t input_tensor_bytes, const char *input_path);

/* Fills totals (at most capacity formats) and returns how many there are. */
size_t sq_accounting_format_totals(const sq_accounting *accounting, sq_format_total *totals, size_t capacity);

/* The table and the counts per format. */
void sq_accounting_print(const sq_accounting *accounting, FILE *out);

/* /accounting: datasets name, group, rule, format, options (strings [N]),
 * bytes_before, bytes_after (u64 [N]); per-format summary datasets
 * formats, format_tensors, format_bytes_before, format_bytes_after; attrs
 * tensor_count, bytes_before, bytes_after, input_tensor_bytes, the map's
 * source and description, and the identity of the model it was compressed
 * from (source_family, source_config_json, source_model_tensors_sha256,
 * source_model_tensor_count: calib/model_identity.h). */
sq_status sq_accounting_write(hid_t file, const sq_accounting *accounting, uint64_t input_tensor_bytes,
                              const char *map_source, const char *map_description,
                              const sq_model_identity *source);

/* For an artifact input (inspect or model): each tensor's stored bytes, from
 * the datasets under /model/tensors/<name> (a group's datasets summed), and
 * its original dtype (attribute original_dtype, else f32).  Aliases get 0. */
sq_status sq_accounting_artifact_inputs(const char *path, const sq_tensor_set *set, sq_input_tensor *input);

#endif
