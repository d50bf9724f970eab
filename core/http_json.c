/*
 * http_json.c — the JSON side of `rlaif serve`: OpenAI-shaped errors,
 * request fields read with messages that name them, replies, and UTF-8
 * cleaning of model text (a token may end inside a character).
 *
 * A field that is absent or JSON null reads as "not given", as OpenAI's
 * clients send null for unset optional fields.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

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

void serve_fail(serve_reply *r, int status, const char *param, const char *fmt, ...)
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
const cJSON *serve_field(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(v) ? NULL : v;
}

int serve_get_number(const cJSON *obj, const char *key, double def, double lo, double hi,
                      double *out, serve_reply *r)
{
    const cJSON *v = serve_field(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        serve_fail(r, 400, key, "'%s' must be a number in [%g, %g]", key, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

int serve_get_int(const cJSON *obj, const char *key, double def, double lo, double hi,
                   double *out, serve_reply *r)
{
    const cJSON *v = serve_field(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        serve_fail(r, 400, key, "'%s' must be an integer in [%.0f, %.0f]", key, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

int serve_get_bool(const cJSON *obj, const char *key, int def, int *out, serve_reply *r)
{
    const cJSON *v = serve_field(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(v)) {
        serve_fail(r, 400, key, "'%s' must be a boolean", key);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 0;
}

cJSON *serve_parse_body(const char *body, size_t len, serve_reply *r)
{
    const char *end = NULL;
    cJSON *req = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!req) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        serve_fail(r, 400, NULL, "the request body is not valid JSON (error near byte %zu)", at);
        return NULL;
    }
    if (!cJSON_IsObject(req)) {
        cJSON_Delete(req);
        serve_fail(r, 400, NULL, "the request body must be a JSON object");
        return NULL;
    }
    return req;
}

void serve_reply_json(serve_reply *r, cJSON *root)
{
    free(r->body);
    r->body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    r->status = r->body ? 200 : 500;
    if (!r->body) r->body = serve_error_json("out of memory", "server_error", NULL);
}
