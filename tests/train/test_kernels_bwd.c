/*
 * test_kernels_bwd.c — every backward kernel against central finite
 * differences of its own forward.  Each op's loss is L = sum r * y with a
 * fixed random r (so dL/dy = r); L is accumulated in double, the kernels run
 * in fp32, and the check is relative to the largest analytic gradient.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_bwd.h"
#include "train_util.h"

#define EPS 1e-2f
#define TOL 2e-3
#define PROBES 200

/* ---- linear / linear_t ---------------------------------------------- */

typedef struct {
    float *x, *w, *b, *y, *r;
    size_t n, in, out;
    int transposed;
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *c = p;
    if (c->transposed)
        linear_t_forward(c->y, c->x, c->w, c->b, c->n, c->in, c->out);
    else
        linear_forward(c->y, c->x, c->w, c->b, c->n, c->in, c->out);
    return tu_dot(c->r, c->y, c->n * c->out);
}

static void check_linear(int transposed)
{
    tu_rng g;
    tu_rng_seed(&g, 11 + (uint64_t)transposed);
    lin_ctx c = {.n = 6, .in = 7, .out = 5, .transposed = transposed};
    c.x = tu_alloc_fill(&g, c.n * c.in, -1, 1);
    c.w = tu_alloc_fill(&g, c.in * c.out, -1, 1);
    c.b = tu_alloc_fill(&g, c.out, -1, 1);
    c.y = tu_zeros(c.n * c.out);
    c.r = tu_alloc_fill(&g, c.n * c.out, -1, 1);
    float *dx = tu_zeros(c.n * c.in), *dw = tu_zeros(c.in * c.out), *db = tu_zeros(c.out);
    if (transposed)
        linear_t_backward(dx, dw, db, c.r, c.x, c.w, c.n, c.in, c.out);
    else
        linear_backward(dx, dw, db, c.r, c.x, c.w, c.n, c.in, c.out);
    ck_assert(tu_fd_check("linear dx", c.x, c.n * c.in, dx, lin_loss, &c, EPS, PROBES, TOL) < TOL);
    ck_assert(tu_fd_check("linear dw", c.w, c.in * c.out, dw, lin_loss, &c, EPS, PROBES, TOL) < TOL);
    ck_assert(tu_fd_check("linear db", c.b, c.out, db, lin_loss, &c, EPS, PROBES, TOL) < TOL);

    /* The backward accumulates: a second call doubles every gradient. */
    float *dw2 = malloc(c.in * c.out * sizeof(float));
    memcpy(dw2, dw, c.in * c.out * sizeof(float));
    if (transposed)
        linear_t_backward(NULL, dw, NULL, c.r, c.x, c.w, c.n, c.in, c.out);
    else
        linear_backward(NULL, dw, NULL, c.r, c.x, c.w, c.n, c.in, c.out);
    for (size_t i = 0; i < c.in * c.out; i++) ck_assert_float_eq_tol(dw[i], 2 * dw2[i], 1e-5);
    free(dw2);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(dx), free(dw), free(db);
}

START_TEST(test_linear) { check_linear(0); }
END_TEST

START_TEST(test_linear_t) { check_linear(1); }
END_TEST

/* ---- rmsnorm / layernorm -------------------------------------------- */

typedef struct {
    float *x, *w, *b, *y, *r, *s1, *s2;
    size_t n, c;
    int layer;
} norm_ctx;

static double norm_loss(void *p)
{
    norm_ctx *c = p;
    if (c->layer)
        layernorm_forward(c->y, c->s1, c->s2, c->x, c->w, c->b, c->n, c->c, 1e-5f);
    else
        rmsnorm_forward(c->y, c->s1, c->x, c->w, c->n, c->c, 1e-5f);
    return tu_dot(c->r, c->y, c->n * c->c);
}

