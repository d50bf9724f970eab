/*
 * http_choices.c — what the two generation endpoints share: their common
 * parameters, running a request (tokenise, check the context, one batched
 * generate(), build each choice: EOS dropped, stop strings cut, the text
 * cleaned to UTF-8, log-probability rows), the logprobs JSON in both of
 * OpenAI's shapes, and the response envelope.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

/* ===== Parameters shared by both endpoints ============================== */

static uint64_t fresh_seed(void)
{
    static uint64_t counter;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return ((uint64_t)t.tv_sec * 1000000007ull) ^ (uint64_t)t.tv_nsec ^ (++counter << 40);
}

static int parse_stop(const cJSON *req, serve_params *p, serve_reply *r)
{
    const cJSON *s = serve_field(req, "stop");
    if (!s) return 0;
    if (cJSON_IsString(s)) {
        if (s->valuestring[0]) p->stop[p->n_stop++] = s->valuestring;
        return 0;
    }
    if (!cJSON_IsArray(s) || cJSON_GetArraySize(s) > MAX_STOP) {
        serve_fail(r, 400, "stop", "'stop' must be a string or an array of at most %d strings",
             MAX_STOP);
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, s) {
        if (!cJSON_IsString(e)) {
            serve_fail(r, 400, "stop", "'stop' must be a string or an array of strings");
            return -1;
        }
        if (e->valuestring[0]) p->stop[p->n_stop++] = e->valuestring;
    }
    return 0;
}

int serve_parse_common(const cJSON *req, int chat, serve_params *p, serve_reply *r)
{
    memset(p, 0, sizeof *p);
    double x;
    const cJSON *model = serve_field(req, "model");
    if (model && !cJSON_IsString(model)) {
        serve_fail(r, 400, "model", "'model' must be a string");
        return -1;
    }
    const char *mt = chat && serve_field(req, "max_completion_tokens") ? "max_completion_tokens"
                                                                 : "max_tokens";
    p->max_tokens_given = serve_field(req, mt) != NULL;
    if (serve_get_int(req, mt, chat ? CHAT_DEFAULT_MAX_TOKENS : 16, 0, 1 << 16, &x, r)) return -1;
    p->max_tokens = (uint32_t)x;
    if (serve_get_number(req, "temperature", 1.0, 0.0, 2.0, &x, r)) return -1;
    p->temperature = (float)x;
    if (serve_get_number(req, "top_p", 1.0, 0.0, 1.0, &x, r)) return -1;
    p->top_p = (float)x;
    if (serve_get_int(req, "top_k", 0, -1, 1 << 30, &x, r)) return -1;
    p->top_k = x < 0 ? 0 : (int32_t)x; /* -1 means off in vLLM */
    if (serve_get_int(req, "n", 1, 1, MAX_N, &x, r)) return -1;
    p->n = (size_t)x;
    const cJSON *seed = serve_field(req, "seed");
    if (seed) {
        if (!cJSON_IsNumber(seed) || seed->valuedouble != floor(seed->valuedouble) ||
            seed->valuedouble < -9.2e18 || seed->valuedouble > 1.8e19) {
            serve_fail(r, 400, "seed", "'seed' must be an integer");
            return -1;
        }
        p->seed = seed->valuedouble < 0 ? (uint64_t)(int64_t)seed->valuedouble
                                        : (uint64_t)seed->valuedouble;
    } else {
        p->seed = fresh_seed();
    }
    if (serve_field(req, "stream") && !cJSON_IsFalse(serve_field(req, "stream"))) {
        serve_fail(r, 400, "stream", "'stream' is not supported by rlaif serve; leave it false");
        return -1;
    }
    return parse_stop(req, p, r);
}

/* ===== One choice ======================================================= */

void serve_choice_free(serve_choice *c)
{
    free(c->text);
    free(c->seq);
    free(c->lp);
    free(c->top_id);
    free(c->top_lp);
    memset(c, 0, sizeof *c);
}

