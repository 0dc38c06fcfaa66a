/* bpe_merge.h - the merge loop shared by the BPE tokenizers.
 *
 * Byte-pair encoding starts from the symbols of a piece of text (characters
 * or bytes) and repeatedly merges the adjacent pair with the best priority
 * into one symbol until no adjacent pair can merge.  Hugging Face BPE ranks
 * pairs by their line in `merges` (lower first); llama2.c ranks them by the
 * merged token's score (higher first).  Both pick the leftmost pair among
 * equals: transformers.js adds position/length to the rank, llama2.c keeps
 * the first best pair of its scan.  One heap of candidate pairs ordered by
 * (priority, position) gives that order in O(n log n) instead of the
 * O(n^2) rescans of the references (whole texts can be one piece).
 */
#ifndef SQ_TOKENIZE_BPE_MERGE_H
#define SQ_TOKENIZE_BPE_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

typedef struct {
    int32_t id;       /* vocabulary id; -1: not in the vocabulary (never merges) */
    uint32_t start;   /* byte offset of the symbol in its piece */
    uint32_t length;  /* bytes */
} sq_bpe_symbol;

/* Whether left and right merge: returns 1 and sets the merged id and its
 * priority (lower merges first), or returns 0. */
typedef int (*sq_bpe_pair_fn)(const void *ctx, int32_t left, int32_t right, int32_t *merged, double *priority);

/* Reusable buffers (one per encode call). */
typedef struct {
    int32_t *prev, *next;    /* [capacity] linked list over symbol slots */
    struct sq_bpe_candidate *heap;
    size_t capacity, heap_capacity, heap_count;
} sq_bpe_workspace;

void sq_bpe_workspace_free(sq_bpe_workspace *ws);

/* Merges symbols[0, *count) in place; on return symbols[0, *count) are the
 * merged symbols in text order (start/length cover the merged bytes). */
sq_status sq_bpe_merge(sq_bpe_workspace *ws, sq_bpe_symbol *symbols, size_t *count, sq_bpe_pair_fn pair,
                       const void *ctx);

#endif
