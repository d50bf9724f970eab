/*
 * test_offline.c — the offline algorithms end to end on the bigram model
 * (DPO, reward model, SFT), and the guards every algorithm shares: NaN
 * stops with the step and quantity named, the ratio bound skips
 * minibatches, state survives a get/set round trip, configs and batches
 * are checked.  Figures are printed to stderr for the record.
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

/* The SFT-like starting policy of test_e2e.c: mostly "abcdefgh ". */
static rlc_instance *sft_like_policy(const char *config)
{
    rlc_instance *policy = th_create(RLAIF_KIND_MODEL, "bigram", config);
    bigram *m = rlc_instance_self(policy);
    for (int r = 0; r < BIGRAM_V; r++)
        for (const char *c = "abcdefgh "; *c; c++)
            m->params[BIGRAM_OFF_W + (size_t)r * BIGRAM_V + (unsigned char)*c] = 6.0f;
    return policy;
}

static rlaif_status opt_step(rlc_instance *opt, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                             rlaif_opt_result *out, char *err, size_t errlen)
{
    out->struct_size = sizeof *out;
    return th_ovt(opt)->step(rlc_instance_self(opt), m, b, out, err, errlen);
}

static rlaif_status opt_eval(rlc_instance *opt, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                             rlaif_opt_result *out, char *err, size_t errlen)
{
    out->struct_size = sizeof *out;
    return th_ovt(opt)->evaluate(rlc_instance_self(opt), m, b, out, err, errlen);
}

/* A tiny deterministic generator for test data. */
static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* ===== DPO ================================================================ */

typedef struct pairs {
    th_batch seqs;
    float label[256];
    size_t n;
    rlaif_opt_batch batch;
} pairs;

/* Pairs of two samples of the policy per prompt whose rewards differ,
 * labelled softly: p(a ≻ b) = σ(2·(r_a - r_b)). */
static void build_pairs(pairs *P, rlc_instance *policy, const char *const *prompts, size_t np,
                        size_t want, uint64_t seed)
{
    th_batch_init(&P->seqs);
    P->n = 0;
    ro_batch r;
    ro_init(&r);
    for (uint64_t round = 0; P->n < want; round++) {
        ck_assert(round < 100);
        ro_collect(&r, policy, prompts, np, 2, 1.0f, MAX_NEW, seed + round, ro_count_a);
        for (size_t i = 0; i + 1 < r.seqs.n && P->n < want; i += 2) {
            float ra = r.rewards[i], rb = r.rewards[i + 1];
            if (ra == rb) continue;
            for (size_t j = i; j < i + 2; j++) {
                size_t pl = r.seqs.prompt_len[j];
                th_batch_add(&P->seqs, prompts[(i / 2) % np], r.seqs.ids[j] + pl,
                             r.seqs.len[j] - pl);
            }
            P->label[P->n++] = (float)(1.0 / (1.0 + exp(-2.0 * (ra - rb))));
        }
    }
    ro_free(&r);
    memset(&P->batch, 0, sizeof P->batch);
    P->batch.struct_size = sizeof P->batch;
    P->batch.seqs = *th_batch_seqs(&P->seqs);
    P->batch.label = P->label;
    P->batch.temperature = 1;
}

