/*
 * matmul_amx.c — the compute core of the bf16 matmul on Intel AMX tiles,
 * and the AVX512-BF16 conversion that feeds it.
 *
 * This file alone is compiled with -mamx-tile -mamx-bf16 -mavx512bf16, and
 * nothing in it runs unless tf_bf16_amx_available() said yes at run time,
 * so the rest of the plugin stays loadable on CPUs without these extensions.
 *
 * Every tile is 16 rows x 64 bytes.  TDPBF16PS C, A, B computes
 * C[m][n] += A[m][2i]·B[i][2n] + A[m][2i+1]·B[i][2n+1] over i < 16: A holds
 * 16 rows of 32 bf16, B 16 k-pairs of 16 columns (the "VNNI" layout).
 *   tf_amx_block: a 32 x 32 block of C in four f32 tiles (tmm0..3), two A
 *     tiles (tmm4, 5) and two B tiles (tmm6, 7) per 32 k;
 *   tf_amx_rows3/1: decode's C^T = W X^T: up to three tiles of weight rows
 *     as stored (tmm3..5) against the packed rows of X (tmm6), sums in
 *     tmm0..2.
 * See matmul_bf16.h for the packed layouts.
 */
#include "matmul_bf16.h"

#if defined(TF_HAVE_AMX)
#include <immintrin.h>
#include <string.h>

typedef struct tile_config {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* The tile shapes every kernel here uses: 8 tiles of 16 rows x 64 bytes.
 * Loaded at the start of every pool task, not once per thread: other code
 * in the process (a plugin using another AMX library, say) may load its own
 * configuration on the same thread between our products. */
void tf_amx_configure(void)
{
    tile_config cfg __attribute__((aligned(64)));
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    /* GCC's intrinsic does not tell the compiler that it reads all 64 bytes,
     * which then drops the stores to rows and colsb as dead: the barrier
     * keeps them. */
    __asm__ volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
}

void tf_amx_block(float *c, size_t ldc, int load_c, const uint16_t *a, size_t a_stride,
                  const uint16_t *b, size_t kp)
{
    /* a: 32 rows of the packed A at a_stride bf16 apart; b: the packed B of
     * 32 columns (two 16-column panels, each kp/2 rows of 32 bf16).  Tile
     * loads and stores take byte strides. */
    const uint16_t *b0 = b, *b1 = b + kp * 16;
    size_t as = a_stride * 2, cs = ldc * 4;
    float *c2 = c + 16 * ldc;
    if (load_c) {
        _tile_loadd(0, c, cs);
        _tile_loadd(1, c + 16, cs);
        _tile_loadd(2, c2, cs);
        _tile_loadd(3, c2 + 16, cs);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (size_t k = 0; k < kp; k += 32) {
        _tile_loadd(4, a + k, as);
        _tile_loadd(5, a + 16 * a_stride + k, as);
        _tile_loadd(6, b0 + k * 16, 64);
        _tile_loadd(7, b1 + k * 16, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, c, cs);
    _tile_stored(1, c + 16, cs);
    _tile_stored(2, c2, cs);
    _tile_stored(3, c2 + 16, cs);
}

void tf_amx_rows3(float *ct, const uint16_t *w, size_t K, const uint16_t *xp,
                  const uint16_t *pf)
{
    /* C^T = W X^T: the weight rows are the A operand exactly as stored
     * (16 rows, K apart), the packed rows of X the B operand. */
    size_t ws = K * 2;
    const uint16_t *w1 = w + 16 * K, *w2 = w + 32 * K;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    for (size_t k = 0; k < K; k += 32) {
        /* Tile loads alone keep too few misses in flight to stream the
         * weights at memory speed: fetch the next 48 rows' lines ahead. */
        if (pf) /* 48 lines of the next rows per step, in address order */
            for (size_t l = 0; l < 48; l++)
                _mm_prefetch((const char *)(pf + (k / 32 * 48 + l) * 32), _MM_HINT_T1);
        _tile_loadd(6, xp + k * 16, 64);
        _tile_loadd(3, w + k, ws);
        _tile_loadd(4, w1 + k, ws);
        _tile_loadd(5, w2 + k, ws);
        _tile_dpbf16ps(0, 3, 6);
        _tile_dpbf16ps(1, 4, 6);
        _tile_dpbf16ps(2, 5, 6);
    }
    _tile_stored(0, ct, 64);
    _tile_stored(1, ct + 256, 64);
    _tile_stored(2, ct + 512, 64);
}

void tf_amx_rows1(float *ct, const uint16_t *w, size_t K, const uint16_t *xp)
{
    size_t ws = K * 2;
    _tile_zero(0);
    for (size_t k = 0; k < K; k += 32) {
        _tile_loadd(6, xp + k * 16, 64);
        _tile_loadd(3, w + k, ws);
        _tile_dpbf16ps(0, 3, 6);
    }
    _tile_stored(0, ct, 64);
}

void tf_amx_store_rows(float *y, size_t ldy, const float *ct, size_t M, size_t nr,
                       int accumulate)
{
    /* Column m of each 16 x 16 tile is row m of Y: one gather per 16 outputs. */
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                             11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(16));
    for (size_t t = 0; t * 16 < nr; t++) {
        size_t left = nr - t * 16;
        __mmask16 msk = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        for (size_t m = 0; m < M; m++) {
            __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), msk, idx,
                                                ct + t * 256 + m, 4);
            float *out = y + m * ldy + t * 16;
            if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(msk, out));
            _mm512_mask_storeu_ps(out, msk, v);
        }
    }
}

