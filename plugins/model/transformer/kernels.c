/*
 * kernels.c — forward kernels: matmul dispatch, the decode kernel,
 * normalisation, RoPE, activations, attention, log-softmax.
 */
#include "kernels.h"

#include "matmul_bf16.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* ===== Vector exp ======================================================= */

#if defined(__AVX512F__)
/* e^x for 16 floats: x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two
 * parts so n·ln2 is exact), a degree-6 polynomial for e^r, then scaling by
 * 2^n.  Relative error about 2e-7 over the clamped range; inputs below
 * -103 give 0, as expf does. */
static inline __m512 exp512(__m512 x)
{
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f)),
                      _mm512_set1_ps(-103.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 tail_mask(size_t n) { return (__mmask16)((1u << n) - 1); }
#endif

/* ===== Matrix products ================================================== */

void tf_matmul_ref(float *C, size_t ldc, const float *A, size_t lda, int transA, const float *B,
                   size_t ldb, int transB, size_t M, size_t N, size_t K, int accumulate)
{
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) {
                float a = transA ? A[k * lda + m] : A[m * lda + k];
                float b = transB ? B[n * ldb + k] : B[k * ldb + n];
                s += (double)a * b;
            }
            C[m * ldc + n] = (float)(accumulate ? C[m * ldc + n] + s : s);
        }
}

typedef struct mm_job {
    float *C;
    size_t ldc;
    const float *A;
    size_t lda;
    int transA;
    const float *B;
    size_t ldb;
    int transB;
    size_t M, N, K;
    int accumulate;
    size_t chunk;   /* columns (split_n) or rows per task */
    int split_n;
} mm_job;

static void mm_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const mm_job *j = ctx;
    size_t a0 = i * j->chunk, total = j->split_n ? j->N : j->M;
    if (a0 >= total) return;
    size_t cnt = total - a0 < j->chunk ? total - a0 : j->chunk;
    const float *A = j->A, *B = j->B;
    float *C = j->C;
    size_t M = j->M, N = j->N;
    if (j->split_n) {
        B += j->transB ? a0 * j->ldb : a0;
        C += a0;
        N = cnt;
    } else {
        A += j->transA ? a0 : a0 * j->lda;
        C += a0 * j->ldc;
        M = cnt;
    }
    cblas_sgemm(CblasRowMajor, j->transA ? CblasTrans : CblasNoTrans,
                j->transB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)j->K, 1.0f, A,
                (int)j->lda, B, (int)j->ldb, j->accumulate ? 1.0f : 0.0f, C, (int)j->ldc);
}

/* Few rows against a weight stored [N, K]: decode's bandwidth-bound
 * product, for the weight-streaming kernel (tf_gemm_rows) in either
 * precision. */
static int rows_shape(int transA, int transB, size_t M, size_t ldb, size_t K)
{
    return !transA && transB && M <= 16 && ldb == K;
}

void tf_matmul(tf_pool *pool, float *C, size_t ldc, const float *A, size_t lda, int transA,
               const float *B, size_t ldb, int transB, size_t M, size_t N, size_t K,
               int accumulate)
{
    if (tf_pool_bf16(pool) && !rows_shape(transA, transB, M, ldb, K) && K > 0)
        tf_matmul_bf16(pool, C, ldc, A, lda, transA, B, ldb, transB, M, N, K, accumulate);
    else
        tf_matmul_f32(pool, C, ldc, A, lda, transA, B, ldb, transB, M, N, K, accumulate);
}

