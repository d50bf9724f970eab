/*
 * reward/unittest — the fraction of a task's unit tests that the model's
 * code passes, run in a sandbox (sandbox.h) by a harness whose verdicts the
 * code cannot forge (runner.h, docs/sandbox.md).
 *
 * Per sample, the metadata JSON object carries:
 *   tests     a list of test snippets, or one test program (a string);
 *             each snippet is one test
 *   language  "lua" | "python" | "c" (OPTIONAL: else the config's)
 *   entry     the function under test (OPTIONAL): the tests may call it as
 *             `candidate`
 *   isolation "process" | "shared" (OPTIONAL, Python and Lua: overrides the config)
 * The code is the first fenced block of the response in the language (else
 * the first fenced block, else the whole response).
 *
 * Config keys:
 *   language          default language          "python"
 *   timeout_ms        wall clock per sample      10000   (1 .. 600000)
 *   memory_mb         address space per process  512     (16 .. 65536)
 *   max_output_bytes  kept per stream            65536   (1024 .. 64 MiB)
 *   workers           samples run in parallel    2       (1 .. 64)
 *   max_procs         processes per sample       64      (4 .. 4096)
 *   max_file_mb       largest file written       16      (1 .. 4096)
 *   lua, python, cc   the tools' names or paths  "lua5.4", "python3", "cc"
 *   isolation         "process": the candidate's Python or Lua runs in a second
 *                     interpreter that answers the tests' calls with plain data
 *                     (verdicts cannot be forged even by code aimed at the
 *                     harness); "shared": one interpreter (any test style);
 *                     C always shares                        "process"
 *
 * Reward: passed / total (0 for a sample without tests).  Metrics:
 * "passed", "total", "timed_out", "crashed".  Details: JSON with the
 * per-test outcomes and the tail of stderr.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pconfig.h"
#include "rlaif/plugin.h"
#include "runner.h"

#define UT_MAX_WORKERS 64
#define UT_STDERR_TAIL 1500

typedef struct unittest_reward {
    const rlaif_host *host;
    ut_lang language;
    sbx_limits lim;
    int workers;
    int isolated;          /* Python and Lua candidates in their own process (runner.h) */
    ut_tools tools;
    char **details;        /* [n_details] strings handed out by the last score() */
    size_t n_details;
} unittest_reward;

static const char *const metric_names[] = {"passed", "total", "timed_out", "crashed"};
enum { M_PASSED, M_TOTAL, M_TIMED_OUT, M_CRASHED, N_METRICS };

/* ===== Lifecycle ======================================================== */

static rlaif_status unittest_create(const rlaif_host *host, const char *config, void **out,
                                    char *err, size_t errlen)
{
    static const char *const keys[] = {"language", "timeout_ms", "memory_mb", "max_output_bytes",
                                       "workers", "max_procs", "max_file_mb", "lua", "python",
                                       "cc", "isolation", NULL};
    static const char *const langs[] = {"lua", "python", "c", NULL};
    static const char *const isolations[] = {"shared", "process", NULL};
    pconfig c;
    if (pconfig_open(&c, "reward/unittest", config, err, errlen)) return pconfig_close(&c);
    unittest_reward r;
    memset(&r, 0, sizeof r);
    r.host = host;
    r.language = (ut_lang)pconfig_enum(&c, "language", "python", langs);
    r.lim.timeout_ms = (uint32_t)pconfig_int(&c, "timeout_ms", 10000, 1, 600000);
    r.lim.memory_bytes = (uint64_t)pconfig_int(&c, "memory_mb", 512, 16, 65536) << 20;
    r.lim.max_output = (size_t)pconfig_int(&c, "max_output_bytes", 65536, 1024, 64 << 20);
    r.workers = (int)pconfig_int(&c, "workers", 2, 1, UT_MAX_WORKERS);
    r.lim.max_procs = (uint32_t)pconfig_int(&c, "max_procs", 64, 4, 4096);
    r.lim.max_file_bytes = (uint64_t)pconfig_int(&c, "max_file_mb", 16, 1, 4096) << 20;
    r.isolated = pconfig_enum(&c, "isolation", "process", isolations) == 1;
    const char *lua = pconfig_string(&c, "lua", "lua5.4");
    const char *python = pconfig_string(&c, "python", "python3");
    const char *cc = pconfig_string(&c, "cc", "cc");
    if (!c.failed) ut_tools_find(&r.tools, lua, python, cc);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st != RLAIF_OK) return st;

    unittest_reward *self = malloc(sizeof *self);
    if (!self) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/unittest: out of memory");
    *self = r;
    *out = self;
    return RLAIF_OK;
}

