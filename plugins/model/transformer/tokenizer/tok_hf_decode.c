/*
 * tok_hf_decode.c — ids to text through tokenizer.json's decoder chain.
 *
 * As in HF `tokenizers`, the ids become token strings (an added token's
 * content first, then the model vocabulary), each decoder maps the list of
 * strings to a new list, and the final list is concatenated.  Without a
 * decoder the tokens are joined by spaces.  Invalid UTF-8 left at the end
 * (a byte-level sequence cut in the middle of a char) becomes U+FFFD.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

typedef struct dec {
    const tokenizer *t;
    pcre2_match_data *md;
    tok_pieces a, b;            /* current and next token lists */
    tok_buf tmp;
} dec;

/* ByteLevel: each char back to its byte; a token with a char outside the
 * table keeps its own bytes.  Everything fuses into one (lossy) string. */
static int dec_byte_level(dec *d)
{
    tok_buf *out = &d->tmp;
    out->len = 0;
    for (size_t i = 0; i < d->a.n; i++) {
        const char *s = tok_piece(&d->a, i);
        size_t n = d->a.len[i], start = out->len;
        int ok = 1;
        for (size_t j = 0; j < n && ok;) {
            size_t k = tok_char_len(s + j, n - j);
            int b = tok_cp_to_byte(tok_decode_cp(s + j, k));
            if (b < 0) {
                ok = 0;
                break;
            }
            char c = (char)b;
            if (tok_buf_add(out, &c, 1))
                return -1;
            j += k;
        }
        if (!ok) {
            out->len = start;
            if (tok_buf_add(out, s, n))
                return -1;
        }
    }
    size_t len;
    char *fixed = tok_utf8_lossy(out->p ? out->p : "", out->len, &len);
    if (!fixed)
        return -1;
    int rc = tok_pieces_add(&d->b, fixed, len);
    free(fixed);
    return rc;
}

/* Adds the pending bytes of <0xNN> tokens: their text when it is valid
 * UTF-8, else one U+FFFD per byte (HF's ByteFallback). */
static int flush_bytes(dec *d)
{
    if (d->tmp.len == 0)
        return 0;
    const unsigned char *u = (const unsigned char *)d->tmp.p;
    size_t n = d->tmp.len, i = 0;
    while (i < n) {
        size_t k = tok_utf8_valid_len(u + i, n - i);
        if (!k)
            break;
        i += k;
    }
    int rc = 0;
    if (i == n) {
        rc = tok_pieces_add(&d->b, d->tmp.p, n);
    } else {
        for (size_t k = 0; k < n && rc == 0; k++)
            rc = tok_pieces_add(&d->b, "\xEF\xBF\xBD", 3);
    }
    d->tmp.len = 0;
    return rc;
}

static int dec_byte_fallback(dec *d)
{
    d->tmp.len = 0;
    for (size_t i = 0; i < d->a.n; i++) {
        int b = tok_parse_byte_piece(tok_piece(&d->a, i), d->a.len[i]);
        if (b >= 0) {
            char c = (char)b;
            if (tok_buf_add(&d->tmp, &c, 1))
                return -1;
            continue;
        }
        if (flush_bytes(d) || tok_pieces_add(&d->b, tok_piece(&d->a, i), d->a.len[i]))
            return -1;
    }
    return flush_bytes(d);
}

static int dec_fuse(dec *d)
{
    if (tok_pieces_add(&d->b, "", 0))
        return -1;
    for (size_t i = 0; i < d->a.n; i++)
        if (tok_pieces_extend_last(&d->b, tok_piece(&d->a, i), d->a.len[i]))
            return -1;
    return 0;
}

/* Metaspace: the replacement char becomes a space, except in the first
 * token where it is dropped (unless nothing was prepended on encoding). */
static int dec_metaspace(dec *d, const tok_dec *m)
{
    for (size_t i = 0; i < d->a.n; i++) {
        const char *s = tok_piece(&d->a, i);
        size_t n = d->a.len[i];
        int drop = i == 0 && m->prepend != TOK_PREPEND_NEVER;
        if (tok_pieces_add(&d->b, "", 0))
            return -1;
        for (size_t j = 0; j < n;) {
            if (n - j >= m->repl_len && memcmp(s + j, m->repl, m->repl_len) == 0) {
                if (!drop && tok_pieces_extend_last(&d->b, " ", 1))
                    return -1;
                j += m->repl_len;
                continue;
            }
            size_t k = tok_char_len(s + j, n - j);
            if (tok_pieces_extend_last(&d->b, s + j, k))
                return -1;
            j += k;
        }
    }
    return 0;
}

/* Strip: up to `start` copies of the char from the front of each token and
 * up to `stop` from its back. */
static int dec_strip(dec *d, const tok_dec *m)
{
    size_t c = m->strip_len;
    for (size_t i = 0; i < d->a.n; i++) {
        const char *s = tok_piece(&d->a, i);
        size_t lo = 0, hi = d->a.len[i];
        for (int k = 0; k < m->start && hi - lo >= c && memcmp(s + lo, m->strip_char, c) == 0; k++)
            lo += c;
        for (int k = 0; k < m->stop && hi - lo >= c && memcmp(s + hi - c, m->strip_char, c) == 0; k++)
            hi -= c;
        if (tok_pieces_add(&d->b, s + lo, hi - lo))
            return -1;
    }
    return 0;
}

