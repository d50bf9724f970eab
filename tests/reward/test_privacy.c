/*
 * test_privacy.c — reward/privacy through the core API: entity-level
 * precision and recall on the hand-labelled dev and held-out sets (same
 * type, overlapping span), hard negatives and positives one by one, the
 * checksums, weights and the penalty cap, the details JSON, config
 * errors, and hostile input.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "reward_util.h"

static char err[4096];

static void setup(void) { rlc_init(NULL); }
static void teardown(void) { rlc_shutdown(); }

static void open_privacy(test_reward *r, const char *config)
{
    ck_assert_msg(test_reward_open(r, "privacy", config, err, sizeof err) == RLAIF_OK, "%s", err);
}

/* Scores one text; returns the reward and copies the details JSON. */
static float scan1(test_reward *r, const char *text, cJSON **spans_out)
{
    const char *texts[] = {text};
    const char *details[1] = {NULL};
    float reward = 1;
    ck_assert_msg(test_reward_score(r, 1, texts, &reward, NULL, details, err, sizeof err) ==
                      RLAIF_OK,
                  "%s", err);
    ck_assert_ptr_nonnull(details[0]);
    cJSON *root = cJSON_Parse(details[0]);
    ck_assert_msg(root != NULL, "details are not JSON: %s", details[0]);
    if (spans_out) *spans_out = root;
    else cJSON_Delete(root);
    return reward;
}

/* ===== Labelled sets ==================================================== */

typedef struct pr_counts {
    size_t tp_pred, n_pred, found_gold, n_gold, sentences;
} pr_counts;

static int same_type_overlap(const cJSON *a, const cJSON *b)
{
    const char *ta = cJSON_GetObjectItem(a, "type")->valuestring;
    const char *tb = cJSON_GetObjectItem(b, "type")->valuestring;
    double as = cJSON_GetObjectItem(a, "start")->valuedouble;
    double ae = cJSON_GetObjectItem(a, "end")->valuedouble;
    double bs = cJSON_GetObjectItem(b, "start")->valuedouble;
    double be = cJSON_GetObjectItem(b, "end")->valuedouble;
    return strcmp(ta, tb) == 0 && as < be && bs < ae;
}

/* Runs the plugin over a JSONL set, counting entity-level matches. */
static pr_counts evaluate_set(const char *file)
{
    char path[1024];
    char *text = test_read_file(test_data_path(file, path, sizeof path), NULL);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    cJSON *rows[1024];
    const char *texts[1024];
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        ck_assert_uint_lt(n, 1024);
        rows[n] = cJSON_Parse(line);
        ck_assert_msg(rows[n] != NULL, "%s: bad JSON line %zu", file, n + 1);
        texts[n] = cJSON_GetObjectItem(rows[n], "text")->valuestring;
        n++;
    }
    test_reward r;
    open_privacy(&r, "{}");
    float *rewards = calloc(n, sizeof *rewards);
    const char **details = calloc(n, sizeof *details);
    ck_assert_msg(test_reward_score(&r, n, texts, rewards, NULL, details, err, sizeof err) ==
                      RLAIF_OK,
                  "%s", err);
    pr_counts c = {0};
    c.sentences = n;
    for (size_t i = 0; i < n; i++) {
        cJSON *root = cJSON_Parse(details[i]);
        ck_assert_msg(root != NULL, "details are not JSON: %s", details[i]);
        cJSON *pred = cJSON_GetObjectItem(root, "spans");
        ck_assert_ptr_nonnull(pred);
        cJSON *gold = cJSON_GetObjectItem(rows[i], "entities");
        const cJSON *p, *g;
        cJSON_ArrayForEach(p, pred)
        {
            int ok = 0;
            cJSON_ArrayForEach(g, gold) ok |= same_type_overlap(p, g);
            c.n_pred++;
            c.tp_pred += (size_t)ok;
            if (!ok)
                printf("  false positive %s '%s': %s\n",
                       cJSON_GetObjectItem(p, "type")->valuestring,
                       cJSON_GetObjectItem(p, "text")->valuestring, texts[i]);
        }
        cJSON_ArrayForEach(g, gold)
        {
            int ok = 0;
            cJSON_ArrayForEach(p, pred) ok |= same_type_overlap(p, g);
            c.n_gold++;
            c.found_gold += (size_t)ok;
            if (!ok)
                printf("  missed %s: %s\n", cJSON_GetObjectItem(g, "type")->valuestring, texts[i]);
        }
        /* the reward is the capped sum of default weights: 0 iff nothing found */
        ck_assert((cJSON_GetArraySize(pred) == 0) == (rewards[i] == 0.0f));
        ck_assert(rewards[i] <= 0.0f && rewards[i] >= -1.0f);
        cJSON_Delete(root);
    }
    test_reward_close(&r);
    for (size_t i = 0; i < n; i++) cJSON_Delete(rows[i]);
    free(rewards);
    free(details);
    free(text);
    printf("%s: %zu sentences, precision %zu/%zu = %.4f, recall %zu/%zu = %.4f\n", file,
           c.sentences, c.tp_pred, c.n_pred, (double)c.tp_pred / (double)c.n_pred, c.found_gold,
           c.n_gold, (double)c.found_gold / (double)c.n_gold);
    return c;
}

