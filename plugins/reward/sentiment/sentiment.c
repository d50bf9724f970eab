/*
 * reward/sentiment — how positive a response reads, in [-1, 1].
 *
 * Lexicon-based by default (see analyze.h for the rules: negation,
 * intensifiers and dampeners, but-clauses, '!' emphasis, x/sqrt(x^2+alpha)
 * normalisation).  The default lexicon, data/lexicon.tsv, was written for
 * this project (AFINN-style integer valences, weighted towards the words of
 * children's stories); AFINN-style and VADER-style files load too.
 *
 * Measured agreement with hand-labelled polarity (pos/neg), default config
 * (recomputed by tests/reward/test_sentiment.c; details in docs/rewards.md):
 *   tests/reward/data/sentiment_dev.tsv       tuning set   195/196 = 99.5%
 *   tests/reward/data/sentiment_labelled.tsv  held out     199/208 = 95.7%
 *
 * With `model` set, the reward comes from a model instance with a score
 * head instead: reward = tanh(model_scale * score); the lexicon metrics are
 * still reported.
 *
 * Config keys:
 *   lexicon          string   path of a lexicon file; default: the shipped
 *                             lexicon, found under the host's data_dir
 *   format           "auto" | "afinn" | "vader"          default "auto"
 *   words            object   extra entries {"word or phrase": valence}
 *                             added after (and overriding) the lexicon
 *   alpha            number > 0          default 15   normalisation constant
 *   negation_scope   integer 1..10       default 3    words a negator reaches
 *   negation_factor  number in [-2, 0]   default -0.7 multiplier of a negated valence
 *   contrast_before  number in [0, 1]    default 0.5  weight before "but"
 *   contrast_after   number in [1, 3]    default 1.5  weight after "but"
 *   exclaim          number in [0, 2]    default 0.3  per '!' (up to three)
 *   aggregate        "sum" | "mean"      default "sum": squash the sum over the whole
 *                             text, or average the squashed sums of its sentences
 *                             (long texts then do not saturate at +-1)
 *   model            instance {"rlaif_handle": N}     default none
 *   model_scale      number > 0          default 1
 *   model_batch      integer 1..4096     default 32   texts per model forward
 *
 * Extra metrics: "positive" and "negative" (sums of the positive and of the
 * magnitudes of the negative contributions), "matched" (lexicon hits),
 * "lexicon" (the lexicon score) and, with a model, "model" (raw score head).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "classifier.h"
#include "datafile.h"
#include "lexicon.h"
#include "pconfig.h"
#include "rlaif/plugin.h"

#define WHO "reward/sentiment"

typedef struct sentiment_reward {
    sent_lexicon lex;
    sent_params params;
    sent_classifier model;  /* model.handle == 0: lexicon only */
    double model_scale;
} sentiment_reward;

static const char *const metric_names[] = {"positive", "negative", "matched", "lexicon", "model"};
enum { N_METRICS_LEXICON = 4, N_METRICS_MODEL = 5 };

/* ===== Create and destroy =============================================== */

/* Adds the "words" object's entries. */
static void add_config_words(pconfig *c, sent_lexicon *lex)
{
    cJSON *words = pconfig_item(c, "words");
    if (!words || c->failed) return;
    if (!cJSON_IsObject(words)) {
        pconfig_fail(c, "config key 'words': expected an object {\"word\": valence}");
        return;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, words)
    {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            pconfig_fail(c, "config key 'words.%s': expected a number", e->string);
            return;
        }
        char sub[256];
        if (sent_lexicon_add(lex, e->string, e->valuedouble, sub, sizeof sub)) {
            pconfig_fail(c, "config key 'words.%s': %s", e->string, sub);
            return;
        }
    }
}

/* Loads the configured or the shipped lexicon. */
static rlaif_status load_lexicon(const rlaif_host *host, sent_lexicon *lex, const char *path,
                                 sent_format fmt, char *err, size_t errlen)
{
    char found[1024];
    if (!path) {
        rlaif_status st = rwc_data_path(host, WHO, "sentiment", "lexicon.tsv", found,
                                        sizeof found, err, errlen);
        if (st) return st;
        path = found;
    }
    char sub[1024];
    rlaif_status st = sent_lexicon_load(lex, path, fmt, sub, sizeof sub);
    if (st) return rlaif_errorf(err, errlen, st, WHO ": lexicon %s", sub);
    return RLAIF_OK;
}

static void sentiment_destroy(void *vself)
{
    sentiment_reward *self = vself;
    if (!self) return;
    sent_classifier_close(&self->model);
    sent_lexicon_free(&self->lex);
    free(self);
}

