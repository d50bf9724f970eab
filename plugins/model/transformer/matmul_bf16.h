/*
 * matmul_bf16.h — the mixed-precision matmul: bf16 inputs, f32 products
 * summed in f32 (what PyTorch's autocast does on CPU), f32 output.
 *
 * tf_matmul routes its products here when the pool's bf16 switch is on
 * (tf_pool_set_bf16; the model config's `matmul = "bf16"`), except the
 * few-row decode products, which stream f32 (or bf16) weights as before.
 *
 * On a CPU with AMX-BF16 (Intel Sapphire Rapids and later) the products
 * run on the tile unit, several times the f32 FMA peak.  Elsewhere the
 * same numbers come from rounding both operands to bf16 and running the
 * f32 sgemm: the semantics (inputs rounded to nearest-even bf16, f32
 * denormal inputs as zeros, f32 accumulation) do not depend on the
 * machine, only the speed does.
 *
 * Packed operands (the AMX path), both zero-padded:
 *   A: Mp x Kp bf16, row-major (Mp a multiple of 32, Kp of 32);
 *   B: Np/16 panels of 16 columns (Np a multiple of 32); panel j holds
 *      Kp/2 rows of 16 (k-pair) columns: element (k, n) of op(B) sits at
 *      panel n/16, row k/2, position 2·(n%16) + (k%2) — the layout the
 *      tile instruction TDPBF16PS reads.
 */
#ifndef TF_MATMUL_BF16_H
#define TF_MATMUL_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "pool.h"

/* 1 when this process can run the AMX path (asks the kernel for the tile
 * state on the first call; thread-safe). */
int tf_bf16_amx_available(void);

/* tf_matmul's contract (kernels.h) with both operands rounded to bf16.
 * Uses the pool's scratch (tf_pool_scratch) for the packed operands. */
void tf_matmul_bf16(tf_pool *pool, float *C, size_t ldc, const float *A, size_t lda, int transA,
                    const float *B, size_t ldb, int transB, size_t M, size_t N, size_t K,
                    int accumulate);

/* The pool's state for this path: which memory holds the weights, and
 * their packed copies (pool.h: tf_pool_set_weights).  Entries are keyed by
 * pointer, shape, stride and layout; one whose weights' version moved is
 * repacked in place. */
tf_bf16_cache *tf_bf16_cache_new(void);
void tf_bf16_cache_free(tf_bf16_cache *c);
void tf_bf16_cache_set_weights(tf_bf16_cache *c, const void *base, size_t bytes,
                               const uint64_t *version);

/* Decode's product on bf16 weights with AMX: Y[M,N] (+)= bf16(X)[M,K] ·
 * W[N,K]ᵀ for M <= 16, K a multiple of 32.  Returns 0 when it did the
 * work; -1 when the AMX path is not available (or the shape does not
 * fit), for the caller's own kernel.  As the other kernels of decode, row m
 * of Y does not depend on the other rows. */
int tf_gemm_rows_amx(tf_pool *pool, float *Y, size_t ldy, const float *X, size_t ldx,
                     const uint16_t *W, size_t M, size_t N, size_t K, int accumulate);

/* Forces the portable path (tests compare the two): 1 = never use AMX. */
void tf_bf16_force_portable(int on);

/* Checks CPUID for AMX-TILE, AMX-BF16 and AVX512-BF16 and requests the tile
 * state from Linux.  1 on success (0 always when built without AMX). */
int tf_amx_request(void);

/* ---- matmul_amx.c (compiled with the AMX flags; call only when available) */

/* Loads the tile configuration the kernels below use; call it at the start
 * of every task that runs them (another library may have changed it). */
void tf_amx_configure(void);
/* c[32][32] (rows ldc floats apart) = (load_c ? c : 0) + A[32 rows, kp] ·
 * B[kp, 32 cols] from packed operands: `a` at the block's first row (rows
 * a_stride bf16 apart), `b` at its first panel. */
void tf_amx_block(float *c, size_t ldc, int load_c, const uint16_t *a, size_t a_stride,
                  const uint16_t *b, size_t kp);
/* Rows m0..m1 of the packed A (Kp = kp bf16 each, zero beyond K) from a
 * source stored transposed: A(m, k) = src[k·lda + m]. */
void tf_amx_pack_a_trans(uint16_t *dst, size_t kp, const float *src, size_t lda, size_t m0,
                         size_t m1, size_t K);
/* One 16-column panel of the packed B from a source stored [K, N] (row k
 * at src + k·ldb, its first nc <= 16 columns used, the rest zero). */
void tf_amx_pack_b_rows(uint16_t *panel, size_t kp, const float *src, size_t ldb, size_t K,
                        size_t nc);
/* ct[t][i][j] = sum_k W[16t + i][k] · X(j, k) for t < 3 (rows3) or t = 0
 * (rows1): w at the first of 48 (16) weight rows K apart, xp the packed X
 * (one B panel: K/2 rows of 16 (k-pair) columns); K a multiple of 32.
 * rows3 prefetches the 48 rows at pf (NULL: none) while it works. */
void tf_amx_rows3(float *ct, const uint16_t *w, size_t K, const uint16_t *xp,
                  const uint16_t *pf);
void tf_amx_rows1(float *ct, const uint16_t *w, size_t K, const uint16_t *xp);
/* Y[m][i] (+)= ct[i / 16][i % 16][m] for m < M, i < nr <= 48: the rows
 * kernels' transposed tiles into rows of Y (ldy apart). */
void tf_amx_store_rows(float *y, size_t ldy, const float *ct, size_t M, size_t nr,
                       int accumulate);
/* dst[0..n) = bf16(src[0..n)), round to nearest even, with AVX512-BF16. */
void tf_amx_cvt_row(uint16_t *dst, const float *src, size_t n);

#endif
