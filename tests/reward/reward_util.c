/* reward_util.c — see reward_util.h. */
#include "reward_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlaif_config.h"

rlaif_status test_reward_open(test_reward *r, const char *name, const char *config, char *err,
                              size_t errlen)
{
    memset(r, 0, sizeof *r);
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_REWARD, name, err, errlen);
    if (!p) return RLAIF_E_INVALID;
    r->in = rlc_instance_create(p, config, err, errlen);
    if (!r->in) return RLAIF_E_INVALID;
    r->vt = rlc_instance_vtable(r->in);
    r->self = rlc_instance_self(r->in);
    return RLAIF_OK;
}

void test_reward_close(test_reward *r)
{
    if (r->in) rlc_instance_unref(r->in);
    memset(r, 0, sizeof *r);
}

rlaif_status test_reward_score(test_reward *r, size_t n, const char *const *responses,
                               float *rewards, float *metrics, const char **details, char *err,
                               size_t errlen)
{
    const char **prompts = calloc(n ? n : 1, sizeof *prompts);
    if (!prompts) return RLAIF_E_NOMEM;
    for (size_t i = 0; i < n; i++) prompts[i] = "";
    rlaif_reward_batch b = {.struct_size = sizeof b, .n = n, .prompts = prompts,
                            .responses = responses};
    rlaif_reward_out o = {.struct_size = sizeof o, .rewards = rewards, .metrics = metrics,
                          .details = details};
    rlaif_status st = r->vt->score(r->self, &b, &o, err, errlen);
    free(prompts);
    return st;
}

int test_reward_metric(test_reward *r, const char *name, size_t *n_metrics)
{
    rlaif_reward_desc d = {.struct_size = sizeof d};
    if (r->vt->describe(r->self, &d) != RLAIF_OK) return -1;
    if (n_metrics) *n_metrics = d.n_metrics;
    for (size_t i = 0; i < d.n_metrics; i++)
        if (strcmp(d.metric_names[i], name) == 0) return (int)i;
    return -1;
}

const char *test_data_path(const char *file, char *buf, size_t len)
{
    const char *src = getenv("RLAIF_SOURCE_DIR");
    if (!src || !*src) src = RLAIF_SOURCE_DIR;
    snprintf(buf, len, "%s/tests/reward/data/%s", src, file);
    return buf;
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[size] = 0;
        if (len) *len = (size_t)size;
    }
    return buf;
}