START_TEST(dpo_raises_margin_and_reward)
{
    rlc_instance *policy = sft_like_policy("{\"init_std\": 0}");
    rlc_instance *ref = th_reference(policy);
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, "dpo",
                                  "{\"lr\": 0.05, \"beta\": 0.1, \"max_grad_norm\": 0}");
    pairs train, held;
    build_pairs(&train, policy, train_prompts, 8, 128, 10);
    build_pairs(&held, policy, heldout_prompts, 6, 64, 500);
    rlaif_opt_models m = ro_models(policy, ref, NULL);
    rlaif_opt_result out;
    char err[512];
    ck_assert_msg(opt_eval(opt, &m, &held.batch, &out, err, sizeof err) == 0, "%s", err);
    double margin0 = th_stat(&out, "margin"), acc0 = th_stat(&out, "accuracy");
    double reward0, kl0, reward1, kl1;
    ro_measure(policy, ref, heldout_prompts, 6, 16, MAX_NEW, 999, ro_count_a, &reward0, &kl0);
    for (int s = 0; s < 40; s++) {
        ck_assert_msg(opt_step(opt, &m, &train.batch, &out, err, sizeof err) == 0, "step %d: %s",
                      s, err);
        if (s == 1) {
            /* Reference sums are cached: the second step needs no reference. */
            ck_assert_double_eq(th_stat(&out, "ref_cache_misses"), 0);
            ck_assert_double_eq(th_stat(&out, "ref_cache_hits"), 256);
        }
    }
    double train_loss = th_stat(&out, "loss");
    ck_assert_msg(opt_eval(opt, &m, &held.batch, &out, err, sizeof err) == 0, "%s", err);
    double margin1 = th_stat(&out, "margin"), acc1 = th_stat(&out, "accuracy");
    ro_measure(policy, ref, heldout_prompts, 6, 16, MAX_NEW, 999, ro_count_a, &reward1, &kl1);
    fprintf(stderr,
            "dpo held-out pairs: margin %.3f -> %.3f, accuracy %.3f -> %.3f (train loss %.3f); "
            "held-out reward %.3f -> %.3f, KL %.3f\n",
            margin0, margin1, acc0, acc1, train_loss, reward0, reward1, kl1);
    ck_assert_msg(fabs(margin0) < 1e-6, "margin starts at 0 (policy = reference), got %g", margin0);
    ck_assert_msg(margin1 > 0.2, "held-out margin %.3f", margin1);
    ck_assert_msg(acc1 > 0.65, "held-out accuracy %.3f", acc1);
    ck_assert_msg(reward1 > reward0 + 1.0, "reward %.3f -> %.3f", reward0, reward1);
    th_batch_free(&train.seqs);
    th_batch_free(&held.seqs);
    rlc_instance_unref(opt);
    rlc_instance_unref(ref);
    rlc_instance_unref(policy);
}
END_TEST

START_TEST(dpo_ipo_and_errors)
{
    rlc_instance *policy = sft_like_policy("{\"init_std\": 0}");
    rlc_instance *ref = th_reference(policy);
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, "dpo",
                                  "{\"lr\": 0.02, \"beta\": 0.1, \"loss\": \"ipo\"}");
    pairs P;
    build_pairs(&P, policy, train_prompts, 8, 32, 10);
    rlaif_opt_models m = ro_models(policy, ref, NULL);
    rlaif_opt_result out;
    char err[512];
    ck_assert(opt_step(opt, &m, &P.batch, &out, err, sizeof err) == 0);
    double l0 = th_stat(&out, "loss");
    for (int s = 0; s < 10; s++) ck_assert(opt_step(opt, &m, &P.batch, &out, err, sizeof err) == 0);
    ck_assert_msg(th_stat(&out, "loss") < l0, "IPO loss %.4f -> %.4f", l0, th_stat(&out, "loss"));
    /* An odd number of sequences is not a batch of pairs. */
    rlaif_opt_batch odd = P.batch;
    odd.seqs.n = 3;
    ck_assert_int_eq(opt_step(opt, &m, &odd, &out, err, sizeof err), RLAIF_E_INVALID);
    /* A label outside [0, 1] is named. */
    P.label[2] = 1.5f;
    ck_assert_int_eq(opt_step(opt, &m, &P.batch, &out, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "label[2]") != NULL, "%s", err);
    P.label[2] = 1.0f;
    /* New sequences without a reference model: the error names it. */
    rlc_instance *opt2 = th_create(RLAIF_KIND_OPTIMIZER, "dpo", "{}");
    rlaif_opt_models noref = ro_models(policy, NULL, NULL);
    ck_assert_int_eq(opt_step(opt2, &noref, &P.batch, &out, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "reference") != NULL, "%s", err);
    th_batch_free(&P.seqs);
    rlc_instance_unref(opt2);
    rlc_instance_unref(opt);
    rlc_instance_unref(ref);
    rlc_instance_unref(policy);
}
END_TEST

/* ===== reward model ======================================================= */

/* The known scoring function: count('a') - count('z'). */
static int known_score(const char *s)
{
    int f = 0;
    for (; *s; s++) f += (*s == 'a') - (*s == 'z');
    return f;
}

