/*
 * test_adamw.c — AdamW against values worked out by hand (below, step by
 * step), clipping, the gradient scale, the NaN guard and the schedules.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "pool.h"

/* Two tensors in one flat array: "w" (2 elements, decays) and "b" (1
 * element, no decay). */
static const adamw_tensor TENSORS[2] = {
    {.name = "w", .offset = 0, .numel = 2, .decay = true},
    {.name = "b", .offset = 2, .numel = 1, .decay = false},
};

static adamw_params hand_params(void)
{
    adamw_params p = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                      .weight_decay = 0.1f, .max_grad_norm = 0.0f, .grad_scale = 1.0f};
    return p;
}

START_TEST(test_two_steps_by_hand)
{
    float params[3] = {1.0f, -2.0f, 0.5f};
    adamw_state st;
    adamw_init(&st, 3);
    adamw_params p = hand_params();
    adamw_report rep;
    char err[256];

    /* Step 1, g = (0.5, -1, 2).  m = 0.1 g, v = 0.001 g^2, bc1 = 0.1,
     * bc2 = 0.001, so the Adam direction is g/|g| and each weight moves by
     * lr = 0.1 against its gradient's sign, after decay by 1 - lr wd = 0.99:
     *   w0 = 1*0.99 - 0.1 = 0.89;  w1 = -2*0.99 + 0.1 = -1.88;
     *   b = 0.5 - 0.1 = 0.4 (no decay). */
    float g1[3] = {0.5f, -1.0f, 2.0f};
    ck_assert_int_eq(adamw_step(&st, params, g1, TENSORS, 2, &p, &rep, err, sizeof err), ADAMW_OK);
    ck_assert_uint_eq(rep.step, 1);
    ck_assert_double_eq_tol(rep.grad_norm, sqrt(0.25 + 1 + 4), 1e-9);
    ck_assert_float_eq_tol(params[0], 0.89f, 1e-6);
    ck_assert_float_eq_tol(params[1], -1.88f, 1e-6);
    ck_assert_float_eq_tol(params[2], 0.4f, 1e-6);

    /* Step 2, g = (-0.5, 1, 2).  bc1 = 1 - 0.81 = 0.19, bc2 = 1 - 0.998001 = 0.001999.
     *   w0: m = 0.9*0.05 - 0.05 = -0.005, v = 0.999*0.00025 + 0.00025 = 0.00049975,
     *       mhat = -0.005/0.19 = -0.0263158, vhat = 0.25 -> step -0.1*0.0263158/0.5
     *       w0 = 0.89*0.99 + 0.00526316 = 0.88636316
     *   w1: m = -0.09 + 0.1 = 0.01, v = 0.000999 + 0.001 = 0.001999, vhat = 1
     *       w1 = -1.88*0.99 - 0.1*0.01/0.19 = -1.8612 - 0.00526316 = -1.86646316
     *   b:  m = 0.18 + 0.2 = 0.38, v = 0.003996 + 0.004 = 0.007996, mhat = 2, vhat = 4
     *       b = 0.4 - 0.1*2/2 = 0.3 */
    float g2[3] = {-0.5f, 1.0f, 2.0f};
    ck_assert_int_eq(adamw_step(&st, params, g2, TENSORS, 2, &p, &rep, err, sizeof err), ADAMW_OK);
    ck_assert_uint_eq(rep.step, 2);
    ck_assert_float_eq_tol(params[0], 0.88636316f, 2e-6);
    ck_assert_float_eq_tol(params[1], -1.86646316f, 2e-6);
    ck_assert_float_eq_tol(params[2], 0.3f, 2e-6);
    ck_assert_float_eq_tol(st.m[2], 0.38f, 1e-6);
    ck_assert_float_eq_tol(st.v[2], 0.007996f, 2e-7); /* (1 - b2) is 0.00099999 in fp32 */
    adamw_free(&st);
}
END_TEST

