/*
 * optimizer/dpo — direct preference optimisation (Rafailov et al. 2023)
 * and its IPO variant (Azar et al. 2023), soft labels welcome.
 *
 * Batch: sequences in pairs (2i, 2i+1) = (a, b) with label[i] = p(a ≻ b)
 * (NULL: 1, a is chosen; a labeler's soft p may be given as is).
 * Models: policy (trained), reference (frozen).
 *
 * With log-probabilities summed over each response's tokens,
 *   h = (log π(a) - log π_ref(a)) - (log π(b) - log π_ref(b)),
 * and p' = label_smoothing + (1 - 2·label_smoothing)·p:
 *   sigmoid:  L = -[p'·log σ(β h) + (1-p')·log σ(-β h)]
 *             dL/dlog π(a)_t = β·(σ(β h) - p'),  dL/dlog π(b)_t = -that
 *   ipo:      L = (h - (2p' - 1)/(2β))²
 *             dL/dlog π(a)_t = 2·(h - (2p' - 1)/(2β)),  b: -that
 * averaged over the pairs; one model update per step().
 *
 * Reference log-probabilities do not change during training, so each
 * sequence's sum is computed once and cached, keyed by a 64-bit hash of
 * its tokens and prompt length; the reference model is only called for
 * sequences not seen before (and is not needed when all are cached).
 *
 * Config keys (defaults): the AdamW / schedule keys (lr 1e-6),
 *   minibatch_size 0 (pairs per forward/backward, 0 = all), beta 0.1,
 *   loss "sigmoid" | "ipo", label_smoothing 0 (< 0.5),
 *   cache_size 65536 (entries; the cache is emptied when full)
 *
 * Stats: loss, accuracy (pairs whose preferred side has the larger
 * implicit reward; p = 1/2 left out), margin (mean β·h towards the
 * preferred side), reward_chosen, reward_rejected (mean implicit rewards
 * β·(log π - log π_ref) of the preferred / other side), logp_chosen,
 * logp_rejected, ref_cache_hits, ref_cache_misses, grad_norm, lr.
 * State: {"updates"} (the cache is rebuilt after a resume).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optpair.h"

#define WHO "optimizer/dpo"

typedef struct cache_entry {
    uint64_t key;   /* 0 = empty */
    double value;
} cache_entry;

typedef struct dpo {
    or_adam adam;
    int64_t minibatch_size;
    double beta, smoothing;
    int ipo;
    size_t cache_cap, cache_used;  /* cache_cap: power of two, >= 2 x cache_size */
    size_t cache_limit;
    cache_entry *cache;
    uint64_t updates;
    or_stats stats;
    or_sub sub;
    float *lp, *g, *ref_sum, *pol_sum;
    size_t cap_lp, cap_g, cap_ref, cap_pol;
    uint8_t *mask;
    size_t cap_mask;
    size_t *idx, *miss;
    size_t cap_idx, cap_miss;
    uint64_t *keys;
    size_t cap_keys;
    char state[128];
} dpo;

/* ===== the reference cache =============================================== */

