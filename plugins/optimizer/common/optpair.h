/*
 * optpair.h — what the pairwise offline algorithms (DPO, the reward model)
 * share around their losses: both take a batch of sequence pairs with
 * soft labels, walk it in minibatches of pairs accumulating gradients, and
 * make one model update per step; their state is the update count.
 * Prefix `op_`.
 */
#ifndef RLAIF_OPTPAIR_H
#define RLAIF_OPTPAIR_H

#include "optrun.h"

/* batch.label[i] (when given) must be a probability in [0, 1] for each of
 * the batch's pairs. */
rlaif_status op_check_labels(const rlaif_opt_batch *b, size_t pairs, const char *who, char *err,
                             size_t errlen);

/* Pairs per forward/backward: minibatch_size when in (0, pairs), else all. */
size_t op_minibatch(int64_t minibatch_size, size_t pairs);

/* Ends a step whose gradients (if train) are accumulated in the policy:
 * with st == RLAIF_OK and train, one AdamW step at the schedule's rate
 * (counted in *updates).  *grad_norm and *lr get what the stats report
 * (lr: the rate of this update).  On any error (st or the step's) the
 * accumulated gradients are dropped and the error returned. */
rlaif_status op_finish(const or_adam *a, const rlaif_ref *policy, int train, rlaif_status st,
                       uint64_t *updates, double *grad_norm, double *lr, const char *who,
                       char *err, size_t errlen);

/* Adds grad_norm and lr to the stats of a training step. */
void op_stats_update(or_stats *s, int train, double grad_norm, double lr);

/* The state {"updates": N} into buf, and back (`who` names it in messages,
 * e.g. "optimizer/dpo state"; nothing changes on error). */
void op_state_get(char *buf, size_t len, uint64_t updates);
rlaif_status op_state_set(const char *json, const char *who, uint64_t *updates, char *err,
                          size_t errlen);

#endif
