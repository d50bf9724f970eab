/*
 * train_state.c — training-state file writer and reader (see the header
 * for the layout).
 */
#include "train_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"

static const char MAGIC[8] = {'R', 'L', 'A', 'I', 'F', 'T', 'S', '\0'};
#define HEADER_BYTES 32u

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- little-endian scalars and the checksum --------------------------- */

static void put_u64(unsigned char *p, uint64_t x)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(x >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x |= (uint64_t)p[i] << (8 * i);
    return x;
}

static void put_u32(unsigned char *p, uint32_t x)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(x >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) x |= (uint32_t)p[i] << (8 * i);
    return x;
}

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

/* FNV-1a over 64-bit words; n must be a multiple of 8. */
static uint64_t hash_words(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) h = (h ^ get_u64(p + i)) * FNV_PRIME;
    return h;
}

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

/* ---- sections ----------------------------------------------------------- */

typedef struct section {
    char tag[8];
    const void *data;
    size_t len;
} section;

/* Hashes and (when af is given) writes one section. */
static int emit_section(atomic_file *af, uint64_t *h, const section *s, char *err, size_t errlen)
{
    unsigned char head[16], zero[8] = {0};
    memcpy(head, s->tag, 8);
    put_u64(head + 8, (uint64_t)s->len);
    size_t whole = s->len & ~(size_t)7, rest = s->len - whole;
    unsigned char tail[8] = {0};
    if (rest) memcpy(tail, (const unsigned char *)s->data + whole, rest);
    if (!af) {
        *h = hash_words(*h, head, 16);
        *h = hash_words(*h, s->data, whole);
        if (rest) *h = hash_words(*h, tail, 8);
        return 0;
    }
    if (atomic_file_write(af, head, 16, err, errlen) || atomic_file_write(af, s->data, s->len, err, errlen) ||
        (rest && atomic_file_write(af, zero, 8 - rest, err, errlen)))
        return -1;
    return 0;
}

static void tag_of(char tag[8], const char *name)
{
    memset(tag, 0, 8);
    memcpy(tag, name, strlen(name) < 8 ? strlen(name) : 8);
}

/* The schedule, serialised field by field (no struct padding on disk). */
static void pack_schedule(unsigned char out[32], const lr_schedule *s)
{
    memset(out, 0, 32);
    put_u32(out, (uint32_t)s->kind);
    memcpy(out + 4, &s->lr_max, 4);
    memcpy(out + 8, &s->lr_min, 4);
    put_u64(out + 16, s->warmup_steps);
    put_u64(out + 24, s->total_steps);
}

static void unpack_schedule(lr_schedule *s, const unsigned char in[32])
{
    s->kind = (lr_kind)get_u32(in);
    memcpy(&s->lr_max, in + 4, 4);
    memcpy(&s->lr_min, in + 8, 4);
    s->warmup_steps = get_u64(in + 16);
    s->total_steps = get_u64(in + 24);
}

int train_state_write(const char *path, const train_state *s, char *err, size_t errlen)
{
    unsigned char step[8], rng[32], sched[32];
    put_u64(step, s->step);
    for (int i = 0; i < 4; i++) put_u64(rng + 8 * i, s->rng[i]);
    pack_schedule(sched, &s->schedule);
    section secs[6];
    size_t ns = 0;
    tag_of(secs[ns].tag, "STEP"), secs[ns].data = step, secs[ns++].len = 8;
    tag_of(secs[ns].tag, "RNG"), secs[ns].data = rng, secs[ns++].len = 32;
    tag_of(secs[ns].tag, "SCHED"), secs[ns].data = sched, secs[ns++].len = 32;
    if (s->n_moments) {
        if (!s->m || !s->v) {
            set_err(err, errlen, "%s: %zu moments announced but m or v is NULL", path, s->n_moments);
            return -1;
        }
        tag_of(secs[ns].tag, "ADAM_M"), secs[ns].data = s->m, secs[ns++].len = s->n_moments * 4;
        tag_of(secs[ns].tag, "ADAM_V"), secs[ns].data = s->v, secs[ns++].len = s->n_moments * 4;
    }
    if (s->extra_len) tag_of(secs[ns].tag, "EXTRA"), secs[ns].data = s->extra, secs[ns++].len = s->extra_len;

    uint64_t h = FNV_OFFSET, payload = 0;
    for (size_t i = 0; i < ns; i++) {
        emit_section(NULL, &h, &secs[i], NULL, 0);
        payload += 16 + pad8(secs[i].len);
    }
    unsigned char head[HEADER_BYTES];
    memcpy(head, MAGIC, 8);
    put_u32(head + 8, TRAIN_STATE_VERSION);
    put_u32(head + 12, (uint32_t)ns);
    put_u64(head + 16, payload);
    put_u64(head + 24, h);

    atomic_file af;
    if (atomic_file_open(&af, path, err, errlen) != 0) return -1;
    int rc = atomic_file_write(&af, head, HEADER_BYTES, err, errlen);
    for (size_t i = 0; rc == 0 && i < ns; i++) rc = emit_section(&af, &h, &secs[i], err, errlen);
    if (rc != 0) {
        atomic_file_abort(&af);
        return -1;
    }
    return atomic_file_commit(&af, err, errlen);
}

