/*
 * test_serve.c — `rlaif serve` over stories260K, checked against the same
 * model loaded in this process: seeded completions equal the model's own
 * generate(), logprobs equal its forward()/next_logprobs() and are
 * normalised, and every protocol error has its status and OpenAI-shaped
 * message.  One server (an unchecked fixture, so it is stopped even when a
 * test fails) serves all tests but the signal ones, which run their own.
 */
#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core.h"
#include "serve_util.h"

static st_server server;

static void server_up(void)
{
    if (st_fixture_up(&server, NULL, "test_serve")) exit(EXIT_FAILURE);
}

/* An unclean exit of the server fails the program. */
static void server_down(void)
{
    if (st_fixture_down(&server, "test_serve") != 0) exit(EXIT_FAILURE);
}

/* ===== The model, locally =============================================== */

typedef struct local_model {
    rlc_instance *in;
    const rlaif_model_vtable *vt;
    void *self;
    int vocab, eos;
} local_model;

static local_model local_open(void)
{
    char err[1024] = "", cfg[4200];
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_MODEL, "transformer", err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\"}", st_model_path());
    local_model m = {0};
    m.in = rlc_instance_create(p, cfg, err, sizeof err);
    ck_assert_msg(m.in != NULL, "%s", err);
    m.vt = rlc_instance_vtable(m.in);
    m.self = rlc_instance_self(m.in);
    rlaif_model_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(m.vt->info(m.self, &info), RLAIF_OK);
    m.vocab = info.vocab_size;
    m.eos = info.eos_id;
    return m;
}

static size_t local_tokenize(local_model *m, const char *text, int32_t *ids, size_t cap)
{
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(m->vt->tokenize(m->self, text, strlen(text), 1, ids, cap, &n, err, sizeof err),
                     RLAIF_OK);
    return n;
}

/* ===== Helpers ========================================================== */

static st_response post(const char *path, const char *body)
{
    st_response r;
    ck_assert_msg(st_http(server.port, "POST", path, body, &r) == 0, "no answer to %s", path);
    return r;
}

static const cJSON *at(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(v != NULL, "missing key '%s'", key);
    return v;
}

static void expect_error(const st_response *r, int status, const char *param)
{
    ck_assert_msg(r->status == status, "status %d, expected %d: %s", r->status, status, r->body);
    ck_assert_ptr_nonnull(r->json);
    const cJSON *e = at(r->json, "error");
    ck_assert(cJSON_IsString(at(e, "message")) && strlen(at(e, "message")->valuestring) > 5);
    ck_assert_str_eq(at(e, "type")->valuestring, "invalid_request_error");
    if (param) {
        ck_assert_msg(cJSON_IsString(at(e, "param")), "no param in %s", r->body);
        ck_assert_str_eq(at(e, "param")->valuestring, param);
        ck_assert_msg(strstr(at(e, "message")->valuestring, param), "message does not name '%s'",
                      param);
    }
}

/* ===== Tests ============================================================ */

