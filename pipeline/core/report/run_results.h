/* run_results.h - everything the report needs, gathered from a run folder.
 *
 * The report reads artifacts only (never recomputes a measurement): the
 * evaluation artifacts (evaluate/<variant>/evaluation.h5 and
 * evaluate/baseline/, docs/artifact-evaluation.md), the inspect artifact (model
 * facts, docs/artifacts.md), the calibration artifact (expert routing counts,
 * /calibration/routing), the model artifacts (bytes per parameter group from
 * compress's /accounting table), and plan.json (pipeline/driver/plan_json.c)
 * for the variants that failed or never ran.  Every number keeps the path of
 * the artifact it came from, so report.json and the page can name it.
 */
#ifndef SQ_REPORT_RUN_RESULTS_H
#define SQ_REPORT_RUN_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "advice/decision_matrix.h"
#include "models/family.h"
#include "util/hash.h"
#include "util/status.h"

#define SQ_REPORT_MAX_VARIANTS 256
#define SQ_REPORT_MAX_EXPERTS 64
#define SQ_REPORT_MAX_MOE 16
#define SQ_REPORT_MAX_FORMATS 12
#define SQ_REPORT_PATH 1024
#define SQ_REPORT_MAX_EXPORTS 32
#define SQ_REPORT_MAX_CONVERSIONS 6

typedef enum { SQ_VERDICT_SUCCESS = 0, SQ_VERDICT_PARTIAL, SQ_VERDICT_FAILURE, SQ_VERDICT_FAILED_TO_RUN } sq_verdict;

/* One storage format's share of a compressed model (/accounting/formats). */
typedef struct {
    char name[24];
    int64_t tensors;
    int64_t bytes_before, bytes_after;
} sq_format_share;

/* How an evaluation was measured (the same for every variant of a run: evaluate
 * refuses a baseline measured differently). */
typedef struct {
    int64_t window_length, stride, offset, max_windows;
    char scoring[32];
    char data_path[SQ_REPORT_PATH];
    char tokenizer[SQ_REPORT_PATH];
    char tokens_sha256[SQ_SHA256_HEX];
    int64_t text_tokens;
} sq_eval_setup;

typedef struct {
    char name[96];
    bool evaluated;            /* its evaluation artifact was read */
    bool stale;                /* plan.json expects another key: the artifact is from an earlier plan */
    bool planned;              /* plan.json names it */
    char planned_key[96];      /* plan.json's key of evaluate/<variant> */
    char planned_state[16];    /* plan.json's state of evaluate/<variant> */
    bool plan_failed;          /* plan.json records a failure of it or of a stage it needs */
    char evaluation_path[SQ_REPORT_PATH];
    char model_path[SQ_REPORT_PATH];     /* compress/<variant>/model.h5 */
    char log_path[SQ_REPORT_PATH];       /* the failing stage's log, when it failed; else evaluate's log */
    char failure[512];                   /* "compress failed (exit 3)", when it failed */
    char failed_stage[32];               /* "compress", "evaluate", "calibrate", ... */
    int exit_code;                       /* of the failed stage, -1 when not known */
    /* measured, read from the evaluation artifact (/evaluation attributes) */
    double perplexity, ppl_stderr, mean_nll, nll_std;
    int64_t scored_tokens, windows;
    double tokens_per_second, seconds;
    int64_t peak_rss_bytes;
    int64_t file_bytes, tensor_bytes;    /* model_file_bytes, model_tensor_bytes */
    int64_t baseline_file_bytes, baseline_tensor_bytes;
    double ratio_file, ratio_tensor;     /* ratio_file_bytes, ratio_tensor_bytes: baseline / these */
    char kernels[64];                    /* /evaluation@kernels: what the forward pass ran ("" when not recorded) */
    double ppl_change_pct;               /* ppl_change_pct as evaluate recorded it */
    bool has_kl;
    double kl_divergence;
    int64_t mpi_ranks;
    char family[32];
    char config_json[2048];              /* /evaluation@config_json ("" when not recorded) */
    char tensors_sha256[SQ_SHA256_HEX];  /* /evaluation@model_tensors_sha256: names+shapes of the model */
    char model_kind[16];
    char recorded_model_path[SQ_REPORT_PATH]; /* /evaluation@model_path, as given to evaluate */
    char plan_key[96];
    char squeeze_version[32];
    char created_utc[32];
    char config_sha256[SQ_SHA256_HEX];
    sq_eval_setup setup;
    double *window_nll;                  /* [windows] */
    int64_t *window_tokens;              /* [windows] */
    /* derived against the baseline, in verdict.c */
    double ppl_change_stderr_pct;        /* from paired per-window differences */
    bool paired;                         /* the standard error is the paired one */
    double ratio_size;                   /* the size baseline's file bytes / file_bytes: what the page shows */
    double speed_ratio;                  /* tok/s / baseline tok/s */
    bool speed_comparable;               /* it ran its own kernels (kernels recorded, not dequantized to fp32) */
    int tied_with;                       /* index of the variant it ties with (size < 1%, quality within 1 s.e.), -1 */
    sq_verdict verdict;
    bool pareto;                         /* on the size/quality Pareto front */
    /* compress's model artifact: /accounting */
    bool has_model;
    char precision_map[SQ_REPORT_PATH];  /* @precision_map: the recipe file or "config" */
    char map_description[256];
    char calibration_input[SQ_REPORT_PATH]; /* the calibration artifact among its inputs */
    int64_t model_mpi_ranks;
    char model_squeeze_version[32];
    bool has_groups;
    int64_t group_before[SQ_GROUP_COUNT], group_after[SQ_GROUP_COUNT];
    int format_count;
    sq_format_share formats[SQ_REPORT_MAX_FORMATS];
    const char *technique;               /* the rules' name for what it did ("int8", ...) */
    /* its model artifact's /pruning, when compress pruned it first */
    bool pruned;
    char prune_amounts[256];             /* @amounts: "ffn-channels 25%, experts 2 per layer" */
    int64_t channels_removed, experts_removed, heads_removed;
    char source_family[32];              /* @source_*: the model before pruning, which the baseline evaluated */
    char source_config_json[2048];
    char source_tensors_sha256[SQ_SHA256_HEX];
    char forced_ssm[1024];               /* /pruning@forced_ssm: SSM dimensions pruned past the guard, or "" */
} sq_variant_result;

