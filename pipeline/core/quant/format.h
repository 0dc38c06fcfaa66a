/* format.h - the registry of storage formats (one file per format in quant/) and
 * their traits, as ggml's type-traits table: one sq_quant_format row per format
 * declares its class, bits per weight, block size, whether it needs
 * calibration, its option descriptors (name, type, default, range) and, for a
 * plain format, its storage dtype.  The precision-map parser, option equality,
 * defaults, the model file's plain datasets, the report's technique class and
 * squeeze-compress --help all read the rows; nothing else lists formats.
 *
 * Each format turns an fp32 matrix (rows = output channels, cols = input
 * features; a 1-D tensor is one row) into an sq_qtensor and back.  Options
 * come from the precision map; calibration statistics are passed where the
 * format uses them (int8 activation scales, gptq's X^T X).
 *
 * Contract of quantize: it initialises *out itself (sq_qtensor_init with the
 * tensor's name, the format name, original dtype f32 and shape [rows, cols]);
 * the caller may then set the original ndim/shape/dtype (same element count).
 * On failure *out is freed (nothing to release).  Every format refuses a NaN
 * or Inf weight (SQ_ERR_INPUT naming the tensor and the element index), and an
 * all-zero block or row quantizes without dividing by zero and comes back as
 * zeros.  dequantize writes numel floats and only reads the buffers and
 * attributes, so it works on a tensor read back from a model file.
 *
 * Storage of each format (buffers / attrs), documented in its own file:
 *   fp32|fp16|bf16  data [rows, cols]
 *   int8   q i8 [rows, cols], scales f32 [rows], act_scales f32 [cols] (when calibrated)
 *   nf4    packed u8 [ceil(n/2)], absmax f32 [blocks]  or  absmax_q u8 [blocks],
 *          nested_absmax f32 [ceil(blocks/256)] + attr nested_offset; attrs block_size, double_quant
 *   int4   packed u8 [rows, cols/2], scales f16 [rows, cols/g], mins f16 (asymmetric); attrs group_size, asymmetric
 *   gptq   qweight u8 [rows, ceil(cols/2)] (4/3 bits) or [rows, cols] (8 bits), scales f16 [rows, groups],
 *          zeros u8 [rows, groups], g_idx i32 [cols] (act-order); attrs bits, group_size, act_order, symmetric
 *   q8_0|q4_0|q4_1|q4_k|q6_k  blocks u8 [rows, cols / block values * block bytes]: ggml's blocks
 *          themselves (quant/ggml_blocks.h); rows that are not whole blocks fall back to a stated format
 */
#ifndef SQ_QUANT_FORMAT_H
#define SQ_QUANT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "quant/qtensor.h"

/* Options a precision-map rule can give: one field per option name, shared by the
 * formats that take an option of that name.  A format's option descriptors say
 * which fields it reads, their defaults and ranges. */
typedef struct {
    int block_size;          /* nf4: 64 (32..4096, power of two); int4: group size 32; 0 = the format's default */
    bool double_quant;       /* nf4: quantize the absmax values too (bitsandbytes compress_statistics) */
    bool asymmetric;         /* int4: Q4_1-like with a min per group */
    double weight_percentile;/* int8: 100 = absmax */
    int bits;                /* gptq: 4 (3 or 8) */
    int group_size;          /* gptq: -1 = per row */
    bool act_order;          /* gptq */
    double damp;             /* gptq: 0.01 */
    bool symmetric;          /* gptq: false = GPTQ's default asymmetric min-max quantizer */
} sq_quant_options;

typedef enum { SQ_OPTION_INT, SQ_OPTION_BOOL, SQ_OPTION_NUMBER } sq_option_type;

/* One option of a format: the precision-map key, its field in sq_quant_options,
 * its default and the accepted range (bools: 0..1). */
typedef struct {
    const char *name;
    sq_option_type type;
    size_t offset;
    double default_value;
    double min, max;
    const char *help;
} sq_format_option;

#define SQ_FORMAT_OPTION(key, kind, field, def, lo, hi, text) \
    {.name = (key), .type = (kind), .offset = offsetof(sq_quant_options, field), .default_value = (def), \
     .min = (lo), .max = (hi), .help = (text)}

