/*
 * reward/preference — a trained reward model as a reward.
 *
 * The model is any model instance with a score head (a scalar read at the
 * last token, RLAIF_OUT_SCORE).  Prompt and response are tokenized apart
 * (prompt with BOS) and joined, exactly as rlaif.train builds the pairs the
 * reward model was trained on, and scored in batches.
 *
 * Config keys:
 *   model        instance {"rlaif_handle": N}   required: a model with a score head
 *   gain, bias   numbers                        default 1, 0: reward = gain · score + bias
 *                (rlaif.train's reward_model stats give the pair that makes the
 *                reference policy's samples score mean 0, std 1)
 *   batch_size   integer 1..1024                default 16
 *   append_eos   boolean                        default true (as in training)
 */
#include <stdlib.h>
#include <string.h>

#include "pconfig.h"
#include "rlaif/plugin.h"

typedef struct preference {
    const rlaif_host *host;
    rlaif_ref model;
    double gain, bias;
    size_t batch_size;
    int append_eos;
    int32_t bos, eos;
} preference;

static rlaif_status pref_create(const rlaif_host *host, const char *config, void **out, char *err,
                                size_t errlen)
{
    static const char *const keys[] = {"model", "gain", "bias", "batch_size", "append_eos", NULL};
    pconfig c;
    if (pconfig_open(&c, "reward/preference", config, err, errlen)) return pconfig_close(&c);
    uint64_t handle = pconfig_handle(&c, "model", 1);
    double gain = pconfig_number(&c, "gain", 1.0, -1e9, 1e9);
    double bias = pconfig_number(&c, "bias", 0.0, -1e9, 1e9);
    int64_t bs = pconfig_int(&c, "batch_size", 16, 1, 1024);
    int eos = pconfig_bool(&c, "append_eos", 1);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st != RLAIF_OK) return st;

    preference *p = calloc(1, sizeof *p);
    if (!p) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/preference: out of memory");
    p->host = host;
    p->gain = gain;
    p->bias = bias;
    p->batch_size = (size_t)bs;
    p->append_eos = eos;
    p->model.struct_size = sizeof p->model;
    st = host->acquire(host, handle, RLAIF_KIND_MODEL, &p->model, err, errlen);
    if (st != RLAIF_OK) {
        free(p);
        return st;
    }
    const rlaif_model_vtable *vt = p->model.vtable;
    rlaif_model_info info = {.struct_size = sizeof info};
    if (vt->info(p->model.self, &info) != RLAIF_OK || !info.has_score_head || !vt->forward) {
        host->release(host, handle);
        free(p);
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "reward/preference: config key 'model': the model has no score head "
                            "(create it with score_head = true and train it with reward_model)");
    }
    p->bos = info.bos_id;
    p->eos = info.eos_id;
    *out = p;
    return RLAIF_OK;
}

static void pref_destroy(void *vself)
{
    preference *p = vself;
    if (!p) return;
    p->host->release(p->host, p->model.handle);
    free(p);
}

static rlaif_status pref_describe(void *self, rlaif_reward_desc *out)
{
    (void)self;
    out->n_metrics = 0;
    out->metric_names = NULL;
    return RLAIF_OK;
}

/* Tokenizes text into a growing buffer at *n; returns a status. */
static rlaif_status append_tokens(preference *p, const char *text, int bos, int32_t **buf,
                                  size_t *n, size_t *cap, char *err, size_t errlen)
{
    const rlaif_model_vtable *vt = p->model.vtable;
    size_t len = strlen(text), need = *n + len + 4;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (need > *cap) {
            int32_t *grown = realloc(*buf, need * sizeof **buf);
            if (!grown) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/preference: out of memory");
            *buf = grown;
            *cap = need;
        }
        size_t got = 0;
        rlaif_status st = vt->tokenize(p->model.self, text, len, bos, *buf + *n, *cap - *n, &got, err, errlen);
        if (st == RLAIF_OK) {
            *n += got;
            return RLAIF_OK;
        }
        if (st != RLAIF_E_RANGE) return st;
        need = *n + got;
    }
    return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL, "reward/preference: tokenize kept asking for more room");
}

static rlaif_status pref_score(void *vself, const rlaif_reward_batch *b, rlaif_reward_out *out,
                               char *err, size_t errlen)
{
    preference *p = vself;
    const rlaif_model_vtable *vt = p->model.vtable;
    rlaif_status st = RLAIF_OK;
    size_t bs = p->batch_size;
    int32_t **ids = calloc(bs, sizeof *ids);
    size_t *len = calloc(bs, sizeof *len), *cap = calloc(bs, sizeof *cap);
    float *score = calloc(bs, sizeof *score);
    if (!ids || !len || !cap || !score) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/preference: out of memory");
    for (size_t start = 0; start < b->n && st == RLAIF_OK; start += bs) {
        size_t m = b->n - start < bs ? b->n - start : bs;
        for (size_t k = 0; k < m && st == RLAIF_OK; k++) {
            size_t i = start + k;
            len[k] = 0;
            st = append_tokens(p, b->prompts[i] ? b->prompts[i] : "", 1, &ids[k], &len[k], &cap[k], err, errlen);
            if (st == RLAIF_OK)
                st = append_tokens(p, b->responses[i], 0, &ids[k], &len[k], &cap[k], err, errlen);
            if (st == RLAIF_OK && p->append_eos && p->eos >= 0) {
                if (len[k] + 1 > cap[k]) st = append_tokens(p, "", 0, &ids[k], &len[k], &cap[k], err, errlen);
                if (st == RLAIF_OK) ids[k][len[k]++] = p->eos;
            }
            if (st == RLAIF_OK && len[k] == 0)
                st = rlaif_errorf(err, errlen, RLAIF_E_INVALID, "reward/preference: sample %zu is empty", i + 1);
        }
        if (st != RLAIF_OK) break;
        rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = m, .ids = (const int32_t *const *)ids, .len = len};
        rlaif_outputs o = {.struct_size = sizeof o, .score = score};
        st = vt->forward(p->model.self, &seqs, RLAIF_OUT_SCORE, 1.0f, &o, err, errlen);
        for (size_t k = 0; k < m && st == RLAIF_OK; k++) {
            out->rewards[start + k] = (float)(p->gain * score[k] + p->bias);
            if (out->details) out->details[start + k] = NULL;
        }
    }
    for (size_t k = 0; ids && k < bs; k++) free(ids[k]);
    free(ids);
    free(len);
    free(cap);
    free(score);
    return st;
}

static const rlaif_reward_vtable pref_vtable = {
    .base = {.struct_size = sizeof(rlaif_reward_vtable), .create = pref_create, .destroy = pref_destroy},
    .describe = pref_describe,
    .score = pref_score,
};

static const rlaif_plugin_info pref_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_REWARD,
    .name = "preference",
    .version = "1.0.0",
    .description = "a reward model (score head) as a reward",
    .caps = 0,
    .vtable = &pref_vtable,
};

RLAIF_PLUGIN(&pref_info)
