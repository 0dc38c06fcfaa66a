/* check_data.c - a variant's evaluation and calibration data: the file is
 * there, reads through the tokenizer, and holds at least one window (a window
 * predicts offset tokens ahead); the evaluation text is not mostly unknown to
 * the tokenizer (evaluate's rule, metrics/unknown_tokens.h).  Each file is
 * read once for all variants. */
#include "checks.h"
#include "proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics/unknown_tokens.h"

static void check_one(const sq_run_config *cfg, const sq_yaml_node *root, const char *which, const sq_data_spec *spec,
                      const sq_tokenizer *tok, int vocab, int window, int needed, const char *window_option,
                      sq_check_data_cache *cache, sq_check_result *r)
{
    char pos[600];
    if (spec->path == NULL) {
        sq_check_problem(r, "%sdata.%s is not set: give the text (or token file) the %s stage reads",
                         sq_check_where(root, "data", pos, sizeof pos), which,
                         strcmp(which, "evaluation") == 0 ? "evaluate" : "calibrate");
        return;
    }
    char *key = sq_strdupf("%s|%s|%s|%g|%g", cfg->data.tokenizer, spec->path, spec->format, spec->start, spec->end);
    sq_check_data_entry *hit = NULL;
    for (size_t i = 0; i < cache->count && !hit; i++)
        if (strcmp(cache->entries[i].key, key) == 0)
            hit = &cache->entries[i];
    if (hit == NULL) {
        sq_check_data_entry entry = {key, 0, 0, false};
        char option[64];
        snprintf(option, sizeof option, "data.%s", which);
        if (access(spec->path, R_OK) != 0) {
            sq_check_problem(r, "%sdata.%s file %s: %s", sq_check_where(root, option, pos, sizeof pos), which,
                             spec->path, strerror(errno));
        } else if (tok) {
            int32_t *tokens = NULL;
            sq_status st = sq_data_load_tokens(spec, tok, vocab, &tokens, &entry.tokens);
            if (st != SQ_OK) {
                sq_check_problem(r, "%sdata.%s cannot be read: %s", sq_check_where(root, option, pos, sizeof pos),
                                 which, sq_error_message());
            } else {
                sq_tokenizer_info info;
                sq_tokenizer_get_info(tok, &info);
                entry.ok = true;
                entry.unknown = sq_unknown_token_count(tokens, entry.tokens, info.unk_id);
                char warning[1024];
                if (strcmp(which, "evaluation") == 0 &&
                    sq_unknown_token_warning(entry.unknown, entry.tokens, info.unk_id, cfg->data.tokenizer, spec->path,
                                             warning, sizeof warning)[0])
                    sq_check_warning(r, "%s%s", sq_check_where(root, option, pos, sizeof pos), warning);
            }
            sq_error_clear();
            free(tokens);
        }
        cache->entries = realloc(cache->entries, (cache->count + 1) * sizeof *cache->entries);
        cache->entries[cache->count++] = entry;
        hit = &cache->entries[cache->count - 1];
        if (hit->ok)
            sq_check_note(r, "data.%s %s: %zu tokens", which, spec->path, hit->tokens);
    } else {
        free(key);
    }
    if (hit->ok && hit->tokens < (size_t)needed)
        sq_check_problem(r, "%sdata.%s %s has %zu tokens, shorter than one window (%s = %d needs %d tokens): use "
                         "more text or a shorter window", sq_check_where(root, window_option, pos, sizeof pos),
                         which, spec->path, hit->tokens, window_option, window, needed);
}

void sq_check_data(const sq_run_config *cfg, const sq_yaml_node *root, const sq_tokenizer *tok, int vocab,
                   bool with_calibration, sq_check_data_cache *cache, sq_check_result *r)
{
    check_one(cfg, root, "evaluation", &cfg->data.evaluation, tok, vocab, cfg->evaluate.window_length,
              cfg->evaluate.window_length + cfg->evaluate.offset, "evaluate.window_length", cache, r);
    if (with_calibration)
        check_one(cfg, root, "calibration", &cfg->data.calibration, tok, vocab, cfg->calibrate.window_length,
                  cfg->calibrate.window_length, "calibrate.window_length", cache, r);
}

void sq_check_data_cache_free(sq_check_data_cache *cache)
{
    for (size_t i = 0; i < cache->count; i++)
        free(cache->entries[i].key);
    free(cache->entries);
    cache->entries = NULL;
    cache->count = 0;
}