static void random_text(char *out, size_t n)
{
    static const char alpha[] = "abcz";
    for (size_t i = 0; i < n; i++) out[i] = alpha[rnd() % 4];
    out[n] = 0;
}

static void rm_pairs(pairs *P, size_t n)
{
    th_batch_init(&P->seqs);
    P->n = 0;
    for (size_t i = 0; i < n; i++) {
        char a[16], b[16];
        random_text(a, 12);
        random_text(b, 12);
        th_batch_add_text(&P->seqs, "Rate:", a);
        th_batch_add_text(&P->seqs, "Rate:", b);
        P->label[P->n++] = (float)(1.0 / (1.0 + exp(-(known_score(a) - known_score(b)))));
    }
    memset(&P->batch, 0, sizeof P->batch);
    P->batch.struct_size = sizeof P->batch;
    P->batch.seqs = *th_batch_seqs(&P->seqs);
    P->batch.label = P->label;
}

START_TEST(reward_model_learns_soft_labels)
{
    rlc_instance *rmod = th_create(RLAIF_KIND_MODEL, "bigram",
                                   "{\"init_std\": 0, \"score_head\": true, \"score_pool\": \"mean\"}");
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, "reward_model",
                                  "{\"lr\": 0.1, \"max_grad_norm\": 0}");
    rlaif_opt_models m = ro_models(rmod, NULL, NULL);
    rlaif_opt_result out;
    char err[512];
    pairs train[4], held;
    for (int i = 0; i < 4; i++) rm_pairs(&train[i], 100);
    rm_pairs(&held, 200);
    ck_assert(opt_eval(opt, &m, &held.batch, &out, err, sizeof err) == 0);
    double loss0 = th_stat(&out, "loss"), ece0 = th_stat(&out, "ece");
    for (int s = 0; s < 150; s++)
        ck_assert_msg(opt_step(opt, &m, &train[s % 4].batch, &out, err, sizeof err) == 0, "%s",
                      err);
    ck_assert(opt_eval(opt, &m, &held.batch, &out, err, sizeof err) == 0);
    double acc = th_stat(&out, "accuracy"), ece = th_stat(&out, "ece");
    fprintf(stderr, "reward_model held-out: loss %.4f -> %.4f, accuracy %.3f, ECE %.3f -> %.3f\n",
            loss0, th_stat(&out, "loss"), acc, ece0, ece);
    ck_assert_msg(acc > 0.85, "held-out pairwise accuracy %.3f", acc);
    ck_assert(th_stat(&out, "loss") < loss0);
    /* The best loss possible is the labels' own entropy: the gap left is
     * the mean KL from the labels to the model's predictions. */
    double h = 0;
    for (size_t i = 0; i < held.n; i++) {
        double p = held.label[i];
        h -= (p > 0 ? p * log(p) : 0) + (p < 1 ? (1 - p) * log(1 - p) : 0);
    }
    h /= (double)held.n;
    double gap = th_stat(&out, "loss") - h;
    fprintf(stderr, "reward_model: label entropy %.4f, KL gap %.4f (%.4f at start)\n", h, gap,
            loss0 - h);
    ck_assert_msg(gap < 0.25 * (loss0 - h), "KL gap %.4f of %.4f at start", gap, loss0 - h);
    ck_assert_msg(ece < 0.1, "calibration error %.3f", ece);
    /* Clamping to [0.4, 0.6] keeps the sides but weakens the pull. */
    rlc_instance *clamped = th_create(RLAIF_KIND_OPTIMIZER, "reward_model",
                                      "{\"label_min\": 0.4, \"label_max\": 0.6}");
    ck_assert(opt_eval(clamped, &m, &held.batch, &out, err, sizeof err) == 0);
    ck_assert_double_eq_tol(th_stat(&out, "accuracy"), acc, 1e-9);
    for (int i = 0; i < 4; i++) th_batch_free(&train[i].seqs);
    th_batch_free(&held.seqs);
    rlc_instance_unref(clamped);
    rlc_instance_unref(opt);
    rlc_instance_unref(rmod);
}
END_TEST

/* ===== SFT ================================================================ */