static void details_clear(unittest_reward *self)
{
    for (size_t i = 0; i < self->n_details; i++) cJSON_free(self->details[i]);
    free(self->details);
    self->details = NULL;
    self->n_details = 0;
}

static void unittest_destroy(void *vself)
{
    unittest_reward *self = vself;
    if (!self) return;
    details_clear(self);
    free(self);
}

static rlaif_status unittest_describe(void *self, rlaif_reward_desc *out)
{
    (void)self;
    out->n_metrics = N_METRICS;
    out->metric_names = metric_names;
    return RLAIF_OK;
}

/* ===== One sample ======================================================= */

/* A sample's task as read from its metadata; `tests` points into `root`. */
typedef struct sample_task {
    cJSON *root;
    ut_lang lang;
    const char **tests;
    size_t n_tests;
    const char *entry;
    int isolated;
} sample_task;

static void sample_task_free(sample_task *t)
{
    cJSON_Delete(t->root);
    free(t->tests);
    memset(t, 0, sizeof *t);
}

/* Reads the metadata.  A problem with it is the sample's, not the batch's:
 * returns nonzero with `why` filled, and the sample scores 0. */
static int sample_task_read(const unittest_reward *self, const char *meta, sample_task *t,
                            char *why, size_t whylen)
{
    memset(t, 0, sizeof *t);
    t->lang = self->language;
    t->isolated = self->isolated;
    if (!meta) return snprintf(why, whylen, "no metadata (a 'tests' list is needed)"), 1;
    t->root = cJSON_Parse(meta);
    if (!cJSON_IsObject(t->root)) return snprintf(why, whylen, "metadata is not a JSON object"), 1;
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(t->root, "language");
    if (lang) {
        int l = cJSON_IsString(lang) ? ut_lang_from_name(lang->valuestring) : -1;
        if (l < 0) return snprintf(why, whylen, "metadata 'language': expected lua, python or c"), 1;
        t->lang = (ut_lang)l;
    }
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(t->root, "entry");
    if (entry) {
        if (!cJSON_IsString(entry) || !ut_is_identifier(entry->valuestring))
            return snprintf(why, whylen, "metadata 'entry': expected an identifier"), 1;
        t->entry = entry->valuestring;
    }
    const cJSON *iso = cJSON_GetObjectItemCaseSensitive(t->root, "isolation");
    if (iso) {
        if (!cJSON_IsString(iso) ||
            (strcmp(iso->valuestring, "process") && strcmp(iso->valuestring, "shared")))
            return snprintf(why, whylen, "metadata 'isolation': expected process or shared"), 1;
        t->isolated = strcmp(iso->valuestring, "process") == 0;
    }
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(t->root, "tests");
    if (cJSON_IsString(tests)) {
        t->tests = malloc(sizeof *t->tests);
        if (!t->tests) return snprintf(why, whylen, "out of memory"), 1;
        t->tests[0] = tests->valuestring;
        t->n_tests = 1;
        return 0;
    }
    if (!cJSON_IsArray(tests) || cJSON_GetArraySize(tests) == 0)
        return snprintf(why, whylen, "metadata 'tests': expected a non-empty list or a string"), 1;
    size_t n = (size_t)cJSON_GetArraySize(tests);
    t->tests = malloc(n * sizeof *t->tests);
    if (!t->tests) return snprintf(why, whylen, "out of memory"), 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, tests) {
        if (!cJSON_IsString(it))
            return snprintf(why, whylen, "metadata 'tests'[%zu]: expected a string", t->n_tests), 1;
        t->tests[t->n_tests++] = it->valuestring;
    }
    return 0;
}

/* Copies the last `max` bytes of `s`, starting at a UTF-8 boundary and
 * with invalid bytes replaced, so that the details stay valid JSON text. */
static char *utf8_tail(const char *s, size_t len, size_t max)
{
    const unsigned char *p = (const unsigned char *)s + (len > max ? len - max : 0);
    const unsigned char *end = (const unsigned char *)s + len;
    while (p < end && (*p & 0xC0) == 0x80) p++;
    char *out = malloc((size_t)(end - p) + 1);
    if (!out) return NULL;
    size_t n = 0;
    while (p < end) {
        unsigned char c = *p;
        size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                : (c & 0xF8) == 0xF0 ? 4 : 0;
        int ok = k > 0 && (size_t)(end - p) >= k && (k != 1 || c == '\n' || c == '\t' || c >= 0x20);
        for (size_t j = 1; ok && j < k; j++) ok = (p[j] & 0xC0) == 0x80;
        if (ok && k > 1 && c < 0xC2) ok = 0;   /* overlong two-byte forms */
        if (!ok) {
            out[n++] = '?';
            p++;
            continue;
        }
        memcpy(out + n, p, k);
        n += k;
        p += k;
    }
    out[n] = '\0';
    return out;
}

