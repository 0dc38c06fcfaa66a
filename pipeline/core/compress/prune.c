/* prune.c - structured pruning of FFN channels and MoE experts (prune.h). */
#include "compress/prune.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "util/log.h"

#define MAX_GROUPS 256

/* ---- the record ------------------------------------------------------------ */

static sq_status grow(char ***items, size_t *count, size_t *capacity, char *line)
{
    if (!line)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    if (*count == *capacity) {
        size_t cap = *capacity ? *capacity * 2 : 64;
        char **bigger = realloc(*items, cap * sizeof *bigger);
        if (!bigger) {
            free(line);
            return sq_fail(SQ_ERR_RUN, "out of memory");
        }
        *items = bigger;
        *capacity = cap;
    }
    (*items)[(*count)++] = line;
    return SQ_OK;
}

const char *const sq_pruned_kind_names[SQ_PRUNED_KIND_COUNT] = {"row", "column", "expert", "head", "kv-head"};
const char *const sq_score_kind_names[SQ_SCORE_KIND_COUNT] = {
    "wanda: |W_out column|_2 * rms(activation)", "weight: |W_out column|_2 (no calibration statistics)",
    "routed calibration tokens", "head: sqrt(sum over its o-projection columns of |W_o column|_2^2 * mean(x^2))",
    "head weight: sqrt(sum over its o-projection columns of |W_o column|_2^2) (no calibration statistics)",
    "ssm state: L2 norm of the dimension's B and C weights (forced past the SSM guard)"};

static sq_status record_line(sq_prune_record *record, const char *tensor, sq_pruned_kind what, long index,
                             double score, sq_score_kind kind)
{
    sq_status st = SQ_OK;
    size_t t = 0;
    while (t < record->tensor_count && strcmp(record->tensors[t], tensor) != 0)
        t++;
    if (t == record->tensor_count)
        SQ_TRY(grow(&record->tensors, &record->tensor_count, &record->tensor_capacity, strdup(tensor)));
    if (record->count == record->capacity) {
        size_t cap = record->capacity ? record->capacity * 2 : 256;
        sq_pruned_item *bigger = realloc(record->items, cap * sizeof *bigger);
        if (!bigger)
            SQ_FAIL(SQ_ERR_RUN, "out of memory");
        record->items = bigger;
        record->capacity = cap;
    }
    record->items[record->count++] = (sq_pruned_item){.tensor = (int32_t)t, .kind = (int8_t)what,
                                                       .score_kind = (int8_t)kind, .index = (int32_t)index,
                                                       .score = score};
cleanup:
    return st;
}

static sq_pruned_tensor *find_entry(const sq_prune_record *record, const char *name)
{
    for (size_t i = 0; record && i < record->touched_count; i++)
        if (strcmp(record->touched[i].name, name) == 0)
            return record->touched + i;
    return NULL;
}

const sq_pruned_tensor *sq_prune_source(const sq_prune_record *record, const char *name)
{
    return find_entry(record, name);
}

bool sq_prune_touched(const sq_prune_record *record, const char *name)
{
    return sq_prune_source(record, name) != NULL;
}

/* The entry of a tensor that pruning touches, created (source = its name now)
 * on first touch. */
static sq_status record_touched(sq_prune_record *record, const char *name, sq_pruned_tensor **entry)
{
    sq_pruned_tensor *e = find_entry(record, name);
    if (!e) {
        if (record->touched_count == record->touched_capacity) {
            size_t cap = record->touched_capacity ? record->touched_capacity * 2 : 64;
            sq_pruned_tensor *bigger = realloc(record->touched, cap * sizeof *bigger);
            if (!bigger)
                return sq_fail(SQ_ERR_RUN, "out of memory");
            record->touched = bigger;
            record->touched_capacity = cap;
        }
        e = &record->touched[record->touched_count];
        memset(e, 0, sizeof *e);
        e->name = strdup(name);
        e->source = strdup(name);
        if (!e->name || !e->source) {
            free(e->name);
            free(e->source);
            return sq_fail(SQ_ERR_RUN, "out of memory");
        }
        record->touched_count++;
    }
    if (entry)
        *entry = e;
    return SQ_OK;
}

static void pruned_tensor_free(sq_pruned_tensor *e)
{
    free(e->name);
    free(e->source);
    free(e->cols);
}

/* A tensor removed whole leaves no entry (its name may be reused by a
 * renumbered expert). */
static void record_gone(sq_prune_record *record, const char *name)
{
    sq_pruned_tensor *e = find_entry(record, name);
    if (!e)
        return;
    pruned_tensor_free(e);
    memmove(e, e + 1, (size_t)(record->touched + record->touched_count - (e + 1)) * sizeof *e);
    record->touched_count--;
}

/* Only the input columns in keep (indices of the tensor's current columns)
 * survive: composed with earlier cuts, so cols index the source's columns. */
static sq_status record_kept_cols(sq_pruned_tensor *e, const int *keep, int nkeep)
{
    int *cols = malloc((size_t)nkeep * sizeof *cols + 1);
    if (!cols)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    for (int k = 0; k < nkeep; k++)
        cols[k] = e->cols ? e->cols[keep[k]] : keep[k];
    free(e->cols);
    e->cols = cols;
    e->col_count = nkeep;
    return SQ_OK;
}

/* *name becomes a copy of to (a tensor's or a record entry's name). */
static sq_status replace_name(char **name, const char *to)
{
    char *copy = strdup(to);
    if (!copy)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    free(*name);
    *name = copy;
    return SQ_OK;
}

