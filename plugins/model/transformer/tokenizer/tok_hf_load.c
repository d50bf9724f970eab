/*
 * tok_hf_load.c — tokenizer.json (BPE model) into a tokenizer: vocabulary,
 * merges, added tokens, the pipeline components, then BOS/EOS from the
 * post-processor and tokenizer_config.json beside the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tok_json.h"

/* Ids above this are refused: a corrupt file must not make us allocate
 * gigabytes (the largest real vocabularies are ~260k). */
#define MAX_ID (1 << 24)

int32_t tok_lookup_any(const tokenizer *t, const char *s, size_t n)
{
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && memcmp(t->added[i].content, s, n) == 0)
            return t->added[i].id;
    return tok_strmap_get(&t->vocab, s, n);
}

/* ===== JSON text ======================================================== */

static cJSON *parse_json(const char *path, char *err, size_t errlen)
{
    size_t n;
    char *text = tok_read_file(path, &n, err, errlen);
    if (!text)
        return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!root) {
        size_t at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
        size_t line = 1;
        for (size_t i = 0; i < at; i++)
            line += text[i] == '\n';
        tok_errf(err, errlen, "%s: invalid JSON near byte %zu (line %zu)", path, at, line);
    } else if (!cJSON_IsObject(root)) {
        tok_errf(err, errlen, "%s: expected a JSON object at the top level", path);
        cJSON_Delete(root);
        root = NULL;
    }
    free(text);
    return root;
}

/* ===== Vocabulary ======================================================= */

/* The largest id in model.vocab and added_tokens, checking each is sane. */
static int scan_ids(tok_jctx *j, const cJSON *vocab, const cJSON *added, long *max_id)
{
    char f[300];
    *max_id = -1;
    for (const cJSON *v = vocab->child; v; v = v->next) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= MAX_ID ||
            v->valuedouble != (double)(long)v->valuedouble) {
            snprintf(f, sizeof f, "model.vocab[\"%.200s\"]", v->string);
            return tok_jfail(j, f, "expected an id in [0, %d)", MAX_ID);
        }
        if ((long)v->valuedouble > *max_id)
            *max_id = (long)v->valuedouble;
    }
    int i = 0;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next, i++) {
        long id;
        snprintf(f, sizeof f, "added_tokens[%d]", i);
        if (!cJSON_IsObject(a))
            return tok_jfail(j, f, "expected an object");
        if (tok_jint(j, a, f, "id", 1, 0, MAX_ID - 1, 0, &id))
            return -1;
        if (id > *max_id)
            *max_id = id;
    }
    return 0;
}

static int load_vocab(tokenizer *t, tok_jctx *j, const cJSON *vocab)
{
    char f[300];
    for (const cJSON *v = vocab->child; v; v = v->next) {
        int32_t id = (int32_t)v->valuedouble;
        if (t->str[id]) {
            snprintf(f, sizeof f, "model.vocab[\"%.200s\"]", v->string);
            return tok_jfail(j, f, "id %d is also used by \"%.100s\"", (int)id, t->str[id]);
        }
        size_t n = strlen(v->string);
        t->str[id] = tok_strndup(v->string, n);
        if (!t->str[id])
            return tok_jfail(j, "model.vocab", "out of memory");
        t->len[id] = (uint32_t)n;
    }
    if (tok_strmap_init(&t->vocab, (size_t)t->vocab_size, t->str, t->len))
        return tok_jfail(j, "model.vocab", "out of memory");
    for (const cJSON *v = vocab->child; v; v = v->next) {
        if (tok_strmap_put(&t->vocab, (int32_t)v->valuedouble)) {
            snprintf(f, sizeof f, "model.vocab[\"%.200s\"]", v->string);
            return tok_jfail(j, f, "the same string appears twice");
        }
    }
    return 0;
}

/* ===== Merges =========================================================== */

/* "model.merges[17]", formatted only for a message (not per merge). */
static const char *merge_field(char *f, size_t n, int rank)
{
    snprintf(f, n, "model.merges[%d]", rank);
    return f;
}

