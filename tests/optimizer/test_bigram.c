/*
 * test_bigram.c — model/bigram: exact gradients (finite differences for
 * every output kind), AdamW, sampling, checkpoints, the reference view and
 * config errors.  The math is reached through bigram.h; everything else
 * through the plugin vtable, as the host uses it.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bigram.h"
#include "harness.h"

/* ===== finite differences ================================================ */

/* Three short sequences (BOS + bytes) sharing some tokens, so rows of W are
 * hit several times. */
static const char *const fd_text[3] = {"abca", "bcab", "cc"};

typedef struct fd_case {
    bigram *m;
    int32_t ids[3][8];
    size_t len[3];
    rlaif_seqs s;
    const int32_t *idp[3];
    float T;
    uint32_t want;
    float g_lp[32], g_ent[32], g_val[32], g_sc[3]; /* dL/d(outputs), random */
    float o_lp[32], o_ent[32], o_val[32], o_sc[3];
} fd_case;

static void fd_setup(fd_case *c, uint32_t want, enum bigram_pool pool, float T)
{
    memset(c, 0, sizeof *c);
    c->m = bigram_new(7, 2.0, 1, 1, pool, 64);
    ck_assert(c->m != NULL);
    /* Non-zero heads so that every path is exercised. */
    for (int j = 0; j < BIGRAM_V; j++) {
        c->m->params[BIGRAM_OFF_VH + j] = 0.01f * (float)(j % 7);
        c->m->params[BIGRAM_OFF_S + j] = 0.02f * (float)(j % 5) - 0.03f;
    }
    for (int b = 0; b < 3; b++) {
        c->ids[b][0] = BIGRAM_BOS;
        size_t n = strlen(fd_text[b]);
        for (size_t t = 0; t < n; t++) c->ids[b][t + 1] = (unsigned char)fd_text[b][t];
        c->len[b] = n + 1;
        c->idp[b] = c->ids[b];
    }
    c->s = (rlaif_seqs){sizeof(rlaif_seqs), 3, c->idp, c->len, NULL};
    c->T = T;
    c->want = want;
    uint64_t r = 12345;
    for (int i = 0; i < 32; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        float u = (float)((r >> 40) & 0xFFFF) / 65536.0f - 0.5f;
        c->g_lp[i] = u;
        c->g_ent[i] = 0.7f * u + 0.1f;
        c->g_val[i] = -u;
    }
    c->g_sc[0] = 0.9f, c->g_sc[1] = -0.4f, c->g_sc[2] = 0.3f;
}

/* L = sum over the wanted outputs of g * output, in double. */
static double fd_loss(fd_case *c)
{
    rlaif_outputs o = {sizeof o, c->o_lp, c->o_ent, c->o_val, c->o_sc};
    char err[256];
    ck_assert_msg(bigram_forward(c->m, &c->s, c->want, c->T, &o, err, sizeof err) == RLAIF_OK,
                  "%s", err);
    size_t total = c->len[0] + c->len[1] + c->len[2];
    double L = 0;
    for (size_t i = 0; i < total; i++) {
        if (c->want & RLAIF_OUT_LOGPROBS) L += (double)c->g_lp[i] * c->o_lp[i];
        if (c->want & RLAIF_OUT_ENTROPY) L += (double)c->g_ent[i] * c->o_ent[i];
        if (c->want & RLAIF_OUT_VALUES) L += (double)c->g_val[i] * c->o_val[i];
    }
    if (c->want & RLAIF_OUT_SCORE)
        for (int b = 0; b < 3; b++) L += (double)c->g_sc[b] * c->o_sc[b];
    return L;
}

