/*
 * optimizer/ppo — proximal policy optimisation with a KL-penalised reward
 * (the RLHF / RLAIF recipe of Ziegler et al. and Ouyang et al.).
 *
 * Batch: rollouts — seqs (prompt + response, prompt_len marking the
 * prompt), rewards[n] (the score of each response), optionally finished[n],
 * token_rewards (flat, laid out like logprobs: entry t rewards the action at
 * position t, i.e. the token ids[t+1]), sample_logprobs and
 * the sampling temperature.  Models: policy (trained; with a value head
 * unless models.value is given), reference (frozen; needed when kl_coef > 0
 * or adaptive_kl), value (optional separate critic, trained too).
 *
 * One step():
 *   1. Score the rollouts once: old logprobs π_old and values V_old (logits
 *      divided by the sampling temperature), reference logprobs π_ref.
 *   2. Per-token reward of each action t of the response:
 *        r_t = -β·KL_t  (+ token reward),  r_last += score,
 *      KL_t the chosen estimator of log π_old - log π_ref, score = reward
 *      (clipped to ±reward_clip) minus no_stop_penalty if it never stopped.
 *   3. GAE(γ, λ) advantages and returns from r and V_old; advantages
 *      whitened over the batch's actions (whiten_advantages).
 *   4. epochs × minibatches of
 *        L = Σ_t w_t·max(-A_t ρ_t, -A_t clip(ρ_t, 1-ε_low, 1+ε_high))
 *            - entropy_coef·H + vf_coef·mean_t ½max((V-R)², (V_clip-R)²)
 *      ρ_t = exp(log π - log π_old); w_t from `aggregation`.
 *      dL/dlog π_t = -w_t·A_t·ρ_t where the unclipped term is active.
 *   5. The adaptive controller moves β towards kl_target (Ziegler et al.).
 * A minibatch whose ratio leaves [1/ratio_bound, ratio_bound] is skipped
 * and counted; a NaN/Inf loss or gradient returns RLAIF_E_NUMERIC naming
 * the step and the quantity (updates of earlier minibatches of that step
 * have been applied).
 *
 * Config keys (defaults):
 *   lr 1e-5, beta1 0.9, beta2 0.999, eps 1e-8, weight_decay 0, max_grad_norm 1,
 *   warmup_steps 0, total_steps 0, schedule "constant", min_lr_ratio 0
 *   epochs 4, minibatch_size 0 (= whole batch), seed 0
 *   clip_low 0.2, clip_high = clip_low, ratio_bound 0 (off), max_approx_kl 0 (off)
 *   entropy_coef 0, aggregation "token_mean" | "seq_mean" | "seq_mean_token_sum"
 *   kl_coef 0.05, kl_estimator "k1" | "k2" | "k3", adaptive_kl false,
 *   kl_target 6, kl_horizon 10000
 *   gamma 1, lambda 0.95, whiten_rewards false, whiten_advantages true
 *   vf_coef 0.1, vf_clip 0.2 (0 = off), value_from "auto" | "policy" | "model"
 *   reward_clip 0 (off), no_stop_penalty 0
 *
 * Stats: reward_mean, reward_std, score_mean, kl (mean per-sequence
 * Σ log π_old - log π_ref), kl_penalty (mean per-sequence estimator sum),
 * kl_coef (β used), non_score_reward, advantages_mean, returns_mean,
 * values_mean, explained_variance, response_length, no_stop_frac,
 * sampler_gap (mean |sample logprob - recomputed old logprob|), and from
 * the update: policy_loss, value_loss, entropy, approx_kl, clip_frac,
 * value_clip_frac, ratio_max, grad_norm, lr, minibatches,
 * skipped_minibatches, early_stopped.
 * State: {"steps", "updates", "kl_coef"}.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optpg.h"

#define WHO "optimizer/ppo"

enum { VALUE_AUTO = 0, VALUE_POLICY = 1, VALUE_MODEL = 2 };

typedef struct ppo {
    pg_cfg pg;
    om_kl_ctl kl;
    om_kl_kind kl_kind;
    double gamma, lambda, reward_clip, no_stop_penalty;
    int whiten_rewards, whiten_advantages, value_from;
    uint64_t steps, updates;
    pg_work w;
    float *tok_kl, *seq_kl, *seq_k1, *r;
    size_t cap_tok, cap_seq, cap_k1, cap_r;
    or_stats stats;
    char state[256];
} ppo;

static rlaif_status ppo_create(const rlaif_host *host, const char *config, void **out, char *err,
                               size_t errlen)
{
    (void)host;
    static const char *const keys[] = {PG_KEYS,          "kl_coef",       "kl_estimator",
                                       "adaptive_kl",    "kl_target",     "kl_horizon",
                                       "gamma",          "lambda",        "whiten_rewards",
                                       "whiten_advantages", "vf_coef",    "vf_clip",
                                       "value_from",     "reward_clip",   "no_stop_penalty",
                                       NULL};
    static const char *const value_from[] = {"auto", "policy", "model", NULL};
    pconfig c;
    if (pconfig_open(&c, WHO, config, err, errlen)) return pconfig_close(&c);
    ppo p;
    memset(&p, 0, sizeof p);
    pg_cfg_read(&c, &p.pg, 1e-5, 0.2, "token_mean");
    p.pg.epochs = pconfig_int(&c, "epochs", 4, 1, 1000);
    p.kl.coef = pconfig_number(&c, "kl_coef", 0.05, 0, 1e6);
    p.kl_kind = pg_kl_kind(&c, "kl_estimator", "k1");
    p.kl.adaptive = pconfig_bool(&c, "adaptive_kl", 0);
    p.kl.target = pconfig_number(&c, "kl_target", 6.0, 1e-9, 1e9);
    p.kl.horizon = pconfig_number(&c, "kl_horizon", 10000, 1, 1e12);
    p.gamma = pconfig_number(&c, "gamma", 1.0, 0, 1);
    p.lambda = pconfig_number(&c, "lambda", 0.95, 0, 1);
    p.whiten_rewards = pconfig_bool(&c, "whiten_rewards", 0);
    p.whiten_advantages = pconfig_bool(&c, "whiten_advantages", 1);
    p.pg.vf_coef = pconfig_number(&c, "vf_coef", 0.1, 0, 1e6);
    p.pg.vf_clip = pconfig_number(&c, "vf_clip", 0.2, 0, 1e9);
    p.value_from = pconfig_enum(&c, "value_from", "auto", value_from);
    p.reward_clip = pconfig_number(&c, "reward_clip", 0, 0, 1e9);
    p.no_stop_penalty = pconfig_number(&c, "no_stop_penalty", 0, -1e9, 1e9);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st) return st;
    ppo *self = malloc(sizeof *self);
    if (!self) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    *self = p;
    *out = self;
    return RLAIF_OK;
}

static void ppo_destroy(void *vself)
{
    ppo *p = vself;
    if (!p) return;
    pg_work_free(&p->w);
    free(p->tok_kl);
    free(p->seq_kl);
    free(p->seq_k1);
    free(p->r);
    free(p);
}

static int value_mode(const ppo *p, const rlaif_opt_models *m)
{
    if (p->value_from == VALUE_MODEL) return PG_VALUES_MODEL;
    if (p->value_from == VALUE_POLICY) return PG_VALUES_POLICY;
    return m->value.vtable ? PG_VALUES_MODEL : PG_VALUES_POLICY;
}

static int needs_reference(const ppo *p) { return p->kl.coef > 0 || p->kl.adaptive; }

/* Steps 1-3: score the rollouts, build rewards, advantages and returns in
 * p->w, and the rollout statistics. */
