/*
 * bigram.c — parameters, forward, backward and AdamW of model/bigram.
 * See bigram.h for the model and the parameter layout.
 */
#include "bigram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define V BIGRAM_V

/* ===== lifecycle ========================================================= */

/* splitmix64: a small, well-mixed generator, plenty for initialisation. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *s) { return ((splitmix64(s) >> 11) + 0.5) * 0x1.0p-53; }

static double normal01(uint64_t *s)
{
    double u1 = uniform01(s), u2 = uniform01(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static bigram *bigram_alloc(void)
{
    bigram *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->params = calloc(BIGRAM_N_PARAMS, sizeof(float));
    m->grads = calloc(BIGRAM_N_PARAMS, sizeof(float));
    m->row = malloc(V * sizeof(float));
    m->row2 = malloc(V * sizeof(float));
    m->order = malloc(V * sizeof(int32_t));
    if (!m->params || !m->grads || !m->row || !m->row2 || !m->order) {
        bigram_free(m);
        return NULL;
    }
    return m;
}

bigram *bigram_new(uint64_t seed, double init_std, int value_head, int score_head,
                   enum bigram_pool pool, int32_t max_seq_len)
{
    bigram *m = bigram_alloc();
    if (!m) return NULL;
    uint64_t s = seed;
    if (init_std > 0)
        for (size_t i = 0; i < (size_t)V * V; i++)
            m->params[BIGRAM_OFF_W + i] = (float)(init_std * normal01(&s));
    m->has_value_head = value_head;
    m->has_score_head = score_head;
    m->pool = pool;
    m->max_seq_len = max_seq_len;
    return m;
}

void bigram_free(bigram *m)
{
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->m);
    free(m->v);
    free(m->kept.ids);
    free(m->kept.len);
    free(m->row);
    free(m->row2);
    free(m->order);
    free(m);
}

bigram *bigram_snapshot(const bigram *src)
{
    bigram *m = bigram_alloc();
    if (!m) return NULL;
    memcpy(m->params, src->params, BIGRAM_N_PARAMS * sizeof(float));
    m->has_value_head = src->has_value_head;
    m->has_score_head = src->has_score_head;
    m->pool = src->pool;
    m->max_seq_len = src->max_seq_len;
    m->frozen = 1;
    return m;
}

/* ===== forward =========================================================== */

rlaif_status bigram_check_seqs(const bigram *m, const rlaif_seqs *s, char *err, size_t errlen)
{
    if (!s || (s->n && (!s->ids || !s->len)))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "model/bigram: seqs missing ids or len");
    for (size_t b = 0; b < s->n; b++) {
        if (s->len[b] > (size_t)m->max_seq_len)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "model/bigram: sequence %zu has %zu tokens, max_seq_len is %d", b,
                                s->len[b], (int)m->max_seq_len);
        if (s->len[b] && !s->ids[b])
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "model/bigram: sequence %zu has NULL ids", b);
        for (size_t t = 0; t < s->len[b]; t++) {
            int32_t id = s->ids[b][t];
            if (id < 0 || id >= V)
                return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                    "model/bigram: sequence %zu position %zu: token id %d outside "
                                    "the vocabulary [0, %d)",
                                    b, t, (int)id, V);
        }
    }
    return RLAIF_OK;
}

double bigram_log_softmax_row(const bigram *m, int32_t prev, float temperature, float *out)
{
    const float *w = m->params + BIGRAM_OFF_W + (size_t)prev * V;
    float inv_t = 1.0f / temperature;
    float mx = -INFINITY;
    for (int j = 0; j < V; j++) {
        out[j] = w[j] * inv_t;
        if (out[j] > mx) mx = out[j];
    }
    double z = 0;
    for (int j = 0; j < V; j++) z += exp((double)(out[j] - mx));
    float lz = mx + (float)log(z);
    double h = 0;
    for (int j = 0; j < V; j++) {
        out[j] -= lz;
        h -= exp((double)out[j]) * out[j];
    }
    return h;
}

static float score_of(const bigram *m, const int32_t *ids, size_t len)
{
    const float *S = m->params + BIGRAM_OFF_S;
    float sb = m->params[BIGRAM_OFF_SB];
    if (len == 0) return sb;
    if (m->pool == BIGRAM_POOL_LAST) return S[ids[len - 1]] + sb;
    double acc = 0;
    for (size_t t = 0; t < len; t++) acc += S[ids[t]];
    return (float)(acc / (double)len) + sb;
}

