/* pickle.c - the restricted unpickler of pickle.h: records, never calls.
 *
 * Opcode semantics mirror CPython's Lib/pickle.py (class _Unpickler, load_*
 * methods); the opcode bytes are the ones in pickle.py's opcode table.
 */
#include "checkpoint/pickle.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- limits: a hostile pickle must fail, never exhaust the process ---- */
#define PK_MAX_GLOBAL_LINE 512 /* module or qualified name of a GLOBAL opcode */
#define PK_REDUCE_MAX_DEPTH 4   /* nested _rebuild_from_type_v2 */
#define PK_REPR_MAX_DEPTH 12
#define PK_REPR_MAX_CHARS 8192
/* Values of one load (about 150 bytes each with their bookkeeping): a state dict
 * of 100,000 tensors needs a few million; the cap keeps a hostile pickle of
 * one-byte opcodes ('N', ']') from costing 150 times its size. */
#define PK_MAX_VALUES ((size_t)1 << 21)

struct sq_pickle {
    sq_pickle_value **values; /* every value made by one load, freed together */
    size_t count;
    size_t capacity;
};

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t pos;
    size_t op_offset; /* offset of the opcode being run */
    const char *where;
    sq_pickle *pickle;
    sq_pickle_value **stack;
    size_t depth;
    size_t stack_capacity;
    size_t *marks; /* stack heights at each MARK (pickle.py's metastack) */
    size_t mark_count;
    size_t mark_capacity;
    sq_pickle_value **memo;
    size_t memo_capacity;
    size_t memo_limit; /* a sane pickle never has more memo entries than bytes */
    size_t memo_used;
} unpickler;

/* ================= values ================= */

static void value_free(sq_pickle_value *v)
{
    free(v->str);
    free(v->name);
    free(v->items);
    free(v);
}

void sq_pickle_free(sq_pickle *pickle)
{
    if (pickle == NULL)
        return;
    for (size_t i = 0; i < pickle->count; i++)
        value_free(pickle->values[i]);
    free(pickle->values);
    free(pickle);
}

