/*
 * reward/length — a reward for hitting a target response length.
 *
 * The template a user copies to write a reward plugin: one config parser, one
 * score function, the vtable and the entry point.  Everything a plugin needs
 * comes from rlaif/plugin.h (and, in-tree, the pconfig helpers).
 *
 * Reward:  1 inside [target - tolerance, target + tolerance], then falling
 * linearly to 0 at a distance of `falloff` beyond the band (and below 0 if
 * `floor` < 0).  Length is counted in `unit`: "chars" (UTF-8 code points),
 * "words" (whitespace-separated) or "tokens" (needs response ids).
 *
 * Config keys:
 *   target     number >= 0      default 50
 *   tolerance  number >= 0      default 10
 *   falloff    number > 0       default = target (at least 1)
 *   floor      number <= 0      default 0: the lowest reward given
 *   unit       "chars" | "words" | "tokens"   default "words"
 *
 * Extra metric: "length" (the measured length).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pconfig.h"
#include "rlaif/plugin.h"

enum unit { UNIT_CHARS, UNIT_WORDS, UNIT_TOKENS };

typedef struct length_reward {
    double target, tolerance, falloff, floor;
    enum unit unit;
} length_reward;

static const char *const metric_names[] = {"length"};

static rlaif_status length_create(const rlaif_host *host, const char *config, void **out,
                                  char *err, size_t errlen)
{
    (void)host;
    static const char *const keys[] = {"target", "tolerance", "falloff", "floor", "unit", NULL};
    static const char *const units[] = {"chars", "words", "tokens", NULL};
    pconfig c;
    if (pconfig_open(&c, "reward/length", config, err, errlen)) return pconfig_close(&c);
    length_reward r;
    r.target = pconfig_number(&c, "target", 50, 0, 1e9);
    r.tolerance = pconfig_number(&c, "tolerance", 10, 0, 1e9);
    r.falloff = pconfig_number(&c, "falloff", r.target > 1 ? r.target : 1, 1e-9, 1e9);
    r.floor = pconfig_number(&c, "floor", 0, -1e9, 0);
    r.unit = (enum unit)pconfig_enum(&c, "unit", "words", units);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st != RLAIF_OK) return st;

    length_reward *self = malloc(sizeof *self);
    if (!self) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/length: out of memory");
    *self = r;
    *out = self;
    return RLAIF_OK;
}

static void length_destroy(void *self) { free(self); }

/* Code points: count bytes that do not continue a UTF-8 sequence. */
static size_t count_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static size_t count_words(const char *s)
{
    size_t n = 0;
    int in_word = 0;
    for (; *s; s++) {
        int space = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r';
        if (!space && !in_word) n++;
        in_word = !space;
    }
    return n;
}

/* The shape of the reward as a function of measured length. */
static double length_to_reward(const length_reward *r, double len)
{
    double d = fabs(len - r->target) - r->tolerance;
    if (d <= 0) return 1.0;
    double v = 1.0 - d / r->falloff;
    return v < r->floor ? r->floor : v;
}

static rlaif_status length_describe(void *self, rlaif_reward_desc *out)
{
    (void)self;
    out->n_metrics = 1;
    out->metric_names = metric_names;
    return RLAIF_OK;
}

static rlaif_status length_score(void *vself, const rlaif_reward_batch *b, rlaif_reward_out *out,
                                 char *err, size_t errlen)
{
    const length_reward *self = vself;
    if (self->unit == UNIT_TOKENS && (!b->response_ids || !b->response_len))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "reward/length: unit 'tokens' needs the responses' token ids");
    for (size_t i = 0; i < b->n; i++) {
        double len = 0;
        switch (self->unit) {
        case UNIT_CHARS: len = (double)count_chars(b->responses[i]); break;
        case UNIT_WORDS: len = (double)count_words(b->responses[i]); break;
        case UNIT_TOKENS: len = (double)b->response_len[i]; break;
        }
        out->rewards[i] = (float)length_to_reward(self, len);
        if (out->metrics) out->metrics[i] = (float)len;
        if (out->details) out->details[i] = NULL;
    }
    return RLAIF_OK;
}

static const rlaif_reward_vtable length_vtable = {
    .base = {.struct_size = sizeof(rlaif_reward_vtable),
             .create = length_create,
             .destroy = length_destroy},
    .describe = length_describe,
    .score = length_score,
};

static const rlaif_plugin_info length_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_REWARD,
    .name = "length",
    .version = "1.0.0",
    .description = "reward for a response length within a target band",
    .caps = RLAIF_CAP_THREAD_SAFE,
    .vtable = &length_vtable,
};

RLAIF_PLUGIN(&length_info)