/* A tensor renamed from -> to keeps its source (and its kept columns). */
static sq_status record_renamed(sq_prune_record *record, const char *from, const char *to)
{
    sq_pruned_tensor *e = NULL;
    sq_status st = record_touched(record, from, &e);
    return st != SQ_OK ? st : replace_name(&e->name, to);
}

void sq_prune_record_free(sq_prune_record *record)
{
    for (size_t i = 0; i < record->tensor_count; i++)
        free(record->tensors[i]);
    for (size_t i = 0; i < record->touched_count; i++)
        pruned_tensor_free(&record->touched[i]);
    free(record->tensors);
    free(record->items);
    free(record->touched);
    memset(record, 0, sizeof *record);
}

/* ---- shrinking tensors ------------------------------------------------------- */

static sq_tensor *find_mut(sq_tensor_set *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->tensors[i].name, name) == 0)
            return &set->tensors[i];
    return NULL;
}

/* Keeps the `keep` indices (ascending) along axis 0 or the last axis of a
 * tensor with its own storage, any dtype. */
static sq_status take(sq_tensor_set *set, sq_tensor *t, int axis, const int *keep, int nkeep)
{
    const size_t es = sq_dtype_size(t->dtype);
    int64_t outer = 1, n, inner = 1;
    unsigned char *data = NULL;
    if (!t->data || t->alias_of)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' shares storage with '%s': squeeze does not prune shared storage",
                       t->name, t->alias_of ? t->alias_of : "?");
    if (axis != 0)
        axis = t->ndim - 1;
    for (int d = 0; d < axis; d++)
        outer *= t->shape[d];
    n = t->shape[axis];
    for (int d = axis + 1; d < t->ndim; d++)
        inner *= t->shape[d];
    data = malloc((size_t)(outer * nkeep * inner) * es + 1);
    if (!data)
        return sq_fail(SQ_ERR_RUN, "out of memory pruning '%s'", t->name);
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < nkeep; k++)
            memcpy(data + ((size_t)(o * nkeep + k) * (size_t)inner) * es,
                   (const unsigned char *)t->data + ((size_t)(o * n + keep[k]) * (size_t)inner) * es,
                   (size_t)inner * es);
    sq_tensor_replace_data(set, t, data);
    t->shape[axis] = nkeep;
    t->nbytes = (size_t)(outer * nkeep * inner) * es;
    return SQ_OK;
}

/* Takes along the same axis in the checkpoint's own set too (buffers stored raw). */
static sq_status take_both(sq_tensor_set *set, sq_tensor_set *original, const char *name, int axis, const int *keep,
                           int nkeep, sq_prune_record *record)
{
    sq_status st = SQ_OK;
    sq_tensor *t = find_mut(set, name);
    sq_pruned_tensor *entry = NULL;
    if (!t)
        return sq_fail(SQ_ERR_INPUT, "pruning: tensor '%s' is not in the model", name);
    SQ_TRY(take(set, t, axis, keep, nkeep));
    if (original && original->count) {
        sq_tensor *o = find_mut(original, name);
        if (o && o->data)
            SQ_TRY(take(original, o, axis, keep, nkeep));
    }
    SQ_TRY(record_touched(record, name, &entry));
    /* rows are outputs: the input statistics still hold; columns are inputs */
    if (axis != 0)
        SQ_TRY(record_kept_cols(entry, keep, nkeep));
cleanup:
    return st;
}

/* ---- choosing -------------------------------------------------------------- */

typedef struct {
    double score;
    int index;
} scored;

/* Lowest score first; ties: the higher index goes first (deterministic). */
static int by_score(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return y->index - x->index;
}