static void demo(th_batch *b, size_t n, size_t len)
{
    static const char text[] = "the cat sat on the mat. ";
    for (size_t i = 0; i < n; i++) {
        char r[64];
        size_t start = rnd() % (sizeof text - 1);
        for (size_t j = 0; j < len; j++) r[j] = text[(start + j) % (sizeof text - 1)];
        r[len] = 0;
        th_batch_add_text(b, "Say:", r);
    }
}

static rlaif_opt_batch as_batch(th_batch *b)
{
    rlaif_opt_batch ob;
    memset(&ob, 0, sizeof ob);
    ob.struct_size = sizeof ob;
    ob.seqs = *th_batch_seqs(b);
    ob.temperature = 1;
    return ob;
}

START_TEST(sft_lowers_heldout_loss)
{
    rlc_instance *policy = th_create(RLAIF_KIND_MODEL, "bigram", "{\"seed\": 5}");
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, "sft",
                                  "{\"lr\": 0.2, \"minibatch_size\": 8, \"warmup_steps\": 5,"
                                  " \"schedule\": \"cosine\", \"total_steps\": 50}");
    th_batch train, held;
    th_batch_init(&train);
    th_batch_init(&held);
    demo(&train, 32, 24);
    demo(&held, 16, 24);
    rlaif_opt_batch tb = as_batch(&train), hb = as_batch(&held);
    rlaif_opt_models m = ro_models(policy, NULL, NULL);
    rlaif_opt_result out;
    char err[512];
    ck_assert(opt_eval(opt, &m, &hb, &out, err, sizeof err) == 0);
    double l0 = th_stat(&out, "loss");
    ck_assert_double_eq(th_stat(&out, "tokens"), 16 * 24); /* response tokens only */
    for (int s = 0; s < 50; s++) {
        ck_assert_msg(opt_step(opt, &m, &tb, &out, err, sizeof err) == 0, "%s", err);
        if (s == 0) ck_assert_double_eq_tol(th_stat(&out, "lr"), 0.04, 1e-7); /* warm-up 1/5 */
    }
    ck_assert(opt_eval(opt, &m, &hb, &out, err, sizeof err) == 0);
    double l1 = th_stat(&out, "loss");
    fprintf(stderr, "sft held-out loss %.3f -> %.3f (ln 258 = %.3f)\n", l0, l1, log(258.0));
    ck_assert_msg(l1 < 1.5 && l1 < l0 - 3.0, "held-out loss %.3f -> %.3f", l0, l1);
    th_batch_free(&train);
    th_batch_free(&held);
    rlc_instance_unref(opt);
    rlc_instance_unref(policy);
}
END_TEST

/* grad_accum = 2 over two halves of a batch (of different token counts)
 * makes the same update as one step over the whole batch: every token
 * weighs 1/N of the whole. */
