/* test_format_traits.c - the formats' traits table (quant/format.h): every row is
 * well formed, defaults, equality and the plain formats come from the rows, and a
 * format's stored metadata is read through typed accessors that refuse a
 * misspelt or missing attribute instead of falling back to a default. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/format.h"
#include "test_support.h"

START_TEST(test_every_row_is_well_formed)
{
    const sq_quant_format *const *all = sq_quant_format_all();
    int count = 0;
    for (int i = 0; all[i]; i++, count++) {
        const sq_quant_format *f = all[i];
        ck_assert_msg(f->name && f->description && f->quantize && f->dequantize, "row %d", i);
        ck_assert_ptr_eq(sq_quant_format_find(f->name), f); /* names are unique */
        ck_assert_msg(f->bits_per_weight > 0 && f->bits_per_weight <= 32, "%s bits", f->name);
        ck_assert_msg(f->format_class < SQ_FORMAT_CLASS_COUNT, "%s class", f->name);
        ck_assert_msg(f->options != NULL, "%s: options must end with a NULL name, not be NULL", f->name);
        ck_assert_msg(!f->plain || f->format_class <= SQ_FORMAT_CLASS_HALF, "%s: plain but not a float", f->name);
        for (const sq_format_option *o = f->options; o->name; o++) {
            ck_assert_msg(o->offset < sizeof(sq_quant_options), "%s.%s offset", f->name, o->name);
            ck_assert_msg(o->min <= o->default_value && o->default_value <= o->max, "%s.%s default %g outside "
                          "[%g, %g]", f->name, o->name, o->default_value, o->min, o->max);
            ck_assert_ptr_eq(sq_format_option_find(f, o->name), o);
        }
    }
    ck_assert_int_ge(count, 12);
    /* The classes the report names variants after. */
    ck_assert_int_eq(sq_quant_format_find("fp32")->format_class, SQ_FORMAT_CLASS_FULL);
    ck_assert_int_eq(sq_quant_format_find("bf16")->format_class, SQ_FORMAT_CLASS_HALF);
    ck_assert_int_eq(sq_quant_format_find("int8")->format_class, SQ_FORMAT_CLASS_INT8);
    ck_assert_int_eq(sq_quant_format_find("q8_0")->format_class, SQ_FORMAT_CLASS_INT8);
    ck_assert_int_eq(sq_quant_format_find("nf4")->format_class, SQ_FORMAT_CLASS_LOWBIT);
    ck_assert_str_eq(sq_format_class_technique(SQ_FORMAT_CLASS_LOWBIT), "int4");
    ck_assert(sq_format_needs_hessian(sq_quant_format_find("gptq")));
    ck_assert(!sq_format_needs_hessian(sq_quant_format_find("int8")));
}
END_TEST

START_TEST(test_defaults_and_equality_come_from_the_rows)
{
    sq_quant_options o, p;
    sq_quant_options_for(sq_quant_format_find("nf4"), &o);
    ck_assert_int_eq(o.block_size, 64);
    ck_assert(!o.double_quant);
    sq_quant_options_for(sq_quant_format_find("int4"), &o);
    ck_assert_int_eq(o.block_size, 32);
    sq_quant_options_for(sq_quant_format_find("gptq"), &o);
    ck_assert_int_eq(o.bits, 4);
    ck_assert_int_eq(o.group_size, -1);
    ck_assert(o.damp == 0.01);
    /* Format-independent defaults: the rows' where they agree, 0 (each format's own)
     * for block_size, where nf4 (64) and int4 (32) differ. */
    sq_quant_options_default(&o);
    ck_assert_int_eq(o.block_size, 0);
    ck_assert(o.weight_percentile == 100.0);
    ck_assert_int_eq(o.bits, 4);
    ck_assert_int_eq(o.group_size, -1);
    ck_assert(o.damp == 0.01 && !o.act_order && !o.symmetric && !o.asymmetric && !o.double_quant);
    /* Equality looks at the options the format takes only. */
    const sq_quant_format *nf4 = sq_quant_format_find("nf4");
    sq_quant_options_for(nf4, &o);
    p = o;
    p.bits = 8; /* gptq's, not nf4's */
    ck_assert(sq_quant_options_equal(nf4, &o, &p));
    p.block_size = 128;
    ck_assert(!sq_quant_options_equal(nf4, &o, &p));
}
END_TEST

START_TEST(test_plain_formats_from_the_rows)
{
    ck_assert_str_eq(sq_quant_format_plain_for(SQ_DTYPE_F16)->name, "fp16");
    ck_assert_str_eq(sq_quant_format_plain_for(SQ_DTYPE_BF16)->name, "bf16");
    ck_assert_str_eq(sq_quant_format_plain_for(SQ_DTYPE_F32)->name, "fp32");
    ck_assert_str_eq(sq_quant_format_plain_for(SQ_DTYPE_F64)->name, "fp32");
}
END_TEST

START_TEST(test_typed_attributes_refuse_a_missing_name)
{
    float x[64], back[64];
    sq_qtensor qt;
    int value = 0;
    bool flag = true;
    for (int i = 0; i < 64; i++)
        x[i] = (float)(i % 7) - 3.0f;
    ck_assert_int_eq(sq_quant_format_find("nf4")->quantize("w", x, 1, 64, NULL, NULL, &qt), SQ_OK);
    ck_assert_int_eq(sq_qtensor_attr_int(&qt, "block_size", &value), SQ_OK);
    ck_assert_int_eq(value, 64);
    ck_assert_int_eq(sq_qtensor_attr_flag(&qt, "double_quant", &flag), SQ_OK);
    ck_assert(!flag);
    assert_error(sq_qtensor_attr_int(&qt, "block_sise", &value), "tensor 'w' (format nf4) has no attribute 'block_sise'");
    sq_qtensor_set_attr(&qt, "block_size", 64.5);
    assert_error(sq_qtensor_attr_int(&qt, "block_size", &value), "block_size = 64.5 is not an integer");
    sq_qtensor_set_attr(&qt, "double_quant", 2);
    assert_error(sq_qtensor_attr_flag(&qt, "double_quant", &flag), "double_quant = 2 is not 0 or 1");
    /* A tensor whose stored metadata lacks an attribute is refused, not read with a default. */
    qt.attr_count = 0;
    assert_error(sq_quant_format_find("nf4")->dequantize(&qt, back), "has no attribute 'block_size'");
    sq_qtensor_free(&qt);
}
END_TEST

START_TEST(test_help_table_lists_every_format)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    sq_quant_format_print_table(out);
    fclose(out);
    for (const sq_quant_format *const *f = sq_quant_format_all(); *f; f++) {
        char needle[32];
        snprintf(needle, sizeof needle, "\n  %s ", (*f)->name);
        ck_assert_msg(strstr(text, needle), "%s missing from:\n%s", (*f)->name, text);
    }
    ck_assert_ptr_nonnull(strstr(text, "block_size (int, default 64, 1..1048576)"));
    ck_assert_ptr_nonnull(strstr(text, "damp (number, default 0.01, 0..1)"));
    free(text);
}
END_TEST

int main(void)
{
    return sq_test_run_tests("format_traits", 0,
                             SQ_TESTS(test_every_row_is_well_formed, test_defaults_and_equality_come_from_the_rows,
                                      test_plain_formats_from_the_rows, test_typed_attributes_refuse_a_missing_name,
                                      test_help_table_lists_every_format));
}