/* FNV-1a over prompt_len, len and the ids; 0 is reserved for "empty". */
static uint64_t seq_key(const rlaif_seqs *s, size_t b)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t pl = s->prompt_len ? s->prompt_len[b] : 0;
    uint64_t head[2] = {pl, s->len[b]};
    const unsigned char *p = (const unsigned char *)head;
    for (size_t i = 0; i < sizeof head; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    p = (const unsigned char *)s->ids[b];
    for (size_t i = 0; i < s->len[b] * sizeof(int32_t); i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h ? h : 1;
}

static cache_entry *cache_slot(dpo *d, uint64_t key)
{
    size_t mask = d->cache_cap - 1, i = (size_t)(key ^ (key >> 29)) & mask;
    while (d->cache[i].key && d->cache[i].key != key) i = (i + 1) & mask;
    return &d->cache[i];
}

static void cache_put(dpo *d, uint64_t key, double v)
{
    if (d->cache_used >= d->cache_limit) {
        memset(d->cache, 0, d->cache_cap * sizeof *d->cache);
        d->cache_used = 0;
    }
    cache_entry *e = cache_slot(d, key);
    if (!e->key) d->cache_used++;
    e->key = key;
    e->value = v;
}

/* ===== lifecycle ========================================================= */

static rlaif_status dpo_create(const rlaif_host *host, const char *config, void **out, char *err,
                               size_t errlen)
{
    (void)host;
    static const char *const keys[] = {OR_ADAM_KEYS, "minibatch_size", "beta", "loss",
                                       "label_smoothing", "cache_size", NULL};
    static const char *const losses[] = {"sigmoid", "ipo", NULL};
    pconfig c;
    if (pconfig_open(&c, WHO, config, err, errlen)) return pconfig_close(&c);
    dpo d;
    memset(&d, 0, sizeof d);
    or_adam_read(&c, &d.adam, 1e-6);
    d.minibatch_size = pconfig_int(&c, "minibatch_size", 0, 0, INT64_MAX);
    d.beta = pconfig_number(&c, "beta", 0.1, 1e-6, 1e6);
    d.ipo = pconfig_enum(&c, "loss", "sigmoid", losses) == 1;
    d.smoothing = pconfig_number(&c, "label_smoothing", 0, 0, 0.4999);
    int64_t cache_size = pconfig_int(&c, "cache_size", 65536, 1, (int64_t)1 << 30);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st) return st;
    d.cache_limit = (size_t)cache_size;
    d.cache_cap = 16;
    while (d.cache_cap < 2 * d.cache_limit) d.cache_cap *= 2;
    d.cache = calloc(d.cache_cap, sizeof *d.cache);
    dpo *self = malloc(sizeof *self);
    if (!self || !d.cache) {
        free(d.cache);
        free(self);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    }
    *self = d;
    *out = self;
    return RLAIF_OK;
}

static void dpo_destroy(void *vself)
{
    dpo *d = vself;
    if (!d) return;
    free(d->cache);
    or_sub_free(&d->sub);
    free(d->lp);
    free(d->g);
    free(d->ref_sum);
    free(d->pol_sum);
    free(d->mask);
    free(d->idx);
    free(d->miss);
    free(d->keys);
    free(d);
}

/* ===== one step ========================================================== */

/* Sum of lp over the masked entries of each sequence of the view. */
static void seq_sums(const or_sub *v, const float *lp, const uint8_t *mask, float *out)
{
    for (size_t i = 0; i < v->n; i++)
        out[i] = (float)om_masked_sum(lp + v->sub_off[i], mask + v->sub_off[i], v->len[i]);
}

static rlaif_status grow_tokens(dpo *d, size_t T, char *err, size_t errlen)
{
    rlaif_status st;
    if ((st = or_reserve((void **)&d->lp, &d->cap_lp, T, sizeof(float), WHO, err, errlen)) ||
        (st = or_reserve((void **)&d->g, &d->cap_g, T, sizeof(float), WHO, err, errlen)) ||
        (st = or_reserve((void **)&d->mask, &d->cap_mask, T, 1, WHO, err, errlen)))
        return st;
    return RLAIF_OK;
}

/* Fills d->ref_sum[n] from the cache, computing the misses with one
 * reference forward. */
static rlaif_status reference_sums(dpo *d, const rlaif_opt_models *m, const rlaif_seqs *s,
                                   const or_layout *l, size_t *hits, size_t *misses, char *err,
                                   size_t errlen)
{
    size_t n = s->n, nm = 0;
    rlaif_status st;
    if ((st = or_reserve((void **)&d->miss, &d->cap_miss, n, sizeof(size_t), WHO, err, errlen)) ||
        (st = or_reserve((void **)&d->keys, &d->cap_keys, n, sizeof(uint64_t), WHO, err, errlen)))
        return st;
    for (size_t b = 0; b < n; b++) {
        d->keys[b] = seq_key(s, b);
        cache_entry *e = cache_slot(d, d->keys[b]);
        if (e->key) d->ref_sum[b] = (float)e->value;
        else d->miss[nm++] = b;
    }
    *hits = n - nm;
    *misses = nm;
    if (!nm) return RLAIF_OK;
    if ((st = or_need_model(&m->reference, "reference", 0, WHO, err, errlen))) return st;
    if ((st = or_sub_make(&d->sub, s, l, d->miss, nm, WHO, err, errlen)) ||
        (st = grow_tokens(d, d->sub.total, err, errlen)))
        return st;
    or_sub_gather_u8(&d->sub, d->mask, l->mask);
    rlaif_outputs o;
    memset(&o, 0, sizeof o);
    o.logprobs = d->lp;
    if ((st = or_forward(&m->reference, "reference", &d->sub.seqs, RLAIF_OUT_LOGPROBS, 1.0f, &o,
                         WHO, err, errlen)))
        return st;
    if ((st = or_check_finite(d->lp, d->sub.total, d->updates + 1, "reference logprobs", WHO, err,
                              errlen)))
        return st;
    /* pol_sum is free here: use it as scratch for the misses' sums. */
    seq_sums(&d->sub, d->lp, d->mask, d->pol_sum);
    for (size_t i = 0; i < nm; i++) {
        size_t b = d->miss[i];
        d->ref_sum[b] = d->pol_sum[i];
        cache_put(d, d->keys[b], d->pol_sum[i]);
    }
    return RLAIF_OK;
}

