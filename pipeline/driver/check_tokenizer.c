/* check_tokenizer.c - a variant's tokenizer against the model: it loads, its
 * ids fit the embedding, it passes its own rules against the model (a
 * llama2.c tokenizer.bin lists exactly its rows), and a file that declares
 * another size than it holds is warned about. */
#include "checks.h"

sq_tokenizer *sq_check_tokenizer(const sq_run_config *cfg, const sq_yaml_node *root, const sq_loaded_model *model,
                                 sq_check_result *r)
{
    char pos[600];
    sq_tokenizer *tok = NULL;
    int vocab = model ? model->config.vocab_size : 0;

    if (sq_tokenizer_load(cfg->data.tokenizer, &tok) != SQ_OK) {
        sq_check_problem(r, "%sdata.tokenizer cannot be loaded: %s",
                         sq_check_where(root, "data.tokenizer", pos, sizeof pos), sq_error_message());
        sq_error_clear();
        return NULL;
    }
    if (model && sq_tokenizer_vocab_size(tok) > vocab) {
        sq_check_problem(r, "%sdata.tokenizer %s has a vocabulary of %d ids but the model's embedding has %d rows: "
                         "ids at or above %d would index past it; use the tokenizer the model was trained with",
                         sq_check_where(root, "data.tokenizer", pos, sizeof pos), cfg->data.tokenizer,
                         sq_tokenizer_vocab_size(tok), vocab, vocab);
    } else if (model && sq_tokenizer_check_model(tok, vocab, cfg->model.checkpoint) != SQ_OK) {
        sq_check_problem(r, "%s%s", sq_check_where(root, "data.tokenizer", pos, sizeof pos), sq_error_message());
        sq_error_clear();
    } else {
        /* a file that declares another size than it holds was written for another model or cut short:
         * the ids still fit, so only the evaluation would show it (evaluate's unigram check) */
        sq_tokenizer_info info;
        sq_tokenizer_get_info(tok, &info);
        if (info.declared_size > 0 && info.entries > 0 && info.declared_size != info.entries)
            sq_check_warning(r, "%sdata.tokenizer %s declares %d tokens but holds %d; make sure it is the tokenizer "
                             "the model was trained with (evaluate warns when the model reads the text worse than "
                             "its own token counts do)", sq_check_where(root, "data.tokenizer", pos, sizeof pos),
                             cfg->data.tokenizer, info.declared_size, info.entries);
    }
    return tok;
}
