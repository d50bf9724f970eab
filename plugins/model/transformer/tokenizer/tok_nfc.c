/*
 * tok_nfc.c — Unicode normalization forms C, D, KC and KD (UAX #15):
 * canonical (or compatibility) decomposition, canonical ordering of
 * combining marks, then (for C and KC) canonical composition; and per-char
 * lowercasing.  Text without any code point the form could change is
 * copied untouched, so ASCII and most CJK cost one table probe per char.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_nfc.h"

/* Hangul syllables decompose and compose by arithmetic (Unicode ch. 3.12). */
#define S_BASE 0xAC00u
#define L_BASE 0x1100u
#define V_BASE 0x1161u
#define T_BASE 0x11A7u
#define L_COUNT 19u
#define V_COUNT 21u
#define T_COUNT 28u
#define N_COUNT (V_COUNT * T_COUNT)
#define S_COUNT (L_COUNT * N_COUNT)

/* ===== Table lookups (binary search) ==================================== */

static uint8_t ccc_of(uint32_t cp)
{
    if (cp < 0x300)
        return 0;
    size_t lo = 0, hi = tok_ccc_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < tok_ccc_ranges[mid].lo)
            hi = mid;
        else if (cp > tok_ccc_ranges[mid].hi)
            lo = mid + 1;
        else
            return tok_ccc_ranges[mid].ccc;
    }
    return 0;
}

static int in_spans(uint32_t cp, const tok_span *t, size_t count)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < t[mid].lo)
            hi = mid;
        else if (cp > t[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static const tok_decomp *decomp_of(uint32_t cp)
{
    size_t lo = 0, hi = tok_decomp_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < tok_decomps[mid].cp)
            hi = mid;
        else if (cp > tok_decomps[mid].cp)
            lo = mid + 1;
        else
            return &tok_decomps[mid];
    }
    return NULL;
}

static const tok_expand *expand_of(const tok_expand *t, size_t count, uint32_t cp)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < t[mid].cp)
            hi = mid;
        else if (cp > t[mid].cp)
            lo = mid + 1;
        else
            return &t[mid];
    }
    return NULL;
}

/* The primary composite of a + b, or 0. */
static uint32_t compose_pair(uint32_t a, uint32_t b)
{
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE &&
        b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    size_t lo = 0, hi = tok_compose_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const tok_compose *c = &tok_composes[mid];
        if (a < c->a || (a == c->a && b < c->b))
            hi = mid;
        else if (a > c->a || b > c->b)
            lo = mid + 1;
        else
            return c->cp;
    }
    return 0;
}

/* ===== Code point buffer ================================================ */

typedef struct cps {
    uint32_t *p;
    size_t n, cap;
} cps;

static int cps_push(cps *v, uint32_t cp)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        uint32_t *p = realloc(v->p, cap * sizeof *p);
        if (!p)
            return -1;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = cp;
    return 0;
}

/* Full canonical (or, with compat, compatibility) decomposition of cp
 * appended to v.  A char whose NFKD differs from its NFD has its whole
 * NFKD tabled; every other char decomposes the same way in both. */
static int decompose(uint32_t cp, cps *v, int compat)
{
    if (compat) {
        const tok_expand *x = expand_of(tok_compat, tok_compat_count, cp);
        if (x) {
            for (uint32_t i = 0; i < x->n; i++)
                if (cps_push(v, tok_expand_pool[x->at + i]))
                    return -1;
            return 0;
        }
    }
    if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
        uint32_t s = cp - S_BASE;
        if (cps_push(v, L_BASE + s / N_COUNT) || cps_push(v, V_BASE + (s % N_COUNT) / T_COUNT))
            return -1;
        return s % T_COUNT ? cps_push(v, T_BASE + s % T_COUNT) : 0;
    }
    const tok_decomp *d = decomp_of(cp);
    if (!d)
        return cps_push(v, cp);
    if (decompose(d->a, v, 0))
        return -1;
    return d->b ? decompose(d->b, v, 0) : 0;
}