static void fd_check(uint32_t want, enum bigram_pool pool, float T)
{
    fd_case c;
    fd_setup(&c, want, pool, T);
    char err[256];
    fd_loss(&c);
    rlaif_outputs o = {sizeof o, c.o_lp, c.o_ent, c.o_val, c.o_sc};
    ck_assert(bigram_forward(c.m, &c.s, want | RLAIF_OUT_KEEP, T, &o, err, sizeof err) == 0);
    rlaif_outputs g = {sizeof g, (want & RLAIF_OUT_LOGPROBS) ? c.g_lp : NULL,
                       (want & RLAIF_OUT_ENTROPY) ? c.g_ent : NULL,
                       (want & RLAIF_OUT_VALUES) ? c.g_val : NULL,
                       (want & RLAIF_OUT_SCORE) ? c.g_sc : NULL};
    ck_assert_msg(bigram_backward(c.m, &g, err, sizeof err) == RLAIF_OK, "%s", err);
    /* Every parameter a token of the batch can reach: the W rows of
     * 'a','b','c',BOS (all columns 'a'..'c' plus two others), the heads. */
    size_t idx[64];
    size_t n = 0;
    const int32_t rows[4] = {'a', 'b', 'c', BIGRAM_BOS};
    for (int i = 0; i < 4; i++) {
        /* The columns of the tokens that follow, and the row's two largest
         * logits (where the probability mass, hence the entropy, is). */
        const float *w = c.m->params + (size_t)rows[i] * BIGRAM_V;
        int32_t top = 0, second = 1;
        for (int32_t j = 0; j < BIGRAM_V; j++) {
            if (w[j] > w[top]) second = top, top = j;
            else if (j != top && w[j] > w[second]) second = j;
        }
        const int32_t cols[5] = {'a', 'b', 'c', top, second};
        for (int j = 0; j < 5; j++) idx[n++] = BIGRAM_OFF_W + (size_t)rows[i] * BIGRAM_V + cols[j];
    }
    for (int i = 0; i < 4; i++) idx[n++] = BIGRAM_OFF_VH + (size_t)rows[i];
    idx[n++] = BIGRAM_OFF_VB;
    for (int i = 0; i < 4; i++) idx[n++] = BIGRAM_OFF_S + (size_t)rows[i];
    idx[n++] = BIGRAM_OFF_SB;
    int nonzero = 0;
    for (size_t k = 0; k < n; k++) {
        float *p = &c.m->params[idx[k]];
        float keep = *p;
        const float h = 1e-2f;
        *p = keep + h;
        double lp = fd_loss(&c);
        *p = keep - h;
        double lm = fd_loss(&c);
        *p = keep;
        double fd = (lp - lm) / (2.0 * h);
        double an = c.m->grads[idx[k]];
        nonzero += fabs(an) > 1e-3;
        ck_assert_msg(fabs(fd - an) <= 5e-4 + 1e-2 * fabs(an),
                      "want %#x param %zu: finite difference %.6f, backward %.6f", want, idx[k], fd,
                      an);
    }
    ck_assert_msg(nonzero >= 4, "want %#x: only %d non-zero gradients", want, nonzero);
    bigram_free(c.m);
}

START_TEST(fd_logprobs) { fd_check(RLAIF_OUT_LOGPROBS, BIGRAM_POOL_LAST, 1.0f); }
END_TEST
START_TEST(fd_logprobs_temperature) { fd_check(RLAIF_OUT_LOGPROBS, BIGRAM_POOL_LAST, 0.6f); }
END_TEST
START_TEST(fd_entropy) { fd_check(RLAIF_OUT_ENTROPY, BIGRAM_POOL_LAST, 1.3f); }
END_TEST
START_TEST(fd_values) { fd_check(RLAIF_OUT_VALUES, BIGRAM_POOL_LAST, 1.0f); }
END_TEST
START_TEST(fd_score_last) { fd_check(RLAIF_OUT_SCORE, BIGRAM_POOL_LAST, 1.0f); }
END_TEST
START_TEST(fd_score_mean) { fd_check(RLAIF_OUT_SCORE, BIGRAM_POOL_MEAN, 1.0f); }
END_TEST
START_TEST(fd_all_together)
{
    fd_check(RLAIF_OUT_LOGPROBS | RLAIF_OUT_ENTROPY | RLAIF_OUT_VALUES | RLAIF_OUT_SCORE,
             BIGRAM_POOL_MEAN, 0.8f);
}
END_TEST