START_TEST(sft_accumulation_is_token_normalised)
{
    rlc_instance *a = th_create(RLAIF_KIND_MODEL, "bigram", "{\"seed\": 2}");
    rlc_instance *b = th_create(RLAIF_KIND_MODEL, "bigram", "{\"seed\": 2}");
    rlc_instance *oa = th_create(RLAIF_KIND_OPTIMIZER, "sft", "{\"lr\": 0.01, \"beta1\": 0.5, \"beta2\": 0.5}");
    rlc_instance *ob = th_create(RLAIF_KIND_OPTIMIZER, "sft",
                                 "{\"lr\": 0.01, \"beta1\": 0.5, \"beta2\": 0.5, \"grad_accum\": 2}");
    th_batch all, h1, h2;
    th_batch_init(&all);
    th_batch_init(&h1);
    th_batch_init(&h2);
    th_batch_add_text(&all, "p", "hello there");
    th_batch_add_text(&all, "q", "hi");
    th_batch_add_text(&all, "r", "good morning to you");
    th_batch_add_text(&h1, "p", "hello there");
    th_batch_add_text(&h2, "q", "hi");
    th_batch_add_text(&h2, "r", "good morning to you");
    rlaif_opt_batch ball = as_batch(&all), b1 = as_batch(&h1), b2 = as_batch(&h2);
    rlaif_opt_models ma = ro_models(a, NULL, NULL), mb = ro_models(b, NULL, NULL);
    rlaif_opt_result out;
    char err[256];
    ck_assert(opt_step(oa, &ma, &ball, &out, err, sizeof err) == 0);
    ck_assert(opt_step(ob, &mb, &b1, &out, err, sizeof err) == 0);
    ck_assert_double_eq(th_stat(&out, "updated"), 0);
    ck_assert(opt_step(ob, &mb, &b2, &out, err, sizeof err) == 0);
    ck_assert_double_eq(th_stat(&out, "updated"), 1);
    /* Adam is scale-free on a first step, so compare a second one too. */
    ck_assert(opt_step(oa, &ma, &ball, &out, err, sizeof err) == 0);
    ck_assert(opt_step(ob, &mb, &b1, &out, err, sizeof err) == 0);
    ck_assert(opt_step(ob, &mb, &b2, &out, err, sizeof err) == 0);
    bigram *pa = rlc_instance_self(a), *pb = rlc_instance_self(b);
    double maxdiff = 0, moved = 0;
    for (size_t i = 0; i < BIGRAM_N_PARAMS; i++) {
        maxdiff = fmax(maxdiff, fabs(pa->params[i] - pb->params[i]));
        moved = fmax(moved, fabs(pa->m[i]));
    }
    ck_assert_msg(maxdiff < 1e-6, "accumulated update differs by %g", maxdiff);
    ck_assert(moved > 0);
    /* The first moments hold the gradient itself: compare its scale to
     * a run that normalised per microbatch instead (it would differ). */
    th_batch_free(&all);
    th_batch_free(&h1);
    th_batch_free(&h2);
    rlc_instance_unref(oa);
    rlc_instance_unref(ob);
    rlc_instance_unref(a);
    rlc_instance_unref(b);
}
END_TEST

/* Packing changes what shares a forward, not what is learned: on the
 * bigram model (whose prediction depends on one token) the loss and the
 * update are those of the unpacked batch. */
START_TEST(sft_packing_matches_unpacked)
{
    rlc_instance *a = th_create(RLAIF_KIND_MODEL, "bigram", "{\"seed\": 3}");
    rlc_instance *b = th_create(RLAIF_KIND_MODEL, "bigram", "{\"seed\": 3}");
    rlc_instance *oa = th_create(RLAIF_KIND_OPTIMIZER, "sft", "{\"lr\": 0.01}");
    rlc_instance *ob = th_create(RLAIF_KIND_OPTIMIZER, "sft",
                                 "{\"lr\": 0.01, \"pack_to\": 40, \"minibatch_size\": 2}");
    th_batch d;
    th_batch_init(&d);
    demo(&d, 12, 10); /* 12 sequences of 1 + 4 + 10 = 15 tokens: two per pack */
    rlaif_opt_batch ob_ = as_batch(&d);
    rlaif_opt_models ma = ro_models(a, NULL, NULL), mb = ro_models(b, NULL, NULL);
    rlaif_opt_result out;
    char err[256];
    for (int s = 0; s < 3; s++) {
        ck_assert(opt_step(oa, &ma, &ob_, &out, err, sizeof err) == 0);
        double la = th_stat(&out, "loss"), ta = th_stat(&out, "tokens");
        ck_assert_double_eq(th_stat(&out, "sequences"), 12);
        ck_assert_msg(opt_step(ob, &mb, &ob_, &out, err, sizeof err) == 0, "%s", err);
        ck_assert_double_eq(th_stat(&out, "sequences"), 6);
        ck_assert_double_eq(th_stat(&out, "tokens"), ta);
        ck_assert_double_eq_tol(th_stat(&out, "loss"), la, 1e-6);
    }
    bigram *pa = rlc_instance_self(a), *pb = rlc_instance_self(b);
    double maxdiff = 0;
    for (size_t i = 0; i < BIGRAM_N_PARAMS; i++)
        maxdiff = fmax(maxdiff, fabs(pa->params[i] - pb->params[i]));
    ck_assert_msg(maxdiff < 1e-6, "packed update differs by %g", maxdiff);
    th_batch_free(&d);
    rlc_instance_unref(oa);
    rlc_instance_unref(ob);
    rlc_instance_unref(a);
    rlc_instance_unref(b);
}
END_TEST

