/*
 * optimizer/rloo — REINFORCE with a leave-one-out baseline (Kool et al.
 * 2019; Ahmadian et al. 2024), KL to the reference folded into the
 * sequence reward.
 *
 * Batch: k samples per prompt — seqs, rewards[n], group[n] (or config
 * group_size), optionally finished[n] and the sampling temperature.
 * Models: policy; reference when kl_coef > 0 or adaptive_kl.
 *
 * One step():
 *   1. Old logprobs (and reference logprobs).
 *   2. Sequence reward R_i = score_i - β·Σ_t KL_t (KL_t the chosen
 *      estimator of log π_old - log π_ref over the response; score_i the
 *      reward minus no_stop_penalty if it never stopped, plus the sum of
 *      its token_rewards when given).
 *   3. A_i = R_i - mean of the other k-1 samples of its group; optionally
 *      whitened over the batch (normalize_advantages).
 *   4. epochs × minibatches of the clipped surrogate with A_i on every
 *      token of sample i, aggregated by `aggregation` (default
 *      "seq_mean_token_sum": the REINFORCE estimator -A_i·Σ_t log π_t,
 *      averaged over samples).  With one epoch and one minibatch ρ = 1 and
 *      this is exactly REINFORCE-LOO: dL/dlog π_t = -A_i / n.
 *   5. With adaptive_kl the controller moves β towards kl_target.
 *
 * Config keys (defaults): the AdamW / schedule keys (lr 1e-6), epochs 1,
 *   minibatch_size 0, seed 0, clip_low 0.2, clip_high = clip_low,
 *   ratio_bound 0, max_approx_kl 0, entropy_coef 0,
 *   aggregation "seq_mean_token_sum", kl_coef 0.05, kl_estimator "k1",
 *   adaptive_kl false, kl_target 6, kl_horizon 10000, group_size 0,
 *   normalize_advantages false, reward_clip 0, no_stop_penalty 0
 *
 * Stats: reward_mean, reward_std, score_mean, kl (mean per-sequence
 * Σ log π_old - log π_ref), kl_coef, rloo_reward_mean (mean R_i),
 * advantages_std, response_length, no_stop_frac, and the update's
 * policy_loss, entropy, approx_kl, clip_frac, ratio_max, grad_norm, lr,
 * minibatches, skipped_minibatches, early_stopped.
 * State: {"steps", "updates", "kl_coef"}.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optseq.h"

#define WHO "optimizer/rloo"

typedef struct rloo {
    ps_core c;              /* config, counters, scratch and stats shared with GRPO */
    om_kl_ctl kl;
    om_kl_kind kl_kind;
    int normalize_advantages;
    double reward_clip;
    float *seq_k1;          /* per sample Σ k1, for the kl stat and the controller */
    size_t cap_k1;
    char state[256];
} rloo;

static rlaif_status rloo_create(const rlaif_host *host, const char *config, void **out, char *err,
                                size_t errlen)
{
    (void)host;
    static const char *const keys[] = {PG_KEYS,      "kl_coef",    "kl_estimator",
                                       "adaptive_kl", "kl_target", "kl_horizon",
                                       "group_size", "normalize_advantages", "reward_clip",
                                       "no_stop_penalty", NULL};
    pconfig c;
    if (pconfig_open(&c, WHO, config, err, errlen)) return pconfig_close(&c);
    rloo r;
    memset(&r, 0, sizeof r);
    pg_cfg_read(&c, &r.c.pg, 1e-6, 0.2, "seq_mean_token_sum");
    r.kl.coef = pconfig_number(&c, "kl_coef", 0.05, 0, 1e6);
    r.kl_kind = pg_kl_kind(&c, "kl_estimator", "k1");
    r.kl.adaptive = pconfig_bool(&c, "adaptive_kl", 0);
    r.kl.target = pconfig_number(&c, "kl_target", 6.0, 1e-9, 1e9);
    r.kl.horizon = pconfig_number(&c, "kl_horizon", 10000, 1, 1e12);
    r.c.group_size = pconfig_int(&c, "group_size", 0, 0, INT64_MAX);
    r.normalize_advantages = pconfig_bool(&c, "normalize_advantages", 0);
    r.reward_clip = pconfig_number(&c, "reward_clip", 0, 0, 1e9);
    r.c.no_stop_penalty = pconfig_number(&c, "no_stop_penalty", 0, -1e9, 1e9);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st) return st;
    rloo *self = malloc(sizeof *self);
    if (!self) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    *self = r;
    *out = self;
    return RLAIF_OK;
}

