/*
 * test_engine_bwd.c — tf_train_backward (train/engine_bwd.c) on the real
 * engine: load the golden checkpoints with the engine's loader, run its
 * forward with kept activations, backward, and compare every parameter's
 * gradient with PyTorch's (../shared/golden).  Then the heads the goldens
 * do not cover — value, score, entropy, temperature — by finite
 * differences of the engine's own forward.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_bwd.h"
#include "st_read.h"
#include "train_util.h"

typedef struct fixture {
    tf_model *m;
    tf_engine e;
    int32_t *ids;
    size_t n, len[2], T;
    const int32_t *seqs[2];
} fixture;

static void fixture_open(fixture *f, const char *sub, int heads, int threads, rd_file *golden)
{
    char dir[512], path[600], err[256];
    rd_golden_path(dir, sizeof dir, sub);
    ck_assert_msg(tf_model_load_hf(dir, heads, heads, 7, &f->m, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_msg(tf_engine_init(&f->e, f->m, threads, err, sizeof err) == RLAIF_OK, "%s", err);
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    ck_assert_msg(rd_open(golden, path, err, sizeof err) == 0, "%s", err);
    size_t nid;
    f->ids = rd_get_i32(golden, "input_ids", &nid);
    f->n = 2;
    f->len[0] = f->len[1] = nid / 2;
    f->T = nid;
    f->seqs[0] = f->ids;
    f->seqs[1] = f->ids + nid / 2;
    ck_assert_msg(tf_model_alloc_grads(f->m, err, sizeof err) == RLAIF_OK, "%s", err);
}

static void fixture_close(fixture *f)
{
    tf_engine_free(&f->e);
    tf_model_free(f->m);
    free(f->ids);
}

static void forward(fixture *f)
{
    char err[256];
    ck_assert_msg(tf_forward(&f->e, f->n, f->seqs, f->len, 1, NULL, err, sizeof err) == RLAIF_OK,
                  "%s", err);
}

/* Mean-logprob loss gradient through the engine == golden grad.<name>. */
static void check_golden(const char *sub, int threads)
{
    fixture f;
    rd_file g;
    fixture_open(&f, sub, 0, threads, &g);
    forward(&f);
    float *dlp = tu_zeros(f.T);
    for (size_t t = 0; t < f.T; t++) dlp[t] = -1.0f / (float)(f.T - f.n);
    rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dlp};
    tf_bwd_ws ws = {0};
    char err[256];
    memset(f.m->grads, 0, f.m->n_params * sizeof(float));
    ck_assert_msg(tf_train_backward(&f.e, &f.m->g, &d, 1.0f, &ws, err, sizeof err) == RLAIF_OK,
                  "%s", err);
    double worst = 0;
    for (size_t i = 0; i < f.m->n_tab; i++) {
        const tf_param *p = &f.m->tab[i];
        char name[160];
        snprintf(name, sizeof name, "grad.%s", p->name);
        size_t n;
        float *want = rd_get_f32(&g, name, &n);
        ck_assert_msg(want != NULL, "golden lacks %s", name);
        ck_assert_uint_eq(n, p->numel);
        double e = tu_rel_err(f.m->grads + p->offset, want, n, 1e-12);
        ck_assert_msg(e < 1e-4, "%s: gradient off by %.3g of its max", p->name, e);
        worst = fmax(worst, e);
        free(want);
    }
    printf("engine backward %s (%d threads): %zu gradients, worst %.2g of the tensor max\n", sub,
           threads, f.m->n_tab, worst);
    /* With the forward's logits kept, the same gradients (no recompute). */
    size_t V = (size_t)f.m->cfg.vocab_size;
    float *kept = malloc(f.T * V * sizeof(float)), *first = malloc(f.m->n_params * sizeof(float));
    tf_logits_rows(&f.e, kept, f.e.acts.xf, f.T);
    memcpy(first, f.m->grads, f.m->n_params * sizeof(float));
    memset(f.m->grads, 0, f.m->n_params * sizeof(float));
    ws.kept_logits = kept;
    ck_assert_int_eq(tf_train_backward(&f.e, &f.m->g, &d, 1.0f, &ws, err, sizeof err), RLAIF_OK);
    ws.kept_logits = NULL;
    ck_assert(tu_rel_err(f.m->grads, first, f.m->n_params, 1e-12) < 1e-6);
    free(kept), free(first);
    /* A second backward of the same forward doubles every gradient. */
    float *once = malloc(f.m->n_params * sizeof(float));
    memcpy(once, f.m->grads, f.m->n_params * sizeof(float));
    ck_assert_int_eq(tf_train_backward(&f.e, &f.m->g, &d, 1.0f, &ws, err, sizeof err), RLAIF_OK);
    for (size_t i = 0; i < f.m->n_params; i += 97)
        ck_assert_float_eq_tol(f.m->grads[i], 2 * once[i], 1e-6 + 1e-5 * fabsf(once[i]));
    free(once);
    tf_bwd_ws_free(&ws);
    free(dlp);
    rd_close(&g);
    fixture_close(&f);
}

