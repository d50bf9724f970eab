/*
 * tokenizer.c — the public functions: argument checks, then the format's
 * own encoder or decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

tokenizer *tokenizer_load_hf(const char *path, char *err, size_t errlen)
{
    if (!path) {
        tok_errf(err, errlen, "tokenizer_load_hf: path is NULL");
        return NULL;
    }
    return tok_hf_load(path, err, errlen);
}

tokenizer *tokenizer_load_llama2c(const char *path, int32_t vocab_size, char *err, size_t errlen)
{
    if (!path) {
        tok_errf(err, errlen, "tokenizer_load_llama2c: path is NULL");
        return NULL;
    }
    return tok_llama2c_load(path, vocab_size, err, errlen);
}

static void free_regex(pcre2_code *re)
{
    if (re)
        pcre2_code_free(re);
}

void tok_free_all(tokenizer *t)
{
    if (!t)
        return;
    if (t->str)
        for (int32_t i = 0; i < t->vocab_size; i++)
            free(t->str[i]);
    free(t->str);
    free(t->len);
    free(t->special);
    free(t->score);
    tok_strmap_free(&t->vocab);
    tok_pairmap_free(&t->merges);
    for (size_t i = 0; i < t->n_norm; i++) {
        free_regex(t->norm[i].re);
        free(t->norm[i].content);
    }
    free(t->norm);
    for (size_t i = 0; i < t->n_pre; i++)
        free_regex(t->pre[i].re);
    free(t->pre);
    for (size_t i = 0; i < t->n_dec; i++) {
        free_regex(t->dec[i].re);
        free(t->dec[i].content);
    }
    free(t->dec);
    for (size_t i = 0; i < t->n_added; i++) {
        if (t->added[i].match != t->added[i].content)
            free(t->added[i].match);
        free(t->added[i].content);
    }
    free(t->added);
    free(t->added_str);   /* points into added[].content / .match */
    free(t->skip);
    free_regex(t->word_re);
    free(t->prefix_ids);
    free(t->suffix_ids);
    free(t->cont_prefix);
    free(t->eow_suffix);
    free(t->path);
    free(t->config_path);
    free(t);
}

void tokenizer_free(tokenizer *t)
{
    tok_free_all(t);
}

int32_t tokenizer_vocab_size(const tokenizer *t)
{
    return t ? t->vocab_size : 0;
}

int32_t tokenizer_bos(const tokenizer *t)
{
    return t ? t->bos : -1;
}

int32_t tokenizer_eos(const tokenizer *t)
{
    return t ? t->eos : -1;
}

int tokenizer_is_special(const tokenizer *t, int32_t id)
{
    if (!t || id < 0 || id >= t->vocab_size)
        return 0;
    return t->special[id] != 0;
}

rlaif_status tokenizer_encode(const tokenizer *t, const char *text, size_t len, int add_bos,
                              int32_t **out, size_t *n, char *err, size_t errlen)
{
    if (!t || !out || !n || (!text && len > 0)) {
        tok_errf(err, errlen, "tokenizer_encode: NULL argument");
        return RLAIF_E_INVALID;
    }
    *out = NULL;
    *n = 0;
    tok_ids ids = {0};
    rlaif_status st = t->format == TOK_LLAMA2C
                          ? tok_llama2c_encode(t, text ? text : "", len, add_bos, &ids, err, errlen)
                          : tok_hf_encode(t, text ? text : "", len, add_bos, &ids, err, errlen);
    if (st != RLAIF_OK) {
        free(ids.p);
        return st;
    }
    if (!ids.p) {
        /* An empty result is still a valid (freeable) array. */
        ids.p = malloc(sizeof *ids.p);
        if (!ids.p) {
            tok_errf(err, errlen, "tokenizer_encode: out of memory");
            return RLAIF_E_NOMEM;
        }
    }
    *out = ids.p;
    *n = ids.len;
    return RLAIF_OK;
}

rlaif_status tokenizer_decode(const tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                              char **out, size_t *len, char *err, size_t errlen)
{
    if (!t || !out || (!ids && n > 0)) {
        tok_errf(err, errlen, "tokenizer_decode: NULL argument");
        return RLAIF_E_INVALID;
    }
    *out = NULL;
    if (len)
        *len = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab_size || !t->str[ids[i]]) {
            int hole = ids[i] >= 0 && ids[i] < t->vocab_size;
            if (hole)
                tok_errf(err, errlen, "tokenizer_decode: ids[%zu] = %d is not a token of this "
                         "vocabulary", i, (int)ids[i]);
            else
                tok_errf(err, errlen, "tokenizer_decode: ids[%zu] = %d is outside [0, %d)", i,
                         (int)ids[i], (int)t->vocab_size);
            return RLAIF_E_INVALID;
        }
    }
    tok_buf b = {0};
    rlaif_status st = t->format == TOK_LLAMA2C
                          ? tok_llama2c_decode(t, ids, n, skip_special, &b, err, errlen)
                          : tok_hf_decode(t, ids, n, skip_special, &b, err, errlen);
    if (st == RLAIF_OK && tok_buf_add(&b, "", 1)) {
        tok_errf(err, errlen, "tokenizer_decode: out of memory");
        st = RLAIF_E_NOMEM;
    }
    if (st != RLAIF_OK) {
        free(b.p);
        return st;
    }
    *out = b.p;
    if (len)
        *len = b.len - 1;
    return RLAIF_OK;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static rlaif_status copy_into(const char *src, const char *dir, const char *name, char *err,
                              size_t errlen)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *dst = malloc(n);
    if (!dst) {
        tok_errf(err, errlen, "tokenizer_save: out of memory");
        return RLAIF_E_NOMEM;
    }
    snprintf(dst, n, "%s/%s", dir, name);
    rlaif_status st = tok_copy_file(src, dst, err, errlen);
    free(dst);
    return st;
}

rlaif_status tokenizer_save(const tokenizer *t, const char *dir, char *err, size_t errlen)
{
    if (!t || !dir) {
        tok_errf(err, errlen, "tokenizer_save: NULL argument");
        return RLAIF_E_INVALID;
    }
    if (t->format == TOK_LLAMA2C) {
        /* The file itself (this library reads it back with run.c's rules),
         * and tokenizer.json for everyone else when the vocabulary allows. */
        rlaif_status st = copy_into(t->path, dir, base_name(t->path), err, errlen);
        if (st == RLAIF_OK && !tok_llama2c_exportable(t))
            st = tok_llama2c_export_hf(t, dir, err, errlen);
        return st;
    }
    rlaif_status st = copy_into(t->path, dir, "tokenizer.json", err, errlen);
    if (st == RLAIF_OK && t->config_path)
        st = copy_into(t->config_path, dir, "tokenizer_config.json", err, errlen);
    return st;
}
