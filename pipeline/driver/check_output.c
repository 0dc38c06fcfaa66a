/* check_output.c - the output folder: the nearest existing folder of the
 * run's folder must really take a new file (one is created and removed). */
#include "checks.h"
#include "proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sq_check_output(const sq_plan *plan, sq_check_result *r)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s", plan->run_dir);
    while (stat(path, &sb) != 0) {
        char *slash = strrchr(path, '/');
        if (slash == NULL || slash == path) {
            snprintf(path, sizeof path, "/");
            break;
        }
        *slash = '\0';
    }
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        sq_check_problem(r, "output folder %s cannot be created: %s is not a folder (check output_root)",
                         plan->run_dir, path);
        return;
    }
    char *probe = sq_strdupf("%s/.squeeze-check.XXXXXX", path);
    int fd = mkstemp(probe);
    if (fd < 0) {
        sq_check_problem(r, "output folder %s is not writable: cannot create a file in %s: %s (check output_root)",
                         plan->run_dir, path, strerror(errno));
    } else {
        close(fd);
        unlink(probe);
        sq_check_note(r, "output folder %s is writable", plan->run_dir);
    }
    free(probe);
}
