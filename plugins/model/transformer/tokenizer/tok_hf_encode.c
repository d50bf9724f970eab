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
#include "tok_nfc.h"

/* Scratch for one encode call (the tokenizer itself stays read-only). */
typedef struct enc {
    const tokenizer *t;
    pcre2_match_data *md;
    tok_pieces a, b;            /* current and next piece lists */
    tok_buf tmp;                /* pre-tokenizer scratch */
    tok_buf norm, n1, n2;       /* a normalized segment and normalizer scratch */
    tok_ids word;               /* symbols of one BPE word */
    tok_bpe_work bpe;
    tok_ids *out;
} enc;

static size_t char_len(const char *s, size_t n)
{
    size_t k = tok_utf8_valid_len((const unsigned char *)s, n);
    return k ? k : 1;
}

/* Unicode White_Space (Rust's char::is_whitespace), for lstrip/rstrip. */
static int is_white_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* The code point of the (valid) UTF-8 char at s, k bytes long. */
static uint32_t decode_cp(const char *s, size_t k)
{
    const unsigned char *u = (const unsigned char *)s;
    if (k == 1)
        return u[0];
    uint32_t cp = u[0] & (0x7Fu >> k);
    for (size_t i = 1; i < k; i++)
        cp = (cp << 6) | (u[i] & 0x3Fu);
    return cp;
}

/* Start of the char that ends just before s[i] (the text is valid UTF-8). */
static size_t prev_char(const char *s, size_t i)
{
    size_t k = i - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}


/* ===== Regex matches ==================================================== */

/* One part of a piece: a match of the pattern or the gap between two. */
typedef struct part {
    size_t start, end;
    int is_match;
} part;

typedef struct parts {
    part *p;
    size_t n, cap;
} parts;

static int parts_add(parts *ps, size_t start, size_t end, int is_match)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        part *p = realloc(ps->p, cap * sizeof *p);
        if (!p)
            return -1;
        ps->p = p;
        ps->cap = cap;
    }
    ps->p[ps->n++] = (part){start, end, is_match};
    return 0;
}

/* Cuts s[0..n) into matches of re and the gaps between them (empty
 * matches are skipped, as they would only make empty pieces). */
static int find_parts(pcre2_match_data *md, const pcre2_code *re, const char *s, size_t n,
                      int invert, parts *ps)
{
    size_t at = 0, prev = 0;
    ps->n = 0;
    while (at <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return -1;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) {
            /* Empty match: step over one char and try again. */
            if (ms >= n)
                break;
            at = ms + char_len(s + ms, n - ms);
            continue;
        }
        if (ms > prev && parts_add(ps, prev, ms, invert))
            return -1;
        if (parts_add(ps, ms, me, !invert))
            return -1;
        prev = at = me;
    }
    if (prev < n && parts_add(ps, prev, n, invert))
        return -1;
    return 0;
}

/* The head (see tok_pieces) of a sub-piece starting at `start` of a piece
 * whose head is `head`. */
static size_t sub_head(size_t head, size_t start)
{
    return head > start ? head - start : 0;
}

/* Emits the pieces of s that the split behaviour keeps, following HF's
 * SplitDelimiterBehavior (a "match" here is a delimiter). */
