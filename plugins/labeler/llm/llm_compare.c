/*
 * llm_compare.c — pairwise preferences p(a ≻ b).
 *
 * Instruct mode: the model reads the constitution's comparison question
 * with the two responses shown in both orders; each order gives
 * σ(l_first − l_second) from the log-likelihoods of the two choice labels,
 * and the orders are averaged (prefmath.h).  With `cot`, a greedy rationale
 * is generated first and the choice is read after it.
 *
 * Probe mode: each response gets a probe margin and p(a ≻ b) =
 * σ(scale·(margin(a) − margin(b))); no order is involved.
 *
 * Both modes evaluate each pair in its canonical order (the byte-wise
 * smaller response is "x") so that compare(a, b) = 1 − compare(b, a)
 * exactly (see lab_pair_combine).  Requests that ask the same canonical
 * question (same prompt, pair and principle, in either order) within one
 * call are evaluated once and share the model's numbers, so the equality
 * also holds inside a batch whose model is not batch-invariant.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "prefmath.h"

/* What one request needs beyond its text. */
typedef struct pair_plan {
    size_t principle;
    const char *prompt;
    const char *x, *y;   /* canonical order */
    int a_is_x;
    int tie;             /* a and b are the same text: p = 1/2, no model call */
    uint64_t key;        /* hash of (prompt, x, y, principle) */
    size_t same_as;      /* first request asking the same question, or NONE */
    size_t slot;         /* index among the evaluated questions */
} pair_plan;

#define NONE SIZE_MAX

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return (h ^ 0xFF) * 0x100000001B3ull; /* a separator, so ("ab","c") != ("a","bc") */
}

static int same_question(const pair_plan *p, const pair_plan *q)
{
    return p->key == q->key && p->principle == q->principle && strcmp(p->x, q->x) == 0 &&
           strcmp(p->y, q->y) == 0 && strcmp(p->prompt, q->prompt) == 0;
}

/* Draws principles, orders each pair canonically and links duplicates.
 * Returns the number of distinct questions that need the model. */
static size_t plan_pairs(llm_labeler *L, size_t n, const rlaif_compare_req *reqs, pair_plan *plan)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const rlaif_compare_req *r = &reqs[i];
        pair_plan *p = &plan[i];
        p->principle = llm_pick_principle(L, llm_request_seed(L, r->seed), 0);
        p->prompt = r->prompt;
        p->a_is_x = lab_canonical_first(r->a, r->b);
        p->x = p->a_is_x ? r->a : r->b;
        p->y = p->a_is_x ? r->b : r->a;
        p->tie = strcmp(r->a, r->b) == 0;
        p->key = fnv1a(fnv1a(fnv1a(0xCBF29CE484222325ull ^ p->principle, p->prompt), p->x), p->y);
        p->same_as = NONE;
        p->slot = NONE;
        if (p->tie) continue;
        for (size_t j = 0; j < i && p->same_as == NONE; j++)
            if (!plan[j].tie && plan[j].same_as == NONE && same_question(p, &plan[j])) p->same_as = j;
        p->slot = p->same_as == NONE ? m++ : plan[p->same_as].slot;
    }
    return m;
}

static void answer(llm_labeler *L, const pair_plan *pl, double px_first, double px_second,
                   int two_orders, rlaif_compare_result *res)
{
    lab_answer(L->con, L->clamp_hi, pl->principle, pl->a_is_x, px_first, px_second, two_orders,
               &L->tally, res);
}

static void free_texts(char **t, size_t n)
{
    for (size_t i = 0; t && i < n; i++) free(t[i]);
    free(t);
}

/* ===== Instruct mode ==================================================== */

/* Appends " rationale" and the answer prefix to each order's text. */
static rlaif_status add_rationales(llm_labeler *L, size_t m, char **texts, char **rationales,
                                   uint64_t seed, char *err, size_t errlen)
{
    lab_prompter pp = llm_prompter(L);
    rlaif_status st = llm_generate_text(L, m, (const char *const *)texts,
                                        L->max_rationale_tokens, 0.0f, seed, rationales, err,
                                        errlen);
    for (size_t k = 0; k < m && !st; k++) {
        sbuf b;
        sbuf_init(&b);
        sbuf_puts(&b, texts[k]);
        sbuf_puts(&b, " ");
        sbuf_puts(&b, rationales[k]);
        st = lab_prompt_cot_answer(&pp, &b, err, errlen);
        char *t = sbuf_take(&b);
        if (!st && !t) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
        if (st) {
            free(t);
            break;
        }
        free(texts[k]);
        texts[k] = t;
    }
    return st;
}

