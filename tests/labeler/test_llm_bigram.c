/*
 * test_llm_bigram.c — the mechanics of labeler/llm on model/bigram, a tiny
 * byte-level model whose next-token distribution depends only on the last
 * byte.  With `init_std` 1.5 its opinions are strong and random, which is
 * what these tests need:
 *   - compare matches a reference computed here from the model's own
 *     next_logprobs, in both presentation orders;
 *   - compare(a, b) = 1 − compare(b, a) exactly, alone or in a batch;
 *   - the same seed gives the same principle and answer, seeds vary draws;
 *   - clamping, position-bias statistics, chain-of-thought, probes,
 *     multi-token score labels ("10" is two bytes), critique/revision;
 *   - config and template errors name the key and JSON path.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_util.h"

static const char *const bigram_cfg = "{\"init_std\": 1.5, \"seed\": 11}";

/* A constitution whose prompts end right after the second response, so the
 * bigram's answer depends on the responses (the defaults end with "(",
 * which a bigram answers the same way whatever came before). */
#define TEST_PRINCIPLE(n)                                                                     \
    "{\"id\": \"p" #n "\", \"comparison\": \"q" #n "\", \"critique_request\": \"c" #n "\", "  \
    "\"revision_request\": \"r" #n "\", \"rubric\": \"s" #n "\"}"
#define TEST_CONSTITUTION                                                                     \
    "{\"name\": \"t\", \"description\": \"test\", \"chat_template\": \"{user}\", "            \
    "\"choices\": [\"1\", \"2\"], \"score_range\": [1, 10], "                                 \
    "\"templates\": {\"compare\": \"{principle}|{a}|{b}\", \"compare_answer\": \"\", "        \
    "\"compare_cot\": \"{principle}|{a}|{b}|why\", \"cot_prefix\": \"\", \"cot_answer\": \"|\", " \
    "\"score\": \"{principle}|{response}\", \"score_answer\": \"\", "                         \
    "\"critique\": \"{principle}|{response}\", \"critique_answer\": \"\", "                   \
    "\"revision\": \"{principle}|{response}|{critique}\", \"revision_answer\": \"\"}, "       \
    "\"principles\": [" TEST_PRINCIPLE(0) ", " TEST_PRINCIPLE(1) ", " TEST_PRINCIPLE(2) "], " \
    "\"probe\": {\"template\": \"{prompt}{response}{probe}\", \"positive\": [\"!\"], "        \
    "\"negative\": [\"?\", \".\"]}}"

static const char *const test_con = "\"constitution\": " TEST_CONSTITUTION;

/* ===== Reference computations from the model itself ===================== */

/* log p(next = byte | text) from next_logprobs on BOS + bytes. */
static double next_lp(const lab_fixture *f, const char *text, unsigned char byte)
{
    size_t n = strlen(text) + 1;
    int32_t *ids = malloc(n * sizeof *ids);
    ids[0] = 256;
    for (size_t i = 1; i < n; i++) ids[i] = (unsigned char)text[i - 1];
    const int32_t *const seqs_ids[1] = {ids};
    rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = 1, .ids = seqs_ids, .len = &n};
    float dist[258];
    char err[256];
    ck_assert_int_eq(f->mv->next_logprobs(f->mself, &seqs, dist, err, sizeof err), RLAIF_OK);
    free(ids);
    return dist[byte];
}

/* log P(text) of the whole text after BOS, from forward. */
static double text_lp(const lab_fixture *f, const char *text)
{
    size_t n = strlen(text) + 1;
    int32_t *ids = malloc(n * sizeof *ids);
    float *lp = malloc(n * sizeof *lp);
    ids[0] = 256;
    for (size_t i = 1; i < n; i++) ids[i] = (unsigned char)text[i - 1];
    const int32_t *const seqs_ids[1] = {ids};
    rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = 1, .ids = seqs_ids, .len = &n};
    rlaif_outputs out = {.struct_size = sizeof out, .logprobs = lp};
    char err[256];
    ck_assert_int_eq(f->mv->forward(f->mself, &seqs, RLAIF_OUT_LOGPROBS, 1.0f, &out, err, sizeof err),
                     RLAIF_OK);
    double s = 0;
    for (size_t t = 0; t + 1 < n; t++) s += lp[t];
    free(ids);
    free(lp);
    return s;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Random lowercase words, different for each (seed, i). */
