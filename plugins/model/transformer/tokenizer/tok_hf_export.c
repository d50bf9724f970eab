/*
 * tok_hf_export.c — a llama2.c tokenizer.bin written out as a Hugging Face
 * tokenizer.json (with tokenizer_config.json and special_tokens_map.json)
 * that encodes the same text to the same ids, so AutoTokenizer reads the
 * folders a llama2.c model is saved to.
 *
 * The layout is the one Hugging Face's converter gives Llama-2's
 * sentencepiece model (transformers' LlamaConverter, legacy):
 *   normalizer  Prepend "▁", then Replace " " -> "▁" (the dummy prefix and
 *               the spaces of run.c's encode(); llama2.c's export had turned
 *               every "▁" of a piece into a space, so it is turned back)
 *   model       BPE with byte_fallback over the pieces; ids 0/1/2 are named
 *               <unk>/<s>/</s> (tokenizer.bin spells BOS/EOS "\n<s>\n")
 *   merges      for every piece that is two pieces joined, the pair, ranked
 *               by the joined piece's score (highest first): run.c merges
 *               the adjacent pair whose join scores highest, and BPE the
 *               pair of lowest rank, which is the same order
 *   post-proc.  <s> $A (add_bos), decoder Replace/ByteFallback/Fuse/Strip
 *
 * Where the two differ by construction (the Llama-2 conversion has the same
 * gaps): text holding "▁" (U+2581) is read as a space by the normalizer, and
 * "<unk>", "<s>", "</s>" written in the text are matched as the special
 * tokens.  Two pieces of equal score, or one piece made by two different
 * splits whose pairs overlap, would let run.c break the tie by position and
 * BPE by rank; tokenizer.bin files from sentencepiece score pieces by rank,
 * so neither happens with them.
 *
 * A vocabulary the format cannot carry (a piece that is not UTF-8, holds a
 * NUL or a "▁", is spelled like a special token, or appears twice) is not
 * exported: tok_llama2c_exportable says why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tok_internal.h"

#define SPM_SPACE "\xe2\x96\x81"      /* U+2581, sentencepiece's space */
#define SPM_SPACE_LEN 3

static const char *const special_name[3] = {"<unk>", "<s>", "</s>"};

/* ===== Can the vocabulary be written? =================================== */

const char *tok_llama2c_exportable(const tokenizer *t)
{
    static char why[160];
    if (t->format != TOK_LLAMA2C)
        return "not a llama2.c tokenizer";
    for (int32_t id = 3; id < t->vocab_size; id++) {
        const char *s = t->str[id];
        size_t n = t->len[id];
        const char *problem = NULL;
        if (n == 0)
            problem = "is empty";
        else if (memchr(s, 0, n))
            problem = "holds a NUL byte";
        for (size_t i = 0; !problem && i < n;) {
            size_t k = tok_utf8_valid_len((const unsigned char *)s + i, n - i);
            if (!k)
                problem = "is not valid UTF-8";
            else if (k == SPM_SPACE_LEN && !memcmp(s + i, SPM_SPACE, SPM_SPACE_LEN))
                problem = "holds U+2581, which stands for a space in tokenizer.json";
            i += k ? k : 1;
        }
        for (int k = 0; !problem && k < 3; k++)
            if (n == strlen(special_name[k]) && !memcmp(s, special_name[k], n))
                problem = "is spelled like a special token";
        if (!problem && tok_strmap_get(&t->vocab, s, n) != id)
            problem = "appears twice in the vocabulary";
        if (problem) {
            snprintf(why, sizeof why, "piece %d %s", (int)id, problem);
            return why;
        }
    }
    return NULL;
}

/* ===== Pieces in tokenizer.json spelling ================================ */

