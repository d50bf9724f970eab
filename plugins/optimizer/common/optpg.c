/* optpg.c — see optpg.h. */
#include "optpg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void pg_cfg_read(pconfig *c, pg_cfg *g, double default_lr, double default_clip,
                 const char *default_agg)
{
    static const char *const aggs[] = {"token_mean", "seq_mean", "seq_mean_token_sum", NULL};
    or_adam_read(c, &g->adam, default_lr);
    g->epochs = pconfig_int(c, "epochs", 1, 1, 1000);
    g->minibatch_size = pconfig_int(c, "minibatch_size", 0, 0, INT64_MAX);
    g->clip_low = pconfig_number(c, "clip_low", default_clip, 0, 1);
    g->clip_high = pconfig_number(c, "clip_high", g->clip_low, 0, 100);
    g->ratio_bound = pconfig_number(c, "ratio_bound", 0, 0, 1e9);
    if (g->ratio_bound != 0 && g->ratio_bound <= 1)
        pconfig_fail(c, "config key 'ratio_bound': must be > 1 (or 0 for off), got %g",
                     g->ratio_bound);
    g->max_approx_kl = pconfig_number(c, "max_approx_kl", 0, 0, 1e9);
    g->entropy_coef = pconfig_number(c, "entropy_coef", 0, -1e3, 1e3);
    g->agg = (om_agg)pconfig_enum(c, "aggregation", default_agg, aggs);
    g->seed = (uint64_t)pconfig_int(c, "seed", 0, 0, INT64_MAX);
    g->kl_loss_coef = 0;
    g->kl_loss_kind = OM_KL_K3;
    g->vf_coef = 0;
    g->vf_clip = 0;
}

void pg_work_free(pg_work *w)
{
    float *bufs[] = {w->old_lp, w->ref_lp, w->old_val, w->adv, w->ret, w->lp, w->ent,
                     w->val, w->g_lp, w->g_ent, w->g_val, w->w, w->s_old, w->s_ref,
                     w->s_adv, w->s_ret, w->s_oldv};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(w->s_mask);
    free(w->order);
    or_sub_free(&w->sub);
    memset(w, 0, sizeof *w);
}

static rlaif_status grow_full(pg_work *w, size_t n, const char *who, char *err, size_t errlen)
{
    if (n <= w->cap_full && w->old_lp) return RLAIF_OK;
    float **bufs[] = {&w->old_lp, &w->ref_lp, &w->old_val, &w->adv, &w->ret};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        float *p = realloc(*bufs[i], (n ? n : 1) * sizeof(float));
        if (!p) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", who);
        *bufs[i] = p;
    }
    w->cap_full = n;
    return RLAIF_OK;
}

static rlaif_status grow_sub(pg_work *w, size_t n, const char *who, char *err, size_t errlen)
{
    if (n <= w->cap_sub && w->lp) return RLAIF_OK;
    float **bufs[] = {&w->lp,    &w->ent,   &w->val,   &w->g_lp,  &w->g_ent, &w->g_val,
                      &w->w,     &w->s_old, &w->s_ref, &w->s_adv, &w->s_ret, &w->s_oldv};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        float *p = realloc(*bufs[i], (n ? n : 1) * sizeof(float));
        if (!p) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", who);
        *bufs[i] = p;
    }
    uint8_t *m = realloc(w->s_mask, n ? n : 1);
    if (!m) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", who);
    w->s_mask = m;
    w->cap_sub = n;
    return RLAIF_OK;
}

rlaif_status pg_rollout(pg_work *w, const rlaif_opt_models *m, const rlaif_seqs *s,
                        const or_layout *l, float temperature, int value_mode, int want_ref,
                        const char *who, char *err, size_t errlen)
{
    rlaif_status st = grow_full(w, l->total, who, err, errlen);
    if (st) return st;
    rlaif_outputs o;
    memset(&o, 0, sizeof o);
    o.logprobs = w->old_lp;
    uint32_t want = RLAIF_OUT_LOGPROBS;
    if (value_mode == PG_VALUES_POLICY) {
        o.values = w->old_val;
        want |= RLAIF_OUT_VALUES;
    }
    st = or_forward(&m->policy, "policy", s, want, temperature, &o, who, err, errlen);
    if (st) return st;
    if (value_mode == PG_VALUES_MODEL) {
        rlaif_outputs v;
        memset(&v, 0, sizeof v);
        v.values = w->old_val;
        st = or_forward(&m->value, "value", s, RLAIF_OUT_VALUES, temperature, &v, who, err,
                        errlen);
        if (st) return st;
    }
    if (want_ref) {
        rlaif_outputs r;
        memset(&r, 0, sizeof r);
        r.logprobs = w->ref_lp;
        st = or_forward(&m->reference, "reference", s, RLAIF_OUT_LOGPROBS, temperature, &r, who,
                        err, errlen);
        if (st) return st;
    }
    return RLAIF_OK;
}

