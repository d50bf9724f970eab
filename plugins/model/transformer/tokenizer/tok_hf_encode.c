/*
 * tok_hf_encode.c — text to ids the way Hugging Face `tokenizers` does it:
 *
 *   1. added tokens that are not "normalized" are found in the raw text
 *      (leftmost, longest first) and cut it into segments; each token
 *      becomes its id directly;
 *   2. every other non-empty segment is normalized and cut again at the
 *      "normalized" added tokens (matched by their normalized form); what
 *      is left is pre-tokenized into pieces (ByteLevel, Split, Metaspace ...
 *      in order, empty pieces dropped after each step);
 *   3. each piece is a BPE word: its chars (or byte-fallback tokens, or
 *      unk) merged by rank;
 *   4. the post-processor's special tokens wrap the result when asked.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* Scratch for one encode call (the tokenizer itself stays read-only). */
typedef struct enc {
    const tokenizer *t;
    tok_pretok pt;              /* pre-tokenizer lists and match data */
    tok_buf norm, n1, n2;       /* a normalized segment and normalizer scratch */
    tok_ids word;               /* symbols of one BPE word */
    tok_buf sym;                /* one char with its subword prefix/suffix */
    tok_bpe_work bpe;
    tok_ids *out;
} enc;

/* ===== The BPE model ==================================================== */

static int hf_pair(const void *ctx, int32_t a, int32_t b, double *prio, int32_t *merged)
{
    const tokenizer *t = ctx;
    int32_t rank;
    if (!tok_pairmap_get(&t->merges, a, b, &rank, merged))
        return 0;
    *prio = rank;
    return 1;
}

/* The initial symbols of one char: its token, its byte tokens, or unk.
 * With fuse_unk, a run of unknown chars is one unk that stays pending
 * until the next char of the vocabulary (or the word's end): byte-fallback
 * tokens met meanwhile go out first and do not end the run, exactly as HF
 * orders them. */
static int char_symbols(enc *e, const char *c, size_t n, int first, int last, int *pending_unk)
{
    const tokenizer *t = e->t;
    int32_t id;
    if ((t->cont_prefix && !first) || (t->eow_suffix && last)) {
        /* Chars after the first carry the continuing-subword prefix, the
         * last one the end-of-word suffix. */
        e->sym.len = 0;
        if ((t->cont_prefix && !first && tok_buf_add(&e->sym, t->cont_prefix, t->cont_len)) ||
            tok_buf_add(&e->sym, c, n) ||
            (t->eow_suffix && last && tok_buf_add(&e->sym, t->eow_suffix, t->eow_len)))
            return -1;
        id = tok_strmap_get(&t->vocab, e->sym.p, e->sym.len);
        c = e->sym.p;   /* byte fallback, too, sees the affixed text (as HF) */
        n = e->sym.len;
    } else {
        id = tok_strmap_get(&t->vocab, c, n);
    }
    if (id >= 0) {
        if (*pending_unk && tok_ids_push(&e->word, t->unk))
            return -1;
        *pending_unk = 0;
        return tok_ids_push(&e->word, id);
    }
    if (t->byte_fallback) {
        size_t k = 0;
        while (k < n && t->byte_id[(unsigned char)c[k]] >= 0)
            k++;
        if (k == n) {
            for (k = 0; k < n; k++)
                if (tok_ids_push(&e->word, t->byte_id[(unsigned char)c[k]]))
                    return -1;
            return 0;
        }
    }
    if (t->unk < 0)
        return 0;   /* HF drops a char it cannot represent */
    if (t->fuse_unk) {
        *pending_unk = 1;
        return 0;
    }
    return tok_ids_push(&e->word, t->unk);
}

static int bpe_word(enc *e, const char *s, size_t n)
{
    const tokenizer *t = e->t;
    if (t->ignore_merges) {
        int32_t id = tok_strmap_get(&t->vocab, s, n);
        if (id >= 0)
            return tok_ids_push(e->out, id);
    }
    e->word.len = 0;
    int pending_unk = 0;
    for (size_t i = 0; i < n;) {
        size_t k = tok_char_len(s + i, n - i);
        if (char_symbols(e, s + i, k, i == 0, i + k == n, &pending_unk))
            return -1;
        i += k;
    }
    if (pending_unk && tok_ids_push(&e->word, t->unk))
        return -1;
    size_t count = e->word.len;
    if (tok_bpe_merge(&e->bpe, e->word.p, &count, hf_pair, t))
        return -1;
    for (size_t i = 0; i < count; i++)
        if (tok_ids_push(e->out, e->word.p[i]))
            return -1;
    return 0;
}

/* Pre-tokenize and BPE one stretch of normalized text. */
static int encode_normalized(enc *e, const char *s, size_t n, size_t head)
{
    tok_pieces_clear(&e->pt.a);
    if (n == 0)
        return 0;
    if (tok_pieces_add_head(&e->pt.a, s, n, head) || tok_hf_pre_tokenize(e->t, &e->pt))
        return -1;
    for (size_t i = 0; i < e->pt.a.n; i++)
        if (bpe_word(e, tok_piece(&e->pt.a, i), e->pt.a.len[i]))
            return -1;
    return 0;
}