START_TEST(test_clip_and_scale)
{
    /* g = (3, 4, 0): norm 5; with grad_scale 0.5 the norm is 2.5, and
     * max_grad_norm 1 clips by 1/(2.5 + 1e-6): the first moment holds
     * 0.1 * g * 0.5 / 2.5 = (0.06, 0.08, 0). */
    float params[3] = {0, 0, 0};
    float g[3] = {3.0f, 4.0f, 0.0f};
    adamw_state st;
    adamw_init(&st, 3);
    adamw_params p = hand_params();
    p.grad_scale = 0.5f;
    p.max_grad_norm = 1.0f;
    adamw_report rep;
    char err[256];
    ck_assert_int_eq(adamw_step(&st, params, g, TENSORS, 2, &p, &rep, err, sizeof err), ADAMW_OK);
    ck_assert_double_eq_tol(rep.grad_norm, 2.5, 1e-9);
    ck_assert_double_eq_tol(rep.clip, 1.0 / (2.5 + 1e-6), 1e-9);
    ck_assert_float_eq_tol(st.m[0], 0.06f, 1e-7);
    ck_assert_float_eq_tol(st.m[1], 0.08f, 1e-7);
    ck_assert_float_eq_tol(st.v[1], 0.001f * 0.8f * 0.8f, 1e-8); /* g = 4 * 0.5 / 2.5 */
    /* A zero gradient with zero moments leaves the non-decayed bias alone. */
    ck_assert_float_eq(params[2], 0.0f);

    /* No clipping when the norm is below the bound. */
    p.max_grad_norm = 10.0f;
    ck_assert_int_eq(adamw_step(&st, params, g, TENSORS, 2, &p, &rep, err, sizeof err), ADAMW_OK);
    ck_assert_double_eq(rep.clip, 1.0);
    adamw_free(&st);
}
END_TEST

START_TEST(test_nonfinite_names_tensor)
{
    float params[3] = {1.0f, 2.0f, 3.0f};
    float g[3] = {0.1f, 0.2f, NAN};
    adamw_state st;
    adamw_init(&st, 3);
    adamw_params p = hand_params();
    char err[256] = "";
    ck_assert_int_eq(adamw_step(&st, params, g, TENSORS, 2, &p, NULL, err, sizeof err),
                     ADAMW_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(err, "'b'"));
    ck_assert_float_eq(params[0], 1.0f);
    ck_assert_float_eq(params[2], 3.0f);
    ck_assert_uint_eq(st.step, 0);
    g[2] = 0.0f;
    g[1] = INFINITY;
    ck_assert_int_eq(adamw_step(&st, params, g, TENSORS, 2, &p, NULL, err, sizeof err),
                     ADAMW_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(err, "'w' at element 1"));

    /* A tensor outside the array is an error too. */
    adamw_tensor bad = {.name = "huge", .offset = 2, .numel = 5, .decay = false};
    g[1] = 0.0f;
    ck_assert_int_eq(adamw_step(&st, params, g, &bad, 1, &p, NULL, err, sizeof err),
                     ADAMW_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "huge"));
    adamw_free(&st);
}
END_TEST

START_TEST(test_schedules)
{
    lr_schedule s = {.kind = LR_LINEAR, .lr_max = 1.0f, .lr_min = 0.1f, .warmup_steps = 4,
                     .total_steps = 14};
    /* warm-up (step+1)/4 */
    ck_assert_float_eq_tol(lr_at(&s, 0), 0.25f, 1e-7);
    ck_assert_float_eq_tol(lr_at(&s, 3), 1.0f, 1e-7);
    /* decay over steps 4..14: x = (step-4)/10 */
    ck_assert_float_eq_tol(lr_at(&s, 4), 1.0f, 1e-7);
    ck_assert_float_eq_tol(lr_at(&s, 6), 0.82f, 1e-6);  /* 0.1 + 0.9*0.8 */
    ck_assert_float_eq_tol(lr_at(&s, 9), 0.55f, 1e-6);  /* 0.1 + 0.9*0.5 */
    ck_assert_float_eq_tol(lr_at(&s, 14), 0.1f, 1e-7);
    ck_assert_float_eq_tol(lr_at(&s, 100), 0.1f, 1e-7);
    s.kind = LR_COSINE;
    ck_assert_float_eq_tol(lr_at(&s, 1), 0.5f, 1e-7);
    ck_assert_float_eq_tol(lr_at(&s, 6), 0.91405765f, 1e-6); /* 0.1 + 0.9*(1+cos(0.2 pi))/2 */
    ck_assert_float_eq_tol(lr_at(&s, 9), 0.55f, 1e-6);
    ck_assert_float_eq_tol(lr_at(&s, 14), 0.1f, 1e-7);
    s.kind = LR_CONSTANT;
    s.warmup_steps = 2;
    ck_assert_float_eq_tol(lr_at(&s, 0), 0.5f, 1e-7);
    ck_assert_float_eq_tol(lr_at(&s, 5), 1.0f, 1e-7);
    s.warmup_steps = 0;
    ck_assert_float_eq_tol(lr_at(&s, 0), 1.0f, 1e-7);
}
END_TEST

