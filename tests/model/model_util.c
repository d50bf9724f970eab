/*
 * model_util.c — helpers shared by the model tests.
 */
#include "model_util.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *mu_shared_dir(void)
{
    const char *s = getenv("RLAIF_SHARED_DIR");
    return s && *s ? s : "/work/shared";
}

char *mu_shared_path(const char *rel)
{
    static char buf[4][4096];
    static int slot;
    char *b = buf[slot++ & 3];
    snprintf(b, 4096, "%s/%s", mu_shared_dir(), rel);
    return b;
}

float *mu_tensor(const st_file *f, const char *name, size_t *numel)
{
    st_tensor *t = st_find(f, name);
    ck_assert_msg(t != NULL, "golden tensor %s missing in %s", name, f->path);
    float *x = malloc((t->numel ? t->numel : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    st_to_f32(f, t, x);
    if (numel) *numel = t->numel;
    return x;
}

static void init_core(void)
{
    static int done;
    if (!done) {
        rlc_init(NULL);
        done = 1;
    }
}

rlc_instance *mu_model_try(const char *config_json, char *err, size_t errlen)
{
    init_core();
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_MODEL, "transformer", err, errlen);
    if (!p) return NULL;
    return rlc_instance_create(p, config_json, err, errlen);
}

rlc_instance *mu_model(const char *config_json)
{
    char err[1024] = "";
    rlc_instance *in = mu_model_try(config_json, err, sizeof err);
    ck_assert_msg(in != NULL, "create %s: %s", config_json, err);
    return in;
}

const rlaif_model_vtable *mu_vt(rlc_instance *in)
{
    return (const rlaif_model_vtable *)rlc_instance_vtable(in);
}

char *mu_tempdir(void)
{
    const char *t = getenv("TMPDIR");
    char *p = NULL;
    ck_assert(asprintf(&p, "%s/rlaif-model-XXXXXX", t && *t ? t : "/tmp") > 0);
    ck_assert_ptr_nonnull(mkdtemp(p));
    return p;
}

void mu_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            mu_rmtree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

void mu_write_safetensors(const char *path, size_t n, const char *const *names, const int *ndim,
                          const size_t (*shapes)[2], const float *const *data)
{
    size_t cap = 256 + n * 200, o = 0, off = 0;
    char *h = malloc(cap);
    ck_assert_ptr_nonnull(h);
    o += (size_t)snprintf(h + o, cap - o, "{");
    for (size_t i = 0; i < n; i++) {
        size_t numel = shapes[i][0] * (ndim[i] > 1 ? shapes[i][1] : 1);
        if (ndim[i] == 1)
            o += (size_t)snprintf(h + o, cap - o,
                                  "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}",
                                  i ? "," : "", names[i], shapes[i][0], off, off + numel * 4);
        else
            o += (size_t)snprintf(h + o, cap - o,
                                  "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],\"data_offsets\":[%zu,%zu]}",
                                  i ? "," : "", names[i], shapes[i][0], shapes[i][1], off,
                                  off + numel * 4);
        off += numel * 4;
    }
    o += (size_t)snprintf(h + o, cap - o, "}");
    ck_assert(o < cap);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t hl = o;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(hl >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(h, 1, o, f);
    for (size_t i = 0; i < n; i++) {
        size_t numel = shapes[i][0] * (ndim[i] > 1 ? shapes[i][1] : 1);
        fwrite(data[i], 4, numel, f);
    }
    fclose(f);
    free(h);
}
