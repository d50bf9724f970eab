/*
 * wordmap.h — a string-keyed hash map for the reward plugins' word lists
 * (sentiment lexicons, name gazetteers).
 *
 * Built once at create() and then only read, so lookups never allocate and
 * several threads may read one map at a time.  Keys are byte strings
 * (callers lower-case or not as their data requires); each key carries a
 * float value and a small set of flag bits.  Open addressing with linear
 * probing, kept at most half full.
 */
#ifndef RLAIF_REWARD_WORDMAP_H
#define RLAIF_REWARD_WORDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct rwc_word_entry {
    const char *key;   /* NUL-terminated, owned by the map's arena */
    uint32_t len;
    uint32_t flags;
    float value;
} rwc_word_entry;

typedef struct rwc_wordmap {
    rwc_word_entry *slots; /* [cap]; key == NULL marks an empty slot */
    size_t cap;            /* a power of two */
    size_t count;
    char **chunks;         /* the key arena: chunks of copied keys */
    size_t n_chunks;
    size_t chunk_used, chunk_cap;
} rwc_wordmap;

/* An empty map (no allocation until the first put). */
void rwc_wordmap_init(rwc_wordmap *m);
void rwc_wordmap_free(rwc_wordmap *m);

/* Inserts or replaces `key[0..len)`: the value is overwritten and `flags`
 * or-ed into the existing flags.  Returns 0, or -1 when out of memory. */
int rwc_wordmap_put(rwc_wordmap *m, const char *key, size_t len, float value, uint32_t flags);

/* The entry for `key[0..len)`, or NULL. */
const rwc_word_entry *rwc_wordmap_get(const rwc_wordmap *m, const char *key, size_t len);

#endif
