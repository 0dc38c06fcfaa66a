/* yaml_tree.c - libyaml events into a tree with positions; typed getters. */
#include "config/yaml_tree.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static sq_yaml_node *node_new(sq_yaml_kind kind, const yaml_mark_t *mark, const char *file)
{
    sq_yaml_node *node = calloc(1, sizeof *node);
    if (node == NULL)
        return NULL;
    node->kind = kind;
    node->line = mark ? (int)mark->line + 1 : 0;
    node->column = mark ? (int)mark->column + 1 : 0;
    node->file = file;
    return node;
}

void sq_yaml_node_free(sq_yaml_node *node)
{
    if (node == NULL)
        return;
    for (size_t i = 0; i < node->count; i++) {
        if (node->keys)
            sq_yaml_node_free(node->keys[i]);
        sq_yaml_node_free(node->items[i]);
    }
    free(node->keys);
    free(node->items);
    free(node->value);
    free(node);
}

static int node_append(sq_yaml_node *parent, sq_yaml_node *key, sq_yaml_node *item)
{
    sq_yaml_node **items = realloc(parent->items, (parent->count + 1) * sizeof *items);
    if (items == NULL)
        return -1;
    parent->items = items;
    if (parent->kind == SQ_YAML_MAP) {
        sq_yaml_node **keys = realloc(parent->keys, (parent->count + 1) * sizeof *keys);
        if (keys == NULL)
            return -1;
        parent->keys = keys;
        parent->keys[parent->count] = key;
    }
    parent->items[parent->count++] = item;
    return 0;
}

const char *sq_yaml_where(const sq_yaml_node *node, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%d:%d", node && node->file ? node->file : "?", node ? node->line : 0,
             node ? node->column : 0);
    return buf;
}

