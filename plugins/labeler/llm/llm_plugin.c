/*
 * labeler/llm — a constitution-driven AI labeler on any model instance.
 *
 * Config keys:
 *   model                 instance {"rlaif_handle": N}     required
 *   constitution          string or object                 required: a path
 *                         (contains '/' or ends in .json), a name looked up as
 *                         <data_dir>/constitutions/<name>.json, or the
 *                         constitution itself as a JSON object
 *   mode                  "instruct" | "probe"             default: the constitution's
 *   chat_template         "plain" | "chatml" | "llama2" | custom with {user}
 *                                                          default: the constitution's
 *   cot                   boolean                          default false
 *   clamp                 [lo, hi], lo + hi = 1            default none ([0, 1])
 *   seed                  integer >= 0                     default 0, mixed with each request's
 *   principles            array of principle ids           default all: those that may be drawn
 *   max_rationale_tokens  integer 1..4096                  default 64
 *   max_new_tokens        integer 1..8192                  default 128 (critiques, revisions)
 *   temperature           number 0..5                      default 0 (greedy critiques/revisions)
 *   stop                  array of strings                 default none: generation stops
 *   batch_size            integer 1..4096                  default 32 sequences per model call
 *
 * Statistics (stats()): comparisons, position_bias (fraction of two-order
 * comparisons whose orders picked different winners), first_shown_wins
 * (fraction of single-order verdicts won by the response shown first),
 * scores, revision_rounds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "llm.h"
#include "pconfig.h"

/* ===== Small services used by the calls ================================= */

void llm_results_reset(llm_labeler *L)
{
    for (size_t i = 0; i < L->n_owned; i++) free(L->owned[i]);
    L->n_owned = 0;
}

char *llm_results_keep(llm_labeler *L, char *s)
{
    if (!s) return NULL;
    if (L->n_owned == L->cap_owned) {
        size_t cap = L->cap_owned ? 2 * L->cap_owned : 16;
        char **p = realloc(L->owned, cap * sizeof *p);
        if (!p) {
            free(s);
            return NULL;
        }
        L->owned = p;
        L->cap_owned = cap;
    }
    L->owned[L->n_owned++] = s;
    return s;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t llm_request_seed(const llm_labeler *L, uint64_t req_seed)
{
    return mix64(req_seed ^ mix64(L->seed ^ 0x6C6162656C6C6D00ull /* "labellm" */));
}

size_t llm_pick_principle(const llm_labeler *L, uint64_t seed, uint32_t round)
{
    uint64_t s = round ? mix64(seed + 0xA24BAED4963EE407ull * round) : seed;
    return lab_constitution_pick(L->con, s, L->subset, L->n_subset);
}

int llm_cancelled(const llm_labeler *L, char *err, size_t errlen)
{
    if (!L->host || !L->host->cancelled || !L->host->cancelled(L->host)) return 0;
    rlaif_errorf(err, errlen, RLAIF_E_CANCELLED, LLM_WHO ": cancelled");
    return 1;
}

/* ===== Create and destroy =============================================== */

static void llm_destroy(void *self)
{
    llm_labeler *L = self;
    if (!L) return;
    llm_results_reset(L);
    free(L->owned);
    if (L->model_handle && L->host && L->host->release) L->host->release(L->host, L->model_handle);
    lab_constitution_free(L->con);
    free(L->chat);
    free(L->subset);
    for (size_t i = 0; i < L->n_stop; i++) free(L->stop[i]);
    free(L->stop);
    free(L);
}

/* Loads the constitution named by the config item (path, name or object). */
static rlaif_status load_constitution(llm_labeler *L, const cJSON *item, char *err,
                                      size_t errlen)
{
    if (!item)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            LLM_WHO ": config key 'constitution' is required (a name, a path or "
                            "an object)");
    if (cJSON_IsObject(item)) {
        char *text = cJSON_PrintUnformatted(item);
        if (!text) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
        rlaif_status st = lab_constitution_parse(text, strlen(text), "config key 'constitution'",
                                                 &L->con, err, errlen);
        free(text);
        return st;
    }
    if (!cJSON_IsString(item) || !item->valuestring[0])
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            LLM_WHO ": config key 'constitution': expected a name, a path or an "
                            "object");
    const char *s = item->valuestring;
    size_t n = strlen(s);
    if (strchr(s, '/') || (n > 5 && strcmp(s + n - 5, ".json") == 0))
        return lab_constitution_load(s, &L->con, err, errlen);
    const char *dir = L->host ? L->host->data_dir : NULL;
    if (!dir)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            LLM_WHO ": constitution '%s': the host has no data directory; give a "
                            "path instead",
                            s);
    size_t len = strlen(dir) + n + 32;
    char *path = malloc(len);
    if (!path) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    snprintf(path, len, "%s/constitutions/%s.json", dir, s);
    rlaif_status st = lab_constitution_load(path, &L->con, err, errlen);
    free(path);
    return st;
}