static int emit_parts(tok_pieces *out, const char *s, size_t head, const parts *ps,
                      tok_split_behavior how)
{
    size_t first = out->n;
    int prev_match = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const part *p = &ps->p[i];
        const char *ptr = s + p->start;
        size_t len = p->end - p->start;
        int rc = 0;
        switch (how) {
        case TOK_SPLIT_REMOVED:
            if (!p->is_match)
                rc = tok_pieces_add_head(out, ptr, len, sub_head(head, p->start));
            break;
        case TOK_SPLIT_ISOLATED:
            rc = tok_pieces_add_head(out, ptr, len, sub_head(head, p->start));
            break;
        case TOK_SPLIT_MERGED_PREV:
            if (p->is_match && !prev_match && out->n > first)
                rc = tok_pieces_extend_last(out, ptr, len);
            else
                rc = tok_pieces_add_head(out, ptr, len, sub_head(head, p->start));
            break;
        case TOK_SPLIT_MERGED_NEXT: {
            /* A delimiter joins the part after it unless that part is a
             * delimiter too. */
            const part *next = i + 1 < ps->n ? &ps->p[i + 1] : NULL;
            if (p->is_match && next && !next->is_match) {
                rc = tok_pieces_add_head(out, ptr, next->end - p->start, sub_head(head, p->start));
                i++;
                prev_match = 0;
                if (rc)
                    return -1;
                continue;
            }
            rc = tok_pieces_add_head(out, ptr, len, sub_head(head, p->start));
            break;
        }
        case TOK_SPLIT_CONTIGUOUS:
            if (p->is_match && prev_match && out->n > first)
                rc = tok_pieces_extend_last(out, ptr, len);
            else
                rc = tok_pieces_add_head(out, ptr, len, sub_head(head, p->start));
            break;
        }
        if (rc)
            return -1;
        prev_match = p->is_match;
    }
    return 0;
}

/* ===== Normalizers ====================================================== */

/* Appends s with every match of re replaced by content to out.  A match
 * at the very start passes the head on to the whole replacement. */
static int replace_all(pcre2_match_data *md, const pcre2_code *re, const char *content, size_t clen,
                       const char *s, size_t n, tok_buf *out, size_t *head)
{
    parts ps = {0};
    int rc = find_parts(md, re, s, n, 0, &ps);
    if (rc == 0 && *head && ps.n > 0 && ps.p[0].is_match)
        *head = clen;
    for (size_t i = 0; rc == 0 && i < ps.n; i++) {
        const part *p = &ps.p[i];
        rc = p->is_match ? tok_buf_add(out, content, clen)
                         : tok_buf_add(out, s + p->start, p->end - p->start);
    }
    free(ps.p);
    return rc;
}

/* Runs the normalizers over s[0..n), appending the result to out; cur and
 * next are scratch buffers. */
static int normalize_into(const tokenizer *t, pcre2_match_data *md, const char *s, size_t n,
                          tok_buf *cur, tok_buf *next, tok_buf *out, size_t *head)
{
    size_t h = head ? *head : 0;
    cur->len = 0;
    if (tok_buf_add(cur, s, n))
        return -1;
    for (size_t k = 0; k < t->n_norm; k++) {
        const tok_norm *nm = &t->norm[k];
        const char *c = cur->p;
        size_t len = cur->len;
        next->len = 0;
        int rc = 0;
        switch (nm->kind) {
        case TOK_NORM_NFC:
        case TOK_NORM_NFD:
            rc = tok_normalize_nf(c, len, nm->kind == TOK_NORM_NFC, next);
            /* The first char (composed or not) still stems from the first. */
            if (h && next->len)
                h = char_len(next->p, next->len);
            break;
        case TOK_NORM_REPLACE:
            rc = replace_all(md, nm->re, nm->content, nm->content_len, c, len, next, &h);
            break;
        case TOK_NORM_PREPEND:
            rc = len == 0 ? 0
                          : tok_buf_add(next, nm->content, nm->content_len) ||
                                tok_buf_add(next, c, len);
            if (h && len)
                h += nm->content_len;
            break;
        case TOK_NORM_STRIP: {
            size_t lo = 0, hi = len;
            while (nm->left && lo < hi) {
                size_t q = char_len(c + lo, hi - lo);
                if (!is_white_space(decode_cp(c + lo, q)))
                    break;
                lo += q;
            }
            while (nm->right && hi > lo) {
                size_t p = prev_char(c, hi);
                if (p < lo || !is_white_space(decode_cp(c + p, hi - p)))
                    break;
                hi = p;
            }
            rc = tok_buf_add(next, c + lo, hi - lo);
            if (lo)
                h = 0;
            break;
        }
        }
        if (rc)
            return -1;
        tok_buf swap = *cur;
        *cur = *next;
        *next = swap;
    }
    if (head)
        *head = h;
    return tok_buf_add(out, cur->p ? cur->p : "", cur->len);
}

