/*
 * serve.c — the `rlaif serve` command: an OpenAI-compatible HTTP server
 * over one model instance, so that other tools (and labeler/http) can use a
 * model trained here.
 *
 * One process, one thread of requests: accept, read one bounded request,
 * route, answer, close.  The model runs its own worker threads inside a
 * call.  SIGINT and SIGTERM stop the loop between requests, and ask a
 * running generation to stop early through the host's cancellation flag.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "serve.h"

static const char serve_usage[] =
    "usage: rlaif serve --model PATH [--host 127.0.0.1] [--port 8080]\n"
    "                   [--backend transformer] [--threads N] [--model-config JSON]\n"
    "                   [--max-body BYTES]\n"
    "\n"
    "Serves the model at PATH over an OpenAI-compatible HTTP API:\n"
    "  GET  /v1/models\n"
    "  POST /v1/completions        prompt, max_tokens, temperature, top_p, top_k, seed,\n"
    "                              stop, n, logprobs (top-k per token), echo\n"
    "  POST /v1/chat/completions   messages, the same sampling fields, logprobs,\n"
    "                              top_logprobs\n"
    "Requests are served one at a time.  --port 0 picks a free port; the\n"
    "address is printed to stderr as \"listening on http://HOST:PORT\".\n"
    "\n"
    "  --model PATH       a Hugging Face folder or a llama2.c .bin (model/bigram: a saved dir)\n"
    "  --host ADDR        address to listen on (default 127.0.0.1: this machine only)\n"
    "  --port N           TCP port (default 8080; 0 = any free port)\n"
    "  --backend NAME     model plugin (default transformer)\n"
    "  --threads N        model worker threads (default: the plugin's default)\n"
    "  --model-config JSON  more model config keys, e.g. '{\"matmul\": \"bf16\",\n"
    "                     \"decode_bf16\": true}' (mixed precision, docs/lua-api.md)\n"
    "  --max-body BYTES   largest accepted request body (default 1048576); larger: 413\n"
    "  --timeout SECONDS  how long a client may take to send its request (default 30)\n"
    "  --api-key-env NAME require \"Authorization: Bearer $NAME\" on every request but\n"
    "                     /health (read from the environment: keys stay out of `ps`)\n";

/* ===== Signals ========================================================== */

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
    rlc_set_cancelled(1); /* a generation in progress returns early */
}

/* No SA_RESTART: a blocked accept() or recv() returns EINTR at once. */
static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* ===== Options ========================================================== */

typedef struct serve_opts {
    const char *model, *host, *backend;
    const char *model_config; /* JSON object of more model config keys, or NULL */
    const char *api_key;  /* from the environment variable named by --api-key-env */
    int port, threads, timeout_s;
    size_t max_body;
} serve_opts;

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* 0 to go on, 1 after --help, 2 on a usage error. */
static int parse_opts(int argc, char **argv, serve_opts *o)
{
    *o = (serve_opts){.host = "127.0.0.1", .backend = "transformer", .port = 8080,
                      .threads = 0, .timeout_s = 30, .max_body = 1 << 20};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(serve_usage, stdout);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "rlaif serve: %s '%s'\n%s",
                    a[0] == '-' ? "missing value after" : "unexpected argument", a, serve_usage);
            return 2;
        }
        const char *v = argv[++i];
        long x = 0;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--host")) o->host = v;
        else if (!strcmp(a, "--backend")) o->backend = v;
        else if (!strcmp(a, "--model-config")) o->model_config = v;
        else if (!strcmp(a, "--api-key-env")) {
            o->api_key = getenv(v);
            if (!o->api_key || !*o->api_key) {
                fprintf(stderr, "rlaif serve: --api-key-env: environment variable '%s' is not "
                        "set\n", v);
                return 2;
            }
        }
        else if (!strcmp(a, "--port") && !parse_long(v, 0, 65535, &x)) o->port = (int)x;
        else if (!strcmp(a, "--threads") && !parse_long(v, 1, 256, &x)) o->threads = (int)x;
        else if (!strcmp(a, "--timeout") && !parse_long(v, 1, 3600, &x)) o->timeout_s = (int)x;
        else if (!strcmp(a, "--max-body") && !parse_long(v, 64, 1L << 34, &x)) o->max_body = (size_t)x;
        else {
            fprintf(stderr, "rlaif serve: bad option or value: %s %s\n%s", a, v, serve_usage);
            return 2;
        }
    }
    if (!o->model) {
        fprintf(stderr, "rlaif serve: --model PATH is required\n%s", serve_usage);
        return 2;
    }
    return 0;
}

