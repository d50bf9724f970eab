/*
 * test_optmath.c — the algorithms' math (plugins/optimizer/common/optmath.h)
 * against values computed by hand (the arithmetic is written next to each
 * check), and every gradient against central finite differences.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optmath.h"
#include "optrun.h"

#define TOL 1e-6

/* ===== reductions ======================================================== */

START_TEST(masked_reductions)
{
    const float x[4] = {1, 2, 3, 4};
    const uint8_t m[4] = {1, 0, 1, 1};
    ck_assert_uint_eq(om_mask_count(m, 4), 3);
    ck_assert_double_eq_tol(om_masked_sum(x, m, 4), 8.0, TOL);
    ck_assert_double_eq_tol(om_masked_mean(x, m, 4), 8.0 / 3.0, TOL);
    /* {1,3,4}: deviations -5/3, 1/3, 4/3; squares sum 42/9. */
    ck_assert_double_eq_tol(om_masked_var(x, m, 4, 0), 42.0 / 27.0, TOL);
    ck_assert_double_eq_tol(om_masked_var(x, m, 4, 1), 42.0 / 18.0, TOL);
    ck_assert_double_eq_tol(om_masked_mean(x, NULL, 4), 2.5, TOL);
    const uint8_t none[4] = {0, 0, 0, 0};
    ck_assert_double_eq_tol(om_masked_mean(x, none, 4), 0.0, TOL);
}
END_TEST

START_TEST(whiten_and_explained_variance)
{
    float x[5] = {1, 2, 100, 3, 4};
    const uint8_t m[5] = {1, 1, 0, 1, 1};
    om_whiten(x, m, 5, 1);
    ck_assert_double_eq_tol(om_masked_mean(x, m, 5), 0.0, 1e-6);
    ck_assert_double_eq_tol(om_masked_var(x, m, 5, 0), 1.0, 1e-6);
    ck_assert(x[2] == 100.0f); /* unmasked entries untouched */
    /* {1,2,3,4}: mean 2.5, population std sqrt(1.25). */
    ck_assert_double_eq_tol(x[0], -1.5 / sqrt(1.25), 1e-6);
    float y[4] = {1, 2, 3, 4};
    om_whiten(y, NULL, 4, 0); /* mean kept */
    ck_assert_double_eq_tol(y[0], 2.5 - 1.5 / sqrt(1.25), 1e-6);
    const float target[3] = {1, 2, 3}, zero[3] = {0, 0, 0}, half[3] = {0.5f, 1.0f, 1.5f};
    ck_assert_double_eq_tol(om_explained_variance(target, target, NULL, 3), 1.0, TOL);
    ck_assert_double_eq_tol(om_explained_variance(zero, target, NULL, 3), 0.0, TOL);
    /* Residual t/2 has variance 1/4 of t's. */
    ck_assert_double_eq_tol(om_explained_variance(half, target, NULL, 3), 0.75, TOL);
    const float flat[3] = {2, 2, 2};
    ck_assert(isnan(om_explained_variance(zero, flat, NULL, 3)));
}
END_TEST

START_TEST(sft_nll)
{
    const float lp[4] = {-1, -2, -3, -0.5f};
    const uint8_t m[4] = {0, 1, 1, 0};
    float g[4];
    ck_assert_double_eq_tol(om_sft_nll(lp, m, 4, 0.25f, g), 5.0, TOL);
    ck_assert(g[0] == 0 && g[1] == -0.25f && g[2] == -0.25f && g[3] == 0);
    /* Token-level normalisation over two accumulated microbatches of 2 and
     * 3 tokens: every token weighs 1/5, whatever microbatch it was in. */
    const float a[2] = {-1, -1}, b[3] = {-2, -2, -2};
    float ga[2], gb[3];
    double loss = (om_sft_nll(a, NULL, 2, 0.2f, ga) + om_sft_nll(b, NULL, 3, 0.2f, gb)) / 5.0;
    ck_assert_double_eq_tol(loss, 8.0 / 5.0, TOL);
    ck_assert(ga[0] == gb[2]);
}
END_TEST