/* Builds one node from the parser's next events (recursive descent). */
static sq_status parse_node(yaml_parser_t *parser, yaml_event_t *event, const char *file, sq_yaml_node **out,
                            int depth)
{
    sq_status st = SQ_OK;
    sq_yaml_node *node = NULL;
    yaml_event_t child;
    int have_child = 0;

    if (depth > 64)
        return sq_fail(SQ_ERR_USAGE, "%s:%zu:%zu: YAML nested deeper than 64 levels", file,
                       event->start_mark.line + 1, event->start_mark.column + 1);
    switch (event->type) {
    case YAML_ALIAS_EVENT:
        return sq_fail(SQ_ERR_USAGE, "%s:%zu:%zu: YAML aliases (*name) are not supported in squeeze configs",
                       file, event->start_mark.line + 1, event->start_mark.column + 1);
    case YAML_SCALAR_EVENT:
        node = node_new(SQ_YAML_SCALAR, &event->start_mark, file);
        if (node == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory");
        node->value = strndup((const char *)event->data.scalar.value, event->data.scalar.length);
        node->quoted = event->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                       event->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        *out = node;
        return SQ_OK;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = event->type == YAML_MAPPING_START_EVENT;
        node = node_new(is_map ? SQ_YAML_MAP : SQ_YAML_SEQ, &event->start_mark, file);
        if (node == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory");
        for (;;) {
            sq_yaml_node *key = NULL, *value = NULL;
            if (!yaml_parser_parse(parser, &child))
                SQ_FAIL(SQ_ERR_USAGE, "%s:%zu:%zu: YAML syntax error: %s", file, parser->problem_mark.line + 1,
                        parser->problem_mark.column + 1, parser->problem ? parser->problem : "unknown");
            have_child = 1;
            if (child.type == YAML_SEQUENCE_END_EVENT || child.type == YAML_MAPPING_END_EVENT)
                break;
            SQ_TRY(parse_node(parser, &child, file, is_map ? &key : &value, depth + 1));
            yaml_event_delete(&child);
            have_child = 0;
            if (is_map) {
                if (key->kind != SQ_YAML_SCALAR) {
                    st = sq_fail(SQ_ERR_USAGE, "%s:%d:%d: a map key must be a plain scalar", file, key->line,
                                 key->column);
                    sq_yaml_node_free(key);
                    goto cleanup;
                }
                for (size_t i = 0; i < node->count; i++) {
                    if (strcmp(node->keys[i]->value, key->value) == 0) {
                        st = sq_fail(SQ_ERR_USAGE, "%s:%d:%d: key '%s' appears twice (first at line %d)", file,
                                     key->line, key->column, key->value, node->keys[i]->line);
                        sq_yaml_node_free(key);
                        goto cleanup;
                    }
                }
                if (!yaml_parser_parse(parser, &child)) {
                    sq_yaml_node_free(key);
                    SQ_FAIL(SQ_ERR_USAGE, "%s:%zu:%zu: YAML syntax error: %s", file,
                            parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                            parser->problem ? parser->problem : "unknown");
                }
                have_child = 1;
                st = parse_node(parser, &child, file, &value, depth + 1);
                if (st != SQ_OK) {
                    sq_yaml_node_free(key);
                    goto cleanup;
                }
                yaml_event_delete(&child);
                have_child = 0;
            }
            if (node_append(node, key, value) != 0) {
                sq_yaml_node_free(key);
                sq_yaml_node_free(value);
                SQ_FAIL(SQ_ERR_RUN, "out of memory");
            }
        }
        *out = node;
        node = NULL;
        break;
    }
    default:
        return sq_fail(SQ_ERR_USAGE, "%s:%zu:%zu: unexpected YAML event", file, event->start_mark.line + 1,
                       event->start_mark.column + 1);
    }
cleanup:
    if (have_child)
        yaml_event_delete(&child);
    sq_yaml_node_free(node);
    return st;
}

static sq_status load(sq_yaml_doc *doc, yaml_parser_t *parser)
{
    sq_status st = SQ_OK;
    yaml_event_t event;
    int have_event = 0;
    int done = 0;
    while (!done) {
        if (!yaml_parser_parse(parser, &event))
            SQ_FAIL(SQ_ERR_USAGE, "%s:%zu:%zu: YAML syntax error: %s%s%s", doc->file,
                    parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                    parser->problem ? parser->problem : "unknown", parser->context ? " " : "",
                    parser->context ? parser->context : "");
        have_event = 1;
        switch (event.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (doc->root != NULL)
                SQ_FAIL(SQ_ERR_USAGE, "%s:%zu:1: a config file holds one YAML document", doc->file,
                        event.start_mark.line + 1);
            SQ_TRY(parse_node(parser, &event, doc->file, &doc->root, 0));
            break;
        case YAML_ALIAS_EVENT:
            SQ_TRY(parse_node(parser, &event, doc->file, &doc->root, 0));
            break;
        default: break;
        }
        yaml_event_delete(&event);
        have_event = 0;
    }
cleanup:
    if (have_event)
        yaml_event_delete(&event);
    return st;
}

/* Parses what the parser was set to read, then deletes the parser; the
 * document is freed on failure. */
static sq_status load_document(sq_yaml_doc *doc, yaml_parser_t *parser)
{
    sq_status st = load(doc, parser);
    yaml_parser_delete(parser);
    if (st != SQ_OK)
        sq_yaml_free(doc);
    return st;
}

sq_status sq_yaml_load_file(sq_yaml_doc *doc, const char *path)
{
    sq_status st;
    yaml_parser_t parser;
    FILE *file;
    memset(doc, 0, sizeof *doc);
    doc->file = strdup(path);
    file = fopen(path, "rb");
    if (file == NULL)
        return sq_fail(SQ_ERR_USAGE, "cannot open config %s: %s", path, strerror(errno));
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, file);
    st = load_document(doc, &parser);
    fclose(file);
    return st;
}