/* ===== guards ============================================================= */

START_TEST(nan_reward_is_named)
{
    rlc_instance *policy = sft_like_policy("{\"init_std\": 0, \"value_head\": true}");
    rlc_instance *ref = th_reference(policy);
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, "ppo", "{}");
    rlaif_opt_models m = ro_models(policy, ref, NULL);
    ro_batch r;
    ro_init(&r);
    ro_collect(&r, policy, train_prompts, 8, 2, 1.0f, MAX_NEW, 3, ro_count_a);
    r.rewards[5] = NAN;
    bigram *pm = rlc_instance_self(policy);
    float w0 = pm->params[BIGRAM_OFF_W + 'a'];
    rlaif_opt_result out;
    char err[512];
    ck_assert_int_eq(opt_step(opt, &m, &r.batch, &out, err, sizeof err), RLAIF_E_NUMERIC);
    ck_assert_msg(strstr(err, "step 1") && strstr(err, "advantages"), "%s", err);
    ck_assert(pm->params[BIGRAM_OFF_W + 'a'] == w0); /* nothing moved */
    ro_free(&r);
    rlc_instance_unref(opt);
    rlc_instance_unref(ref);
    rlc_instance_unref(policy);
}
END_TEST

START_TEST(ratio_bound_skips_minibatches)
{
    rlc_instance *policy = sft_like_policy("{\"init_std\": 0, \"value_head\": true}");
    rlc_instance *ref = th_reference(policy);
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, "ppo",
                                  "{\"lr\": 0.5, \"epochs\": 4, \"minibatch_size\": 8,"
                                  " \"ratio_bound\": 1.5, \"max_grad_norm\": 0}");
    rlaif_opt_models m = ro_models(policy, ref, NULL);
    ro_batch r;
    ro_init(&r);
    ro_collect(&r, policy, train_prompts, 8, 4, 1.0f, MAX_NEW, 3, ro_count_a);
    rlaif_opt_result out;
    char err[512];
    ck_assert_msg(opt_step(opt, &m, &r.batch, &out, err, sizeof err) == 0, "%s", err);
    double skipped = th_stat(&out, "skipped_minibatches"), done = th_stat(&out, "minibatches");
    fprintf(stderr, "ratio bound 1.5 at lr 0.5: %g of %g minibatches skipped, ratio_max %.2f\n",
            skipped, skipped + done, th_stat(&out, "ratio_max"));
    ck_assert(skipped > 0);
    ck_assert_double_eq(skipped + done, 16);
    ck_assert(th_stat(&out, "ratio_max") > 1.5);
    ro_free(&r);
    rlc_instance_unref(opt);
    rlc_instance_unref(ref);
    rlc_instance_unref(policy);
}
END_TEST

START_TEST(state_round_trip)
{
    rlc_instance *policy = sft_like_policy("{\"init_std\": 0, \"value_head\": true}");
    rlc_instance *ref = th_reference(policy);
    const char *cfg = "{\"lr\": 0.05, \"kl_coef\": 0.3, \"adaptive_kl\": true, \"kl_target\": 0.5,"
                      " \"kl_horizon\": 100}";
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, "ppo", cfg);
    rlaif_opt_models m = ro_models(policy, ref, NULL);
    ro_batch r;
    ro_init(&r);
    rlaif_opt_result out;
    char err[512];
    for (int s = 0; s < 3; s++) {
        ro_collect(&r, policy, train_prompts, 8, 2, 1.0f, MAX_NEW, 40 + (uint64_t)s, ro_count_a);
        ck_assert(opt_step(opt, &m, &r.batch, &out, err, sizeof err) == 0);
    }
    const char *json = NULL;
    ck_assert(th_ovt(opt)->get_state(rlc_instance_self(opt), &json) == 0);
    char saved[256];
    snprintf(saved, sizeof saved, "%s", json);
    ck_assert_msg(strstr(saved, "\"steps\": 3") != NULL, "%s", saved);
    ck_assert_msg(strstr(saved, "\"kl_coef\": 0.3,") == NULL, "coef did not adapt: %s", saved);
    rlc_instance *opt2 = th_create(RLAIF_KIND_OPTIMIZER, "ppo", cfg);
    ck_assert(th_ovt(opt2)->set_state(rlc_instance_self(opt2), saved, err, sizeof err) == 0);
    ck_assert(th_ovt(opt2)->get_state(rlc_instance_self(opt2), &json) == 0);
    ck_assert_str_eq(json, saved);
    ck_assert_int_eq(th_ovt(opt2)->set_state(rlc_instance_self(opt2), "{\"stepz\": 1}", err,
                                             sizeof err),
                     RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "stepz") != NULL, "%s", err);
    ro_free(&r);
    rlc_instance_unref(opt2);
    rlc_instance_unref(opt);
    rlc_instance_unref(ref);
    rlc_instance_unref(policy);
}
END_TEST

