/*
 * llm_score.c — direct scores in [-1, 1] (d-RLAIF).
 *
 * Instruct mode: the model reads the rubric of a drawn principle and the
 * response, and the score labels lo..hi are scored after the answer prefix.
 * A label may be several tokens ("10" often is): its log-likelihood is the
 * sum over its tokens, i.e. its probability is the product of the token
 * probabilities (llm_label_loglik).  P(k) is the softmax over the labels,
 * E = Σ k·P(k), score = 2(E − lo)/(hi − lo) − 1.
 *
 * Probe mode: score = 2σ(scale·margin) − 1, the probe's chance of the
 * positive over the negative continuation mapped to [-1, 1].
 */
#include <stdlib.h>

#include "llm.h"
#include "prefmath.h"

static rlaif_status score_instruct(llm_labeler *L, size_t n, const rlaif_score_req *reqs,
                                   const size_t *principle, rlaif_score_result *results,
                                   char *err, size_t errlen)
{
    lab_prompter pp = llm_prompter(L);
    int lo = L->con->score_min, hi = L->con->score_max;
    size_t nl = (size_t)(hi - lo + 1);
    char **ctx = calloc(n, sizeof *ctx);
    char **labels = calloc(nl, sizeof *labels);
    double *ll = malloc(n * nl * sizeof *ll);
    rlaif_status st = RLAIF_OK;
    if (!ctx || !labels || !ll) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    if (!st) st = lab_score_labels(&pp, labels, LLM_WHO, err, errlen);
    for (size_t i = 0; i < n && !st; i++) {
        sbuf b;
        sbuf_init(&b);
        st = lab_prompt_score(&pp, principle[i], reqs[i].prompt ? reqs[i].prompt : "",
                            reqs[i].response, &b, err, errlen);
        ctx[i] = sbuf_take(&b);
        if (!st && !ctx[i]) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    }
    if (!st)
        st = llm_label_loglik(L, n, (const char *const *)ctx, nl, (const char *const *)labels,
                              ll, err, errlen);
    for (size_t i = 0; i < n && !st; i++)
        results[i].score = lab_expected_score(ll + i * nl, lo, hi, NULL);
    for (size_t i = 0; ctx && i < n; i++) free(ctx[i]);
    for (size_t k = 0; labels && k < nl; k++) free(labels[k]);
    free(ctx);
    free(labels);
    free(ll);
    return st;
}

rlaif_status llm_score(void *self, size_t n, const rlaif_score_req *reqs,
                       rlaif_score_result *results, char *err, size_t errlen)
{
    llm_labeler *L = self;
    llm_results_reset(L);
    if (n == 0) return RLAIF_OK;
    size_t *principle = malloc(n * sizeof *principle);
    if (!principle) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    rlaif_status st = lab_score_draw(L->con, L->subset, L->n_subset, L->seed, n, reqs, principle,
                                     results, LLM_WHO, err, errlen);
    if (st) {
        free(principle);
        return st;
    }
    lab_prompter pp = llm_prompter(L);
    st = L->mode == LAB_MODE_PROBE
             ? lab_score_probe(&pp, n, reqs, principle, llm_text_loglik_cb, L, results, LLM_WHO,
                               err, errlen)
             : score_instruct(L, n, reqs, principle, results, err, errlen);
    if (!st) L->tally.n_score += n;
    free(principle);
    return st;
}
