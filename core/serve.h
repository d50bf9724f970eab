/*
 * serve.h — `rlaif serve`: an OpenAI-compatible HTTP server over a model
 * plugin instance.
 *
 * Files:
 *   serve.c             the command: options, the model, the listening
 *                       socket, the accept loop, signals, routing
 *   http_conn.c         HTTP/1.1 on one connection: read a bounded request,
 *                       write a response (no keep-alive: one request each)
 *   http_model.c        what the endpoints need from the model: tokens,
 *                       token texts, generation, log-probabilities
 *   http_json.c         errors, request fields, replies, UTF-8 cleaning
 *   http_choices.c      shared parameters, running a request, choices and
 *                       their logprobs JSON
 *   http_completions.c  /v1/completions, /v1/chat/completions, /v1/models
 *
 * Requests are served one at a time: the model instance is used by a single
 * thread (it runs its own worker threads inside a call).
 */
#ifndef RLAIF_SERVE_H
#define RLAIF_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core.h"

/* The `rlaif serve` command (argv excludes "rlaif serve"). */
int rlaif_cmd_serve(int argc, char **argv);

/* ===== HTTP (http_conn.c) =============================================== */

#define HTTP_MAX_HEADER 16384  /* request line + headers, bytes */

typedef struct http_request {
    char method[16];
    char path[1024];        /* the target without its query string */
    char *body;             /* NUL-terminated, malloc'ed (NULL when none) */
    size_t body_len;
    char bearer[256];       /* the token of "Authorization: Bearer ...", or "" */
} http_request;

/* Reads one request from fd, all of it within timeout_s seconds.  On
 * success returns 0.  On a protocol problem returns the HTTP status to
 * answer with (400, 408, 411, 413, 431, ...) and a message; returns -1 when
 * the peer went away (nothing to say). */
int http_read_request(int fd, size_t max_body, int timeout_s, http_request *req, char *msg,
                      size_t msglen);
void http_request_free(http_request *req);

/* Writes a complete response with a JSON body and "Connection: close".
 * `extra_headers` (may be NULL) is inserted verbatim, each line ending in
 * "\r\n".  Returns 0, or -1 when the peer went away. */
int http_send(int fd, int status, const char *extra_headers, const char *body, size_t len);

/* An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}. */
int http_send_error(int fd, int status, const char *message, const char *param);

/* After an early answer (413, ...) with a body still unread: stop writing,
 * drain what the client sends for a moment and close, so that the client
 * reads the answer instead of a connection reset. */
void http_linger_close(int fd);

const char *http_reason(int status);

/* ===== The model (http_model.c) ========================================= */

typedef struct serve_model {
    rlc_instance *in;
    const rlaif_model_vtable *vt;
    void *self;
    rlaif_model_info info;
    char *id;        /* the name /v1/models reports (owned) */
    int chatml;      /* the tokenizer knows <|im_start|> and <|im_end|> */
    float *dist;     /* scratch: next-token distributions [SM_CHUNK × vocab] */
} serve_model;

/* Contexts per next_logprobs call (bounds the scratch memory). */
#define SM_CHUNK 16

/* Opens the model: plugin `backend`, config {"path": path, "threads": n}
 * (threads only when n > 0 and the backend is transformer) plus the keys of
 * extra_json, a JSON object of more config keys (NULL: none; a key the
 * command sets itself, or text that is not an object, is an error). */
int sm_open(serve_model *m, const char *backend, const char *path, int threads,
            const char *extra_json, char *err, size_t errlen);
void sm_close(serve_model *m);

/* Text -> malloc'ed ids. */
rlaif_status sm_tokenize(serve_model *m, const char *text, int add_bos, int32_t **ids, size_t *n,
                         char *err, size_t errlen);
/* Ids -> malloc'ed text (raw bytes, may be invalid UTF-8). */
rlaif_status sm_detokenize(serve_model *m, const int32_t *ids, size_t n, int skip_special,
                           char **out, size_t *len, char *err, size_t errlen);

/* One sequence to complete and what came of it. */
typedef struct sm_seq {
    const int32_t *prompt;  /* borrowed */
    size_t prompt_len;
    int32_t *gen;           /* [n_gen] (owned) */
    size_t n_gen;
    int stopped;            /* EOS or a stop string, not the length limit */
} sm_seq;

typedef struct sm_sampling {
    float temperature, top_p;
    int32_t top_k;
    uint32_t max_tokens;
    const char *const *stop;
    size_t n_stop;
    uint64_t seed;
} sm_sampling;

/* Continues every sequence in one generate() call; sequence b samples from
 * the stream (seed, b).  Fills gen, n_gen, stopped. */
rlaif_status sm_generate(serve_model *m, sm_seq *seqs, size_t n, const sm_sampling *s, char *err,
                         size_t errlen);

/* Log-probabilities of the tokens at positions [from, len) of ids (each
 * given all tokens before it): lp[t - from] = log p(ids[t] | ids[..t-1]),
 * from forward() at temperature 1.  from >= 1. */
rlaif_status sm_token_logprobs(serve_model *m, const int32_t *ids, size_t len, size_t from,
                               float *lp, char *err, size_t errlen);

