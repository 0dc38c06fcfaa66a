/* bpe_merge.c - heap-driven BPE merges (see bpe_merge.h). */
#include "tokenize/bpe_merge.h"

#include <stdlib.h>

/* A pair that may merge: left slot, the ids it was computed for. */
struct sq_bpe_candidate {
    double priority;
    int32_t left, right;        /* slots */
    int32_t left_id, right_id;  /* ids when pushed; a change makes the entry stale */
    int32_t merged;
};

static int before(const struct sq_bpe_candidate *a, const struct sq_bpe_candidate *b)
{
    if (a->priority != b->priority)
        return a->priority < b->priority;
    return a->left < b->left; /* slots keep text order: the leftmost pair wins ties */
}

static sq_status heap_push(sq_bpe_workspace *ws, struct sq_bpe_candidate c)
{
    sq_status st = sq_grow(&ws->heap, &ws->heap_capacity, ws->heap_count + 1, sizeof *ws->heap, 256, "the BPE heap");
    if (st != SQ_OK)
        return st;
    size_t i = ws->heap_count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&c, &ws->heap[parent]))
            break;
        ws->heap[i] = ws->heap[parent];
        i = parent;
    }
    ws->heap[i] = c;
    return SQ_OK;
}

static struct sq_bpe_candidate heap_pop(sq_bpe_workspace *ws)
{
    struct sq_bpe_candidate top = ws->heap[0];
    struct sq_bpe_candidate last = ws->heap[--ws->heap_count];
    size_t n = ws->heap_count, i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && before(&ws->heap[child + 1], &ws->heap[child]))
            child++;
        if (!before(&ws->heap[child], &last))
            break;
        ws->heap[i] = ws->heap[child];
        i = child;
    }
    if (n > 0)
        ws->heap[i] = last;
    return top;
}

static sq_status push_pair(sq_bpe_workspace *ws, const sq_bpe_symbol *symbols, int32_t left, sq_bpe_pair_fn pair,
                           const void *ctx)
{
    int32_t right = ws->next[left];
    if (right < 0 || symbols[left].id < 0 || symbols[right].id < 0)
        return SQ_OK;
    struct sq_bpe_candidate c = {.left = left, .right = right, .left_id = symbols[left].id,
                                 .right_id = symbols[right].id};
    if (!pair(ctx, c.left_id, c.right_id, &c.merged, &c.priority))
        return SQ_OK;
    return heap_push(ws, c);
}

void sq_bpe_workspace_free(sq_bpe_workspace *ws)
{
    free(ws->prev);
    free(ws->next);
    free(ws->heap);
    *ws = (sq_bpe_workspace){0};
}

sq_status sq_bpe_merge(sq_bpe_workspace *ws, sq_bpe_symbol *symbols, size_t *count, sq_bpe_pair_fn pair,
                       const void *ctx)
{
    sq_status st = SQ_OK;
    size_t n = *count;
    if (n < 2)
        return SQ_OK;
    if (n > INT32_MAX)
        return sq_fail(SQ_ERR_INPUT, "a piece of %zu symbols is too long to encode", n);
    if (ws->capacity < n) {
        int32_t *prev = realloc(ws->prev, n * sizeof(int32_t));
        if (prev)
            ws->prev = prev;
        int32_t *next = realloc(ws->next, n * sizeof(int32_t));
        if (next)
            ws->next = next;
        if (!prev || !next)
            return sq_fail(SQ_ERR_RUN, "out of memory for a BPE piece of %zu symbols", n);
        ws->capacity = n;
    }
    for (size_t i = 0; i < n; i++) {
        ws->prev[i] = (int32_t)i - 1;
        ws->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    ws->heap_count = 0;
    for (size_t i = 0; i + 1 < n; i++)
        SQ_TRY(push_pair(ws, symbols, (int32_t)i, pair, ctx));

    while (ws->heap_count > 0) {
        struct sq_bpe_candidate c = heap_pop(ws);
        /* Stale: the left slot was merged away, or either side changed. */
        if (symbols[c.left].length == 0 || ws->next[c.left] != c.right || symbols[c.left].id != c.left_id ||
            symbols[c.right].id != c.right_id)
            continue;
        symbols[c.left].id = c.merged;
        symbols[c.left].length += symbols[c.right].length;
        symbols[c.right].length = 0; /* dead */
        symbols[c.right].id = -2;
        int32_t after = ws->next[c.right];
        ws->next[c.left] = after;
        if (after >= 0)
            ws->prev[after] = c.left;
        if (ws->prev[c.left] >= 0)
            SQ_TRY(push_pair(ws, symbols, ws->prev[c.left], pair, ctx));
        SQ_TRY(push_pair(ws, symbols, c.left, pair, ctx));
    }
    size_t out = 0;
    for (int32_t i = 0; i >= 0; i = ws->next[i])
        symbols[out++] = symbols[i];
    *count = out;
cleanup:
    return st;
}