START_TEST(test_llama_golden) { check_golden("llama_tiny", 1); }
END_TEST

START_TEST(test_llama_golden_threads) { check_golden("llama_tiny", 3); }
END_TEST

START_TEST(test_gpt2_golden) { check_golden("gpt2_tiny", 2); }
END_TEST

/* ---- heads, entropy and temperature by finite differences ------------- */

typedef struct fd_ctx {
    fixture *f;
    float temp;
    float *wl, *we, *wv, *ws; /* weights of logprob, entropy, value, score terms */
} fd_ctx;

/* L = sum_t wl lp_t + we H_t + wv value_t  + sum_b ws score_b, from the
 * engine's forward. */
static double heads_loss(void *p)
{
    fd_ctx *c = p;
    fixture *f = c->f;
    forward(f);
    const tf_acts *a = &f->e.acts;
    const tf_weights *w = &f->m->w;
    size_t D = (size_t)f->m->cfg.dim, V = (size_t)f->m->cfg.vocab_size;
    float *logits = malloc(a->T * V * sizeof(float));
    tf_logits_rows(&f->e, logits, a->xf, a->T);
    double L = 0;
    for (size_t b = 0; b < f->n; b++)
        for (size_t t = a->off[b]; t < a->off[b + 1]; t++) {
            const float *x = a->xf + t * D;
            if (t + 1 < a->off[b + 1]) {
                float lp = 0, ent = 0;
                tf_logits_stats(logits + t * V, V, c->temp, a->ids[t + 1], &lp, &ent);
                L += (double)c->wl[t] * lp + (double)c->we[t] * ent;
            }
            double v = w->value_b[0];
            for (size_t i = 0; i < D; i++) v += (double)w->value_w[i] * x[i];
            L += c->wv[t] * v;
            if (t + 1 == a->off[b + 1]) {
                double s = 0;
                for (size_t i = 0; i < D; i++) s += (double)w->score_w[i] * x[i];
                L += c->ws[b] * s;
            }
        }
    free(logits);
    return L;
}

/* mode 0: logprob and entropy terms at temperature 0.7; mode 1: value and
 * score terms (separately, so neither hides the other's errors). */
