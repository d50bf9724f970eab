/*
 * constitution.c — loading and validating constitutions (see constitution.h
 * and constitutions/SCHEMA.md).
 *
 * The validator walks the JSON tree with a path ("$.principles[3].id") kept
 * in a small context, so every message can say where the problem is.  The
 * first error stops the walk: later ones are usually consequences.
 */
#include "constitution.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chat.h"
#include "ltemplate.h"

/* ===== Validation context =============================================== */

typedef struct vctx {
    const char *file;
    char path[512];
    size_t plen;
    char *err;
    size_t errlen;
    int failed;   /* 1: format error, 2: out of memory */
} vctx;

static void vfail(vctx *v, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void vfail(vctx *v, const char *fmt, ...)
{
    if (v->failed) return;
    v->failed = 1;
    if (!v->err || !v->errlen) return;
    int n = snprintf(v->err, v->errlen, "%s: %s: ", v->file, v->path);
    if (n < 0 || (size_t)n >= v->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->err + n, v->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void voom(vctx *v)
{
    if (v->failed) return;
    v->failed = 2;
    if (v->err && v->errlen) snprintf(v->err, v->errlen, "%s: out of memory", v->file);
}

/* Path pushes return the old length; path_pop restores it. */
static size_t path_key(vctx *v, const char *key)
{
    size_t old = v->plen;
    int n = snprintf(v->path + v->plen, sizeof v->path - v->plen, ".%s", key);
    if (n > 0) v->plen += (size_t)n < sizeof v->path - v->plen ? (size_t)n : 0;
    return old;
}

static size_t path_index(vctx *v, size_t i)
{
    size_t old = v->plen;
    int n = snprintf(v->path + v->plen, sizeof v->path - v->plen, "[%zu]", i);
    if (n > 0) v->plen += (size_t)n < sizeof v->path - v->plen ? (size_t)n : 0;
    return old;
}

static void path_pop(vctx *v, size_t old)
{
    v->plen = old;
    v->path[old] = 0;
}

static const char *type_name(const cJSON *j)
{
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "an invalid value";
}

static char *vdup(vctx *v, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p) {
        voom(v);
        return NULL;
    }
    memcpy(p, s, n);
    return p;
}

/* Checks that the object has only `known` keys (plus "$comment"), each once. */
static void check_keys(vctx *v, const cJSON *obj, const char *const *known)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, obj)
    {
        if (v->failed) return;
        for (const cJSON *f = obj->child; f != e; f = f->next) {
            if (strcmp(f->string, e->string) == 0) {
                size_t old = path_key(v, e->string);
                vfail(v, "duplicate key");
                path_pop(v, old);
                return;
            }
        }
        if (strcmp(e->string, "$comment") == 0) continue;
        int found = 0;
        for (size_t i = 0; known[i] && !found; i++) found = strcmp(known[i], e->string) == 0;
        if (found) continue;
        char list[400] = "";
        for (size_t i = 0; known[i]; i++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", known[i]);
        }
        size_t old = path_key(v, e->string);
        vfail(v, "unknown key (known here: %s)", list);
        path_pop(v, old);
        return;
    }
}

/* A string member.  Absent: NULL (an error when required).  nonempty: "" is an error. */
static char *get_string(vctx *v, const cJSON *obj, const char *key, int required, int nonempty)
{
    if (v->failed) return NULL;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    size_t old = path_key(v, key);
    char *out = NULL;
    if (!j) {
        if (required) vfail(v, "missing (expected a string)");
    } else if (!cJSON_IsString(j)) {
        vfail(v, "expected a string, got %s", type_name(j));
    } else if (nonempty && !j->valuestring[0]) {
        vfail(v, "expected a non-empty string");
    } else {
        out = vdup(v, j->valuestring);
    }
    path_pop(v, old);
    return out;
}

/* An array of non-empty strings with at least one element. */
static char **get_strings(vctx *v, const cJSON *obj, const char *key, size_t *n_out)
{
    *n_out = 0;
    if (v->failed) return NULL;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    size_t old = path_key(v, key);
    char **out = NULL;
    if (!j) {
        vfail(v, "missing (expected an array of strings)");
    } else if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) == 0) {
        vfail(v, "expected a non-empty array of strings, got %s",
              cJSON_IsArray(j) ? "an empty array" : type_name(j));
    } else {
        size_t n = (size_t)cJSON_GetArraySize(j);
        out = calloc(n, sizeof *out);
        if (!out) voom(v);
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, j)
        {
            if (v->failed) break;
            size_t o2 = path_index(v, i);
            if (!cJSON_IsString(e)) vfail(v, "expected a string, got %s", type_name(e));
            else if (!e->valuestring[0]) vfail(v, "expected a non-empty string");
            else out[i++] = vdup(v, e->valuestring);
            path_pop(v, o2);
        }
        *n_out = i;
    }
    path_pop(v, old);
    return out;
}