/* One merge: "a b" or ["a", "b"]; the parts point into the tree or buf. */
static int merge_parts(tok_jctx *j, const cJSON *m, int rank, char *buf, size_t bufn,
                       const char **a, size_t *na, const char **b, size_t *nb)
{
    char f[64];
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring;
        const char *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' ') || sp == s || !sp[1])
            return tok_jfail(j, merge_field(f, sizeof f, rank), "expected \"left right\" (two tokens and one space), got "
                             "\"%.80s\"", s);
        size_t la = (size_t)(sp - s);
        if (la >= bufn)
            return tok_jfail(j, merge_field(f, sizeof f, rank), "token too long");
        memcpy(buf, s, la);
        buf[la] = '\0';
        *a = buf;
        *na = la;
        *b = sp + 1;
        *nb = strlen(sp + 1);
        return 0;
    }
    if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 &&
        cJSON_IsString(m->child) && cJSON_IsString(m->child->next)) {
        *a = m->child->valuestring;
        *na = strlen(*a);
        *b = m->child->next->valuestring;
        *nb = strlen(*b);
        return 0;
    }
    return tok_jfail(j, merge_field(f, sizeof f, rank), "expected a string or a pair");
}

static int load_merges(tokenizer *t, tok_jctx *j, const cJSON *merges)
{
    char f[64];
    if (tok_pairmap_init(&t->merges, (size_t)cJSON_GetArraySize(merges)))
        return tok_jfail(j, "model.merges", "out of memory");
    int rank = 0;
    char *buf = malloc(65536);
    if (!buf)
        return tok_jfail(j, "model.merges", "out of memory");
    for (const cJSON *m = merges->child; m; m = m->next, rank++) {
        const char *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        if (merge_parts(j, m, rank, buf, 65536, &a, &na, &b, &nb))
            goto fail;
        int32_t ia = tok_strmap_get(&t->vocab, a, na);
        int32_t ib = tok_strmap_get(&t->vocab, b, nb);
        if (ia < 0 || ib < 0) {
            tok_jfail(j, merge_field(f, sizeof f, rank), "token \"%.80s\" is not in model.vocab",
                      ia < 0 ? a : b);
            goto fail;
        }
        /* The right part loses its continuing-subword prefix in the merge. */
        if (nb < t->cont_len || (t->cont_len && memcmp(b, t->cont_prefix, t->cont_len) != 0)) {
            tok_jfail(j, merge_field(f, sizeof f, rank),
                      "\"%.80s\" does not start with continuing_subword_prefix \"%s\"", b,
                      t->cont_prefix);
            goto fail;
        }
        int32_t im = tok_strmap_get2(&t->vocab, a, na, b + t->cont_len, nb - t->cont_len);
        if (im < 0) {
            tok_jfail(j, merge_field(f, sizeof f, rank),
                      "the merged token \"%.80s%.80s\" is not in model.vocab", a, b + t->cont_len);
            goto fail;
        }
        tok_pairmap_put(&t->merges, ia, ib, rank, im);
    }
    free(buf);
    return 0;
fail:
    free(buf);
    return -1;
}

/* ===== The model section ================================================ */

static int model_options(tokenizer *t, tok_jctx *j, const cJSON *model)
{
    const char *s;
    const cJSON *dropout = tok_jmember(model, "dropout");
    if (dropout && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0.0))
        return tok_jfail(j, "model.dropout", "BPE dropout is not supported (expected null)");
    const char *keys[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    char **dst[] = {&t->cont_prefix, &t->eow_suffix};
    size_t *lens[] = {&t->cont_len, &t->eow_len};
    for (int i = 0; i < 2; i++) {
        if (tok_jstr(j, model, "model", keys[i], 0, &s))
            return -1;
        if (s && *s) {   /* "" reads as none, as in HF */
            *lens[i] = strlen(s);
            *dst[i] = tok_strndup(s, *lens[i]);
            if (!*dst[i])
                return tok_jfail(j, "model", "out of memory");
        }
    }
    if (tok_jbool(j, model, "model", "byte_fallback", 0, &t->byte_fallback) ||
        tok_jbool(j, model, "model", "ignore_merges", 0, &t->ignore_merges) ||
        tok_jbool(j, model, "model", "fuse_unk", 0, &t->fuse_unk) ||
        tok_jstr(j, model, "model", "unk_token", 0, &s))
        return -1;
    t->unk = s ? tok_strmap_get(&t->vocab, s, strlen(s)) : -1;
    for (int b = 0; b < 256; b++) {
        char piece[8];
        snprintf(piece, sizeof piece, "<0x%02X>", b);
        t->byte_id[b] = tok_strmap_get(&t->vocab, piece, 6);
    }
    return 0;
}