static void check_heads_fd(const char *sub, int mode)
{
    fixture f;
    rd_file g;
    fixture_open(&f, sub, 1, 1, &g);
    ck_assert_ptr_nonnull(f.m->w.value_w);
    ck_assert_ptr_nonnull(f.m->w.score_w);
    tu_rng r;
    tu_rng_seed(&r, 17);
    /* Heads initialised at N(0, 0.02^2) are too small to move anything
     * visibly: give them unit-scale weights. */
    tu_fill(&r, f.m->w.value_w, (size_t)f.m->cfg.dim, -1, 1);
    tu_fill(&r, f.m->w.score_w, (size_t)f.m->cfg.dim, -1, 1);
    fd_ctx c = {.f = &f, .temp = 0.7f};
    c.wl = tu_alloc_fill(&r, f.T, -0.1f, 0.1f);
    c.we = tu_alloc_fill(&r, f.T, -0.1f, 0.1f);
    c.wv = tu_alloc_fill(&r, f.T, -0.1f, 0.1f);
    c.ws = tu_alloc_fill(&r, f.n, -1, 1);
    if (mode == 0) {
        memset(c.wv, 0, f.T * sizeof(float));
        memset(c.ws, 0, f.n * sizeof(float));
    } else {
        memset(c.wl, 0, f.T * sizeof(float));
        memset(c.we, 0, f.T * sizeof(float));
    }
    heads_loss(&c);
    rlaif_outputs d = {.struct_size = sizeof d};
    if (mode == 0)
        d.logprobs = c.wl, d.entropy = c.we;
    else
        d.values = c.wv, d.score = c.ws;
    tf_bwd_ws ws = {0};
    char err[256];
    memset(f.m->grads, 0, f.m->n_params * sizeof(float));
    ck_assert_msg(tf_train_backward(&f.e, &f.m->g, &d, c.temp, &ws, err, sizeof err) == RLAIF_OK,
                  "%s", err);
    float *grads = malloc(f.m->n_params * sizeof(float));
    memcpy(grads, f.m->grads, f.m->n_params * sizeof(float));
    for (size_t i = 0; i < f.m->n_tab; i++) {
        const tf_param *p = &f.m->tab[i];
        if (tu_max_abs(grads + p->offset, p->numel) == 0.0f) {
            /* only the heads not in play may have no gradient at all */
            ck_assert_msg(strstr(p->name, "score") || strstr(p->name, "v_head"),
                          "%s: zero gradient", p->name);
            continue;
        }
        double e = tu_fd_check(p->name, f.m->params + p->offset, p->numel, grads + p->offset,
                               heads_loss, &c, 1e-2f, 4, 2e-2);
        ck_assert_msg(e < 2e-2, "%s: fd error %.3g", p->name, e);
    }
    free(grads);
    free(c.wl), free(c.we), free(c.wv), free(c.ws);
    tf_bwd_ws_free(&ws);
    rd_close(&g);
    fixture_close(&f);
}

/* A random Qwen2-style model with everything the goldens lack: q/k/v and
 * o biases, untied LM head, interleaved RoPE, grouped heads, a ragged batch
 * (lengths 5 and 7), value and score heads, temperature and entropy. */