static void check_norm(int layer)
{
    tu_rng g;
    tu_rng_seed(&g, 21 + (uint64_t)layer);
    norm_ctx c = {.n = 5, .c = 16, .layer = layer};
    c.x = tu_alloc_fill(&g, c.n * c.c, -2, 2);
    c.w = tu_alloc_fill(&g, c.c, 0.5f, 1.5f);
    c.b = tu_alloc_fill(&g, c.c, -1, 1);
    c.y = tu_zeros(c.n * c.c);
    c.r = tu_alloc_fill(&g, c.n * c.c, -1, 1);
    c.s1 = tu_zeros(c.n);
    c.s2 = tu_zeros(c.n);
    float *dx = tu_zeros(c.n * c.c), *dw = tu_zeros(c.c), *db = tu_zeros(c.c);
    norm_loss(&c);
    if (layer)
        layernorm_backward(dx, dw, db, c.r, c.x, c.w, c.s1, c.s2, c.n, c.c);
    else
        rmsnorm_backward(dx, dw, c.r, c.x, c.w, c.s1, c.n, c.c);
    ck_assert(tu_fd_check("norm dx", c.x, c.n * c.c, dx, norm_loss, &c, EPS, PROBES, TOL) < TOL);
    ck_assert(tu_fd_check("norm dw", c.w, c.c, dw, norm_loss, &c, EPS, PROBES, TOL) < TOL);
    if (layer)
        ck_assert(tu_fd_check("norm db", c.b, c.c, db, norm_loss, &c, EPS, PROBES, TOL) < TOL);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(c.s1), free(c.s2);
    free(dx), free(dw), free(db);
}

START_TEST(test_rmsnorm) { check_norm(0); }
END_TEST

START_TEST(test_layernorm) { check_norm(1); }
END_TEST

/* ---- rope ------------------------------------------------------------- */

typedef struct {
    float *x, *y, *r;
    int32_t *pos;
    size_t n, nh, hd;
    rope_layout layout;
} rope_ctx;

static double rope_loss(void *p)
{
    rope_ctx *c = p;
    memcpy(c->y, c->x, c->n * c->nh * c->hd * sizeof(float));
    rope_forward(c->y, c->pos, c->n, c->nh, c->hd, 10000.0f, c->layout);
    return tu_dot(c->r, c->y, c->n * c->nh * c->hd);
}

static void check_rope(rope_layout layout)
{
    tu_rng g;
    tu_rng_seed(&g, 31 + (uint64_t)layout);
    rope_ctx c = {.n = 4, .nh = 3, .hd = 8, .layout = layout};
    size_t total = c.n * c.nh * c.hd;
    int32_t pos[4] = {0, 1, 7, 23};
    c.pos = pos;
    c.x = tu_alloc_fill(&g, total, -1, 1);
    c.y = tu_zeros(total);
    c.r = tu_alloc_fill(&g, total, -1, 1);
    float *dx = tu_zeros(total);
    rope_backward(dx, c.r, c.pos, c.n, c.nh, c.hd, 10000.0f, layout);
    ck_assert(tu_fd_check("rope dx", c.x, total, dx, rope_loss, &c, EPS, PROBES, TOL) < TOL);

    /* Position 0 is the identity; the rotation keeps each pair's norm. */
    rope_loss(&c);
    for (size_t j = 0; j < c.nh * c.hd; j++) ck_assert_float_eq_tol(c.y[j], c.x[j], 1e-7);
    size_t base = (3 * c.nh + 1) * c.hd;
    for (size_t i = 0; i < c.hd / 2; i++) {
        size_t a = layout == ROPE_HALF ? i : 2 * i, b = layout == ROPE_HALF ? i + c.hd / 2 : 2 * i + 1;
        float n0 = c.x[base + a] * c.x[base + a] + c.x[base + b] * c.x[base + b];
        float n1 = c.y[base + a] * c.y[base + a] + c.y[base + b] * c.y[base + b];
        ck_assert_float_eq_tol(n0, n1, 1e-5);
    }
    /* Pair 0 turns by exactly pos radians: check the angle directly. */
    size_t a = 0, b = layout == ROPE_HALF ? c.hd / 2 : 1;
    float ang = 23.0f;
    ck_assert_float_eq_tol(c.y[base + a], c.x[base + a] * cosf(ang) - c.x[base + b] * sinf(ang), 1e-5);
    free(c.x), free(c.y), free(c.r), free(dx);
}