/* Running sums of one step's statistics over the minibatches it ran. */
typedef struct pg_acc {
    double policy_loss, value_loss, entropy, approx_kl, clip_frac, vclip_frac, kl_loss, grad_norm;
    double ratio_max, lr;
    size_t done, skipped;
    int early_stopped;
} pg_acc;

/* Loss and gradients of one minibatch already forwarded into w->lp etc.
 * Returns 1 (and touches nothing) when the ratio guard says skip. */
static int minibatch_loss(pg_work *w, const pg_cfg *c, size_t total, int value_mode, int use_ref,
                          double *ratio_max, double out[7])
{
    /* out: policy loss, value loss, entropy mean, approx kl, clip frac,
     * value clip frac, kl loss (all token means except the two losses). */
    size_t ntok = om_mask_count(w->s_mask, total);
    double rmax = 0;
    for (size_t i = 0; i < total; i++) {
        if (!w->s_mask[i]) continue;
        double r = exp((double)w->lp[i] - w->s_old[i]);
        if (r > rmax) rmax = r;
        if (c->ratio_bound > 0 && (r > c->ratio_bound || r < 1.0 / c->ratio_bound)) {
            *ratio_max = rmax > *ratio_max ? rmax : *ratio_max;
            return 1;
        }
    }
    if (rmax > *ratio_max) *ratio_max = rmax;
    double pl = 0, vl = 0, ent = 0, akl = 0, kl = 0;
    size_t clipped = 0, vclipped = 0;
    double vw = ntok ? 1.0 / (double)ntok : 0.0;
    for (size_t i = 0; i < total; i++) {
        w->g_lp[i] = 0;
        w->g_ent[i] = 0;
        w->g_val[i] = 0;
        if (!w->s_mask[i]) continue;
        double d, wt = w->w[i];
        int cl;
        pl += wt * om_ppo_token(w->lp[i], w->s_old[i], w->s_adv[i], c->clip_low, c->clip_high,
                                &d, &cl);
        double g = wt * d;
        clipped += cl;
        if (use_ref && c->kl_loss_coef != 0) {
            double k = om_kl(c->kl_loss_kind, w->lp[i], w->s_ref[i]);
            kl += k * vw;
            pl += wt * c->kl_loss_coef * k;
            g += wt * c->kl_loss_coef * om_kl_grad(c->kl_loss_kind, w->lp[i], w->s_ref[i]);
        }
        w->g_lp[i] = (float)g;
        ent += w->ent[i] * vw;
        akl += om_approx_kl(w->lp[i], w->s_old[i]) * vw;
        if (c->entropy_coef != 0) {
            pl -= c->entropy_coef * wt * w->ent[i];
            w->g_ent[i] = (float)(-c->entropy_coef * wt);
        }
        if (value_mode != PG_VALUES_NONE) {
            double dv;
            int vc;
            vl += c->vf_coef * vw *
                  om_value_token(w->val[i], w->s_oldv[i], w->s_ret[i], c->vf_clip, &dv, &vc);
            w->g_val[i] = (float)(c->vf_coef * vw * dv);
            vclipped += vc;
        }
    }
    out[0] = pl;
    out[1] = vl;
    out[2] = ent;
    out[3] = akl;
    out[4] = ntok ? (double)clipped / (double)ntok : 0;
    out[5] = ntok ? (double)vclipped / (double)ntok : 0;
    out[6] = kl;
    return 0;
}