/* ===== reward model ====================================================== */

START_TEST(pair_loss_values)
{
    double ga, gb;
    /* p = 1: -log σ(1) = log(1 + e^-1). */
    ck_assert_double_eq_tol(om_pair_loss(1, 0, 1, 0, &ga, &gb), 0.31326168751822286, TOL);
    ck_assert_double_eq_tol(ga, om_sigmoid(1) - 1, TOL); /* -0.2689 */
    ck_assert_double_eq_tol(gb, -ga, TOL);
    /* p = 0.7: 0.7·log(1+e^-1) + 0.3·log(1+e) = 0.219283 + 0.393979. */
    ck_assert_double_eq_tol(om_pair_loss(1, 0, 0.7, 0, &ga, &gb), 0.6132616875182229, TOL);
    ck_assert_double_eq_tol(ga, 0.7310585786300049 - 0.7, TOL);
    /* margin 0.5, p = 1: -log σ(0.5). */
    ck_assert_double_eq_tol(om_pair_loss(1, 0, 1, 0.5, &ga, &gb), 0.47407698418010663, TOL);
    /* Symmetry: swapping a and b with p -> 1-p leaves the loss. */
    ck_assert_double_eq_tol(om_pair_loss(0.3, -1.2, 0.8, 0.1, NULL, NULL),
                            om_pair_loss(-1.2, 0.3, 0.2, 0.1, NULL, NULL), TOL);
    /* Stable far out: -log σ(-100) = 100 (not inf). */
    ck_assert_double_eq_tol(om_pair_loss(-100, 0, 1, 0, NULL, NULL), 100.0, 1e-9);
    ck_assert_double_eq_tol(om_clamp_label(0.95, 0.4, 0.6), 0.6, TOL);
    ck_assert_double_eq_tol(om_clamp_label(0.1, 0.4, 0.6), 0.4, TOL);
    ck_assert_double_eq_tol(om_clamp_label(0.5, 0.4, 0.6), 0.5, TOL);
}
END_TEST

START_TEST(pair_accuracy_and_ece)
{
    const float ra[5] = {1, 0, 2, 1, 5}, rb[5] = {0, 1, 1, 1, 0}, p[5] = {0.9f, 0.8f, 0.2f, 1, 0.5f};
    /* right, wrong, wrong, tie (wrong), left out (p = 1/2). */
    ck_assert_double_eq_tol(om_pair_accuracy(ra, rb, p, 5), 0.25, TOL);
    const float only_half[1] = {0.5f};
    ck_assert(isnan(om_pair_accuracy(ra, rb, only_half, 1)));
    /* Two bins: [0,.5) has q .1,.2 / p 0,1: |.15 - .5| = .35;
     * [.5,1] has q .8,.9 / p 1,1: |.85 - 1| = .15; each weighs 1/2. */
    const float q[4] = {0.1f, 0.2f, 0.8f, 0.9f}, lab[4] = {0, 1, 1, 1};
    ck_assert_double_eq_tol(om_ece(q, lab, 4, 2), 0.25, 1e-6);
    /* Perfectly calibrated: labels equal predictions. */
    ck_assert_double_eq_tol(om_ece(q, q, 4, 10), 0.0, 1e-7);
    const float one[1] = {1.0f};
    ck_assert_double_eq_tol(om_ece(one, lab, 1, 4), 1.0, 1e-7); /* q = 1 in the last bin */
}
END_TEST

/* ===== KL ================================================================ */

