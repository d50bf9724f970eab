/*
 * tok_llama2c.c — llama2.c's tokenizer.bin: a sentencepiece BPE vocabulary
 * exported as (score, bytes) per id, merged greedily by score.
 *
 * File layout (little-endian): int32 max_token_length, then per id a
 * float32 score, an int32 byte length and the bytes.  Ids 0/1/2 are
 * <unk>/BOS/EOS and 3..258 the byte tokens <0x00>..<0xFF>.
 *
 * Encoding reproduces run.c's encode(): a dummy-prefix space, one token per
 * UTF-8 char (or its raw bytes as byte tokens, id = byte + 3), then merges
 * of the adjacent pair whose concatenation is in the vocabulary with the
 * highest score (leftmost on ties) until none is left.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define LLAMA2C_UNK 0
#define LLAMA2C_BOS 1
#define LLAMA2C_EOS 2
#define LLAMA2C_BYTE0 3

/* ===== Loading ========================================================== */

static int read_i32(const unsigned char *p, int32_t *v)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    memcpy(v, &u, 4);
    return 0;
}

static float read_f32(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Parses the entries of data[0..n) into t (arrays already allocated). */
static int parse_entries(tokenizer *t, const char *path, const unsigned char *data, size_t n,
                         char *err, size_t errlen)
{
    if (n < 4) {
        tok_errf(err, errlen, "%s: file too short for the max_token_length header (%zu bytes)",
                 path, n);
        return -1;
    }
    int32_t max_len;
    read_i32(data, &max_len);
    if (max_len <= 0) {
        tok_errf(err, errlen, "%s: max_token_length %d is not positive", path, (int)max_len);
        return -1;
    }
    t->max_token_len = (uint32_t)max_len;
    size_t at = 4;
    for (int32_t id = 0; id < t->vocab_size; id++) {
        if (n - at < 8) {
            tok_errf(err, errlen,
                     "%s: file ends at token %d of %d (truncated, or vocab_size too large)", path,
                     (int)id, (int)t->vocab_size);
            return -1;
        }
        t->score[id] = read_f32(data + at);
        int32_t len;
        read_i32(data + at + 4, &len);
        at += 8;
        if (len < 0 || (size_t)len > n - at) {
            tok_errf(err, errlen, "%s: token %d: length %d does not fit in the file", path,
                     (int)id, (int)len);
            return -1;
        }
        t->str[id] = tok_strndup((const char *)data + at, (size_t)len);
        if (!t->str[id]) {
            tok_errf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        t->len[id] = (uint32_t)len;
        at += (size_t)len;
    }
    return 0;
}

tokenizer *tok_llama2c_load(const char *path, int32_t vocab_size, char *err, size_t errlen)
{
    if (vocab_size <= LLAMA2C_EOS) {
        tok_errf(err, errlen, "%s: vocab_size %d is too small (ids 0-2 are unk/BOS/EOS)", path,
                 (int)vocab_size);
        return NULL;
    }
    size_t n;
    char *data = tok_read_file(path, &n, err, errlen);
    if (!data)
        return NULL;
    tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        goto nomem;
    t->format = TOK_LLAMA2C;
    t->vocab_size = vocab_size;
    t->bos = LLAMA2C_BOS;
    t->eos = LLAMA2C_EOS;
    t->unk = LLAMA2C_UNK;
    t->path = tok_strndup(path, strlen(path));
    t->str = calloc((size_t)vocab_size, sizeof *t->str);
    t->len = calloc((size_t)vocab_size, sizeof *t->len);
    t->score = calloc((size_t)vocab_size, sizeof *t->score);
    t->special = calloc((size_t)vocab_size, 1);
    if (!t->path || !t->str || !t->len || !t->score || !t->special)
        goto nomem;
    if (parse_entries(t, path, (const unsigned char *)data, n, err, errlen))
        goto fail;
    t->special[LLAMA2C_UNK] = t->special[LLAMA2C_BOS] = t->special[LLAMA2C_EOS] = 1;
    if (tok_strmap_init(&t->vocab, (size_t)vocab_size, t->str, t->len))
        goto nomem;
    /* Duplicated strings keep their first id (run.c's bsearch may pick
     * either; real tokenizer.bin files have none). */
    for (int32_t id = 0; id < vocab_size; id++)
        tok_strmap_put(&t->vocab, id);
    free(data);
    return t;
nomem:
    tok_errf(err, errlen, "%s: out of memory", path);
fail:
    free(data);
    tok_free_all(t);
    return NULL;
}

/* ===== Encoding ========================================================= */

/* A pair merges when its concatenation is a token; higher score first. */
static int llama2c_pair(const void *ctx, int32_t a, int32_t b, double *prio, int32_t *merged)
{
    const tokenizer *t = ctx;
    if ((size_t)t->len[a] + t->len[b] > t->max_token_len)
        return 0;
    int32_t id = tok_strmap_get2(&t->vocab, t->str[a], t->len[a], t->str[b], t->len[b]);
    /* run.c starts its search at a best score of -1e10 and compares with
     * '>': pieces scored at or below that (or NaN) never merge. */
    if (id < 0 || !(t->score[id] > -1e10f))
        return 0;
    *prio = -(double)t->score[id];
    *merged = id;
    return 1;
}

/* One token per UTF-8 char, grouped the way run.c groups bytes: a lead
 * byte starts a char that takes up to 3 following continuation bytes. */
static int push_chars(const tokenizer *t, const char *text, size_t len, tok_ids *out)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            start = i;
        size_t n = i + 1 - start;
        int next_cont = i + 1 < len && ((unsigned char)text[i + 1] & 0xC0) == 0x80;
        if (next_cont && n < 4)
            continue;
        int32_t id = tok_strmap_get(&t->vocab, text + start, n);
        if (id >= 0) {
            if (tok_ids_push(out, id))
                return -1;
        } else {
            for (size_t k = start; k <= i; k++)
                if (tok_ids_push(out, (int32_t)(unsigned char)text[k] + LLAMA2C_BYTE0))
                    return -1;
        }
        start = i + 1;
    }
    return 0;
}

