/*
 * rollout.h — the host's RL loop in miniature, for the end-to-end tests:
 * generate with the policy, score with a computed reward, pack the batch the
 * way the host will (rlaif_opt_batch), and measure held-out reward and KL.
 */
#ifndef RLAIF_TEST_OPT_ROLLOUT_H
#define RLAIF_TEST_OPT_ROLLOUT_H

#include "harness.h"

/* A computed reward of a response's token ids. */
typedef double (*ro_reward_fn)(const int32_t *ids, size_t n);

/* +1 per occurrence of byte 'a' in the response. */
double ro_count_a(const int32_t *ids, size_t n);

typedef struct ro_batch {
    th_batch seqs;
    float *rewards, *sample_lp;
    uint32_t *group;
    uint8_t *finished;
    size_t cap, cap_lp;
    rlaif_opt_batch batch;  /* filled by ro_collect */
} ro_batch;

void ro_init(ro_batch *r);
void ro_free(ro_batch *r);

/* Samples k responses for each prompt from `policy` (temperature T,
 * max_new tokens, seed) and fills r->batch; returns the mean reward. */
double ro_collect(ro_batch *r, rlc_instance *policy, const char *const *prompts, size_t n_prompts,
                  size_t k, float T, uint32_t max_new, uint64_t seed, ro_reward_fn fn);

/* Held-out measurement: mean reward of k samples per prompt at T = 1, and
 * the mean per-sequence KL(policy || reference) estimated as
 * Σ_t log π - log π_ref over those samples. */
void ro_measure(rlc_instance *policy, rlc_instance *reference, const char *const *prompts,
                size_t n_prompts, size_t k, uint32_t max_new, uint64_t seed, ro_reward_fn fn,
                double *reward, double *kl);

/* rlaif_opt_models for the given instances (NULL = absent). */
rlaif_opt_models ro_models(rlc_instance *policy, rlc_instance *reference, rlc_instance *value);

#endif
