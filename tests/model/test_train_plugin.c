/*
 * test_train_plugin.c — the training half of the transformer plugin through
 * the core API and the vtable only: LoRA adapter gradients against PEFT's
 * golden numbers (read back through an AdamW step whose update is
 * proportional to the gradient), SFT lowering held-out loss, exact resume
 * from save(weights + training) / load_state, saved models and adapters
 * reloading to the same log-probabilities, reference views that stay
 * frozen while the base trains, frozen layers that do not move, and
 * config errors that name the key.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "model_util.h"

static const char *source_dir(void)
{
    const char *s = getenv("RLAIF_SOURCE_DIR");
    return s && *s ? s : ".";
}

static const char *stories_cfg(const char *extra)
{
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "{\"path\": \"%s/models/stories260K/stories260K.bin\", \"threads\": 2%s%s}",
             source_dir(), extra && *extra ? ", " : "", extra ? extra : "");
    return buf;
}

/* ===== A batch of texts ================================================= */

#define MAXB 12
#define MAXT 96

typedef struct batch {
    int32_t ids[MAXB][MAXT];
    const int32_t *pp[MAXB];
    size_t len[MAXB];
    rlaif_seqs s;
    size_t total;
} batch;

static void batch_make(batch *b, const rlaif_model_vtable *vt, void *self,
                       const char *const *texts, size_t n)
{
    char err[256];
    ck_assert(n <= MAXB);
    b->total = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(vt->tokenize(self, texts[i], strlen(texts[i]), 1, b->ids[i], MAXT,
                                   &b->len[i], err, sizeof err) == RLAIF_OK, "%s", err);
        b->pp[i] = b->ids[i];
        b->total += b->len[i];
    }
    b->s = (rlaif_seqs){.struct_size = sizeof b->s, .n = n, .ids = b->pp, .len = b->len};
}

/* Per-token logprobs into lp[total]; returns their mean over predicted tokens. */
static double logprobs(const rlaif_model_vtable *vt, void *self, const batch *b, float *lp,
                       uint32_t keep)
{
    char err[512];
    rlaif_outputs o = {.struct_size = sizeof o, .logprobs = lp};
    ck_assert_msg(vt->forward(self, &b->s, RLAIF_OUT_LOGPROBS | keep, 1.0f, &o, err, sizeof err) ==
                      RLAIF_OK, "%s", err);
    double sum = 0;
    size_t n = 0, off = 0;
    for (size_t i = 0; i < b->s.n; i++) {
        for (size_t t = 0; t + 1 < b->len[i]; t++, n++) sum += lp[off + t];
        off += b->len[i];
    }
    return sum / (double)n;
}

/* Forward (kept) + backward of L = -mean(token logprobs). */
static void backward_mean(const rlaif_model_vtable *vt, void *self, const batch *b)
{
    static float lp[MAXB * MAXT], d[MAXB * MAXT];
    char err[512];
    logprobs(vt, self, b, lp, RLAIF_OUT_KEEP);
    size_t n = b->total - b->s.n, off = 0;
    for (size_t i = 0; i < b->s.n; i++) {
        for (size_t t = 0; t < b->len[i]; t++) d[off + t] = t + 1 < b->len[i] ? -1.0f / (float)n : 0;
        off += b->len[i];
    }
    rlaif_outputs g = {.struct_size = sizeof g, .logprobs = d};
    ck_assert_msg(vt->backward(self, &g, err, sizeof err) == RLAIF_OK, "%s", err);
}

static rlaif_step_result step(const rlaif_model_vtable *vt, void *self, float lr)
{
    char err[512];
    rlaif_step_params p = {.struct_size = sizeof p, .lr = lr, .beta1 = 0.9f, .beta2 = 0.999f,
                           .eps = 1e-8f, .weight_decay = 0.01f, .max_grad_norm = 1.0f,
                           .grad_scale = 1.0f};
    rlaif_step_result r = {.struct_size = sizeof r};
    ck_assert_msg(vt->step(self, &p, &r, err, sizeof err) == RLAIF_OK, "%s", err);
    return r;
}

static const char *const ZORP[] = {
    "Zorp the robot liked to paint. Zorp painted a big red sun.",
    "Zorp the robot went to the park. Zorp saw a blue bird.",
    "One day Zorp the robot found a box. Zorp opened the box.",
    "Zorp the robot had a friend named Lily. Zorp and Lily played.",
    "Zorp the robot was happy. Zorp sang a song to the moon.",
    "Zorp the robot baked a cake. Zorp gave the cake to mom.",
};
static const char *const ZORP_HELDOUT[] = {
    "Zorp the robot saw a cat. Zorp gave the cat some milk.",
    "Zorp the robot liked the rain. Zorp jumped in the mud.",
};

/* ===== LoRA gradients against PEFT ====================================== */

/* With beta1/beta2 at their defaults the first AdamW update is
 * lr * g / (|g| + eps) exactly (bias corrections cancel); with eps = 1e6
 * and lr = 1e9 that is 1e3 * g to a relative 1e-6 * |g|, so the adapter
 * saved after one step gives the gradient back. */
