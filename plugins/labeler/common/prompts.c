/* prompts.c — see prompts.h. */
#include "prompts.h"

#include <stdio.h>

#include "chat.h"
#include "ltemplate.h"

/* Renders template t with vars, appending to out; template errors cannot
 * happen after validation, but are still reported rather than trusted. */
static rlaif_status render(const lab_prompter *p, lab_tmpl t, const lab_var *vars, size_t n,
                           sbuf *out, char *err, size_t errlen)
{
    char msg[300];
    if (lab_template_render(out, lab_constitution_template(p->con, t), vars, n, msg, sizeof msg))
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "constitution '%s': template '%s': %s",
                            p->con->name, lab_template_key(t), msg);
    if (sbuf_failed(out)) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "out of memory");
    return RLAIF_OK;
}

/* chat(system, user) then the assistant prefix rendered from `answer`. */
static rlaif_status wrap(const lab_prompter *p, const sbuf *user, lab_tmpl answer, const lab_var *vars,
                         size_t n, sbuf *out, char *err, size_t errlen)
{
    char msg[300];
    if (lab_chat_render(out, p->chat, p->con->system, sbuf_str(user), msg, sizeof msg))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "chat template: %s", msg);
    return render(p, answer, vars, n, out, err, errlen);
}

/* The few-shot block: each example rendered with the `example` template. */
static rlaif_status examples_block(const lab_prompter *p, size_t j, sbuf *out, char *err, size_t errlen)
{
    const lab_constitution *c = p->con;
    for (size_t e = 0; e < c->n_examples; e++) {
        const lab_example *x = &c->examples[e];
        long pj = x->principle ? lab_constitution_find(c, x->principle) : (long)j;
        if (pj < 0) pj = (long)j;
        lab_var vars[] = {
            {"prompt", x->prompt},
            {"a", x->a},
            {"b", x->b},
            {"principle", c->principles[pj].comparison},
            {"choice_a", c->choices[0]},
            {"choice_b", c->choices[1]},
            {"answer", c->choices[x->preferred]},
            {"rationale", x->rationale ? x->rationale : ""},
        };
        rlaif_status st = render(p, LAB_T_EXAMPLE, vars, sizeof vars / sizeof vars[0], out, err,
                                 errlen);
        if (st) return st;
    }
    return RLAIF_OK;
}

rlaif_status lab_prompt_compare(const lab_prompter *p, size_t j, const char *prompt, const char *first,
                              const char *second, int cot, sbuf *out, char *err, size_t errlen)
{
    const lab_constitution *c = p->con;
    sbuf ex, user;
    sbuf_init(&ex);
    sbuf_init(&user);
    rlaif_status st = examples_block(p, j, &ex, err, errlen);
    lab_var vars[] = {
        {"prompt", prompt},          {"a", first},
        {"b", second},               {"principle", c->principles[j].comparison},
        {"examples", sbuf_str(&ex)}, {"choice_a", c->choices[0]},
        {"choice_b", c->choices[1]},
    };
    size_t nv = sizeof vars / sizeof vars[0];
    if (!st) st = render(p, cot ? LAB_T_COMPARE_COT : LAB_T_COMPARE, vars, nv, &user, err, errlen);
    if (!st) st = wrap(p, &user, cot ? LAB_T_COT_PREFIX : LAB_T_COMPARE_ANSWER, vars + 5, 2, out, err, errlen);
    sbuf_free(&ex);
    sbuf_free(&user);
    return st;
}

rlaif_status lab_prompt_cot_answer(const lab_prompter *p, sbuf *out, char *err, size_t errlen)
{
    lab_var vars[] = {{"choice_a", p->con->choices[0]}, {"choice_b", p->con->choices[1]}};
    return render(p, LAB_T_COT_ANSWER, vars, 2, out, err, errlen);
}

rlaif_status lab_prompt_score(const lab_prompter *p, size_t j, const char *prompt, const char *response,
                            sbuf *out, char *err, size_t errlen)
{
    char lo[16], hi[16];
    snprintf(lo, sizeof lo, "%d", p->con->score_min);
    snprintf(hi, sizeof hi, "%d", p->con->score_max);
    lab_var vars[] = {{"min", lo}, {"max", hi}, {"prompt", prompt}, {"response", response},
                      {"principle", p->con->principles[j].rubric}};
    sbuf user;
    sbuf_init(&user);
    rlaif_status st = render(p, LAB_T_SCORE, vars, 5, &user, err, errlen);
    if (!st) st = wrap(p, &user, LAB_T_SCORE_ANSWER, vars, 2, out, err, errlen);
    sbuf_free(&user);
    return st;
}

rlaif_status lab_prompt_score_label(const lab_prompter *p, int k, sbuf *out, char *err, size_t errlen)
{
    char num[16];
    snprintf(num, sizeof num, "%d", k);
    lab_var vars[] = {{"score", num}};
    return render(p, LAB_T_SCORE_LABEL, vars, 1, out, err, errlen);
}

rlaif_status lab_prompt_critique(const lab_prompter *p, size_t j, const char *prompt,
                               const char *response, sbuf *out, char *err, size_t errlen)
{
    lab_var vars[] = {{"prompt", prompt}, {"response", response},
                      {"principle", p->con->principles[j].critique_request}};
    sbuf user;
    sbuf_init(&user);
    rlaif_status st = render(p, LAB_T_CRITIQUE, vars, 3, &user, err, errlen);
    if (!st) st = wrap(p, &user, LAB_T_CRITIQUE_ANSWER, NULL, 0, out, err, errlen);
    sbuf_free(&user);
    return st;
}

rlaif_status lab_prompt_revision(const lab_prompter *p, size_t j, const char *prompt,
                               const char *response, const char *critique, sbuf *out,
                               char *err, size_t errlen)
{
    lab_var vars[] = {{"prompt", prompt},
                      {"response", response},
                      {"critique", critique},
                      {"principle", p->con->principles[j].revision_request}};
    sbuf user;
    sbuf_init(&user);
    rlaif_status st = render(p, LAB_T_REVISION, vars, 4, &user, err, errlen);
    if (!st) st = wrap(p, &user, LAB_T_REVISION_ANSWER, NULL, 0, out, err, errlen);
    sbuf_free(&user);
    return st;
}

rlaif_status lab_prompt_probe(const lab_prompter *p, const lab_probe *pr, const char *prompt,
                            const char *response, const char *variant, sbuf *out, char *err,
                            size_t errlen)
{
    lab_var vars[] = {{"prompt", prompt}, {"response", response}, {"probe", variant}};
    char msg[300];
    if (lab_template_render(out, pr->template_text, vars, 3, msg, sizeof msg))
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "constitution '%s': probe template: %s",
                            p->con->name, msg);
    if (sbuf_failed(out)) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "out of memory");
    return RLAIF_OK;
}
