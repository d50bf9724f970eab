/*
 * kernels_bwd.c — forward/backward pairs of the transformer ops.
 * See kernels_bwd.h for the conventions (outputs first, backward
 * accumulates, NULL gradient = not wanted).
 */
#include "kernels_bwd.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ======================================================================
 * Exponentials and row reductions written so that -O3 vectorises them:
 * no libm calls inside the loops and 16 independent accumulators per
 * reduction (fp32 lanes, combined in double at the end).
 * ==================================================================== */

static inline float exp_inline(float x)
{
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.7f ? 88.7f : x;
    float kf = x * 1.44269504088896341f;
    kf = (kf + 12582912.0f) - 12582912.0f; /* round to nearest integer */
    float r = x - kf * 0.693359375f;        /* ln2 high part: k*hi is exact */
    r = r + kf * 2.12194440e-4f;            /* ln2 = hi - 2.12194440e-4 */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)kf + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

float fast_expf(float x) { return exp_inline(x); }

#define LANES 16

static float row_max(const float *z, size_t n)
{
    float m[LANES];
    for (int k = 0; k < LANES; k++) m[k] = -INFINITY;
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) m[k] = z[j + k] > m[k] ? z[j + k] : m[k];
    float mx = -INFINITY;
    for (int k = 0; k < LANES; k++) mx = m[k] > mx ? m[k] : mx;
    for (; j < n; j++) mx = z[j] > mx ? z[j] : mx;
    return mx;
}

/* z[j] = exp(z[j] - mx); returns the sum, and in *sum_ez (when not NULL)
 * sum_j exp(z_j - mx) * (z_j - mx), which the entropy needs. */
static double row_exp_sum(float *z, size_t n, float mx, double *sum_ez)
{
    float s[LANES] = {0}, sz[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) {
            float d = z[j + k] - mx, e = exp_inline(d);
            z[j + k] = e;
            s[k] += e;
            sz[k] += e * d;
        }
    double sum = 0.0, sumz = 0.0;
    for (int k = 0; k < LANES; k++) sum += s[k], sumz += sz[k];
    for (; j < n; j++) {
        float d = z[j] - mx, e = exp_inline(d);
        z[j] = e;
        sum += e;
        sumz += (double)e * d;
    }
    if (sum_ez) *sum_ez = sumz;
    return sum;
}

static void row_scale(float *z, size_t n, float a)
{
    for (size_t j = 0; j < n; j++) z[j] *= a;
}

/* ======================================================================
 * Linear layers.  All three products of a Linear go through sgemm: the
 * forward, dx and dW are each a full matrix multiply.
 * ==================================================================== */

static void add_bias_rows(float *y, const float *b, size_t n, size_t out)
{
    if (!b) return;
    for (size_t i = 0; i < n; i++) {
        float *row = y + i * out;
        for (size_t o = 0; o < out; o++) row[o] += b[o];
    }
}

static void sum_rows_into(float *db, const float *dy, size_t n, size_t out)
{
    if (!db) return;
    for (size_t i = 0; i < n; i++) {
        const float *row = dy + i * out;
        for (size_t o = 0; o < out; o++) db[o] += row[o];
    }
}

void linear_forward(float *y, const float *x, const float *w, const float *b,
                    size_t n, size_t in, size_t out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in,
                1.0f, x, (int)in, w, (int)in, 0.0f, y, (int)out);
    add_bias_rows(y, b, n, out);
}

void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                     const float *w, size_t n, size_t in, size_t out)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out,
                    1.0f, dy, (int)out, w, (int)in, 1.0f, dx, (int)in);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n,
                    1.0f, dy, (int)out, x, (int)in, 1.0f, dw, (int)in);
    sum_rows_into(db, dy, n, out);
}

void linear_t_forward(float *y, const float *x, const float *w, const float *b,
                      size_t n, size_t in, size_t out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)out, (int)in,
                1.0f, x, (int)in, w, (int)out, 0.0f, y, (int)out);
    add_bias_rows(y, b, n, out);
}

void linear_t_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                       const float *w, size_t n, size_t in, size_t out)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)in, (int)out,
                    1.0f, dy, (int)out, w, (int)out, 1.0f, dx, (int)in);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)in, (int)out, (int)n,
                    1.0f, x, (int)in, dy, (int)out, 1.0f, dw, (int)out);
    sum_rows_into(db, dy, n, out);
}

