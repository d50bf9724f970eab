/*
 * test_constitution.c — constitutions, templates and chat templates
 * (plugins/labeler/common), without any model.
 *
 *   - every constitution shipped in constitutions/ validates;
 *   - broken constitutions are rejected with the file and JSON path of the
 *     problem (exact messages);
 *   - templates render, escape braces and reject unknown placeholders;
 *   - chat templates render the documented formats;
 *   - principle draws are deterministic and follow the weights;
 *   - a mutation fuzz loop over the shipped files never crashes.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "constitution.h"
#include "ltemplate.h"

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    fclose(f);
    s[got] = 0;
    *len = got;
    return s;
}

static const char *src_dir(void)
{
    const char *d = getenv("RLAIF_SOURCE_DIR");
    ck_assert_msg(d != NULL, "RLAIF_SOURCE_DIR is not set");
    return d;
}

/* ===== Shipped constitutions ============================================ */

START_TEST(shipped_constitutions_validate)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/constitutions", src_dir());
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    const char *wanted[] = {"harmless", "helpful", "privacy", "stories", "code"};
    int found[5] = {0};
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        lab_constitution *c = NULL;
        char err[512];
        rlaif_status st = lab_constitution_load(path, &c, err, sizeof err);
        ck_assert_msg(st == RLAIF_OK, "%s", err);
        /* The file's name and its "name" agree, so lookups by name work. */
        ck_assert_int_eq(strncmp(e->d_name, c->name, n - 5), 0);
        ck_assert_uint_eq(strlen(c->name), n - 5);
        for (int i = 0; i < 5; i++)
            if (strcmp(c->name, wanted[i]) == 0) found[i] = 1;
        if (strcmp(c->name, "harmless") == 0) ck_assert_uint_ge(c->n_principles, 16);
        if (strcmp(c->name, "stories") == 0) {
            ck_assert_int_eq(c->mode, LAB_MODE_PROBE);
            for (size_t i = 0; i < c->n_principles; i++)
                ck_assert_ptr_nonnull(lab_constitution_probe(c, i));
        }
        lab_constitution_free(c);
        count++;
    }
    closedir(d);
    ck_assert_uint_ge(count, 5);
    for (int i = 0; i < 5; i++) ck_assert_msg(found[i], "constitution '%s' is missing", wanted[i]);
}
END_TEST

/* ===== Broken constitutions ============================================= */

/* A minimal valid constitution with one substitution applied. */
#define PRINCIPLE(id)                                                                       \
    "{\"id\": \"" id "\", \"critique_request\": \"c\", \"revision_request\": \"r\", "       \
    "\"comparison\": \"q\", \"rubric\": \"s\"}"

typedef struct broken_case {
    const char *json;
    const char *expected; /* the whole message */
} broken_case;

