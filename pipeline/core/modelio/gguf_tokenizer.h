/* gguf_tokenizer.h - a HF tokenizer.json as GGUF's tokenizer.ggml.* metadata
 * (private to modelio/gguf_*.c). */
#ifndef SQ_MODELIO_GGUF_TOKENIZER_H
#define SQ_MODELIO_GGUF_TOKENIZER_H

#include "gguf/gguf_file.h"

/* Writes tokenizer.ggml.model "gpt2" (byte-level BPE), .pre, .tokens,
 * .token_type, .merges, .bos_token_id/.eos_token_id (when the tokenizer has
 * such special tokens) and .add_bos_token for the tokenizer.json at path, with
 * the vocabulary padded to vocab_size by "[PADn]" tokens of type UNUSED (as
 * convert_hf_to_gguf.py pads).  path NULL, "" or "bytes": "no_vocab". */
sq_status sq_gguf_write_tokenizer(const char *path, int vocab_size, sq_gguf_file *out);

#endif
