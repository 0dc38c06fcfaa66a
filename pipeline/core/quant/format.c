/* format.c - the table of storage formats, and everything read from their traits.
 *
 * Each format lives in its own file (float_formats.c, int8.c, nf4.c, int4.c,
 * gptq.c, ggml_*.c) and exports one sq_quant_format row; this table is the only
 * place that lists them, so adding a format is one file and one line here
 * (docs/architecture.md, "Adding a storage format").
 */
#include "quant/format.h"

#include <string.h>

extern const sq_quant_format sq_format_fp32;
extern const sq_quant_format sq_format_fp16;
extern const sq_quant_format sq_format_bf16;
extern const sq_quant_format sq_format_int8;
extern const sq_quant_format sq_format_nf4;
extern const sq_quant_format sq_format_int4;
extern const sq_quant_format sq_format_gptq;
extern const sq_quant_format sq_format_q8_0, sq_format_q4_0, sq_format_q4_1, sq_format_q4_k, sq_format_q6_k;

static const sq_quant_format *const format_table[] = {
    &sq_format_fp32, &sq_format_fp16, &sq_format_bf16, &sq_format_int8,
    &sq_format_nf4,  &sq_format_int4, &sq_format_gptq,
    &sq_format_q8_0, &sq_format_q4_0, &sq_format_q4_1, &sq_format_q4_k, &sq_format_q6_k, NULL,
};

const sq_format_option sq_format_no_options[] = {{.name = NULL}};

const sq_quant_format *sq_quant_format_find(const char *name)
{
    for (int i = 0; format_table[i] != NULL; i++)
        if (strcmp(format_table[i]->name, name) == 0)
            return format_table[i];
    return NULL;
}

const sq_quant_format *const *sq_quant_format_all(void) { return format_table; }

/* ---- options ---------------------------------------------------------------- */

double sq_format_option_get(const sq_format_option *option, const sq_quant_options *options)
{
    const char *field = (const char *)options + option->offset;
    switch (option->type) {
    case SQ_OPTION_INT:
        return *(const int *)(const void *)field;
    case SQ_OPTION_BOOL:
        return *(const bool *)(const void *)field ? 1.0 : 0.0;
    case SQ_OPTION_NUMBER:
        return *(const double *)(const void *)field;
    }
    return 0.0;
}

void sq_format_option_set(const sq_format_option *option, sq_quant_options *options, double value)
{
    char *field = (char *)options + option->offset;
    switch (option->type) {
    case SQ_OPTION_INT:
        *(int *)(void *)field = (int)value;
        break;
    case SQ_OPTION_BOOL:
        *(bool *)(void *)field = value != 0.0;
        break;
    case SQ_OPTION_NUMBER:
        *(double *)(void *)field = value;
        break;
    }
}

