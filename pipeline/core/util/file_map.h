/* file_map.h - a whole file mapped read-only, shared by reference count.
 *
 * Checkpoint readers point tensors into the file instead of copying them when the
 * format stores them contiguous and little-endian (safetensors, GGUF, a PyTorch
 * zip's stored entries).  The mapping is PROT_READ and MAP_PRIVATE: nothing writes
 * through it (a write faults), and the file's pages are shared with the page cache
 * instead of being copied into the process.  Whoever keeps pointers into it holds
 * a reference; the last sq_file_map_release unmaps it.
 */
#ifndef SQ_UTIL_FILE_MAP_H
#define SQ_UTIL_FILE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

typedef struct sq_file_map sq_file_map;

/* Maps all of path (an empty file maps as zero bytes); *out holds one reference. */
sq_status sq_file_map_open(const char *path, sq_file_map **out);
sq_file_map *sq_file_map_retain(sq_file_map *map);
/* Drops a reference (NULL is fine); the last one unmaps the file. */
void sq_file_map_release(sq_file_map *map);

const unsigned char *sq_file_map_bytes(const sq_file_map *map);
uint64_t sq_file_map_size(const sq_file_map *map);
const char *sq_file_map_path(const sq_file_map *map);
/* Whether [p, p + n) lies inside the mapping (false for a NULL map or pointer). */
bool sq_file_map_holds(const sq_file_map *map, const void *p, size_t n);
/* The bytes [offset, offset + length) of the file, or an SQ_ERR_INPUT naming `what`
 * when they run past its end: every range taken from a file's own header goes
 * through here before it is read. */
sq_status sq_file_map_range(const sq_file_map *map, uint64_t offset, uint64_t length, const char *what,
                            const void **out);
/* Hands the whole pages inside [p, p + n) back to the kernel once nobody reads them
 * any more (madvise MADV_DONTNEED: clean private pages are dropped from the resident
 * set and would be read from the file again); pages shared with a neighbour stay. */
void sq_file_map_forget(const sq_file_map *map, const void *p, size_t n);

#endif