static rlaif_status compare_instruct(llm_labeler *L, size_t n, const rlaif_compare_req *reqs,
                                     const pair_plan *plan, rlaif_compare_result *results,
                                     char *err, size_t errlen)
{
    lab_prompter pp = llm_prompter(L);
    /* Two texts (x first, y first) per request that needs the model. */
    size_t *active = malloc(n * sizeof *active);
    char **texts = calloc(2 * n, sizeof *texts);
    char **rationales = calloc(2 * n, sizeof *rationales);
    double *ll = malloc(4 * n * sizeof *ll);
    rlaif_status st = RLAIF_OK;
    if (!active || !texts || !rationales || !ll)
        st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n && !st; i++) {
        if (plan[i].tie || plan[i].same_as != NONE) continue;
        for (int order = 0; order < 2 && !st; order++) {
            sbuf b;
            sbuf_init(&b);
            const char *first = order ? plan[i].y : plan[i].x;
            const char *second = order ? plan[i].x : plan[i].y;
            st = lab_prompt_compare(&pp, plan[i].principle, reqs[i].prompt, first, second, L->cot,
                                    &b, err, errlen);
            texts[2 * m + (size_t)order] = sbuf_take(&b);
            if (!st && !texts[2 * m + (size_t)order])
                st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
        }
        active[m++] = i;
    }
    /* Rationales are greedy, so the seed only matters to models that ignore
     * temperature 0; one stream per text keeps them independent anyway. */
    if (!st && L->cot && m)
        st = add_rationales(L, 2 * m, texts, rationales, llm_request_seed(L, reqs[active[0]].seed),
                            err, errlen);
    const char *labels[2] = {L->con->choices[0], L->con->choices[1]};
    if (!st) st = llm_label_loglik(L, 2 * m, (const char *const *)texts, 2, labels, ll, err, errlen);
    for (size_t i = 0; i < n && !st; i++) {
        if (plan[i].tie) continue;
        size_t k = plan[i].slot;
        double px_first, px_second;
        lab_pair_orders(ll + 4 * k, &px_first, &px_second);
        answer(L, &plan[i], px_first, px_second, 1, &results[i]);
        if (L->cot) {
            /* The rationale of the order in which `a` was shown first. */
            const char *r = rationales[2 * k + (plan[i].a_is_x ? 0 : 1)];
            results[i].rationale = llm_results_keep(L, strdup(r ? r : ""));
            if (!results[i].rationale)
                st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
        }
    }
    free(active);
    free_texts(texts, 2 * n);
    free_texts(rationales, 2 * n);
    free(ll);
    return st;
}

/* ===== Probe mode ======================================================= */

rlaif_status llm_text_loglik_cb(void *ctx, size_t n, const char *const *texts, double *out,
                                char *err, size_t errlen)
{
    return llm_text_loglik(ctx, n, texts, out, err, errlen);
}

static rlaif_status compare_probe(llm_labeler *L, size_t n, const rlaif_compare_req *reqs,
                                  const pair_plan *plan, rlaif_compare_result *results,
                                  char *err, size_t errlen)
{
    const char **prompts = malloc(2 * n * sizeof *prompts);
    const char **cands = malloc(2 * n * sizeof *cands);
    size_t *principle = malloc(2 * n * sizeof *principle);
    size_t *active = malloc(n * sizeof *active);
    double *margin = malloc(2 * n * sizeof *margin);
    rlaif_status st = RLAIF_OK;
    if (!prompts || !cands || !principle || !active || !margin)
        st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n && !st; i++) {
        if (plan[i].tie || plan[i].same_as != NONE) continue;
        for (int c = 0; c < 2; c++) {
            prompts[2 * m + (size_t)c] = reqs[i].prompt;
            cands[2 * m + (size_t)c] = c ? plan[i].y : plan[i].x;
            principle[2 * m + (size_t)c] = plan[i].principle;
        }
        active[m++] = i;
    }
    lab_prompter pp = llm_prompter(L);
    if (!st)
        st = lab_probe_margins(&pp, 2 * m, prompts, cands, principle, llm_text_loglik_cb, L, margin,
                               LLM_WHO, err, errlen);
    for (size_t i = 0; i < n && !st; i++) {
        if (plan[i].tie) continue;
        size_t k = plan[i].slot;
        double px = lab_probe_pair(L->con, plan[i].principle, margin[2 * k], margin[2 * k + 1]);
        answer(L, &plan[i], px, px, 0, &results[i]);
    }
    free(prompts);
    free(cands);
    free(principle);
    free(active);
    free(margin);
    return st;
}

/* ===== Entry ============================================================ */

rlaif_status llm_compare(void *self, size_t n, const rlaif_compare_req *reqs,
                         rlaif_compare_result *results, char *err, size_t errlen)
{
    llm_labeler *L = self;
    llm_results_reset(L);
    if (n == 0) return RLAIF_OK;
    for (size_t i = 0; i < n; i++) {
        if (!reqs[i].a || !reqs[i].b)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID, LLM_WHO ": compare %zu: a or b is NULL", i);
    }
    pair_plan *plan = malloc(n * sizeof *plan);
    if (!plan) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    /* A NULL prompt reads as empty. */
    int null_prompt = 0;
    for (size_t i = 0; i < n; i++) null_prompt |= reqs[i].prompt == NULL;
    rlaif_compare_req *fixed = NULL;
    if (null_prompt) {
        fixed = malloc(n * sizeof *fixed);
        if (!fixed) {
            free(plan);
            return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            fixed[i] = reqs[i];
            if (!fixed[i].prompt) fixed[i].prompt = "";
        }
        reqs = fixed;
    }
    plan_pairs(L, n, reqs, plan);
    /* Ties need no model: both orders are the same question. */
    for (size_t i = 0; i < n; i++)
        if (plan[i].tie) answer(L, &plan[i], 0.5, 0.5, 0, &results[i]);
    rlaif_status st = L->mode == LAB_MODE_PROBE
                          ? compare_probe(L, n, reqs, plan, results, err, errlen)
                          : compare_instruct(L, n, reqs, plan, results, err, errlen);
    free(fixed);
    free(plan);
    return st;
}
