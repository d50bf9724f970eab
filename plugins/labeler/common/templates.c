/*
 * templates.c — the prompt templates a constitution can override: their
 * JSON keys, the placeholders each accepts, and the built-in texts.
 *
 * The defaults are written for instruction-following models: a question
 * in the user turn, then an assistant prefix that ends right where the
 * choice token, score or generated text begins.
 */
#include <stddef.h>

#include "constitution.h"

typedef struct tmpl_spec {
    const char *key;
    const char *const *allowed;
    const char *const *required;
    const char *def;
} tmpl_spec;

static const char *const compare_vars[] = {"prompt", "a", "b", "principle", "examples",
                                           "choice_a", "choice_b", NULL};
static const char *const compare_req[] = {"a", "b", NULL};
static const char *const choice_vars[] = {"choice_a", "choice_b", NULL};
static const char *const example_vars[] = {"prompt", "a", "b", "principle", "choice_a",
                                           "choice_b", "answer", "rationale", NULL};
static const char *const example_req[] = {"answer", NULL};
static const char *const score_vars[] = {"prompt", "response", "principle", "min", "max", NULL};
static const char *const response_req[] = {"response", NULL};
static const char *const range_vars[] = {"min", "max", NULL};
static const char *const label_vars[] = {"score", NULL};
static const char *const critique_vars[] = {"prompt", "response", "principle", NULL};
static const char *const critique_req[] = {"response", "principle", NULL};
static const char *const revision_vars[] = {"prompt", "response", "critique", "principle",
                                            NULL};
static const char *const none[] = {NULL};

static const tmpl_spec specs[LAB_T_COUNT] = {
    [LAB_T_COMPARE] = {"compare", compare_vars, compare_req,
                       "{examples}Here is a request and two candidate replies.\n\n"
                       "Request: {prompt}\n\n"
                       "Reply ({choice_a}): {a}\n\n"
                       "Reply ({choice_b}): {b}\n\n"
                       "{principle}\n"
                       "Answer with ({choice_a}) or ({choice_b}) only."},
    [LAB_T_COMPARE_ANSWER] = {"compare_answer", choice_vars, none, "The better reply is ("},
    [LAB_T_COMPARE_COT] = {"compare_cot", compare_vars, compare_req,
                           "{examples}Here is a request and two candidate replies.\n\n"
                           "Request: {prompt}\n\n"
                           "Reply ({choice_a}): {a}\n\n"
                           "Reply ({choice_b}): {b}\n\n"
                           "{principle}\n"
                           "Reason about both replies briefly, then say which is better: "
                           "({choice_a}) or ({choice_b})."},
    [LAB_T_COT_PREFIX] = {"cot_prefix", none, none, "Reasoning:"},
    [LAB_T_COT_ANSWER] = {"cot_answer", choice_vars, none, "\nSo the better reply is ("},
    [LAB_T_EXAMPLE] = {"example", example_vars, example_req,
                       "Request: {prompt}\n"
                       "Reply ({choice_a}): {a}\n"
                       "Reply ({choice_b}): {b}\n"
                       "{principle}\n"
                       "The better reply is ({answer}).\n\n"},
    [LAB_T_SCORE] = {"score", score_vars, response_req,
                     "Here is a request and a reply.\n\n"
                     "Request: {prompt}\n\n"
                     "Reply: {response}\n\n"
                     "{principle}\n"
                     "Rate the reply with a whole number from {min} (worst) to {max} (best)."},
    [LAB_T_SCORE_ANSWER] = {"score_answer", range_vars, none, "Rating: "},
    [LAB_T_SCORE_LABEL] = {"score_label", label_vars, label_vars, "{score}"},
    [LAB_T_CRITIQUE] = {"critique", critique_vars, critique_req,
                        "Here is a request and a reply.\n\n"
                        "Request: {prompt}\n\n"
                        "Reply: {response}\n\n"
                        "{principle}"},
    [LAB_T_CRITIQUE_ANSWER] = {"critique_answer", none, none, "Critique:"},
    [LAB_T_REVISION] = {"revision", revision_vars, critique_req,
                        "Here is a request, a reply and a critique of the reply.\n\n"
                        "Request: {prompt}\n\n"
                        "Reply: {response}\n\n"
                        "Critique: {critique}\n\n"
                        "{principle}"},
    [LAB_T_REVISION_ANSWER] = {"revision_answer", none, none, "Revised reply:"},
};

const char *const lab_probe_allowed[] = {"prompt", "response", "probe", NULL};
const char *const lab_probe_required[] = {"response", "probe", NULL};

const char *lab_template_key(lab_tmpl t) { return t < LAB_T_COUNT ? specs[t].key : NULL; }

const char *const *lab_template_allowed(lab_tmpl t)
{
    return t < LAB_T_COUNT ? specs[t].allowed : none;
}

const char *const *lab_template_required(lab_tmpl t)
{
    return t < LAB_T_COUNT ? specs[t].required : none;
}

const char *lab_template_default(lab_tmpl t) { return t < LAB_T_COUNT ? specs[t].def : NULL; }
