/* ltemplate.c — see ltemplate.h.  One scanner serves check and render. */
#include "ltemplate.h"

#include <stdio.h>
#include <string.h>

/* Called for each literal run and each placeholder met by the scanner. */
typedef struct scan_ops {
    void (*literal)(void *ctx, const char *s, size_t n);
    int (*placeholder)(void *ctx, const char *name, size_t n, size_t at, char *msg,
                       size_t msglen);
    void *ctx;
} scan_ops;

static int is_name_start(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
static int is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

static int scan(const char *text, const scan_ops *ops, char *msg, size_t msglen)
{
    const char *lit = text, *p = text;
    while (*p) {
        if (*p != '{' && *p != '}') {
            p++;
            continue;
        }
        if (p > lit) ops->literal(ops->ctx, lit, (size_t)(p - lit));
        if (p[0] == p[1]) { /* "{{" or "}}": one literal brace */
            ops->literal(ops->ctx, p, 1);
            p += 2;
            lit = p;
            continue;
        }
        size_t at = (size_t)(p - text);
        if (*p == '}') {
            snprintf(msg, msglen, "stray '}' at byte %zu (write '}}' for a literal brace)", at);
            return -1;
        }
        const char *name = p + 1, *q = name;
        if (!is_name_start(*q)) {
            snprintf(msg, msglen,
                     "'{' at byte %zu does not start a placeholder {name} (write '{{' for a "
                     "literal brace)",
                     at);
            return -1;
        }
        while (is_name_char(*q)) q++;
        if (*q != '}') {
            snprintf(msg, msglen, "unclosed placeholder at byte %zu: expected '}' after {%.*s",
                     at, (int)(q - name), name);
            return -1;
        }
        if (ops->placeholder(ops->ctx, name, (size_t)(q - name), at, msg, msglen)) return -1;
        p = q + 1;
        lit = p;
    }
    if (p > lit) ops->literal(ops->ctx, lit, (size_t)(p - lit));
    return 0;
}

static int name_in(const char *const *list, const char *name, size_t n)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strlen(list[i]) == n && memcmp(list[i], name, n) == 0) return (int)i;
    return -1;
}

/* ----- check ---------------------------------------------------------- */

typedef struct check_ctx {
    const char *const *allowed;
    const char *const *required;
    unsigned long long seen; /* bit i: required[i] met */
} check_ctx;

static void check_literal(void *ctx, const char *s, size_t n) { (void)ctx, (void)s, (void)n; }

static void list_names(char *out, size_t outlen, const char *const *names)
{
    out[0] = 0;
    for (size_t i = 0; names && names[i]; i++) {
        size_t used = strlen(out);
        if (used + 1 >= outlen) break;
        snprintf(out + used, outlen - used, "%s{%s}", i ? ", " : "", names[i]);
    }
}

static int check_placeholder(void *vctx, const char *name, size_t n, size_t at, char *msg,
                             size_t msglen)
{
    check_ctx *ctx = vctx;
    if (name_in(ctx->allowed, name, n) < 0) {
        char list[400];
        list_names(list, sizeof list, ctx->allowed);
        snprintf(msg, msglen, "unknown placeholder {%.*s} at byte %zu (allowed here: %s)",
                 (int)n, name, at, list[0] ? list : "none");
        return -1;
    }
    int r = name_in(ctx->required, name, n);
    if (r >= 0 && r < 64) ctx->seen |= 1ull << r;
    return 0;
}

int lab_template_check(const char *text, const char *const *allowed,
                       const char *const *required, char *msg, size_t msglen)
{
    check_ctx ctx = {allowed, required, 0};
    scan_ops ops = {check_literal, check_placeholder, &ctx};
    if (scan(text, &ops, msg, msglen)) return -1;
    for (size_t i = 0; required && required[i] && i < 64; i++) {
        if (!(ctx.seen & (1ull << i))) {
            snprintf(msg, msglen, "missing placeholder {%s}", required[i]);
            return -1;
        }
    }
    return 0;
}

/* ----- render --------------------------------------------------------- */

typedef struct render_ctx {
    sbuf *out;
    const lab_var *vars;
    size_t n_vars;
} render_ctx;

static void render_literal(void *vctx, const char *s, size_t n)
{
    render_ctx *ctx = vctx;
    sbuf_append(ctx->out, s, n);
}

static int render_placeholder(void *vctx, const char *name, size_t n, size_t at, char *msg,
                              size_t msglen)
{
    render_ctx *ctx = vctx;
    for (size_t i = 0; i < ctx->n_vars; i++) {
        const lab_var *v = &ctx->vars[i];
        if (strlen(v->name) == n && memcmp(v->name, name, n) == 0) {
            sbuf_puts(ctx->out, v->value ? v->value : "");
            return 0;
        }
    }
    snprintf(msg, msglen, "placeholder {%.*s} at byte %zu has no value here", (int)n, name, at);
    return -1;
}

int lab_template_render(sbuf *out, const char *text, const lab_var *vars, size_t n_vars,
                        char *msg, size_t msglen)
{
    render_ctx ctx = {out, vars, n_vars};
    scan_ops ops = {render_literal, render_placeholder, &ctx};
    return scan(text, &ops, msg, msglen);
}
