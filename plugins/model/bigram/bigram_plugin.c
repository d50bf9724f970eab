/*
 * model/bigram — a tiny, real, trainable byte-level model (plugin glue).
 *
 * The test bed for everything that drives a model through the vtable: the
 * training algorithms, the labeler, the RL loop.  It has exact gradients,
 * AdamW, sampling, checkpoints and a reference view, on a model of 66k
 * parameters that trains in milliseconds.  See bigram.h for the math.
 *
 * Config keys:
 *   seed          integer >= 0        default 0: initialisation stream
 *   init_std      number >= 0         default 0.02: std of W's entries (0 = zeros)
 *   value_head    boolean             default false: v_t = Vh[ids[t]] + vb
 *   score_head    boolean             default false: a scalar per sequence
 *   score_pool    "last" | "mean"     default "last": which tokens feed the score
 *   max_seq_len   integer >= 1        default 4096
 *   load          string              default none: a directory saved by save()
 *                                     (its bigram.bin sets weights and heads)
 *
 * Tokens: ids 0..255 are the bytes, 256 = BOS, 257 = EOS; detokenize writes
 * them as "<bos>" / "<eos>" unless skip_special.
 *
 * reference() returns a frozen snapshot *copy* of the weights (264 KiB),
 * not a shared view: the model is small enough that a copy is the simplest
 * correct frozen reference.  It does not follow later updates of the
 * policy, which is what a reference should do anyway.
 *
 * save() writes the model's own format (bigram_io.c), not the HF layout:
 * RLAIF_SAVE_WEIGHTS -> bigram.bin, RLAIF_SAVE_TRAINING -> bigram_train.bin.
 */
#include <stdlib.h>
#include <string.h>

#include "bigram.h"
#include "pconfig.h"

static rlaif_status bg_create(const rlaif_host *host, const char *config, void **out, char *err,
                              size_t errlen)
{
    (void)host;
    static const char *const keys[] = {"seed",        "init_std", "value_head", "score_head",
                                       "score_pool",  "max_seq_len", "load",    NULL};
    static const char *const pools[] = {"last", "mean", NULL};
    pconfig c;
    if (pconfig_open(&c, "model/bigram", config, err, errlen)) return pconfig_close(&c);
    int64_t seed = pconfig_int(&c, "seed", 0, 0, INT64_MAX);
    double init_std = pconfig_number(&c, "init_std", 0.02, 0, 100);
    int vh = pconfig_bool(&c, "value_head", 0);
    int sh = pconfig_bool(&c, "score_head", 0);
    int pool = pconfig_enum(&c, "score_pool", "last", pools);
    int64_t max_len = pconfig_int(&c, "max_seq_len", 4096, 1, INT32_MAX);
    const char *load = pconfig_string(&c, "load", NULL);
    pconfig_no_other_keys(&c, keys);
    char *load_dir = load ? strdup(load) : NULL;
    rlaif_status st = pconfig_close(&c);
    if (st) {
        free(load_dir);
        return st;
    }
    bigram *m = bigram_new((uint64_t)seed, init_std, vh, sh, (enum bigram_pool)pool,
                           (int32_t)max_len);
    if (!m) {
        free(load_dir);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model/bigram: out of memory");
    }
    if (load_dir) {
        st = bigram_load(m, load_dir, err, errlen);
        free(load_dir);
        if (st) {
            bigram_free(m);
            return st;
        }
    }
    *out = m;
    return RLAIF_OK;
}

static void bg_destroy(void *self) { bigram_free(self); }

static uint64_t count_params(const bigram *m)
{
    uint64_t n = (uint64_t)BIGRAM_V * BIGRAM_V;
    if (m->has_value_head) n += BIGRAM_V + 1;
    if (m->has_score_head) n += BIGRAM_V + 1;
    return n;
}

static rlaif_status bg_info(void *self, rlaif_model_info *out)
{
    const bigram *m = self;
    rlaif_model_info i;
    memset(&i, 0, sizeof i);
    i.struct_size = sizeof i;
    i.arch = "bigram";
    i.vocab_size = BIGRAM_V;
    i.max_seq_len = m->max_seq_len;
    i.bos_id = BIGRAM_BOS;
    i.eos_id = BIGRAM_EOS;
    i.pad_id = -1;
    i.n_params = count_params(m);
    i.n_trainable = m->frozen ? 0 : i.n_params;
    i.dim = BIGRAM_V;
    i.has_value_head = (uint8_t)m->has_value_head;
    i.has_score_head = (uint8_t)m->has_score_head;
    i.is_frozen = (uint8_t)m->frozen;
    /* Copy only what the caller's struct has room for. */
    size_t n = out->struct_size && out->struct_size < sizeof i ? out->struct_size : sizeof i;
    uint32_t caller_size = out->struct_size;
    memcpy(out, &i, n);
    out->struct_size = caller_size ? caller_size : (uint32_t)sizeof i;
    return RLAIF_OK;
}

