/* merge_table.c - BPE merge ranks by id pair (see merge_table.h). */
#include "tokenize/merge_table.h"

#include <stdlib.h>
#include <string.h>

#include "tokenize/vocab_table.h"

static uint64_t pair_key(int32_t left, int32_t right)
{
    return (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
}

static size_t slot_of(const sq_merge_table *table, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ULL; /* Fibonacci hashing */
    size_t mask = table->capacity - 1;
    size_t slot = (size_t)(h >> 20) & mask;
    while (table->keys[slot] && table->keys[slot] != key)
        slot = (slot + 1) & mask;
    return slot;
}

sq_status sq_merge_table_init(sq_merge_table *table, size_t expected_entries)
{
    sq_status st = SQ_OK;
    memset(table, 0, sizeof(*table));
    table->capacity = sq_hash_table_capacity(expected_entries);
    SQ_TRY(sq_alloc(&table->keys, table->capacity, sizeof(uint64_t), "merge table"));
    SQ_TRY(sq_alloc(&table->ranks, table->capacity, sizeof(int32_t), "merge table"));
    SQ_TRY(sq_alloc(&table->merged, table->capacity, sizeof(int32_t), "merge table"));
    memset(table->keys, 0, table->capacity * sizeof(uint64_t));
cleanup:
    if (st != SQ_OK)
        sq_merge_table_free(table);
    return st;
}

void sq_merge_table_free(sq_merge_table *table)
{
    free(table->keys);
    free(table->ranks);
    free(table->merged);
    memset(table, 0, sizeof(*table));
}

void sq_merge_table_put(sq_merge_table *table, int32_t left, int32_t right, int32_t rank, int32_t merged)
{
    uint64_t key = pair_key(left, right);
    size_t slot = slot_of(table, key);
    if (!table->keys[slot])
        table->count++;
    table->keys[slot] = key;
    table->ranks[slot] = rank;
    table->merged[slot] = merged;
}

int sq_merge_table_get(const sq_merge_table *table, int32_t left, int32_t right, int32_t *rank, int32_t *merged)
{
    size_t slot = slot_of(table, pair_key(left, right));
    if (!table->keys[slot])
        return 0;
    *rank = table->ranks[slot];
    *merged = table->merged[slot];
    return 1;
}