static void random_text(char *out, size_t cap, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    size_t len = 3 + (size_t)(seed % 17);
    size_t i = 0;
    for (; i < len && i + 1 < cap; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(s >> 33) % 28;
        out[i] = r < 26 ? (char)('a' + r) : ' ';
    }
    out[i] = 0;
}

/* ===== Tests ============================================================ */

START_TEST(compare_matches_reference_both_orders)
{
    lab_fixture f;
    lt_fixture(&f, "bigram", bigram_cfg, test_con);
    int nontrivial = 0;
    for (uint64_t k = 0; k < 40; k++) {
        char a[64], b[64];
        random_text(a, sizeof a, 2 * k + 1);
        random_text(b, sizeof b, 2 * k + 2);
        rlaif_compare_result r = lt_compare(&f, "", a, b, k);
        ck_assert_ptr_nonnull(r.principle_id);
        ck_assert(r.principle_id[0] == 'p' && r.principle_id[1] >= '0' && r.principle_id[1] <= '2');
        char q[4] = {'q', r.principle_id[1], 0};
        /* a shown first: the answer token follows b's text. */
        char text[256];
        snprintf(text, sizeof text, "%s|%s|%s", q, a, b);
        double first = sigmoid(next_lp(&f, text, '1') - next_lp(&f, text, '2'));
        snprintf(text, sizeof text, "%s|%s|%s", q, b, a);
        double second = sigmoid(next_lp(&f, text, '2') - next_lp(&f, text, '1'));
        ck_assert_double_eq_tol(r.p_a_first, first, 1e-9);
        ck_assert_double_eq_tol(r.p_a_second, second, 1e-9);
        ck_assert_double_eq_tol(r.p_a, 0.5 * (first + second), 1e-9);
        nontrivial += fabs(r.p_a - 0.5) > 0.05;
    }
    /* The test means something only if the model has opinions. */
    ck_assert_int_gt(nontrivial, 10);
    lt_fixture_free(&f);
}
END_TEST

static void check_symmetry(const char *extra)
{
    lab_fixture f;
    lt_fixture(&f, "bigram", bigram_cfg, extra);
    for (uint64_t k = 0; k < 60; k++) {
        char a[64], b[64];
        random_text(a, sizeof a, 1000 + 2 * k);
        random_text(b, sizeof b, 1001 + 2 * k);
        rlaif_compare_result ab = lt_compare(&f, "say something", a, b, k);
        rlaif_compare_result ba = lt_compare(&f, "say something", b, a, k);
        ck_assert_msg(ab.p_a == 1.0 - ba.p_a && ba.p_a == 1.0 - ab.p_a,
                      "pair %llu: %.17g + %.17g != 1", (unsigned long long)k, ab.p_a, ba.p_a);
        ck_assert_str_eq(ab.principle_id, ba.principle_id);
        /* The same pair in one batch, in both orders. */
        rlaif_compare_req reqs[2] = {{"say something", a, b, k}, {"say something", b, a, k}};
        rlaif_compare_result res[2];
        char err[256];
        ck_assert_int_eq(f.lv->compare(f.lself, 2, reqs, res, err, sizeof err), RLAIF_OK);
        ck_assert(res[0].p_a == ab.p_a && res[1].p_a == ba.p_a);
        ck_assert(res[0].p_a == 1.0 - res[1].p_a);
    }
    /* A response compared with itself is a tie. */
    rlaif_compare_result same = lt_compare(&f, "p", "same text", "same text", 3);
    ck_assert(same.p_a == 0.5);
    lt_fixture_free(&f);
}

START_TEST(symmetry_exact_test_constitution) { check_symmetry(test_con); }
END_TEST