/* ---- reading -------------------------------------------------------------- */

static unsigned char *read_all(const char *path, size_t *size, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        set_err(err, errlen, "%s: cannot open training state", path);
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = sz >= 0 ? malloc((size_t)sz + 8) : NULL;
    if (!buf || fread(buf, 1, (size_t)sz, fp) != (size_t)sz) {
        set_err(err, errlen, "%s: cannot read training state", path);
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    *size = (size_t)sz;
    return buf;
}

static void *dup_bytes(const unsigned char *p, size_t n)
{
    void *d = malloc(n ? n : 1);
    if (d) memcpy(d, p, n);
    return d;
}

/* Walks the verified payload and fills *s. */
static int parse_sections(train_state *s, const unsigned char *p, size_t payload, uint32_t ns,
                          const char *path, char *err, size_t errlen)
{
    int have_step = 0, have_rng = 0, have_sched = 0;
    size_t m_len = 0, v_len = 0, at = 0;
    for (uint32_t i = 0; i < ns; i++) {
        if (payload - at < 16) goto malformed;
        char tag[9] = {0};
        memcpy(tag, p + at, 8);
        uint64_t len = get_u64(p + at + 8);
        if (len > payload - at - 16 || pad8((size_t)len) > payload - at - 16) goto malformed;
        const unsigned char *d = p + at + 16;
        if (strcmp(tag, "STEP") == 0 && len == 8) {
            s->step = get_u64(d), have_step = 1;
        } else if (strcmp(tag, "RNG") == 0 && len == 32) {
            for (int k = 0; k < 4; k++) s->rng[k] = get_u64(d + 8 * k);
            have_rng = 1;
        } else if (strcmp(tag, "SCHED") == 0 && len == 32) {
            unpack_schedule(&s->schedule, d), have_sched = 1;
        } else if (strcmp(tag, "ADAM_M") == 0 && len % 4 == 0 && !s->m) {
            s->m = dup_bytes(d, (size_t)len), m_len = (size_t)len;
        } else if (strcmp(tag, "ADAM_V") == 0 && len % 4 == 0 && !s->v) {
            s->v = dup_bytes(d, (size_t)len), v_len = (size_t)len;
        } else if (strcmp(tag, "EXTRA") == 0 && !s->extra) {
            s->extra = dup_bytes(d, (size_t)len), s->extra_len = (size_t)len;
        } else if (!strcmp(tag, "STEP") || !strcmp(tag, "RNG") || !strcmp(tag, "SCHED") ||
                   !strcmp(tag, "ADAM_M") || !strcmp(tag, "ADAM_V") || !strcmp(tag, "EXTRA")) {
            set_err(err, errlen, "%s: section %s has a bad size (%llu bytes) or repeats", path, tag,
                    (unsigned long long)len);
            return -1;
        }
        at += 16 + pad8((size_t)len);
    }
    if (!have_step || !have_rng || !have_sched) {
        set_err(err, errlen, "%s: missing section %s", path,
                !have_step ? "STEP" : !have_rng ? "RNG" : "SCHED");
        return -1;
    }
    if (m_len != v_len || (m_len && (!s->m || !s->v))) {
        set_err(err, errlen, "%s: ADAM_M (%zu bytes) and ADAM_V (%zu bytes) disagree", path, m_len,
                v_len);
        return -1;
    }
    s->n_moments = m_len / 4;
    return 0;
malformed:
    set_err(err, errlen, "%s: malformed section table", path);
    return -1;
}

int train_state_read(const char *path, train_state *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    size_t size;
    unsigned char *buf = read_all(path, &size, err, errlen);
    if (!buf) return -1;
    int rc = -1;
    if (size < HEADER_BYTES || memcmp(buf, MAGIC, 8) != 0) {
        set_err(err, errlen, "%s: not a training-state file (bad magic)", path);
        goto out;
    }
    uint32_t version = get_u32(buf + 8), ns = get_u32(buf + 12);
    if (version != TRAIN_STATE_VERSION) {
        set_err(err, errlen, "%s: training-state version %u, this build reads version %u", path,
                version, TRAIN_STATE_VERSION);
        goto out;
    }
    uint64_t payload = get_u64(buf + 16), sum = get_u64(buf + 24);
    if (payload % 8 || payload != size - HEADER_BYTES) {
        set_err(err, errlen, "%s: truncated or padded: header says %llu payload bytes, file has %zu",
                path, (unsigned long long)payload, size - HEADER_BYTES);
        goto out;
    }
    if (hash_words(FNV_OFFSET, buf + HEADER_BYTES, (size_t)payload) != sum) {
        set_err(err, errlen, "%s: checksum mismatch (the file is corrupt)", path);
        goto out;
    }
    rc = parse_sections(s, buf + HEADER_BYTES, (size_t)payload, ns, path, err, errlen);
out:
    free(buf);
    if (rc != 0) train_state_free(s);
    return rc;
}

void train_state_free(train_state *s)
{
    free(s->m);
    free(s->v);
    free(s->extra);
    s->m = s->v = NULL;
    s->extra = NULL;
    s->n_moments = s->extra_len = 0;
}
