/* ljudge.c — see ljudge.h; the formulas are prefmath.h's. */
#include "ljudge.h"

#include <stdlib.h>
#include <string.h>

#include "ldraw.h"
#include "prefmath.h"
#include "sbuf.h"

void lab_tally_stats(const lab_tally *t, uint64_t n_rounds, rlaif_stat *out)
{
    double two = (double)t->n_two_order;
    out[0] = (rlaif_stat){"comparisons", (double)t->n_compare};
    out[1] = (rlaif_stat){"position_bias", two > 0 ? (double)t->n_disagree / two : 0.0};
    out[2] = (rlaif_stat){"first_shown_wins", two > 0 ? (double)t->n_first_wins / (2 * two) : 0.0};
    out[3] = (rlaif_stat){"scores", (double)t->n_score};
    out[4] = (rlaif_stat){"revision_rounds", (double)n_rounds};
}

void lab_pair_plan(const lab_constitution *con, const size_t *subset, size_t n_subset,
                   uint64_t config_seed, const rlaif_compare_req *r, lab_pair *p)
{
    p->principle =
        lab_draw_principle(con, subset, n_subset, lab_request_seed(config_seed, r->seed), 0);
    p->prompt = r->prompt ? r->prompt : "";
    p->a_is_x = lab_canonical_first(r->a, r->b);
    p->x = p->a_is_x ? r->a : r->b;
    p->y = p->a_is_x ? r->b : r->a;
    p->tie = strcmp(r->a, r->b) == 0;
}

void lab_answer(const lab_constitution *con, double clamp_hi, const lab_pair *p,
                double px_first, double px_second, int two_orders, lab_tally *t,
                rlaif_compare_result *res)
{
    lab_pair_result pr;
    lab_pair_combine(px_first, px_second, p->a_is_x, clamp_hi, &pr);
    res->p_a = pr.p_a;
    res->p_a_first = pr.p_a_first;
    res->p_a_second = pr.p_a_second;
    res->principle_id = con->principles[p->principle].id;
    res->rationale = NULL;
    t->n_compare++;
    if (two_orders) {
        t->n_two_order++;
        t->n_disagree += (uint64_t)pr.orders_disagree;
        t->n_first_wins += (uint64_t)(px_first > 0.5) + (uint64_t)(px_second < 0.5);
    }
}

void lab_pair_orders(const double *ll, double *px_first, double *px_second)
{
    *px_first = lab_softmax2(ll[0], ll[1]);  /* x shown as the first choice */
    *px_second = lab_softmax2(ll[3], ll[2]); /* x shown as the second choice */
}

double lab_probe_pair(const lab_constitution *con, size_t principle, double margin_x,
                      double margin_y)
{
    double scale = lab_constitution_probe(con, principle)->scale;
    return lab_sigmoid(scale * (margin_x - margin_y));
}

static rlaif_status nomem(const char *who, char *err, size_t errlen)
{
    return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", who);
}

rlaif_status lab_probe_margins(const lab_prompter *pp, size_t n, const char *const *prompts,
                               const char *const *responses, const size_t *principle,
                               lab_text_loglik_fn loglik, void *ctx, double *margin,
                               const char *who, char *err, size_t errlen)
{
    const lab_constitution *con = pp->con;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const lab_probe *pr = lab_constitution_probe(con, principle[i]);
        total += pr->n_positive + pr->n_negative;
    }
    char **texts = calloc(total ? total : 1, sizeof *texts);
    double *ll = malloc((total ? total : 1) * sizeof *ll);
    rlaif_status st = texts && ll ? RLAIF_OK : nomem(who, err, errlen);
    size_t q = 0;
    for (size_t i = 0; i < n && !st; i++) {
        const lab_probe *pr = lab_constitution_probe(con, principle[i]);
        for (size_t v = 0; v < pr->n_positive + pr->n_negative && !st; v++) {
            const char *variant = v < pr->n_positive ? pr->positive[v]
                                                     : pr->negative[v - pr->n_positive];
            sbuf b;
            sbuf_init(&b);
            st = lab_prompt_probe(pp, pr, prompts[i], responses[i], variant, &b, err, errlen);
            texts[q] = sbuf_take(&b);
            if (!st && !texts[q]) st = nomem(who, err, errlen);
            q++;
        }
    }
    if (!st) st = loglik(ctx, total, (const char *const *)texts, ll, err, errlen);
    q = 0;
    for (size_t i = 0; i < n && !st; i++) {
        const lab_probe *pr = lab_constitution_probe(con, principle[i]);
        margin[i] = lab_probe_margin(ll + q, pr->n_positive, ll + q + pr->n_positive,
                                     pr->n_negative);
        q += pr->n_positive + pr->n_negative;
    }
    for (size_t i = 0; texts && i < total; i++) free(texts[i]);
    free(texts);
    free(ll);
    return st;
}