START_TEST(test_rope_half) { check_rope(ROPE_HALF); }
END_TEST

START_TEST(test_rope_interleaved) { check_rope(ROPE_INTERLEAVED); }
END_TEST

/* ---- attention -------------------------------------------------------- */

typedef struct {
    float *q, *k, *v, *out, *att, *r;
    size_t b, t, nh, nkv, hd;
} att_ctx;

static double att_loss(void *p)
{
    att_ctx *c = p;
    attention_forward(c->out, c->att, c->q, c->k, c->v, c->b, c->t, c->nh, c->nkv, c->hd);
    return tu_dot(c->r, c->out, c->b * c->t * c->nh * c->hd);
}

/* Naive causal GQA attention in double, written independently of the
 * sgemm version, for the forward values. */
static void att_naive(double *out, const att_ctx *c)
{
    size_t g = c->nh / c->nkv;
    double sc = 1.0 / sqrt((double)c->hd);
    double *w = malloc(c->t * sizeof(double));
    for (size_t s = 0; s < c->b; s++)
        for (size_t h = 0; h < c->nh; h++)
            for (size_t i = 0; i < c->t; i++) {
                const float *qi = c->q + ((s * c->t + i) * c->nh + h) * c->hd;
                double mx = -1e300, sum = 0;
                for (size_t j = 0; j <= i; j++) {
                    const float *kj = c->k + ((s * c->t + j) * c->nkv + h / g) * c->hd;
                    double d = 0;
                    for (size_t e = 0; e < c->hd; e++) d += (double)qi[e] * kj[e];
                    w[j] = d * sc;
                    mx = w[j] > mx ? w[j] : mx;
                }
                for (size_t j = 0; j <= i; j++) sum += (w[j] = exp(w[j] - mx));
                double *o = out + ((s * c->t + i) * c->nh + h) * c->hd;
                for (size_t e = 0; e < c->hd; e++) {
                    double acc = 0;
                    for (size_t j = 0; j <= i; j++)
                        acc += w[j] / sum * c->v[((s * c->t + j) * c->nkv + h / g) * c->hd + e];
                    o[e] = acc;
                }
            }
    free(w);
}

START_TEST(test_attention)
{
    tu_rng g;
    tu_rng_seed(&g, 41);
    att_ctx c = {.b = 2, .t = 5, .nh = 4, .nkv = 2, .hd = 4};
    size_t nq = c.b * c.t * c.nh * c.hd, nk = c.b * c.t * c.nkv * c.hd;
    c.q = tu_alloc_fill(&g, nq, -1, 1);
    c.k = tu_alloc_fill(&g, nk, -1, 1);
    c.v = tu_alloc_fill(&g, nk, -1, 1);
    c.out = tu_zeros(nq);
    c.att = tu_zeros(c.b * c.nh * c.t * c.t);
    c.r = tu_alloc_fill(&g, nq, -1, 1);
    att_loss(&c);
    double *ref = malloc(nq * sizeof(double));
    att_naive(ref, &c);
    for (size_t i = 0; i < nq; i++) ck_assert_double_eq_tol(c.out[i], ref[i], 1e-5);
    free(ref);

    float *scratch = tu_zeros(attention_backward_scratch(c.t));
    for (int recompute = 0; recompute < 2; recompute++) {
        float *dq = tu_zeros(nq), *dk = tu_zeros(nk), *dv = tu_zeros(nk);
        att_loss(&c);
        attention_backward(dq, dk, dv, c.r, c.q, c.k, c.v, recompute ? NULL : c.att, scratch,
                           c.b, c.t, c.nh, c.nkv, c.hd);
        ck_assert(tu_fd_check("att dq", c.q, nq, dq, att_loss, &c, EPS, PROBES, TOL) < TOL);
        ck_assert(tu_fd_check("att dk", c.k, nk, dk, att_loss, &c, EPS, PROBES, TOL) < TOL);
        ck_assert(tu_fd_check("att dv", c.v, nk, dv, att_loss, &c, EPS, PROBES, TOL) < TOL);
        free(dq), free(dk), free(dv);
    }
    free(scratch);
    free(c.q), free(c.k), free(c.v), free(c.out), free(c.att), free(c.r);
}
END_TEST

