/* replay_main.c - runs a fuzz harness over files, without libFuzzer.
 *
 *   fuzz_replay_<harness> PATH...   each PATH a file or a folder of files
 *
 * ctest runs it on tests/fuzz/regressions/<harness>/ (inputs that once crashed
 * a reader) and on the seed corpora, in the normal gcc build and under ASan.
 * A crash, a sanitizer report or an abort() in the harness fails the test.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_support.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    long size;
    uint8_t *data;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    data = malloc((size_t)size + 1);
    if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        fclose(f);
        free(data);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, (size_t)size);
    free(data);
    return 0;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Files of a folder in name order, so that a failure is reproducible. */
static int run_path(const char *path, int *files)
{
    struct stat info;
    DIR *dir;
    struct dirent *entry;
    char **names = NULL;
    size_t count = 0;
    int failed = 0;
    if (stat(path, &info) != 0) {
        fprintf(stderr, "replay: %s does not exist\n", path);
        return 1;
    }
    if (!S_ISDIR(info.st_mode)) {
        (*files)++;
        return run_file(path);
    }
    dir = opendir(path);
    if (dir == NULL)
        return 1;
    while ((entry = readdir(dir)) != NULL) {
        char **grown;
        if (entry->d_name[0] == '.' || strcmp(entry->d_name, "README.md") == 0)
            continue;
        grown = realloc(names, (count + 1) * sizeof *names);
        if (grown == NULL)
            abort();
        names = grown;
        names[count] = malloc(strlen(path) + strlen(entry->d_name) + 2);
        if (names[count] == NULL)
            abort();
        sprintf(names[count], "%s/%s", path, entry->d_name);
        count++;
    }
    closedir(dir);
    qsort(names, count, sizeof *names, compare_names);
    for (size_t i = 0; i < count; i++) {
        failed |= run_path(names[i], files);
        free(names[i]);
    }
    free(names);
    return failed;
}

int main(int argc, char **argv)
{
    int failed = 0, files = 0;
    for (int i = 1; i < argc; i++)
        failed |= run_path(argv[i], &files);
    printf("replayed %d inputs%s\n", files, failed ? " (some could not be read)" : "");
    return failed;
}