static int load_model(tok_jctx *j, const cJSON *root, const cJSON **vocab_out)
{
    const char *type;
    const cJSON *model = tok_jmember(root, "model");
    if (!model || !cJSON_IsObject(model))
        return tok_jfail(j, "model", model ? "expected an object" : "missing (expected an object)");
    if (tok_jstr(j, model, "model", "type", 0, &type))
        return -1;
    if (type && strcmp(type, "BPE") != 0)
        return tok_jfail(j, "model.type", "'%s' is not supported (only BPE)", type);
    const cJSON *vocab = tok_jmember(model, "vocab");
    if (!vocab || !cJSON_IsObject(vocab))
        return tok_jfail(j, "model.vocab", "%s", vocab ? "expected an object of token: id"
                                                      : "missing (expected an object of token: id)");
    const cJSON *merges = tok_jmember(model, "merges");
    if (!merges || !cJSON_IsArray(merges))
        return tok_jfail(j, "model.merges", "%s", merges ? "expected an array"
                                                        : "missing (expected an array)");
    *vocab_out = vocab;
    return 0;
}

/* ===== Added tokens ===================================================== */

static int added_longest_first(const void *x, const void *y)
{
    const tok_added *a = x, *b = y;
    if (a->match_len != b->match_len)
        return a->match_len < b->match_len ? 1 : -1;
    return (a->id > b->id) - (a->id < b->id);
}

static int load_added(tokenizer *t, tok_jctx *j, const cJSON *added)
{
    char f[64];
    int n = added ? cJSON_GetArraySize(added) : 0;
    t->added = calloc((size_t)n + 1, sizeof *t->added);
    t->added_str = calloc((size_t)t->vocab_size, sizeof *t->added_str);
    if (!t->added || !t->added_str)
        return tok_jfail(j, "added_tokens", "out of memory");
    int i = 0;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next, i++) {
        tok_added *d = &t->added[t->n_added];
        long id;
        const char *content;
        int normalized;
        snprintf(f, sizeof f, "added_tokens[%d]", i);
        if (tok_jint(j, a, f, "id", 1, 0, MAX_ID - 1, 0, &id) ||
            tok_jstr(j, a, f, "content", 1, &content) ||
            tok_jbool(j, a, f, "special", 0, &d->special) ||
            tok_jbool(j, a, f, "single_word", 0, &d->single_word) ||
            tok_jbool(j, a, f, "lstrip", 0, &d->lstrip) ||
            tok_jbool(j, a, f, "rstrip", 0, &d->rstrip) ||
            tok_jbool(j, a, f, "normalized", !d->special, &normalized))
            return -1;
        d->normalized = normalized;
        if (!*content)
            return tok_jfail(j, f, "content is empty");
        d->id = (int32_t)id;
        d->len = strlen(content);
        d->content = tok_strndup(content, d->len);
        if (!d->content)
            return tok_jfail(j, f, "out of memory");
        d->match = d->content;
        d->match_len = d->len;
        t->n_added++;
        t->added_str[id] = d->content;
        if (d->special)
            t->special[id] = 1;
        /* An added token missing from the model's vocabulary still
         * decodes: give the id its text. */
        if (!t->str[id]) {
            t->str[id] = tok_strndup(content, d->len);
            if (!t->str[id])
                return tok_jfail(j, f, "out of memory");
            t->len[id] = (uint32_t)d->len;
        }
    }
    int single_word = 0;
    for (size_t k = 0; k < t->n_added; k++)
        single_word |= t->added[k].single_word;
    if (single_word) {
        /* HF tests single_word boundaries with Rust regex's Unicode \\w
         * (tok_regex_compile spells it out). */
        static const char word[] = "\\w";
        t->word_re = tok_regex_compile(word, strlen(word), TOK_RE_RUST, "single_word", j->err,
                                       j->errlen);
        if (!t->word_re)
            return -1;
    }
    return 0;
}