/* ---- swiglu / gelu ---------------------------------------------------- */

typedef struct {
    float *a, *b, *y, *r;
    size_t n;
    int gelu;
} act_ctx;

static double act_loss(void *p)
{
    act_ctx *c = p;
    if (c->gelu)
        gelu_forward(c->y, c->a, c->n);
    else
        swiglu_forward(c->y, c->a, c->b, c->n);
    return tu_dot(c->r, c->y, c->n);
}

START_TEST(test_swiglu)
{
    tu_rng g;
    tu_rng_seed(&g, 51);
    act_ctx c = {.n = 64};
    c.a = tu_alloc_fill(&g, c.n, -4, 4);
    c.b = tu_alloc_fill(&g, c.n, -2, 2);
    c.y = tu_zeros(c.n);
    c.r = tu_alloc_fill(&g, c.n, -1, 1);
    float *da = tu_zeros(c.n), *db = tu_zeros(c.n);
    swiglu_backward(da, db, c.r, c.a, c.b, c.n);
    ck_assert(tu_fd_check("swiglu dgate", c.a, c.n, da, act_loss, &c, EPS, PROBES, TOL) < TOL);
    ck_assert(tu_fd_check("swiglu dup", c.b, c.n, db, act_loss, &c, EPS, PROBES, TOL) < TOL);
    act_loss(&c);
    /* silu(1) * 2 = 2 / (1 + e^-1) */
    float one = 1.0f, two = 2.0f, h;
    swiglu_forward(&h, &one, &two, 1);
    ck_assert_float_eq_tol(h, 2.0f / (1.0f + expf(-1.0f)), 1e-6);
    free(c.a), free(c.b), free(c.y), free(c.r), free(da), free(db);
}
END_TEST

START_TEST(test_gelu)
{
    tu_rng g;
    tu_rng_seed(&g, 52);
    act_ctx c = {.n = 64, .gelu = 1};
    c.a = tu_alloc_fill(&g, c.n, -4, 4);
    c.y = tu_zeros(c.n);
    c.r = tu_alloc_fill(&g, c.n, -1, 1);
    float *da = tu_zeros(c.n);
    gelu_backward(da, c.r, c.a, c.n);
    ck_assert(tu_fd_check("gelu dx", c.a, c.n, da, act_loss, &c, EPS, PROBES, TOL) < TOL);
    /* gelu_new(1) from the tanh formula, computed in double */
    float one = 1.0f, y;
    gelu_forward(&y, &one, 1);
    double k = sqrt(2.0 / M_PI);
    ck_assert_double_eq_tol(y, 0.5 * (1 + tanh(k * (1 + 0.044715))), 1e-6);
    free(c.a), free(c.y), free(c.r), free(da);
}
END_TEST

/* ---- embeddings ------------------------------------------------------- */

typedef struct {
    float *wte, *wpe, *x, *r;
    const int32_t *tok, *pos;
    size_t n, c;
} emb_ctx;

static double emb_loss(void *p)
{
    emb_ctx *c = p;
    embedding_forward(c->x, c->tok, c->wte, c->n, c->c);
    posembed_forward(c->x, c->pos, c->wpe, c->n, c->c);
    return tu_dot(c->r, c->x, c->n * c->c);
}

