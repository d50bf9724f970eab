/*
 * tok_hf_components.c — the normalizer, pre_tokenizer, decoder and
 * post_processor sections of tokenizer.json, read into flat lists of steps
 * (a "Sequence" is unrolled in place).  Unknown component types are load
 * errors that say what is supported, never silently skipped: a tokenizer
 * that half-applies its pipeline would give wrong ids without telling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_json.h"

#define MAX_DEPTH 16

static void *grow(void *p, size_t n, size_t size)
{
    return realloc(p, (n + 1) * size);
}

/* {"String": "..."} (literal) or {"Regex": "..."}. */
static int parse_pattern(tok_jctx *j, const cJSON *obj, const char *path, pcre2_code **re)
{
    char f[256], what[320];
    const cJSON *p = tok_jmember(obj, "pattern");
    tok_jpath(f, sizeof f, path, "pattern");
    if (!p || !cJSON_IsObject(p))
        return tok_jfail(j, f, "expected an object {\"String\": ...} or {\"Regex\": ...}");
    const char *s = NULL, *r = NULL;
    if (tok_jstr(j, p, f, "String", 0, &s) || tok_jstr(j, p, f, "Regex", 0, &r))
        return -1;
    if (!s && !r)
        return tok_jfail(j, f, "expected an object {\"String\": ...} or {\"Regex\": ...}");
    snprintf(what, sizeof what, "%s: %s.%s", j->file, f, s ? "String" : "Regex");
    const char *pat = s ? s : r;
    if (s && !*s)
        return tok_jfail(j, f, "the String pattern is empty");
    *re = tok_regex_compile(pat, strlen(pat), s ? TOK_RE_LITERAL : 0, what, j->err, j->errlen);
    return *re ? 0 : -1;
}

static int copy_char(tok_jctx *j, const char *field, const char *s, char *dst, size_t *dst_len)
{
    size_t n = strlen(s);
    if (n == 0 || n > 7)
        return tok_jfail(j, field, "expected a single character");
    memcpy(dst, s, n);
    dst[n] = '\0';
    *dst_len = n;
    return 0;
}

/* prepend_scheme, or the older add_prefix_space boolean. */
static int parse_prepend(tok_jctx *j, const cJSON *obj, const char *path, tok_prepend *out)
{
    char f[256];
    const char *s;
    int aps;
    if (tok_jstr(j, obj, path, "prepend_scheme", 0, &s) ||
        tok_jbool(j, obj, path, "add_prefix_space", 1, &aps))
        return -1;
    *out = aps ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
    if (!s)
        return 0;
    if (!strcmp(s, "always"))
        *out = TOK_PREPEND_ALWAYS;
    else if (!strcmp(s, "first"))
        *out = TOK_PREPEND_FIRST;
    else if (!strcmp(s, "never"))
        *out = TOK_PREPEND_NEVER;
    else
        return tok_jfail(j, tok_jpath(f, sizeof f, path, "prepend_scheme"),
                         "'%s' is not one of always, first, never", s);
    return 0;
}

/* Iterates the array member `key` of obj, calling fn on each element. */
typedef int (*elem_fn)(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path, int depth);
static int each(tokenizer *t, tok_jctx *j, const cJSON *obj, const char *path, const char *key,
                int depth, elem_fn fn)
{
    char f[256], e[300];
    const cJSON *arr = tok_jmember(obj, key);
    tok_jpath(f, sizeof f, path, key);
    if (!arr || !cJSON_IsArray(arr))
        return tok_jfail(j, f, "expected an array");
    if (depth >= MAX_DEPTH)
        return tok_jfail(j, f, "nested deeper than %d levels", MAX_DEPTH);
    int i = 0;
    for (const cJSON *el = arr->child; el; el = el->next, i++) {
        snprintf(e, sizeof e, "%s[%d]", f, i);
        if (fn(t, j, el, e, depth + 1))
            return -1;
    }
    return 0;
}

/* ===== Normalizers ====================================================== */

static int add_norm(tokenizer *t, tok_jctx *j, const char *path, tok_norm n)
{
    tok_norm *p = grow(t->norm, t->n_norm, sizeof *p);
    if (!p) {
        free(n.content);
        if (n.re)
            pcre2_code_free(n.re);
        return tok_jfail(j, path, "out of memory");
    }
    t->norm = p;
    t->norm[t->n_norm++] = n;
    return 0;
}

