/*
 * test_kernels.c — the fast kernels against their plain references:
 * tf_matmul in every transpose/accumulate combination and shape class
 * (decode kernel with odd tails, split sgemm), RoPE in both layouts, and
 * attention against a direct softmax loop.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static uint64_t rng = 7;
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

static void check_matmul(tf_pool *pool, size_t M, size_t N, size_t K, int tA, int tB, int acc)
{
    float *A = rand_buf(M * K), *B = rand_buf(K * N), *C = rand_buf(M * N);
    float *R = malloc(M * N * sizeof *R);
    memcpy(R, C, M * N * sizeof *R);
    tf_matmul(pool, C, N, A, tA ? M : K, tA, B, tB ? K : N, tB, M, N, K, acc);
    tf_matmul_ref(R, N, A, tA ? M : K, tA, B, tB ? K : N, tB, M, N, K, acc);
    for (size_t i = 0; i < M * N; i++)
        ck_assert_msg(fabsf(C[i] - R[i]) <= 1e-4f * (1 + sqrtf((float)K)),
                      "M%zu N%zu K%zu tA%d tB%d acc%d: [%zu] %g vs %g", M, N, K, tA, tB, acc, i,
                      C[i], R[i]);
    free(A), free(B), free(C), free(R);
}

START_TEST(test_matmul)
{
    static const size_t shapes[][3] = {{1, 37, 19},  {3, 64, 172}, {4, 200, 64}, {16, 300, 33},
                                       {5, 7, 1},    {17, 96, 40}, {64, 513, 70}, {130, 40, 64},
                                       {1, 1, 1},    {2, 1000, 288}};
    for (int threads = 1; threads <= 3; threads += 2) {
        tf_pool *pool = tf_pool_create(threads);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int tA = 0; tA < 2; tA++)
                for (int tB = 0; tB < 2; tB++)
                    for (int acc = 0; acc < 2; acc++)
                        check_matmul(pool, shapes[s][0], shapes[s][1], shapes[s][2], tA, tB, acc);
        tf_pool_free(pool);
    }
}
END_TEST

/* Row m of the decode kernel's output does not depend on the other rows. */
START_TEST(test_gemm_rows_batch_independent)
{
    size_t N = 203, K = 77;
    float *W = rand_buf(N * K), *X = rand_buf(16 * K);
    float *Y16 = malloc(16 * N * sizeof(float)), *Y1 = malloc(N * sizeof(float));
    tf_pool *pool = tf_pool_create(2);
    tf_gemm_rows(pool, Y16, N, X, K, W, 16, N, K, 0);
    for (size_t m = 0; m < 16; m++) {
        tf_gemm_rows(pool, Y1, N, X + m * K, K, W, 1, N, K, 0);
        ck_assert_mem_eq(Y1, Y16 + m * N, N * sizeof(float));
    }
    tf_pool_free(pool);
    free(W), free(X), free(Y16), free(Y1);
}
END_TEST

/* bf16 weights: rounding to nearest even, and the kernel equals the
 * reference product with the rounded weights. */
START_TEST(test_gemm_rows_bf16)
{
    float v[4] = {1.0f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-9f, -2.5f};
    uint16_t h[4];
    tf_to_bf16(h, v, 4);
    ck_assert_uint_eq(h[0], 0x3F80);
    ck_assert_uint_eq(h[1], 0x3F80); /* a tie goes to even */
    ck_assert_uint_eq(h[2], 0x3F81);
    ck_assert_uint_eq(h[3], 0xC020);
    size_t N = 301, K = 91;
    tf_pool *pool = tf_pool_create(2);
    float *W = rand_buf(N * K), *X = rand_buf(16 * K), *Y = rand_buf(16 * N);
    float *R = malloc(16 * N * sizeof *R), *Wr = malloc(N * K * sizeof *Wr);
    uint16_t *W16 = malloc(N * K * sizeof *W16);
    tf_to_bf16(W16, W, N * K);
    for (size_t i = 0; i < N * K; i++) {
        uint32_t bits = (uint32_t)W16[i] << 16;
        memcpy(&Wr[i], &bits, 4);
        ck_assert_float_eq_tol(Wr[i], W[i], fabsf(W[i]) * 0x1p-8f);
    }
    for (size_t M = 1; M <= 16; M += 5)
        for (int acc = 0; acc < 2; acc++) {
            memcpy(R, Y, 16 * N * sizeof *R);
            tf_gemm_rows_bf16(pool, Y, N, X, K, W16, M, N, K, acc);
            tf_matmul_ref(R, N, X, K, 0, Wr, K, 1, M, N, K, acc);
            for (size_t i = 0; i < M * N; i++) ck_assert_float_eq_tol(Y[i], R[i], 1e-4f);
        }
    tf_pool_free(pool);
    free(W), free(X), free(Y), free(R), free(Wr), free(W16);
}
END_TEST

/* Interleaved RoPE on a vector equals rotate-half RoPE on the permuted
 * vector (the permutation the llama2.c loader applies to wq/wk rows). */