void tf_matmul_f32(tf_pool *pool, float *C, size_t ldc, const float *A, size_t lda, int transA,
                   const float *B, size_t ldb, int transB, size_t M, size_t N, size_t K,
                   int accumulate)
{
    if (M == 0 || N == 0) return;
    if (K == 0) {
        if (!accumulate)
            for (size_t m = 0; m < M; m++) memset(C + m * ldc, 0, N * sizeof(float));
        return;
    }
    if (rows_shape(transA, transB, M, ldb, K)) {
        tf_gemm_rows(pool, C, ldc, A, lda, B, M, N, K, accumulate);
        return;
    }
    mm_job j = {C, ldc, A, lda, transA, B, ldb, transB, M, N, K, accumulate, 0, 1};
    size_t nt = (size_t)tf_pool_size(pool);
    double flops = 2.0 * (double)M * (double)N * (double)K;
    if (nt <= 1 || flops < 4e6) {
        j.chunk = N;
        mm_task(&j, 0, 0);
        return;
    }
    /* Split the larger of N and M into one slab per thread, N preferred
     * (each thread then reads a disjoint part of the weight). */
    if (N >= 64 * nt || N >= M) {
        j.split_n = 1;
        j.chunk = ((N + nt - 1) / nt + 15) & ~(size_t)15;
    } else {
        j.split_n = 0;
        j.chunk = ((M + nt - 1) / nt + 3) & ~(size_t)3;
    }
    tf_pool_run(pool, nt, mm_task, &j);
}

/* ----- the decode kernel ------------------------------------------------- */

#if defined(__AVX512F__)
/* Y[b, r] for MB rows of X and NR rows of W: each W vector is loaded once and
 * used for all MB rows.  MB and NR are compile-time constants after inlining. */
static inline __attribute__((always_inline)) void rows_micro(float *Y, size_t ldy, const float *X,
                                                             size_t ldx, const float *W, size_t K,
                                                             const int MB, const int NR,
                                                             int accumulate, const float *pf, int npf)
{
    __m512 acc[4][4];
    for (int r = 0; r < NR; r++)
        for (int b = 0; b < MB; b++) acc[r][b] = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= K; k += 16) {
        /* With several batch blocks, the passes after the first (which
         * streams this weight block from memory) pull the next block's
         * rows `pf`[0..npf) into cache while they compute. */
        for (int r = 0; r < npf; r++)
            _mm_prefetch((const char *)(pf + (size_t)r * K + k), _MM_HINT_T0);
        __m512 w[4];
        for (int r = 0; r < NR; r++) w[r] = _mm512_loadu_ps(W + (size_t)r * K + k);
        for (int b = 0; b < MB; b++) {
            __m512 x = _mm512_loadu_ps(X + (size_t)b * ldx + k);
            for (int r = 0; r < NR; r++) acc[r][b] = _mm512_fmadd_ps(w[r], x, acc[r][b]);
        }
    }
    if (k < K) {
        __mmask16 msk = (__mmask16)((1u << (K - k)) - 1);
        __m512 w[4];
        for (int r = 0; r < NR; r++) w[r] = _mm512_maskz_loadu_ps(msk, W + (size_t)r * K + k);
        for (int b = 0; b < MB; b++) {
            __m512 x = _mm512_maskz_loadu_ps(msk, X + (size_t)b * ldx + k);
            for (int r = 0; r < NR; r++) acc[r][b] = _mm512_fmadd_ps(w[r], x, acc[r][b]);
        }
    }
    if (NR == 4) {
        /* Four sums at once: fold 512 -> 256 bits, then a horizontal-add
         * tree, one 128-bit store per batch row.  The tree is the same for
         * every row and batch size, so results stay batch-independent. */
        for (int b = 0; b < MB; b++) {
            __m256 h[4];
            for (int r = 0; r < 4; r++)
                h[r] = _mm256_add_ps(_mm512_castps512_ps256(acc[r][b]),
                                     _mm512_extractf32x8_ps(acc[r][b], 1));
            __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
            __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
            float *y = Y + (size_t)b * ldy;
            if (accumulate) s4 = _mm_add_ps(s4, _mm_loadu_ps(y));
            _mm_storeu_ps(y, s4);
        }
        return;
    }
    for (int b = 0; b < MB; b++)
        for (int r = 0; r < NR; r++) {
            float s = _mm512_reduce_add_ps(acc[r][b]);
            float *y = Y + (size_t)b * ldy + r;
            *y = accumulate ? *y + s : s;
        }
}

#define MICRO_CASE(mb, nr)                                                        \
    case mb: rows_micro(Y, ldy, X, ldx, W, K, mb, nr, accumulate, pf, npf); break;

