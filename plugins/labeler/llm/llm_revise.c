/*
 * llm_revise.c — critique → revision chains (the supervised phase of
 * Constitutional AI).
 *
 * Round r draws a principle from (seed, r), asks the model for a critique
 * of the current response under the principle's critique request, then
 * for a revision given that critique and the revision request; the
 * revision becomes the response of the next round.  Generation is greedy
 * unless `temperature` > 0, and then seeded from (seed, r).
 */
#include <stdlib.h>

#include "llm.h"

/* Generates the continuation of one text into a result-owned string. */
static rlaif_status generate_one(llm_labeler *L, sbuf *text, uint64_t seed, const char **out,
                                 char *err, size_t errlen)
{
    const char *prompts[1] = {sbuf_str(text)};
    char *gen[1] = {NULL};
    rlaif_status st = llm_generate_text(L, 1, prompts, L->max_new_tokens, L->temperature, seed,
                                        gen, err, errlen);
    if (st) return st;
    *out = llm_results_keep(L, gen[0]);
    if (!*out) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    return RLAIF_OK;
}

rlaif_status llm_revise(void *self, const char *prompt, const char *response, uint32_t rounds,
                        uint64_t seed, rlaif_revision *out, char *err, size_t errlen)
{
    llm_labeler *L = self;
    llm_results_reset(L);
    if (!response) return rlaif_errorf(err, errlen, RLAIF_E_INVALID, LLM_WHO ": revise: response is NULL");
    if (!prompt) prompt = "";
    if (L->mode == LAB_MODE_PROBE)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            LLM_WHO ": revise needs mode \"instruct\": a probe-mode model only "
                            "continues text and cannot follow a critique request");
    lab_prompter pp = llm_prompter(L);
    uint64_t s = llm_request_seed(L, seed);
    const char *current = response;
    rlaif_status st = RLAIF_OK;
    sbuf text;
    sbuf_init(&text);
    for (uint32_t r = 0; r < rounds && !st; r++) {
        size_t j = llm_pick_principle(L, s, r + 1);
        out[r].principle_id = L->con->principles[j].id;
        out[r].critique = out[r].revision = NULL;
        sbuf_clear(&text);
        st = lab_prompt_critique(&pp, j, prompt, current, &text, err, errlen);
        if (!st) st = generate_one(L, &text, s ^ (2ull * r + 1), &out[r].critique, err, errlen);
        sbuf_clear(&text);
        if (!st) st = lab_prompt_revision(&pp, j, prompt, current, out[r].critique, &text, err, errlen);
        if (!st) st = generate_one(L, &text, s ^ (2ull * r + 2), &out[r].revision, err, errlen);
        if (!st) {
            current = out[r].revision;
            L->n_rounds++;
        }
    }
    sbuf_free(&text);
    return st;
}
