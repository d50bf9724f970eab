/*
 * tok_json.c — typed access to cJSON trees with field-naming errors, and
 * PCRE2 compilation with messages naming the pattern's field.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* PCRE2 10.42's UCP \w is \p{L}, \p{N} and '_'; the engines HF uses read it
 * otherwise, and the difference shows on chars such as U+2460 (No), U+0301
 * (Mn) and U+200D.  Oniguruma (user Split patterns) takes alphabetic chars,
 * marks, decimal digits, connector punctuation and the Latin-1 digits and
 * fractions (measured against HF tokenizers over U+0080..U+31FFF); Rust's
 * regex crate (the Whitespace pre-tokenizer, single_word) takes alphabetic
 * chars, marks, decimal digits, connector punctuation and the joiners. */
#define WORD_ONIG "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}"
#define WORD_RUST "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}"

/* Copies a tokenizer.json regex into out, spelling \w and \W (outside a
 * bracket class) and \w (inside one) with the word set.  0, or -1 on memory. */
static int translate_word_classes(const char *pat, size_t len, const char *set, tok_buf *out)
{
    size_t sl = strlen(set);
    int in_class = 0;
    for (size_t i = 0; i < len; i++) {
        char c = pat[i];
        int rc;
        if (c == '\\' && i + 1 < len) {
            char e = pat[i + 1];
            if (e == 'w' && in_class)
                rc = tok_buf_add(out, set, sl);
            else if (e == 'w')
                rc = tok_buf_add(out, "[", 1) || tok_buf_add(out, set, sl) || tok_buf_add(out, "]", 1);
            else if (e == 'W' && !in_class)
                rc = tok_buf_add(out, "[^", 2) || tok_buf_add(out, set, sl) || tok_buf_add(out, "]", 1);
            else
                rc = tok_buf_add(out, pat + i, 2);
            i++;
        } else {
            if (c == '[' && !in_class) {
                in_class = 1;
                /* A ']' right after '[' or '[^' is a literal member. */
                rc = tok_buf_add(out, &c, 1);
                if (i + 1 < len && pat[i + 1] == '^')
                    rc = rc || tok_buf_add(out, pat + ++i, 1);
                if (i + 1 < len && pat[i + 1] == ']')
                    rc = rc || tok_buf_add(out, pat + ++i, 1);
                if (rc)
                    return -1;
                continue;
            }
            if (c == ']' && in_class)
                in_class = 0;
            rc = tok_buf_add(out, &c, 1);
        }
        if (rc)
            return -1;
    }
    return 0;
}

pcre2_code *tok_regex_compile(const char *pat, size_t len, int flags, const char *what,
                              char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE at;
    tok_buf tr = {0};
    int literal = flags & TOK_RE_LITERAL;
    if (!literal) {
        const char *set = flags & TOK_RE_RUST ? WORD_RUST : WORD_ONIG;
        if (translate_word_classes(pat, len, set, &tr) || tok_buf_add(&tr, "", 1)) {
            free(tr.p);
            tok_errf(err, errlen, "%s: out of memory", what);
            return NULL;
        }
        pat = tr.p;
        len = tr.len - 1;
    }
    /* PCRE2 refuses UCP together with LITERAL (it has no classes to widen).
     * Oniguruma's Ruby syntax reads ^ and $ as line anchors: MULTILINE. */
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    if (!literal && !(flags & TOK_RE_RUST))
        opts |= PCRE2_MULTILINE;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opts, &code, &at, NULL);
    free(tr.p);
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