/* The k most likely next tokens after each prefix ids[..t-1], t in
 * [from, len): top_id/top_lp[(t - from) * k + r], best first (ties: lower id
 * first), from next_logprobs(); tok_lp[t - from] = log p(ids[t]) from the
 * same distribution (one model pass serves both). */
rlaif_status sm_top_logprobs(serve_model *m, const int32_t *ids, size_t len, size_t from,
                             size_t k, int32_t *top_id, float *top_lp, float *tok_lp, char *err,
                             size_t errlen);

/* The text of one token as the tokenizer writes it (special tokens too),
 * malloc'ed raw bytes. */
rlaif_status sm_token_text(serve_model *m, int32_t id, char **out, size_t *len, char *err,
                           size_t errlen);

/* ===== Replies and request fields (http_json.c) ========================= */

typedef struct serve_reply {
    int status;     /* HTTP status */
    char *body;     /* malloc'ed JSON */
    char param[64]; /* for errors: the request field at fault, or "" */
} serve_reply;

/* The JSON body of an OpenAI error. */
char *serve_error_json(const char *message, const char *type, const char *param);

/* Copies `s` (n bytes) replacing invalid UTF-8 with U+FFFD, NUL-terminated. */
char *serve_utf8_clean(const char *s, size_t n);

/* Makes r an error reply: status, the field at fault (or NULL), message. */
void serve_fail(serve_reply *r, int status, const char *param, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* A field, NULL when absent or JSON null. */
const cJSON *serve_field(const cJSON *obj, const char *key);
/* Typed fields with a default and a range; -1 (and an error reply naming
 * the field) on a wrong type or range. */
int serve_get_number(const cJSON *obj, const char *key, double def, double lo, double hi,
                     double *out, serve_reply *r);
int serve_get_int(const cJSON *obj, const char *key, double def, double lo, double hi,
                  double *out, serve_reply *r);
int serve_get_bool(const cJSON *obj, const char *key, int def, int *out, serve_reply *r);

/* The request body as a JSON object, or NULL with a 400 reply. */
cJSON *serve_parse_body(const char *body, size_t len, serve_reply *r);
/* Prints root into r as a 200 reply and frees it. */
void serve_reply_json(serve_reply *r, cJSON *root);

/* ===== Generation requests (http_choices.c) ============================= */

#define MAX_PROMPTS 64
#define MAX_N 16
#define MAX_SEQS 128
#define MAX_STOP 16
#define MAX_TOP 1000
#define CHAT_DEFAULT_MAX_TOKENS 256

typedef struct serve_params {
    uint32_t max_tokens;
    int max_tokens_given;
    float temperature, top_p;
    int32_t top_k;
    uint64_t seed;
    const char *stop[MAX_STOP + 1];  /* into the request tree; +1 for the chat end marker */
    size_t n_stop;
    size_t n;
    int top;        /* top alternatives per token; -1: no logprobs at all */
    int echo;
} serve_params;

typedef struct serve_choice {
    char *text;           /* final text, clean UTF-8 (owned) */
    int stopped;
    size_t n_gen;         /* generated tokens kept */
    /* Logprob rows (when requested), for tokens seq[from .. from + rows). */
    int32_t *seq;         /* prompt ⊕ kept generation (owned) */
    size_t seq_len, from, rows, first_null; /* first_null: row 0 has no context */
    float *lp;            /* [rows] */
    int32_t *top_id;      /* [rows × top] */
    float *top_lp;
    size_t prompt_chars;  /* text offset where the generated part begins */
} serve_choice;

/* Reads the fields both endpoints share (model, max_tokens, temperature,
 * top_p, top_k, n, seed, stream, stop); 0, or -1 with an error reply. */
int serve_parse_common(const cJSON *req, int chat, serve_params *p, serve_reply *r);

/* Tokenises each prompt (with BOS), checks the context length, generates
 * n choices per prompt in one call and builds them into choices
 * [n_prompts × n].  0, or -1 with an error reply. */
int serve_run_request(serve_model *m, const char *const *prompts, size_t n_prompts,
                      const serve_params *p, serve_choice *choices, size_t *prompt_tokens,
                      serve_reply *r);
void serve_choice_free(serve_choice *c);

/* The logprobs of a choice with k alternatives, in the legacy completions
 * shape or the chat shape; NULL and a message on failure. */
cJSON *serve_legacy_logprobs(serve_model *m, const serve_choice *c, size_t k, char *err,
                             size_t errlen);
cJSON *serve_chat_logprobs(serve_model *m, const serve_choice *c, size_t k, char *err,
                           size_t errlen);

/* The envelope {id, object, created, model} and the usage counts. */
cJSON *serve_response_head(serve_model *m, const char *object, const char *prefix);
void serve_add_usage(cJSON *root, size_t prompt_tokens, const serve_choice *c, size_t n);

/* ===== The endpoints (http_completions.c) =============================== */

/* Each parses `body` and fills `reply` (an error body when status >= 400). */
void serve_completions(serve_model *m, const char *body, size_t len, serve_reply *reply);
void serve_chat(serve_model *m, const char *body, size_t len, serve_reply *reply);
void serve_models(serve_model *m, serve_reply *reply);

#endif