int tok_hf_normalize(const tokenizer *t, const char *s, size_t n, tok_buf *out)
{
    tok_buf cur = {0}, next = {0};
    pcre2_match_data *md = pcre2_match_data_create(8, NULL);
    int rc = !md || normalize_into(t, md, s, n, &cur, &next, out, NULL);
    if (md)
        pcre2_match_data_free(md);
    free(cur.p);
    free(next.p);
    return rc;
}

/* ===== Pre-tokenizers =================================================== */

/* GPT-2 byte-level: every byte becomes its printable stand-in char (the
 * head grows with the bytes it covers). */
static int add_byte_level(tok_pieces *out, const char *s, size_t n, size_t head)
{
    char buf[512];
    size_t mapped_head = 0;
    for (size_t i = 0; i < head && i < n; i++)
        mapped_head += tok_byte_to_cp((unsigned char)s[i]) < 0x80 ? 1 : 2;
    if (tok_pieces_add_head(out, "", 0, 0))
        return -1;
    out->head[out->n - 1] = mapped_head;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += tok_utf8_put(tok_byte_to_cp((unsigned char)s[i]), buf + k);
        if (k > sizeof buf - 4 || i + 1 == n) {
            if (tok_pieces_extend_last(out, buf, k))
                return -1;
            k = 0;
        }
    }
    return 0;
}

static int pre_byte_level(enc *e, const tok_pre *p, const char *s, size_t n, size_t head,
                          parts *ps)
{
    tok_buf *tmp = &e->tmp;
    tmp->len = 0;
    if (p->add_prefix_space && (n == 0 || s[0] != ' ')) {
        if (tok_buf_add(tmp, " ", 1))
            return -1;
        if (head)
            head++;
    }
    if (tok_buf_add(tmp, s, n))
        return -1;
    if (!p->re)
        return add_byte_level(&e->b, tmp->p, tmp->len, head);
    if (find_parts(e->md, p->re, tmp->p, tmp->len, 0, ps))
        return -1;
    for (size_t i = 0; i < ps->n; i++)
        if (add_byte_level(&e->b, tmp->p + ps->p[i].start, ps->p[i].end - ps->p[i].start,
                           sub_head(head, ps->p[i].start)))
            return -1;
    return 0;
}

/* Metaspace: spaces become the replacement char, which may be prepended
 * ("first": only to a piece that starts where the input starts, as HF
 * judges by original offsets), and each occurrence of it may start a new
 * piece. */
static int pre_metaspace(enc *e, const tok_pre *p, const char *s, size_t n, size_t head)
{
    tok_buf *tmp = &e->tmp;
    tmp->len = 0;
    /* "Starts with the replacement" is judged after spaces are replaced. */
    int starts = (n > 0 && s[0] == ' ') || (n >= p->repl_len && memcmp(s, p->repl, p->repl_len) == 0);
    int prepend = p->prepend == TOK_PREPEND_ALWAYS || (p->prepend == TOK_PREPEND_FIRST && head);
    size_t h = 0;
    for (size_t i = 0; i < head && i < n; i++)
        h += s[i] == ' ' ? p->repl_len : 1;
    if (prepend && !starts) {
        if (tok_buf_add(tmp, p->repl, p->repl_len))
            return -1;
        if (h)
            h += p->repl_len;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ' ? tok_buf_add(tmp, p->repl, p->repl_len) : tok_buf_add(tmp, s + i, 1))
            return -1;
    if (!p->split)
        return tok_pieces_add_head(&e->b, tmp->p, tmp->len, h);
    size_t start = 0;
    for (size_t i = 1; i + p->repl_len <= tmp->len; i++) {
        if (memcmp(tmp->p + i, p->repl, p->repl_len) == 0) {
            if (tok_pieces_add_head(&e->b, tmp->p + start, i - start, sub_head(h, start)))
                return -1;
            start = i;
        }
    }
    return tok_pieces_add_head(&e->b, tmp->p + start, tmp->len - start, sub_head(h, start));
}

/* Drops the empty pieces of a list (HF never keeps them). */
static void drop_empty(tok_pieces *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->len[i] == 0)
            continue;
        p->off[k] = p->off[i];
        p->len[k] = p->len[i];
        p->head[k] = p->head[i];
        k++;
    }
    p->n = k;
}

