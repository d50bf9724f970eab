/*
 * test_sentiment.c — reward/sentiment through the core API: agreement with
 * the hand-labelled polarity of the dev and held-out test sets, the
 * negation / intensifier / contrast rules one at a time, lexicon files in
 * both formats with their errors, config errors, and the model-based
 * classifier checked against the model's own score head.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "reward_util.h"

static char err[4096];

static void setup(void) { rlc_init(NULL); }
static void teardown(void) { rlc_shutdown(); }

/* The reward of one text under `config`. */
static float score1(const char *config, const char *text)
{
    test_reward r;
    ck_assert_msg(test_reward_open(&r, "sentiment", config, err, sizeof err) == RLAIF_OK, "%s",
                  err);
    float reward = 0;
    const char *texts[] = {text};
    ck_assert_msg(test_reward_score(&r, 1, texts, &reward, NULL, NULL, err, sizeof err) ==
                      RLAIF_OK,
                  "%s", err);
    test_reward_close(&r);
    return reward;
}

/* Scores a label<TAB>sentence file and returns the fraction whose sign
 * matches the label; prints the misses. */
static double labelled_accuracy(const char *file, size_t *n_out)
{
    char path[1024];
    size_t size;
    char *text = test_read_file(test_data_path(file, path, sizeof path), &size);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    size_t cap = 512, n = 0;
    const char **sent = malloc(cap * sizeof *sent);
    int *label = malloc(cap * sizeof *label);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || !line[0]) continue;
        char *tab = strchr(line, '\t');
        ck_assert_msg(tab != NULL, "%s: line without a TAB: %s", file, line);
        *tab = 0;
        ck_assert_msg(!strcmp(line, "pos") || !strcmp(line, "neg"), "%s: bad label %s", file,
                      line);
        ck_assert_uint_lt(n, cap);
        label[n] = !strcmp(line, "pos") ? 1 : -1;
        sent[n++] = tab + 1;
    }
    test_reward r;
    ck_assert_msg(test_reward_open(&r, "sentiment", "{}", err, sizeof err) == RLAIF_OK, "%s", err);
    float *rewards = calloc(n, sizeof *rewards);
    ck_assert_msg(test_reward_score(&r, n, sent, rewards, NULL, NULL, err, sizeof err) == RLAIF_OK,
                  "%s", err);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert(rewards[i] >= -1.0f && rewards[i] <= 1.0f);
        if ((label[i] > 0 && rewards[i] > 0) || (label[i] < 0 && rewards[i] < 0)) ok++;
        else printf("  miss (%s, %+.3f): %s\n", label[i] > 0 ? "pos" : "neg", rewards[i], sent[i]);
    }
    double acc = (double)ok / (double)n;
    printf("%s: %zu/%zu = %.4f\n", file, ok, n, acc);
    test_reward_close(&r);
    free(rewards);
    free(sent);
    free(label);
    free(text);
    *n_out = n;
    return acc;
}

START_TEST(test_heldout_accuracy)
{
    size_t n;
    double acc = labelled_accuracy("sentiment_labelled.tsv", &n);
    ck_assert_uint_ge(n, 200);
    ck_assert_msg(acc >= 0.90, "held-out accuracy %.4f < 0.90", acc);
}
END_TEST

START_TEST(test_dev_accuracy)
{
    size_t n;
    double acc = labelled_accuracy("sentiment_dev.tsv", &n);
    ck_assert_uint_ge(n, 100);
    ck_assert_msg(acc >= 0.90, "dev accuracy %.4f < 0.90", acc);
}
END_TEST

