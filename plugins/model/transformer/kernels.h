/*
 * kernels.h — the numerical kernels of the engine.
 *
 * Conventions: outputs first, then inputs, then sizes.  Matrices are
 * row-major.  Kernels named *_forward compute; backward kernels (train/)
 * ACCUMULATE into their gradient outputs.
 *
 * Every matrix product goes through tf_matmul, the one internal matmul
 * interface: shapes, transposes, accumulate-or-overwrite.  It runs OpenBLAS
 * sgemm (single-threaded inside; the work is split across the engine's own
 * pool) and, for few rows against a weight stored [N,K] (decode), the
 * engine's own weight-streaming kernel.  With the pool's bf16 switch on,
 * the products other than decode's go through matmul_bf16.h instead (bf16
 * inputs, f32 accumulation, AMX tiles where the CPU has them).
 */
#ifndef TF_KERNELS_H
#define TF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

/* ===== Matrix products ================================================== */

/* C[M,N] = (accumulate ? C : 0) + op(A)[M,K] · op(B)[K,N]
 *   op(A) = A [M,K] (lda >= K) or, with transA, Aᵀ where A is [K,M] (lda >= M)
 *   op(B) = B [K,N] (ldb >= N) or, with transB, Bᵀ where B is [N,K] (ldb >= K)
 *   C [M,N] with ldc >= N.
 * Work is split over `pool` (may be NULL).  Precision: the pool's
 * (tf_pool_set_bf16). */
void tf_matmul(tf_pool *pool, float *C, size_t ldc, const float *A, size_t lda, int transA,
               const float *B, size_t ldb, int transB, size_t M, size_t N, size_t K,
               int accumulate);

/* tf_matmul in f32 whatever the pool's precision. */
void tf_matmul_f32(tf_pool *pool, float *C, size_t ldc, const float *A, size_t lda, int transA,
                   const float *B, size_t ldb, int transB, size_t M, size_t N, size_t K,
                   int accumulate);

/* The decode kernel: Y[M,N] (+)= X[M,K] · W[N,K]ᵀ, every weight row read
 * once for all M rows.  Bitwise, row m of Y does not depend on the other
 * rows nor on M (batch-independent results).  Used by tf_matmul for small M. */
void tf_gemm_rows(tf_pool *pool, float *Y, size_t ldy, const float *X, size_t ldx,
                  const float *W, size_t M, size_t N, size_t K, int accumulate);

/* The same with bf16 weights (the upper 16 bits of an f32): half the bytes
 * streamed per token; sums stay f32.  On CPUs with AMX-BF16 and K a
 * multiple of 32 the product runs on tiles and X is rounded to bf16 as
 * well (matmul_bf16.h: tf_gemm_rows_amx); elsewhere products stay f32. */
void tf_gemm_rows_bf16(tf_pool *pool, float *Y, size_t ldy, const float *X, size_t ldx,
                       const uint16_t *W, size_t M, size_t N, size_t K, int accumulate);

/* f32 -> bf16 with round-to-nearest-even (NaN kept NaN). */
void tf_to_bf16(uint16_t *dst, const float *src, size_t n);

/* The plain triple loop, kept as the test oracle. */
void tf_matmul_ref(float *C, size_t ldc, const float *A, size_t lda, int transA, const float *B,
                   size_t ldb, int transB, size_t M, size_t N, size_t K, int accumulate);

/* ===== Normalisation ==================================================== */

/* out[T,D] = x / rms(x) * w;  rstd[T] = 1/sqrt(mean(x²)+eps) (rstd may be NULL). */
void tf_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, size_t T,
                        size_t D, float eps);

/* out[T,D] = (x - mean) * rstd * w + b; mean/rstd [T] may be NULL. */
void tf_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, size_t T, size_t D, float eps);

/* ===== Positions ======================================================== */

/* cos/sin table [n_pos, hd/2] of RoPE angles pos·theta^(-2i/hd), computed in
 * f32 the way the reference implementations do. */
void tf_rope_table(float *cos_t, float *sin_t, size_t n_pos, size_t hd, float theta);

/* Rotates `n_heads` heads of hd values, starting at x (row t at x + t*ld),
 * by the angles of position pos[t].  interleaved: pairs (2i, 2i+1)
 * (llama2.c); else pairs (i, i+hd/2) (Hugging Face). */
void tf_rope_forward(float *x, size_t ld, const int32_t *pos, size_t T, size_t n_heads,
                     size_t hd, const float *cos_t, const float *sin_t, int interleaved);

/* ===== Activations ====================================================== */

/* h[T,F] = silu(gu[:, :F]) * gu[:, F:]  with gu [T,2F] (gate | up). */
void tf_swiglu_forward(float *h, const float *gu, size_t T, size_t F);

/* out[n] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³)))  (GPT-2 "gelu_new") */
void tf_gelu_forward(float *out, const float *x, size_t n);

/* ===== Attention ======================================================== */

/* Causal attention of n_q queries against n_k keys for ONE sequence, all
 * heads; query i sits at position q_pos0 + i and sees keys 0..q_pos0+i.
 *   out  [n_q, H*hd] (ld ldo)    q [n_q, H*hd] (ld ldq)
 *   k, v [n_k, KV*hd] (ld ldk, ldv); query head h reads kv head h/(H/KV)
 *   probs [H, n_q, n_k] softmax probabilities (entries above the diagonal
 *         written 0); when NULL, `scratch` [n_k] is used instead.
 * Heads in [h0, h1) only, so callers can split heads across threads. */
void tf_attention_forward(float *out, size_t ldo, float *probs, float *scratch, const float *q,
                          size_t ldq, const float *k, size_t ldk, const float *v, size_t ldv,
                          size_t n_q, size_t n_k, size_t q_pos0, size_t H, size_t KV, size_t hd,
                          size_t h0, size_t h1);

/* ===== Output distribution ============================================== */

/* For one row of logits [V] scaled by 1/temp: log-sum-exp (returned),
 * and optionally the log-prob of `target` (target < 0: skipped) and the
 * entropy.  Computed in double for the sums. */
double tf_logits_stats(const float *logits, size_t V, float temp, int32_t target, float *logprob,
                       float *entropy);

/* out[V] = log_softmax(logits / temp) */
void tf_log_softmax(float *out, const float *logits, size_t V, float temp);

#endif