/* Logprobs at temperature T equal log_softmax(W/T) computed by hand. */
START_TEST(forward_by_hand)
{
    bigram *m = bigram_new(0, 0, 0, 0, BIGRAM_POOL_LAST, 16);
    /* Row 'a': logit 2 on 'b', 0 elsewhere. */
    m->params[(size_t)'a' * BIGRAM_V + 'b'] = 2.0f;
    int32_t ids[3] = {'a', 'b', 'a'};
    const int32_t *idp[1] = {ids};
    size_t len[1] = {3};
    rlaif_seqs s = {sizeof s, 1, idp, len, NULL};
    float lp[3], ent[3];
    rlaif_outputs o = {sizeof o, lp, ent, NULL, NULL};
    char err[128];
    ck_assert(bigram_forward(m, &s, RLAIF_OUT_LOGPROBS | RLAIF_OUT_ENTROPY, 0.5f, &o, err,
                             sizeof err) == 0);
    /* T = 0.5: logit 4 on 'b', 257 zeros: p_b = e^4 / (e^4 + 257). */
    double z = exp(4.0) + 257.0;
    ck_assert_double_eq_tol(lp[0], 4.0 - log(z), 1e-5);
    /* Row 'b' is all zeros: uniform. */
    ck_assert_double_eq_tol(lp[1], -log(258.0), 1e-5);
    ck_assert_double_eq_tol(ent[1], log(258.0), 1e-5);
    double pb = exp(4.0) / z, po = 1.0 / z;
    double h = -(pb * log(pb) + 257.0 * po * log(po));
    ck_assert_double_eq_tol(ent[0], h, 1e-5);
    ck_assert(lp[2] == 0.0f && ent[2] == 0.0f);
    bigram_free(m);
}
END_TEST

/* ===== AdamW ============================================================= */

START_TEST(adamw_first_step)
{
    bigram *m = bigram_new(0, 0, 1, 0, BIGRAM_POOL_LAST, 16);
    m->params[5] = 1.0f;
    m->grads[5] = 0.3f;
    m->grads[6] = -2.0f;
    m->grads[BIGRAM_OFF_VB] = 0.5f;
    m->params[BIGRAM_OFF_VB] = 1.0f;
    rlaif_step_params p = {sizeof p, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, 0.0f, 2.0f};
    rlaif_step_result r = {sizeof r, 0, 0};
    char err[128];
    ck_assert(bigram_step(m, &p, &r, err, sizeof err) == RLAIF_OK);
    /* grad_scale 2: g = (0.6, -4, 1); norm sqrt(0.36+16+1). */
    ck_assert_double_eq_tol(r.grad_norm, sqrt(0.36 + 16.0 + 1.0), 1e-5);
    ck_assert_uint_eq(r.step, 1);
    /* First bias-corrected step is lr * sign(g); W decays by lr*wd, the
     * value-head bias (a vector) does not. */
    ck_assert_double_eq_tol(m->params[5], 1.0 - 0.1 * 0.5 * 1.0 - 0.1, 1e-6);
    ck_assert_double_eq_tol(m->params[6], 0.1, 1e-6);
    ck_assert_double_eq_tol(m->params[BIGRAM_OFF_VB], 1.0 - 0.1, 1e-6);
    ck_assert(m->grads[5] == 0.0f && m->grads[6] == 0.0f); /* zeroed */
    /* Second step with the same gradient: m and v follow their EMAs. */
    m->grads[5] = 0.3f;
    p.weight_decay = 0;
    float before = m->params[5];
    ck_assert(bigram_step(m, &p, &r, err, sizeof err) == RLAIF_OK);
    double g = 0.6;
    double mm = 0.9 * 0.1 * g + 0.1 * g, vv = 0.999 * 0.001 * g * g + 0.001 * g * g;
    double upd = 0.1 * (mm / (1 - 0.81)) / (sqrt(vv / (1 - 0.999 * 0.999)) + 1e-8);
    ck_assert_double_eq_tol(m->params[5], before - upd, 1e-6);
    bigram_free(m);
}
END_TEST