START_TEST(test_rules)
{
    float happy = score1("{}", "She was happy.");
    ck_assert(happy > 0);
    ck_assert(score1("{}", "She was not happy.") < 0);
    ck_assert(score1("{}", "She isn't happy.") < 0);
    ck_assert(score1("{}", "She was never happy.") < 0);
    ck_assert(score1("{}", "They are no longer friends.") < 0);
    ck_assert(score1("{}", "It was not bad.") > 0);
    /* negation stops at the clause: "not" does not reach "happy" */
    ck_assert(score1("{}", "Not now, I am happy.") > 0);
    float very = score1("{}", "She was very happy.");
    float extremely = score1("{}", "She was extremely happy.");
    float slightly = score1("{}", "She was slightly happy.");
    ck_assert(very > happy && extremely > very);
    ck_assert(slightly > 0 && slightly < happy);
    /* the clause after "but" decides */
    ck_assert(score1("{}", "The food was bad, but the people were nice.") > 0);
    ck_assert(score1("{}", "The people were nice, but the food was bad.") < 0);
    ck_assert(score1("{}", "Although it was sad, the ending was happy.") > 0);
    /* emphasis */
    ck_assert(score1("{}", "She was happy!") > happy);
    ck_assert(score1("{}", "She was happy!!!") > score1("{}", "She was happy!"));
    ck_assert(score1("{}", "She was HAPPY about it.") > happy);
    /* inflections through the base form */
    ck_assert(score1("{}", "He smiled and hugged her.") > 0);
    ck_assert(score1("{}", "She was crying and sobbing.") < 0);
    ck_assert(score1("{}", "It was unkind.") < 0);
    /* curly apostrophes are apostrophes */
    ck_assert(score1("{}", "She isn\xe2\x80\x99t happy.") < 0);
    /* neutral and empty text */
    ck_assert(score1("{}", "") == 0.0f);
    ck_assert(score1("{}", "The table has four legs.") == 0.0f);
    /* x / sqrt(x^2 + alpha): "happy" is 3, so 3 / sqrt(9 + 15) */
    ck_assert_msg(fabsf(happy - (float)(3.0 / sqrt(24.0))) < 1e-6f, "happy = %f", happy);
    ck_assert(fabsf(score1("{\"alpha\": 1}", "She was happy.") - (float)(3.0 / sqrt(10.0))) <
              1e-6f);
}
END_TEST

START_TEST(test_metrics_and_bounds)
{
    test_reward r;
    ck_assert_msg(test_reward_open(&r, "sentiment", "{}", err, sizeof err) == RLAIF_OK, "%s", err);
    size_t nm = 0;
    int pos = test_reward_metric(&r, "positive", &nm);
    int neg = test_reward_metric(&r, "negative", &nm);
    int matched = test_reward_metric(&r, "matched", &nm);
    ck_assert(pos >= 0 && neg >= 0 && matched >= 0);
    ck_assert_int_eq(test_reward_metric(&r, "model", NULL), -1);
    /* a very long, very positive text stays inside [-1, 1] */
    size_t big = 200000;
    char *longtext = malloc(big + 1);
    for (size_t i = 0; i < big; i++) longtext[i] = "wonderful amazing! "[i % 19];
    longtext[big] = 0;
    const char *texts[] = {"Happy, sad.", longtext, "\xff\xfe zzq utf8 \xc3"};
    float rewards[3], metrics[3 * 8];
    ck_assert_msg(test_reward_score(&r, 3, texts, rewards, metrics, NULL, err, sizeof err) ==
                      RLAIF_OK,
                  "%s", err);
    ck_assert_float_eq_tol(metrics[pos], 3.0f, 1e-6f);
    ck_assert_float_eq_tol(metrics[neg], 2.0f, 1e-6f);
    ck_assert_float_eq(metrics[matched], 2.0f);
    ck_assert(rewards[1] > 0.99f && rewards[1] <= 1.0f);
    ck_assert(rewards[2] == 0.0f);
    /* random bytes (apostrophes, UTF-8 marks, punctuation runs) stay finite and in range */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < big; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        static const char alphabet[] = "ab' !?.,\xe2\x80\x99\x94\xc3not very happy sad\n";
        longtext[i] = alphabet[x % (sizeof alphabet - 1)];
    }
    const char *noise[] = {longtext};
    ck_assert(test_reward_score(&r, 1, noise, rewards, NULL, NULL, err, sizeof err) == RLAIF_OK);
    ck_assert(isfinite(rewards[0]) && rewards[0] >= -1.0f && rewards[0] <= 1.0f);
    free(longtext);
    test_reward_close(&r);
}
END_TEST

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
}

