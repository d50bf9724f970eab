/*
 * http_reply.c — reading log-probabilities out of the servers' answers.
 *
 * Each reader walks a fixed JSON path and, when a step is missing or of
 * the wrong type, says which one, e.g.
 *   "labeler/http: answer of http://h/v1/completions: $.choices[0].logprobs
 *    is missing or not an object"
 * so that a server speaking a slightly different dialect is diagnosed at once.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_labeler.h"

/* A path walker that remembers how far it got, for the message. */
typedef struct walk {
    const cJSON *at;
    char path[256];
} walk;

static int step_key(walk *w, const char *key, int want_array)
{
    size_t n = strlen(w->path);
    snprintf(w->path + n, sizeof w->path - n, ".%s", key);
    const cJSON *v = cJSON_IsObject(w->at) ? cJSON_GetObjectItemCaseSensitive(w->at, key) : NULL;
    w->at = v;
    return want_array ? cJSON_IsArray(v) : cJSON_IsObject(v);
}

static int step_index(walk *w, int i, int want_array)
{
    size_t n = strlen(w->path);
    snprintf(w->path + n, sizeof w->path - n, "[%d]", i);
    const cJSON *v = cJSON_IsArray(w->at) ? cJSON_GetArrayItem(w->at, i) : NULL;
    w->at = v;
    return want_array ? cJSON_IsArray(v) : cJSON_IsObject(v);
}

static rlaif_status missing(const http_labeler *L, const walk *w, const char *what, char *err,
                            size_t errlen)
{
    return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                        HL_WHO ": answer of %s: %s is missing or not %s", L->url, w->path, what);
}

static cJSON *parse(const http_labeler *L, const char *reply, char *err, size_t errlen)
{
    cJSON *root = cJSON_Parse(reply);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        rlaif_errorf(err, errlen, RLAIF_E_FORMAT, HL_WHO ": answer of %s is not a JSON object: %.120s",
                     L->url, reply ? reply : "");
        return NULL;
    }
    return root;
}

/* Looks up each label among (token, logprob) alternatives. */
typedef struct alt_list {
    size_t n;
    const char *tok[1024];
    double lp[1024];
} alt_list;

static void match_labels(const alt_list *a, size_t n_labels, const char *const *labels,
                         double *ll, size_t *missing_n)
{
    double floor = INFINITY;
    for (size_t j = 0; j < a->n; j++)
        if (a->lp[j] < floor) floor = a->lp[j];
    for (size_t k = 0; k < n_labels; k++) {
        ll[k] = floor;
        int found = 0;
        for (size_t j = 0; j < a->n && !found; j++)
            if (strcmp(a->tok[j], labels[k]) == 0) {
                ll[k] = a->lp[j];
                found = 1;
            }
        if (!found) (*missing_n)++;
    }
}