START_TEST(test_embedding)
{
    tu_rng g;
    tu_rng_seed(&g, 61);
    static const int32_t tok[5] = {3, 1, 3, 0, 6}, pos[5] = {0, 1, 2, 0, 1};
    emb_ctx c = {.tok = tok, .pos = pos, .n = 5, .c = 4};
    c.wte = tu_alloc_fill(&g, 7 * c.c, -1, 1);
    c.wpe = tu_alloc_fill(&g, 3 * c.c, -1, 1);
    c.x = tu_zeros(c.n * c.c);
    c.r = tu_alloc_fill(&g, c.n * c.c, -1, 1);
    float *dwte = tu_zeros(7 * c.c), *dwpe = tu_zeros(3 * c.c);
    embedding_backward(dwte, c.r, tok, c.n, c.c);
    posembed_backward(dwpe, c.r, pos, c.n, c.c);
    ck_assert(tu_fd_check("wte", c.wte, 7 * c.c, dwte, emb_loss, &c, EPS, PROBES, TOL) < TOL);
    ck_assert(tu_fd_check("wpe", c.wpe, 3 * c.c, dwpe, emb_loss, &c, EPS, PROBES, TOL) < TOL);
    /* Token 3 appears twice: its row holds the sum of both upstream rows. */
    ck_assert_float_eq_tol(dwte[3 * 4 + 1], c.r[0 * 4 + 1] + c.r[2 * 4 + 1], 1e-6);
    free(c.wte), free(c.wpe), free(c.x), free(c.r), free(dwte), free(dwpe);
}
END_TEST

/* ---- LM head: logprob + entropy with temperature ---------------------- */

typedef struct {
    float *h, *w, *probs, *lp, *ent, *r1, *r2;
    const int32_t *tgt;
    float temp;
    size_t n, c, v;
} lm_ctx;

static double lm_loss(void *p)
{
    lm_ctx *c = p;
    lmhead_forward(c->lp, c->ent, c->probs, c->h, c->w, c->tgt, c->temp, c->n, c->c, c->v);
    return tu_dot(c->r1, c->lp, c->n) + tu_dot(c->r2, c->ent, c->n);
}

START_TEST(test_lmhead)
{
    tu_rng g;
    tu_rng_seed(&g, 71);
    static const int32_t tgt[4] = {2, -1, 9, 0};
    lm_ctx c = {.tgt = tgt, .temp = 0.7f, .n = 4, .c = 6, .v = 11};
    c.h = tu_alloc_fill(&g, c.n * c.c, -1, 1);
    c.w = tu_alloc_fill(&g, c.v * c.c, -1, 1);
    c.probs = tu_zeros(c.n * c.v);
    c.lp = tu_zeros(c.n);
    c.ent = tu_zeros(c.n);
    c.r1 = tu_alloc_fill(&g, c.n, -1, 1);
    c.r2 = tu_alloc_fill(&g, c.n, -1, 1);

    /* Forward against a direct double computation. */
    lm_loss(&c);
    for (size_t i = 0; i < c.n; i++) {
        double z[11], mx = -1e300, s = 0, ent = 0;
        for (size_t j = 0; j < c.v; j++) {
            double d = 0;
            for (size_t e = 0; e < c.c; e++) d += (double)c.h[i * c.c + e] * c.w[j * c.c + e];
            z[j] = d / c.temp;
            mx = z[j] > mx ? z[j] : mx;
        }
        for (size_t j = 0; j < c.v; j++) s += exp(z[j] - mx);
        for (size_t j = 0; j < c.v; j++) {
            double lpj = z[j] - mx - log(s);
            ent -= exp(lpj) * lpj;
        }
        ck_assert_double_eq_tol(c.ent[i], ent, 1e-5);
        double want = tgt[i] >= 0 ? z[tgt[i]] - mx - log(s) : 0.0;
        ck_assert_double_eq_tol(c.lp[i], want, 1e-5);
    }

    /* Gradients: logprob only, entropy only, and both together. */
    for (int mode = 0; mode < 3; mode++) {
        float *r1 = c.r1, *r2 = c.r2, *z1 = tu_zeros(c.n), *z2 = tu_zeros(c.n);
        if (mode == 0) c.r2 = z2;
        if (mode == 1) c.r1 = z1;
        float *dh = tu_zeros(c.n * c.c), *dw = tu_zeros(c.v * c.c);
        lm_loss(&c);
        lmhead_backward(dh, dw, c.probs, mode == 1 ? NULL : c.r1, mode == 0 ? NULL : c.r2, c.h,
                        c.w, tgt, c.temp, c.n, c.c, c.v);
        ck_assert(tu_fd_check("lm dh", c.h, c.n * c.c, dh, lm_loss, &c, EPS, PROBES, TOL) < TOL);
        ck_assert(tu_fd_check("lm dw", c.w, c.v * c.c, dw, lm_loss, &c, EPS, PROBES, TOL) < TOL);
        c.r1 = r1, c.r2 = r2;
        free(z1), free(z2), free(dh), free(dw);
    }
    free(c.h), free(c.w), free(c.probs), free(c.lp), free(c.ent), free(c.r1), free(c.r2);
}
END_TEST

