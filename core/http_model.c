/*
 * http_model.c — everything `rlaif serve` asks of the model, through the
 * model vtable only: opening it, tokens and their texts, one batched
 * generate() per request, and log-probabilities.
 *
 * Log-probabilities are those of the model's own distribution (temperature
 * 1, before top-k/top-p), whatever the sampling settings: that is what a
 * labeler reading "how likely is token A here" needs.  Without
 * alternatives the tokens' log-probabilities come from one forward() over
 * the whole sequence (the call a local labeler makes); with top-k
 * alternatives, both come from next_logprobs() over each prefix (the first
 * generated position uses the prompt itself, as a local labeler does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

#define WHO "rlaif serve"

/* ===== Opening ========================================================== */

/* Nonzero when `piece` tokenizes to one token that detokenizes back to it. */
static int single_special(serve_model *m, const char *piece)
{
    int32_t *ids = NULL;
    size_t n = 0;
    char err[256];
    if (sm_tokenize(m, piece, 0, &ids, &n, err, sizeof err)) return 0;
    int ok = 0;
    if (n == 1) {
        char *t = NULL;
        size_t len = 0;
        if (!sm_token_text(m, ids[0], &t, &len, err, sizeof err))
            ok = len == strlen(piece) && memcmp(t, piece, len) == 0;
        free(t);
    }
    free(ids);
    return ok;
}

/* The model's name: the file or folder name without a .bin extension. */
static char *model_id(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    size_t len = n - s;
    if (len > 4 && memcmp(path + n - 4, ".bin", 4) == 0) len -= 4;
    char *id = malloc(len + 1);
    if (!id) return NULL;
    memcpy(id, path + s, len);
    id[len] = 0;
    return id;
}

/* Moves the keys of the JSON object `extra` into cfg; -1 with err set when
 * extra is not an object or repeats a key of cfg. */
static int merge_extra(cJSON *cfg, const char *extra, char *err, size_t errlen)
{
    cJSON *x = cJSON_Parse(extra);
    if (!cJSON_IsObject(x)) {
        cJSON_Delete(x);
        snprintf(err, errlen, "--model-config: expected a JSON object, got '%s'", extra);
        return -1;
    }
    while (x->child) {
        cJSON *it = cJSON_DetachItemViaPointer(x, x->child);
        if (cJSON_GetObjectItemCaseSensitive(cfg, it->string)) {
            snprintf(err, errlen, "--model-config: key '%s' is set by its own option", it->string);
            cJSON_Delete(it);
            cJSON_Delete(x);
            return -1;
        }
        cJSON_AddItemToObject(cfg, it->string, it);
    }
    cJSON_Delete(x);
    return 0;
}

int sm_open(serve_model *m, const char *backend, const char *path, int threads,
            const char *extra_json, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_MODEL, backend, err, errlen);
    if (!p) return -1;
    cJSON *cfg = cJSON_CreateObject();
    if (!cfg) return snprintf(err, errlen, "out of memory"), -1;
    /* model/bigram has no path: it loads a saved directory with "load". */
    int is_bigram = strcmp(backend, "bigram") == 0;
    cJSON_AddStringToObject(cfg, is_bigram ? "load" : "path", path);
    if (threads > 0 && strcmp(backend, "transformer") == 0)
        cJSON_AddNumberToObject(cfg, "threads", threads);
    if (extra_json && merge_extra(cfg, extra_json, err, errlen)) {
        cJSON_Delete(cfg);
        return -1;
    }
    char *text = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    if (!text) return snprintf(err, errlen, "out of memory"), -1;
    m->in = rlc_instance_create(p, text, err, errlen);
    free(text);
    if (!m->in) return -1;
    m->vt = rlc_instance_vtable(m->in);
    m->self = rlc_instance_self(m->in);
    if (!m->vt->tokenize || !m->vt->detokenize || !m->vt->info || !m->vt->generate) {
        snprintf(err, errlen, "%s: the model cannot tokenize, detokenize and generate",
                 rlc_instance_name(m->in));
        sm_close(m);
        return -1;
    }
    m->info.struct_size = sizeof m->info;
    if (m->vt->info(m->self, &m->info) || m->info.vocab_size <= 0) {
        snprintf(err, errlen, "%s: info() failed", rlc_instance_name(m->in));
        sm_close(m);
        return -1;
    }
    m->id = model_id(path);
    m->dist = malloc((size_t)SM_CHUNK * (size_t)m->info.vocab_size * sizeof *m->dist);
    if (!m->id || !m->dist) {
        snprintf(err, errlen, "out of memory");
        sm_close(m);
        return -1;
    }
    m->chatml = single_special(m, "<|im_start|>") && single_special(m, "<|im_end|>");
    return 0;
}