static void rows_block(float *Y, size_t ldy, const float *X, size_t ldx, const float *W,
                       size_t K, int mb, int nr, int accumulate, const float *pf, int npf)
{
    if (nr == 4) {
        switch (mb) { MICRO_CASE(1, 4) MICRO_CASE(2, 4) MICRO_CASE(3, 4) MICRO_CASE(4, 4) }
    } else {
        switch (mb) { MICRO_CASE(1, 1) MICRO_CASE(2, 1) MICRO_CASE(3, 1) MICRO_CASE(4, 1) }
    }
}
#else
/* Portable fallback: eight partial sums per dot product, a shape the
 * compiler's SLP vectoriser turns into SSE/AVX code without fast-math. */
static float dot8(const float *w, const float *x, size_t K)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t k = 0;
    for (; k + 8 <= K; k += 8)
        for (int l = 0; l < 8; l++) acc[l] += w[k + (size_t)l] * x[k + (size_t)l];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; k < K; k++) s += w[k] * x[k];
    return s;
}

static void rows_block(float *Y, size_t ldy, const float *X, size_t ldx, const float *W,
                       size_t K, int mb, int nr, int accumulate, const float *pf, int npf)
{
    (void)pf, (void)npf;
    for (int b = 0; b < mb; b++)
        for (int r = 0; r < nr; r++) {
            float s = dot8(W + (size_t)r * K, X + (size_t)b * ldx, K);
            float *y = Y + (size_t)b * ldy + r;
            *y = accumulate ? *y + s : s;
        }
}
#endif

/* ----- the decode kernel on bf16 weights ---------------------------------- */