START_TEST(kl_estimators)
{
    /* lp = -1, ref = -2: r = -1. */
    ck_assert_double_eq_tol(om_kl(OM_KL_K1, -1, -2), 1.0, TOL);
    ck_assert_double_eq_tol(om_kl(OM_KL_K2, -1, -2), 0.5, TOL);
    ck_assert_double_eq_tol(om_kl(OM_KL_K3, -1, -2), exp(-1.0), TOL); /* e^-1 + 1 - 1 */
    ck_assert_double_eq_tol(om_kl_grad(OM_KL_K1, -1, -2), 1.0, TOL);
    ck_assert_double_eq_tol(om_kl_grad(OM_KL_K2, -1, -2), 1.0, TOL);
    ck_assert_double_eq_tol(om_kl_grad(OM_KL_K3, -1, -2), 1.0 - exp(-1.0), TOL);
    for (int k = 0; k < 3; k++) ck_assert_double_eq_tol(om_kl((om_kl_kind)k, -3, -3), 0, TOL);
    /* k3 is never negative; k1 is where the reference is more likely. */
    ck_assert(om_kl(OM_KL_K3, -2, -1) > 0);
    ck_assert(om_kl(OM_KL_K1, -2, -1) < 0);
}
END_TEST

START_TEST(kl_controller)
{
    om_kl_ctl c = {0.1, 6.0, 10000.0, 1};
    /* KL 9: error 0.5 clipped to 0.2; 256 samples: 0.1 · (1 + 0.2·0.0256). */
    om_kl_ctl_update(&c, 9.0, 256);
    ck_assert_double_eq_tol(c.coef, 0.100512, 1e-9);
    c.coef = 0.1;
    om_kl_ctl_update(&c, 3.0, 256); /* error -0.5 -> -0.2 */
    ck_assert_double_eq_tol(c.coef, 0.099488, 1e-9);
    c.coef = 0.1;
    om_kl_ctl_update(&c, 6.6, 256); /* error 0.1 */
    ck_assert_double_eq_tol(c.coef, 0.100256, 1e-9);
    om_kl_ctl fixed = {0.1, 6.0, 10000.0, 0};
    om_kl_ctl_update(&fixed, 100.0, 256);
    ck_assert(fixed.coef == 0.1);
}
END_TEST

/* ===== GAE =============================================================== */

START_TEST(gae_values)
{
    const float kl[3] = {0.1f, 0.2f, 0.3f};
    float r[3];
    om_kl_penalised_rewards(r, kl, 3, 0.5, 2.0);
    ck_assert_double_eq_tol(r[0], -0.05, 1e-7);
    ck_assert_double_eq_tol(r[1], -0.1, 1e-7);
    ck_assert_double_eq_tol(r[2], 1.85, 1e-6);
    /* r = (0,0,1), v = (.5,.4,.3), γ .9, λ .8 (γλ = .72):
     *   t2: δ = 1 - .3 = .7                         A = .7      ret 1.0
     *   t1: δ = .9·.3 - .4 = -.13   A = -.13 + .72·.7 = .374   ret .774
     *   t0: δ = .9·.4 - .5 = -.14   A = -.14 + .72·.374 = .12928  ret .62928 */
    const float rr[3] = {0, 0, 1}, v[3] = {0.5f, 0.4f, 0.3f};
    float adv[3], ret[3];
    om_gae(adv, ret, rr, v, 3, 0.9, 0.8);
    ck_assert_double_eq_tol(adv[2], 0.7, 1e-6);
    ck_assert_double_eq_tol(adv[1], 0.374, 1e-6);
    ck_assert_double_eq_tol(adv[0], 0.12928, 1e-6);
    ck_assert_double_eq_tol(ret[0], 0.62928, 1e-6);
    ck_assert_double_eq_tol(ret[1], 0.774, 1e-6);
    /* γ = λ = 1: A_t = (sum of rewards from t) - v_t, returns = 1. */
    om_gae(adv, ret, rr, v, 3, 1.0, 1.0);
    ck_assert_double_eq_tol(adv[0], 0.5, 1e-6);
    ck_assert_double_eq_tol(adv[1], 0.6, 1e-6);
    ck_assert_double_eq_tol(ret[0], 1.0, 1e-6);
    /* λ = 0: one-step TD errors. */
    om_gae(adv, ret, rr, v, 3, 0.9, 0.0);
    ck_assert_double_eq_tol(adv[0], -0.14, 1e-6);
}
END_TEST