static sq_status value_new(unpickler *u, sq_pickle_kind kind, sq_pickle_value **out)
{
    sq_pickle *pk = u->pickle;
    sq_pickle_value *v;
    if (pk->count >= PK_MAX_VALUES)
        return sq_fail(SQ_ERR_INPUT,
                       "pickle %s holds over %zu objects (at offset %zu); a checkpoint's pickle holds far fewer: "
                       "refusing it",
                       u->where, PK_MAX_VALUES, u->op_offset);
    sq_status st = sq_grow(&pk->values, &pk->capacity, pk->count + 1, sizeof *pk->values, 256, "the pickle's objects");
    if (st != SQ_OK)
        return st;
    v = calloc(1, sizeof *v);
    if (v == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory unpickling %s", u->where);
    v->kind = kind;
    v->offset = u->op_offset;
    pk->values[pk->count++] = v;
    *out = v;
    return SQ_OK;
}

/* Makes room for `slots` more item pointers. */
static sq_status items_reserve(sq_pickle_value *container, size_t used, size_t slots)
{
    return sq_grow(&container->items, &container->capacity, used + slots, sizeof *container->items, 8,
                   "a pickled container");
}

static sq_status value_append(sq_pickle_value *container, sq_pickle_value *item)
{
    sq_status st = items_reserve(container, container->count, 1);
    if (st == SQ_OK)
        container->items[container->count++] = item;
    return st;
}

/* A DICT's items are key, value pairs; count counts pairs.  Like pickle.py's
 * SETITEM a later equal key wins: lookups (sq_pickle_dict_get) scan from the end. */
static sq_status dict_set(sq_pickle_value *dict, sq_pickle_value *key, sq_pickle_value *value)
{
    sq_status st = items_reserve(dict, 2 * dict->count, 2);
    if (st == SQ_OK) {
        dict->items[2 * dict->count] = key;
        dict->items[2 * dict->count + 1] = value;
        dict->count++;
    }
    return st;
}

static sq_status value_string(unpickler *u, sq_pickle_kind kind, const unsigned char *bytes, size_t len,
                              sq_pickle_value **out)
{
    sq_status st = value_new(u, kind, out);
    if (st != SQ_OK)
        return st;
    (*out)->str = malloc(len + 1);
    if ((*out)->str == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory unpickling %s (string of %zu bytes)", u->where, len);
    memcpy((*out)->str, bytes, len);
    (*out)->str[len] = '\0';
    (*out)->len = len;
    return SQ_OK;
}

/* ================= input and stacks ================= */

static sq_status take(unpickler *u, size_t n, const unsigned char **out)
{
    if (n > u->size - u->pos)
        return sq_fail(SQ_ERR_INPUT,
                       "truncated pickle %s: opcode 0x%02x at offset %zu needs %zu bytes, %zu are left; "
                       "the checkpoint is damaged, re-save it",
                       u->where, u->data[u->op_offset], u->op_offset, n, u->size - u->pos);
    *out = u->data + u->pos;
    u->pos += n;
    return SQ_OK;
}

static uint64_t le_uint(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static sq_status take_uint(unpickler *u, int n, uint64_t *out)
{
    const unsigned char *p;
    sq_status st = take(u, (size_t)n, &p);
    if (st == SQ_OK)
        *out = le_uint(p, n);
    return st;
}

static sq_status push(unpickler *u, sq_pickle_value *v)
{
    sq_status st = sq_grow(&u->stack, &u->stack_capacity, u->depth + 1, sizeof *u->stack, 64, "the pickle stack");
    if (st != SQ_OK)
        return st;
    u->stack[u->depth++] = v;
    return SQ_OK;
}

static sq_status underflow(unpickler *u)
{
    return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: opcode 0x%02x at offset %zu pops an empty stack",
                   u->where, u->data[u->op_offset], u->op_offset);
}

static sq_status pop(unpickler *u, sq_pickle_value **out)
{
    size_t floor = u->mark_count ? u->marks[u->mark_count - 1] : 0;
    if (u->depth <= floor)
        return underflow(u);
    *out = u->stack[--u->depth];
    return SQ_OK;
}

static sq_status top(unpickler *u, sq_pickle_value **out)
{
    size_t floor = u->mark_count ? u->marks[u->mark_count - 1] : 0;
    if (u->depth <= floor)
        return underflow(u);
    *out = u->stack[u->depth - 1];
    return SQ_OK;
}

static sq_status push_mark(unpickler *u)
{
    sq_status st = sq_grow(&u->marks, &u->mark_capacity, u->mark_count + 1, sizeof *u->marks, 16,
                           "the pickle's marks");
    if (st != SQ_OK)
        return st;
    u->marks[u->mark_count++] = u->depth;
    return SQ_OK;
}

/* pickle.py pop_mark(): the items since the last MARK start at *start. */
static sq_status pop_mark(unpickler *u, size_t *start)
{
    if (u->mark_count == 0)
        return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: opcode 0x%02x at offset %zu needs a MARK, none is open",
                       u->where, u->data[u->op_offset], u->op_offset);
    *start = u->marks[--u->mark_count];
    return SQ_OK;
}

static sq_status memo_put(unpickler *u, uint64_t index)
{
    sq_pickle_value *v;
    sq_status st = top(u, &v);
    if (st != SQ_OK)
        return st;
    if (index >= u->memo_limit)
        return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: memo index %llu at offset %zu exceeds the pickle's size",
                       u->where, (unsigned long long)index, u->op_offset);
    if (index >= u->memo_capacity) {
        size_t capacity = u->memo_capacity ? u->memo_capacity : 256;
        sq_pickle_value **grown;
        while (capacity <= index)
            capacity *= 2;
        grown = realloc(u->memo, capacity * sizeof *grown);
        if (grown == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory unpickling %s", u->where);
        memset(grown + u->memo_capacity, 0, (capacity - u->memo_capacity) * sizeof *grown);
        u->memo = grown;
        u->memo_capacity = capacity;
    }
    if (u->memo[index] == NULL)
        u->memo_used++;
    u->memo[index] = v;
    return SQ_OK;
}

static sq_status memo_get(unpickler *u, uint64_t index)
{
    if (index >= u->memo_capacity || u->memo[index] == NULL)
        return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: memo entry %llu read at offset %zu was never stored",
                       u->where, (unsigned long long)index, u->op_offset);
    return push(u, u->memo[index]);
}

/* ================= the callables we understand instead of calling ================= */

int sq_pickle_is_global(const sq_pickle_value *value, const char *module, const char *name)
{
    return value != NULL && value->kind == SQ_PK_GLOBAL && strcmp(value->str, module) == 0 &&
           strcmp(value->name, name) == 0;
}

static sq_status make_object(unpickler *u, sq_pickle_value *callable, sq_pickle_value *args, sq_pickle_value **out)
{
    sq_status st = value_new(u, SQ_PK_OBJECT, out);
    if (st == SQ_OK) {
        (*out)->callable = callable;
        (*out)->args = args;
    }
    return st;
}