static char *details_json(const sample_task *t, const ut_outcome *o, const sbx_result *sr,
                          const char *error)
{
    static const char *const verdict[] = {"not_run", "pass", "fail"};
    cJSON *d = cJSON_CreateObject();
    if (!d) return NULL;
    if (error) {
        cJSON_AddStringToObject(d, "error", error);
    } else {
        cJSON_AddStringToObject(d, "language", ut_lang_name(t->lang));
        if (t->lang != UT_LANG_C)
            cJSON_AddStringToObject(d, "isolation", o->isolated ? "process" : "shared");
        cJSON_AddNumberToObject(d, "passed", (double)o->passed);
        cJSON_AddNumberToObject(d, "total", (double)o->n_tests);
        cJSON *arr = cJSON_AddArrayToObject(d, "tests");
        for (size_t i = 0; arr && i < o->n_tests; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(verdict[o->status[i]]));
        cJSON_AddBoolToObject(d, "timed_out", o->timed_out);
        cJSON_AddBoolToObject(d, "crashed", o->crashed);
        cJSON_AddBoolToObject(d, "compile_error", o->compile_error);
        cJSON_AddBoolToObject(d, "load_error", o->load_error);
        cJSON_AddBoolToObject(d, "degraded", o->degraded);
        if (sr->signaled && !o->timed_out) cJSON_AddNumberToObject(d, "signal", sr->signal);
        cJSON_AddNumberToObject(d, "wall_ms", sr->wall_ms);
        if (sr->note[0]) cJSON_AddStringToObject(d, "sandbox", sr->note);
        char *tail = utf8_tail(sr->err.data, sr->err.len, UT_STDERR_TAIL);
        if (tail) cJSON_AddStringToObject(d, "stderr_tail", tail);
        free(tail);
    }
    char *s = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    return s;
}

/* ===== The batch, in parallel =========================================== */

typedef struct batch_job {
    unittest_reward *self;
    pthread_t caller;              /* the host's thread: the only one that reports progress */
    atomic_size_t done;
    const rlaif_reward_batch *b;
    rlaif_reward_out *out;
    char **details;                /* [n] */
    atomic_size_t next;
    atomic_int stop;
    atomic_size_t bad_samples;
    pthread_mutex_t err_lock;
    rlaif_status status;
    char err[512];
} batch_job;

static void job_fail(batch_job *job, rlaif_status st, const char *msg)
{
    pthread_mutex_lock(&job->err_lock);
    if (job->status == RLAIF_OK) {
        job->status = st;
        snprintf(job->err, sizeof job->err, "%s", msg);
    }
    pthread_mutex_unlock(&job->err_lock);
    atomic_store(&job->stop, 1);
}

static void put_result(batch_job *job, size_t i, float reward, const float m[N_METRICS],
                       char *details)
{
    job->out->rewards[i] = reward;
    if (job->out->metrics)
        for (int k = 0; k < N_METRICS; k++) job->out->metrics[i * N_METRICS + k] = m[k];
    job->details[i] = details;
}

