/*
 * sbuf.h — a growable NUL-terminated string, used to render prompts.
 *
 * Allocation failure is sticky: after it every append is a no-op and
 * sbuf_failed() is nonzero, so callers append straight-line and check once.
 */
#ifndef LAB_SBUF_H
#define LAB_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *p;      /* always NUL-terminated once anything was appended (or NULL) */
    size_t len;   /* bytes before the NUL */
    size_t cap;   /* bytes allocated */
    int oom;      /* nonzero after an allocation failed */
} sbuf;

void sbuf_init(sbuf *b);
void sbuf_free(sbuf *b);
/* Empties the string and keeps the allocation. */
void sbuf_clear(sbuf *b);
void sbuf_append(sbuf *b, const char *s, size_t n);
void sbuf_puts(sbuf *b, const char *s);
/* The text ("" when nothing was appended); valid until the next append. */
const char *sbuf_str(const sbuf *b);
int sbuf_failed(const sbuf *b);
/* Hands the malloc'ed text to the caller and resets the buffer (NULL on OOM). */
char *sbuf_take(sbuf *b);

#endif
