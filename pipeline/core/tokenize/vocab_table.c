/* vocab_table.c - open-addressing hash table from token strings to ids. */
#include "tokenize/vocab_table.h"

#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(const char *key, size_t length)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < length; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

size_t sq_hash_table_capacity(size_t expected_entries)
{
    size_t capacity = 16;
    while (capacity < 2 * expected_entries + 1)
        capacity *= 2;
    return capacity;
}

sq_status sq_vocab_table_init(sq_vocab_table *table, size_t expected_entries)
{
    sq_status st = SQ_OK;
    memset(table, 0, sizeof(*table));
    table->capacity = sq_hash_table_capacity(expected_entries);
    SQ_TRY(sq_alloc(&table->keys, table->capacity, sizeof(char *), "vocabulary table"));
    SQ_TRY(sq_alloc(&table->key_lengths, table->capacity, sizeof(size_t), "vocabulary table"));
    SQ_TRY(sq_alloc(&table->ids, table->capacity, sizeof(int32_t), "vocabulary table"));
    memset(table->keys, 0, table->capacity * sizeof(char *));
cleanup:
    if (st != SQ_OK)
        sq_vocab_table_free(table);
    return st;
}

void sq_vocab_table_free(sq_vocab_table *table)
{
    if (table->keys) {
        for (size_t i = 0; i < table->capacity; i++)
            free(table->keys[i]);
    }
    free(table->keys);
    free(table->key_lengths);
    free(table->ids);
    memset(table, 0, sizeof(*table));
}

/* Slot holding key, or the empty slot where it would go. */
static size_t find_slot(const sq_vocab_table *table, const char *key, size_t length)
{
    size_t mask = table->capacity - 1;
    size_t slot = (size_t)fnv1a(key, length) & mask;
    while (table->keys[slot] &&
           !(table->key_lengths[slot] == length && memcmp(table->keys[slot], key, length) == 0))
        slot = (slot + 1) & mask;
    return slot;
}

static sq_status grow(sq_vocab_table *table)
{
    sq_status st = SQ_OK;
    sq_vocab_table bigger;
    SQ_TRY(sq_vocab_table_init(&bigger, table->capacity)); /* at least twice the old capacity */
    for (size_t i = 0; i < table->capacity; i++) {
        if (!table->keys[i])
            continue;
        size_t slot = find_slot(&bigger, table->keys[i], table->key_lengths[i]);
        bigger.keys[slot] = table->keys[i];
        bigger.key_lengths[slot] = table->key_lengths[i];
        bigger.ids[slot] = table->ids[i];
        table->keys[i] = NULL; /* moved */
    }
    bigger.count = table->count;
    sq_vocab_table_free(table);
    *table = bigger;
cleanup:
    return st;
}

sq_status sq_vocab_table_put(sq_vocab_table *table, const char *key, size_t length, int32_t id)
{
    sq_status st = SQ_OK;
    if (2 * (table->count + 1) > table->capacity)
        SQ_TRY(grow(table));
    size_t slot = find_slot(table, key, length);
    if (table->keys[slot])
        return SQ_OK;
    SQ_TRY(sq_alloc(&table->keys[slot], length + 1, 1, "vocabulary entry"));
    memcpy(table->keys[slot], key, length);
    table->keys[slot][length] = '\0';
    table->key_lengths[slot] = length;
    table->ids[slot] = id;
    table->count++;
cleanup:
    return st;
}

int32_t sq_vocab_table_get(const sq_vocab_table *table, const char *key, size_t length, int32_t missing_id)
{
    size_t slot = find_slot(table, key, length);
    return table->keys[slot] ? table->ids[slot] : missing_id;
}