/* ===== policy and value losses =========================================== */

START_TEST(ppo_token_values)
{
    double g;
    int c;
    double l15 = log(1.5), l05 = log(0.5);
    /* ρ 1.5, A 1: max(-1.5, -1.2) = -1.2 clipped, no gradient. */
    ck_assert_double_eq_tol(om_ppo_token(l15, 0, 1, 0.2, 0.2, &g, &c), -1.2, TOL);
    ck_assert(c && g == 0);
    /* ρ 1.5, A -1: max(1.5, 1.2) = 1.5, dL/dlp = -A·ρ = 1.5. */
    ck_assert_double_eq_tol(om_ppo_token(l15, 0, -1, 0.2, 0.2, &g, &c), 1.5, TOL);
    ck_assert(!c);
    ck_assert_double_eq_tol(g, 1.5, TOL);
    /* ρ 0.5, A 1: max(-0.5, -0.8) = -0.5, gradient -0.5. */
    ck_assert_double_eq_tol(om_ppo_token(l05, 0, 1, 0.2, 0.2, &g, &c), -0.5, TOL);
    ck_assert(!c);
    ck_assert_double_eq_tol(g, -0.5, TOL);
    /* ρ 0.5, A -1: max(0.5, 0.8) = 0.8 clipped. */
    ck_assert_double_eq_tol(om_ppo_token(l05, 0, -1, 0.2, 0.2, &g, &c), 0.8, TOL);
    ck_assert(c && g == 0);
    /* Asymmetric: ρ 1.25 inside [0.8, 1.28] is not clipped with eps_high .28 ... */
    ck_assert_double_eq_tol(om_ppo_token(log(1.25), 0, 1, 0.2, 0.28, &g, &c), -1.25, TOL);
    ck_assert(!c);
    /* ... and is with the symmetric 0.2. */
    ck_assert_double_eq_tol(om_ppo_token(log(1.25), 0, 1, 0.2, 0.2, &g, &c), -1.2, TOL);
    ck_assert(c);
    /* ρ 1 is the plain policy gradient -A. */
    ck_assert_double_eq_tol(om_ppo_token(-2, -2, 0.7, 0.2, 0.2, &g, &c), -0.7, TOL);
    ck_assert_double_eq_tol(g, -0.7, TOL);
    /* approx KL: ρ = 2: (2 - 1) - log 2. */
    ck_assert_double_eq_tol(om_approx_kl(log(2.0), 0), 1 - log(2.0), TOL);
}
END_TEST

START_TEST(value_token_values)
{
    double g;
    int c;
    /* v 1, old .5, ret 0, clip .2: vc .7; (1)² > (.7)²: unclipped, ½, grad 1. */
    ck_assert_double_eq_tol(om_value_token(1, 0.5, 0, 0.2, &g, &c), 0.5, TOL);
    ck_assert(!c);
    ck_assert_double_eq_tol(g, 1, TOL);
    /* v 1, old .5, ret 2: vc .7; (1.3)² > 1: clipped, ½·1.69, grad 0. */
    ck_assert_double_eq_tol(om_value_token(1, 0.5, 2, 0.2, &g, &c), 0.845, TOL);
    ck_assert(c && g == 0);
    /* No clipping: ½(v - ret)². */
    ck_assert_double_eq_tol(om_value_token(1, 0.5, 2, 0, &g, &c), 0.5, TOL);
    ck_assert_double_eq_tol(g, -1, TOL);
}
END_TEST

/* ===== baselines and aggregation ========================================= */

