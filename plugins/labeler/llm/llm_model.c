/*
 * llm_model.c — the labeler's only contact with the model, through the
 * model vtable: tokenising, log-likelihoods of labels and texts, and
 * generation.  Every model call is batched, in chunks of `batch_size`
 * sequences, and polls the host's cancellation between chunks.
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "llm.h"

/* ===== Tokens ============================================================ */

rlaif_status llm_tokenize(llm_labeler *L, const char *text, int add_bos, int32_t **ids,
                          size_t *n, char *err, size_t errlen)
{
    size_t len = strlen(text);
    size_t cap = len + 8; /* byte-level tokenizers make at most one token per byte */
    *ids = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *buf = malloc(cap * sizeof *buf);
        if (!buf) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
        size_t got = 0;
        rlaif_status st = L->mv->tokenize(L->model.self, text, len, add_bos, buf, cap, &got, err,
                                          errlen);
        if (st == RLAIF_OK) {
            *ids = buf;
            *n = got;
            return RLAIF_OK;
        }
        free(buf);
        if (st != RLAIF_E_RANGE || got <= cap) return st;
        cap = got;
    }
    return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL, LLM_WHO ": tokenize kept asking for more room");
}

static rlaif_status check_length(const llm_labeler *L, size_t len, const char *what, size_t i,
                                 char *err, size_t errlen)
{
    if (L->max_seq_len > 0 && len > (size_t)L->max_seq_len)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            LLM_WHO ": %s %zu is %zu tokens, longer than the model's "
                            "max_seq_len %d (shorten the prompt or the responses)",
                            what, i, len, (int)L->max_seq_len);
    return RLAIF_OK;
}

/* ===== Forward in chunks ================================================= */

/* Per-token logprobs of n sequences into the flat array lp (sum len). */
static rlaif_status forward_logprobs(llm_labeler *L, size_t n, int32_t *const *ids,
                                     const size_t *len, float *lp, char *err, size_t errlen)
{
    if (!L->mv->forward)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            LLM_WHO ": the model has no forward() (needed for log-likelihoods)");
    size_t off = 0;
    for (size_t s = 0; s < n; s += L->batch_size) {
        if (llm_cancelled(L, err, errlen)) return RLAIF_E_CANCELLED;
        size_t m = n - s < L->batch_size ? n - s : L->batch_size;
        rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = m,
                           .ids = (const int32_t *const *)(ids + s), .len = len + s,
                           .prompt_len = NULL};
        rlaif_outputs out = {.struct_size = sizeof out, .logprobs = lp + off};
        rlaif_status st =
            L->mv->forward(L->model.self, &seqs, RLAIF_OUT_LOGPROBS, 1.0f, &out, err, errlen);
        if (st) return st;
        for (size_t i = 0; i < m; i++) off += len[s + i];
    }
    return RLAIF_OK;
}

/* Sum of logprobs of the tokens at positions from..len-1 of one sequence
 * (entry t of lp is log p(ids[t+1] | ids[..t])). */
static double tail_loglik(const float *lp, size_t len, size_t from)
{
    double s = 0;
    if (from == 0) from = 1; /* the first token has no context to be scored in */
    for (size_t t = from; t < len; t++) s += lp[t - 1];
    return s;
}

static size_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    size_t k = 0;
    while (k < na && k < nb && a[k] == b[k]) k++;
    return k;
}

/* ===== Label log-likelihoods ============================================ */

typedef struct label_work {
    size_t n_ctx, n_labels;
    int32_t **cids;   /* [n_ctx] */
    size_t *clen;
    int32_t **sids;   /* [n_ctx * n_labels]: context ⊕ label */
    size_t *slen;
    uint8_t *fast;    /* [n_ctx] every label is one extra token */
} label_work;

static void label_work_free(label_work *w)
{
    for (size_t i = 0; w->cids && i < w->n_ctx; i++) free(w->cids[i]);
    for (size_t i = 0; w->sids && i < w->n_ctx * w->n_labels; i++) free(w->sids[i]);
    free(w->cids);
    free(w->clen);
    free(w->sids);
    free(w->slen);
    free(w->fast);
}