/* One exported file, from its export record <run>/export/<variant>/export-<format>.json
 * (written by squeeze-export, docs/export.md).  The report shows what the record says and
 * whether the file is still there with the recorded size (it does not hash it again). */
typedef struct {
    char text[112];                      /* the conversion as the record words it */
    int64_t tensors;                     /* how many tensors had it */
} sq_export_conversion;

typedef struct {
    char variant[96];
    char format[16];                     /* "gguf", "safetensors" */
    char record_path[SQ_REPORT_PATH];
    char file[SQ_REPORT_PATH];           /* the exported file (model.safetensors inside the folder) */
    char architecture[32];               /* GGUF: general.architecture; "" for safetensors */
    char readers[96];                    /* GGUF: who reads it */
    char sha256[SQ_SHA256_HEX];
    char created_utc[32];
    char plan_key[96];                   /* the compress key of the model it was exported from */
    int64_t bytes_on_disk, tensor_bytes;
    int64_t tensors, copied, converted, not_written;
    int conversion_count;                /* distinct conversions kept (most tensors first) */
    sq_export_conversion conversions[SQ_REPORT_MAX_CONVERSIONS];
    int64_t other_conversions;           /* tensors with a conversion not listed */
    bool file_missing;                   /* the file is gone */
    bool file_changed;                   /* its size is no longer bytes_on_disk */
} sq_export_result;