START_TEST(test_random_qwen2_ragged_fd)
{
    tf_config cfg = {.arch = TF_QWEN2, .dim = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                     .head_dim = 8, .hidden_dim = 48, .vocab_size = 40, .max_seq_len = 16,
                     .norm_eps = 1e-5f, .rope_theta = 10000.0f, .rope_interleaved = 1, .tied = 0,
                     .qkv_bias = 1, .o_bias = 1, .bos_id = -1, .eos_id = -1, .pad_id = -1,
                     .value_head = 1, .score_head = 1};
    fixture f = {0};
    char err[256];
    ck_assert_msg(tf_model_create(&cfg, &f.m, err, sizeof err) == RLAIF_OK, "%s", err);
    tu_rng r;
    tu_rng_seed(&r, 23);
    tu_fill(&r, f.m->params, f.m->n_params, -0.4f, 0.4f);
    for (size_t i = 0; i < f.m->n_tab; i++)
        if (strstr(f.m->tab[i].name, "norm"))
            for (size_t j = 0; j < f.m->tab[i].numel; j++) f.m->params[f.m->tab[i].offset + j] += 1.0f;
    ck_assert_int_eq(tf_engine_init(&f.e, f.m, 2, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(tf_model_alloc_grads(f.m, err, sizeof err), RLAIF_OK);
    static const int32_t ids[12] = {3, 17, 39, 0, 8, 25, 25, 1, 30, 12, 7, 33};
    f.ids = malloc(sizeof ids);
    memcpy(f.ids, ids, sizeof ids);
    f.n = 2;
    f.len[0] = 5;
    f.len[1] = 7;
    f.T = 12;
    f.seqs[0] = f.ids;
    f.seqs[1] = f.ids + 5;
    fd_ctx c = {.f = &f, .temp = 0.8f};
    c.wl = tu_alloc_fill(&r, f.T, -1, 1);
    c.we = tu_alloc_fill(&r, f.T, -1, 1);
    c.wv = tu_alloc_fill(&r, f.T, -1, 1);
    c.ws = tu_alloc_fill(&r, f.n, -1, 1);
    heads_loss(&c);
    rlaif_outputs d = {.struct_size = sizeof d, .logprobs = c.wl, .entropy = c.we,
                       .values = c.wv, .score = c.ws};
    tf_bwd_ws ws = {0};
    memset(f.m->grads, 0, f.m->n_params * sizeof(float));
    ck_assert_msg(tf_train_backward(&f.e, &f.m->g, &d, c.temp, &ws, err, sizeof err) == RLAIF_OK,
                  "%s", err);
    float *grads = malloc(f.m->n_params * sizeof(float));
    memcpy(grads, f.m->grads, f.m->n_params * sizeof(float));
    for (size_t i = 0; i < f.m->n_tab; i++) {
        const tf_param *p = &f.m->tab[i];
        ck_assert_msg(tu_max_abs(grads + p->offset, p->numel) > 0.0f, "%s: no gradient", p->name);
        double e = tu_fd_check(p->name, f.m->params + p->offset, p->numel, grads + p->offset,
                               heads_loss, &c, 1e-2f, 12, 1e-2);
        ck_assert_msg(e < 1e-2, "%s: fd error %.3g", p->name, e);
    }
    free(grads);
    free(c.wl), free(c.we), free(c.wv), free(c.ws);
    tf_bwd_ws_free(&ws);
    fixture_close(&f);
}
END_TEST

START_TEST(test_llama_logprob_entropy_fd) { check_heads_fd("llama_tiny", 0); }
END_TEST

START_TEST(test_gpt2_logprob_entropy_fd) { check_heads_fd("gpt2_tiny", 0); }
END_TEST

START_TEST(test_llama_value_score_fd) { check_heads_fd("llama_tiny", 1); }
END_TEST

START_TEST(test_gpt2_value_score_fd) { check_heads_fd("gpt2_tiny", 1); }
END_TEST

/* Train only layer 1 and the final norm: their gradients equal the
 * golden ones, every frozen gradient stays zero (layer 0 and the
 * embeddings are not even visited). */
START_TEST(test_frozen_view)
{
    fixture f;
    rd_file g;
    fixture_open(&f, "llama_tiny", 0, 2, &g);
    uint8_t *frozen = calloc(f.m->n_tab, 1);
    for (size_t i = 0; i < f.m->n_tab; i++)
        frozen[i] = !strstr(f.m->tab[i].name, "layers.1.") && strcmp(f.m->tab[i].name, "model.norm.weight");
    tf_weights gv;
    char err[256];
    ck_assert_int_eq(tf_train_grad_view(f.m, frozen, &gv, err, sizeof err), RLAIF_OK);
    ck_assert_ptr_null(gv.tok_emb);
    ck_assert_ptr_null(gv.layers[0].wqkv);
    ck_assert_ptr_nonnull(gv.layers[1].wqkv);
    forward(&f);
    float *dlp = tu_zeros(f.T);
    for (size_t t = 0; t < f.T; t++) dlp[t] = -1.0f / (float)(f.T - f.n);
    rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dlp};
    tf_bwd_ws ws = {0};
    memset(f.m->grads, 0, f.m->n_params * sizeof(float));
    ck_assert_int_eq(tf_train_backward(&f.e, &gv, &d, 1.0f, &ws, err, sizeof err), RLAIF_OK);
    for (size_t i = 0; i < f.m->n_tab; i++) {
        const tf_param *p = &f.m->tab[i];
        if (frozen[i]) {
            ck_assert_msg(tu_max_abs(f.m->grads + p->offset, p->numel) == 0.0f, "%s moved", p->name);
            continue;
        }
        char name[160];
        snprintf(name, sizeof name, "grad.%s", p->name);
        float *want = rd_get_f32(&g, name, NULL);
        ck_assert(tu_rel_err(f.m->grads + p->offset, want, p->numel, 1e-12) < 1e-4);
        free(want);
    }
    tf_weights_free(&gv);
    tf_bwd_ws_free(&ws);
    free(dlp), free(frozen);
    rd_close(&g);
    fixture_close(&f);
}
END_TEST

/* Bit-identical gradients run to run with a thread pool (exact resume
 * depends on it): every task writes its own rows or heads. */
START_TEST(test_deterministic)
{
    fixture f;
    rd_file g;
    fixture_open(&f, "gpt2_tiny", 0, 3, &g);
    forward(&f);
    float *dlp = tu_zeros(f.T), *first = malloc(f.m->n_params * sizeof(float));
    for (size_t t = 0; t < f.T; t++) dlp[t] = -1.0f / (float)(f.T - f.n);
    rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dlp};
    tf_bwd_ws ws = {0};
    char err[256];
    for (int run = 0; run < 3; run++) {
        memset(f.m->grads, 0, f.m->n_params * sizeof(float));
        ck_assert_int_eq(tf_train_backward(&f.e, &f.m->g, &d, 1.0f, &ws, err, sizeof err), RLAIF_OK);
        if (run == 0)
            memcpy(first, f.m->grads, f.m->n_params * sizeof(float));
        else
            ck_assert_mem_eq(f.m->grads, first, f.m->n_params * sizeof(float));
    }
    free(dlp), free(first);
    tf_bwd_ws_free(&ws);
    rd_close(&g);
    fixture_close(&f);
}
END_TEST

