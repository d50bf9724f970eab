/*
 * optimizer/grpo — group relative policy optimisation (Shao et al. 2024),
 * with the asymmetric clipping and aggregation choices of later work.
 *
 * Batch: k samples per prompt — seqs, rewards[n], group[n] (samples of
 * the same prompt share a label; without it, config group_size makes
 * consecutive groups), optionally finished[n] and the sampling
 * temperature.  Models: policy; reference only when beta > 0.
 *
 * One step():
 *   1. Old logprobs of the batch (and reference logprobs when beta > 0).
 *   2. Advantage of sample i in group g, the same for all its tokens:
 *        A_i = (r_i - mean_g) / (std_g + adv_eps)      (scale_rewards)
 *        A_i =  r_i - mean_g                           (otherwise)
 *      r_i the reward minus no_stop_penalty if it never stopped, plus the
 *      sum of its token_rewards when given.
 *   3. epochs × minibatches of
 *        L = Σ_t w_t·[ max(-A ρ_t, -A clip(ρ_t, 1-ε_low, 1+ε_high)) + β·k3_t ]
 *      k3_t = e^{log π_ref - log π} - (log π_ref - log π) - 1, and w_t from
 *      `aggregation`: "token_mean" (every token of the batch alike),
 *      "seq_mean" (mean over each sequence's tokens, then over sequences —
 *      the original GRPO), "seq_mean_token_sum" (sum over tokens, mean over
 *      sequences).
 *      dL/dlog π_t = w_t·(-A ρ_t [unclipped] + β·(1 - e^{log π_ref - log π})).
 *
 * Config keys (defaults): the AdamW / schedule keys (lr 1e-6), epochs 1,
 *   minibatch_size 0, seed 0, clip_low 0.2, clip_high = clip_low,
 *   ratio_bound 0, max_approx_kl 0, entropy_coef 0,
 *   aggregation "seq_mean", beta 0.04, kl_estimator "k3",
 *   group_size 0, scale_rewards true, adv_eps 1e-4, no_stop_penalty 0
 *
 * Stats: reward_mean, reward_std, group_std_mean, zero_std_frac (groups
 * with one reward for all: no signal), kl (mean per-token k3 of the old
 * policy to the reference, when beta > 0), response_length, no_stop_frac,
 * and the update's policy_loss, kl_loss, entropy, approx_kl, clip_frac,
 * ratio_max, grad_norm, lr, minibatches, skipped_minibatches, early_stopped.
 * State: {"steps", "updates"}.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optseq.h"

#define WHO "optimizer/grpo"

typedef struct grpo {
    ps_core c;              /* config, counters, scratch and stats shared with RLOO */
    int scale_rewards;
    double adv_eps;
    float *tok_kl;          /* per token, for the kl stat */
    size_t cap_tok;
    char state[128];
} grpo;

static rlaif_status grpo_create(const rlaif_host *host, const char *config, void **out, char *err,
                                size_t errlen)
{
    (void)host;
    static const char *const keys[] = {PG_KEYS,         "beta",         "kl_estimator",
                                       "group_size",    "scale_rewards", "adv_eps",
                                       "no_stop_penalty", NULL};
    pconfig c;
    if (pconfig_open(&c, WHO, config, err, errlen)) return pconfig_close(&c);
    grpo g;
    memset(&g, 0, sizeof g);
    pg_cfg_read(&c, &g.c.pg, 1e-6, 0.2, "seq_mean");
    g.c.pg.kl_loss_coef = pconfig_number(&c, "beta", 0.04, 0, 1e6);
    g.c.pg.kl_loss_kind = pg_kl_kind(&c, "kl_estimator", "k3");
    g.c.group_size = pconfig_int(&c, "group_size", 0, 0, INT64_MAX);
    g.scale_rewards = pconfig_bool(&c, "scale_rewards", 1);
    g.adv_eps = pconfig_number(&c, "adv_eps", 1e-4, 0, 1);
    g.c.no_stop_penalty = pconfig_number(&c, "no_stop_penalty", 0, -1e9, 1e9);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st) return st;
    grpo *self = malloc(sizeof *self);
    if (!self) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    *self = g;
    *out = self;
    return RLAIF_OK;
}

static void grpo_destroy(void *vself)
{
    grpo *g = vself;
    if (!g) return;
    ps_core_free(&g->c);
    free(g->tok_kl);
    free(g);
}

/* Mean within-group standard deviation and the fraction of groups whose
 * rewards are all equal (they teach nothing). */