static const broken_case broken[] = {
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") ", " PRINCIPLE("b") ", " PRINCIPLE("c") ", "
     "{\"id\": \"d\", \"critique_request\": 3, \"revision_request\": \"r\", \"comparison\": \"q\", \"rubric\": \"s\"}]}",
     "constitutions/harmless.json: $.principles[3].critique_request: expected a string, got a number"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], "
     "\"templates\": {\"compare\": \"{a} vs {b} under {principel}\"}}",
     "constitutions/harmless.json: $.templates.compare: unknown placeholder {principel} at byte 17 "
     "(allowed here: {prompt}, {a}, {b}, {principle}, {examples}, {choice_a}, {choice_b})"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], "
     "\"templates\": {\"compare\": \"only {a}\"}}",
     "constitutions/harmless.json: $.templates.compare: missing placeholder {b}"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], "
     "\"templates\": {\"score\": \"rate {response} {\"}}",
     "constitutions/harmless.json: $.templates.score: '{' at byte 16 does not start a placeholder "
     "{name} (write '{{' for a literal brace)"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], "
     "\"templates\": {\"scor\": \"{response}\"}}",
     "constitutions/harmless.json: $.templates.scor: unknown key (known here: compare, "
     "compare_answer, compare_cot, cot_prefix, cot_answer, example, score, score_answer, "
     "score_label, critique, critique_answer, revision, revision_answer)"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principle\": []}",
     "constitutions/harmless.json: $.principle: unknown key (known here: name, description, "
     "system, chat_template, mode, choices, score_range, templates, principles, examples, probe)"},
    {"{\"name\": \"h\", \"description\": \"d\"}",
     "constitutions/harmless.json: $.principles: missing (expected a non-empty array of principles)"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": []}",
     "constitutions/harmless.json: $.principles: expected at least one principle"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") ", " PRINCIPLE("a") "]}",
     "constitutions/harmless.json: $.principles[1].id: duplicate id 'a' (also $.principles[0].id)"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], \"choices\": [\"X\", \"X\"]}",
     "constitutions/harmless.json: $.choices: the two choices must differ"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], \"choices\": [\"X\", 2]}",
     "constitutions/harmless.json: $.choices[1]: expected a string, got a number"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], \"score_range\": [5, 5]}",
     "constitutions/harmless.json: $.score_range: expected integers 0 <= min < max <= 100, got [5, 5]"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], "
     "\"examples\": [{\"prompt\": \"p\", \"a\": \"x\", \"b\": \"y\", \"preferred\": \"a\", \"principle\": \"zz\"}]}",
     "constitutions/harmless.json: $.examples[0].principle: no principle has the id 'zz'"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], "
     "\"examples\": [{\"prompt\": \"p\", \"a\": \"x\", \"b\": \"y\", \"preferred\": \"c\"}]}",
     "constitutions/harmless.json: $.examples[0].preferred: expected \"a\" or \"b\", got \"c\""},
    {"{\"name\": \"h\", \"description\": \"d\", \"mode\": \"probe\", \"principles\": [" PRINCIPLE("a") "]}",
     "constitutions/harmless.json: $.principles[0]: mode is \"probe\" but principle 'a' has no probe "
     "(and $.probe is absent)"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], "
     "\"probe\": {\"template\": \"{response}\", \"positive\": [\"x\"], \"negative\": [\"y\"]}}",
     "constitutions/harmless.json: $.probe.template: missing placeholder {probe}"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], "
     "\"probe\": {\"positive\": [], \"negative\": [\"y\"]}}",
     "constitutions/harmless.json: $.probe.positive: expected a non-empty array of strings, got an "
     "empty array"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], "
     "\"probe\": {\"positive\": [\"x\"], \"negative\": [\"y\"], \"scale\": -1}}",
     "constitutions/harmless.json: $.probe.scale: expected a number in (0, 100], got -1"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], \"chat_template\": \"chatlm\"}",
     "constitutions/harmless.json: $.chat_template: unknown chat template 'chatlm' (builtins: plain, "
     "chatml, llama2; a custom template must contain {user})"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], \"chat_template\": \"<s>{user}{assistant}\"}",
     "constitutions/harmless.json: $.chat_template: custom chat template: unknown placeholder "
     "{assistant} at byte 9 (allowed here: {system}, {user})"},
    {"{\"name\": \"h\", \"name\": \"h2\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "]}",
     "constitutions/harmless.json: $.name: duplicate key"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], \"mode\": \"chat\"}",
     "constitutions/harmless.json: $.mode: expected \"instruct\" or \"probe\", got \"chat\""},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [{\"id\": \"a b\"}]}",
     "constitutions/harmless.json: $.principles[0].id: 'a b' is not a valid id (letters, digits, '_', '-', '.')"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [{\"id\": \"a\", \"critique_request\": \"c\"}]}",
     "constitutions/harmless.json: $.principles[0].revision_request: missing (expected a string)"},
    {"{\"name\": \"h\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "], \"system\": 1}",
     "constitutions/harmless.json: $.system: expected a string, got a number"},
    {"{\"name\": \"h\",\n \"description\": \"d\",\n \"principles\": [,]}",
     "constitutions/harmless.json: $: invalid JSON near line 3, column 17"},
    {"[1, 2]", "constitutions/harmless.json: $: expected an object, got an array"},
};

START_TEST(broken_constitution_names_path)
{
    const broken_case *bc = &broken[_i];
    lab_constitution *c = NULL;
    char err[600];
    rlaif_status st = lab_constitution_parse(bc->json, strlen(bc->json),
                                             "constitutions/harmless.json", &c, err, sizeof err);
    ck_assert_int_eq(st, RLAIF_E_FORMAT);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err, bc->expected);
}
END_TEST

