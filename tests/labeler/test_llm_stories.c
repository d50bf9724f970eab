/*
 * test_llm_stories.c — labeler/llm on a real pretrained model: stories260K
 * (model/transformer) with the probe-style `stories` constitution.
 *
 * The held-out set tests/labeler/data/story_pairs.jsonl holds 40 pairs of
 * short TinyStories-style continuations of one opening, one clearly kinder
 * and happier than the other.  The labeler must prefer the kinder one in at
 * least 80% of the pairs, with principles drawn per comparison, with each
 * principle pinned in turn, and by direct score; results must repeat
 * exactly under the same seed and compare(b, a) = 1 − compare(a, b).
 *
 * Skipped (exit 77) when the transformer plugin is not built.
 */
#include <check.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lab_util.h"

#define MAX_PAIRS 64

typedef struct story_pair {
    char *prompt, *chosen, *rejected;
} story_pair;

static story_pair pairs[MAX_PAIRS];
static size_t n_pairs;

static char *dup_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsString(v), "story pair: field '%s' missing", key);
    return strdup(v->valuestring);
}

/* Loads a set of pairs into `pairs` (replacing what was there). */
static void load_pair_file(const char *rel)
{
    for (size_t i = 0; i < n_pairs; i++) {
        free(pairs[i].prompt);
        free(pairs[i].chosen);
        free(pairs[i].rejected);
    }
    n_pairs = 0;
    FILE *f = fopen(lt_source_path(rel), "r");
    ck_assert_msg(f != NULL, "cannot open %s", rel);
    char line[8192];
    while (fgets(line, sizeof line, f) && n_pairs < MAX_PAIRS) {
        if (line[0] == '\n') continue;
        cJSON *o = cJSON_Parse(line);
        ck_assert_msg(o != NULL, "story_pairs.jsonl line %zu is not JSON", n_pairs + 1);
        pairs[n_pairs].prompt = dup_field(o, "prompt");
        pairs[n_pairs].chosen = dup_field(o, "chosen");
        pairs[n_pairs].rejected = dup_field(o, "rejected");
        n_pairs++;
        cJSON_Delete(o);
    }
    fclose(f);
}

static void load_pairs(void)
{
    load_pair_file("tests/labeler/data/story_pairs.jsonl");
    ck_assert_uint_ge(n_pairs, 30);
}

static const char *model_config(void)
{
    static char cfg[4200];
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\"}", lt_source_path("models/stories260K/stories260K.bin"));
    return cfg;
}

/* Pair i is shown with the kind story as `a` for even i and as `b` for odd
 * i, so a labeler that always says "a" scores 50%. */
static void make_requests(rlaif_compare_req *reqs, uint64_t seed0)
{
    for (size_t i = 0; i < n_pairs; i++) {
        int kind_first = i % 2 == 0;
        reqs[i].prompt = pairs[i].prompt;
        reqs[i].a = kind_first ? pairs[i].chosen : pairs[i].rejected;
        reqs[i].b = kind_first ? pairs[i].rejected : pairs[i].chosen;
        reqs[i].seed = seed0 + i;
    }
}

static double p_kind(const rlaif_compare_result *r, size_t i)
{
    return i % 2 == 0 ? r->p_a : 1.0 - r->p_a;
}

/* Runs all pairs in one batch; returns the agreement with the kind story. */
static double agreement(const lab_fixture *f, rlaif_compare_result *res, double *mean_p)
{
    rlaif_compare_req reqs[MAX_PAIRS];
    make_requests(reqs, 100);
    char err[512] = "";
    rlaif_status st = f->lv->compare(f->lself, n_pairs, reqs, res, err, sizeof err);
    ck_assert_msg(st == RLAIF_OK, "compare: %s", err);
    size_t agree = 0;
    double sum = 0;
    for (size_t i = 0; i < n_pairs; i++) {
        agree += p_kind(&res[i], i) > 0.5;
        sum += p_kind(&res[i], i);
    }
    if (mean_p) *mean_p = sum / (double)n_pairs;
    return (double)agree / (double)n_pairs;
}