/* Runs the pre-tokenizers over e->a, leaving the pieces in e->a. */
static int pre_tokenize(enc *e)
{
    const tokenizer *t = e->t;
    parts ps = {0};
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < t->n_pre; k++) {
        const tok_pre *p = &t->pre[k];
        tok_pieces_clear(&e->b);
        for (size_t i = 0; rc == 0 && i < e->a.n; i++) {
            const char *s = tok_piece(&e->a, i);
            size_t n = e->a.len[i];
            switch (p->kind) {
            case TOK_PRE_BYTELEVEL:
                rc = pre_byte_level(e, p, s, n, e->a.head[i], &ps);
                break;
            case TOK_PRE_SPLIT:
                rc = find_parts(e->md, p->re, s, n, p->invert, &ps) ||
                     emit_parts(&e->b, s, e->a.head[i], &ps, p->behavior);
                break;
            case TOK_PRE_METASPACE:
                rc = pre_metaspace(e, p, s, n, e->a.head[i]);
                break;
            }
        }
        drop_empty(&e->b);
        tok_pieces tmp = e->a;
        e->a = e->b;
        e->b = tmp;
    }
    free(ps.p);
    return rc;
}

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
static int char_symbols(enc *e, const char *c, size_t n, int *pending_unk)
{
    const tokenizer *t = e->t;
    int32_t id = tok_strmap_get(&t->vocab, c, n);
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
        size_t k = char_len(s + i, n - i);
        if (char_symbols(e, s + i, k, &pending_unk))
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
    tok_pieces_clear(&e->a);
    if (n == 0)
        return 0;
    if (tok_pieces_add_head(&e->a, s, n, head) || pre_tokenize(e))
        return -1;
    for (size_t i = 0; i < e->a.n; i++)
        if (bpe_word(e, tok_piece(&e->a, i), e->a.len[i]))
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
    size_t k = char_len(s + i, n - i);
    return pcre2_match(e->t->word_re, (PCRE2_SPTR)s + i, k, 0, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK,
                       e->md, NULL) > 0;
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
        if (a->single_word && ((i > 0 && word_char_at(e, s, n, prev_char(s, i))) ||
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
        head = char_len(s, n);
    e->norm.len = 0;
    if (normalize_into(e->t, e->md, s, n, &e->n1, &e->n2, &e->norm, &head))
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
            size_t p = prev_char(s, end);
            if (!is_white_space(decode_cp(s + p, end - p)))
                break;
            end = p;
        }
        if (encode_stretch(e, s + seg, end - seg, normalized, sub_head(head, seg)) ||
            tok_ids_push(e->out, a->id))
            return -1;
        i += a->match_len;
        while (a->rstrip && i < n) {
            size_t k = char_len(s + i, n - i);
            if (!is_white_space(decode_cp(s + i, k)))
                break;
            i += k;
        }
        seg = i;
    }
    return encode_stretch(e, s + seg, n - seg, normalized, sub_head(head, seg));
}

rlaif_status tok_hf_encode(const tokenizer *t, const char *text, size_t len, int add_bos,
                           tok_ids *out, char *err, size_t errlen)
{
    size_t n;
    char *s = tok_utf8_lossy(text, len, &n);
    enc e = {.t = t, .out = out};
    e.md = pcre2_match_data_create(8, NULL);
    int rc = !s || !e.md;
    for (size_t i = 0; !rc && add_bos && i < t->n_prefix; i++)
        rc = tok_ids_push(out, t->prefix_ids[i]);
    if (!rc)
        rc = split_added(&e, s, n, 0, n ? 1 : 0);   /* raw text: head set by the stretch */
    for (size_t i = 0; !rc && add_bos && i < t->n_suffix; i++)
        rc = tok_ids_push(out, t->suffix_ids[i]);
    free(s);
    if (e.md)
        pcre2_match_data_free(e.md);
    tok_pieces_free(&e.a);
    tok_pieces_free(&e.b);
    free(e.tmp.p);
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
