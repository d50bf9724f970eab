/* lab_util.c — see lab_util.h. */
#include "lab_util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rlc_instance *lt_model(const char *model_plugin, const char *model_config)
{
    char err[512] = "";
    rlc_init(NULL);
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_MODEL, model_plugin, err, sizeof err);
    ck_assert_msg(p != NULL, "model plugin %s: %s", model_plugin, err);
    rlc_instance *m = rlc_instance_create(p, model_config, err, sizeof err);
    ck_assert_msg(m != NULL, "model %s %s: %s", model_plugin, model_config, err);
    return m;
}

rlc_instance *lt_labeler(rlc_instance *model, const char *extra, char *err, size_t errlen)
{
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_LABELER, "llm", err, errlen);
    ck_assert_msg(p != NULL, "labeler/llm: %s", err);
    size_t len = strlen(extra) + 64;
    char *config = malloc(len);
    snprintf(config, len, "{\"model\": {\"rlaif_handle\": %llu}%s%s}",
             (unsigned long long)rlc_instance_handle(model), *extra ? ", " : "", extra);
    rlc_instance *in = rlc_instance_create(p, config, err, errlen);
    free(config);
    return in;
}

void lt_fixture(lab_fixture *f, const char *model_plugin, const char *model_config,
                const char *extra)
{
    char err[1024] = "";
    f->model = lt_model(model_plugin, model_config);
    f->labeler = lt_labeler(f->model, extra, err, sizeof err);
    ck_assert_msg(f->labeler != NULL, "labeler/llm {%s}: %s", extra, err);
    f->mv = rlc_instance_vtable(f->model);
    f->lv = rlc_instance_vtable(f->labeler);
    f->mself = rlc_instance_self(f->model);
    f->lself = rlc_instance_self(f->labeler);
}

void lt_fixture_free(lab_fixture *f)
{
    rlc_instance_unref(f->labeler);
    rlc_instance_unref(f->model);
    memset(f, 0, sizeof *f);
}

rlaif_compare_result lt_compare(const lab_fixture *f, const char *prompt, const char *a,
                                const char *b, uint64_t seed)
{
    rlaif_compare_req req = {prompt, a, b, seed};
    rlaif_compare_result res;
    char err[512] = "";
    rlaif_status st = f->lv->compare(f->lself, 1, &req, &res, err, sizeof err);
    ck_assert_msg(st == RLAIF_OK, "compare: %s", err);
    return res;
}

double lt_stat(const lab_fixture *f, const char *name)
{
    const rlaif_stat *stats = NULL;
    size_t n = 0;
    ck_assert_int_eq(f->lv->stats(f->lself, &stats, &n), RLAIF_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(stats[i].name, name) == 0) return stats[i].value;
    ck_abort_msg("no statistic '%s'", name);
    return 0;
}

const char *lt_source_path(const char *rel)
{
    static char buf[4096];
    const char *d = getenv("RLAIF_SOURCE_DIR");
    ck_assert_msg(d != NULL, "RLAIF_SOURCE_DIR is not set");
    snprintf(buf, sizeof buf, "%s/%s", d, rel);
    return buf;
}