static rlaif_status prepare(ppo *p, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                            const or_layout *l, int vmode, char *err, size_t errlen)
{
    size_t n = b->seqs.n, T = l->total;
    uint64_t step_no = p->steps + 1;
    if (!b->rewards)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": batch.rewards is required");
    int want_ref = needs_reference(p);
    rlaif_status st;
    if ((st = or_need_model(&m->policy, "policy", 0, WHO, err, errlen))) return st;
    if (vmode == PG_VALUES_MODEL && (st = or_need_model(&m->value, "value", 0, WHO, err, errlen)))
        return st;
    if (want_ref && (st = or_need_model(&m->reference, "reference", 0, WHO, err, errlen)))
        return st;
    if ((st = or_reserve((void **)&p->tok_kl, &p->cap_tok, T, sizeof(float), WHO, err, errlen)) ||
        (st = or_reserve((void **)&p->r, &p->cap_r, T, sizeof(float), WHO, err, errlen)) ||
        (st = or_reserve((void **)&p->seq_kl, &p->cap_seq, n, sizeof(float), WHO, err, errlen)) ||
        (st = or_reserve((void **)&p->seq_k1, &p->cap_k1, n, sizeof(float), WHO, err, errlen)))
        return st;
    float temp = or_batch_temperature(b);
    if ((st = pg_rollout(&p->w, m, &b->seqs, l, temp, vmode, want_ref, WHO, err, errlen)))
        return st;
    if ((st = or_check_finite(p->w.old_lp, T, step_no, "policy logprobs", WHO, err, errlen)) ||
        (st = or_check_finite(p->w.old_val, T, step_no, "values", WHO, err, errlen)))
        return st;
    pg_work *w = &p->w;
    if (want_ref) {
        pg_kl(w, l, OM_KL_K1, NULL, p->seq_k1);
        pg_kl(w, l, p->kl_kind, p->tok_kl, p->seq_kl);
    } else {
        memset(p->tok_kl, 0, T * sizeof(float));
        memset(p->seq_kl, 0, n * sizeof(float));
        memset(p->seq_k1, 0, n * sizeof(float));
    }
    double score_sum = 0, nonscore = 0, len_sum = 0, no_stop = 0, gap = 0;
    size_t gap_n = 0;
    memset(p->r, 0, T * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        size_t off = l->off[i], f = l->first[i], cnt = l->count[i];
        double score = pg_score(b, i, p->reward_clip, p->no_stop_penalty);
        score_sum += score;
        len_sum += (double)cnt;
        no_stop += b->finished && !b->finished[i];
        if (cnt) {
            om_kl_penalised_rewards(p->r + off + f, p->tok_kl + off + f, cnt, p->kl.coef, score);
            for (size_t t = f; t < f + cnt; t++) {
                nonscore -= p->kl.coef * p->tok_kl[off + t] / (double)n;
                if (b->token_rewards) p->r[off + t] += b->token_rewards[off + t];
                if (b->sample_logprobs) {
                    gap += fabs((double)b->sample_logprobs[off + t] - w->old_lp[off + t]);
                    gap_n++;
                }
            }
        }
    }
    if (p->whiten_rewards) om_whiten(p->r, l->mask, T, 0);
    memset(w->adv, 0, T * sizeof(float));
    memset(w->ret, 0, T * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        size_t o = l->off[i] + l->first[i];
        om_gae(w->adv + o, w->ret + o, p->r + o, w->old_val + o, l->count[i], p->gamma,
               p->lambda);
    }
    double adv_mean = om_masked_mean(w->adv, l->mask, T);
    if (p->whiten_advantages) om_whiten(w->adv, l->mask, T, 1);
    if ((st = or_check_finite(w->adv, T, step_no, "advantages", WHO, err, errlen))) return st;
    double rmean = 0, rsq = 0, kl = 0, klp = 0;
    for (size_t i = 0; i < n; i++) {
        rmean += b->rewards[i] / (double)n;
        rsq += (double)b->rewards[i] * b->rewards[i] / (double)n;
        kl += p->seq_k1[i] / (double)n;
        klp += p->seq_kl[i] / (double)n;
    }
    double ev = om_explained_variance(w->old_val, w->ret, l->mask, T);
    or_stats *s = &p->stats;
    or_stats_reset(s);
    or_stats_set(s, "reward_mean", rmean);
    or_stats_set(s, "reward_std", sqrt(fmax(rsq - rmean * rmean, 0)));
    or_stats_set(s, "score_mean", score_sum / (double)n);
    or_stats_set(s, "kl", kl);
    or_stats_set(s, "kl_penalty", klp);
    or_stats_set(s, "kl_coef", p->kl.coef);
    or_stats_set(s, "non_score_reward", nonscore);
    or_stats_set(s, "advantages_mean", adv_mean);
    or_stats_set(s, "returns_mean", om_masked_mean(w->ret, l->mask, T));
    or_stats_set(s, "values_mean", om_masked_mean(w->old_val, l->mask, T));
    or_stats_set(s, "explained_variance", isnan(ev) ? 0.0 : ev);
    or_stats_set(s, "response_length", len_sum / (double)n);
    or_stats_set(s, "no_stop_frac", no_stop / (double)n);
    or_stats_set(s, "sampler_gap", gap_n ? gap / (double)gap_n : 0.0);
    return RLAIF_OK;
}

