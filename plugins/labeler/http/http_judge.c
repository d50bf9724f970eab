/*
 * http_judge.c — compare and score over HTTP, mirroring labeler/llm.
 *
 * The prompts are labeler/llm's (lab_prompt_*), the principle draw is
 * labeler/llm's, and the arithmetic is prefmath.h's:
 *   instruct compare  p(x first) = σ(l_A − l_B) in each presentation order,
 *                     combined by lab_pair_combine (both orders averaged,
 *                     exact symmetry, clamping);
 *   instruct score    Σ k·P(k) over the score labels, rescaled to [-1, 1];
 *   probe             margins of whole-text log-likelihoods (echo method).
 * Only differences of label log-likelihoods enter σ and the softmax, so the
 * echo method's L(context ⊕ label) serves as l_label: L(context) cancels.
 *
 * With the completions endpoint the labeler renders the chat template
 * itself (the constitution's, as labeler/llm does) and sends the text.
 * With the chat endpoint it sends the system text, the user message and
 * the answer prefix as a final assistant message, which servers continue
 * (rlaif serve, llama.cpp); the server's own chat template then applies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "http_labeler.h"
#include "ldraw.h"
#include "prefmath.h"
#include "sbuf.h"

/* ===== The principle draw (must stay labeler/llm's) ===================== */

uint64_t hl_request_seed(const http_labeler *L, uint64_t req_seed)
{
    return lab_request_seed(L->seed, req_seed);
}

size_t hl_pick_principle(const http_labeler *L, uint64_t stream, uint32_t round)
{
    return lab_draw_principle(L->con, L->subset, L->n_subset, stream, round);
}

/* ===== Contexts: what is asked before a label =========================== */

void hl_ctx_free(hl_ctx *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].text);
        free(c[i].user);
        free(c[i].answer);
    }
    free(c);
}

rlaif_status hl_nomem(char *err, size_t errlen)
{
    return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, HL_WHO ": out of memory");
}

/* The parts come from rendering with the bare "{user}" template and
 * cutting off the answer prefix, which ends the text. */
rlaif_status hl_make_ctx(const http_labeler *L, hl_build_fn build, const void *arg,
                         lab_tmpl answer_t, const lab_var *avars, size_t n_avars, hl_ctx *c,
                         char *err, size_t errlen)
{
    lab_prompter full = {L->con, L->chat}, bare = {L->con, "{user}"};
    sbuf t, u, a;
    sbuf_init(&t);
    sbuf_init(&u);
    sbuf_init(&a);
    rlaif_status st = build(&full, arg, &t, err, errlen);
    if (!st && L->endpoint == HL_ENDPOINT_CHAT) {
        char msg[300];
        st = build(&bare, arg, &u, err, errlen);
        if (!st && lab_template_render(&a, lab_constitution_template(L->con, answer_t), avars,
                                       n_avars, msg, sizeof msg))
            st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT, HL_WHO ": template '%s': %s",
                              lab_template_key(answer_t), msg);
        if (!st && (u.len < a.len || memcmp(sbuf_str(&u) + u.len - a.len, sbuf_str(&a), a.len)))
            st = rlaif_errorf(err, errlen, RLAIF_E_INTERNAL,
                              HL_WHO ": the prompt does not end with its answer prefix");
        if (!st) {
            u.len -= a.len;
            if (u.p) u.p[u.len] = 0;
        }
    }
    if (!st && (sbuf_failed(&t) || sbuf_failed(&u) || sbuf_failed(&a))) st = hl_nomem(err, errlen);
    if (!st) {
        c->text = sbuf_take(&t);
        c->user = L->endpoint == HL_ENDPOINT_CHAT ? sbuf_take(&u) : NULL;
        c->answer = L->endpoint == HL_ENDPOINT_CHAT ? sbuf_take(&a) : NULL;
        if (!c->text || (L->endpoint == HL_ENDPOINT_CHAT && (!c->user || !c->answer)))
            st = hl_nomem(err, errlen);
    }
    sbuf_free(&t);
    sbuf_free(&u);
    sbuf_free(&a);
    return st;
}

typedef struct compare_arg {
    size_t principle;
    const char *prompt, *first, *second;
} compare_arg;

static rlaif_status build_compare(const lab_prompter *p, const void *arg, sbuf *out, char *err,
                                  size_t errlen)
{
    const compare_arg *c = arg;
    return lab_prompt_compare(p, c->principle, c->prompt, c->first, c->second, 0, out, err,
                              errlen);
}