/* The principle subset: each id must exist. */
static void read_principles(llm_labeler *L, pconfig *c, const char **ids, size_t n)
{
    if (!n) return;
    L->subset = malloc(n * sizeof *L->subset);
    if (!L->subset) {
        pconfig_fail(c, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        long j = lab_constitution_find(L->con, ids[i]);
        if (j < 0) {
            pconfig_fail(c, "config key 'principles[%zu]': constitution '%s' has no principle '%s'",
                         i, L->con->name, ids[i]);
            return;
        }
        L->subset[i] = (size_t)j;
    }
    L->n_subset = n;
}

/* clamp: [lo, hi] symmetric about 1/2 (so that clamping keeps p(a≻b) +
 * p(b≻a) = 1). */
static void read_clamp(llm_labeler *L, pconfig *c)
{
    L->clamp_hi = 1.0;
    const cJSON *j = pconfig_item(c, "clamp");
    if (!j || cJSON_IsNull(j) || c->failed) return;
    const cJSON *lo = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 0) : NULL;
    const cJSON *hi = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 1) : NULL;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 || !cJSON_IsNumber(lo) ||
        !cJSON_IsNumber(hi)) {
        pconfig_fail(c, "config key 'clamp': expected [lo, hi] (two numbers)");
        return;
    }
    double l = lo->valuedouble, h = hi->valuedouble;
    if (!(l >= 0 && l <= 0.5 && h >= 0.5 && h <= 1 && fabs(l + h - 1.0) < 1e-9)) {
        pconfig_fail(c,
                     "config key 'clamp': [%g, %g] must satisfy 0 <= lo <= 0.5 <= hi <= 1 and "
                     "lo + hi = 1 (a symmetric clamp keeps p(a>b) + p(b>a) = 1)",
                     l, h);
        return;
    }
    L->clamp_hi = h;
}

/* The model must offer what the chosen mode needs. */
static rlaif_status check_model(llm_labeler *L, char *err, size_t errlen)
{
    const rlaif_model_vtable *mv = L->mv;
    if (!mv->tokenize || !mv->detokenize || !mv->info)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            LLM_WHO ": the model lacks tokenize/detokenize/info");
    rlaif_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    rlaif_status st = mv->info(L->model.self, &info);
    if (st) return rlaif_errorf(err, errlen, st, LLM_WHO ": model info() failed");
    L->vocab_size = info.vocab_size;
    L->max_seq_len = info.max_seq_len;
    L->eos_id = info.eos_id;
    if (L->mode == LAB_MODE_PROBE && !mv->forward)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            LLM_WHO ": mode \"probe\" needs a model with forward()");
    if (L->mode == LAB_MODE_INSTRUCT && !mv->forward && !mv->next_logprobs)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            LLM_WHO ": the model has neither forward() nor next_logprobs()");
    if (L->cot && !mv->generate)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            LLM_WHO ": cot needs a model that can generate()");
    return RLAIF_OK;
}

/* Probe mode needs a probe for every principle that may be drawn. */
static rlaif_status check_probes(llm_labeler *L, char *err, size_t errlen)
{
    if (L->mode != LAB_MODE_PROBE) return RLAIF_OK;
    size_t n = L->subset ? L->n_subset : L->con->n_principles;
    for (size_t k = 0; k < n; k++) {
        size_t j = L->subset ? L->subset[k] : k;
        if (!lab_constitution_probe(L->con, j))
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                LLM_WHO ": mode \"probe\": principle '%s' of constitution '%s' "
                                "has no probe (and the constitution has no $.probe)",
                                L->con->principles[j].id, L->con->name);
    }
    return RLAIF_OK;
}

