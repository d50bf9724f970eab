/*
 * llm.h — internals of labeler/llm, the constitution-driven AI labeler.
 *
 * The plugin turns a constitution and any model instance into pairwise
 * preferences, direct scores and critique/revision chains.  Files:
 *   llm_plugin.c   config, create/destroy, stats, the vtable
 *   llm_model.c    everything that talks to the model: tokenising, label
 *                  and text log-likelihoods (batched), generation
 *   llm_compare.c  compare (instruct, chain-of-thought and probe modes)
 *   llm_score.c    direct scores (d-RLAIF)
 *   llm_revise.c   critique -> revision chains
 */
#ifndef RLAIF_LABELER_LLM_H
#define RLAIF_LABELER_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "constitution.h"
#include "ljudge.h"
#include "prompts.h"
#include "rlaif/plugin.h"
#include "sbuf.h"

#define LLM_WHO "labeler/llm"

enum { LLM_N_STATS = 5 };

typedef struct llm_labeler {
    const rlaif_host *host;
    uint64_t model_handle;          /* acquired in create, released in destroy */
    rlaif_ref model;
    const rlaif_model_vtable *mv;
    int32_t vocab_size, max_seq_len, eos_id;

    lab_constitution *con;
    lab_mode mode;
    char *chat;                     /* chat template in force (owned) */
    int cot;
    double clamp_hi;                /* 1: no clamping */
    uint64_t seed;
    uint32_t max_rationale_tokens;
    uint32_t max_new_tokens;        /* critique and revision lengths */
    float temperature;              /* critique/revision sampling; 0 = greedy */
    size_t batch_size;              /* sequences per model call */
    size_t *subset;                 /* principles that may be drawn (NULL: all) */
    size_t n_subset;
    char **stop;                    /* generation stop strings (owned, NULL-terminated) */
    size_t n_stop;

    /* Statistics since create. */
    lab_tally tally;                /* compare and score counts (ljudge.h) */
    uint64_t n_rounds;
    rlaif_stat stats[LLM_N_STATS];

    /* Strings handed out in results (result rule): freed at the next call. */
    char **owned;
    size_t n_owned, cap_owned;
} llm_labeler;

/* ----- llm_plugin.c ---------------------------------------------------- */

/* Drops the strings of the previous call's results. */
void llm_results_reset(llm_labeler *L);
/* Keeps a malloc'ed string until the next call; returns it (NULL on OOM,
 * and then frees it). */
char *llm_results_keep(llm_labeler *L, char *s);
/* The per-request random stream: mixes the config seed with the request's. */
uint64_t llm_request_seed(const llm_labeler *L, uint64_t req_seed);
/* Draws the principle for a request seed (and a round, 0 for compare/score). */
size_t llm_pick_principle(const llm_labeler *L, uint64_t seed, uint32_t round);
/* Nonzero (and an error message) when the host asked to stop. */
int llm_cancelled(const llm_labeler *L, char *err, size_t errlen);

/* ----- llm_model.c ----------------------------------------------------- */

/* Tokenises `text` into a malloc'ed array. */
rlaif_status llm_tokenize(llm_labeler *L, const char *text, int add_bos, int32_t **ids,
                          size_t *n, char *err, size_t errlen);

/* out[i * n_labels + k] = log p(labels[k] | ctx[i]), the log-likelihood of the
 * label text right after the context text.  Tokenisation may merge across
 * the boundary, so it is computed as log P(ctx ⊕ label) − log P(ctx) over
 * the tokens past their common prefix.  When every label is one extra
 * token, one next_logprobs call serves all labels of a context. */
rlaif_status llm_label_loglik(llm_labeler *L, size_t n_ctx, const char *const *ctx,
                              size_t n_labels, const char *const *labels, double *out,
                              char *err, size_t errlen);

/* out[i] = log P(texts[i]) of the whole text after BOS. */
rlaif_status llm_text_loglik(llm_labeler *L, size_t n, const char *const *texts, double *out,
                             char *err, size_t errlen);

/* Continues each prompt text (at most max_new tokens, greedy when
 * temperature is 0); out[i] is a malloc'ed text cut at the first stop
 * string and trimmed of surrounding white space. */
rlaif_status llm_generate_text(llm_labeler *L, size_t n, const char *const *prompts,
                               uint32_t max_new, float temperature, uint64_t seed, char **out,
                               char *err, size_t errlen);

/* The prompt builder over this labeler's constitution and chat template. */
static inline lab_prompter llm_prompter(const llm_labeler *L)
{
    lab_prompter p = {L->con, L->chat};
    return p;
}

/* ----- the labeler calls ----------------------------------------------- */

rlaif_status llm_compare(void *self, size_t n, const rlaif_compare_req *reqs,
                         rlaif_compare_result *results, char *err, size_t errlen);
rlaif_status llm_score(void *self, size_t n, const rlaif_score_req *reqs,
                       rlaif_score_result *results, char *err, size_t errlen);
rlaif_status llm_revise(void *self, const char *prompt, const char *response, uint32_t rounds,
                        uint64_t seed, rlaif_revision *out, char *err, size_t errlen);

/* llm_text_loglik as a lab_text_loglik_fn (ctx: the llm_labeler), for
 * the probe margins and probe scores of ljudge.h (in llm_compare.c). */
rlaif_status llm_text_loglik_cb(void *ctx, size_t n, const char *const *texts, double *out,
                                char *err, size_t errlen);

#endif