/* ======================================================================
 * Normalisations.  Statistics are accumulated in double so the reference
 * does not drift with C; the saved rstd/mean are what the backward needs.
 * ==================================================================== */

void rmsnorm_forward(float *y, float *rstd, const float *x, const float *w,
                     size_t n, size_t c, float eps)
{
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * c;
        float *yi = y + i * c;
        double ss = 0.0;
        for (size_t j = 0; j < c; j++) ss += (double)xi[j] * xi[j];
        float r = (float)(1.0 / sqrt(ss / (double)c + (double)eps));
        rstd[i] = r;
        for (size_t j = 0; j < c; j++) yi[j] = w[j] * (xi[j] * r);
    }
}

/* With xh = x*rstd and g = dy*w:  dx = rstd * (g - xh * mean(g*xh)). */
void rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                      const float *rstd, size_t n, size_t c)
{
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * c, *dyi = dy + i * c;
        float r = rstd[i];
        double dot = 0.0;
        for (size_t j = 0; j < c; j++) dot += (double)dyi[j] * w[j] * xi[j] * r;
        float m = (float)(dot / (double)c);
        if (dx) {
            float *dxi = dx + i * c;
            for (size_t j = 0; j < c; j++) dxi[j] += r * (dyi[j] * w[j] - xi[j] * r * m);
        }
        if (dw)
            for (size_t j = 0; j < c; j++) dw[j] += dyi[j] * xi[j] * r;
    }
}

void layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                       const float *b, size_t n, size_t c, float eps)
{
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * c;
        float *yi = y + i * c;
        double s = 0.0;
        for (size_t j = 0; j < c; j++) s += xi[j];
        double mu = s / (double)c, var = 0.0;
        for (size_t j = 0; j < c; j++) var += ((double)xi[j] - mu) * ((double)xi[j] - mu);
        float r = (float)(1.0 / sqrt(var / (double)c + (double)eps));
        float m = (float)mu;
        mean[i] = m;
        rstd[i] = r;
        for (size_t j = 0; j < c; j++) yi[j] = (xi[j] - m) * r * w[j] + (b ? b[j] : 0.0f);
    }
}

/* With xh = (x-mean)*rstd, g = dy*w:  dx = rstd * (g - mean(g) - xh*mean(g*xh)). */
void layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, const float *mean, const float *rstd,
                        size_t n, size_t c)
{
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * c, *dyi = dy + i * c;
        float m = mean[i], r = rstd[i];
        double sg = 0.0, sgx = 0.0;
        for (size_t j = 0; j < c; j++) {
            double g = (double)dyi[j] * w[j];
            sg += g;
            sgx += g * ((double)xi[j] - m) * r;
        }
        float mg = (float)(sg / (double)c), mgx = (float)(sgx / (double)c);
        for (size_t j = 0; j < c; j++) {
            float xh = (xi[j] - m) * r;
            if (dx) dx[i * c + j] += r * (dyi[j] * w[j] - mg - xh * mgx);
            if (dw) dw[j] += dyi[j] * xh;
            if (db) db[j] += dyi[j];
        }
    }
}

/* ======================================================================
 * Rotary embedding.  The frequency follows Hugging Face's float32
 * computation (inv_freq = 1 / theta^(2i/HD), angle = pos * inv_freq) so the
 * angles agree with the reference to the last bit that matters.
 * ==================================================================== */

/* Index of the two members of rotation pair i inside one head. */
static void rope_pair(size_t i, size_t hd, rope_layout layout, size_t *a, size_t *b)
{
    if (layout == ROPE_INTERLEAVED) {
        *a = 2 * i;
        *b = 2 * i + 1;
    } else {
        *a = i;
        *b = i + hd / 2;
    }
}

static float rope_inv_freq(size_t i, size_t hd, float theta)
{
    return 1.0f / (float)pow((double)theta, (double)(2 * i) / (double)hd);
}

