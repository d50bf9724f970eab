/*
 * reward/judge — direct AI scores (d-RLAIF) as a reward.
 *
 * Each (prompt, response) is scored by a labeler's `score` (a value in
 * [-1, 1], e.g. Σ i·P(i) over a 1..10 rubric, rescaled), in batches.  RL
 * re-scores the same texts often (evaluation sets, repeated greedy
 * samples), so scores are cached: the key is two independent 64-bit hashes
 * of prompt and response (a false hit needs a 128-bit collision), the table
 * keeps the `cache_size` most recently used entries.
 *
 * The labeler draws a principle from the request's seed.  Scores under
 * different principles are on different scales (each has its own rubric or
 * probe), so the seed is a function of the prompt alone: every response to
 * one prompt is judged under the same principle and the scores a group of
 * samples is ranked by are comparable; a cached and a fresh score agree.
 *
 * Config keys:
 *   labeler     instance {"rlaif_handle": N}   required: a labeler with score
 *   cache_size  integer 0..1e7                default 4096 (0 = no cache)
 *   scale       number                         default 1: reward = scale · score
 *   seed        integer >= 0                   default 0
 *
 * Metrics: "cache_hit" (1 when the score came from the cache).
 */
#include <stdlib.h>
#include <string.h>

#include "pconfig.h"
#include "rlaif/plugin.h"

typedef struct cache_entry {
    uint64_t h1, h2;   /* 0, 0 = empty */
    uint64_t used;     /* last use, for eviction */
    float score;
} cache_entry;

typedef struct judge {
    const rlaif_host *host;
    rlaif_ref labeler;
    double scale;
    uint64_t seed;
    cache_entry *cache;   /* open addressing, power-of-two size */
    size_t cap, count, limit;
    uint64_t clock;
} judge;

static const char *const metric_names[] = {"cache_hit"};

/* FNV-1a over prompt, a separator byte, response; two offsets give two hashes. */
static uint64_t hash_pair(const char *p, const char *r, uint64_t basis)
{
    uint64_t h = basis;
    for (const unsigned char *s = (const unsigned char *)p; *s; s++) h = (h ^ *s) * 0x100000001b3ull;
    h = (h ^ 0xFF) * 0x100000001b3ull; /* 0xFF never occurs in UTF-8 */
    for (const unsigned char *s = (const unsigned char *)r; *s; s++) h = (h ^ *s) * 0x100000001b3ull;
    h ^= h >> 33;
    return h ? h : 1;
}