static rlaif_status label_work_tokenize(llm_labeler *L, label_work *w, const char *const *ctx,
                                        const char *const *labels, char *err, size_t errlen)
{
    size_t nc = w->n_ctx, nl = w->n_labels;
    w->cids = calloc(nc, sizeof *w->cids);
    w->clen = calloc(nc, sizeof *w->clen);
    w->sids = calloc(nc * nl, sizeof *w->sids);
    w->slen = calloc(nc * nl, sizeof *w->slen);
    w->fast = calloc(nc, 1);
    if (!w->cids || !w->clen || !w->sids || !w->slen || !w->fast)
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    sbuf text;
    sbuf_init(&text);
    rlaif_status st = RLAIF_OK;
    for (size_t i = 0; i < nc && !st; i++) {
        st = llm_tokenize(L, ctx[i], 1, &w->cids[i], &w->clen[i], err, errlen);
        if (!st) st = check_length(L, w->clen[i] + 1, "context", i, err, errlen);
        int fast = L->mv->next_logprobs != NULL;
        for (size_t k = 0; k < nl && !st; k++) {
            sbuf_clear(&text);
            sbuf_puts(&text, ctx[i]);
            sbuf_puts(&text, labels[k]);
            if (sbuf_failed(&text)) {
                st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
                break;
            }
            size_t at = i * nl + k;
            st = llm_tokenize(L, sbuf_str(&text), 1, &w->sids[at], &w->slen[at], err, errlen);
            if (!st) st = check_length(L, w->slen[at], "context", i, err, errlen);
            if (!st)
                fast = fast && w->slen[at] == w->clen[i] + 1 &&
                       common_prefix(w->cids[i], w->clen[i], w->sids[at], w->slen[at]) ==
                           w->clen[i];
        }
        w->fast[i] = (uint8_t)fast;
    }
    sbuf_free(&text);
    return st;
}

/* Contexts whose labels are single tokens: one next-token distribution each. */
static rlaif_status label_fast(llm_labeler *L, const label_work *w, double *out, char *err,
                               size_t errlen)
{
    size_t nc = w->n_ctx, nl = w->n_labels, V = (size_t)L->vocab_size;
    size_t *which = malloc((nc ? nc : 1) * sizeof *which);
    int32_t **ids = malloc((nc ? nc : 1) * sizeof *ids);
    size_t *len = malloc((nc ? nc : 1) * sizeof *len);
    float *dist = malloc(L->batch_size * V * sizeof *dist);
    rlaif_status st = RLAIF_OK;
    if (!which || !ids || !len || !dist)
        st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    size_t m = 0;
    for (size_t i = 0; i < nc && !st; i++) {
        if (!w->fast[i]) continue;
        which[m] = i;
        ids[m] = w->cids[i];
        len[m] = w->clen[i];
        m++;
    }
    for (size_t s = 0; s < m && !st; s += L->batch_size) {
        if (llm_cancelled(L, err, errlen)) {
            st = RLAIF_E_CANCELLED;
            break;
        }
        size_t c = m - s < L->batch_size ? m - s : L->batch_size;
        rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = c,
                           .ids = (const int32_t *const *)(ids + s), .len = len + s};
        st = L->mv->next_logprobs(L->model.self, &seqs, dist, err, errlen);
        for (size_t b = 0; b < c && !st; b++) {
            size_t i = which[s + b];
            for (size_t k = 0; k < nl; k++) {
                int32_t tok = w->sids[i * nl + k][w->slen[i * nl + k] - 1];
                if (tok < 0 || (size_t)tok >= V) {
                    st = rlaif_errorf(err, errlen, RLAIF_E_INTERNAL,
                                      LLM_WHO ": token id %d outside the vocabulary (%zu)",
                                      (int)tok, V);
                    break;
                }
                out[i * nl + k] = dist[b * V + (size_t)tok];
            }
        }
    }
    free(which);
    free(ids);
    free(len);
    free(dist);
    return st;
}