static int normalizer(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path, int depth)
{
    const char *type, *s;
    tok_norm n = {0};
    if (tok_jtype(j, node, path, &type))
        return -1;
    if (!strcmp(type, "Sequence"))
        return each(t, j, node, path, "normalizers", depth, normalizer);
    if (!strcmp(type, "NFC") || !strcmp(type, "NFD") || !strcmp(type, "NFKC") ||
        !strcmp(type, "NFKD") || !strcmp(type, "Lowercase")) {
        n.kind = !strcmp(type, "NFC")    ? TOK_NORM_NFC
                 : !strcmp(type, "NFD")  ? TOK_NORM_NFD
                 : !strcmp(type, "NFKC") ? TOK_NORM_NFKC
                 : !strcmp(type, "NFKD") ? TOK_NORM_NFKD
                                         : TOK_NORM_LOWERCASE;
        s = "";
    } else if (!strcmp(type, "Replace")) {
        n.kind = TOK_NORM_REPLACE;
        if (tok_jstr(j, node, path, "content", 1, &s) || parse_pattern(j, node, path, &n.re))
            return -1;
    } else if (!strcmp(type, "Prepend")) {
        n.kind = TOK_NORM_PREPEND;
        if (tok_jstr(j, node, path, "prepend", 1, &s))
            return -1;
    } else if (!strcmp(type, "Strip")) {
        n.kind = TOK_NORM_STRIP;
        s = "";
        if (tok_jbool(j, node, path, "strip_left", 1, &n.left) ||
            tok_jbool(j, node, path, "strip_right", 1, &n.right))
            return -1;
    } else {
        char f[256];
        return tok_jfail(j, tok_jpath(f, sizeof f, path, "type"),
                         "normalizer '%s' is not supported (supported: NFC, NFD, NFKC, NFKD, "
                         "Lowercase, Replace, Prepend, Strip, Sequence)", type);
    }
    n.content_len = strlen(s);
    n.content = tok_strndup(s, n.content_len);
    if (!n.content) {
        if (n.re)
            pcre2_code_free(n.re);
        return tok_jfail(j, path, "out of memory");
    }
    return add_norm(t, j, path, n);
}

int tok_parse_normalizer(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path)
{
    return node ? normalizer(t, j, node, path, 0) : 0;
}

/* ===== Pre-tokenizers =================================================== */

/* Rust's char::is_whitespace (Unicode White_Space). */
#define WHITE_SPACE "[\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
                    "\\x{202F}\\x{205F}\\x{3000}]"
/* HF's punctuation test: ASCII punctuation or a Unicode P category. */
#define PUNCTUATION "[\\p{P}!-/:-@\\[-`{-~]"

/* HF's ByteLevel regex (GPT-2's pattern). */
static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int add_pre(tokenizer *t, tok_jctx *j, const char *path, tok_pre p)
{
    tok_pre *a = grow(t->pre, t->n_pre, sizeof *a);
    if (!a) {
        if (p.re)
            pcre2_code_free(p.re);
        return tok_jfail(j, path, "out of memory");
    }
    t->pre = a;
    t->pre[t->n_pre++] = p;
    return 0;
}

/* A Split step on a built-in pattern (Digits, Whitespace, ByteLevel). */
static int builtin_split(tok_jctx *j, const char *path, const char *pat, tok_pre *p)
{
    char what[300];
    snprintf(what, sizeof what, "%s: %s (built-in pattern)", j->file, path);
    p->re = tok_regex_compile(pat, strlen(pat), TOK_RE_RUST, what, j->err, j->errlen);
    return p->re ? 0 : -1;
}

static int split_behavior(tok_jctx *j, const cJSON *node, const char *path, tok_split_behavior *b)
{
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                        "MergedWithNext", "Contiguous"};
    const char *s;
    char f[256];
    if (tok_jstr(j, node, path, "behavior", 1, &s))
        return -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) {
            *b = (tok_split_behavior)i;
            return 0;
        }
    return tok_jfail(j, tok_jpath(f, sizeof f, path, "behavior"),
                     "'%s' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, "
                     "Contiguous", s);
}

