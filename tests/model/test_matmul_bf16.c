/*
 * test_matmul_bf16.c — the bf16 matmul (matmul_bf16.h) against a double
 * reference over bf16-rounded operands: every transpose and accumulate
 * combination, shapes that leave partial tiles in M, N and K, strided C,
 * the AMX path (where the CPU has it) and the portable path, and the pool
 * switch that routes tf_matmul there.
 */
#include <check.h>
#if defined(__AMX_TILE__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kernels.h"
#include "matmul_bf16.h"

static uint64_t rng = 11;
static float rnd(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
}

static float *rand_buf(size_t n)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = rnd();
    return x;
}

static float round_bf16(float x)
{
    uint16_t h;
    tf_to_bf16(&h, &x, 1);
    uint32_t b = (uint32_t)h << 16;
    float r;
    memcpy(&r, &b, 4);
    return r;
}

/* C (ldc = N + 3) against sum_k bf16(a)·bf16(b) in double; the f32
 * accumulation may differ from it by a few ulps of sum_k |a·b|. */
static void check_one(tf_pool *pool, size_t M, size_t N, size_t K, int tA, int tB, int acc,
                      int via_pool)
{
    size_t ldc = N + 3;
    float *A = rand_buf(M * K), *B = rand_buf(K * N), *C = rand_buf(M * ldc);
    float *C0 = malloc(M * ldc * sizeof *C0);
    memcpy(C0, C, M * ldc * sizeof *C0);
    size_t lda = tA ? M : K, ldb = tB ? K : N;
    if (via_pool)
        tf_matmul(pool, C, ldc, A, lda, tA, B, ldb, tB, M, N, K, acc);
    else
        tf_matmul_bf16(pool, C, ldc, A, lda, tA, B, ldb, tB, M, N, K, acc);
    for (size_t m = 0; m < M; m++) {
        for (size_t n = 0; n < N; n++) {
            double s = 0, mag = 0;
            for (size_t k = 0; k < K; k++) {
                float a = tA ? A[k * lda + m] : A[m * lda + k];
                float b = tB ? B[n * ldb + k] : B[k * ldb + n];
                double p = (double)round_bf16(a) * round_bf16(b);
                s += p;
                mag += fabs(p);
            }
            if (acc) s += C0[m * ldc + n];
            double got = C[m * ldc + n];
            ck_assert_msg(fabs(got - s) <= 1e-5 * (mag + 1),
                          "M%zu N%zu K%zu tA%d tB%d acc%d: C[%zu,%zu] = %.7g, want %.7g", M, N,
                          K, tA, tB, acc, m, n, got, s);
        }
        /* the padding between rows of C is not touched */
        for (size_t n = N; n < ldc && m + 1 < M; n++)
            ck_assert_msg(C[m * ldc + n] == C0[m * ldc + n], "C padding written at [%zu,%zu]",
                          m, n);
    }
    free(A), free(B), free(C), free(C0);
}

static const size_t shapes[][3] = {{1, 1, 1},    {17, 33, 31},  {32, 32, 32}, {33, 17, 65},
                                   {64, 48, 288}, {100, 70, 15}, {5, 130, 300}, {70, 64, 96}};

static void all_shapes(tf_pool *pool, int via_pool)
{
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int tA = 0; tA < 2; tA++)
            for (int tB = 0; tB < 2; tB++)
                for (int acc = 0; acc < 2; acc++) {
                    /* through the pool switch, decode's shape stays f32 (below) */
                    if (via_pool && !tA && tB && shapes[s][0] <= 16) continue;
                    check_one(pool, shapes[s][0], shapes[s][1], shapes[s][2], tA, tB, acc,
                              via_pool);
                }
}

START_TEST(test_bf16_fast_path)
{
    if (!tf_bf16_amx_available())
        fprintf(stderr, "note: no AMX-BF16 here; checking the portable path only\n");
    for (int threads = 1; threads <= 3; threads += 2) {
        tf_pool *pool = tf_pool_create(threads);
        all_shapes(pool, 0);
        tf_pool_free(pool);
    }
    all_shapes(NULL, 0); /* no pool: no scratch, the portable path */
}
END_TEST

START_TEST(test_bf16_portable_path)
{
    tf_bf16_force_portable(1);
    tf_pool *pool = tf_pool_create(2);
    all_shapes(pool, 0);
    tf_pool_free(pool);
    tf_bf16_force_portable(0);
}
END_TEST

/* The pool switch: tf_matmul gives bf16 results with it on (except the
 * few-row decode shape, which stays f32) and f32 results with it off. */