void tf_to_bf16(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &src[i], 4);
        if ((b & 0x7fffffffu) > 0x7f800000u)
            dst[i] = (uint16_t)((b >> 16) | 0x40); /* quiet NaN */
        else
            dst[i] = (uint16_t)((b + 0x7fffu + ((b >> 16) & 1)) >> 16);
    }
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
static inline __m512 bf16_load(const uint16_t *p, __mmask16 m)
{
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* 4 row sums of MB batch rows -> Y[b, 0..3] (the f32 kernel's reduction). */
static inline __attribute__((always_inline)) void store4(float *Y, size_t ldy, __m512 acc[4][4],
                                                         const int MB, int accumulate)
{
    for (int b = 0; b < MB; b++) {
        __m256 h[4];
        for (int r = 0; r < 4; r++)
            h[r] = _mm256_add_ps(_mm512_castps512_ps256(acc[r][b]),
                                 _mm512_extractf32x8_ps(acc[r][b], 1));
        __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
        __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
        float *y = Y + (size_t)b * ldy;
        if (accumulate) s4 = _mm_add_ps(s4, _mm_loadu_ps(y));
        _mm_storeu_ps(y, s4);
    }
}

/* rows_micro with bf16 weight rows (NR = 4 or 1, MB <= 4); pf/npf as there. */
static inline __attribute__((always_inline)) void rows_micro16(float *Y, size_t ldy,
                                                               const float *X, size_t ldx,
                                                               const uint16_t *W, size_t K,
                                                               const int MB, const int NR,
                                                               int accumulate,
                                                               const uint16_t *pf, int npf)
{
    __m512 acc[4][4];
    for (int r = 0; r < NR; r++)
        for (int b = 0; b < MB; b++) acc[r][b] = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= K; k += 16) {
        for (int r = 0; r < npf; r++)
            _mm_prefetch((const char *)(pf + (size_t)r * K + k), _MM_HINT_T0);
        /* Half the bytes per step of the f32 kernel leaves too few loads in
         * flight to saturate memory: prefetch this block's rows ahead. */
        if (!(k & 31))
            for (int r = 0; r < NR; r++)
                _mm_prefetch((const char *)(W + (size_t)r * K + k + 512), _MM_HINT_T0);
        __m512 w[4];
        for (int r = 0; r < NR; r++) w[r] = bf16_load(W + (size_t)r * K + k, (__mmask16)0xffff);
        for (int b = 0; b < MB; b++) {
            __m512 x = _mm512_loadu_ps(X + (size_t)b * ldx + k);
            for (int r = 0; r < NR; r++) acc[r][b] = _mm512_fmadd_ps(w[r], x, acc[r][b]);
        }
    }
    if (k < K) {
        __mmask16 m = (__mmask16)((1u << (K - k)) - 1);
        __m512 w[4];
        for (int r = 0; r < NR; r++) w[r] = bf16_load(W + (size_t)r * K + k, m);
        for (int b = 0; b < MB; b++) {
            __m512 x = _mm512_maskz_loadu_ps(m, X + (size_t)b * ldx + k);
            for (int r = 0; r < NR; r++) acc[r][b] = _mm512_fmadd_ps(w[r], x, acc[r][b]);
        }
    }
    if (NR == 4) {
        store4(Y, ldy, acc, MB, accumulate);
        return;
    }
    for (int b = 0; b < MB; b++)
        for (int r = 0; r < NR; r++) {
            float sum = _mm512_reduce_add_ps(acc[r][b]);
            float *y = Y + (size_t)b * ldy + r;
            *y = accumulate ? *y + sum : sum;
        }
}

#define MICRO16_CASE(mb, nr)                                                      \
    case mb: rows_micro16(Y, ldy, X, ldx, W, K, mb, nr, accumulate, pf, npf); break;

static void rows_block16(float *Y, size_t ldy, const float *X, size_t ldx, const uint16_t *W,
                         size_t K, int mb, int nr, int accumulate, const uint16_t *pf, int npf)
{
    if (nr == 4) {
        switch (mb) { MICRO16_CASE(1, 4) MICRO16_CASE(2, 4) MICRO16_CASE(3, 4) MICRO16_CASE(4, 4) }
    } else {
        switch (mb) { MICRO16_CASE(1, 1) MICRO16_CASE(2, 1) MICRO16_CASE(3, 1) MICRO16_CASE(4, 1) }
    }
}
#else
static void rows_block16(float *Y, size_t ldy, const float *X, size_t ldx, const uint16_t *W,
                         size_t K, int mb, int nr, int accumulate, const uint16_t *pf, int npf)
{
    (void)pf, (void)npf;
    for (int b = 0; b < mb; b++)
        for (int r = 0; r < nr; r++) {
            float s = 0;
            for (size_t k = 0; k < K; k++) {
                uint32_t bits = (uint32_t)W[(size_t)r * K + k] << 16;
                float w;
                memcpy(&w, &bits, 4);
                s += w * X[(size_t)b * ldx + k];
            }
            float *y = Y + (size_t)b * ldy + r;
            *y = accumulate ? *y + s : s;
        }
}
#endif

typedef struct rows16_job {
    float *Y;
    size_t ldy;
    const float *X;
    size_t ldx;
    const uint16_t *W;
    size_t M, N, K;
    int accumulate;
    size_t chunk;
} rows16_job;

static void rows16_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const rows16_job *j = ctx;
    size_t n0 = i * j->chunk, n1 = n0 + j->chunk < j->N ? n0 + j->chunk : j->N;
    for (size_t n = n0; n < n1;) {
        int nr = n + 4 <= n1 ? 4 : 1;
        size_t nbb = (j->M + 3) / 4, per = nbb > 1 ? (4 + nbb - 2) / (nbb - 1) : 0;
        for (size_t b = 0, bi = 0; b < j->M; b += 4, bi++) {
            int mb = j->M - b < 4 ? (int)(j->M - b) : 4;
            size_t r0 = bi ? (bi - 1) * per : 4, r1 = bi * per < 4 ? bi * per : 4;
            int npf = bi && n + 8 <= n1 && r0 < 4 ? (int)(r1 - r0) : 0;
            const uint16_t *pf = npf ? j->W + (n + 4 + r0) * j->K : j->W;
            rows_block16(j->Y + b * j->ldy + n, j->ldy, j->X + b * j->ldx, j->ldx,
                         j->W + n * j->K, j->K, mb, nr, j->accumulate, pf, npf);
        }
        n += (size_t)nr;
    }
}

