/*
 * om_pair.c — pairwise losses: the reward model's soft Bradley–Terry loss,
 * its accuracy and calibration, and DPO / IPO.
 */
#include <math.h>

#include "optmath.h"

double om_clamp_label(double p, double lo, double hi)
{
    return p < lo ? lo : p > hi ? hi : p;
}

/* With d = ra - rb:  d/dd log σ(d - m) = σ(m - d),  d/dd log σ(-d - m) = -σ(d + m). */
double om_pair_loss(double ra, double rb, double p, double margin, double *d_ra, double *d_rb)
{
    double d = ra - rb;
    double loss = -(p * om_log_sigmoid(d - margin) + (1 - p) * om_log_sigmoid(-d - margin));
    double g = -p * om_sigmoid(margin - d) + (1 - p) * om_sigmoid(d + margin);
    if (d_ra) *d_ra = g;
    if (d_rb) *d_rb = -g;
    return loss;
}

double om_pair_accuracy(const float *ra, const float *rb, const float *p, size_t n)
{
    size_t counted = 0, right = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == 0.5f) continue;
        counted++;
        double d = (double)ra[i] - rb[i];
        right += p[i] > 0.5f ? d > 0 : d < 0;
    }
    return counted ? (double)right / (double)counted : NAN;
}

double om_ece(const float *q, const float *p, size_t n, size_t bins)
{
    if (n == 0 || bins == 0) return NAN;
    double ece = 0;
    for (size_t k = 0; k < bins; k++) {
        double lo = (double)k / (double)bins, hi = (double)(k + 1) / (double)bins;
        double sq = 0, sp = 0;
        size_t c = 0;
        for (size_t i = 0; i < n; i++) {
            /* Bin k holds [lo, hi); the last bin also holds q = 1. */
            int in = q[i] >= lo && (q[i] < hi || (k + 1 == bins && q[i] <= hi));
            if (!in) continue;
            sq += q[i];
            sp += p[i];
            c++;
        }
        if (c) ece += (double)c / (double)n * fabs(sq / (double)c - sp / (double)c);
    }
    return ece;
}

double om_smooth_label(double p, double eps) { return eps + (1.0 - 2.0 * eps) * p; }

double om_dpo_loss(double pa, double ra, double pb, double rb, double beta, double p, int ipo,
                   double *d_pa, double *d_pb)
{
    double h = (pa - ra) - (pb - rb);
    double loss, g;
    if (ipo) {
        double target = (2.0 * p - 1.0) / (2.0 * beta);
        loss = (h - target) * (h - target);
        g = 2.0 * (h - target);
    } else {
        double z = beta * h;
        loss = -(p * om_log_sigmoid(z) + (1 - p) * om_log_sigmoid(-z));
        g = beta * (om_sigmoid(z) - p);
    }
    if (d_pa) *d_pa = g;
    if (d_pb) *d_pb = -g;
    return loss;
}
