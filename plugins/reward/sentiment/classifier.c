/* classifier.c — the model-based sentiment classifier; see classifier.h. */
#include "classifier.h"

#include <stdlib.h>
#include <string.h>

rlaif_status sent_classifier_open(sent_classifier *c, const rlaif_host *host, uint64_t handle,
                                  char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (!host || !host->acquire)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "reward/sentiment: config key 'model': the host cannot lend instances");
    c->ref.struct_size = sizeof c->ref;
    char sub[256] = "";
    rlaif_status st = host->acquire(host, handle, RLAIF_KIND_MODEL, &c->ref, sub, sizeof sub);
    if (st)
        return rlaif_errorf(err, errlen, st, "reward/sentiment: config key 'model': %s", sub);
    c->host = host;
    c->handle = handle;
    c->vt = c->ref.vtable;
    rlaif_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    st = c->vt->info ? c->vt->info(c->ref.self, &info) : RLAIF_E_UNSUPPORTED;
    if (st == RLAIF_OK && (!info.has_score_head || !c->vt->forward || !c->vt->tokenize))
        st = rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                          "reward/sentiment: config key 'model': the model has no score head "
                          "(create it with one, e.g. a trained reward model)");
    else if (st)
        rlaif_errorf(err, errlen, st, "reward/sentiment: config key 'model': info() failed");
    if (st) {
        sent_classifier_close(c);
        return st;
    }
    c->max_len = info.max_seq_len > 0 ? info.max_seq_len : 0;
    return RLAIF_OK;
}

void sent_classifier_close(sent_classifier *c)
{
    if (c->handle && c->host) c->host->release(c->host, c->handle);
    free(c->ids);
    free(c->off);
    free(c->len);
    free(c->ptrs);
    memset(c, 0, sizeof *c);
}

static int reserve_batch(sent_classifier *c, size_t n)
{
    if (n <= c->batch_cap) return 0;
    size_t *off = realloc(c->off, n * sizeof *off);
    if (off) c->off = off;
    size_t *len = realloc(c->len, n * sizeof *len);
    if (len) c->len = len;
    const int32_t **ptrs = realloc(c->ptrs, n * sizeof *ptrs);
    if (ptrs) c->ptrs = ptrs;
    if (!off || !len || !ptrs) return -1;
    c->batch_cap = n;
    return 0;
}

static int reserve_ids(sent_classifier *c, size_t n)
{
    if (n <= c->ids_cap) return 0;
    size_t cap = c->ids_cap ? c->ids_cap : 1024;
    while (cap < n) cap *= 2;
    int32_t *ids = realloc(c->ids, cap * sizeof *ids);
    if (!ids) return -1;
    c->ids = ids;
    c->ids_cap = cap;
    return 0;
}

/* Appends the tokens of one text to the flat buffer (with BOS), growing it
 * when the model says the room is short; keeps the first max_len tokens. */
static rlaif_status tokenize_one(sent_classifier *c, size_t used, const char *text, size_t *n,
                                 char *err, size_t errlen)
{
    size_t text_len = strlen(text);
    if (reserve_ids(c, used + text_len + 16)) goto nomem;
    for (int attempt = 0; attempt < 2; attempt++) {
        rlaif_status st = c->vt->tokenize(c->ref.self, text, text_len, 1, c->ids + used,
                                          c->ids_cap - used, n, err, errlen);
        if (st == RLAIF_E_RANGE && attempt == 0) {
            if (reserve_ids(c, used + *n)) goto nomem;
            continue;
        }
        if (st) return st;
        if (c->max_len > 0 && *n > (size_t)c->max_len) *n = (size_t)c->max_len;
        if (*n == 0)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "reward/sentiment: the model gave no tokens for a text");
        return RLAIF_OK;
    }
    return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL,
                        "reward/sentiment: tokenize kept asking for more room");
nomem:
    return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/sentiment: out of memory");
}

/* One forward over texts[0..n). */
static rlaif_status score_chunk(sent_classifier *c, size_t n, const char *const *texts,
                               float *out, char *err, size_t errlen)
{
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        size_t got = 0;
        rlaif_status st = tokenize_one(c, used, texts[i] ? texts[i] : "", &got, err, errlen);
        if (st) return st;
        c->off[i] = used;
        c->len[i] = got;
        used += got;
    }
    /* the buffer may have moved while growing: take pointers only now */
    for (size_t i = 0; i < n; i++) c->ptrs[i] = c->ids + c->off[i];
    rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = n, .ids = c->ptrs, .len = c->len,
                       .prompt_len = NULL};
    rlaif_outputs o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.score = out;
    return c->vt->forward(c->ref.self, &seqs, RLAIF_OUT_SCORE, 1.0f, &o, err, errlen);
}

rlaif_status sent_classifier_score(sent_classifier *c, size_t n, const char *const *texts,
                                   float *out, char *err, size_t errlen)
{
    size_t chunk = c->batch > 0 ? c->batch : 32;
    if (reserve_batch(c, n < chunk ? n : chunk))
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/sentiment: out of memory");
    for (size_t i = 0; i < n; i += chunk) {
        if (c->host->cancelled && c->host->cancelled(c->host))
            return rlaif_errorf(err, errlen, RLAIF_E_CANCELLED, "reward/sentiment: cancelled");
        size_t m = n - i < chunk ? n - i : chunk;
        rlaif_status st = score_chunk(c, m, texts + i, out + i, err, errlen);
        if (st) return st;
    }
    return RLAIF_OK;
}