/* Checks a template's placeholders; the message carries file and path. */
static void check_template(vctx *v, const char *key, const char *text,
                           const char *const *allowed, const char *const *required)
{
    if (v->failed || !text) return;
    char msg[400];
    if (lab_template_check(text, allowed, required, msg, sizeof msg)) {
        size_t old = path_key(v, key);
        vfail(v, "%s", msg);
        path_pop(v, old);
    }
}

/* ===== Sections ========================================================= */

static void probe_free(lab_probe *p)
{
    if (!p) return;
    free(p->template_text);
    for (size_t i = 0; i < p->n_positive; i++) free(p->positive[i]);
    for (size_t i = 0; i < p->n_negative; i++) free(p->negative[i]);
    free(p->positive);
    free(p->negative);
    free(p);
}

static lab_probe *parse_probe(vctx *v, const cJSON *parent, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (!j || v->failed) return NULL;
    size_t old = path_key(v, key);
    lab_probe *p = NULL;
    if (!cJSON_IsObject(j)) {
        vfail(v, "expected an object, got %s", type_name(j));
        path_pop(v, old);
        return NULL;
    }
    static const char *const keys[] = {"template", "positive", "negative", "scale", NULL};
    check_keys(v, j, keys);
    p = calloc(1, sizeof *p);
    if (!p) voom(v);
    if (v->failed) goto done;
    p->template_text = get_string(v, j, "template", 0, 1);
    if (!p->template_text && !v->failed) p->template_text = vdup(v, "{prompt}{response}{probe}");
    check_template(v, "template", p->template_text, lab_probe_allowed, lab_probe_required);
    p->positive = get_strings(v, j, "positive", &p->n_positive);
    p->negative = get_strings(v, j, "negative", &p->n_negative);
    p->scale = 1.0;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "scale");
    if (s && !v->failed) {
        size_t o2 = path_key(v, "scale");
        if (!cJSON_IsNumber(s)) vfail(v, "expected a number, got %s", type_name(s));
        else if (!(s->valuedouble > 0 && s->valuedouble <= 100))
            vfail(v, "expected a number in (0, 100], got %g", s->valuedouble);
        else p->scale = s->valuedouble;
        path_pop(v, o2);
    }
done:
    path_pop(v, old);
    if (v->failed) {
        probe_free(p);
        return NULL;
    }
    return p;
}

static int valid_id(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static void parse_principle(vctx *v, const cJSON *j, lab_principle *p)
{
    if (!cJSON_IsObject(j)) {
        vfail(v, "expected an object, got %s", type_name(j));
        return;
    }
    static const char *const keys[] = {"id", "critique_request", "revision_request",
                                       "comparison", "rubric", "weight", "probe", NULL};
    check_keys(v, j, keys);
    p->id = get_string(v, j, "id", 1, 1);
    if (p->id && !valid_id(p->id)) {
        size_t old = path_key(v, "id");
        vfail(v, "'%s' is not a valid id (letters, digits, '_', '-', '.')", p->id);
        path_pop(v, old);
    }
    p->critique_request = get_string(v, j, "critique_request", 1, 1);
    p->revision_request = get_string(v, j, "revision_request", 1, 1);
    p->comparison = get_string(v, j, "comparison", 1, 1);
    p->rubric = get_string(v, j, "rubric", 1, 1);
    p->weight = 1.0;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "weight");
    if (w && !v->failed) {
        size_t old = path_key(v, "weight");
        if (!cJSON_IsNumber(w)) vfail(v, "expected a number, got %s", type_name(w));
        else if (!(w->valuedouble > 0 && w->valuedouble <= 1e6))
            vfail(v, "expected a positive number (at most 1e6), got %g", w->valuedouble);
        else p->weight = w->valuedouble;
        path_pop(v, old);
    }
    p->probe = parse_probe(v, j, "probe");
}

