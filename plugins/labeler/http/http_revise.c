/*
 * http_revise.c — critique → revision chains (the supervised phase of
 * Constitutional AI) by generation on the server, as labeler/llm does them
 * on a local model.
 *
 * Round r draws a principle from (seed, r) with labeler/llm's draw, asks
 * for a critique of the current response under the principle's critique
 * request, then for a revision given that critique; the revision is the
 * response of the next round.  Greedy (temperature 0, the default) gives
 * labeler/llm's very texts on the same model; with temperature > 0 each
 * request carries its own seed, but the server's random streams are its own.
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "http_labeler.h"

/* ===== Result strings =================================================== */

void hl_results_reset(http_labeler *L)
{
    for (size_t i = 0; i < L->n_owned; i++) free(L->owned[i]);
    L->n_owned = 0;
}

/* Keeps a malloc'ed string until the next call (frees it and returns NULL
 * when it cannot). */
static char *keep(http_labeler *L, char *s)
{
    if (!s) return NULL;
    if (L->n_owned == L->cap_owned) {
        size_t cap = L->cap_owned ? 2 * L->cap_owned : 16;
        char **p = realloc(L->owned, cap * sizeof *p);
        if (!p) {
            free(s);
            return NULL;
        }
        L->owned = p;
        L->cap_owned = cap;
    }
    L->owned[L->n_owned++] = s;
    return s;
}

/* ===== One generation =================================================== */

/* Cuts at the first stop string (the labeler's, then the chat template's)
 * and trims white space, in place: labeler/llm's post-processing. */
static void cut_and_trim(char *s, char *const *stops, size_t n_stops, const char *chat_stop)
{
    for (size_t i = 0; i <= n_stops; i++) {
        const char *stop = i < n_stops ? stops[i] : chat_stop;
        if (!stop || !*stop) continue;
        char *at = strstr(s, stop);
        if (at) *at = 0;
    }
    size_t len = strlen(s);
    while (len && strchr(" \n\t\r", s[len - 1])) s[--len] = 0;
    size_t lead = strspn(s, " \n\t\r");
    memmove(s, s + lead, len - lead + 1);
}

static char *body_generate(const http_labeler *L, const hl_ctx *c, uint64_t seed)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", L->model);
    if (L->endpoint == HL_ENDPOINT_CHAT) hl_add_messages(L, o, c);
    else cJSON_AddStringToObject(o, "prompt", c->text);
    cJSON_AddNumberToObject(o, "max_tokens", L->max_new_tokens);
    cJSON_AddNumberToObject(o, "temperature", L->temperature);
    /* 53 bits: a JSON number stays exact in every client. */
    cJSON_AddNumberToObject(o, "seed", (double)(seed & ((1ull << 53) - 1)));
    const char *chat_stop = L->endpoint == HL_ENDPOINT_CHAT ? NULL : lab_chat_stop(L->chat);
    if (L->n_stop || chat_stop) {
        cJSON *stop = cJSON_AddArrayToObject(o, "stop");
        for (size_t i = 0; i < L->n_stop; i++)
            cJSON_AddItemToArray(stop, cJSON_CreateString(L->stop[i]));
        if (chat_stop) cJSON_AddItemToArray(stop, cJSON_CreateString(chat_stop));
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Renders a question with `build`, generates its answer, keeps it. */
static rlaif_status generate_one(http_labeler *L, hl_build_fn build, const void *arg,
                                 lab_tmpl answer_t, uint64_t seed, const char **out, char *err,
                                 size_t errlen)
{
    hl_ctx *c = calloc(1, sizeof *c);
    if (!c) return hl_nomem(err, errlen);
    rlaif_status st = hl_make_ctx(L, build, arg, answer_t, NULL, 0, c, err, errlen);
    hl_job job = {0};
    if (!st && !(job.body = body_generate(L, c, seed))) st = hl_nomem(err, errlen);
    if (!st) st = hl_run(L, &job, 1, err, errlen);
    char *text = NULL;
    if (!st) st = hl_reply_text(L, job.reply, &text, err, errlen);
    if (!st) {
        cut_and_trim(text, L->stop, L->n_stop,
                     L->endpoint == HL_ENDPOINT_CHAT ? NULL : lab_chat_stop(L->chat));
        if (!(*out = keep(L, text))) st = hl_nomem(err, errlen);
    }
    free((char *)job.body);
    free(job.reply);
    hl_ctx_free(c, 1);
    return st;
}

typedef struct revise_arg {
    size_t principle;
    const char *prompt, *response, *critique;
} revise_arg;

static rlaif_status build_critique(const lab_prompter *p, const void *arg, sbuf *out, char *err,
                                   size_t errlen)
{
    const revise_arg *a = arg;
    return lab_prompt_critique(p, a->principle, a->prompt, a->response, out, err, errlen);
}

static rlaif_status build_revision(const lab_prompter *p, const void *arg, sbuf *out, char *err,
                                   size_t errlen)
{
    const revise_arg *a = arg;
    return lab_prompt_revision(p, a->principle, a->prompt, a->response, a->critique, out, err,
                               errlen);
}

rlaif_status hl_revise(void *self, const char *prompt, const char *response, uint32_t rounds,
                       uint64_t seed, rlaif_revision *out, char *err, size_t errlen)
{
    http_labeler *L = self;
    hl_results_reset(L);
    if (!response) return rlaif_errorf(err, errlen, RLAIF_E_INVALID, HL_WHO ": revise: response is NULL");
    if (L->mode == LAB_MODE_PROBE)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            HL_WHO ": revise needs mode \"instruct\": a probe-mode model only "
                            "continues text and cannot follow a critique request");
    uint64_t s = hl_request_seed(L, seed);
    const char *current = response;
    rlaif_status st = RLAIF_OK;
    for (uint32_t r = 0; r < rounds && !st; r++) {
        size_t j = hl_pick_principle(L, s, r + 1);
        out[r].principle_id = L->con->principles[j].id;
        out[r].critique = out[r].revision = NULL;
        revise_arg a = {j, prompt ? prompt : "", current, NULL};
        st = generate_one(L, build_critique, &a, LAB_T_CRITIQUE_ANSWER, s ^ (2ull * r + 1),
                          &out[r].critique, err, errlen);
        a.critique = out[r].critique;
        if (!st)
            st = generate_one(L, build_revision, &a, LAB_T_REVISION_ANSWER, s ^ (2ull * r + 2),
                              &out[r].revision, err, errlen);
        if (!st) {
            current = out[r].revision;
            L->n_rounds++;
        }
    }
    return st;
}
