/*
 * kernels_bwd.h — forward and backward of every op of the transformer
 * engine (Llama, Qwen2, GPT-2), as free functions.
 *
 * Conventions (hold for every function below):
 *   - Arguments: outputs first, then inputs, then sizes.
 *   - Row-major storage.  Dimension letters:
 *       N  tokens in the batch (B sequences of T positions, N = B*T)
 *       C  model width, IN/OUT the two sides of a Linear layer
 *       NH query heads, NKV key/value heads (NH % NKV == 0), HD head size
 *       V  vocabulary size
 *   - Linear weights use the Hugging Face layout W[OUT, IN] (y = x W^T + b);
 *     the GPT-2 Conv1D layout W[IN, OUT] (y = x W + b) has its own pair,
 *     linear_t_forward/backward.
 *   - A forward OVERWRITES its outputs.  A backward ACCUMULATES (+=) into
 *     every gradient it is given, so gradients add up over micro-batches and
 *     over the several uses of a tied weight; zero them before the first
 *     backward.  A NULL gradient pointer means "not wanted" (frozen weight,
 *     or the input of the first layer) and is skipped.
 *   - The forwards are the reference definitions (test oracle and finite
 *     differences); the heavy ones (linear, attention, LM head) are already
 *     sgemm-bound and the engine may call them directly.
 *   - No function allocates: where a kernel needs scratch space, the caller
 *     passes it with its size stated.
 */
#ifndef RLAIF_TRAIN_KERNELS_BWD_H
#define RLAIF_TRAIN_KERNELS_BWD_H

#include <stddef.h>
#include <stdint.h>

/* ---- Linear (HF layout W[OUT, IN]) ----------------------------------- */

/* y[N,OUT] = x[N,IN] W[OUT,IN]^T + b[OUT] (b may be NULL). */
void linear_forward(float *y, const float *x, const float *w, const float *b,
                    size_t n, size_t in, size_t out);
/* dx[N,IN] += dy W;  dw[OUT,IN] += dy^T x;  db[OUT] += sum_n dy. */
void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                     const float *w, size_t n, size_t in, size_t out);

/* ---- Linear, GPT-2 Conv1D layout W[IN, OUT] -------------------------- */

/* y[N,OUT] = x[N,IN] W[IN,OUT] + b[OUT] (b may be NULL). */
void linear_t_forward(float *y, const float *x, const float *w, const float *b,
                      size_t n, size_t in, size_t out);
/* dx[N,IN] += dy W^T;  dw[IN,OUT] += x^T dy;  db[OUT] += sum_n dy. */
void linear_t_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                       const float *w, size_t n, size_t in, size_t out);

/* ---- RMSNorm (Llama, Qwen2) ------------------------------------------ */

/* y[N,C] = w[C] * x * rstd,  rstd[N] = 1/sqrt(mean(x^2) + eps) (saved for
 * the backward). */
void rmsnorm_forward(float *y, float *rstd, const float *x, const float *w,
                     size_t n, size_t c, float eps);
/* dx[N,C] += ...;  dw[C] += sum_n dy * x * rstd. */
void rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                      const float *rstd, size_t n, size_t c);

/* ---- LayerNorm (GPT-2) ----------------------------------------------- */

/* y[N,C] = (x - mean) * rstd * w + b; mean[N], rstd[N] saved. */
void layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                       const float *b, size_t n, size_t c, float eps);
/* dx[N,C], dw[C], db[C] all accumulate. */
void layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, const float *mean, const float *rstd,
                        size_t n, size_t c);

/* ---- Rotary position embedding --------------------------------------- */

typedef enum rope_layout {
    ROPE_HALF = 0,        /* Hugging Face rotate-half: pairs (i, i + HD/2) */
    ROPE_INTERLEAVED = 1, /* llama2.c / Meta: pairs (2i, 2i + 1) */
} rope_layout;

/* Rotates x[N, NH, HD] in place; token n is at position pos[n].  Pair i
 * turns by angle pos * theta^(-2i/HD).  HD must be even. */
