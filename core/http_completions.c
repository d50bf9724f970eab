/*
 * http_completions.c — the OpenAI-shaped endpoints of `rlaif serve`:
 * GET /v1/models, POST /v1/completions, POST /v1/chat/completions.
 *
 * A request is parsed and checked whole before the model runs: every bad
 * field answers 400 with a message naming it (and "param" set to it).  All
 * the choices of one request (prompts × n) share one generate() call; choice
 * i samples from the stream (seed, i), so a request with a seed gives the
 * same text as the model's own generate() with that seed.
 *
 * Log-probabilities (completions: "logprobs": k; chat: "logprobs": true,
 * "top_logprobs": k) are those of the model's distribution at temperature
 * 1, whatever the sampling settings, as a labeler needs them.  Unlike
 * OpenAI (5 or 20), k may go up to the vocabulary size (at most 1000).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

#define MAX_PROMPTS 64
#define MAX_N 16
#define MAX_SEQS 128
#define MAX_STOP 16
#define MAX_TOP 1000
#define CHAT_DEFAULT_MAX_TOKENS 256

/* ===== Small JSON helpers =============================================== */

char *serve_error_json(const char *message, const char *type, const char *param)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "type", type);
    if (param && *param) cJSON_AddStringToObject(e, "param", param);
    else cJSON_AddNullToObject(e, "param");
    cJSON_AddNullToObject(e, "code");
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 2 && c < 0xC2) return 0;                      /* overlong */
    if (len == 3 && c == 0xE0 && s[1] < 0xA0) return 0;      /* overlong */
    if (len == 3 && c == 0xED && s[1] >= 0xA0) return 0;     /* surrogates */
    if (len == 4 && c == 0xF0 && s[1] < 0x90) return 0;      /* overlong */
    if (len == 4 && (c > 0xF4 || (c == 0xF4 && s[1] >= 0x90))) return 0;
    return len;
}