static void parse_principles(vctx *v, const cJSON *root, lab_constitution *c)
{
    if (v->failed) return;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "principles");
    size_t old = path_key(v, "principles");
    if (!arr) vfail(v, "missing (expected a non-empty array of principles)");
    else if (!cJSON_IsArray(arr)) vfail(v, "expected an array, got %s", type_name(arr));
    else if (cJSON_GetArraySize(arr) == 0) vfail(v, "expected at least one principle");
    if (v->failed) {
        path_pop(v, old);
        return;
    }
    size_t n = (size_t)cJSON_GetArraySize(arr);
    c->principles = calloc(n, sizeof *c->principles);
    if (!c->principles) voom(v);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if (v->failed) break;
        size_t o2 = path_index(v, i);
        c->n_principles = i + 1;
        parse_principle(v, e, &c->principles[i]);
        for (size_t k = 0; k < i && !v->failed; k++) {
            if (strcmp(c->principles[k].id, c->principles[i].id) == 0) {
                size_t o3 = path_key(v, "id");
                vfail(v, "duplicate id '%s' (also $.principles[%zu].id)", c->principles[i].id,
                      k);
                path_pop(v, o3);
            }
        }
        path_pop(v, o2);
        i++;
    }
    path_pop(v, old);
}

static void parse_example(vctx *v, const cJSON *j, lab_example *x, const lab_constitution *c)
{
    if (!cJSON_IsObject(j)) {
        vfail(v, "expected an object, got %s", type_name(j));
        return;
    }
    static const char *const keys[] = {"prompt", "a", "b", "preferred", "principle",
                                       "rationale", NULL};
    check_keys(v, j, keys);
    x->prompt = get_string(v, j, "prompt", 1, 0);
    x->a = get_string(v, j, "a", 1, 1);
    x->b = get_string(v, j, "b", 1, 1);
    char *pref = get_string(v, j, "preferred", 1, 1);
    if (pref) {
        if (strcmp(pref, "a") == 0) x->preferred = 0;
        else if (strcmp(pref, "b") == 0) x->preferred = 1;
        else {
            size_t old = path_key(v, "preferred");
            vfail(v, "expected \"a\" or \"b\", got \"%s\"", pref);
            path_pop(v, old);
        }
        free(pref);
    }
    x->principle = get_string(v, j, "principle", 0, 1);
    if (x->principle && lab_constitution_find(c, x->principle) < 0) {
        size_t old = path_key(v, "principle");
        vfail(v, "no principle has the id '%s'", x->principle);
        path_pop(v, old);
    }
    x->rationale = get_string(v, j, "rationale", 0, 0);
}

static void parse_examples(vctx *v, const cJSON *root, lab_constitution *c)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "examples");
    if (!arr || v->failed) return;
    size_t old = path_key(v, "examples");
    if (!cJSON_IsArray(arr)) {
        vfail(v, "expected an array, got %s", type_name(arr));
    } else if (cJSON_GetArraySize(arr) > 0) {
        size_t n = (size_t)cJSON_GetArraySize(arr);
        c->examples = calloc(n, sizeof *c->examples);
        if (!c->examples) voom(v);
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, arr)
        {
            if (v->failed) break;
            size_t o2 = path_index(v, i);
            c->n_examples = i + 1;
            parse_example(v, e, &c->examples[i], c);
            path_pop(v, o2);
            i++;
        }
    }
    path_pop(v, old);
}

/* Prefix templates may be empty (a custom chat template can already end
 * where the answer starts); message templates may not. */
static int template_needs_text(lab_tmpl t)
{
    return t == LAB_T_COMPARE || t == LAB_T_COMPARE_COT || t == LAB_T_EXAMPLE ||
           t == LAB_T_SCORE || t == LAB_T_SCORE_LABEL || t == LAB_T_CRITIQUE ||
           t == LAB_T_REVISION;
}

static void parse_templates(vctx *v, const cJSON *root, lab_constitution *c)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "templates");
    if (!obj || v->failed) return;
    size_t old = path_key(v, "templates");
    if (!cJSON_IsObject(obj)) {
        vfail(v, "expected an object, got %s", type_name(obj));
        path_pop(v, old);
        return;
    }
    const char *keys[LAB_T_COUNT + 1];
    for (int t = 0; t < LAB_T_COUNT; t++) keys[t] = lab_template_key((lab_tmpl)t);
    keys[LAB_T_COUNT] = NULL;
    check_keys(v, obj, keys);
    for (int t = 0; t < LAB_T_COUNT && !v->failed; t++) {
        const char *key = keys[t];
        c->templates[t] = get_string(v, obj, key, 0, template_needs_text((lab_tmpl)t));
        check_template(v, key, c->templates[t], lab_template_allowed((lab_tmpl)t),
                       lab_template_required((lab_tmpl)t));
    }
    path_pop(v, old);
}