void rope_forward(float *x, const int32_t *pos, size_t n, size_t nh, size_t hd, float theta,
                  rope_layout layout);
/* dx[N,NH,HD] += R^T dy (the rotation is orthogonal; dx must not alias dy). */
void rope_backward(float *dx, const float *dy, const int32_t *pos, size_t n, size_t nh,
                   size_t hd, float theta, rope_layout layout);

/* In-place backward with the engine's strided rows and angle tables:
 * d[T rows at d + t*ld, NH heads of HD] <- R(pos[t])^T d, with
 * cos_t/sin_t [P, HD/2] as tf_rope_table builds them.  Used on the q and
 * k column ranges of the fused dqkv gradient. */
void rope_backward_table(float *d, size_t ld, const int32_t *pos, size_t t, size_t nh, size_t hd,
                         const float *cos_t, const float *sin_t, rope_layout layout);

/* ---- Causal self-attention with grouped-query heads ------------------ */

/* q[B,T,NH,HD], k,v[B,T,NKV,HD] -> out[B,T,NH,HD]; query head h reads kv
 * head h / (NH/NKV).  Scores are scaled by 1/sqrt(HD) and masked causally
 * inside each sequence.  att[B,NH,T,T] receives the softmax probabilities
 * (upper triangle zero); it may be kept for the backward. */
void attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                       size_t b, size_t t, size_t nh, size_t nkv, size_t hd);
/* dq, dk, dv accumulate.  att holds the probabilities saved by the forward,
 * or is NULL to recompute them from q and k.  scratch: at least
 * attention_backward_scratch(t) floats. */
void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                        const float *k, const float *v, const float *att, float *scratch,
                        size_t b, size_t t, size_t nh, size_t nkv, size_t hd);
size_t attention_backward_scratch(size_t t);

/* One sequence of n tokens in the engine's strided layout (see
 * tf_attention_forward): q rows at q + i*ldq (head h at +h*HD), k and v
 * rows likewise with KV heads; probs [NH, n, n] are the saved
 * probabilities, or NULL to recompute them.  dq, dk, dv (own leading
 * dimensions; they may be column ranges of one fused [n, (NH+2NKV)*HD]
 * buffer) accumulate.  Only kv heads [kv0, kv1) and their query heads are
 * done, so threads can split the heads without two of them writing one
 * dk/dv column.  scratch: at least attention_backward_scratch(n) floats. */
void attention_seq_backward(float *dq, size_t lddq, float *dk, size_t lddk, float *dv,
                            size_t lddv, const float *dout, size_t ldo, const float *q,
                            size_t ldq, const float *k, size_t ldk, const float *v, size_t ldv,
                            const float *probs, float *scratch, size_t n, size_t nh, size_t nkv,
                            size_t hd, size_t kv0, size_t kv1);

/* ---- Gated and plain activations ------------------------------------- */

/* SwiGLU: h[i] = silu(gate[i]) * up[i] over n elements. */
void swiglu_forward(float *h, const float *gate, const float *up, size_t n);
void swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate,
                     const float *up, size_t n);

/* The engine's fused layout: gu[T, 2F] = gate | up per row, h[T, F].
 * dgu[T, 2F] accumulates. */
void swiglu_fused_backward(float *dgu, const float *dh, const float *gu, size_t t, size_t f);

/* GELU, tanh approximation (GPT-2 "gelu_new"). */
void gelu_forward(float *y, const float *x, size_t n);
void gelu_backward(float *dx, const float *dy, const float *x, size_t n);

/* ---- Embeddings -------------------------------------------------------- */

/* x[N,C] = wte[tokens[n]] (tokens must be in [0, V); the caller checks). */
void embedding_forward(float *x, const int32_t *tokens, const float *wte, size_t n, size_t c);
/* dwte[V,C] += scatter of dx by token. */
void embedding_backward(float *dwte, const float *dx, const int32_t *tokens, size_t n,
                        size_t c);