START_TEST(prefers_the_kinder_story)
{
    load_pairs();
    lab_fixture f;
    lt_fixture(&f, "transformer", model_config(), "\"constitution\": \"stories\"");
    rlaif_compare_result res[MAX_PAIRS];
    double mean_p;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double acc = agreement(&f, res, &mean_p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("stories260K, principle drawn per pair: agreement %.3f (%zu pairs), mean p(kind) %.3f, "
           "%.1f ms for the batch\n",
           acc, n_pairs, mean_p, ms);
    ck_assert_msg(acc >= 0.8, "agreement %.3f < 0.8", acc);

    /* Same seed, fresh instances: identical answers, bit for bit. */
    lab_fixture g;
    lt_fixture(&g, "transformer", model_config(), "\"constitution\": \"stories\"");
    rlaif_compare_result again[MAX_PAIRS];
    agreement(&g, again, NULL);
    for (size_t i = 0; i < n_pairs; i++) {
        ck_assert(again[i].p_a == res[i].p_a);
        ck_assert_str_eq(again[i].principle_id, res[i].principle_id);
    }

    /* Swapped order in the same batch layout: exactly the complement.  (A
     * batch of one against a batch of forty may differ in the last float
     * bits when the model's kernels are not batch-invariant; exact symmetry
     * holds for the same layout, which is how both orders are compared.) */
    rlaif_compare_req swapped[MAX_PAIRS];
    make_requests(swapped, 100);
    for (size_t i = 0; i < n_pairs; i++) {
        const char *t = swapped[i].a;
        swapped[i].a = swapped[i].b;
        swapped[i].b = t;
    }
    rlaif_compare_result ba[MAX_PAIRS];
    char err[512] = "";
    ck_assert_int_eq(g.lv->compare(g.lself, n_pairs, swapped, ba, err, sizeof err), RLAIF_OK);
    double max_batch_dev = 0;
    for (size_t i = 0; i < n_pairs; i++) {
        ck_assert_msg(ba[i].p_a == 1.0 - res[i].p_a, "pair %zu: %.17g vs %.17g", i, ba[i].p_a,
                      res[i].p_a);
        /* One at a time, both orders: exact again. */
        rlaif_compare_result one = lt_compare(&g, swapped[i].prompt, swapped[i].b, swapped[i].a, swapped[i].seed);
        rlaif_compare_result other = lt_compare(&g, swapped[i].prompt, swapped[i].a, swapped[i].b, swapped[i].seed);
        ck_assert(one.p_a == 1.0 - other.p_a);
        double dev = one.p_a - res[i].p_a;
        if (dev < 0) dev = -dev;
        if (dev > max_batch_dev) max_batch_dev = dev;
    }
    printf("stories260K: largest difference between batched and single comparisons %.3g\n",
           max_batch_dev);
    ck_assert(max_batch_dev < 1e-4);

    /* Both orders of every pair inside one batch: exact as well (the
     * labeler evaluates a repeated question once). */
    rlaif_compare_req both[2 * MAX_PAIRS];
    rlaif_compare_result both_res[2 * MAX_PAIRS];
    for (size_t i = 0; i < n_pairs; i++) {
        both[2 * i] = swapped[i];
        both[2 * i + 1] = (rlaif_compare_req){swapped[i].prompt, swapped[i].b, swapped[i].a, swapped[i].seed};
    }
    ck_assert_int_eq(g.lv->compare(g.lself, 2 * n_pairs, both, both_res, err, sizeof err), RLAIF_OK);
    for (size_t i = 0; i < n_pairs; i++)
        ck_assert_msg(both_res[2 * i].p_a == 1.0 - both_res[2 * i + 1].p_a, "pair %zu in one batch", i);
    lt_fixture_free(&g);
    lt_fixture_free(&f);
}
END_TEST

START_TEST(every_principle_agrees)
{
    load_pairs();
    static const char *const ids[] = {"happy_ending", "warmth", "kindness", "good_day", "friendship"};
    rlc_instance *model = lt_model("transformer", model_config());
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        char extra[256], err[1024] = "";
        snprintf(extra, sizeof extra, "\"constitution\": \"stories\", \"principles\": [\"%s\"]", ids[k]);
        lab_fixture f = {.model = model};
        f.labeler = lt_labeler(model, extra, err, sizeof err);
        ck_assert_msg(f.labeler != NULL, "%s", err);
        f.lv = rlc_instance_vtable(f.labeler);
        f.lself = rlc_instance_self(f.labeler);
        rlaif_compare_result res[MAX_PAIRS];
        double mean_p;
        double acc = agreement(&f, res, &mean_p);
        printf("stories260K, principle %-12s: agreement %.3f, mean p(kind) %.3f\n", ids[k], acc, mean_p);
        ck_assert_msg(acc >= 0.8, "principle %s: agreement %.3f < 0.8", ids[k], acc);
        rlc_instance_unref(f.labeler);
    }
    rlc_instance_unref(model);
}
END_TEST

