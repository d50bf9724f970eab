/*
 * http_client.c — the request engine of labeler/http: POSTs JSON bodies to
 * one URL with libcurl's multi interface, at most `concurrency` in flight,
 * each attempt bounded by `timeout_ms`, and retries with exponential
 * back-off on the failures a later attempt may cure (429, 5xx, refused or
 * dropped connections, timeouts).  Other 4xx answers are final: asking
 * again would get the same answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "http_labeler.h"

typedef struct job_state {
    CURL *easy;
    char *buf;
    size_t len, cap;
    int attempts;
    double ready_at;      /* monotonic seconds when the next attempt may start */
    int done;
    int running;          /* an attempt is in the multi handle */
    CURLcode last_curl;
    char curl_err[CURL_ERROR_SIZE];
} job_state;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    job_state *s = ud;
    size_t n = size * nmemb;
    if (s->len + n + 1 > s->cap) {
        size_t cap = (s->len + n + 1) * 2;
        char *q = realloc(s->buf, cap);
        if (!q) return 0; /* curl reports a write error */
        s->buf = q;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = 0;
    return n;
}

static int retryable(CURLcode cc, long status)
{
    if (cc != CURLE_OK)
        return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
               cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING ||
               cc == CURLE_PARTIAL_FILE || cc == CURLE_COULDNT_RESOLVE_HOST;
    return status == 429 || status >= 500;
}

/* The "error.message" of an OpenAI-shaped error body, else the body's start. */
static void server_message(const char *body, char *out, size_t outlen)
{
    out[0] = 0;
    if (!body) return;
    cJSON *root = cJSON_Parse(body);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message")
                                       : cJSON_IsString(e) ? e : NULL;
    if (cJSON_IsString(m)) snprintf(out, outlen, "%s", m->valuestring);
    else snprintf(out, outlen, "%.200s", body);
    cJSON_Delete(root);
}

static rlaif_status start(http_labeler *L, CURLM *multi, struct curl_slist *headers, hl_job *job,
                          job_state *s, char *err, size_t errlen)
{
    s->len = 0;
    if (s->buf) s->buf[0] = 0;
    s->curl_err[0] = 0;
    if (!s->easy && !(s->easy = curl_easy_init()))
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, HL_WHO ": curl_easy_init failed");
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, L->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, job->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(job->body));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, L->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, L->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->curl_err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)s);
    /* Plain HTTP servers answer at once; skip the 100-continue round trip. */
    if (curl_multi_add_handle(multi, e) != CURLM_OK)
        return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL, HL_WHO ": curl_multi_add_handle failed");
    s->attempts++;
    return RLAIF_OK;
}

/* Handles a finished attempt: final success, final failure, or a retry. */
static rlaif_status finish(http_labeler *L, hl_job *job, job_state *s, CURLcode cc, char *err,
                           size_t errlen)
{
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    job->status = status;
    s->last_curl = cc;
    if (cc == CURLE_OK && status >= 200 && status < 300) {
        job->reply = s->buf;
        job->reply_len = s->len;
        s->buf = NULL;
        s->len = s->cap = 0;
        s->done = 1;
        return RLAIF_OK;
    }
    if (retryable(cc, status) && s->attempts <= L->retries) {
        double wait = (double)L->backoff_ms * 1e-3 * (double)(1u << (s->attempts - 1));
        if (wait > 30.0) wait = 30.0;
        s->ready_at = now_s() + wait;
        L->n_retries++;
        return RLAIF_OK;
    }
    if (cc != CURLE_OK)
        return rlaif_errorf(err, errlen, RLAIF_E_EXTERNAL,
                            HL_WHO ": POST %s failed after %d attempt(s): %s", L->url,
                            s->attempts, s->curl_err[0] ? s->curl_err : curl_easy_strerror(cc));
    char msg[400];
    server_message(s->buf, msg, sizeof msg);
    return rlaif_errorf(err, errlen, RLAIF_E_EXTERNAL,
                        HL_WHO ": POST %s: HTTP %ld after %d attempt(s): %s", L->url, status,
                        s->attempts, msg);
}

rlaif_status hl_run(http_labeler *L, hl_job *jobs, size_t n, char *err, size_t errlen)
{
    if (n == 0) return RLAIF_OK;
    job_state *st = calloc(n, sizeof *st);
    CURLM *multi = curl_multi_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    if (L->auth) headers = curl_slist_append(headers, L->auth);
    rlaif_status rc = RLAIF_OK;
    if (!st || !multi || !headers) rc = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, HL_WHO ": out of memory");
    size_t n_done = 0;
    int in_flight = 0;
    while (!rc && n_done < n) {
        if (L->host && L->host->cancelled && L->host->cancelled(L->host)) {
            rc = rlaif_errorf(err, errlen, RLAIF_E_CANCELLED, HL_WHO ": cancelled");
            break;
        }
        /* Start what may start. */
        double t = now_s(), next_ready = t + 0.1;
        for (size_t i = 0; i < n && in_flight < L->concurrency && !rc; i++) {
            job_state *s = &st[i];
            if (s->done || s->running) continue;
            if (s->ready_at > t) {
                if (s->ready_at < next_ready) next_ready = s->ready_at;
                continue;
            }
            rc = start(L, multi, headers, &jobs[i], s, err, errlen);
            if (rc) break;
            s->running = 1;
            in_flight++;
            L->n_requests++;
        }
        if (rc) break;
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            job_state *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode cc = msg->data.result;
            curl_multi_remove_handle(multi, msg->easy_handle);
            in_flight--;
            s->running = 0;
            size_t i = (size_t)(s - st);
            if (!rc) rc = finish(L, &jobs[i], s, cc, err, errlen);
            if (s->done) n_done++;
        }
        if (rc || n_done == n) break;
        double wait = next_ready - now_s();
        int ms = wait <= 0 ? 0 : wait > 0.1 ? 100 : (int)(wait * 1000) + 1;
        if (in_flight) curl_multi_poll(multi, NULL, 0, ms, NULL);
        else if (ms > 0) {
            struct timespec ts = {0, (long)ms * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    for (size_t i = 0; st && i < n; i++) {
        if (st[i].easy) {
            if (st[i].running) curl_multi_remove_handle(multi, st[i].easy);
            curl_easy_cleanup(st[i].easy);
        }
        free(st[i].buf);
    }
    if (rc)
        for (size_t i = 0; i < n; i++) {
            free(jobs[i].reply);
            jobs[i].reply = NULL;
        }
    curl_slist_free_all(headers);
    if (multi) curl_multi_cleanup(multi);
    free(st);
    return rc;
}