static int pre_tokenizer(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path,
                         int depth)
{
    const char *type, *s;
    char f[256];
    tok_pre p = {0};
    if (tok_jtype(j, node, path, &type))
        return -1;
    if (!strcmp(type, "Sequence"))
        return each(t, j, node, path, "pretokenizers", depth, pre_tokenizer);
    if (!strcmp(type, "ByteLevel")) {
        int use_regex;
        p.kind = TOK_PRE_BYTELEVEL;
        if (tok_jbool(j, node, path, "add_prefix_space", 1, &p.add_prefix_space) ||
            tok_jbool(j, node, path, "use_regex", 1, &use_regex))
            return -1;
        if (use_regex && builtin_split(j, path, GPT2_PATTERN, &p))
            return -1;
    } else if (!strcmp(type, "Split")) {
        p.kind = TOK_PRE_SPLIT;
        if (split_behavior(j, node, path, &p.behavior) ||
            tok_jbool(j, node, path, "invert", 0, &p.invert) || parse_pattern(j, node, path, &p.re))
            return -1;
    } else if (!strcmp(type, "Metaspace")) {
        p.kind = TOK_PRE_METASPACE;
        if (tok_jstr(j, node, path, "replacement", 1, &s) ||
            copy_char(j, tok_jpath(f, sizeof f, path, "replacement"), s, p.repl, &p.repl_len) ||
            parse_prepend(j, node, path, &p.prepend) || tok_jbool(j, node, path, "split", 1, &p.split))
            return -1;
    } else if (!strcmp(type, "Digits")) {
        int individual;
        p.kind = TOK_PRE_SPLIT;
        p.behavior = TOK_SPLIT_ISOLATED;
        if (tok_jbool(j, node, path, "individual_digits", 0, &individual) ||
            builtin_split(j, path, individual ? "\\p{N}" : "\\p{N}+", &p))
            return -1;
    } else if (!strcmp(type, "Whitespace")) {
        /* Keeps runs of word chars and runs of other non-space chars. */
        p.kind = TOK_PRE_SPLIT;
        p.behavior = TOK_SPLIT_REMOVED;
        p.invert = 1;
        if (builtin_split(j, path, "\\w+|[^\\w\\s]+", &p))
            return -1;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        p.kind = TOK_PRE_SPLIT;
        p.behavior = TOK_SPLIT_REMOVED;
        if (builtin_split(j, path, WHITE_SPACE "+", &p))
            return -1;
    } else if (!strcmp(type, "Punctuation")) {
        /* Each punctuation char (Unicode P or ASCII punctuation) is a match. */
        p.kind = TOK_PRE_SPLIT;
        p.behavior = TOK_SPLIT_ISOLATED;
        if ((tok_jmember(node, "behavior") && split_behavior(j, node, path, &p.behavior)) ||
            builtin_split(j, path, PUNCTUATION, &p))
            return -1;
    } else if (!strcmp(type, "BertPreTokenizer")) {
        /* Whitespace goes, then each punctuation char stands alone. */
        tok_pre ws = {.kind = TOK_PRE_SPLIT, .behavior = TOK_SPLIT_REMOVED};
        if (builtin_split(j, path, WHITE_SPACE "+", &ws) || add_pre(t, j, path, ws))
            return -1;
        p.kind = TOK_PRE_SPLIT;
        p.behavior = TOK_SPLIT_ISOLATED;
        if (builtin_split(j, path, PUNCTUATION, &p))
            return -1;
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        char what[300];
        p.kind = TOK_PRE_SPLIT;
        p.behavior = TOK_SPLIT_REMOVED;
        if (tok_jstr(j, node, path, "delimiter", 1, &s))
            return -1;
        if (tok_char_len(s, strlen(s)) != strlen(s) || !*s)
            return tok_jfail(j, tok_jpath(f, sizeof f, path, "delimiter"), "expected one character");
        snprintf(what, sizeof what, "%s: %s", j->file, tok_jpath(f, sizeof f, path, "delimiter"));
        p.re = tok_regex_compile(s, strlen(s), TOK_RE_LITERAL, what, j->err, j->errlen);
        if (!p.re)
            return -1;
    } else {
        return tok_jfail(j, tok_jpath(f, sizeof f, path, "type"),
                         "pre-tokenizer '%s' is not supported (supported: ByteLevel, Split, "
                         "Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation, "
                         "BertPreTokenizer, CharDelimiterSplit, Sequence)", type);
    }
    return add_pre(t, j, path, p);
}

