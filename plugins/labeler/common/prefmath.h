/*
 * prefmath.h — the probability arithmetic of the labelers, kept apart from
 * any model so that it can be tested with synthetic log-probabilities.
 *
 * Pairwise preference (instruct mode).  With the two choice labels' log-
 * likelihoods l_A, l_B after the answer prefix,
 *     P(first shown is better) = exp(l_A) / (exp(l_A) + exp(l_B)) = σ(l_A − l_B).
 * Both presentation orders are evaluated and averaged:
 *     p(a ≻ b) = ½·[P(A | a shown first) + P(B | a shown second)].
 *
 * Exact symmetry.  compare(a, b) must equal 1 − compare(b, a) bit for bit.
 * Both calls therefore evaluate the pair in one canonical order (the
 * byte-wise smaller text is "x"), so they do identical arithmetic, and the
 * result is stated in "winner form": the winner's probability w ≥ ½ and the
 * loser's 1 − w.  For w in [½, 1] the subtraction 1 − w is exact (Sterbenz),
 * and so is 1 − (1 − w) = w: the two calls' answers add to exactly 1.
 * Clamping to [1 − hi, hi] is applied to w, keeping that property.
 *
 * Probe mode (base models).  A candidate c is followed (or preceded) by
 * positive and negative probe texts; with L(·) the log-likelihood of the
 * whole rendered text,
 *     margin(c) = mean_i L(c ⊕ pos_i) − mean_j L(c ⊕ neg_j)
 *     p(a ≻ b) = σ(scale · (margin(a) − margin(b))).
 * The candidate's own likelihood cancels inside each margin, and the probe
 * texts' prior likelihoods cancel in the difference of margins.
 *
 * Direct score (d-RLAIF).  With P(k) the normalised probability of the
 * label of score k in [lo, hi], E = Σ k·P(k) and score = 2(E − lo)/(hi − lo) − 1.
 */
#ifndef LAB_PREFMATH_H
#define LAB_PREFMATH_H

#include <stddef.h>

/* σ(x), without overflow for any finite x. */
double lab_sigmoid(double x);

/* P(first of two labels) from their log-likelihoods: σ(la − lb). */
double lab_softmax2(double la, double lb);

/* Nonzero when `a` is the canonical first of the pair (a ≤ b byte-wise). */
int lab_canonical_first(const char *a, const char *b);

typedef struct lab_pair_result {
    double p_a;         /* p(a ≻ b), exact-symmetric, clamped */
    double p_a_first;   /* p(a ≻ b) with a shown first */
    double p_a_second;  /* p(a ≻ b) with a shown second */
    int orders_disagree; /* the two orders picked different winners */
} lab_pair_result;

/* Combines the canonical pair (x, y) evaluations into the answer for a
 * request whose `a` is x (a_is_x nonzero) or y:
 *   px_first   p(x ≻ y) with x shown first
 *   px_second  p(x ≻ y) with x shown second (y first)
 *   clamp_hi   in [½, 1]; the result is clamped to [1 − clamp_hi, clamp_hi]. */
void lab_pair_combine(double px_first, double px_second, int a_is_x, double clamp_hi,
                      lab_pair_result *out);

/* Expected score Σ k·P(k) rescaled to [-1, 1], from the log-likelihoods of
 * the labels of scores lo..hi (ll has hi − lo + 1 entries).  Writes the
 * expectation itself to *expected when not NULL. */
double lab_expected_score(const double *ll, int lo, int hi, double *expected);

/* mean(pos) − mean(neg). */
double lab_probe_margin(const double *pos, size_t n_pos, const double *neg, size_t n_neg);

#endif