static int dec_replace(dec *d, const tok_dec *m)
{
    for (size_t i = 0; i < d->a.n; i++) {
        const char *s = tok_piece(&d->a, i);
        size_t n = d->a.len[i], at = 0;
        if (tok_pieces_add(&d->b, "", 0))
            return -1;
        while (at <= n) {
            int rc = pcre2_match(m->re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, d->md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc < 0)
                return -1;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(d->md);
            if (ov[1] <= ov[0]) {
                /* Empty match: keep one char and go on. */
                if (ov[0] >= n)
                    break;
                size_t k = tok_char_len(s + ov[0], n - ov[0]);
                if (tok_pieces_extend_last(&d->b, s + at, ov[0] + k - at))
                    return -1;
                at = ov[0] + k;
                continue;
            }
            if (tok_pieces_extend_last(&d->b, s + at, ov[0] - at) ||
                tok_pieces_extend_last(&d->b, m->content, m->content_len))
                return -1;
            at = ov[1];
        }
        if (at < n && tok_pieces_extend_last(&d->b, s + at, n - at))
            return -1;
    }
    return 0;
}

/* BPEDecoder: the end-of-word suffix becomes a space, except in the last
 * token where it just goes. */
static int dec_bpe(dec *d, const tok_dec *m)
{
    for (size_t i = 0; i < d->a.n; i++) {
        const char *s = tok_piece(&d->a, i);
        size_t n = d->a.len[i], j = 0;
        int last = i + 1 == d->a.n;
        if (tok_pieces_add(&d->b, "", 0))
            return -1;
        while (j < n) {
            if (m->content_len && n - j >= m->content_len &&
                memcmp(s + j, m->content, m->content_len) == 0) {
                if (!last && tok_pieces_extend_last(&d->b, " ", 1))
                    return -1;
                j += m->content_len;
                continue;
            }
            if (tok_pieces_extend_last(&d->b, s + j, 1))
                return -1;
            j++;
        }
    }
    return 0;
}

static int run_decoders(dec *d)
{
    const tokenizer *t = d->t;
    for (size_t k = 0; k < t->n_dec; k++) {
        const tok_dec *m = &t->dec[k];
        int rc = 0;
        tok_pieces_clear(&d->b);
        switch (m->kind) {
        case TOK_DEC_BYTELEVEL: rc = dec_byte_level(d); break;
        case TOK_DEC_BYTEFALLBACK: rc = dec_byte_fallback(d); break;
        case TOK_DEC_FUSE: rc = dec_fuse(d); break;
        case TOK_DEC_METASPACE: rc = dec_metaspace(d, m); break;
        case TOK_DEC_STRIP: rc = dec_strip(d, m); break;
        case TOK_DEC_REPLACE: rc = dec_replace(d, m); break;
        case TOK_DEC_BPE: rc = dec_bpe(d, m); break;
        }
        if (rc)
            return -1;
        tok_pieces tmp = d->a;
        d->a = d->b;
        d->b = tmp;
    }
    return 0;
}

/* The ids' strings into d->a. */
static int collect_tokens(dec *d, const int32_t *ids, size_t n, int skip_special)
{
    const tokenizer *t = d->t;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        int special = t->added_str[id] ? t->skip[id] : t->special[id];
        if (skip_special && special)
            continue;
        const char *s = t->added_str[id] ? t->added_str[id] : t->str[id];
        size_t len = t->added_str[id] ? strlen(s) : t->len[id];
        if (tok_pieces_add(&d->a, s, len))
            return -1;
    }
    return 0;
}

rlaif_status tok_hf_decode(const tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                           tok_buf *out, char *err, size_t errlen)
{
    dec d = {.t = t};
    d.md = pcre2_match_data_create(4, NULL);
    int rc = !d.md || collect_tokens(&d, ids, n, skip_special);
    if (!rc && t->has_decoder)
        rc = run_decoders(&d);
    for (size_t i = 0; !rc && i < d.a.n; i++) {
        if (!t->has_decoder && i > 0)
            rc = tok_buf_add(&d.tmp, " ", 1);
        if (!rc && !t->has_decoder)
            rc = tok_buf_add(&d.tmp, tok_piece(&d.a, i), d.a.len[i]);
    }
    if (!rc && t->has_decoder) {
        d.tmp.len = 0;
        for (size_t i = 0; !rc && i < d.a.n; i++)
            rc = tok_buf_add(&d.tmp, tok_piece(&d.a, i), d.a.len[i]);
    }
    if (!rc) {
        size_t len;
        char *fixed = tok_utf8_lossy(d.tmp.p ? d.tmp.p : "", d.tmp.len, &len);
        rc = !fixed || tok_buf_add(out, fixed, len);
        free(fixed);
    }
    if (d.md)
        pcre2_match_data_free(d.md);
    tok_pieces_free(&d.a);
    tok_pieces_free(&d.b);
    free(d.tmp.p);
    if (rc) {
        tok_errf(err, errlen, "%s: decoding %zu ids failed (out of memory)", t->path, n);
        return RLAIF_E_NOMEM;
    }
    return RLAIF_OK;
}
