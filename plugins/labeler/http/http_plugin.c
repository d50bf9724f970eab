/*
 * labeler/http — a constitution-driven AI labeler over an OpenAI-compatible
 * server (rlaif serve, llama.cpp server, vLLM, Ollama).  Same prompts, same
 * principle draw and same arithmetic as labeler/llm, so a model served by
 * `rlaif serve` labels like the same model loaded locally.
 *
 * Config keys:
 *   base_url      string, required   e.g. "http://127.0.0.1:8080/v1"
 *   model         string             the "model" field of requests (default "default")
 *   api_key       string             sent as "Authorization: Bearer KEY"
 *   api_key_env   string             the name of an environment variable holding
 *                                    the key (read at create; api_key wins)
 *   endpoint      "completions" | "chat"            default "completions"
 *   method        "top_logprobs" | "echo"           default "top_logprobs":
 *                   top_logprobs  one generated token and its top alternatives;
 *                                 labels must be single tokens of the server
 *                   echo          the server scores prompt ⊕ label itself
 *                                 (completions only); any label, and probe mode
 *   constitution  a name, a path or an object (as labeler/llm), required
 *   mode          "instruct" | "probe"              default: the constitution's
 *                                                   (probe needs method "echo")
 *   chat_template "plain" | "chatml" | "llama2" | custom   default: the
 *                 constitution's; how the labeler wraps prompts for the
 *                 completions endpoint (the chat endpoint uses the server's)
 *   clamp         [lo, hi], lo + hi = 1             default none
 *   seed          integer >= 0                      default 0 (mixed with each request's)
 *   principles    array of principle ids            default all
 *   timeout_ms    integer 1..3600000                default 60000, per attempt
 *   retries       integer 0..20                     default 3 (429, 5xx, connection errors)
 *   backoff_ms    integer 0..60000                  default 250, doubled per retry
 *   concurrency   integer 1..256                    default 4 requests in flight
 *   top_logprobs  integer 1..1000                   default 20 alternatives asked for
 *   fallback      "floor" | "echo"                  default "floor": what the top
 *                 method does when a label is not among the alternatives:
 *                 bound it by the smallest shown, or ask again with echo
 *                 (exact; completions endpoint only)
 *   max_new_tokens integer 1..8192                  default 128 (critiques, revisions)
 *   temperature   number 0..2                       default 0 (greedy critiques/revisions)
 *   stop          array of at most 15 strings       default none: generation stops
 *
 * Statistics: comparisons, position_bias, first_shown_wins, scores,
 * revision_rounds, requests, retries, labels_missing (labels not among the
 * top alternatives: their log-probability was bounded by the smallest one
 * shown).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http_labeler.h"
#include "lconfig.h"
#include "pconfig.h"

/* ===== Create and destroy =============================================== */

static void hl_destroy(void *self)
{
    http_labeler *L = self;
    if (!L) return;
    free(L->url);
    free(L->model);
    free(L->auth);
    hl_results_reset(L);
    free(L->owned);
    lab_cfg_free(L->con, L->chat, L->subset, L->stop, L->n_stop);
    free(L);
}

/* base_url without trailing slashes, then the endpoint's path. */
static char *endpoint_url(const char *base, int endpoint)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/') n--;
    const char *tail = endpoint == HL_ENDPOINT_CHAT ? "/chat/completions" : "/completions";
    char *u = malloc(n + strlen(tail) + 1);
    if (!u) return NULL;
    memcpy(u, base, n);
    strcpy(u + n, tail);
    return u;
}

static void read_key(http_labeler *L, pconfig *c)
{
    const char *key = pconfig_string(c, "api_key", NULL);
    const char *env = pconfig_string(c, "api_key_env", NULL);
    if (c->failed) return;
    if (!key && env) {
        key = getenv(env);
        if (!key || !*key) {
            pconfig_fail(c, "config key 'api_key_env': environment variable '%s' is not set", env);
            return;
        }
    }
    if (!key) return;
    size_t n = strlen(key) + 32;
    if ((L->auth = malloc(n))) snprintf(L->auth, n, "Authorization: Bearer %s", key);
    else pconfig_fail(c, "out of memory");
}