/* sign = +1 rotates forward, -1 applies the transpose. */
static void rope_apply(float *dst, const float *src, int accumulate, float sign,
                       const int32_t *pos, size_t n, size_t nh, size_t hd, float theta,
                       rope_layout layout)
{
    size_t half = hd / 2;
    for (size_t i = 0; i < half; i++) {
        float f = rope_inv_freq(i, hd, theta);
        size_t a, b;
        rope_pair(i, hd, layout, &a, &b);
        for (size_t t = 0; t < n; t++) {
            float ang = (float)pos[t] * f;
            float co = cosf(ang), si = sign * sinf(ang);
            for (size_t h = 0; h < nh; h++) {
                size_t base = (t * nh + h) * hd;
                float x1 = src[base + a], x2 = src[base + b];
                float y1 = x1 * co - x2 * si, y2 = x2 * co + x1 * si;
                if (accumulate) {
                    dst[base + a] += y1;
                    dst[base + b] += y2;
                } else {
                    dst[base + a] = y1;
                    dst[base + b] = y2;
                }
            }
        }
    }
}

void rope_forward(float *x, const int32_t *pos, size_t n, size_t nh, size_t hd, float theta,
                  rope_layout layout)
{
    rope_apply(x, x, 0, 1.0f, pos, n, nh, hd, theta, layout);
}

void rope_backward(float *dx, const float *dy, const int32_t *pos, size_t n, size_t nh,
                   size_t hd, float theta, rope_layout layout)
{
    rope_apply(dx, dy, 1, -1.0f, pos, n, nh, hd, theta, layout);
}

void rope_backward_table(float *d, size_t ld, const int32_t *pos, size_t t, size_t nh, size_t hd,
                         const float *cos_t, const float *sin_t, rope_layout layout)
{
    size_t half = hd / 2;
    for (size_t r = 0; r < t; r++) {
        const float *co = cos_t + (size_t)pos[r] * half, *si = sin_t + (size_t)pos[r] * half;
        for (size_t h = 0; h < nh; h++) {
            float *x = d + r * ld + h * hd;
            for (size_t i = 0; i < half; i++) {
                size_t a, b;
                rope_pair(i, hd, layout, &a, &b);
                float y1 = x[a], y2 = x[b];
                /* R^T: rotate by -angle */
                x[a] = y1 * co[i] + y2 * si[i];
                x[b] = y2 * co[i] - y1 * si[i];
            }
        }
    }
}

/* ======================================================================
 * Attention.  Per (sequence, query head) the scores, the weighted sum and
 * all four backward products are sgemm calls on strided views of the
 * [B,T,heads,HD] arrays; only the causal softmax is a plain loop.
 * ==================================================================== */

/* Row-wise causal softmax of s[T,T] in place: row i keeps columns 0..i. */
static void causal_softmax_rows(float *s, size_t t)
{
    for (size_t i = 0; i < t; i++) {
        float *row = s + i * t;
        float mx = row_max(row, i + 1);
        double sum = row_exp_sum(row, i + 1, mx, NULL);
        row_scale(row, i + 1, (float)(1.0 / sum));
        for (size_t j = i + 1; j < t; j++) row[j] = 0.0f;
    }
}

/* Probabilities of one (sequence, head): P = softmax(scale * Q K^T). */
static void attention_probs(float *p, const float *qh, const float *kh, size_t t, size_t hd,
                            size_t ldq, size_t ldk)
{
    float scale = 1.0f / sqrtf((float)hd);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)t, (int)t, (int)hd, scale, qh,
                (int)ldq, kh, (int)ldk, 0.0f, p, (int)t);
    causal_softmax_rows(p, t);
}

void attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                       size_t b, size_t t, size_t nh, size_t nkv, size_t hd)
{
    size_t group = nh / nkv, ldq = nh * hd, ldk = nkv * hd;
    for (size_t s = 0; s < b; s++) {
        for (size_t h = 0; h < nh; h++) {
            const float *qh = q + s * t * ldq + h * hd;
            const float *kh = k + s * t * ldk + (h / group) * hd;
            const float *vh = v + s * t * ldk + (h / group) * hd;
            float *p = att + (s * nh + h) * t * t;
            attention_probs(p, qh, kh, t, hd, ldq, ldk);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t, (int)hd, (int)t,
                        1.0f, p, (int)t, vh, (int)ldk, 0.0f, out + s * t * ldq + h * hd,
                        (int)ldq);
        }
    }
}

size_t attention_backward_scratch(size_t t) { return 2 * t * t; }