/* Copies the batch so backward can recompute what it needs. */
static rlaif_status keep_batch(bigram *m, const rlaif_seqs *s, float temperature, char *err,
                               size_t errlen)
{
    bigram_kept *k = &m->kept;
    size_t total = 0;
    for (size_t b = 0; b < s->n; b++) total += s->len[b];
    if (total > k->cap_total) {
        int32_t *p = realloc(k->ids, (total ? total : 1) * sizeof(int32_t));
        if (!p) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model/bigram: out of memory");
        k->ids = p;
        k->cap_total = total;
    }
    if (s->n > k->cap_n) {
        size_t *p = realloc(k->len, (s->n ? s->n : 1) * sizeof(size_t));
        if (!p) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model/bigram: out of memory");
        k->len = p;
        k->cap_n = s->n;
    }
    size_t off = 0;
    for (size_t b = 0; b < s->n; b++) {
        if (s->len[b]) memcpy(k->ids + off, s->ids[b], s->len[b] * sizeof(int32_t));
        k->len[b] = s->len[b];
        off += s->len[b];
    }
    k->n = s->n;
    k->total = total;
    k->temperature = temperature;
    k->valid = 1;
    return RLAIF_OK;
}

rlaif_status bigram_forward(bigram *m, const rlaif_seqs *s, uint32_t want, float temperature,
                            rlaif_outputs *out, char *err, size_t errlen)
{
    m->kept.valid = 0;
    if (!(temperature > 0) || !isfinite(temperature))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "model/bigram: forward temperature must be > 0, got %g",
                            (double)temperature);
    if (!out)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "model/bigram: forward needs outputs");
    rlaif_status st = bigram_check_seqs(m, s, err, errlen);
    if (st) return st;
    if ((want & RLAIF_OUT_VALUES) && !m->has_value_head)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "model/bigram: values asked but the model has no value head "
                            "(config value_head)");
    if ((want & RLAIF_OUT_SCORE) && !m->has_score_head)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "model/bigram: score asked but the model has no score head "
                            "(config score_head)");
    float *lp = (want & RLAIF_OUT_LOGPROBS) ? out->logprobs : NULL;
    float *ent = (want & RLAIF_OUT_ENTROPY) ? out->entropy : NULL;
    float *val = (want & RLAIF_OUT_VALUES) ? out->values : NULL;
    float *sc = (want & RLAIF_OUT_SCORE) ? out->score : NULL;
    const float *Vh = m->params + BIGRAM_OFF_VH;
    float vb = m->params[BIGRAM_OFF_VB];
    size_t off = 0;
    for (size_t b = 0; b < s->n; b++) {
        const int32_t *ids = s->ids[b];
        size_t len = s->len[b];
        for (size_t t = 0; t < len; t++) {
            if (lp || ent) {
                if (t + 1 < len) {
                    double h = bigram_log_softmax_row(m, ids[t], temperature, m->row);
                    if (lp) lp[off + t] = m->row[ids[t + 1]];
                    if (ent) ent[off + t] = (float)h;
                } else {
                    if (lp) lp[off + t] = 0;
                    if (ent) ent[off + t] = 0;
                }
            }
            if (val) val[off + t] = Vh[ids[t]] + vb;
        }
        if (sc) sc[b] = score_of(m, ids, len);
        off += len;
    }
    if (want & RLAIF_OUT_KEEP) return keep_batch(m, s, temperature, err, errlen);
    return RLAIF_OK;
}

/* ===== backward ========================================================== */

/* dL/dW[prev] from the gradient of one position's logprob (gl, of token y)
 * and entropy (gh):  with z = W[prev]/T, p = softmax(z),
 *   d log p_y / dz_j = [j == y] - p_j
 *   d H / dz_j       = -p_j (log p_j + H)                               */
static void backward_row(bigram *m, int32_t prev, int32_t y, float gl, float gh, float T)
{
    float *ls = m->row;
    double h = bigram_log_softmax_row(m, prev, T, ls);
    float *gw = m->grads + BIGRAM_OFF_W + (size_t)prev * V;
    float inv_t = 1.0f / T;
    for (int j = 0; j < V; j++) {
        double p = exp((double)ls[j]);
        double dz = -gl * p - gh * p * (ls[j] + h);
        if (j == y) dz += gl;
        gw[j] += (float)(dz * inv_t);
    }
}

