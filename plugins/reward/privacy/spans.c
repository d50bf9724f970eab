/* spans.c — the span list shared by the scanners, and small helpers. */
#include <stdlib.h>
#include <string.h>

#include "scan.h"

const char *const pii_type_names[PII_N_TYPES] = {
    "name", "email", "phone", "address", "card", "iban", "ip", "national_id",
};

int spans_overlap(const span_list *l, size_t start, size_t end)
{
    for (size_t i = 0; i < l->n; i++)
        if (start < l->v[i].end && l->v[i].start < end) return 1;
    return 0;
}

int spans_add(span_list *l, pii_type type, size_t start, size_t end)
{
    if (end <= start || spans_overlap(l, start, end) || l->oom) return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        pii_span *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return 0;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (pii_span){type, start, end};
    return 1;
}

static int by_start(const void *a, const void *b)
{
    const pii_span *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

void spans_sort(span_list *l)
{
    if (l->n > 1) qsort(l->v, l->n, sizeof *l->v, by_start);
}

int scan_cue_before(const scan_text *t, size_t i, int n, const char *const *words)
{
    size_t lo = i > 40 ? i - 40 : 0;
    size_t p = i;
    for (int k = 0; k < n; k++) {
        /* skip to the end of the previous word */
        while (p > lo && !c_alpha(t->s[p - 1])) p--;
        if (p == lo) return 0;
        size_t end = p;
        while (p > lo && c_alpha(t->s[p - 1])) p--;
        size_t len = end - p;
        for (size_t w = 0; words[w]; w++) {
            if (strlen(words[w]) != len) continue;
            size_t j = 0;
            while (j < len && (t->s[p + j] | 0x20) == words[w][j]) j++;
            if (j == len) return 1;
        }
    }
    return 0;
}
