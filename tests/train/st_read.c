/* st_read.c — see st_read.h. */
#include "st_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_write.h"

int rd_open(rd_file *f, const char *path, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->size = sz > 0 ? (size_t)sz : 0;
    f->buf = malloc(f->size ? f->size : 1);
    size_t got = f->buf ? fread(f->buf, 1, f->size, fp) : 0;
    fclose(fp);
    if (got != f->size || f->size < 8) {
        snprintf(err, errlen, "%s: truncated (%zu bytes)", path, f->size);
        rd_close(f);
        return -1;
    }
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)f->buf[i] << (8 * i);
    if (hl > f->size - 8) {
        snprintf(err, errlen, "%s: header length %llu beyond the file", path,
                 (unsigned long long)hl);
        rd_close(f);
        return -1;
    }
    f->header_len = (size_t)hl;
    f->header = cJSON_ParseWithLength((const char *)f->buf + 8, f->header_len);
    if (!cJSON_IsObject(f->header)) {
        snprintf(err, errlen, "%s: header is not a JSON object", path);
        rd_close(f);
        return -1;
    }
    size_t data = f->size - 8 - f->header_len;
    for (cJSON *t = f->header->child; t; t = t->next) {
        if (strcmp(t->string, "__metadata__") == 0) continue;
        cJSON *o = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        if (cJSON_GetArraySize(o) != 2 || cJSON_GetArrayItem(o, 1)->valuedouble > (double)data ||
            cJSON_GetArrayItem(o, 0)->valuedouble > cJSON_GetArrayItem(o, 1)->valuedouble) {
            snprintf(err, errlen, "%s: tensor '%s' has bad data_offsets", path, t->string);
            rd_close(f);
            return -1;
        }
    }
    return 0;
}

void rd_close(rd_file *f)
{
    cJSON_Delete(f->header);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

int rd_info(const rd_file *f, const char *name, const char **dtype, size_t *ndim,
            size_t shape[8], const unsigned char **bytes, size_t *nbytes)
{
    cJSON *t = cJSON_GetObjectItemCaseSensitive(f->header, name);
    if (!t || strcmp(name, "__metadata__") == 0) return -1;
    cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
    cJSON *of = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > 8) return -1;
    *dtype = dt->valuestring;
    *ndim = (size_t)cJSON_GetArraySize(sh);
    for (size_t d = 0; d < *ndim; d++) shape[d] = (size_t)cJSON_GetArrayItem(sh, (int)d)->valuedouble;
    size_t a = (size_t)cJSON_GetArrayItem(of, 0)->valuedouble;
    size_t b = (size_t)cJSON_GetArrayItem(of, 1)->valuedouble;
    *bytes = f->buf + 8 + f->header_len + a;
    *nbytes = b - a;
    return 0;
}

float *rd_get_f32(const rd_file *f, const char *name, size_t *numel)
{
    const char *dt;
    size_t nd, shape[8], nb;
    const unsigned char *p;
    if (rd_info(f, name, &dt, &nd, shape, &p, &nb) != 0) return NULL;
    size_t n = 1;
    for (size_t d = 0; d < nd; d++) n *= shape[d];
    size_t es = strcmp(dt, "F32") == 0 ? 4 : strcmp(dt, "BF16") == 0 ? 2 : 0;
    if (!es || nb != n * es) return NULL;
    float *out = malloc((n ? n : 1) * sizeof(float));
    if (!out) return NULL;
    if (es == 4) {
        memcpy(out, p, n * 4);
    } else {
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = stw_bf16_to_f32(h);
        }
    }
    if (numel) *numel = n;
    return out;
}

int32_t *rd_get_i32(const rd_file *f, const char *name, size_t *numel)
{
    const char *dt;
    size_t nd, shape[8], nb;
    const unsigned char *p;
    if (rd_info(f, name, &dt, &nd, shape, &p, &nb) != 0 || strcmp(dt, "I32") != 0) return NULL;
    int32_t *out = malloc(nb ? nb : 1);
    if (!out) return NULL;
    memcpy(out, p, nb);
    if (numel) *numel = nb / 4;
    return out;
}

const char *rd_golden_path(char *buf, size_t len, const char *sub)
{
    const char *root = getenv("RLAIF_SHARED_DIR");
    snprintf(buf, len, "%s/golden/%s", root && *root ? root : "/work/shared", sub);
    return buf;
}
