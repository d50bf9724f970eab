/*
 * test_e2e.c — every algorithm end to end on the bigram model, driven
 * through the vtables the way the host drives them: generate -> reward ->
 * optimizer step, models given as rlaif_opt_models made by the core.
 *
 * The task: a computed reward of +1 per byte 'a' in a 16-token response.
 * The starting policy stands for an SFT model: it writes mostly the nine
 * bytes "abcdefgh " (logit 6 over 0 for every other token, so each has
 * p = 0.104 and the rest share 0.06; expected reward 1.66).  The reference
 * is a frozen copy of it.  Held-out prompts are never trained on.  Figures
 * are printed to stderr for the record.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigram.h"
#include "rollout.h"

static const char *const train_prompts[8] = {"Tell me", "Write: ", "story>", "Q1?",
                                             "go on",   "hello",   "[x]",    "abc "};
static const char *const heldout_prompts[6] = {"Say it", "new one", "Zz", "42", "why?", "ok!"};
#define MAX_NEW 16

/* The starting policy described above. */
static void make_sft_like(rlc_instance *policy)
{
    bigram *m = rlc_instance_self(policy);
    const char *alphabet = "abcdefgh ";
    for (int r = 0; r < BIGRAM_V; r++)
        for (const char *c = alphabet; *c; c++)
            m->params[BIGRAM_OFF_W + (size_t)r * BIGRAM_V + (unsigned char)*c] = 6.0f;
}

typedef struct rl_result {
    double reward0, kl0, reward1, kl1;
    rlaif_stat last[64];   /* the last step's stats, copied (names are static) */
    size_t n_last;
} rl_result;

static double last_stat(const rl_result *r, const char *name, int *found)
{
    for (size_t i = 0; i < r->n_last; i++)
        if (strcmp(r->last[i].name, name) == 0) {
            if (found) *found = 1;
            return r->last[i].value;
        }
    if (found) *found = 0;
    else ck_abort_msg("stat '%s' missing", name);
    return 0;
}

/* Runs `steps` iterations of an online algorithm and measures held-out
 * reward and KL before and after. */
static void run_online(const char *algo, const char *config, int value_head, int steps,
                       int with_reference, rl_result *res)
{
    rlc_instance *policy = th_create(RLAIF_KIND_MODEL, "bigram",
                                     value_head ? "{\"init_std\": 0, \"value_head\": true}"
                                                : "{\"init_std\": 0}");
    make_sft_like(policy);
    rlc_instance *ref = th_reference(policy);
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, algo, config);
    rlaif_opt_models models = ro_models(policy, with_reference ? ref : NULL, NULL);
    ro_measure(policy, ref, heldout_prompts, 6, 16, MAX_NEW, 999, ro_count_a, &res->reward0,
               &res->kl0);
    ro_batch r;
    ro_init(&r);
    char err[512];
    for (int s = 0; s < steps; s++) {
        double mean = ro_collect(&r, policy, train_prompts, 8, 8, 1.0f, MAX_NEW, 1000 + (uint64_t)s,
                                 ro_count_a);
        rlaif_opt_result out = {sizeof out, NULL, 0};
        rlaif_status st = th_ovt(opt)->step(rlc_instance_self(opt), &models, &r.batch, &out, err,
                                            sizeof err);
        ck_assert_msg(st == RLAIF_OK, "%s step %d: %s", algo, s, err);
        if (s % 10 == 0 || s == steps - 1)
            fprintf(stderr, "%s step %3d: train reward %.3f kl %.3f approx_kl %.4f clip %.3f\n",
                    algo, s, mean, th_has_stat(&out, "kl") ? th_stat(&out, "kl") : 0.0,
                    th_stat(&out, "approx_kl"), th_stat(&out, "clip_frac"));
        ck_assert(out.n_stats <= 64);
        memcpy(res->last, out.stats, out.n_stats * sizeof *out.stats);
        res->n_last = out.n_stats;
    }
    ro_measure(policy, ref, heldout_prompts, 6, 16, MAX_NEW, 999, ro_count_a, &res->reward1,
               &res->kl1);
    fprintf(stderr, "%s held-out: reward %.3f -> %.3f, KL %.3f -> %.3f\n", algo, res->reward0,
            res->reward1, res->kl0, res->kl1);
    ro_free(&r);
    rlc_instance_unref(opt);
    rlc_instance_unref(ref);
    rlc_instance_unref(policy);
}

START_TEST(ppo_raises_reward_within_kl)
{
    rl_result r;
    run_online("ppo",
               "{\"lr\": 0.05, \"epochs\": 2, \"minibatch_size\": 32, \"kl_coef\": 0.6,"
               " \"adaptive_kl\": true, \"kl_target\": 6, \"kl_horizon\": 10000,"
               " \"vf_coef\": 0.5, \"lambda\": 0.95, \"max_grad_norm\": 0}",
               1, 60, 1, &r);
    ck_assert_msg(r.reward1 > r.reward0 + 1.5 && r.reward1 > 2 * r.reward0,
                  "reward %.3f -> %.3f", r.reward0, r.reward1);
    ck_assert_msg(r.kl1 < 6.0, "KL %.3f above the target 6", r.kl1);
    ck_assert(last_stat(&r, "explained_variance", NULL) > 0.0);
}
END_TEST

START_TEST(grpo_raises_reward_within_kl)
{
    rl_result r;
    run_online("grpo",
               "{\"lr\": 0.05, \"beta\": 0.4, \"epochs\": 2, \"minibatch_size\": 32, \"clip_low\": 0.2,"
               " \"clip_high\": 0.28, \"aggregation\": \"token_mean\", \"max_grad_norm\": 0}",
               0, 60, 1, &r);
    ck_assert_msg(r.reward1 > r.reward0 + 1.5 && r.reward1 > 2 * r.reward0,
                  "reward %.3f -> %.3f", r.reward0, r.reward1);
    ck_assert_msg(r.kl1 < 6.0, "KL %.3f above 6", r.kl1);
}
END_TEST

START_TEST(grpo_without_reference_when_beta_is_zero)
{
    rl_result r;
    run_online("grpo", "{\"lr\": 0.05, \"beta\": 0, \"max_grad_norm\": 0}", 0, 15, 0, &r);
    ck_assert_msg(r.reward1 > r.reward0 + 0.3, "reward %.3f -> %.3f", r.reward0, r.reward1);
    int found;
    last_stat(&r, "kl_loss", &found);
    ck_assert(!found);
}
END_TEST

START_TEST(rloo_raises_reward_within_kl)
{
    rl_result r;
    run_online("rloo",
               "{\"lr\": 0.05, \"kl_coef\": 0.8, \"adaptive_kl\": true, \"kl_target\": 6,"
               " \"kl_horizon\": 10000, \"max_grad_norm\": 0}",
               0, 60, 1, &r);
    ck_assert_msg(r.reward1 > r.reward0 + 1.5 && r.reward1 > 2 * r.reward0,
                  "reward %.3f -> %.3f", r.reward0, r.reward1);
    ck_assert_msg(r.kl1 < 6.0, "KL %.3f above the target 6", r.kl1);
}
END_TEST

static Suite *e2e_suite(void)
{
    Suite *s = suite_create("optimizer-e2e");
    TCase *t = tcase_create("online");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, ppo_raises_reward_within_kl);
    tcase_add_test(t, grpo_raises_reward_within_kl);
    tcase_add_test(t, grpo_without_reference_when_beta_is_zero);
    tcase_add_test(t, rloo_raises_reward_within_kl);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(e2e_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    rlc_shutdown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