/* ---- value and score heads -------------------------------------------- */

typedef struct {
    float *h, *w, *b, *y, *r;
    const size_t *rows;
    size_t n, c, s;
} head_ctx;

static double head_loss(void *p)
{
    head_ctx *c = p;
    if (c->rows) {
        score_head_forward(c->y, c->h, c->w, c->b, c->rows, c->s, c->c);
        return tu_dot(c->r, c->y, c->s);
    }
    value_head_forward(c->y, c->h, c->w, c->b, c->n, c->c);
    return tu_dot(c->r, c->y, c->n);
}

START_TEST(test_heads)
{
    tu_rng g;
    tu_rng_seed(&g, 81);
    static const size_t rows[3] = {2, 5, 6};
    for (int score = 0; score < 2; score++) {
        head_ctx c = {.n = 7, .c = 5, .s = 3, .rows = score ? rows : NULL};
        c.h = tu_alloc_fill(&g, c.n * c.c, -1, 1);
        c.w = tu_alloc_fill(&g, c.c, -1, 1);
        c.b = tu_alloc_fill(&g, 1, -1, 1);
        c.y = tu_zeros(c.n);
        c.r = tu_alloc_fill(&g, c.n, -1, 1);
        float *dh = tu_zeros(c.n * c.c), *dw = tu_zeros(c.c), *db = tu_zeros(1);
        if (score)
            score_head_backward(dh, dw, db, c.r, c.h, c.w, rows, c.s, c.c);
        else
            value_head_backward(dh, dw, db, c.r, c.h, c.w, c.n, c.c);
        ck_assert(tu_fd_check("head dh", c.h, c.n * c.c, dh, head_loss, &c, EPS, PROBES, TOL) < TOL);
        ck_assert(tu_fd_check("head dw", c.w, c.c, dw, head_loss, &c, EPS, PROBES, TOL) < TOL);
        ck_assert(tu_fd_check("head db", c.b, 1, db, head_loss, &c, EPS, PROBES, TOL) < TOL);
        if (score) /* rows not read get no gradient */
            for (size_t e = 0; e < c.c; e++) ck_assert_float_eq(dh[0 * c.c + e], 0.0f);
        free(c.h), free(c.w), free(c.b), free(c.y), free(c.r), free(dh), free(dw), free(db);
    }
}
END_TEST

/* ---- the engine-layout variants against the FD-checked kernels ------- */

/* Attention on a fused [n, (NH+2NKV)*HD] q|k|v buffer, split into two kv
 * ranges as two threads would, equals attention_backward on separate
 * arrays; with saved and with recomputed probabilities. */