/* The piece of `id` with every space as "▁" (ids 0-2 by name); malloc'ed. */
static char *hf_piece(const tokenizer *t, int32_t id)
{
    if (id < 3)
        return tok_strndup(special_name[id], strlen(special_name[id]));
    const char *s = t->str[id];
    size_t n = t->len[id], spaces = 0;
    for (size_t i = 0; i < n; i++)
        spaces += s[i] == ' ';
    char *out = malloc(n + spaces * (SPM_SPACE_LEN - 1) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(out + o, SPM_SPACE, SPM_SPACE_LEN);
            o += SPM_SPACE_LEN;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    return out;
}

/* ===== Merges =========================================================== */

typedef struct merge {
    float score;                /* of the joined piece */
    int32_t joined, left, right;
} merge;

/* Highest score first; the rest only makes the order total. */
static int merge_cmp(const void *pa, const void *pb)
{
    const merge *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->joined != b->joined)
        return a->joined < b->joined ? -1 : 1;
    return (a->left > b->left) - (a->left < b->left);
}

/* Every (left, right) that run.c's encode() may join: both pieces, the join
 * a piece no longer than max_token_length scored above run.c's -1e10
 * floor.  Splits fall on char boundaries (a piece is valid UTF-8). */
static merge *collect_merges(const tokenizer *t, size_t *n_out)
{
    size_t n = 0, cap = 1024;
    merge *m = malloc(cap * sizeof *m);
    if (!m)
        return NULL;
    for (int32_t id = 3; id < t->vocab_size; id++) {
        const char *s = t->str[id];
        size_t len = t->len[id];
        if (!(t->score[id] > -1e10f) || len > t->max_token_len)
            continue;
        for (size_t k = tok_char_len(s, len); k < len; k += tok_char_len(s + k, len - k)) {
            int32_t a = tok_strmap_get(&t->vocab, s, k);
            int32_t b = tok_strmap_get(&t->vocab, s + k, len - k);
            if (a < 3 || b < 3)
                continue;
            if (n == cap) {
                merge *grown = realloc(m, 2 * cap * sizeof *m);
                if (!grown) {
                    free(m);
                    return NULL;
                }
                m = grown;
                cap *= 2;
            }
            m[n++] = (merge){t->score[id], id, a, b};
        }
    }
    qsort(m, n, sizeof *m, merge_cmp);
    *n_out = n;
    return m;
}

/* ===== tokenizer.json =================================================== */

static cJSON *special_token(int32_t id)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", id);
    cJSON_AddStringToObject(o, "content", special_name[id]);
    cJSON_AddBoolToObject(o, "single_word", 0);
    cJSON_AddBoolToObject(o, "lstrip", 0);
    cJSON_AddBoolToObject(o, "rstrip", 0);
    cJSON_AddBoolToObject(o, "normalized", 0);
    cJSON_AddBoolToObject(o, "special", 1);
    return o;
}

/* {"type": "Replace", "pattern": {"String": from}, "content": to} */
static cJSON *replace(const char *from, const char *to)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "Replace");
    cJSON *pat = cJSON_AddObjectToObject(o, "pattern");
    cJSON_AddStringToObject(pat, "String", from);
    cJSON_AddStringToObject(o, "content", to);
    return o;
}

static cJSON *template_piece(const char *kind, const char *id, int type_id)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *in = cJSON_AddObjectToObject(o, kind);
    cJSON_AddStringToObject(in, "id", id);
    cJSON_AddNumberToObject(in, "type_id", type_id);
    return o;
}

/* <s> $A, and for pairs <s> $A <s> $B (as Llama-2's file). */
static cJSON *post_processor(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "TemplateProcessing");
    cJSON *single = cJSON_AddArrayToObject(o, "single");
    cJSON_AddItemToArray(single, template_piece("SpecialToken", "<s>", 0));
    cJSON_AddItemToArray(single, template_piece("Sequence", "A", 0));
    cJSON *pair = cJSON_AddArrayToObject(o, "pair");
    cJSON_AddItemToArray(pair, template_piece("SpecialToken", "<s>", 0));
    cJSON_AddItemToArray(pair, template_piece("Sequence", "A", 0));
    cJSON_AddItemToArray(pair, template_piece("SpecialToken", "<s>", 1));
    cJSON_AddItemToArray(pair, template_piece("Sequence", "B", 1));
    cJSON *sp = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "special_tokens"), "<s>");
    cJSON_AddStringToObject(sp, "id", "<s>");
    cJSON_AddItemToObject(sp, "ids", cJSON_CreateIntArray((const int[]){1}, 1));
    cJSON_AddItemToObject(sp, "tokens", cJSON_CreateStringArray((const char *const[]){"<s>"}, 1));
    return o;
}