START_TEST(adamw_clipping_and_nan)
{
    bigram *m = bigram_new(0, 0, 0, 1, BIGRAM_POOL_LAST, 16);
    m->grads[0] = 3.0f;
    m->grads[1] = 4.0f;
    rlaif_step_params p = {sizeof p, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f};
    rlaif_step_result r = {sizeof r, 0, 0};
    char err[256];
    /* beta1 = beta2 = 0, eps 0: the update is lr * g/|g| whatever the
     * clipping; check the reported norm is the one before clipping. */
    ck_assert(bigram_step(m, &p, &r, err, sizeof err) == RLAIF_OK);
    ck_assert_double_eq_tol(r.grad_norm, 5.0, 1e-6);
    ck_assert_double_eq_tol(m->params[0], -1.0, 1e-6);
    /* Adam's update is scale-free, so clipping shows in the moments: the
     * first moment holds the clipped gradient 3/5 = 0.6 (3 unclipped). */
    ck_assert_double_eq_tol(m->m[0], 0.6, 1e-5);
    p.beta1 = 0.5f;
    m->grads[0] = 3.0f;
    m->grads[1] = 4.0f;
    ck_assert(bigram_step(m, &p, &r, err, sizeof err) == RLAIF_OK);
    ck_assert_double_eq_tol(m->m[0], 0.5 * 0.6 + 0.5 * 0.6, 1e-5);
    /* A NaN in the score head is named and nothing moves. */
    float w0 = m->params[0];
    m->grads[0] = 1.0f;
    m->grads[BIGRAM_OFF_S + 3] = NAN;
    ck_assert_int_eq(bigram_step(m, &p, &r, err, sizeof err), RLAIF_E_NUMERIC);
    ck_assert_msg(strstr(err, "score_head.weight") != NULL, "%s", err);
    ck_assert(m->params[0] == w0);
    bigram_free(m);
}
END_TEST

/* ===== the vtable ======================================================== */

static const rlaif_model_vtable *vt;

static rlc_instance *make_model(const char *config)
{
    rlc_instance *in = th_create(RLAIF_KIND_MODEL, "bigram", config);
    vt = th_mvt(in);
    return in;
}

START_TEST(tokenize_round_trip)
{
    rlc_instance *in = make_model("{}");
    void *m = rlc_instance_self(in);
    int32_t ids[16];
    size_t n = 0, len = 0;
    char err[256], text[32];
    ck_assert(vt->tokenize(m, "hi!", 3, 1, ids, 16, &n, err, sizeof err) == RLAIF_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(ids[0], 256);
    ck_assert_int_eq(ids[1], 'h');
    ck_assert_int_eq(vt->tokenize(m, "hi!", 3, 1, ids, 2, &n, err, sizeof err), RLAIF_E_RANGE);
    ck_assert_uint_eq(n, 4);
    ids[4] = 257;
    ck_assert(vt->detokenize(m, ids, 5, 0, text, sizeof text, &len, err, sizeof err) == 0);
    ck_assert_str_eq(text, "<bos>hi!<eos>");
    ck_assert(vt->detokenize(m, ids, 5, 1, text, sizeof text, &len, err, sizeof err) == 0);
    ck_assert_str_eq(text, "hi!");
    ck_assert_int_eq(vt->detokenize(m, ids, 5, 0, text, 4, &len, err, sizeof err), RLAIF_E_RANGE);
    ck_assert_uint_eq(len, 13);
    ids[0] = 999;
    ck_assert_int_eq(vt->detokenize(m, ids, 5, 0, text, 32, &len, err, sizeof err),
                     RLAIF_E_INVALID);
    rlc_instance_unref(in);
}
END_TEST

START_TEST(config_errors_name_the_key)
{
    char err[256] = "";
    rlc_init(NULL);
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_MODEL, "bigram", err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert(rlc_instance_create(p, "{\"sed\": 3}", err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "sed") != NULL, "%s", err);
    ck_assert(rlc_instance_create(p, "{\"score_pool\": \"max\"}", err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "score_pool") != NULL, "%s", err);
    ck_assert(rlc_instance_create(p, "{\"load\": \"/nonexistent/dir\"}", err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "/nonexistent/dir") != NULL, "%s", err);
}
END_TEST

START_TEST(forward_errors)
{
    rlc_instance *in = make_model("{\"max_seq_len\": 4}");
    void *m = rlc_instance_self(in);
    int32_t ids[5] = {256, 'a', 300, 'b', 'c'};
    const int32_t *idp[1] = {ids};
    size_t len[1] = {3};
    rlaif_seqs s = {sizeof s, 1, idp, len, NULL};
    float lp[5], v[5];
    rlaif_outputs o = {sizeof o, lp, NULL, v, NULL};
    char err[256];
    ck_assert_int_eq(vt->forward(m, &s, RLAIF_OUT_LOGPROBS, 1, &o, err, sizeof err),
                     RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "position 2") != NULL, "%s", err);
    ids[2] = 'x';
    len[0] = 5;
    ck_assert_int_eq(vt->forward(m, &s, RLAIF_OUT_LOGPROBS, 1, &o, err, sizeof err),
                     RLAIF_E_INVALID);
    len[0] = 3;
    ck_assert_int_eq(vt->forward(m, &s, RLAIF_OUT_VALUES, 1, &o, err, sizeof err),
                     RLAIF_E_UNSUPPORTED);
    rlaif_outputs g = {sizeof g, lp, NULL, NULL, NULL};
    ck_assert_int_eq(vt->backward(m, &g, err, sizeof err), RLAIF_E_STATE);
    rlc_instance_unref(in);
}
END_TEST

