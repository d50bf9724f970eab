/*
 * tok_hf_normalize.c — the normalizers of tokenizer.json (NFC, NFD,
 * Replace, Prepend, Strip), run in order over one segment of text.  Also
 * tracks the segment's "head": how many leading bytes stem from the
 * input's first char (HF's original offset 0), for Metaspace "first".
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"
#include "tok_nfc.h"

/* ===== Normalizers ====================================================== */

/* Appends s with every match of re replaced by content to out.  A match
 * at the very start passes the head on to the whole replacement. */
static int replace_all(pcre2_match_data *md, const pcre2_code *re, const char *content, size_t clen,
                       const char *s, size_t n, tok_buf *out, size_t *head)
{
    tok_parts ps = {0};
    int rc = tok_find_parts(md, re, s, n, 0, &ps);
    if (rc == 0 && *head && ps.n > 0 && ps.p[0].is_match)
        *head = clen;
    for (size_t i = 0; rc == 0 && i < ps.n; i++) {
        const tok_part *p = &ps.p[i];
        rc = p->is_match ? tok_buf_add(out, content, clen)
                         : tok_buf_add(out, s + p->start, p->end - p->start);
    }
    free(ps.p);
    return rc;
}

/* Runs the normalizers over s[0..n), appending the result to out; cur and
 * next are scratch buffers. */
static int apply_chars(tok_norm_kind kind, const char *s, size_t n, tok_buf *out)
{
    static const int form[] = {
        [TOK_NORM_NFC] = TOK_NF_COMPOSE, [TOK_NORM_NFD] = 0,
        [TOK_NORM_NFKC] = TOK_NF_COMPOSE | TOK_NF_COMPAT, [TOK_NORM_NFKD] = TOK_NF_COMPAT};
    return kind == TOK_NORM_LOWERCASE ? tok_lowercase(s, n, out) : tok_normalize_nf(s, n, form[kind], out);
}

/* A Unicode form or lowercasing.  The head becomes what the first char
 * turned into, or the first output char when that is longer (a char
 * composed with the marks after it). */
static int normalize_chars(tok_norm_kind kind, const char *s, size_t n, tok_buf *out, size_t *head)
{
    size_t before = out->len;
    if (apply_chars(kind, s, n, out))
        return -1;
    if (*head && out->len > before) {
        tok_buf first = {0};
        int rc = apply_chars(kind, s, tok_char_len(s, n), &first);
        size_t own = first.len, lead = tok_char_len(out->p + before, out->len - before);
        free(first.p);
        if (rc)
            return -1;
        *head = own > lead ? own : lead;
    }
    return 0;
}

int tok_hf_normalize_into(const tokenizer *t, pcre2_match_data *md, const char *s, size_t n,
                          tok_buf *cur, tok_buf *next, tok_buf *out, size_t *head)
{
    size_t h = head ? *head : 0;
    cur->len = 0;
    if (tok_buf_add(cur, s, n))
        return -1;
    for (size_t k = 0; k < t->n_norm; k++) {
        const tok_norm *nm = &t->norm[k];
        const char *c = cur->p;
        size_t len = cur->len;
        next->len = 0;
        int rc = 0;
        switch (nm->kind) {
        case TOK_NORM_NFC:
        case TOK_NORM_NFD:
        case TOK_NORM_NFKC:
        case TOK_NORM_NFKD:
        case TOK_NORM_LOWERCASE:
            rc = normalize_chars(nm->kind, c, len, next, &h);
            break;
        case TOK_NORM_REPLACE:
            rc = replace_all(md, nm->re, nm->content, nm->content_len, c, len, next, &h);
            break;
        case TOK_NORM_PREPEND:
            rc = len == 0 ? 0
                          : tok_buf_add(next, nm->content, nm->content_len) ||
                                tok_buf_add(next, c, len);
            if (h && len)
                h += nm->content_len;
            break;
        case TOK_NORM_STRIP: {
            size_t lo = 0, hi = len;
            while (nm->left && lo < hi) {
                size_t q = tok_char_len(c + lo, hi - lo);
                if (!tok_is_white_space(tok_decode_cp(c + lo, q)))
                    break;
                lo += q;
            }
            while (nm->right && hi > lo) {
                size_t p = tok_prev_char(c, hi);
                if (p < lo || !tok_is_white_space(tok_decode_cp(c + p, hi - p)))
                    break;
                hi = p;
            }
            rc = tok_buf_add(next, c + lo, hi - lo);
            if (lo)
                h = 0;
            break;
        }
        }
        if (rc)
            return -1;
        tok_buf swap = *cur;
        *cur = *next;
        *next = swap;
    }
    if (head)
        *head = h;
    return tok_buf_add(out, cur->p ? cur->p : "", cur->len);
}

int tok_hf_normalize(const tokenizer *t, const char *s, size_t n, tok_buf *out)
{
    tok_buf cur = {0}, next = {0};
    pcre2_match_data *md = pcre2_match_data_create(8, NULL);
    int rc = !md || tok_hf_normalize_into(t, md, s, n, &cur, &next, out, NULL);
    if (md)
        pcre2_match_data_free(md);
    free(cur.p);
    free(next.p);
    return rc;
}

