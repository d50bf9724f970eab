/*
 * test_http_labeler.c — labeler/http against `rlaif serve` gives the same
 * probabilities as labeler/llm on the same model (stories260K) and the same
 * constitution, in probe mode and instruct mode, compare and score; and
 * its error paths (retries with back-off, dead servers, malformed answers
 * naming the missing JSON path) against a scripted fake server.
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "serve_util.h"

static st_server server;

static void server_up(void)
{
    if (st_fixture_up(&server, NULL, "test_http_labeler")) exit(EXIT_FAILURE);
}

/* An unclean exit of the server fails the program. */
static void server_down(void)
{
    if (st_fixture_down(&server, "test_http_labeler") != 0) exit(EXIT_FAILURE);
}

/* ===== Labelers ========================================================= */

typedef struct labeler {
    rlc_instance *in;
    const rlaif_labeler_vtable *vt;
    void *self;
} labeler;

static rlc_instance *make_labeler(const char *name, const char *config, char *err, size_t errlen)
{
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_LABELER, name, err, errlen);
    return p ? rlc_instance_create(p, config, err, errlen) : NULL;
}

static labeler wrap(rlc_instance *in)
{
    labeler l = {in, rlc_instance_vtable(in), rlc_instance_self(in)};
    return l;
}

static rlc_instance *model_instance(void)
{
    char err[1024] = "", cfg[4200];
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_MODEL, "transformer", err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\"}", st_model_path());
    rlc_instance *m = rlc_instance_create(p, cfg, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* labeler/llm on a local model with `extra` config members. */
static labeler local_labeler(rlc_instance *model, const char *extra)
{
    char cfg[2048], err[1024] = "";
    snprintf(cfg, sizeof cfg, "{\"model\": {\"rlaif_handle\": %llu}, %s}",
             (unsigned long long)rlc_instance_handle(model), extra);
    rlc_instance *in = make_labeler("llm", cfg, err, sizeof err);
    ck_assert_msg(in != NULL, "labeler/llm: %s", err);
    return wrap(in);
}

/* labeler/http on the test's server with `extra` config members. */
static labeler remote_labeler(const char *extra)
{
    char cfg[2048], err[1024] = "";
    snprintf(cfg, sizeof cfg, "{\"base_url\": \"http://127.0.0.1:%d/v1\", \"model\": "
             "\"stories260K\", %s}", server.port, extra);
    rlc_instance *in = make_labeler("http", cfg, err, sizeof err);
    ck_assert_msg(in != NULL, "labeler/http: %s", err);
    return wrap(in);
}

static double stat_of(const labeler *l, const char *name)
{
    const rlaif_stat *st;
    size_t n;
    ck_assert_int_eq(l->vt->stats(l->self, &st, &n), RLAIF_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].name, name) == 0) return st[i].value;
    ck_abort_msg("no statistic '%s'", name);
    return 0;
}

/* ===== Story pairs ====================================================== */

static const char *const prompts[] = {
    "Lily found a lost puppy in the rain.",
    "Tom had one cookie left.",
    "The new girl sat alone at lunch.",
    "Ben broke his sister's toy.",
};
static const char *const kind[] = {
    "She took the puppy home, dried it and gave it warm milk. The puppy was happy.",
    "Tom gave the cookie to his friend. They laughed and played together.",
    "Mia sat next to her and said hello. Soon they were best friends.",
    "Ben said sorry and fixed the toy with glue. His sister hugged him.",
};
static const char *const mean[] = {
    "She walked away and left the puppy in the cold rain.",
    "Tom ate the cookie and laughed at his sad friend.",
    "The kids pointed at her and laughed. She cried.",
    "Ben hid the toy and said his sister broke it.",
};
enum { N_PAIRS = 4 };

/* Both labelers compare every pair in both argument orders; the answers
 * must agree within tol. */