/* On the engine's pool the step gives the same bits as on one thread:
 * parameters, moments, the gradient norm and the clip factor, over steps
 * with clipping, decay on and off, and tensors larger than one chunk. */
START_TEST(test_pool_same_bits)
{
    enum { N = 300000 + 7 };
    static const adamw_tensor T[4] = {
        {.name = "big", .offset = 0, .numel = 200000, .decay = true},
        {.name = "bias", .offset = 200000, .numel = 5, .decay = false},
        {.name = "mid", .offset = 200005, .numel = 99995, .decay = true},
        {.name = "norm", .offset = 300000, .numel = 7, .decay = false},
    };
    float *w1 = malloc(N * sizeof *w1), *w2 = malloc(N * sizeof *w2), *g = malloc(N * sizeof *g);
    uint64_t r = 3;
    for (size_t i = 0; i < N; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        w1[i] = w2[i] = (float)(r >> 40) / (float)(1u << 24) - 0.5f;
    }
    adamw_state a, b;
    adamw_init(&a, N);
    adamw_init(&b, N);
    tf_pool *pool = tf_pool_create(3);
    b.pool = pool;
    adamw_params p = hand_params();
    p.max_grad_norm = 1.0f;
    char err[256];
    for (int step = 0; step < 4; step++) {
        for (size_t i = 0; i < N; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            g[i] = ((float)(r >> 40) / (float)(1u << 24) - 0.5f) * (float)(step + 1);
        }
        adamw_report ra, rb;
        ck_assert_int_eq(adamw_step(&a, w1, g, T, 4, &p, &ra, err, sizeof err), ADAMW_OK);
        ck_assert_int_eq(adamw_step(&b, w2, g, T, 4, &p, &rb, err, sizeof err), ADAMW_OK);
        ck_assert(ra.grad_norm == rb.grad_norm && ra.clip == rb.clip);
        ck_assert(ra.clip < 1.0);
        ck_assert_msg(!memcmp(w1, w2, N * sizeof *w1), "parameters differ at step %d", step);
        ck_assert(!memcmp(a.m, b.m, N * sizeof *a.m) && !memcmp(a.v, b.v, N * sizeof *a.v));
    }
    /* a non-finite gradient is still found, named, and nothing moves */
    g[250000] = NAN;
    memcpy(w1, w2, N * sizeof *w1);
    ck_assert_int_eq(adamw_step(&b, w2, g, T, 4, &p, NULL, err, sizeof err), ADAMW_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(err, "'mid' at element 49995"));
    ck_assert(!memcmp(w1, w2, N * sizeof *w1));
    tf_pool_free(pool);
    adamw_free(&a);
    adamw_free(&b);
    free(w1), free(w2), free(g);
}
END_TEST

static Suite *adamw_suite(void)
{
    Suite *s = suite_create("train_adamw");
    TCase *tc = tcase_create("adamw");
    tcase_add_test(tc, test_two_steps_by_hand);
    tcase_add_test(tc, test_clip_and_scale);
    tcase_add_test(tc, test_nonfinite_names_tensor);
    tcase_add_test(tc, test_schedules);
    tcase_add_test(tc, test_pool_same_bits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(adamw_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