static rlaif_status ppo_run(ppo *p, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                            int train, rlaif_opt_result *out, char *err, size_t errlen)
{
    or_layout l;
    rlaif_status st = or_layout_build(&l, &b->seqs, 0, WHO, err, errlen);
    if (st) return st;
    int vmode = value_mode(p, m);
    st = prepare(p, m, b, &l, vmode, err, errlen);
    if (!st && train) {
        if (!(st = or_need_model(&m->policy, "policy", 1, WHO, err, errlen)) &&
            !(vmode == PG_VALUES_MODEL &&
              (st = or_need_model(&m->value, "value", 1, WHO, err, errlen))))
            st = pg_update(&p->w, &p->pg, m, &b->seqs, &l, or_batch_temperature(b), vmode,
                           &p->updates, p->steps + 1, &p->stats, WHO, err, errlen);
        if (!st) {
            p->steps++;
            om_kl_ctl_update(&p->kl, or_stats_get(&p->stats, "kl"), b->seqs.n);
            or_stats_set(&p->stats, "kl_coef_next", p->kl.coef);
        }
    }
    or_layout_free(&l);
    if (st) return st;
    or_stats_out(&p->stats, out);
    return RLAIF_OK;
}

static rlaif_status ppo_step(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                             rlaif_opt_result *out, char *err, size_t errlen)
{
    return ppo_run(self, m, b, 1, out, err, errlen);
}