/* Scores sample i; returns nonzero when the batch must stop. */
static int score_one(batch_job *job, size_t i, sbx_result *sr, uint8_t **status, size_t *cap)
{
    const rlaif_reward_batch *b = job->b;
    sample_task t;
    char why[160];
    float m[N_METRICS] = {0};
    if (sample_task_read(job->self, b->metadata ? b->metadata[i] : NULL, &t, why, sizeof why)) {
        atomic_fetch_add(&job->bad_samples, 1);
        put_result(job, i, 0.0f, m, details_json(&t, NULL, NULL, why));
        sample_task_free(&t);
        return 0;
    }
    if (*cap < t.n_tests) {
        uint8_t *p = realloc(*status, t.n_tests);
        if (!p) {
            sample_task_free(&t);
            job_fail(job, RLAIF_E_NOMEM, "reward/unittest: out of memory");
            return 1;
        }
        *status = p;
        *cap = t.n_tests;
    }
    ut_task task = {.lang = t.lang, .tests = t.tests, .n_tests = t.n_tests, .entry = t.entry,
                    .isolated = t.isolated && t.lang != UT_LANG_C};
    ut_extract_code(b->responses[i] ? b->responses[i] : "", t.lang, &task.code, &task.code_len);
    ut_outcome o = {.status = *status};
    char err[400];
    rlaif_status st = ut_run_task(&task, &job->self->tools, &job->self->lim, sr, &o, err,
                                  sizeof err);
    if (st != RLAIF_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "reward/unittest: sample %zu: %s", i, err);
        sample_task_free(&t);
        job_fail(job, st, msg);
        return 1;
    }
    m[M_PASSED] = (float)o.passed;
    m[M_TOTAL] = (float)o.n_tests;
    m[M_TIMED_OUT] = (float)o.timed_out;
    m[M_CRASHED] = (float)o.crashed;
    put_result(job, i, (float)((double)o.passed / (double)o.n_tests), m,
               details_json(&t, &o, sr, NULL));
    sample_task_free(&t);
    return 0;
}

static void *worker_main(void *arg)
{
    batch_job *job = arg;
    sbx_result sr;
    sbx_result_init(&sr);
    uint8_t *status = NULL;
    size_t cap = 0;
    const rlaif_host *host = job->self->host;
    while (!atomic_load(&job->stop)) {
        if (host && host->cancelled && host->cancelled(host)) {
            job_fail(job, RLAIF_E_CANCELLED, "reward/unittest: cancelled");
            break;
        }
        size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->b->n) break;
        if (score_one(job, i, &sr, &status, &cap)) break;
        size_t done = atomic_fetch_add(&job->done, 1) + 1;
        if (host && host->progress && pthread_equal(pthread_self(), job->caller))
            host->progress(host, "unittest", done, job->b->n);
    }
    free(status);
    sbx_result_free(&sr);
    return NULL;
}

static rlaif_status unittest_score(void *vself, const rlaif_reward_batch *b,
                                   rlaif_reward_out *out, char *err, size_t errlen)
{
    unittest_reward *self = vself;
    details_clear(self);
    if (b->n == 0) return RLAIF_OK;
    if (!b->responses || !out->rewards)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "reward/unittest: the batch needs responses and a rewards array");
    batch_job job;
    memset(&job, 0, sizeof job);
    job.self = self;
    job.b = b;
    job.out = out;
    job.details = calloc(b->n, sizeof *job.details);
    if (!job.details) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/unittest: out of memory");
    job.caller = pthread_self();
    atomic_init(&job.done, 0);
    atomic_init(&job.next, 0);
    atomic_init(&job.stop, 0);
    atomic_init(&job.bad_samples, 0);
    pthread_mutex_init(&job.err_lock, NULL);

    /* The calling thread is one of the workers. */
    size_t n_threads = (size_t)self->workers < b->n ? (size_t)self->workers : b->n;
    pthread_t threads[UT_MAX_WORKERS];
    size_t started = 0;
    for (size_t k = 1; k < n_threads; k++) {
        if (pthread_create(&threads[started], NULL, worker_main, &job) != 0) break;
        started++;
    }
    worker_main(&job);
    for (size_t k = 0; k < started; k++) pthread_join(threads[k], NULL);
    pthread_mutex_destroy(&job.err_lock);

    self->details = job.details;
    self->n_details = b->n;
    if (out->details)
        for (size_t i = 0; i < b->n; i++) out->details[i] = job.details[i];
    size_t bad = atomic_load(&job.bad_samples);
    if (bad && self->host && self->host->log)
        self->host->log(self->host, RLAIF_LOG_WARN, "reward/unittest",
                        "%zu of %zu samples had no usable tests in their metadata (reward 0); "
                        "see their details",
                        bad, b->n);
    if (job.status != RLAIF_OK) return rlaif_errorf(err, errlen, job.status, "%s", job.err);
    return RLAIF_OK;
}

static const rlaif_reward_vtable unittest_vtable = {
    .base = {.struct_size = sizeof(rlaif_reward_vtable),
             .create = unittest_create,
             .destroy = unittest_destroy},
    .describe = unittest_describe,
    .score = unittest_score,
};

static const rlaif_plugin_info unittest_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_REWARD,
    .name = "unittest",
    .version = "1.0.0",
    .description = "fraction of unit tests passed by the response's code, run in a sandbox",
    .caps = 0,
    .vtable = &unittest_vtable,
};

RLAIF_PLUGIN(&unittest_info)
