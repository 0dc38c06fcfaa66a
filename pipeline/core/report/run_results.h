/* run_results.h - everything the report needs, gathered from a run folder.
 *
 * The report reads artifacts only (never recomputes a measurement): the
 * evaluation artifacts (evaluate/<variant>/evaluation.h5, evaluate/baseline/),
 * the inspect artifact (model facts), the calibration artifact (expert routing
 * counts), the model artifacts (bytes per parameter group from compress's
 * accounting), and plan.json for the variants that failed to run.
 */
#ifndef SQ_REPORT_RUN_RESULTS_H
#define SQ_REPORT_RUN_RESULTS_H

#include <stdbool.h>
#include <stdint.h>

#include "models/family.h"
#include "util/status.h"

#define SQ_REPORT_MAX_VARIANTS 256
#define SQ_REPORT_MAX_EXPERTS 64
#define SQ_REPORT_MAX_MOE 16

typedef enum { SQ_VERDICT_SUCCESS = 0, SQ_VERDICT_PARTIAL, SQ_VERDICT_FAILURE, SQ_VERDICT_FAILED_TO_RUN } sq_verdict;

typedef struct {
    char name[96];
    bool evaluated;            /* an evaluation artifact exists */
    char evaluation_path[1024];
    char model_path[1024];     /* compress/<variant>/model.h5 */
    char log_path[1024];       /* the failing stage's log, when it failed */
    char failure[512];         /* "compress failed (exit 3)", when it failed */
    /* measured, read from the evaluation artifact */
    double perplexity, ppl_stderr, mean_nll;
    int64_t scored_tokens, windows;
    double tokens_per_second, seconds;
    double peak_rss_bytes;
    double file_bytes, tensor_bytes;
    double ratio_file, ratio_tensor;     /* baseline bytes / these bytes */
    bool has_kl;
    double kl_divergence;
    int64_t mpi_ranks;
    char plan_key[96];
    char squeeze_version[32];
    double *window_nll;                  /* [windows] */
    int64_t *window_tokens;              /* [windows] */
    /* derived against the baseline, in verdict.c */
    double ppl_change_pct;               /* 100 (ppl/ppl_base - 1) */
    double ppl_change_stderr_pct;        /* from paired per-window differences */
    double speed_ratio;                  /* tok/s / baseline tok/s */
    sq_verdict verdict;
    bool pareto;                         /* on the size/quality Pareto front */
    /* bytes per parameter group from compress's accounting */
    bool has_groups;
    double group_before[SQ_GROUP_COUNT], group_after[SQ_GROUP_COUNT];
} sq_variant_result;

typedef struct {
    char run_dir[1024];
    char run_name[128];
    double target_compression;  /* targets.compression */
    double target_quality;      /* targets.quality (percent) */
    const char *target_hardware;
    /* the model, from the inspect artifact */
    char inspect_path[1024];
    char family[32];
    char config_json[2048];
    int64_t parameters;
    double baseline_tensor_bytes;
    double group_params[SQ_GROUP_COUNT];
    /* calibration: expert routing counts per MoE layer */
    char calibration_path[1024];
    int moe_layer_count;
    int moe_layers[SQ_REPORT_MAX_MOE];
    int expert_count;
    int64_t expert_tokens[SQ_REPORT_MAX_MOE][SQ_REPORT_MAX_EXPERTS];
    /* the evaluations */
    sq_variant_result baseline;
    int variant_count;
    sq_variant_result variants[SQ_REPORT_MAX_VARIANTS];
    int recommended;            /* index into variants, -1 when none meets the targets */
} sq_run_results;

/* Reads the run folder; SQ_ERR_INPUT when there is no evaluation at all, or when
 * the evaluations come from different models (naming both). */
sq_status sq_run_results_load(const char *run_dir, double target_compression, double target_quality,
                              const char *target_hardware, sq_run_results *results);
void sq_run_results_free(sq_run_results *results);

/* Verdicts, quality change with its standard error, speed ratios, the Pareto
 * front and the recommendation (verdict.c). */
void sq_run_results_judge(sq_run_results *results);
const char *sq_verdict_name(sq_verdict verdict);

/* Writers (render_*.c): each writes one file atomically (temp + rename). */
sq_status sq_report_write_json(const sq_run_results *results, const char *path);
sq_status sq_report_write_markdown(const sq_run_results *results, const char *path);
sq_status sq_report_write_html(const sq_run_results *results, const char *path);

#endif
