/*
 * tok_util.c — errors, files, UTF-8 and the GPT-2 byte table: the small
 * things every other tokenizer file leans on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* ===== Errors and files ================================================= */

void tok_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

char *tok_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *tok_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tok_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    tok_buf b = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (tok_buf_add(&b, chunk, got)) {
            fclose(f);
            free(b.p);
            tok_errf(err, errlen, "%s: out of memory reading the file", path);
            return NULL;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || tok_buf_add(&b, "", 1)) {
        free(b.p);
        tok_errf(err, errlen, "%s: read error", path);
        return NULL;
    }
    *len = b.len - 1;
    return b.p;
}

/* Writes to "dst.tmp" and renames it over dst, so a checkpoint never holds
 * half a tokenizer file. */
rlaif_status tok_write_file(const char *dst, const void *data, size_t n, char *err, size_t errlen)
{
    size_t tn = strlen(dst) + 5;
    char *tmp = malloc(tn);
    if (!tmp) {
        tok_errf(err, errlen, "%s: out of memory", dst);
        return RLAIF_E_NOMEM;
    }
    snprintf(tmp, tn, "%s.tmp", dst);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        tok_errf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return RLAIF_E_IO;
    }
    size_t put = fwrite(data, 1, n, f);
    int bad = (put != n) | (fclose(f) != 0);
    if (bad || rename(tmp, dst) != 0) {
        tok_errf(err, errlen, "%s: %s", dst, bad ? "write error" : strerror(errno));
        remove(tmp);
        free(tmp);
        return RLAIF_E_IO;
    }
    free(tmp);
    return RLAIF_OK;
}

rlaif_status tok_copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
    size_t n;
    char *data = tok_read_file(src, &n, err, errlen);
    if (!data)
        return RLAIF_E_IO;
    rlaif_status st = tok_write_file(dst, data, n, err, errlen);
    free(data);
    return st;
}

/* ===== Growable buffers ================================================= */

int tok_buf_reserve(tok_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int tok_buf_add(tok_buf *b, const void *s, size_t n)
{
    if (tok_buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

int tok_ids_push(tok_ids *v, int32_t id)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = realloc(v->p, cap * sizeof *p);
        if (!p)
            return -1;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->len++] = id;
    return 0;
}

/* ===== UTF-8 ============================================================ */

/* The allowed range of the second byte after lead byte c (RFC 3629 table). */
static void second_range(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c == 0xE0)
        *lo = 0xA0;
    else if (c == 0xED)
        *hi = 0x9F;
    else if (c == 0xF0)
        *lo = 0x90;
    else if (c == 0xF4)
        *hi = 0x8F;
}

static size_t lead_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

/* How many bytes at s form the longest valid prefix of a sequence (the
 * whole sequence when it is complete). */
static size_t valid_prefix(const unsigned char *s, size_t n, size_t *need)
{
    size_t want = lead_len(s[0]);
    *need = want;
    if (want <= 1)
        return want;
    unsigned char lo, hi;
    second_range(s[0], &lo, &hi);
    size_t k = 1;
    while (k < want && k < n) {
        unsigned char c = s[k];
        if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF))
            break;
        k++;
    }
    return k;
}

size_t tok_utf8_valid_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    size_t need;
    size_t k = valid_prefix(s, n, &need);
    return (need != 0 && k == need) ? k : 0;
}

char *tok_utf8_lossy(const char *s, size_t n, size_t *out_len)
{
    tok_buf b = {0};
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    if (tok_buf_reserve(&b, n + 1))
        return NULL;
    while (i < n) {
        size_t need;
        size_t k = valid_prefix(u + i, n - i, &need);
        if (need != 0 && k == need) {
            if (tok_buf_add(&b, u + i, k))
                goto fail;
            i += k;
        } else {
            /* One U+FFFD for the maximal invalid prefix (at least a byte). */
            if (tok_buf_add(&b, "\xEF\xBF\xBD", 3))
                goto fail;
            i += k ? k : 1;
        }
    }
    if (tok_buf_add(&b, "", 1))
        goto fail;
    *out_len = b.len - 1;
    return b.p;
fail:
    free(b.p);
    return NULL;
}

size_t tok_utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ===== Chars of valid UTF-8 text ======================================= */

/* Length of the char at s (1 for a stray byte). */
size_t tok_char_len(const char *s, size_t n)
{
    size_t k = tok_utf8_valid_len((const unsigned char *)s, n);
    return k ? k : 1;
}

/* Unicode White_Space (Rust's char::is_whitespace), for lstrip/rstrip. */
int tok_is_white_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* The code point of the (valid) UTF-8 char at s, k bytes long. */
uint32_t tok_decode_cp(const char *s, size_t k)
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
size_t tok_prev_char(const char *s, size_t i)
{
    size_t k = i - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}


/* ===== GPT-2 byte table ================================================= */

/* Printable Latin-1 bytes stand for themselves; the 68 others (0x00-0x20,
 * 0x7F-0xA0, 0xAD) are shown as U+0100.. in byte order, so every byte
 * becomes a visible char and BPE never sees whitespace or controls.
 * Computed, not tabled, so there is nothing to initialise across threads. */
uint32_t tok_byte_to_cp(unsigned char b)
{
    if (b <= 0x20)
        return 256u + b;
    if (b >= 0x7F && b <= 0xA0)
        return 256u + 33u + (uint32_t)(b - 0x7F);
    if (b == 0xAD)
        return 256u + 67u;
    return b;
}

int tok_cp_to_byte(uint32_t cp)
{
    if (cp < 256)
        return tok_byte_to_cp((unsigned char)cp) == cp ? (int)cp : -1;
    if (cp < 256 + 33)
        return (int)(cp - 256);
    if (cp < 256 + 67)
        return (int)(cp - 256 - 33 + 0x7F);
    if (cp == 256 + 67)
        return 0xAD;
    return -1;
}