/* Byte offset of the earliest stop string in text, or len. */
static size_t first_stop(const char *text, size_t len, const serve_params *p)
{
    size_t cut = len;
    for (size_t i = 0; i < p->n_stop; i++) {
        const char *at = strstr(text, p->stop[i]);
        if (at && (size_t)(at - text) < cut) cut = (size_t)(at - text);
    }
    return cut;
}

/* How many generated tokens start before byte `cut` of the generated text
 * (each token's text length taken from the tokenizer, specials skipped). */
static rlaif_status tokens_before(serve_model *m, const int32_t *g, size_t G, size_t cut,
                                  size_t *keep, char *err, size_t errlen)
{
    size_t off = 0, k = 0;
    for (; k < G && off < cut; k++) {
        char *t = NULL;
        size_t tl = 0;
        rlaif_status st = sm_detokenize(m, &g[k], 1, 1, &t, &tl, err, errlen);
        free(t);
        if (st) return st;
        off += tl;
    }
    *keep = k;
    return RLAIF_OK;
}

static rlaif_status build_choice(serve_model *m, const char *prompt_text, const int32_t *prompt,
                                 size_t P, const sm_seq *sq, const serve_params *p, serve_choice *c,
                                 char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    size_t G = sq->n_gen;
    c->stopped = sq->stopped;
    /* The EOS token ends the text; it is not part of it. */
    if (G && m->info.eos_id >= 0 && sq->gen[G - 1] == m->info.eos_id) {
        G--;
        c->stopped = 1;
    }
    char *gen_text = NULL;
    size_t gl = 0;
    rlaif_status st = sm_detokenize(m, sq->gen, G, 1, &gen_text, &gl, err, errlen);
    if (st) return st;
    size_t cut = first_stop(gen_text, gl, p);
    if (cut < gl) {
        c->stopped = 1;
        st = tokens_before(m, sq->gen, G, cut, &G, err, errlen);
        gen_text[cut] = 0;
        gl = cut;
    }
    c->n_gen = G;
    size_t pl = p->echo ? strlen(prompt_text) : 0;
    char *joined = malloc(pl + gl + 1);
    if (!st && !joined) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "out of memory");
    if (!st) {
        memcpy(joined, prompt_text, pl);
        memcpy(joined + pl, gen_text, gl + 1);
        c->text = serve_utf8_clean(joined, pl + gl);
        if (!c->text) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "out of memory");
    }
    free(joined);
    free(gen_text);
    c->prompt_chars = strlen(prompt_text);
    if (st || p->top < 0) return st;

    /* Log-probability rows: the prompt's tokens after BOS when echoing, and
     * the kept generated tokens. */
    c->seq_len = P + G;
    c->seq = malloc((c->seq_len ? c->seq_len : 1) * sizeof *c->seq);
    if (!c->seq) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "out of memory");
    if (P) memcpy(c->seq, prompt, P * sizeof *prompt);
    if (G) memcpy(c->seq + P, sq->gen, G * sizeof *prompt);
    int has_bos = P > 0 && m->info.bos_id >= 0 && prompt[0] == m->info.bos_id;
    c->from = p->echo ? (has_bos ? 1 : 0) : P;
    c->first_null = c->from == 0 && c->seq_len > 0;
    c->rows = c->seq_len - c->from;
    size_t k = (size_t)p->top, rows = c->rows ? c->rows : 1;
    c->lp = calloc(rows, sizeof *c->lp);
    c->top_id = calloc(rows * (k ? k : 1), sizeof *c->top_id);
    c->top_lp = calloc(rows * (k ? k : 1), sizeof *c->top_lp);
    if (!c->lp || !c->top_id || !c->top_lp)
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "out of memory");
    size_t skip = c->first_null; /* a token without context has no log-probability */
    if (k == 0)
        st = sm_token_logprobs(m, c->seq, c->seq_len, c->from + skip, c->lp + skip, err, errlen);
    else
        st = sm_top_logprobs(m, c->seq, c->seq_len, c->from + skip, k, c->top_id + skip * k,
                             c->top_lp + skip * k, c->lp + skip, err, errlen);
    return st;
}

