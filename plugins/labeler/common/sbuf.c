/* sbuf.c — see sbuf.h. */
#include "sbuf.h"

#include <stdlib.h>
#include <string.h>

void sbuf_init(sbuf *b) { memset(b, 0, sizeof *b); }

void sbuf_free(sbuf *b)
{
    free(b->p);
    sbuf_init(b);
}

void sbuf_clear(sbuf *b)
{
    b->len = 0;
    if (b->p) b->p[0] = 0;
}

void sbuf_append(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sbuf_puts(sbuf *b, const char *s) { sbuf_append(b, s, strlen(s)); }

const char *sbuf_str(const sbuf *b) { return b->p ? b->p : ""; }

int sbuf_failed(const sbuf *b) { return b->oom; }

char *sbuf_take(sbuf *b)
{
    char *p = NULL;
    if (!b->oom) {
        if (!b->p) sbuf_append(b, "", 0);
        p = b->oom ? NULL : b->p;
    } else {
        free(b->p);
    }
    sbuf_init(b);
    return p;
}