void tf_amx_cvt_row(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
        _mm512_storeu_si512((void *)(dst + i), (__m512i)v);
    }
    for (; i + 16 <= n; i += 16) {
        __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
        _mm256_storeu_si256((void *)(dst + i), (__m256i)v);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
        _mm256_mask_storeu_epi16((void *)(dst + i), m, (__m256i)v);
    }
}

void tf_amx_pack_a_trans(uint16_t *dst, size_t kp, const float *src, size_t lda, size_t m0,
                         size_t m1, size_t K)
{
    /* Row m of the packed A is column m of the source: 16 k at a time by a
     * gather (the 16 cache lines it touches serve the next 15 m as well). */
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                                       13, 14, 15),
                                     _mm512_set1_epi32((int)lda));
    size_t kfull = K & ~(size_t)15;
    for (size_t k = 0; k < kp; k += 16) {
        const float *base = src + k * lda;
        if (k < kfull) {
            for (size_t m = m0; m < m1; m++) {
                __m512 v = _mm512_i32gather_ps(idx, base + m, 4);
                _mm256_storeu_si256((void *)(dst + m * kp + k), (__m256i)_mm512_cvtneps_pbh(v));
            }
        } else if (k < K) {
            __mmask16 msk = (__mmask16)((1u << (K - k)) - 1);
            for (size_t m = m0; m < m1; m++) {
                __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), msk, idx, base + m, 4);
                _mm256_storeu_si256((void *)(dst + m * kp + k), (__m256i)_mm512_cvtneps_pbh(v));
            }
        } else {
            for (size_t m = m0; m < m1; m++)
                _mm256_storeu_si256((void *)(dst + m * kp + k), _mm256_setzero_si256());
        }
    }
}

void tf_amx_pack_b_rows(uint16_t *panel, size_t kp, const float *src, size_t ldb, size_t K,
                        size_t nc)
{
    /* Row k2 of the panel interleaves source rows 2·k2 and 2·k2+1: both are
     * converted in one instruction (row 2·k2 in the low half), then the
     * halves are zipped element by element. */
    static const uint16_t zip_idx[32] __attribute__((aligned(64))) = {
        0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __m512i zip = _mm512_load_si512((const void *)zip_idx);
    __mmask16 msk = (__mmask16)((1u << nc) - 1);
    for (size_t k2 = 0; k2 < kp / 2; k2++) {
        size_t k0 = 2 * k2, k1 = k0 + 1;
        __m512 r0 = k0 < K ? _mm512_maskz_loadu_ps(msk, src + k0 * ldb) : _mm512_setzero_ps();
        __m512 r1 = k1 < K ? _mm512_maskz_loadu_ps(msk, src + k1 * ldb) : _mm512_setzero_ps();
        __m512i both = (__m512i)_mm512_cvtne2ps_pbh(r1, r0);
        _mm512_storeu_si512((void *)(panel + k2 * 32), _mm512_permutexvar_epi16(zip, both));
    }
}

#else

void tf_amx_pack_a_trans(uint16_t *dst, size_t kp, const float *src, size_t lda, size_t m0,
                         size_t m1, size_t K)
{
    (void)dst, (void)kp, (void)src, (void)lda, (void)m0, (void)m1, (void)K;
}
void tf_amx_pack_b_rows(uint16_t *panel, size_t kp, const float *src, size_t ldb, size_t K,
                        size_t nc)
{
    (void)panel, (void)kp, (void)src, (void)ldb, (void)K, (void)nc;
}
void tf_amx_block(float *c, size_t ldc, int load_c, const uint16_t *a, size_t a_stride,
                  const uint16_t *b, size_t kp)
{
    (void)c, (void)ldc, (void)load_c, (void)a, (void)a_stride, (void)b, (void)kp;
}
void tf_amx_cvt_row(uint16_t *dst, const float *src, size_t n) { tf_to_bf16(dst, src, n); }
void tf_amx_configure(void) {}
void tf_amx_store_rows(float *y, size_t ldy, const float *ct, size_t M, size_t nr,
                       int accumulate)
{
    (void)y, (void)ldy, (void)ct, (void)M, (void)nr, (void)accumulate;
}
void tf_amx_rows3(float *ct, const uint16_t *w, size_t K, const uint16_t *xp,
                  const uint16_t *pf)
{
    (void)ct, (void)w, (void)K, (void)xp, (void)pf;
}
void tf_amx_rows1(float *ct, const uint16_t *w, size_t K, const uint16_t *xp)
{
    (void)ct, (void)w, (void)K, (void)xp;
}

#endif