static sq_status reduce(unpickler *u, sq_pickle_value *callable, sq_pickle_value *args, int depth,
                        sq_pickle_value **out)
{
    int is_tuple = args->kind == SQ_PK_TUPLE;
    if (sq_pickle_is_global(callable, "collections", "OrderedDict"))
        return value_new(u, SQ_PK_DICT, out); /* OrderedDict.__reduce__ passes () and SETITEMS the items */
    if (sq_pickle_is_global(callable, "torch._utils", "_rebuild_tensor_v2")) {
        sq_status st = value_new(u, SQ_PK_TENSOR, out);
        if (st == SQ_OK)
            (*out)->args = args;
        return st;
    }
    /* torch/_utils.py _rebuild_parameter(data, requires_grad, backward_hooks) returns
     * Parameter(data): for reading weights the parameter is its data. */
    if ((sq_pickle_is_global(callable, "torch._utils", "_rebuild_parameter") ||
         sq_pickle_is_global(callable, "torch._utils", "_rebuild_parameter_with_state")) &&
        is_tuple && args->count >= 1 && args->items[0]->kind == SQ_PK_TENSOR) {
        *out = args->items[0];
        return SQ_OK;
    }
    /* torch/_tensor.py _rebuild_from_type_v2(func, new_type, args, state) = func(*args) as new_type. */
    if (sq_pickle_is_global(callable, "torch._tensor", "_rebuild_from_type_v2") && is_tuple && args->count >= 3 &&
        args->items[0]->kind == SQ_PK_GLOBAL && args->items[2]->kind == SQ_PK_TUPLE && depth < PK_REDUCE_MAX_DEPTH)
        return reduce(u, args->items[0], args->items[2], depth + 1, out);
    if (sq_pickle_is_global(callable, "torch", "Size") && is_tuple && args->count == 1 &&
        args->items[0]->kind == SQ_PK_TUPLE) {
        *out = args->items[0];
        return SQ_OK;
    }
    return make_object(u, callable, args, out);
}

/* ================= the opcode loop ================= */

/* Reads one '\n'-terminated line of a GLOBAL opcode. */
static sq_status take_line(unpickler *u, const char **line, size_t *len)
{
    const unsigned char *start = u->data + u->pos;
    size_t left = u->size - u->pos;
    size_t n = 0;
    while (n < left && n <= PK_MAX_GLOBAL_LINE && start[n] != '\n')
        n++;
    if (n >= left || start[n] != '\n')
        return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: GLOBAL at offset %zu has no name line (or one over %d bytes)",
                       u->where, u->op_offset, PK_MAX_GLOBAL_LINE);
    *line = (const char *)start;
    *len = n;
    u->pos += n + 1;
    return SQ_OK;
}

static sq_status make_global(unpickler *u, const char *module, size_t module_len, const char *name, size_t name_len)
{
    sq_pickle_value *v;
    sq_status st = value_string(u, SQ_PK_GLOBAL, (const unsigned char *)module, module_len, &v);
    if (st != SQ_OK)
        return st;
    v->name = malloc(name_len + 1);
    if (v->name == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory unpickling %s", u->where);
    memcpy(v->name, name, name_len);
    v->name[name_len] = '\0';
    if (strlen(v->str) != module_len || strlen(v->name) != name_len)
        return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: global at offset %zu has a NUL byte in its name", u->where,
                       u->op_offset);
    return push(u, v);
}

/* Items since the last MARK become one container of the given kind. */
static sq_status collect_marked(unpickler *u, sq_pickle_kind kind)
{
    size_t start;
    sq_pickle_value *v;
    sq_status st = pop_mark(u, &start);
    if (st != SQ_OK)
        return st;
    if (kind == SQ_PK_DICT && (u->depth - start) % 2 != 0)
        return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: DICT at offset %zu has an odd number of items", u->where,
                       u->op_offset);
    st = value_new(u, kind, &v);
    for (size_t i = start; st == SQ_OK && i < u->depth; i += (kind == SQ_PK_DICT) ? 2 : 1)
        st = (kind == SQ_PK_DICT) ? dict_set(v, u->stack[i], u->stack[i + 1]) : value_append(v, u->stack[i]);
    if (st != SQ_OK)
        return st;
    u->depth = start;
    return push(u, v);
}

static sq_status tuple_of(unpickler *u, int n)
{
    sq_pickle_value *items[3];
    sq_pickle_value *v;
    sq_status st = SQ_OK;
    for (int i = n - 1; i >= 0 && st == SQ_OK; i--)
        st = pop(u, &items[i]);
    if (st == SQ_OK)
        st = value_new(u, SQ_PK_TUPLE, &v);
    for (int i = 0; i < n && st == SQ_OK; i++)
        st = value_append(v, items[i]);
    return st == SQ_OK ? push(u, v) : st;
}

