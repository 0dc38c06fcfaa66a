/* yaml_tree.h - a YAML document as a tree of nodes that remember their line
 * and column, so that every config error can name file:line:column.
 *
 * libyaml does the parsing; this file keeps the events as a small tree and
 * offers typed getters that reject wrong types, and sq_yaml_check_keys() that
 * rejects unknown keys.  Anchors and aliases are refused (a config is plain).
 */
#ifndef SQ_CONFIG_YAML_TREE_H
#define SQ_CONFIG_YAML_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/status.h"

typedef enum { SQ_YAML_SCALAR, SQ_YAML_MAP, SQ_YAML_SEQ } sq_yaml_kind;

typedef struct sq_yaml_node {
    sq_yaml_kind kind;
    char *value;          /* scalar text (SQ_YAML_SCALAR) */
    bool quoted;          /* scalar was written in quotes: never a number/bool */
    int line, column;     /* 1-based position in the file */
    const char *file;     /* the file it came from (owned by the document) */
    /* children: for a map, keys[i] -> items[i]; for a sequence, items[i] */
    struct sq_yaml_node **keys;
    struct sq_yaml_node **items;
    size_t count;
} sq_yaml_node;

typedef struct {
    char *file;
    sq_yaml_node *root;  /* NULL for an empty document */
} sq_yaml_doc;

/* Parses a file; syntax errors name file:line:column (exit code 2). */
sq_status sq_yaml_load_file(sq_yaml_doc *doc, const char *path);
sq_status sq_yaml_load_string(sq_yaml_doc *doc, const char *text, const char *name);
void sq_yaml_free(sq_yaml_doc *doc);

/* Child of a map by key, or NULL. */
const sq_yaml_node *sq_yaml_get(const sq_yaml_node *map, const char *key);
/* The same in a tree being edited (the driver's effective configs). */
sq_yaml_node *sq_yaml_get_mutable(sq_yaml_node *map, const char *key);
/* The node at a dotted path of map keys ("compress.recipe"), or NULL when a part is missing. */
const sq_yaml_node *sq_yaml_get_path(const sq_yaml_node *root, const char *dotted);

/* Fails on a key of map that is not in allowed (NULL-terminated), naming the key,
 * its file:line:column, and the keys that are allowed.  `where` names the section. */
sq_status sq_yaml_check_keys(const sq_yaml_node *map, const char *where, const char *const *allowed);

/* Typed reads.  The node must be a scalar of the right form, else a usage error
 * naming file:line:column, the key and the expected type. */
sq_status sq_yaml_as_int(const sq_yaml_node *node, const char *what, int64_t *out);
sq_status sq_yaml_as_double(const sq_yaml_node *node, const char *what, double *out);
sq_status sq_yaml_as_bool(const sq_yaml_node *node, const char *what, bool *out);
sq_status sq_yaml_as_string(const sq_yaml_node *node, const char *what, const char **out);
sq_status sq_yaml_expect(const sq_yaml_node *node, sq_yaml_kind kind, const char *what);

/* Optional map members: leave *out unchanged when the key is absent. */
sq_status sq_yaml_opt_int(const sq_yaml_node *map, const char *key, int64_t *out);
sq_status sq_yaml_opt_double(const sq_yaml_node *map, const char *key, double *out);
sq_status sq_yaml_opt_bool(const sq_yaml_node *map, const char *key, bool *out);
sq_status sq_yaml_opt_string(const sq_yaml_node *map, const char *key, const char **out);

/* Formats "file:line:column" of a node into buf. */
const char *sq_yaml_where(const sq_yaml_node *node, char *buf, size_t size);

/* Deep copy (for the driver's sweep overrides) and emission back to YAML text
 * (block style, scalars quoted when needed), for the effective config a stage reads. */
sq_yaml_node *sq_yaml_clone(const sq_yaml_node *node);
void sq_yaml_node_free(sq_yaml_node *node);
sq_status sq_yaml_emit(FILE *out, const sq_yaml_node *node);
/* Replaces or inserts map[key] = value (value is adopted). */
sq_status sq_yaml_map_set(sq_yaml_node *map, const char *key, sq_yaml_node *value);
sq_yaml_node *sq_yaml_new_scalar(const char *text);
sq_yaml_node *sq_yaml_new_map(void);

#endif
