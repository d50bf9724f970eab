/*
 * bigram_io.c — model/bigram's own checkpoint files.
 *
 *   bigram.bin        magic "RBGW", u32 version (1), u32 V, u32 flags
 *                     (bit0 value head, bit1 score head, bit2 mean pooling),
 *                     u64 parameter count, then the parameters (f32, the
 *                     layout of bigram.h).
 *   bigram_train.bin  magic "RBGT", u32 version (1), u64 parameter count,
 *                     u64 AdamW steps, u32 has-moments, then m and v (f32).
 * Host byte order (a checkpoint is for resuming on the same kind of
 * machine).  Each file is written to "<name>.tmp" and renamed over the old
 * one, so an interrupted save leaves the previous checkpoint whole.
 */
#include "bigram.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define WEIGHTS_FILE "bigram.bin"
#define TRAIN_FILE "bigram_train.bin"
#define FILE_VERSION 1u

static int write_all(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n; }
static int read_all(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n; }

static rlaif_status make_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) return RLAIF_OK;
    return rlaif_errorf(err, errlen, RLAIF_E_IO, "model/bigram: cannot create directory '%s': %s",
                        dir, strerror(errno));
}

/* Opens dir/name.tmp for writing; `tmp` and `final` receive the paths. */
static FILE *open_tmp(const char *dir, const char *name, char *tmp, char *final, size_t cap)
{
    snprintf(final, cap, "%s/%s", dir, name);
    snprintf(tmp, cap, "%s/%s.tmp", dir, name);
    return fopen(tmp, "wb");
}

static rlaif_status finish_tmp(FILE *f, int ok, const char *tmp, const char *final, char *err,
                               size_t errlen)
{
    if (fflush(f) != 0) ok = 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, final) != 0) {
        int e = errno;
        remove(tmp);
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "model/bigram: cannot write '%s': %s", final,
                            strerror(e));
    }
    return RLAIF_OK;
}

static rlaif_status save_weights(const bigram *m, const char *dir, char *err, size_t errlen)
{
    char tmp[4096], final[4096];
    FILE *f = open_tmp(dir, WEIGHTS_FILE, tmp, final, sizeof tmp);
    if (!f)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "model/bigram: cannot open '%s': %s", tmp,
                            strerror(errno));
    uint32_t hdr[4] = {0, FILE_VERSION, BIGRAM_V,
                       (uint32_t)(m->has_value_head | (m->has_score_head << 1) |
                                  ((m->pool == BIGRAM_POOL_MEAN) << 2))};
    memcpy(&hdr[0], "RBGW", 4);
    uint64_t np = BIGRAM_N_PARAMS;
    int ok = write_all(f, hdr, sizeof hdr) && write_all(f, &np, sizeof np) &&
             write_all(f, m->params, BIGRAM_N_PARAMS * sizeof(float));
    return finish_tmp(f, ok, tmp, final, err, errlen);
}

static rlaif_status save_training(const bigram *m, const char *dir, char *err, size_t errlen)
{
    char tmp[4096], final[4096];
    FILE *f = open_tmp(dir, TRAIN_FILE, tmp, final, sizeof tmp);
    if (!f)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "model/bigram: cannot open '%s': %s", tmp,
                            strerror(errno));
    uint32_t hdr[2] = {0, FILE_VERSION};
    memcpy(&hdr[0], "RBGT", 4);
    uint64_t np = BIGRAM_N_PARAMS, steps = m->steps;
    uint32_t has = m->m != NULL;
    int ok = write_all(f, hdr, sizeof hdr) && write_all(f, &np, sizeof np) &&
             write_all(f, &steps, sizeof steps) && write_all(f, &has, sizeof has);
    if (ok && has)
        ok = write_all(f, m->m, BIGRAM_N_PARAMS * sizeof(float)) &&
             write_all(f, m->v, BIGRAM_N_PARAMS * sizeof(float));
    return finish_tmp(f, ok, tmp, final, err, errlen);
}

rlaif_status bigram_save(const bigram *m, const char *dir, uint32_t what, char *err, size_t errlen)
{
    if (what & (RLAIF_SAVE_ADAPTER))
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "model/bigram: has no LoRA adapters to save");
    rlaif_status st = make_dir(dir, err, errlen);
    if (st) return st;
    if (what & RLAIF_SAVE_WEIGHTS) st = save_weights(m, dir, err, errlen);
    if (!st && (what & RLAIF_SAVE_TRAINING)) st = save_training(m, dir, err, errlen);
    return st;
}