static void parse_choices(vctx *v, const cJSON *root, lab_constitution *c)
{
    if (v->failed) return;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (!j) {
        c->choices[0] = vdup(v, "A");
        c->choices[1] = vdup(v, "B");
        return;
    }
    size_t old = path_key(v, "choices");
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2) {
        vfail(v, "expected an array of two strings, got %s",
              cJSON_IsArray(j) ? "an array of another length" : type_name(j));
    } else {
        for (int i = 0; i < 2 && !v->failed; i++) {
            const cJSON *e = cJSON_GetArrayItem(j, i);
            size_t o2 = path_index(v, (size_t)i);
            if (!cJSON_IsString(e)) vfail(v, "expected a string, got %s", type_name(e));
            else if (!e->valuestring[0]) vfail(v, "expected a non-empty string");
            else c->choices[i] = vdup(v, e->valuestring);
            path_pop(v, o2);
        }
        if (!v->failed && strcmp(c->choices[0], c->choices[1]) == 0)
            vfail(v, "the two choices must differ");
    }
    path_pop(v, old);
}

static void parse_score_range(vctx *v, const cJSON *root, lab_constitution *c)
{
    c->score_min = 1;
    c->score_max = 10;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "score_range");
    if (!j || v->failed) return;
    size_t old = path_key(v, "score_range");
    const cJSON *lo = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 0) : NULL;
    const cJSON *hi = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 1) : NULL;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 || !cJSON_IsNumber(lo) ||
        !cJSON_IsNumber(hi)) {
        vfail(v, "expected [min, max] (two integers), got %s", type_name(j));
    } else if (lo->valuedouble != floor(lo->valuedouble) ||
               hi->valuedouble != floor(hi->valuedouble) || lo->valuedouble < 0 ||
               hi->valuedouble > 100 || lo->valuedouble >= hi->valuedouble) {
        vfail(v, "expected integers 0 <= min < max <= 100, got [%g, %g]", lo->valuedouble,
              hi->valuedouble);
    } else {
        c->score_min = (int)lo->valuedouble;
        c->score_max = (int)hi->valuedouble;
    }
    path_pop(v, old);
}

static void parse_mode_and_chat(vctx *v, const cJSON *root, lab_constitution *c)
{
    char *mode = get_string(v, root, "mode", 0, 1);
    if (mode) {
        if (strcmp(mode, "instruct") == 0) c->mode = LAB_MODE_INSTRUCT;
        else if (strcmp(mode, "probe") == 0) c->mode = LAB_MODE_PROBE;
        else {
            size_t old = path_key(v, "mode");
            vfail(v, "expected \"instruct\" or \"probe\", got \"%s\"", mode);
            path_pop(v, old);
        }
        free(mode);
    }
    c->chat_template = get_string(v, root, "chat_template", 0, 1);
    if (!c->chat_template && !v->failed) c->chat_template = vdup(v, "plain");
    char msg[400];
    if (!v->failed && lab_chat_check(c->chat_template, msg, sizeof msg)) {
        size_t old = path_key(v, "chat_template");
        vfail(v, "%s", msg);
        path_pop(v, old);
    }
}

/* Cross-field rules: probe mode needs a probe for every principle. */
static void check_probe_coverage(vctx *v, const lab_constitution *c)
{
    if (v->failed || c->mode != LAB_MODE_PROBE) return;
    for (size_t i = 0; i < c->n_principles; i++) {
        if (!lab_constitution_probe(c, i)) {
            size_t o1 = path_key(v, "principles");
            size_t o2 = path_index(v, i);
            (void)o2;
            vfail(v, "mode is \"probe\" but principle '%s' has no probe (and $.probe is absent)",
                  c->principles[i].id);
            path_pop(v, o1);
            return;
        }
    }
}

/* ===== Public API ======================================================= */

