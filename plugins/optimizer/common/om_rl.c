/*
 * om_rl.c — reinforcement-learning pieces: KL estimators and controller,
 * GAE, the clipped policy and value losses, group baselines and the ways a
 * batch of per-token losses is averaged.
 */
#include <math.h>
#include <stdlib.h>

#include "optmath.h"

double om_kl(om_kl_kind k, double lp, double ref_lp)
{
    double r = ref_lp - lp;
    switch (k) {
    case OM_KL_K1: return -r;
    case OM_KL_K2: return 0.5 * r * r;
    case OM_KL_K3: return expm1(r) - r;
    }
    return NAN;
}

/* dr/dlp = -1. */
double om_kl_grad(om_kl_kind k, double lp, double ref_lp)
{
    double r = ref_lp - lp;
    switch (k) {
    case OM_KL_K1: return 1.0;
    case OM_KL_K2: return -r;
    case OM_KL_K3: return -expm1(r);
    }
    return NAN;
}

void om_kl_ctl_update(om_kl_ctl *c, double kl, size_t n_samples)
{
    if (!c->adaptive || !(c->target > 0) || !(c->horizon > 0) || !isfinite(kl)) return;
    double e = kl / c->target - 1.0;
    if (e > 0.2) e = 0.2;
    if (e < -0.2) e = -0.2;
    c->coef *= 1.0 + e * (double)n_samples / c->horizon;
}

void om_kl_penalised_rewards(float *r, const float *kl, size_t n, double coef, double score)
{
    for (size_t t = 0; t < n; t++) r[t] = (float)(-coef * kl[t]);
    if (n) r[n - 1] = (float)(r[n - 1] + score);
}

void om_gae(float *adv, float *ret, const float *r, const float *v, size_t n, double gamma,
            double lambda)
{
    double next_v = 0, next_a = 0;
    for (size_t i = n; i-- > 0;) {
        double delta = r[i] + gamma * next_v - v[i];
        double a = delta + gamma * lambda * next_a;
        adv[i] = (float)a;
        if (ret) ret[i] = (float)(a + v[i]);
        next_v = v[i];
        next_a = a;
    }
}

double om_ppo_token(double lp, double old_lp, double adv, double eps_low, double eps_high,
                    double *d_lp, int *clipped)
{
    double ratio = exp(lp - old_lp);
    double rc = ratio < 1 - eps_low ? 1 - eps_low : ratio > 1 + eps_high ? 1 + eps_high : ratio;
    double l1 = -adv * ratio, l2 = -adv * rc;
    int c = l2 > l1;
    if (clipped) *clipped = c;
    if (d_lp) *d_lp = c ? 0.0 : -adv * ratio;
    return c ? l2 : l1;
}

double om_approx_kl(double lp, double old_lp)
{
    double lr = lp - old_lp;
    return expm1(lr) - lr;
}

double om_value_token(double v, double v_old, double ret, double clip, double *d_v, int *clipped)
{
    double e1 = v - ret;
    if (!(clip > 0)) {
        if (clipped) *clipped = 0;
        if (d_v) *d_v = e1;
        return 0.5 * e1 * e1;
    }
    double dv = v - v_old;
    double vc = v_old + (dv < -clip ? -clip : dv > clip ? clip : dv);
    double e2 = vc - ret;
    int c = e2 * e2 > e1 * e1;
    if (clipped) *clipped = c;
    /* The clipped branch is constant in v where it clips (zero gradient). */
    if (d_v) *d_v = c ? (fabs(dv) <= clip ? e2 : 0.0) : e1;
    return 0.5 * (c ? e2 * e2 : e1 * e1);
}

/* Groups are found by label with a quadratic scan: batches are small
 * (hundreds of samples) and labels arbitrary. */
static void group_stats(const float *rewards, const uint32_t *group, size_t n, size_t i,
                        double *sum, size_t *count, double *sumsq)
{
    *sum = 0;
    *sumsq = 0;
    *count = 0;
    for (size_t j = 0; j < n; j++)
        if (group[j] == group[i]) {
            *sum += rewards[j];
            *sumsq += (double)rewards[j] * rewards[j];
            (*count)++;
        }
}

void om_group_advantages(float *adv, const float *rewards, const uint32_t *group, size_t n,
                         int scale_by_std, double eps)
{
    for (size_t i = 0; i < n; i++) {
        double sum, sumsq;
        size_t k;
        group_stats(rewards, group, n, i, &sum, &k, &sumsq);
        if (k < 2) {
            adv[i] = 0;
            continue;
        }
        double mean = sum / (double)k;
        double a = rewards[i] - mean;
        if (scale_by_std) {
            double var = (sumsq - (double)k * mean * mean) / (double)(k - 1);
            a /= sqrt(var > 0 ? var : 0) + eps;
        }
        adv[i] = (float)a;
    }
}

void om_rloo_advantages(float *adv, const float *rewards, const uint32_t *group, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double sum, sumsq;
        size_t k;
        group_stats(rewards, group, n, i, &sum, &k, &sumsq);
        adv[i] = k < 2 ? 0.0f : (float)(rewards[i] - (sum - rewards[i]) / (double)(k - 1));
    }
}

void om_agg_weights(float *w, const uint8_t *mask, const size_t *len, size_t n_seq, om_agg a)
{
    size_t total = 0, seqs = 0, off = 0;
    for (size_t b = 0; b < n_seq; b++) {
        size_t c = om_mask_count(mask ? mask + off : NULL, len[b]);
        total += c;
        seqs += c > 0;
        off += len[b];
    }
    off = 0;
    for (size_t b = 0; b < n_seq; b++) {
        size_t c = om_mask_count(mask ? mask + off : NULL, len[b]);
        double wb = 0;
        if (c) {
            if (a == OM_AGG_TOKEN_MEAN) wb = 1.0 / (double)total;
            else if (a == OM_AGG_SEQ_MEAN) wb = 1.0 / ((double)seqs * (double)c);
            else wb = 1.0 / (double)seqs;
        }
        for (size_t t = 0; t < len[b]; t++)
            w[off + t] = (!mask || mask[off + t]) ? (float)wb : 0.0f;
        off += len[b];
    }
}
