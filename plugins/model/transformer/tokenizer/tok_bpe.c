/*
 * tok_bpe.c — the BPE merge loop shared by both formats.
 *
 * The symbols of a word form a doubly linked list; every adjacent pair that
 * may merge sits in a binary min-heap keyed by (priority, left position).
 * Popping the best pair, checking it is still current, merging it and
 * pushing the two new neighbour pairs gives O(n log n) per word instead of
 * the O(n^2) rescans of the textbook loop, with the same result: the pair
 * merged at each step is the one of lowest priority, leftmost on ties.
 * (HF ranks merges by their line in the merges list; llama2.c by -score.)
 */
#include <stdlib.h>

#include "tok_internal.h"

struct tok_sym {
    int32_t id;                 /* -1 once merged into its left neighbour */
    int32_t prev, next;         /* -1 at the ends */
};

struct tok_cand {
    double prio;
    int32_t left;               /* position of the left symbol */
    int32_t a, b;               /* the ids the pair had when pushed */
    int32_t merged;
};

void tok_bpe_work_free(tok_bpe_work *w)
{
    free(w->sym);
    free(w->heap);
    w->sym = NULL;
    w->heap = NULL;
    w->sym_cap = w->heap_cap = w->heap_len = 0;
}

static int cand_less(const struct tok_cand *x, const struct tok_cand *y)
{
    if (x->prio != y->prio)
        return x->prio < y->prio;
    return x->left < y->left;
}

static int heap_push(tok_bpe_work *w, struct tok_cand c)
{
    if (w->heap_len == w->heap_cap) {
        size_t cap = w->heap_cap ? w->heap_cap * 2 : 64;
        struct tok_cand *h = realloc(w->heap, cap * sizeof *h);
        if (!h)
            return -1;
        w->heap = h;
        w->heap_cap = cap;
    }
    size_t i = w->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(&c, &w->heap[parent]))
            break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = c;
    return 0;
}

static struct tok_cand heap_pop(tok_bpe_work *w)
{
    struct tok_cand top = w->heap[0];
    struct tok_cand last = w->heap[--w->heap_len];
    size_t n = w->heap_len, i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct tok_cand *best = &last;
        if (l < n && cand_less(&w->heap[l], best)) {
            m = l;
            best = &w->heap[l];
        }
        if (r < n && cand_less(&w->heap[r], best))
            m = r;
        if (m == i)
            break;
        w->heap[i] = w->heap[m];
        i = m;
    }
    if (n > 0)
        w->heap[i] = last;
    return top;
}

/* Pushes the pair starting at position `left` when it may merge. */
static int offer(tok_bpe_work *w, int32_t left, tok_pair_fn pair, const void *ctx)
{
    if (left < 0)
        return 0;
    int32_t right = w->sym[left].next;
    if (right < 0)
        return 0;
    struct tok_cand c = {.left = left, .a = w->sym[left].id, .b = w->sym[right].id};
    if (!pair(ctx, c.a, c.b, &c.prio, &c.merged))
        return 0;
    return heap_push(w, c);
}

int tok_bpe_merge(tok_bpe_work *w, int32_t *ids, size_t *n, tok_pair_fn pair, const void *ctx)
{
    size_t count = *n;
    if (count < 2)
        return 0;
    if (count > w->sym_cap) {
        struct tok_sym *s = realloc(w->sym, count * sizeof *s);
        if (!s)
            return -1;
        w->sym = s;
        w->sym_cap = count;
    }
    for (size_t i = 0; i < count; i++) {
        w->sym[i].id = ids[i];
        w->sym[i].prev = (int32_t)i - 1;
        w->sym[i].next = i + 1 < count ? (int32_t)i + 1 : -1;
    }
    w->heap_len = 0;
    for (size_t i = 0; i + 1 < count; i++)
        if (offer(w, (int32_t)i, pair, ctx))
            return -1;

    while (w->heap_len > 0) {
        struct tok_cand c = heap_pop(w);
        struct tok_sym *l = &w->sym[c.left];
        if (l->id != c.a || l->next < 0 || w->sym[l->next].id != c.b)
            continue;   /* stale: one side has merged since it was pushed */
        int32_t r = l->next;
        l->id = c.merged;
        l->next = w->sym[r].next;
        if (l->next >= 0)
            w->sym[l->next].prev = c.left;
        w->sym[r].id = -1;
        if (offer(w, l->prev, pair, ctx) || offer(w, c.left, pair, ctx))
            return -1;
    }

    size_t out = 0;
    for (int32_t i = 0; i >= 0; i = w->sym[i].next)
        ids[out++] = w->sym[i].id;
    *n = out;
    return 0;
}
