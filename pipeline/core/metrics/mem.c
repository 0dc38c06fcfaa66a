/* mem.c - peak resident memory: VmHWM ("high water mark") of /proc/self/status,
 * which is what the kernel measured; getrusage() where /proc is absent. */
#include "metrics/mem.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

uint64_t sq_peak_rss_bytes(void)
{
    char line[256];
    unsigned long long kib = 0;
    struct rusage usage;
    FILE *status = fopen("/proc/self/status", "r");
    if (status != NULL) {
        while (fgets(line, sizeof line, status) != NULL)
            if (strncmp(line, "VmHWM:", 6) == 0 && sscanf(line + 6, "%llu", &kib) == 1)
                break;
        fclose(status);
        if (kib > 0)
            return (uint64_t)kib * 1024u;
    }
    if (getrusage(RUSAGE_SELF, &usage) == 0)
        return (uint64_t)usage.ru_maxrss * 1024u; /* Linux reports KiB */
    return 0;
}
