/* serve_util.c — see serve_util.h. */
#include "serve_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "core.h"

const char *st_model_path(void)
{
    static char path[4096];
    const char *src = getenv("RLAIF_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", src ? src : ".");
    return path;
}

/* ===== The server process =============================================== */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int st_server_start(st_server *s, const char *model, const char *const *extra, char *msg,
                    size_t msglen)
{
    memset(s, 0, sizeof *s);
    s->pid = -1;
    const char *bdir = getenv("RLAIF_BUILD_DIR");
    char exe[4096];
    snprintf(exe, sizeof exe, "%s/rlaif", bdir ? bdir : ".");
    const char *argv[32] = {exe, "serve", "--model", model ? model : st_model_path(), "--port", "0"};
    int argc = 6;
    for (size_t i = 0; extra && extra[i] && argc < 31; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    int pfd[2];
    if (pipe(pfd)) return snprintf(msg, msglen, "pipe: %s", strerror(errno)), -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return snprintf(msg, msglen, "fork: %s", strerror(errno)), -1;
    if (pid == 0) {
        /* Never outlive the test, whatever happens to it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    s->pid = pid;
    s->err_fd = pfd[0];
    char buf[8192];
    size_t n = 0;
    double deadline = now_s() + 60;
    while (now_s() < deadline && n < sizeof buf - 1) {
        struct pollfd p = {.fd = s->err_fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t r = read(s->err_fd, buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = 0;
        const char *at = strstr(buf, "listening on http://127.0.0.1:");
        if (at && strchr(at, '\n')) {
            s->port = atoi(at + strlen("listening on http://127.0.0.1:"));
            return s->port > 0 ? 0 : (snprintf(msg, msglen, "bad port in: %s", buf), -1);
        }
    }
    buf[n] = 0;
    snprintf(msg, msglen, "the server did not start: %.1000s", buf);
    st_server_stop(s, SIGKILL);
    return -1;
}

int st_server_stop(st_server *s, int sig)
{
    if (s->pid <= 0) return -1;
    kill(s->pid, sig ? sig : SIGTERM);
    int status = 0;
    double deadline = now_s() + 10;
    pid_t w = 0;
    while ((w = waitpid(s->pid, &status, WNOHANG)) == 0 && now_s() < deadline) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (w == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
    }
    s->pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *st_server_stderr(st_server *s)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) return NULL;
        struct pollfd p = {.fd = s->err_fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) break;
        ssize_t r = read(s->err_fd, buf + n, cap - n - 1);
        if (r <= 0) break;
        n += (size_t)r;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    return buf;
}

int st_fixture_up(st_server *s, const char *model, const char *prog)
{
    char msg[2048];
    if (st_server_start(s, model, NULL, msg, sizeof msg) == 0) return 0;
    fprintf(stderr, "%s: %s\n", prog, msg);
    return -1;
}

int st_fixture_down(st_server *s, const char *prog)
{
    int rc = st_server_stop(s, SIGTERM);
    char *rest = st_server_stderr(s);
    if (rc != 0 || (rest && strcmp(rest, "rlaif serve: stopped\n") != 0))
        fprintf(stderr, "%s: the server exited with %d and said:\n%s\n", prog, rc,
                rest ? rest : "");
    free(rest);
    return rc;
}

int st_init_labelers(void)
{
    rlc_init(NULL);
    char err[512];
    if (!rlc_plugin_find(RLAIF_KIND_MODEL, "transformer", err, sizeof err) ||
        !rlc_plugin_find(RLAIF_KIND_LABELER, "http", err, sizeof err) ||
        !rlc_plugin_find(RLAIF_KIND_LABELER, "llm", err, sizeof err)) {
        printf("skipped: %s\n", err);
        rlc_shutdown();
        return 77;
    }
    return 0;
}

int st_run_suite(Suite *s)
{
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    rlc_shutdown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ===== A client ========================================================= */

static int http_exchange(int port, const char *raw, size_t len, int half_close, st_response *r)
{
    memset(r, 0, sizeof *r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    /* A server may answer (413) before the whole upload: ignore send errors. */
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, raw + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (half_close) shutdown(fd, SHUT_WR);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (n + 1 == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) break;
            buf = p;
        }
        ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
        if (got <= 0) break;
        n += (size_t)got;
    }
    close(fd);
    if (!buf) return -1;
    buf[n] = 0;
    char *body = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.1 ", 9) || !body) {
        free(buf);
        return -1;
    }
    r->status = atoi(buf + 9);
    r->body = strdup(body + 4);
    free(buf);
    r->json = r->body ? cJSON_Parse(r->body) : NULL;
    return r->body ? 0 : -1;
}

int st_http_raw(int port, const char *raw, size_t len, st_response *r)
{
    return http_exchange(port, raw, len, 0, r);
}

int st_http_raw_eof(int port, const char *raw, size_t len, st_response *r)
{
    return http_exchange(port, raw, len, 1, r);
}

int st_http(int port, const char *method, const char *path, const char *body, st_response *r)
{
    size_t blen = body ? strlen(body) : 0;
    char *req = malloc(blen + 512);
    if (!req) return -1;
    int n = body ? snprintf(req, 512, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: "
                            "application/json\r\nContent-Length: %zu\r\n\r\n", method, path, blen)
                 : snprintf(req, 512, "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", method, path);
    if (body) memcpy(req + n, body, blen);
    int rc = st_http_raw(port, req, (size_t)n + blen, r);
    free(req);
    return rc;
}

void st_response_free(st_response *r)
{
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

/* ===== A scripted fake server =========================================== */

static void *fake_main(void *arg)
{
    st_fake *f = arg;
    while (f->served < f->n) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0) break;
        char buf[65536];
        size_t n = 0;
        /* Read the head and the Content-Length body. */
        for (;;) {
            ssize_t r = recv(c, buf + n, sizeof buf - 1 - n, 0);
            if (r <= 0) break;
            n += (size_t)r;
            buf[n] = 0;
            char *h = strstr(buf, "\r\n\r\n");
            char *cl = strcasestr(buf, "Content-Length:");
            if (h && (!cl || n - (size_t)(h + 4 - buf) >= (size_t)atol(cl + 15))) break;
        }
        int st = f->statuses[f->served];
        const char *body = f->bodies[f->served];
        char head[256];
        int hn = snprintf(head, sizeof head,
                          "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                          "%zu\r\nConnection: close\r\n\r\n", st, strlen(body));
        send(c, head, (size_t)hn, MSG_NOSIGNAL);
        send(c, body, strlen(body), MSG_NOSIGNAL);
        close(c);
        f->served++;
    }
    return NULL;
}

int st_fake_start(st_fake *f, size_t n, const int *statuses, const char *const *bodies)
{
    memset(f, 0, sizeof *f);
    f->n = n;
    f->statuses = statuses;
    f->bodies = bodies;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof a;
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof a) || listen(f->fd, 16) ||
        getsockname(f->fd, (struct sockaddr *)&a, &sl))
        return -1;
    f->port = ntohs(a.sin_port);
    pthread_t t;
    if (pthread_create(&t, NULL, fake_main, f)) return -1;
    f->thread = (unsigned long)t;
    return 0;
}

void st_fake_stop(st_fake *f)
{
    shutdown(f->fd, SHUT_RDWR);
    pthread_join((pthread_t)f->thread, NULL);
    close(f->fd);
}
