/* pickle.h - a restricted unpickler for PyTorch checkpoints (never runs anything).
 *
 * torch.save() (torch >= 1.6) writes the object graph as a pickle (data.pkl,
 * protocol 2 by default) and the tensor bytes as separate zip entries that the
 * pickle names through persistent ids.  Python's own unpickler imports modules
 * and calls whatever the pickle names (GLOBAL + REDUCE), which is how a
 * checkpoint can run os.system.  This one never imports or calls: a GLOBAL
 * becomes a record (module, name); REDUCE / NEWOBJ of such a record becomes an
 * object record that can be printed ("<opaque models.config.Cfg(...)>").
 * A short table of well-known callables is understood instead of called:
 *   collections.OrderedDict()              -> an empty dict
 *   torch._utils._rebuild_tensor_v2(...)   -> a tensor record (storage, offset,
 *                                             size, stride; materialised by torch_pt.c)
 *   torch._utils._rebuild_parameter(t,...) -> t   (and _rebuild_parameter_with_state)
 *   torch._tensor._rebuild_from_type_v2(f, type, args, state) -> f(*args) for f above
 *   torch.Size(tuple)                      -> the tuple
 *
 * Opcodes follow CPython's Lib/pickle.py and Modules/_pickle.c (protocols 2-5,
 * the binary opcodes; the text opcodes of protocols 0-1 are refused).  Every
 * length is checked against the bytes left, the memo index against the input
 * size, and printing and walking are depth bounded (a pickle may be cyclic).
 */
#ifndef SQ_CHECKPOINT_PICKLE_H
#define SQ_CHECKPOINT_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

typedef enum {
    SQ_PK_NONE = 0,
    SQ_PK_BOOL,
    SQ_PK_INT,
    SQ_PK_FLOAT,
    SQ_PK_STR,    /* text (utf-8), also protocol-2 BINSTRING */
    SQ_PK_BYTES,
    SQ_PK_TUPLE,
    SQ_PK_LIST,
    SQ_PK_SET,
    SQ_PK_DICT,   /* items holds key, value, key, value, ... */
    SQ_PK_GLOBAL, /* a reference to module.name; never resolved */
    SQ_PK_PERSID, /* persistent id: args is the id object */
    SQ_PK_OBJECT, /* callable applied to args (REDUCE / NEWOBJ), with BUILD state: never run */
    SQ_PK_TENSOR, /* torch._utils._rebuild_tensor_v2: args is its argument tuple */
    SQ_PK_MARK    /* internal: the MARK opcode's stack entry */
} sq_pickle_kind;

typedef struct sq_pickle_value sq_pickle_value;
struct sq_pickle_value {
    sq_pickle_kind kind;
    size_t offset;           /* byte offset of the opcode that made it (for messages) */
    int64_t i;               /* BOOL, INT */
    double f;                /* FLOAT */
    char *str;               /* STR, BYTES (len bytes, NUL terminated); GLOBAL: module */
    size_t len;
    char *name;              /* GLOBAL: name */
    sq_pickle_value **items; /* TUPLE, LIST, SET: count items; DICT: count pairs (2*count) */
    size_t count;
    size_t capacity;
    sq_pickle_value *callable; /* OBJECT: what REDUCE / NEWOBJ would have called */
    sq_pickle_value *args;     /* OBJECT, TENSOR, PERSID */
    sq_pickle_value *state;    /* OBJECT: what BUILD would have set */
};

typedef struct sq_pickle sq_pickle; /* owns every value of one load */

/* Unpickles data (size bytes).  where names the input in messages
 * ("model.pt: archive/data.pkl").  On success *root is the STOP value and
 * *out owns it; free with sq_pickle_free.  Errors are SQ_ERR_INPUT. */
sq_status sq_pickle_load(const unsigned char *data, size_t size, const char *where, sq_pickle **out,
                         const sq_pickle_value **root);
void sq_pickle_free(sq_pickle *pickle);

/* Python-like repr, bounded in depth and length; malloc'd (NULL when out of memory). */
char *sq_pickle_repr(const sq_pickle_value *value);

/* 1 when value is the global module.name. */
int sq_pickle_is_global(const sq_pickle_value *value, const char *module, const char *name);
/* The value of a dict's string key, or NULL. */
const sq_pickle_value *sq_pickle_dict_get(const sq_pickle_value *dict, const char *key);
/* The callable of an OBJECT as "module.name" into buf ("?" when not a global). */
const char *sq_pickle_callable_name(const sq_pickle_value *object, char *buf, size_t size);

#endif