/* APPEND(S), SETITEM(S), ADDITEMS: the target is the value below the items. */
static sq_status add_items(unpickler *u, size_t start, int pairs)
{
    sq_pickle_value *target;
    sq_status st = SQ_OK;
    if (start == 0 || (u->mark_count > 0 && start <= u->marks[u->mark_count - 1]))
        return underflow(u);
    target = u->stack[start - 1];
    if (pairs && (u->depth - start) % 2 != 0)
        return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: SETITEMS at offset %zu has an odd number of items", u->where,
                       u->op_offset);
    if (pairs && target->kind != SQ_PK_DICT && target->kind != SQ_PK_OBJECT)
        return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: SETITEM(S) at offset %zu on a value that is not a dict",
                       u->where, u->op_offset);
    if (!pairs && target->kind != SQ_PK_LIST && target->kind != SQ_PK_SET && target->kind != SQ_PK_OBJECT)
        return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: APPEND(S) at offset %zu on a value that is not a list",
                       u->where, u->op_offset);
    /* An opaque object (a dict or list subclass) is only printed: its items are dropped. */
    for (size_t i = start; st == SQ_OK && target->kind != SQ_PK_OBJECT && i < u->depth; i += pairs ? 2 : 1)
        st = pairs ? dict_set(target, u->stack[i], u->stack[i + 1]) : value_append(target, u->stack[i]);
    u->depth = start;
    return st;
}

static sq_status take_string(unpickler *u, int length_bytes, sq_pickle_kind kind)
{
    uint64_t len;
    const unsigned char *bytes;
    sq_pickle_value *v;
    sq_status st = take_uint(u, length_bytes, &len);
    if (st != SQ_OK)
        return st;
    if (len > u->size - u->pos)
        return sq_fail(SQ_ERR_INPUT,
                       "truncated pickle %s: string at offset %zu claims %llu bytes, %zu are left; "
                       "the checkpoint is damaged, re-save it",
                       u->where, u->op_offset, (unsigned long long)len, u->size - u->pos);
    st = take(u, (size_t)len, &bytes);
    if (st == SQ_OK)
        st = value_string(u, kind, bytes, (size_t)len, &v);
    return st == SQ_OK ? push(u, v) : st;
}

static sq_status push_int(unpickler *u, int64_t value)
{
    sq_pickle_value *v;
    sq_status st = value_new(u, SQ_PK_INT, &v);
    if (st == SQ_OK)
        v->i = value;
    return st == SQ_OK ? push(u, v) : st;
}

/* LONG1 / LONG4: little-endian two's complement of n bytes (pickle.py decode_long). */
static sq_status take_long(unpickler *u, int length_bytes)
{
    uint64_t n, bits;
    const unsigned char *p;
    sq_status st = take_uint(u, length_bytes, &n);
    if (st != SQ_OK)
        return st;
    if (n > 8)
        return sq_fail(SQ_ERR_INPUT, "unsupported integer in pickle %s at offset %zu: %llu bytes (at most 8 are read)",
                       u->where, u->op_offset, (unsigned long long)n);
    if (n == 0)
        return push_int(u, 0);
    st = take(u, (size_t)n, &p);
    if (st != SQ_OK)
        return st;
    bits = le_uint(p, (int)n);
    if (n < 8 && (p[n - 1] & 0x80))
        bits |= ~(uint64_t)0 << (8 * n); /* sign extend */
    return push_int(u, (int64_t)bits);
}

static sq_status push_simple(unpickler *u, sq_pickle_kind kind, int64_t i)
{
    sq_pickle_value *v;
    sq_status st = value_new(u, kind, &v);
    if (st == SQ_OK)
        v->i = i;
    return st == SQ_OK ? push(u, v) : st;
}

