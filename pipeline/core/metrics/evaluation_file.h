/* evaluation_file.h - the evaluation artifact (docs/artifact-evaluation.md):
 * writing it, reading a baseline evaluation back for KL and compression
 * ratios, the --json summary and the --dump-logits file.
 */
#ifndef SQ_METRICS_EVALUATION_FILE_H
#define SQ_METRICS_EVALUATION_FILE_H

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>

#include "calib/model_identity.h"
#include "metrics/evaluation.h"
#include "metrics/windows.h"
#include "models/forward.h"
#include "tokenize/tokenizer.h"
#include "util/hash.h"

/* What a baseline evaluation recorded about itself. */
typedef struct {
    int window_length, stride, offset;
    char scoring[32];
    int64_t windows;
    int64_t scored_tokens;
    char tokens_sha256[SQ_SHA256_HEX];
    double perplexity;
    uint64_t file_bytes;       /* the baseline model's bytes on disk, as it measured them */
    uint64_t tensor_bytes;
    bool has_logprobs;
    int64_t logprob_rows;
    int vocab;                 /* columns of its logprobs */
} sq_baseline_info;

/* Reads /evaluation of a baseline evaluation (kind and schema checked). */
sq_status sq_baseline_read(const char *path, sq_baseline_info *info);
/* Input error (exit 3) naming both setups when the baseline was measured on
 * other windows, another text or another offset, lacks log-probs, or has
 * another vocabulary. */
sq_status sq_baseline_check(const char *path, const sq_baseline_info *info, const sq_window_plan *plan,
                            const char *tokens_sha256, int vocab);
/* Rows [row_first, row_first + rows) of the baseline's logprobs (IEEE half). */
sq_status sq_baseline_read_rows(const char *path, int64_t row_first, int64_t rows, int vocab, uint16_t **out);

/* Everything the artifact says besides the measured results. */
typedef struct {
    const char *variant;
    const char *model_path;
    const char *model_kind;     /* "inspect", "model", "checkpoint" */
    const sq_model_identity *identity; /* family, config, names+shapes sha256 (calib/model_identity.h) */
    uint64_t model_file_bytes;  /* stat() of the model path */
    uint64_t model_tensor_bytes;
    const char *tokenizer;
    const sq_data_spec *data;
    int64_t token_count;        /* tokens of the evaluation text */
    const char *tokens_sha256;  /* sha256 of those tokens as little-endian int32 */
    double unigram_perplexity;  /* of a unigram model of those tokens fitted to them (metrics/unigram.h) */
    int64_t unknown_tokens;     /* of those tokens, the tokenizer's unknown token (metrics/unknown_tokens.h) */
    int32_t unknown_token_id;   /* -1: the tokenizer has none */
    int ranks;
    int max_windows;
    const char *baseline_path;  /* NULL without a baseline */
    const sq_baseline_info *baseline;
    const char *kernels;        /* which kernels ran, counted ("20 x int8xq8/avx512, ..."; "dequantized: ..."
                                   on the reference path), or NULL */
    const char *kernels_per_tensor; /* "tensor kernel/isa bytes\n" per linear weight, or NULL */
    uint64_t weight_bytes;      /* the model's weights in memory as it ran (prepared linears + fp32 arrays) */
    uint64_t activation_bytes;  /* the forward's activations, tables and kernel scratch (sq_model_activation_bytes) */
    uint64_t buffer_bytes;      /* the evaluation's own: tokens, logits, scoring, log-probs, baseline rows */
} sq_eval_record;

/* sha256 of token ids as little-endian int32: the "text sha" of a setup. */
void sq_tokens_sha256(const int32_t *tokens, size_t count, char out[SQ_SHA256_HEX]);

/* Writes group /evaluation and its datasets into an open artifact. */
sq_status sq_evaluation_write(hid_t file, const sq_eval_record *record, const sq_window_plan *plan,
                              const sq_eval_result *result);
/* The --json summary (malloc'd, one line). */
sq_status sq_evaluation_json(const sq_eval_record *record, const sq_window_plan *plan, const sq_eval_result *result,
                             char **json);

/* Runs the first window again and writes a plain HDF5 file (temporary name,
 * renamed when complete): logits f32 [inputs, V], tokens i32 [inputs] (fed to
 * the model), targets i32 [inputs] (token t + offset); attrs offset,
 * window_start, window_length. */
sq_status sq_dump_first_window_logits(const char *path, sq_model *model, const int32_t *tokens,
                                      const sq_window_plan *plan);

#endif
