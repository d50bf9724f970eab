/*
 * http_completions.c — the OpenAI-shaped endpoints of `rlaif serve`:
 * GET /v1/models, POST /v1/completions, POST /v1/chat/completions
 * (their shared machinery is in http_choices.c, the JSON helpers in
 * http_json.c).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* ===== /v1/completions ================================================== */

static int parse_prompts(const cJSON *req, const char **prompts, size_t *n, serve_reply *r)
{
    const cJSON *pr = serve_field(req, "prompt");
    if (!pr) {
        serve_fail(r, 400, "prompt", "'prompt' is required");
        return -1;
    }
    if (cJSON_IsString(pr)) {
        prompts[0] = pr->valuestring;
        *n = 1;
        return 0;
    }
    int sz = cJSON_IsArray(pr) ? cJSON_GetArraySize(pr) : -1;
    if (sz < 1 || sz > MAX_PROMPTS) {
        serve_fail(r, 400, "prompt", "'prompt' must be a string or an array of 1 to %d strings",
             MAX_PROMPTS);
        return -1;
    }
    *n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, pr) {
        if (!cJSON_IsString(e)) {
            serve_fail(r, 400, "prompt", "'prompt[%zu]' must be a string (token arrays are not "
                 "supported)", *n);
            return -1;
        }
        prompts[(*n)++] = e->valuestring;
    }
    return 0;
}

void serve_completions(serve_model *m, const char *body, size_t len, serve_reply *r)
{
    cJSON *req = serve_parse_body(body, len, r);
    if (!req) return;
    serve_params p;
    const char *prompts[MAX_PROMPTS];
    size_t np = 0;
    serve_choice *ch = NULL;
    size_t total = 0, prompt_tokens = 0;
    double lp;
    if (serve_parse_common(req, 0, &p, r) || parse_prompts(req, prompts, &np, r) ||
        serve_get_bool(req, "echo", 0, &p.echo, r))
        goto done;
    size_t cap = (size_t)m->info.vocab_size < MAX_TOP ? (size_t)m->info.vocab_size : MAX_TOP;
    if (serve_get_int(req, "logprobs", -1, 0, (double)cap, &lp, r)) goto done;
    p.top = (int)lp;
    total = np * p.n;
    ch = calloc(total ? total : 1, sizeof *ch);
    if (!ch) {
        serve_fail(r, 500, NULL, "out of memory");
        goto done;
    }
    if (serve_run_request(m, prompts, np, &p, ch, &prompt_tokens, r)) goto done;
    cJSON *root = serve_response_head(m, "text_completion", "cmpl");
    cJSON *arr = cJSON_AddArrayToObject(root, "choices");
    char err[512] = "";
    for (size_t b = 0; b < total; b++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, c);
        cJSON_AddStringToObject(c, "text", ch[b].text);
        cJSON_AddNumberToObject(c, "index", (double)b);
        if (p.top >= 0) {
            cJSON *l = serve_legacy_logprobs(m, &ch[b], (size_t)p.top, err, sizeof err);
            if (!l) {
                cJSON_Delete(root);
                serve_fail(r, 500, NULL, "logprobs of choice %zu: %s", b, err);
                goto done;
            }
            cJSON_AddItemToObject(c, "logprobs", l);
        } else {
            cJSON_AddNullToObject(c, "logprobs");
        }
        cJSON_AddStringToObject(c, "finish_reason", ch[b].stopped ? "stop" : "length");
    }
    serve_add_usage(root, prompt_tokens, ch, total);
    serve_reply_json(r, root);
done:
    for (size_t b = 0; ch && b < total; b++) serve_choice_free(&ch[b]);
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
        return *out ? 0 : (serve_fail(r, 500, NULL, "out of memory"), -1);
    }
    if (!cJSON_IsArray(content)) {
        serve_fail(r, 400, param, "'%s' must be a string or an array of text parts", param);
        return -1;
    }
    size_t total = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0 ||
            !cJSON_IsString(text)) {
            serve_fail(r, 400, param, "'%s': only parts {\"type\": \"text\", \"text\": ...} are "
                 "supported", param);
            return -1;
        }
        total += strlen(text->valuestring);
    }
    *out = malloc(total + 1);
    if (!*out) return serve_fail(r, 500, NULL, "out of memory"), -1;
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
        serve_fail(r, 400, "messages", "'messages' must be a non-empty array");
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
            serve_fail(r, 400, param, "'%s' must be one of \"system\", \"developer\", \"user\", "
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
        if (prefill) return buf ? buf : (serve_fail(r, 500, NULL, "out of memory"), NULL);
        i++;
    }
    append(&buf, &len, &cap, m->chatml ? "<|im_start|>assistant\n" : "assistant:");
    if (!buf) serve_fail(r, 500, NULL, "out of memory");
    return buf;
}

void serve_chat(serve_model *m, const char *body, size_t len, serve_reply *r)
{
    cJSON *req = serve_parse_body(body, len, r);
    if (!req) return;
    serve_params p;
    serve_choice *ch = NULL;
    char *text = NULL;
    size_t prompt_tokens = 0;
    int want_lp = 0;
    double top;
    if (serve_parse_common(req, 1, &p, r) || serve_get_bool(req, "logprobs", 0, &want_lp, r)) goto done;
    size_t cap = (size_t)m->info.vocab_size < MAX_TOP ? (size_t)m->info.vocab_size : MAX_TOP;
    if (serve_get_int(req, "top_logprobs", 0, 0, (double)cap, &top, r)) goto done;
    if (top > 0 && !want_lp) {
        serve_fail(r, 400, "top_logprobs", "'top_logprobs' needs \"logprobs\": true");
        goto done;
    }
    p.top = want_lp ? (int)top : -1;
    if (m->chatml) p.stop[p.n_stop++] = "<|im_end|>"; /* room kept: MAX_STOP + 1 */
    if (!(text = render_chat(m, serve_field(req, "messages"), r))) goto done;
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
        serve_fail(r, 500, NULL, "out of memory");
        goto done;
    }
    const char *prompts[1] = {text};
    if (serve_run_request(m, prompts, 1, &p, ch, &prompt_tokens, r)) goto done;
    cJSON *root = serve_response_head(m, "chat.completion", "chatcmpl");
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
            cJSON *l = serve_chat_logprobs(m, &ch[b], (size_t)p.top, err, sizeof err);
            if (!l) {
                cJSON_Delete(root);
                serve_fail(r, 500, NULL, "logprobs of choice %zu: %s", b, err);
                goto done;
            }
            cJSON_AddItemToObject(c, "logprobs", l);
        } else {
            cJSON_AddNullToObject(c, "logprobs");
        }
        cJSON_AddStringToObject(c, "finish_reason", ch[b].stopped ? "stop" : "length");
    }
    serve_add_usage(root, prompt_tokens, ch, p.n);
    serve_reply_json(r, root);
done:
    for (size_t b = 0; ch && b < p.n; b++) serve_choice_free(&ch[b]);
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
    serve_reply_json(r, root);
}