START_TEST(test_lexicon_formats)
{
    char afinn[] = "/tmp/rlaif-sent-afinn-XXXXXX", vader[] = "/tmp/rlaif-sent-vader-XXXXXX";
    close(mkstemp(afinn));
    close(mkstemp(vader));
    write_file(afinn, "# test\nzorp\t4\nblick\t-3\nnot so bad\t2\n");
    write_file(vader, "zorp\t2.5\t0.8\t[2, 3, 3, 2]\nblick\t-1.5\t0.5\t[-1, -2]\n");
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{\"lexicon\": \"%s\"}", afinn);
    ck_assert_float_eq_tol(score1(cfg, "zorp"), (float)(4 / sqrt(16 + 15.0)), 1e-6f);
    ck_assert(score1(cfg, "blick blick") < 0);
    ck_assert(score1(cfg, "It was not so bad") > 0); /* the phrase wins over the negator */
    ck_assert(score1(cfg, "happy") == 0.0f);          /* only this lexicon is loaded */
    snprintf(cfg, sizeof cfg, "{\"lexicon\": \"%s\", \"format\": \"vader\"}", vader);
    ck_assert_float_eq_tol(score1(cfg, "zorp"), (float)(2.5 / sqrt(6.25 + 15.0)), 1e-6f);
    snprintf(cfg, sizeof cfg, "{\"lexicon\": \"%s\"}", vader); /* detected */
    ck_assert(score1(cfg, "blick") < 0);

    /* a bad line names file and line */
    test_reward r;
    write_file(afinn, "zorp\t4\nblick\tlots\n");
    snprintf(cfg, sizeof cfg, "{\"lexicon\": \"%s\"}", afinn);
    ck_assert(test_reward_open(&r, "sentiment", cfg, err, sizeof err) != RLAIF_OK);
    char where[600];
    snprintf(where, sizeof where, "%s:2:", afinn);
    ck_assert_msg(strstr(err, where) != NULL, "%s", err);
    write_file(afinn, "zorp\t9\n");
    ck_assert(test_reward_open(&r, "sentiment", cfg, err, sizeof err) != RLAIF_OK);
    ck_assert_msg(strstr(err, ":1:") && strstr(err, "-5..5"), "%s", err);
    snprintf(cfg, sizeof cfg, "{\"lexicon\": \"%s\", \"format\": \"vader\"}", afinn);
    write_file(afinn, "zorp\t2\t0.5\t[2]\nblick\n");
    ck_assert(test_reward_open(&r, "sentiment", cfg, err, sizeof err) != RLAIF_OK);
    ck_assert_msg(strstr(err, ":2:") && strstr(err, "VADER"), "%s", err);
    ck_assert(test_reward_open(&r, "sentiment", "{\"lexicon\": \"/nonexistent/lex.tsv\"}", err,
                               sizeof err) != RLAIF_OK);
    ck_assert_msg(strstr(err, "/nonexistent/lex.tsv"), "%s", err);

    /* random files: either they load or the message names file and line */
    uint64_t x = 0x2545F4914F6CDD1Dull;
    static const char alphabet[] = "ab \t\t\n-1.5 4[]#\xc3\xa9x";
    for (int round = 0; round < 60; round++) {
        char junk[400];
        size_t n = 1 + (size_t)(round * 7 % 399);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            junk[i] = alphabet[x % (sizeof alphabet - 1)];
        }
        junk[n] = 0;
        write_file(afinn, junk);
        snprintf(cfg, sizeof cfg, "{\"lexicon\": \"%s\", \"format\": \"%s\"}", afinn,
                 round % 3 == 0 ? "auto" : round % 3 == 1 ? "afinn" : "vader");
        err[0] = 0;
        if (test_reward_open(&r, "sentiment", cfg, err, sizeof err) == RLAIF_OK) {
            ck_assert(isfinite(score1(cfg, junk)));
            test_reward_close(&r);
        } else {
            ck_assert_msg(strstr(err, afinn) != NULL, "%s", err);
        }
    }
    unlink(afinn);
    unlink(vader);
}
END_TEST