static sq_status run_opcode(unpickler *u, unsigned char op, int *stop)
{
    sq_pickle_value *a, *b, *c, *v;
    uint64_t n;
    const unsigned char *p;
    size_t start;
    sq_status st = SQ_OK;

    switch (op) {
    case 0x80: /* PROTO */
        st = take_uint(u, 1, &n);
        if (st == SQ_OK && (n < 2 || n > 5))
            st = sq_fail(SQ_ERR_INPUT, "unsupported pickle protocol %llu in %s (squeeze reads protocols 2-5)",
                         (unsigned long long)n, u->where);
        return st;
    case 0x95: /* FRAME: an 8-byte length that only helps buffering */
        return take_uint(u, 8, &n);
    case '.': /* STOP */
        *stop = 1;
        return SQ_OK;
    case '(': return push_mark(u);                       /* MARK */
    case '0': return pop(u, &a);                         /* POP */
    case '1': /* POP_MARK */
        st = pop_mark(u, &start);
        if (st == SQ_OK)
            u->depth = start;
        return st;
    case '2': /* DUP */
        st = top(u, &a);
        return st == SQ_OK ? push(u, a) : st;
    case 'N': return push_simple(u, SQ_PK_NONE, 0);      /* NONE */
    case 0x88: return push_simple(u, SQ_PK_BOOL, 1);     /* NEWTRUE */
    case 0x89: return push_simple(u, SQ_PK_BOOL, 0);     /* NEWFALSE */
    case 'J': /* BININT: signed 4 bytes */
        st = take_uint(u, 4, &n);
        return st == SQ_OK ? push_int(u, (int32_t)(uint32_t)n) : st;
    case 'K': /* BININT1 */
        st = take_uint(u, 1, &n);
        return st == SQ_OK ? push_int(u, (int64_t)n) : st;
    case 'M': /* BININT2 */
        st = take_uint(u, 2, &n);
        return st == SQ_OK ? push_int(u, (int64_t)n) : st;
    case 0x8a: return take_long(u, 1);                   /* LONG1 */
    case 0x8b: return take_long(u, 4);                   /* LONG4 */
    case 'G': { /* BINFLOAT: big-endian IEEE double */
        uint64_t bits = 0;
        double d;
        st = take(u, 8, &p);
        if (st != SQ_OK)
            return st;
        for (int i = 0; i < 8; i++)
            bits = (bits << 8) | p[i];
        memcpy(&d, &bits, sizeof d);
        st = value_new(u, SQ_PK_FLOAT, &v);
        if (st == SQ_OK)
            v->f = d;
        return st == SQ_OK ? push(u, v) : st;
    }
    case 'X': return take_string(u, 4, SQ_PK_STR);       /* BINUNICODE */
    case 0x8c: return take_string(u, 1, SQ_PK_STR);      /* SHORT_BINUNICODE */
    case 0x8d: return take_string(u, 8, SQ_PK_STR);      /* BINUNICODE8 */
    case 'T': /* BINSTRING: signed 4-byte length */
        st = take_uint(u, 4, &n);
        if (st != SQ_OK)
            return st;
        if ((int32_t)(uint32_t)n < 0)
            return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: BINSTRING at offset %zu has a negative length",
                           u->where, u->op_offset);
        u->pos -= 4;
        return take_string(u, 4, SQ_PK_STR);
    case 'U': return take_string(u, 1, SQ_PK_STR);       /* SHORT_BINSTRING */
    case 'B': return take_string(u, 4, SQ_PK_BYTES);     /* BINBYTES */
    case 'C': return take_string(u, 1, SQ_PK_BYTES);     /* SHORT_BINBYTES */
    case 0x8e: return take_string(u, 8, SQ_PK_BYTES);    /* BINBYTES8 */
    case 0x96: return take_string(u, 8, SQ_PK_BYTES);    /* BYTEARRAY8 */
    case ')': return push_simple(u, SQ_PK_TUPLE, 0);     /* EMPTY_TUPLE */
    case ']': return push_simple(u, SQ_PK_LIST, 0);      /* EMPTY_LIST */
    case '}': return push_simple(u, SQ_PK_DICT, 0);      /* EMPTY_DICT */
    case 0x8f: return push_simple(u, SQ_PK_SET, 0);      /* EMPTY_SET */
    case 't': return collect_marked(u, SQ_PK_TUPLE);     /* TUPLE */
    case 'l': return collect_marked(u, SQ_PK_LIST);      /* LIST */
    case 'd': return collect_marked(u, SQ_PK_DICT);      /* DICT */
    case 0x91: return collect_marked(u, SQ_PK_SET);      /* FROZENSET */
    case 0x85: return tuple_of(u, 1);                    /* TUPLE1 */
    case 0x86: return tuple_of(u, 2);                    /* TUPLE2 */
    case 0x87: return tuple_of(u, 3);                    /* TUPLE3 */
    case 'a': /* APPEND */
    case 's': /* SETITEM */
        if (u->depth < (op == 'a' ? 1u : 2u))
            return underflow(u);
        return add_items(u, u->depth - (op == 'a' ? 1 : 2), op == 's');
    case 'e': /* APPENDS */
    case 'u': /* SETITEMS */
    case 0x90: /* ADDITEMS */
        st = pop_mark(u, &start);
        return st == SQ_OK ? add_items(u, start, op == 'u') : st;
    case 'q': /* BINPUT: 1-byte index */
    case 'r': /* LONG_BINPUT: 4-byte index */
        st = take_uint(u, op == 'q' ? 1 : 4, &n);
        return st == SQ_OK ? memo_put(u, n) : st;
    case 0x94: return memo_put(u, u->memo_used);         /* MEMOIZE: index len(memo) */
    case 'h': /* BINGET: 1-byte index */
    case 'j': /* LONG_BINGET: 4-byte index */
        st = take_uint(u, op == 'h' ? 1 : 4, &n);
        return st == SQ_OK ? memo_get(u, n) : st;
    case 'c': { /* GLOBAL: "module\nname\n" -- recorded, never imported */
        const char *module, *name;
        size_t module_len, name_len;
        st = take_line(u, &module, &module_len);
        if (st == SQ_OK)
            st = take_line(u, &name, &name_len);
        return st == SQ_OK ? make_global(u, module, module_len, name, name_len) : st;
    }
    case 0x93: /* STACK_GLOBAL */
        st = pop(u, &b);
        if (st == SQ_OK)
            st = pop(u, &a);
        if (st != SQ_OK)
            return st;
        if (a->kind != SQ_PK_STR || b->kind != SQ_PK_STR)
            return sq_fail(SQ_ERR_INPUT, "malformed pickle %s: STACK_GLOBAL at offset %zu needs two strings",
                           u->where, u->op_offset);
        return make_global(u, a->str, a->len, b->str, b->len);
    case 'R': /* REDUCE: callable(*args) -- understood or recorded, never called */
        st = pop(u, &b);
        if (st == SQ_OK)
            st = pop(u, &a);
        if (st == SQ_OK)
            st = reduce(u, a, b, 0, &v);
        return st == SQ_OK ? push(u, v) : st;
    case 0x81: /* NEWOBJ: cls.__new__(cls, *args) */
    case 0x92: /* NEWOBJ_EX: cls.__new__(cls, *args, **kwargs) */
        st = SQ_OK;
        if (op == 0x92)
            st = pop(u, &c);
        if (st == SQ_OK)
            st = pop(u, &b);
        if (st == SQ_OK)
            st = pop(u, &a);
        if (st != SQ_OK)
            return st;
        if (sq_pickle_is_global(a, "collections", "OrderedDict"))
            st = value_new(u, SQ_PK_DICT, &v);
        else
            st = make_object(u, a, b, &v);
        return st == SQ_OK ? push(u, v) : st;
    case 'b': /* BUILD: obj.__setstate__(state) -- recorded on opaque objects */
        st = pop(u, &b);
        if (st == SQ_OK)
            st = top(u, &a);
        if (st == SQ_OK && a->kind == SQ_PK_OBJECT)
            a->state = b;
        /* on a dict (OrderedDict's _metadata) or a tensor the attributes do not matter */
        return st;
    case 'Q': /* BINPERSID: torch's storage records ('storage', type, key, location, numel) */
        st = pop(u, &a);
        if (st == SQ_OK)
            st = value_new(u, SQ_PK_PERSID, &v);
        if (st == SQ_OK)
            v->args = a;
        return st == SQ_OK ? push(u, v) : st;
    default:
        break;
    }
    if (op != 0 && strchr("IiLFSVgpoP", op) != NULL)
        return sq_fail(SQ_ERR_INPUT,
                       "unsupported pickle opcode '%c' (0x%02x) at offset %zu in %s: a protocol 0/1 text opcode; "
                       "squeeze reads pickle protocols 2-5 as torch.save writes them",
                       op, op, u->op_offset, u->where);
    if (op >= 0x82 && op <= 0x84)
        return sq_fail(SQ_ERR_INPUT, "unsupported pickle opcode 0x%02x (EXT, the copyreg extension registry) at offset %zu in %s",
                       op, u->op_offset, u->where);
    if (op == 0x97 || op == 0x98)
        return sq_fail(SQ_ERR_INPUT, "unsupported pickle opcode 0x%02x (out-of-band buffer) at offset %zu in %s", op,
                       u->op_offset, u->where);
    return sq_fail(SQ_ERR_INPUT, "unknown pickle opcode 0x%02x at offset %zu in %s: not a pickle squeeze can read",
                   op, u->op_offset, u->where);
}