START_TEST(direct_scores_rank_the_kinder_story)
{
    load_pairs();
    lab_fixture f;
    lt_fixture(&f, "transformer", model_config(),
               "\"constitution\": \"stories\", \"principles\": [\"happy_ending\"]");
    rlaif_score_req reqs[2 * MAX_PAIRS];
    rlaif_score_result res[2 * MAX_PAIRS];
    for (size_t i = 0; i < n_pairs; i++) {
        reqs[2 * i] = (rlaif_score_req){pairs[i].prompt, pairs[i].chosen, i};
        reqs[2 * i + 1] = (rlaif_score_req){pairs[i].prompt, pairs[i].rejected, i};
    }
    char err[512] = "";
    ck_assert_int_eq(f.lv->score(f.lself, 2 * n_pairs, reqs, res, err, sizeof err), RLAIF_OK);
    size_t agree = 0;
    for (size_t i = 0; i < n_pairs; i++) {
        ck_assert(res[2 * i].score >= -1 && res[2 * i].score <= 1);
        agree += res[2 * i].score > res[2 * i + 1].score;
    }
    double acc = (double)agree / (double)n_pairs;
    printf("stories260K, direct score (happy_ending): agreement %.3f\n", acc);
    ck_assert_msg(acc >= 0.8, "score agreement %.3f < 0.8", acc);
    lt_fixture_free(&f);
}
END_TEST

/* A second set, written after the probes had been chosen on the first and
 * evaluated once: a check that the probes were not fitted to the first. */
START_TEST(fresh_pairs_agree)
{
    load_pair_file("tests/labeler/data/story_pairs_fresh.jsonl");
    ck_assert_uint_ge(n_pairs, 20);
    lab_fixture f;
    lt_fixture(&f, "transformer", model_config(), "\"constitution\": \"stories\"");
    rlaif_compare_result res[MAX_PAIRS];
    double mean_p;
    double acc = agreement(&f, res, &mean_p);
    printf("stories260K, fresh set, principle drawn per pair: agreement %.3f (%zu pairs), mean p(kind) %.3f\n",
           acc, n_pairs, mean_p);
    ck_assert_msg(acc >= 0.8, "fresh set agreement %.3f < 0.8", acc);
    lt_fixture_free(&f);
}
END_TEST

/* Instruct mode on a real tokenizer: the mechanics hold even though this
 * base model cannot follow the question (single-token choices go through
 * next_logprobs, "10" through forward). */
START_TEST(instruct_mode_mechanics_on_real_tokenizer)
{
    load_pairs();
    lab_fixture f;
    lt_fixture(&f, "transformer", model_config(), "\"constitution\": \"harmless\"");
    static const char *const kind[] = {"She smiled.", "They shared the cake.", "He said sorry.", "They hugged."};
    static const char *const mean[] = {"She cried.", "He took the cake.", "He laughed at her.", "They fought."};
    for (size_t i = 0; i < 4; i++) {
        rlaif_compare_result ab = lt_compare(&f, pairs[i].prompt, kind[i], mean[i], i);
        rlaif_compare_result ba = lt_compare(&f, pairs[i].prompt, mean[i], kind[i], i);
        ck_assert(ab.p_a == 1.0 - ba.p_a);
        ck_assert(ab.p_a > 0 && ab.p_a < 1);
        rlaif_score_req req = {pairs[i].prompt, kind[i], i};
        rlaif_score_result s1, s2;
        char err[512] = "";
        ck_assert_msg(f.lv->score(f.lself, 1, &req, &s1, err, sizeof err) == RLAIF_OK, "%s", err);
        ck_assert_int_eq(f.lv->score(f.lself, 1, &req, &s2, err, sizeof err), RLAIF_OK);
        ck_assert(s1.score == s2.score && s1.score >= -1 && s1.score <= 1);
    }
    lt_fixture_free(&f);
}
END_TEST

int main(void)
{
    char err[512] = "";
    rlc_init(NULL);
    if (!rlc_plugin_find(RLAIF_KIND_MODEL, "transformer", err, sizeof err)) {
        printf("skipped: model/transformer is not available (%s)\n", err);
        rlc_shutdown();
        return 77;
    }
    Suite *s = suite_create("labeler-llm-stories");
    TCase *t = tcase_create("all");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, prefers_the_kinder_story);
    tcase_add_test(t, every_principle_agrees);
    tcase_add_test(t, direct_scores_rank_the_kinder_story);
    tcase_add_test(t, fresh_pairs_agree);
    tcase_add_test(t, instruct_mode_mechanics_on_real_tokenizer);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    rlc_shutdown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
