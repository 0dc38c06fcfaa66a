/* file_map.c - read-only file mappings (POSIX mmap), reference counted. */
#include "util/file_map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct sq_file_map {
    unsigned char *bytes; /* NULL for an empty file */
    uint64_t size;
    int references;
    char *path;
};

sq_status sq_file_map_open(const char *path, sq_file_map **out)
{
    sq_status st = SQ_OK;
    sq_file_map *map = NULL;
    struct stat info;
    int fd = -1;

    *out = NULL;
    SQ_TRY(sq_alloc(&map, 1, sizeof *map, "file mapping"));
    map->references = 1;
    if ((map->path = strdup(path)) == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &info) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot stat '%s': %s", path, strerror(errno));
    if (!S_ISREG(info.st_mode))
        SQ_FAIL(SQ_ERR_INPUT, "'%s' is not a regular file", path);
    map->size = (uint64_t)info.st_size;
    if (map->size > SIZE_MAX)
        SQ_FAIL(SQ_ERR_INPUT, "'%s' (%llu bytes) is too large to map", path, (unsigned long long)map->size);
    if (map->size > 0) {
        void *p = mmap(NULL, (size_t)map->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
            SQ_FAIL(SQ_ERR_RUN, "cannot map '%s' (%llu bytes): %s", path, (unsigned long long)map->size,
                    strerror(errno));
        map->bytes = p;
    }
    *out = map;
    map = NULL;
cleanup:
    if (fd >= 0)
        close(fd);
    sq_file_map_release(map);
    return st;
}

sq_file_map *sq_file_map_retain(sq_file_map *map)
{
    if (map != NULL)
        map->references++;
    return map;
}

void sq_file_map_release(sq_file_map *map)
{
    if (map == NULL || --map->references > 0)
        return;
    if (map->bytes != NULL)
        munmap(map->bytes, (size_t)map->size);
    free(map->path);
    free(map);
}

const unsigned char *sq_file_map_bytes(const sq_file_map *map) { return map->bytes; }

uint64_t sq_file_map_size(const sq_file_map *map) { return map->size; }

const char *sq_file_map_path(const sq_file_map *map) { return map->path; }

bool sq_file_map_holds(const sq_file_map *map, const void *p, size_t n)
{
    uintptr_t begin, at;
    if (map == NULL || map->bytes == NULL || p == NULL)
        return false;
    begin = (uintptr_t)map->bytes;
    at = (uintptr_t)p;
    return at >= begin && at - begin <= map->size && n <= map->size - (at - begin);
}

sq_status sq_file_map_range(const sq_file_map *map, uint64_t offset, uint64_t length, const char *what,
                            const void **out)
{
    *out = NULL;
    if (offset > map->size || length > map->size - offset)
        return sq_fail(SQ_ERR_INPUT,
                       "'%s': %s (%llu bytes at offset %llu) runs past the end of the file (%llu bytes); the file "
                       "is truncated or damaged",
                       map->path, what, (unsigned long long)length, (unsigned long long)offset,
                       (unsigned long long)map->size);
    *out = map->bytes ? map->bytes + offset : (const void *)map; /* any non-NULL pointer for an empty range */
    return SQ_OK;
}

void sq_file_map_forget(const sq_file_map *map, const void *p, size_t n)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), first, last;
    if (!sq_file_map_holds(map, p, n) || page == 0)
        return;
    first = ((uintptr_t)p + page - 1) / page * page;
    last = ((uintptr_t)p + n) / page * page;
    if (last > first)
        (void)madvise((void *)first, (size_t)(last - first), MADV_DONTNEED);
}