static void rloo_destroy(void *vself)
{
    rloo *r = vself;
    if (!r) return;
    ps_core_free(&r->c);
    free(r->seq_k1);
    free(r);
}

static rlaif_status rloo_run(rloo *r, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                             int train, rlaif_opt_result *out, char *err, size_t errlen)
{
    size_t n = b->seqs.n;
    int use_ref = r->kl.coef > 0 || r->kl.adaptive;
    ps_step ps;
    rlaif_status st = ps_begin(&r->c, &ps, m, b, train, use_ref, WHO, err, errlen);
    if (st) return st;
    or_layout *l = &ps.l;
    if ((st = or_reserve((void **)&r->seq_k1, &r->cap_k1, n, sizeof(float), WHO, err, errlen))) {
        or_layout_free(l);
        return st;
    }
    float *R = r->c.score, *seq_kl = r->c.seq_kl;
    if (use_ref) {
        pg_kl(&r->c.w, l, r->kl_kind, NULL, seq_kl);
        pg_kl(&r->c.w, l, OM_KL_K1, NULL, r->seq_k1);
    } else {
        memset(seq_kl, 0, n * sizeof(float));
        memset(r->seq_k1, 0, n * sizeof(float));
    }
    double smean = 0, Rmean = 0, kl = 0;
    for (size_t i = 0; i < n; i++) {
        double score = pg_score(b, i, r->reward_clip, r->c.no_stop_penalty) +
                       pg_token_reward_sum(b, l, i);
        R[i] = (float)(score - r->kl.coef * seq_kl[i]);
        smean += score / (double)n;
        Rmean += R[i] / (double)n;
        kl += r->seq_k1[i] / (double)n;
    }
    ps_summary sum;
    ps_summarise(&ps, b, &sum);
    om_rloo_advantages(r->c.seq_adv, R, ps.grp, n);
    if (r->normalize_advantages) om_whiten(r->c.seq_adv, NULL, n, 1);
    ps_spread(&r->c, &ps, b);
    or_stats *s = &r->c.stats;
    or_stats_reset(s);
    or_stats_set(s, "reward_mean", sum.reward_mean);
    or_stats_set(s, "reward_std", sum.reward_std);
    or_stats_set(s, "score_mean", smean);
    or_stats_set(s, "kl", kl);
    or_stats_set(s, "kl_coef", r->kl.coef);
    or_stats_set(s, "rloo_reward_mean", Rmean);
    or_stats_set(s, "advantages_std", sqrt(om_masked_var(r->c.seq_adv, NULL, n, 0)));
    or_stats_set(s, "response_length", sum.response_length);
    or_stats_set(s, "no_stop_frac", sum.no_stop_frac);
    st = ps_update(&r->c, &ps, m, b, train, WHO, err, errlen);
    if (!st && train) {
        om_kl_ctl_update(&r->kl, kl, n);
        or_stats_set(s, "kl_coef_next", r->kl.coef);
    }
    or_layout_free(l);
    if (st) return st;
    or_stats_out(s, out);
    return RLAIF_OK;
}

static rlaif_status rloo_step(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                              rlaif_opt_result *out, char *err, size_t errlen)
{
    return rloo_run(self, m, b, 1, out, err, errlen);
}

static rlaif_status rloo_evaluate(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                                  rlaif_opt_result *out, char *err, size_t errlen)
{
    return rloo_run(self, m, b, 0, out, err, errlen);
}

static rlaif_status rloo_get_state(void *self, const char **json)
{
    rloo *r = self;
    ps_state_get(&r->c, r->state, sizeof r->state, "kl_coef", r->kl.coef);
    *json = r->state;
    return RLAIF_OK;
}

static rlaif_status rloo_set_state(void *self, const char *json, char *err, size_t errlen)
{
    rloo *r = self;
    return ps_state_set(&r->c, json, WHO " state", "kl_coef", &r->kl.coef, err, errlen);
}

static const rlaif_optimizer_vtable rloo_vtable = {
    .base = {.struct_size = sizeof(rlaif_optimizer_vtable),
             .create = rloo_create,
             .destroy = rloo_destroy},
    .step = rloo_step,
    .get_state = rloo_get_state,
    .set_state = rloo_set_state,
    .evaluate = rloo_evaluate,
};

static const rlaif_plugin_info rloo_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_OPTIMIZER,
    .name = "rloo",
    .version = "1.0.0",
    .description = "RLOO: REINFORCE with leave-one-out baseline, sequence KL in the reward",
    .caps = RLAIF_CAP_SAVE | RLAIF_CAP_OPTIMIZER_ONLINE,
    .vtable = &rloo_vtable,
};

RLAIF_PLUGIN(&rloo_info)