START_TEST(test_pool_switch)
{
    tf_pool *pool = tf_pool_create(2);
    tf_pool_set_bf16(pool, 1);
    ck_assert_int_eq(tf_pool_bf16(pool), 1);
    all_shapes(pool, 1);
    size_t M = 40, N = 24, K = 50;
    float *A = rand_buf(M * K), *B = rand_buf(N * K), *C = malloc(M * N * sizeof *C),
          *R = malloc(M * N * sizeof *R);
    tf_matmul(pool, C, N, A, K, 0, B, K, 1, M, N, K, 0);
    tf_matmul_ref(R, N, A, K, 0, B, K, 1, M, N, K, 0);
    double diff = 0;
    for (size_t i = 0; i < M * N; i++) diff = fmax(diff, fabs(C[i] - R[i]));
    ck_assert_msg(diff > 1e-5, "bf16 on: results equal the f32 product (max diff %g)", diff);
    tf_pool_set_bf16(pool, 0);
    tf_matmul(pool, C, N, A, K, 0, B, K, 1, M, N, K, 0);
    for (size_t i = 0; i < M * N; i++) ck_assert(fabsf(C[i] - R[i]) < 1e-4f);
    ck_assert_int_eq(tf_pool_bf16(NULL), 0);
    free(A), free(B), free(C), free(R);
    tf_pool_free(pool);
}
END_TEST

/* Weights declared to the pool are packed once per version: a product
 * after the weights changed and the version moved uses the new weights;
 * memory outside the declared range is never cached. */
START_TEST(test_weight_cache)
{
    tf_pool *pool = tf_pool_create(2);
    size_t M = 48, N = 40, K = 70;
    float *W = rand_buf(2 * N * K); /* the "parameters": two matrices */
    float *X = rand_buf(M * K), *C = malloc(M * N * sizeof *C), *R = malloc(M * N * sizeof *R);
    uint64_t version = 1;
    tf_pool_set_weights(pool, W, 2 * N * K * sizeof *W, &version);
    for (int tB = 0; tB < 2; tB++) {
        const float *B = W + N * K; /* the second matrix */
        size_t ldb = tB ? K : N;
        for (int round = 0; round < 3; round++) {
            if (round == 2) { /* change the weights: a new version */
                for (size_t i = 0; i < N * K; i++) W[N * K + i] *= -0.5f;
                version++;
            }
            tf_matmul_bf16(pool, C, N, X, K, 0, B, ldb, tB, M, N, K, 0);
            tf_bf16_force_portable(1);
            tf_matmul_bf16(pool, R, N, X, K, 0, B, ldb, tB, M, N, K, 0);
            tf_bf16_force_portable(0);
            for (size_t i = 0; i < M * N; i++)
                ck_assert_msg(fabsf(C[i] - R[i]) <= 1e-4f, "tB%d round %d: [%zu] %g vs %g", tB,
                              round, i, C[i], R[i]);
        }
    }
    /* an operand outside the weights is packed afresh each time */
    float *B2 = rand_buf(N * K);
    tf_matmul_bf16(pool, C, N, X, K, 0, B2, K, 1, M, N, K, 0);
    for (size_t i = 0; i < N * K; i++) B2[i] = -B2[i];
    tf_matmul_bf16(pool, R, N, X, K, 0, B2, K, 1, M, N, K, 0);
    for (size_t i = 0; i < M * N; i++) ck_assert(fabsf(C[i] + R[i]) <= 1e-4f);
    tf_pool_set_weights(pool, NULL, 0, NULL);
    free(W), free(X), free(C), free(R), free(B2);
    tf_pool_free(pool);
}
END_TEST

/* f32 denormal inputs count as zeros on both paths (the AMX path's
 * conversion flushes them): a denormal times 1e38 adds nothing.  The
 * largest denormal would round up to the smallest normal bf16. */
START_TEST(test_bf16_denormal_inputs)
{
    static const uint32_t den[] = {0x00400000u, 0x007fffffu, 0x80400000u, 0x00000001u};
    tf_pool *pool = tf_pool_create(1);
    size_t M = 32, N = 32, K = 32;
    float *A = calloc(M * K, sizeof *A), *B = calloc(K * N, sizeof *B), *C = calloc(M * N, sizeof *C);
    for (int portable = 0; portable < 2; portable++)
        for (size_t i = 0; i < sizeof den / sizeof *den; i++) {
            memcpy(&A[0], &den[i], 4);
            B[0] = 1e38f;
            tf_bf16_force_portable(portable);
            tf_matmul_bf16(pool, C, N, A, K, 0, B, N, 0, M, N, K, 0);
            tf_bf16_force_portable(0);
            ck_assert_msg(C[0] == 0.0f, "portable %d: denormal %08x times 1e38 gave %g", portable,
                          den[i], C[0]);
        }
    free(A), free(B), free(C);
    tf_pool_free(pool);
}
END_TEST