void sm_close(serve_model *m)
{
    if (m->in) rlc_instance_unref(m->in);
    free(m->id);
    free(m->dist);
    memset(m, 0, sizeof *m);
}

/* ===== Tokens =========================================================== */

rlaif_status sm_tokenize(serve_model *m, const char *text, int add_bos, int32_t **ids, size_t *n,
                         char *err, size_t errlen)
{
    size_t len = strlen(text);
    size_t cap = len + 8; /* byte-level tokenizers make at most one token per byte */
    *ids = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *buf = malloc(cap * sizeof *buf);
        if (!buf) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
        size_t got = 0;
        rlaif_status st = m->vt->tokenize(m->self, text, len, add_bos, buf, cap, &got, err, errlen);
        if (st == RLAIF_OK) {
            *ids = buf;
            *n = got;
            return RLAIF_OK;
        }
        free(buf);
        if (st != RLAIF_E_RANGE || got <= cap) return st;
        cap = got;
    }
    return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL, WHO ": tokenize kept asking for more room");
}

rlaif_status sm_detokenize(serve_model *m, const int32_t *ids, size_t n, int skip_special,
                           char **out, size_t *len, char *err, size_t errlen)
{
    /* One byte more than the cap passed, whichever way a model counts the NUL. */
    size_t cap = n * 8 + 16;
    *out = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *buf = malloc(cap + 1);
        if (!buf) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
        size_t got = 0;
        rlaif_status st = m->vt->detokenize(m->self, ids, n, skip_special, buf, cap, &got, err,
                                            errlen);
        if (st == RLAIF_OK) {
            if (got > cap) got = cap;
            buf[got] = 0;
            *out = buf;
            *len = got;
            return RLAIF_OK;
        }
        free(buf);
        if (st != RLAIF_E_RANGE || got + 1 <= cap) return st;
        cap = got + 1;
    }
    return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL, WHO ": detokenize kept asking for more room");
}

rlaif_status sm_token_text(serve_model *m, int32_t id, char **out, size_t *len, char *err,
                           size_t errlen)
{
    return sm_detokenize(m, &id, 1, 0, out, len, err, errlen);
}

/* ===== Generation ======================================================= */

rlaif_status sm_generate(serve_model *m, sm_seq *seqs, size_t n, const sm_sampling *s, char *err,
                         size_t errlen)
{
    for (size_t b = 0; b < n; b++) {
        seqs[b].gen = NULL;
        seqs[b].n_gen = 0;
        seqs[b].stopped = 0;
    }
    if (n == 0 || s->max_tokens == 0) return RLAIF_OK;
    size_t T = s->max_tokens;
    const int32_t **ids = malloc(n * sizeof *ids);
    size_t *len = malloc(n * sizeof *len);
    int32_t *gen = malloc(n * T * sizeof *gen);
    float *glp = malloc(n * T * sizeof *glp);
    size_t *n_new = malloc(n * sizeof *n_new);
    uint8_t *finish = malloc(n);
    rlaif_status st = RLAIF_OK;
    if (!ids || !len || !gen || !glp || !n_new || !finish)
        st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    if (!st) {
        for (size_t b = 0; b < n; b++) {
            ids[b] = seqs[b].prompt;
            len[b] = seqs[b].prompt_len;
        }
        rlaif_seqs in = {.struct_size = sizeof in, .n = n, .ids = ids, .len = len};
        rlaif_sampling sp = {.struct_size = sizeof sp,
                             .temperature = s->temperature,
                             .top_k = s->top_k,
                             .top_p = s->top_p,
                             .max_new_tokens = s->max_tokens,
                             .stop_strings = s->stop,
                             .n_stop_strings = s->n_stop,
                             .seed = s->seed};
        rlaif_generation out = {.struct_size = sizeof out, .ids = gen, .logprobs = glp,
                                .n_new = n_new, .finish = finish};
        st = m->vt->generate(m->self, &in, &sp, &out, err, errlen);
    }
    for (size_t b = 0; b < n && !st; b++) {
        size_t k = n_new[b] > T ? T : n_new[b];
        seqs[b].gen = malloc((k ? k : 1) * sizeof *seqs[b].gen);
        if (!seqs[b].gen) {
            st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
            break;
        }
        memcpy(seqs[b].gen, gen + b * T, k * sizeof *gen);
        seqs[b].n_gen = k;
        seqs[b].stopped = finish[b] == RLAIF_FINISH_STOP;
    }
    if (st)
        for (size_t b = 0; b < n; b++) {
            free(seqs[b].gen);
            seqs[b].gen = NULL;
            seqs[b].n_gen = 0;
        }
    free(ids);
    free(len);
    free(gen);
    free(glp);
    free(n_new);
    free(finish);
    return st;
}