/* ===== The listening socket ============================================= */

/* Binds host:port (IPv4 or IPv6 literal or name); returns the fd or -1. */
static int listen_on(const char *host, int port, int *bound_port)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai) {
        fprintf(stderr, "rlaif serve: cannot resolve '%s': %s\n", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "rlaif serve: cannot listen on %s:%d: %s\n", host, port,
                strerror(saved ? saved : EADDRNOTAVAIL));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *bound_port = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* ===== Routing ========================================================== */

/* Answers one request on fd and closes it. */
static void handle(int fd, serve_model *m, const serve_opts *o)
{
    /* A client that stops reading must not hold the server either. */
    struct timeval tv = {.tv_sec = o->timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    http_request req;
    char msg[512];
    int st = http_read_request(fd, o->max_body, o->timeout_s, &req, msg, sizeof msg);
    if (st < 0) {
        close(fd);
        return;
    }
    if (st > 0) {
        http_send_error(fd, st, msg, NULL);
        http_linger_close(fd); /* the body may still be on its way */
        return;
    }
    serve_reply r = {0};
    /* Compared in full whatever the first difference, so timing says nothing. */
    if (o->api_key && strcmp(req.path, "/health") != 0) {
        size_t a = strlen(o->api_key), b = strlen(req.bearer), diff = a ^ b;
        for (size_t i = 0; i < a; i++)
            diff |= (size_t)(o->api_key[i] ^ (i < b ? req.bearer[i] : 0));
        if (diff) {
            http_send_error(fd, 401, "missing or wrong API key (send \"Authorization: Bearer "
                            "KEY\")", NULL);
            http_request_free(&req);
            close(fd);
            return;
        }
    }
    int is_get = !strcmp(req.method, "GET"), is_post = !strcmp(req.method, "POST");
    const char *p = req.path;
    int known = !strcmp(p, "/v1/models") || !strcmp(p, "/v1/completions") ||
                !strcmp(p, "/v1/chat/completions") || !strcmp(p, "/health");
    int wants_get = !strcmp(p, "/v1/models") || !strcmp(p, "/health");
    if (!known) {
        snprintf(msg, sizeof msg, "unknown path '%.200s' (try /v1/models, /v1/completions, "
                 "/v1/chat/completions)", p);
        http_send_error(fd, 404, msg, NULL);
    } else if (wants_get ? !is_get : !is_post) {
        snprintf(msg, sizeof msg, "%.200s needs %s, not %.16s", p, wants_get ? "GET" : "POST",
                 req.method);
        http_send_error(fd, 405, msg, NULL);
    } else {
        rlc_set_cancelled(0);
        if (!strcmp(p, "/health")) {
            r.status = 200;
            r.body = strdup("{\"status\":\"ok\"}");
        } else if (!strcmp(p, "/v1/models")) {
            serve_models(m, &r);
        } else if (!strcmp(p, "/v1/completions")) {
            serve_completions(m, req.body, req.body_len, &r);
        } else {
            serve_chat(m, req.body, req.body_len, &r);
        }
        if (r.body) http_send(fd, r.status, NULL, r.body, strlen(r.body));
        else http_send_error(fd, 500, "out of memory", NULL);
    }
    free(r.body);
    http_request_free(&req);
    close(fd);
}

int rlaif_cmd_serve(int argc, char **argv)
{
    serve_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : 2;
    serve_model m;
    char err[1024];
    if (sm_open(&m, o.backend, o.model, o.threads, o.model_config, err, sizeof err)) {
        fprintf(stderr, "rlaif serve: %s\n", err);
        return 1;
    }
    int port = 0;
    int lfd = listen_on(o.host, o.port, &port);
    if (lfd < 0) {
        sm_close(&m);
        return 1;
    }
    install_signals();
    int v6 = strchr(o.host, ':') != NULL;
    fprintf(stderr, "rlaif serve: model %s (%s, vocab %d, context %d)\n", m.id,
            rlc_instance_name(m.in), m.info.vocab_size, m.info.max_seq_len);
    fprintf(stderr, "listening on http://%s%s%s:%d\n", v6 ? "[" : "", o.host, v6 ? "]" : "",
            port);
    fflush(stderr);
    while (!stop_requested) {
        /* poll with a timeout closes the window between the flag check and
         * a blocking accept() in which a signal would be missed. */
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        int pr = poll(&pfd, 1, 250);
        if (pr <= 0) continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        handle(fd, &m, &o);
    }
    close(lfd);
    sm_close(&m);
    fprintf(stderr, "rlaif serve: stopped\n");
    return 0;
}