START_TEST(test_heldout_precision_recall)
{
    pr_counts c = evaluate_set("privacy_labelled.jsonl");
    ck_assert_uint_ge(c.sentences, 120);
    ck_assert_msg((double)c.tp_pred / (double)c.n_pred >= 0.9, "precision below 0.9");
    ck_assert_msg((double)c.found_gold / (double)c.n_gold >= 0.9, "recall below 0.9");
}
END_TEST

START_TEST(test_dev_precision_recall)
{
    pr_counts c = evaluate_set("privacy_dev.jsonl");
    ck_assert_msg((double)c.tp_pred / (double)c.n_pred >= 0.9, "precision below 0.9");
    ck_assert_msg((double)c.found_gold / (double)c.n_gold >= 0.9, "recall below 0.9");
}
END_TEST

/* ===== One case at a time =============================================== */

/* The types found in `text`, as "type:text;" pairs in order. */
static void found_types(test_reward *r, const char *text, char *out, size_t len)
{
    cJSON *root;
    scan1(r, text, &root);
    out[0] = 0;
    const cJSON *sp;
    cJSON_ArrayForEach(sp, cJSON_GetObjectItem(root, "spans"))
    {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s:%s;", cJSON_GetObjectItem(sp, "type")->valuestring,
                 cJSON_GetObjectItem(sp, "text")->valuestring);
    }
    cJSON_Delete(root);
}

START_TEST(test_cases)
{
    test_reward r;
    open_privacy(&r, "{}");
    static const struct { const char *text, *want; } cases[] = {
        /* positives: type and exact text */
        {"mail bob.lee@example.com now", "email:bob.lee@example.com;"},
        {"call +44 20 7946 0958.", "phone:+44 20 7946 0958;"},
        {"call (555) 123-4567 today", "phone:(555) 123-4567;"},
        {"card 4111-1111-1111-1111 ok", "card:4111-1111-1111-1111;"},
        {"IBAN GB29 NWBK 6016 1331 9268 19.", "iban:GB29 NWBK 6016 1331 9268 19;"},
        {"from 192.0.2.1 and 2001:db8::ff00:42:8329",
         "ip:192.0.2.1;ip:2001:db8::ff00:42:8329;"},
        {"SSN 078-05-1120", "national_id:078-05-1120;"},
        {"NI QQ 12 34 56 A or AB123456C", "national_id:AB123456C;"},
        {"at 221B Baker Street, London NW1 6XE.", "address:221B Baker Street, London NW1 6XE;"},
        {"I am Dr. Amara Okafor.", "name:Amara Okafor;"},
        {"My name is Zbigniew.", "name:Zbigniew;"},
        {"I met Anna van der Berg today.", "name:Anna van der Berg;"},
        {"tail ::ffff:192.0.2.128 end", "ip:::ffff:192.0.2.128;"},
        {"full 2001:0db8:0000:0000:0000:ff00:0042:8329.", "ip:2001:0db8:0000:0000:0000:ff00:0042:8329;"},
        {"NI AB 12 34 56 C.", "national_id:AB 12 34 56 C;"},
        {"SIN 152 758 926 on file", "national_id:152 758 926;"},
        {"code K1A 0B1 in Ottawa", "address:K1A 0B1;"},
        {"Austin, TX 78701 is warm", "address:TX 78701;"},
        {"write to P.O. Box 77.", "address:P.O. Box 77;"},
        {"at Hauptstra\xc3\x9f" "e 5, 10115 Berlin.", "address:Hauptstra\xc3\x9f" "e 5, 10115 Berlin;"},
        {"at 1012 AB Amsterdam.", "address:1012 AB Amsterdam;"},
        {"visa 4049 4032 6991 0237 400.", "card:4049 4032 6991 0237 400;"},
        {"ring +44 (0)20 7946 0123 now", "phone:+44 (0)20 7946 0123;"},
        {"fax 555.867.5309 today", "phone:555.867.5309;"},
        {"Regards, Ingrid", "name:Ingrid;"},
        {"Rose said hello.", "name:Rose;"},
        {"I saw Will and Grace.", "name:Will;name:Grace;"},
        /* hard negatives: nothing at all */
        {"See you in May.", ""},
        {"Bill me later, please.", ""},
        {"Will you come?", ""},
        {"Apple and Amazon reported earnings.", ""},
        {"Upgrade to version 1.2.3.4 today.", ""},
        {"Released 2.4.1, then 10.0.0.1-beta.", ""},
        {"On 2024-01-31 at 10:30:15 we met.", ""},
        {"It costs $1,299.99.", ""},
        {"ISBN 978-3-16-148410-0.", ""},
        {"Luhn fails: 4111 1111 1111 1112.", ""},
        {"Bad IBAN GB28 NWBK 6016 1331 9268 19.", ""},
        {"SSNs 000-12-3456, 666-12-3456, 912-12-3456, 123-00-4567 are invalid.", ""},
        {"A dog named Max.", ""},
        {"We flew to Sydney.", ""},
        {"Victoria Station and Abbey Road.", ""},
        {"12:30 and 1:45 and 3.14159.", ""},
        {"Flight BA 2490 at 07:45, ISO 9001:2015, RFC 2616.", ""},
        {"Call of Duty 4 sold 1,000,000 copies (12.5%).", ""},
        {"From 9:00-17:00 on 31.12.2024 in rooms 12-14.", ""},
        {"In May and June the Jordan river floods.", ""},
        {"The Lincoln Memorial is in Washington.", ""},
        {"std::vector and a::b are C++.", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[1024];
        found_types(&r, cases[i].text, got, sizeof got);
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "'%s': found '%s', want '%s'",
                      cases[i].text, got, cases[i].want);
    }
    test_reward_close(&r);
}
END_TEST