/* The other contexts: forward over the context and each context ⊕ label. */
static rlaif_status label_slow(llm_labeler *L, const label_work *w, double *out, char *err,
                               size_t errlen)
{
    size_t nc = w->n_ctx, nl = w->n_labels, per = nl + 1;
    size_t m = 0, total = 0;
    for (size_t i = 0; i < nc; i++) {
        if (w->fast[i]) continue;
        m++;
        total += w->clen[i];
        for (size_t k = 0; k < nl; k++) total += w->slen[i * nl + k];
    }
    if (m == 0) return RLAIF_OK;
    int32_t **ids = malloc(m * per * sizeof *ids);
    size_t *len = malloc(m * per * sizeof *len);
    float *lp = malloc(total * sizeof *lp);
    rlaif_status st = RLAIF_OK;
    if (!ids || !len || !lp) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    size_t q = 0;
    for (size_t i = 0; i < nc && !st; i++) {
        if (w->fast[i]) continue;
        ids[q] = w->cids[i];
        len[q++] = w->clen[i];
        for (size_t k = 0; k < nl; k++) {
            ids[q] = w->sids[i * nl + k];
            len[q++] = w->slen[i * nl + k];
        }
    }
    if (!st) st = forward_logprobs(L, m * per, ids, len, lp, err, errlen);
    size_t off = 0;
    for (size_t i = 0; i < nc && !st; i++) {
        if (w->fast[i]) continue;
        const float *lpc = lp + off;
        off += w->clen[i];
        for (size_t k = 0; k < nl; k++) {
            size_t at = i * nl + k;
            const float *lps = lp + off;
            off += w->slen[at];
            size_t cp = common_prefix(w->cids[i], w->clen[i], w->sids[at], w->slen[at]);
            /* log P(ctx ⊕ label) − log P(ctx): the shared prefix cancels. */
            out[at] = tail_loglik(lps, w->slen[at], cp) - tail_loglik(lpc, w->clen[i], cp);
        }
    }
    free(ids);
    free(len);
    free(lp);
    return st;
}

rlaif_status llm_label_loglik(llm_labeler *L, size_t n_ctx, const char *const *ctx,
                              size_t n_labels, const char *const *labels, double *out,
                              char *err, size_t errlen)
{
    if (n_ctx == 0) return RLAIF_OK;
    label_work w = {.n_ctx = n_ctx, .n_labels = n_labels};
    rlaif_status st = label_work_tokenize(L, &w, ctx, labels, err, errlen);
    if (!st) st = label_fast(L, &w, out, err, errlen);
    if (!st) st = label_slow(L, &w, out, err, errlen);
    label_work_free(&w);
    return st;
}

/* ===== Whole-text log-likelihoods ======================================= */

rlaif_status llm_text_loglik(llm_labeler *L, size_t n, const char *const *texts, double *out,
                             char *err, size_t errlen)
{
    if (n == 0) return RLAIF_OK;
    int32_t **ids = calloc(n, sizeof *ids);
    size_t *len = calloc(n, sizeof *len);
    float *lp = NULL;
    rlaif_status st = RLAIF_OK;
    if (!ids || !len) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    size_t total = 0;
    for (size_t i = 0; i < n && !st; i++) {
        st = llm_tokenize(L, texts[i], 1, &ids[i], &len[i], err, errlen);
        if (!st) st = check_length(L, len[i], "probe text", i, err, errlen);
        total += len[i];
    }
    if (!st && !(lp = malloc((total ? total : 1) * sizeof *lp)))
        st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    if (!st) st = forward_logprobs(L, n, ids, len, lp, err, errlen);
    size_t off = 0;
    for (size_t i = 0; i < n && !st; i++) {
        out[i] = tail_loglik(lp + off, len[i], 1);
        off += len[i];
    }
    for (size_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(len);
    free(lp);
    return st;
}

/* ===== Generation ======================================================= */

/* Detokenises into a malloc'ed string. */
static rlaif_status detok(llm_labeler *L, const int32_t *ids, size_t n, char **out, char *err,
                          size_t errlen)
{
    /* The buffer has one byte more than the `cap` passed, so it is large
     * enough whether a model counts the NUL in cap or adds it after. */
    size_t cap = n * 8 + 16;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *buf = malloc(cap + 1);
        if (!buf) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
        size_t got = 0;
        rlaif_status st = L->mv->detokenize(L->model.self, ids, n, 1, buf, cap, &got, err, errlen);
        if (st == RLAIF_OK) {
            buf[cap] = 0;
            *out = buf;
            return RLAIF_OK;
        }
        free(buf);
        if (st != RLAIF_E_RANGE || got + 1 <= cap) return st;
        cap = got + 1;
    }
    return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL, LLM_WHO ": detokenize kept asking for more room");
}

