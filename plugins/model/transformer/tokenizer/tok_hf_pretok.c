/*
 * tok_hf_pretok.c — the pre-tokenizers of tokenizer.json: cutting normalized
 * text into the pieces BPE sees (regex splits with HF's five delimiter
 * behaviours, GPT-2 byte-level mapping, Metaspace).  Each piece carries its
 * "head" (see tok_pieces) so Metaspace's prepend_scheme "first" can tell
 * pieces that start where the input starts, as HF does by offsets.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* ===== Regex matches ==================================================== */

static int parts_add(tok_parts *ps, size_t start, size_t end, int is_match)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        tok_part *p = realloc(ps->p, cap * sizeof *p);
        if (!p)
            return -1;
        ps->p = p;
        ps->cap = cap;
    }
    ps->p[ps->n++] = (tok_part){start, end, is_match};
    return 0;
}

/* Cuts s[0..n) into matches of re and the gaps between them (empty
 * matches are skipped, as they would only make empty pieces). */
int tok_find_parts(pcre2_match_data *md, const pcre2_code *re, const char *s, size_t n,
                   int invert, tok_parts *ps)
{
    size_t at = 0, prev = 0;
    ps->n = 0;
    while (at <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return -1;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) {
            /* Empty match: step over one char and try again. */
            if (ms >= n)
                break;
            at = ms + tok_char_len(s + ms, n - ms);
            continue;
        }
        if (ms > prev && parts_add(ps, prev, ms, invert))
            return -1;
        if (parts_add(ps, ms, me, !invert))
            return -1;
        prev = at = me;
    }
    if (prev < n && parts_add(ps, prev, n, invert))
        return -1;
    return 0;
}

/* The head (see tok_pieces) of a sub-piece starting at `start` of a piece
 * whose head is `head`. */
size_t tok_sub_head(size_t head, size_t start)
{
    return head > start ? head - start : 0;
}

/* Emits the pieces of s that the split behaviour keeps, following HF's
 * SplitDelimiterBehavior (a "match" here is a delimiter). */
static int emit_parts(tok_pieces *out, const char *s, size_t head, const tok_parts *ps,
                      tok_split_behavior how)
{
    size_t first = out->n;
    int prev_match = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const tok_part *p = &ps->p[i];
        const char *ptr = s + p->start;
        size_t len = p->end - p->start;
        int rc = 0;
        switch (how) {
        case TOK_SPLIT_REMOVED:
            if (!p->is_match)
                rc = tok_pieces_add_head(out, ptr, len, tok_sub_head(head, p->start));
            break;
        case TOK_SPLIT_ISOLATED:
            rc = tok_pieces_add_head(out, ptr, len, tok_sub_head(head, p->start));
            break;
        case TOK_SPLIT_MERGED_PREV:
            if (p->is_match && !prev_match && out->n > first)
                rc = tok_pieces_extend_last(out, ptr, len);
            else
                rc = tok_pieces_add_head(out, ptr, len, tok_sub_head(head, p->start));
            break;
        case TOK_SPLIT_MERGED_NEXT: {
            /* A delimiter joins the part after it unless that part is a
             * delimiter too. */
            const tok_part *next = i + 1 < ps->n ? &ps->p[i + 1] : NULL;
            if (p->is_match && next && !next->is_match) {
                rc = tok_pieces_add_head(out, ptr, next->end - p->start, tok_sub_head(head, p->start));
                i++;
                prev_match = 0;
                if (rc)
                    return -1;
                continue;
            }
            rc = tok_pieces_add_head(out, ptr, len, tok_sub_head(head, p->start));
            break;
        }
        case TOK_SPLIT_CONTIGUOUS:
            if (p->is_match && prev_match && out->n > first)
                rc = tok_pieces_extend_last(out, ptr, len);
            else
                rc = tok_pieces_add_head(out, ptr, len, tok_sub_head(head, p->start));
            break;
        }
        if (rc)
            return -1;
        prev_match = p->is_match;
    }
    return 0;
}

/* ===== Pre-tokenizers =================================================== */

/* GPT-2 byte-level: every byte becomes its printable stand-in char (the
 * head grows with the bytes it covers). */
static int add_byte_level(tok_pieces *out, const char *s, size_t n, size_t head)
{
    char buf[512];
    size_t mapped_head = 0;
    for (size_t i = 0; i < head && i < n; i++)
        mapped_head += tok_byte_to_cp((unsigned char)s[i]) < 0x80 ? 1 : 2;
    if (tok_pieces_add_head(out, "", 0, 0))
        return -1;
    out->head[out->n - 1] = mapped_head;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += tok_utf8_put(tok_byte_to_cp((unsigned char)s[i]), buf + k);
        if (k > sizeof buf - 4 || i + 1 == n) {
            if (tok_pieces_extend_last(out, buf, k))
                return -1;
            k = 0;
        }
    }
    return 0;
}