/* dS = P * (dP - rowsum(P * dP)), in place over dP, causal part only. */
static void softmax_rows_backward(float *dp, const float *p, size_t t)
{
    for (size_t i = 0; i < t; i++) {
        float *d = dp + i * t;
        const float *pr = p + i * t;
        double dot = 0.0;
        for (size_t j = 0; j <= i; j++) dot += (double)pr[j] * d[j];
        float fd = (float)dot;
        for (size_t j = 0; j <= i; j++) d[j] = pr[j] * (d[j] - fd);
        for (size_t j = i + 1; j < t; j++) d[j] = 0.0f;
    }
}

/* Backward of one query head h against its kv head: P [n,n] (ld n). */
static void attention_head_backward(float *dq, size_t lddq, float *dk, size_t lddk, float *dv,
                                    size_t lddv, const float *dout, size_t ldo, const float *q,
                                    size_t ldq, const float *k, size_t ldk, const float *v,
                                    size_t ldv, const float *p, float *dp, size_t n, size_t hd)
{
    float scale = 1.0f / sqrtf((float)hd);
    /* dP = dO V^T;  dV += P^T dO */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)hd, 1.0f, dout,
                (int)ldo, v, (int)ldv, 0.0f, dp, (int)n);
    if (dv)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)hd, (int)n, 1.0f, p,
                    (int)n, dout, (int)ldo, 1.0f, dv, (int)lddv);
    softmax_rows_backward(dp, p, n);
    /* dQ += scale dS K;  dK += scale dS^T Q */
    if (dq)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)hd, (int)n, scale, dp,
                    (int)n, k, (int)ldk, 1.0f, dq, (int)lddq);
    if (dk)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)hd, (int)n, scale, dp,
                    (int)n, q, (int)ldq, 1.0f, dk, (int)lddk);
}

void attention_seq_backward(float *dq, size_t lddq, float *dk, size_t lddk, float *dv,
                            size_t lddv, const float *dout, size_t ldo, const float *q,
                            size_t ldq, const float *k, size_t ldk, const float *v, size_t ldv,
                            const float *probs, float *scratch, size_t n, size_t nh, size_t nkv,
                            size_t hd, size_t kv0, size_t kv1)
{
    size_t group = nh / nkv;
    float *dp = scratch, *p_own = scratch + n * n;
    for (size_t h = kv0 * group; h < kv1 * group; h++) {
        size_t qo = h * hd, ko = (h / group) * hd;
        const float *p;
        if (probs) {
            p = probs + h * n * n;
        } else {
            attention_probs(p_own, q + qo, k + ko, n, hd, ldq, ldk);
            p = p_own;
        }
        attention_head_backward(dq ? dq + qo : NULL, lddq, dk ? dk + ko : NULL, lddk,
                                dv ? dv + ko : NULL, lddv, dout + qo, ldo, q + qo, ldq, k + ko,
                                ldk, v + ko, ldv, p, dp, n, hd);
    }
}

void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                        const float *k, const float *v, const float *att, float *scratch,
                        size_t b, size_t t, size_t nh, size_t nkv, size_t hd)
{
    size_t ldq = nh * hd, ldk = nkv * hd;
    for (size_t s = 0; s < b; s++) {
        size_t qoff = s * t * ldq, koff = s * t * ldk;
        attention_seq_backward(dq ? dq + qoff : NULL, ldq, dk ? dk + koff : NULL, ldk,
                               dv ? dv + koff : NULL, ldk, dout + qoff, ldq, q + qoff, ldq,
                               k + koff, ldk, v + koff, ldk, att ? att + s * nh * t * t : NULL,
                               scratch, t, nh, nkv, hd, 0, nkv);
    }
}

/* ======================================================================
 * Activations.
 * ==================================================================== */

static inline float sigmoidf(float x) { return 1.0f / (1.0f + exp_inline(-x)); }

void swiglu_forward(float *h, const float *gate, const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++) h[i] = gate[i] * sigmoidf(gate[i]) * up[i];
}

/* d silu(g)/dg = s (1 + g (1 - s)) with s = sigmoid(g). */
void swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate,
                     const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], s = sigmoidf(g);
        if (dgate) dgate[i] += dh[i] * up[i] * s * (1.0f + g * (1.0f - s));
        if (dup) dup[i] += dh[i] * g * s;
    }
}