/* Sampled tokens' logprobs equal forward's at the same temperature. */
START_TEST(generate_logprobs_match_forward)
{
    rlc_instance *in = make_model("{\"seed\": 3, \"init_std\": 1.0}");
    void *m = rlc_instance_self(in);
    int32_t p0[2] = {256, 'q'}, p1[1] = {256};
    const int32_t *pp[2] = {p0, p1};
    size_t plen[2] = {2, 1};
    rlaif_seqs prompts = {sizeof prompts, 2, pp, plen, NULL};
    enum { N = 12 };
    int32_t ids[2 * N];
    float lps[2 * N];
    size_t n_new[2];
    uint8_t fin[2];
    rlaif_generation g = {sizeof g, ids, lps, n_new, fin};
    rlaif_sampling s = {.struct_size = sizeof s, .temperature = 0.7f, .top_p = 1.0f,
                        .max_new_tokens = N, .seed = 11, .ignore_eos = 1};
    char err[256];
    ck_assert(vt->generate(m, &prompts, &s, &g, err, sizeof err) == RLAIF_OK);
    ck_assert_uint_eq(n_new[0], N);
    ck_assert_int_eq(fin[0], RLAIF_FINISH_LENGTH);
    for (int b = 0; b < 2; b++) {
        int32_t full[N + 2];
        memcpy(full, pp[b], plen[b] * sizeof(int32_t));
        memcpy(full + plen[b], ids + b * N, N * sizeof(int32_t));
        const int32_t *fp[1] = {full};
        size_t flen[1] = {plen[b] + N};
        rlaif_seqs fs = {sizeof fs, 1, fp, flen, NULL};
        float lp[N + 2];
        rlaif_outputs o = {sizeof o, lp, NULL, NULL, NULL};
        ck_assert(vt->forward(m, &fs, RLAIF_OUT_LOGPROBS, 0.7f, &o, err, sizeof err) == 0);
        for (int t = 0; t < N; t++)
            ck_assert_double_eq_tol(lps[b * N + t], lp[plen[b] - 1 + (size_t)t], 1e-5);
    }
    /* Sequence 1 alone with seeds[] equal to what it had in the batch: the
     * per-sequence stream makes the sample independent of the batch. */
    int32_t ids1[N];
    float lps1[N];
    rlaif_generation g1 = {sizeof g1, ids1, lps1, n_new, fin};
    rlaif_seqs one = {sizeof one, 1, pp + 1, plen + 1, NULL};
    int32_t again[2 * N];
    float lagain[2 * N];
    rlaif_generation g2 = {sizeof g2, again, lagain, n_new, fin};
    ck_assert(vt->generate(m, &prompts, &s, &g2, err, sizeof err) == 0);
    ck_assert(memcmp(again, ids, sizeof ids) == 0); /* same seed, same tokens */
    uint64_t seeds[2] = {99, 77};
    s.seeds = seeds;
    ck_assert(vt->generate(m, &prompts, &s, &g2, err, sizeof err) == 0);
    s.seeds = seeds + 1;
    ck_assert(vt->generate(m, &one, &s, &g1, err, sizeof err) == 0);
    ck_assert(memcmp(ids1, again + N, sizeof ids1) == 0);
    rlc_instance_unref(in);
}
END_TEST