/* Reads and checks a header's magic and version; names the file. */
static rlaif_status check_magic(FILE *f, const char *magic, const char *path, char *err,
                                size_t errlen)
{
    uint32_t hdr[2];
    if (!read_all(f, hdr, sizeof hdr))
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "model/bigram: '%s' is truncated", path);
    if (memcmp(&hdr[0], magic, 4) != 0)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "model/bigram: '%s' is not a bigram checkpoint (magic '%.4s' expected)",
                            path, magic);
    if (hdr[1] != FILE_VERSION)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "model/bigram: '%s' has format version %u, this build reads %u "
                            "(re-save it with a matching build)",
                            path, hdr[1], FILE_VERSION);
    return RLAIF_OK;
}

static rlaif_status load_weights(bigram *m, FILE *f, const char *path, char *err, size_t errlen)
{
    rlaif_status st = check_magic(f, "RBGW", path, err, errlen);
    if (st) return st;
    uint32_t vf[2];
    uint64_t np;
    if (!read_all(f, vf, sizeof vf) || !read_all(f, &np, sizeof np))
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "model/bigram: '%s' is truncated", path);
    if (vf[0] != BIGRAM_V || np != BIGRAM_N_PARAMS)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "model/bigram: '%s' holds vocabulary %u / %llu parameters, expected "
                            "%d / %llu",
                            path, vf[0], (unsigned long long)np, BIGRAM_V,
                            (unsigned long long)BIGRAM_N_PARAMS);
    float *p = malloc(BIGRAM_N_PARAMS * sizeof(float));
    if (!p) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model/bigram: out of memory");
    if (!read_all(f, p, BIGRAM_N_PARAMS * sizeof(float))) {
        free(p);
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "model/bigram: '%s' is truncated", path);
    }
    memcpy(m->params, p, BIGRAM_N_PARAMS * sizeof(float));
    free(p);
    /* The file says which heads the saved model had. */
    m->has_value_head = (vf[1] & 1u) != 0;
    m->has_score_head = (vf[1] & 2u) != 0;
    m->pool = (vf[1] & 4u) ? BIGRAM_POOL_MEAN : BIGRAM_POOL_LAST;
    m->kept.valid = 0;
    return RLAIF_OK;
}

static rlaif_status load_training(bigram *m, FILE *f, const char *path, char *err, size_t errlen)
{
    rlaif_status st = check_magic(f, "RBGT", path, err, errlen);
    if (st) return st;
    uint64_t np, steps;
    uint32_t has;
    if (!read_all(f, &np, sizeof np) || !read_all(f, &steps, sizeof steps) ||
        !read_all(f, &has, sizeof has))
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "model/bigram: '%s' is truncated", path);
    if (np != BIGRAM_N_PARAMS)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "model/bigram: '%s' holds %llu parameters, expected %llu", path,
                            (unsigned long long)np, (unsigned long long)BIGRAM_N_PARAMS);
    float *mm = NULL, *vv = NULL;
    if (has) {
        mm = malloc(BIGRAM_N_PARAMS * sizeof(float));
        vv = malloc(BIGRAM_N_PARAMS * sizeof(float));
        if (!mm || !vv) {
            free(mm);
            free(vv);
            return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model/bigram: out of memory");
        }
        if (!read_all(f, mm, BIGRAM_N_PARAMS * sizeof(float)) ||
            !read_all(f, vv, BIGRAM_N_PARAMS * sizeof(float))) {
            free(mm);
            free(vv);
            return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "model/bigram: '%s' is truncated",
                                path);
        }
    }
    free(m->m);
    free(m->v);
    m->m = mm;
    m->v = vv;
    m->steps = steps;
    return RLAIF_OK;
}

rlaif_status bigram_load(bigram *m, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    int found = 0;
    static const char *const names[2] = {WEIGHTS_FILE, TRAIN_FILE};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        found++;
        rlaif_status st = i == 0 ? load_weights(m, f, path, err, errlen)
                                 : load_training(m, f, path, err, errlen);
        fclose(f);
        if (st) return st;
    }
    if (!found)
        return rlaif_errorf(err, errlen, RLAIF_E_IO,
                            "model/bigram: no %s or %s in '%s'", WEIGHTS_FILE, TRAIN_FILE, dir);
    return RLAIF_OK;
}