void swiglu_fused_backward(float *dgu, const float *dh, const float *gu, size_t t, size_t f)
{
    for (size_t r = 0; r < t; r++)
        swiglu_backward(dgu + r * 2 * f, dgu + r * 2 * f + f, dh + r * f, gu + r * 2 * f,
                        gu + r * 2 * f + f, f);
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

/* tanh(a) = 1 - 2 / (e^(2a) + 1): saturates cleanly at both ends; its
 * absolute error (~1e-7) is what GELU's 0.5 u (1 + tanh) sees. */
static inline float tanh_inline(float a) { return 1.0f - 2.0f / (exp_inline(2.0f * a) + 1.0f); }

void gelu_forward(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float u = x[i];
        y[i] = 0.5f * u * (1.0f + tanh_inline(GELU_K * (u + GELU_C * u * u * u)));
    }
}

void gelu_backward(float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float u = x[i];
        float th = tanh_inline(GELU_K * (u + GELU_C * u * u * u));
        float dinner = GELU_K * (1.0f + 3.0f * GELU_C * u * u);
        dx[i] += dy[i] * (0.5f * (1.0f + th) + 0.5f * u * (1.0f - th * th) * dinner);
    }
}

/* ======================================================================
 * Embeddings: a gather forward, a scatter-add backward.
 * ==================================================================== */

void embedding_forward(float *x, const int32_t *tokens, const float *wte, size_t n, size_t c)
{
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * c, wte + (size_t)tokens[i] * c, c * sizeof(float));
}

void embedding_backward(float *dwte, const float *dx, const int32_t *tokens, size_t n, size_t c)
{
    for (size_t i = 0; i < n; i++) vec_add(dwte + (size_t)tokens[i] * c, dx + i * c, c);
}

void posembed_forward(float *x, const int32_t *pos, const float *wpe, size_t n, size_t c)
{
    for (size_t i = 0; i < n; i++) vec_add(x + i * c, wpe + (size_t)pos[i] * c, c);
}

void posembed_backward(float *dwpe, const float *dx, const int32_t *pos, size_t n, size_t c)
{
    for (size_t i = 0; i < n; i++) vec_add(dwpe + (size_t)pos[i] * c, dx + i * c, c);
}

/* ======================================================================
 * LM head: logits, tempered log-softmax, gather of the target token, and
 * the entropy of the tempered distribution.
 * ==================================================================== */

void lmhead_forward(float *logprob, float *entropy, float *probs, const float *h,
                    const float *w, const int32_t *targets, float temperature,
                    size_t n, size_t c, size_t v)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)v, (int)c,
                1.0f / temperature, h, (int)c, w, (int)c, 0.0f, probs, (int)v);
    for (size_t i = 0; i < n; i++) {
        float *z = probs + i * v;
        float mx = row_max(z, v);
        float zt = targets[i] >= 0 ? z[targets[i]] - mx : 0.0f;
        double sum_pz;
        double sum = row_exp_sum(z, v, mx, &sum_pz); /* z now holds exp(z - mx) */
        /* log-sum-exp relative to the max: lse = mx + log(sum). */
        double lse_rel = log(sum);
        if (logprob) logprob[i] = targets[i] >= 0 ? (float)(zt - lse_rel) : 0.0f;
        /* H = lse - E[z] = log(sum) - sum_pz/sum (both relative to mx). */
        if (entropy) entropy[i] = (float)(lse_rel - sum_pz / sum);
        row_scale(z, v, (float)(1.0 / sum));
    }
}