/* x[N,C] += wpe[pos[n]] (learned positions, GPT-2). */
void posembed_forward(float *x, const int32_t *pos, const float *wpe, size_t n, size_t c);
void posembed_backward(float *dwpe, const float *dx, const int32_t *pos, size_t n, size_t c);

/* ---- LM head, log-softmax, gather, entropy --------------------------- */

/* logits = h[N,C] W[V,C]^T / temperature; p = softmax(logits).
 *   probs[N,V]   receives p (keep it for the backward);
 *   logprob[N]   log p[targets[n]], 0 where targets[n] < 0 (no target);
 *   entropy[N]   -sum p log p (may be NULL).
 * Rows are independent: the caller may run this in row chunks to bound the
 * size of probs. */
void lmhead_forward(float *logprob, float *entropy, float *probs, const float *h,
                    const float *w, const int32_t *targets, float temperature,
                    size_t n, size_t c, size_t v);
/* Given dL/dlogprob[N] and dL/dentropy[N] (either may be NULL):
 *   dlogits = (dlogprob (onehot - p) - dentropy p (log p + H)) / temperature,
 *   dh[N,C] += dlogits W;  dw[V,C] += dlogits^T h.
 * probs is OVERWRITTEN with dlogits (it is the forward's scratch, reused to
 * avoid a second [N,V] buffer). */
void lmhead_backward(float *dh, float *dw, float *probs, const float *dlogprob,
                     const float *dentropy, const float *h, const float *w,
                     const int32_t *targets, float temperature, size_t n, size_t c, size_t v);

/* The LM head's gradient for rows of logits recomputed in chunks (the
 * engine does not keep [N,V]): z[rows, V] holds the RAW logits (before the
 * temperature) on entry and dL/dlogits on return, given dL/dlogprob and
 * dL/dentropy per row (either may be NULL; targets[r] < 0: no logprob
 * gradient on that row).  Then the caller accumulates dh += z W and
 * dW += z^T h (two matmuls), exactly as lmhead_backward does. */
void lmhead_dlogits(float *z, const int32_t *targets, const float *dlogprob,
                    const float *dentropy, float temperature, size_t rows, size_t v);

/* ---- Value head and score head --------------------------------------- */

/* val[N] = h[N,C] . w[C] + b (b may be NULL: no bias). */
void value_head_forward(float *val, const float *h, const float *w, const float *b, size_t n,
                        size_t c);
/* dh[N,C] += dval w;  dw[C] += sum dval h;  db[1] += sum dval. */
void value_head_backward(float *dh, float *dw, float *db, const float *dval, const float *h,
                         const float *w, size_t n, size_t c);
/* score[S] = h[rows[s]] . w + b: the head read at one row per sequence
 * (the last non-pad token), rows[s] indexing h[N,C]. */
void score_head_forward(float *score, const float *h, const float *w, const float *b,
                        const size_t *rows, size_t s, size_t c);
void score_head_backward(float *dh, float *dw, float *db, const float *dscore, const float *h,
                         const float *w, const size_t *rows, size_t s, size_t c);

/* ---- Vectorisable exponential ----------------------------------------- */

/* e^x in plain C that compilers vectorise (libm's expf is a call per
 * element unless fast-math is on): x = k ln2 + r with |r| <= ln2/2 (two-part
 * ln2 so the reduction is exact), e^r by its degree-6 Taylor polynomial
 * (truncation < 2e-7 relative), 2^k written into the exponent bits.
 * Within 3e-7 relative of expf for x in [-87, 88]; inputs are clamped to
 * [-87.3, 88.7], so very negative x give ~1e-38 instead of 0, which is
 * harmless in a softmax sum. */
float fast_expf(float x);

/* ---- Residual helper ------------------------------------------------- */

/* y[i] += x[i] over n elements (residual adds and gradient fan-in). */
void vec_add(float *y, const float *x, size_t n);

#endif
