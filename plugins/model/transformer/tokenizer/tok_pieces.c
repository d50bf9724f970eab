/*
 * tok_pieces.c — a list of strings kept back to back in one buffer: what a
 * pre-tokenizer turns a text into, and what a decoder chain passes along.
 * Offsets (not pointers) index the buffer so it may grow.
 */
#include <stdlib.h>

#include "tok_internal.h"

void tok_pieces_clear(tok_pieces *p)
{
    p->text.len = 0;
    p->n = 0;
}

void tok_pieces_free(tok_pieces *p)
{
    free(p->text.p);
    free(p->off);
    free(p->len);
    free(p->head);
    *p = (tok_pieces){0};
}

int tok_pieces_add(tok_pieces *p, const char *s, size_t n)
{
    return tok_pieces_add_head(p, s, n, 0);
}

int tok_pieces_add_head(tok_pieces *p, const char *s, size_t n, size_t head)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        size_t *off = realloc(p->off, cap * sizeof *off);
        if (!off)
            return -1;
        p->off = off;
        size_t *len = realloc(p->len, cap * sizeof *len);
        if (!len)
            return -1;
        p->len = len;
        size_t *hd = realloc(p->head, cap * sizeof *hd);
        if (!hd)
            return -1;
        p->head = hd;
        p->cap = cap;
    }
    size_t at = p->text.len;
    if (tok_buf_add(&p->text, s, n))
        return -1;
    p->off[p->n] = at;
    p->len[p->n] = n;
    p->head[p->n] = head < n ? head : n;
    p->n++;
    return 0;
}

int tok_pieces_extend_last(tok_pieces *p, const char *s, size_t n)
{
    if (p->n == 0)
        return tok_pieces_add(p, s, n);
    /* The last piece ends the buffer, so appending extends it. */
    if (tok_buf_add(&p->text, s, n))
        return -1;
    p->len[p->n - 1] += n;
    return 0;
}
