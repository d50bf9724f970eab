/*
 * http_labeler.h — internals of labeler/http, the constitution-driven
 * labeler that asks an OpenAI-compatible server (rlaif serve, llama.cpp
 * server, vLLM, Ollama) for log-probabilities.
 *
 * It builds the very prompts labeler/llm builds (plugins/labeler/common)
 * and applies the very same arithmetic (prefmath.h), so that the same
 * model behind `rlaif serve` gives the same probabilities.  Files:
 *   http_plugin.c   config, create/destroy, stats, the vtable
 *   http_client.c   the request engine: libcurl multi, concurrency limit,
 *                   timeouts, retries with exponential back-off
 *   http_reply.c    reading the servers' JSON answers (errors name the
 *                   JSON path that is missing)
 *   http_judge.c    compare and score: prompts -> requests -> p(a ≻ b)
 *   http_revise.c   critique -> revision chains by generation
 */
#ifndef RLAIF_LABELER_HTTP_H
#define RLAIF_LABELER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "constitution.h"
#include "ljudge.h"
#include "ltemplate.h"
#include "prompts.h"
#include "rlaif/plugin.h"

#define HL_WHO "labeler/http"

enum { HL_ENDPOINT_COMPLETIONS = 0, HL_ENDPOINT_CHAT = 1 };
/* How a label's log-likelihood is read:
 *   TOP   one generated token with its top-k alternatives; a label is the
 *         alternative whose text equals it (one token labels only);
 *   ECHO  the server scores the prompt itself ("echo": true, "max_tokens":
 *         0): L(context ⊕ label) for each label, any number of tokens.
 *         Differences of these equal the label log-likelihood differences
 *         labeler/llm uses, since L(context) cancels. */
enum { HL_METHOD_TOP = 0, HL_METHOD_ECHO = 1 };

enum { HL_N_STATS = 8 };

typedef struct http_labeler {
    const rlaif_host *host;
    char *url;                  /* base_url + "/completions" or "/chat/completions" */
    char *model;
    char *auth;                 /* "Authorization: Bearer ..." or NULL */
    int endpoint, method;
    lab_constitution *con;
    lab_mode mode;
    char *chat;                 /* chat template the labeler renders (completions endpoint) */
    double clamp_hi;
    uint64_t seed;
    size_t *subset;
    size_t n_subset;
    long timeout_ms, backoff_ms;
    int retries, concurrency, top_logprobs;
    int fallback_echo;          /* top method: labels not shown are read with echo */
    uint32_t max_new_tokens;    /* critique and revision lengths */
    float temperature;          /* critique/revision sampling; 0 = greedy */
    char **stop;                /* generation stop strings (owned) */
    size_t n_stop;

    /* Statistics since create. */
    lab_tally tally;            /* compare and score counts (ljudge.h) */
    uint64_t n_requests, n_retries, n_missing;
    uint64_t n_rounds;
    rlaif_stat stats[HL_N_STATS];

    /* Strings handed out in results (result rule): freed at the next call. */
    char **owned;
    size_t n_owned, cap_owned;
} http_labeler;

/* ----- http_client.c ---------------------------------------------------- */

/* One POST: `body` (JSON text, caller-owned) in, the answer body out. */
typedef struct hl_job {
    const char *body;
    char *reply;      /* malloc'ed answer (NUL-terminated), on success */
    size_t reply_len;
    long status;      /* HTTP status of the last attempt */
} hl_job;

/* Runs every job against L->url, at most L->concurrency at a time.  A job
 * is retried (L->retries times, waiting backoff_ms·2^attempt) on 429, 5xx
 * and connection errors or timeouts.  Fails (RLAIF_E_EXTERNAL, naming the
 * URL, the status and the server's message) when any job fails for good. */
rlaif_status hl_run(http_labeler *L, hl_job *jobs, size_t n, char *err, size_t errlen);

/* ----- http_reply.c ---------------------------------------------------- */

/* The log-probabilities of `labels` among the top alternatives of the first
 * generated token; a label not among them gets the smallest value shown
 * (an upper bound) and counts in *missing. */
rlaif_status hl_reply_top(const http_labeler *L, const char *reply, size_t n_labels,
                          const char *const *labels, double *ll, size_t *missing, char *err,
                          size_t errlen);

/* The sum of the prompt's token log-probabilities of an echo reply. */
rlaif_status hl_reply_echo(const http_labeler *L, const char *reply, double *ll, char *err,
                           size_t errlen);

/* The generated text: $.choices[0].text (completions) or
 * $.choices[0].message.content (chat), malloc'ed. */
rlaif_status hl_reply_text(const http_labeler *L, const char *reply, char **text, char *err,
                           size_t errlen);

/* ----- http_judge.c ---------------------------------------------------- */

rlaif_status hl_compare(void *self, size_t n, const rlaif_compare_req *reqs,
                        rlaif_compare_result *results, char *err, size_t errlen);
rlaif_status hl_score(void *self, size_t n, const rlaif_score_req *reqs,
                      rlaif_score_result *results, char *err, size_t errlen);

/* The per-request stream and the principle draw: labeler/llm's, so that
 * the same seeds pick the same principles (round 0: compare and score;
 * round r + 1: revision round r). */
uint64_t hl_request_seed(const http_labeler *L, uint64_t req_seed);
size_t hl_pick_principle(const http_labeler *L, uint64_t stream, uint32_t round);

/* A question in both forms: the full text (completions) and its parts (chat). */
typedef struct hl_ctx {
    char *text;     /* chat-wrapped user message ⊕ answer prefix */
    char *user;     /* the user message alone (chat endpoint) */
    char *answer;   /* the answer prefix alone (chat endpoint) */
} hl_ctx;

/* A prompt builder of prompts.h bound to its arguments. */
typedef rlaif_status (*hl_build_fn)(const lab_prompter *p, const void *arg, sbuf *out, char *err,
                                    size_t errlen);

/* Fills c by rendering with `build`: the text with the labeler's chat
 * template, and for the chat endpoint the user message and the answer
 * prefix (template answer_t rendered with avars). */
rlaif_status hl_make_ctx(const http_labeler *L, hl_build_fn build, const void *arg,
                         lab_tmpl answer_t, const lab_var *avars, size_t n_avars, hl_ctx *c,
                         char *err, size_t errlen);
void hl_ctx_free(hl_ctx *c, size_t n);   /* frees the array too */
/* Adds "messages" for a question to a chat request. */
void hl_add_messages(const http_labeler *L, cJSON *o, const hl_ctx *c);
rlaif_status hl_nomem(char *err, size_t errlen);

/* ----- http_revise.c ---------------------------------------------------- */

rlaif_status hl_revise(void *self, const char *prompt, const char *response, uint32_t rounds,
                       uint64_t seed, rlaif_revision *out, char *err, size_t errlen);
/* Drops the strings of the previous call's results. */
void hl_results_reset(http_labeler *L);

#endif
