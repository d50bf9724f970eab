/*
 * safetensors.c — a validating reader for safetensors files and sharded sets.
 *
 * The header is parsed with cJSON from a length-bounded buffer; every number
 * is range-checked before it becomes a size, and every tensor's byte range
 * must lie inside the file and match dtype size × number of elements.
 */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/* Headers beyond this are refused: real ones are a few hundred kB. */
#define ST_MAX_HEADER ((size_t)256 << 20)

static const char *const dtype_names[] = {"F32", "F16", "BF16", "I32", "I64"};
static const size_t dtype_sizes[] = {4, 2, 2, 4, 8};

const char *st_dtype_name(st_dtype d) { return dtype_names[d]; }
size_t st_dtype_size(st_dtype d) { return dtype_sizes[d]; }

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* ===== Header parsing =================================================== */

/* A JSON number that is an exact non-negative integer no larger than max. */
static int json_size(const cJSON *it, uint64_t max, uint64_t *out)
{
    if (!cJSON_IsNumber(it)) return 0;
    double v = it->valuedouble;
    if (!(v >= 0) || v > (double)max || v != floor(v)) return 0;
    *out = (uint64_t)v;
    return 1;
}

static rlaif_status parse_tensor(const char *path, const cJSON *item, size_t data_size,
                                 st_tensor *t, char *err, size_t errlen)
{
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: tensor '%s': header entry is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: tensor '%s': needs string 'dtype', array 'shape' and array "
                            "'data_offsets'", path, name);
    int d = -1;
    for (int i = 0; i < (int)(sizeof dtype_names / sizeof *dtype_names); i++)
        if (strcmp(dt->valuestring, dtype_names[i]) == 0) d = i;
    if (d < 0)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "%s: tensor '%s': unsupported dtype '%s' (F32, F16, BF16 are read)",
                            path, name, dt->valuestring);
    t->dtype = (st_dtype)d;
    int nd = cJSON_GetArraySize(sh);
    if (nd > ST_MAX_DIMS)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "%s: tensor '%s': %d dimensions (max %d)",
                            path, name, nd, ST_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        uint64_t v;
        if (!json_size(cJSON_GetArrayItem(sh, i), (uint64_t)1 << 40, &v))
            return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                                "%s: tensor '%s': shape[%d] is not a non-negative integer", path,
                                name, i);
        t->shape[i] = (int64_t)v;
        if (v && numel > ((uint64_t)1 << 50) / v)
            return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                                "%s: tensor '%s': shape too large", path, name);
        numel *= v;
    }
    t->numel = (size_t)numel;
    uint64_t b, e;
    if (cJSON_GetArraySize(off) != 2 || !json_size(cJSON_GetArrayItem(off, 0), UINT64_MAX >> 12, &b) ||
        !json_size(cJSON_GetArrayItem(off, 1), UINT64_MAX >> 12, &e) || e < b)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: tensor '%s': data_offsets must be [begin, end] with begin <= end",
                            path, name);
    if (e > data_size)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: tensor '%s': data ends at byte %llu but the file holds %zu data "
                            "bytes (truncated file?)", path, name, (unsigned long long)e, data_size);
    if (e - b != numel * dtype_sizes[d])
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: tensor '%s': %llu data bytes for %llu elements of %s", path, name,
                            (unsigned long long)(e - b), (unsigned long long)numel,
                            dtype_names[d]);
    t->begin = (size_t)b;
    t->end = (size_t)e;
    t->name = dup_str(name);
    if (!t->name) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", path);
    return RLAIF_OK;
}

rlaif_status st_parse(st_file *f, const char *path, const uint8_t *buf, size_t size, char *err,
                      size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->path = dup_str(path);
    if (!f->path) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", path);
    if (size < 8)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: %zu bytes is too short for a safetensors file (truncated?)", path,
                            size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > size - 8 || hlen > ST_MAX_HEADER)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: header length %llu goes beyond the file (%zu bytes)", path,
                            (unsigned long long)hlen, size);
    f->data_off = 8 + (size_t)hlen;
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: invalid header JSON (not a JSON object)", path);
    }
    size_t n = (size_t)cJSON_GetArraySize(root);
    f->t = calloc(n ? n : 1, sizeof *f->t);
    if (!f->t) {
        cJSON_Delete(root);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", path);
    }
    rlaif_status st = RLAIF_OK;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) continue;
        st = parse_tensor(path, it, size - f->data_off, &f->t[f->n], err, errlen);
        if (st) break;
        f->n++;
    }
    cJSON_Delete(root);
    /* Duplicate names make "which tensor is this" ambiguous. */
    for (size_t i = 0; !st && i < f->n; i++)
        for (size_t j = i + 1; j < f->n; j++)
            if (strcmp(f->t[i].name, f->t[j].name) == 0) {
                st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "%s: tensor '%s' appears twice",
                                  path, f->t[i].name);
                break;
            }
    return st;
}

rlaif_status st_open(st_file *f, const char *path, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: cannot open: %s", path,
                            strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    const uint8_t *map = NULL;
    if (size > 0) {
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: mmap failed: %s", path,
                                strerror(errno));
        }
        map = m;
    }
    close(fd);
    static const uint8_t empty[1];
    rlaif_status st = st_parse(f, path, map ? map : empty, size, err, errlen);
    f->map = map;
    f->size = size;
    if (st) st_close(f);
    return st;
}

