/* pconfig.c — see pconfig.h.  Errors name the plugin and the key. */
#include "pconfig.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *json_type_name(const cJSON *v)
{
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an invalid value";
}

void pconfig_fail(pconfig *c, const char *fmt, ...)
{
    if (c->failed) return; /* keep the first error: it is the cause */
    c->failed = 1;
    if (!c->err || !c->errlen) return;
    int n = snprintf(c->err, c->errlen, "%s: ", c->who);
    if (n < 0 || (size_t)n >= c->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

int pconfig_open(pconfig *c, const char *who, const char *json, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->who = who;
    c->err = err;
    c->errlen = errlen;
    if (err && errlen) err[0] = 0;
    if (!json || !*json) json = "{}";
    const char *end = NULL;
    c->root = cJSON_ParseWithOpts(json, &end, 1);
    if (!c->root) {
        size_t at = end ? (size_t)(end - json) : 0;
        pconfig_fail(c, "config is not valid JSON (near byte %zu)", at);
        return 1;
    }
    if (!cJSON_IsObject(c->root)) {
        pconfig_fail(c, "config must be a JSON object, got %s", json_type_name(c->root));
        cJSON_Delete(c->root);
        c->root = NULL;
        return 1;
    }
    return 0;
}

rlaif_status pconfig_close(pconfig *c)
{
    cJSON_Delete(c->root);
    c->root = NULL;
    return c->failed ? RLAIF_E_INVALID : RLAIF_OK;
}

cJSON *pconfig_item(pconfig *c, const char *key)
{
    if (!c->root) return NULL;
    return cJSON_GetObjectItemCaseSensitive(c->root, key);
}

/* The item if present and of the wanted type; records an error otherwise. */
static cJSON *typed_item(pconfig *c, cJSON_bool (*is)(const cJSON *), const char *key,
                         const char *want)
{
    if (c->failed) return NULL;
    cJSON *v = pconfig_item(c, key);
    if (!v || cJSON_IsNull(v)) return NULL;
    if (!is(v)) {
        pconfig_fail(c, "config key '%s': expected %s, got %s", key, want, json_type_name(v));
        return NULL;
    }
    return v;
}

static cJSON_bool is_number(const cJSON *v) { return cJSON_IsNumber(v); }
static cJSON_bool is_string(const cJSON *v) { return cJSON_IsString(v); }
static cJSON_bool is_bool(const cJSON *v) { return cJSON_IsBool(v); }
static cJSON_bool is_object(const cJSON *v) { return cJSON_IsObject(v); }
static cJSON_bool is_array(const cJSON *v) { return cJSON_IsArray(v); }

double pconfig_number(pconfig *c, const char *key, double def, double lo, double hi)
{
    cJSON *v = typed_item(c, is_number, key, "a number");
    if (!v) return def;
    double x = v->valuedouble;
    if (!isfinite(x) || x < lo || x > hi) {
        pconfig_fail(c, "config key '%s': %g is out of range [%g, %g]", key, x, lo, hi);
        return def;
    }
    return x;
}

int64_t pconfig_int(pconfig *c, const char *key, int64_t def, int64_t lo, int64_t hi)
{
    cJSON *v = typed_item(c, is_number, key, "an integer");
    if (!v) return def;
    double x = v->valuedouble;
    if (x != floor(x)) {
        pconfig_fail(c, "config key '%s': expected an integer, got %g", key, x);
        return def;
    }
    if (x < (double)lo || x > (double)hi) {
        pconfig_fail(c, "config key '%s': %g is out of range [%lld, %lld]", key, x,
                     (long long)lo, (long long)hi);
        return def;
    }
    return (int64_t)x;
}

int pconfig_bool(pconfig *c, const char *key, int def)
{
    cJSON *v = typed_item(c, is_bool, key, "true or false");
    return v ? cJSON_IsTrue(v) : def;
}

const char *pconfig_string(pconfig *c, const char *key, const char *def)
{
    cJSON *v = typed_item(c, is_string, key, "a string");
    return v ? v->valuestring : def;
}

int pconfig_enum(pconfig *c, const char *key, const char *def, const char *const *choices)
{
    const char *s = pconfig_string(c, key, def);
    int def_index = 0;
    for (int i = 0; choices[i]; i++) {
        if (def && strcmp(choices[i], def) == 0) def_index = i;
    }
    if (!s) return def_index;
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], s) == 0) return i;
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", choices[i]);
    }
    pconfig_fail(c, "config key '%s': '%s' is not one of: %s", key, s, list);
    return def_index;
}

uint64_t pconfig_handle(pconfig *c, const char *key, int required)
{
    if (c->failed) return 0;
    cJSON *v = pconfig_item(c, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) pconfig_fail(c, "config key '%s' is required (an instance)", key);
        return 0;
    }
    cJSON *h = is_object(v) ? cJSON_GetObjectItemCaseSensitive(v, "rlaif_handle") : NULL;
    if (!h || !cJSON_IsNumber(h) || h->valuedouble < 1) {
        pconfig_fail(c, "config key '%s': expected an instance ({\"rlaif_handle\": N}), got %s",
                     key, json_type_name(v));
        return 0;
    }
    return (uint64_t)h->valuedouble;
}

size_t pconfig_strings(pconfig *c, const char *key, const char ***out)
{
    *out = NULL;
    cJSON *v = typed_item(c, is_array, key, "an array of strings");
    if (!v) return 0;
    size_t n = (size_t)cJSON_GetArraySize(v);
    if (n == 0) return 0;
    const char **list = calloc(n, sizeof *list);
    if (!list) {
        pconfig_fail(c, "out of memory reading '%s'", key);
        return 0;
    }
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsString(e)) {
            pconfig_fail(c, "config key '%s[%zu]': expected a string, got %s", key, i,
                         json_type_name(e));
            free(list);
            return 0;
        }
        list[i++] = e->valuestring;
    }
    *out = list;
    return n;
}

void pconfig_no_other_keys(pconfig *c, const char *const *known)
{
    if (c->failed || !c->root) return;
    const cJSON *e;
    cJSON_ArrayForEach(e, c->root)
    {
        int found = 0;
        for (size_t i = 0; known[i] && !found; i++) found = strcmp(known[i], e->string) == 0;
        if (found) continue;
        char list[512] = "";
        for (size_t i = 0; known[i]; i++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", known[i]);
        }
        pconfig_fail(c, "unknown config key '%s' (known: %s)", e->string, list);
        return;
    }
}
