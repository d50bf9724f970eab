/*
 * test_wiring.c — each optimizer plugin hands the model the true gradient
 * of its own loss.  A spy model (defined here) whose per-token outputs are
 * free numbers stands in for the policy: the outputs of forward() calls
 * that keep activations (the ones the update differentiates) can be
 * perturbed, and backward() records the gradients it receives.  Central
 * finite differences of the loss the plugin reports must then equal the
 * recorded gradient, for every output kind each algorithm uses
 * (log-probabilities, entropies, values, scores).  The spy's step() does
 * nothing, so every call sees the same model.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ===== the spy model ===================================================== */

enum { NSEQ = 4, MAXT = 64 };

typedef struct spy {
    const int32_t *seq_ids[NSEQ]; /* identity of the batch's sequences */
    size_t off[NSEQ], len[NSEQ], total;
    float lp[MAXT], ent[MAXT], val[MAXT], score[NSEQ];          /* base outputs */
    float d_lp[MAXT], d_ent[MAXT], d_val[MAXT], d_score[NSEQ];  /* added when kept */
    float g_lp[MAXT], g_ent[MAXT], g_val[MAXT], g_score[NSEQ];  /* received, summed */
    size_t kept_map[NSEQ], kept_n;
    float grad_scale;
    int steps;
} spy;

static size_t spy_find(const spy *s, const int32_t *ids)
{
    for (size_t j = 0; j < NSEQ; j++)
        if (s->seq_ids[j] == ids) return j;
    ck_abort_msg("spy: unknown sequence");
    return 0;
}

static rlaif_status spy_forward(void *self, const rlaif_seqs *seqs, uint32_t want, float temp,
                                rlaif_outputs *out, char *err, size_t errlen)
{
    spy *s = self;
    int keep = (want & RLAIF_OUT_KEEP) != 0;
    size_t o = 0;
    for (size_t b = 0; b < seqs->n; b++) {
        size_t j = spy_find(s, seqs->ids[b]);
        if (keep) s->kept_map[b] = j;
        for (size_t t = 0; t < seqs->len[b]; t++) {
            size_t k = s->off[j] + t;
            if ((want & RLAIF_OUT_LOGPROBS) && out->logprobs)
                out->logprobs[o + t] = s->lp[k] + (keep ? s->d_lp[k] : 0);
            if ((want & RLAIF_OUT_ENTROPY) && out->entropy)
                out->entropy[o + t] = s->ent[k] + (keep ? s->d_ent[k] : 0);
            if ((want & RLAIF_OUT_VALUES) && out->values)
                out->values[o + t] = s->val[k] + (keep ? s->d_val[k] : 0);
        }
        if ((want & RLAIF_OUT_SCORE) && out->score)
            out->score[b] = s->score[j] + (keep ? s->d_score[j] : 0);
        o += seqs->len[b];
    }
    if (keep) s->kept_n = seqs->n;
    return RLAIF_OK;
}

static rlaif_status spy_backward(void *self, const rlaif_outputs *g, char *err, size_t errlen)
{
    spy *s = self;
    size_t o = 0;
    for (size_t b = 0; b < s->kept_n; b++) {
        size_t j = s->kept_map[b];
        for (size_t t = 0; t < s->len[j]; t++) {
            size_t k = s->off[j] + t;
            if (g->logprobs) s->g_lp[k] += g->logprobs[o + t];
            if (g->entropy) s->g_ent[k] += g->entropy[o + t];
            if (g->values) s->g_val[k] += g->values[o + t];
        }
        if (g->score) s->g_score[j] += g->score[b];
        o += s->len[j];
    }
    return RLAIF_OK;
}

static rlaif_status spy_step(void *self, const rlaif_step_params *p, rlaif_step_result *out,
                             char *err, size_t errlen)
{
    spy *s = self;
    s->grad_scale = p->grad_scale;
    s->steps++;
    return RLAIF_OK;
}

static void spy_zero_grad(void *self)
{
    spy *s = self;
    memset(s->g_lp, 0, sizeof s->g_lp);
    memset(s->g_ent, 0, sizeof s->g_ent);
    memset(s->g_val, 0, sizeof s->g_val);
    memset(s->g_score, 0, sizeof s->g_score);
}

static const rlaif_model_vtable spy_vtable = {
    .base = {.struct_size = sizeof(rlaif_model_vtable)},
    .forward = spy_forward,
    .backward = spy_backward,
    .step = spy_step,
    .zero_grad = spy_zero_grad,
};

