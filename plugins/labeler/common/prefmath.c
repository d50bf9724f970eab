/* prefmath.c — see prefmath.h for the formulas and the symmetry argument. */
#include "prefmath.h"

#include <math.h>
#include <string.h>

double lab_sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

double lab_softmax2(double la, double lb) { return lab_sigmoid(la - lb); }

int lab_canonical_first(const char *a, const char *b) { return strcmp(a, b) <= 0; }

void lab_pair_combine(double px_first, double px_second, int a_is_x, double clamp_hi,
                      lab_pair_result *out)
{
    double px = 0.5 * (px_first + px_second);
    int x_wins = px >= 0.5;
    /* Winner form: w >= 1/2, and 1 - w is exact. */
    double w = x_wins ? px : 1.0 - px;
    if (w < 0.5) w = 0.5; /* 1 - px may round just below 1/2 */
    if (w > clamp_hi) w = clamp_hi;
    double l = 1.0 - w;
    int a_wins = a_is_x ? x_wins : !x_wins;
    out->p_a = a_wins ? w : l;
    /* p(a ≻ b) per order, from a's point of view. */
    out->p_a_first = a_is_x ? px_first : 1.0 - px_second;
    out->p_a_second = a_is_x ? px_second : 1.0 - px_first;
    /* The orders disagree when one prefers x and the other y (ties agree). */
    out->orders_disagree = (px_first > 0.5 && px_second < 0.5) ||
                           (px_first < 0.5 && px_second > 0.5);
}

double lab_expected_score(const double *ll, int lo, int hi, double *expected)
{
    double mx = -INFINITY;
    for (int k = lo; k <= hi; k++)
        if (ll[k - lo] > mx) mx = ll[k - lo];
    double z = 0, e = 0;
    for (int k = lo; k <= hi; k++) {
        double p = exp(ll[k - lo] - mx);
        z += p;
        e += (double)k * p;
    }
    e /= z;
    if (expected) *expected = e;
    double s = 2.0 * (e - lo) / (double)(hi - lo) - 1.0;
    return s < -1 ? -1 : s > 1 ? 1 : s;
}

double lab_probe_margin(const double *pos, size_t n_pos, const double *neg, size_t n_neg)
{
    double sp = 0, sn = 0;
    for (size_t i = 0; i < n_pos; i++) sp += pos[i];
    for (size_t i = 0; i < n_neg; i++) sn += neg[i];
    return sp / (double)n_pos - sn / (double)n_neg;
}