static rlaif_status ppo_evaluate(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                                 rlaif_opt_result *out, char *err, size_t errlen)
{
    return ppo_run(self, m, b, 0, out, err, errlen);
}

static rlaif_status ppo_get_state(void *self, const char **json)
{
    ppo *p = self;
    snprintf(p->state, sizeof p->state, "{\"steps\": %llu, \"updates\": %llu, \"kl_coef\": %.17g}",
             (unsigned long long)p->steps, (unsigned long long)p->updates, p->kl.coef);
    *json = p->state;
    return RLAIF_OK;
}

static rlaif_status ppo_set_state(void *self, const char *json, char *err, size_t errlen)
{
    ppo *p = self;
    pconfig c;
    if (pconfig_open(&c, WHO " state", json, err, errlen)) return pconfig_close(&c);
    static const char *const keys[] = {"steps", "updates", "kl_coef", NULL};
    int64_t steps = pconfig_int(&c, "steps", 0, 0, INT64_MAX);
    int64_t updates = pconfig_int(&c, "updates", 0, 0, INT64_MAX);
    double coef = pconfig_number(&c, "kl_coef", p->kl.coef, 0, 1e9);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st) return st;
    p->steps = (uint64_t)steps;
    p->updates = (uint64_t)updates;
    p->kl.coef = coef;
    return RLAIF_OK;
}

static const rlaif_optimizer_vtable ppo_vtable = {
    .base = {.struct_size = sizeof(rlaif_optimizer_vtable),
             .create = ppo_create,
             .destroy = ppo_destroy},
    .step = ppo_step,
    .get_state = ppo_get_state,
    .set_state = ppo_set_state,
    .evaluate = ppo_evaluate,
};

static const rlaif_plugin_info ppo_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_OPTIMIZER,
    .name = "ppo",
    .version = "1.0.0",
    .description = "PPO with per-token KL penalty, GAE, clipped policy and value losses",
    .caps = RLAIF_CAP_SAVE | RLAIF_CAP_OPTIMIZER_ONLINE,
    .vtable = &ppo_vtable,
};

RLAIF_PLUGIN(&ppo_info)