static rlaif_ref spy_ref(spy *s)
{
    rlaif_ref r = {sizeof r, RLAIF_KIND_MODEL, 0, &spy_vtable, s};
    return r;
}

/* ===== a small batch ===================================================== */

static int32_t seq_data[NSEQ][16];
static const int32_t *seq_ptr[NSEQ];
static size_t seq_len[NSEQ] = {7, 5, 8, 6}, seq_plen[NSEQ] = {2, 3, 2, 1};
static float rewards[NSEQ] = {1.0f, 0.0f, 2.0f, -1.0f};
static uint32_t groups[NSEQ] = {0, 0, 1, 1};
static float labels[NSEQ / 2] = {0.8f, 0.3f};

static uint64_t rs = 0x12345678abcdefull;
static float urand(float lo, float hi)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((rs >> 40) & 0xFFFFFF) / 16777216.0f;
}

static void spy_init(spy *s, int perturb)
{
    memset(s, 0, sizeof *s);
    size_t off = 0;
    for (size_t b = 0; b < NSEQ; b++) {
        seq_ptr[b] = seq_data[b];
        for (size_t t = 0; t < seq_len[b]; t++) seq_data[b][t] = (int32_t)(t * 7 + b) % 50;
        s->seq_ids[b] = seq_ptr[b];
        s->off[b] = off;
        s->len[b] = seq_len[b];
        off += seq_len[b];
    }
    s->total = off;
    for (size_t k = 0; k < off; k++) {
        s->lp[k] = urand(-3.0f, -0.5f);
        s->ent[k] = urand(1.0f, 3.0f);
        s->val[k] = urand(-1.0f, 1.0f);
        /* Shifts of the kept forward: ratios both inside and outside the
         * clip range, away from its kinks (log 0.8, log 1.2). */
        static const float shifts[4] = {-0.5f, -0.05f, 0.05f, 0.5f};
        if (perturb) {
            s->d_lp[k] = shifts[k % 4];
            s->d_val[k] = shifts[(k + 1) % 4];
        }
    }
    for (size_t b = 0; b < NSEQ; b++) s->score[b] = urand(-1.0f, 1.0f);
}

static rlaif_opt_batch make_batch(void)
{
    rlaif_opt_batch b;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    b.seqs = (rlaif_seqs){sizeof(rlaif_seqs), NSEQ, seq_ptr, seq_len, seq_plen};
    b.rewards = rewards;
    b.group = groups;
    b.label = labels;
    b.temperature = 1.0f;
    return b;
}

/* ===== the check ========================================================= */

typedef enum { OUT_LP, OUT_ENT, OUT_VAL, OUT_SCORE } out_kind;

/* Runs one step and returns the named loss stat. */
static double loss_at(rlc_instance *opt, rlaif_opt_models *m, spy *pol, const char *stat)
{
    rlaif_opt_batch b = make_batch();
    rlaif_opt_result out = {sizeof out, NULL, 0};
    char err[512];
    spy_zero_grad(pol);
    rlaif_status st = th_ovt(opt)->step(rlc_instance_self(opt), m, &b, &out, err, sizeof err);
    ck_assert_msg(st == RLAIF_OK, "%s", err);
    return th_stat(&out, stat);
}

static float *slot(spy *s, out_kind k, float **grad)
{
    switch (k) {
    case OUT_LP: *grad = s->g_lp; return s->d_lp;
    case OUT_ENT: *grad = s->g_ent; return s->d_ent;
    case OUT_VAL: *grad = s->g_val; return s->d_val;
    case OUT_SCORE: *grad = s->g_score; return s->d_score;
    }
    return NULL;
}

/* Compares the recorded gradient of output kind `k` (times the step's
 * grad_scale) with finite differences of the stat `stat`. */
static void check_wiring(const char *algo, const char *config, int perturb, int with_ref,
                         const char *stat, out_kind k)
{
    spy pol, ref;
    spy_init(&pol, perturb);
    spy_init(&ref, 0);
    for (size_t i = 0; i < ref.total; i++) ref.lp[i] += urand(-0.3f, 0.3f);
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, algo, config);
    rlaif_opt_models m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    m.policy = spy_ref(&pol);
    if (with_ref) m.reference = spy_ref(&ref);
    loss_at(opt, &m, &pol, stat);
    float *grad = NULL;
    float *d = slot(&pol, k, &grad);
    size_t n = k == OUT_SCORE ? NSEQ : pol.total;
    float g[MAXT];
    for (size_t i = 0; i < n; i++) g[i] = grad[i] * pol.grad_scale;
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        const float h = 1e-2f;
        float keep = d[i];
        d[i] = keep + h;
        double lp = loss_at(opt, &m, &pol, stat);
        d[i] = keep - h;
        double lm = loss_at(opt, &m, &pol, stat);
        d[i] = keep;
        double fd = (lp - lm) / (2.0 * h);
        nonzero += fabs(g[i]) > 1e-6;
        ck_assert_msg(fabs(fd - g[i]) <= 2e-4 + 2e-2 * fabs(g[i]),
                      "%s %s output %d index %zu: finite difference %.6f, gradient given %.6f",
                      algo, stat, (int)k, i, fd, g[i]);
    }
    ck_assert_msg(nonzero >= 3, "%s: only %d non-zero gradients", algo, nonzero);
    rlc_instance_unref(opt);
}