/* Cuts the text at the first stop string and trims white space, in place. */
static void cut_and_trim(char *s, char *const *stops, size_t n_stops, const char *chat_stop)
{
    for (size_t i = 0; i <= n_stops; i++) {
        const char *stop = i < n_stops ? stops[i] : chat_stop;
        if (!stop || !*stop) continue;
        char *at = strstr(s, stop);
        if (at) *at = 0;
    }
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' ||
                   s[len - 1] == '\r'))
        s[--len] = 0;
    size_t lead = strspn(s, " \n\t\r");
    memmove(s, s + lead, len - lead + 1);
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

rlaif_status llm_generate_text(llm_labeler *L, size_t n, const char *const *prompts,
                               uint32_t max_new, float temperature, uint64_t seed, char **out,
                               char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) out[i] = NULL;
    if (n == 0) return RLAIF_OK;
    if (!L->mv->generate)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            LLM_WHO ": the model cannot generate (needed for chain-of-thought "
                            "and critiques)");
    size_t B = L->batch_size;
    int32_t **ids = calloc(n, sizeof *ids);
    size_t *len = calloc(n, sizeof *len);
    uint64_t *seeds = calloc(n, sizeof *seeds);
    int32_t *gen_ids = malloc(B * max_new * sizeof *gen_ids);
    float *gen_lp = malloc(B * max_new * sizeof *gen_lp);
    size_t *n_new = malloc(B * sizeof *n_new);
    uint8_t *finish = malloc(B);
    rlaif_status st = RLAIF_OK;
    if (!ids || !len || !seeds || !gen_ids || !gen_lp || !n_new || !finish)
        st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        st = llm_tokenize(L, prompts[i], 1, &ids[i], &len[i], err, errlen);
        if (!st) st = check_length(L, len[i] + max_new, "generation prompt", i, err, errlen);
        /* One stream per prompt, independent of how prompts are chunked. */
        seeds[i] = mix64(seed ^ mix64((uint64_t)i + 1));
    }
    const char *chat_stop = lab_chat_stop(L->chat);
    const char *stops[16];
    size_t n_stops = 0;
    for (size_t i = 0; i < L->n_stop && n_stops < 15; i++) stops[n_stops++] = L->stop[i];
    if (chat_stop) stops[n_stops++] = chat_stop;
    int32_t eos = L->eos_id;
    for (size_t s = 0; s < n && !st; s += B) {
        if (llm_cancelled(L, err, errlen)) {
            st = RLAIF_E_CANCELLED;
            break;
        }
        size_t m = n - s < B ? n - s : B;
        rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = m,
                           .ids = (const int32_t *const *)(ids + s), .len = len + s};
        rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = temperature, .top_k = 0,
                             .top_p = 1.0f, .max_new_tokens = max_new,
                             .stop_ids = eos >= 0 ? &eos : NULL, .n_stop_ids = eos >= 0,
                             .stop_strings = n_stops ? stops : NULL, .n_stop_strings = n_stops,
                             .seed = seed, .seeds = seeds + s};
        rlaif_generation g = {.struct_size = sizeof g, .ids = gen_ids, .logprobs = gen_lp,
                              .n_new = n_new, .finish = finish};
        st = L->mv->generate(L->model.self, &seqs, &sp, &g, err, errlen);
        for (size_t b = 0; b < m && !st; b++) {
            st = detok(L, gen_ids + b * max_new, n_new[b], &out[s + b], err, errlen);
            if (!st) cut_and_trim(out[s + b], L->stop, L->n_stop, chat_stop);
        }
    }
    if (st)
        for (size_t i = 0; i < n; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    for (size_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(len);
    free(seeds);
    free(gen_ids);
    free(gen_lp);
    free(n_new);
    free(finish);
    return st;
}