/* ===== Log-probabilities ================================================ */

rlaif_status sm_token_logprobs(serve_model *m, const int32_t *ids, size_t len, size_t from,
                               float *lp, char *err, size_t errlen)
{
    if (from < 1 || from >= len) return RLAIF_OK;
    if (!m->vt->forward)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": the model has no forward(); logprobs are not available");
    float *all = malloc(len * sizeof *all);
    if (!all) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    const int32_t *p = ids;
    rlaif_seqs s = {.struct_size = sizeof s, .n = 1, .ids = &p, .len = &len};
    rlaif_outputs o = {.struct_size = sizeof o, .logprobs = all};
    rlaif_status st = m->vt->forward(m->self, &s, RLAIF_OUT_LOGPROBS, 1.0f, &o, err, errlen);
    /* Entry t-1 of the forward output is log p(ids[t] | ids[..t-1]). */
    for (size_t t = from; t < len && !st; t++) lp[t - from] = all[t - 1];
    free(all);
    return st;
}

/* Keeps the k best (id, logprob) of one distribution, best first, ties by
 * lower id: an insertion into a sorted list of k, O(V·k) worst case but
 * O(V) in practice since most entries fail the first comparison. */
static void top_k(const float *d, size_t V, size_t k, int32_t *id, float *lp)
{
    size_t have = 0;
    for (size_t v = 0; v < V; v++) {
        float x = d[v];
        if (have == k && !(x > lp[k - 1])) continue;
        size_t pos = have < k ? have : k - 1;
        while (pos > 0 && x > lp[pos - 1]) {
            if (pos < k) {
                lp[pos] = lp[pos - 1];
                id[pos] = id[pos - 1];
            }
            pos--;
        }
        lp[pos] = x;
        id[pos] = (int32_t)v;
        if (have < k) have++;
    }
}

rlaif_status sm_top_logprobs(serve_model *m, const int32_t *ids, size_t len, size_t from,
                             size_t k, int32_t *top_id, float *top_lp, float *tok_lp, char *err,
                             size_t errlen)
{
    if (k == 0 || from >= len) return RLAIF_OK;
    if (from < 1) return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL, WHO ": top logprobs at 0");
    if (!m->vt->next_logprobs)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": the model has no next_logprobs(); top logprobs are not "
                            "available");
    size_t V = (size_t)m->info.vocab_size;
    const int32_t *pre[SM_CHUNK];
    size_t plen[SM_CHUNK];
    for (size_t t0 = from; t0 < len; t0 += SM_CHUNK) {
        size_t c = len - t0 < SM_CHUNK ? len - t0 : SM_CHUNK;
        for (size_t i = 0; i < c; i++) {
            pre[i] = ids;
            plen[i] = t0 + i; /* the prefix before position t0 + i */
        }
        rlaif_seqs s = {.struct_size = sizeof s, .n = c, .ids = pre, .len = plen};
        rlaif_status st = m->vt->next_logprobs(m->self, &s, m->dist, err, errlen);
        if (st) return st;
        for (size_t i = 0; i < c; i++) {
            size_t row = t0 + i - from;
            int32_t tok = ids[t0 + i];
            if (tok < 0 || (size_t)tok >= V)
                return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL, WHO ": token %d outside the "
                                    "vocabulary", (int)tok);
            tok_lp[row] = m->dist[i * V + (size_t)tok];
            top_k(m->dist + i * V, V, k, top_id + row * k, top_lp + row * k);
        }
    }
    return RLAIF_OK;
}