static rlaif_status bg_tokenize(void *self, const char *text, size_t text_len, int add_bos,
                                int32_t *out, size_t cap, size_t *n, char *err, size_t errlen)
{
    (void)self;
    size_t need = text_len + (add_bos ? 1 : 0);
    *n = need;
    if (need > cap)
        return rlaif_errorf(err, errlen, RLAIF_E_RANGE,
                            "model/bigram: tokenize needs room for %zu ids, got %zu", need, cap);
    size_t k = 0;
    if (add_bos) out[k++] = BIGRAM_BOS;
    for (size_t i = 0; i < text_len; i++) out[k++] = (unsigned char)text[i];
    return RLAIF_OK;
}

/* `cap` is the size of `out`, NUL included: nothing is written past it. */
static rlaif_status bg_detokenize(void *self, const int32_t *ids, size_t n, int skip_special,
                                  char *out, size_t cap, size_t *len, char *err, size_t errlen)
{
    (void)self;
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= BIGRAM_V)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "model/bigram: detokenize: id %d at %zu outside the vocabulary",
                                (int)ids[i], i);
        if (ids[i] < 256) need += 1;
        else if (!skip_special) need += 5; /* "<bos>" or "<eos>" */
    }
    *len = need;
    if (need + 1 > cap)
        return rlaif_errorf(err, errlen, RLAIF_E_RANGE,
                            "model/bigram: detokenize needs %zu bytes plus NUL, got %zu", need, cap);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 256) out[k++] = (char)ids[i];
        else if (!skip_special) {
            memcpy(out + k, ids[i] == BIGRAM_BOS ? "<bos>" : "<eos>", 5);
            k += 5;
        }
    }
    out[k] = 0;
    return RLAIF_OK;
}

static rlaif_status bg_generate(void *self, const rlaif_seqs *prompts, const rlaif_sampling *s,
                                rlaif_generation *out, char *err, size_t errlen)
{
    return bigram_generate(self, prompts, s, out, err, errlen);
}

static rlaif_status bg_forward(void *self, const rlaif_seqs *seqs, uint32_t want,
                               float temperature, rlaif_outputs *out, char *err, size_t errlen)
{
    return bigram_forward(self, seqs, want, temperature, out, err, errlen);
}

static rlaif_status bg_next_logprobs(void *self, const rlaif_seqs *seqs, float *out, char *err,
                                     size_t errlen)
{
    bigram *m = self;
    rlaif_status st = bigram_check_seqs(m, seqs, err, errlen);
    if (st) return st;
    for (size_t b = 0; b < seqs->n; b++) {
        size_t len = seqs->len[b];
        int32_t prev = len ? seqs->ids[b][len - 1] : BIGRAM_BOS;
        bigram_log_softmax_row(m, prev, 1.0f, out + b * BIGRAM_V);
    }
    return RLAIF_OK;
}

static rlaif_status bg_backward(void *self, const rlaif_outputs *g, char *err, size_t errlen)
{
    return bigram_backward(self, g, err, errlen);
}

static rlaif_status bg_step(void *self, const rlaif_step_params *p, rlaif_step_result *out,
                            char *err, size_t errlen)
{
    return bigram_step(self, p, out, err, errlen);
}

static void bg_zero_grad(void *self) { bigram_zero_grad(self); }

static rlaif_status bg_save(void *self, const char *dir, uint32_t what, char *err, size_t errlen)
{
    return bigram_save(self, dir, what, err, errlen);
}

static rlaif_status bg_load_state(void *self, const char *dir, char *err, size_t errlen)
{
    return bigram_load(self, dir, err, errlen);
}

static rlaif_status bg_reference(void *self, void **out_view, char *err, size_t errlen)
{
    bigram *view = bigram_snapshot(self);
    if (!view) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model/bigram: out of memory");
    *out_view = view;
    return RLAIF_OK;
}

static const rlaif_model_vtable bigram_vtable = {
    .base = {.struct_size = sizeof(rlaif_model_vtable),
             .create = bg_create,
             .destroy = bg_destroy},
    .info = bg_info,
    .tokenize = bg_tokenize,
    .detokenize = bg_detokenize,
    .generate = bg_generate,
    .forward = bg_forward,
    .next_logprobs = bg_next_logprobs,
    .backward = bg_backward,
    .step = bg_step,
    .zero_grad = bg_zero_grad,
    .save = bg_save,
    .load_state = bg_load_state,
    .reference = bg_reference,
};

static const rlaif_plugin_info bigram_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_MODEL,
    .name = "bigram",
    .version = "1.0.0",
    .description = "tiny byte-level bigram model with exact gradients (test bed)",
    .caps = RLAIF_CAP_SAVE | RLAIF_CAP_MODEL_GENERATE | RLAIF_CAP_MODEL_FORWARD |
            RLAIF_CAP_MODEL_TRAIN | RLAIF_CAP_MODEL_VALUE_HEAD | RLAIF_CAP_MODEL_SCORE_HEAD |
            RLAIF_CAP_MODEL_REFERENCE,
    .vtable = &bigram_vtable,
};

RLAIF_PLUGIN(&bigram_info)