static rlaif_status read_config(llm_labeler *L, const char *config, char *err, size_t errlen)
{
    static const char *const keys[] = {"model", "constitution", "mode", "chat_template", "cot",
                                       "clamp", "seed", "principles", "max_rationale_tokens",
                                       "max_new_tokens", "temperature", "stop", "batch_size",
                                       NULL};
    static const char *const modes[] = {"instruct", "probe", "", NULL};
    pconfig c;
    if (pconfig_open(&c, LLM_WHO, config, err, errlen)) return pconfig_close(&c);
    pconfig_no_other_keys(&c, keys);
    uint64_t handle = pconfig_handle(&c, "model", 1);
    int mode = pconfig_enum(&c, "mode", "", modes);
    const char *chat = pconfig_string(&c, "chat_template", NULL);
    L->cot = pconfig_bool(&c, "cot", 0);
    read_clamp(L, &c);
    L->seed = (uint64_t)pconfig_int(&c, "seed", 0, 0, INT64_MAX);
    L->max_rationale_tokens = (uint32_t)pconfig_int(&c, "max_rationale_tokens", 64, 1, 4096);
    L->max_new_tokens = (uint32_t)pconfig_int(&c, "max_new_tokens", 128, 1, 8192);
    L->temperature = (float)pconfig_number(&c, "temperature", 0, 0, 5);
    L->batch_size = (size_t)pconfig_int(&c, "batch_size", 32, 1, 4096);
    const char **stops = NULL, **ids = NULL;
    size_t n_stops = pconfig_strings(&c, "stop", &stops);
    size_t n_ids = pconfig_strings(&c, "principles", &ids);
    char msg[400];
    if (!c.failed && chat && lab_chat_check(chat, msg, sizeof msg))
        pconfig_fail(&c, "config key 'chat_template': %s", msg);
    if (!c.failed && n_stops > 15) pconfig_fail(&c, "config key 'stop': at most 15 strings");
    /* The constitution next: principles and mode defaults depend on it. */
    if (!c.failed) {
        rlaif_status st = load_constitution(L, pconfig_item(&c, "constitution"), err, errlen);
        if (st) {
            c.failed = 1; /* err already holds the message */
            free(stops);
            free(ids);
            pconfig_close(&c);
            return st;
        }
    }
    if (!c.failed) {
        L->mode = mode == 0 ? LAB_MODE_INSTRUCT : mode == 1 ? LAB_MODE_PROBE : L->con->mode;
        L->chat = strdup(chat ? chat : L->con->chat_template);
        if (!L->chat) pconfig_fail(&c, "out of memory");
        read_principles(L, &c, ids, n_ids);
        if (L->cot && L->mode == LAB_MODE_PROBE)
            pconfig_fail(&c, "config key 'cot': chain-of-thought needs mode \"instruct\"");
    }
    if (!c.failed && n_stops) {
        L->stop = calloc(n_stops, sizeof *L->stop);
        for (size_t i = 0; L->stop && i < n_stops; i++)
            if ((L->stop[i] = strdup(stops[i]))) L->n_stop = i + 1;
        if (L->n_stop != n_stops) pconfig_fail(&c, "out of memory");
    }
    free(stops);
    free(ids);
    rlaif_status st = pconfig_close(&c);
    if (st) return st;
    L->model_handle = 0;
    L->model.struct_size = sizeof L->model;
    if (!L->host || !L->host->acquire)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, LLM_WHO ": the host cannot lend instances");
    st = L->host->acquire(L->host, handle, RLAIF_KIND_MODEL, &L->model, err, errlen);
    if (st) return st;
    L->model_handle = handle;
    L->mv = L->model.vtable;
    return RLAIF_OK;
}

static rlaif_status llm_create(const rlaif_host *host, const char *config, void **out, char *err,
                               size_t errlen)
{
    llm_labeler *L = calloc(1, sizeof *L);
    if (!L) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, LLM_WHO ": out of memory");
    L->host = host;
    rlaif_status st = read_config(L, config, err, errlen);
    if (!st) st = check_model(L, err, errlen);
    if (!st) st = check_probes(L, err, errlen);
    if (st) {
        llm_destroy(L);
        return st;
    }
    *out = L;
    return RLAIF_OK;
}

/* ===== Statistics ======================================================= */

static rlaif_status llm_stats(void *self, const rlaif_stat **stats, size_t *n)
{
    llm_labeler *L = self;
    double two = (double)L->n_two_order;
    L->stats[0] = (rlaif_stat){"comparisons", (double)L->n_compare};
    L->stats[1] = (rlaif_stat){"position_bias", two > 0 ? (double)L->n_disagree / two : 0.0};
    L->stats[2] = (rlaif_stat){"first_shown_wins", two > 0 ? (double)L->n_first_wins / (2 * two) : 0.0};
    L->stats[3] = (rlaif_stat){"scores", (double)L->n_score};
    L->stats[4] = (rlaif_stat){"revision_rounds", (double)L->n_rounds};
    *stats = L->stats;
    *n = LLM_N_STATS;
    return RLAIF_OK;
}

/* ===== The plugin ======================================================= */

static const rlaif_labeler_vtable llm_vtable = {
    .base = {.struct_size = sizeof(rlaif_labeler_vtable),
             .create = llm_create,
             .destroy = llm_destroy},
    .compare = llm_compare,
    .score = llm_score,
    .revise = llm_revise,
    .stats = llm_stats,
};

static const rlaif_plugin_info llm_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_LABELER,
    .name = "llm",
    .version = "1.0.0",
    .description = "constitution-driven AI labeler on a model instance (pairwise, score, revise)",
    .caps = RLAIF_CAP_LABELER_COMPARE | RLAIF_CAP_LABELER_SCORE | RLAIF_CAP_LABELER_REVISE,
    .vtable = &llm_vtable,
};

RLAIF_PLUGIN(&llm_info)
