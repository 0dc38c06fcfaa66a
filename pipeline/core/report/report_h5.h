/* report_h5.h - lenient readers for the report: an attribute that is absent
 * reads as a fallback (an older artifact lacks a newer attribute).  Missing
 * required data is decided by the callers. */
#ifndef SQ_REPORT_REPORT_H5_H
#define SQ_REPORT_REPORT_H5_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

bool sq_report_file_exists(const char *path);
double sq_report_attr_double(hid_t object, const char *name, double fallback);
int64_t sq_report_attr_int(hid_t object, const char *name, int64_t fallback);
/* Copies a string attribute into out ("" when absent). */
void sq_report_attr_text(hid_t object, const char *name, char *out, size_t size);
/* The path of the line of a root 'inputs' attribute ("path sha256" per line) whose
 * path ends with suffix, and its sha256; false when none does. */
bool sq_report_input_line(const char *inputs, const char *suffix, char *path, size_t path_size,
                          char sha[65]);

#endif