START_TEST(generate_greedy_stops_and_filters)
{
    rlc_instance *in = make_model("{\"init_std\": 0}");
    bigram *m = rlc_instance_self(in);
    /* A chain BOS -> 'h' -> 'e' -> 'y' -> '!' -> EOS, strongly preferred. */
    const int32_t chain[6] = {256, 'h', 'e', 'y', '!', 257};
    for (int i = 0; i < 5; i++) m->params[(size_t)chain[i] * BIGRAM_V + chain[i + 1]] = 8.0f;
    int32_t p0[1] = {256};
    const int32_t *pp[1] = {p0};
    size_t plen[1] = {1};
    rlaif_seqs prompts = {sizeof prompts, 1, pp, plen, NULL};
    int32_t ids[10];
    float lps[10];
    size_t n_new[1];
    uint8_t fin[1];
    rlaif_generation g = {sizeof g, ids, lps, n_new, fin};
    rlaif_sampling s = {.struct_size = sizeof s, .temperature = 0, .top_p = 1.0f,
                        .max_new_tokens = 10};
    char err[256];
    ck_assert(vt->generate(m, &prompts, &s, &g, err, sizeof err) == 0);
    ck_assert_uint_eq(n_new[0], 5); /* h e y ! EOS (EOS kept) */
    ck_assert_int_eq(ids[4], 257);
    ck_assert_int_eq(fin[0], RLAIF_FINISH_STOP);
    ck_assert_double_eq_tol(lps[0], 8.0 - log(exp(8.0) + 257.0), 1e-5);
    /* A stop string ends it after "ey". */
    const char *stops[1] = {"ey"};
    s.stop_strings = stops;
    s.n_stop_strings = 1;
    ck_assert(vt->generate(m, &prompts, &s, &g, err, sizeof err) == 0);
    ck_assert_uint_eq(n_new[0], 3);
    ck_assert_int_eq(fin[0], RLAIF_FINISH_STOP);
    /* A stop id, and max_new_tokens. */
    s.n_stop_strings = 0;
    int32_t stop_id = 'e';
    s.stop_ids = &stop_id;
    s.n_stop_ids = 1;
    ck_assert(vt->generate(m, &prompts, &s, &g, err, sizeof err) == 0);
    ck_assert_uint_eq(n_new[0], 2);
    s.n_stop_ids = 0;
    s.max_new_tokens = 3;
    ck_assert(vt->generate(m, &prompts, &s, &g, err, sizeof err) == 0);
    ck_assert_uint_eq(n_new[0], 3);
    ck_assert_int_eq(fin[0], RLAIF_FINISH_LENGTH);
    /* top_k = 1 at a high temperature is greedy. */
    s.temperature = 5.0f;
    s.top_k = 1;
    s.max_new_tokens = 10;
    s.seed = 5;
    ck_assert(vt->generate(m, &prompts, &s, &g, err, sizeof err) == 0);
    ck_assert_uint_eq(n_new[0], 5);
    ck_assert_int_eq(ids[2], 'y');
    /* top_p tiny keeps only the most likely token too. */
    s.top_k = 0;
    s.top_p = 1e-3f;
    ck_assert(vt->generate(m, &prompts, &s, &g, err, sizeof err) == 0);
    ck_assert_int_eq(ids[3], '!');
    rlc_instance_unref(in);
}
END_TEST

/* Sampling frequencies follow the softmax at the temperature. */
START_TEST(generate_sampling_frequencies)
{
    rlc_instance *in = make_model("{\"init_std\": 0}");
    bigram *m = rlc_instance_self(in);
    m->params[(size_t)'a' * BIGRAM_V + 'b'] = 6.0f; /* p_b = e^6/(e^6+257) at T=1 */
    enum { B = 4000 };
    static int32_t pids[B][1];
    static const int32_t *pp[B];
    static size_t plen[B];
    for (int i = 0; i < B; i++) {
        pids[i][0] = 'a';
        pp[i] = pids[i];
        plen[i] = 1;
    }
    rlaif_seqs prompts = {sizeof prompts, B, pp, plen, NULL};
    static int32_t ids[B];
    static float lps[B];
    static size_t n_new[B];
    static uint8_t fin[B];
    rlaif_generation g = {sizeof g, ids, lps, n_new, fin};
    rlaif_sampling s = {.struct_size = sizeof s, .temperature = 1.0f, .top_p = 1.0f,
                        .max_new_tokens = 1, .seed = 2};
    char err[256];
    ck_assert(vt->generate(m, &prompts, &s, &g, err, sizeof err) == 0);
    int hits = 0;
    for (int i = 0; i < B; i++) hits += ids[i] == 'b';
    double p = exp(6.0) / (exp(6.0) + 257.0); /* 0.611 */
    double sd = sqrt(p * (1 - p) / B);
    ck_assert_msg(fabs(hits / (double)B - p) < 5 * sd, "frequency %f, expected %f",
                  hits / (double)B, p);
    rlc_instance_unref(in);
}
END_TEST

