/*
 * optrun.h — what every optimizer plugin needs around the math: the AdamW /
 * schedule config, the stats table, response masks, minibatch views of a
 * batch, model calls whose errors name the algorithm and role, and finite
 * checks.  Prefix `or_`.  Linked statically into each optimizer plugin.
 */
#ifndef RLAIF_OPTRUN_H
#define RLAIF_OPTRUN_H

#include <stddef.h>
#include <stdint.h>

#include "optmath.h"
#include "pconfig.h"
#include "rlaif/plugin.h"

/* ===== AdamW and the learning-rate schedule ============================== */

enum { OR_SCHED_CONSTANT = 0, OR_SCHED_LINEAR = 1, OR_SCHED_COSINE = 2 };

typedef struct or_adam {
    double lr, beta1, beta2, eps, weight_decay, max_grad_norm;
    int64_t warmup_steps;   /* linear warm-up from 0 over this many updates */
    int64_t total_steps;    /* decay horizon of linear/cosine (0: no decay) */
    int schedule;           /* OR_SCHED_* */
    double min_lr_ratio;    /* decay floor, as a fraction of lr */
} or_adam;

/* The config keys read by or_adam_read, for a plugin's list of known keys. */
#define OR_ADAM_KEYS                                                                   \
    "lr", "beta1", "beta2", "eps", "weight_decay", "max_grad_norm", "warmup_steps",    \
        "total_steps", "schedule", "min_lr_ratio"

void or_adam_read(pconfig *c, or_adam *a, double default_lr);

/* The learning rate of update number `step` (0-based count of updates
 * already made): warm-up ramps to lr over warmup_steps, then the schedule
 * decays towards lr·min_lr_ratio at total_steps. */
double or_lr_at(const or_adam *a, uint64_t step);

rlaif_step_params or_step_params(const or_adam *a, uint64_t step, float grad_scale);

/* ===== stats ============================================================= */

#define OR_MAX_STATS 48
typedef struct or_stats {
    rlaif_stat items[OR_MAX_STATS];
    size_t n;
} or_stats;

void or_stats_reset(or_stats *s);
/* Sets (or overwrites) a stat; `name` must be a string literal (static). */
void or_stats_set(or_stats *s, const char *name, double value);
double or_stats_get(const or_stats *s, const char *name);   /* NaN when absent */
void or_stats_out(const or_stats *s, rlaif_opt_result *out);

/* ===== layout of a batch ================================================= */

/* Flat offsets and the action mask of a batch: mask[off[b] + t] is 1 when
 * position t predicts a response token (t + 1 >= prompt_len, t + 1 < len),
 * i.e. when logprobs[off + t] is the log-probability of a response token.
 * With all_tokens, every position t < len - 1 counts (prompt too). */
typedef struct or_layout {
    size_t n, total;
    size_t *off;      /* [n] */
    size_t *first;    /* [n] first action position (prompt_len - 1, at least 0) */
    size_t *count;    /* [n] number of actions */
    uint8_t *mask;    /* [total] */
} or_layout;

rlaif_status or_layout_build(or_layout *l, const rlaif_seqs *s, int all_tokens, const char *who,
                             char *err, size_t errlen);
void or_layout_free(or_layout *l);

/* ===== minibatches ======================================================= */

/* A view of some sequences of a batch (by index), as a rlaif_seqs of its
 * own; flat per-token arrays of the view map to the batch's through
 * full_off[i] (the offset of the i-th chosen sequence in the batch). */
typedef struct or_sub {
    size_t n, total, cap;
    const int32_t **ids;
    size_t *len, *plen, *idx, *full_off, *sub_off;
    rlaif_seqs seqs;
} or_sub;

rlaif_status or_sub_make(or_sub *v, const rlaif_seqs *full, const or_layout *l,
                         const size_t *idx, size_t n, const char *who, char *err, size_t errlen);
void or_sub_free(or_sub *v);

/* Copies the view's entries of a batch-flat array into view-flat `dst`,
 * or scatters back. */
void or_sub_gather(const or_sub *v, float *dst, const float *full);
void or_sub_gather_u8(const or_sub *v, uint8_t *dst, const uint8_t *full);

/* A permutation of 0..n-1 from (seed, epoch) — minibatch order. */
void or_shuffle(size_t *idx, size_t n, uint64_t seed);

/* ===== growable scratch ================================================== */

/* Ensures *p holds at least n elements of `elem` bytes (contents kept).
 * Used for per-step buffers: they grow once and are reused. */
rlaif_status or_reserve(void **p, size_t *cap, size_t n, size_t elem, const char *who, char *err,
                        size_t errlen);

/* ===== models ============================================================ */

/* Checks a model reference is present and has what is needed; `role` is
 * "policy", "reference" or "value" for the message. */
rlaif_status or_need_model(const rlaif_ref *m, const char *role, int need_train, const char *who,
                           char *err, size_t errlen);

/* Model calls with the error prefixed "<who>: <role> <call>: ". */
rlaif_status or_forward(const rlaif_ref *m, const char *role, const rlaif_seqs *s, uint32_t want,
                        float temperature, rlaif_outputs *out, const char *who, char *err,
                        size_t errlen);
rlaif_status or_backward(const rlaif_ref *m, const char *role, const rlaif_outputs *g,
                         const char *who, char *err, size_t errlen);
rlaif_status or_model_step(const rlaif_ref *m, const char *role, const rlaif_step_params *p,
                           double *grad_norm, uint64_t opt_step, const char *who, char *err,
                           size_t errlen);
void or_zero_grad(const rlaif_ref *m);

/* ===== guards ============================================================ */

/* RLAIF_E_NUMERIC "<who>: step N: <what> is not finite (at index i)" when
 * any entry is NaN or Inf. */
rlaif_status or_check_finite(const float *x, size_t n, uint64_t step, const char *what,
                             const char *who, char *err, size_t errlen);
rlaif_status or_check_value(double v, uint64_t step, const char *what, const char *who, char *err,
                            size_t errlen);

/* The temperature of a batch (1 when unset or not positive). */
float or_batch_temperature(const rlaif_opt_batch *b);

#endif