void tf_gemm_rows_bf16(tf_pool *pool, float *Y, size_t ldy, const float *X, size_t ldx,
                       const uint16_t *W, size_t M, size_t N, size_t K, int accumulate)
{
    if (M == 0 || N == 0) return;
    /* AMX tiles read the bf16 weights as they are stored, no conversion:
     * the product runs at the speed of memory (X is rounded to bf16 too). */
    if (!tf_gemm_rows_amx(pool, Y, ldy, X, ldx, W, M, N, K, accumulate)) return;
    rows16_job j = {Y, ldy, X, ldx, W, M, N, K, accumulate, N};
    size_t nt = (size_t)tf_pool_size(pool);
    if (nt <= 1 || N * K < 65536) {
        rows16_task(&j, 0, 0);
        return;
    }
    size_t tasks = nt * 4;
    j.chunk = ((N + tasks - 1) / tasks + 3) & ~(size_t)3;
    tf_pool_run(pool, (N + j.chunk - 1) / j.chunk, rows16_task, &j);
}

typedef struct rows_job {
    float *Y;
    size_t ldy;
    const float *X;
    size_t ldx;
    const float *W;
    size_t M, N, K;
    int accumulate;
    size_t chunk;
} rows_job;

static void rows_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const rows_job *j = ctx;
    size_t n0 = i * j->chunk, n1 = n0 + j->chunk < j->N ? n0 + j->chunk : j->N;
    for (size_t n = n0; n < n1;) {
        int nr = n + 4 <= n1 ? 4 : 1;
        /* All batch rows against this block of weight rows while it is hot. */
        size_t nbb = (j->M + 3) / 4, per = nbb > 1 ? (4 + nbb - 2) / (nbb - 1) : 0;
        for (size_t b = 0, bi = 0; b < j->M; b += 4, bi++) {
            int mb = j->M - b < 4 ? (int)(j->M - b) : 4;
            /* Pass bi >= 1 prefetches next-block rows [(bi-1)*per, bi*per). */
            size_t r0 = bi ? (bi - 1) * per : 4, r1 = bi * per < 4 ? bi * per : 4;
            int npf = bi && n + 8 <= n1 && r0 < 4 ? (int)(r1 - r0) : 0;
            const float *pf = npf ? j->W + (n + 4 + r0) * j->K : j->W;
            rows_block(j->Y + b * j->ldy + n, j->ldy, j->X + b * j->ldx, j->ldx, j->W + n * j->K,
                       j->K, mb, nr, j->accumulate, pf, npf);
        }
        n += (size_t)nr;
    }
}

void tf_gemm_rows(tf_pool *pool, float *Y, size_t ldy, const float *X, size_t ldx,
                  const float *W, size_t M, size_t N, size_t K, int accumulate)
{
    rows_job j = {Y, ldy, X, ldx, W, M, N, K, accumulate, N};
    size_t nt = (size_t)tf_pool_size(pool);
    if (nt <= 1 || N * K < 32768) {
        rows_task(&j, 0, 0);
        return;
    }
    /* A few tasks per thread balance uneven cores; chunks stay multiples of 4. */
    size_t tasks = nt * 4;
    j.chunk = ((N + tasks - 1) / tasks + 3) & ~(size_t)3;
    tf_pool_run(pool, (N + j.chunk - 1) / j.chunk, rows_task, &j);
}

/* ===== Normalisation ==================================================== */

void tf_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, size_t T,
                        size_t D, float eps)
{
    for (size_t t = 0; t < T; t++) {
        const float *xt = x + t * D;
        double ss = 0;
        for (size_t i = 0; i < D; i++) ss += (double)xt[i] * xt[i];
        float r = (float)(1.0 / sqrt(ss / (double)D + eps));
        if (rstd) rstd[t] = r;
        float *o = out + t * D;
        for (size_t i = 0; i < D; i++) o[i] = xt[i] * r * w[i];
    }
}

