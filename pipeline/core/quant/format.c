/* format.c - the table of storage formats and the default options.
 *
 * Each format lives in its own file (float_formats.c, int8.c, nf4.c, int4.c,
 * gptq.c) and exports one sq_quant_format; this table is the only place that
 * lists them, so adding a format is one file and one line here.
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

void sq_quant_options_default(sq_quant_options *options)
{
    memset(options, 0, sizeof *options);
    options->block_size = 0;            /* each format's own default: nf4 64, int4 32 */
    options->double_quant = false;      /* bitsandbytes' compress_statistics, opt-in here */
    options->asymmetric = false;        /* int4: Q4_0-like */
    options->weight_percentile = 100.0; /* int8: absmax */
    options->bits = 4;                  /* gptq */
    options->group_size = -1;           /* gptq: per row (gptq.py --groupsize default) */
    options->act_order = false;         /* gptq.py --act-order is opt-in */
    options->damp = 0.01;               /* gptq.py --percdamp */
    options->symmetric = false;         /* gptq.py --sym is opt-in */
}

const sq_quant_format *sq_quant_format_find(const char *name)
{
    for (int i = 0; format_table[i] != NULL; i++)
        if (strcmp(format_table[i]->name, name) == 0)
            return format_table[i];
    return NULL;
}

const sq_quant_format *const *sq_quant_format_all(void) { return format_table; }
