/* llama2c_encode_ref.c - encode texts with llama2.c's own tokenizer code, for
 * the tokenizer.bin goldens (llama2c_goldens.sh builds it against a checkout
 * of https://github.com/karpathy/llama2.c; its run.c is included, not copied).
 *
 *   llama2c_encode_ref TOKENIZER.BIN VOCAB_SIZE NAME TEXT
 *
 * run.c's merge loop rescans every pair after each merge (quadratic), so the
 * text is encoded in chunks: whole lines up to 1024 bytes, a longer line in
 * 1024-byte pieces.  For each chunk it prints
 *   chunk NAME <byte offset> <byte length> <ids> <sha256 of the decoded text>
 *   <ids separated by spaces>
 * for encode(chunk, bos=1, eos=0), the decoded text being decode(prev, id) of
 * every id concatenated (prev = -1 for the first). */
#define main llama2c_run_main
#include "run.c"
#undef main

#include <openssl/evp.h>

#define CHUNK 1024

static void emit(Tokenizer *t, const char *name, const char *text, long offset, long length)
{
    char *chunk = malloc((size_t)length + 1);
    memcpy(chunk, text + offset, (size_t)length);
    chunk[length] = '\0';
    int *tokens = malloc(((size_t)length + 3) * sizeof(int));
    int count = 0;
    encode(t, chunk, 1, 0, tokens, &count);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (int i = 0; i < count; i++) {
        char *piece = decode(t, i ? tokens[i - 1] : -1, tokens[i]);
        EVP_DigestUpdate(md, piece, strlen(piece));
    }
    unsigned char digest[32];
    EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    printf("chunk %s %ld %ld %d ", name, offset, length, count);
    for (int i = 0; i < 32; i++)
        printf("%02x", digest[i]);
    printf("\n");
    for (int i = 0; i < count; i++)
        printf(i ? " %d" : "%d", tokens[i]);
    printf("\n");
    free(tokens);
    free(chunk);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s tokenizer.bin vocab_size name text\n", argv[0]);
        return 2;
    }
    Tokenizer t;
    build_tokenizer(&t, argv[1], atoi(argv[2]));
    FILE *f = fopen(argv[4], "rb");
    if (!f)
        return 3;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    if (fread(text, 1, (size_t)n, f) != (size_t)n)
        return 3;
    text[n] = '\0';
    fclose(f);
    long start = 0, pos = 0;
    while (pos < n) {
        const char *newline = memchr(text + pos, '\n', (size_t)(n - pos));
        long line_end = newline ? (long)(newline - text) + 1 : n;
        if (line_end - start > CHUNK) {
            if (pos > start) { /* the chunk so far ends before this line */
                emit(&t, argv[3], text, start, pos - start);
                start = pos;
                continue;
            }
            emit(&t, argv[3], text, start, CHUNK); /* one long line */
            start = pos = start + CHUNK;
            continue;
        }
        pos = line_end;
    }
    if (pos > start)
        emit(&t, argv[3], text, start, pos - start);
    free_tokenizer(&t);
    free(text);
    return 0;
}