START_TEST(symmetry_exact_shipped_constitutions)
{
    check_symmetry("\"constitution\": \"helpful\"");
    check_symmetry("\"constitution\": \"harmless\", \"chat_template\": \"chatml\"");
    check_symmetry("\"constitution\": \"code\", \"chat_template\": \"llama2\"");
}
END_TEST

START_TEST(same_seed_same_answer)
{
    lab_fixture f, g, h;
    lt_fixture(&f, "bigram", bigram_cfg, test_con);
    lt_fixture(&g, "bigram", bigram_cfg, test_con);
    char extra[4096];
    snprintf(extra, sizeof extra, "%s, \"seed\": 99", test_con);
    lt_fixture(&h, "bigram", bigram_cfg, extra);
    int seen[3] = {0}, config_seed_differs = 0;
    for (uint64_t k = 0; k < 40; k++) {
        rlaif_compare_result r1 = lt_compare(&f, "", "the cat sat", "a dog ran", k);
        rlaif_compare_result r2 = lt_compare(&g, "", "the cat sat", "a dog ran", k);
        ck_assert(r1.p_a == r2.p_a);
        ck_assert_str_eq(r1.principle_id, r2.principle_id);
        rlaif_compare_result again = lt_compare(&f, "", "the cat sat", "a dog ran", k);
        ck_assert(again.p_a == r1.p_a);
        seen[r1.principle_id[1] - '0'] = 1;
        rlaif_compare_result r3 = lt_compare(&h, "", "the cat sat", "a dog ran", k);
        config_seed_differs += strcmp(r3.principle_id, r1.principle_id) != 0;
    }
    ck_assert_msg(seen[0] && seen[1] && seen[2], "seeds 0..39 did not reach every principle");
    ck_assert_int_gt(config_seed_differs, 0);
    lt_fixture_free(&f);
    lt_fixture_free(&g);
    lt_fixture_free(&h);
}
END_TEST

START_TEST(principles_subset)
{
    lab_fixture f;
    char extra[4096];
    snprintf(extra, sizeof extra, "%s, \"principles\": [\"p2\"]", test_con);
    lt_fixture(&f, "bigram", bigram_cfg, extra);
    for (uint64_t k = 0; k < 20; k++)
        ck_assert_str_eq(lt_compare(&f, "", "x y", "z w", k).principle_id, "p2");
    lt_fixture_free(&f);
}
END_TEST

START_TEST(clamp_bounds_and_symmetry)
{
    lab_fixture f;
    char extra[4096];
    snprintf(extra, sizeof extra, "%s, \"clamp\": [0.45, 0.55]", test_con);
    lt_fixture(&f, "bigram", bigram_cfg, extra);
    int clamped = 0;
    for (uint64_t k = 0; k < 40; k++) {
        char a[64], b[64];
        random_text(a, sizeof a, 50 + 2 * k);
        random_text(b, sizeof b, 51 + 2 * k);
        rlaif_compare_result ab = lt_compare(&f, "", a, b, k);
        rlaif_compare_result ba = lt_compare(&f, "", b, a, k);
        ck_assert(ab.p_a >= 1.0 - 0.55 && ab.p_a <= 0.55); /* lo is applied as 1 - hi */
        ck_assert(ab.p_a == 1.0 - ba.p_a);
        double raw = 0.5 * (ab.p_a_first + ab.p_a_second);
        if (raw > 0.55) {
            ck_assert(ab.p_a == 0.55);
            clamped++;
        } else if (raw < 0.45) {
            ck_assert(ab.p_a == 1.0 - 0.55);
            clamped++;
        } else {
            ck_assert_double_eq_tol(ab.p_a, raw, 1e-12);
        }
    }
    ck_assert_int_gt(clamped, 0);
    lt_fixture_free(&f);
}
END_TEST

