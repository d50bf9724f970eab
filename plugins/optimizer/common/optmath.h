/*
 * optmath.h — the math of the training algorithms, as pure functions.
 *
 * No model, no plugin ABI: numbers in, numbers (and gradients) out, so each
 * formula is tested by hand-computed values and finite differences
 * (tests/optimizer/test_optmath.c).  docs/algorithms.md explains them.
 * Prefix `om_`.  Conventions:
 *   - `lp` is a log-probability of the policy being trained, `old_lp` the
 *     same under the policy that sampled (before this update), `ref_lp`
 *     under the frozen reference.
 *   - A `mask` is uint8_t per entry, nonzero = counts; NULL = every entry.
 *   - Gradients are of the returned loss with respect to the named input,
 *     and are *written*, never accumulated, unless a function says so.
 */
#ifndef RLAIF_OPTMATH_H
#define RLAIF_OPTMATH_H

#include <stddef.h>
#include <stdint.h>

/* ===== numerics ========================================================== */

double om_sigmoid(double x);
double om_log_sigmoid(double x);   /* log σ(x), stable for large |x| */

/* ===== masked reductions ================================================= */

size_t om_mask_count(const uint8_t *mask, size_t n);
double om_masked_sum(const float *x, const uint8_t *mask, size_t n);
double om_masked_mean(const float *x, const uint8_t *mask, size_t n);     /* 0 when empty */
/* Variance over the masked entries; `unbiased` divides by count-1. */
double om_masked_var(const float *x, const uint8_t *mask, size_t n, int unbiased);
/* x <- (x - mean) / sqrt(var + 1e-8) on masked entries (population
 * variance); with shift_mean = 0 the mean is added back (rewards are
 * rescaled but keep their sign). */
void om_whiten(float *x, const uint8_t *mask, size_t n, int shift_mean);
/* 1 - Var(target - pred) / Var(target) over masked entries (NaN when the
 * target has no variance). */
double om_explained_variance(const float *pred, const float *target, const uint8_t *mask,
                             size_t n);

/* ===== supervised fine-tuning ============================================ */

/* Negative log-likelihood summed over masked tokens; grad[i] = -scale on
 * masked entries, 0 elsewhere (grad may be NULL).  Token-level
 * normalisation over an accumulated batch is scale = 1/(masked tokens of
 * the whole accumulated batch), or equivalently scale 1 and a final
 * grad_scale of 1/tokens at the model's step. */
double om_sft_nll(const float *lp, const uint8_t *mask, size_t n, float scale, float *grad);

/* ===== reward model (pairwise) =========================================== */

/* Clamps a soft label into [lo, hi] (Constitutional AI clamps
 * chain-of-thought labels to [0.4, 0.6]). */
double om_clamp_label(double p, double lo, double hi);

/* Soft Bradley–Terry loss of one pair with p = p(a ≻ b):
 *   d = r_a - r_b
 *   L = -[ p·log σ(d - m) + (1-p)·log σ(-d - m) ]
 * The margin m >= 0 asks the preferred side to win by at least m (with
 * p = 1 this is the margin loss -log σ(r_chosen - r_rejected - m)).
 * Writes dL/dr_a and dL/dr_b (= -dL/dr_a). */
double om_pair_loss(double ra, double rb, double p, double margin, double *d_ra, double *d_rb);

/* Fraction of pairs whose predicted winner (sign of r_a - r_b) agrees with
 * the label (p > 1/2 means a); pairs with p = 1/2 are left out; ties in r
 * count as wrong.  NaN when no pair counts. */
double om_pair_accuracy(const float *ra, const float *rb, const float *p, size_t n);

/* Expected calibration error of predicted probabilities q = σ(r_a - r_b)
 * against labels p, over `bins` equal-width bins of q:
 *   ECE = Σ_bins (n_bin / n) · |mean q_bin - mean p_bin|. */
double om_ece(const float *q, const float *p, size_t n, size_t bins);

/* ===== KL to the reference =============================================== */

/* Per-token estimators of KL(π || π_ref) from samples of π, with
 * r = ref_lp - lp:
 *   k1 = -r               (unbiased, can be negative)
 *   k2 = r² / 2           (biased, low variance)
 *   k3 = e^r - r - 1      (unbiased, never negative) */
typedef enum om_kl_kind { OM_KL_K1 = 0, OM_KL_K2 = 1, OM_KL_K3 = 2 } om_kl_kind;
double om_kl(om_kl_kind k, double lp, double ref_lp);
double om_kl_grad(om_kl_kind k, double lp, double ref_lp);   /* d/d lp */