void tf_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, size_t T, size_t D, float eps)
{
    for (size_t t = 0; t < T; t++) {
        const float *xt = x + t * D;
        double s = 0;
        for (size_t i = 0; i < D; i++) s += xt[i];
        double mu = s / (double)D, v = 0;
        for (size_t i = 0; i < D; i++) v += ((double)xt[i] - mu) * ((double)xt[i] - mu);
        float r = (float)(1.0 / sqrt(v / (double)D + eps)), m = (float)mu;
        if (mean) mean[t] = m;
        if (rstd) rstd[t] = r;
        float *o = out + t * D;
        for (size_t i = 0; i < D; i++) o[i] = (xt[i] - m) * r * w[i] + b[i];
    }
}

/* ===== Positions ======================================================== */

void tf_rope_table(float *cos_t, float *sin_t, size_t n_pos, size_t hd, float theta)
{
    size_t half = hd / 2;
    for (size_t i = 0; i < half; i++) {
        float inv = 1.0f / powf(theta, (float)(2 * i) / (float)hd);
        for (size_t p = 0; p < n_pos; p++) {
            float a = (float)p * inv;
            cos_t[p * half + i] = cosf(a);
            sin_t[p * half + i] = sinf(a);
        }
    }
}

void tf_rope_forward(float *x, size_t ld, const int32_t *pos, size_t T, size_t n_heads,
                     size_t hd, const float *cos_t, const float *sin_t, int interleaved)
{
    size_t half = hd / 2;
    for (size_t t = 0; t < T; t++) {
        const float *c = cos_t + (size_t)pos[t] * half, *s = sin_t + (size_t)pos[t] * half;
        for (size_t h = 0; h < n_heads; h++) {
            float *v = x + t * ld + h * hd;
            for (size_t i = 0; i < half; i++) {
                size_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * c[i] - x1 * s[i];
                v[b] = x0 * s[i] + x1 * c[i];
            }
        }
    }
}

/* ===== Activations ====================================================== */

void tf_swiglu_forward(float *h, const float *gu, size_t T, size_t F)
{
    for (size_t t = 0; t < T; t++) {
        const float *g = gu + t * 2 * F, *u = g + F;
        float *o = h + t * F;
        size_t i = 0;
#if defined(__AVX512F__)
        const __m512 one = _mm512_set1_ps(1.0f);
        for (; i < F; i += 16) {
            __mmask16 m = F - i >= 16 ? (__mmask16)0xffff : tail_mask(F - i);
            __m512 gv = _mm512_maskz_loadu_ps(m, g + i), uv = _mm512_maskz_loadu_ps(m, u + i);
            __m512 sig = _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), gv))));
            _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(_mm512_mul_ps(gv, sig), uv));
        }
#endif
        for (; i < F; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void tf_gelu_forward(float *out, const float *x, size_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
    }
}

/* ===== Attention ======================================================== */

/* Queries are processed in blocks so the score scratch stays small. */
#define ATT_QBLOCK 64

static void softmax_masked(float *s, size_t n_valid, size_t n_total)
{
    float mx = -INFINITY;
    for (size_t j = 0; j < n_valid; j++) mx = s[j] > mx ? s[j] : mx;
    float sum = 0;
    size_t j = 0;
#if defined(__AVX512F__)
    __m512 vs = _mm512_setzero_ps(), vm = _mm512_set1_ps(mx);
    for (; j < n_valid; j += 16) {
        __mmask16 m = n_valid - j >= 16 ? (__mmask16)0xffff : tail_mask(n_valid - j);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), vm));
        e = _mm512_maskz_mov_ps(m, e);
        _mm512_mask_storeu_ps(s + j, m, e);
        vs = _mm512_add_ps(vs, e);
    }
    sum = _mm512_reduce_add_ps(vs);
#endif
    for (; j < n_valid; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    float inv = 1.0f / sum;
    for (j = 0; j < n_valid; j++) s[j] *= inv;
    for (j = n_valid; j < n_total; j++) s[j] = 0;
}

