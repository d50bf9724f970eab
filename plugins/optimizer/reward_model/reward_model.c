/*
 * optimizer/reward_model — trains a model's score head on pairwise
 * preferences, hard or soft.
 *
 * Batch: sequences in pairs (2i, 2i+1) = (a, b), label[i] = p(a ≻ b)
 * (NULL: every label is 1, "a is chosen").  Models: policy (the reward
 * model; it needs a score head).
 *
 * Loss per pair, with d = r_a - r_b, p clamped to [label_min, label_max]
 * and margin m:
 *   L = -[ p·log σ(d - m) + (1-p)·log σ(-d - m) ]  + center_coef·(r_a + r_b)²
 * averaged over the pairs of the batch (one model update per step()).
 * dL/dr_a = -p·σ(m - d) + (1-p)·σ(d + m) + 2·center_coef·(r_a + r_b),
 * dL/dr_b likewise with the sign of the first part flipped.
 * With p = 1 and m = 0 this is Bradley–Terry, -log σ(r_chosen - r_rejected).
 *
 * Config keys:
 *   lr 1e-5 and the other AdamW / schedule keys (see optimizer/sft)
 *   minibatch_size 0     pairs per forward/backward (0 = all)
 *   margin 0             m above
 *   label_min 0, label_max 1   clamp of p (Constitutional AI: 0.4 / 0.6
 *                        for chain-of-thought labels)
 *   center_coef 0        pulls scores towards 0 (keeps the head centred)
 *   ece_bins 10          bins of the calibration error
 *
 * Stats: loss, accuracy (pairs whose preferred side scores higher; p = 1/2
 * left out), ece (expected calibration error of σ(r_a - r_b) against p),
 * margin (mean of r_pref - r_other), score_mean, score_std, grad_norm, lr.
 * evaluate() gives the same on held-out pairs without updating.
 * State: {"updates"}.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optpair.h"

#define WHO "optimizer/reward_model"

typedef struct rm {
    or_adam adam;
    int64_t minibatch_size, ece_bins;
    double margin, label_min, label_max, center_coef;
    uint64_t updates;
    or_stats stats;
    or_sub sub;
    float *score, *g, *ra, *rb, *p, *q;
    size_t cap_s, cap_g, cap_ra, cap_rb, cap_p, cap_q;
    size_t *idx;
    size_t cap_idx;
    char state[128];
} rm;

static rlaif_status rm_create(const rlaif_host *host, const char *config, void **out, char *err,
                              size_t errlen)
{
    (void)host;
    static const char *const keys[] = {OR_ADAM_KEYS, "minibatch_size", "margin", "label_min",
                                       "label_max", "center_coef", "ece_bins", NULL};
    pconfig c;
    if (pconfig_open(&c, WHO, config, err, errlen)) return pconfig_close(&c);
    rm r;
    memset(&r, 0, sizeof r);
    or_adam_read(&c, &r.adam, 1e-5);
    r.minibatch_size = pconfig_int(&c, "minibatch_size", 0, 0, INT64_MAX);
    r.margin = pconfig_number(&c, "margin", 0, 0, 1e6);
    r.label_min = pconfig_number(&c, "label_min", 0, 0, 1);
    r.label_max = pconfig_number(&c, "label_max", 1, 0, 1);
    r.center_coef = pconfig_number(&c, "center_coef", 0, 0, 1e6);
    r.ece_bins = pconfig_int(&c, "ece_bins", 10, 1, 1000);
    if (r.label_min > r.label_max)
        pconfig_fail(&c, "config key 'label_min' (%g) is above 'label_max' (%g)", r.label_min,
                     r.label_max);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st) return st;
    rm *self = malloc(sizeof *self);
    if (!self) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    *self = r;
    *out = self;
    return RLAIF_OK;
}

static void rm_destroy(void *vself)
{
    rm *r = vself;
    if (!r) return;
    or_sub_free(&r->sub);
    free(r->score);
    free(r->g);
    free(r->ra);
    free(r->rb);
    free(r->p);
    free(r->q);
    free(r->idx);
    free(r);
}

static rlaif_status check_pairs(const rlaif_opt_batch *b, char *err, size_t errlen)
{
    if (b->seqs.n == 0 || b->seqs.n % 2)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": the batch must hold pairs of sequences, got %zu sequences",
                            b->seqs.n);
    return op_check_labels(b, b->seqs.n / 2, WHO, err, errlen);
}

static rlaif_status reserve_all(rm *r, size_t pairs, char *err, size_t errlen)
{
    rlaif_status st;
    if ((st = or_reserve((void **)&r->score, &r->cap_s, 2 * pairs, sizeof(float), WHO, err,
                         errlen)) ||
        (st = or_reserve((void **)&r->g, &r->cap_g, 2 * pairs, sizeof(float), WHO, err, errlen)) ||
        (st = or_reserve((void **)&r->ra, &r->cap_ra, pairs, sizeof(float), WHO, err, errlen)) ||
        (st = or_reserve((void **)&r->rb, &r->cap_rb, pairs, sizeof(float), WHO, err, errlen)) ||
        (st = or_reserve((void **)&r->p, &r->cap_p, pairs, sizeof(float), WHO, err, errlen)) ||
        (st = or_reserve((void **)&r->q, &r->cap_q, pairs, sizeof(float), WHO, err, errlen)) ||
        (st = or_reserve((void **)&r->idx, &r->cap_idx, 2 * pairs, sizeof(size_t), WHO, err,
                         errlen)))
        return st;
    return RLAIF_OK;
}

static rlaif_status rm_run(rm *r, const rlaif_opt_models *m, const rlaif_opt_batch *b, int train,
                           rlaif_opt_result *out, char *err, size_t errlen)
{
    rlaif_status st = or_need_model(&m->policy, "policy", train, WHO, err, errlen);
    if (st || (st = check_pairs(b, err, errlen))) return st;
    size_t pairs = b->seqs.n / 2;
    if ((st = reserve_all(r, pairs, err, errlen))) return st;
    or_layout l;
    if ((st = or_layout_build(&l, &b->seqs, 0, WHO, err, errlen))) return st;
    for (size_t i = 0; i < 2 * pairs; i++) r->idx[i] = i;
    size_t mb = op_minibatch(r->minibatch_size, pairs);
    uint64_t step_no = r->updates + 1;
    double loss = 0;
    for (size_t k = 0; k < pairs && !st; k += mb) {
        size_t np = pairs - k < mb ? pairs - k : mb;
        if ((st = or_sub_make(&r->sub, &b->seqs, &l, r->idx + 2 * k, 2 * np, WHO, err, errlen)))
            break;
        rlaif_outputs o;
        memset(&o, 0, sizeof o);
        o.score = r->score;
        uint32_t want = RLAIF_OUT_SCORE | (train ? RLAIF_OUT_KEEP : 0);
        if ((st = or_forward(&m->policy, "policy", &r->sub.seqs, want, 1.0f, &o, WHO, err,
                             errlen)))
            break;
        for (size_t i = 0; i < np; i++) {
            size_t pi = k + i;
            double ra = r->score[2 * i], rb = r->score[2 * i + 1];
            double p = om_clamp_label(b->label ? b->label[pi] : 1.0, r->label_min, r->label_max);
            double ga, gb;
            double li = om_pair_loss(ra, rb, p, r->margin, &ga, &gb);
            double c = r->center_coef;
            li += c * (ra + rb) * (ra + rb);
            ga += 2 * c * (ra + rb);
            gb += 2 * c * (ra + rb);
            loss += li / (double)pairs;
            r->g[2 * i] = (float)(ga / (double)pairs);
            r->g[2 * i + 1] = (float)(gb / (double)pairs);
            r->ra[pi] = (float)ra;
            r->rb[pi] = (float)rb;
            r->p[pi] = (float)p;
            r->q[pi] = (float)om_sigmoid(ra - rb);
        }
        if ((st = or_check_value(loss, step_no, "reward-model loss", WHO, err, errlen)) ||
            (st = or_check_finite(r->g, 2 * np, step_no, "score gradient", WHO, err, errlen)))
            break;
        if (!train) continue;
        rlaif_outputs g;
        memset(&g, 0, sizeof g);
        g.struct_size = sizeof g;
        g.score = r->g;
        st = or_backward(&m->policy, "policy", &g, WHO, err, errlen);
    }
    or_layout_free(&l);
    double gn, lr;
    if ((st = op_finish(&r->adam, &m->policy, train, st, &r->updates, &gn, &lr, WHO, err, errlen)))
        return st;
    double margin = 0, smean = 0, ssq = 0;
    for (size_t i = 0; i < pairs; i++) {
        double d = (double)r->ra[i] - r->rb[i];
        margin += (r->p[i] >= 0.5f ? d : -d) / (double)pairs;
        smean += ((double)r->ra[i] + r->rb[i]) / (2.0 * (double)pairs);
        ssq += ((double)r->ra[i] * r->ra[i] + (double)r->rb[i] * r->rb[i]) / (2.0 * (double)pairs);
    }
    double acc = om_pair_accuracy(r->ra, r->rb, r->p, pairs);
    or_stats_reset(&r->stats);
    or_stats_set(&r->stats, "loss", loss);
    or_stats_set(&r->stats, "accuracy", isnan(acc) ? 0.5 : acc);
    or_stats_set(&r->stats, "ece", om_ece(r->q, r->p, pairs, (size_t)r->ece_bins));
    or_stats_set(&r->stats, "margin", margin);
    or_stats_set(&r->stats, "score_mean", smean);
    or_stats_set(&r->stats, "score_std", sqrt(fmax(ssq - smean * smean, 0)));
    or_stats_set(&r->stats, "pairs", (double)pairs);
    op_stats_update(&r->stats, train, gn, lr);
    or_stats_out(&r->stats, out);
    return RLAIF_OK;
}

static rlaif_status rm_step(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                            rlaif_opt_result *out, char *err, size_t errlen)
{
    return rm_run(self, m, b, 1, out, err, errlen);
}

static rlaif_status rm_evaluate(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                                rlaif_opt_result *out, char *err, size_t errlen)
{
    return rm_run(self, m, b, 0, out, err, errlen);
}

static rlaif_status rm_get_state(void *self, const char **json)
{
    rm *r = self;
    op_state_get(r->state, sizeof r->state, r->updates);
    *json = r->state;
    return RLAIF_OK;
}

static rlaif_status rm_set_state(void *self, const char *json, char *err, size_t errlen)
{
    rm *r = self;
    return op_state_set(json, WHO " state", &r->updates, err, errlen);
}

static const rlaif_optimizer_vtable rm_vtable = {
    .base = {.struct_size = sizeof(rlaif_optimizer_vtable),
             .create = rm_create,
             .destroy = rm_destroy},
    .step = rm_step,
    .get_state = rm_get_state,
    .set_state = rm_set_state,
    .evaluate = rm_evaluate,
};

static const rlaif_plugin_info rm_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_OPTIMIZER,
    .name = "reward_model",
    .version = "1.0.0",
    .description = "reward model on pairwise preferences: soft-label Bradley-Terry, margin, clamp",
    .caps = RLAIF_CAP_SAVE | RLAIF_CAP_OPTIMIZER_OFFLINE,
    .vtable = &rm_vtable,
};

RLAIF_PLUGIN(&rm_info)