/* A B operand that starts inside the declared weights but runs past their
 * end is not a weight: what lies beyond may change with no new version. */
START_TEST(test_weight_cache_partial_range)
{
    tf_pool *pool = tf_pool_create(2);
    size_t M = 48, N = 40, K = 64;
    float *W = rand_buf(N * K), *X = rand_buf(M * K), *C = malloc(M * N * sizeof *C),
          *R = malloc(M * N * sizeof *R);
    uint64_t version = 1;
    tf_pool_set_weights(pool, W, N * K / 2 * sizeof *W, &version); /* half of B */
    for (int tB = 0; tB < 2; tB++) {
        size_t ldb = tB ? K : N;
        tf_matmul_bf16(pool, C, N, X, K, 0, W, ldb, tB, M, N, K, 0);
        for (size_t i = N * K / 2; i < N * K; i++) W[i] = -W[i]; /* outside: no new version */
        tf_matmul_bf16(pool, C, N, X, K, 0, W, ldb, tB, M, N, K, 0);
        tf_bf16_force_portable(1);
        tf_matmul_bf16(pool, R, N, X, K, 0, W, ldb, tB, M, N, K, 0);
        tf_bf16_force_portable(0);
        for (size_t i = 0; i < M * N; i++)
            ck_assert_msg(fabsf(C[i] - R[i]) <= 1e-4f, "tB%d: [%zu] %g vs %g (stale packed B)",
                          tB, i, C[i], R[i]);
    }
    tf_pool_set_weights(pool, NULL, 0, NULL);
    free(W), free(X), free(C), free(R);
    tf_pool_free(pool);
}
END_TEST

/* A product that finds no memory for its packed A (and so runs without
 * tiles) must not leave a weight's cache entry marked as packed: the next
 * product packs it.  The address-space limit makes the large allocations
 * fail; sanitizers reserve too much address space for it. */
static size_t vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f && fscanf(f, "%lu", &pages) != 1) pages = 0;
    if (f) fclose(f);
    return (size_t)pages * 4096;
}

START_TEST(test_weight_cache_after_oom)
{
#if defined(__SANITIZE_ADDRESS__)
    return;
#else
    tf_pool *pool = tf_pool_create(1);
    size_t M = (size_t)1 << 17, N = 32, K = 32;
    float *W = rand_buf(N * K), *X = rand_buf(M * K), *C = calloc(M * N, sizeof *C),
          *R = calloc(M * N, sizeof *R);
    tf_bf16_force_portable(1);
    tf_matmul_bf16(pool, R, N, X, K, 0, W, K, 1, M, N, K, 0); /* also warms up the BLAS */
    tf_bf16_force_portable(0);
    uint64_t version = 1;
    tf_pool_set_weights(pool, W, N * K * sizeof *W, &version);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
    lim.rlim_cur = vm_bytes() + ((size_t)2 << 20);
    lim.rlim_max = old.rlim_max;
    if (old.rlim_cur == RLIM_INFINITY || old.rlim_cur > lim.rlim_cur) {
        ck_assert_int_eq(setrlimit(RLIMIT_AS, &lim), 0);
        tf_matmul_bf16(pool, C, N, X, K, 0, W, K, 1, M, N, K, 0); /* no scratch */
        ck_assert_int_eq(setrlimit(RLIMIT_AS, &old), 0);
    }
    tf_matmul_bf16(pool, C, N, X, K, 0, W, K, 1, M, N, K, 0);
    for (size_t i = 0; i < M * N; i++)
        ck_assert_msg(fabsf(C[i] - R[i]) <= 1e-4f * (1 + fabsf(R[i])), "[%zu] %g vs %g", i, C[i],
                      R[i]);
    tf_pool_set_weights(pool, NULL, 0, NULL);
    free(W), free(X), free(C), free(R);
    tf_pool_free(pool);
#endif
}
END_TEST

/* Decode's rows on bf16 weights with AMX: against the double reference
 * over rounded operands, for every batch size up to 16, weight row counts
 * that leave partial groups and tiles, and batch independence. */
