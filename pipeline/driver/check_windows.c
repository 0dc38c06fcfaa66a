/* check_windows.c - a variant's windows against the model's maximum sequence
 * length: evaluate's own rule (metrics/windows.h), offset included, and the
 * calibration window. */
#include "checks.h"

#include "metrics/windows.h"

void sq_check_windows(const sq_run_config *cfg, const sq_yaml_node *root, int max_seq, bool with_calibration,
                      sq_check_result *r)
{
    char pos[600];
    if (max_seq <= 0)
        return; /* no model to check against */
    sq_window_options window_options;
    sq_window_plan window_plan;
    sq_window_options_from_config(cfg, &window_options);
    if (sq_window_protocol_resolve(&window_options, max_seq, &window_plan) != SQ_OK) {
        sq_check_problem(r, "%s%s", sq_check_where(root, "evaluate.window_length", pos, sizeof pos),
                         sq_error_message());
        sq_error_clear();
    }
    if (with_calibration && cfg->calibrate.window_length > max_seq)
        sq_check_problem(r, "%scalibrate.window_length %d is longer than the model's maximum sequence length %d: "
                         "use at most %d", sq_check_where(root, "calibrate.window_length", pos, sizeof pos),
                         cfg->calibrate.window_length, max_seq, max_seq);
}