/* Without a `lexicon` key the shipped file is found under the host's
 * data_dir: the source layout (plugins/reward/sentiment/data/) or the
 * installed one (sentiment/); with neither, the message names both. */
START_TEST(test_data_dir_layouts)
{
    char dir[] = "/tmp/rlaif-sent-data-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sub[256], file[300];
    snprintf(sub, sizeof sub, "%s/sentiment", dir);
    snprintf(file, sizeof file, "%s/lexicon.tsv", sub);
    const char *old = getenv("RLAIF_DATA_DIR");
    char *saved = old ? strdup(old) : NULL;

    /* nothing there yet */
    setenv("RLAIF_DATA_DIR", dir, 1);
    rlc_shutdown();
    rlc_init(NULL);
    test_reward r;
    ck_assert(test_reward_open(&r, "sentiment", "{}", err, sizeof err) != RLAIF_OK);
    ck_assert_msg(strstr(err, "plugins/reward/sentiment/data/lexicon.tsv") &&
                      strstr(err, "sentiment/lexicon.tsv"),
                  "%s", err);

    /* the installed layout */
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    write_file(file, "glorp\t5\n");
    ck_assert(score1("{}", "glorp") > 0.7f);

    unlink(file);
    rmdir(sub);
    rmdir(dir);
    if (saved) setenv("RLAIF_DATA_DIR", saved, 1);
    else unsetenv("RLAIF_DATA_DIR");
    free(saved);
}
END_TEST

START_TEST(test_config)
{
    ck_assert(score1("{\"words\": {\"zorp\": 3, \"Happy\": -3}}", "zorp") > 0);
    ck_assert(score1("{\"words\": {\"Happy\": -3}}", "happy") < 0);
    ck_assert(score1("{\"negation_scope\": 1}", "not a very happy day") > 0);
    /* "mean": the average of the sentences' own scores, so a neutral
     * sentence halves it and a long happy text does not saturate */
    float one = score1("{\"aggregate\": \"mean\"}", "She was happy.");
    ck_assert_float_eq_tol(one, (float)(3.0 / sqrt(24.0)), 1e-6f);
    ck_assert_float_eq_tol(score1("{\"aggregate\": \"mean\"}", "She was happy. The box is red."),
                           one / 2, 1e-6f);
    ck_assert_float_eq_tol(
        score1("{\"aggregate\": \"mean\"}", "She was happy. She was happy. She was happy."), one,
        1e-6f);
    ck_assert(score1("{}", "She was happy. She was happy. She was happy.") > one);
    struct { const char *config, *needle; } bad[] = {
        {"{\"lexcon\": \"x\"}", "unknown config key 'lexcon'"},
        {"{\"alpha\": \"big\"}", "'alpha'"},
        {"{\"alpha\": 0}", "'alpha'"},
        {"{\"format\": \"csv\"}", "'format'"},
        {"{\"aggregate\": \"max\"}", "'aggregate'"},
        {"{\"words\": [1]}", "'words'"},
        {"{\"words\": {\"x\": \"good\"}}", "'words.x'"},
        {"{\"negation_scope\": 2.5}", "'negation_scope'"},
        {"{\"model\": 3}", "'model'"},
        {"{\"model\": {\"rlaif_handle\": 999999}}", "'model'"},
        {"[1, 2]", "JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        test_reward r;
        err[0] = 0;
        ck_assert_msg(test_reward_open(&r, "sentiment", bad[i].config, err, sizeof err) !=
                          RLAIF_OK,
                      "%s accepted", bad[i].config);
        ck_assert_msg(strstr(err, bad[i].needle) && strstr(err, "reward/sentiment"),
                      "%s: %s", bad[i].config, err);
    }
}
END_TEST

/* The score forward of one text, straight through the model vtable. */
static float model_score(const rlaif_model_vtable *mv, void *ms, const char *text, int keep)
{
    int32_t ids[64];
    size_t n = 0;
    ck_assert(mv->tokenize(ms, text, strlen(text), 1, ids, 64, &n, err, sizeof err) == RLAIF_OK);
    const int32_t *ptr = ids;
    rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = 1, .ids = &ptr, .len = &n};
    float score = 0;
    rlaif_outputs o = {.struct_size = sizeof o, .score = &score};
    ck_assert_msg(mv->forward(ms, &seqs, RLAIF_OUT_SCORE | (keep ? RLAIF_OUT_KEEP : 0), 1.0f, &o,
                              err, sizeof err) == RLAIF_OK,
                  "%s", err);
    return score;
}