typedef struct dpo_acc {
    double loss, margin, rc, rr, lc, lr_, right, counted;
} dpo_acc;

/* The loss of pairs [k, k+np) of the batch, forwarded in d->sub / d->lp;
 * writes the per-token gradient into d->g. */
static void pairs_loss(dpo *d, const rlaif_opt_batch *b, size_t k, size_t np, size_t pairs,
                       dpo_acc *a)
{
    memset(d->g, 0, d->sub.total * sizeof(float));
    for (size_t i = 0; i < np; i++) {
        size_t pi = k + i, ia = 2 * pi, ib = 2 * pi + 1;
        double pa = d->pol_sum[ia], pb = d->pol_sum[ib];
        double ra = d->ref_sum[ia], rb = d->ref_sum[ib];
        double p = b->label ? b->label[pi] : 1.0;
        double ps = om_smooth_label(p, d->smoothing);
        double ga, gb;
        a->loss += om_dpo_loss(pa, ra, pb, rb, d->beta, ps, d->ipo, &ga, &gb) / (double)pairs;
        /* Every response token of a gets ga / pairs, of b gb / pairs. */
        for (int side = 0; side < 2; side++) {
            size_t j = 2 * i + (size_t)side;
            float gv = (float)((side ? gb : ga) / (double)pairs);
            for (size_t t = 0; t < d->sub.len[j]; t++)
                if (d->mask[d->sub.sub_off[j] + t]) d->g[d->sub.sub_off[j] + t] = gv;
        }
        double za = d->beta * (pa - ra), zb = d->beta * (pb - rb);
        int a_pref = p >= 0.5;
        a->margin += (a_pref ? za - zb : zb - za) / (double)pairs;
        a->rc += (a_pref ? za : zb) / (double)pairs;
        a->rr += (a_pref ? zb : za) / (double)pairs;
        a->lc += (a_pref ? pa : pb) / (double)pairs;
        a->lr_ += (a_pref ? pb : pa) / (double)pairs;
        if (p != 0.5) {
            a->counted++;
            a->right += (p > 0.5) ? za > zb : zb > za;
        }
    }
}