int tok_parse_pre_tokenizer(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path)
{
    return node ? pre_tokenizer(t, j, node, path, 0) : 0;
}

/* ===== Decoders ========================================================= */

static int add_dec(tokenizer *t, tok_jctx *j, const char *path, tok_dec d)
{
    tok_dec *a = grow(t->dec, t->n_dec, sizeof *a);
    if (!a) {
        free(d.content);
        if (d.re)
            pcre2_code_free(d.re);
        return tok_jfail(j, path, "out of memory");
    }
    t->dec = a;
    t->dec[t->n_dec++] = d;
    return 0;
}

static int decoder(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path, int depth)
{
    const char *type, *s;
    char f[256];
    tok_dec d = {0};
    if (tok_jtype(j, node, path, &type))
        return -1;
    if (!strcmp(type, "Sequence"))
        return each(t, j, node, path, "decoders", depth, decoder);
    if (!strcmp(type, "ByteLevel")) {
        d.kind = TOK_DEC_BYTELEVEL;
    } else if (!strcmp(type, "ByteFallback")) {
        d.kind = TOK_DEC_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        d.kind = TOK_DEC_FUSE;
    } else if (!strcmp(type, "Metaspace")) {
        d.kind = TOK_DEC_METASPACE;
        if (tok_jstr(j, node, path, "replacement", 1, &s) ||
            copy_char(j, tok_jpath(f, sizeof f, path, "replacement"), s, d.repl, &d.repl_len) ||
            parse_prepend(j, node, path, &d.prepend))
            return -1;
    } else if (!strcmp(type, "Strip")) {
        long start, stop;
        d.kind = TOK_DEC_STRIP;
        if (tok_jstr(j, node, path, "content", 1, &s) ||
            copy_char(j, tok_jpath(f, sizeof f, path, "content"), s, d.strip_char, &d.strip_len) ||
            tok_jint(j, node, path, "start", 0, 0, 1 << 20, 0, &start) ||
            tok_jint(j, node, path, "stop", 0, 0, 1 << 20, 0, &stop))
            return -1;
        d.start = (int)start;
        d.stop = (int)stop;
    } else if (!strcmp(type, "BPEDecoder")) {
        d.kind = TOK_DEC_BPE;
        if (tok_jstr(j, node, path, "suffix", 0, &s))
            return -1;
        if (!s)
            s = "</w>";
        d.content_len = strlen(s);
        d.content = tok_strndup(s, d.content_len);
        if (!d.content)
            return tok_jfail(j, path, "out of memory");
    } else if (!strcmp(type, "Replace")) {
        d.kind = TOK_DEC_REPLACE;
        if (tok_jstr(j, node, path, "content", 1, &s) || parse_pattern(j, node, path, &d.re))
            return -1;
        d.content_len = strlen(s);
        d.content = tok_strndup(s, d.content_len);
        if (!d.content) {
            pcre2_code_free(d.re);
            return tok_jfail(j, path, "out of memory");
        }
    } else {
        return tok_jfail(j, tok_jpath(f, sizeof f, path, "type"),
                         "decoder '%s' is not supported (supported: ByteLevel, Metaspace, "
                         "ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence)", type);
    }
    return add_dec(t, j, path, d);
}

int tok_parse_decoder(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path)
{
    t->has_decoder = node != NULL;
    return node ? decoder(t, j, node, path, 0) : 0;
}

/* ===== Post-processors (only the special tokens they add) =============== */

static int push_id(int32_t **arr, size_t *n, int32_t id)
{
    int32_t *p = realloc(*arr, (*n + 1) * sizeof *p);
    if (!p)
        return -1;
    *arr = p;
    p[(*n)++] = id;
    return 0;
}

