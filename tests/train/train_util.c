/* train_util.c — see train_util.h. */
#include "train_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void tu_rng_seed(tu_rng *r, uint64_t seed) { r->s = seed * 2654435761u + 0x9E3779B97F4A7C15ull; }

static uint64_t tu_next(tu_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

float tu_uniform(tu_rng *r, float lo, float hi)
{
    double u = (double)(tu_next(r) >> 11) / 9007199254740992.0;
    return lo + (float)(u * (hi - lo));
}

void tu_fill(tu_rng *r, float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) p[i] = tu_uniform(r, lo, hi);
}

float *tu_alloc_fill(tu_rng *r, size_t n, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) abort();
    tu_fill(r, p, n, lo, hi);
    return p;
}

float *tu_zeros(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) abort();
    return p;
}

float tu_max_abs(const float *p, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) m = fabsf(p[i]) > m ? fabsf(p[i]) : m;
    return m;
}

double tu_rel_err(const float *a, const float *b, size_t n, double floor)
{
    double mx = tu_max_abs(b, n), worst = 0.0;
    if (mx < floor) mx = floor;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d; /* NaN propagates as a failure */
    }
    return worst / mx;
}

double tu_dot(const float *r, const float *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)r[i] * y[i];
    return s;
}

double tu_fd_check(const char *what, float *param, size_t n, const float *analytic,
                   tu_loss_fn loss, void *ctx, float eps, size_t max_probe, double tol)
{
    double mx = tu_max_abs(analytic, n), worst = 0.0;
    if (mx < 1e-12) mx = 1e-12;
    size_t stride = n > max_probe ? n / max_probe : 1;
    size_t worst_i = 0;
    double worst_fd = 0.0;
    for (size_t i = 0; i < n; i += stride) {
        float keep = param[i];
        param[i] = keep + eps;
        double lp = loss(ctx);
        param[i] = keep - eps;
        double lm = loss(ctx);
        param[i] = keep;
        /* Use the perturbation actually representable in fp32. */
        double h = (double)(keep + eps) - (double)(keep - eps);
        double fd = (lp - lm) / h;
        double e = fabs(fd - analytic[i]) / mx;
        if (!(e <= worst)) {
            worst = e;
            worst_i = i;
            worst_fd = fd;
        }
    }
    if (!(worst <= tol))
        fprintf(stderr, "fd %s: worst rel err %.3g at %zu (fd %.6g, analytic %.6g, max %.4g)\n",
                what, worst, worst_i, worst_fd, (double)analytic[worst_i], mx);
    return worst;
}