/* A few AdamW steps that push the score of texts[0] up and texts[1] down,
 * so the (zero-initialised) head tells texts apart. */
static void train_score_head(const rlaif_model_vtable *mv, void *ms, const char *const *texts)
{
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < 2; i++) {
            model_score(mv, ms, texts[i], 1);
            float g = i == 0 ? -1.0f : 1.0f; /* dL/dscore of L = -s0 + s1 */
            rlaif_outputs grads = {.struct_size = sizeof grads, .score = &g};
            ck_assert_msg(mv->backward(ms, &grads, err, sizeof err) == RLAIF_OK, "%s", err);
        }
        rlaif_step_params sp = {.struct_size = sizeof sp, .lr = 0.05f, .beta1 = 0.9f,
                                .beta2 = 0.999f, .eps = 1e-8f, .grad_scale = 1.0f};
        rlaif_step_result res = {.struct_size = sizeof res};
        ck_assert_msg(mv->step(ms, &sp, &res, err, sizeof err) == RLAIF_OK, "%s", err);
    }
}

/* The classifier path: reward = tanh(scale * score head), compared with the
 * model's own forward.  Uses model/bigram (a real trainable model with a
 * score head); skipped when that plugin is not built. */
START_TEST(test_model_classifier)
{
    rlc_plugin *mp = rlc_plugin_find(RLAIF_KIND_MODEL, "bigram", err, sizeof err);
    if (!mp) {
        printf("SKIP test_model_classifier: %s\n", err);
        return;
    }
    rlc_instance *model = rlc_instance_create(
        mp, "{\"score_head\": true, \"seed\": 7, \"init_std\": 0.5}", err, sizeof err);
    ck_assert_msg(model != NULL, "%s", err);
    rlc_instance *plain = rlc_instance_create(mp, "{\"seed\": 7}", err, sizeof err);
    ck_assert_msg(plain != NULL, "%s", err);
    const rlaif_model_vtable *mv = rlc_instance_vtable(model);
    void *ms = rlc_instance_self(model);
    const char *texts[] = {"a happy day", "the dog was sad", "zzz", ""};
    train_score_head(mv, ms, texts);

    char cfg[256];
    snprintf(cfg, sizeof cfg,
             "{\"model\": {\"rlaif_handle\": %llu}, \"model_scale\": 2, \"model_batch\": 3}",
             (unsigned long long)rlc_instance_handle(model));
    test_reward r;
    ck_assert_msg(test_reward_open(&r, "sentiment", cfg, err, sizeof err) == RLAIF_OK, "%s", err);
    size_t nm = 0;
    int mi = test_reward_metric(&r, "model", &nm);
    ck_assert_int_ge(mi, 0);
    float rewards[4], metrics[4 * 8];
    ck_assert_msg(test_reward_score(&r, 4, texts, rewards, metrics, NULL, err, sizeof err) ==
                      RLAIF_OK,
                  "%s", err);

    /* the same numbers straight from the model */
    int different = 0;
    for (size_t i = 0; i < 4; i++) {
        float score = model_score(mv, ms, texts[i], 0);
        ck_assert_float_eq_tol(metrics[i * nm + (size_t)mi], score, 1e-5f);
        ck_assert_float_eq_tol(rewards[i], tanhf(2.0f * score), 1e-5f);
        different += fabsf(rewards[i] - rewards[0]) > 1e-6f;
    }
    ck_assert_msg(different > 0, "every text got the same model score");
    ck_assert(rewards[0] > 0 && rewards[1] < 0); /* what the head was trained to say */
    test_reward_close(&r);

    /* a model without a score head is refused, naming the key */
    snprintf(cfg, sizeof cfg, "{\"model\": {\"rlaif_handle\": %llu}}",
             (unsigned long long)rlc_instance_handle(plain));
    ck_assert(test_reward_open(&r, "sentiment", cfg, err, sizeof err) != RLAIF_OK);
    ck_assert_msg(strstr(err, "'model'") && strstr(err, "score head"), "%s", err);
    rlc_instance_unref(plain);
    rlc_instance_unref(model);
}
END_TEST