const sq_format_option *sq_format_option_find(const sq_quant_format *format, const char *name)
{
    for (const sq_format_option *o = format->options; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

void sq_quant_options_for(const sq_quant_format *format, sq_quant_options *options)
{
    memset(options, 0, sizeof *options);
    for (const sq_format_option *o = format->options; o && o->name; o++)
        sq_format_option_set(o, options, o->default_value);
}

void sq_quant_options_default(sq_quant_options *options)
{
    sq_quant_options conflicted;
    memset(options, 0, sizeof *options);
    memset(&conflicted, 0, sizeof conflicted);
    for (int i = 0; format_table[i]; i++)
        for (const sq_format_option *o = format_table[i]->options; o && o->name; o++) {
            /* a field set by an earlier format to another default is marked in `conflicted` */
            bool seen = false;
            for (int j = 0; j < i && !seen; j++)
                seen = sq_format_option_find(format_table[j], o->name) != NULL;
            if (!seen)
                sq_format_option_set(o, options, o->default_value);
            else if (sq_format_option_get(o, options) != o->default_value)
                sq_format_option_set(o, &conflicted, 1.0);
        }
    for (int i = 0; format_table[i]; i++)
        for (const sq_format_option *o = format_table[i]->options; o && o->name; o++)
            if (sq_format_option_get(o, &conflicted) != 0.0)
                sq_format_option_set(o, options, 0.0);
}

bool sq_quant_options_equal(const sq_quant_format *format, const sq_quant_options *a, const sq_quant_options *b)
{
    for (const sq_format_option *o = format->options; o && o->name; o++)
        if (sq_format_option_get(o, a) != sq_format_option_get(o, b))
            return false;
    return true;
}

/* ---- traits ------------------------------------------------------------------ */

bool sq_format_needs_hessian(const sq_quant_format *format) { return format->calibration == SQ_CALIB_HESSIAN; }

const sq_quant_format *sq_quant_format_plain_for(sq_dtype dtype)
{
    const sq_quant_format *fp32 = NULL;
    for (int i = 0; format_table[i]; i++) {
        if (!format_table[i]->plain)
            continue;
        if (format_table[i]->storage_dtype == dtype)
            return format_table[i];
        if (format_table[i]->storage_dtype == SQ_DTYPE_F32)
            fp32 = format_table[i];
    }
    return fp32;
}

static const struct {
    const char *name, *technique;
} class_names[SQ_FORMAT_CLASS_COUNT] = {
    [SQ_FORMAT_CLASS_FULL] = {"full", "fp32"},
    [SQ_FORMAT_CLASS_HALF] = {"half", "fp16"},
    [SQ_FORMAT_CLASS_INT8] = {"int8", "int8"},
    [SQ_FORMAT_CLASS_LOWBIT] = {"low-bit", "int4"},
};

const char *sq_format_class_name(sq_format_class format_class)
{
    return format_class < SQ_FORMAT_CLASS_COUNT ? class_names[format_class].name : "unknown";
}

const char *sq_format_class_technique(sq_format_class format_class)
{
    return format_class < SQ_FORMAT_CLASS_COUNT ? class_names[format_class].technique : "unknown";
}

static void option_value(const sq_format_option *option, double value, char *buf, size_t size)
{
    if (option->type == SQ_OPTION_NUMBER)
        snprintf(buf, size, "%g", value);
    else
        snprintf(buf, size, "%.0f", value);
}

void sq_quant_format_print_table(FILE *out)
{
    static const char *const type_names[] = {[SQ_OPTION_INT] = "int", [SQ_OPTION_BOOL] = "bool",
                                             [SQ_OPTION_NUMBER] = "number"};
    static const char *const calib_names[] = {[SQ_CALIB_NONE] = "no", [SQ_CALIB_OPTIONAL] = "optional",
                                              [SQ_CALIB_HESSIAN] = "X^T X"};
    fprintf(out, "  %-6s %-8s %9s %6s %-9s %s\n", "format", "class", "bits/wt", "block", "calib", "options");
    for (int i = 0; format_table[i]; i++) {
        const sq_quant_format *f = format_table[i];
        char block[16];
        if (f->block_size == 0)
            snprintf(block, sizeof block, "row");
        else
            snprintf(block, sizeof block, "%d", f->block_size);
        fprintf(out, "  %-6s %-8s %9.4g %6s %-9s", f->name, sq_format_class_name(f->format_class),
                f->bits_per_weight, block, calib_names[f->calibration]);
        if (!f->options || !f->options[0].name)
            fprintf(out, " -");
        for (const sq_format_option *o = f->options; o && o->name; o++) {
            char def[32], lo[32], hi[32];
            option_value(o, o->default_value, def, sizeof def);
            option_value(o, o->min, lo, sizeof lo);
            option_value(o, o->max, hi, sizeof hi);
            fprintf(out, "%s %s (%s, default %s, %s..%s)", o == f->options ? "" : ";", o->name,
                    type_names[o->type], def, lo, hi);
        }
        fprintf(out, "\n");
    }
}
