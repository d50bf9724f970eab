/* optpair.c — see optpair.h. */
#include "optpair.h"

#include <stdio.h>

rlaif_status op_check_labels(const rlaif_opt_batch *b, size_t pairs, const char *who, char *err,
                             size_t errlen)
{
    if (b->label)
        for (size_t i = 0; i < pairs; i++)
            if (!(b->label[i] >= 0 && b->label[i] <= 1))
                return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                    "%s: label[%zu] = %g is not a probability in [0, 1]", who, i,
                                    (double)b->label[i]);
    return RLAIF_OK;
}

size_t op_minibatch(int64_t minibatch_size, size_t pairs)
{
    return minibatch_size > 0 && (size_t)minibatch_size < pairs ? (size_t)minibatch_size : pairs;
}

rlaif_status op_finish(const or_adam *a, const rlaif_ref *policy, int train, rlaif_status st,
                       uint64_t *updates, double *grad_norm, double *lr, const char *who,
                       char *err, size_t errlen)
{
    uint64_t step_no = *updates + 1;
    *grad_norm = 0;
    *lr = or_lr_at(a, *updates);
    if (!st && train) {
        rlaif_step_params p = or_step_params(a, *updates, 1.0f);
        st = or_model_step(policy, "policy", &p, grad_norm, step_no, who, err, errlen);
        if (!st) (*updates)++;
    }
    if (st && train) or_zero_grad(policy);
    return st;
}

void op_stats_update(or_stats *s, int train, double grad_norm, double lr)
{
    if (!train) return;
    or_stats_set(s, "grad_norm", grad_norm);
    or_stats_set(s, "lr", lr);
}

void op_state_get(char *buf, size_t len, uint64_t updates)
{
    snprintf(buf, len, "{\"updates\": %llu}", (unsigned long long)updates);
}

rlaif_status op_state_set(const char *json, const char *who, uint64_t *updates, char *err,
                          size_t errlen)
{
    pconfig c;
    if (pconfig_open(&c, who, json, err, errlen)) return pconfig_close(&c);
    static const char *const keys[] = {"updates", NULL};
    int64_t n = pconfig_int(&c, "updates", 0, 0, INT64_MAX);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (!st) *updates = (uint64_t)n;
    return st;
}