static void compare_agree(labeler *a, labeler *b, double tol)
{
    rlaif_compare_req reqs[2 * N_PAIRS];
    for (size_t i = 0; i < N_PAIRS; i++) {
        reqs[2 * i] = (rlaif_compare_req){prompts[i], kind[i], mean[i], 100 + i};
        reqs[2 * i + 1] = (rlaif_compare_req){prompts[i], mean[i], kind[i], 100 + i};
    }
    rlaif_compare_result ra[2 * N_PAIRS], rb[2 * N_PAIRS];
    char err[1024] = "";
    ck_assert_msg(a->vt->compare(a->self, 2 * N_PAIRS, reqs, ra, err, sizeof err) == RLAIF_OK,
                  "local: %s", err);
    ck_assert_msg(b->vt->compare(b->self, 2 * N_PAIRS, reqs, rb, err, sizeof err) == RLAIF_OK,
                  "http: %s", err);
    for (size_t i = 0; i < 2 * N_PAIRS; i++) {
        ck_assert_msg(fabs(ra[i].p_a - rb[i].p_a) < tol &&
                          fabs(ra[i].p_a_first - rb[i].p_a_first) < tol &&
                          fabs(ra[i].p_a_second - rb[i].p_a_second) < tol,
                      "pair %zu: llm p=%.9f (%.9f, %.9f), http p=%.9f (%.9f, %.9f)", i, ra[i].p_a,
                      ra[i].p_a_first, ra[i].p_a_second, rb[i].p_a, rb[i].p_a_first,
                      rb[i].p_a_second);
        ck_assert_str_eq(ra[i].principle_id, rb[i].principle_id);
        ck_assert(rb[i].p_a > 0 && rb[i].p_a < 1);
        if (getenv("SERVE_TEST_VERBOSE"))
            printf("pair %zu: llm %.9f http %.9f (%s)\n", i, ra[i].p_a, rb[i].p_a,
                   rb[i].principle_id);
    }
    /* Exact symmetry survives the trip over HTTP. */
    for (size_t i = 0; i < N_PAIRS; i++)
        ck_assert_msg(rb[2 * i].p_a == 1.0 - rb[2 * i + 1].p_a, "pair %zu: %.17g + %.17g != 1", i,
                      rb[2 * i].p_a, rb[2 * i + 1].p_a);
}

static void score_agree(labeler *a, labeler *b, double tol)
{
    rlaif_score_req reqs[2 * N_PAIRS];
    for (size_t i = 0; i < N_PAIRS; i++) {
        reqs[2 * i] = (rlaif_score_req){prompts[i], kind[i], 7 + i};
        reqs[2 * i + 1] = (rlaif_score_req){prompts[i], mean[i], 7 + i};
    }
    rlaif_score_result ra[2 * N_PAIRS], rb[2 * N_PAIRS];
    char err[1024] = "";
    ck_assert_msg(a->vt->score(a->self, 2 * N_PAIRS, reqs, ra, err, sizeof err) == RLAIF_OK,
                  "local: %s", err);
    ck_assert_msg(b->vt->score(b->self, 2 * N_PAIRS, reqs, rb, err, sizeof err) == RLAIF_OK,
                  "http: %s", err);
    for (size_t i = 0; i < 2 * N_PAIRS; i++) {
        ck_assert_msg(fabs(ra[i].score - rb[i].score) < tol, "response %zu: llm %.9f, http %.9f",
                      i, ra[i].score, rb[i].score);
        ck_assert_str_eq(ra[i].principle_id, rb[i].principle_id);
    }
}

/* ===== Agreement with labeler/llm ======================================= */

START_TEST(probe_mode_agrees_with_llm)
{
    rlc_instance *m = model_instance();
    labeler a = local_labeler(m, "\"constitution\": \"stories\", \"seed\": 3");
    labeler b = remote_labeler("\"constitution\": \"stories\", \"seed\": 3, \"method\": \"echo\", "
                               "\"concurrency\": 3");
    compare_agree(&a, &b, 1e-5);
    score_agree(&a, &b, 1e-5);
    ck_assert(stat_of(&b, "requests") > 0);
    ck_assert(stat_of(&b, "retries") == 0);
    rlc_instance_unref(b.in);
    rlc_instance_unref(a.in);
    rlc_instance_unref(m);
}
END_TEST

START_TEST(instruct_mode_agrees_with_llm_echo)
{
    rlc_instance *m = model_instance();
    labeler a = local_labeler(m, "\"constitution\": \"harmless\"");
    labeler b = remote_labeler("\"constitution\": \"harmless\", \"method\": \"echo\"");
    compare_agree(&a, &b, 1e-5);
    score_agree(&a, &b, 1e-5);
    rlc_instance_unref(b.in);
    rlc_instance_unref(a.in);
    rlc_instance_unref(m);
}
END_TEST

/* One generated token with its top alternatives: the choice labels "A" and
 * "B" are single tokens after "(", so every label is found and the values
 * are labeler/llm's next_logprobs ones. */
START_TEST(instruct_mode_agrees_with_llm_top_logprobs)
{
    rlc_instance *m = model_instance();
    labeler a = local_labeler(m, "\"constitution\": \"harmless\"");
    labeler b = remote_labeler("\"constitution\": \"harmless\", \"top_logprobs\": 512");
    compare_agree(&a, &b, 1e-5);
    ck_assert_msg(stat_of(&b, "labels_missing") == 0, "labels missing: %g",
                  stat_of(&b, "labels_missing"));
    rlc_instance_unref(b.in);
    rlc_instance_unref(a.in);
    rlc_instance_unref(m);
}
END_TEST

