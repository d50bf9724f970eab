/* spans.c — the span list shared by the scanners, and small helpers. */
#include <stdlib.h>
#include <string.h>

#include "scan.h"

const char *const pii_type_names[PII_N_TYPES] = {
    "name", "email", "phone", "address", "card", "iban", "ip", "national_id",
};

/* The list is kept sorted by start and its spans never overlap, so their
 * ends are sorted too: a binary search finds the only spans that could
 * overlap a new one. */

/* The index of the first span whose end is after `start`. */
static size_t first_ending_after(const span_list *l, size_t start)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].end <= start) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int spans_overlap(const span_list *l, size_t start, size_t end)
{
    size_t k = first_ending_after(l, start);
    return k < l->n && l->v[k].start < end;
}

int spans_add(span_list *l, pii_type type, size_t start, size_t end)
{
    if (end <= start || l->oom) return 0;
    size_t k = first_ending_after(l, start);
    if (k < l->n && l->v[k].start < end) return 0;
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
    memmove(l->v + k + 1, l->v + k, (l->n - k) * sizeof *l->v);
    l->v[k] = (pii_span){type, start, end};
    l->n++;
    return 1;
}

void spans_sort(span_list *l)
{
    (void)l; /* kept sorted on insertion */
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