START_TEST(models_lists_the_model)
{
    st_response r;
    ck_assert_int_eq(st_http(server.port, "GET", "/v1/models", NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(at(r.json, "object")->valuestring, "list");
    const cJSON *m = cJSON_GetArrayItem(at(r.json, "data"), 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(at(m, "id")->valuestring, "stories260K");
    ck_assert_str_eq(at(m, "object")->valuestring, "model");
    ck_assert_int_eq(at(m, "vocab_size")->valueint, 512);
    st_response_free(&r);
}
END_TEST

/* A seeded sampled completion is the model's own generate() with that seed. */
START_TEST(seeded_completion_equals_generate)
{
    const char *prompt = "Lily was sad because";
    st_response r = post("/v1/completions",
                         "{\"prompt\": \"Lily was sad because\", \"max_tokens\": 40, "
                         "\"temperature\": 0.9, \"top_p\": 0.95, \"seed\": 1234}");
    ck_assert_msg(r.status == 200, "%s", r.body);
    const cJSON *c = cJSON_GetArrayItem(at(r.json, "choices"), 0);
    const char *text = at(c, "text")->valuestring;

    local_model m = local_open();
    int32_t ids[256];
    size_t n = local_tokenize(&m, prompt, ids, 256);
    const int32_t *pp = ids;
    rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = 1, .ids = &pp, .len = &n};
    rlaif_sampling s = {.struct_size = sizeof s, .temperature = 0.9f, .top_p = 0.95f,
                        .max_new_tokens = 40, .seed = 1234};
    int32_t gen[40];
    float glp[40];
    size_t n_new = 0;
    uint8_t fin = 0;
    rlaif_generation g = {.struct_size = sizeof g, .ids = gen, .logprobs = glp, .n_new = &n_new,
                          .finish = &fin};
    char err[512] = "", out[4096];
    ck_assert_msg(m.vt->generate(m.self, &seqs, &s, &g, err, sizeof err) == RLAIF_OK, "%s", err);
    size_t len = 0;
    ck_assert_int_eq(m.vt->detokenize(m.self, gen, n_new, 1, out, sizeof out, &len, err, sizeof err),
                     RLAIF_OK);
    ck_assert_msg(strcmp(text, out) == 0, "server: '%s'\nlocal:  '%s'", text, out);
    ck_assert_msg(strlen(text) > 20, "too short to mean anything: '%s'", text);
    const cJSON *usage = at(r.json, "usage");
    ck_assert_int_eq(at(usage, "prompt_tokens")->valueint, (int)n);
    /* The server does not count the EOS token that ends a text. */
    size_t want = n_new - (n_new && gen[n_new - 1] == m.eos ? 1 : 0);
    ck_assert_int_eq(at(usage, "completion_tokens")->valueint, (int)want);
    /* The same request again: the same text. */
    st_response r2 = post("/v1/completions",
                          "{\"prompt\": \"Lily was sad because\", \"max_tokens\": 40, "
                          "\"temperature\": 0.9, \"top_p\": 0.95, \"seed\": 1234}");
    ck_assert_str_eq(at(cJSON_GetArrayItem(at(r2.json, "choices"), 0), "text")->valuestring, text);
    st_response_free(&r);
    st_response_free(&r2);
    rlc_instance_unref(m.in);
}
END_TEST

/* Logprobs are the model's: the sampled token's equals forward(), the top
 * alternatives equal next_logprobs() over the prompt, best first. */
START_TEST(logprobs_match_the_model)
{
    const char *prompt = "Once upon a time";
    st_response r = post("/v1/completions",
                         "{\"prompt\": \"Once upon a time\", \"max_tokens\": 6, "
                         "\"temperature\": 0, \"logprobs\": 5}");
    ck_assert_msg(r.status == 200, "%s", r.body);
    const cJSON *c = cJSON_GetArrayItem(at(r.json, "choices"), 0);
    const cJSON *lp = at(c, "logprobs");
    const cJSON *toks = at(lp, "tokens"), *tlp = at(lp, "token_logprobs");
    const cJSON *top = at(lp, "top_logprobs");
    ck_assert_int_eq(cJSON_GetArraySize(toks), 6);
    ck_assert_int_eq(cJSON_GetArraySize(tlp), 6);

    local_model m = local_open();
    int32_t ids[256];
    size_t n = local_tokenize(&m, prompt, ids, 256);
    const int32_t *pp = ids;
    rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = 1, .ids = &pp, .len = &n};
    float *dist = malloc((size_t)m.vocab * sizeof *dist);
    char err[256];
    ck_assert_int_eq(m.vt->next_logprobs(m.self, &seqs, dist, err, sizeof err), RLAIF_OK);
    /* Greedy: the first token is the argmax, and its logprob the max. */
    int best = 0;
    double z = 0;
    for (int v = 0; v < m.vocab; v++) {
        if (dist[v] > dist[best]) best = v;
        z += exp(dist[v]);
    }
    ck_assert_msg(fabs(z - 1) < 1e-4, "local distribution sums to %g", z);
    double first = cJSON_GetArrayItem(tlp, 0)->valuedouble;
    ck_assert_msg(fabs(first - dist[best]) < 1e-5, "token logprob %g vs local %g", first,
                  (double)dist[best]);
    /* Top-5 of the first position, in order, as the local distribution's. */
    const cJSON *t0 = cJSON_GetArrayItem(top, 0), *e;
    double prev = 0;
    int k = 0;
    cJSON_ArrayForEach(e, t0) {
        ck_assert(e->valuedouble <= prev + 1e-7);
        prev = e->valuedouble;
        int rank = 0; /* how many local entries are strictly larger */
        for (int v = 0; v < m.vocab; v++) rank += dist[v] > e->valuedouble + 1e-5;
        ck_assert_msg(rank <= k, "alternative %d ('%s', %g) is not the local rank %d", k,
                      e->string, e->valuedouble, k);
        k++;
    }
    ck_assert_int_ge(k, 4); /* five, unless two tokens share a text */
    ck_assert_str_eq(at(c, "finish_reason")->valuestring, "length");
    free(dist);
    st_response_free(&r);
    rlc_instance_unref(m.in);
}
END_TEST

/* All 512 alternatives (chat shape, no merging of equal texts) sum to 1. */
START_TEST(top_logprobs_are_normalised)
{
    st_response r = post("/v1/chat/completions",
                         "{\"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story\"}],"
                         " \"max_tokens\": 3, \"seed\": 7, \"logprobs\": true,"
                         " \"top_logprobs\": 512}");
    ck_assert_msg(r.status == 200, "%s", r.body);
    const cJSON *c = cJSON_GetArrayItem(at(r.json, "choices"), 0);
    ck_assert_str_eq(at(at(c, "message"), "role")->valuestring, "assistant");
    const cJSON *content = at(at(c, "logprobs"), "content"), *tok;
    ck_assert_int_eq(cJSON_GetArraySize(content), 3);
    cJSON_ArrayForEach(tok, content) {
        const cJSON *tops = at(tok, "top_logprobs"), *e;
        ck_assert_int_eq(cJSON_GetArraySize(tops), 512);
        double z = 0, own = at(tok, "logprob")->valuedouble;
        int found = 0;
        cJSON_ArrayForEach(e, tops) {
            z += exp(at(e, "logprob")->valuedouble);
            found |= strcmp(at(e, "token")->valuestring, at(tok, "token")->valuestring) == 0 &&
                     fabs(at(e, "logprob")->valuedouble - own) < 1e-5;
        }
        ck_assert_msg(fabs(z - 1) < 1e-4, "alternatives sum to %g", z);
        ck_assert_msg(found, "the sampled token is not among its alternatives");
        ck_assert(cJSON_IsArray(at(tok, "bytes")));
    }
    st_response_free(&r);
}
END_TEST

/* echo + max_tokens 0 scores the prompt: the sum equals forward()'s. */
START_TEST(echo_scores_the_prompt)
{
    const char *prompt = "The cat sat on the mat. It was happy.";
    st_response r = post("/v1/completions",
                         "{\"prompt\": \"The cat sat on the mat. It was happy.\", "
                         "\"max_tokens\": 0, \"echo\": true, \"logprobs\": 0}");
    ck_assert_msg(r.status == 200, "%s", r.body);
    const cJSON *c = cJSON_GetArrayItem(at(r.json, "choices"), 0);
    ck_assert_str_eq(at(c, "text")->valuestring, prompt);
    const cJSON *tlp = at(at(c, "logprobs"), "token_logprobs"), *e;
    ck_assert(cJSON_IsNull(at(at(c, "logprobs"), "top_logprobs")));
    double sum = 0;
    cJSON_ArrayForEach(e, tlp) sum += e->valuedouble;

    local_model m = local_open();
    int32_t ids[256];
    size_t n = local_tokenize(&m, prompt, ids, 256);
    ck_assert_int_eq(cJSON_GetArraySize(tlp), (int)n - 1); /* every token after BOS */
    const int32_t *pp = ids;
    rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = 1, .ids = &pp, .len = &n};
    float lp[256];
    rlaif_outputs o = {.struct_size = sizeof o, .logprobs = lp};
    char err[256];
    ck_assert_int_eq(m.vt->forward(m.self, &seqs, RLAIF_OUT_LOGPROBS, 1.0f, &o, err, sizeof err),
                     RLAIF_OK);
    double want = 0;
    for (size_t t = 0; t + 1 < n; t++) want += lp[t];
    ck_assert_msg(fabs(sum - want) < 1e-4, "echo sum %g, forward %g", sum, want);
    st_response_free(&r);
    rlc_instance_unref(m.in);
}
END_TEST

