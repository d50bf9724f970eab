/*
 * st_write.c — safetensors writer (see st_write.h).
 */
#include "st_write.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

uint16_t stw_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float stw_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- a growable text buffer for the header --------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal. */
static void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_put(b, s, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* ---- the writer -------------------------------------------------------- */

static size_t numel_of(const stw_tensor *t)
{
    size_t n = 1;
    for (size_t d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

static size_t elem_size(stw_dtype d) { return d == STW_BF16 ? 2 : 4; }

static int validate(const char *path, const stw_tensor *t, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (!t[i].name || !t[i].name[0] || strcmp(t[i].name, "__metadata__") == 0) {
            set_err(err, errlen, "%s: tensor %zu has an empty or reserved name", path, i);
            return -1;
        }
        if (t[i].ndim > STW_MAX_DIMS || (t[i].dtype != STW_F32 && t[i].dtype != STW_BF16)) {
            set_err(err, errlen, "%s: tensor '%s': bad rank %zu or dtype", path, t[i].name,
                    t[i].ndim);
            return -1;
        }
        if (!t[i].data && !t[i].fill && numel_of(&t[i]) > 0) {
            set_err(err, errlen, "%s: tensor '%s' has no data", path, t[i].name);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0) {
                set_err(err, errlen, "%s: tensor name '%s' appears twice", path, t[i].name);
                return -1;
            }
    }
    return 0;
}

/* File order: F32 first, then BF16, stable within each. */
static void file_order(size_t *order, const stw_tensor *t, size_t n)
{
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++)
            if ((t[i].dtype == STW_BF16) == (pass == 1)) order[k++] = i;
}

static void build_header(sbuf *h, const stw_tensor *t, const size_t *order, size_t n)
{
    size_t off = 0;
    static const char meta[] = "{\"__metadata__\":{\"format\":\"pt\"}";
    sb_put(h, meta, sizeof meta - 1);
    for (size_t k = 0; k < n; k++) {
        const stw_tensor *x = &t[order[k]];
        size_t bytes = numel_of(x) * elem_size(x->dtype);
        sb_put(h, ",", 1);
        sb_json_str(h, x->name);
        sb_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", x->dtype == STW_BF16 ? "BF16" : "F32");
        for (size_t d = 0; d < x->ndim; d++) sb_printf(h, d ? ",%zu" : "%zu", x->shape[d]);
        sb_printf(h, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        off += bytes;
    }
    sb_put(h, "}", 1);
    while (h->len % 8) sb_put(h, " ", 1);
}

/* A tensor made by its fill callback, a piece at a time. */
static int write_filled(atomic_file *af, const stw_tensor *x, char *err, size_t errlen)
{
    enum { PIECE = 1 << 16 };
    size_t n = numel_of(x);
    float *buf = malloc(PIECE * sizeof(float));
    uint16_t *h = x->dtype == STW_BF16 ? malloc(PIECE * sizeof(uint16_t)) : NULL;
    if (!buf || (x->dtype == STW_BF16 && !h)) {
        free(buf), free(h);
        set_err(err, errlen, "tensor '%s': out of memory", x->name);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i += PIECE) {
        size_t m = n - i < PIECE ? n - i : PIECE;
        x->fill(x->fill_ctx, buf, i, m);
        if (h) {
            for (size_t j = 0; j < m; j++) h[j] = stw_f32_to_bf16(buf[j]);
            rc = atomic_file_write(af, h, m * sizeof(uint16_t), err, errlen);
        } else {
            rc = atomic_file_write(af, buf, m * sizeof(float), err, errlen);
        }
    }
    free(buf), free(h);
    return rc;
}

static int write_tensor(atomic_file *af, const stw_tensor *x, char *err, size_t errlen)
{
    size_t n = numel_of(x);
    if (x->fill) return write_filled(af, x, err, errlen);
    if (x->dtype == STW_F32) return atomic_file_write(af, x->data, n * sizeof(float), err, errlen);
    uint16_t chunk[4096];
    for (size_t i = 0; i < n; i += 4096) {
        size_t m = n - i < 4096 ? n - i : 4096;
        for (size_t j = 0; j < m; j++) chunk[j] = stw_f32_to_bf16(x->data[i + j]);
        if (atomic_file_write(af, chunk, m * sizeof(uint16_t), err, errlen) != 0) return -1;
    }
    return 0;
}

int stw_write(const char *path, const stw_tensor *tensors, size_t n, char *err, size_t errlen)
{
    if (validate(path, tensors, n, err, errlen) != 0) return -1;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    sbuf h = {0};
    if (order) {
        file_order(order, tensors, n);
        build_header(&h, tensors, order, n);
    }
    if (!order || h.oom) {
        free(order);
        free(h.p);
        set_err(err, errlen, "%s: out of memory building the header", path);
        return -1;
    }
    unsigned char len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    atomic_file af;
    int rc = atomic_file_open(&af, path, err, errlen);
    if (rc == 0) rc = atomic_file_write(&af, len_le, 8, err, errlen);
    if (rc == 0) rc = atomic_file_write(&af, h.p, h.len, err, errlen);
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = write_tensor(&af, &tensors[order[k]], err, errlen);
    if (rc == 0)
        rc = atomic_file_commit(&af, err, errlen);
    else
        atomic_file_abort(&af);
    free(order);
    free(h.p);
    return rc;
}