static cJSON *decoder(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "Sequence");
    cJSON *seq = cJSON_AddArrayToObject(o, "decoders");
    cJSON_AddItemToArray(seq, replace(SPM_SPACE, " "));
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "type", "ByteFallback");
    cJSON_AddItemToArray(seq, d);
    d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "type", "Fuse");
    cJSON_AddItemToArray(seq, d);
    d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "type", "Strip");
    cJSON_AddStringToObject(d, "content", " ");
    cJSON_AddNumberToObject(d, "start", 1);
    cJSON_AddNumberToObject(d, "stop", 0);
    cJSON_AddItemToArray(seq, d);
    return o;
}

static cJSON *normalizer(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "Sequence");
    cJSON *seq = cJSON_AddArrayToObject(o, "normalizers");
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "Prepend");
    cJSON_AddStringToObject(p, "prepend", SPM_SPACE);
    cJSON_AddItemToArray(seq, p);
    cJSON_AddItemToArray(seq, replace(" ", SPM_SPACE));
    return o;
}

/* The BPE model: pieces[id] are the tokenizer.json spellings. */
static cJSON *bpe_model(const tokenizer *t, char *const *pieces, const merge *m, size_t n_merges)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "BPE");
    cJSON_AddNullToObject(o, "dropout");
    cJSON_AddStringToObject(o, "unk_token", "<unk>");
    cJSON_AddNullToObject(o, "continuing_subword_prefix");
    cJSON_AddNullToObject(o, "end_of_word_suffix");
    cJSON_AddBoolToObject(o, "fuse_unk", 1);
    cJSON_AddBoolToObject(o, "byte_fallback", 1);
    cJSON_AddBoolToObject(o, "ignore_merges", 0);
    cJSON *vocab = cJSON_AddObjectToObject(o, "vocab");
    for (int32_t id = 0; vocab && id < t->vocab_size; id++)
        if (!cJSON_AddNumberToObject(vocab, pieces[id], id))
            return cJSON_Delete(o), NULL;
    /* "left right": no piece holds a space any more, so the split is clear */
    cJSON *merges = cJSON_AddArrayToObject(o, "merges");
    tok_buf b = {0};
    for (size_t i = 0; merges && i < n_merges; i++) {
        b.len = 0;
        const char *l = pieces[m[i].left], *r = pieces[m[i].right];
        if (tok_buf_add(&b, l, strlen(l)) || tok_buf_add(&b, " ", 1) ||
            tok_buf_add(&b, r, strlen(r) + 1)) {
            free(b.p);
            return cJSON_Delete(o), NULL;
        }
        cJSON *s = cJSON_CreateString(b.p);
        if (!s || !cJSON_AddItemToArray(merges, s)) {
            cJSON_Delete(s);
            free(b.p);
            return cJSON_Delete(o), NULL;
        }
    }
    free(b.p);
    if (!vocab || !merges)
        return cJSON_Delete(o), NULL;
    return o;
}