/* ===== Penalty, weights, metrics ======================================== */

START_TEST(test_penalty_and_metrics)
{
    test_reward r;
    open_privacy(&r, "{\"weights\": {\"email\": 0.2, \"card\": 0.7}, \"max_penalty\": 5}");
    size_t nm = 0;
    int email = test_reward_metric(&r, "email", &nm);
    int card = test_reward_metric(&r, "card", NULL);
    ck_assert_uint_eq(nm, 8);
    ck_assert(email >= 0 && card >= 0 && test_reward_metric(&r, "national_id", NULL) >= 0);
    const char *texts[] = {"a@example.com, b@example.org and 4111 1111 1111 1111", "nothing here",
                           ""};
    float rewards[3], metrics[3 * 8];
    const char *details[3];
    ck_assert(test_reward_score(&r, 3, texts, rewards, metrics, details, err, sizeof err) ==
              RLAIF_OK);
    ck_assert_float_eq_tol(rewards[0], -(0.2f + 0.2f + 0.7f), 1e-6f);
    ck_assert_float_eq(metrics[email], 2.0f);
    ck_assert_float_eq(metrics[card], 1.0f);
    ck_assert_float_eq(rewards[1], 0.0f);
    ck_assert_float_eq(rewards[2], 0.0f);
    ck_assert_str_eq(details[1], "{\"spans\":[]}");
    test_reward_close(&r);

    /* the default cap: many cards cost at most 1 */
    open_privacy(&r, "{}");
    const char *many[] = {"4111 1111 1111 1111, 5500 0000 0000 0004, 3782 822463 10005"};
    ck_assert(test_reward_score(&r, 1, many, rewards, NULL, NULL, err, sizeof err) == RLAIF_OK);
    ck_assert_float_eq(rewards[0], -1.0f);
    test_reward_close(&r);

    /* only the types asked for */
    open_privacy(&r, "{\"types\": [\"email\"]}");
    char got[512];
    found_types(&r, "Anna Smith, anna@example.com, +44 20 7946 0958", got, sizeof got);
    ck_assert_str_eq(got, "email:anna@example.com;");
    test_reward_close(&r);
}
END_TEST