static void group_spread(const float *r, const uint32_t *grp, size_t n, double *std_mean,
                         double *zero_frac)
{
    double sum_std = 0;
    size_t groups = 0, zero = 0;
    for (size_t i = 0; i < n; i++) {
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (grp[j] == grp[i]) first = 0;
        if (!first) continue;
        double s = 0, s2 = 0;
        size_t k = 0;
        for (size_t j = i; j < n; j++)
            if (grp[j] == grp[i]) s += r[j], s2 += (double)r[j] * r[j], k++;
        double mean = s / (double)k, var = s2 / (double)k - mean * mean;
        double sd = sqrt(var > 0 ? var : 0);
        sum_std += sd;
        zero += sd < 1e-12;
        groups++;
    }
    *std_mean = groups ? sum_std / (double)groups : 0;
    *zero_frac = groups ? (double)zero / (double)groups : 0;
}

static rlaif_status grpo_run(grpo *g, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                             int train, rlaif_opt_result *out, char *err, size_t errlen)
{
    size_t n = b->seqs.n;
    int use_ref = g->c.pg.kl_loss_coef != 0;
    ps_step ps;
    rlaif_status st = ps_begin(&g->c, &ps, m, b, train, use_ref, WHO, err, errlen);
    if (st) return st;
    or_layout *l = &ps.l;
    size_t T = l->total;
    if ((st = or_reserve((void **)&g->tok_kl, &g->cap_tok, T, sizeof(float), WHO, err, errlen))) {
        or_layout_free(l);
        return st;
    }
    float *rew = g->c.score;
    for (size_t i = 0; i < n; i++)
        rew[i] = (float)(pg_score(b, i, 0, g->c.no_stop_penalty) + pg_token_reward_sum(b, l, i));
    ps_summary sum;
    ps_summarise(&ps, b, &sum);
    om_group_advantages(g->c.seq_adv, rew, ps.grp, n, g->scale_rewards, g->adv_eps);
    ps_spread(&g->c, &ps, b);
    double std_mean, zero_frac;
    group_spread(rew, ps.grp, n, &std_mean, &zero_frac);
    or_stats *s = &g->c.stats;
    or_stats_reset(s);
    or_stats_set(s, "reward_mean", sum.reward_mean);
    or_stats_set(s, "reward_std", sum.reward_std);
    or_stats_set(s, "group_std_mean", std_mean);
    or_stats_set(s, "zero_std_frac", zero_frac);
    if (use_ref) {
        pg_kl(&g->c.w, l, OM_KL_K3, g->tok_kl, g->c.seq_kl);
        or_stats_set(s, "kl", om_masked_mean(g->tok_kl, l->mask, T));
    }
    or_stats_set(s, "response_length", sum.response_length);
    or_stats_set(s, "no_stop_frac", sum.no_stop_frac);
    st = ps_update(&g->c, &ps, m, b, train, WHO, err, errlen);
    or_layout_free(l);
    if (st) return st;
    or_stats_out(s, out);
    return RLAIF_OK;
}

static rlaif_status grpo_step(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                              rlaif_opt_result *out, char *err, size_t errlen)
{
    return grpo_run(self, m, b, 1, out, err, errlen);
}

static rlaif_status grpo_evaluate(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                                  rlaif_opt_result *out, char *err, size_t errlen)
{
    return grpo_run(self, m, b, 0, out, err, errlen);
}

static rlaif_status grpo_get_state(void *self, const char **json)
{
    grpo *g = self;
    ps_state_get(&g->c, g->state, sizeof g->state, NULL, 0);
    *json = g->state;
    return RLAIF_OK;
}

static rlaif_status grpo_set_state(void *self, const char *json, char *err, size_t errlen)
{
    grpo *g = self;
    return ps_state_set(&g->c, json, WHO " state", NULL, NULL, err, errlen);
}

static const rlaif_optimizer_vtable grpo_vtable = {
    .base = {.struct_size = sizeof(rlaif_optimizer_vtable),
             .create = grpo_create,
             .destroy = grpo_destroy},
    .step = grpo_step,
    .get_state = grpo_get_state,
    .set_state = grpo_set_state,
    .evaluate = grpo_evaluate,
};

static const rlaif_plugin_info grpo_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_OPTIMIZER,
    .name = "grpo",
    .version = "1.0.0",
    .description = "GRPO: group-normalised advantages, asymmetric clipping, k3 KL in the loss",
    .caps = RLAIF_CAP_SAVE | RLAIF_CAP_OPTIMIZER_ONLINE,
    .vtable = &grpo_vtable,
};

RLAIF_PLUGIN(&grpo_info)
