/*
 * http_conn.c — HTTP/1.1 on one accepted connection, just enough for a
 * JSON API: a request line, headers (bounded), a body of Content-Length
 * bytes (bounded), and one response with "Connection: close".
 *
 * Chunked request bodies are refused with 411: every OpenAI client sends
 * Content-Length, and refusing keeps the size bound trivially enforceable.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* ===== Reading ========================================================== */

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* recv() against a deadline for the whole request (a client trickling one
 * byte at a time must not hold the one-request-at-a-time server forever);
 * retries on EINTR; 0 at EOF, -1 on error, -2 past the deadline. */
static ssize_t recv_some(int fd, char *buf, size_t n, double deadline)
{
    for (;;) {
        double left = deadline - mono_s();
        if (left <= 0) return -2;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)(left * 1000) + 1);
        if (pr < 0 && (errno != EINTR || rlc_is_cancelled())) return -1; /* SIGTERM: give up */
        if (pr <= 0) continue;
        ssize_t r = recv(fd, buf, n, 0);
        if (r >= 0) return r;
        if (errno != EINTR) return -1;
    }
}

static char *find_header_end(char *buf, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return buf + i;
    return NULL;
}

/* Parses "METHOD SP TARGET SP HTTP/1.x"; 0 or -1. */
static int parse_request_line(const char *line, size_t n, http_request *req)
{
    const char *sp1 = memchr(line, ' ', n);
    if (!sp1 || sp1 == line || (size_t)(sp1 - line) >= sizeof req->method) return -1;
    const char *rest = sp1 + 1;
    const char *sp2 = memchr(rest, ' ', n - (size_t)(rest - line));
    if (!sp2 || sp2 == rest) return -1;
    size_t vlen = n - (size_t)(sp2 + 1 - line);
    if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) return -1;
    memcpy(req->method, line, (size_t)(sp1 - line));
    req->method[sp1 - line] = 0;
    size_t tlen = (size_t)(sp2 - rest);
    const char *q = memchr(rest, '?', tlen);
    if (q) tlen = (size_t)(q - rest);
    if (tlen >= sizeof req->path) return -1;
    memcpy(req->path, rest, tlen);
    req->path[tlen] = 0;
    return 0;
}

typedef struct header_facts {
    char *bearer;         /* where to copy a bearer token (sizeof http_request.bearer) */
    int has_length;
    unsigned long long length;
    int chunked;
    int expect_continue;  /* "Expect: 100-continue": the client waits for a go-ahead */
} header_facts;

/* Reads Content-Length and Transfer-Encoding; 0, or an HTTP status. */
static int parse_headers(char *p, char *end, header_facts *h, char *msg, size_t msglen)
{
    while (p < end) {
        char *eol = p;
        while (eol < end && !(eol[0] == '\r' && eol[1] == '\n')) eol++;
        char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon) {
            snprintf(msg, msglen, "malformed header line");
            return 400;
        }
        size_t nlen = (size_t)(colon - p);
        char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t')) v++;
        size_t vlen = (size_t)(eol - v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
        if (nlen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            unsigned long long x = 0;
            if (vlen == 0 || vlen > 18) {
                snprintf(msg, msglen, "bad Content-Length");
                return 400;
            }
            for (size_t i = 0; i < vlen; i++) {
                if (!isdigit((unsigned char)v[i])) {
                    snprintf(msg, msglen, "bad Content-Length");
                    return 400;
                }
                x = x * 10 + (unsigned)(v[i] - '0');
            }
            if (h->has_length && h->length != x) {
                snprintf(msg, msglen, "conflicting Content-Length headers");
                return 400;
            }
            h->has_length = 1;
            h->length = x;
        } else if (nlen == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
            h->chunked = 1;
        } else if (nlen == 13 && strncasecmp(p, "Authorization", 13) == 0 && vlen > 7 &&
                   strncasecmp(v, "Bearer ", 7) == 0 && vlen - 7 < 256) {
            memcpy(h->bearer, v + 7, vlen - 7);
            h->bearer[vlen - 7] = 0;
        } else if (nlen == 6 && strncasecmp(p, "Expect", 6) == 0 && vlen == 12 &&
                   strncasecmp(v, "100-continue", 12) == 0) {
            h->expect_continue = 1;
        }
        p = eol + 2;
    }
    return 0;
}