START_TEST(stop_strings_cut_the_text)
{
    st_response r = post("/v1/completions",
                         "{\"prompt\": \"Once upon a time\", \"max_tokens\": 30, "
                         "\"temperature\": 0, \"stop\": [\"Lily\"], \"n\": 2}");
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_int_eq(cJSON_GetArraySize(at(r.json, "choices")), 2);
    const cJSON *c;
    cJSON_ArrayForEach(c, at(r.json, "choices")) {
        /* Greedy stories260K says ", there was a little girl named Lily." */
        ck_assert_str_eq(at(c, "text")->valuestring, ", there was a little girl named ");
        ck_assert_str_eq(at(c, "finish_reason")->valuestring, "stop");
    }
    st_response_free(&r);
}
END_TEST

START_TEST(bad_requests_answer_400_naming_the_field)
{
    st_response r = post("/v1/completions", "{\"prompt\": \"x\", ");
    expect_error(&r, 400, NULL);
    ck_assert(strstr(r.body, "not valid JSON"));
    st_response_free(&r);
    r = post("/v1/completions", "[1, 2]");
    expect_error(&r, 400, NULL);
    st_response_free(&r);
    const char *cases[][2] = {
        {"{\"prompt\": 3}", "prompt"},
        {"{}", "prompt"},
        {"{\"prompt\": \"x\", \"max_tokens\": \"ten\"}", "max_tokens"},
        {"{\"prompt\": \"x\", \"temperature\": 9}", "temperature"},
        {"{\"prompt\": \"x\", \"logprobs\": true}", "logprobs"},
        {"{\"prompt\": \"x\", \"stop\": [1]}", "stop"},
        {"{\"prompt\": \"x\", \"n\": 0}", "n"},
        {"{\"prompt\": \"x\", \"echo\": 1}", "echo"},
        {"{\"prompt\": \"x\", \"max_tokens\": 100000}", "max_tokens"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = post("/v1/completions", cases[i][0]);
        expect_error(&r, 400, cases[i][1]);
        st_response_free(&r);
    }
    r = post("/v1/chat/completions", "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}");
    expect_error(&r, 400, "messages[0].role");
    st_response_free(&r);
    r = post("/v1/chat/completions", "{\"messages\": []}");
    expect_error(&r, 400, "messages");
    st_response_free(&r);
}
END_TEST

START_TEST(protocol_errors)
{
    st_response r;
    /* A body over --max-body (1 MiB): 413 before it is read. */
    size_t big = (size_t)3 << 20;
    char *req = malloc(big + 256);
    int hn = snprintf(req, 256, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                      "%zu\r\n\r\n", big);
    memset(req + hn, 'a', big);
    ck_assert_int_eq(st_http_raw(server.port, req, (size_t)hn + big, &r), 0);
    expect_error(&r, 413, NULL);
    st_response_free(&r);
    free(req);
    /* No Content-Length on a POST: 411. */
    const char *nolen = "POST /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n{}";
    ck_assert_int_eq(st_http_raw(server.port, nolen, strlen(nolen), &r), 0);
    expect_error(&r, 411, NULL);
    st_response_free(&r);
    /* Unknown path: 404; wrong method: 405; garbage: 400. */
    ck_assert_int_eq(st_http(server.port, "GET", "/v2/everything", NULL, &r), 0);
    expect_error(&r, 404, NULL);
    st_response_free(&r);
    ck_assert_int_eq(st_http(server.port, "GET", "/v1/completions", NULL, &r), 0);
    expect_error(&r, 405, NULL);
    st_response_free(&r);
    ck_assert_int_eq(st_http(server.port, "POST", "/v1/models", "{}", &r), 0);
    expect_error(&r, 405, NULL);
    st_response_free(&r);
    const char *junk = "HELLO\r\n\r\n";
    ck_assert_int_eq(st_http_raw(server.port, junk, strlen(junk), &r), 0);
    expect_error(&r, 400, NULL);
    st_response_free(&r);
    /* Still serving after all that. */
    ck_assert_int_eq(st_http(server.port, "GET", "/v1/models", NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    st_response_free(&r);
}
END_TEST

/* "Expect: 100-continue": the go-ahead comes before the body is sent
 * (curl waits a second for it on large bodies). */
START_TEST(expect_continue_gets_the_go_ahead)
{
    static const char body[] = "{\"prompt\": \"Once\", \"max_tokens\": 2, \"temperature\": 0}";
    char head[256];
    int hn = snprintf(head, sizeof head, "POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                      "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n", strlen(body));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(send(fd, head, (size_t)hn, 0), hn);
    char buf[4096];
    ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
    ck_assert_int_gt(got, 0);
    buf[got] = 0;
    ck_assert_msg(strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0, "got '%s'", buf);
    ck_assert_int_eq(send(fd, body, strlen(body), 0), (ssize_t)strlen(body));
    size_t n = 0;
    while ((got = recv(fd, buf + n, sizeof buf - 1 - n, 0)) > 0) n += (size_t)got;
    buf[n] = 0;
    close(fd);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK", 15) == 0, "got '%s'", buf);
    ck_assert_msg(strstr(buf, "\"text\":\" upon a\""), "got '%s'", buf);
}
END_TEST

/* Mutated requests (flipped bytes, cuts, insertions of separators and
 * digits) get a well-formed answer with a status of the protocol, or a
 * clean close; the server survives all of them.  Under the sanitizers this
 * is the parser's fuzz test. */
START_TEST(mutated_requests_never_break_the_server)
{
    static const char base[] =
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 62\r\n\r\n{\"prompt\": \"Once\", \"max_tokens\": 2, \"temperature\": 0, \"n\": 1}";
    static const char alphabet[] = "\r\n :0123456789{}\"\\\x00\xff/?aZ";
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char buf[512];
    int answered = 0;
    for (int it = 0; it < 300; it++) {
        size_t n = sizeof base - 1;
        memcpy(buf, base, n);
        int edits = 1 + (int)(it % 4);
        for (int e = 0; e < edits; e++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x % n);
            int kind = (int)((x >> 20) % 3);
            if (kind == 0) buf[at] = alphabet[(x >> 32) % (sizeof alphabet - 1)];
            else if (kind == 1) n = at + 1; /* cut */
            else if (n + 1 < sizeof buf) {  /* insert */
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = alphabet[(x >> 32) % (sizeof alphabet - 1)];
                n++;
            }
        }
        st_response r;
        if (st_http_raw_eof(server.port, buf, n, &r) == 0) {
            answered++;
            int ok = r.status == 200 || r.status == 400 || r.status == 404 || r.status == 405 ||
                     r.status == 411 || r.status == 413 || r.status == 431;
            ck_assert_msg(ok, "status %d for mutation %d", r.status, it);
            ck_assert_msg(r.json != NULL, "status %d without a JSON body", r.status);
            st_response_free(&r);
        }
    }
    ck_assert_int_gt(answered, 60); /* cut requests end without an answer: nobody reads it */
    st_response r;
    ck_assert_int_eq(st_http(server.port, "GET", "/v1/models", NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    st_response_free(&r);
}
END_TEST

/* SIGTERM and SIGINT stop the server cleanly (exit status 0). */
START_TEST(signals_stop_cleanly)
{
    int sigs[2] = {SIGTERM, SIGINT};
    for (int i = 0; i < 2; i++) {
        st_server s;
        char msg[2048];
        ck_assert_msg(st_server_start(&s, NULL, NULL, msg, sizeof msg) == 0, "%s", msg);
        st_response r;
        ck_assert_int_eq(st_http(s.port, "GET", "/v1/models", NULL, &r), 0);
        st_response_free(&r);
        int fd = s.err_fd;
        int rc = st_server_stop(&s, sigs[i]);
        s.err_fd = fd;
        char *rest = st_server_stderr(&s);
        ck_assert_msg(rc == 0, "exit status %d after signal %d", rc, sigs[i]);
        ck_assert_msg(rest && strstr(rest, "stopped"), "stderr: %s", rest ? rest : "");
        free(rest);
    }
}
END_TEST

/* A client that sends half a request gets 408 after --timeout, and the
 * server goes on serving others. */
START_TEST(slow_clients_time_out)
{
    st_server s;
    char msg[2048];
    const char *extra[] = {"--timeout", "1", NULL};
    ck_assert_msg(st_server_start(&s, NULL, extra, msg, sizeof msg) == 0, "%s", msg);
    const char *half = "POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"prompt\"";
    st_response r;
    ck_assert_int_eq(st_http_raw(s.port, half, strlen(half), &r), 0);
    ck_assert_int_eq(r.status, 408);
    st_response_free(&r);
    ck_assert_int_eq(st_http(s.port, "GET", "/v1/models", NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    st_response_free(&r);
    ck_assert_int_eq(st_server_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(bad_options_are_refused)
{
    st_server s;
    char msg[2048];
    const char *bad_backend[] = {"--backend", "no_such_backend", NULL};
    ck_assert_int_ne(st_server_start(&s, NULL, bad_backend, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "no_such_backend"), "%s", msg);
    /* --model-config: not an object, a key the command sets, a key the plugin refuses */
    const char *not_object[] = {"--model-config", "[1, 2]", NULL};
    ck_assert_int_ne(st_server_start(&s, NULL, not_object, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "expected a JSON object"), "%s", msg);
    const char *repeats[] = {"--model-config", "{\"path\": \"x\"}", NULL};
    ck_assert_int_ne(st_server_start(&s, NULL, repeats, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "'path' is set by its own option"), "%s", msg);
    const char *bad_value[] = {"--model-config", "{\"matmul\": \"fp8\"}", NULL};
    ck_assert_int_ne(st_server_start(&s, NULL, bad_value, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "matmul"), "%s", msg);
}
END_TEST

/* --model-config reaches the plugin: a bf16 server answers. */
START_TEST(model_config_is_passed_on)
{
    st_server s;
    char msg[2048];
    const char *bf16[] = {"--model-config", "{\"matmul\": \"bf16\", \"decode_bf16\": true}", NULL};
    ck_assert_msg(st_server_start(&s, NULL, bf16, msg, sizeof msg) == 0, "%s", msg);
    st_response r;
    ck_assert_int_eq(st_http(s.port, "POST", "/v1/completions",
                             "{\"prompt\": \"Once upon a time\", \"max_tokens\": 8, "
                             "\"temperature\": 0}", &r), 0);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    st_response_free(&r);
    ck_assert_int_eq(st_server_stop(&s, SIGTERM), 0);
}
END_TEST

int main(void)
{
    rlc_init(NULL);
    char err[512];
    if (!rlc_plugin_find(RLAIF_KIND_MODEL, "transformer", err, sizeof err)) {
        printf("skipped: model/transformer is not available (%s)\n", err);
        rlc_shutdown();
        return 77;
    }
    Suite *s = suite_create("serve");
    TCase *t = tcase_create("server");
    tcase_set_timeout(t, 120);
    tcase_add_unchecked_fixture(t, server_up, server_down);
    tcase_add_test(t, models_lists_the_model);
    tcase_add_test(t, seeded_completion_equals_generate);
    tcase_add_test(t, logprobs_match_the_model);
    tcase_add_test(t, top_logprobs_are_normalised);
    tcase_add_test(t, echo_scores_the_prompt);
    tcase_add_test(t, stop_strings_cut_the_text);
    tcase_add_test(t, bad_requests_answer_400_naming_the_field);
    tcase_add_test(t, protocol_errors);
    tcase_add_test(t, expect_continue_gets_the_go_ahead);
    tcase_add_test(t, mutated_requests_never_break_the_server);
    suite_add_tcase(s, t);
    TCase *life = tcase_create("lifecycle");
    tcase_set_timeout(life, 120);
    tcase_add_test(life, signals_stop_cleanly);
    tcase_add_test(life, slow_clients_time_out);
    tcase_add_test(life, bad_options_are_refused);
    tcase_add_test(life, model_config_is_passed_on);
    suite_add_tcase(s, life);
    return st_run_suite(s);
}