static rlaif_status sentiment_create(const rlaif_host *host, const char *config, void **out,
                                     char *err, size_t errlen)
{
    static const char *const keys[] = {"lexicon", "format", "words", "alpha", "negation_scope",
                                       "negation_factor", "contrast_before", "contrast_after",
                                       "exclaim", "aggregate", "model", "model_scale", "model_batch",
                                       NULL};
    static const char *const formats[] = {"auto", "afinn", "vader", NULL};
    static const char *const aggregates[] = {"sum", "mean", NULL};
    *out = NULL;
    sentiment_reward *self = calloc(1, sizeof *self);
    if (!self || sent_lexicon_init(&self->lex) != 0) {
        free(self);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    }
    pconfig c;
    if (pconfig_open(&c, WHO, config, err, errlen)) {
        pconfig_close(&c);
        sentiment_destroy(self);
        return RLAIF_E_INVALID;
    }
    sent_params_default(&self->params);
    sent_params *p = &self->params;
    const char *lexicon = pconfig_string(&c, "lexicon", NULL);
    sent_format fmt = (sent_format)pconfig_enum(&c, "format", "auto", formats);
    p->alpha = pconfig_number(&c, "alpha", p->alpha, 1e-6, 1e6);
    p->negation_scope = (int)pconfig_int(&c, "negation_scope", p->negation_scope, 1, 10);
    p->negation_factor = pconfig_number(&c, "negation_factor", p->negation_factor, -2, 0);
    p->contrast_before = pconfig_number(&c, "contrast_before", p->contrast_before, 0, 1);
    p->contrast_after = pconfig_number(&c, "contrast_after", p->contrast_after, 1, 3);
    p->exclaim = pconfig_number(&c, "exclaim", p->exclaim, 0, 2);
    p->mean_of_sentences = pconfig_enum(&c, "aggregate", "sum", aggregates) == 1;
    uint64_t model = pconfig_handle(&c, "model", 0);
    self->model_scale = pconfig_number(&c, "model_scale", 1.0, 1e-6, 1e6);
    size_t model_batch = (size_t)pconfig_int(&c, "model_batch", 32, 1, 4096);
    pconfig_no_other_keys(&c, keys);

    rlaif_status st = c.failed ? RLAIF_E_INVALID : RLAIF_OK;
    if (!st) st = load_lexicon(host, &self->lex, lexicon, fmt, err, errlen);
    if (!st) {
        add_config_words(&c, &self->lex); /* after the file: these override it */
        if (c.failed) st = RLAIF_E_INVALID;
    }
    pconfig_close(&c);
    if (!st && model) st = sent_classifier_open(&self->model, host, model, err, errlen);
    if (!st) self->model.batch = model_batch;
    if (st) {
        sentiment_destroy(self);
        return st;
    }
    *out = self;
    return RLAIF_OK;
}

/* ===== Scoring ========================================================== */

static rlaif_status sentiment_describe(void *vself, rlaif_reward_desc *out)
{
    const sentiment_reward *self = vself;
    out->n_metrics = self->model.handle ? N_METRICS_MODEL : N_METRICS_LEXICON;
    out->metric_names = metric_names;
    return RLAIF_OK;
}

static rlaif_status sentiment_score(void *vself, const rlaif_reward_batch *b,
                                    rlaif_reward_out *out, char *err, size_t errlen)
{
    sentiment_reward *self = vself;
    size_t n_metrics = self->model.handle ? N_METRICS_MODEL : N_METRICS_LEXICON;
    if (self->model.handle) {
        /* raw head outputs land in rewards first, then become the reward */
        rlaif_status st =
            sent_classifier_score(&self->model, b->n, b->responses, out->rewards, err, errlen);
        if (st) return st;
    }
    for (size_t i = 0; i < b->n; i++) {
        sent_result r;
        sent_analyze(&self->lex, &self->params, b->responses[i], &r);
        float raw = self->model.handle ? out->rewards[i] : 0.0f;
        out->rewards[i] = self->model.handle ? (float)tanh(self->model_scale * raw)
                                             : (float)r.score;
        if (out->metrics) {
            float *m = out->metrics + i * n_metrics;
            m[0] = (float)r.positive;
            m[1] = (float)r.negative;
            m[2] = (float)r.matched;
            m[3] = (float)r.score;
            if (self->model.handle) m[4] = raw;
        }
        if (out->details) out->details[i] = NULL;
    }
    return RLAIF_OK;
}

static const rlaif_reward_vtable sentiment_vtable = {
    .base = {.struct_size = sizeof(rlaif_reward_vtable),
             .create = sentiment_create,
             .destroy = sentiment_destroy},
    .describe = sentiment_describe,
    .score = sentiment_score,
};

static const rlaif_plugin_info sentiment_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_REWARD,
    .name = "sentiment",
    .version = "1.0.0",
    .description = "lexicon sentiment score in [-1, 1] (negation, intensifiers, but-clauses), "
                   "or a score-head model",
    .caps = 0,
    .vtable = &sentiment_vtable,
};

RLAIF_PLUGIN(&sentiment_info)