START_TEST(test_details_offsets_and_escaping)
{
    test_reward r;
    open_privacy(&r, "{}");
    const char *text = "\"Quote\"\n\tSofia Garc\xc3\xad" "a: sofia@example.com \\ 10.0.0.1";
    cJSON *root;
    scan1(&r, text, &root);
    const cJSON *sp;
    int n = 0;
    cJSON_ArrayForEach(sp, cJSON_GetObjectItem(root, "spans"))
    {
        size_t start = (size_t)cJSON_GetObjectItem(sp, "start")->valuedouble;
        size_t end = (size_t)cJSON_GetObjectItem(sp, "end")->valuedouble;
        const char *t = cJSON_GetObjectItem(sp, "text")->valuestring;
        ck_assert(end <= strlen(text) && start < end);
        ck_assert_uint_eq(strlen(t), end - start);
        ck_assert(memcmp(text + start, t, end - start) == 0);
        n++;
    }
    ck_assert_int_eq(n, 3); /* name, email, ip */
    cJSON_Delete(root);
    test_reward_close(&r);

    /* span_text false: offsets and types, no personal data in the details */
    open_privacy(&r, "{\"span_text\": false}");
    const char *texts[] = {"mail sofia@example.com"};
    const char *details[1];
    float reward;
    ck_assert(test_reward_score(&r, 1, texts, &reward, NULL, details, err, sizeof err) ==
              RLAIF_OK);
    ck_assert_str_eq(details[0], "{\"spans\":[{\"type\":\"email\",\"start\":5,\"end\":22}]}");
    test_reward_close(&r);
}
END_TEST

/* ===== Config errors ==================================================== */

START_TEST(test_config_errors)
{
    char bad_names[] = "/tmp/rlaif-names-XXXXXX";
    close(mkstemp(bad_names));
    FILE *f = fopen(bad_names, "w");
    fputs("first\tAnna\nmiddle\tLee\n", f);
    fclose(f);
    char names_cfg[256];
    snprintf(names_cfg, sizeof names_cfg, "{\"names\": \"%s\"}", bad_names);
    char where[300];
    snprintf(where, sizeof where, "%s:2:", bad_names);
    struct { const char *config, *needle; } bad[] = {
        {"{\"weights\": {\"emial\": 1}}", "unknown entity type 'emial'"},
        {"{\"weights\": {\"email\": -1}}", "'weights.email'"},
        {"{\"weights\": [1]}", "'weights'"},
        {"{\"types\": [\"email\", \"dna\"]}", "unknown entity type 'dna'"},
        {"{\"types\": \"email\"}", "'types'"},
        {"{\"max_penalty\": 0}", "'max_penalty'"},
        {"{\"detail\": true}", "unknown config key 'detail'"},
        {"{\"names\": \"/nonexistent/names.tsv\"}", "/nonexistent/names.tsv"},
        {names_cfg, where},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        test_reward r;
        err[0] = 0;
        ck_assert_msg(test_reward_open(&r, "privacy", bad[i].config, err, sizeof err) != RLAIF_OK,
                      "%s accepted", bad[i].config);
        ck_assert_msg(strstr(err, bad[i].needle) && strstr(err, "reward/privacy"), "%s: %s",
                      bad[i].config, err);
    }
    unlink(bad_names);
}
END_TEST

/* ===== Hostile input ==================================================== */

START_TEST(test_hostile_input)
{
    test_reward r;
    open_privacy(&r, "{}");
    size_t big = 1 << 20;
    char *s = malloc(big + 1);
    /* random bytes, digits runs, separators and capitals, NUL-terminated */
    uint64_t x = 88172645463325252ull;
    const char alphabet[] = "0123456789 .-:+()@ABZaz,\n\xc3\xa9";
    for (size_t i = 0; i < big; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s[i] = alphabet[x % (sizeof alphabet - 1)];
    }
    s[big] = 0;
    float reward;
    const char *details[1];
    const char *texts[] = {s};
    ck_assert(test_reward_score(&r, 1, texts, &reward, NULL, details, err, sizeof err) ==
              RLAIF_OK);
    ck_assert(reward >= -1.0f && reward <= 0.0f);
    cJSON *root = cJSON_Parse(details[0]);
    ck_assert_ptr_nonnull(root);
    cJSON_Delete(root);
    /* one endless digit run and one endless word */
    memset(s, '7', big);
    ck_assert(test_reward_score(&r, 1, texts, &reward, NULL, NULL, err, sizeof err) == RLAIF_OK);
    ck_assert_float_eq(reward, 0.0f);
    memset(s, 'A', big);
    ck_assert(test_reward_score(&r, 1, texts, &reward, NULL, NULL, err, sizeof err) == RLAIF_OK);
    free(s);
    test_reward_close(&r);
}
END_TEST

static Suite *privacy_suite(void)
{
    Suite *s = suite_create("reward/privacy");
    TCase *tc = tcase_create("privacy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_heldout_precision_recall);
    tcase_add_test(tc, test_dev_precision_recall);
    tcase_add_test(tc, test_cases);
    tcase_add_test(tc, test_penalty_and_metrics);
    tcase_add_test(tc, test_details_offsets_and_escaping);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_hostile_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(privacy_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
