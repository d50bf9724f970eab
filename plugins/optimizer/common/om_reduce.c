/*
 * om_reduce.c — numerics, masked reductions, whitening and the SFT loss.
 * Sums run in double: a batch may hold 10^5 tokens.
 */
#include <math.h>

#include "optmath.h"

double om_sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* log σ(x) = -softplus(-x) = min(x, 0) - log1p(e^{-|x|}). */
double om_log_sigmoid(double x) { return (x < 0 ? x : 0.0) - log1p(exp(-fabs(x))); }

size_t om_mask_count(const uint8_t *mask, size_t n)
{
    if (!mask) return n;
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += mask[i] != 0;
    return c;
}

double om_masked_sum(const float *x, const uint8_t *mask, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i]) s += x[i];
    return s;
}

double om_masked_mean(const float *x, const uint8_t *mask, size_t n)
{
    size_t c = om_mask_count(mask, n);
    return c ? om_masked_sum(x, mask, n) / (double)c : 0.0;
}

double om_masked_var(const float *x, const uint8_t *mask, size_t n, int unbiased)
{
    size_t c = om_mask_count(mask, n);
    if (c == 0 || (unbiased && c < 2)) return 0.0;
    double mu = om_masked_mean(x, mask, n), s = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i]) s += (x[i] - mu) * (x[i] - mu);
    return s / (double)(unbiased ? c - 1 : c);
}

void om_whiten(float *x, const uint8_t *mask, size_t n, int shift_mean)
{
    double mu = om_masked_mean(x, mask, n);
    double inv = 1.0 / sqrt(om_masked_var(x, mask, n, 0) + 1e-8);
    for (size_t i = 0; i < n; i++) {
        if (mask && !mask[i]) continue;
        double w = (x[i] - mu) * inv;
        x[i] = (float)(shift_mean ? w : w + mu);
    }
}

double om_explained_variance(const float *pred, const float *target, const uint8_t *mask,
                             size_t n)
{
    size_t c = om_mask_count(mask, n);
    if (c == 0) return NAN;
    double var_t = om_masked_var(target, mask, n, 0);
    if (!(var_t > 0)) return NAN;
    /* Var(target - pred) in two passes, without a scratch array. */
    double mu = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i]) mu += (double)target[i] - pred[i];
    mu /= (double)c;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i]) {
            double d = (double)target[i] - pred[i] - mu;
            s += d * d;
        }
    return 1.0 - (s / (double)c) / var_t;
}

double om_sft_nll(const float *lp, const uint8_t *mask, size_t n, float scale, float *grad)
{
    double nll = 0;
    for (size_t i = 0; i < n; i++) {
        int on = !mask || mask[i];
        if (on) nll -= lp[i];
        if (grad) grad[i] = on ? -scale : 0.0f;
    }
    return nll;
}