/* What a format does to a weight's size, for the report's technique. */
typedef enum {
    SQ_FORMAT_CLASS_FULL = 0, /* fp32: nothing converted */
    SQ_FORMAT_CLASS_HALF,     /* 16-bit floats */
    SQ_FORMAT_CLASS_INT8,     /* 8-bit integer codes */
    SQ_FORMAT_CLASS_LOWBIT,   /* codes of fewer than 8 bits (4-bit, k-quants) */
    SQ_FORMAT_CLASS_COUNT
} sq_format_class;

/* What a format needs from calibration. */
typedef enum {
    SQ_CALIB_NONE = 0,    /* weights alone */
    SQ_CALIB_OPTIONAL,    /* uses activation statistics when a calibration artifact is given */
    SQ_CALIB_HESSIAN,     /* needs the calibrated X^T X of every tensor it stores (calibrate.hessian) */
} sq_format_calibration;

/* What calibration knows about this linear's input (NULL members when absent). */
typedef struct {
    const float *act_absmax;     /* [cols] */
    const float *act_percentile; /* [cols], the configured percentile of |x| */
    const float *act_mean_sq;    /* [cols], diag(X^T X)/N */
    const double *hessian;       /* [cols x cols], X^T X / N, or NULL */
    int64_t tokens;
} sq_calib_stats;

typedef struct {
    const char *name;            /* "nf4" */
    const char *description;
    /* traits */
    sq_format_class format_class;
    double bits_per_weight;      /* at the default options, scales and mins included */
    int block_size;              /* values per scale at the default options; 0 = one per row, 1 = none */
    sq_format_calibration calibration;
    bool plain;                  /* stored as one dataset "data" of storage_dtype, no codes */
    sq_dtype storage_dtype;      /* plain formats: the dtype of "data" */
    const sq_format_option *options; /* the options it takes; ends with a NULL name */
    /* the format's work */
    sq_status (*quantize)(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                          const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out);
    /* out holds numel floats */
    sq_status (*dequantize)(const sq_qtensor *qt, float *out);
    /* Whether a [rows, cols] tensor fits the format with these options (NULL:
     * every shape does); when it does not, why says so and the tensor is
     * stored in `fallback` instead (as llama.cpp's quantizer falls back for
     * rows its blocks cannot hold), which the accounting records. */
    bool (*fits)(int64_t rows, int64_t cols, const sq_quant_options *options, char *why, size_t why_size);
    const char *fallback;
} sq_quant_format;

/* A format without options points .options here. */
extern const sq_format_option sq_format_no_options[];

const sq_quant_format *sq_quant_format_find(const char *name);
const sq_quant_format *const *sq_quant_format_all(void);

/* The options of format at their declared defaults (fields it does not take: 0). */
void sq_quant_options_for(const sq_quant_format *format, sq_quant_options *options);
/* Defaults for any format: each option's declared default where the formats that
 * take it agree, 0 ("the format's own default") where they do not (block_size). */
void sq_quant_options_default(sq_quant_options *options);
/* True when the options format reads are equal (the fields it does not take are ignored). */
bool sq_quant_options_equal(const sq_quant_format *format, const sq_quant_options *a, const sq_quant_options *b);
/* The option descriptor of format named name, or NULL. */
const sq_format_option *sq_format_option_find(const sq_quant_format *format, const char *name);
/* The value of an option in options, as a double (bools 0/1). */
double sq_format_option_get(const sq_format_option *option, const sq_quant_options *options);
/* Sets an option in options from a double (ints truncated, bools != 0). */
void sq_format_option_set(const sq_format_option *option, sq_quant_options *options, double value);

bool sq_format_needs_hessian(const sq_quant_format *format);
/* The plain format that keeps a tensor of this float dtype unconverted (fp16 for
 * f16, bf16 for bf16, else fp32). */
const sq_quant_format *sq_quant_format_plain_for(sq_dtype dtype);
/* "half", "int8", "low-bit", "full": the class's name; the technique the report
 * names a variant after when the class holds its bytes ("fp16", "int8", "int4"). */
const char *sq_format_class_name(sq_format_class format_class);
const char *sq_format_class_technique(sq_format_class format_class);

/* The table for --help: one line per format with its traits and options. */
void sq_quant_format_print_table(FILE *out);

#endif