START_TEST(position_bias_statistic)
{
    lab_fixture f;
    lt_fixture(&f, "bigram", bigram_cfg, test_con);
    int disagree = 0, first_wins = 0, n = 50;
    for (int k = 0; k < n; k++) {
        char a[64], b[64];
        random_text(a, sizeof a, 300 + 2 * (uint64_t)k);
        random_text(b, sizeof b, 301 + 2 * (uint64_t)k);
        rlaif_compare_result r = lt_compare(&f, "", a, b, (uint64_t)k);
        disagree += (r.p_a_first > 0.5) != (r.p_a_second > 0.5);
        /* First shown wins: a when a is first, b when a is second. */
        first_wins += (r.p_a_first > 0.5) + (r.p_a_second < 0.5);
    }
    ck_assert_double_eq_tol(lt_stat(&f, "comparisons"), n, 0.5);
    ck_assert_double_eq_tol(lt_stat(&f, "position_bias"), (double)disagree / n, 1e-12);
    ck_assert_double_eq_tol(lt_stat(&f, "first_shown_wins"), (double)first_wins / (2.0 * n), 1e-12);
    ck_assert_int_gt(disagree, 0); /* a bigram judge is very position-biased */
    lt_fixture_free(&f);
}
END_TEST

START_TEST(score_multi_token_labels)
{
    lab_fixture f;
    lt_fixture(&f, "bigram", bigram_cfg, test_con);
    const char *responses[] = {"hello there", "zzz", "a fine answer", "no"};
    for (size_t i = 0; i < 4; i++) {
        rlaif_score_req req = {"", responses[i], i};
        rlaif_score_result res;
        char err[256];
        ck_assert_int_eq(f.lv->score(f.lself, 1, &req, &res, err, sizeof err), RLAIF_OK);
        char ctx[256];
        snprintf(ctx, sizeof ctx, "s%c|%s", res.principle_id[1], responses[i]);
        /* log P(label | ctx) = log P(ctx ⊕ label) − log P(ctx); "10" is two tokens. */
        double base = text_lp(&f, ctx), z = 0, e = 0, mx = -INFINITY, ll[10];
        for (int k = 1; k <= 10; k++) {
            char full[300];
            snprintf(full, sizeof full, "%s%d", ctx, k);
            ll[k - 1] = text_lp(&f, full) - base;
            if (ll[k - 1] > mx) mx = ll[k - 1];
        }
        for (int k = 1; k <= 10; k++) {
            z += exp(ll[k - 1] - mx);
            e += k * exp(ll[k - 1] - mx);
        }
        double expected = 2 * (e / z - 1) / 9 - 1;
        ck_assert_double_eq_tol(res.score, expected, 1e-9);
        ck_assert(res.score >= -1 && res.score <= 1);
    }
    ck_assert_double_eq_tol(lt_stat(&f, "scores"), 4, 0.5);
    lt_fixture_free(&f);
}
END_TEST

START_TEST(probe_mode_matches_reference)
{
    lab_fixture f;
    char extra[4096];
    snprintf(extra, sizeof extra, "%s, \"mode\": \"probe\"", test_con);
    lt_fixture(&f, "bigram", bigram_cfg, extra);
    for (uint64_t k = 0; k < 20; k++) {
        char a[64], b[64], t[200];
        random_text(a, sizeof a, 700 + 2 * k);
        random_text(b, sizeof b, 701 + 2 * k);
        rlaif_compare_result ab = lt_compare(&f, "Once", a, b, k);
        rlaif_compare_result ba = lt_compare(&f, "Once", b, a, k);
        ck_assert(ab.p_a == 1.0 - ba.p_a);
        double m[2];
        for (int c = 0; c < 2; c++) {
            const char *x = c ? b : a;
            snprintf(t, sizeof t, "Once%s!", x);
            double pos = text_lp(&f, t);
            snprintf(t, sizeof t, "Once%s?", x);
            double neg = text_lp(&f, t);
            snprintf(t, sizeof t, "Once%s.", x);
            neg = 0.5 * (neg + text_lp(&f, t));
            m[c] = pos - neg;
        }
        ck_assert_double_eq_tol(ab.p_a, sigmoid(m[0] - m[1]), 1e-9);
        ck_assert(ab.p_a_first == ab.p_a_second);
        /* Score in probe mode: 2σ(margin) − 1. */
        rlaif_score_req req = {"Once", a, k};
        rlaif_score_result sr;
        char err[256];
        ck_assert_int_eq(f.lv->score(f.lself, 1, &req, &sr, err, sizeof err), RLAIF_OK);
        ck_assert_double_eq_tol(sr.score, 2 * sigmoid(m[0]) - 1, 1e-9);
    }
    /* Revision needs an instruction-following model. */
    rlaif_revision rev[1];
    char err[256];
    ck_assert_int_eq(f.lv->revise(f.lself, "p", "r", 1, 0, rev, err, sizeof err), RLAIF_E_UNSUPPORTED);
    lt_fixture_free(&f);
}
END_TEST