START_TEST(group_advantages_values)
{
    const float r[6] = {1, 2, 3, 5, 5, 4};
    const uint32_t g[6] = {7, 7, 7, 9, 9, 3};
    float a[6];
    /* Group 7: mean 2, std (n-1) 1; group 9: std 0; group 3 alone. */
    om_group_advantages(a, r, g, 6, 1, 1e-4);
    ck_assert_double_eq_tol(a[0], -1 / 1.0001, 1e-6);
    ck_assert_double_eq_tol(a[1], 0, 1e-6);
    ck_assert_double_eq_tol(a[2], 1 / 1.0001, 1e-6);
    ck_assert_double_eq_tol(a[3], 0, 1e-6);
    ck_assert_double_eq_tol(a[5], 0, 1e-6);
    om_group_advantages(a, r, g, 6, 0, 1e-4);
    ck_assert_double_eq_tol(a[2], 1, 1e-6);
    /* RLOO: 1 - (2+3)/2, 2 - (1+3)/2, 3 - (1+2)/2. */
    om_rloo_advantages(a, r, g, 6);
    ck_assert_double_eq_tol(a[0], -1.5, 1e-6);
    ck_assert_double_eq_tol(a[1], 0, 1e-6);
    ck_assert_double_eq_tol(a[2], 1.5, 1e-6);
    ck_assert_double_eq_tol(a[3], 0, 1e-6);
    ck_assert_double_eq_tol(a[5], 0, 1e-6);
}
END_TEST

START_TEST(aggregation_weights)
{
    const size_t len[3] = {3, 2, 2};
    const uint8_t m[7] = {0, 1, 1, 1, 0, 0, 0}; /* third sequence has no token */
    float w[7];
    om_agg_weights(w, m, len, 3, OM_AGG_TOKEN_MEAN);
    ck_assert_double_eq_tol(w[1], 1.0 / 3, 1e-7);
    ck_assert_double_eq_tol(w[3], 1.0 / 3, 1e-7);
    ck_assert(w[0] == 0 && w[4] == 0 && w[5] == 0);
    om_agg_weights(w, m, len, 3, OM_AGG_SEQ_MEAN); /* 2 sequences count */
    ck_assert_double_eq_tol(w[1], 0.25, 1e-7);
    ck_assert_double_eq_tol(w[3], 0.5, 1e-7);
    om_agg_weights(w, m, len, 3, OM_AGG_SEQ_MEAN_TOKEN_SUM);
    ck_assert_double_eq_tol(w[1], 0.5, 1e-7);
    ck_assert_double_eq_tol(w[3], 0.5, 1e-7);
}
END_TEST

/* ===== DPO =============================================================== */

START_TEST(dpo_values)
{
    double ga, gb;
    /* h = (-3+4) - (-5+4) = 2, β .1: -log σ(.2) = log(1 + e^-.2). */
    ck_assert_double_eq_tol(om_dpo_loss(-3, -4, -5, -4, 0.1, 1, 0, &ga, &gb), 0.5981388693815918,
                            TOL);
    ck_assert_double_eq_tol(ga, 0.1 * (om_sigmoid(0.2) - 1), TOL); /* -0.0450166 */
    ck_assert_double_eq_tol(gb, -ga, TOL);
    /* Label smoothing 0.1 of a hard label is p = 0.9. */
    ck_assert_double_eq_tol(om_smooth_label(1, 0.1), 0.9, TOL);
    ck_assert_double_eq_tol(om_smooth_label(0.5, 0.3), 0.5, TOL);
    /* p = .9: .9·log(1+e^-.2) + .1·log(1+e^.2). */
    double want = 0.9 * log1p(exp(-0.2)) + 0.1 * log1p(exp(0.2));
    ck_assert_double_eq_tol(om_dpo_loss(-3, -4, -5, -4, 0.1, 0.9, 0, NULL, NULL), want, TOL);
    /* IPO, p = 1, β .1: target 1/(2·.1) = 5; (2 - 5)² = 9, gradient -6. */
    ck_assert_double_eq_tol(om_dpo_loss(-3, -4, -5, -4, 0.1, 1, 1, &ga, &gb), 9.0, TOL);
    ck_assert_double_eq_tol(ga, -6.0, TOL);
    /* IPO with p = 1/2 pulls h to 0. */
    ck_assert_double_eq_tol(om_dpo_loss(-3, -4, -5, -4, 0.1, 0.5, 1, &ga, &gb), 4.0, TOL);
}
END_TEST