static cache_entry *cache_slot(judge *j, uint64_t h1, uint64_t h2, int *found)
{
    size_t mask = j->cap - 1, i = (size_t)h1 & mask;
    for (;; i = (i + 1) & mask) {
        cache_entry *e = &j->cache[i];
        if (e->h1 == 0) {
            *found = 0;
            return e;
        }
        if (e->h1 == h1 && e->h2 == h2) {
            *found = 1;
            return e;
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Drops the least recently used half when full (rare; keeps lookups O(1)).
 * Rebuilding the table also clears the probe chains of removed entries. */
static void cache_evict(judge *j)
{
    uint64_t *ages = malloc(j->count * sizeof *ages);
    cache_entry *fresh = calloc(j->cap, sizeof *fresh);
    if (!ages || !fresh) { /* no memory to be clever: forget everything */
        free(ages);
        free(fresh);
        memset(j->cache, 0, j->cap * sizeof *j->cache);
        j->count = 0;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < j->cap; i++)
        if (j->cache[i].h1) ages[n++] = j->cache[i].used;
    qsort(ages, n, sizeof *ages, cmp_u64);
    uint64_t cut = ages[n / 2]; /* keep the newer half (ages are distinct) */
    free(ages);
    cache_entry *old = j->cache;
    j->cache = fresh;
    j->count = 0;
    for (size_t i = 0; i < j->cap; i++) {
        if (!old[i].h1 || old[i].used < cut) continue;
        int found;
        *cache_slot(j, old[i].h1, old[i].h2, &found) = old[i];
        j->count++;
    }
    free(old);
}

static rlaif_status judge_create(const rlaif_host *host, const char *config, void **out, char *err,
                                 size_t errlen)
{
    static const char *const keys[] = {"labeler", "cache_size", "scale", "seed", NULL};
    pconfig c;
    if (pconfig_open(&c, "reward/judge", config, err, errlen)) return pconfig_close(&c);
    uint64_t handle = pconfig_handle(&c, "labeler", 1);
    int64_t cache_size = pconfig_int(&c, "cache_size", 4096, 0, 10000000);
    double scale = pconfig_number(&c, "scale", 1.0, -1e6, 1e6);
    int64_t seed = pconfig_int(&c, "seed", 0, 0, INT64_MAX);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st != RLAIF_OK) return st;

    judge *j = calloc(1, sizeof *j);
    if (!j) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/judge: out of memory");
    j->host = host;
    j->scale = scale;
    j->seed = (uint64_t)seed;
    j->labeler.struct_size = sizeof j->labeler;
    st = host->acquire(host, handle, RLAIF_KIND_LABELER, &j->labeler, err, errlen);
    if (st != RLAIF_OK) {
        free(j);
        return st;
    }
    if (!((const rlaif_labeler_vtable *)j->labeler.vtable)->score) {
        host->release(host, handle);
        free(j);
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "reward/judge: config key 'labeler': this labeler cannot score");
    }
    if (cache_size > 0) {
        j->limit = (size_t)cache_size;
        j->cap = 16;
        while (j->cap < 2 * j->limit) j->cap *= 2; /* load factor <= 1/2 */
        j->cache = calloc(j->cap, sizeof *j->cache);
        if (!j->cache) {
            host->release(host, handle);
            free(j);
            return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/judge: out of memory (cache)");
        }
    }
    *out = j;
    return RLAIF_OK;
}

static void judge_destroy(void *vself)
{
    judge *j = vself;
    if (!j) return;
    j->host->release(j->host, j->labeler.handle);
    free(j->cache);
    free(j);
}

static rlaif_status judge_describe(void *self, rlaif_reward_desc *out)
{
    (void)self;
    out->n_metrics = 1;
    out->metric_names = metric_names;
    return RLAIF_OK;
}

static rlaif_status judge_score(void *vself, const rlaif_reward_batch *b, rlaif_reward_out *out,
                                char *err, size_t errlen)
{
    judge *j = vself;
    const rlaif_labeler_vtable *vt = j->labeler.vtable;
    size_t n = b->n, n_miss = 0;
    rlaif_score_req *reqs = malloc((n ? n : 1) * sizeof *reqs);
    rlaif_score_result *res = malloc((n ? n : 1) * sizeof *res);
    size_t *which = malloc((n ? n : 1) * sizeof *which);
    uint64_t *h = malloc((n ? n : 1) * 2 * sizeof *h);
    if (!reqs || !res || !which || !h) {
        free(reqs), free(res), free(which), free(h);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/judge: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *p = b->prompts[i] ? b->prompts[i] : "";
        h[2 * i] = hash_pair(p, b->responses[i], 0xcbf29ce484222325ull);
        h[2 * i + 1] = hash_pair(p, b->responses[i], 0x84222325cbf29ce4ull);
        int found = 0;
        cache_entry *e = j->cache ? cache_slot(j, h[2 * i], h[2 * i + 1], &found) : NULL;
        if (out->metrics) out->metrics[i] = (float)found;
        if (out->details) out->details[i] = NULL;
        if (found) {
            e->used = ++j->clock;
            out->rewards[i] = (float)(j->scale * e->score);
            continue;
        }
        reqs[n_miss] = (rlaif_score_req){.prompt = p, .response = b->responses[i],
                                         .seed = j->seed ^ hash_pair(p, "", 0x9e3779b97f4a7c15ull)};
        which[n_miss++] = i;
    }
    rlaif_status st = n_miss ? vt->score(j->labeler.self, n_miss, reqs, res, err, errlen) : RLAIF_OK;
    for (size_t k = 0; k < n_miss && st == RLAIF_OK; k++) {
        size_t i = which[k];
        out->rewards[i] = (float)(j->scale * res[k].score);
        if (!j->cache) continue;
        if (j->count >= j->limit) cache_evict(j);
        int found;
        cache_entry *e = cache_slot(j, h[2 * i], h[2 * i + 1], &found);
        if (!found) j->count++;
        *e = (cache_entry){.h1 = h[2 * i], .h2 = h[2 * i + 1], .used = ++j->clock,
                           .score = (float)res[k].score};
    }
    free(reqs);
    free(res);
    free(which);
    free(h);
    return st;
}

static const rlaif_reward_vtable judge_vtable = {
    .base = {.struct_size = sizeof(rlaif_reward_vtable), .create = judge_create, .destroy = judge_destroy},
    .describe = judge_describe,
    .score = judge_score,
};

static const rlaif_plugin_info judge_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_REWARD,
    .name = "judge",
    .version = "1.0.0",
    .description = "direct AI scores (d-RLAIF) from a labeler, cached",
    .caps = 0,
    .vtable = &judge_vtable,
};

RLAIF_PLUGIN(&judge_info)