START_TEST(test_gemm_rows_amx)
{
    tf_pool *pool = tf_pool_create(2);
    static const size_t Ns[] = {16, 47, 48, 100, 301, 4000}, Ks[] = {32, 96, 288};
    int ran = 0;
    for (size_t a = 0; a < sizeof Ns / sizeof *Ns; a++)
        for (size_t b = 0; b < sizeof Ks / sizeof *Ks; b++) {
            size_t N = Ns[a], K = Ks[b], ldy = N + 5;
            float *W = rand_buf(N * K), *X = rand_buf(16 * K), *Y = rand_buf(16 * ldy);
            float *Y1 = malloc(ldy * sizeof *Y1), *Y0 = malloc(16 * ldy * sizeof *Y0);
            uint16_t *W16 = malloc(N * K * sizeof *W16);
            tf_to_bf16(W16, W, N * K);
            memcpy(Y0, Y, 16 * ldy * sizeof *Y0);
            for (size_t M = 1; M <= 16; M += 5)
                for (int acc = 0; acc < 2; acc++) {
                    memcpy(Y, Y0, 16 * ldy * sizeof *Y);
                    if (tf_gemm_rows_amx(pool, Y, ldy, X, K, W16, M, N, K, acc)) continue;
                    ran = 1;
                    for (size_t m = 0; m < M; m++)
                        for (size_t n = 0; n < N; n++) {
                            double sum = 0, mag = 0;
                            for (size_t k = 0; k < K; k++) {
                                double p = (double)round_bf16(X[m * K + k]) * round_bf16(W[n * K + k]);
                                sum += p;
                                mag += fabs(p);
                            }
                            if (acc) sum += Y0[m * ldy + n];
                            ck_assert_msg(fabs(Y[m * ldy + n] - sum) <= 1e-5 * (mag + 1),
                                          "N%zu K%zu M%zu acc%d: [%zu,%zu] %g vs %g", N, K, M, acc,
                                          m, n, Y[m * ldy + n], sum);
                            if (n + 1 == N)
                                for (size_t q = N; q < ldy; q++)
                                    ck_assert(Y[m * ldy + q] == Y0[m * ldy + q]);
                        }
                    /* the last row alone gives the same bits */
                    memcpy(Y1, Y0 + (M - 1) * ldy, ldy * sizeof *Y1);
                    ck_assert_int_eq(tf_gemm_rows_amx(pool, Y1, ldy, X + (M - 1) * K, K, W16, 1,
                                                      N, K, acc), 0);
                    ck_assert_msg(!memcmp(Y1, Y + (M - 1) * ldy, N * sizeof *Y1),
                                  "row %zu depends on the batch", M - 1);
                }
            free(W), free(X), free(Y), free(Y1), free(Y0), free(W16);
        }
    if (!ran) fprintf(stderr, "note: no AMX-BF16 here; tf_gemm_rows_amx declined every shape\n");
    /* shapes it must decline */
    float x[40] = {0}, y[4] = {0};
    uint16_t w[4 * 40] = {0};
    ck_assert_int_eq(tf_gemm_rows_amx(pool, y, 4, x, 40, w, 1, 4, 40, 0), -1); /* K % 32 */
    tf_pool_free(pool);
}
END_TEST

/* Another library on the same thread may load its own tile configuration
 * between our products (here: every tile 8 rows x 32 bytes); the next
 * product must still be right. */
START_TEST(test_foreign_tile_config)
{
#if defined(__AMX_TILE__)
    if (!tf_bf16_amx_available()) return;
    tf_pool *pool = tf_pool_create(1); /* tasks run on this thread */
    check_one(pool, 64, 64, 96, 0, 1, 0, 0);
    struct {
        uint8_t palette, start_row, reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } __attribute__((aligned(64))) cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 32, cfg.rows[t] = 8;
    __asm__ volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
    check_one(pool, 64, 64, 96, 0, 1, 0, 0);
    check_one(pool, 40, 100, 64, 1, 0, 1, 0);
    tf_pool_free(pool);
#endif
}
END_TEST

int main(void)
{
    Suite *s = suite_create("matmul_bf16");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bf16_fast_path);
    tcase_add_test(tc, test_bf16_portable_path);
    tcase_add_test(tc, test_pool_switch);
    tcase_add_test(tc, test_weight_cache);
    tcase_add_test(tc, test_bf16_denormal_inputs);
    tcase_add_test(tc, test_weight_cache_partial_range);
    tcase_add_test(tc, test_weight_cache_after_oom);
    tcase_add_test(tc, test_gemm_rows_amx);
    tcase_add_test(tc, test_foreign_tile_config);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