/* Forward, loss, guards, backward and step for one minibatch. */
static rlaif_status run_minibatch(pg_work *w, const pg_cfg *c, const rlaif_opt_models *m,
                                  float temperature, int value_mode, int use_ref,
                                  uint64_t *updates, uint64_t step_no, pg_acc *acc,
                                  const char *who, char *err, size_t errlen)
{
    or_sub *v = &w->sub;
    size_t total = v->total;
    or_sub_gather(v, w->s_old, w->old_lp);
    or_sub_gather(v, w->s_adv, w->adv);
    if (use_ref) or_sub_gather(v, w->s_ref, w->ref_lp);
    if (value_mode != PG_VALUES_NONE) {
        or_sub_gather(v, w->s_ret, w->ret);
        or_sub_gather(v, w->s_oldv, w->old_val);
    }
    rlaif_outputs o;
    memset(&o, 0, sizeof o);
    o.logprobs = w->lp;
    o.entropy = w->ent;
    uint32_t want = RLAIF_OUT_LOGPROBS | RLAIF_OUT_ENTROPY | RLAIF_OUT_KEEP;
    if (value_mode == PG_VALUES_POLICY) {
        o.values = w->val;
        want |= RLAIF_OUT_VALUES;
    }
    rlaif_status st = or_forward(&m->policy, "policy", &v->seqs, want, temperature, &o, who, err,
                                 errlen);
    if (st) return st;
    if (value_mode == PG_VALUES_MODEL) {
        rlaif_outputs vo;
        memset(&vo, 0, sizeof vo);
        vo.values = w->val;
        st = or_forward(&m->value, "value", &v->seqs, RLAIF_OUT_VALUES | RLAIF_OUT_KEEP,
                        temperature, &vo, who, err, errlen);
        if (st) return st;
    }
    om_agg_weights(w->w, w->s_mask, v->len, v->n, c->agg);
    double r[7];
    if (minibatch_loss(w, c, total, value_mode, use_ref, &acc->ratio_max, r)) {
        acc->skipped++;
        return RLAIF_OK;
    }
    if ((st = or_check_value(r[0], step_no, "policy loss", who, err, errlen)) ||
        (st = or_check_value(r[1], step_no, "value loss", who, err, errlen)) ||
        (st = or_check_finite(w->g_lp, total, step_no, "policy loss gradient", who, err, errlen)) ||
        (st = or_check_finite(w->g_val, total, step_no, "value loss gradient", who, err, errlen)))
        return st;
    rlaif_outputs g;
    memset(&g, 0, sizeof g);
    g.struct_size = sizeof g;
    g.logprobs = w->g_lp;
    g.entropy = c->entropy_coef != 0 ? w->g_ent : NULL;
    g.values = value_mode == PG_VALUES_POLICY ? w->g_val : NULL;
    if ((st = or_backward(&m->policy, "policy", &g, who, err, errlen))) return st;
    rlaif_step_params p = or_step_params(&c->adam, *updates, 1.0f);
    double gn = 0;
    if ((st = or_model_step(&m->policy, "policy", &p, &gn, step_no, who, err, errlen))) return st;
    if (value_mode == PG_VALUES_MODEL) {
        rlaif_outputs gv;
        memset(&gv, 0, sizeof gv);
        gv.struct_size = sizeof gv;
        gv.values = w->g_val;
        if ((st = or_backward(&m->value, "value", &gv, who, err, errlen))) return st;
        if ((st = or_model_step(&m->value, "value", &p, NULL, step_no, who, err, errlen)))
            return st;
    }
    (*updates)++;
    acc->policy_loss += r[0];
    acc->value_loss += r[1];
    acc->entropy += r[2];
    acc->approx_kl += r[3];
    acc->clip_frac += r[4];
    acc->vclip_frac += r[5];
    acc->kl_loss += r[6];
    acc->grad_norm += gn;
    acc->lr = p.lr;
    acc->done++;
    if (c->max_approx_kl > 0 && r[3] > c->max_approx_kl) acc->early_stopped = 1;
    return RLAIF_OK;
}

