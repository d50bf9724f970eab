/*
 * test_train.c — the plugin's training entry points through the vtable:
 * gradients of the mean token-logprob loss match the Hugging Face goldens,
 * AdamW steps lower the loss on stories260K, a saved checkpoint reloads to
 * the same logprobs, and misuse gives its error.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "model_util.h"

static const char *source_dir(void)
{
    const char *s = getenv("RLAIF_SOURCE_DIR");
    return s && *s ? s : ".";
}

/* Forward with KEEP, then backward of L = -mean(logprobs) over both
 * sequences; every parameter's gradient against golden grad.<name>. */
static void check_golden_grads(const char *name)
{
    char cfg[1024], err[512] = "", rel[256];
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s/golden/%s\", \"threads\": 2}", mu_shared_dir(),
             name);
    rlc_instance *inst = mu_model(cfg);
    const rlaif_model_vtable *vt = mu_vt(inst);
    void *self = rlc_instance_self(inst);
    snprintf(rel, sizeof rel, "golden/%s/golden.safetensors", name);
    st_file g;
    ck_assert_int_eq(st_open(&g, mu_shared_path(rel), err, sizeof err), RLAIF_OK);
    float *idf = mu_tensor(&g, "input_ids", NULL);
    int32_t ids[48];
    for (int i = 0; i < 48; i++) ids[i] = (int32_t)idf[i];
    free(idf);
    const int32_t *pp[2] = {ids, ids + 24};
    size_t len[2] = {24, 24};
    rlaif_seqs s = {.struct_size = sizeof s, .n = 2, .ids = pp, .len = len};
    float lp[48], dlp[48];
    rlaif_outputs o = {.struct_size = sizeof o, .logprobs = lp};
    /* Backward without a kept forward is a state error. */
    rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dlp};
    ck_assert_int_eq(vt->backward(self, &d, err, sizeof err), RLAIF_E_STATE);
    ck_assert_int_eq(vt->forward(self, &s, RLAIF_OUT_LOGPROBS | RLAIF_OUT_KEEP, 1.0f, &o, err,
                                 sizeof err), RLAIF_OK);
    for (int i = 0; i < 48; i++) dlp[i] = (i % 24 == 23) ? 0 : -1.0f / 46.0f;
    ck_assert_msg(vt->backward(self, &d, err, sizeof err) == RLAIF_OK, "%s", err);
    const tf_model *m = ((tf_instance *)self)->m;
    ck_assert_ptr_nonnull(m->grads);
    for (size_t i = 0; i < m->n_tab; i++) {
        const tf_param *p = &m->tab[i];
        char gname[160];
        snprintf(gname, sizeof gname, "grad.%s", p->name);
        size_t n = 0;
        float *want = mu_tensor(&g, gname, &n);
        ck_assert_uint_eq(n, p->numel);
        float mx = 0, worst = 0;
        for (size_t k = 0; k < n; k++) mx = fmaxf(mx, fabsf(want[k]));
        for (size_t k = 0; k < n; k++)
            worst = fmaxf(worst, fabsf(m->grads[p->offset + k] - want[k]));
        ck_assert_msg(worst <= 1e-4f * fmaxf(mx, 1e-6f), "%s: %s differs by %g (max %g)", name,
                      p->name, worst, mx);
        free(want);
    }
    /* A second backward needs a new forward. */
    ck_assert_int_eq(vt->backward(self, &d, err, sizeof err), RLAIF_E_STATE);
    vt->zero_grad(self);
    for (size_t i = 0; i < m->n_params; i++) ck_assert(m->grads[i] == 0.0f);
    st_close(&g);
    rlc_instance_unref(inst);
}

START_TEST(test_llama_grads) { check_golden_grads("llama_tiny"); }
END_TEST

START_TEST(test_gpt2_grads) { check_golden_grads("gpt2_tiny"); }
END_TEST

static double mean_logprob(const rlaif_model_vtable *vt, void *self, const rlaif_seqs *s,
                           float *lp, uint32_t keep)
{
    char err[256];
    rlaif_outputs o = {.struct_size = sizeof o, .logprobs = lp};
    ck_assert_int_eq(vt->forward(self, s, RLAIF_OUT_LOGPROBS | keep, 1.0f, &o, err, sizeof err),
                     RLAIF_OK);
    double sum = 0;
    size_t n = 0, off = 0;
    for (size_t b = 0; b < s->n; b++) {
        for (size_t t = 0; t + 1 < s->len[b]; t++, n++) sum += lp[off + t];
        off += s->len[b];
    }
    return sum / (double)n;
}

