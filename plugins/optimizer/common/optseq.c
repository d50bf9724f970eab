/* optseq.c — see optseq.h. */
#include "optseq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void ps_core_free(ps_core *c)
{
    pg_work_free(&c->w);
    free(c->groups);
    free(c->score);
    free(c->seq_adv);
    free(c->seq_kl);
}

rlaif_status ps_begin(ps_core *c, ps_step *s, const rlaif_opt_models *m,
                      const rlaif_opt_batch *b, int train, int use_ref, const char *who,
                      char *err, size_t errlen)
{
    size_t n = b->seqs.n;
    if (!b->rewards)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "%s: batch.rewards is required", who);
    rlaif_status st;
    if ((st = or_need_model(&m->policy, "policy", train, who, err, errlen))) return st;
    if (use_ref && (st = or_need_model(&m->reference, "reference", 0, who, err, errlen)))
        return st;
    if ((st = pg_groups(b, c->group_size, &c->groups, &c->cap_groups, &s->grp, who, err, errlen)))
        return st;
    if ((st = or_layout_build(&s->l, &b->seqs, 0, who, err, errlen))) return st;
    size_t T = s->l.total;
    s->step_no = c->steps + 1;
    if ((st = or_reserve((void **)&c->score, &c->cap_score, n, sizeof(float), who, err, errlen)) ||
        (st = or_reserve((void **)&c->seq_adv, &c->cap_adv, n, sizeof(float), who, err, errlen)) ||
        (st = or_reserve((void **)&c->seq_kl, &c->cap_kl, n, sizeof(float), who, err, errlen)) ||
        (st = pg_rollout(&c->w, m, &b->seqs, &s->l, or_batch_temperature(b), PG_VALUES_NONE,
                         use_ref, who, err, errlen)) ||
        (st = or_check_finite(c->w.old_lp, T, s->step_no, "policy logprobs", who, err, errlen)))
        or_layout_free(&s->l);
    return st;
}

void ps_spread(ps_core *c, const ps_step *s, const rlaif_opt_batch *b)
{
    for (size_t i = 0; i < b->seqs.n; i++)
        for (size_t t = 0; t < b->seqs.len[i]; t++) c->w.adv[s->l.off[i] + t] = c->seq_adv[i];
}

void ps_summarise(const ps_step *s, const rlaif_opt_batch *b, ps_summary *out)
{
    size_t n = b->seqs.n;
    double len_sum = 0, no_stop = 0, rmean = 0, rsq = 0;
    for (size_t i = 0; i < n; i++) {
        len_sum += (double)s->l.count[i];
        no_stop += b->finished && !b->finished[i];
        rmean += b->rewards[i] / (double)n;
        rsq += (double)b->rewards[i] * b->rewards[i] / (double)n;
    }
    out->reward_mean = rmean;
    out->reward_std = sqrt(fmax(rsq - rmean * rmean, 0));
    out->response_length = len_sum / (double)n;
    out->no_stop_frac = no_stop / (double)n;
}

rlaif_status ps_update(ps_core *c, ps_step *s, const rlaif_opt_models *m,
                       const rlaif_opt_batch *b, int train, const char *who, char *err,
                       size_t errlen)
{
    rlaif_status st =
        or_check_finite(c->w.adv, s->l.total, s->step_no, "advantages", who, err, errlen);
    if (st || !train) return st;
    st = pg_update(&c->w, &c->pg, m, &b->seqs, &s->l, or_batch_temperature(b), PG_VALUES_NONE,
                   &c->updates, s->step_no, &c->stats, who, err, errlen);
    if (!st) c->steps++;
    return st;
}

void ps_state_get(const ps_core *c, char *buf, size_t len, const char *extra_key, double extra)
{
    if (extra_key)
        snprintf(buf, len, "{\"steps\": %llu, \"updates\": %llu, \"%s\": %.17g}",
                 (unsigned long long)c->steps, (unsigned long long)c->updates, extra_key, extra);
    else
        snprintf(buf, len, "{\"steps\": %llu, \"updates\": %llu}", (unsigned long long)c->steps,
                 (unsigned long long)c->updates);
}

rlaif_status ps_state_set(ps_core *c, const char *json, const char *who, const char *extra_key,
                          double *extra, char *err, size_t errlen)
{
    pconfig p;
    if (pconfig_open(&p, who, json, err, errlen)) return pconfig_close(&p);
    const char *const keys[] = {"steps", "updates", extra_key, NULL};
    int64_t steps = pconfig_int(&p, "steps", 0, 0, INT64_MAX);
    int64_t updates = pconfig_int(&p, "updates", 0, 0, INT64_MAX);
    double x = extra_key ? pconfig_number(&p, extra_key, *extra, 0, 1e9) : 0;
    pconfig_no_other_keys(&p, keys);
    rlaif_status st = pconfig_close(&p);
    if (st) return st;
    c->steps = (uint64_t)steps;
    c->updates = (uint64_t)updates;
    if (extra_key) *extra = x;
    return RLAIF_OK;
}