/* Turns a byte offset into "line L, column C" for JSON syntax errors. */
static void line_col(const char *text, size_t at, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < at && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

rlaif_status lab_constitution_parse(const char *json, size_t len, const char *file,
                                    lab_constitution **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = 0;
    vctx v = {.file = file ? file : "<inline>", .path = "$", .plen = 1, .err = err,
              .errlen = errlen};
    if (!json || memchr(json, 0, len)) {
        vfail(&v, "the text contains a NUL byte or is missing");
        return RLAIF_E_FORMAT;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t line, col;
        line_col(json, end ? (size_t)(end - json) : 0, &line, &col);
        vfail(&v, "invalid JSON near line %zu, column %zu", line, col);
        return RLAIF_E_FORMAT;
    }
    lab_constitution *c = calloc(1, sizeof *c);
    if (!c) {
        cJSON_Delete(root);
        voom(&v);
        return RLAIF_E_NOMEM;
    }
    if (!cJSON_IsObject(root)) {
        vfail(&v, "expected an object, got %s", type_name(root));
    } else {
        static const char *const keys[] = {"name", "description", "system", "chat_template",
                                           "mode", "choices", "score_range", "templates",
                                           "principles", "examples", "probe", NULL};
        check_keys(&v, root, keys);
        c->name = get_string(&v, root, "name", 1, 1);
        if (c->name && !valid_id(c->name)) {
            size_t old = path_key(&v, "name");
            vfail(&v, "'%s' is not a valid name (letters, digits, '_', '-', '.')", c->name);
            path_pop(&v, old);
        }
        c->description = get_string(&v, root, "description", 1, 1);
        c->system = get_string(&v, root, "system", 0, 0);
        parse_mode_and_chat(&v, root, c);
        parse_choices(&v, root, c);
        parse_score_range(&v, root, c);
        parse_templates(&v, root, c);
        parse_principles(&v, root, c);
        parse_examples(&v, root, c);
        c->probe = parse_probe(&v, root, "probe");
        check_probe_coverage(&v, c);
    }
    cJSON_Delete(root);
    if (v.failed) {
        lab_constitution_free(c);
        return v.failed == 2 ? RLAIF_E_NOMEM : RLAIF_E_FORMAT;
    }
    *out = c;
    return RLAIF_OK;
}

rlaif_status lab_constitution_load(const char *path, lab_constitution **out, char *err,
                                   size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: cannot open: %s", path,
                            strerror(errno));
    /* Constitutions are small; refuse anything absurd rather than read it. */
    const size_t max_size = 16u << 20;
    char *text = malloc(max_size + 1);
    if (!text) {
        fclose(f);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(text, 1, max_size + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > max_size) {
        free(text);
        return rlaif_errorf(err, errlen, bad ? RLAIF_E_IO : RLAIF_E_FORMAT,
                            bad ? "%s: read error" : "%s: larger than 16 MiB", path);
    }
    rlaif_status st = lab_constitution_parse(text, n, path, out, err, errlen);
    free(text);
    return st;
}

void lab_constitution_free(lab_constitution *c)
{
    if (!c) return;
    free(c->name);
    free(c->description);
    free(c->system);
    free(c->chat_template);
    free(c->choices[0]);
    free(c->choices[1]);
    for (int t = 0; t < LAB_T_COUNT; t++) free(c->templates[t]);
    for (size_t i = 0; i < c->n_principles; i++) {
        lab_principle *p = &c->principles[i];
        free(p->id);
        free(p->critique_request);
        free(p->revision_request);
        free(p->comparison);
        free(p->rubric);
        probe_free(p->probe);
    }
    free(c->principles);
    for (size_t i = 0; i < c->n_examples; i++) {
        lab_example *x = &c->examples[i];
        free(x->prompt);
        free(x->a);
        free(x->b);
        free(x->principle);
        free(x->rationale);
    }
    free(c->examples);
    probe_free(c->probe);
    free(c);
}

const char *lab_constitution_template(const lab_constitution *c, lab_tmpl t)
{
    if (t >= LAB_T_COUNT) return NULL;
    return c->templates[t] ? c->templates[t] : lab_template_default(t);
}

const lab_probe *lab_constitution_probe(const lab_constitution *c, size_t i)
{
    if (i < c->n_principles && c->principles[i].probe) return c->principles[i].probe;
    return c->probe;
}

long lab_constitution_find(const lab_constitution *c, const char *id)
{
    for (size_t i = 0; i < c->n_principles; i++)
        if (c->principles[i].id && strcmp(c->principles[i].id, id) == 0) return (long)i;
    return -1;
}

/* splitmix64: a well-mixed 64-bit value from any seed, so nearby seeds
 * (0, 1, 2, ...) draw unrelated principles. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

size_t lab_constitution_pick(const lab_constitution *c, uint64_t seed, const size_t *subset,
                             size_t n_subset)
{
    size_t n = subset ? n_subset : c->n_principles;
    if (n == 0) return 0;
    double total = 0;
    for (size_t k = 0; k < n; k++) total += c->principles[subset ? subset[k] : k].weight;
    /* 53 random bits -> a uniform double in [0, 1). */
    double u = (double)(mix64(seed) >> 11) * (1.0 / 9007199254740992.0);
    double acc = 0, target = u * total;
    for (size_t k = 0; k < n; k++) {
        acc += c->principles[subset ? subset[k] : k].weight;
        if (target < acc) return subset ? subset[k] : k;
    }
    return subset ? subset[n - 1] : n - 1;
}