sq_status sq_pickle_load(const unsigned char *data, size_t size, const char *where, sq_pickle **out,
                         const sq_pickle_value **root)
{
    sq_status st = SQ_OK;
    unpickler u;
    int stop = 0;
    sq_pickle_value *result = NULL;

    memset(&u, 0, sizeof u);
    u.data = data;
    u.size = size;
    u.where = where;
    u.memo_limit = size + 256;
    *out = NULL;
    *root = NULL;
    u.pickle = calloc(1, sizeof *u.pickle);
    if (u.pickle == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory unpickling %s", where);
    while (!stop) {
        unsigned char op;
        if (u.pos >= u.size)
            SQ_FAIL(SQ_ERR_INPUT, "truncated pickle %s: ended at offset %zu without STOP; the checkpoint is damaged",
                    where, u.pos);
        u.op_offset = u.pos;
        op = u.data[u.pos++];
        SQ_TRY(run_opcode(&u, op, &stop));
    }
    if (u.depth == 0)
        SQ_FAIL(SQ_ERR_INPUT, "malformed pickle %s: STOP at offset %zu with an empty stack", where, u.op_offset);
    result = u.stack[u.depth - 1];
    *out = u.pickle;
    *root = result;
    u.pickle = NULL;
cleanup:
    sq_pickle_free(u.pickle);
    free(u.stack);
    free(u.marks);
    free(u.memo);
    return st;
}

/* ================= lookups ================= */

const sq_pickle_value *sq_pickle_dict_get(const sq_pickle_value *dict, const char *key)
{
    if (dict == NULL || dict->kind != SQ_PK_DICT)
        return NULL;
    for (size_t i = dict->count; i-- > 0;) {
        const sq_pickle_value *k = dict->items[2 * i];
        if (k->kind == SQ_PK_STR && strcmp(k->str, key) == 0)
            return dict->items[2 * i + 1];
    }
    return NULL;
}

const char *sq_pickle_callable_name(const sq_pickle_value *object, char *buf, size_t size)
{
    const sq_pickle_value *c = object ? object->callable : NULL;
    if (c != NULL && c->kind == SQ_PK_GLOBAL)
        snprintf(buf, size, "%s.%s", c->str, c->name);
    else
        snprintf(buf, size, "?");
    return buf;
}

/* ================= repr ================= */

typedef struct {
    char *buf;
    size_t len;
    size_t capacity;
    int full; /* reached PK_REPR_MAX_CHARS */
    int oom;
} text;

static void text_add(text *t, const char *s, size_t n)
{
    if (t->full || t->oom)
        return;
    if (t->len + n > PK_REPR_MAX_CHARS) {
        n = PK_REPR_MAX_CHARS - t->len;
        t->full = 1;
    }
    if (t->len + n + 4 > t->capacity) {
        size_t capacity = t->capacity ? t->capacity : 128;
        char *grown;
        while (capacity < t->len + n + 4)
            capacity *= 2;
        grown = realloc(t->buf, capacity);
        if (grown == NULL) {
            t->oom = 1;
            return;
        }
        t->buf = grown;
        t->capacity = capacity;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    if (t->full) {
        memcpy(t->buf + t->len, "...", 3);
        t->len += 3;
    }
    t->buf[t->len] = '\0';
}

static void text_str(text *t, const char *s) { text_add(t, s, strlen(s)); }

static void text_fmt(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_fmt(text *t, const char *fmt, ...)
{
    char tmp[128];
    va_list args;
    int n;
    va_start(args, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, args);
    va_end(args);
    if (n > 0)
        text_add(t, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Python's repr(float): the shortest form that reads back to the same double. */
static void text_float(text *t, double d)
{
    char tmp[64];
    if (isnan(d)) {
        text_str(t, "nan");
        return;
    }
    if (isinf(d)) {
        text_str(t, d > 0 ? "inf" : "-inf");
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(tmp, sizeof tmp, "%.*g", precision, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    text_str(t, tmp);
    if (strpbrk(tmp, ".e") == NULL)
        text_str(t, ".0");
}

static void text_quoted(text *t, const char *s, size_t len, int bytes)
{
    if (bytes)
        text_str(t, "b");
    text_str(t, "'");
    for (size_t i = 0; i < len && !t->full; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\'' || ch == '\\')
            text_fmt(t, "\\%c", ch);
        else if (ch == '\n')
            text_str(t, "\\n");
        else if (ch == '\t')
            text_str(t, "\\t");
        else if (ch < 0x20 || ch == 0x7f || (bytes && ch >= 0x80))
            text_fmt(t, "\\x%02x", ch);
        else
            text_add(t, (const char *)&ch, 1);
    }
    text_str(t, "'");
}

static void repr_value(text *t, const sq_pickle_value *v, int depth);

static void repr_items(text *t, const sq_pickle_value *v, int depth)
{
    for (size_t i = 0; i < v->count && !t->full; i++) {
        if (i)
            text_str(t, ", ");
        repr_value(t, v->items[i], depth + 1);
    }
}

static void repr_dict(text *t, const sq_pickle_value *v, int depth)
{
    text_str(t, "{");
    for (size_t i = 0; i < v->count && !t->full; i++) {
        if (i)
            text_str(t, ", ");
        repr_value(t, v->items[2 * i], depth + 1);
        text_str(t, ": ");
        repr_value(t, v->items[2 * i + 1], depth + 1);
    }
    text_str(t, "}");
}

static void repr_object(text *t, const sq_pickle_value *v, int depth)
{
    char name[2 * PK_MAX_GLOBAL_LINE + 8];
    const sq_pickle_value *args = v->args;
    const sq_pickle_value *state = v->state;
    int first = 1;
    text_str(t, "<opaque ");
    if (v->callable != NULL && v->callable->kind == SQ_PK_GLOBAL)
        text_str(t, sq_pickle_callable_name(v, name, sizeof name));
    else
        repr_value(t, v->callable, depth + 1);
    text_str(t, "(");
    if (args != NULL && args->kind == SQ_PK_TUPLE) {
        repr_items(t, args, depth);
        first = args->count == 0;
    } else if (args != NULL) {
        repr_value(t, args, depth + 1);
        first = 0;
    }
    /* BUILD state of a plain object is its __dict__: print it as keyword arguments */
    if (state != NULL && state->kind == SQ_PK_DICT) {
        for (size_t i = 0; i < state->count && !t->full; i++) {
            const sq_pickle_value *key = state->items[2 * i];
            if (!first)
                text_str(t, ", ");
            first = 0;
            if (key->kind == SQ_PK_STR)
                text_str(t, key->str);
            else
                repr_value(t, key, depth + 1);
            text_str(t, "=");
            repr_value(t, state->items[2 * i + 1], depth + 1);
        }
    } else if (state != NULL) {
        if (!first)
            text_str(t, ", ");
        text_str(t, "state=");
        repr_value(t, state, depth + 1);
    }
    text_str(t, ")>");
}

static void repr_value(text *t, const sq_pickle_value *v, int depth)
{
    if (t->full)
        return;
    if (v == NULL) {
        text_str(t, "None");
        return;
    }
    if (depth > PK_REPR_MAX_DEPTH) {
        text_str(t, "...");
        return;
    }
    switch (v->kind) {
    case SQ_PK_NONE: text_str(t, "None"); break;
    case SQ_PK_BOOL: text_str(t, v->i ? "True" : "False"); break;
    case SQ_PK_INT: text_fmt(t, "%lld", (long long)v->i); break;
    case SQ_PK_FLOAT: text_float(t, v->f); break;
    case SQ_PK_STR: text_quoted(t, v->str, v->len, 0); break;
    case SQ_PK_BYTES: text_quoted(t, v->str, v->len, 1); break;
    case SQ_PK_TUPLE:
        text_str(t, "(");
        repr_items(t, v, depth);
        text_str(t, v->count == 1 ? ",)" : ")");
        break;
    case SQ_PK_LIST:
        text_str(t, "[");
        repr_items(t, v, depth);
        text_str(t, "]");
        break;
    case SQ_PK_SET:
        if (v->count == 0) {
            text_str(t, "set()");
            break;
        }
        text_str(t, "{");
        repr_items(t, v, depth);
        text_str(t, "}");
        break;
    case SQ_PK_DICT: repr_dict(t, v, depth); break;
    case SQ_PK_GLOBAL:
        text_str(t, v->str);
        text_str(t, ".");
        text_str(t, v->name);
        break;
    case SQ_PK_PERSID:
        text_str(t, "<persistent id ");
        repr_value(t, v->args, depth + 1);
        text_str(t, ">");
        break;
    case SQ_PK_TENSOR: {
        /* args: (persid storage, offset, size, stride, ...) */
        const sq_pickle_value *args = v->args;
        text_str(t, "<tensor");
        if (args->kind == SQ_PK_TUPLE && args->count >= 3) {
            const sq_pickle_value *pid = args->items[0]->kind == SQ_PK_PERSID ? args->items[0]->args : NULL;
            if (pid != NULL && pid->kind == SQ_PK_TUPLE && pid->count >= 2 && pid->items[1]->kind == SQ_PK_GLOBAL)
                text_fmt(t, " %.64s", pid->items[1]->name);
            text_str(t, " ");
            repr_value(t, args->items[2], depth + 1);
        }
        text_str(t, ">");
        break;
    }
    case SQ_PK_OBJECT: repr_object(t, v, depth); break;
    case SQ_PK_MARK: text_str(t, "<mark>"); break;
    }
}

char *sq_pickle_repr(const sq_pickle_value *value)
{
    text t;
    memset(&t, 0, sizeof t);
    repr_value(&t, value, 0);
    if (t.oom) {
        free(t.buf);
        return NULL;
    }
    if (t.buf == NULL)
        return strdup("");
    return t.buf;
}