/* ===== tokenizer_config.json ============================================ */

/* "bos_token": "<s>" or {"content": "<s>", ...}; -1 when absent/unknown. */
static int32_t config_token(const tokenizer *t, const cJSON *cfg, const char *key)
{
    const cJSON *v = tok_jmember(cfg, key);
    if (v && cJSON_IsObject(v))
        v = tok_jmember(v, "content");
    if (!v || !cJSON_IsString(v))
        return -1;
    return tok_lookup_any(t, v->valuestring, strlen(v->valuestring));
}

static char *sibling_path(const char *path, const char *name)
{
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path + 1) : 0;
    size_t n = dir + strlen(name) + 1;
    char *p = malloc(n);
    if (p) {
        memcpy(p, path, dir);
        strcpy(p + dir, name);
    }
    return p;
}

/* Reads bos/eos/add_bos_token from tokenizer_config.json when it exists. */
static int load_config(tokenizer *t, char *err, size_t errlen, int *add_bos, int *add_eos)
{
    *add_bos = *add_eos = 0;
    char *cpath = sibling_path(t->path, "tokenizer_config.json");
    if (!cpath) {
        tok_errf(err, errlen, "%s: out of memory", t->path);
        return -1;
    }
    if (access(cpath, R_OK) != 0) {
        free(cpath);
        return 0;
    }
    cJSON *cfg = parse_json(cpath, err, errlen);
    if (!cfg) {
        free(cpath);
        return -1;
    }
    tok_jctx j = {cpath, err, errlen};
    int rc = tok_jbool(&j, cfg, "", "add_bos_token", 0, add_bos) ||
             tok_jbool(&j, cfg, "", "add_eos_token", 0, add_eos);
    t->bos = config_token(t, cfg, "bos_token");
    t->eos = config_token(t, cfg, "eos_token");
    cJSON_Delete(cfg);
    if (rc) {
        free(cpath);
        return -1;
    }
    t->config_path = cpath;
    return 0;
}

/* Without tokenizer_config.json: BOS is the post-processor's single prefix
 * token; EOS its single suffix token, else a well-known end token. */
static void guess_bos_eos(tokenizer *t)
{
    static const char *const ends[] = {"</s>", "<|endoftext|>", "<|end_of_text|>", "<|im_end|>",
                                       "<|eot_id|>", NULL};
    if (t->bos < 0 && t->n_prefix == 1)
        t->bos = t->prefix_ids[0];
    if (t->eos < 0 && t->n_suffix == 1)
        t->eos = t->suffix_ids[0];
    for (int i = 0; t->eos < 0 && ends[i]; i++) {
        int32_t id = tok_lookup_any(t, ends[i], strlen(ends[i]));
        if (id >= 0 && t->special[id])
            t->eos = id;
    }
}

/* ===== Loading ========================================================== */

static int push_back(int32_t **arr, size_t *n, int32_t id)
{
    int32_t *p = realloc(*arr, (*n + 1) * sizeof *p);
    if (!p)
        return -1;
    *arr = p;
    p[(*n)++] = id;
    return 0;
}

/* Once the normalizer is known: the normalized form of each normalized
 * added token (HF matches that form in normalized text), then the lookup
 * order, first-byte tables and decoding strings.  added_str points into
 * the strings, which qsort does not move. */
