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
    while (table->slots[slot].key && table->slots[slot].key != key)
        slot = (slot + 1) & mask;
    return slot;
}

sq_status sq_merge_table_init(sq_merge_table *table, size_t expected_entries)
{
    memset(table, 0, sizeof(*table));
    table->capacity = sq_hash_table_capacity(expected_entries);
    /* sq_alloc zeroes: every slot starts empty */
    return sq_alloc(&table->slots, table->capacity, sizeof *table->slots, "merge table");
}

void sq_merge_table_free(sq_merge_table *table)
{
    free(table->slots);
    memset(table, 0, sizeof(*table));
}

void sq_merge_table_put(sq_merge_table *table, int32_t left, int32_t right, int32_t rank, int32_t merged)
{
    uint64_t key = pair_key(left, right);
    sq_merge_slot *slot = &table->slots[slot_of(table, key)];
    if (!slot->key)
        table->count++;
    *slot = (sq_merge_slot){.key = key, .rank = rank, .merged = merged};
}

int sq_merge_table_get(const sq_merge_table *table, int32_t left, int32_t right, int32_t *rank, int32_t *merged)
{
    const sq_merge_slot *slot = &table->slots[slot_of(table, pair_key(left, right))];
    if (!slot->key)
        return 0;
    *rank = slot->rank;
    *merged = slot->merged;
    return 1;
}
