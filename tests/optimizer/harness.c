/* harness.c — see harness.h. */
#include "harness.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

rlc_instance *th_create(rlaif_kind kind, const char *name, const char *config)
{
    char err[512] = "";
    rlc_init(NULL);
    rlc_plugin *p = rlc_plugin_find(kind, name, err, sizeof err);
    ck_assert_msg(p != NULL, "plugin %s: %s", name, err);
    rlc_instance *in = rlc_instance_create(p, config, err, sizeof err);
    ck_assert_msg(in != NULL, "create %s %s: %s", name, config, err);
    return in;
}

const rlaif_model_vtable *th_mvt(rlc_instance *in) { return rlc_instance_vtable(in); }
const rlaif_optimizer_vtable *th_ovt(rlc_instance *in) { return rlc_instance_vtable(in); }

rlc_instance *th_reference(rlc_instance *model)
{
    char err[256] = "";
    const rlaif_model_vtable *vt = th_mvt(model);
    void *view = NULL;
    ck_assert_msg(vt->reference(rlc_instance_self(model), &view, err, sizeof err) == RLAIF_OK,
                  "reference: %s", err);
    char name[128];
    snprintf(name, sizeof name, "%s", rlc_instance_name(model));
    const char *slash = strchr(name, '/');
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_MODEL, slash ? slash + 1 : name, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    return rlc_instance_adopt(p, view, model);
}

void th_batch_init(th_batch *b) { memset(b, 0, sizeof *b); }

void th_batch_clear(th_batch *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->ids[i]);
    b->n = 0;
}

void th_batch_free(th_batch *b)
{
    th_batch_clear(b);
    free(b->ids);
    free(b->len);
    free(b->prompt_len);
    memset(b, 0, sizeof *b);
}

static void grow(th_batch *b)
{
    if (b->n < b->cap) return;
    b->cap = b->cap ? 2 * b->cap : 16;
    b->ids = realloc(b->ids, b->cap * sizeof *b->ids);
    b->len = realloc(b->len, b->cap * sizeof *b->len);
    b->prompt_len = realloc(b->prompt_len, b->cap * sizeof *b->prompt_len);
    ck_assert(b->ids && b->len && b->prompt_len);
}

void th_batch_add(th_batch *b, const char *prompt, const int32_t *resp, size_t n_resp)
{
    grow(b);
    size_t pl = 1 + strlen(prompt);
    int32_t *ids = malloc((pl + n_resp + 1) * sizeof *ids);
    ck_assert(ids != NULL);
    ids[0] = 256; /* BOS of the byte-level test models */
    for (size_t i = 1; i < pl; i++) ids[i] = (unsigned char)prompt[i - 1];
    if (n_resp) memcpy(ids + pl, resp, n_resp * sizeof *ids);
    b->ids[b->n] = ids;
    b->len[b->n] = pl + n_resp;
    b->prompt_len[b->n] = pl;
    b->n++;
}

void th_batch_add_text(th_batch *b, const char *prompt, const char *response)
{
    size_t n = strlen(response);
    int32_t *r = malloc((n + 1) * sizeof *r);
    ck_assert(r != NULL);
    for (size_t i = 0; i < n; i++) r[i] = (unsigned char)response[i];
    th_batch_add(b, prompt, r, n);
    free(r);
}

const rlaif_seqs *th_batch_seqs(th_batch *b)
{
    b->seqs.struct_size = sizeof b->seqs;
    b->seqs.n = b->n;
    b->seqs.ids = (const int32_t *const *)b->ids;
    b->seqs.len = b->len;
    b->seqs.prompt_len = b->prompt_len;
    return &b->seqs;
}

size_t th_batch_total(const th_batch *b)
{
    size_t t = 0;
    for (size_t i = 0; i < b->n; i++) t += b->len[i];
    return t;
}

int th_has_stat(const rlaif_opt_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_stats; i++)
        if (strcmp(r->stats[i].name, name) == 0) return 1;
    return 0;
}

double th_stat(const rlaif_opt_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_stats; i++)
        if (strcmp(r->stats[i].name, name) == 0) return r->stats[i].value;
    ck_abort_msg("stat '%s' missing", name);
    return 0;
}