rlaif_status pg_update(pg_work *w, const pg_cfg *c, const rlaif_opt_models *m,
                       const rlaif_seqs *s, const or_layout *l, float temperature, int value_mode,
                       uint64_t *updates, uint64_t step_no, or_stats *st, const char *who,
                       char *err, size_t errlen)
{
    rlaif_status rc = or_reserve((void **)&w->order, &w->cap_order, s->n, sizeof(size_t), who,
                                 err, errlen);
    if (rc) return rc;
    size_t mb = c->minibatch_size > 0 && (size_t)c->minibatch_size < s->n
                    ? (size_t)c->minibatch_size
                    : s->n;
    int use_ref = c->kl_loss_coef != 0;
    pg_acc acc;
    memset(&acc, 0, sizeof acc);
    for (int64_t e = 0; e < c->epochs && !acc.early_stopped; e++) {
        or_shuffle(w->order, s->n, c->seed ^ (step_no * 0x100000001B3ull) ^ (uint64_t)e);
        for (size_t k = 0; k < s->n && !acc.early_stopped; k += mb) {
            size_t n = s->n - k < mb ? s->n - k : mb;
            if ((rc = or_sub_make(&w->sub, s, l, w->order + k, n, who, err, errlen))) return rc;
            if ((rc = grow_sub(w, w->sub.total, who, err, errlen))) return rc;
            or_sub_gather_u8(&w->sub, w->s_mask, l->mask);
            rc = run_minibatch(w, c, m, temperature, value_mode, use_ref, updates, step_no, &acc,
                               who, err, errlen);
            if (rc) return rc;
        }
    }
    double d = acc.done ? (double)acc.done : 1.0; /* all skipped: losses read 0 */
    or_stats_set(st, "policy_loss", acc.policy_loss / d);
    or_stats_set(st, "entropy", acc.entropy / d);
    or_stats_set(st, "approx_kl", acc.approx_kl / d);
    or_stats_set(st, "clip_frac", acc.clip_frac / d);
    or_stats_set(st, "ratio_max", acc.ratio_max);
    or_stats_set(st, "grad_norm", acc.grad_norm / d);
    or_stats_set(st, "lr", acc.done ? acc.lr : or_lr_at(&c->adam, *updates));
    or_stats_set(st, "minibatches", (double)acc.done);
    or_stats_set(st, "skipped_minibatches", (double)acc.skipped);
    or_stats_set(st, "early_stopped", acc.early_stopped);
    if (value_mode != PG_VALUES_NONE) {
        or_stats_set(st, "value_loss", acc.value_loss / d);
        or_stats_set(st, "value_clip_frac", acc.vclip_frac / d);
    }
    if (use_ref) or_stats_set(st, "kl_loss", acc.kl_loss / d);
    return RLAIF_OK;
}

/* ===== reward pieces ===================================================== */

void pg_kl(const pg_work *w, const or_layout *l, om_kl_kind k, float *tok_kl, float *seq_kl)
{
    for (size_t b = 0; b < l->n; b++) {
        double sum = 0;
        size_t off = l->off[b];
        if (tok_kl)
            for (size_t t = 0; t < l->first[b]; t++) tok_kl[off + t] = 0;
        for (size_t t = l->first[b]; t < l->first[b] + l->count[b]; t++) {
            double v = om_kl(k, w->old_lp[off + t], w->ref_lp[off + t]);
            sum += v;
            if (tok_kl) tok_kl[off + t] = (float)v;
        }
        if (tok_kl) {
            size_t len = (b + 1 < l->n ? l->off[b + 1] : l->total) - off;
            for (size_t t = l->first[b] + l->count[b]; t < len; t++) tok_kl[off + t] = 0;
        }
        seq_kl[b] = (float)sum;
    }
}

double pg_score(const rlaif_opt_batch *b, size_t i, double clip, double no_stop_penalty)
{
    double r = b->rewards[i];
    if (clip > 0) r = r < -clip ? -clip : r > clip ? clip : r;
    if (b->finished && !b->finished[i]) r -= no_stop_penalty;
    return r;
}

double pg_token_reward_sum(const rlaif_opt_batch *b, const or_layout *l, size_t i)
{
    if (!b->token_rewards) return 0;
    double s = 0;
    for (size_t t = l->first[i]; t < l->first[i] + l->count[i]; t++)
        s += b->token_rewards[l->off[i] + t];
    return s;
}

rlaif_status pg_groups(const rlaif_opt_batch *b, int64_t group_size, uint32_t **buf, size_t *cap,
                       const uint32_t **out, const char *who, char *err, size_t errlen)
{
    size_t n = b->seqs.n;
    if (b->group) {
        *out = b->group;
        return RLAIF_OK;
    }
    if (group_size <= 0 || n % (size_t)group_size)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "%s: needs batch.group or config 'group_size' dividing the batch "
                            "(%zu samples, group_size %lld)",
                            who, n, (long long)group_size);
    rlaif_status st = or_reserve((void **)buf, cap, n, sizeof(uint32_t), who, err, errlen);
    if (st) return st;
    for (size_t i = 0; i < n; i++) (*buf)[i] = (uint32_t)(i / (size_t)group_size);
    *out = *buf;
    return RLAIF_OK;
}

om_kl_kind pg_kl_kind(pconfig *c, const char *key, const char *def)
{
    static const char *const kinds[] = {"k1", "k2", "k3", NULL};
    return (om_kl_kind)pconfig_enum(c, key, def, kinds);
}