void st_close(st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) free(f->t[i].name);
    free(f->t);
    free(f->path);
    if (f->map) munmap((void *)f->map, f->size);
    memset(f, 0, sizeof *f);
}

st_tensor *st_find(const st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

/* ===== Conversion ======================================================= */

static float half_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, ex = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (ex == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            ex = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                ex--;
            }
            bits = sign | (ex << 23) | ((man & 0x3ff) << 13);
        }
    } else if (ex == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((ex + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void st_to_f32(const st_file *f, const st_tensor *t, float *dst)
{
    const uint8_t *src = f->map + f->data_off + t->begin;
    size_t n = t->numel;
    switch (t->dtype) {
    case ST_F32:
        memcpy(dst, src, n * 4);
        break;
    case ST_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = half_to_f32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
        break;
    case ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)(src[2 * i] | (src[2 * i + 1] << 8)) << 16;
            memcpy(&dst[i], &bits, 4);
        }
        break;
    case ST_I32:
        for (size_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, src + 4 * i, 4);
            dst[i] = (float)v;
        }
        break;
    case ST_I64:
        for (size_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, src + 8 * i, 8);
            dst[i] = (float)v;
        }
        break;
    }
}

/* ===== Sets of files ==================================================== */

static rlaif_status set_add(st_set *s, const char *path, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n_files; i++)
        if (strcmp(s->files[i].path, path) == 0) return RLAIF_OK;
    st_file *nf = realloc(s->files, (s->n_files + 1) * sizeof *nf);
    if (!nf) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", path);
    s->files = nf;
    rlaif_status st = st_open(&s->files[s->n_files], path, err, errlen);
    if (st) return st;
    s->n_files++;
    return RLAIF_OK;
}

rlaif_status st_set_open_file(st_set *s, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    rlaif_status st = set_add(s, path, err, errlen);
    if (st) st_set_close(s);
    return st;
}

static char *read_text(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, fp);
        n += r;
        if (r == 0) break;
    }
    fclose(fp);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

rlaif_status st_set_open_dir(st_set *s, const char *dir, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    size_t len;
    char *text = read_text(path, &len);
    if (!text) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        return st_set_open_file(s, path, err, errlen);
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    rlaif_status st = RLAIF_OK;
    if (!cJSON_IsObject(map)) {
        st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                          "%s: invalid index JSON (needs an object 'weight_map')", path);
    }
    for (const cJSON *it = map ? map->child : NULL; !st && it; it = it->next) {
        if (!cJSON_IsString(it) || strchr(it->valuestring, '/')) {
            st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                              "%s: weight_map entry '%s' is not a file name in the folder", path,
                              it->string);
            break;
        }
        char shard[4096];
        snprintf(shard, sizeof shard, "%s/%s", dir, it->valuestring);
        st = set_add(s, shard, err, errlen);
    }
    /* Every name the index promises must be in the shard it names. */
    for (const cJSON *it = map ? map->child : NULL; !st && it; it = it->next) {
        const st_file *f = NULL;
        if (!st_set_find(s, it->string, &f))
            st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                              "%s: tensor '%s' is listed but is in none of the shards", path,
                              it->string);
    }
    cJSON_Delete(root);
    if (st) st_set_close(s);
    return st;
}

void st_set_close(st_set *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_files; i++) st_close(&s->files[i]);
    free(s->files);
    memset(s, 0, sizeof *s);
}

st_tensor *st_set_find(const st_set *s, const char *name, const st_file **file)
{
    for (size_t i = 0; i < s->n_files; i++) {
        st_tensor *t = st_find(&s->files[i], name);
        if (t) {
            if (file) *file = &s->files[i];
            return t;
        }
    }
    return NULL;
}

static void shape_str(char *buf, size_t len, int ndim, const int64_t *s64, const size_t *sz)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "",
                              s64 ? (long long)s64[i] : (long long)sz[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

rlaif_status st_set_read(const st_set *s, const char *name, int ndim, const size_t *shape,
                         float *dst, char *err, size_t errlen)
{
    const st_file *f = NULL;
    st_tensor *t = st_set_find(s, name, &f);
    if (!t)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "%s: missing tensor '%s'",
                            s->n_files ? s->files[0].path : "(no file)", name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = (size_t)t->shape[i] == shape[i];
    if (!ok) {
        char want[128], got[128];
        shape_str(want, sizeof want, ndim, NULL, shape);
        shape_str(got, sizeof got, t->ndim, t->shape, NULL);
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: tensor '%s' has shape %s, expected %s", f->path, name, got, want);
    }
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "%s: tensor '%s': unsupported dtype %s for a weight", f->path, name,
                            dtype_names[t->dtype]);
    st_to_f32(f, t, dst);
    t->used = 1;
    return RLAIF_OK;
}

rlaif_status st_set_check_all_used(const st_set *s, int (*ignore)(const char *name), char *err,
                                   size_t errlen)
{
    for (size_t i = 0; i < s->n_files; i++)
        for (size_t j = 0; j < s->files[i].n; j++) {
            const st_tensor *t = &s->files[i].t[j];
            if (!t->used && !(ignore && ignore(t->name)))
                return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                                    "%s: unexpected tensor '%s' (not part of this architecture)",
                                    s->files[i].path, t->name);
        }
    return RLAIF_OK;
}
