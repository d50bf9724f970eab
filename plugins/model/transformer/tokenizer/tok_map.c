/*
 * tok_map.c — open-addressing hash maps for the vocabulary (string -> id)
 * and the merge table ((id, id) -> rank, merged id).  Both are filled once
 * at load time and only read afterwards, so encoding may run on many
 * threads.  Capacity is at least twice the entry count: probes stay short.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

/* FNV-1a, continued from h (so a concatenation hashes in two calls). */
static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        h ^= u[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Spreads the bits so the low ones index well. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static size_t capacity_for(size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n + 1)
        cap *= 2;
    return cap;
}

/* ===== string -> id ===================================================== */

int tok_strmap_init(tok_strmap *m, size_t n, char *const *strs, const uint32_t *lens)
{
    size_t cap = capacity_for(n);
    m->slot = malloc(cap * sizeof *m->slot);
    m->hash = malloc(cap * sizeof *m->hash);
    m->mask = cap - 1;
    m->strs = strs;
    m->lens = lens;
    if (!m->slot || !m->hash) {
        tok_strmap_free(m);
        return -1;
    }
    for (size_t i = 0; i < cap; i++)
        m->slot[i] = -1;
    return 0;
}

void tok_strmap_free(tok_strmap *m)
{
    free(m->slot);
    free(m->hash);
    m->slot = NULL;
    m->hash = NULL;
}

static int key_equal(const tok_strmap *m, int32_t id, const char *a, size_t na, const char *b,
                     size_t nb)
{
    const char *s = m->strs[id];
    if (m->lens[id] != na + nb)
        return 0;
    return memcmp(s, a, na) == 0 && (nb == 0 || memcmp(s + na, b, nb) == 0);
}

int tok_strmap_put(tok_strmap *m, int32_t id)
{
    uint64_t h = mix(fnv(FNV_OFFSET, m->strs[id], m->lens[id]));
    size_t i = (size_t)h & m->mask;
    while (m->slot[i] >= 0) {
        if (m->hash[i] == (uint32_t)h && key_equal(m, m->slot[i], m->strs[id], m->lens[id], "", 0))
            return 1;
        i = (i + 1) & m->mask;
    }
    m->slot[i] = id;
    m->hash[i] = (uint32_t)h;
    return 0;
}

int32_t tok_strmap_get2(const tok_strmap *m, const char *a, size_t na, const char *b, size_t nb)
{
    if (!m->slot)
        return -1;
    uint64_t h = mix(fnv(fnv(FNV_OFFSET, a, na), b, nb));
    size_t i = (size_t)h & m->mask;
    while (m->slot[i] >= 0) {
        if (m->hash[i] == (uint32_t)h && key_equal(m, m->slot[i], a, na, b, nb))
            return m->slot[i];
        i = (i + 1) & m->mask;
    }
    return -1;
}

int32_t tok_strmap_get(const tok_strmap *m, const char *s, size_t n)
{
    return tok_strmap_get2(m, s, n, "", 0);
}

/* ===== (id, id) -> merge ================================================ */

int tok_pairmap_init(tok_pairmap *m, size_t n)
{
    size_t cap = capacity_for(n);
    m->key = malloc(cap * sizeof *m->key);
    m->rank = malloc(cap * sizeof *m->rank);
    m->merged = malloc(cap * sizeof *m->merged);
    m->mask = cap - 1;
    if (!m->key || !m->rank || !m->merged) {
        tok_pairmap_free(m);
        return -1;
    }
    for (size_t i = 0; i < cap; i++)
        m->rank[i] = -1;
    return 0;
}

void tok_pairmap_free(tok_pairmap *m)
{
    free(m->key);
    free(m->rank);
    free(m->merged);
    m->key = NULL;
    m->rank = NULL;
    m->merged = NULL;
}

static uint64_t pair_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

int tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged)
{
    uint64_t k = pair_key(a, b);
    size_t i = (size_t)mix(k) & m->mask;
    while (m->rank[i] >= 0) {
        if (m->key[i] == k) {
            m->rank[i] = rank;     /* a later duplicate wins, as in HF's map */
            m->merged[i] = merged;
            return 1;
        }
        i = (i + 1) & m->mask;
    }
    m->key[i] = k;
    m->rank[i] = rank;
    m->merged[i] = merged;
    return 0;
}

int tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *merged)
{
    if (!m->rank)
        return 0;
    uint64_t k = pair_key(a, b);
    size_t i = (size_t)mix(k) & m->mask;
    while (m->rank[i] >= 0) {
        if (m->key[i] == k) {
            *rank = m->rank[i];
            *merged = m->merged[i];
            return 1;
        }
        i = (i + 1) & m->mask;
    }
    return 0;
}