int http_read_request(int fd, size_t max_body, int timeout_s, http_request *req, char *msg,
                      size_t msglen)
{
    memset(req, 0, sizeof *req);
    double deadline = mono_s() + timeout_s;
    char *buf = malloc(HTTP_MAX_HEADER + 1);
    if (!buf) {
        snprintf(msg, msglen, "out of memory");
        return 500;
    }
    size_t n = 0;
    char *hend = NULL;
    while (!(hend = find_header_end(buf, n))) {
        if (n == HTTP_MAX_HEADER) {
            free(buf);
            snprintf(msg, msglen, "request line and headers exceed %d bytes", HTTP_MAX_HEADER);
            return 431;
        }
        ssize_t r = recv_some(fd, buf + n, HTTP_MAX_HEADER - n, deadline);
        if (r == -2 && n > 0) {
            free(buf);
            snprintf(msg, msglen, "the request did not arrive within %d s", timeout_s);
            return 408;
        }
        if (r <= 0) {
            free(buf);
            return -1;
        }
        n += (size_t)r;
    }
    buf[n] = 0;
    if (memchr(buf, 0, (size_t)(hend - buf))) {
        free(buf);
        snprintf(msg, msglen, "NUL byte in the request head");
        return 400;
    }
    char *line_end = strstr(buf, "\r\n"); /* found at hend at the latest */
    if (parse_request_line(buf, (size_t)(line_end - buf), req)) {
        free(buf);
        snprintf(msg, msglen, "malformed request line");
        return 400;
    }
    header_facts h = {.bearer = req->bearer};
    int st = line_end < hend ? parse_headers(line_end + 2, hend, &h, msg, msglen) : 0;
    if (st) {
        free(buf);
        return st;
    }
    int wants_body = strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0;
    if (h.chunked) {
        free(buf);
        snprintf(msg, msglen, "chunked request bodies are not supported; send Content-Length");
        return 411;
    }
    if (wants_body && !h.has_length) {
        free(buf);
        snprintf(msg, msglen, "a %s request needs a Content-Length header", req->method);
        return 411;
    }
    if (h.has_length && h.length > max_body) {
        free(buf);
        snprintf(msg, msglen, "request body of %llu bytes exceeds the limit of %zu bytes "
                 "(--max-body)", h.length, max_body);
        return 413;
    }
    size_t blen = h.has_length ? (size_t)h.length : 0;
    req->body = malloc(blen + 1);
    if (!req->body) {
        free(buf);
        snprintf(msg, msglen, "out of memory");
        return 500;
    }
    size_t have = n - (size_t)(hend + 4 - buf);
    if (have > blen) have = blen; /* a pipelined next request is ignored */
    memcpy(req->body, hend + 4, have);
    free(buf);
    /* curl sends large bodies only after this (or after a 1 s wait). */
    static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (h.expect_continue && have < blen)
        (void)!send(fd, go_on, sizeof go_on - 1, MSG_NOSIGNAL);
    while (have < blen) {
        ssize_t r = recv_some(fd, req->body + have, blen - have, deadline);
        if (r <= 0) {
            http_request_free(req);
            if (r != -2) return -1;
            snprintf(msg, msglen, "the request body did not arrive within %d s", timeout_s);
            return 408;
        }
        have += (size_t)r;
    }
    req->body[blen] = 0;
    req->body_len = blen;
    return 0;
}

void http_request_free(http_request *req)
{
    free(req->body);
    req->body = NULL;
    req->body_len = 0;
}

/* ===== Writing ========================================================== */

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int http_send(int fd, int status, const char *extra_headers, const char *body, size_t len)
{
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n"
                      "Connection: close\r\n"
                      "%s\r\n",
                      status, http_reason(status), len, extra_headers ? extra_headers : "");
    if (hn < 0 || (size_t)hn >= sizeof head) return -1;
    if (send_all(fd, head, (size_t)hn)) return -1;
    return send_all(fd, body, len);
}

int http_send_error(int fd, int status, const char *message, const char *param)
{
    const char *type = status >= 500 ? "server_error" : "invalid_request_error";
    char *body = serve_error_json(message, type, param);
    if (!body) return -1;
    int rc = http_send(fd, status, status == 405 ? "Allow: GET, POST\r\n" : NULL, body,
                       strlen(body));
    free(body);
    return rc;
}

void http_linger_close(int fd)
{
    shutdown(fd, SHUT_WR);
    char sink[65536];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t total = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 200);
        if (r <= 0) break;
        ssize_t got = recv(fd, sink, sizeof sink, 0);
        if (got <= 0) break;
        total += (size_t)got;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        /* Bounded: at most 2 s and 256 MiB of someone else's upload. */
        if (t.tv_sec - t0.tv_sec >= 2 || total > (256u << 20)) break;
    }
    close(fd);
}
