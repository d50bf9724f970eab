/*
 * generate.c — sampling (greedy, temperature, top-k, top-p) and the
 * batched generation loop.
 */
#include "generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ===== Random streams =================================================== */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tf_rng_uniform(uint64_t key, uint64_t counter)
{
    uint64_t z = mix64(mix64(key) + (counter + 1) * 0x9E3779B97F4A7C15ull);
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t sequence_key(const tf_gen_params *p, size_t b)
{
    return p->seeds ? p->seeds[b] : mix64(p->seed ^ mix64((uint64_t)b + 0x51ED));
}

/* ===== Sampling ========================================================= */

/* Candidate order: higher probability first, lower id on ties. */
static _Thread_local const float *g_sort_probs; /* set only inside tf_sample's qsort (single-threaded use) */

static int by_prob_desc(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float pi = g_sort_probs[i], pj = g_sort_probs[j];
    if (pi != pj) return pi > pj ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Min-heap on (prob, -id) of the k best candidates. */
static int worse(const float *p, int32_t a, int32_t b)
{
    return p[a] < p[b] || (p[a] == p[b] && a > b);
}

static void heap_sift(int32_t *h, size_t n, size_t i, const float *p)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(p, h[l], h[m])) m = l;
        if (r < n && worse(p, h[r], h[m])) m = r;
        if (m == i) return;
        int32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static size_t top_k_select(const float *p, size_t V, size_t k, int32_t *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < V; i++) {
        if (n < k) {
            idx[n++] = (int32_t)i;
            if (n == k)
                for (size_t j = k / 2 + 1; j-- > 0;) heap_sift(idx, n, j, p);
        } else if (worse(p, idx[0], (int32_t)i)) {
            idx[0] = (int32_t)i;
            heap_sift(idx, n, 0, p);
        }
    }
    return n;
}