typedef struct score_arg {
    size_t principle;
    const char *prompt, *response;
} score_arg;

static rlaif_status build_score(const lab_prompter *p, const void *arg, sbuf *out, char *err,
                                size_t errlen)
{
    const score_arg *s = arg;
    return lab_prompt_score(p, s->principle, s->prompt, s->response, out, err, errlen);
}

/* ===== Request bodies =================================================== */

/* The chat messages of a question: system text, user message, and the
 * answer prefix as a final assistant message (a prefill). */
void hl_add_messages(const http_labeler *L, cJSON *o, const hl_ctx *c)
{
    cJSON *msgs = cJSON_AddArrayToObject(o, "messages");
    const char *roles[3] = {"system", "user", "assistant"};
    const char *texts[3] = {L->con->system, c->user, c->answer};
    for (int i = 0; i < 3; i++) {
        if (!texts[i] || (i != 1 && !texts[i][0])) continue;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", roles[i]);
        cJSON_AddStringToObject(m, "content", texts[i]);
        cJSON_AddItemToArray(msgs, m);
    }
}

static char *body_top(const http_labeler *L, const hl_ctx *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", L->model);
    if (L->endpoint == HL_ENDPOINT_CHAT) {
        hl_add_messages(L, o, c);
        cJSON_AddTrueToObject(o, "logprobs");
        cJSON_AddNumberToObject(o, "top_logprobs", L->top_logprobs);
    } else {
        cJSON_AddStringToObject(o, "prompt", c->text);
        cJSON_AddNumberToObject(o, "logprobs", L->top_logprobs);
    }
    cJSON_AddNumberToObject(o, "max_tokens", 1);
    cJSON_AddNumberToObject(o, "temperature", 0);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Scores `text` itself: no new token, the prompt's log-probabilities back. */
static char *body_echo(const http_labeler *L, const char *text, const char *label)
{
    size_t a = strlen(text), b = label ? strlen(label) : 0;
    char *joined = malloc(a + b + 1);
    if (!joined) return NULL;
    memcpy(joined, text, a);
    if (b) memcpy(joined + a, label, b);
    joined[a + b] = 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", L->model);
    cJSON_AddStringToObject(o, "prompt", joined);
    cJSON_AddNumberToObject(o, "max_tokens", 0);
    cJSON_AddTrueToObject(o, "echo");
    cJSON_AddNumberToObject(o, "logprobs", 0);
    cJSON_AddNumberToObject(o, "temperature", 0);
    free(joined);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void jobs_free(hl_job *jobs, size_t n)
{
    for (size_t i = 0; jobs && i < n; i++) {
        free((char *)jobs[i].body);
        free(jobs[i].reply);
    }
    free(jobs);
}

/* Echo jobs for the labels of contexts ctx[which[0..m)], written to their rows of ll. */
static rlaif_status echo_rows(http_labeler *L, const hl_ctx *ctx, const size_t *which, size_t m,
                              size_t n_labels, const char *const *labels, double *ll, char *err,
                              size_t errlen)
{
    size_t nj = m * n_labels;
    hl_job *jobs = calloc(nj ? nj : 1, sizeof *jobs);
    if (!jobs) return hl_nomem(err, errlen);
    rlaif_status st = RLAIF_OK;
    for (size_t j = 0; j < nj && !st; j++)
        if (!(jobs[j].body = body_echo(L, ctx[which[j / n_labels]].text, labels[j % n_labels])))
            st = hl_nomem(err, errlen);
    if (!st) st = hl_run(L, jobs, nj, err, errlen);
    for (size_t j = 0; j < nj && !st; j++)
        st = hl_reply_echo(L, jobs[j].reply, &ll[which[j / n_labels] * n_labels + j % n_labels],
                           err, errlen);
    jobs_free(jobs, nj);
    return st;
}

/* ll[i * n_labels + k] = the log-likelihood of label k after context i
 * (up to a constant per context, which every use cancels).  With the top
 * method, a context whose labels are not all among the alternatives is
 * asked again with echo when `fallback` is "echo" (all its labels, so that
 * the constant stays one per context). */
static rlaif_status label_loglik(http_labeler *L, size_t n_ctx, const hl_ctx *ctx,
                                 size_t n_labels, const char *const *labels, double *ll,
                                 char *err, size_t errlen)
{
    size_t *which = malloc((n_ctx ? n_ctx : 1) * sizeof *which);
    if (!which) return hl_nomem(err, errlen);
    rlaif_status st = RLAIF_OK;
    size_t m = 0;
    if (L->method == HL_METHOD_ECHO) {
        for (size_t i = 0; i < n_ctx; i++) which[m++] = i;
    } else {
        hl_job *jobs = calloc(n_ctx ? n_ctx : 1, sizeof *jobs);
        if (!jobs) st = hl_nomem(err, errlen);
        for (size_t j = 0; j < n_ctx && !st; j++)
            if (!(jobs[j].body = body_top(L, &ctx[j]))) st = hl_nomem(err, errlen);
        if (!st) st = hl_run(L, jobs, n_ctx, err, errlen);
        for (size_t j = 0; j < n_ctx && !st; j++) {
            size_t miss = 0;
            st = hl_reply_top(L, jobs[j].reply, n_labels, labels, ll + j * n_labels, &miss, err,
                              errlen);
            L->n_missing += miss;
            if (miss && L->fallback_echo) which[m++] = j;
        }
        if (jobs) jobs_free(jobs, n_ctx);
    }
    if (!st && m) st = echo_rows(L, ctx, which, m, n_labels, labels, ll, err, errlen);
    free(which);
    return st;
}

/* out[i] = L(texts[i]), the whole text's log-likelihood (echo); a
 * lab_text_loglik_fn over the labeler `ctx`. */
static rlaif_status text_loglik(void *ctx, size_t n, const char *const *texts, double *out,
                                char *err, size_t errlen)
{
    http_labeler *L = ctx;
    hl_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!jobs) return hl_nomem(err, errlen);
    rlaif_status st = RLAIF_OK;
    for (size_t j = 0; j < n && !st; j++)
        if (!(jobs[j].body = body_echo(L, texts[j], NULL))) st = hl_nomem(err, errlen);
    if (!st) st = hl_run(L, jobs, n, err, errlen);
    for (size_t j = 0; j < n && !st; j++) st = hl_reply_echo(L, jobs[j].reply, &out[j], err, errlen);
    jobs_free(jobs, n);
    return st;
}

/* ===== compare ========================================================== */

static void answer(http_labeler *L, const lab_pair *p, double px_first, double px_second,
                   int two_orders, rlaif_compare_result *res)
{
    lab_answer(L->con, L->clamp_hi, p, px_first, px_second, two_orders, &L->tally, res);
}

static rlaif_status compare_instruct(http_labeler *L, size_t m, const lab_pair *pl, const size_t *idx,
                                     rlaif_compare_result *results, char *err, size_t errlen)
{
    hl_ctx *ctx = calloc(2 * m + 1, sizeof *ctx);
    double *ll = malloc((4 * m + 1) * sizeof *ll);
    rlaif_status st = ctx && ll ? RLAIF_OK : hl_nomem(err, errlen);
    const lab_var avars[] = {{"choice_a", L->con->choices[0]}, {"choice_b", L->con->choices[1]}};
    for (size_t k = 0; k < m && !st; k++) {
        const lab_pair *p = &pl[k];
        for (int order = 0; order < 2 && !st; order++) {
            compare_arg a = {p->principle, p->prompt, order ? p->y : p->x, order ? p->x : p->y};
            st = hl_make_ctx(L, build_compare, &a, LAB_T_COMPARE_ANSWER, avars, 2,
                          &ctx[2 * k + (size_t)order], err, errlen);
        }
    }
    const char *labels[2] = {L->con->choices[0], L->con->choices[1]};
    if (!st) st = label_loglik(L, 2 * m, ctx, 2, labels, ll, err, errlen);
    for (size_t k = 0; k < m && !st; k++) {
        double px_first, px_second;
        lab_pair_orders(ll + 4 * k, &px_first, &px_second);
        answer(L, &pl[k], px_first, px_second, 1, &results[idx[k]]);
    }
    hl_ctx_free(ctx, 2 * m + 1);
    free(ll);
    return st;
}

static rlaif_status compare_probe(http_labeler *L, size_t m, const lab_pair *pl, const size_t *idx,
                                  rlaif_compare_result *results, char *err, size_t errlen)
{
    const lab_pair **q = malloc((m + 1) * sizeof *q);
    double *px = malloc((m + 1) * sizeof *px);
    rlaif_status st = q && px ? RLAIF_OK : hl_nomem(err, errlen);
    for (size_t k = 0; k < m && !st; k++) q[k] = &pl[k];
    lab_prompter pp = {L->con, L->chat};
    if (!st) st = lab_probe_pairs(&pp, m, q, text_loglik, L, px, HL_WHO, err, errlen);
    for (size_t k = 0; k < m && !st; k++) answer(L, &pl[k], px[k], px[k], 0, &results[idx[k]]);
    free(q);
    free(px);
    return st;
}

rlaif_status hl_compare(void *self, size_t n, const rlaif_compare_req *reqs,
                        rlaif_compare_result *results, char *err, size_t errlen)
{
    http_labeler *L = self;
    if (n == 0) return RLAIF_OK;
    lab_pair *pl = malloc(n * sizeof *pl);
    size_t *idx = malloc(n * sizeof *idx);
    if (!pl || !idx) {
        free(pl);
        free(idx);
        return hl_nomem(err, errlen);
    }
    size_t m = 0;
    rlaif_status st = RLAIF_OK;
    for (size_t i = 0; i < n; i++) {
        const rlaif_compare_req *r = &reqs[i];
        if (!r->a || !r->b) {
            st = rlaif_errorf(err, errlen, RLAIF_E_INVALID, HL_WHO ": compare %zu: a or b is NULL", i);
            break;
        }
        lab_pair p;
        lab_pair_plan(L->con, L->subset, L->n_subset, L->seed, r, &p);
        /* The same text twice needs no server: both orders ask the same. */
        if (p.tie) {
            answer(L, &p, 0.5, 0.5, 0, &results[i]);
            continue;
        }
        pl[m] = p;
        idx[m++] = i;
    }
    if (!st && m)
        st = L->mode == LAB_MODE_PROBE ? compare_probe(L, m, pl, idx, results, err, errlen)
                                       : compare_instruct(L, m, pl, idx, results, err, errlen);
    free(pl);
    free(idx);
    return st;
}

/* ===== score ============================================================ */

static rlaif_status score_instruct(http_labeler *L, size_t n, const rlaif_score_req *reqs,
                                   const size_t *principle, rlaif_score_result *results,
                                   char *err, size_t errlen)
{
    lab_prompter pp = {L->con, L->chat};
    int lo = L->con->score_min, hi = L->con->score_max;
    size_t nl = (size_t)(hi - lo + 1);
    hl_ctx *ctx = calloc(n, sizeof *ctx);
    char **labels = calloc(nl, sizeof *labels);
    double *ll = malloc(n * nl * sizeof *ll);
    rlaif_status st = ctx && labels && ll ? RLAIF_OK : hl_nomem(err, errlen);
    if (!st) st = lab_score_labels(&pp, labels, HL_WHO, err, errlen);
    char smin[16], smax[16];
    snprintf(smin, sizeof smin, "%d", lo);
    snprintf(smax, sizeof smax, "%d", hi);
    const lab_var avars[] = {{"min", smin}, {"max", smax}};
    for (size_t i = 0; i < n && !st; i++) {
        score_arg a = {principle[i], reqs[i].prompt ? reqs[i].prompt : "", reqs[i].response};
        st = hl_make_ctx(L, build_score, &a, LAB_T_SCORE_ANSWER, avars, 2, &ctx[i], err, errlen);
    }
    if (!st) st = label_loglik(L, n, ctx, nl, (const char *const *)labels, ll, err, errlen);
    for (size_t i = 0; i < n && !st; i++)
        results[i].score = lab_expected_score(ll + i * nl, lo, hi, NULL);
    hl_ctx_free(ctx, n);
    for (size_t k = 0; labels && k < nl; k++) free(labels[k]);
    free(labels);
    free(ll);
    return st;
}

rlaif_status hl_score(void *self, size_t n, const rlaif_score_req *reqs,
                      rlaif_score_result *results, char *err, size_t errlen)
{
    http_labeler *L = self;
    if (n == 0) return RLAIF_OK;
    size_t *principle = malloc(n * sizeof *principle);
    if (!principle) return hl_nomem(err, errlen);
    rlaif_status st = lab_score_draw(L->con, L->subset, L->n_subset, L->seed, n, reqs, principle,
                                     results, HL_WHO, err, errlen);
    if (st) {
        free(principle);
        return st;
    }
    lab_prompter pp = {L->con, L->chat};
    st = L->mode == LAB_MODE_PROBE
             ? lab_score_probe(&pp, n, reqs, principle, text_loglik, L, results, HL_WHO, err,
                               errlen)
             : score_instruct(L, n, reqs, principle, results, err, errlen);
    if (!st) L->tally.n_score += n;
    free(principle);
    return st;
}