START_TEST(test_rope_layouts)
{
    enum { HD = 8, NH = 3, P = 20 };
    float cs[P * HD / 2], sn[P * HD / 2];
    tf_rope_table(cs, sn, P, HD, 10000.0f);
    float a[NH * HD], b[NH * HD];
    for (int i = 0; i < NH * HD; i++) a[i] = rnd();
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < HD / 2; i++)
            for (int c = 0; c < 2; c++) b[h * HD + c * HD / 2 + i] = a[h * HD + 2 * i + c];
    int32_t pos = 13;
    tf_rope_forward(a, 0, &pos, 1, NH, HD, cs, sn, 1);
    tf_rope_forward(b, 0, &pos, 1, NH, HD, cs, sn, 0);
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < HD / 2; i++)
            for (int c = 0; c < 2; c++)
                ck_assert_float_eq_tol(b[h * HD + c * HD / 2 + i], a[h * HD + 2 * i + c], 1e-6f);
    /* A rotation keeps the norm; at position 0 it is the identity. */
    float v[HD], w[HD];
    for (int i = 0; i < HD; i++) v[i] = w[i] = rnd();
    pos = 0;
    tf_rope_forward(v, 0, &pos, 1, 1, HD, cs, sn, 0);
    for (int i = 0; i < HD; i++) ck_assert_float_eq_tol(v[i], w[i], 1e-7f);
}
END_TEST

START_TEST(test_attention)
{
    enum { NQ = 70, H = 4, KV = 2, HDM = 16 };
    size_t ld = (H + 2 * KV) * HDM;
    float *qkv = rand_buf(NQ * ld);
    float *out = malloc(NQ * H * HDM * sizeof(float)), *probs = malloc(H * NQ * NQ * sizeof(float));
    float *out2 = malloc(NQ * H * HDM * sizeof(float)), *scratch = malloc(64 * NQ * sizeof(float));
    tf_attention_forward(out, H * HDM, probs, NULL, qkv, ld, qkv + H * HDM, ld,
                         qkv + (H + KV) * HDM, ld, NQ, NQ, 0, H, KV, HDM, 0, H);
    tf_attention_forward(out2, H * HDM, NULL, scratch, qkv, ld, qkv + H * HDM, ld,
                         qkv + (H + KV) * HDM, ld, NQ, NQ, 0, H, KV, HDM, 0, H);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < NQ; i++) {
            int g = h / (H / KV);
            double s[NQ], mx = -1e30, sum = 0;
            for (int j = 0; j <= i; j++) {
                double d = 0;
                for (int k = 0; k < HDM; k++) d += qkv[i * ld + h * HDM + k] * qkv[j * ld + (H + g) * HDM + k];
                s[j] = d / 4.0;
                mx = fmax(mx, s[j]);
            }
            for (int j = 0; j <= i; j++) sum += (s[j] = exp(s[j] - mx));
            for (int j = 0; j < NQ; j++) {
                double p = j <= i ? s[j] / sum : 0;
                ck_assert_float_eq_tol(probs[(h * NQ + i) * NQ + j], p, 1e-5);
            }
            for (int k = 0; k < HDM; k++) {
                double o = 0;
                for (int j = 0; j <= i; j++) o += s[j] / sum * qkv[j * ld + (H + KV + g) * HDM + k];
                ck_assert_float_eq_tol(out[i * H * HDM + h * HDM + k], o, 1e-5);
                ck_assert_float_eq_tol(out2[i * H * HDM + h * HDM + k], o, 1e-5);
            }
        }
    free(qkv), free(out), free(out2), free(probs), free(scratch);
}
END_TEST

START_TEST(test_logits_stats)
{
    float z[5] = {1, 2, 3, -1, 0.5f};
    float lp, ent;
    double lse = tf_logits_stats(z, 5, 2.0f, 2, &lp, &ent);
    double s = 0, h = 0;
    for (int i = 0; i < 5; i++) s += exp(z[i] / 2.0);
    ck_assert_double_eq_tol(lse, log(s), 1e-6);
    ck_assert_float_eq_tol(lp, 1.5 - log(s), 1e-6);
    for (int i = 0; i < 5; i++) {
        double p = exp(z[i] / 2.0) / s;
        h -= p * log(p);
    }
    ck_assert_float_eq_tol(ent, h, 1e-6);
    /* A vocabulary-sized row over a wide range (the vector exp path). */
    size_t V = 3001;
    float *big = malloc(V * sizeof *big);
    for (size_t i = 0; i < V; i++) big[i] = 30.0f * rnd();
    lse = tf_logits_stats(big, V, 0.7f, 1234, &lp, &ent);
    double mx = -1e30, s2 = 0, sx = 0;
    for (size_t i = 0; i < V; i++) mx = fmax(mx, big[i] / 0.7);
    for (size_t i = 0; i < V; i++) s2 += exp(big[i] / 0.7 - mx);
    for (size_t i = 0; i < V; i++) sx += exp(big[i] / 0.7 - mx) / s2 * (big[i] / 0.7 - mx);
    ck_assert_double_eq_tol(lse, mx + log(s2), 1e-5);
    ck_assert_float_eq_tol(lp, big[1234] / 0.7 - (mx + log(s2)), 1e-5);
    ck_assert_float_eq_tol(ent, log(s2) - sx, 1e-5);
    free(big);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model_kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matmul);
    tcase_add_test(tc, test_gemm_rows_batch_independent);
    tcase_add_test(tc, test_rope_layouts);
    tcase_add_test(tc, test_gemm_rows_bf16);
    tcase_add_test(tc, test_attention);
    tcase_add_test(tc, test_logits_stats);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