START_TEST(chain_of_thought)
{
    lab_fixture f;
    char extra[4096];
    snprintf(extra, sizeof extra, "%s, \"cot\": true, \"max_rationale_tokens\": 12", test_con);
    lt_fixture(&f, "bigram", bigram_cfg, extra);
    for (uint64_t k = 0; k < 10; k++) {
        char a[64], b[64];
        random_text(a, sizeof a, 900 + 2 * k);
        random_text(b, sizeof b, 901 + 2 * k);
        rlaif_compare_result ab = lt_compare(&f, "", a, b, k);
        ck_assert_ptr_nonnull(ab.rationale);
        char *rat = strdup(ab.rationale);
        double p = ab.p_a;
        rlaif_compare_result ba = lt_compare(&f, "", b, a, k);
        ck_assert(p == 1.0 - ba.p_a);
        rlaif_compare_result again = lt_compare(&f, "", a, b, k);
        ck_assert(again.p_a == p);
        ck_assert_str_eq(again.rationale, rat);
        free(rat);
    }
    lt_fixture_free(&f);
}
END_TEST

START_TEST(revise_chain)
{
    lab_fixture f;
    char extra[4096];
    snprintf(extra, sizeof extra, "%s, \"max_new_tokens\": 16", test_con);
    lt_fixture(&f, "bigram", bigram_cfg, extra);
    rlaif_revision r1[3], r2[3];
    char err[256];
    ck_assert_int_eq(f.lv->revise(f.lself, "a prompt", "a reply", 3, 5, r1, err, sizeof err), RLAIF_OK);
    char *keep[3][3];
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_nonnull(r1[i].critique);
        ck_assert_ptr_nonnull(r1[i].revision);
        ck_assert(r1[i].principle_id[0] == 'p');
        keep[i][0] = strdup(r1[i].principle_id);
        keep[i][1] = strdup(r1[i].critique);
        keep[i][2] = strdup(r1[i].revision);
    }
    ck_assert_int_eq(f.lv->revise(f.lself, "a prompt", "a reply", 3, 5, r2, err, sizeof err), RLAIF_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(r2[i].principle_id, keep[i][0]);
        ck_assert_str_eq(r2[i].critique, keep[i][1]);
        ck_assert_str_eq(r2[i].revision, keep[i][2]);
        for (int j = 0; j < 3; j++) free(keep[i][j]);
    }
    ck_assert_double_eq_tol(lt_stat(&f, "revision_rounds"), 6, 0.5);
    lt_fixture_free(&f);
}
END_TEST

START_TEST(cancellation_stops_and_recovers)
{
    lab_fixture f;
    lt_fixture(&f, "bigram", bigram_cfg, test_con);
    rlaif_compare_req req = {"", "one reply", "another reply", 1};
    rlaif_compare_result res;
    char err[256] = "";
    rlc_set_cancelled(1);
    ck_assert_int_eq(f.lv->compare(f.lself, 1, &req, &res, err, sizeof err), RLAIF_E_CANCELLED);
    ck_assert_str_eq(err, "labeler/llm: cancelled");
    rlc_set_cancelled(0);
    ck_assert_int_eq(f.lv->compare(f.lself, 1, &req, &res, err, sizeof err), RLAIF_OK);
    ck_assert(res.p_a > 0 && res.p_a < 1);
    lt_fixture_free(&f);
}
END_TEST