static int index_added(tokenizer *t, tok_jctx *j)
{
    for (size_t k = 0; k < t->n_added; k++) {
        tok_added *a = &t->added[k];
        if (!a->normalized || t->n_norm == 0)
            continue;
        tok_buf b = {0};
        if (tok_hf_normalize(t, a->content, a->len, &b) || tok_buf_add(&b, "", 1)) {
            free(b.p);
            return tok_jfail(j, "added_tokens", "out of memory");
        }
        if (b.len > 1) {
            a->match = b.p;
            a->match_len = b.len - 1;
        } else {
            free(b.p);
        }
    }
    qsort(t->added, t->n_added, sizeof *t->added, added_longest_first);
    t->skip = calloc((size_t)t->vocab_size, 1);
    if (!t->skip)
        return tok_jfail(j, "added_tokens", "out of memory");
    for (size_t k = 0; k < t->n_added; k++) {
        const tok_added *a = &t->added[k];
        t->added_first[a->normalized != 0][(unsigned char)a->match[0]] = 1;
        /* HF decodes a normalized token as its normalized form, and then
         * no longer recognises it as special when that form differs. */
        t->added_str[a->id] = a->match;
        t->skip[a->id] = a->special && a->match == a->content;
    }
    return 0;
}

static int load_all(tokenizer *t, tok_jctx *j, const cJSON *root)
{
    const cJSON *vocab = NULL;
    long max_id;
    const cJSON *added = tok_jmember(root, "added_tokens");
    if (added && !cJSON_IsArray(added))
        return tok_jfail(j, "added_tokens", "expected an array");
    if (load_model(j, root, &vocab) || scan_ids(j, vocab, added, &max_id))
        return -1;
    if (max_id < 0)
        return tok_jfail(j, "model.vocab", "is empty");
    t->vocab_size = (int32_t)max_id + 1;
    t->str = calloc((size_t)t->vocab_size, sizeof *t->str);
    t->len = calloc((size_t)t->vocab_size, sizeof *t->len);
    t->special = calloc((size_t)t->vocab_size, 1);
    if (!t->str || !t->len || !t->special)
        return tok_jfail(j, "model.vocab", "out of memory");
    const cJSON *model = tok_jmember(root, "model");
    if (load_vocab(t, j, vocab) || load_added(t, j, added) || model_options(t, j, model) ||
        load_merges(t, j, tok_jmember(model, "merges")))
        return -1;
    if (tok_parse_normalizer(t, j, tok_jmember(root, "normalizer"), "normalizer") ||
        tok_parse_pre_tokenizer(t, j, tok_jmember(root, "pre_tokenizer"), "pre_tokenizer") ||
        tok_parse_decoder(t, j, tok_jmember(root, "decoder"), "decoder") ||
        tok_parse_post_processor(t, j, tok_jmember(root, "post_processor"), "post_processor"))
        return -1;
    return index_added(t, j);
}

tokenizer *tok_hf_load(const char *path, char *err, size_t errlen)
{
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        tok_errf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    t->format = TOK_HF;
    t->bos = t->eos = t->unk = -1;
    t->path = tok_strndup(path, strlen(path));
    if (!t->path) {
        tok_errf(err, errlen, "%s: out of memory", path);
        tok_free_all(t);
        return NULL;
    }
    cJSON *root = parse_json(path, err, errlen);
    if (!root) {
        tok_free_all(t);
        return NULL;
    }
    tok_jctx j = {path, err, errlen};
    int rc = load_all(t, &j, root);
    cJSON_Delete(root);
    int add_bos = 0, add_eos = 0;
    if (rc || load_config(t, err, errlen, &add_bos, &add_eos)) {
        tok_free_all(t);
        return NULL;
    }
    /* tokenizer_config's add_bos_token/add_eos_token stand in for a
     * template only when the tokenizer.json has none. */
    if (t->n_prefix == 0 && add_bos && t->bos >= 0 && push_back(&t->prefix_ids, &t->n_prefix, t->bos))
        goto nomem;
    if (t->n_suffix == 0 && add_eos && t->eos >= 0 && push_back(&t->suffix_ids, &t->n_suffix, t->eos))
        goto nomem;
    guess_bos_eos(t);
    return t;
nomem:
    tok_errf(err, errlen, "%s: out of memory", path);
    tok_free_all(t);
    return NULL;
}