START_TEST(test_errors)
{
    fixture f;
    rd_file g;
    fixture_open(&f, "llama_tiny", 0, 1, &g);
    float *dv = tu_zeros(f.T);
    rlaif_outputs d = {.struct_size = sizeof d, .values = dv};
    tf_bwd_ws ws = {0};
    char err[256];
    /* Before any forward: no kept activations. */
    ck_assert_int_eq(tf_train_backward(&f.e, &f.m->g, &d, 1.0f, &ws, err, sizeof err), RLAIF_E_STATE);
    ck_assert_ptr_nonnull(strstr(err, "KEEP"));
    forward(&f);
    /* No value head on this model. */
    ck_assert_int_eq(tf_train_backward(&f.e, &f.m->g, &d, 1.0f, &ws, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "value head"));
    /* A forward without keep cannot be differentiated. */
    ck_assert_int_eq(tf_forward(&f.e, f.n, f.seqs, f.len, 0, NULL, err, sizeof err), RLAIF_OK);
    d.values = NULL;
    ck_assert_int_eq(tf_train_backward(&f.e, &f.m->g, &d, 1.0f, &ws, err, sizeof err), RLAIF_E_STATE);
    free(dv);
    tf_bwd_ws_free(&ws);
    rd_close(&g);
    fixture_close(&f);
}
END_TEST

static Suite *engine_bwd_suite(void)
{
    Suite *s = suite_create("train_engine_bwd");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_llama_golden);
    tcase_add_test(tc, test_llama_golden_threads);
    tcase_add_test(tc, test_gpt2_golden);
    tcase_add_test(tc, test_llama_logprob_entropy_fd);
    tcase_add_test(tc, test_gpt2_logprob_entropy_fd);
    tcase_add_test(tc, test_llama_value_score_fd);
    tcase_add_test(tc, test_gpt2_value_score_fd);
    tcase_add_test(tc, test_frozen_view);
    tcase_add_test(tc, test_random_qwen2_ragged_fd);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(engine_bwd_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