rlaif_status tok_llama2c_encode(const tokenizer *t, const char *text, size_t len, int add_bos,
                                tok_ids *out, char *err, size_t errlen)
{
    if (add_bos && tok_ids_push(out, LLAMA2C_BOS))
        goto nomem;
    size_t first = out->len;
    if (len > 0) {
        int32_t space = tok_strmap_get(&t->vocab, " ", 1);
        if (space >= 0 && tok_ids_push(out, space))
            goto nomem;
    }
    if (push_chars(t, text, len, out))
        goto nomem;
    if (t->vocab_size < LLAMA2C_BYTE0 + 256) {
        for (size_t i = first; i < out->len; i++)
            if (out->p[i] >= t->vocab_size) {
                tok_errf(err, errlen, "%s: byte fallback needs ids 3..258 but vocab_size is %d",
                         t->path, (int)t->vocab_size);
                return RLAIF_E_INVALID;
            }
    }
    tok_bpe_work w = {0};
    size_t n = out->len - first;
    int bad = tok_bpe_merge(&w, out->p + first, &n, llama2c_pair, t);
    tok_bpe_work_free(&w);
    if (bad)
        goto nomem;
    out->len = first + n;
    return RLAIF_OK;
nomem:
    tok_errf(err, errlen, "tokenizer: out of memory encoding %zu bytes", len);
    return RLAIF_E_NOMEM;
}

/* ===== Decoding ========================================================= */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int tok_parse_byte_piece(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

rlaif_status tok_llama2c_decode(const tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                                tok_buf *out, char *err, size_t errlen)
{
    int32_t prev = -1;
    for (size_t i = 0; i < n; prev = ids[i], i++) {
        int32_t id = ids[i];
        if (skip_special && t->special[id])
            continue;
        const char *s = t->str[id];
        size_t len = t->len[id];
        /* run.c: the space sentencepiece put before the first word goes. */
        if (prev == LLAMA2C_BOS && len > 0 && s[0] == ' ') {
            s++;
            len--;
        }
        int byte = tok_parse_byte_piece(s, len);
        if (byte >= 0) {
            char c = (char)byte;
            if (tok_buf_add(out, &c, 1))
                goto nomem;
        } else if (tok_buf_add(out, s, len)) {
            goto nomem;
        }
    }
    return RLAIF_OK;
nomem:
    tok_errf(err, errlen, "tokenizer: out of memory decoding %zu ids", n);
    return RLAIF_E_NOMEM;
}