sq_status sq_yaml_load_string(sq_yaml_doc *doc, const char *text, const char *name)
{
    yaml_parser_t parser;
    memset(doc, 0, sizeof *doc);
    doc->file = strdup(name);
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    return load_document(doc, &parser);
}

void sq_yaml_free(sq_yaml_doc *doc)
{
    sq_yaml_node_free(doc->root);
    free(doc->file);
    memset(doc, 0, sizeof *doc);
}

/* The item under key in a mapping, or NULL (not a mapping, or no such key). */
static sq_yaml_node *item_of(const sq_yaml_node *map, const char *key)
{
    if (map == NULL || map->kind != SQ_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i]->value, key) == 0)
            return map->items[i];
    return NULL;
}

const sq_yaml_node *sq_yaml_get(const sq_yaml_node *map, const char *key) { return item_of(map, key); }

sq_yaml_node *sq_yaml_get_mutable(sq_yaml_node *map, const char *key) { return item_of(map, key); }

const sq_yaml_node *sq_yaml_get_path(const sq_yaml_node *root, const char *dotted)
{
    char part[128];
    const sq_yaml_node *node = root;
    while (node && *dotted) {
        size_t len = strcspn(dotted, ".");
        snprintf(part, sizeof part, "%.*s", (int)len, dotted);
        node = sq_yaml_get(node, part);
        dotted += len + (dotted[len] == '.');
    }
    return node;
}