/* ===== Added tokens ===================================================== */

/* Whether the char at s[i] is a word char (Unicode \w: letters and other
 * alphabetic chars, marks, decimal digits, connector punctuation, joiners;
 * as HF's single_word check reads it). */
static int word_char_at(enc *e, const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    size_t k = tok_char_len(s + i, n - i);
    return pcre2_match(e->t->word_re, (PCRE2_SPTR)s + i, k, 0, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK,
                       e->pt.md, NULL) > 0;
}

/* The longest added token of this phase (raw text: the tokens that are
 * not normalized; normalized text: the others) matching at s[i], or NULL. */
static const tok_added *added_at(enc *e, const char *s, size_t n, size_t i, int normalized)
{
    const tokenizer *t = e->t;
    for (size_t k = 0; k < t->n_added; k++) {
        const tok_added *a = &t->added[k];
        if (a->normalized != normalized || a->match_len > n - i ||
            memcmp(s + i, a->match, a->match_len) != 0)
            continue;
        if (a->single_word && ((i > 0 && word_char_at(e, s, n, tok_prev_char(s, i))) ||
                               (i + a->match_len < n && word_char_at(e, s, n, i + a->match_len))))
            continue;
        return a;
    }
    return NULL;
}

static int split_added(enc *e, const char *s, size_t n, int normalized, size_t head);

/* A stretch between added tokens: raw text is normalized and searched
 * again for the normalized added tokens; normalized text is encoded.
 * `head` says how many bytes at its start stem from the input's first
 * char (0 unless the stretch starts the input). */
static int encode_stretch(enc *e, const char *s, size_t n, int normalized, size_t head)
{
    if (n == 0)
        return 0;
    if (normalized)
        return encode_normalized(e, s, n, head);
    if (head)
        head = tok_char_len(s, n);
    e->norm.len = 0;
    if (tok_hf_normalize_into(e->t, e->pt.md, s, n, &e->n1, &e->n2, &e->norm, &head))
        return -1;
    return split_added(e, e->norm.p, e->norm.len, 1, head);
}

/* Cuts s at the added tokens of one phase (leftmost, longest first),
 * honouring lstrip/rstrip, and encodes the stretches between them. */
static int split_added(enc *e, const char *s, size_t n, int normalized, size_t head)
{
    const tokenizer *t = e->t;
    size_t seg = 0, i = 0;
    while (i < n) {
        const tok_added *a =
            t->added_first[normalized][(unsigned char)s[i]] ? added_at(e, s, n, i, normalized) : NULL;
        if (!a) {
            i++;
            continue;
        }
        size_t end = i;
        while (a->lstrip && end > seg) {
            size_t p = tok_prev_char(s, end);
            if (!tok_is_white_space(tok_decode_cp(s + p, end - p)))
                break;
            end = p;
        }
        if (encode_stretch(e, s + seg, end - seg, normalized, tok_sub_head(head, seg)) ||
            tok_ids_push(e->out, a->id))
            return -1;
        i += a->match_len;
        while (a->rstrip && i < n) {
            size_t k = tok_char_len(s + i, n - i);
            if (!tok_is_white_space(tok_decode_cp(s + i, k)))
                break;
            i += k;
        }
        seg = i;
    }
    return encode_stretch(e, s + seg, n - seg, normalized, tok_sub_head(head, seg));
}

rlaif_status tok_hf_encode(const tokenizer *t, const char *text, size_t len, int add_bos,
                           tok_ids *out, char *err, size_t errlen)
{
    size_t n;
    char *s = tok_utf8_lossy(text, len, &n);
    enc e = {.t = t, .out = out};
    e.pt.md = pcre2_match_data_create(8, NULL);
    int rc = !s || !e.pt.md;
    for (size_t i = 0; !rc && add_bos && i < t->n_prefix; i++)
        rc = tok_ids_push(out, t->prefix_ids[i]);
    if (!rc)
        rc = split_added(&e, s, n, 0, n ? 1 : 0);   /* raw text: head set by the stretch */
    for (size_t i = 0; !rc && add_bos && i < t->n_suffix; i++)
        rc = tok_ids_push(out, t->suffix_ids[i]);
    free(s);
    tok_pretok_free(&e.pt);
    free(e.sym.p);
    free(e.norm.p);
    free(e.n1.p);
    free(e.n2.p);
    free(e.word.p);
    tok_bpe_work_free(&e.bpe);
    if (rc) {
        tok_errf(err, errlen, "%s: encoding failed (out of memory or a regex match error) on a "
                 "text of %zu bytes", t->path, len);
        return RLAIF_E_NOMEM;
    }
    return RLAIF_OK;
}
