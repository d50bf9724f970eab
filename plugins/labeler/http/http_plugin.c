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

#include "chat.h"
#include "http_labeler.h"
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
    lab_constitution_free(L->con);
    free(L->chat);
    free(L->subset);
    for (size_t i = 0; i < L->n_stop; i++) free(L->stop[i]);
    free(L->stop);
    free(L);
}

/* The constitution named by the config item (path, name or object). */
static rlaif_status load_constitution(http_labeler *L, const cJSON *item, char *err,
                                      size_t errlen)
{
    if (!item)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            HL_WHO ": config key 'constitution' is required (a name, a path or "
                            "an object)");
    if (cJSON_IsObject(item)) {
        char *text = cJSON_PrintUnformatted(item);
        if (!text) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, HL_WHO ": out of memory");
        rlaif_status st = lab_constitution_parse(text, strlen(text), "config key 'constitution'",
                                                 &L->con, err, errlen);
        free(text);
        return st;
    }
    if (!cJSON_IsString(item) || !item->valuestring[0])
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            HL_WHO ": config key 'constitution': expected a name, a path or an "
                            "object");
    const char *s = item->valuestring;
    size_t n = strlen(s);
    if (strchr(s, '/') || (n > 5 && strcmp(s + n - 5, ".json") == 0))
        return lab_constitution_load(s, &L->con, err, errlen);
    const char *dir = L->host ? L->host->data_dir : NULL;
    if (!dir)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            HL_WHO ": constitution '%s': the host has no data directory; give a "
                            "path instead", s);
    size_t len = strlen(dir) + n + 32;
    char *path = malloc(len);
    if (!path) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, HL_WHO ": out of memory");
    snprintf(path, len, "%s/constitutions/%s.json", dir, s);
    rlaif_status st = lab_constitution_load(path, &L->con, err, errlen);
    free(path);
    return st;
}

static void read_clamp(http_labeler *L, pconfig *c)
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
        pconfig_fail(c, "config key 'clamp': [%g, %g] must satisfy 0 <= lo <= 0.5 <= hi <= 1 "
                     "and lo + hi = 1", l, h);
        return;
    }
    L->clamp_hi = h;
}

static void read_principles(http_labeler *L, pconfig *c, const char **ids, size_t n)
{
    if (!n || c->failed) return;
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
    read_clamp(L, &c);
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
    if (!c.failed && n_stops > 15) pconfig_fail(&c, "config key 'stop': at most 15 strings");
    if (!c.failed && n_stops) {
        L->stop = calloc(n_stops, sizeof *L->stop);
        for (size_t i = 0; L->stop && i < n_stops; i++)
            if ((L->stop[i] = strdup(stops[i]))) L->n_stop = i + 1;
        if (L->n_stop != n_stops) pconfig_fail(&c, "out of memory");
    }
    free(stops);
    char msg[400];
    if (!c.failed && chat && lab_chat_check(chat, msg, sizeof msg))
        pconfig_fail(&c, "config key 'chat_template': %s", msg);
    if (!c.failed && L->method == HL_METHOD_ECHO && L->endpoint == HL_ENDPOINT_CHAT)
        pconfig_fail(&c, "config key 'method': \"echo\" needs endpoint \"completions\" (chat "
                     "endpoints do not score the prompt)");
    if (!c.failed && L->fallback_echo && L->endpoint == HL_ENDPOINT_CHAT)
        pconfig_fail(&c, "config key 'fallback': \"echo\" needs endpoint \"completions\"");
    if (!c.failed && !(L->url = endpoint_url(base, L->endpoint))) pconfig_fail(&c, "out of memory");
    if (!c.failed && !L->model) pconfig_fail(&c, "out of memory");
    if (!c.failed) {
        rlaif_status st = load_constitution(L, pconfig_item(&c, "constitution"), err, errlen);
        if (st) {
            free(ids);
            c.failed = 1;
            pconfig_close(&c);
            return st;
        }
        L->mode = mode == 0 ? LAB_MODE_INSTRUCT : mode == 1 ? LAB_MODE_PROBE : L->con->mode;
        if (!(L->chat = strdup(chat ? chat : L->con->chat_template))) pconfig_fail(&c, "out of memory");
        read_principles(L, &c, ids, n_ids);
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
    size_t n = L->subset ? L->n_subset : L->con->n_principles;
    for (size_t k = 0; k < n; k++) {
        size_t j = L->subset ? L->subset[k] : k;
        if (!lab_constitution_probe(L->con, j))
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                HL_WHO ": mode \"probe\": principle '%s' of constitution '%s' "
                                "has no probe (and the constitution has no $.probe)",
                                L->con->principles[j].id, L->con->name);
    }
    return RLAIF_OK;
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
    double two = (double)L->n_two_order;
    L->stats[0] = (rlaif_stat){"comparisons", (double)L->n_compare};
    L->stats[1] = (rlaif_stat){"position_bias", two > 0 ? (double)L->n_disagree / two : 0.0};
    L->stats[2] = (rlaif_stat){"first_shown_wins", two > 0 ? (double)L->n_first_wins / (2 * two) : 0.0};
    L->stats[3] = (rlaif_stat){"scores", (double)L->n_score};
    L->stats[4] = (rlaif_stat){"revision_rounds", (double)L->n_rounds};
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