/* SFT steps on two stories lower their loss; save, reload, same logprobs. */
START_TEST(test_sft_steps_and_save)
{
    char cfg[4400], err[512] = "";
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s/models/stories260K/stories260K.bin\", \"threads\": 2}",
             source_dir());
    rlc_instance *inst = mu_model(cfg);
    const rlaif_model_vtable *vt = mu_vt(inst);
    void *self = rlc_instance_self(inst);
    const char *texts[2] = {"The cat sat on the red mat and purred at the moon.",
                            "Zorp the robot painted seven purple clouds every Tuesday."};
    int32_t ids[2][128];
    size_t len[2];
    const int32_t *pp[2] = {ids[0], ids[1]};
    for (int b = 0; b < 2; b++)
        ck_assert_int_eq(vt->tokenize(self, texts[b], strlen(texts[b]), 1, ids[b], 128, &len[b],
                                      err, sizeof err), RLAIF_OK);
    rlaif_seqs s = {.struct_size = sizeof s, .n = 2, .ids = pp, .len = len};
    static float lp[256], dlp[256];
    double before = mean_logprob(vt, self, &s, lp, 0);
    size_t n_tok = len[0] + len[1] - 2;
    rlaif_step_params sp = {.struct_size = sizeof sp, .lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.999f,
                            .eps = 1e-8f, .weight_decay = 0.0f, .max_grad_norm = 1.0f,
                            .grad_scale = 1.0f};
    rlaif_step_result res = {.struct_size = sizeof res};
    for (int step = 0; step < 5; step++) {
        mean_logprob(vt, self, &s, lp, RLAIF_OUT_KEEP);
        size_t off = 0;
        for (int b = 0; b < 2; b++) {
            for (size_t t = 0; t < len[b]; t++)
                dlp[off + t] = t + 1 < len[b] ? -1.0f / (float)n_tok : 0;
            off += len[b];
        }
        rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dlp};
        ck_assert_msg(vt->backward(self, &d, err, sizeof err) == RLAIF_OK, "%s", err);
        ck_assert_msg(vt->step(self, &sp, &res, err, sizeof err) == RLAIF_OK, "%s", err);
        ck_assert(res.grad_norm > 0 && isfinite(res.grad_norm));
        ck_assert_uint_eq(res.step, (uint64_t)step + 1);
    }
    double after = mean_logprob(vt, self, &s, lp, 0);
    ck_assert_msg(after > before + 0.1, "mean logprob %g -> %g after 5 steps", before, after);

    /* Save the trained weights and load them back as a Hugging Face folder. */
    char *dir = mu_tempdir();
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/ckpt", dir);
    ck_assert_msg(vt->save(self, sub, RLAIF_SAVE_WEIGHTS, err, sizeof err) == RLAIF_OK, "%s", err);
    /* No LoRA configured: there is no adapter to save. */
    ck_assert_int_eq(vt->save(self, sub, RLAIF_SAVE_ADAPTER, err, sizeof err),
                     RLAIF_E_UNSUPPORTED);
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\", \"threads\": 1}", sub);
    rlc_instance *again = mu_model(cfg);
    static float lp2[256];
    double reloaded = mean_logprob(mu_vt(again), rlc_instance_self(again), &s, lp2, 0);
    ck_assert_double_eq_tol(reloaded, after, 1e-6);
    for (size_t i = 0; i < len[0] + len[1]; i++) ck_assert_float_eq_tol(lp2[i], lp[i], 1e-5f);
    /* The reloaded folder found its llama2.c tokenizer. */
    int32_t t2[128];
    size_t n2 = 0;
    ck_assert_int_eq(mu_vt(again)->tokenize(rlc_instance_self(again), texts[0], strlen(texts[0]),
                                            1, t2, 128, &n2, err, sizeof err), RLAIF_OK);
    ck_assert_uint_eq(n2, len[0]);
    rlc_instance_unref(again);
    rlc_instance_unref(inst);
    mu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model_train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_llama_grads);
    tcase_add_test(tc, test_gpt2_grads);
    tcase_add_test(tc, test_sft_steps_and_save);
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