rlaif_status bigram_backward(bigram *m, const rlaif_outputs *g, char *err, size_t errlen)
{
    if (m->frozen)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "model/bigram: backward on a frozen reference view");
    const bigram_kept *k = &m->kept;
    if (!k->valid)
        return rlaif_errorf(err, errlen, RLAIF_E_STATE,
                            "model/bigram: backward without a forward with RLAIF_OUT_KEEP");
    if (!g) return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "model/bigram: NULL gradients");
    if (g->values && !m->has_value_head)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "model/bigram: value gradient given but no value head");
    if (g->score && !m->has_score_head)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "model/bigram: score gradient given but no score head");
    float *gVh = m->grads + BIGRAM_OFF_VH, *gS = m->grads + BIGRAM_OFF_S;
    size_t off = 0;
    for (size_t b = 0; b < k->n; b++) {
        const int32_t *ids = k->ids + off;
        size_t len = k->len[b];
        for (size_t t = 0; t < len; t++) {
            if (t + 1 < len) {
                float gl = g->logprobs ? g->logprobs[off + t] : 0.0f;
                float gh = g->entropy ? g->entropy[off + t] : 0.0f;
                if (gl != 0.0f || gh != 0.0f)
                    backward_row(m, ids[t], ids[t + 1], gl, gh, k->temperature);
            }
            if (g->values) {
                gVh[ids[t]] += g->values[off + t];
                m->grads[BIGRAM_OFF_VB] += g->values[off + t];
            }
        }
        if (g->score) {
            float gs = g->score[b];
            m->grads[BIGRAM_OFF_SB] += gs;
            if (len && m->pool == BIGRAM_POOL_LAST) gS[ids[len - 1]] += gs;
            if (len && m->pool == BIGRAM_POOL_MEAN)
                for (size_t t = 0; t < len; t++) gS[ids[t]] += gs / (float)len;
        }
        off += len;
    }
    return RLAIF_OK;
}

/* ===== AdamW ============================================================= */

typedef struct tensor_span {
    const char *name;
    size_t off, n;
    int decay;    /* decoupled weight decay applies (matrices only) */
    int enabled;
} tensor_span;

static size_t tensor_spans(const bigram *m, tensor_span out[5])
{
    tensor_span all[5] = {
        {"W", BIGRAM_OFF_W, (size_t)V * V, 1, 1},
        {"value_head.weight", BIGRAM_OFF_VH, V, 0, m->has_value_head},
        {"value_head.bias", BIGRAM_OFF_VB, 1, 0, m->has_value_head},
        {"score_head.weight", BIGRAM_OFF_S, V, 0, m->has_score_head},
        {"score_head.bias", BIGRAM_OFF_SB, 1, 0, m->has_score_head},
    };
    size_t k = 0;
    for (size_t i = 0; i < 5; i++)
        if (all[i].enabled) out[k++] = all[i];
    return k;
}

void bigram_zero_grad(bigram *m) { memset(m->grads, 0, BIGRAM_N_PARAMS * sizeof(float)); }

rlaif_status bigram_step(bigram *m, const rlaif_step_params *p, rlaif_step_result *out,
                         char *err, size_t errlen)
{
    if (m->frozen)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "model/bigram: step on a frozen reference view");
    if (!p) return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "model/bigram: NULL step params");
    tensor_span ts[5];
    size_t nt = tensor_spans(m, ts);
    float scale = p->grad_scale;
    /* Norm after grad_scale, before clipping; a non-finite tensor is named
     * and the update skipped (gradients dropped so the next step is clean). */
    double norm2 = 0;
    for (size_t i = 0; i < nt; i++) {
        double t2 = 0;
        for (size_t j = 0; j < ts[i].n; j++) {
            double g = (double)m->grads[ts[i].off + j] * scale;
            t2 += g * g;
        }
        if (!isfinite(t2)) {
            bigram_zero_grad(m);
            return rlaif_errorf(err, errlen, RLAIF_E_NUMERIC,
                                "model/bigram: gradient of '%s' is not finite; no update made",
                                ts[i].name);
        }
        norm2 += t2;
    }
    double norm = sqrt(norm2);
    if (!m->m) {
        m->m = calloc(BIGRAM_N_PARAMS, sizeof(float));
        m->v = calloc(BIGRAM_N_PARAMS, sizeof(float));
        if (!m->m || !m->v) {
            free(m->m);
            free(m->v);
            m->m = m->v = NULL;
            return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model/bigram: out of memory");
        }
    }
    double clip = 1.0;
    if (p->max_grad_norm > 0 && norm > p->max_grad_norm) clip = p->max_grad_norm / (norm + 1e-6);
    m->steps++;
    double b1 = p->beta1, b2 = p->beta2;
    double bc1 = 1.0 - pow(b1, (double)m->steps), bc2 = 1.0 - pow(b2, (double)m->steps);
    double lr = p->lr;
    for (size_t i = 0; i < nt; i++) {
        for (size_t j = 0; j < ts[i].n; j++) {
            size_t k = ts[i].off + j;
            double g = (double)m->grads[k] * scale * clip;
            double mk = b1 * m->m[k] + (1 - b1) * g;
            double vk = b2 * m->v[k] + (1 - b2) * g * g;
            m->m[k] = (float)mk;
            m->v[k] = (float)vk;
            double w = m->params[k];
            if (ts[i].decay) w -= lr * p->weight_decay * w;
            w -= lr * (mk / bc1) / (sqrt(vk / bc2) + p->eps);
            m->params[k] = (float)w;
        }
    }
    bigram_zero_grad(m);
    if (out) {
        out->grad_norm = norm;
        out->step = m->steps;
    }
    return RLAIF_OK;
}