/* ===== finite differences of every gradient ============================== */

#define FD_H 1e-5
#define FD_CHECK(expr_plus, expr_minus, analytic)                                         \
    do {                                                                                  \
        double fd_ = ((expr_plus) - (expr_minus)) / (2 * FD_H);                           \
        ck_assert_msg(fabs(fd_ - (analytic)) < 1e-5 + 1e-5 * fabs(analytic),              \
                      "line %d: finite difference %.9f, analytic %.9f", __LINE__, fd_,     \
                      (double)(analytic));                                                \
    } while (0)

START_TEST(fd_pair_and_dpo)
{
    const double ps[3] = {1.0, 0.7, 0.35};
    for (int i = 0; i < 3; i++) {
        double ra = 0.4, rb = -0.3, m = 0.2, ga, gb;
        om_pair_loss(ra, rb, ps[i], m, &ga, &gb);
        FD_CHECK(om_pair_loss(ra + FD_H, rb, ps[i], m, NULL, NULL),
                 om_pair_loss(ra - FD_H, rb, ps[i], m, NULL, NULL), ga);
        FD_CHECK(om_pair_loss(ra, rb + FD_H, ps[i], m, NULL, NULL),
                 om_pair_loss(ra, rb - FD_H, ps[i], m, NULL, NULL), gb);
        for (int ipo = 0; ipo < 2; ipo++) {
            double pa = -7.1, ref_a = -7.5, pb = -6.2, ref_b = -6.0, beta = 0.3;
            om_dpo_loss(pa, ref_a, pb, ref_b, beta, ps[i], ipo, &ga, &gb);
            FD_CHECK(om_dpo_loss(pa + FD_H, ref_a, pb, ref_b, beta, ps[i], ipo, NULL, NULL),
                     om_dpo_loss(pa - FD_H, ref_a, pb, ref_b, beta, ps[i], ipo, NULL, NULL), ga);
            FD_CHECK(om_dpo_loss(pa, ref_a, pb + FD_H, ref_b, beta, ps[i], ipo, NULL, NULL),
                     om_dpo_loss(pa, ref_a, pb - FD_H, ref_b, beta, ps[i], ipo, NULL, NULL), gb);
        }
    }
}
END_TEST

START_TEST(fd_kl_ppo_value)
{
    const double lps[4] = {-2.3, -0.4, -1.1, -5.0};
    const double refs[4] = {-2.0, -0.9, -1.1, -3.5};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            FD_CHECK(om_kl((om_kl_kind)k, lps[i] + FD_H, refs[i]),
                     om_kl((om_kl_kind)k, lps[i] - FD_H, refs[i]),
                     om_kl_grad((om_kl_kind)k, lps[i], refs[i]));
    /* PPO: points inside and outside the clip range, both signs of A
     * (away from the kinks, where the loss is differentiable). */
    const double dl[5] = {0.0, 0.1, -0.1, 0.5, -0.6};
    const double advs[2] = {0.8, -1.3};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 2; j++) {
            double g;
            int c;
            om_ppo_token(-1.0 + dl[i], -1.0, advs[j], 0.2, 0.28, &g, &c);
            FD_CHECK(om_ppo_token(-1.0 + dl[i] + FD_H, -1.0, advs[j], 0.2, 0.28, NULL, NULL),
                     om_ppo_token(-1.0 + dl[i] - FD_H, -1.0, advs[j], 0.2, 0.28, NULL, NULL), g);
        }
    const double vs[4] = {1.0, 0.55, 0.0, 2.0};
    for (int i = 0; i < 4; i++) {
        double g;
        int c;
        om_value_token(vs[i], 0.5, 0.8, 0.2, &g, &c);
        FD_CHECK(om_value_token(vs[i] + FD_H, 0.5, 0.8, 0.2, NULL, NULL),
                 om_value_token(vs[i] - FD_H, 0.5, 0.8, 0.2, NULL, NULL), g);
    }
}
END_TEST