int32_t tf_sample(const float *logits, size_t V, const tf_gen_params *p, double u, float *probs,
                  int32_t *idx, float *logprob)
{
    if (p->temperature <= 0) {
        size_t best = 0;
        for (size_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        tf_logits_stats(logits, V, 1.0f, (int32_t)best, logprob, NULL);
        return (int32_t)best;
    }
    double lse = tf_logits_stats(logits, V, p->temperature, -1, NULL, NULL);
    float inv = 1.0f / p->temperature;
    for (size_t i = 0; i < V; i++) probs[i] = (float)exp((double)logits[i] * inv - lse);
    int filter = (p->top_k > 0 && (size_t)p->top_k < V) || p->top_p < 1.0f;
    int32_t tok = -1;
    if (!filter) {
        /* Inverse CDF in id order. */
        double c = 0;
        for (size_t i = 0; i < V; i++) {
            c += probs[i];
            if (u < c) {
                tok = (int32_t)i;
                break;
            }
        }
        if (tok < 0) { /* rounding left u above the total: take the last possible */
            for (size_t i = V; i-- > 0;)
                if (probs[i] > 0) {
                    tok = (int32_t)i;
                    break;
                }
        }
    } else {
        size_t n;
        if (p->top_k > 0 && (size_t)p->top_k < V) {
            n = top_k_select(probs, V, (size_t)p->top_k, idx);
        } else {
            /* Tokens below (1-top_p)/(V-1) cannot be in the nucleus. */
            float cut = (1.0f - p->top_p) / (float)(V > 1 ? V - 1 : 1);
            n = 0;
            for (size_t i = 0; i < V; i++)
                if (probs[i] >= cut) idx[n++] = (int32_t)i;
            if (n == 0) /* cannot happen for a distribution; be safe */
                for (size_t i = 0; i < V; i++) idx[n++] = (int32_t)i;
        }
        g_sort_probs = probs;
        qsort(idx, n, sizeof *idx, by_prob_desc);
        g_sort_probs = NULL;
        double mass = 0;
        for (size_t i = 0; i < n; i++) mass += probs[idx[i]];
        if (p->top_p < 1.0f) {
            double c = 0;
            size_t keep = n;
            for (size_t i = 0; i < n; i++) {
                c += probs[idx[i]];
                if (c >= (double)p->top_p * mass) {
                    keep = i + 1;
                    break;
                }
            }
            n = keep;
            mass = c < mass ? c : mass;
        }
        double target = u * mass, c = 0;
        tok = idx[n - 1];
        for (size_t i = 0; i < n; i++) {
            c += probs[idx[i]];
            if (target < c) {
                tok = idx[i];
                break;
            }
        }
    }
    *logprob = (float)((double)logits[tok] * inv - lse);
    return tok;
}

/* ===== The generation loop ============================================== */

/* Sampling of the active rows runs on the pool: each thread has its own
 * scratch, each row its own random stream, so the result is the same on
 * any number of threads. */
typedef struct sample_job {
    const tf_gen_params *p;
    const float *logits;   /* [rows, V] */
    size_t V;
    const size_t *slot;
    const size_t *n_new;
    const uint64_t *key;
    float *probs;          /* [threads, V] */
    int32_t *idx;          /* [threads, V] */
    int32_t *tok;          /* [rows] out */
    float *lp;             /* [rows] out */
} sample_job;

static void sample_task(void *ctx, size_t r, int thread)
{
    const sample_job *j = ctx;
    size_t b = j->slot[r];
    j->tok[r] = tf_sample(j->logits + r * j->V, j->V, j->p,
                          tf_rng_uniform(j->key[b], j->n_new[b]), j->probs + (size_t)thread * j->V,
                          j->idx + (size_t)thread * j->V, &j->lp[r]);
}

static int is_stop(const tf_gen_params *p, int32_t tok)
{
    for (size_t i = 0; i < p->n_stop_ids; i++)
        if (p->stop_ids[i] == tok) return 1;
    return 0;
}

rlaif_status tf_generate(tf_engine *e, size_t n, const int32_t *const *prompts, const size_t *len,
                         const tf_gen_params *p, int32_t *ids, float *logprobs, size_t *n_new,
                         uint8_t *finish, char *err, size_t errlen)
{
    const tf_config *c = &e->m->cfg;
    size_t V = (size_t)c->vocab_size, D = (size_t)c->dim, P = (size_t)c->max_seq_len;
    size_t max_prompt = 0;
    for (size_t b = 0; b < n; b++) {
        n_new[b] = 0;
        finish[b] = RLAIF_FINISH_LENGTH;
        if (len[b] == 0)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "generate: prompt %zu is empty (give at least BOS)", b);
        if (len[b] > P)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "generate: prompt %zu has %zu tokens, more than the model's %zu "
                                "positions", b, len[b], P);
        max_prompt = len[b] > max_prompt ? len[b] : max_prompt;
    }
    if (n == 0 || p->max_new == 0) return RLAIF_OK;
    if (p->top_p <= 0 || p->top_k < 0 || !(p->temperature >= 0))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "generate: need temperature >= 0 (got %g), top_k >= 0 (got %d), "
                            "top_p in (0, 1] with 1 = off (got %g)", (double)p->temperature,
                            p->top_k, (double)p->top_p);
    size_t max_len = max_prompt + p->max_new < P ? max_prompt + p->max_new : P;

    tf_engine_sync_bf16(e);
    tf_kv *kv = &e->kv;
    tf_decode_buf *dp = &e->dec;
    rlaif_status st = tf_kv_reserve(kv, c, n, max_len, err, errlen);
    if (st) return st;
    st = tf_decode_buf_reserve(dp, c, n, max_len, e->ad_r_max, e->n_threads, err, errlen);
    if (st) return st;
    tf_decode_buf d = *dp;
    size_t nt = (size_t)tf_pool_size(e->pool);
    float *probs = malloc(nt * V * sizeof *probs), *slp = malloc(n * sizeof *slp);
    int32_t *idx = malloc(nt * V * sizeof *idx), *stok = malloc(n * sizeof *stok);
    size_t *slot = malloc(n * sizeof *slot);
    int32_t *tok = malloc(n * sizeof *tok), *pos = malloc(n * sizeof *pos);
    uint64_t *key = malloc(n * sizeof *key);
    if (!st && (!probs || !idx || !slot || !tok || !pos || !key || !slp || !stok))
        st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "generate: out of memory");
    if (!st) st = tf_forward(e, n, prompts, len, 0, kv, err, errlen);
    if (!st) {
        /* Logits after each prompt's last token, rows in sequence order. */
        for (size_t b = 0; b < n; b++) {
            memcpy(d.x + b * D, e->acts.xf + (e->acts.off[b + 1] - 1) * D, D * sizeof(float));
            slot[b] = b;
            key[b] = sequence_key(p, b);
        }
        tf_logits_rows(e, d.logits, d.x, n);
    }
    size_t rows = st ? 0 : n;
    for (size_t step = 0; !st && rows > 0; step++) {
        if (p->cancelled && p->cancelled(p->cancel_ctx)) {
            st = rlaif_errorf(err, errlen, RLAIF_E_CANCELLED, "generate: cancelled");
            break;
        }
        sample_job sj = {p, d.logits, V, slot, n_new, key, probs, idx, stok, slp};
        tf_pool_run(e->pool, rows, sample_task, &sj);
        size_t next = 0;
        for (size_t r = 0; r < rows; r++) {
            size_t b = slot[r], k = n_new[b];
            int32_t t = stok[r];
            ids[b * p->max_new + k] = t;
            logprobs[b * p->max_new + k] = slp[r];
            n_new[b] = ++k;
            if (is_stop(p, t) || (p->stop_fn && p->stop_fn(p->stop_ctx, b, ids + b * p->max_new, k))) {
                finish[b] = RLAIF_FINISH_STOP;
                continue;
            }
            if (k == p->max_new || len[b] + k > max_len) continue; /* LENGTH */
            slot[next] = b;
            tok[next] = t;
            pos[next] = (int32_t)(len[b] + k - 1);
            next++;
        }
        rows = next;
        if (rows) tf_decode_step(e, kv, &d, rows, slot, tok, pos);
    }
    free(probs);
    free(idx);
    free(slp);
    free(stok);
    free(slot);
    free(tok);
    free(pos);
    free(key);
    return st;
}
