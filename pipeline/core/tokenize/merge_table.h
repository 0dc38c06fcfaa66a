/* merge_table.h - (left id, right id) -> (rank, merged id): the `merges` of
 * a BPE tokenizer.json as a hash table.  Open addressing on the 64-bit pair. */
#ifndef SQ_TOKENIZE_MERGE_TABLE_H
#define SQ_TOKENIZE_MERGE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

typedef struct {
    uint64_t key; /* (left << 32 | right) + 1; 0 = empty */
    int32_t rank;
    int32_t merged;
} sq_merge_slot;

typedef struct {
    sq_merge_slot *slots; /* [capacity]: a probe reads key, rank and merged id together */
    size_t capacity, count;
} sq_merge_table;

sq_status sq_merge_table_init(sq_merge_table *table, size_t expected_entries);
void sq_merge_table_free(sq_merge_table *table);
/* Adds or replaces the pair: a pair listed twice keeps its later rank, as the
 * reference implementations' maps do. */
void sq_merge_table_put(sq_merge_table *table, int32_t left, int32_t right, int32_t rank, int32_t merged);
/* 1 and the rank and merged id if the pair merges, else 0. */
int sq_merge_table_get(const sq_merge_table *table, int32_t left, int32_t right, int32_t *rank, int32_t *merged);

#endif
