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
    for (size_t k = 0; k < nl && !st; k++) {
        sbuf b;
        sbuf_init(&b);
        st = lab_prompt_score_label(&pp, lo + (int)k, &b, err, errlen);
        labels[k] = sbuf_take(&b);
        if (!st && !labels[k]) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    }
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

static rlaif_status score_probe(llm_labeler *L, size_t n, const rlaif_score_req *reqs,
                                const size_t *principle, rlaif_score_result *results,
                                char *err, size_t errlen)
{
    const char **prompts = malloc(n * sizeof *prompts);
    const char **resp = malloc(n * sizeof *resp);
    double *margin = malloc(n * sizeof *margin);
    rlaif_status st = RLAIF_OK;
    if (!prompts || !resp || !margin) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        prompts[i] = reqs[i].prompt ? reqs[i].prompt : "";
        resp[i] = reqs[i].response;
    }
    if (!st) st = llm_probe_margins(L, n, prompts, resp, principle, margin, err, errlen);
    for (size_t i = 0; i < n && !st; i++) {
        double scale = lab_constitution_probe(L->con, principle[i])->scale;
        results[i].score = 2.0 * lab_sigmoid(scale * margin[i]) - 1.0;
    }
    free(prompts);
    free(resp);
    free(margin);
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
    for (size_t i = 0; i < n; i++) {
        if (!reqs[i].response) {
            free(principle);
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID, LLM_WHO ": score %zu: response is NULL", i);
        }
        principle[i] = llm_pick_principle(L, llm_request_seed(L, reqs[i].seed), 0);
        results[i].principle_id = L->con->principles[principle[i]].id;
        results[i].score = 0;
    }
    rlaif_status st = L->mode == LAB_MODE_PROBE
                          ? score_probe(L, n, reqs, principle, results, err, errlen)
                          : score_instruct(L, n, reqs, principle, results, err, errlen);
    if (!st) L->n_score += n;
    free(principle);
    return st;
}