START_TEST(test_attention_seq_fused)
{
    tu_rng g;
    tu_rng_seed(&g, 43);
    size_t n = 6, nh = 4, nkv = 2, hd = 4, qd = nh * hd, kd = nkv * hd, w = qd + 2 * kd;
    float *qkv = tu_alloc_fill(&g, n * w, -1, 1), *dout = tu_alloc_fill(&g, n * qd, -1, 1);
    float *q = tu_zeros(n * qd), *k = tu_zeros(n * kd), *v = tu_zeros(n * kd);
    for (size_t i = 0; i < n; i++) {
        memcpy(q + i * qd, qkv + i * w, qd * sizeof(float));
        memcpy(k + i * kd, qkv + i * w + qd, kd * sizeof(float));
        memcpy(v + i * kd, qkv + i * w + qd + kd, kd * sizeof(float));
    }
    float *out = tu_zeros(n * qd), *att = tu_zeros(nh * n * n);
    attention_forward(out, att, q, k, v, 1, n, nh, nkv, hd);
    float *dq = tu_zeros(n * qd), *dk = tu_zeros(n * kd), *dv = tu_zeros(n * kd);
    float *scratch = tu_zeros(attention_backward_scratch(n));
    attention_backward(dq, dk, dv, dout, q, k, v, att, scratch, 1, n, nh, nkv, hd);
    for (int recompute = 0; recompute < 2; recompute++) {
        float *dqkv = tu_zeros(n * w);
        for (size_t kv0 = 0; kv0 < nkv; kv0++)
            attention_seq_backward(dqkv, w, dqkv + qd, w, dqkv + qd + kd, w, dout, qd, qkv, w,
                                   qkv + qd, w, qkv + qd + kd, w, recompute ? NULL : att, scratch,
                                   n, nh, nkv, hd, kv0, kv0 + 1);
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < qd; j++) ck_assert_float_eq_tol(dqkv[i * w + j], dq[i * qd + j], 1e-6);
            for (size_t j = 0; j < kd; j++) {
                ck_assert_float_eq_tol(dqkv[i * w + qd + j], dk[i * kd + j], 1e-6);
                ck_assert_float_eq_tol(dqkv[i * w + qd + kd + j], dv[i * kd + j], 1e-6);
            }
        }
        free(dqkv);
    }
    free(qkv), free(dout), free(q), free(k), free(v), free(out), free(att), free(dq), free(dk);
    free(dv), free(scratch);
}
END_TEST

START_TEST(test_rope_table_inplace)
{
    tu_rng g;
    tu_rng_seed(&g, 33);
    size_t n = 5, nh = 3, hd = 8, half = hd / 2, ld = nh * hd + 7, npos = 30;
    int32_t pos[5] = {0, 4, 1, 29, 7};
    float *cos_t = tu_zeros(npos * half), *sin_t = tu_zeros(npos * half);
    for (size_t i = 0; i < half; i++) {
        float inv = 1.0f / powf(10000.0f, (float)(2 * i) / (float)hd);
        for (size_t p = 0; p < npos; p++) {
            cos_t[p * half + i] = cosf((float)p * inv);
            sin_t[p * half + i] = sinf((float)p * inv);
        }
    }
    for (int layout = 0; layout < 2; layout++) {
        float *d = tu_alloc_fill(&g, n * ld, -1, 1), *dense = tu_zeros(n * nh * hd);
        float *want = tu_zeros(n * nh * hd);
        for (size_t r = 0; r < n; r++) memcpy(dense + r * nh * hd, d + r * ld, nh * hd * sizeof(float));
        rope_backward(want, dense, pos, n, nh, hd, 10000.0f, (rope_layout)layout);
        float pad = d[nh * hd]; /* a column outside the heads stays put */
        rope_backward_table(d, ld, pos, n, nh, hd, cos_t, sin_t, (rope_layout)layout);
        ck_assert_float_eq(d[nh * hd], pad);
        for (size_t r = 0; r < n; r++)
            for (size_t j = 0; j < nh * hd; j++)
                ck_assert_float_eq_tol(d[r * ld + j], want[r * nh * hd + j], 2e-6);
        free(d), free(dense), free(want);
    }
    free(cos_t), free(sin_t);
}
END_TEST