START_TEST(minimal_constitution_defaults)
{
    const char *json = "{\"name\": \"m\", \"description\": \"d\", \"principles\": [" PRINCIPLE("a") "]}";
    lab_constitution *c = NULL;
    char err[300];
    ck_assert_int_eq(lab_constitution_parse(json, strlen(json), "m.json", &c, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(c->choices[0], "A");
    ck_assert_str_eq(c->choices[1], "B");
    ck_assert_int_eq(c->score_min, 1);
    ck_assert_int_eq(c->score_max, 10);
    ck_assert_str_eq(c->chat_template, "plain");
    ck_assert_int_eq(c->mode, LAB_MODE_INSTRUCT);
    ck_assert_ptr_null(lab_constitution_probe(c, 0));
    for (int t = 0; t < LAB_T_COUNT; t++) {
        const char *text = lab_constitution_template(c, (lab_tmpl)t);
        ck_assert_str_eq(text, lab_template_default((lab_tmpl)t));
        /* Every default satisfies its own placeholder rules. */
        ck_assert_int_eq(lab_template_check(text, lab_template_allowed((lab_tmpl)t),
                                            lab_template_required((lab_tmpl)t), err, sizeof err), 0);
    }
    ck_assert_int_eq(lab_constitution_find(c, "a"), 0);
    ck_assert_int_eq(lab_constitution_find(c, "zz"), -1);
    lab_constitution_free(c);
}
END_TEST

START_TEST(missing_file_is_io_error)
{
    lab_constitution *c = NULL;
    char err[300];
    ck_assert_int_eq(lab_constitution_load("/nonexistent/x.json", &c, err, sizeof err), RLAIF_E_IO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.json: cannot open"));
}
END_TEST

/* ===== Templates and chat =============================================== */

START_TEST(template_render_and_escape)
{
    static const char *const allowed[] = {"a", "b", NULL};
    char msg[200];
    ck_assert_int_eq(lab_template_check("{{literal}} {a}}} x {b}", allowed, allowed, msg, sizeof msg), 0);
    sbuf out;
    sbuf_init(&out);
    lab_var vars[] = {{"a", "ONE{b}"}, {"b", "TWO"}};
    ck_assert_int_eq(lab_template_render(&out, "{{literal}} {a}}} x {b}", vars, 2, msg, sizeof msg), 0);
    /* Values are not re-parsed: "{b}" inside a value stays as is. */
    ck_assert_str_eq(sbuf_str(&out), "{literal} ONE{b}} x TWO");
    sbuf_clear(&out);
    ck_assert_int_eq(lab_template_render(&out, "{c}", vars, 2, msg, sizeof msg), -1);
    ck_assert_str_eq(msg, "placeholder {c} at byte 0 has no value here");
    ck_assert_int_eq(lab_template_check("x } y", allowed, NULL, msg, sizeof msg), -1);
    ck_assert_str_eq(msg, "stray '}' at byte 2 (write '}}' for a literal brace)");
    ck_assert_int_eq(lab_template_check("x {a", allowed, NULL, msg, sizeof msg), -1);
    ck_assert_str_eq(msg, "unclosed placeholder at byte 2: expected '}' after {a");
    sbuf_free(&out);
}
END_TEST

START_TEST(chat_templates_render)
{
    char msg[300];
    sbuf out;
    sbuf_init(&out);
    ck_assert_int_eq(lab_chat_render(&out, "chatml", "S", "U", msg, sizeof msg), 0);
    ck_assert_str_eq(sbuf_str(&out), "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
                                     "<|im_start|>assistant\n");
    sbuf_clear(&out);
    ck_assert_int_eq(lab_chat_render(&out, "chatml", NULL, "U", msg, sizeof msg), 0);
    ck_assert_str_eq(sbuf_str(&out), "<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
    sbuf_clear(&out);
    ck_assert_int_eq(lab_chat_render(&out, "llama2", "S", "U", msg, sizeof msg), 0);
    ck_assert_str_eq(sbuf_str(&out), "[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST] ");
    sbuf_clear(&out);
    ck_assert_int_eq(lab_chat_render(&out, "plain", "", "U", msg, sizeof msg), 0);
    ck_assert_str_eq(sbuf_str(&out), "U\n\n");
    sbuf_clear(&out);
    ck_assert_int_eq(lab_chat_render(&out, "### Sys: {system}\n### User: {user}\n### Bot:", "S", "U", msg, sizeof msg), 0);
    ck_assert_str_eq(sbuf_str(&out), "### Sys: S\n### User: U\n### Bot:");
    ck_assert_str_eq(lab_chat_stop("chatml"), "<|im_end|>");
    ck_assert_ptr_null(lab_chat_stop("plain"));
    ck_assert_int_eq(lab_chat_check("nope", msg, sizeof msg), -1);
    sbuf_free(&out);
}
END_TEST

/* ===== Principle draws ================================================== */

START_TEST(principle_pick_deterministic_and_weighted)
{
    const char *json = "{\"name\": \"w\", \"description\": \"d\", \"principles\": ["
                       "{\"id\": \"heavy\", \"critique_request\": \"c\", \"revision_request\": \"r\", "
                       "\"comparison\": \"q\", \"rubric\": \"s\", \"weight\": 3}, " PRINCIPLE("light") "]}";
    lab_constitution *c = NULL;
    char err[300];
    ck_assert_int_eq(lab_constitution_parse(json, strlen(json), "w.json", &c, err, sizeof err), RLAIF_OK);
    size_t heavy = 0, n = 20000;
    for (uint64_t s = 0; s < n; s++) {
        size_t j = lab_constitution_pick(c, s, NULL, 0);
        ck_assert_uint_eq(j, lab_constitution_pick(c, s, NULL, 0));
        heavy += j == 0;
    }
    /* Expected 3/4; binomial sd ~ 0.003, allow 5 sd. */
    double f = (double)heavy / (double)n;
    ck_assert_msg(f > 0.735 && f < 0.765, "heavy drawn %.4f of the time", f);
    size_t only[] = {1};
    for (uint64_t s = 0; s < 100; s++) ck_assert_uint_eq(lab_constitution_pick(c, s, only, 1), 1);
    lab_constitution_free(c);
}
END_TEST

/* ===== Mutation fuzzing ================================================= */

static uint64_t rng(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

START_TEST(fuzz_mutations_never_crash)
{
    const char *names[] = {"harmless", "stories", "code"};
    uint64_t s = 12345;
    size_t accepted = 0, rejected = 0;
    for (int f = 0; f < 3; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/constitutions/%s.json", src_dir(), names[f]);
        size_t len = 0;
        char *text = read_text(path, &len);
        ck_assert_ptr_nonnull(text);
        char *m = malloc(len + 1);
        for (int it = 0; it < 300; it++) {
            memcpy(m, text, len + 1);
            size_t mlen = len;
            int kind = (int)(rng(&s) % 3);
            if (kind == 0) { /* flip a few bytes */
                for (int k = 0; k < 3; k++) m[rng(&s) % len] = (char)(rng(&s) % 127 + 1);
            } else if (kind == 1) { /* truncate */
                mlen = rng(&s) % len;
                m[mlen] = 0;
            } else { /* turn a quote or brace into a brace inside a string */
                for (int k = 0; k < 5; k++) {
                    size_t at = rng(&s) % len;
                    if (m[at] == ' ') m[at] = (char)("{}\"[]"[rng(&s) % 5]);
                }
            }
            lab_constitution *c = NULL;
            char err[600];
            rlaif_status st = lab_constitution_parse(m, mlen, "fuzz.json", &c, err, sizeof err);
            if (st == RLAIF_OK) {
                accepted++;
                lab_constitution_free(c);
            } else {
                rejected++;
                ck_assert_int_eq(st, RLAIF_E_FORMAT);
                ck_assert_int_eq(strncmp(err, "fuzz.json: $", 12), 0);
            }
        }
        free(m);
        free(text);
    }
    ck_assert_uint_gt(rejected, 0);
    ck_assert_uint_eq(accepted + rejected, 900);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("constitution");
    TCase *t = tcase_create("all");
    tcase_add_test(t, shipped_constitutions_validate);
    tcase_add_loop_test(t, broken_constitution_names_path, 0, (int)(sizeof broken / sizeof broken[0]));
    tcase_add_test(t, minimal_constitution_defaults);
    tcase_add_test(t, missing_file_is_io_error);
    tcase_add_test(t, template_render_and_escape);
    tcase_add_test(t, chat_templates_render);
    tcase_add_test(t, principle_pick_deterministic_and_weighted);
    tcase_add_test(t, fuzz_mutations_never_crash);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