typedef struct {
    char run_dir[SQ_REPORT_PATH];
    char run_name[128];
    char plan_path[SQ_REPORT_PATH];      /* "" when there is no plan.json */
    char plan_key[96];                   /* --key of the report */
    /* the config keys the report used */
    char config_path[SQ_REPORT_PATH];
    char config_sha256[SQ_SHA256_HEX];
    double target_compression;  /* targets.compression */
    double target_quality;      /* targets.quality (percent) */
    char target_hardware[16];   /* inspect.target_hardware */
    /* the model, from the inspect artifact */
    char inspect_path[SQ_REPORT_PATH];
    char checkpoint[SQ_REPORT_PATH];
    char family[32];
    char config_json[2048];
    int64_t parameters;
    int64_t checkpoint_file_bytes, checkpoint_tensor_bytes;
    /* What sizes are compared with: the checkpoint file the user gave (from
     * the inspect artifact's stat), else the baseline evaluation's model file. */
    char size_base_path[SQ_REPORT_PATH];
    int64_t size_base_bytes;
    bool size_base_is_checkpoint;
    bool evaluate_only;         /* plan.json plans no compression: the baseline is the whole report */
    int64_t group_params[SQ_GROUP_COUNT];
    /* the rules of thumb applied to the model (advice/decision_matrix.h) */
    bool has_advice;
    sq_advice advice;
    /* calibration: expert routing counts per MoE layer (/calibration/routing) */
    char calibration_path[SQ_REPORT_PATH];
    int moe_layer_count;
    int moe_layers[SQ_REPORT_MAX_MOE];
    int expert_count, top_k;
    int64_t expert_tokens[SQ_REPORT_MAX_MOE][SQ_REPORT_MAX_EXPERTS];
    /* the evaluations */
    sq_variant_result baseline;
    int variant_count;
    sq_variant_result variants[SQ_REPORT_MAX_VARIANTS]; /* smallest first, failed ones last */
    int recommended;            /* index into variants, -1 when none meets the targets */
    int closest;                /* when none does: the PARTIAL with the smallest quality loss, else -1 */
    int smallest_success;       /* the smallest SUCCESS, which the recommendation replaces when a tie favours another */
    /* exported files (export/<variant>/export-*.json), variant then format order */
    int export_count;
    sq_export_result exports[SQ_REPORT_MAX_EXPORTS];
} sq_run_results;

typedef struct {
    double target_compression, target_quality;
    const char *target_hardware;  /* "gpu", "cpu", "edge" */
    const char *config_path;      /* NULL without --config */
    const char *plan_key;         /* NULL without --key */
} sq_report_settings;

/* Reads the run folder.  SQ_ERR_INPUT (exit 3) when there is no baseline or no
 * variant evaluation at all, when an artifact is damaged, or when the
 * artifacts come from different models (naming both). */
sq_status sq_run_results_load(const char *run_dir, const sq_report_settings *settings, sq_run_results *results);
void sq_run_results_free(sq_run_results *results);

/* Pieces of the loader (run_plan.c, run_artifacts.c). */
sq_status sq_report_load_plan(sq_run_results *results);
sq_status sq_report_load_inspect(sq_run_results *results);
sq_status sq_report_load_calibration(sq_run_results *results);
sq_status sq_report_load_exports(sq_run_results *results);
/* The state of an exported file in words: present, MISSING or CHANGED (run_exports.c). */
void sq_report_export_words(const sq_export_result *e, char *out, size_t size);
sq_status sq_report_load_model(const sq_run_results *results, sq_variant_result *v);
sq_variant_result *sq_report_variant(sq_run_results *results, const char *name);

/* Verdicts, quality change with its standard error, speed ratios, the Pareto
 * front and the recommendation (verdict.c). */
void sq_run_results_judge(sq_run_results *results);
const char *sq_verdict_name(sq_verdict verdict);
/* Which decision-matrix technique a compressed model is ("int8", "int4",
 * "fp16", "mixed-precision"), from the formats its bytes went to. */
const char *sq_report_technique(const sq_variant_result *v);

/* The recommendation in words (recommend.c): which variant to ship and why,
 * from the measurements against the targets. */
void sq_report_recommendation_words(const sq_run_results *results, char *out, size_t size);
/* "your checkpoint NAME (N B)": what every size ratio is against. */
void sq_report_size_base_words(const sq_run_results *results, char *out, size_t size);
/* The speed of v in words: measured with its own kernels, or not comparable. */
void sq_report_speed_words(const sq_run_results *results, const sq_variant_result *v, char *out, size_t size);
/* The warning for a variant whose SSM was pruned past the guard (force: true);
 * false (and "") when it was not. */
bool sq_report_forced_ssm_words(const sq_variant_result *v, char *out, size_t size);
/* How the rules of thumb rate what variant v did, for this model. */
void sq_report_matrix_words(const sq_run_results *results, const sq_variant_result *v, char *out, size_t size);
/* What the run measured for a technique; true when it contradicts the rule
 * (advised against but met both targets, or suggested but never met them). */
bool sq_report_measured_words(const sq_run_results *results, const char *technique, bool advised_against, char *out,
                              size_t size);

/* Writers (render_*.c): each writes one file atomically (temp + rename). */
sq_status sq_report_write_json(const sq_run_results *results, const char *path);
sq_status sq_report_write_markdown(const sq_run_results *results, const char *path);
sq_status sq_report_write_html(const sq_run_results *results, const char *path);

#endif