typedef struct config_error {
    const char *extra;
    const char *expected; /* a substring of the message */
} config_error;

static const config_error config_errors[] = {
    {"\"constitution\": {\"name\": \"x\", \"description\": \"d\", \"templates\": {\"compare\": \"{a} {b} {oops}\"}, "
     "\"principles\": [" TEST_PRINCIPLE(0) "]}",
     "config key 'constitution': $.templates.compare: unknown placeholder {oops} at byte 8"},
    {"\"constitution\": {\"name\": \"x\", \"description\": \"d\", \"principles\": [{\"id\": \"a\", \"comparison\": 1}]}",
     "config key 'constitution': $.principles[0].critique_request: missing (expected a string)"},
    {"\"constitution\": \"helpful\", \"clamp\": [0.3, 0.6]",
     "labeler/llm: config key 'clamp': [0.3, 0.6] must satisfy"},
    {"\"constitution\": \"helpful\", \"temprature\": 1",
     "labeler/llm: unknown config key 'temprature'"},
    {"\"constitution\": \"helpful\", \"principles\": [\"nope\"]",
     "labeler/llm: config key 'principles[0]': constitution 'helpful' has no principle 'nope'"},
    {"\"constitution\": \"helpful\", \"mode\": \"chat\"",
     "labeler/llm: config key 'mode': 'chat' is not one of"},
    {"\"constitution\": \"helpful\", \"mode\": \"probe\"",
     "labeler/llm: mode \"probe\": principle 'answers_the_question' of constitution 'helpful' has no probe"},
    {"\"constitution\": \"stories\", \"cot\": true",
     "labeler/llm: config key 'cot': chain-of-thought needs mode \"instruct\""},
    {"\"constitution\": \"helpful\", \"chat_template\": \"chatlm\"",
     "labeler/llm: config key 'chat_template': unknown chat template 'chatlm'"},
    {"\"constitution\": \"no_such_constitution\"", "constitutions/no_such_constitution.json: cannot open"},
    {"\"chat_template\": \"plain\"", "labeler/llm: config key 'constitution' is required"},
};

START_TEST(config_errors_name_the_key)
{
    const config_error *ce = &config_errors[_i];
    rlc_instance *model = lt_model("bigram", bigram_cfg);
    char err[1024] = "";
    rlc_instance *in = lt_labeler(model, ce->extra, err, sizeof err);
    ck_assert_msg(in == NULL, "created with {%s}", ce->extra);
    ck_assert_msg(strstr(err, ce->expected) != NULL, "message '%s' lacks '%s'", err, ce->expected);
    rlc_instance_unref(model);
}
END_TEST

START_TEST(missing_model_is_an_error)
{
    char err[512] = "";
    rlc_init(NULL);
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_LABELER, "llm", err, sizeof err);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(rlc_instance_create(p, "{\"constitution\": \"helpful\"}", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "config key 'model' is required"));
    ck_assert_ptr_null(rlc_instance_create(
        p, "{\"constitution\": \"helpful\", \"model\": {\"rlaif_handle\": 987654}}", err, sizeof err));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("labeler-llm-bigram");
    TCase *t = tcase_create("all");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, compare_matches_reference_both_orders);
    tcase_add_test(t, symmetry_exact_test_constitution);
    tcase_add_test(t, symmetry_exact_shipped_constitutions);
    tcase_add_test(t, same_seed_same_answer);
    tcase_add_test(t, principles_subset);
    tcase_add_test(t, clamp_bounds_and_symmetry);
    tcase_add_test(t, position_bias_statistic);
    tcase_add_test(t, score_multi_token_labels);
    tcase_add_test(t, probe_mode_matches_reference);
    tcase_add_test(t, chain_of_thought);
    tcase_add_test(t, revise_chain);
    tcase_add_test(t, cancellation_stops_and_recovers);
    tcase_add_loop_test(t, config_errors_name_the_key, 0,
                        (int)(sizeof config_errors / sizeof config_errors[0]));
    tcase_add_test(t, missing_model_is_an_error);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    rlc_shutdown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
