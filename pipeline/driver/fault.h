/* fault.h - fault injection for tests (docs/driver.md "Fault injection"):
 * SQUEEZE_FAULT="<stage>:<variant>[,...]" fails the matching instance with
 * exit 4 before its program starts.  One rule (fault.c), used by the local
 * executor and, through `squeeze fault-check`, by the generated Slurm scripts. */
#ifndef SQ_DRIVER_FAULT_H
#define SQ_DRIVER_FAULT_H

#include <stdbool.h>

/* Whether SQUEEZE_FAULT names this instance: "<stage>:<variant>", or "<stage>"
 * alone for every instance of the stage (inspect and report: variant ""). */
bool sq_fault_matches(const char *stage, const char *variant);

/* The line a failed-on-purpose instance writes into its log. */
void sq_fault_describe(const char *stage, const char *variant, char *buf, unsigned long size);

#endif