/* The gradient of an aggregated GRPO-style loss Σ w_t·[ppo_t + β·k3_t]
 * w.r.t. each token's logprob is w_t·(dppo_t + β·dk3_t). */
START_TEST(fd_aggregated_loss)
{
    const size_t len[2] = {3, 2};
    const uint8_t mask[5] = {1, 1, 0, 1, 1};
    double lp[5] = {-1.0, -2.0, -0.5, -0.7, -1.5};
    const double old[5] = {-1.1, -1.9, -0.5, -0.6, -1.5}, ref[5] = {-1.3, -1.7, -0.5, -0.9, -1.2};
    const double adv[5] = {0.5, 0.5, 0, -1.0, -1.0};
    float w[5];
    const double beta = 0.04;
    for (int a = 0; a < 3; a++) {
        om_agg_weights(w, mask, len, 2, (om_agg)a);
        for (int i = 0; i < 5; i++) {
            if (!mask[i]) continue;
            double g;
            om_ppo_token(lp[i], old[i], adv[i], 0.2, 0.2, &g, NULL);
            double analytic = w[i] * (g + beta * om_kl_grad(OM_KL_K3, lp[i], ref[i]));
            double L[2];
            for (int s = 0; s < 2; s++) {
                double keep = lp[i];
                lp[i] += s ? -FD_H : FD_H;
                L[s] = 0;
                for (int t = 0; t < 5; t++)
                    if (mask[t])
                        L[s] += w[t] * (om_ppo_token(lp[t], old[t], adv[t], 0.2, 0.2, NULL, NULL) +
                                        beta * om_kl(OM_KL_K3, lp[t], ref[t]));
                lp[i] = keep;
            }
            FD_CHECK(L[0], L[1], analytic);
        }
    }
}
END_TEST

/* ===== schedule, masks, shuffles (optrun.h) ============================== */

START_TEST(lr_schedules)
{
    or_adam a = {.lr = 1.0, .warmup_steps = 4, .total_steps = 14,
                 .schedule = OR_SCHED_LINEAR, .min_lr_ratio = 0.1};
    /* Warm-up: (step + 1) / 4. */
    ck_assert_double_eq_tol(or_lr_at(&a, 0), 0.25, 1e-12);
    ck_assert_double_eq_tol(or_lr_at(&a, 3), 1.0, 1e-12);
    /* Linear decay over steps 4..14 to 0.1: halfway (9) is 1 - 0.5·0.9. */
    ck_assert_double_eq_tol(or_lr_at(&a, 4), 1.0, 1e-12);
    ck_assert_double_eq_tol(or_lr_at(&a, 9), 0.55, 1e-12);
    ck_assert_double_eq_tol(or_lr_at(&a, 14), 0.1, 1e-12);
    ck_assert_double_eq_tol(or_lr_at(&a, 1000), 0.1, 1e-12);
    /* Cosine: 0.1 + 0.9·½(1 + cos(π·progress)); progress 0.2 at step 6. */
    a.schedule = OR_SCHED_COSINE;
    ck_assert_double_eq_tol(or_lr_at(&a, 9), 0.55, 1e-12);
    ck_assert_double_eq_tol(or_lr_at(&a, 6), 0.1 + 0.45 * (1 + cos(0.2 * M_PI)), 1e-12);
    a.schedule = OR_SCHED_CONSTANT;
    ck_assert_double_eq_tol(or_lr_at(&a, 100), 1.0, 1e-12);
    rlaif_step_params p = or_step_params(&a, 1, 0.5f);
    ck_assert_double_eq_tol(p.lr, 0.5, 1e-7);
    ck_assert(p.grad_scale == 0.5f && p.struct_size == sizeof p);
}
END_TEST

