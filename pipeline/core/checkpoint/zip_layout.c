/* zip_layout.c - the data offsets of a zip archive's stored entries (PKWARE APPNOTE 6.3.x). */
#include "checkpoint/zip_layout.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define EOCD_SIGNATURE 0x06054b50u       /* end of central directory record, 4.3.16 */
#define ZIP64_LOCATOR_SIGNATURE 0x07064b50u /* zip64 end of central directory locator, 4.3.15 */
#define ZIP64_EOCD_SIGNATURE 0x06064b50u /* zip64 end of central directory record, 4.3.14 */
#define CENTRAL_SIGNATURE 0x02014b50u    /* central directory file header, 4.3.12 */
#define LOCAL_SIGNATURE 0x04034b50u      /* local file header, 4.3.7 */
#define EOCD_SIZE 22
#define ZIP64_LOCATOR_SIZE 20
#define ZIP64_EOCD_SIZE 56
#define CENTRAL_SIZE 46
#define LOCAL_SIZE 30
#define MAX_COMMENT 65535
#define ZIP64_EXTRA_ID 0x0001
#define FLAG_ENCRYPTED 0x0001
#define METHOD_STORED 0

typedef struct {
    const unsigned char *bytes;
    uint64_t size;
} zip_view;

static uint16_t u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32(const unsigned char *p) { return (uint32_t)u16(p) | (uint32_t)u16(p + 2) << 16; }
static uint64_t u64(const unsigned char *p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

/* bytes [at, at + n) of the file, or NULL when they are not all inside it */
static const unsigned char *view_at(const zip_view *z, uint64_t at, uint64_t n)
{
    return at <= z->size && n <= z->size - at ? z->bytes + at : NULL;
}

/* The central directory's offset, size and entry count, from the (zip64) end records. */
static int find_directory(const zip_view *z, uint64_t *offset, uint64_t *size, uint64_t *entries)
{
    const unsigned char *eocd = NULL, *locator, *record;
    uint64_t span = z->size < EOCD_SIZE + MAX_COMMENT ? z->size : EOCD_SIZE + MAX_COMMENT;
    /* the last record signature whose comment length reaches exactly to the end */
    for (uint64_t back = EOCD_SIZE; back <= span && eocd == NULL; back++) {
        const unsigned char *p = z->bytes + z->size - back;
        if (u32(p) == EOCD_SIGNATURE && (uint64_t)u16(p + 20) == back - EOCD_SIZE)
            eocd = p;
    }
    if (eocd == NULL || u16(eocd + 4) != 0 || u16(eocd + 6) != 0) /* one disk only */
        return 0;
    *entries = u16(eocd + 10);
    *size = u32(eocd + 12);
    *offset = u32(eocd + 16);
    if (*entries != 0xffff && *size != 0xffffffffu && *offset != 0xffffffffu)
        return 1;
    locator = view_at(z, (uint64_t)(eocd - z->bytes) - ZIP64_LOCATOR_SIZE, ZIP64_LOCATOR_SIZE);
    if ((uint64_t)(eocd - z->bytes) < ZIP64_LOCATOR_SIZE || locator == NULL || u32(locator) != ZIP64_LOCATOR_SIGNATURE)
        return 0;
    record = view_at(z, u64(locator + 8), ZIP64_EOCD_SIZE);
    if (record == NULL || u32(record) != ZIP64_EOCD_SIGNATURE)
        return 0;
    *entries = u64(record + 32);
    *size = u64(record + 40);
    *offset = u64(record + 48);
    return 1;
}

/* The zip64 extra field holds, in this order, the values whose 32-bit field is all ones. */
static int read_zip64_extra(const unsigned char *extra, uint16_t length, uint64_t *compressed, uint64_t *plain,
                            uint64_t *local)
{
    for (uint32_t at = 0; at + 4 <= length;) {
        uint16_t id = u16(extra + at), n = u16(extra + at + 2);
        const unsigned char *p = extra + at + 4, *end;
        if ((uint32_t)at + 4 + n > length)
            return 0;
        end = p + n;
        if (id == ZIP64_EXTRA_ID) {
            uint64_t *fields[3] = {plain, compressed, local};
            for (int i = 0; i < 3; i++)
                if (*fields[i] == 0xffffffffu) {
                    if (end - p < 8)
                        return 0;
                    *fields[i] = u64(p);
                    p += 8;
                }
            return 1;
        }
        at += 4u + n;
    }
    /* no zip64 field: fine unless a value needed one */
    return *compressed != 0xffffffffu && *plain != 0xffffffffu && *local != 0xffffffffu;
}

sq_status sq_zip_layout_read(const sq_file_map *map, sq_zip_layout *out)
{
    zip_view z = {sq_file_map_bytes(map), sq_file_map_size(map)};
    uint64_t dir_offset, dir_size, entries, at;
    sq_status st = SQ_OK;

    memset(out, 0, sizeof *out);
    if (z.size < EOCD_SIZE || !find_directory(&z, &dir_offset, &dir_size, &entries) ||
        view_at(&z, dir_offset, dir_size) == NULL || entries > dir_size / CENTRAL_SIZE)
        goto unknown;
    SQ_TRY(sq_alloc(&out->entries, entries ? (size_t)entries : 1, sizeof *out->entries, "zip entry offsets"));
    at = dir_offset;
    for (uint64_t i = 0; i < entries; i++) {
        const unsigned char *h = view_at(&z, at, CENTRAL_SIZE), *local;
        uint64_t compressed, plain, local_offset, data_offset;
        uint16_t name_len, extra_len, comment_len;
        if (h == NULL || u32(h) != CENTRAL_SIGNATURE || at - dir_offset > dir_size - CENTRAL_SIZE)
            goto unknown;
        name_len = u16(h + 28);
        extra_len = u16(h + 30);
        comment_len = u16(h + 32);
        if (view_at(&z, at, (uint64_t)CENTRAL_SIZE + name_len + extra_len + comment_len) == NULL)
            goto unknown;
        compressed = u32(h + 20);
        plain = u32(h + 24);
        local_offset = u32(h + 42);
        if (!read_zip64_extra(h + CENTRAL_SIZE + name_len, extra_len, &compressed, &plain, &local_offset))
            goto unknown;
        at += (uint64_t)CENTRAL_SIZE + name_len + extra_len + comment_len;
        if (u16(h + 10) != METHOD_STORED || (u16(h + 8) & FLAG_ENCRYPTED) || compressed != plain)
            continue; /* read through libzip */
        local = view_at(&z, local_offset, (uint64_t)LOCAL_SIZE + name_len);
        if (local == NULL || u32(local) != LOCAL_SIGNATURE || u16(local + 8) != METHOD_STORED ||
            u16(local + 26) != name_len || memcmp(local + LOCAL_SIZE, h + CENTRAL_SIZE, name_len) != 0)
            continue; /* the local header disagrees with the directory: read through libzip */
        data_offset = local_offset + LOCAL_SIZE + name_len + u16(local + 28);
        if (view_at(&z, data_offset, plain) == NULL)
            continue; /* the data would run past the end of the file */
        out->entries[out->count].name = (const char *)(h + CENTRAL_SIZE);
        out->entries[out->count].name_len = name_len;
        out->entries[out->count].data_offset = data_offset;
        out->entries[out->count].size = plain;
        out->count++;
    }
    return SQ_OK;
unknown:
    sq_debug("%s: the zip central directory is not one squeeze follows; entries are copied, not mapped",
             sq_file_map_path(map));
    out->count = 0;
cleanup:
    return st;
}

const sq_zip_stored_entry *sq_zip_layout_find(const sq_zip_layout *layout, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < layout->count; i++)
        if (layout->entries[i].name_len == n && memcmp(layout->entries[i].name, name, n) == 0)
            return &layout->entries[i];
    return NULL;
}

void sq_zip_layout_free(sq_zip_layout *layout)
{
    free(layout->entries);
    memset(layout, 0, sizeof *layout);
}
