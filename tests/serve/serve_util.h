/*
 * serve_util.h — helpers of the `rlaif serve` tests: starting the server as
 * a child process on a free port, a minimal HTTP client, and a scripted
 * fake server for the labeler's error paths.
 */
#ifndef SERVE_TEST_UTIL_H
#define SERVE_TEST_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

typedef struct st_server {
    pid_t pid;
    int port;
    int err_fd;     /* the server's stderr (read end) */
} st_server;

/* The stories260K checkpoint under $RLAIF_SOURCE_DIR (static buffer). */
const char *st_model_path(void);

/* Starts `$RLAIF_BUILD_DIR/rlaif serve --model MODEL --port 0 EXTRA...`
 * (model NULL: stories260K; extra: NULL-terminated, may be NULL), waits for
 * "listening on" and parses the port.  The child gets SIGTERM if the test
 * process dies.  Returns 0, or -1 with a message. */
int st_server_start(st_server *s, const char *model, const char *const *extra, char *msg,
                    size_t msglen);

/* Sends `sig` (SIGTERM if 0) and waits up to 10 s (then SIGKILL).  Returns
 * the exit status, 128+signal when killed by a signal, -1 if not running. */
int st_server_stop(st_server *s, int sig);

/* The rest of the server's stderr (after the "listening" line), malloc'ed. */
char *st_server_stderr(st_server *s);

/* The test programs' fixture halves.  st_fixture_up starts the server (as
 * st_server_start) and on failure prints "<prog>: <why>" to stderr and
 * returns -1.  st_fixture_down stops it with SIGTERM; what it said besides
 * "stopped" (a sanitizer report, a crash) goes to stderr, naming `prog`;
 * returns the exit status (the caller fails the program when nonzero). */
int st_fixture_up(st_server *s, const char *model, const char *prog);
int st_fixture_down(st_server *s, const char *prog);

/* The start of the labeler test programs: rlc_init, then model/transformer,
 * labeler/http and labeler/llm must be found; when one is not, prints
 * "skipped: <why>", shuts the core down and returns 77 (meson's "skipped"
 * exit status).  Returns 0 when all are there. */
int st_init_labelers(void);

/* Runs the suite (CK_NORMAL), frees it, shuts the core down, and returns
 * the program's exit status: EXIT_FAILURE when any test failed. */
struct Suite;
int st_run_suite(struct Suite *s);

typedef struct st_response {
    int status;
    char *body;     /* malloc'ed, NUL-terminated */
    cJSON *json;    /* parsed body or NULL */
} st_response;

/* Sends `raw` (a whole HTTP request) to 127.0.0.1:port and reads the answer
 * until the server closes.  Returns 0 or -1. */
int st_http_raw(int port, const char *raw, size_t len, st_response *r);
/* The same, then closes the sending side (the server sees the end). */
int st_http_raw_eof(int port, const char *raw, size_t len, st_response *r);
/* A request with a body (NULL: no body and no Content-Length). */
int st_http(int port, const char *method, const char *path, const char *body, st_response *r);
void st_response_free(st_response *r);

/* A fake HTTP server on a thread: answers the i-th connection with
 * statuses[i] and bodies[i], then stops after n answers. */
typedef struct st_fake {
    int fd, port;
    size_t n;
    const int *statuses;
    const char *const *bodies;
    size_t served;
    unsigned long thread;
} st_fake;
int st_fake_start(st_fake *f, size_t n, const int *statuses, const char *const *bodies);
void st_fake_stop(st_fake *f);

#endif