void tf_attention_forward(float *out, size_t ldo, float *probs, float *scratch, const float *q,
                          size_t ldq, const float *k, size_t ldk, const float *v, size_t ldv,
                          size_t n_q, size_t n_k, size_t q_pos0, size_t H, size_t KV, size_t hd,
                          size_t h0, size_t h1)
{
    float scale = 1.0f / sqrtf((float)hd);
    size_t group = H / KV;
    for (size_t h = h0; h < h1; h++) {
        const float *kh = k + (h / group) * hd, *vh = v + (h / group) * hd;
        for (size_t i0 = 0; i0 < n_q; i0 += ATT_QBLOCK) {
            size_t nb = n_q - i0 < ATT_QBLOCK ? n_q - i0 : ATT_QBLOCK;
            size_t kk = q_pos0 + i0 + nb < n_k ? q_pos0 + i0 + nb : n_k; /* keys this block sees */
            float *S;
            size_t lds;
            if (probs) {
                S = probs + (h * n_q + i0) * n_k;
                lds = n_k;
            } else {
                S = scratch;
                lds = kk;
            }
            const float *qb = q + i0 * ldq + h * hd;
            float *ob = out + i0 * ldo + h * hd;
            if (nb == 1) {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)kk, (int)hd, scale, kh, (int)ldk, qb,
                            1, 0.0f, S, 1);
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)kk, (int)hd,
                            scale, qb, (int)ldq, kh, (int)ldk, 0.0f, S, (int)lds);
            }
            for (size_t i = 0; i < nb; i++) {
                size_t valid = q_pos0 + i0 + i + 1 < kk ? q_pos0 + i0 + i + 1 : kk;
                softmax_masked(S + i * lds, valid, probs ? n_k : kk);
            }
            if (nb == 1) {
                cblas_sgemv(CblasRowMajor, CblasTrans, (int)kk, (int)hd, 1.0f, vh, (int)ldv, S, 1,
                            0.0f, ob, 1);
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)hd, (int)kk,
                            1.0f, S, (int)lds, vh, (int)ldv, 0.0f, ob, (int)ldo);
            }
        }
    }
}

/* ===== Output distribution ============================================== */

double tf_logits_stats(const float *logits, size_t V, float temp, int32_t target, float *logprob,
                       float *entropy)
{
    float inv = 1.0f / temp;
    float mx = -INFINITY;
    double sum = 0, sum_px = 0;
    size_t i = 0;
#if defined(__AVX512F__)
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (; i + 16 <= V; i += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(logits + i));
    mx = _mm512_reduce_max_ps(vmax);
    for (; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    mx *= inv;
    /* Float lanes over blocks of 1024, then double: exact enough for 1e-6. */
    const __m512 vinv = _mm512_set1_ps(inv), vmx = _mm512_set1_ps(mx);
    for (i = 0; i < V;) {
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        size_t end = i + 1024 < V ? i + 1024 : V;
        for (; i < end; i += 16) {
            __mmask16 m = end - i >= 16 ? (__mmask16)0xffff : tail_mask(end - i);
            __m512 z = _mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, logits + i), vinv, vmx);
            __m512 e = _mm512_maskz_mov_ps(m, exp512(z));
            s0 = _mm512_add_ps(s0, e);
            s1 = _mm512_fmadd_ps(e, z, s1);
        }
        i = end;
        sum += (double)_mm512_reduce_add_ps(s0);
        sum_px += (double)_mm512_reduce_add_ps(s1);
    }
#else
    for (; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    mx *= inv;
    for (i = 0; i < V; i++) {
        float z = logits[i] * inv - mx;
        double e = (double)expf(z);
        sum += e;
        sum_px += e * z;
    }
#endif
    double lse = (double)mx + log(sum);
    if (logprob && target >= 0) *logprob = (float)((double)logits[target] * inv - lse);
    /* H = lse - E[z]  with z measured from the max. */
    if (entropy) *entropy = (float)(log(sum) - sum_px / sum);
    return lse;
}

void tf_log_softmax(float *out, const float *logits, size_t V, float temp)
{
    double lse = tf_logits_stats(logits, V, temp, -1, NULL, NULL);
    float inv = 1.0f / temp;
    for (size_t i = 0; i < V; i++) out[i] = (float)((double)logits[i] * inv - lse);
}
