/*
 * tok_json.c — typed access to cJSON trees with field-naming errors, and
 * PCRE2 compilation with messages naming the pattern's field.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tok_json.h"

int tok_jfail(tok_jctx *j, const char *field, const char *fmt, ...)
{
    if (!j->err || j->errlen == 0)
        return -1;
    int k = snprintf(j->err, j->errlen, "%s: %s: ", j->file, field);
    if (k >= 0 && (size_t)k < j->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->err + k, j->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *tok_jpath(char *buf, size_t n, const char *path, const char *key)
{
    if (!path || !*path)
        snprintf(buf, n, "%s", key);
    else
        snprintf(buf, n, "%s.%s", path, key);
    return buf;
}

const cJSON *tok_jmember(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return (v && !cJSON_IsNull(v)) ? v : NULL;
}

static const char *kind_of(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "null";
}

int tok_jstr(tok_jctx *j, const cJSON *obj, const char *path, const char *key, int required,
             const char **out)
{
    char f[256];
    const cJSON *v = tok_jmember(obj, key);
    *out = NULL;
    if (!v) {
        if (required)
            return tok_jfail(j, tok_jpath(f, sizeof f, path, key), "missing (expected a string)");
        return 0;
    }
    if (!cJSON_IsString(v))
        return tok_jfail(j, tok_jpath(f, sizeof f, path, key), "expected a string, got %s",
                         kind_of(v));
    *out = v->valuestring;
    return 0;
}

int tok_jbool(tok_jctx *j, const cJSON *obj, const char *path, const char *key, int def, int *out)
{
    char f[256];
    const cJSON *v = tok_jmember(obj, key);
    *out = def;
    if (!v)
        return 0;
    if (!cJSON_IsBool(v))
        return tok_jfail(j, tok_jpath(f, sizeof f, path, key), "expected a boolean, got %s",
                         kind_of(v));
    *out = cJSON_IsTrue(v);
    return 0;
}

int tok_jint(tok_jctx *j, const cJSON *obj, const char *path, const char *key, int required,
             long lo, long hi, long def, long *out)
{
    char f[256];
    const cJSON *v = tok_jmember(obj, key);
    *out = def;
    if (!v) {
        if (required)
            return tok_jfail(j, tok_jpath(f, sizeof f, path, key), "missing (expected an integer)");
        return 0;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return tok_jfail(j, tok_jpath(f, sizeof f, path, key),
                         "expected an integer in [%ld, %ld], got %s", lo, hi,
                         cJSON_IsNumber(v) ? "a number outside it" : kind_of(v));
    *out = (long)d;
    return 0;
}

int tok_jtype(tok_jctx *j, const cJSON *obj, const char *path, const char **out)
{
    char f[256];
    if (!cJSON_IsObject(obj))
        return tok_jfail(j, path, "expected an object or null, got %s", kind_of(obj));
    if (tok_jstr(j, obj, path, "type", 0, out))
        return -1;
    if (!*out)
        return tok_jfail(j, tok_jpath(f, sizeof f, path, "type"), "missing");
    return 0;
}

pcre2_code *tok_regex_compile(const char *pat, size_t len, int literal, const char *what,
                              char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE at;
    /* PCRE2 refuses UCP together with LITERAL (it has no classes to widen). */
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opts, &code, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        tok_errf(err, errlen, "%s: pattern does not compile at offset %zu: %s", what, (size_t)at,
                 (const char *)msg);
        return NULL;
    }
    /* JIT makes the GPT-2 / Qwen patterns several times faster; the
     * interpreter still works when the platform has no JIT. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}