START_TEST(save_load_and_reference)
{
    rlc_instance *in = make_model("{\"seed\": 4, \"value_head\": true, \"score_head\": true}");
    bigram *m = rlc_instance_self(in);
    char dir[] = "/tmp/rlaif-bigram-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char err[512];
    /* One training step so that the AdamW state is non-trivial. */
    m->grads[10] = 1.0f;
    rlaif_step_params p = {sizeof p, 0.01f, 0.9f, 0.99f, 1e-8f, 0.0f, 0.0f, 1.0f};
    ck_assert(vt->step(m, &p, NULL, err, sizeof err) == 0);
    rlc_instance *ref = th_reference(in);
    bigram *r = rlc_instance_self(ref);
    ck_assert(r->frozen);
    ck_assert(vt->save(m, dir, RLAIF_SAVE_WEIGHTS | RLAIF_SAVE_TRAINING, err, sizeof err) == 0);
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"seed\": 9, \"load\": \"%s\"}", dir);
    rlc_instance *in2 = make_model(cfg);
    bigram *m2 = rlc_instance_self(in2);
    ck_assert(memcmp(m2->params, m->params, BIGRAM_N_PARAMS * sizeof(float)) == 0);
    ck_assert(m2->has_value_head && m2->has_score_head);
    ck_assert_uint_eq(m2->steps, 1);
    ck_assert(m2->m && memcmp(m2->m, m->m, BIGRAM_N_PARAMS * sizeof(float)) == 0);
    /* The reference is frozen, and a snapshot: it does not follow updates. */
    rlaif_outputs g = {sizeof g, NULL, NULL, NULL, NULL};
    ck_assert_int_eq(vt->backward(r, &g, err, sizeof err), RLAIF_E_UNSUPPORTED);
    ck_assert_int_eq(vt->step(r, &p, NULL, err, sizeof err), RLAIF_E_UNSUPPORTED);
    rlaif_model_info info = {.struct_size = sizeof info};
    ck_assert(vt->info(r, &info) == 0);
    ck_assert(info.is_frozen && info.n_trainable == 0);
    float w = r->params[10];
    m->grads[10] = 1.0f;
    ck_assert(vt->step(m, &p, NULL, err, sizeof err) == 0);
    ck_assert(r->params[10] == w && m->params[10] != w);
    /* A damaged file is a format error naming it. */
    char path[512];
    snprintf(path, sizeof path, "%s/bigram.bin", dir);
    FILE *f = fopen(path, "r+b");
    ck_assert(f != NULL);
    fputc('X', f);
    fclose(f);
    ck_assert_int_eq(vt->load_state(m2, dir, err, sizeof err), RLAIF_E_FORMAT);
    ck_assert_msg(strstr(err, "bigram.bin") != NULL, "%s", err);
    snprintf(path, sizeof path, "%s/bigram_train.bin", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/bigram.bin", dir);
    remove(path);
    rmdir(dir);
    rlc_instance_unref(ref);
    rlc_instance_unref(in2);
    rlc_instance_unref(in);
}
END_TEST

static Suite *bigram_suite(void)
{
    Suite *s = suite_create("bigram");
    TCase *fd = tcase_create("gradients");
    tcase_add_test(fd, fd_logprobs);
    tcase_add_test(fd, fd_logprobs_temperature);
    tcase_add_test(fd, fd_entropy);
    tcase_add_test(fd, fd_values);
    tcase_add_test(fd, fd_score_last);
    tcase_add_test(fd, fd_score_mean);
    tcase_add_test(fd, fd_all_together);
    tcase_add_test(fd, forward_by_hand);
    suite_add_tcase(s, fd);
    TCase *opt = tcase_create("adamw");
    tcase_add_test(opt, adamw_first_step);
    tcase_add_test(opt, adamw_clipping_and_nan);
    suite_add_tcase(s, opt);
    TCase *api = tcase_create("vtable");
    tcase_add_test(api, tokenize_round_trip);
    tcase_add_test(api, config_errors_name_the_key);
    tcase_add_test(api, forward_errors);
    tcase_add_test(api, generate_logprobs_match_forward);
    tcase_add_test(api, generate_greedy_stops_and_filters);
    tcase_add_test(api, generate_sampling_frequencies);
    tcase_add_test(api, save_load_and_reference);
    suite_add_tcase(s, api);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(bigram_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    rlc_shutdown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