static cJSON *tokenizer_json(const tokenizer *t, char *const *pieces, const merge *m,
                             size_t n_merges)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int32_t id = 0; id < 3; id++)
        cJSON_AddItemToArray(added, special_token(id));
    cJSON_AddItemToObject(root, "normalizer", normalizer());
    cJSON_AddNullToObject(root, "pre_tokenizer");
    cJSON_AddItemToObject(root, "post_processor", post_processor());
    cJSON_AddItemToObject(root, "decoder", decoder());
    cJSON *model = bpe_model(t, pieces, m, n_merges);
    if (!model || !cJSON_AddItemToObject(root, "model", model)) {
        cJSON_Delete(model);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* ===== tokenizer_config.json and special_tokens_map.json ================ */

/* What transformers' LlamaTokenizerFast reads: the special tokens, that BOS
 * is added and EOS not, and legacy (this tokenizer.json is used as is). */
static cJSON *tokenizer_config(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "add_bos_token", 1);
    cJSON_AddBoolToObject(o, "add_eos_token", 0);
    cJSON *dec = cJSON_AddObjectToObject(o, "added_tokens_decoder");
    for (int id = 0; id < 3; id++) {
        char key[4];
        snprintf(key, sizeof key, "%d", id);
        cJSON *tok = special_token(id);
        cJSON_DeleteItemFromObject(tok, "id");
        cJSON_AddItemToObject(dec, key, tok);
    }
    cJSON_AddStringToObject(o, "bos_token", "<s>");
    cJSON_AddBoolToObject(o, "clean_up_tokenization_spaces", 0);
    cJSON_AddStringToObject(o, "eos_token", "</s>");
    cJSON_AddBoolToObject(o, "legacy", 1);
    cJSON_AddNullToObject(o, "pad_token");
    cJSON_AddObjectToObject(o, "sp_model_kwargs");
    cJSON_AddBoolToObject(o, "spaces_between_special_tokens", 0);
    cJSON_AddStringToObject(o, "tokenizer_class", "LlamaTokenizer");
    cJSON_AddStringToObject(o, "unk_token", "<unk>");
    return o;
}

static cJSON *special_tokens_map(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bos_token", "<s>");
    cJSON_AddStringToObject(o, "eos_token", "</s>");
    cJSON_AddStringToObject(o, "unk_token", "<unk>");
    return o;
}

/* ===== Writing ========================================================== */

/* Prints j (consumed) into dir/name. */
static rlaif_status write_json(cJSON *j, const char *dir, const char *name, char *err,
                               size_t errlen)
{
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    size_t pn = strlen(dir) + strlen(name) + 2;
    char *path = malloc(pn);
    if (!text || !path) {
        free(text);
        free(path);
        tok_errf(err, errlen, "tokenizer_save: out of memory writing %s", name);
        return RLAIF_E_NOMEM;
    }
    snprintf(path, pn, "%s/%s", dir, name);
    size_t n = strlen(text);
    text[n] = '\n';   /* cJSON_Print's NUL becomes the final newline */
    rlaif_status st = tok_write_file(path, text, n + 1, err, errlen);
    free(text);
    free(path);
    return st;
}

rlaif_status tok_llama2c_export_hf(const tokenizer *t, const char *dir, char *err, size_t errlen)
{
    const char *why = tok_llama2c_exportable(t);
    if (why) {
        tok_errf(err, errlen, "%s: cannot be written as tokenizer.json: %s", t->path, why);
        return RLAIF_E_UNSUPPORTED;
    }
    rlaif_status st = RLAIF_E_NOMEM;
    size_t n_merges = 0;
    merge *m = collect_merges(t, &n_merges);
    char **pieces = calloc((size_t)t->vocab_size, sizeof *pieces);
    if (!m || !pieces)
        goto done;
    for (int32_t id = 0; id < t->vocab_size; id++)
        if (!(pieces[id] = hf_piece(t, id)))
            goto done;
    cJSON *j = tokenizer_json(t, pieces, m, n_merges);
    if (!j)
        goto done;
    st = write_json(j, dir, "tokenizer.json", err, errlen);
    if (st == RLAIF_OK)
        st = write_json(tokenizer_config(), dir, "tokenizer_config.json", err, errlen);
    if (st == RLAIF_OK)
        st = write_json(special_tokens_map(), dir, "special_tokens_map.json", err, errlen);
done:
    if (st == RLAIF_E_NOMEM)
        tok_errf(err, errlen, "tokenizer_save: out of memory writing tokenizer.json");
    if (pieces)
        for (int32_t id = 0; id < t->vocab_size; id++)
            free(pieces[id]);
    free(pieces);
    free(m);
    return st;
}