START_TEST(sft_wiring) { check_wiring("sft", "{}", 1, 0, "loss", OUT_LP); }
END_TEST

START_TEST(reward_model_wiring)
{
    check_wiring("reward_model", "{\"margin\": 0.2, \"center_coef\": 0.1, \"label_min\": 0.1}", 1, 0,
                 "loss", OUT_SCORE);
}
END_TEST

START_TEST(dpo_wiring)
{
    check_wiring("dpo", "{\"beta\": 0.5, \"label_smoothing\": 0.1}", 1, 1, "loss", OUT_LP);
    check_wiring("dpo", "{\"beta\": 0.5, \"loss\": \"ipo\"}", 1, 1, "loss", OUT_LP);
}
END_TEST

START_TEST(ppo_wiring)
{
    const char *cfg = "{\"epochs\": 1, \"entropy_coef\": 0.05, \"kl_coef\": 0.1, \"vf_coef\": 0.5,"
                      " \"vf_clip\": 0.2, \"gamma\": 0.9, \"lambda\": 0.8}";
    check_wiring("ppo", cfg, 1, 1, "policy_loss", OUT_LP);
    check_wiring("ppo", cfg, 1, 1, "policy_loss", OUT_ENT);
    check_wiring("ppo", cfg, 1, 1, "value_loss", OUT_VAL);
}
END_TEST

START_TEST(grpo_wiring)
{
    static const char *const aggs[3] = {"token_mean", "seq_mean", "seq_mean_token_sum"};
    for (int a = 0; a < 3; a++) {
        char cfg[256];
        snprintf(cfg, sizeof cfg,
                 "{\"beta\": 0.3, \"clip_high\": 0.28, \"aggregation\": \"%s\"}", aggs[a]);
        check_wiring("grpo", cfg, 1, 1, "policy_loss", OUT_LP);
    }
}
END_TEST

START_TEST(rloo_wiring) { check_wiring("rloo", "{\"kl_coef\": 0.2}", 1, 1, "policy_loss", OUT_LP); }
END_TEST

/* PPO's rewards by hand: zero values, γ = λ = 1 and no KL make every
 * action's return the sum of the rewards after it.  Scores: 1, 0 - 0.5
 * (never stopped, no_stop_penalty 0.5), 2, -1 on the last actions; a
 * token reward of 0.25 on the first action of sequence 0.  Actions per
 * sequence: 5, 2, 6, 5 (lengths 7,5,8,6, prompts 2,3,2,1), so the returns
 * sum to 5·1 + 0.25 + 2·(-0.5) + 6·2 + 5·(-1) = 11.25 over 18 actions. */
