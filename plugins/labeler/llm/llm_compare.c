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

/* A request: its canonical pair and the links between duplicates. */
typedef struct pair_plan {
    lab_pair q;          /* principle, prompt, canonical x and y, tie */
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
    return p->key == q->key && p->q.principle == q->q.principle && strcmp(p->q.x, q->q.x) == 0 &&
           strcmp(p->q.y, q->q.y) == 0 && strcmp(p->q.prompt, q->q.prompt) == 0;
}

/* Draws principles, orders each pair canonically and links duplicates.
 * Returns the number of distinct questions that need the model. */
static size_t plan_pairs(llm_labeler *L, size_t n, const rlaif_compare_req *reqs, pair_plan *plan)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        pair_plan *p = &plan[i];
        lab_pair_plan(L->con, L->subset, L->n_subset, L->seed, &reqs[i], &p->q);
        p->key = fnv1a(fnv1a(fnv1a(0xCBF29CE484222325ull ^ p->q.principle, p->q.prompt), p->q.x),
                       p->q.y);
        p->same_as = NONE;
        p->slot = NONE;
        if (p->q.tie) continue;
        for (size_t j = 0; j < i && p->same_as == NONE; j++)
            if (!plan[j].q.tie && plan[j].same_as == NONE && same_question(p, &plan[j]))
                p->same_as = j;
        p->slot = p->same_as == NONE ? m++ : plan[p->same_as].slot;
    }
    return m;
}

static void answer(llm_labeler *L, const pair_plan *pl, double px_first, double px_second,
                   int two_orders, rlaif_compare_result *res)
{
    lab_answer(L->con, L->clamp_hi, &pl->q, px_first, px_second, two_orders, &L->tally, res);
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
        if (plan[i].q.tie || plan[i].same_as != NONE) continue;
        for (int order = 0; order < 2 && !st; order++) {
            sbuf b;
            sbuf_init(&b);
            const lab_pair *q = &plan[i].q;
            const char *first = order ? q->y : q->x;
            const char *second = order ? q->x : q->y;
            st = lab_prompt_compare(&pp, q->principle, q->prompt, first, second, L->cot, &b, err,
                                    errlen);
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
        if (plan[i].q.tie) continue;
        size_t k = plan[i].slot;
        double px_first, px_second;
        lab_pair_orders(ll + 4 * k, &px_first, &px_second);
        answer(L, &plan[i], px_first, px_second, 1, &results[i]);
        if (L->cot) {
            /* The rationale of the order in which `a` was shown first. */
            const char *r = rationales[2 * k + (plan[i].q.a_is_x ? 0 : 1)];
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

static rlaif_status compare_probe(llm_labeler *L, size_t n, const pair_plan *plan,
                                  rlaif_compare_result *results, char *err, size_t errlen)
{
    /* The distinct questions, in slot order. */
    const lab_pair **q = calloc(n, sizeof *q);
    double *px = malloc(n * sizeof *px);
    rlaif_status st = RLAIF_OK;
    if (!q || !px) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n && !st; i++)
        if (!plan[i].q.tie && plan[i].same_as == NONE) q[m++] = &plan[i].q;
    lab_prompter pp = llm_prompter(L);
    if (!st) st = lab_probe_pairs(&pp, m, q, llm_text_loglik_cb, L, px, LLM_WHO, err, errlen);
    for (size_t i = 0; i < n && !st; i++) {
        if (plan[i].q.tie) continue;
        size_t k = plan[i].slot;
        answer(L, &plan[i], px[k], px[k], 0, &results[i]);
    }
    free(q);
    free(px);
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
    /* A NULL prompt reads as empty (lab_pair_plan). */
    plan_pairs(L, n, reqs, plan);
    /* Ties need no model: both orders are the same question. */
    for (size_t i = 0; i < n; i++)
        if (plan[i].q.tie) answer(L, &plan[i], 0.5, 0.5, 0, &results[i]);
    rlaif_status st = L->mode == LAB_MODE_PROBE
                          ? compare_probe(L, n, plan, results, err, errlen)
                          : compare_instruct(L, n, reqs, plan, results, err, errlen);
    free(plan);
    return st;
}