rlaif_status hl_reply_top(const http_labeler *L, const char *reply, size_t n_labels,
                          const char *const *labels, double *ll, size_t *missing_n, char *err,
                          size_t errlen)
{
    cJSON *root = parse(L, reply, err, errlen);
    if (!root) return RLAIF_E_FORMAT;
    walk w = {.at = root, .path = "$"};
    rlaif_status st = RLAIF_OK;
    alt_list *a = calloc(1, sizeof *a);
    if (!a) {
        cJSON_Delete(root);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, HL_WHO ": out of memory");
    }
    if (!step_key(&w, "choices", 1)) st = missing(L, &w, "an array", err, errlen);
    else if (!step_index(&w, 0, 0)) st = missing(L, &w, "an object", err, errlen);
    else if (!step_key(&w, "logprobs", 0)) st = missing(L, &w, "an object", err, errlen);
    else if (L->endpoint == HL_ENDPOINT_CHAT) {
        /* $.choices[0].logprobs.content[0].top_logprobs: [{token, logprob}] */
        if (!step_key(&w, "content", 1)) st = missing(L, &w, "an array", err, errlen);
        else if (!step_index(&w, 0, 0)) st = missing(L, &w, "an object", err, errlen);
        else if (!step_key(&w, "top_logprobs", 1)) st = missing(L, &w, "an array", err, errlen);
        const cJSON *e;
        int i = 0;
        if (!st) cJSON_ArrayForEach(e, w.at) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "token");
            const cJSON *lp = cJSON_GetObjectItemCaseSensitive(e, "logprob");
            if (!cJSON_IsString(t) || !cJSON_IsNumber(lp)) {
                st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                                  HL_WHO ": answer of %s: %s[%d] needs a string 'token' and a "
                                  "number 'logprob'", L->url, w.path, i);
                break;
            }
            if (a->n < 1024) {
                a->tok[a->n] = t->valuestring;
                a->lp[a->n++] = lp->valuedouble;
            }
            i++;
        }
    } else {
        /* $.choices[0].logprobs.top_logprobs[0]: {token: logprob} */
        if (!step_key(&w, "top_logprobs", 1)) st = missing(L, &w, "an array", err, errlen);
        else if (!step_index(&w, 0, 0)) st = missing(L, &w, "an object", err, errlen);
        const cJSON *e;
        if (!st) cJSON_ArrayForEach(e, w.at) {
            if (!cJSON_IsNumber(e)) {
                st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                                  HL_WHO ": answer of %s: %s[\"%.40s\"] is not a number", L->url,
                                  w.path, e->string ? e->string : "");
                break;
            }
            if (a->n < 1024) {
                a->tok[a->n] = e->string;
                a->lp[a->n++] = e->valuedouble;
            }
        }
    }
    if (!st && a->n == 0)
        st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                          HL_WHO ": answer of %s: %s is empty (does the server honour "
                          "logprobs/top_logprobs?)", L->url, w.path);
    if (!st) match_labels(a, n_labels, labels, ll, missing_n);
    free(a);
    cJSON_Delete(root);
    return st;
}

rlaif_status hl_reply_echo(const http_labeler *L, const char *reply, double *ll, char *err,
                           size_t errlen)
{
    cJSON *root = parse(L, reply, err, errlen);
    if (!root) return RLAIF_E_FORMAT;
    walk w = {.at = root, .path = "$"};
    rlaif_status st = RLAIF_OK;
    if (!step_key(&w, "choices", 1)) st = missing(L, &w, "an array", err, errlen);
    else if (!step_index(&w, 0, 0)) st = missing(L, &w, "an object", err, errlen);
    else if (!step_key(&w, "logprobs", 0)) st = missing(L, &w, "an object", err, errlen);
    else if (!step_key(&w, "token_logprobs", 1)) st = missing(L, &w, "an array", err, errlen);
    double sum = 0;
    int i = 0;
    const cJSON *e;
    if (!st) cJSON_ArrayForEach(e, w.at) {
        /* The first token may have no context (null); any other must. */
        if (cJSON_IsNumber(e)) sum += e->valuedouble;
        else if (!(i == 0 && cJSON_IsNull(e))) {
            st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                              HL_WHO ": answer of %s: %s[%d] is not a number", L->url, w.path, i);
            break;
        }
        i++;
    }
    if (!st) *ll = sum;
    cJSON_Delete(root);
    return st;
}

rlaif_status hl_reply_text(const http_labeler *L, const char *reply, char **text, char *err,
                           size_t errlen)
{
    cJSON *root = parse(L, reply, err, errlen);
    if (!root) return RLAIF_E_FORMAT;
    walk w = {.at = root, .path = "$"};
    rlaif_status st = RLAIF_OK;
    *text = NULL;
    if (!step_key(&w, "choices", 1)) st = missing(L, &w, "an array", err, errlen);
    else if (!step_index(&w, 0, 0)) st = missing(L, &w, "an object", err, errlen);
    else if (L->endpoint == HL_ENDPOINT_CHAT && !step_key(&w, "message", 0))
        st = missing(L, &w, "an object", err, errlen);
    if (!st) {
        const char *key = L->endpoint == HL_ENDPOINT_CHAT ? "content" : "text";
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(w.at, key);
        size_t n = strlen(w.path);
        snprintf(w.path + n, sizeof w.path - n, ".%s", key);
        if (!cJSON_IsString(v)) st = missing(L, &w, "a string", err, errlen);
        else if (!(*text = strdup(v->valuestring)))
            st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, HL_WHO ": out of memory");
    }
    cJSON_Delete(root);
    return st;
}