START_TEST(ppo_rewards_by_hand)
{
    spy pol;
    spy_init(&pol, 0);
    memset(pol.val, 0, sizeof pol.val);
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, "ppo",
                                  "{\"kl_coef\": 0, \"gamma\": 1, \"lambda\": 1,"
                                  " \"no_stop_penalty\": 0.5}");
    rlaif_opt_models m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    m.policy = spy_ref(&pol);
    rlaif_opt_batch b = make_batch();
    uint8_t finished[NSEQ] = {1, 0, 1, 1};
    float token_rewards[MAXT] = {0};
    token_rewards[1] = 0.25f; /* sequence 0, action at position prompt_len - 1 = 1 */
    b.finished = finished;
    b.token_rewards = token_rewards;
    rlaif_opt_result out = {sizeof out, NULL, 0};
    char err[256];
    ck_assert_msg(th_ovt(opt)->evaluate(rlc_instance_self(opt), &m, &b, &out, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_double_eq_tol(th_stat(&out, "returns_mean"), 11.25 / 18.0, 1e-6);
    ck_assert_double_eq_tol(th_stat(&out, "score_mean"), 0.375, 1e-6);
    ck_assert_double_eq_tol(th_stat(&out, "no_stop_frac"), 0.25, 1e-9);
    ck_assert(th_stat(&out, "kl") == 0.0);
    ck_assert_double_eq_tol(th_stat(&out, "response_length"), 18.0 / 4.0, 1e-9);
    rlc_instance_unref(opt);
}
END_TEST

/* PPO with a separate critic: value gradients go to models.value, policy
 * gradients to models.policy, each checked by finite differences. */
START_TEST(ppo_separate_value_model)
{
    spy pol, val, ref;
    spy_init(&pol, 1);
    spy_init(&val, 1);
    spy_init(&ref, 0);
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, "ppo",
                                  "{\"epochs\": 1, \"kl_coef\": 0.1, \"vf_coef\": 0.5, \"value_from\": \"model\"}");
    rlaif_opt_models m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    m.policy = spy_ref(&pol);
    m.value = spy_ref(&val);
    m.reference = spy_ref(&ref);
    rlaif_opt_batch b = make_batch();
    rlaif_opt_result out = {sizeof out, NULL, 0};
    char err[256];
    ck_assert(th_ovt(opt)->step(rlc_instance_self(opt), &m, &b, &out, err, sizeof err) == 0);
    ck_assert_int_eq(val.steps, 1);
    ck_assert_int_eq(pol.steps, 1);
    float g[MAXT];
    memcpy(g, val.g_val, sizeof g);
    for (size_t i = 0; i < pol.total; i++) ck_assert(pol.g_val[i] == 0);
    int nonzero = 0;
    for (size_t i = 0; i < val.total; i++) {
        double L[2];
        for (int s = 0; s < 2; s++) {
            float keep = val.d_val[i];
            val.d_val[i] = keep + (s ? -1e-2f : 1e-2f);
            spy_zero_grad(&val);
            ck_assert(th_ovt(opt)->step(rlc_instance_self(opt), &m, &b, &out, err, sizeof err) == 0);
            L[s] = th_stat(&out, "value_loss");
            val.d_val[i] = keep;
        }
        double fd = (L[0] - L[1]) / 2e-2;
        nonzero += fabs(g[i]) > 1e-6;
        ck_assert_msg(fabs(fd - g[i]) <= 2e-4 + 2e-2 * fabs(g[i]), "value %zu: fd %.6f given %.6f",
                      i, fd, g[i]);
    }
    ck_assert(nonzero >= 3);
    rlc_instance_unref(opt);
}
END_TEST

/* A NaN out of the model stops every algorithm before the model steps,
 * with the step number and the quantity in the message. */
START_TEST(nan_outputs_stop_before_the_step)
{
    static const char *const algos[5] = {"sft", "dpo", "grpo", "rloo", "reward_model"};
    static const char *const what[5] = {"loss", "DPO loss", "policy logprobs",
                                        "policy logprobs", "reward-model loss"};
    for (int i = 0; i < 5; i++) {
        spy pol, ref;
        spy_init(&pol, 0);
        spy_init(&ref, 0);
        pol.lp[3] = NAN;
        pol.score[1] = NAN;
        rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, algos[i], "{}");
        rlaif_opt_models m;
        memset(&m, 0, sizeof m);
        m.struct_size = sizeof m;
        m.policy = spy_ref(&pol);
        m.reference = spy_ref(&ref);
        rlaif_opt_batch b = make_batch();
        rlaif_opt_result out = {sizeof out, NULL, 0};
        char err[256] = "";
        ck_assert_int_eq(th_ovt(opt)->step(rlc_instance_self(opt), &m, &b, &out, err, sizeof err),
                         RLAIF_E_NUMERIC);
        ck_assert_msg(strstr(err, "step 1") && strstr(err, what[i]), "%s: %s", algos[i], err);
        ck_assert_int_eq(pol.steps, 0);
        rlc_instance_unref(opt);
    }
}
END_TEST

static Suite *wiring_suite(void)
{
    Suite *s = suite_create("optimizer-wiring");
    TCase *t = tcase_create("gradients");
    tcase_add_test(t, sft_wiring);
    tcase_add_test(t, reward_model_wiring);
    tcase_add_test(t, dpo_wiring);
    tcase_add_test(t, ppo_wiring);
    tcase_add_test(t, grpo_wiring);
    tcase_add_test(t, rloo_wiring);
    tcase_add_test(t, ppo_rewards_by_hand);
    tcase_add_test(t, ppo_separate_value_model);
    tcase_add_test(t, nan_outputs_stop_before_the_step);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(wiring_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    rlc_shutdown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
