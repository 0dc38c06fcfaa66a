/* sweep.h - the `sweep` section of a run config: grid and zip over dotted
 * option paths, expanded into named variants (sweep.c). */
#ifndef SQ_DRIVER_SWEEP_H
#define SQ_DRIVER_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "config/yaml_tree.h"
#include "util/status.h"

typedef struct {
    char *path;                   /* dotted option path, e.g. "compress.recipe" */
    const sq_yaml_node *value;    /* the value (a node of the sweep section) */
    const sq_yaml_node *where;    /* the path's key node, for messages */
} sq_override;

typedef struct {
    char *name;                   /* [A-Za-z0-9._-], unique */
    sq_override *overrides;
    size_t override_count;
} sq_variant_spec;

typedef struct {
    sq_variant_spec *variants;
    size_t count;
} sq_sweep;

/* Expands the sweep section (NULL: one variant "default") into variants. */
sq_status sq_sweep_expand(const sq_yaml_node *section, sq_sweep *out);
void sq_sweep_free(sq_sweep *sweep);
/* Sets a dotted path in a config tree to a copy of value (intermediate maps created). */
sq_status sq_sweep_apply(sq_yaml_node *root, const char *path, const sq_yaml_node *value, const sq_yaml_node *where);
/* Writes a name part for a value into buf: basename without extension for
 * paths, characters outside [A-Za-z0-9._-] replaced by '-'. */
void sq_sweep_name_part(const char *value, char *buf, size_t size);
bool sq_variant_name_valid(const char *name);

#endif