/* Greedy critique -> revision chains: labeler/llm's very texts. */
START_TEST(revise_agrees_with_llm)
{
    rlc_instance *m = model_instance();
    const char *opts = "\"constitution\": \"harmless\", \"max_new_tokens\": 24, "
                       "\"stop\": [\"\\n\\n\"]";
    labeler a = local_labeler(m, opts);
    labeler b = remote_labeler(opts);
    rlaif_revision ra[2], rb[2];
    char err[1024] = "";
    ck_assert_msg(a.vt->revise(a.self, prompts[1], mean[1], 2, 5, ra, err, sizeof err) == RLAIF_OK,
                  "local: %s", err);
    ck_assert_msg(b.vt->revise(b.self, prompts[1], mean[1], 2, 5, rb, err, sizeof err) == RLAIF_OK,
                  "http: %s", err);
    for (int r = 0; r < 2; r++) {
        ck_assert_str_eq(ra[r].principle_id, rb[r].principle_id);
        ck_assert_str_eq(ra[r].critique, rb[r].critique);
        ck_assert_str_eq(ra[r].revision, rb[r].revision);
    }
    ck_assert_msg(strlen(rb[0].critique) + strlen(rb[0].revision) > 0, "nothing generated");
    if (getenv("SERVE_TEST_VERBOSE"))
        printf("critique: %s\nrevision: %s\n", rb[0].critique, rb[0].revision);
    ck_assert(stat_of(&b, "revision_rounds") == 2);
    rlc_instance_unref(b.in);
    rlc_instance_unref(a.in);
    rlc_instance_unref(m);
}
END_TEST

/* Few alternatives: the labels fall outside them, and the echo fallback
 * asks again for exactly those contexts; the answers still agree. */
START_TEST(top_logprobs_with_echo_fallback_agrees_with_llm)
{
    rlc_instance *m = model_instance();
    labeler a = local_labeler(m, "\"constitution\": \"harmless\"");
    labeler b = remote_labeler("\"constitution\": \"harmless\", \"top_logprobs\": 2, "
                               "\"fallback\": \"echo\"");
    compare_agree(&a, &b, 1e-5);
    score_agree(&a, &b, 1e-5);
    ck_assert_msg(stat_of(&b, "labels_missing") > 0, "the fallback was never needed");
    rlc_instance_unref(b.in);
    rlc_instance_unref(a.in);
    rlc_instance_unref(m);
}
END_TEST

/* The chat endpoint: the server's own chat template (plain "role: content"
 * for this tokenizer), so only the shape of the answers is checked. */
