/*
 * test_prefmath.c — the preference arithmetic with synthetic
 * log-probabilities: hand-computed values, exact order-swap symmetry,
 * clamping, the position-bias flag, expected scores and probe margins.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "prefmath.h"

START_TEST(softmax_hand_values)
{
    /* P(A) = 0.7 / (0.7 + 0.1) = 0.875 */
    ck_assert_double_eq_tol(lab_softmax2(log(0.7), log(0.1)), 0.875, 1e-15);
    ck_assert_double_eq(lab_softmax2(-3.0, -3.0), 0.5);
    /* No overflow far out in the tails. */
    ck_assert_double_eq(lab_sigmoid(1000), 1.0);
    ck_assert_double_eq_tol(lab_sigmoid(-1000), 0.0, 1e-300);
    ck_assert(isfinite(lab_sigmoid(-745)));
    ck_assert_double_eq_tol(lab_sigmoid(-2.0), 1.0 / (1.0 + exp(2.0)), 1e-16);
}
END_TEST

START_TEST(pair_average_hand_values)
{
    lab_pair_result r;
    /* x shown first: 0.9; x shown second: 0.7 -> average 0.8. */
    lab_pair_combine(0.9, 0.7, 1, 1.0, &r);
    ck_assert_double_eq_tol(r.p_a, 0.8, 1e-15);
    ck_assert_double_eq(r.p_a_first, 0.9);
    ck_assert_double_eq(r.p_a_second, 0.7);
    ck_assert_int_eq(r.orders_disagree, 0);
    /* The same pair asked as (y, x): a is y. */
    lab_pair_combine(0.9, 0.7, 0, 1.0, &r);
    ck_assert_double_eq_tol(r.p_a, 0.2, 1e-15);
    ck_assert_double_eq_tol(r.p_a_first, 1 - 0.7, 1e-15);
    ck_assert_double_eq_tol(r.p_a_second, 1 - 0.9, 1e-15);
    /* A position-biased judge: the first shown always wins. */
    lab_pair_combine(0.8, 0.3, 1, 1.0, &r);
    ck_assert_int_eq(r.orders_disagree, 1);
    ck_assert_double_eq_tol(r.p_a, 0.55, 1e-15);
}
END_TEST

static double uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

START_TEST(pair_symmetry_is_exact)
{
    uint64_t s = 7;
    for (int i = 0; i < 200000; i++) {
        /* Log-likelihoods over a wide range, as a model would give. */
        double la1 = -30 * uniform(&s), lb1 = -30 * uniform(&s);
        double la2 = -30 * uniform(&s), lb2 = -30 * uniform(&s);
        double q1 = lab_softmax2(la1, lb1), q2 = lab_softmax2(lb2, la2);
        double hi = (i % 3 == 0) ? 0.6 : (i % 3 == 1) ? 0.999 : 1.0;
        lab_pair_result ab, ba;
        lab_pair_combine(q1, q2, 1, hi, &ab);
        lab_pair_combine(q1, q2, 0, hi, &ba);
        ck_assert_msg(ab.p_a == 1.0 - ba.p_a && ba.p_a == 1.0 - ab.p_a,
                      "not exactly symmetric: %.17g vs %.17g", ab.p_a, ba.p_a);
        ck_assert(ab.p_a >= 1.0 - hi && ab.p_a <= hi);
        /* Within clamping, the value is the plain average. */
        double avg = 0.5 * (q1 + q2);
        if (avg < hi && avg > 1 - hi) ck_assert_double_eq_tol(ab.p_a, avg, 1e-15);
    }
}
END_TEST

START_TEST(clamp_applies_to_both_sides)
{
    lab_pair_result r;
    lab_pair_combine(0.99, 0.95, 1, 0.6, &r);
    ck_assert(r.p_a == 0.6);
    lab_pair_combine(0.99, 0.95, 0, 0.6, &r);
    ck_assert(r.p_a == 1.0 - 0.6);
    lab_pair_combine(0.55, 0.52, 1, 0.6, &r);
    ck_assert_double_eq_tol(r.p_a, 0.535, 1e-15);
}
END_TEST

START_TEST(expected_score_values)
{
    double ll[10];
    /* All mass on 10 -> +1, on 1 -> -1, uniform -> 0. */
    for (int k = 0; k < 10; k++) ll[k] = k == 9 ? 0 : -1000;
    ck_assert_double_eq_tol(lab_expected_score(ll, 1, 10, NULL), 1.0, 1e-12);
    for (int k = 0; k < 10; k++) ll[k] = k == 0 ? 0 : -1000;
    ck_assert_double_eq_tol(lab_expected_score(ll, 1, 10, NULL), -1.0, 1e-12);
    for (int k = 0; k < 10; k++) ll[k] = -2.5;
    double e;
    ck_assert_double_eq_tol(lab_expected_score(ll, 1, 10, &e), 0.0, 1e-12);
    ck_assert_double_eq_tol(e, 5.5, 1e-12);
    /* P(7) = P(8) = 1/2 -> E = 7.5 -> 2 * 6.5 / 9 - 1. */
    for (int k = 0; k < 10; k++) ll[k] = (k == 6 || k == 7) ? log(0.3) : -1e9;
    ck_assert_double_eq_tol(lab_expected_score(ll, 1, 10, &e), 2 * 6.5 / 9 - 1, 1e-12);
    /* Unnormalised inputs: only ratios matter.  P ∝ (1, 3) over 0..1. */
    double two[2] = {log(2.0), log(6.0)};
    ck_assert_double_eq_tol(lab_expected_score(two, 0, 1, &e), 0.5, 1e-12);
    ck_assert_double_eq_tol(e, 0.75, 1e-12);
}
END_TEST

START_TEST(probe_margin_values)
{
    double pos[2] = {-10, -12}, neg[3] = {-13, -14, -15};
    ck_assert_double_eq_tol(lab_probe_margin(pos, 2, neg, 3), -11 - (-14), 1e-12);
    /* p(a ≻ b) = σ(m_a − m_b): margins 3 and 1 -> σ(2). */
    ck_assert_double_eq_tol(lab_sigmoid(3.0 - 1.0), 0.8807970779778823, 1e-15);
}
END_TEST

START_TEST(canonical_order)
{
    ck_assert_int_eq(lab_canonical_first("apple", "banana"), 1);
    ck_assert_int_eq(lab_canonical_first("banana", "apple"), 0);
    ck_assert_int_eq(lab_canonical_first("same", "same"), 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("prefmath");
    TCase *t = tcase_create("all");
    tcase_add_test(t, softmax_hand_values);
    tcase_add_test(t, pair_average_hand_values);
    tcase_add_test(t, pair_symmetry_is_exact);
    tcase_add_test(t, clamp_applies_to_both_sides);
    tcase_add_test(t, expected_score_values);
    tcase_add_test(t, probe_margin_values);
    tcase_add_test(t, canonical_order);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
