/*
 * test_prompts.c — the model inputs the labelers build from a constitution
 * (plugins/labeler/common/prompts.c), checked as exact strings: the user
 * message from the template, the few-shot block, the chat wrapping and the
 * assistant prefix.  No model is involved.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "prompts.h"

static const char *const con_json =
    "{\"name\": \"p\", \"description\": \"d\", \"system\": \"SYS\", \"chat_template\": \"chatml\", "
    "\"choices\": [\"1\", \"2\"], \"score_range\": [0, 4], "
    "\"templates\": {\"compare\": \"{examples}Q: {principle}\\n[{choice_a}] {a}\\n[{choice_b}] {b}\\nP: {prompt}\", "
    "\"compare_answer\": \"Pick: \", \"example\": \"<{prompt}|{a}|{b}|{principle}|{answer}|{rationale}>\\n\", "
    "\"score_label\": \"{score}/4\", \"cot_answer\": \" so: {{{choice_a}/{choice_b}}}\"}, "
    "\"principles\": [{\"id\": \"x\", \"comparison\": \"better?\", \"critique_request\": \"find flaws\", "
    "\"revision_request\": \"fix them\", \"rubric\": \"how good?\"}, "
    "{\"id\": \"y\", \"comparison\": \"kinder?\", \"critique_request\": \"c\", \"revision_request\": \"r\", "
    "\"rubric\": \"s\"}], "
    "\"examples\": [{\"prompt\": \"ep\", \"a\": \"ea\", \"b\": \"eb\", \"preferred\": \"b\", \"principle\": \"y\", "
    "\"rationale\": \"because\"}, {\"prompt\": \"\", \"a\": \"fa\", \"b\": \"fb\", \"preferred\": \"a\"}], "
    "\"probe\": {\"template\": \"{probe}{prompt}{response}\", \"positive\": [\"+\"], \"negative\": [\"-\"]}}";

static lab_constitution *load(void)
{
    lab_constitution *c = NULL;
    char err[512];
    ck_assert_msg(lab_constitution_parse(con_json, strlen(con_json), "p.json", &c, err, sizeof err) == RLAIF_OK,
                  "%s", err);
    return c;
}

START_TEST(compare_text_with_examples)
{
    lab_constitution *c = load();
    lab_prompter P = {c, c->chat_template};
    sbuf out;
    sbuf_init(&out);
    char err[300];
    ck_assert_int_eq(lab_prompt_compare(&P, 0, "the prompt", "first", "second", 0, &out, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(sbuf_str(&out),
                     "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\n"
                     "<ep|ea|eb|kinder?|2|because>\n<|fa|fb|better?|1|>\n"
                     "Q: better?\n[1] first\n[2] second\nP: the prompt<|im_end|>\n"
                     "<|im_start|>assistant\nPick: ");
    sbuf_clear(&out);
    ck_assert_int_eq(lab_prompt_cot_answer(&P, &out, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(sbuf_str(&out), " so: {1/2}");
    sbuf_free(&out);
    lab_constitution_free(c);
}
END_TEST

START_TEST(score_critique_revision_probe_texts)
{
    lab_constitution *c = load();
    lab_prompter P = {c, "plain"};
    sbuf out;
    sbuf_init(&out);
    char err[300];
    ck_assert_int_eq(lab_prompt_score_label(&P, 3, &out, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(sbuf_str(&out), "3/4");
    sbuf_clear(&out);
    ck_assert_int_eq(lab_prompt_score(&P, 1, "pp", "rr", &out, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(sbuf_str(&out),
                     "SYS\n\nHere is a request and a reply.\n\nRequest: pp\n\nReply: rr\n\n"
                     "s\nRate the reply with a whole number from 0 (worst) to 4 (best).\n\nRating: ");
    sbuf_clear(&out);
    ck_assert_int_eq(lab_prompt_critique(&P, 0, "pp", "rr", &out, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(sbuf_str(&out),
                     "SYS\n\nHere is a request and a reply.\n\nRequest: pp\n\nReply: rr\n\nfind flaws\n\nCritique:");
    sbuf_clear(&out);
    ck_assert_int_eq(lab_prompt_revision(&P, 0, "pp", "rr", "too short", &out, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(sbuf_str(&out),
                     "SYS\n\nHere is a request, a reply and a critique of the reply.\n\nRequest: pp\n\n"
                     "Reply: rr\n\nCritique: too short\n\nfix them\n\nRevised reply:");
    sbuf_clear(&out);
    ck_assert_int_eq(lab_prompt_probe(&P, c->probe, "Once.", " A story.", "+", &out, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(sbuf_str(&out), "+Once. A story.");
    sbuf_free(&out);
    lab_constitution_free(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("labeler-prompts");
    TCase *t = tcase_create("all");
    tcase_add_test(t, compare_text_with_examples);
    tcase_add_test(t, score_critique_revision_probe_texts);
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