START_TEST(configs_and_batches_are_checked)
{
    static const char *const algos[6] = {"sft", "reward_model", "ppo", "grpo", "rloo", "dpo"};
    char err[512];
    rlc_init(NULL);
    for (int i = 0; i < 6; i++) {
        rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_OPTIMIZER, algos[i], err, sizeof err);
        ck_assert_msg(p != NULL, "%s", err);
        ck_assert(rlc_instance_create(p, "{\"lr\": 1e-3, \"bogus_key\": 1}", err, sizeof err) == NULL);
        ck_assert_msg(strstr(err, "bogus_key") != NULL, "%s: %s", algos[i], err);
        ck_assert(rlc_instance_create(p, "{\"lr\": \"fast\"}", err, sizeof err) == NULL);
        ck_assert_msg(strstr(err, "'lr'") != NULL, "%s: %s", algos[i], err);
    }
    rlc_plugin *ppo = rlc_plugin_find(RLAIF_KIND_OPTIMIZER, "ppo", err, sizeof err);
    ck_assert(rlc_instance_create(ppo, "{\"ratio_bound\": 0.5}", err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "ratio_bound") != NULL, "%s", err);
    /* PPO without a reference while it needs one; GRPO without groups. */
    rlc_instance *policy = sft_like_policy("{\"init_std\": 0, \"value_head\": true}");
    rlc_instance *opt = th_create(RLAIF_KIND_OPTIMIZER, "ppo", "{}");
    rlc_instance *g = th_create(RLAIF_KIND_OPTIMIZER, "grpo", "{\"beta\": 0}");
    rlaif_opt_models m = ro_models(policy, NULL, NULL);
    ro_batch r;
    ro_init(&r);
    ro_collect(&r, policy, train_prompts, 2, 2, 1.0f, MAX_NEW, 3, ro_count_a);
    rlaif_opt_result out;
    ck_assert_int_eq(opt_step(opt, &m, &r.batch, &out, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "reference") != NULL, "%s", err);
    r.batch.group = NULL;
    ck_assert_int_eq(opt_step(g, &m, &r.batch, &out, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "group_size") != NULL, "%s", err);
    r.batch.rewards = NULL;
    ck_assert_int_eq(opt_step(g, &m, &r.batch, &out, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "rewards") != NULL, "%s", err);
    ro_free(&r);
    rlc_instance_unref(g);
    rlc_instance_unref(opt);
    rlc_instance_unref(policy);
}
END_TEST

static Suite *offline_suite(void)
{
    Suite *s = suite_create("optimizer-offline");
    TCase *t = tcase_create("offline");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, dpo_raises_margin_and_reward);
    tcase_add_test(t, dpo_ipo_and_errors);
    tcase_add_test(t, reward_model_learns_soft_labels);
    tcase_add_test(t, sft_lowers_heldout_loss);
    tcase_add_test(t, sft_accumulation_is_token_normalised);
    tcase_add_test(t, sft_packing_matches_unpacked);
    suite_add_tcase(s, t);
    TCase *g = tcase_create("guards");
    tcase_add_test(g, nan_reward_is_named);
    tcase_add_test(g, ratio_bound_skips_minibatches);
    tcase_add_test(g, state_round_trip);
    tcase_add_test(g, configs_and_batches_are_checked);
    suite_add_tcase(s, g);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(offline_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    rlc_shutdown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