/* Sorts each run of non-starters by combining class, stably. */
static void canonical_order(cps *v)
{
    for (size_t i = 1; i < v->n; i++) {
        uint32_t c = v->p[i];
        uint8_t cc = ccc_of(c);
        if (cc == 0)
            continue;
        size_t j = i;
        while (j > 0 && ccc_of(v->p[j - 1]) > cc) {
            v->p[j] = v->p[j - 1];
            j--;
        }
        v->p[j] = c;
    }
}

/* Canonical composition in place (UAX #15's algorithm: a char joins the
 * last starter unless a char of equal or higher class sits between). */
static void compose(cps *v)
{
    if (v->n == 0)
        return;
    size_t starter = 0, out = 1;
    int last_class = ccc_of(v->p[0]) ? 256 : 0;
    for (size_t i = 1; i < v->n; i++) {
        uint32_t c = v->p[i];
        int cc = ccc_of(c);
        uint32_t comp = last_class != 256 ? compose_pair(v->p[starter], c) : 0;
        if (comp && (last_class < cc || last_class == 0)) {
            v->p[starter] = comp;
            continue;
        }
        if (cc == 0)
            starter = out;
        last_class = cc;
        v->p[out++] = c;
    }
    v->n = out;
}

/* ===== Driver =========================================================== */

static uint32_t next_cp(const unsigned char *s, size_t n, size_t *k)
{
    *k = tok_utf8_valid_len(s, n);
    if (*k == 0) {
        *k = 1;
        return 0xFFFD;
    }
    if (*k == 1)
        return s[0];
    uint32_t cp = s[0] & (0x7Fu >> *k);
    for (size_t i = 1; i < *k; i++)
        cp = (cp << 6) | (s[i] & 0x3Fu);
    return cp;
}

int tok_normalize_nf(const char *s, size_t n, int form, tok_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    int do_compose = form & TOK_NF_COMPOSE, compat = form & TOK_NF_COMPAT;
    /* Fast path: nothing the form could change.  Below U+0300 (lead byte
     * 0xCC) NFC changes nothing, below U+00C0 (0xC3) NFD neither; the
     * compatibility forms already change U+00A0. */
    const tok_span *touch;
    size_t count;
    unsigned char safe;
    if (compat) {
        touch = do_compose ? tok_nfkc_touch : tok_nfkd_touch;
        count = do_compose ? tok_nfkc_touch_count : tok_nfkd_touch_count;
        safe = 0x80;
    } else {
        touch = do_compose ? tok_nfc_touch : tok_nfd_touch;
        count = do_compose ? tok_nfc_touch_count : tok_nfd_touch_count;
        safe = do_compose ? 0xCC : 0xC3;
    }
    size_t i = 0, k;
    while (i < n) {
        if (u[i] < safe) {
            i++;
            continue;
        }
        if (in_spans(next_cp(u + i, n - i, &k), touch, count))
            break;
        i += k;
    }
    if (i == n)
        return tok_buf_add(out, s, n);

    cps v = {0};
    int rc = 0;
    for (i = 0; i < n && rc == 0; i += k)
        rc = decompose(next_cp(u + i, n - i, &k), &v, compat);
    if (rc == 0) {
        canonical_order(&v);
        if (do_compose)
            compose(&v);
        for (size_t j = 0; j < v.n && rc == 0; j++) {
            char buf[4];
            rc = tok_buf_add(out, buf, tok_utf8_put(v.p[j], buf));
        }
    }
    free(v.p);
    return rc;
}

int tok_lowercase(const char *s, size_t n, tok_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    if (tok_buf_reserve(out, n))
        return -1;
    for (size_t i = 0, k; i < n; i += k) {
        if (u[i] < 0x80) {
            char c = (char)(u[i] >= 'A' && u[i] <= 'Z' ? u[i] + 32 : u[i]);
            k = 1;
            if (tok_buf_add(out, &c, 1))
                return -1;
            continue;
        }
        const tok_expand *x = expand_of(tok_lower, tok_lower_count, next_cp(u + i, n - i, &k));
        if (!x) {
            if (tok_buf_add(out, s + i, k))
                return -1;
            continue;
        }
        for (uint32_t j = 0; j < x->n; j++) {
            char buf[4];
            if (tok_buf_add(out, buf, tok_utf8_put(tok_expand_pool[x->at + j], buf)))
                return -1;
        }
    }
    return 0;
}
