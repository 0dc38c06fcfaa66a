/* vocab_table.h - token string -> id, the lookup behind Python's
 * token_to_id.get(token, UNK).  Open addressing, FNV-1a; keys are byte strings
 * (UTF-8, not NUL terminated). */
#ifndef SQ_TOKENIZE_VOCAB_TABLE_H
#define SQ_TOKENIZE_VOCAB_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

typedef struct {
    char **keys;       /* [capacity], NULL = empty slot */
    size_t *key_lengths;
    int32_t *ids;
    size_t capacity;   /* a power of two, at least twice the entries */
    size_t count;
} sq_vocab_table;

/* The slot count of an open-addressing table (this one, merge_table.h) for expected entries:
 * a power of two, at least 16 and above twice the entries, so probe runs stay short. */
size_t sq_hash_table_capacity(size_t expected_entries);
sq_status sq_vocab_table_init(sq_vocab_table *table, size_t expected_entries);
void sq_vocab_table_free(sq_vocab_table *table);
/* Adds key -> id; a key already present keeps its first id (JSON objects in
 * these files have unique keys). */
sq_status sq_vocab_table_put(sq_vocab_table *table, const char *key, size_t length, int32_t id);
/* The id of key, or missing_id if it is not in the table. */
int32_t sq_vocab_table_get(const sq_vocab_table *table, const char *key, size_t length, int32_t missing_id);

#endif
