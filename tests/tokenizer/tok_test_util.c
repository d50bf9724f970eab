/*
 * tok_test_util.c — see tok_test_util.h.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_test_util.h"

static char *join(const char *env, const char *fallback, const char *mid, const char *rel)
{
    const char *base = getenv(env);
    if (!base)
        base = fallback;
    size_t n = strlen(base) + strlen(mid) + strlen(rel) + 3;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s%s", base, mid, rel);
    return p;
}

char *tt_data_path(const char *rel)
{
    return join("RLAIF_SOURCE_DIR", ".", "tests/tokenizer/data/", rel);
}

char *tt_shared_path(const char *rel)
{
    return join("RLAIF_SHARED_DIR", "../shared", "", rel);
}

char *tt_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return p;
}

cJSON *tt_json(const char *path)
{
    char *text = tt_read(path, NULL);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    ck_assert_msg(j != NULL, "%s is not valid JSON", path);
    return j;
}

char *tt_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    char *p = malloc(n + 1);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        p[i] = (char)v;
    }
    p[n] = '\0';
    *len = n;
    return p;
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
    }
    return v;
}

static size_t put_utf8(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the JSON string starting at *p (at the opening quote). */
static char *json_string(const char **p, size_t *len)
{
    const char *s = *p + 1;
    char *out = malloc(strlen(s) + 1), *o = out;
    ck_assert_ptr_nonnull(out);
    while (*s && *s != '"') {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        s++;
        char c = *s++;
        switch (c) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned cp = hex4(s);
            s += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && s[0] == '\\' && s[1] == 'u') {
                unsigned lo = hex4(s + 2);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                s += 6;
            }
            o += put_utf8(cp, o);
            break;
        }
        default: *o++ = c; break;
        }
    }
    ck_assert_msg(*s == '"', "unterminated JSON string");
    *p = s + 1;
    *len = (size_t)(o - out);
    return out;
}

char **tt_json_strings(const char *json, const char *key, size_t **lens, size_t *n)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    ck_assert_msg(p != NULL, "no key %s", key);
    p = strchr(p + strlen(pat), '[');
    ck_assert_ptr_nonnull(p);
    p++;
    size_t cap = 16;
    char **out = malloc(cap * sizeof *out);
    *lens = malloc(cap * sizeof **lens);
    *n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' || *p == ',')
            p++;
        if (*p == ']')
            break;
        ck_assert_msg(*p == '"', "expected a string in %s", key);
        if (*n == cap) {
            cap *= 2;
            out = realloc(out, cap * sizeof *out);
            *lens = realloc(*lens, cap * sizeof **lens);
        }
        out[*n] = json_string(&p, &(*lens)[*n]);
        (*n)++;
    }
    return out;
}

void tt_free_strings(char **s, size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
    free(lens);
}

int32_t *tt_ids(const cJSON *arr, size_t *n)
{
    ck_assert(cJSON_IsArray(arr));
    *n = (size_t)cJSON_GetArraySize(arr);
    int32_t *ids = malloc((*n + 1) * sizeof *ids);
    size_t i = 0;
    for (const cJSON *v = arr->child; v; v = v->next)
        ids[i++] = (int32_t)v->valuedouble;
    return ids;
}

const char *tt_fmt_ids(const int32_t *ids, size_t n)
{
    static char buf[4096];
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && k + 16 < sizeof buf; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%d", i ? "," : "", (int)ids[i]);
    return buf;
}