static int by_index(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static long amount(const sq_prune_rule *rule, long total)
{
    return rule->count >= 0 ? rule->count : (long)floor(rule->fraction * (double)total);
}

/* The rule's layers must exist; since a config holds one FFN size and one
 * expert count per model, they must also name every layer the target has. */
static sq_status check_layers(const sq_prune_rule *rule, const sq_model_config *cfg, const bool *has_target,
                              const char *what)
{
    int covered = 0, having = 0;
    bool named[SQ_PRUNE_MAX_LAYERS] = {false};
    for (int i = 0; i < rule->layer_count; i++) {
        if (rule->layers[i] >= cfg->num_layers)
            return sq_fail(SQ_ERR_USAGE, "%.*s:%d:%d: layer %d is out of range: the model has %d layers (0..%d)",
                           rule->file_length, rule->where, rule->layer_line[i], rule->layer_column[i],
                           rule->layers[i], cfg->num_layers, cfg->num_layers - 1);
        if (!has_target[rule->layers[i]])
            return sq_fail(SQ_ERR_USAGE, "%.*s:%d:%d: layer %d has no %s", rule->file_length, rule->where,
                           rule->layer_line[i], rule->layer_column[i], rule->layers[i], what);
        named[rule->layers[i]] = true;
    }
    if (rule->layer_count == 0)
        return SQ_OK;
    for (int l = 0; l < cfg->num_layers; l++) {
        having += has_target[l];
        covered += has_target[l] && named[l];
    }
    if (covered != having)
        return sq_fail(SQ_ERR_USAGE, "%s: 'layers' names %d of the %d layers with %s; the model's config holds one "
                       "size for all of them, so prune every such layer (leave 'layers' out)", rule->where, covered,
                       having, what);
    return SQ_OK;
}

/* ---- FFN channels ---------------------------------------------------------- */

static sq_status prune_ffn(const sq_prune_rule *rule, const sq_family *family, sq_model_config *cfg,
                           sq_tensor_set *set, sq_tensor_set *original, const sq_calib_file *calib,
                           sq_prune_record *record)
{
    sq_status st = SQ_OK;
    sq_ffn_group *groups = NULL;
    scored *scores = NULL;
    int *keep = NULL, *size;
    bool has[SQ_MAX_LAYERS] = {false};
    long remove = 0;
    int f, warned = 0;
    if (!family->ffn_groups || !family->ffn_size)
        return sq_fail(SQ_ERR_USAGE, "%s: the %s family has no FFN channels squeeze can prune", rule->where,
                       family->name);
    size = family->ffn_size(cfg);
    f = *size;
    SQ_TRY(sq_alloc(&groups, MAX_GROUPS, sizeof *groups, "FFN groups"));
    for (int l = 0; l < cfg->num_layers && l < SQ_MAX_LAYERS; l++)
        has[l] = family->ffn_groups(set, cfg, l, groups, MAX_GROUPS) > 0;
    SQ_TRY(check_layers(rule, cfg, has, "FFN"));
    remove = amount(rule, f);
    if (remove >= f)
        SQ_FAIL(SQ_ERR_USAGE, "%s: pruning %ld of the %d FFN channels per layer leaves none", rule->where, remove, f);
    if (remove == 0) {
        sq_info("prune %s: 0 of %d FFN channels per layer (nothing to remove)", rule->where, f);
        goto cleanup;
    }
    SQ_TRY(sq_alloc(&scores, (size_t)f, sizeof *scores, "channel scores"));
    SQ_TRY(sq_alloc(&keep, (size_t)f, sizeof *keep, "kept channels"));
    for (int l = 0; l < cfg->num_layers; l++) {
        int n = family->ffn_groups(set, cfg, l, groups, MAX_GROUPS);
        for (int g = 0; g < n; g++) {
            const sq_ffn_group *G = &groups[g];
            const sq_tensor *out = sq_tensor_set_find(set, G->cols);
            sq_calib_linear linear = {0};
            bool found = false;
            sq_score_kind kind = SQ_SCORE_WANDA;
            if (!out || out->ndim != 2 || out->shape[1] != f)
                SQ_FAIL(SQ_ERR_INPUT, "pruning: '%s' is not a [d, %d] matrix", G->cols, f);
            if (calib)
                SQ_TRY(sq_calib_file_linear(calib, G->cols, &found, &linear));
            if (found && linear.cols != f) {
                sq_calib_linear_free(&linear);
                found = false;
            }
            if (!found) {
                kind = SQ_SCORE_WEIGHT_NORM;
                if (!warned++)
                    sq_warn("prune %s: no calibration statistics for %s%s: its channels are scored by weight norm "
                            "alone", rule->where, G->cols, calib ? "" : " (no --calibration)");
            }
            const float *w = out->data;
            for (int j = 0; j < f; j++) {
                double norm = 0.0;
                for (int64_t r = 0; r < out->shape[0]; r++)
                    norm += (double)w[r * f + j] * w[r * f + j];
                scores[j].index = j;
                scores[j].score = sqrt(norm) * (found ? sqrt((double)linear.mean_sq[j]) : 1.0);
            }
            sq_calib_linear_free(&linear);
            qsort(scores, (size_t)f, sizeof *scores, by_score);
            for (long r = 0; r < remove; r++) {
                for (int t = 0; t < G->row_count; t++)
                    SQ_TRY(record_line(record, G->rows[t], SQ_PRUNED_ROW, scores[r].index, scores[r].score, kind));
                SQ_TRY(record_line(record, G->cols, SQ_PRUNED_COLUMN, scores[r].index, scores[r].score, kind));
            }
            record->channels_removed += (size_t)remove;
            for (int k = 0; k < f - remove; k++)
                keep[k] = scores[remove + k].index;
            qsort(keep, (size_t)(f - remove), sizeof *keep, by_index);
            for (int t = 0; t < G->row_count; t++)
                SQ_TRY(take_both(set, original, G->rows[t], 0, keep, (int)(f - remove), record));
            SQ_TRY(take_both(set, original, G->cols, 1, keep, (int)(f - remove), record));
        }
    }
    *size = (int)(f - remove);
    sq_info("prune %s: %ld of %d FFN channels removed per FFN (ffn size now %d)", rule->where, remove, f, *size);
cleanup:
    free(groups);
    free(scores);
    free(keep);
    return st;
}

/* ---- attention heads ----------------------------------------------------------- */

/* The rows of a q/k/v tensor that stay when the heads in keep (ascending) stay. */
static void head_rows(const int *keep, int nkeep, int hd, int offset, int *rows)
{
    for (int k = 0; k < nkeep; k++)
        for (int r = 0; r < hd; r++)
            rows[k * hd + r] = offset + keep[k] * hd + r;
}

/* Per-head scores of one layer (scored[h].score), from o's columns and the
 * calibrated mean square of its input; *kind says which score it is. */
static sq_status score_heads(const sq_prune_rule *rule, const sq_head_layout *L, const sq_tensor_set *set,
                             const sq_calib_file *calib, scored *heads, sq_score_kind *kind, int *warned)
{
    sq_status st = SQ_OK;
    const sq_tensor *o = sq_tensor_set_find(set, L->o);
    const int a = L->heads * L->head_dim;
    sq_calib_linear linear = {0};
    bool found = false;
    if (!o || o->ndim != 2 || o->shape[1] != a || !o->data)
        return sq_fail(SQ_ERR_INPUT, "pruning heads: '%s' is not a [d, %d] matrix", L->o, a);
    if (calib)
        SQ_TRY(sq_calib_file_linear(calib, L->o, &found, &linear));
    if (found && linear.cols != a) {
        sq_calib_linear_free(&linear);
        found = false;
    }
    *kind = found ? SQ_SCORE_HEAD : SQ_SCORE_HEAD_WEIGHT_NORM;
    if (!found && !(*warned)++)
        sq_warn("prune %s: no calibration statistics for %s%s: its heads are scored by weight norm alone",
                rule->where, L->o, calib ? "" : " (no --calibration)");
    const float *w = o->data;
    for (int h = 0; h < L->heads; h++) {
        double sum = 0.0;
        for (int j = h * L->head_dim; j < (h + 1) * L->head_dim; j++) {
            double norm = 0.0;
            for (int64_t r = 0; r < o->shape[0]; r++)
                norm += (double)w[r * a + j] * w[r * a + j];
            sum += norm * (found ? (double)linear.mean_sq[j] : 1.0);
        }
        heads[h].index = h;
        heads[h].score = sqrt(sum);
    }
cleanup:
    sq_calib_linear_free(&linear);
    return st;
}

/* The query heads and KV groups one rule removes per layer, or a usage error. */
static sq_status heads_to_remove(const sq_prune_rule *rule, const sq_head_layout *L, long *per_group,
                                 long *groups)
{
    const int H = L->heads, KV = L->kv_heads, r = H / KV;
    const bool whole = rule->unit == SQ_HEAD_UNIT_KV_GROUP || r == 1;
    *per_group = *groups = 0;
    if (rule->count > (whole ? KV : H))
        return sq_fail(SQ_ERR_USAGE, "%s: pruning %ld %s per layer, but each layer has %d", rule->where, rule->count,
                       whole ? (r == 1 ? "attention heads" : "KV groups") : "query heads", whole ? KV : H);
    if (whole) {
        const long n = amount(rule, KV);
        if (n >= KV)
            return sq_fail(SQ_ERR_USAGE, "%s: pruning %ld of the %d %s per layer leaves none", rule->where, n, KV,
                           r == 1 ? "attention heads" : "KV groups");
        *groups = n;
        return SQ_OK;
    }
    /* query heads: every group keeps the same number, so the forward stays uniform */
    long n = rule->count;
    if (n < 0) {
        n = (long)floor(rule->fraction * (double)H);
        n -= n % KV;
    } else if (n % KV != 0)
        return sq_fail(SQ_ERR_USAGE, "%s: pruning %ld query heads cannot keep the %d KV groups balanced: the count "
                       "must be a multiple of %d (each group of %d query heads loses the same number), or say "
                       "unit: kv-groups", rule->where, n, KV, KV, r);
    if (n / KV >= r)
        return sq_fail(SQ_ERR_USAGE, "%s: pruning %ld of the %d query heads per layer leaves a KV group with none "
                       "(%d groups of %d); to remove whole groups say unit: kv-groups", rule->where, n, H, KV, r);
    *per_group = n / KV;
    return SQ_OK;
}

static sq_status prune_heads(const sq_prune_rule *rule, const sq_family *family, sq_model_config *cfg,
                             sq_tensor_set *set, sq_tensor_set *original, const sq_calib_file *calib,
                             sq_prune_record *record)
{
    sq_status st = SQ_OK;
    bool has[SQ_MAX_LAYERS] = {false};
    sq_head_layout L0 = {0}, L;
    scored *heads = NULL, *groups = NULL;
    int *keep_q = NULL, *keep_kv = NULL, *rows = NULL, any = -1, warned = 0;
    long per_group = 0, drop_groups = 0;
    int H, KV, r, newH, newKV;
    if (!family->head_layout || !family->set_heads)
        return sq_fail(SQ_ERR_USAGE, "%s: the %s family has no attention heads squeeze can prune", rule->where,
                       family->name);
    for (int l = 0; l < cfg->num_layers && l < SQ_MAX_LAYERS; l++)
        if ((has[l] = family->head_layout(set, cfg, l, &L)) && any < 0)
            any = l;
    SQ_TRY(check_layers(rule, cfg, has, "attention"));
    if (any < 0)
        return sq_fail(SQ_ERR_USAGE, "%s: the model has no attention layers", rule->where);
    family->head_layout(set, cfg, any, &L0);
    H = L0.heads, KV = L0.kv_heads;
    if (H < 1 || KV < 1 || H % KV || L0.head_dim < 1 || (L0.fused && KV != H))
        return sq_fail(SQ_ERR_INPUT, "pruning heads: %d heads in %d KV groups of size %d is not a layout squeeze "
                       "prunes", H, KV, L0.head_dim);
    r = H / KV;
    SQ_TRY(heads_to_remove(rule, &L0, &per_group, &drop_groups));
    newKV = KV - (int)drop_groups;
    newH = drop_groups ? newKV * r : H - (int)per_group * KV;
    if (newH == H) {
        sq_info("prune %s: 0 of %d heads per layer (nothing to remove)", rule->where, H);
        goto cleanup;
    }
    SQ_TRY(sq_alloc(&heads, (size_t)H, sizeof *heads, "head scores"));
    SQ_TRY(sq_alloc(&groups, (size_t)KV, sizeof *groups, "group scores"));
    SQ_TRY(sq_alloc(&keep_q, (size_t)H, sizeof *keep_q, "kept heads"));
    SQ_TRY(sq_alloc(&keep_kv, (size_t)KV, sizeof *keep_kv, "kept groups"));
    SQ_TRY(sq_alloc(&rows, (size_t)3 * H * L0.head_dim, sizeof *rows, "kept rows"));
    for (int l = 0; l < cfg->num_layers; l++) {
        sq_score_kind kind = SQ_SCORE_HEAD;
        int nq = 0, nkv = 0;
        if (!has[l])
            continue;
        family->head_layout(set, cfg, l, &L);
        const int hd = L.head_dim;
        SQ_TRY(score_heads(rule, &L, set, calib, heads, &kind, &warned));
        if (drop_groups) {
            /* whole groups: a group's score is the root of its heads' squared scores */
            for (int g = 0; g < KV; g++) {
                double sum = 0.0;
                for (int h = g * r; h < (g + 1) * r; h++)
                    sum += heads[h].score * heads[h].score;
                groups[g] = (scored){.score = sqrt(sum), .index = g};
            }
            qsort(groups, (size_t)KV, sizeof *groups, by_score);
            for (long x = 0; x < drop_groups; x++) {
                const int g = groups[x].index;
                for (int h = g * r; h < (g + 1) * r; h++) {
                    SQ_TRY(record_line(record, L.q, SQ_PRUNED_HEAD, h, heads[h].score, kind));
                    SQ_TRY(record_line(record, L.o, SQ_PRUNED_HEAD, h, heads[h].score, kind));
                }
                if (!L.fused) {
                    SQ_TRY(record_line(record, L.k, SQ_PRUNED_KV_HEAD, g, groups[x].score, kind));
                    SQ_TRY(record_line(record, L.v, SQ_PRUNED_KV_HEAD, g, groups[x].score, kind));
                }
            }
            for (int g = 0; g < newKV; g++)
                keep_kv[nkv++] = groups[drop_groups + g].index;
            qsort(keep_kv, (size_t)nkv, sizeof *keep_kv, by_index);
            for (int g = 0; g < nkv; g++)
                for (int h = keep_kv[g] * r; h < (keep_kv[g] + 1) * r; h++)
                    keep_q[nq++] = h;
        } else {
            /* the lowest per_group query heads of every group; k/v stay */
            for (int g = 0; g < KV; g++) {
                scored *in = heads + g * r;
                qsort(in, (size_t)r, sizeof *in, by_score);
                for (long x = 0; x < per_group; x++) {
                    SQ_TRY(record_line(record, L.q, SQ_PRUNED_HEAD, in[x].index, in[x].score, kind));
                    SQ_TRY(record_line(record, L.o, SQ_PRUNED_HEAD, in[x].index, in[x].score, kind));
                }
                for (int x = (int)per_group; x < r; x++)
                    keep_q[nq++] = in[x].index;
            }
            qsort(keep_q, (size_t)nq, sizeof *keep_q, by_index);
            for (int g = 0; g < KV; g++)
                keep_kv[nkv++] = g;
        }
        record->heads_removed += (size_t)(H - nq);
        /* o loses the removed heads' columns; q (and k, v) their rows */
        head_rows(keep_q, nq, hd, 0, rows);
        SQ_TRY(take_both(set, original, L.o, 1, rows, nq * hd, record));
        if (L.fused) {
            /* q | k | v in one tensor: the kept heads' rows of each part (KV == H) */
            head_rows(keep_q, nq, hd, 0, rows);
            head_rows(keep_q, nq, hd, H * hd, rows + nq * hd);
            head_rows(keep_q, nq, hd, 2 * H * hd, rows + 2 * nq * hd);
            SQ_TRY(take_both(set, original, L.q, 0, rows, 3 * nq * hd, record));
        } else {
            SQ_TRY(take_both(set, original, L.q, 0, rows, nq * hd, record));
            if (nkv < KV) {
                head_rows(keep_kv, nkv, hd, 0, rows);
                SQ_TRY(take_both(set, original, L.k, 0, rows, nkv * hd, record));
                SQ_TRY(take_both(set, original, L.v, 0, rows, nkv * hd, record));
            }
        }
    }
    family->set_heads(cfg, newH, L0.fused ? newH : newKV);
    sq_info("prune %s: %d of %d attention heads removed per layer (%s; now %d heads, %d KV groups)", rule->where,
            H - newH, H, drop_groups ? (r == 1 ? "whole heads with their k/v" : "whole KV groups")
                                     : "query heads, the same number per KV group",
            newH, L0.fused ? newH : newKV);
cleanup:
    free(heads);
    free(groups);
    free(keep_q);
    free(keep_kv);
    free(rows);
    return st;
}

/* ---- SSM dimensions, forced past the guard ------------------------------------- */

/* Score of SSM dimension j: inner channels like FFN channels through the
 * output projection (Wanda with calibration, else its column norm); state
 * dimensions by the L2 norm of every 2-D weight slice that carries them. */
static sq_status score_ssm(const sq_prune_rule *rule, const sq_ssm_layout *L, const sq_tensor_set *set,
                           const sq_calib_file *calib, scored *s, sq_score_kind *kind, int *warned)
{
    sq_status st = SQ_OK;
    sq_calib_linear linear = {0};
    bool found = false;
    const int n = L->size;
    for (int j = 0; j < n; j++)
        s[j] = (scored){.score = 0.0, .index = j};
    if (L->out[0]) {
        const sq_tensor *o = sq_tensor_set_find(set, L->out);
        if (!o || o->ndim != 2 || o->shape[1] != n || !o->data)
            return sq_fail(SQ_ERR_INPUT, "pruning: '%s' is not a [d, %d] matrix", L->out, n);
        if (calib)
            SQ_TRY(sq_calib_file_linear(calib, L->out, &found, &linear));
        found = found && linear.cols == n;
        *kind = found ? SQ_SCORE_WANDA : SQ_SCORE_WEIGHT_NORM;
        if (!found && !(*warned)++)
            sq_warn("prune %s: no calibration statistics for %s: its channels are scored by weight norm alone",
                    rule->where, L->out);
        const float *w = o->data;
        for (int j = 0; j < n; j++) {
            double norm = 0.0;
            for (int64_t r = 0; r < o->shape[0]; r++)
                norm += (double)w[r * n + j] * w[r * n + j];
            s[j].score = sqrt(norm) * (found ? sqrt((double)linear.mean_sq[j]) : 1.0);
        }
        goto cleanup;
    }
    *kind = SQ_SCORE_SSM_STATE;
    for (int i = 0; i < L->count; i++) {
        const sq_ssm_slice *S = &L->slices[i];
        const sq_tensor *t = sq_tensor_set_find(set, S->tensor);
        if (!t || !t->data || t->ndim != 2)
            continue;
        const int64_t rows = t->shape[0], cols = t->shape[1];
        const float *w = t->data;
        for (int o = 0; o < S->offset_count; o++)
            for (int j = 0; j < n; j++) {
                const int64_t at = S->offsets[o] + j;
                for (int64_t k = 0; k < (S->axis == 0 ? cols : rows); k++) {
                    const double x = S->axis == 0 ? w[at * cols + k] : w[k * cols + at];
                    s[j].score += x * x;
                }
            }
    }
    for (int j = 0; j < n; j++)
        s[j].score = sqrt(s[j].score);
cleanup:
    sq_calib_linear_free(&linear);
    return st;
}

static sq_status prune_ssm(const sq_prune_rule *rule, const sq_family *family, sq_model_config *cfg,
                           sq_tensor_set *set, sq_tensor_set *original, const sq_calib_file *calib,
                           sq_prune_record *record)
{
    sq_status st = SQ_OK;
    const bool state = rule->target == SQ_PRUNE_SSM_STATE;
    const char *what = state ? "SSM state dimensions" : "SSM inner channels";
    bool has[SQ_MAX_LAYERS] = {false};
    sq_ssm_layout *L = NULL;
    scored *s = NULL;
    int *keep = NULL, n, warned = 0;
    bool *gone = NULL;
    long remove;
    if (!family->ssm_layout || !family->ssm_size)
        return sq_fail(SQ_ERR_USAGE, "%s: squeeze implements no pruning of the %s family's SSM (force: true lifts "
                       "the guard only)", rule->where, family->name);
    SQ_TRY(sq_alloc(&L, 1, sizeof *L, "SSM layout"));
    for (int l = 0; l < cfg->num_layers && l < SQ_MAX_LAYERS; l++)
        has[l] = true;
    SQ_TRY(check_layers(rule, cfg, has, "SSM"));
    {
        const char *why = family->ssm_layout(set, cfg, 0, state, L);
        if (why)
            SQ_FAIL(SQ_ERR_USAGE, "%s: force: true, but %s", rule->where, why);
    }
    n = L->size;
    remove = amount(rule, n);
    if (remove >= n)
        SQ_FAIL(SQ_ERR_USAGE, "%s: pruning %ld of the %d %s per layer leaves none", rule->where, remove, n, what);
    if (rule->target == SQ_PRUNE_SSM_CONV)
        sq_info("prune %s: the conv is depthwise, one channel per inner channel: ssm-conv removes inner channels",
                rule->where);
    sq_warn("%s: force: true overrides the SSM guard: pruning %ld of %d %s per layer (%s)", rule->where, remove, n,
            what, family->ssm_guard);
    if (remove == 0)
        goto cleanup;
    SQ_TRY(sq_alloc(&s, (size_t)n, sizeof *s, "SSM scores"));
    SQ_TRY(sq_alloc(&keep, (size_t)8 * n + 64, sizeof *keep, "kept SSM indices"));
    SQ_TRY(sq_alloc(&gone, (size_t)8 * n + 64, sizeof *gone, "removed SSM indices"));
    for (int l = 0; l < cfg->num_layers; l++) {
        sq_score_kind kind = SQ_SCORE_SSM_STATE;
        const char *why = family->ssm_layout(set, cfg, l, state, L);
        if (why || L->size != n)
            SQ_FAIL(SQ_ERR_INPUT, "pruning: layer %d's SSM differs from layer 0's (%s)", l, why ? why : "size");
        SQ_TRY(score_ssm(rule, L, set, calib, s, &kind, &warned));
        qsort(s, (size_t)n, sizeof *s, by_score);
        for (int i = 0; i < L->count; i++) {
            const sq_ssm_slice *S = &L->slices[i];
            sq_tensor *t = find_mut(set, S->tensor);
            int64_t len;
            int nkeep = 0;
            if (!t)
                SQ_FAIL(SQ_ERR_INPUT, "pruning: tensor '%s' is not in the model", S->tensor);
            len = t->shape[S->axis == 0 ? 0 : t->ndim - 1];
            if (len > 8 * (int64_t)n + 64)
                SQ_FAIL(SQ_ERR_INPUT, "pruning: '%s' is larger than its SSM dimension allows", S->tensor);
            memset(gone, 0, (size_t)len * sizeof *gone);
            for (long r = 0; r < remove; r++)
                for (int o = 0; o < S->offset_count; o++) {
                    const int64_t at = S->offsets[o] + s[r].index;
                    if (at >= len)
                        SQ_FAIL(SQ_ERR_INPUT, "pruning: '%s' has %lld along its %s axis, fewer than the SSM needs",
                                S->tensor, (long long)len, S->axis == 0 ? "first" : "last");
                    gone[at] = true;
                    SQ_TRY(record_line(record, S->tensor, S->axis == 0 ? SQ_PRUNED_ROW : SQ_PRUNED_COLUMN, (long)at,
                                       s[r].score, kind));
                }
            for (int64_t k = 0; k < len; k++)
                if (!gone[k])
                    keep[nkeep++] = (int)k;
            SQ_TRY(take_both(set, original, S->tensor, S->axis == 0 ? 0 : 1, keep, nkeep, record));
        }
    }
    *family->ssm_size(cfg, state) = (int)(n - remove);
    record->ssm_removed += (size_t)remove * (size_t)cfg->num_layers;
    {
        const size_t used = strlen(record->forced);
        snprintf(record->forced + used, sizeof record->forced - used, "%s%s: %s %ld of %d %s per layer",
                 used ? "; " : "", rule->where, sq_prune_target_name(rule->target), remove, n, what);
    }
cleanup:
    free(L);
    free(s);
    free(keep);
    free(gone);
    return st;
}

/* ---- MoE experts ----------------------------------------------------------- */

static void pattern_name(char *buf, size_t size, const char *pattern, int layer, int expert)
{
    /* the patterns are the family's data: the first %d is the layer, the second the expert */
    const char *a = strstr(pattern, "%d"), *b = a ? strstr(a + 2, "%d") : NULL;
    if (!a)
        snprintf(buf, size, "%s", pattern);
    else if (!b)
        snprintf(buf, size, "%.*s%d%s", (int)(a - pattern), pattern, layer, a + 2);
    else
        snprintf(buf, size, "%.*s%d%.*s%d%s", (int)(a - pattern), pattern, layer, (int)(b - a - 2), a + 2, expert,
                 b + 2);
}

/* Removes tensor i from set and input (keeping them aligned). */
static void remove_tensor(sq_tensor_set *set, sq_input_tensor *input, size_t i)
{
    if (input)
        memmove(&input[i], &input[i + 1], (set->count - i - 1) * sizeof *input);
    sq_tensor_set_remove(set, i);
}

static sq_status rename_tensor(sq_tensor_set *set, const char *from, const char *to)
{
    sq_tensor *t = find_mut(set, from);
    return t ? replace_name(&t->name, to) : SQ_OK;
}

static sq_status prune_experts(const sq_prune_rule *rule, const sq_family *family, sq_model_config *cfg,
                               sq_tensor_set *set, sq_tensor_set *original, sq_input_tensor *input,
                               const sq_calib_file *calib, sq_prune_record *record)
{
    sq_status st = SQ_OK;
    int64_t *layers = NULL, *tokens = NULL;
    int ndim = 0;
    uint64_t dims[8] = {0}, ldims[8] = {0};
    hid_t routing = -1;
    bool has[SQ_MAX_LAYERS] = {false};
    const int E = cfg->num_experts;
    long remove;
    char name[SQ_PRUNE_NAME_LEN], to[SQ_PRUNE_NAME_LEN];
    if (!family->expert_tensors || cfg->moe_layer_count == 0 || E <= 0)
        return sq_fail(SQ_ERR_USAGE, "%s: the model (%s) has no mixture-of-experts layers to prune", rule->where,
                       family->name);
    if (!calib)
        return sq_fail(SQ_ERR_USAGE, "%s: pruning experts scores them by the routing counts of a calibration "
                       "artifact: pass --calibration (squeeze-calibrate records routing/expert_tokens)", rule->where);
    for (int i = 0; i < cfg->moe_layer_count; i++)
        if (cfg->moe_layers[i] >= 0 && cfg->moe_layers[i] < SQ_MAX_LAYERS)
            has[cfg->moe_layers[i]] = true;
    SQ_TRY(check_layers(rule, cfg, has, "mixture-of-experts block"));
    remove = amount(rule, E);
    if (remove >= E)
        SQ_FAIL(SQ_ERR_USAGE, "%s: pruning %ld of the %d experts per layer leaves none", rule->where, remove, E);
    if (E - remove < cfg->top_k)
        SQ_FAIL(SQ_ERR_USAGE, "%s: pruning %ld of the %d experts leaves %ld, fewer than top-k = %d: every token is "
                "routed to %d experts", rule->where, remove, E, E - remove, cfg->top_k, cfg->top_k);
    if (remove == 0)
        goto cleanup;
    routing = H5Gopen2(calib->file, "calibration/routing", H5P_DEFAULT);
    if (routing < 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s has no calibration/routing group: calibrate this model again", calib->path);
    SQ_TRY(sq_h5_read_dataset(routing, "layers", H5T_NATIVE_INT64, (void **)&layers, &ndim, ldims));
    SQ_TRY(sq_h5_read_dataset(routing, "expert_tokens", H5T_NATIVE_INT64, (void **)&tokens, &ndim, dims));
    if (ndim != 2 || dims[1] != (uint64_t)E || dims[0] != ldims[0])
        SQ_FAIL(SQ_ERR_INPUT, "%s: routing/expert_tokens is not [%llu, %d]", calib->path,
                (unsigned long long)ldims[0], E);
    for (int m = 0; m < cfg->moe_layer_count; m++) {
        const int l = cfg->moe_layers[m];
        scored s[SQ_MAX_LAYERS];
        int keep[SQ_MAX_LAYERS], removed[SQ_MAX_LAYERS], row = -1;
        if (E > SQ_MAX_LAYERS)
            SQ_FAIL(SQ_ERR_INPUT, "pruning: %d experts is more than squeeze prunes (%d)", E, SQ_MAX_LAYERS);
        for (uint64_t r = 0; r < ldims[0]; r++)
            if (layers[r] == l)
                row = (int)r;
        if (row < 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s: no routing counts for layer %d", calib->path, l);
        for (int e = 0; e < E; e++) {
            s[e].index = e;
            s[e].score = (double)tokens[(size_t)row * E + e];
        }
        qsort(s, (size_t)E, sizeof *s, by_score);
        for (long r = 0; r < remove; r++)
            removed[r] = s[r].index;
        for (int k = 0; k < E - remove; k++)
            keep[k] = s[remove + k].index;
        qsort(removed, (size_t)remove, sizeof *removed, by_index);
        qsort(keep, (size_t)(E - remove), sizeof *keep, by_index);
        /* the removed experts go (their bytes leave the model), then the kept ones are renumbered upwards */
        for (long r = 0; r < remove; r++) {
            double count = (double)tokens[(size_t)row * E + removed[r]];
            for (const char *const *p = family->expert_tensors; *p; p++) {
                pattern_name(name, sizeof name, *p, l, removed[r]);
                for (size_t i = 0; i < set->count; i++)
                    if (strcmp(set->tensors[i].name, name) == 0) {
                        SQ_TRY(record_line(record, name, SQ_PRUNED_EXPERT, removed[r], count, SQ_SCORE_ROUTED_TOKENS));
                        record->removed_bytes += input ? input[i].bytes : set->tensors[i].nbytes;
                        record_gone(record, name);
                        remove_tensor(set, input, i);
                        break;
                    }
            }
            for (const char *const *p = family->router_tensors; p && *p; p++) {
                pattern_name(name, sizeof name, *p, l, 0);
                if (sq_tensor_set_find(set, name))
                    SQ_TRY(record_line(record, name, SQ_PRUNED_ROW, removed[r], count, SQ_SCORE_ROUTED_TOKENS));
            }
            record->experts_removed++;
        }
        for (int k = 0; k < E - remove; k++)
            for (const char *const *p = family->expert_tensors; *p && keep[k] != k; p++) {
                pattern_name(name, sizeof name, *p, l, keep[k]);
                pattern_name(to, sizeof to, *p, l, k);
                SQ_TRY(rename_tensor(set, name, to));
                SQ_TRY(record_renamed(record, name, to));
            }
        for (const char *const *p = family->router_tensors; p && *p; p++) {
            pattern_name(name, sizeof name, *p, l, 0);
            if (sq_tensor_set_find(set, name))
                SQ_TRY(take_both(set, original, name, 0, keep, (int)(E - remove), record));
        }
    }
    cfg->num_experts = (int)(E - remove);
    sq_info("prune %s: %ld of %d experts removed per MoE layer by routing counts (%d experts, top-k %d)", rule->where,
            remove, E, cfg->num_experts, cfg->top_k);
cleanup:
    if (routing >= 0)
        H5Gclose(routing);
    free(layers);
    free(tokens);
    return st;
}

/* ---- the rules in order ------------------------------------------------------ */

sq_status sq_prune_apply(const sq_prune_spec *spec, const sq_family *family, sq_model_config *cfg,
                         sq_tensor_set *set, sq_tensor_set *original, sq_input_tensor *input,
                         const sq_calib_file *calib, sq_prune_record *record)
{
    sq_status st = SQ_OK;
    memset(record, 0, sizeof *record);
    for (size_t i = 0; i < spec->count; i++) {
        const sq_prune_rule *rule = &spec->rules[i];
        if (sq_prune_target_is_ssm(rule->target)) {
            if (!family->ssm_guard)
                SQ_FAIL(SQ_ERR_USAGE, "%s: prune target %s: the %s family has no SSM block", rule->where,
                        sq_prune_target_name(rule->target), family->name);
            if (!rule->force)
                SQ_FAIL(SQ_ERR_USAGE, "%s: refusing to prune %s of the %s family's SSM: %s. Say force: true to "
                        "override", rule->where, sq_prune_target_name(rule->target), family->name, family->ssm_guard);
            SQ_TRY(prune_ssm(rule, family, cfg, set, original, calib, record));
            continue;
        }
        if (rule->target == SQ_PRUNE_FFN_CHANNELS)
            SQ_TRY(prune_ffn(rule, family, cfg, set, original, calib, record));
        else if (rule->target == SQ_PRUNE_HEADS)
            SQ_TRY(prune_heads(rule, family, cfg, set, original, calib, record));
        else
            SQ_TRY(prune_experts(rule, family, cfg, set, original, input, calib, record));
    }
    if (spec->count && family->validate)
        SQ_TRY(family->validate(set, cfg));
cleanup:
    return st;
}