char *serve_utf8_clean(const char *s, size_t n)
{
    char *out = malloc(3 * n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0 || (k == 1 && s[i] == 0)) {
            memcpy(out + o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = 0;
    return out;
}

static void fail(serve_reply *r, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(serve_reply *r, int status, const char *param, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(r->body);
    r->status = status;
    snprintf(r->param, sizeof r->param, "%s", param ? param : "");
    r->body = serve_error_json(msg, status >= 500 ? "server_error" : "invalid_request_error",
                               param);
}

/* A field that is absent or JSON null reads as "not given". */
static const cJSON *field(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(v) ? NULL : v;
}

static int get_number(const cJSON *obj, const char *key, double def, double lo, double hi,
                      double *out, serve_reply *r)
{
    const cJSON *v = field(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        fail(r, 400, key, "'%s' must be a number in [%g, %g]", key, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static int get_int(const cJSON *obj, const char *key, double def, double lo, double hi,
                   double *out, serve_reply *r)
{
    const cJSON *v = field(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        fail(r, 400, key, "'%s' must be an integer in [%.0f, %.0f]", key, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static int get_bool(const cJSON *obj, const char *key, int def, int *out, serve_reply *r)
{
    const cJSON *v = field(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(v)) {
        fail(r, 400, key, "'%s' must be a boolean", key);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 0;
}

/* ===== Parameters shared by both endpoints ============================== */

typedef struct req_params {
    uint32_t max_tokens;
    int max_tokens_given;
    float temperature, top_p;
    int32_t top_k;
    uint64_t seed;
    const char *stop[MAX_STOP + 1];  /* into the request tree; +1 for the chat end marker */
    size_t n_stop;
    size_t n;
    int top;        /* top alternatives per token; -1: no logprobs at all */
    int echo;
} req_params;

static uint64_t fresh_seed(void)
{
    static uint64_t counter;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return ((uint64_t)t.tv_sec * 1000000007ull) ^ (uint64_t)t.tv_nsec ^ (++counter << 40);
}

static int parse_stop(const cJSON *req, req_params *p, serve_reply *r)
{
    const cJSON *s = field(req, "stop");
    if (!s) return 0;
    if (cJSON_IsString(s)) {
        if (s->valuestring[0]) p->stop[p->n_stop++] = s->valuestring;
        return 0;
    }
    if (!cJSON_IsArray(s) || cJSON_GetArraySize(s) > MAX_STOP) {
        fail(r, 400, "stop", "'stop' must be a string or an array of at most %d strings",
             MAX_STOP);
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, s) {
        if (!cJSON_IsString(e)) {
            fail(r, 400, "stop", "'stop' must be a string or an array of strings");
            return -1;
        }
        if (e->valuestring[0]) p->stop[p->n_stop++] = e->valuestring;
    }
    return 0;
}

static int parse_common(const cJSON *req, int chat, req_params *p, serve_reply *r)
{
    memset(p, 0, sizeof *p);
    double x;
    const cJSON *model = field(req, "model");
    if (model && !cJSON_IsString(model)) {
        fail(r, 400, "model", "'model' must be a string");
        return -1;
    }
    const char *mt = chat && field(req, "max_completion_tokens") ? "max_completion_tokens"
                                                                 : "max_tokens";
    p->max_tokens_given = field(req, mt) != NULL;
    if (get_int(req, mt, chat ? CHAT_DEFAULT_MAX_TOKENS : 16, 0, 1 << 16, &x, r)) return -1;
    p->max_tokens = (uint32_t)x;
    if (get_number(req, "temperature", 1.0, 0.0, 2.0, &x, r)) return -1;
    p->temperature = (float)x;
    if (get_number(req, "top_p", 1.0, 0.0, 1.0, &x, r)) return -1;
    p->top_p = (float)x;
    if (get_int(req, "top_k", 0, -1, 1 << 30, &x, r)) return -1;
    p->top_k = x < 0 ? 0 : (int32_t)x; /* -1 means off in vLLM */
    if (get_int(req, "n", 1, 1, MAX_N, &x, r)) return -1;
    p->n = (size_t)x;
    const cJSON *seed = field(req, "seed");
    if (seed) {
        if (!cJSON_IsNumber(seed) || seed->valuedouble != floor(seed->valuedouble) ||
            seed->valuedouble < -9.2e18 || seed->valuedouble > 1.8e19) {
            fail(r, 400, "seed", "'seed' must be an integer");
            return -1;
        }
        p->seed = seed->valuedouble < 0 ? (uint64_t)(int64_t)seed->valuedouble
                                        : (uint64_t)seed->valuedouble;
    } else {
        p->seed = fresh_seed();
    }
    if (field(req, "stream") && !cJSON_IsFalse(field(req, "stream"))) {
        fail(r, 400, "stream", "'stream' is not supported by rlaif serve; leave it false");
        return -1;
    }
    return parse_stop(req, p, r);
}

/* ===== One choice ======================================================= */

typedef struct choice {
    char *text;           /* final text, clean UTF-8 (owned) */
    int stopped;
    size_t n_gen;         /* generated tokens kept */
    /* Logprob rows (when requested), for tokens seq[from .. from + rows). */
    int32_t *seq;         /* prompt ⊕ kept generation (owned) */
    size_t seq_len, from, rows, first_null; /* first_null: row 0 has no context */
    float *lp;            /* [rows] */
    int32_t *top_id;      /* [rows × top] */
    float *top_lp;
    size_t prompt_chars;  /* text offset where the generated part begins */
} choice;

static void choice_free(choice *c)
{
    free(c->text);
    free(c->seq);
    free(c->lp);
    free(c->top_id);
    free(c->top_lp);
    memset(c, 0, sizeof *c);
}

/* Byte offset of the earliest stop string in text, or len. */
static size_t first_stop(const char *text, size_t len, const req_params *p)
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
                                 size_t P, const sm_seq *sq, const req_params *p, choice *c,
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
static cJSON *legacy_logprobs(serve_model *m, const choice *c, size_t k, char *err, size_t errlen)
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
static cJSON *chat_logprobs(serve_model *m, const choice *c, size_t k, char *err, size_t errlen)
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
static int run_request(serve_model *m, const char *const *prompts, size_t n_prompts,
                       const req_params *p, choice *choices, size_t *prompt_tokens,
                       serve_reply *r)
{
    char err[1024] = "";
    size_t total = n_prompts * p->n;
    if (total > MAX_SEQS) {
        fail(r, 400, "n", "prompts × n is %zu; at most %d sequences per request", total, MAX_SEQS);
        return -1;
    }
    int32_t **ids = calloc(n_prompts, sizeof *ids);
    size_t *len = calloc(n_prompts, sizeof *len);
    sm_seq *seqs = calloc(total, sizeof *seqs);
    int rc = -1;
    rlaif_status st = RLAIF_OK;
    if (!ids || !len || !seqs) {
        fail(r, 500, NULL, "out of memory");
        goto done;
    }
    *prompt_tokens = 0;
    for (size_t i = 0; i < n_prompts; i++) {
        if ((st = sm_tokenize(m, prompts[i], 1, &ids[i], &len[i], err, sizeof err))) {
            fail(r, 400, "prompt", "prompt %zu cannot be tokenized: %s", i, err);
            goto done;
        }
        *prompt_tokens += len[i] * p->n;
        size_t ctx = (size_t)m->info.max_seq_len;
        if (m->info.max_seq_len > 0 && len[i] + p->max_tokens > ctx) {
            const char *param = p->max_tokens_given ? "max_tokens" : "prompt";
            fail(r, 400, param,
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
        fail(r, st == RLAIF_E_INVALID ? 400 : 500, NULL, "generation failed: %s", err);
        goto done;
    }
    for (size_t b = 0; b < total; b++) {
        size_t i = b / p->n;
        st = build_choice(m, prompts[i], ids[i], len[i], &seqs[b], p, &choices[b], err,
                          sizeof err);
        if (st) {
            fail(r, 500, NULL, "choice %zu: %s", b, err);
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

static void add_usage(cJSON *root, size_t prompt_tokens, const choice *c, size_t n)
{
    size_t gen = 0;
    for (size_t i = 0; i < n; i++) gen += c[i].n_gen;
    cJSON *u = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)gen);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt_tokens + gen));
}

static cJSON *response_head(serve_model *m, const char *object, const char *prefix)
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

static void reply_json(serve_reply *r, cJSON *root)
{
    free(r->body);
    r->body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    r->status = r->body ? 200 : 500;
    if (!r->body) r->body = serve_error_json("out of memory", "server_error", NULL);
}

static cJSON *parse_body(const char *body, size_t len, serve_reply *r)
{
    const char *end = NULL;
    cJSON *req = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!req) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        fail(r, 400, NULL, "the request body is not valid JSON (error near byte %zu)", at);
        return NULL;
    }
    if (!cJSON_IsObject(req)) {
        cJSON_Delete(req);
        fail(r, 400, NULL, "the request body must be a JSON object");
        return NULL;
    }
    return req;
}

/* ===== /v1/completions ================================================== */

static int parse_prompts(const cJSON *req, const char **prompts, size_t *n, serve_reply *r)
{
    const cJSON *pr = field(req, "prompt");
    if (!pr) {
        fail(r, 400, "prompt", "'prompt' is required");
        return -1;
    }
    if (cJSON_IsString(pr)) {
        prompts[0] = pr->valuestring;
        *n = 1;
        return 0;
    }
    int sz = cJSON_IsArray(pr) ? cJSON_GetArraySize(pr) : -1;
    if (sz < 1 || sz > MAX_PROMPTS) {
        fail(r, 400, "prompt", "'prompt' must be a string or an array of 1 to %d strings",
             MAX_PROMPTS);
        return -1;
    }
    *n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, pr) {
        if (!cJSON_IsString(e)) {
            fail(r, 400, "prompt", "'prompt[%zu]' must be a string (token arrays are not "
                 "supported)", *n);
            return -1;
        }
        prompts[(*n)++] = e->valuestring;
    }
    return 0;
}

void serve_completions(serve_model *m, const char *body, size_t len, serve_reply *r)
{
    cJSON *req = parse_body(body, len, r);
    if (!req) return;
    req_params p;
    const char *prompts[MAX_PROMPTS];
    size_t np = 0;
    choice *ch = NULL;
    size_t total = 0, prompt_tokens = 0;
    double lp;
    if (parse_common(req, 0, &p, r) || parse_prompts(req, prompts, &np, r) ||
        get_bool(req, "echo", 0, &p.echo, r))
        goto done;
    size_t cap = (size_t)m->info.vocab_size < MAX_TOP ? (size_t)m->info.vocab_size : MAX_TOP;
    if (get_int(req, "logprobs", -1, 0, (double)cap, &lp, r)) goto done;
    p.top = (int)lp;
    total = np * p.n;
    ch = calloc(total ? total : 1, sizeof *ch);
    if (!ch) {
        fail(r, 500, NULL, "out of memory");
        goto done;
    }
    if (run_request(m, prompts, np, &p, ch, &prompt_tokens, r)) goto done;
    cJSON *root = response_head(m, "text_completion", "cmpl");
    cJSON *arr = cJSON_AddArrayToObject(root, "choices");
    char err[512] = "";
    for (size_t b = 0; b < total; b++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, c);
        cJSON_AddStringToObject(c, "text", ch[b].text);
        cJSON_AddNumberToObject(c, "index", (double)b);
        if (p.top >= 0) {
            cJSON *l = legacy_logprobs(m, &ch[b], (size_t)p.top, err, sizeof err);
            if (!l) {
                cJSON_Delete(root);
                fail(r, 500, NULL, "logprobs of choice %zu: %s", b, err);
                goto done;
            }
            cJSON_AddItemToObject(c, "logprobs", l);
        } else {
            cJSON_AddNullToObject(c, "logprobs");
        }
        cJSON_AddStringToObject(c, "finish_reason", ch[b].stopped ? "stop" : "length");
    }
    add_usage(root, prompt_tokens, ch, total);
    reply_json(r, root);
done:
    for (size_t b = 0; ch && b < total; b++) choice_free(&ch[b]);
    free(ch);
    cJSON_Delete(req);
}

/* ===== /v1/chat/completions ============================================= */

/* The text of a message's content: a string, or an array of text parts. */
static int content_text(const cJSON *content, size_t i, char **out, serve_reply *r)
{
    char param[48];
    snprintf(param, sizeof param, "messages[%zu].content", i);
    if (cJSON_IsString(content)) {
        *out = strdup(content->valuestring);
        return *out ? 0 : (fail(r, 500, NULL, "out of memory"), -1);
    }
    if (!cJSON_IsArray(content)) {
        fail(r, 400, param, "'%s' must be a string or an array of text parts", param);
        return -1;
    }
    size_t total = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0 ||
            !cJSON_IsString(text)) {
            fail(r, 400, param, "'%s': only parts {\"type\": \"text\", \"text\": ...} are "
                 "supported", param);
            return -1;
        }
        total += strlen(text->valuestring);
    }
    *out = malloc(total + 1);
    if (!*out) return fail(r, 500, NULL, "out of memory"), -1;
    (*out)[0] = 0;
    cJSON_ArrayForEach(part, content)
        strcat(*out, cJSON_GetObjectItemCaseSensitive(part, "text")->valuestring);
    return 0;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (!*buf) return;
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *p = realloc(*buf, nc);
        if (!p) {
            free(*buf);
            *buf = NULL;
            return;
        }
        *buf = p;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

/* Renders the conversation: ChatML when the tokenizer has its markers,
 * else "role: content" lines.  A final assistant message is a prefill: the
 * reply continues it (as llama.cpp's server does). */
static char *render_chat(serve_model *m, const cJSON *msgs, serve_reply *r)
{
    int n = cJSON_IsArray(msgs) ? cJSON_GetArraySize(msgs) : -1;
    if (n < 1) {
        fail(r, 400, "messages", "'messages' must be a non-empty array");
        return NULL;
    }
    size_t len = 0, cap = 256;
    char *buf = malloc(cap);
    if (buf) buf[0] = 0;
    int i = 0;
    const cJSON *msg;
    cJSON_ArrayForEach(msg, msgs) {
        char param[48];
        snprintf(param, sizeof param, "messages[%d].role", i);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        const char *rs = cJSON_IsString(role) ? role->valuestring : NULL;
        if (!rs || !(strcmp(rs, "system") == 0 || strcmp(rs, "developer") == 0 ||
                     strcmp(rs, "user") == 0 || strcmp(rs, "assistant") == 0)) {
            fail(r, 400, param, "'%s' must be one of \"system\", \"developer\", \"user\", "
                 "\"assistant\"", param);
            free(buf);
            return NULL;
        }
        if (strcmp(rs, "developer") == 0) rs = "system";
        char *text = NULL;
        if (content_text(cJSON_GetObjectItemCaseSensitive(msg, "content"), (size_t)i, &text, r)) {
            free(buf);
            return NULL;
        }
        int prefill = i == n - 1 && strcmp(rs, "assistant") == 0;
        if (m->chatml) {
            append(&buf, &len, &cap, "<|im_start|>");
            append(&buf, &len, &cap, rs);
            append(&buf, &len, &cap, "\n");
            append(&buf, &len, &cap, text);
            if (!prefill) append(&buf, &len, &cap, "<|im_end|>\n");
        } else {
            append(&buf, &len, &cap, rs);
            append(&buf, &len, &cap, ": ");
            append(&buf, &len, &cap, text);
            if (!prefill) append(&buf, &len, &cap, "\n");
        }
        free(text);
        if (prefill) return buf ? buf : (fail(r, 500, NULL, "out of memory"), NULL);
        i++;
    }
    append(&buf, &len, &cap, m->chatml ? "<|im_start|>assistant\n" : "assistant:");
    if (!buf) fail(r, 500, NULL, "out of memory");
    return buf;
}

void serve_chat(serve_model *m, const char *body, size_t len, serve_reply *r)
{
    cJSON *req = parse_body(body, len, r);
    if (!req) return;
    req_params p;
    choice *ch = NULL;
    char *text = NULL;
    size_t prompt_tokens = 0;
    int want_lp = 0;
    double top;
    if (parse_common(req, 1, &p, r) || get_bool(req, "logprobs", 0, &want_lp, r)) goto done;
    size_t cap = (size_t)m->info.vocab_size < MAX_TOP ? (size_t)m->info.vocab_size : MAX_TOP;
    if (get_int(req, "top_logprobs", 0, 0, (double)cap, &top, r)) goto done;
    if (top > 0 && !want_lp) {
        fail(r, 400, "top_logprobs", "'top_logprobs' needs \"logprobs\": true");
        goto done;
    }
    p.top = want_lp ? (int)top : -1;
    if (m->chatml) p.stop[p.n_stop++] = "<|im_end|>"; /* room kept: MAX_STOP + 1 */
    if (!(text = render_chat(m, field(req, "messages"), r))) goto done;
    /* Without an explicit limit the reply may use what the context leaves. */
    if (!p.max_tokens_given && m->info.max_seq_len > 0) {
        int32_t *ids = NULL;
        size_t n = 0;
        char err[256];
        if (!sm_tokenize(m, text, 1, &ids, &n, err, sizeof err) &&
            n + p.max_tokens > (size_t)m->info.max_seq_len)
            p.max_tokens = n < (size_t)m->info.max_seq_len
                               ? (uint32_t)((size_t)m->info.max_seq_len - n) : 0;
        free(ids);
    }
    ch = calloc(p.n, sizeof *ch);
    if (!ch) {
        fail(r, 500, NULL, "out of memory");
        goto done;
    }
    const char *prompts[1] = {text};
    if (run_request(m, prompts, 1, &p, ch, &prompt_tokens, r)) goto done;
    cJSON *root = response_head(m, "chat.completion", "chatcmpl");
    cJSON *arr = cJSON_AddArrayToObject(root, "choices");
    char err[512] = "";
    for (size_t b = 0; b < p.n; b++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, c);
        cJSON_AddNumberToObject(c, "index", (double)b);
        cJSON *msg = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", ch[b].text);
        if (p.top >= 0) {
            cJSON *l = chat_logprobs(m, &ch[b], (size_t)p.top, err, sizeof err);
            if (!l) {
                cJSON_Delete(root);
                fail(r, 500, NULL, "logprobs of choice %zu: %s", b, err);
                goto done;
            }
            cJSON_AddItemToObject(c, "logprobs", l);
        } else {
            cJSON_AddNullToObject(c, "logprobs");
        }
        cJSON_AddStringToObject(c, "finish_reason", ch[b].stopped ? "stop" : "length");
    }
    add_usage(root, prompt_tokens, ch, p.n);
    reply_json(r, root);
done:
    for (size_t b = 0; ch && b < p.n; b++) choice_free(&ch[b]);
    free(ch);
    free(text);
    cJSON_Delete(req);
}

/* ===== /v1/models ======================================================= */

void serve_models(serve_model *m, serve_reply *r)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToArray(data, e);
    cJSON_AddStringToObject(e, "id", m->id);
    cJSON_AddStringToObject(e, "object", "model");
    cJSON_AddNumberToObject(e, "created", 0);
    cJSON_AddStringToObject(e, "owned_by", "rlaif");
    cJSON_AddStringToObject(e, "arch", m->info.arch ? m->info.arch : "");
    cJSON_AddNumberToObject(e, "vocab_size", m->info.vocab_size);
    cJSON_AddNumberToObject(e, "max_model_len", m->info.max_seq_len);
    reply_json(r, root);
}
