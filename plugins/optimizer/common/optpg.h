/*
 * optpg.h — the policy-gradient update shared by PPO, GRPO and RLOO.
 *
 * The three differ in how they turn rewards into per-token advantages;
 * the rest is common and lives here:
 *   pg_rollout  scores the batch once before any update: the "old"
 *               logprobs (current policy, at the sampling temperature),
 *               the reference logprobs and the old values;
 *   pg_update   epochs x shuffled minibatches of the clipped surrogate,
 *               with optional k-estimator KL in the loss, entropy bonus and
 *               clipped value loss, the ratio guard and the NaN guard.
 * Prefix `pg_`.
 */
#ifndef RLAIF_OPTPG_H
#define RLAIF_OPTPG_H

#include "optrun.h"

/* Where values come from. */
enum { PG_VALUES_NONE = 0, PG_VALUES_POLICY = 1, PG_VALUES_MODEL = 2 };

typedef struct pg_cfg {
    or_adam adam;
    int64_t epochs;          /* passes over the batch */
    int64_t minibatch_size;  /* sequences per update (0: the whole batch) */
    double clip_low, clip_high;  /* ratio clipped to [1-clip_low, 1+clip_high] */
    double ratio_bound;      /* skip a minibatch whose ratio leaves [1/b, b] (0: off) */
    double max_approx_kl;    /* stop this step's updates once approx-KL exceeds it (0: off) */
    double entropy_coef;     /* loss -= entropy_coef · mean entropy */
    double kl_loss_coef;     /* loss += β · KL estimator vs the reference (GRPO) */
    om_kl_kind kl_loss_kind;
    om_agg agg;              /* how per-token policy losses are averaged */
    double vf_coef, vf_clip; /* value loss weight and clip range (0: no clip) */
    uint64_t seed;           /* minibatch shuffling */
} pg_cfg;

/* Config keys read by pg_cfg_read (for the plugin's list of known keys). */
#define PG_KEYS                                                                       \
    OR_ADAM_KEYS, "epochs", "minibatch_size", "clip_low", "clip_high", "ratio_bound", \
        "max_approx_kl", "entropy_coef", "aggregation", "seed"

/* Reads PG_KEYS with the given defaults for clipping and aggregation. */
void pg_cfg_read(pconfig *c, pg_cfg *g, double default_lr, double default_clip,
                 const char *default_agg);

/* Scratch reused across steps (grown, never shrunk). */
typedef struct pg_work {
    /* batch-flat */
    float *old_lp, *ref_lp, *old_val, *adv, *ret;
    size_t cap_full;
    /* minibatch-flat */
    float *lp, *ent, *val, *g_lp, *g_ent, *g_val, *w, *s_old, *s_ref, *s_adv, *s_ret, *s_oldv;
    uint8_t *s_mask;
    size_t cap_sub;
    size_t *order;
    size_t cap_order;
    or_sub sub;
} pg_work;

void pg_work_free(pg_work *w);

/* Fills w->old_lp (and w->old_val when value_mode, w->ref_lp when
 * want_ref) for the whole batch; no activations are kept. */
rlaif_status pg_rollout(pg_work *w, const rlaif_opt_models *m, const rlaif_seqs *s,
                        const or_layout *l, float temperature, int value_mode, int want_ref,
                        const char *who, char *err, size_t errlen);

/* Runs the update with advantages in w->adv (and returns in w->ret when
 * value_mode).  *updates counts model updates (for the lr schedule);
 * `step_no` names the optimizer step in error messages.  Adds to `st`:
 * policy_loss, entropy, approx_kl, clip_frac, ratio_max, grad_norm, lr,
 * minibatches, skipped_minibatches, early_stopped, and with values
 * value_loss, value_clip_frac; with kl_loss_coef, kl_loss. */
rlaif_status pg_update(pg_work *w, const pg_cfg *c, const rlaif_opt_models *m,
                       const rlaif_seqs *s, const or_layout *l, float temperature, int value_mode,
                       uint64_t *updates, uint64_t step_no, or_stats *st, const char *who,
                       char *err, size_t errlen);

/* ===== pieces of the three algorithms' reward handling ================= */

/* Per-token KL of the old policy to the reference with estimator k, over
 * the actions (tok_kl, flat; entries outside the mask set to 0; may be
 * NULL), and its sum per sequence (seq_kl[n]).  Needs w->old_lp, w->ref_lp. */
void pg_kl(const pg_work *w, const or_layout *l, om_kl_kind k, float *tok_kl, float *seq_kl);

/* The score of sample i: rewards[i], clipped to [-clip, clip] when clip > 0,
 * minus no_stop_penalty when batch.finished says it never stopped. */
double pg_score(const rlaif_opt_batch *b, size_t i, double clip, double no_stop_penalty);

/* Σ of batch.token_rewards over sample i's actions (0 without them): GRPO
 * and RLOO fold per-token rewards into the sequence reward. */
double pg_token_reward_sum(const rlaif_opt_batch *b, const or_layout *l, size_t i);

/* The group of each sample: batch.group when given, else i / group_size
 * (group_size > 0 and dividing n), else an error naming both. */
rlaif_status pg_groups(const rlaif_opt_batch *b, int64_t group_size, uint32_t **buf, size_t *cap,
                       const uint32_t **out, const char *who, char *err, size_t errlen);

/* The KL estimator named by a config key ("k1", "k2", "k3"). */
om_kl_kind pg_kl_kind(pconfig *c, const char *key, const char *def);

#endif
