/* zip_layout.h - where the stored (uncompressed) entries of a mapped zip archive lie.
 *
 * torch.save writes its tensor storages as zip entries stored without compression
 * (method 0), so an entry's bytes are a plain range of the file: the checkpoint
 * reader points tensors into the mapped file instead of copying them.  libzip reads
 * the archive (names, sizes, CRCs); it does not say where an entry's data starts, so
 * this reads the central directory (PKWARE APPNOTE 4.3.12, with the zip64 end
 * record and extra field of 4.3.14-4.3.15 and 4.5.3) and each stored entry's local
 * header (4.3.7) for that offset.  Every offset and length is checked against the
 * file size; an archive this does not understand yields no entries (the reader then
 * copies through libzip as before), never a range outside the file.
 */
#ifndef SQ_CHECKPOINT_ZIP_LAYOUT_H
#define SQ_CHECKPOINT_ZIP_LAYOUT_H

#include <stdint.h>

#include "util/file_map.h"

typedef struct {
    const char *name;     /* points into the mapped central directory; name_len bytes, not terminated */
    uint16_t name_len;
    uint64_t data_offset; /* of the entry's first byte in the file */
    uint64_t size;        /* its bytes (stored: compressed size == uncompressed size) */
} sq_zip_stored_entry;

typedef struct {
    sq_zip_stored_entry *entries;
    size_t count;
} sq_zip_layout;

/* The stored, unencrypted entries of the mapped archive whose data lies inside the file.
 * Fails only when out of memory; an archive it cannot follow gives count 0. */
sq_status sq_zip_layout_read(const sq_file_map *map, sq_zip_layout *out);
const sq_zip_stored_entry *sq_zip_layout_find(const sq_zip_layout *layout, const char *name);
void sq_zip_layout_free(sq_zip_layout *layout);

#endif
