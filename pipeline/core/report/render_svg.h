/* render_svg.h - the report's plots as inline SVG (no script, no network):
 * quality change against size with the targets and the Pareto front, bytes per
 * parameter group before and after for one variant, and expert routing counts. */
#ifndef SQ_REPORT_RENDER_SVG_H
#define SQ_REPORT_RENDER_SVG_H

#include <stdio.h>

#include "report/run_results.h"

/* <svg id="plot-tradeoff">: one point per evaluated variant and the baseline. */
void sq_svg_tradeoff(FILE *out, const sq_run_results *results);
/* <svg id="plot-groups">: before/after bars per parameter group of v. */
void sq_svg_groups(FILE *out, const sq_variant_result *v);
/* <svg id="plot-experts">: tokens routed to each expert, per MoE layer. */
void sq_svg_experts(FILE *out, const sq_run_results *results);

/* Verdict colours, shared by the page and the plots. */
const char *sq_verdict_color(sq_verdict verdict);
const char *sq_verdict_class(sq_verdict verdict);

#endif
