/* fault.c - the one fault-injection rule (fault.h). */
#include "fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sq_fault_matches(const char *stage, const char *variant)
{
    const char *faults = getenv("SQUEEZE_FAULT");
    char want[512];
    if (faults == NULL || faults[0] == '\0')
        return false;
    snprintf(want, sizeof want, "%s:%s", stage, variant);
    for (const char *p = faults; *p;) {
        size_t len = strcspn(p, ",");
        if ((len == strlen(want) && strncmp(p, want, len) == 0) || (len == strlen(stage) && strncmp(p, stage, len) == 0))
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

void sq_fault_describe(const char *stage, const char *variant, char *buf, unsigned long size)
{
    snprintf(buf, size, "squeeze: SQUEEZE_FAULT=%s: failing %s%s%s on purpose before it starts (exit 4)",
             getenv("SQUEEZE_FAULT") ? getenv("SQUEEZE_FAULT") : "", stage, variant[0] ? "/" : "", variant);
}