START_TEST(test_swiglu_fused)
{
    tu_rng g;
    tu_rng_seed(&g, 53);
    size_t t = 3, f = 5;
    float *gu = tu_alloc_fill(&g, t * 2 * f, -3, 3), *dh = tu_alloc_fill(&g, t * f, -1, 1);
    float *dgu = tu_zeros(t * 2 * f);
    swiglu_fused_backward(dgu, dh, gu, t, f);
    for (size_t r = 0; r < t; r++) {
        float dg[5] = {0}, du[5] = {0};
        swiglu_backward(dg, du, dh + r * f, gu + r * 2 * f, gu + r * 2 * f + f, f);
        for (size_t i = 0; i < f; i++) {
            ck_assert_float_eq_tol(dgu[r * 2 * f + i], dg[i], 1e-6);
            ck_assert_float_eq_tol(dgu[r * 2 * f + f + i], du[i], 1e-6);
        }
    }
    free(gu), free(dh), free(dgu);
}
END_TEST

/* lmhead_dlogits on raw logits + the two matmuls == lmhead_backward. */
START_TEST(test_lmhead_dlogits)
{
    tu_rng g;
    tu_rng_seed(&g, 73);
    static const int32_t tgt[4] = {2, -1, 9, 0};
    size_t n = 4, c = 6, v = 37;
    float temp = 0.7f;
    float *h = tu_alloc_fill(&g, n * c, -1, 1), *w = tu_alloc_fill(&g, v * c, -1, 1);
    float *r1 = tu_alloc_fill(&g, n, -1, 1), *r2 = tu_alloc_fill(&g, n, -1, 1);
    float *probs = tu_zeros(n * v), *lp = tu_zeros(n), *ent = tu_zeros(n), *z = tu_zeros(n * v);
    for (int mode = 0; mode < 3; mode++) {
        const float *dl = mode == 1 ? NULL : r1, *de = mode == 0 ? NULL : r2;
        float *dh1 = tu_zeros(n * c), *dw1 = tu_zeros(v * c), *dh2 = tu_zeros(n * c), *dw2 = tu_zeros(v * c);
        lmhead_forward(lp, ent, probs, h, w, tgt, temp, n, c, v);
        lmhead_backward(dh1, dw1, probs, dl, de, h, w, tgt, temp, n, c, v);
        linear_forward(z, h, w, NULL, n, c, v); /* raw logits */
        lmhead_dlogits(z, tgt, dl, de, temp, n, v);
        linear_backward(dh2, dw2, NULL, z, h, w, n, c, v);
        ck_assert(tu_rel_err(dh2, dh1, n * c, 1e-9) < 1e-5);
        ck_assert(tu_rel_err(dw2, dw1, v * c, 1e-9) < 1e-5);
        free(dh1), free(dw1), free(dh2), free(dw2);
    }
    free(h), free(w), free(r1), free(r2), free(probs), free(lp), free(ent), free(z);
}
END_TEST

/* fast_expf against libm's exp in double over the range softmax uses. */
START_TEST(test_fast_expf)
{
    double worst = 0.0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000.0f;
        double want = exp((double)x), got = fast_expf(x);
        double e = fabs(got - want) / want;
        worst = e > worst ? e : worst;
    }
    ck_assert_msg(worst < 3e-7, "fast_expf worst relative error %.3g", worst);
    ck_assert_float_eq(fast_expf(0.0f), 1.0f);
    ck_assert(fast_expf(-1000.0f) < 1e-37f);
    ck_assert(fast_expf(-1000.0f) >= 0.0f);
}
END_TEST

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("train_kernels_bwd");
    TCase *tc = tcase_create("fd");
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_linear_t);
    tcase_add_test(tc, test_rmsnorm);
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_rope_half);
    tcase_add_test(tc, test_rope_interleaved);
    tcase_add_test(tc, test_attention);
    tcase_add_test(tc, test_swiglu);
    tcase_add_test(tc, test_gelu);
    tcase_add_test(tc, test_embedding);
    tcase_add_test(tc, test_lmhead);
    tcase_add_test(tc, test_heads);
    tcase_add_test(tc, test_fast_expf);
    tcase_add_test(tc, test_attention_seq_fused);
    tcase_add_test(tc, test_rope_table_inplace);
    tcase_add_test(tc, test_swiglu_fused);
    tcase_add_test(tc, test_lmhead_dlogits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kernels_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
