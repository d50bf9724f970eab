/*
 * bigram_generate.c — sampling continuations from the bigram table.
 *
 * A bigram needs only the previous token, so "batched" generation is a loop
 * over the sequences; each sequence draws from its own random stream seeded
 * from (seed, b) or seeds[b], so a sample does not depend on its batch.
 */
#include "bigram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define V BIGRAM_V

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s) { return (rng_next(s) >> 11) * 0x1.0p-53; }

/* The stream of sequence b: mixed so that nearby seeds and indices differ. */
static uint64_t stream_seed(const rlaif_sampling *s, size_t b)
{
    if (s->seeds) return s->seeds[b];
    uint64_t x = s->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(b + 1));
    return rng_next(&x);
}

typedef struct cand {
    float p;
    int32_t id;
} cand;

static int cand_desc(const void *a, const void *b)
{
    float pa = ((const cand *)a)->p, pb = ((const cand *)b)->p;
    if (pa != pb) return pa < pb ? 1 : -1;
    return ((const cand *)a)->id - ((const cand *)b)->id;
}

/* Draws a token from log-probabilities ls[V] after top-k / top-p filtering. */
static int32_t sample_filtered(const float *ls, int32_t top_k, float top_p, uint64_t *rng)
{
    cand c[V];
    for (int j = 0; j < V; j++) c[j] = (cand){expf(ls[j]), j};
    size_t keep = V;
    if (top_k > 0 || top_p < 1.0f) {
        qsort(c, V, sizeof(cand), cand_desc);
        if (top_k > 0 && (size_t)top_k < keep) keep = (size_t)top_k;
        if (top_p < 1.0f) {
            double cum = 0;
            for (size_t j = 0; j < keep; j++) {
                cum += c[j].p;
                if (cum >= top_p) {
                    keep = j + 1;
                    break;
                }
            }
        }
    }
    double total = 0;
    for (size_t j = 0; j < keep; j++) total += c[j].p;
    double u = rng_uniform(rng) * total, cum = 0;
    for (size_t j = 0; j < keep; j++) {
        cum += c[j].p;
        if (u < cum) return c[j].id;
    }
    return c[keep - 1].id;
}

static int32_t argmax(const float *x)
{
    int32_t best = 0;
    for (int j = 1; j < V; j++)
        if (x[j] > x[best]) best = j;
    return best;
}

static int ends_with(const char *buf, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return k && k <= n && memcmp(buf + n - k, suffix, k) == 0;
}

/* Whether the token just produced ends generation. */
static int is_stop(const rlaif_sampling *s, int32_t y, const char *text, size_t text_len)
{
    if (y == BIGRAM_EOS && !s->ignore_eos) return 1;
    for (size_t i = 0; i < s->n_stop_ids; i++)
        if (s->stop_ids[i] == y) return 1;
    /* Each token adds at most one byte, so a new match ends at the end. */
    if (y < 256)
        for (size_t i = 0; i < s->n_stop_strings; i++)
            if (s->stop_strings[i] && ends_with(text, text_len, s->stop_strings[i])) return 1;
    return 0;
}

rlaif_status bigram_generate(bigram *m, const rlaif_seqs *prompts, const rlaif_sampling *s,
                             rlaif_generation *out, char *err, size_t errlen)
{
    if (!s || !out || !out->ids || !out->logprobs || !out->n_new || !out->finish)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "model/bigram: generate needs sampling settings and all outputs");
    if (!(s->temperature >= 0) || !isfinite(s->temperature))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "model/bigram: sampling temperature must be >= 0, got %g",
                            (double)s->temperature);
    if (!(s->top_p > 0 && s->top_p <= 1))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "model/bigram: top_p must be in (0, 1], got %g", (double)s->top_p);
    if ((s->n_stop_ids && !s->stop_ids) || (s->n_stop_strings && !s->stop_strings))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "model/bigram: stop list count given without the list");
    rlaif_status st = bigram_check_seqs(m, prompts, err, errlen);
    if (st) return st;
    size_t cap = s->max_new_tokens;
    char *text = malloc(cap + 1);
    if (!text) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model/bigram: out of memory");
    float *ls = m->row;
    for (size_t b = 0; b < prompts->n; b++) {
        uint64_t rng = stream_seed(s, b);
        size_t plen = prompts->len[b];
        int32_t prev = plen ? prompts->ids[b][plen - 1] : BIGRAM_BOS;
        int32_t *ids = out->ids + b * cap;
        float *lps = out->logprobs + b * cap;
        size_t n = 0, text_len = 0;
        out->finish[b] = RLAIF_FINISH_LENGTH;
        while (n < cap) {
            int32_t y;
            if (s->temperature == 0) {
                bigram_log_softmax_row(m, prev, 1.0f, ls);
                y = argmax(ls);
            } else {
                bigram_log_softmax_row(m, prev, s->temperature, ls);
                y = sample_filtered(ls, s->top_k, s->top_p, &rng);
            }
            ids[n] = y;
            lps[n] = ls[y];
            n++;
            if (y < 256) text[text_len++] = (char)y;
            prev = y;
            if (is_stop(s, y, text, text_len)) {
                out->finish[b] = RLAIF_FINISH_STOP;
                break;
            }
        }
        out->n_new[b] = n;
    }
    free(text);
    return RLAIF_OK;
}