START_TEST(layout_masks_actions)
{
    /* Lengths 4, 3, 2 with prompts 2, 0, 2: the actions are the positions
     * t with t + 1 >= prompt_len and t + 1 < len. */
    const int32_t a[4] = {1, 2, 3, 4}, b[3] = {5, 6, 7}, c[2] = {8, 9};
    const int32_t *ids[3] = {a, b, c};
    size_t len[3] = {4, 3, 2}, pl[3] = {2, 0, 2};
    rlaif_seqs s = {sizeof s, 3, ids, len, pl};
    or_layout l;
    char err[128];
    ck_assert(or_layout_build(&l, &s, 0, "t", err, sizeof err) == RLAIF_OK);
    const uint8_t want[9] = {0, 1, 1, 0, /**/ 1, 1, 0, /**/ 0, 0};
    for (int i = 0; i < 9; i++) ck_assert_int_eq(l.mask[i], want[i]);
    ck_assert_uint_eq(l.count[0], 2);
    ck_assert_uint_eq(l.count[2], 0); /* prompt only: no action */
    ck_assert_uint_eq(l.off[2], 7);
    or_layout_free(&l);
    ck_assert(or_layout_build(&l, &s, 1, "t", err, sizeof err) == RLAIF_OK); /* all tokens */
    ck_assert_int_eq(l.mask[0], 1);
    ck_assert_int_eq(l.mask[7], 1);
    or_layout_free(&l);
    pl[1] = 5;
    ck_assert_int_eq(or_layout_build(&l, &s, 0, "t", err, sizeof err), RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "sequence 1") != NULL, "%s", err);
    /* A shuffle is a permutation, and depends on the seed. */
    size_t p1[10], p2[10];
    or_shuffle(p1, 10, 1);
    or_shuffle(p2, 10, 2);
    int seen[10] = {0}, same = 1;
    for (int i = 0; i < 10; i++) {
        seen[p1[i]]++;
        same &= p1[i] == p2[i];
    }
    for (int i = 0; i < 10; i++) ck_assert_int_eq(seen[i], 1);
    ck_assert(!same);
}
END_TEST

static Suite *optmath_suite(void)
{
    Suite *s = suite_create("optmath");
    TCase *t = tcase_create("values");
    tcase_add_test(t, masked_reductions);
    tcase_add_test(t, whiten_and_explained_variance);
    tcase_add_test(t, sft_nll);
    tcase_add_test(t, pair_loss_values);
    tcase_add_test(t, pair_accuracy_and_ece);
    tcase_add_test(t, kl_estimators);
    tcase_add_test(t, kl_controller);
    tcase_add_test(t, gae_values);
    tcase_add_test(t, ppo_token_values);
    tcase_add_test(t, value_token_values);
    tcase_add_test(t, group_advantages_values);
    tcase_add_test(t, aggregation_weights);
    tcase_add_test(t, dpo_values);
    tcase_add_test(t, lr_schedules);
    tcase_add_test(t, layout_masks_actions);
    suite_add_tcase(s, t);
    TCase *fd = tcase_create("finite-differences");
    tcase_add_test(fd, fd_pair_and_dpo);
    tcase_add_test(fd, fd_kl_ppo_value);
    tcase_add_test(fd, fd_aggregated_loss);
    suite_add_tcase(s, fd);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(optmath_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