static rlaif_status read_config(http_labeler *L, const char *config, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "base_url", "model",  "api_key", "api_key_env", "endpoint",   "method",
        "constitution", "mode", "chat_template", "clamp", "seed", "principles",
        "timeout_ms", "retries", "backoff_ms", "concurrency", "top_logprobs", "fallback",
        "max_new_tokens", "temperature", "stop", NULL};
    static const char *const endpoints[] = {"completions", "chat", NULL};
    static const char *const methods[] = {"top_logprobs", "echo", NULL};
    static const char *const modes[] = {"instruct", "probe", "", NULL};
    static const char *const fallbacks[] = {"floor", "echo", NULL};
    pconfig c;
    if (pconfig_open(&c, HL_WHO, config, err, errlen)) return pconfig_close(&c);
    pconfig_no_other_keys(&c, keys);
    const char *base = pconfig_string(&c, "base_url", NULL);
    if (!c.failed && (!base || (strncmp(base, "http://", 7) && strncmp(base, "https://", 8))))
        pconfig_fail(&c, "config key 'base_url': required, an http:// or https:// URL such as "
                     "\"http://127.0.0.1:8080/v1\"");
    L->model = strdup(pconfig_string(&c, "model", "default"));
    read_key(L, &c);
    L->endpoint = pconfig_enum(&c, "endpoint", "completions", endpoints);
    L->method = pconfig_enum(&c, "method", "top_logprobs", methods);
    int mode = pconfig_enum(&c, "mode", "", modes);
    const char *chat = pconfig_string(&c, "chat_template", NULL);
    lab_cfg_clamp(&c, &L->clamp_hi, "");
    L->seed = (uint64_t)pconfig_int(&c, "seed", 0, 0, INT64_MAX);
    L->timeout_ms = (long)pconfig_int(&c, "timeout_ms", 60000, 1, 3600000);
    L->retries = (int)pconfig_int(&c, "retries", 3, 0, 20);
    L->backoff_ms = (long)pconfig_int(&c, "backoff_ms", 250, 0, 60000);
    L->concurrency = (int)pconfig_int(&c, "concurrency", 4, 1, 256);
    L->top_logprobs = (int)pconfig_int(&c, "top_logprobs", 20, 1, 1000);
    L->fallback_echo = pconfig_enum(&c, "fallback", "floor", fallbacks) == 1;
    L->max_new_tokens = (uint32_t)pconfig_int(&c, "max_new_tokens", 128, 1, 8192);
    L->temperature = (float)pconfig_number(&c, "temperature", 0, 0, 2);
    const char **ids = NULL, **stops = NULL;
    size_t n_ids = pconfig_strings(&c, "principles", &ids);
    size_t n_stops = pconfig_strings(&c, "stop", &stops);
    lab_cfg_stops(&c, stops, n_stops, &L->stop, &L->n_stop);
    free(stops);
    lab_cfg_check_chat(&c, chat);
    if (!c.failed && L->method == HL_METHOD_ECHO && L->endpoint == HL_ENDPOINT_CHAT)
        pconfig_fail(&c, "config key 'method': \"echo\" needs endpoint \"completions\" (chat "
                     "endpoints do not score the prompt)");
    if (!c.failed && L->fallback_echo && L->endpoint == HL_ENDPOINT_CHAT)
        pconfig_fail(&c, "config key 'fallback': \"echo\" needs endpoint \"completions\"");
    if (!c.failed && !(L->url = endpoint_url(base, L->endpoint))) pconfig_fail(&c, "out of memory");
    if (!c.failed && !L->model) pconfig_fail(&c, "out of memory");
    if (!c.failed) {
        rlaif_status st = lab_cfg_constitution(L->host, HL_WHO, pconfig_item(&c, "constitution"),
                                               &L->con, err, errlen);
        if (st) {
            free(ids);
            c.failed = 1;
            pconfig_close(&c);
            return st;
        }
        lab_cfg_mode_chat(&c, L->con, mode, chat, &L->mode, &L->chat);
        lab_cfg_principles(&c, L->con, ids, n_ids, &L->subset, &L->n_subset);
        if (!c.failed && L->mode == LAB_MODE_PROBE && L->method != HL_METHOD_ECHO)
            pconfig_fail(&c, "mode \"probe\" reads whole-text likelihoods: set \"method\": "
                         "\"echo\" (and endpoint \"completions\")");
    }
    free(ids);
    return pconfig_close(&c);
}

/* Probe mode needs a probe for every principle that may be drawn. */
static rlaif_status check_probes(http_labeler *L, char *err, size_t errlen)
{
    if (L->mode != LAB_MODE_PROBE) return RLAIF_OK;
    return lab_cfg_check_probes(HL_WHO, L->con, L->subset, L->n_subset, err, errlen);
}

static rlaif_status hl_create(const rlaif_host *host, const char *config, void **out, char *err,
                              size_t errlen)
{
    /* Idempotent after the first call; the host is single-threaded at create. */
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return rlaif_errorf(err, errlen, RLAIF_E_EXTERNAL, HL_WHO ": curl_global_init failed");
        curl_ready = 1;
    }
    http_labeler *L = calloc(1, sizeof *L);
    if (!L) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, HL_WHO ": out of memory");
    L->host = host;
    rlaif_status st = read_config(L, config, err, errlen);
    if (!st) st = check_probes(L, err, errlen);
    if (st) {
        hl_destroy(L);
        return st;
    }
    *out = L;
    return RLAIF_OK;
}

/* ===== Statistics ======================================================= */

static rlaif_status hl_stats(void *self, const rlaif_stat **stats, size_t *n)
{
    http_labeler *L = self;
    lab_tally_stats(&L->tally, L->n_rounds, L->stats);
    L->stats[5] = (rlaif_stat){"requests", (double)L->n_requests};
    L->stats[6] = (rlaif_stat){"retries", (double)L->n_retries};
    L->stats[7] = (rlaif_stat){"labels_missing", (double)L->n_missing};
    *stats = L->stats;
    *n = HL_N_STATS;
    return RLAIF_OK;
}

/* ===== The plugin ======================================================= */

static const rlaif_labeler_vtable hl_vtable = {
    .base = {.struct_size = sizeof(rlaif_labeler_vtable),
             .create = hl_create,
             .destroy = hl_destroy},
    .compare = hl_compare,
    .score = hl_score,
    .revise = hl_revise,
    .stats = hl_stats,
};

static const rlaif_plugin_info hl_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_LABELER,
    .name = "http",
    .version = "1.0.0",
    .description = "constitution-driven AI labeler over an OpenAI-compatible server (libcurl)",
    .caps = RLAIF_CAP_LABELER_COMPARE | RLAIF_CAP_LABELER_SCORE | RLAIF_CAP_LABELER_REVISE,
    .vtable = &hl_vtable,
};

RLAIF_PLUGIN(&hl_info)