START_TEST(chat_endpoint_gives_symmetric_probabilities)
{
    labeler b = remote_labeler("\"constitution\": \"harmless\", \"endpoint\": \"chat\", "
                               "\"top_logprobs\": 512");
    rlaif_compare_req reqs[2] = {{prompts[0], kind[0], mean[0], 1}, {prompts[0], mean[0], kind[0], 1}};
    rlaif_compare_result r[2];
    char err[1024] = "";
    ck_assert_msg(b.vt->compare(b.self, 2, reqs, r, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert(r[0].p_a > 0 && r[0].p_a < 1);
    ck_assert(r[0].p_a == 1.0 - r[1].p_a);
    ck_assert(stat_of(&b, "labels_missing") == 0);
    rlc_instance_unref(b.in);
}
END_TEST

/* ===== Errors =========================================================== */

static const char good_top[] =
    "{\"choices\": [{\"text\": \"A\", \"logprobs\": {\"top_logprobs\": "
    "[{\"A\": -0.25, \"B\": -1.75, \"C\": -4}]}}]}";

START_TEST(retries_with_backoff_then_succeeds)
{
    const int statuses[] = {503, 429, 200, 200};
    const char *const bodies[] = {"{\"error\": {\"message\": \"busy\"}}", "{}", good_top, good_top};
    st_fake f;
    ck_assert_int_eq(st_fake_start(&f, 4, statuses, bodies), 0);
    char cfg[512], err[1024] = "";
    snprintf(cfg, sizeof cfg, "{\"base_url\": \"http://127.0.0.1:%d/v1\", \"constitution\": "
             "\"harmless\", \"retries\": 3, \"backoff_ms\": 20, \"concurrency\": 1}", f.port);
    rlc_instance *in = make_labeler("http", cfg, err, sizeof err);
    ck_assert_msg(in != NULL, "%s", err);
    labeler b = wrap(in);
    rlaif_compare_req req = {"p", "first reply", "second reply", 0};
    rlaif_compare_result r;
    ck_assert_msg(b.vt->compare(b.self, 1, &req, &r, err, sizeof err) == RLAIF_OK, "%s", err);
    /* Both orders read l_A = -0.25, l_B = -1.75: the first shown wins with
     * σ(1.5) each time, so the average is exactly 1/2. */
    double s = 1.0 / (1.0 + exp(-1.5));
    ck_assert_msg(fabs(r.p_a_first - s) < 1e-12, "p_a_first %.17g", r.p_a_first);
    ck_assert_msg(fabs(r.p_a_second - (1 - s)) < 1e-12, "p_a_second %.17g", r.p_a_second);
    ck_assert(fabs(r.p_a - 0.5) < 1e-12);
    ck_assert(stat_of(&b, "retries") == 2);
    ck_assert(stat_of(&b, "requests") == 4);
    rlc_instance_unref(in);
    st_fake_stop(&f);
}
END_TEST

START_TEST(malformed_answers_name_the_json_path)
{
    const int statuses[] = {200, 200, 400};
    const char *const bodies[] = {"{\"choices\": [{\"text\": \"A\"}]}",
                                  "{\"choices\": [{\"logprobs\": {\"top_logprobs\": []}}]}",
                                  "{\"error\": {\"message\": \"'logprobs' is too large\"}}"};
    const char *const expect[] = {"$.choices[0].logprobs", "$.choices[0].logprobs.top_logprobs[0]",
                                  "HTTP 400"};
    for (int i = 0; i < 3; i++) {
        st_fake f;
        ck_assert_int_eq(st_fake_start(&f, 1, statuses + i, bodies + i), 0);
        char cfg[512], err[1024] = "";
        snprintf(cfg, sizeof cfg, "{\"base_url\": \"http://127.0.0.1:%d/v1/\", \"constitution\": "
                 "\"harmless\", \"retries\": 2, \"backoff_ms\": 1, \"concurrency\": 1}", f.port);
        rlc_instance *in = make_labeler("http", cfg, err, sizeof err);
        ck_assert_msg(in != NULL, "%s", err);
        labeler b = wrap(in);
        rlaif_score_req req = {"p", "a reply", 0};
        rlaif_score_result r;
        rlaif_status st = b.vt->score(b.self, 1, &req, &r, err, sizeof err);
        ck_assert_int_ne(st, RLAIF_OK);
        ck_assert_msg(strstr(err, expect[i]), "case %d: '%s' does not mention '%s'", i, err,
                      expect[i]);
        ck_assert_msg(strstr(err, "/v1/completions"), "no URL in '%s'", err);
        if (i == 2) ck_assert_msg(strstr(err, "too large"), "no server message in '%s'", err);
        rlc_instance_unref(in);
        st_fake_stop(&f);
    }
}
END_TEST

START_TEST(dead_server_fails_after_retries)
{
    /* A port that was free a moment ago: the fake closes before use. */
    st_fake f;
    const int statuses[] = {200};
    const char *const bodies[] = {"{}"};
    ck_assert_int_eq(st_fake_start(&f, 1, statuses, bodies), 0);
    int port = f.port;
    st_fake_stop(&f);
    char cfg[512], err[1024] = "";
    snprintf(cfg, sizeof cfg, "{\"base_url\": \"http://127.0.0.1:%d/v1\", \"constitution\": "
             "\"harmless\", \"retries\": 2, \"backoff_ms\": 5, \"timeout_ms\": 2000}", port);
    rlc_instance *in = make_labeler("http", cfg, err, sizeof err);
    ck_assert_msg(in != NULL, "%s", err);
    labeler b = wrap(in);
    rlaif_compare_req req = {"p", "x", "y", 0};
    rlaif_compare_result r;
    ck_assert_int_eq(b.vt->compare(b.self, 1, &req, &r, err, sizeof err), RLAIF_E_EXTERNAL);
    ck_assert_msg(strstr(err, "3 attempt(s)"), "%s", err);
    ck_assert(stat_of(&b, "retries") >= 2); /* the first order to fail for good ends the call */
    rlc_instance_unref(in);
}
END_TEST

/* A server started with --api-key-env answers 401 without the key (a
 * final answer, not retried) and serves a labeler that sends it. */
START_TEST(api_key_is_checked)
{
    setenv("RLAIF_TEST_SERVE_KEY", "s3cret-key", 1);
    st_server s;
    char msg[2048], err[1024] = "", cfg[512];
    const char *extra[] = {"--api-key-env", "RLAIF_TEST_SERVE_KEY", NULL};
    ck_assert_msg(st_server_start(&s, NULL, extra, msg, sizeof msg) == 0, "%s", msg);
    st_response r;
    ck_assert_int_eq(st_http(s.port, "GET", "/v1/models", NULL, &r), 0);
    ck_assert_int_eq(r.status, 401);
    st_response_free(&r);
    ck_assert_int_eq(st_http(s.port, "GET", "/health", NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    st_response_free(&r);
    const char *keys[3] = {"", ", \"api_key\": \"s3cret-kez\"",
                           ", \"api_key_env\": \"RLAIF_TEST_SERVE_KEY\""};
    for (int i = 0; i < 3; i++) {
        snprintf(cfg, sizeof cfg, "{\"base_url\": \"http://127.0.0.1:%d/v1\", \"constitution\": "
                 "\"harmless\", \"backoff_ms\": 1%s}", s.port, keys[i]);
        rlc_instance *in = make_labeler("http", cfg, err, sizeof err);
        ck_assert_msg(in != NULL, "%s", err);
        labeler b = wrap(in);
        rlaif_compare_req req = {"p", "a hug", "a kick", 0};
        rlaif_compare_result res;
        rlaif_status st = b.vt->compare(b.self, 1, &req, &res, err, sizeof err);
        if (i < 2) {
            ck_assert_int_eq(st, RLAIF_E_EXTERNAL);
            ck_assert_msg(strstr(err, "HTTP 401 after 1 attempt(s)"), "%s", err);
            ck_assert_msg(strstr(err, "API key"), "%s", err);
        } else {
            ck_assert_msg(st == RLAIF_OK, "%s", err);
            ck_assert(res.p_a > 0 && res.p_a < 1);
        }
        rlc_instance_unref(in);
    }
    ck_assert_int_eq(st_server_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(config_errors_name_the_key)
{
    const char *const cases[][2] = {
        {"{\"constitution\": \"harmless\"}", "base_url"},
        {"{\"base_url\": \"ftp://x\", \"constitution\": \"harmless\"}", "base_url"},
        {"{\"base_url\": \"http://x/v1\", \"constitution\": \"harmless\", \"endpoint\": \"chat\","
         " \"method\": \"echo\"}", "method"},
        {"{\"base_url\": \"http://x/v1\", \"constitution\": \"harmless\", \"endpoint\": \"chat\","
         " \"fallback\": \"echo\"}", "fallback"},
        {"{\"base_url\": \"http://x/v1\", \"constitution\": \"stories\"}", "echo"},
        {"{\"base_url\": \"http://x/v1\", \"constitution\": \"harmless\", \"retrys\": 2}", "retrys"},
        {"{\"base_url\": \"http://x/v1\", \"constitution\": \"harmless\", \"api_key_env\": "
         "\"RLAIF_TEST_SURELY_UNSET\"}", "RLAIF_TEST_SURELY_UNSET"},
        {"{\"base_url\": \"http://x/v1\"}", "constitution"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024] = "";
        rlc_instance *in = make_labeler("http", cases[i][0], err, sizeof err);
        ck_assert_msg(in == NULL, "case %zu was accepted", i);
        ck_assert_msg(strstr(err, cases[i][1]), "case %zu: '%s' does not name '%s'", i, err,
                      cases[i][1]);
    }
}
END_TEST

int main(void)
{
    int skip = st_init_labelers();
    if (skip) return skip;
    Suite *s = suite_create("serve-labeler");
    TCase *t = tcase_create("against-rlaif-serve");
    tcase_set_timeout(t, 300);
    tcase_add_unchecked_fixture(t, server_up, server_down);
    tcase_add_test(t, probe_mode_agrees_with_llm);
    tcase_add_test(t, instruct_mode_agrees_with_llm_echo);
    tcase_add_test(t, instruct_mode_agrees_with_llm_top_logprobs);
    tcase_add_test(t, top_logprobs_with_echo_fallback_agrees_with_llm);
    tcase_add_test(t, revise_agrees_with_llm);
    tcase_add_test(t, chat_endpoint_gives_symmetric_probabilities);
    suite_add_tcase(s, t);
    TCase *e = tcase_create("errors");
    tcase_set_timeout(e, 120);
    tcase_add_test(e, retries_with_backoff_then_succeeds);
    tcase_add_test(e, malformed_answers_name_the_json_path);
    tcase_add_test(e, dead_server_fails_after_retries);
    tcase_add_test(e, config_errors_name_the_key);
    tcase_add_test(e, api_key_is_checked);
    suite_add_tcase(s, e);
    return st_run_suite(s);
}