/* The same path with the real engine: model/transformer on the shared
 * stories260K checkpoint with a (seeded, untrained) score head.  Skipped
 * when the plugin or $RLAIF_SHARED_DIR's model is missing. */
START_TEST(test_transformer_classifier)
{
    const char *shared = getenv("RLAIF_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", shared ? shared : "");
    FILE *f = shared ? fopen(path, "rb") : NULL;
    rlc_plugin *mp = f ? rlc_plugin_find(RLAIF_KIND_MODEL, "transformer", err, sizeof err) : NULL;
    if (f) fclose(f);
    if (!mp) {
        printf("SKIP test_transformer_classifier: %s\n", f ? err : "no stories260K model");
        return;
    }
    char cfg[1400];
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\", \"score_head\": true, \"seed\": 3}", path);
    rlc_instance *model = rlc_instance_create(mp, cfg, err, sizeof err);
    ck_assert_msg(model != NULL, "%s", err);
    snprintf(cfg, sizeof cfg, "{\"model\": {\"rlaif_handle\": %llu}}",
             (unsigned long long)rlc_instance_handle(model));
    test_reward r;
    ck_assert_msg(test_reward_open(&r, "sentiment", cfg, err, sizeof err) == RLAIF_OK, "%s", err);
    size_t nm = 0;
    int mi = test_reward_metric(&r, "model", &nm);
    const char *texts[] = {"Lily was happy and hugged her mom.",
                           "Tom was sad because his toy broke.", "The end."};
    float rewards[3], metrics[3 * 8];
    ck_assert_msg(test_reward_score(&r, 3, texts, rewards, metrics, NULL, err, sizeof err) ==
                      RLAIF_OK,
                  "%s", err);
    const rlaif_model_vtable *mv = rlc_instance_vtable(model);
    void *ms = rlc_instance_self(model);
    for (size_t i = 0; i < 3; i++) {
        float score = model_score(mv, ms, texts[i], 0);
        ck_assert_float_eq_tol(metrics[i * nm + (size_t)mi], score, 1e-4f);
        ck_assert_float_eq_tol(rewards[i], tanhf(score), 1e-4f);
    }
    ck_assert(rewards[0] != rewards[1]);
    test_reward_close(&r);
    rlc_instance_unref(model);
}
END_TEST

static Suite *sentiment_suite(void)
{
    Suite *s = suite_create("reward/sentiment");
    TCase *tc = tcase_create("sentiment");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_heldout_accuracy);
    tcase_add_test(tc, test_dev_accuracy);
    tcase_add_test(tc, test_rules);
    tcase_add_test(tc, test_metrics_and_bounds);
    tcase_add_test(tc, test_lexicon_formats);
    tcase_add_test(tc, test_config);
    tcase_add_test(tc, test_data_dir_layouts);
    tcase_add_test(tc, test_model_classifier);
    tcase_add_test(tc, test_transformer_classifier);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sentiment_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
