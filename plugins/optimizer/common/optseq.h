/*
 * optseq.h — the step of the sequence-advantage algorithms, GRPO and RLOO.
 *
 * Both score each sample as one number, turn the numbers of a group of
 * samples (of one prompt) into one advantage per sample, put that
 * advantage on every token of the sample and run the clipped update of
 * optpg.h.  They differ only in the middle (how the numbers and the
 * advantages are made, and what they report), so the rest lives here:
 *   ps_begin   checks the batch and models, groups the samples, lays the
 *              batch out, reserves the per-sample scratch and scores the
 *              batch once (pg_rollout);
 *   ps_spread  puts the per-sample advantages on the tokens;
 *   ps_update  checks the advantages and runs the update;
 * and the counters of the state, {"steps", "updates"} (plus one number
 * of the algorithm's own, e.g. RLOO's kl_coef).  Prefix `ps_`.
 */
#ifndef RLAIF_OPTSEQ_H
#define RLAIF_OPTSEQ_H

#include "optpg.h"

/* What the two algorithms keep alike (embedded in each). */
typedef struct ps_core {
    pg_cfg pg;
    int64_t group_size;         /* consecutive groups when the batch has no group labels */
    double no_stop_penalty;     /* subtracted from the score of a sample that never stopped */
    uint64_t steps, updates;
    pg_work w;
    uint32_t *groups;
    size_t cap_groups;
    float *score, *seq_adv, *seq_kl;   /* per sample */
    size_t cap_score, cap_adv, cap_kl;
    or_stats stats;
} ps_core;

void ps_core_free(ps_core *c);

/* One step's view of the batch. */
typedef struct ps_step {
    or_layout l;
    const uint32_t *grp;   /* the group of each sample */
    uint64_t step_no;      /* the step this would be (for messages) */
} ps_step;

/* Requires batch.rewards, the policy (trainable when `train`) and, when
 * use_ref, the reference; fills s, reserves c->score, c->seq_adv and
 * c->seq_kl for the batch, and runs pg_rollout (old logprobs checked
 * finite).  On error nothing is left to free. */
rlaif_status ps_begin(ps_core *c, ps_step *s, const rlaif_opt_models *m,
                      const rlaif_opt_batch *b, int train, int use_ref, const char *who,
                      char *err, size_t errlen);

/* The advantage of sample i (c->seq_adv[i]) on each of its tokens. */
void ps_spread(ps_core *c, const ps_step *s, const rlaif_opt_batch *b);

/* The batch's reward_mean and reward_std (of batch.rewards as given), the
 * mean response length and the fraction of samples that never stopped. */
typedef struct ps_summary {
    double reward_mean, reward_std, response_length, no_stop_frac;
} ps_summary;
void ps_summarise(const ps_step *s, const rlaif_opt_batch *b, ps_summary *out);

/* Checks the advantages, then when `train` runs pg_update and counts the
 * step.  Frees nothing: the caller ends with or_layout_free(&s->l). */
rlaif_status ps_update(ps_core *c, ps_step *s, const rlaif_opt_models *m,
                       const rlaif_opt_batch *b, int train, const char *who, char *err,
                       size_t errlen);

/* The state {"steps": N, "updates": M} (plus "<extra_key>": extra when
 * extra_key is not NULL) into buf. */
void ps_state_get(const ps_core *c, char *buf, size_t len, const char *extra_key, double extra);

/* Reads that state back (`who` names it in messages, e.g. "optimizer/grpo
 * state"); *extra (a number in [0, 1e9], kept when absent) only with
 * extra_key.  Nothing changes on error. */
rlaif_status ps_state_set(ps_core *c, const char *json, const char *who, const char *extra_key,
                          double *extra, char *err, size_t errlen);

#endif