rlaif_status lab_probe_pairs(const lab_prompter *pp, size_t m, const lab_pair *const *pairs,
                             lab_text_loglik_fn loglik, void *ctx, double *px, const char *who,
                             char *err, size_t errlen)
{
    /* Two candidates (x, y) per pair. */
    const char **prompts = calloc(2 * m + 1, sizeof *prompts);
    const char **cands = calloc(2 * m + 1, sizeof *cands);
    size_t *principle = calloc(2 * m + 1, sizeof *principle);
    double *margin = malloc((2 * m + 1) * sizeof *margin);
    rlaif_status st = prompts && cands && principle && margin ? RLAIF_OK : nomem(who, err, errlen);
    for (size_t k = 0; k < m && !st; k++)
        for (int c = 0; c < 2; c++) {
            prompts[2 * k + (size_t)c] = pairs[k]->prompt;
            cands[2 * k + (size_t)c] = c ? pairs[k]->y : pairs[k]->x;
            principle[2 * k + (size_t)c] = pairs[k]->principle;
        }
    if (!st)
        st = lab_probe_margins(pp, 2 * m, prompts, cands, principle, loglik, ctx, margin, who, err,
                               errlen);
    for (size_t k = 0; k < m && !st; k++)
        px[k] = lab_probe_pair(pp->con, pairs[k]->principle, margin[2 * k], margin[2 * k + 1]);
    free(prompts);
    free(cands);
    free(principle);
    free(margin);
    return st;
}

rlaif_status lab_score_probe(const lab_prompter *pp, size_t n, const rlaif_score_req *reqs,
                             const size_t *principle, lab_text_loglik_fn loglik, void *ctx,
                             rlaif_score_result *results, const char *who, char *err,
                             size_t errlen)
{
    const char **prompts = calloc(n, sizeof *prompts);
    const char **resp = calloc(n, sizeof *resp);
    double *margin = malloc(n * sizeof *margin);
    rlaif_status st = prompts && resp && margin ? RLAIF_OK : nomem(who, err, errlen);
    for (size_t i = 0; i < n && !st; i++) {
        prompts[i] = reqs[i].prompt ? reqs[i].prompt : "";
        resp[i] = reqs[i].response;
    }
    if (!st)
        st = lab_probe_margins(pp, n, prompts, resp, principle, loglik, ctx, margin, who, err,
                               errlen);
    for (size_t i = 0; i < n && !st; i++) {
        double scale = lab_constitution_probe(pp->con, principle[i])->scale;
        results[i].score = 2.0 * lab_sigmoid(scale * margin[i]) - 1.0;
    }
    free(prompts);
    free(resp);
    free(margin);
    return st;
}

rlaif_status lab_score_labels(const lab_prompter *pp, char **labels, const char *who, char *err,
                              size_t errlen)
{
    int lo = pp->con->score_min, hi = pp->con->score_max;
    rlaif_status st = RLAIF_OK;
    for (size_t k = 0; k < (size_t)(hi - lo + 1) && !st; k++) {
        sbuf b;
        sbuf_init(&b);
        st = lab_prompt_score_label(pp, lo + (int)k, &b, err, errlen);
        labels[k] = sbuf_take(&b);
        if (!st && !labels[k]) st = nomem(who, err, errlen);
    }
    return st;
}

rlaif_status lab_score_draw(const lab_constitution *con, const size_t *subset, size_t n_subset,
                            uint64_t config_seed, size_t n, const rlaif_score_req *reqs,
                            size_t *principle, rlaif_score_result *results, const char *who,
                            char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (!reqs[i].response)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "%s: score %zu: response is NULL",
                                who, i);
        uint64_t stream = lab_request_seed(config_seed, reqs[i].seed);
        principle[i] = lab_draw_principle(con, subset, n_subset, stream, 0);
        results[i].principle_id = con->principles[principle[i]].id;
        results[i].score = 0;
    }
    return RLAIF_OK;
}