static rlaif_status dpo_run(dpo *d, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                            int train, rlaif_opt_result *out, char *err, size_t errlen)
{
    const rlaif_seqs *s = &b->seqs;
    rlaif_status st = or_need_model(&m->policy, "policy", train, WHO, err, errlen);
    if (st) return st;
    if (s->n == 0 || s->n % 2)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": the batch must hold pairs of sequences, got %zu", s->n);
    size_t pairs = s->n / 2;
    if ((st = op_check_labels(b, pairs, WHO, err, errlen))) return st;
    if ((st = or_reserve((void **)&d->ref_sum, &d->cap_ref, s->n, sizeof(float), WHO, err,
                         errlen)) ||
        (st = or_reserve((void **)&d->pol_sum, &d->cap_pol, s->n, sizeof(float), WHO, err,
                         errlen)) ||
        (st = or_reserve((void **)&d->idx, &d->cap_idx, s->n, sizeof(size_t), WHO, err, errlen)))
        return st;
    or_layout l;
    if ((st = or_layout_build(&l, s, 0, WHO, err, errlen))) return st;
    size_t hits = 0, misses = 0;
    uint64_t step_no = d->updates + 1;
    st = reference_sums(d, m, s, &l, &hits, &misses, err, errlen);
    for (size_t i = 0; i < s->n; i++) d->idx[i] = i;
    size_t mb = op_minibatch(d->minibatch_size, pairs);
    dpo_acc a;
    memset(&a, 0, sizeof a);
    for (size_t k = 0; k < pairs && !st; k += mb) {
        size_t np = pairs - k < mb ? pairs - k : mb;
        if ((st = or_sub_make(&d->sub, s, &l, d->idx + 2 * k, 2 * np, WHO, err, errlen)) ||
            (st = grow_tokens(d, d->sub.total, err, errlen)))
            break;
        or_sub_gather_u8(&d->sub, d->mask, l.mask);
        rlaif_outputs o;
        memset(&o, 0, sizeof o);
        o.logprobs = d->lp;
        uint32_t want = RLAIF_OUT_LOGPROBS | (train ? RLAIF_OUT_KEEP : 0);
        if ((st = or_forward(&m->policy, "policy", &d->sub.seqs, want, 1.0f, &o, WHO, err,
                             errlen)))
            break;
        seq_sums(&d->sub, d->lp, d->mask, d->pol_sum + 2 * k);
        pairs_loss(d, b, k, np, pairs, &a);
        if ((st = or_check_value(a.loss, step_no, "DPO loss", WHO, err, errlen)) ||
            (st = or_check_finite(d->g, d->sub.total, step_no, "DPO gradient", WHO, err, errlen)))
            break;
        if (!train) continue;
        rlaif_outputs g;
        memset(&g, 0, sizeof g);
        g.struct_size = sizeof g;
        g.logprobs = d->g;
        st = or_backward(&m->policy, "policy", &g, WHO, err, errlen);
    }
    or_layout_free(&l);
    double gn, lr;
    if ((st = op_finish(&d->adam, &m->policy, train, st, &d->updates, &gn, &lr, WHO, err, errlen)))
        return st;
    or_stats *o = &d->stats;
    or_stats_reset(o);
    or_stats_set(o, "loss", a.loss);
    or_stats_set(o, "accuracy", a.counted ? a.right / a.counted : 0.5);
    or_stats_set(o, "margin", a.margin);
    or_stats_set(o, "reward_chosen", a.rc);
    or_stats_set(o, "reward_rejected", a.rr);
    or_stats_set(o, "logp_chosen", a.lc);
    or_stats_set(o, "logp_rejected", a.lr_);
    or_stats_set(o, "ref_cache_hits", (double)hits);
    or_stats_set(o, "ref_cache_misses", (double)misses);
    op_stats_update(o, train, gn, lr);
    or_stats_out(o, out);
    return RLAIF_OK;
}

static rlaif_status dpo_step(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                             rlaif_opt_result *out, char *err, size_t errlen)
{
    return dpo_run(self, m, b, 1, out, err, errlen);
}

static rlaif_status dpo_evaluate(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                                 rlaif_opt_result *out, char *err, size_t errlen)
{
    return dpo_run(self, m, b, 0, out, err, errlen);
}

static rlaif_status dpo_get_state(void *self, const char **json)
{
    dpo *d = self;
    op_state_get(d->state, sizeof d->state, d->updates);
    *json = d->state;
    return RLAIF_OK;
}

static rlaif_status dpo_set_state(void *self, const char *json, char *err, size_t errlen)
{
    dpo *d = self;
    return op_state_set(json, WHO " state", &d->updates, err, errlen);
}

static const rlaif_optimizer_vtable dpo_vtable = {
    .base = {.struct_size = sizeof(rlaif_optimizer_vtable),
             .create = dpo_create,
             .destroy = dpo_destroy},
    .step = dpo_step,
    .get_state = dpo_get_state,
    .set_state = dpo_set_state,
    .evaluate = dpo_evaluate,
};

static const rlaif_plugin_info dpo_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_OPTIMIZER,
    .name = "dpo",
    .version = "1.0.0",
    .description = "DPO (sigmoid, label smoothing for soft labels) and IPO, cached reference",
    .caps = RLAIF_CAP_SAVE | RLAIF_CAP_OPTIMIZER_OFFLINE,
    .vtable = &dpo_vtable,
};

RLAIF_PLUGIN(&dpo_info)
