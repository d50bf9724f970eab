/* wordmap.c — see wordmap.h. */
#include "wordmap.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a: short keys, no adversary that matters (the data is ours). */
static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void rwc_wordmap_init(rwc_wordmap *m) { memset(m, 0, sizeof *m); }

void rwc_wordmap_free(rwc_wordmap *m)
{
    for (size_t i = 0; i < m->n_chunks; i++) free(m->chunks[i]);
    free(m->chunks);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* Copies a key into the arena; keys never move once copied, so entries may
 * point at them across rehashes. */
static const char *arena_copy(rwc_wordmap *m, const char *key, size_t len)
{
    if (m->n_chunks == 0 || m->chunk_used + len + 1 > m->chunk_cap) {
        size_t cap = len + 1 > 16384 ? len + 1 : 16384;
        char *chunk = malloc(cap);
        if (!chunk) return NULL;
        char **chunks = realloc(m->chunks, (m->n_chunks + 1) * sizeof *chunks);
        if (!chunks) {
            free(chunk);
            return NULL;
        }
        m->chunks = chunks;
        m->chunks[m->n_chunks++] = chunk;
        m->chunk_used = 0;
        m->chunk_cap = cap;
    }
    char *dst = m->chunks[m->n_chunks - 1] + m->chunk_used;
    memcpy(dst, key, len);
    dst[len] = 0;
    m->chunk_used += len + 1;
    return dst;
}

static rwc_word_entry *find_slot(rwc_word_entry *slots, size_t cap, const char *key, size_t len)
{
    size_t i = (size_t)hash_bytes(key, len) & (cap - 1);
    for (;;) {
        rwc_word_entry *e = &slots[i];
        if (!e->key || (e->len == len && memcmp(e->key, key, len) == 0)) return e;
        i = (i + 1) & (cap - 1);
    }
}

static int grow(rwc_wordmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    rwc_word_entry *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        const rwc_word_entry *e = &m->slots[i];
        if (e->key) *find_slot(slots, cap, e->key, e->len) = *e;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int rwc_wordmap_put(rwc_wordmap *m, const char *key, size_t len, float value, uint32_t flags)
{
    if ((m->count + 1) * 2 > m->cap && grow(m) != 0) return -1;
    rwc_word_entry *e = find_slot(m->slots, m->cap, key, len);
    if (!e->key) {
        const char *copy = arena_copy(m, key, len);
        if (!copy) return -1;
        e->key = copy;
        e->len = (uint32_t)len;
        e->flags = 0;
        m->count++;
    }
    e->value = value;
    e->flags |= flags;
    return 0;
}

const rwc_word_entry *rwc_wordmap_get(const rwc_wordmap *m, const char *key, size_t len)
{
    if (m->cap == 0) return NULL;
    const rwc_word_entry *e = find_slot(m->slots, m->cap, key, len);
    return e->key ? e : NULL;
}
