/* mem.h - the process's peak resident memory, measured. */
#ifndef SQ_METRICS_MEM_H
#define SQ_METRICS_MEM_H

#include <stdint.h>

/* VmHWM from /proc/self/status (Linux), else getrusage's ru_maxrss; bytes. */
uint64_t sq_peak_rss_bytes(void);

#endif