/* A special token of TemplateProcessing: its ids from "special_tokens". */
static int template_special(tokenizer *t, tok_jctx *j, const cJSON *node, const cJSON *item,
                            const char *path, int after)
{
    char f[300];
    const char *name;
    if (tok_jstr(j, item, path, "id", 1, &name))
        return -1;
    const cJSON *table = tok_jmember(node, "special_tokens");
    const cJSON *entry = table ? cJSON_GetObjectItemCaseSensitive(table, name) : NULL;
    if (!entry) {
        /* Older files may leave the table out: the name is then the token. */
        int32_t id = tok_lookup_any(t, name, strlen(name));
        if (id < 0)
            return tok_jfail(j, path, "special token '%s' is neither in special_tokens nor in "
                             "the vocabulary", name);
        return push_id(after ? &t->suffix_ids : &t->prefix_ids,
                       after ? &t->n_suffix : &t->n_prefix, id)
                   ? tok_jfail(j, path, "out of memory") : 0;
    }
    snprintf(f, sizeof f, "post_processor.special_tokens.%s.ids", name);
    const cJSON *ids = tok_jmember(entry, "ids");
    if (!ids || !cJSON_IsArray(ids))
        return tok_jfail(j, f, "expected an array of ids");
    int k = 0;
    for (const cJSON *v = ids->child; v; v = v->next, k++) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= t->vocab_size ||
            v->valuedouble != (double)(int32_t)v->valuedouble)
            return tok_jfail(j, f, "element %d: expected an id in [0, %d)", k, (int)t->vocab_size);
        if (push_id(after ? &t->suffix_ids : &t->prefix_ids, after ? &t->n_suffix : &t->n_prefix,
                    (int32_t)v->valuedouble))
            return tok_jfail(j, f, "out of memory");
    }
    return 0;
}

static int template_processing(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path)
{
    char f[256], e[300];
    const cJSON *single = tok_jmember(node, "single");
    tok_jpath(f, sizeof f, path, "single");
    if (!single || !cJSON_IsArray(single))
        return tok_jfail(j, f, "expected an array");
    int after = 0, i = 0;
    for (const cJSON *it = single->child; it; it = it->next, i++) {
        snprintf(e, sizeof e, "%s[%d]", f, i);
        const cJSON *sp = tok_jmember(it, "SpecialToken");
        if (cJSON_IsObject(it) && tok_jmember(it, "Sequence")) {
            after = 1;
        } else if (sp && cJSON_IsObject(sp)) {
            snprintf(e, sizeof e, "%s[%d].SpecialToken", f, i);
            if (template_special(t, j, node, sp, e, after))
                return -1;
        } else {
            return tok_jfail(j, e, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
        }
    }
    return 0;
}

/* RobertaProcessing / BertProcessing: "cls": [text, id], "sep": [text, id]. */
static int cls_sep(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path, const char *key,
                   int after)
{
    char f[256];
    const cJSON *v = tok_jmember(node, key);
    tok_jpath(f, sizeof f, path, key);
    if (!v || !cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 ||
        !cJSON_IsNumber(cJSON_GetArrayItem(v, 1)))
        return tok_jfail(j, f, "expected a pair [token, id]");
    double id = cJSON_GetArrayItem(v, 1)->valuedouble;
    if (id < 0 || id >= t->vocab_size || id != (double)(int32_t)id)
        return tok_jfail(j, f, "id outside [0, %d)", (int)t->vocab_size);
    if (push_id(after ? &t->suffix_ids : &t->prefix_ids, after ? &t->n_suffix : &t->n_prefix,
                (int32_t)id))
        return tok_jfail(j, f, "out of memory");
    return 0;
}

static int post_processor(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path, int depth)
{
    const char *type;
    char f[256];
    if (tok_jtype(j, node, path, &type))
        return -1;
    if (!strcmp(type, "Sequence"))
        return each(t, j, node, path, "processors", depth, post_processor);
    if (!strcmp(type, "ByteLevel"))
        return 0;   /* offsets only */
    if (!strcmp(type, "TemplateProcessing"))
        return template_processing(t, j, node, path);
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing"))
        return cls_sep(t, j, node, path, "cls", 0) || cls_sep(t, j, node, path, "sep", 1) ? -1 : 0;
    return tok_jfail(j, tok_jpath(f, sizeof f, path, "type"),
                     "post-processor '%s' is not supported (supported: TemplateProcessing, "
                     "ByteLevel, RobertaProcessing, BertProcessing, Sequence)", type);
}

int tok_parse_post_processor(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path)
{
    return node ? post_processor(t, j, node, path, 0) : 0;
}