void lmhead_backward(float *dh, float *dw, float *probs, const float *dlogprob,
                     const float *dentropy, const float *h, const float *w,
                     const int32_t *targets, float temperature, size_t n, size_t c, size_t v)
{
    float inv_t = 1.0f / temperature;
    for (size_t i = 0; i < n; i++) {
        float *p = probs + i * v; /* becomes dlogits */
        float dl = (dlogprob && targets[i] >= 0) ? dlogprob[i] : 0.0f;
        float de = dentropy ? dentropy[i] : 0.0f;
        if (de != 0.0f) {
            /* dH/dz_j = -p_j (log p_j + H); p_j log p_j -> 0 as p_j -> 0. */
            double hsum = 0.0;
            for (size_t j = 0; j < v; j++)
                if (p[j] > 0.0f) hsum -= (double)p[j] * logf(p[j]);
            float ent = (float)hsum;
            for (size_t j = 0; j < v; j++) {
                float pj = p[j];
                float lp = pj > 0.0f ? logf(pj) : 0.0f;
                p[j] = (-dl * pj - de * pj * (lp + ent)) * inv_t;
            }
        } else {
            for (size_t j = 0; j < v; j++) p[j] = -dl * p[j] * inv_t;
        }
        if (targets[i] >= 0) p[targets[i]] += dl * inv_t;
    }
    if (dh)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)c, (int)v, 1.0f,
                    probs, (int)v, w, (int)c, 1.0f, dh, (int)c);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)v, (int)c, (int)n, 1.0f,
                    probs, (int)v, h, (int)c, 1.0f, dw, (int)c);
}

void lmhead_dlogits(float *z, const int32_t *targets, const float *dlogprob,
                    const float *dentropy, float temperature, size_t rows, size_t v)
{
    float inv_t = 1.0f / temperature;
    for (size_t i = 0; i < rows; i++) {
        float *p = z + i * v;
        float dl = (dlogprob && targets[i] >= 0) ? dlogprob[i] : 0.0f;
        float de = dentropy ? dentropy[i] : 0.0f;
        row_scale(p, v, inv_t);
        float mx = row_max(p, v);
        double sum_ez;
        double sum = row_exp_sum(p, v, mx, &sum_ez); /* p = exp(z/T - mx) */
        double lse_rel = log(sum);
        float inv_sum = (float)(1.0 / sum);
        if (de != 0.0f) {
            /* log p_j = log(e_j) - lse_rel; H = lse_rel - E[z - mx]. */
            float ent = (float)(lse_rel - sum_ez / sum);
            float lse_f = (float)lse_rel;
            for (size_t j = 0; j < v; j++) {
                float e = p[j], pj = e * inv_sum;
                float lp = e > 0.0f ? logf(e) - lse_f : 0.0f;
                p[j] = (-dl * pj - de * pj * (lp + ent)) * inv_t;
            }
        } else {
            float a = -dl * inv_sum * inv_t;
            for (size_t j = 0; j < v; j++) p[j] *= a;
        }
        if (targets[i] >= 0) p[targets[i]] += dl * inv_t;
    }
}

/* ======================================================================
 * Scalar heads: a [C] vector and an optional bias dotted with the hidden
 * state, at every row (value head) or at chosen rows (score head).
 * ==================================================================== */

static float dot_f(const float *a, const float *b, size_t c)
{
    double s = 0.0;
    for (size_t j = 0; j < c; j++) s += (double)a[j] * b[j];
    return (float)s;
}

static void head_row_backward(float *dh_row, float *dw, float *db, float d, const float *h_row,
                              const float *w, size_t c)
{
    for (size_t j = 0; j < c; j++) {
        if (dh_row) dh_row[j] += d * w[j];
        if (dw) dw[j] += d * h_row[j];
    }
    if (db) db[0] += d;
}

void value_head_forward(float *val, const float *h, const float *w, const float *b, size_t n,
                        size_t c)
{
    for (size_t i = 0; i < n; i++) val[i] = dot_f(h + i * c, w, c) + (b ? b[0] : 0.0f);
}

void value_head_backward(float *dh, float *dw, float *db, const float *dval, const float *h,
                         const float *w, size_t n, size_t c)
{
    for (size_t i = 0; i < n; i++)
        head_row_backward(dh ? dh + i * c : NULL, dw, db, dval[i], h + i * c, w, c);
}

void score_head_forward(float *score, const float *h, const float *w, const float *b,
                        const size_t *rows, size_t s, size_t c)
{
    for (size_t i = 0; i < s; i++) score[i] = dot_f(h + rows[i] * c, w, c) + (b ? b[0] : 0.0f);
}

void score_head_backward(float *dh, float *dw, float *db, const float *dscore, const float *h,
                         const float *w, const size_t *rows, size_t s, size_t c)
{
    for (size_t i = 0; i < s; i++)
        head_row_backward(dh ? dh + rows[i] * c : NULL, dw, db, dscore[i], h + rows[i] * c, w,
                          c);
}

void vec_add(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}