START_TEST(test_lora_grads_golden)
{
    char cfg[2048], err[1024] = "", rel[256];
    snprintf(cfg, sizeof cfg,
             "{\"path\": \"%s/golden/llama_tiny\", \"adapter\": \"%s/golden/llama_tiny_lora\", "
             "\"threads\": 2}", mu_shared_dir(), mu_shared_dir());
    rlc_instance *inst = mu_model(cfg);
    const rlaif_model_vtable *vt = mu_vt(inst);
    void *self = rlc_instance_self(inst);
    rlaif_model_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(vt->info(self, &info), RLAIF_OK);
    ck_assert(info.has_lora);
    /* r 4 on q (64->64), v (64->32), down (172->64) in 2 layers */
    ck_assert_uint_eq(info.n_trainable, 2 * 4 * ((64 + 64) + (64 + 32) + (172 + 64)));
    snprintf(rel, sizeof rel, "golden/llama_tiny_lora/golden.safetensors");
    st_file g;
    ck_assert_int_eq(st_open(&g, mu_shared_path(rel), err, sizeof err), RLAIF_OK);
    float *idf = mu_tensor(&g, "input_ids", NULL);
    int32_t ids[48];
    for (int i = 0; i < 48; i++) ids[i] = (int32_t)idf[i];
    free(idf);
    const int32_t *pp[2] = {ids, ids + 24};
    size_t len[2] = {24, 24};
    batch b = {.s = {.struct_size = sizeof b.s, .n = 2, .ids = pp, .len = len}, .total = 48};
    b.len[0] = b.len[1] = 24;
    /* the adapter is on: logprobs are the golden ones of the adapted model */
    float lp[48];
    logprobs(vt, self, &b, lp, 0);
    float *want_lp = mu_tensor(&g, "token_logprobs", NULL);
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < 23; t++)
            ck_assert_msg(fabsf(lp[s * 24 + t] - want_lp[s * 23 + t]) < 1e-4f, "logprob %d,%d", s, t);
    free(want_lp);
    backward_mean(vt, self, &b);
    rlaif_step_params p = {.struct_size = sizeof p, .lr = 1e9f, .beta1 = 0.9f, .beta2 = 0.999f,
                           .eps = 1e6f, .weight_decay = 0, .max_grad_norm = 0, .grad_scale = 1};
    rlaif_step_result r = {.struct_size = sizeof r};
    ck_assert_msg(vt->step(self, &p, &r, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_uint_eq(r.step, 1);
    char *dir = mu_tempdir();
    ck_assert_msg(vt->save(self, dir, RLAIF_SAVE_ADAPTER, err, sizeof err) == RLAIF_OK, "%s", err);
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    st_file after, before;
    ck_assert_int_eq(st_open(&after, path, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(st_open(&before, mu_shared_path("golden/llama_tiny_lora/adapter_model.safetensors"),
                             err, sizeof err), RLAIF_OK);
    ck_assert_uint_eq(after.n, 12);
    double sumsq = 0;
    for (size_t i = 0; i < after.n; i++) {
        const char *name = after.t[i].name; /* base_model.model.<module>.lora_X.weight */
        char gname[300];
        size_t nl = strlen(name);
        ck_assert(nl > 7);
        snprintf(gname, sizeof gname, "grad.%.*s.default.weight", (int)(nl - 7), name);
        size_t n = 0, n0 = 0, n1 = 0;
        float *w1 = mu_tensor(&after, name, &n1), *w0 = mu_tensor(&before, name, &n0);
        float *want = mu_tensor(&g, gname, &n);
        ck_assert_uint_eq(n, n0);
        ck_assert_uint_eq(n, n1);
        float mx = 0, worst = 0;
        for (size_t k = 0; k < n; k++) mx = fmaxf(mx, fabsf(want[k]));
        for (size_t k = 0; k < n; k++) {
            float got = (w0[k] - w1[k]) / 1e3f;
            worst = fmaxf(worst, fabsf(got - want[k]));
            sumsq += (double)want[k] * want[k];
        }
        ck_assert_msg(worst <= 1e-4f * fmaxf(mx, 1e-6f), "%s differs by %g (max %g)", gname,
                      (double)worst, (double)mx);
        free(w1), free(w0), free(want);
    }
    /* the reported norm is the norm of the adapter gradients */
    ck_assert_msg(fabs(r.grad_norm - sqrt(sumsq)) <= 1e-4 * sqrt(sumsq), "grad norm %g vs %g",
                  r.grad_norm, sqrt(sumsq));
    st_close(&after);
    st_close(&before);
    st_close(&g);
    rlc_instance_unref(inst);
    mu_rmtree(dir);
    free(dir);
}
END_TEST

/* The same read-back through step for the full model: the reported norm
 * is the golden gradients' norm, and a parameter moved by 1e3 * grad. */
START_TEST(test_full_step_matches_golden_grads)
{
    char cfg[2048], err[1024] = "";
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s/golden/gpt2_tiny\", \"threads\": 2}", mu_shared_dir());
    rlc_instance *inst = mu_model(cfg);
    const rlaif_model_vtable *vt = mu_vt(inst);
    void *self = rlc_instance_self(inst);
    st_file g;
    ck_assert_int_eq(st_open(&g, mu_shared_path("golden/gpt2_tiny/golden.safetensors"), err,
                             sizeof err), RLAIF_OK);
    float *idf = mu_tensor(&g, "input_ids", NULL);
    int32_t ids[48];
    for (int i = 0; i < 48; i++) ids[i] = (int32_t)idf[i];
    free(idf);
    const int32_t *pp[2] = {ids, ids + 24};
    batch b = {.s = {.struct_size = sizeof b.s, .n = 2, .ids = pp, .len = b.len}, .total = 48};
    b.len[0] = b.len[1] = 24;
    b.s.len = b.len;
    backward_mean(vt, self, &b);
    rlaif_step_params p = {.struct_size = sizeof p, .lr = 1e9f, .beta1 = 0.9f, .beta2 = 0.999f,
                           .eps = 1e6f, .weight_decay = 0, .max_grad_norm = 0, .grad_scale = 1};
    rlaif_step_result r = {.struct_size = sizeof r};
    ck_assert_msg(vt->step(self, &p, &r, err, sizeof err) == RLAIF_OK, "%s", err);
    char *dir = mu_tempdir();
    ck_assert_msg(vt->save(self, dir, RLAIF_SAVE_WEIGHTS, err, sizeof err) == RLAIF_OK, "%s", err);
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_file after, before;
    ck_assert_int_eq(st_open(&after, path, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(st_open(&before, mu_shared_path("golden/gpt2_tiny/model.safetensors"), err,
                             sizeof err), RLAIF_OK);
    double sumsq = 0;
    size_t checked = 0;
    for (size_t i = 0; i < after.n; i++) {
        const char *name = after.t[i].name;
        char gname[300];
        snprintf(gname, sizeof gname, "grad.%s", name);
        if (!st_find(&g, gname)) continue;
        size_t n = 0, n0 = 0, n1 = 0;
        float *w1 = mu_tensor(&after, name, &n1), *w0 = mu_tensor(&before, name, &n0);
        float *want = mu_tensor(&g, gname, &n);
        ck_assert_uint_eq(n, n1);
        float mx = 0, worst = 0;
        for (size_t k = 0; k < n; k++) mx = fmaxf(mx, fabsf(want[k]));
        for (size_t k = 0; k < n; k++) {
            worst = fmaxf(worst, fabsf((w0[k] - w1[k]) / 1e3f - want[k]));
            sumsq += (double)want[k] * want[k];
        }
        ck_assert_msg(worst <= 1e-4f * fmaxf(mx, 1e-6f), "%s differs by %g (max %g)", gname,
                      (double)worst, (double)mx);
        checked++;
        free(w1), free(w0), free(want);
    }
    ck_assert_uint_ge(checked, 10);
    ck_assert_msg(fabs(r.grad_norm - sqrt(sumsq)) <= 1e-4 * sqrt(sumsq), "grad norm %g vs %g",
                  r.grad_norm, sqrt(sumsq));
    st_close(&after);
    st_close(&before);
    st_close(&g);
    rlc_instance_unref(inst);
    mu_rmtree(dir);
    free(dir);
}
END_TEST

/* ===== SFT ============================================================== */

START_TEST(test_sft_lowers_heldout_loss)
{
    rlc_instance *inst = mu_model(stories_cfg(NULL));
    const rlaif_model_vtable *vt = mu_vt(inst);
    void *self = rlc_instance_self(inst);
    static batch tr, ho;
    batch_make(&tr, vt, self, ZORP, 6);
    batch_make(&ho, vt, self, ZORP_HELDOUT, 2);
    static float lp[MAXB * MAXT];
    double before = logprobs(vt, self, &ho, lp, 0);
    for (int s = 0; s < 12; s++) {
        backward_mean(vt, self, &tr);
        step(vt, self, 2e-3f);
    }
    double after = logprobs(vt, self, &ho, lp, 0);
    printf("sft: held-out mean token logprob %.4f -> %.4f after 12 steps\n", before, after);
    ck_assert_msg(after > before + 0.2, "held-out mean logprob %g -> %g", before, after);
    rlc_instance_unref(inst);
}
END_TEST

/* ===== Mixed precision (matmul = "bf16") ================================ */

/* bf16 products give log-probabilities near the f32 ones but not equal to
 * them (the switch reaches the products), and SFT in mixed precision lowers
 * the held-out loss as f32 SFT does. */
START_TEST(test_bf16_matmul)
{
    rlc_instance *f = mu_model(stories_cfg(NULL));
    rlc_instance *h = mu_model(stories_cfg("\"matmul\": \"bf16\""));
    const rlaif_model_vtable *vt = mu_vt(h);
    void *self = rlc_instance_self(h);
    static batch tr, ho;
    batch_make(&tr, vt, self, ZORP, 6);
    batch_make(&ho, vt, self, ZORP_HELDOUT, 2);
    static float lf[MAXB * MAXT], lh[MAXB * MAXT];
    logprobs(mu_vt(f), rlc_instance_self(f), &tr, lf, 0);
    double before = logprobs(vt, self, &tr, lh, 0);
    double maxd = 0, sumd = 0;
    for (size_t i = 0; i < tr.total; i++) {
        double d = fabs((double)lf[i] - lh[i]);
        maxd = d > maxd ? d : maxd;
        sumd += d;
    }
    printf("bf16 matmul: |logprob - f32| mean %.2e, max %.2e over %zu tokens\n",
           sumd / (double)tr.total, maxd, tr.total);
    ck_assert_msg(maxd > 0, "bf16 logprobs equal the f32 ones: the products stayed f32");
    ck_assert_msg(maxd < 0.15 && sumd / (double)tr.total < 0.03, "bf16 drifts: mean %g max %g",
                  sumd / (double)tr.total, maxd);
    before = logprobs(vt, self, &ho, lh, 0);
    for (int s = 0; s < 12; s++) {
        backward_mean(vt, self, &tr);
        step(vt, self, 2e-3f);
    }
    double after = logprobs(vt, self, &ho, lh, 0);
    printf("bf16 sft: held-out mean token logprob %.4f -> %.4f after 12 steps\n", before, after);
    ck_assert_msg(after > before + 0.2, "held-out mean logprob %g -> %g", before, after);
    rlc_instance_unref(h);
    rlc_instance_unref(f);
}
END_TEST

/* ===== Exact resume ===================================================== */

/* Trains `steps` steps (SFT on values and logprobs: the value head trains
 * too); grad norms into norms[]. */
static void train_steps(const rlaif_model_vtable *vt, void *self, const batch *b, int from,
                        int to, double *norms, int with_values)
{
    static float lp[MAXB * MAXT], v[MAXB * MAXT], dl[MAXB * MAXT], dv[MAXB * MAXT];
    char err[512];
    for (int s = from; s < to; s++) {
        uint32_t want = RLAIF_OUT_LOGPROBS | RLAIF_OUT_KEEP | (with_values ? RLAIF_OUT_VALUES : 0);
        rlaif_outputs o = {.struct_size = sizeof o, .logprobs = lp, .values = v};
        ck_assert_msg(vt->forward(self, &b->s, want, 1.0f, &o, err, sizeof err) == RLAIF_OK, "%s",
                      err);
        size_t off = 0, n = b->total - b->s.n;
        for (size_t i = 0; i < b->s.n; i++) {
            for (size_t t = 0; t < b->len[i]; t++) {
                dl[off + t] = t + 1 < b->len[i] ? -1.0f / (float)n : 0;
                dv[off + t] = 2.0f * (v[off + t] - 0.5f) / (float)b->total;
            }
            off += b->len[i];
        }
        rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dl, .values = with_values ? dv : NULL};
        ck_assert_msg(vt->backward(self, &d, err, sizeof err) == RLAIF_OK, "%s", err);
        norms[s] = step(vt, self, 1e-3f).grad_norm;
    }
}

static void check_resume(const char *extra, int with_values)
{
    const int K = 3, N = 6;
    char err[1024] = "";
    static batch b;
    double full[8], resumed[8];
    static float lp_full[MAXB * MAXT], lp_res[MAXB * MAXT];
    rlc_instance *a = mu_model(stories_cfg(extra));
    batch_make(&b, mu_vt(a), rlc_instance_self(a), ZORP, 4);
    train_steps(mu_vt(a), rlc_instance_self(a), &b, 0, N, full, with_values);
    logprobs(mu_vt(a), rlc_instance_self(a), &b, lp_full, 0);
    rlc_instance_unref(a);

    char *dir = mu_tempdir();
    rlc_instance *b1 = mu_model(stories_cfg(extra));
    train_steps(mu_vt(b1), rlc_instance_self(b1), &b, 0, K, resumed, with_values);
    ck_assert_msg(mu_vt(b1)->save(rlc_instance_self(b1), dir,
                                  RLAIF_SAVE_WEIGHTS | RLAIF_SAVE_TRAINING, err, sizeof err) ==
                      RLAIF_OK, "%s", err);
    rlc_instance_unref(b1);
    rlc_instance *b2 = mu_model(stories_cfg(extra));
    ck_assert_msg(mu_vt(b2)->load_state(rlc_instance_self(b2), dir, err, sizeof err) == RLAIF_OK,
                  "%s", err);
    train_steps(mu_vt(b2), rlc_instance_self(b2), &b, K, N, resumed, with_values);
    logprobs(mu_vt(b2), rlc_instance_self(b2), &b, lp_res, 0);
    for (int s = 0; s < N; s++)
        ck_assert_msg(full[s] == resumed[s], "step %d: grad norm %.17g vs %.17g resumed", s,
                      full[s], resumed[s]);
    ck_assert_msg(memcmp(lp_full, lp_res, b.total * sizeof(float)) == 0,
                  "logprobs after a resumed run differ from the uninterrupted one");
    rlc_instance_unref(b2);
    mu_rmtree(dir);
    free(dir);
}

START_TEST(test_resume_full_bit_identical) { check_resume("\"value_head\": true, \"seed\": 3", 1); }
END_TEST

START_TEST(test_resume_lora_bit_identical)
{
    check_resume("\"value_head\": true, \"lora\": {\"rank\": 4, \"alpha\": 8, \"targets\": "
                 "[\"q_proj\", \"v_proj\", \"down_proj\"]}", 1);
}
END_TEST

/* ===== Saved models and adapters reload ================================= */

START_TEST(test_saved_model_and_adapter_reload)
{
    char err[1024] = "", extra[4400];
    static batch b;
    static float lp[MAXB * MAXT], lp2[MAXB * MAXT];
    rlc_instance *inst = mu_model(stories_cfg("\"lora\": {\"rank\": 2, \"targets\": [\"q_proj\", "
                                              "\"k_proj\", \"o_proj\", \"up_proj\"]}"));
    const rlaif_model_vtable *vt = mu_vt(inst);
    void *self = rlc_instance_self(inst);
    batch_make(&b, vt, self, ZORP, 4);
    double norms[4];
    train_steps(vt, self, &b, 0, 3, norms, 0);
    logprobs(vt, self, &b, lp, 0);
    char *dir = mu_tempdir(), ad[4300], merged[4300], base[4300];
    snprintf(ad, sizeof ad, "%s/adapter", dir);
    snprintf(merged, sizeof merged, "%s/merged", dir);
    snprintf(base, sizeof base, "%s/base", dir);
    ck_assert_msg(vt->save(self, ad, RLAIF_SAVE_ADAPTER, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_msg(vt->save(self, merged, RLAIF_SAVE_WEIGHTS | RLAIF_SAVE_MERGED, err, sizeof err) ==
                      RLAIF_OK, "%s", err);
    ck_assert_msg(vt->save(self, base, RLAIF_SAVE_WEIGHTS, err, sizeof err) == RLAIF_OK, "%s", err);
    /* the adapter on the original base */
    snprintf(extra, sizeof extra, "\"adapter\": \"%s\"", ad);
    rlc_instance *r1 = mu_model(stories_cfg(extra));
    logprobs(mu_vt(r1), rlc_instance_self(r1), &b, lp2, 0);
    ck_assert_msg(memcmp(lp, lp2, b.total * sizeof(float)) == 0, "adapter reload differs");
    rlc_instance_unref(r1);
    /* the adapter on the saved (unmerged) HF base folder */
    char cfg[9000];
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\", \"adapter\": \"%s\", \"threads\": 2}", base, ad);
    rlc_instance *r2 = mu_model(cfg);
    logprobs(mu_vt(r2), rlc_instance_self(r2), &b, lp2, 0);
    ck_assert_msg(memcmp(lp, lp2, b.total * sizeof(float)) == 0, "base + adapter reload differs");
    rlc_instance_unref(r2);
    /* the merged export alone: x (W0 + s B A)ᵀ against the adapters applied
     * in the forward, x W0ᵀ + (s x Aᵀ) Bᵀ: equal up to rounding */
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\", \"threads\": 2}", merged);
    rlc_instance *r3 = mu_model(cfg);
    logprobs(mu_vt(r3), rlc_instance_self(r3), &b, lp2, 0);
    for (size_t i = 0; i < b.total; i++)
        ck_assert_msg(fabsf(lp[i] - lp2[i]) <= 1e-4f * (1 + fabsf(lp[i])),
                      "merged reload differs at %zu: %g vs %g", i, (double)lp[i], (double)lp2[i]);
    rlc_instance_unref(r3);
    rlc_instance_unref(inst);

    /* full fine-tune with a value head: weights + head reload */
    inst = mu_model(stories_cfg("\"value_head\": true"));
    vt = mu_vt(inst);
    self = rlc_instance_self(inst);
    train_steps(vt, self, &b, 0, 2, norms, 1);
    static float v1[MAXB * MAXT], v2[MAXB * MAXT];
    rlaif_outputs o = {.struct_size = sizeof o, .logprobs = lp, .values = v1};
    ck_assert_int_eq(vt->forward(self, &b.s, RLAIF_OUT_LOGPROBS | RLAIF_OUT_VALUES, 1.0f, &o, err,
                                 sizeof err), RLAIF_OK);
    char full[4300];
    snprintf(full, sizeof full, "%s/full", dir);
    ck_assert_msg(vt->save(self, full, RLAIF_SAVE_WEIGHTS, err, sizeof err) == RLAIF_OK, "%s", err);
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\", \"value_head\": true}", full);
    rlc_instance *r4 = mu_model(cfg);
    rlaif_outputs o2 = {.struct_size = sizeof o2, .logprobs = lp2, .values = v2};
    ck_assert_int_eq(mu_vt(r4)->forward(rlc_instance_self(r4), &b.s,
                                        RLAIF_OUT_LOGPROBS | RLAIF_OUT_VALUES, 1.0f, &o2, err,
                                        sizeof err), RLAIF_OK);
    for (size_t i = 0; i < b.total; i++) {
        ck_assert_float_eq_tol(lp[i], lp2[i], 1e-6f);
        ck_assert_float_eq_tol(v1[i], v2[i], 1e-6f);
    }
    /* the HF config names the architecture and RoPE */
    char path[4400];
    snprintf(path, sizeof path, "%s/config.json", full);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    ck_assert_ptr_nonnull(strstr(text, "LlamaForCausalLM"));
    ck_assert_ptr_nonnull(strstr(text, "\"rope_theta\""));
    ck_assert_ptr_nonnull(strstr(text, "\"tie_word_embeddings\""));
    rlc_instance_unref(r4);
    rlc_instance_unref(inst);
    mu_rmtree(dir);
    free(dir);
}
END_TEST

/* ===== Reference views ================================================== */

static void check_reference(const char *extra)
{
    char err[1024] = "";
    static batch b;
    static float lp0[MAXB * MAXT], lp1[MAXB * MAXT], lpb[MAXB * MAXT];
    rlc_instance *inst = mu_model(stories_cfg(extra));
    const rlaif_model_vtable *vt = mu_vt(inst);
    void *self = rlc_instance_self(inst);
    batch_make(&b, vt, self, ZORP, 4);
    logprobs(vt, self, &b, lp0, 0);
    void *view = NULL;
    ck_assert_msg(vt->reference(self, &view, err, sizeof err) == RLAIF_OK, "%s", err);
    rlaif_model_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(vt->info(view, &info), RLAIF_OK);
    ck_assert(info.is_frozen);
    ck_assert_uint_eq(info.n_trainable, 0);
    void *vv = NULL;
    ck_assert_int_eq(vt->reference(view, &vv, err, sizeof err), RLAIF_E_UNSUPPORTED);
    double norms[8];
    for (int round = 0; round < 3; round++) {
        /* the base trains (a forward of the view in between: turns taken) */
        static float lpx[MAXB * MAXT];
        rlaif_outputs o = {.struct_size = sizeof o, .logprobs = lpx};
        ck_assert_int_eq(vt->forward(self, &b.s, RLAIF_OUT_LOGPROBS | RLAIF_OUT_KEEP, 1.0f, &o,
                                     err, sizeof err), RLAIF_OK);
        logprobs(vt, view, &b, lp1, 0);
        ck_assert_msg(memcmp(lp0, lp1, b.total * sizeof(float)) == 0,
                      "round %d: the view's logprobs moved", round);
        static float d[MAXB * MAXT];
        for (size_t i = 0; i < b.total; i++) d[i] = -0.01f;
        rlaif_outputs g = {.struct_size = sizeof g, .logprobs = d};
        ck_assert_msg(vt->backward(self, &g, err, sizeof err) == RLAIF_OK, "%s", err);
        step(vt, self, 3e-3f);
        train_steps(vt, self, &b, 0, 1, norms, 0);
    }
    logprobs(vt, view, &b, lp1, 0);
    ck_assert(memcmp(lp0, lp1, b.total * sizeof(float)) == 0);
    double base_now = logprobs(vt, self, &b, lpb, 0), ref = 0;
    for (size_t i = 0; i < b.total; i++) ref += lp0[i];
    ck_assert_msg(memcmp(lp0, lpb, b.total * sizeof(float)) != 0, "the base did not train");
    (void)base_now;
    /* no training through the view */
    ck_assert_int_eq(vt->forward(view, &b.s, RLAIF_OUT_LOGPROBS | RLAIF_OUT_KEEP, 1.0f,
                                 &(rlaif_outputs){.struct_size = sizeof(rlaif_outputs),
                                                  .logprobs = lp1}, err, sizeof err), RLAIF_OK);
    rlaif_outputs g = {.struct_size = sizeof g, .logprobs = lp1};
    ck_assert_int_eq(vt->backward(view, &g, err, sizeof err), RLAIF_E_UNSUPPORTED);
    rlaif_step_params p = {.struct_size = sizeof p, .lr = 1e-3f, .grad_scale = 1};
    rlaif_step_result r = {.struct_size = sizeof r};
    ck_assert_int_eq(vt->step(view, &p, &r, err, sizeof err), RLAIF_E_UNSUPPORTED);
    /* load_state on the base (a resume) leaves the view as it was */
    char *dir = mu_tempdir();
    ck_assert_int_eq(vt->save(self, dir, RLAIF_SAVE_WEIGHTS | RLAIF_SAVE_TRAINING, err, sizeof err),
                     RLAIF_OK);
    ck_assert_msg(vt->load_state(self, dir, err, sizeof err) == RLAIF_OK, "%s", err);
    logprobs(vt, view, &b, lp1, 0);
    ck_assert(memcmp(lp0, lp1, b.total * sizeof(float)) == 0);
    static float lpc[MAXB * MAXT];
    logprobs(vt, self, &b, lpc, 0);
    ck_assert(memcmp(lpb, lpc, b.total * sizeof(float)) == 0);
    vt->base.destroy(view);
    rlc_instance_unref(inst);
    mu_rmtree(dir);
    free(dir);
}

START_TEST(test_reference_frozen_full) { check_reference(NULL); }
END_TEST

START_TEST(test_reference_frozen_lora)
{
    check_reference("\"lora\": {\"rank\": 4, \"targets\": [\"q_proj\", \"v_proj\", \"gate_proj\"]}");
}
END_TEST

/* A fresh view of a model that is about to resume: it keeps the starting
 * weights even though load_state comes after it. */
START_TEST(test_reference_before_load_state)
{
    char err[1024] = "";
    static batch b;
    static float lp0[MAXB * MAXT], lp1[MAXB * MAXT];
    rlc_instance *a = mu_model(stories_cfg(NULL));
    const rlaif_model_vtable *vt = mu_vt(a);
    batch_make(&b, vt, rlc_instance_self(a), ZORP, 3);
    logprobs(vt, rlc_instance_self(a), &b, lp0, 0);
    double norms[4];
    train_steps(vt, rlc_instance_self(a), &b, 0, 2, norms, 0);
    char *dir = mu_tempdir();
    ck_assert_int_eq(vt->save(rlc_instance_self(a), dir, RLAIF_SAVE_WEIGHTS | RLAIF_SAVE_TRAINING,
                              err, sizeof err), RLAIF_OK);
    rlc_instance *c = mu_model(stories_cfg(NULL));
    void *view = NULL;
    ck_assert_int_eq(vt->reference(rlc_instance_self(c), &view, err, sizeof err), RLAIF_OK);
    ck_assert_msg(vt->load_state(rlc_instance_self(c), dir, err, sizeof err) == RLAIF_OK, "%s", err);
    logprobs(vt, view, &b, lp1, 0);
    ck_assert(memcmp(lp0, lp1, b.total * sizeof(float)) == 0);
    vt->base.destroy(view);
    rlc_instance_unref(c);
    rlc_instance_unref(a);
    mu_rmtree(dir);
    free(dir);
}
END_TEST

/* info's n_params counts the LoRA adapters (a regression: it reported the
 * base alone); n_trainable is then exactly the adapters. */
START_TEST(test_info_counts_adapters)
{
    rlc_instance *base = mu_model(stories_cfg(NULL));
    rlc_instance *lora = mu_model(stories_cfg("\"lora\": {\"rank\": 4, \"targets\": [\"q_proj\", \"v_proj\"]}"));
    rlaif_model_info ib = {.struct_size = sizeof ib}, il = {.struct_size = sizeof il};
    ck_assert_int_eq(mu_vt(base)->info(rlc_instance_self(base), &ib), RLAIF_OK);
    ck_assert_int_eq(mu_vt(lora)->info(rlc_instance_self(lora), &il), RLAIF_OK);
    ck_assert(il.has_lora && !ib.has_lora);
    ck_assert_uint_eq(il.n_params, ib.n_params + il.n_trainable);
    /* stories260K: 5 layers × rank 4 × (q: 64+64, v: 64+32) */
    ck_assert_uint_eq(il.n_trainable, 5u * 4u * (64u + 64u + 64u + 32u));
    rlc_instance_unref(lora);
    rlc_instance_unref(base);
}
END_TEST

/* ===== Freezing ========================================================= */

START_TEST(test_frozen_layers_do_not_change)
{
    char err[1024] = "";
    static batch b;
    rlc_instance *inst = mu_model(stories_cfg("\"trainable\": [\"layers.4.\", \"model.norm\"]"));
    const rlaif_model_vtable *vt = mu_vt(inst);
    void *self = rlc_instance_self(inst);
    rlaif_model_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(vt->info(self, &info), RLAIF_OK);
    ck_assert(info.n_trainable > 0 && info.n_trainable < info.n_params / 4);
    batch_make(&b, vt, self, ZORP, 3);
    char *dir = mu_tempdir(), d0[4300], d1[4300];
    snprintf(d0, sizeof d0, "%s/before", dir);
    snprintf(d1, sizeof d1, "%s/after", dir);
    ck_assert_int_eq(vt->save(self, d0, RLAIF_SAVE_WEIGHTS, err, sizeof err), RLAIF_OK);
    double norms[4];
    train_steps(vt, self, &b, 0, 3, norms, 0);
    ck_assert_int_eq(vt->save(self, d1, RLAIF_SAVE_WEIGHTS, err, sizeof err), RLAIF_OK);
    char p0[4400], p1[4400];
    snprintf(p0, sizeof p0, "%s/model.safetensors", d0);
    snprintf(p1, sizeof p1, "%s/model.safetensors", d1);
    st_file f0, f1;
    ck_assert_int_eq(st_open(&f0, p0, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(st_open(&f1, p1, err, sizeof err), RLAIF_OK);
    size_t moved = 0, still = 0;
    for (size_t i = 0; i < f0.n; i++) {
        const char *name = f0.t[i].name;
        int trainable = strstr(name, "layers.4.") || strstr(name, "model.norm");
        size_t n = 0;
        float *a = mu_tensor(&f0, name, &n), *c = mu_tensor(&f1, name, NULL);
        int same = memcmp(a, c, n * sizeof(float)) == 0;
        ck_assert_msg(same == !trainable, "%s: %s", name, same ? "did not train" : "moved while frozen");
        moved += !same;
        still += same;
        free(a), free(c);
    }
    ck_assert_uint_gt(moved, 0);
    ck_assert_uint_gt(still, 0);
    st_close(&f0);
    st_close(&f1);
    rlc_instance_unref(inst);
    mu_rmtree(dir);
    free(dir);
}
END_TEST

/* ===== Accumulation and non-finite gradients ============================ */

/* Backward of -sum(logprobs)/n_all over a sub-batch [from, to) of `b`. */
static void backward_part(const rlaif_model_vtable *vt, void *self, const batch *b, size_t from,
                          size_t to, size_t n_all)
{
    static batch part;
    static float lp[MAXB * MAXT], d[MAXB * MAXT];
    char err[512];
    part.total = 0;
    for (size_t i = from; i < to; i++) {
        part.pp[i - from] = b->pp[i];
        part.len[i - from] = b->len[i];
        part.total += b->len[i];
    }
    part.s = (rlaif_seqs){.struct_size = sizeof part.s, .n = to - from, .ids = part.pp,
                          .len = part.len};
    logprobs(vt, self, &part, lp, RLAIF_OUT_KEEP);
    size_t off = 0;
    for (size_t i = 0; i < part.s.n; i++) {
        for (size_t t = 0; t < part.len[i]; t++)
            d[off + t] = t + 1 < part.len[i] ? -1.0f / (float)n_all : 0;
        off += part.len[i];
    }
    rlaif_outputs g = {.struct_size = sizeof g, .logprobs = d};
    ck_assert_msg(vt->backward(self, &g, err, sizeof err) == RLAIF_OK, "%s", err);
}

/* Two backward calls over halves of a batch, then one step, equal one
 * backward over the whole batch (LoRA: the adapter gradients are formed
 * once from the accumulated weight gradients, not once per call). */
static void check_accumulation(const char *extra)
{
    static batch b;
    static float l1[MAXB * MAXT], l2[MAXB * MAXT];
    rlc_instance *a = mu_model(stories_cfg(extra)), *c = mu_model(stories_cfg(extra));
    const rlaif_model_vtable *vt = mu_vt(a);
    batch_make(&b, vt, rlc_instance_self(a), ZORP, 4);
    size_t n_all = b.total - b.s.n;
    for (int s = 0; s < 2; s++) {
        backward_part(vt, rlc_instance_self(a), &b, 0, 4, n_all);
        backward_part(vt, rlc_instance_self(c), &b, 0, 2, n_all);
        backward_part(vt, rlc_instance_self(c), &b, 2, 4, n_all);
        double na = step(vt, rlc_instance_self(a), 1e-3f).grad_norm;
        double nc = step(vt, rlc_instance_self(c), 1e-3f).grad_norm;
        ck_assert_msg(fabs(na - nc) <= 1e-5 * na, "step %d: grad norm %g whole vs %g in halves", s,
                      na, nc);
    }
    logprobs(vt, rlc_instance_self(a), &b, l1, 0);
    logprobs(vt, rlc_instance_self(c), &b, l2, 0);
    for (size_t i = 0; i < b.total; i++) ck_assert_float_eq_tol(l1[i], l2[i], 1e-4f);
    rlc_instance_unref(a);
    rlc_instance_unref(c);
}

START_TEST(test_accumulation_full) { check_accumulation(NULL); }
END_TEST

START_TEST(test_accumulation_lora) { check_accumulation("\"lora\": {\"rank\": 4, \"targets\": [\"q_proj\", \"v_proj\", \"up_proj\"]}"); }
END_TEST

/* A NaN gradient: step names the tensor, updates nothing, drops the
 * gradients; the next step works. */
START_TEST(test_nonfinite_step)
{
    char err[1024] = "";
    static batch b;
    static float lp[MAXB * MAXT], lp2[MAXB * MAXT], d[MAXB * MAXT];
    rlc_instance *inst = mu_model(stories_cfg(NULL));
    const rlaif_model_vtable *vt = mu_vt(inst);
    void *self = rlc_instance_self(inst);
    batch_make(&b, vt, self, ZORP, 2);
    logprobs(vt, self, &b, lp, RLAIF_OUT_KEEP);
    for (size_t i = 0; i < b.total; i++) d[i] = -0.01f;
    d[3] = NAN;
    rlaif_outputs g = {.struct_size = sizeof g, .logprobs = d};
    ck_assert_int_eq(vt->backward(self, &g, err, sizeof err), RLAIF_OK);
    rlaif_step_params p = {.struct_size = sizeof p, .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f,
                           .eps = 1e-8f, .grad_scale = 1};
    rlaif_step_result r = {.struct_size = sizeof r};
    ck_assert_int_eq(vt->step(self, &p, &r, err, sizeof err), RLAIF_E_NUMERIC);
    ck_assert_msg(strstr(err, "non-finite") && strstr(err, ".weight"), "%s", err);
    logprobs(vt, self, &b, lp2, 0);
    ck_assert(memcmp(lp, lp2, b.total * sizeof(float)) == 0);
    backward_mean(vt, self, &b);
    ck_assert_msg(vt->step(self, &p, &r, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_uint_eq(r.step, 1);
    ck_assert(isfinite(r.grad_norm) && r.grad_norm > 0);
    rlc_instance_unref(inst);
}
END_TEST

/* ===== Heads, entropy and temperature: a directional derivative ========= */

/* L = sum_t a_t x_t for one output x of forward at temperature 0.7 (x =
 * logprobs, entropy, values or score), with fixed coefficients a.  An
 * AdamW step with eps = 1e6 moves the weights by -c g (g the gradient the
 * plugin computed), so L drops by c |g|^2 + O(c^2); Richardson over c and
 * c/2 removes the O(c^2) term (c small enough for the value head's
 * curvature, large enough for float32 losses).  A wrong gradient for that output (sign,
 * temperature, head) breaks the match. */
static double loss_at(const rlaif_model_vtable *vt, void *self, const batch *b, uint32_t what,
                      const float *coef, uint32_t keep)
{
    static float out[MAXB * MAXT];
    char err[512];
    rlaif_outputs o = {.struct_size = sizeof o};
    if (what == RLAIF_OUT_LOGPROBS) o.logprobs = out;
    if (what == RLAIF_OUT_ENTROPY) o.entropy = out;
    if (what == RLAIF_OUT_VALUES) o.values = out;
    if (what == RLAIF_OUT_SCORE) o.score = out;
    ck_assert_msg(vt->forward(self, &b->s, what | keep, 0.7f, &o, err, sizeof err) == RLAIF_OK,
                  "%s", err);
    size_t n = what == RLAIF_OUT_SCORE ? b->s.n : b->total;
    double l = 0;
    for (size_t i = 0; i < n; i++) l += (double)coef[i] * out[i];
    return l;
}

/* Returns (L(theta) - L(theta - c g)) / (c |g|^2). */
static double descent_ratio(uint32_t what, double c)
{
    char cfg[2048], err[512];
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s/golden/llama_tiny\", \"threads\": 2, "
             "\"value_head\": true, \"score_head\": true, \"seed\": 7}", mu_shared_dir());
    rlc_instance *inst = mu_model(cfg);
    const rlaif_model_vtable *vt = mu_vt(inst);
    void *self = rlc_instance_self(inst);
    static batch b;
    static float coef[MAXB * MAXT];
    b.total = 0;
    for (size_t i = 0; i < 3; i++) {
        b.len[i] = 10 + 3 * i;
        for (size_t t = 0; t < b.len[i]; t++) b.ids[i][t] = (int32_t)((i * 131 + t * 17 + 5) % 512);
        b.pp[i] = b.ids[i];
        b.total += b.len[i];
    }
    b.s = (rlaif_seqs){.struct_size = sizeof b.s, .n = 3, .ids = b.pp, .len = b.len};
    uint64_t r = 99;
    for (size_t i = 0; i < b.total; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        coef[i] = (float)((double)(r >> 11) / 9007199254740992.0 - 0.5);
    }
    double l0 = loss_at(vt, self, &b, what, coef, RLAIF_OUT_KEEP);
    rlaif_outputs g = {.struct_size = sizeof g};
    if (what == RLAIF_OUT_LOGPROBS) g.logprobs = coef;
    if (what == RLAIF_OUT_ENTROPY) g.entropy = coef;
    if (what == RLAIF_OUT_VALUES) g.values = coef;
    if (what == RLAIF_OUT_SCORE) g.score = coef;
    ck_assert_msg(vt->backward(self, &g, err, sizeof err) == RLAIF_OK, "%s", err);
    rlaif_step_params p = {.struct_size = sizeof p, .lr = (float)(c * 1e6), .beta1 = 0.9f,
                           .beta2 = 0.999f, .eps = 1e6f, .weight_decay = 0, .max_grad_norm = 0,
                           .grad_scale = 1};
    rlaif_step_result res = {.struct_size = sizeof res};
    ck_assert_msg(vt->step(self, &p, &res, err, sizeof err) == RLAIF_OK, "%s", err);
    double l1 = loss_at(vt, self, &b, what, coef, 0);
    rlc_instance_unref(inst);
    return (l0 - l1) / (c * res.grad_norm * res.grad_norm);
}

static void check_direction(uint32_t what, double c, const char *name)
{
    double d1 = descent_ratio(what, c), d2 = descent_ratio(what, c / 2);
    double rich = 2 * d2 - d1;
    fflush(stdout);
    printf("descent ratio %s: %.5f (c) %.5f (c/2) -> %.5f\n", name, d1, d2, rich);
    fflush(stdout);
    ck_assert_msg(fabs(rich - 1) < 0.01, "%s: directional derivative / |g|^2 = %g (want 1)", name,
                  rich);
}

START_TEST(test_direction_logprobs) { check_direction(RLAIF_OUT_LOGPROBS, 3e-4, "logprobs@T0.7"); }
END_TEST
START_TEST(test_direction_entropy) { check_direction(RLAIF_OUT_ENTROPY, 1e-3, "entropy@T0.7"); }
END_TEST
START_TEST(test_direction_values) { check_direction(RLAIF_OUT_VALUES, 1e-4, "values"); }
END_TEST
START_TEST(test_direction_score) { check_direction(RLAIF_OUT_SCORE, 1e-3, "score"); }
END_TEST

/* ===== Config errors ==================================================== */

static void expect_error(const char *cfg, const char *needle)
{
    char err[1024] = "";
    rlc_instance *in = mu_model_try(cfg, err, sizeof err);
    ck_assert_msg(in == NULL, "%s was accepted", cfg);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s' does not mention '%s'", err, needle);
}

/* adapter_config.json names the base model by an absolute path (PEFT reads
 * it from wherever the adapter is), whatever path the model was opened by. */
START_TEST(test_adapter_base_path_absolute)
{
    char cfg[4096], err[1024] = "";
    snprintf(cfg, sizeof cfg,
             "{\"path\": \"%s/models/../models/stories260K/stories260K.bin\", \"lora\": "
             "{\"rank\": 2}}", source_dir());
    rlc_instance *in = mu_model(cfg);
    char *dir = mu_tempdir();
    ck_assert_msg(mu_vt(in)->save(rlc_instance_self(in), dir, RLAIF_SAVE_ADAPTER, err,
                                  sizeof err) == RLAIF_OK, "%s", err);
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    static char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = 0;
    cJSON *j = cJSON_Parse(text);
    const cJSON *bm = cJSON_GetObjectItemCaseSensitive(j, "base_model_name_or_path");
    ck_assert_msg(cJSON_IsString(bm), "%s", text);
    ck_assert_msg(bm->valuestring[0] == '/' && !strstr(bm->valuestring, "/../") &&
                      strstr(bm->valuestring, "models/stories260K/stories260K.bin"),
                  "base_model_name_or_path = %s", bm->valuestring);
    cJSON_Delete(j);
    rlc_instance_unref(in);
    mu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_config_errors)
{
    expect_error(stories_cfg("\"trainable\": [\"no_such_tensor\"]"), "trainable");
    expect_error(stories_cfg("\"lora\": {\"rank\": 4, \"dropout\": 0.1}"), "lora.dropout");
    expect_error(stories_cfg("\"lora\": {\"alpha\": 4}"), "lora.rank");
    expect_error(stories_cfg("\"lora\": {\"rank\": 4, \"targets\": [\"nope_proj\"]}"), "nope_proj");
    expect_error(stories_cfg("\"lora\": {\"rank\": 4}, \"freeze\": [\"layers.0.\"]"), "freeze");
    expect_error(stories_cfg("\"trainable\": [\"a\"], \"freeze\": [\"b\"]"), "trainable");
    expect_error(stories_cfg("\"save_dtype\": \"float16\""), "save_dtype");
    expect_error(stories_cfg("\"matmul\": \"fp8\""), "matmul");
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s/golden/gpt2_tiny\", \"lora\": {\"rank\": 2, "
             "\"targets\": [\"c_attn\"]}}", mu_shared_dir());
    expect_error(cfg, "GPT-2");
    /* load_state from an empty folder names the folder */
    rlc_instance *in = mu_model(stories_cfg(NULL));
    char *dir = mu_tempdir(), err[1024] = "";
    ck_assert_int_eq(mu_vt(in)->load_state(rlc_instance_self(in), dir, err, sizeof err), RLAIF_E_IO);
    ck_assert_ptr_nonnull(strstr(err, dir));
    /* a LoRA training state does not load into a full model */
    rlc_instance *l = mu_model(stories_cfg("\"lora\": {\"rank\": 2}"));
    ck_assert_int_eq(mu_vt(l)->save(rlc_instance_self(l), dir, RLAIF_SAVE_TRAINING, err, sizeof err),
                     RLAIF_OK);
    ck_assert_int_eq(mu_vt(in)->load_state(rlc_instance_self(in), dir, err, sizeof err),
                     RLAIF_E_INVALID);
    rlc_instance_unref(l);
    rlc_instance_unref(in);
    mu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model_train_plugin");
    TCase *tc = tcase_create("train_plugin");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_lora_grads_golden);
    tcase_add_test(tc, test_full_step_matches_golden_grads);
    tcase_add_test(tc, test_sft_lowers_heldout_loss);
    tcase_add_test(tc, test_bf16_matmul);
    tcase_add_test(tc, test_resume_full_bit_identical);
    tcase_add_test(tc, test_resume_lora_bit_identical);
    tcase_add_test(tc, test_saved_model_and_adapter_reload);
    tcase_add_test(tc, test_reference_frozen_full);
    tcase_add_test(tc, test_reference_frozen_lora);
    tcase_add_test(tc, test_reference_before_load_state);
    tcase_add_test(tc, test_frozen_layers_do_not_change);
    tcase_add_test(tc, test_info_counts_adapters);
    tcase_add_test(tc, test_accumulation_full);
    tcase_add_test(tc, test_accumulation_lora);
    tcase_add_test(tc, test_nonfinite_step);
    tcase_add_test(tc, test_direction_logprobs);
    tcase_add_test(tc, test_direction_entropy);
    tcase_add_test(tc, test_direction_values);
    tcase_add_test(tc, test_direction_score);
    tcase_add_test(tc, test_adapter_base_path_absolute);
    tcase_add_test(tc, test_config_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    rlc_shutdown();
    return failed ? 1 : 0;
}
