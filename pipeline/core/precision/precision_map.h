/* precision_map.h - which storage format each tensor of a model gets.
 *
 * A precision map (docs/precision-maps.md) is an ordered list of rules, each
 * one or more glob patterns over tensor names with a format and that format's
 * options, plus an optional default.  The first rule whose pattern matches a
 * tensor decides it.  It comes from a recipe file (configs/recipes/NAME.yaml),
 * from compress.precision_map in the run config, or from --map FILE:
 *
 *   description: "NF4 projections, INT8 embedding"
 *   rules:
 *     - pattern: "layers.*.ssm.{in_proj,out_proj}.weight"
 *       format: nf4
 *       block_size: 64
 *     - pattern: [embedding.weight, lm_head.weight]
 *       format: int8
 *   default: fp16            # or {format: int4, block_size: 32}
 *
 * Glob semantics (the seed's map turned '*' into '.*' and so matched
 * "layers.*.ssm.A_log" against "layers.0.ssm.ssm.A_log"):
 *   *      any run of characters inside ONE dot-separated segment (never '.')
 *   **     any run of characters across segments (may include '.')
 *   ?      one character other than '.'
 *   [abc]  [0-9]  [!0]   one character of (or not of) a set, never '.'
 *   {a,b}  alternatives (expanded before matching; may hold other wildcards)
 * The whole name must match.
 *
 * A rule may say `optional: true`: its patterns may match no tensor (a recipe
 * meant for several families).  Without it, a pattern that matches nothing is
 * an error: a typo must not pass silently.
 *
 * Errors are usage errors (exit 2) naming file:line:column: an unknown key, an
 * unknown format, an option the format does not take, an option of the wrong
 * type or range, a malformed pattern.  sq_precision_map_resolve() adds the
 * checks that need the model: a pattern that matches no tensor, a tensor no
 * rule covers while the map has no default, tied tensors given different
 * formats.
 */
#ifndef SQ_PRECISION_PRECISION_MAP_H
#define SQ_PRECISION_PRECISION_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "config/yaml_tree.h"
#include "precision/prune_spec.h"
#include "quant/format.h"

typedef struct {
    char *text;            /* the pattern as written */
    char **expanded;       /* brace alternatives expanded: plain globs */
    size_t expanded_count;
    int line, column;      /* where it was written */
} sq_map_pattern;

typedef struct {
    sq_map_pattern *patterns;
    size_t pattern_count;
    const sq_quant_format *format;
    sq_quant_options options;
    char options_text[160]; /* "block_size=64 double_quant=true", for logs and the accounting */
    char *note;             /* free text (why), or NULL */
    bool optional;          /* optional: true -- may match nothing (recipes shared by families) */
    int line, column;       /* the rule's position (its first key) */
    char where[256];        /* "file:line:column" of the rule */
} sq_map_rule;

typedef struct {
    char *source;          /* the file the map came from */
    char *description;     /* or NULL */
    sq_map_rule *rules;
    size_t rule_count;
    bool has_default;
    sq_map_rule default_rule; /* no patterns */
    sq_prune_spec prune;      /* the `prune` section, applied before the formats (compress/prune.h) */
} sq_precision_map;

/* node: a map {description, rules, default} or a bare sequence of rules. */
sq_status sq_precision_map_parse(const sq_yaml_node *node, sq_precision_map *map);
/* A recipe or map file. */
sq_status sq_precision_map_load(const char *path, sq_precision_map *map);
void sq_precision_map_free(sq_precision_map *map);

/* Glob matching with the semantics above; pattern must have no braces
 * (use the rule's expanded forms).  sq_glob_match_braces() expands first. */
bool sq_glob_match(const char *pattern, const char *name);
bool sq_glob_match_braces(const char *pattern, const char *name);
/* Expands {a,b} alternatives; a usage error for unbalanced braces or brackets.
 * `where` names the pattern's position for the message. */
sq_status sq_glob_expand(const char *pattern, const char *where, char ***out, size_t *count);
void sq_glob_expansion_free(char **expanded, size_t count);

/* ---- resolving a map against a model ------------------------------------ */

/* What the resolver needs to know about one tensor of the model. */
typedef struct {
    const char *name;
    const char *alias_of;     /* shares storage with that tensor (stored once), or NULL */
    bool raw;                 /* buffer or non-float tensor: stored as it is, rules never apply */
    bool keep_full_precision; /* family says so (conv1d, A_log, D, biases, norms) */
    const char *keep_reason;
} sq_map_tensor;

typedef enum {
    SQ_DECIDED_RULE = 0,  /* a rule matched */
    SQ_DECIDED_DEFAULT,   /* the map's default */
    SQ_DECIDED_KEPT,      /* kept in its precision: the family needs it (no rule names it) */
    SQ_DECIDED_RAW,       /* buffer / non-float: stored as it is */
    SQ_DECIDED_ALIAS,     /* shares storage with another tensor: stored once, under that one */
} sq_decision_kind;

typedef struct {
    sq_decision_kind kind;
    const sq_map_rule *rule;   /* the rule (or &map->default_rule) that applies; NULL for kept/raw/alias */
    long rule_index;           /* index in map->rules, -1 when none */
    const sq_map_pattern *pattern; /* the pattern that matched, or NULL */
    bool forced_lower;         /* a rule forces a full-precision tensor below fp32 (warned) */
    long alias_target;         /* for an alias: index of the tensor holding the storage, else -1 */
} sq_map_decision;

typedef struct {
    size_t considered;         /* tensors that rules may decide (not raw, not alias) */
    size_t by_rule, by_default, kept, raw, aliases;
    size_t forced_lower;
    bool default_warning;      /* more than 30% of the considered tensors fell to the default */
} sq_map_summary;

/* Fraction of the considered tensors above which falling to the default is
 * warned about (the seed's "> 30% unmatched, check precision patterns"). */
#define SQ_MAP_DEFAULT_WARN_FRACTION 0.30

/* Decides every tensor (decisions has count entries).  Fails (usage error,
 * exit 2) on a pattern that matches no tensor, a tensor no rule covers when
 * the map has no default, or tied tensors whose rules give different formats.
 * Logs warnings for forced-lower full-precision tensors and for the default
 * covering more than 30% of the tensors (listing them). */
sq_status sq_precision_map_resolve(const sq_precision_map *map, const sq_map_tensor *tensors, size_t count,
                                   sq_map_decision *decisions, sq_map_summary *summary);

/* The label written in the accounting's "rule" column: the pattern text, or
 * "default", "kept: full precision", "raw", "alias". */
const char *sq_map_decision_label(const sq_map_decision *decision);

#endif