static int pre_byte_level(tok_pretok *e, const tok_pre *p, const char *s, size_t n, size_t head,
                          tok_parts *ps)
{
    tok_buf *tmp = &e->tmp;
    tmp->len = 0;
    if (p->add_prefix_space && (n == 0 || s[0] != ' ')) {
        if (tok_buf_add(tmp, " ", 1))
            return -1;
        if (head)
            head++;
    }
    if (tok_buf_add(tmp, s, n))
        return -1;
    if (!p->re)
        return add_byte_level(&e->b, tmp->p, tmp->len, head);
    if (tok_find_parts(e->md, p->re, tmp->p, tmp->len, 0, ps))
        return -1;
    for (size_t i = 0; i < ps->n; i++)
        if (add_byte_level(&e->b, tmp->p + ps->p[i].start, ps->p[i].end - ps->p[i].start,
                           tok_sub_head(head, ps->p[i].start)))
            return -1;
    return 0;
}

/* Metaspace: spaces become the replacement char, which may be prepended
 * ("first": only to a piece that starts where the input starts, as HF
 * judges by original offsets), and each occurrence of it may start a new
 * piece. */
static int pre_metaspace(tok_pretok *e, const tok_pre *p, const char *s, size_t n, size_t head)
{
    tok_buf *tmp = &e->tmp;
    tmp->len = 0;
    /* "Starts with the replacement" is judged after spaces are replaced. */
    int starts = (n > 0 && s[0] == ' ') || (n >= p->repl_len && memcmp(s, p->repl, p->repl_len) == 0);
    int prepend = p->prepend == TOK_PREPEND_ALWAYS || (p->prepend == TOK_PREPEND_FIRST && head);
    size_t h = 0;
    for (size_t i = 0; i < head && i < n; i++)
        h += s[i] == ' ' ? p->repl_len : 1;
    if (prepend && !starts) {
        if (tok_buf_add(tmp, p->repl, p->repl_len))
            return -1;
        if (h)
            h += p->repl_len;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ' ? tok_buf_add(tmp, p->repl, p->repl_len) : tok_buf_add(tmp, s + i, 1))
            return -1;
    if (!p->split)
        return tok_pieces_add_head(&e->b, tmp->p, tmp->len, h);
    size_t start = 0;
    for (size_t i = 1; i + p->repl_len <= tmp->len; i++) {
        if (memcmp(tmp->p + i, p->repl, p->repl_len) == 0) {
            if (tok_pieces_add_head(&e->b, tmp->p + start, i - start, tok_sub_head(h, start)))
                return -1;
            start = i;
        }
    }
    return tok_pieces_add_head(&e->b, tmp->p + start, tmp->len - start, tok_sub_head(h, start));
}

/* Drops the empty pieces of a list (HF never keeps them). */
static void drop_empty(tok_pieces *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->len[i] == 0)
            continue;
        p->off[k] = p->off[i];
        p->len[k] = p->len[i];
        p->head[k] = p->head[i];
        k++;
    }
    p->n = k;
}

/* Runs the pre-tokenizers over e->a, leaving the pieces in e->a. */
int tok_hf_pre_tokenize(const tokenizer *t, tok_pretok *e)
{
    tok_parts ps = {0};
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < t->n_pre; k++) {
        const tok_pre *p = &t->pre[k];
        tok_pieces_clear(&e->b);
        for (size_t i = 0; rc == 0 && i < e->a.n; i++) {
            const char *s = tok_piece(&e->a, i);
            size_t n = e->a.len[i];
            switch (p->kind) {
            case TOK_PRE_BYTELEVEL:
                rc = pre_byte_level(e, p, s, n, e->a.head[i], &ps);
                break;
            case TOK_PRE_SPLIT:
                rc = tok_find_parts(e->md, p->re, s, n, p->invert, &ps) ||
                     emit_parts(&e->b, s, e->a.head[i], &ps, p->behavior);
                break;
            case TOK_PRE_METASPACE:
                rc = pre_metaspace(e, p, s, n, e->a.head[i]);
                break;
            }
        }
        drop_empty(&e->b);
        tok_pieces tmp = e->a;
        e->a = e->b;
        e->b = tmp;
    }
    free(ps.p);
    return rc;
}


void tok_pretok_free(tok_pretok *w)
{
    if (w->md)
        pcre2_match_data_free(w->md);
    tok_pieces_free(&w->a);
    tok_pieces_free(&w->b);
    free(w->tmp.p);
    w->md = NULL;
}