sq_status sq_yaml_check_keys(const sq_yaml_node *map, const char *where, const char *const *allowed)
{
    char pos[512];
    if (map == NULL)
        return SQ_OK;
    if (map->kind != SQ_YAML_MAP)
        return sq_fail(SQ_ERR_USAGE, "%s: '%s' must be a mapping of keys to values",
                       sq_yaml_where(map, pos, sizeof pos), where);
    for (size_t i = 0; i < map->count; i++) {
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            known |= strcmp(*a, map->keys[i]->value) == 0;
        if (!known) {
            char list[1024] = "";
            size_t used = 0;
            for (const char *const *a = allowed; *a && used < sizeof list; a++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", a == allowed ? "" : ", ", *a);
            return sq_fail(SQ_ERR_USAGE, "%s: unknown key '%s' in %s (allowed: %s)",
                           sq_yaml_where(map->keys[i], pos, sizeof pos), map->keys[i]->value, where, list);
        }
    }
    return SQ_OK;
}

sq_status sq_yaml_expect(const sq_yaml_node *node, sq_yaml_kind kind, const char *what)
{
    static const char *const names[] = {"a single value", "a mapping", "a list"};
    char pos[512];
    if (node->kind != kind)
        return sq_fail(SQ_ERR_USAGE, "%s: '%s' must be %s", sq_yaml_where(node, pos, sizeof pos), what,
                       names[kind]);
    return SQ_OK;
}

sq_status sq_yaml_as_string(const sq_yaml_node *node, const char *what, const char **out)
{
    sq_status st = sq_yaml_expect(node, SQ_YAML_SCALAR, what);
    if (st == SQ_OK)
        *out = node->value;
    return st;
}

sq_status sq_yaml_as_int(const sq_yaml_node *node, const char *what, int64_t *out)
{
    char pos[512];
    char *end = NULL;
    long long value;
    sq_status st = sq_yaml_expect(node, SQ_YAML_SCALAR, what);
    if (st != SQ_OK)
        return st;
    errno = 0;
    value = strtoll(node->value, &end, 10);
    if (node->quoted || node->value[0] == '\0' || *end != '\0' || errno != 0)
        return sq_fail(SQ_ERR_USAGE, "%s: '%s' must be an integer, not '%s'", sq_yaml_where(node, pos, sizeof pos),
                       what, node->value);
    *out = value;
    return SQ_OK;
}

sq_status sq_yaml_as_double(const sq_yaml_node *node, const char *what, double *out)
{
    char pos[512];
    char *end = NULL;
    double value;
    sq_status st = sq_yaml_expect(node, SQ_YAML_SCALAR, what);
    if (st != SQ_OK)
        return st;
    errno = 0;
    value = strtod(node->value, &end);
    if (node->quoted || node->value[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(value))
        return sq_fail(SQ_ERR_USAGE, "%s: '%s' must be a finite number, not '%s'",
                       sq_yaml_where(node, pos, sizeof pos), what, node->value);
    *out = value;
    return SQ_OK;
}

sq_status sq_yaml_as_bool(const sq_yaml_node *node, const char *what, bool *out)
{
    char pos[512];
    sq_status st = sq_yaml_expect(node, SQ_YAML_SCALAR, what);
    if (st != SQ_OK)
        return st;
    if (!node->quoted && (strcmp(node->value, "true") == 0 || strcmp(node->value, "yes") == 0)) {
        *out = true;
        return SQ_OK;
    }
    if (!node->quoted && (strcmp(node->value, "false") == 0 || strcmp(node->value, "no") == 0)) {
        *out = false;
        return SQ_OK;
    }
    return sq_fail(SQ_ERR_USAGE, "%s: '%s' must be true or false, not '%s'", sq_yaml_where(node, pos, sizeof pos),
                   what, node->value);
}

#define OPTIONAL_GETTER(fn, type, as)                                            \
    sq_status fn(const sq_yaml_node *map, const char *key, type *out)            \
    {                                                                            \
        const sq_yaml_node *node = sq_yaml_get(map, key);                        \
        return node ? as(node, key, out) : SQ_OK;                                \
    }
OPTIONAL_GETTER(sq_yaml_opt_int, int64_t, sq_yaml_as_int)
OPTIONAL_GETTER(sq_yaml_opt_double, double, sq_yaml_as_double)
OPTIONAL_GETTER(sq_yaml_opt_bool, bool, sq_yaml_as_bool)
OPTIONAL_GETTER(sq_yaml_opt_string, const char *, sq_yaml_as_string)

sq_yaml_node *sq_yaml_clone(const sq_yaml_node *node)
{
    sq_yaml_node *copy;
    if (node == NULL)
        return NULL;
    copy = calloc(1, sizeof *copy);
    if (copy == NULL)
        return NULL;
    *copy = *node;
    copy->value = node->value ? strdup(node->value) : NULL;
    copy->keys = NULL;
    copy->items = NULL;
    copy->count = 0;
    for (size_t i = 0; i < node->count; i++) {
        sq_yaml_node *key = node->keys ? sq_yaml_clone(node->keys[i]) : NULL;
        sq_yaml_node *item = sq_yaml_clone(node->items[i]);
        if (node_append(copy, key, item) != 0) {
            sq_yaml_node_free(key);
            sq_yaml_node_free(item);
            sq_yaml_node_free(copy);
            return NULL;
        }
    }
    return copy;
}

sq_yaml_node *sq_yaml_new_scalar(const char *text)
{
    sq_yaml_node *node = node_new(SQ_YAML_SCALAR, NULL, NULL);
    if (node)
        node->value = strdup(text);
    return node;
}

sq_yaml_node *sq_yaml_new_map(void) { return node_new(SQ_YAML_MAP, NULL, NULL); }

sq_status sq_yaml_map_set(sq_yaml_node *map, const char *key, sq_yaml_node *value)
{
    if (map->kind != SQ_YAML_MAP)
        return sq_fail(SQ_ERR_USAGE, "cannot set '%s': parent is not a mapping", key);
    for (size_t i = 0; i < map->count; i++) {
        if (strcmp(map->keys[i]->value, key) == 0) {
            sq_yaml_node_free(map->items[i]);
            map->items[i] = value;
            return SQ_OK;
        }
    }
    if (node_append(map, sq_yaml_new_scalar(key), value) != 0)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    return SQ_OK;
}

/* Emits a scalar in double quotes unless it is plainly safe, so that a value
 * never changes type or meaning on the way through the driver. */
static void emit_scalar(FILE *out, const sq_yaml_node *node)
{
    const char *s = node->value;
    int plain = !node->quoted && s[0] != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("._/-+", *p) != NULL;
    if (plain && (s[0] == '-' && s[1] == '\0'))
        plain = 0;
    if (plain) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else if (c == 0xc2 && (unsigned char)p[1] >= 0x80 && (unsigned char)p[1] <= 0x9f) {
            /* C1 controls: NEL (U+0085) would read back as a line break, the rest not at all */
            fprintf(out, "\\u%04x", (unsigned char)p[1]);
            p++;
        } else if (c == 0xe2 && (unsigned char)p[1] == 0x80 &&
                   ((unsigned char)p[2] == 0xa8 || (unsigned char)p[2] == 0xa9)) {
            /* U+2028 and U+2029 are line breaks to a YAML reader */
            fputs((unsigned char)p[2] == 0xa8 ? "\\L" : "\\P", out);
            p += 2;
        } else if (c == 0xef && (((unsigned char)p[1] == 0xbb && (unsigned char)p[2] == 0xbf) ||
                                 ((unsigned char)p[1] == 0xbf && (unsigned char)p[2] >= 0xbe))) {
            /* U+FEFF, U+FFFE, U+FFFF are not printable in YAML */
            fprintf(out, "\\u%s", (unsigned char)p[1] == 0xbb ? "feff" : (unsigned char)p[2] == 0xbe ? "fffe" : "ffff");
            p += 2;
        } else
            fputc(c, out);
    }
    fputc('"', out);
}

/* A YAML reader takes a key written before its ':' on one line (an implicit
 * key) only up to 1024 characters; a longer one is written as an explicit key,
 * "? key" on its own line and the ':' under the '?', which has no limit. */
enum { IMPLICIT_KEY_LIMIT = 1024 };

static void emit_key(FILE *out, const sq_yaml_node *key, int indent)
{
    char *text = NULL;
    size_t length = 0;
    FILE *buffer = open_memstream(&text, &length);
    if (buffer != NULL) {
        emit_scalar(buffer, key);
        fclose(buffer);
    }
    if (text != NULL && length < IMPLICIT_KEY_LIMIT)
        fputs(text, out);
    else {
        fputs("? ", out);
        emit_scalar(out, key);
        fprintf(out, "\n%*s", indent, "");
    }
    free(text);
    fputc(':', out);
}

static void emit_node(FILE *out, const sq_yaml_node *node, int indent)
{
    if (node->kind == SQ_YAML_SCALAR) {
        fputc(' ', out);
        emit_scalar(out, node);
        fputc('\n', out);
        return;
    }
    if (node->count == 0) {
        fputs(node->kind == SQ_YAML_MAP ? " {}\n" : " []\n", out);
        return;
    }
    fputc('\n', out);
    for (size_t i = 0; i < node->count; i++) {
        fprintf(out, "%*s", indent, "");
        if (node->kind == SQ_YAML_MAP) {
            emit_key(out, node->keys[i], indent);
        } else {
            fputc('-', out);
        }
        emit_node(out, node->items[i], indent + 2);
    }
}

sq_status sq_yaml_emit(FILE *out, const sq_yaml_node *node)
{
    if (node == NULL || node->kind != SQ_YAML_MAP)
        return sq_fail(SQ_ERR_USAGE, "only a mapping can be written as a config");
    if (node->count == 0) /* an empty document would read back as no mapping at all */
        fputs("{}\n", out);
    for (size_t i = 0; i < node->count; i++) {
        emit_key(out, node->keys[i], 0);
        emit_node(out, node->items[i], 2);
    }
    return ferror(out) ? sq_fail(SQ_ERR_RUN, "write error while emitting YAML") : SQ_OK;
}