/* KL coefficient controller.  Fixed: coef never changes.  Adaptive
 * (Ziegler et al. 2019): after a batch of n_samples with mean KL `kl`,
 *   e = clip(kl / target - 1, -0.2, 0.2),  coef <- coef · (1 + e · n_samples / horizon). */
typedef struct om_kl_ctl {
    double coef;
    double target;   /* adaptive only */
    double horizon;  /* adaptive only, in samples */
    int adaptive;
} om_kl_ctl;
void om_kl_ctl_update(om_kl_ctl *c, double kl, size_t n_samples);

/* ===== rewards and advantages (PPO) ====================================== */

/* Per-token rewards of one response of n actions: r[t] = -coef · kl[t],
 * and the sequence score added at the last real token r[n-1]. */
void om_kl_penalised_rewards(float *r, const float *kl, size_t n, double coef, double score);

/* Generalised advantage estimation over one response of n actions with
 * values v (the value after the last action is 0):
 *   δ_t = r_t + γ·v_{t+1} - v_t,   A_t = δ_t + γλ·A_{t+1},   ret_t = A_t + v_t. */
void om_gae(float *adv, float *ret, const float *r, const float *v, size_t n, double gamma,
            double lambda);

/* ===== policy losses ===================================================== */

/* Clipped surrogate for one token, ρ = exp(lp - old_lp):
 *   L = max(-A·ρ, -A·clip(ρ, 1-eps_low, 1+eps_high))
 * dL/dlp = -A·ρ when the unclipped term is the max, 0 otherwise.
 * *clipped is set when the clipped term is strictly larger. */
double om_ppo_token(double lp, double old_lp, double adv, double eps_low, double eps_high,
                    double *d_lp, int *clipped);

/* Approximate KL(old || new) of one token, (ρ - 1) - log ρ (k3 form). */
double om_approx_kl(double lp, double old_lp);

/* Clipped value loss of one position:
 *   vc = v_old + clip(v - v_old, -c, c)
 *   L = ½·max((v - ret)², (vc - ret)²)       (c <= 0: ½(v - ret)²) */
double om_value_token(double v, double v_old, double ret, double clip, double *d_v, int *clipped);

/* ===== group baselines (GRPO, RLOO) ====================================== */

/* GRPO: A_i = (r_i - mean_g) / (std_g + eps) over the samples sharing
 * group[i] (std with n-1; scale_by_std = 0 leaves out the division).
 * A group of one sample gets 0.  Groups are any uint32 labels. */
void om_group_advantages(float *adv, const float *rewards, const uint32_t *group, size_t n,
                         int scale_by_std, double eps);

/* RLOO: A_i = r_i - (Σ_{j in g, j != i} r_j) / (k - 1), k the group's size
 * (a group of one gets 0). */
void om_rloo_advantages(float *adv, const float *rewards, const uint32_t *group, size_t n);

/* How per-token losses of a batch become one number: loss = Σ_t w_t·l_t.
 *   TOKEN_MEAN            w = 1 / (masked tokens of the batch)
 *   SEQ_MEAN              w = 1 / (sequences · masked tokens of its sequence)
 *   SEQ_MEAN_TOKEN_SUM    w = 1 / sequences
 * `len[b]` gives the sequences' extents in the flat arrays; sequences with
 * no masked token are not counted. */
typedef enum om_agg { OM_AGG_TOKEN_MEAN = 0, OM_AGG_SEQ_MEAN = 1, OM_AGG_SEQ_MEAN_TOKEN_SUM = 2 } om_agg;
void om_agg_weights(float *w, const uint8_t *mask, const size_t *len, size_t n_seq, om_agg a);

/* ===== DPO =============================================================== */

/* Maps a preference p through label smoothing eps: eps + (1 - 2·eps)·p
 * (a hard label 1 becomes 1 - eps). */
double om_smooth_label(double p, double eps);

/* DPO loss of one pair (a, b) with p = p(a ≻ b), from sequence
 * log-probabilities under the policy (pa, pb) and the reference (ra, rb):
 *   h = (pa - ra) - (pb - rb)
 *   sigmoid: L = -[p·log σ(β·h) + (1-p)·log σ(-β·h)]
 *   ipo:     L = (h - (2p - 1) / (2β))²
 * Writes dL/dpa and dL/dpb (= -dL/dpa). */
double om_dpo_loss(double pa, double ra, double pb, double rb, double beta, double p, int ipo,
                   double *d_pa, double *d_pb);

#endif
