/* run_config.h - the run's YAML (docs/config.md) as typed structs.
 *
 * One file drives a whole run; every stage gets it with --config and reads the
 * sections it needs.  Unknown keys and wrong types are usage errors (exit 2)
 * naming file:line:column.  Relative paths are resolved against the config
 * file's folder.  The precision map (compress.precision_map or the recipe
 * file it names) is parsed by precision/precision_map.h; the sweep and slurm
 * sections by the driver; here they are kept as YAML nodes.
 */
#ifndef SQ_CONFIG_RUN_CONFIG_H
#define SQ_CONFIG_RUN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "config/data_spec.h"
#include "config/yaml_tree.h"

#define SQ_MAX_PERCENTILES 8
#define SQ_MAX_PATTERNS 32

typedef struct {
    char *checkpoint;       /* model.checkpoint: path (resolved) */
    char *family;           /* model.family: "auto" (default) or a family name (models/family.c) */
    int num_heads;          /* model.num_heads: transformer heads when the checkpoint lacks a config */
} sq_model_section;

typedef struct {
    char *tokenizer;        /* data.tokenizer: "bytes" or a resolved path */
    sq_data_spec calibration;
    sq_data_spec evaluation;
} sq_data_section;

typedef struct {
    const char *target_hardware; /* inspect.target_hardware: gpu | cpu | edge (default gpu) */
} sq_inspect_section;

typedef struct {
    int windows;            /* calibrate.windows: number of windows (default 32) */
    int window_length;      /* calibrate.window_length (default 128) */
    int percentile_count;
    double percentiles[SQ_MAX_PERCENTILES]; /* calibrate.percentiles (default [99.99]) */
    int hessian_count;      /* calibrate.hessian: glob patterns of linears whose full X^T X is kept */
    char *hessian[SQ_MAX_PATTERNS];
    int ranks;              /* calibrate.ranks: MPI ranks the driver starts (default 1) */
} sq_calibrate_section;

typedef struct {
    const sq_yaml_node *precision_map; /* compress.precision_map (inline) or NULL */
    char *recipe;                      /* compress.recipe: resolved path of a recipe file, or NULL */
    const sq_yaml_node *prune;         /* compress.prune: {target: fraction} added to the map's prune, or NULL */
} sq_compress_section;

typedef enum { SQ_SCORE_ALL = 0, SQ_SCORE_NEW, SQ_SCORE_SECOND_HALF } sq_scoring;

typedef struct {
    int window_length;      /* evaluate.window_length (default 128) */
    int stride;             /* evaluate.stride (default = window_length) */
    sq_scoring scoring;     /* evaluate.scoring: all | new | second-half */
    int offset;             /* evaluate.offset: predict t+offset (default 1) */
    int max_windows;        /* evaluate.max_windows: 0 = all */
    bool store_logprobs;    /* evaluate.store_logprobs: keep log-probs for KL (baseline) */
    int ranks;              /* evaluate.ranks (default 1) */
    bool dequantized;       /* evaluate.kernels: packed (default: quantized weights run packed) |
                               dequantized (the reference path: dequantized to fp32 once) */
    bool fp32_activations;  /* evaluate.activations: int8 (default: quantized kernels quantize
                               activations per block) | fp32 */
} sq_evaluate_section;

typedef struct {
    double compression;     /* targets.compression: minimum measured ratio (default 2.0) */
    double quality;         /* targets.quality: maximum perplexity increase, percent (default 3.0) */
} sq_targets_section;

typedef struct {
    sq_yaml_doc doc;        /* the parsed file (nodes below point into it) */
    char *path;             /* the config file */
    char *dir;              /* its folder, for relative paths */
    char *run_name;         /* run: name of the run folder (default: file name without .yaml) */
    char *output_root;      /* output_root: default "results" next to the config */
    sq_model_section model;
    sq_data_section data;
    sq_inspect_section inspect;
    sq_calibrate_section calibrate;
    sq_compress_section compress;
    sq_evaluate_section evaluate;
    sq_targets_section targets;
    const sq_yaml_node *sweep; /* sweep: section (driver) */
    const sq_yaml_node *slurm; /* slurm: section (driver) */
} sq_run_config;

/* Loads and checks the whole file. */
sq_status sq_run_config_load(const char *path, sq_run_config *cfg);
/* The same from an already parsed document (the driver's per-variant configs). */
sq_status sq_run_config_from_doc(sq_yaml_doc *doc, const char *path, sq_run_config *cfg);
void sq_run_config_free(sq_run_config *cfg);
/* Fills every field with its default (no file). */
void sq_run_config_defaults(sq_run_config *cfg);
/* Resolves a path from the config against its folder (malloc'd). */
char *sq_run_config_path(const sq_run_config *cfg, const char *path);
/* Rewrites the path-valued keys of a run config tree (model.checkpoint,
 * data.tokenizer unless "bytes", data.*.path, compress.recipe, output_root)
 * to absolute paths against dir, so an effective config written elsewhere
 * (a run folder) still points at the same files. */
sq_status sq_run_config_absolute_paths(sq_yaml_node *root, const char *dir);
/* sha256 of one section's canonical YAML text ("" section = whole file). */
sq_status sq_run_config_section_sha256(const sq_run_config *cfg, const char *section, char *out_hex65);

#endif
