/* decision_matrix.h - which compression to try first, from rules of thumb.
 *
 * Techniques are rated by architecture (Transformer / SSM / other), model size
 * (<10M, 10-100M, >100M parameters), target hardware (GPU, CPU, edge) and
 * accepted quality loss (<3%, <10%, <20%) in one table (decision_matrix.c);
 * a model's facts become a ranked list of techniques, each with the reasons
 * in words, the techniques advised against and why, and caveats.
 *
 * inspect prints and stores the advice; the report puts it in an appendix
 * next to what was measured, which is what decides.
 */
#ifndef SQ_ADVICE_DECISION_MATRIX_H
#define SQ_ADVICE_DECISION_MATRIX_H

#include <stdint.h>

#include "models/param_table.h"
#include "util/status.h"

typedef enum { SQ_ARCH_TRANSFORMER = 0, SQ_ARCH_SSM, SQ_ARCH_OTHER, SQ_ARCH_COUNT } sq_advice_arch;
typedef enum { SQ_SIZE_SMALL = 0, SQ_SIZE_MEDIUM, SQ_SIZE_LARGE, SQ_SIZE_COUNT } sq_advice_size; /* <10M, 10-100M, >100M */
typedef enum { SQ_HW_GPU = 0, SQ_HW_CPU, SQ_HW_EDGE, SQ_HW_COUNT } sq_advice_hardware;
typedef enum { SQ_QUALITY_3 = 0, SQ_QUALITY_10, SQ_QUALITY_20, SQ_QUALITY_COUNT } sq_advice_quality; /* <3%, <10%, <20% */

/* How the rules rate a technique for one fact of the model (higher is better). */
typedef enum { SQ_RATE_AVOID = 0, SQ_RATE_RISKY, SQ_RATE_GOOD, SQ_RATE_BEST } sq_advice_rating;

typedef struct {
    sq_advice_arch arch;
    int64_t parameters;        /* measured: sum of numel over parameters, shared storage once */
    sq_advice_hardware hardware;
    double quality_pct;        /* accepted perplexity increase, percent (targets.quality) */
} sq_advice_input;

#define SQ_ADVICE_MAX_ITEMS 8
#define SQ_ADVICE_MAX_CAVEATS 12
#define SQ_ADVICE_TEXT 1024

typedef struct {
    const char *technique;     /* "mixed-precision", "int4", ... */
    const char *title;         /* "Mixed precision (INT8 embeddings, FP16 core)" */
    const char *squeeze_how;   /* how to run it in squeeze ("compress.recipe: ...") */
    int score;                 /* sum of the ratings, for ordering */
    sq_advice_rating worst;    /* the lowest rating over the facts */
    char reason[SQ_ADVICE_TEXT]; /* why, fact by fact, in words */
} sq_advice_item;

typedef struct {
    sq_advice_input input;
    sq_advice_size size;
    sq_advice_quality quality;
    char summary[SQ_ADVICE_TEXT];        /* one paragraph: try X first, then Y */
    int recommended_count;
    sq_advice_item recommended[SQ_ADVICE_MAX_ITEMS]; /* best first */
    int avoided_count;
    sq_advice_item avoided[SQ_ADVICE_MAX_ITEMS];     /* the matrix advises against these here */
    int caveat_count;
    const char *caveats[SQ_ADVICE_MAX_CAVEATS];      /* static strings */
} sq_advice;

/* Fills advice from the input (never fails for valid enum values). */
sq_status sq_advice_recommend(const sq_advice_input *input, sq_advice *advice);

/* Names as the config and the reports spell them. */
const char *sq_advice_arch_name(sq_advice_arch arch);          /* "transformer", "ssm", "other" */
const char *sq_advice_size_name(sq_advice_size size);          /* "<10M", "10-100M", ">100M" */
const char *sq_advice_hardware_name(sq_advice_hardware hw);    /* "gpu", "cpu", "edge" */
const char *sq_advice_quality_name(sq_advice_quality quality); /* "<3%", "<10%", "<20%" */
const char *sq_advice_rating_name(sq_advice_rating rating);    /* "avoid", "risky", "good", "best" */

/* Parses "gpu" | "cpu" | "edge"; SQ_ERR_USAGE naming the choices otherwise. */
sq_status sq_advice_hardware_parse(const char *text, sq_advice_hardware *hw);
sq_advice_size sq_advice_size_of(int64_t parameters);
/* The architecture by what the parameters are (per parameter group), not by
 * the family's name, so a new family is classified without a table entry. */
sq_advice_arch sq_advice_arch_of(const int64_t group_parameters[SQ_GROUP_COUNT]);
/* The buckets: up to 3% -> "<3%", up to 10% -> "<10%", more -> "<20%". */
sq_advice_quality sq_advice_quality_of(double quality_pct);

#endif