/* ===== Logprobs JSON ==================================================== */

static cJSON *token_string(serve_model *m, int32_t id, cJSON **bytes, char *err, size_t errlen)
{
    char *t = NULL;
    size_t tl = 0;
    if (sm_token_text(m, id, &t, &tl, err, errlen)) return NULL;
    char *clean = serve_utf8_clean(t, tl);
    cJSON *s = clean ? cJSON_CreateString(clean) : NULL;
    if (bytes) {
        *bytes = cJSON_CreateArray();
        for (size_t i = 0; *bytes && i < tl; i++)
            cJSON_AddItemToArray(*bytes, cJSON_CreateNumber((unsigned char)t[i]));
    }
    free(clean);
    free(t);
    return s;
}

/* The legacy completions shape: parallel arrays. */
cJSON *serve_legacy_logprobs(serve_model *m, const serve_choice *c, size_t k, char *err, size_t errlen)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *tokens = cJSON_AddArrayToObject(o, "tokens");
    cJSON *lps = cJSON_AddArrayToObject(o, "token_logprobs");
    cJSON *tops = k ? cJSON_AddArrayToObject(o, "top_logprobs") : NULL;
    if (!k) cJSON_AddNullToObject(o, "top_logprobs");
    cJSON *offs = cJSON_AddArrayToObject(o, "text_offset");
    size_t P = c->seq_len - c->n_gen, off = c->from < P ? 0 : c->prompt_chars;
    for (size_t r = 0; r < c->rows; r++) {
        size_t t = c->from + r;
        if (t == P) off = c->prompt_chars; /* the generated text starts here */
        cJSON *s = token_string(m, c->seq[t], NULL, err, errlen);
        if (!s) goto fail;
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        off += strlen(s->valuestring);
        cJSON_AddItemToArray(tokens, s);
        if (r == 0 && c->first_null) cJSON_AddItemToArray(lps, cJSON_CreateNull());
        else cJSON_AddItemToArray(lps, cJSON_CreateNumber(c->lp[r]));
        if (!k) continue;
        if (r == 0 && c->first_null) {
            cJSON_AddItemToArray(tops, cJSON_CreateNull());
            continue;
        }
        cJSON *d = cJSON_CreateObject();
        cJSON_AddItemToArray(tops, d);
        for (size_t j = 0; j < k; j++) {
            cJSON *ts = token_string(m, c->top_id[r * k + j], NULL, err, errlen);
            if (!ts) goto fail;
            /* Two tokens with one text: the likelier (first) one stands. */
            if (!cJSON_GetObjectItemCaseSensitive(d, ts->valuestring))
                cJSON_AddNumberToObject(d, ts->valuestring, c->top_lp[r * k + j]);
            cJSON_Delete(ts);
        }
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* The chat shape: one object per generated token, with bytes. */
cJSON *serve_chat_logprobs(serve_model *m, const serve_choice *c, size_t k, char *err, size_t errlen)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *content = cJSON_AddArrayToObject(o, "content");
    for (size_t r = 0; r < c->rows; r++) {
        cJSON *e = cJSON_CreateObject(), *bytes = NULL;
        cJSON_AddItemToArray(content, e);
        cJSON *s = token_string(m, c->seq[c->from + r], &bytes, err, errlen);
        if (!s) goto fail;
        cJSON_AddItemToObject(e, "token", s);
        cJSON_AddNumberToObject(e, "logprob", c->lp[r]);
        cJSON_AddItemToObject(e, "bytes", bytes);
        cJSON *tops = cJSON_AddArrayToObject(e, "top_logprobs");
        for (size_t j = 0; j < k; j++) {
            cJSON *t = cJSON_CreateObject(), *tb = NULL;
            cJSON_AddItemToArray(tops, t);
            cJSON *ts = token_string(m, c->top_id[r * k + j], &tb, err, errlen);
            if (!ts) goto fail;
            cJSON_AddItemToObject(t, "token", ts);
            cJSON_AddNumberToObject(t, "logprob", c->top_lp[r * k + j]);
            cJSON_AddItemToObject(t, "bytes", tb);
        }
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* ===== Running a request ================================================ */

/* Tokenises each prompt (with BOS), checks the context length, generates
 * n choices per prompt and builds them.  choices has n_prompts × n entries. */
int serve_run_request(serve_model *m, const char *const *prompts, size_t n_prompts,
                       const serve_params *p, serve_choice *choices, size_t *prompt_tokens,
                       serve_reply *r)
{
    char err[1024] = "";
    size_t total = n_prompts * p->n;
    if (total > MAX_SEQS) {
        serve_fail(r, 400, "n", "prompts × n is %zu; at most %d sequences per request", total, MAX_SEQS);
        return -1;
    }
    int32_t **ids = calloc(n_prompts, sizeof *ids);
    size_t *len = calloc(n_prompts, sizeof *len);
    sm_seq *seqs = calloc(total, sizeof *seqs);
    int rc = -1;
    rlaif_status st = RLAIF_OK;
    if (!ids || !len || !seqs) {
        serve_fail(r, 500, NULL, "out of memory");
        goto done;
    }
    *prompt_tokens = 0;
    for (size_t i = 0; i < n_prompts; i++) {
        if ((st = sm_tokenize(m, prompts[i], 1, &ids[i], &len[i], err, sizeof err))) {
            serve_fail(r, 400, "prompt", "prompt %zu cannot be tokenized: %s", i, err);
            goto done;
        }
        *prompt_tokens += len[i] * p->n;
        size_t ctx = (size_t)m->info.max_seq_len;
        if (m->info.max_seq_len > 0 && len[i] + p->max_tokens > ctx) {
            const char *param = p->max_tokens_given ? "max_tokens" : "prompt";
            serve_fail(r, 400, param,
                 "'%s': this model's maximum context length is %zu tokens, but %zu were "
                 "requested (%zu in prompt %zu, %u for the completion)",
                 param, ctx, len[i] + p->max_tokens, len[i], i, (unsigned)p->max_tokens);
            goto done;
        }
    }
    for (size_t b = 0; b < total; b++) {
        seqs[b].prompt = ids[b / p->n];
        seqs[b].prompt_len = len[b / p->n];
    }
    sm_sampling s = {.temperature = p->temperature, .top_p = p->top_p, .top_k = p->top_k,
                     .max_tokens = p->max_tokens, .stop = p->stop, .n_stop = p->n_stop,
                     .seed = p->seed};
    if ((st = sm_generate(m, seqs, total, &s, err, sizeof err))) {
        serve_fail(r, st == RLAIF_E_INVALID ? 400 : 500, NULL, "generation failed: %s", err);
        goto done;
    }
    for (size_t b = 0; b < total; b++) {
        size_t i = b / p->n;
        st = build_choice(m, prompts[i], ids[i], len[i], &seqs[b], p, &choices[b], err,
                          sizeof err);
        if (st) {
            serve_fail(r, 500, NULL, "choice %zu: %s", b, err);
            goto done;
        }
    }
    rc = 0;
done:
    for (size_t i = 0; ids && i < n_prompts; i++) free(ids[i]);
    for (size_t b = 0; seqs && b < total; b++) free(seqs[b].gen);
    free(ids);
    free(len);
    free(seqs);
    return rc;
}

void serve_add_usage(cJSON *root, size_t prompt_tokens, const serve_choice *c, size_t n)
{
    size_t gen = 0;
    for (size_t i = 0; i < n; i++) gen += c[i].n_gen;
    cJSON *u = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)gen);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt_tokens + gen));
}

cJSON *serve_response_head(serve_model *m, const char *object, const char *prefix)
{
    static unsigned long counter;
    char id[64];
    time_t now = time(NULL);
    snprintf(id, sizeof id, "%s-%lx%04lx", prefix, (unsigned long)now, ++counter & 0xFFFF);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", id);
    cJSON_AddStringToObject(root, "object", object);
    cJSON_AddNumberToObject(root, "created", (double)now);
    cJSON_AddStringToObject(root, "model", m->id);
    return root;
}
