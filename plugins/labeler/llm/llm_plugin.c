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

#include "ldraw.h"
#include "lconfig.h"
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

uint64_t llm_request_seed(const llm_labeler *L, uint64_t req_seed)
{
    return lab_request_seed(L->seed, req_seed);
}

size_t llm_pick_principle(const llm_labeler *L, uint64_t seed, uint32_t round)
{
    return lab_draw_principle(L->con, L->subset, L->n_subset, seed, round);
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
    lab_cfg_free(L->con, L->chat, L->subset, L->stop, L->n_stop);
    free(L);
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
    return lab_cfg_check_probes(LLM_WHO, L->con, L->subset, L->n_subset, err, errlen);
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
    lab_cfg_clamp(&c, &L->clamp_hi, " (a symmetric clamp keeps p(a>b) + p(b>a) = 1)");
    L->seed = (uint64_t)pconfig_int(&c, "seed", 0, 0, INT64_MAX);
    L->max_rationale_tokens = (uint32_t)pconfig_int(&c, "max_rationale_tokens", 64, 1, 4096);
    L->max_new_tokens = (uint32_t)pconfig_int(&c, "max_new_tokens", 128, 1, 8192);
    L->temperature = (float)pconfig_number(&c, "temperature", 0, 0, 5);
    L->batch_size = (size_t)pconfig_int(&c, "batch_size", 32, 1, 4096);
    const char **stops = NULL, **ids = NULL;
    size_t n_stops = pconfig_strings(&c, "stop", &stops);
    size_t n_ids = pconfig_strings(&c, "principles", &ids);
    lab_cfg_check_chat(&c, chat);
    lab_cfg_stops(&c, stops, n_stops, &L->stop, &L->n_stop);
    /* The constitution next: principles and mode defaults depend on it. */
    if (!c.failed) {
        rlaif_status st = lab_cfg_constitution(L->host, LLM_WHO, pconfig_item(&c, "constitution"),
                                               &L->con, err, errlen);
        if (st) {
            c.failed = 1; /* err already holds the message */
            free(stops);
            free(ids);
            pconfig_close(&c);
            return st;
        }
    }
    if (!c.failed) {
        lab_cfg_mode_chat(&c, L->con, mode, chat, &L->mode, &L->chat);
        lab_cfg_principles(&c, L->con, ids, n_ids, &L->subset, &L->n_subset);
        if (L->cot && L->mode == LAB_MODE_PROBE)
            pconfig_fail(&c, "config key 'cot': chain-of-thought needs mode \"instruct\"");
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
    lab_tally_stats(&L->tally, L->n_rounds, L->stats);
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
