/*
 * test_engine_lora.c — merged-weight LoRA on the real engine
 * (train/engine_lora.c) against PEFT's golden llama_tiny_lora: logits and
 * logprobs with the adapter on, gradients of every A and B, the exact
 * reference (adapter off) = the base model's golden outputs, PEFT save and
 * reload, and a few AdamW steps that train only the adapters.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_bwd.h"
#include "engine_lora.h"
#include "st_read.h"
#include "train_util.h"

typedef struct fx {
    tf_model *m;
    tf_engine e;
    tf_lora L;
    float *w0;                /* the base parameters as loaded */
    int32_t *ids;
    const int32_t *seqs[2];
    size_t len[2], T;
    rd_file gl, gb;           /* golden of the LoRA model and of the base */
} fx;

static void fx_open(fx *f)
{
    char path[600], err[256];
    ck_assert_msg(tf_model_load_hf(rd_golden_path(path, sizeof path, "llama_tiny"), 0, 0, 1, &f->m, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_int_eq(tf_engine_init(&f->e, f->m, 2, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(tf_model_alloc_grads(f->m, err, sizeof err), RLAIF_OK);
    f->w0 = malloc(f->m->n_params * sizeof(float));
    memcpy(f->w0, f->m->params, f->m->n_params * sizeof(float));
    lora_config cfg;
    ck_assert_msg(lora_config_read(&cfg, rd_golden_path(path, sizeof path, "llama_tiny_lora/adapter_config.json"), err, sizeof err) == 0, "%s", err);
    ck_assert_msg(tf_lora_create(&f->L, f->m, &cfg, 5, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_uint_eq(f->L.n_mods, 6);
    ck_assert_msg(tf_lora_load(&f->L, rd_golden_path(path, sizeof path, "llama_tiny_lora/adapter_model.safetensors"), err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_int_eq(rd_open(&f->gl, rd_golden_path(path, sizeof path, "llama_tiny_lora/golden.safetensors"), err, sizeof err), 0);
    ck_assert_int_eq(rd_open(&f->gb, rd_golden_path(path, sizeof path, "llama_tiny/golden.safetensors"), err, sizeof err), 0);
    size_t nid;
    f->ids = rd_get_i32(&f->gl, "input_ids", &nid);
    f->T = nid;
    f->len[0] = f->len[1] = nid / 2;
    f->seqs[0] = f->ids;
    f->seqs[1] = f->ids + nid / 2;
}

static void fx_close(fx *f)
{
    rd_close(&f->gl);
    rd_close(&f->gb);
    tf_lora_free(&f->L);
    tf_engine_free(&f->e);
    tf_model_free(f->m);
    free(f->w0);
    free(f->ids);
}

/* Forward; the largest |logit - golden| over the batch. */
static double logits_err(fx *f, rd_file *g)
{
    char err[256];
    ck_assert_int_eq(tf_forward(&f->e, 2, f->seqs, f->len, 1, NULL, err, sizeof err), RLAIF_OK);
    size_t V = (size_t)f->m->cfg.vocab_size;
    float *logits = malloc(f->T * V * sizeof(float)), *want = rd_get_f32(g, "logits", NULL);
    tf_logits_rows(&f->e, logits, f->e.acts.xf, f->T);
    double worst = 0;
    for (size_t i = 0; i < f->T * V; i++) worst = fmax(worst, fabs(logits[i] - want[i]));
    free(logits);
    free(want);
    return worst;
}

START_TEST(test_forward_on_and_off)
{
    fx f;
    fx_open(&f);
    tf_lora_apply(&f.L, f.m, 1);
    double on = logits_err(&f, &f.gl);
    ck_assert_msg(on < 1e-4, "adapted logits off by %g", on);
    tf_lora_apply(&f.L, f.m, 0);
    ck_assert_mem_eq(f.m->params, f.w0, f.m->n_params * sizeof(float));
    double off = logits_err(&f, &f.gb);
    ck_assert_msg(off < 1e-4, "reference logits off by %g", off);
    /* and the adapter really changes the model */
    ck_assert(logits_err(&f, &f.gl) > 1e-3);
    printf("engine LoRA: adapted logits within %.2g, reference within %.2g\n", on, off);
    fx_close(&f);
}
END_TEST

START_TEST(test_adapter_gradients)
{
    fx f;
    fx_open(&f);
    char err[256];
    tf_lora_apply(&f.L, f.m, 1);
    ck_assert_int_eq(tf_forward(&f.e, 2, f.seqs, f.len, 1, NULL, err, sizeof err), RLAIF_OK);
    float *dlp = tu_zeros(f.T);
    for (size_t t = 0; t < f.T; t++) dlp[t] = -1.0f / (float)(f.T - 2);
    rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dlp};
    tf_weights gv;
    ck_assert_int_eq(tf_lora_grad_view(&f.L, f.m, &gv, err, sizeof err), RLAIF_OK);
    ck_assert_ptr_null(gv.tok_emb);
    ck_assert_ptr_null(gv.layers[0].ln1_w);
    ck_assert_ptr_null(gv.layers[1].w_up); /* gate/up not targeted */
    ck_assert_ptr_nonnull(gv.layers[1].w_down);
    memset(f.m->grads, 0, f.m->n_params * sizeof(float));
    tf_bwd_ws ws = {0};
    ck_assert_msg(tf_train_backward(&f.e, &gv, &d, 1.0f, &ws, err, sizeof err) == RLAIF_OK, "%s", err);
    tf_lora_grads(&f.L, f.m);
    double worst = 0;
    for (size_t i = 0; i < f.L.n_mods; i++) {
        const tf_lora_module *md = &f.L.mods[i];
        const char *names[2] = {md->a_name, md->b_name};
        size_t offs[2] = {md->a_off, md->b_off}, ns[2] = {f.L.cfg.r * md->in, md->out * f.L.cfg.r};
        for (int k = 0; k < 2; k++) {
            char gname[256];
            /* PEFT's gradient names carry the adapter name */
            snprintf(gname, sizeof gname, "grad.%.*s.default.weight",
                     (int)(strlen(names[k]) - strlen(".weight")), names[k]);
            size_t n;
            float *want = rd_get_f32(&f.gl, gname, &n);
            ck_assert_msg(want != NULL, "golden lacks %s", gname);
            ck_assert_uint_eq(n, ns[k]);
            double e = tu_rel_err(f.L.grads + offs[k], want, n, 1e-12);
            ck_assert_msg(e < 1e-4, "%s: off by %.3g of its max", names[k], e);
            worst = fmax(worst, e);
            free(want);
        }
    }
    printf("engine LoRA: 12 adapter gradients, worst %.2g of the tensor max\n", worst);
    /* The frozen tensors were never written. */
    ck_assert_float_eq(tu_max_abs(f.m->grads, (size_t)f.m->cfg.vocab_size * (size_t)f.m->cfg.dim), 0.0f);
    tf_weights_free(&gv);
    tf_bwd_ws_free(&ws);
    free(dlp);
    fx_close(&f);
}
END_TEST

START_TEST(test_save_reload_and_train)
{
    fx f;
    fx_open(&f);
    char err[256], dir[] = "/tmp/rlaif_train_elora_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_msg(tf_lora_save(&f.L, dir, err, sizeof err) == RLAIF_OK, "%s", err);
    tf_lora L2;
    lora_config cfg;
    char path[600];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    ck_assert_int_eq(lora_config_read(&cfg, path, err, sizeof err), 0);
    ck_assert_int_eq(tf_lora_create(&L2, f.m, &cfg, 77, err, sizeof err), RLAIF_OK);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    ck_assert_msg(tf_lora_load(&L2, path, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_mem_eq(L2.params, f.L.params, f.L.n_params * sizeof(float));
    tf_lora_free(&L2);
    unlink(path);
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    unlink(path);
    rmdir(dir);

    /* Train only the adapters for a few steps on the golden batch. */
    adamw_tensor at[12];
    size_t nt = tf_lora_adamw_tensors(&f.L, at);
    adamw_state opt;
    adamw_init(&opt, f.L.n_params);
    adamw_params hp = adamw_params_default();
    hp.lr = 1e-2f;
    float *dlp = tu_zeros(f.T), *lp = tu_zeros(f.T);
    for (size_t t = 0; t < f.T; t++) dlp[t] = -1.0f / (float)(f.T - 2);
    rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dlp};
    tf_weights gv;
    ck_assert_int_eq(tf_lora_grad_view(&f.L, f.m, &gv, err, sizeof err), RLAIF_OK);
    tf_bwd_ws ws = {0};
    size_t V = (size_t)f.m->cfg.vocab_size;
    float *logits = malloc(f.T * V * sizeof(float));
    double first = 0, last = 0;
    for (int step = 0; step < 6; step++) {
        tf_lora_apply(&f.L, f.m, 1);
        ck_assert_int_eq(tf_forward(&f.e, 2, f.seqs, f.len, 1, NULL, err, sizeof err), RLAIF_OK);
        tf_logits_rows(&f.e, logits, f.e.acts.xf, f.T);
        double s = 0;
        for (size_t t = 0; t < f.T; t++)
            if ((t + 1) % f.len[0])
                tf_logits_stats(logits + t * V, V, 1.0f, f.ids[t + 1], &lp[t], NULL), s += lp[t];
        if (step == 0) first = s;
        last = s;
        memset(f.m->grads, 0, f.m->n_params * sizeof(float));
        memset(f.L.grads, 0, f.L.n_params * sizeof(float));
        ck_assert_int_eq(tf_train_backward(&f.e, &gv, &d, 1.0f, &ws, err, sizeof err), RLAIF_OK);
        tf_lora_grads(&f.L, f.m);
        ck_assert_msg(adamw_step(&opt, f.L.params, f.L.grads, at, nt, &hp, NULL, err, sizeof err) == 0, "%s", err);
    }
    ck_assert_msg(last > first, "adapter training did not raise the logprob: %g -> %g", first, last);
    /* The base stayed the base. */
    tf_lora_apply(&f.L, f.m, 0);
    ck_assert_mem_eq(f.m->params, f.w0, f.m->n_params * sizeof(float));
    free(logits), free(dlp), free(lp);
    tf_weights_free(&gv);
    tf_bwd_ws_free(&ws);
    adamw_free(&opt);
    fx_close(&f);
}
END_TEST

START_TEST(test_errors)
{
    char path[600], err[256];
    tf_model *m;
    ck_assert_int_eq(tf_model_load_hf(rd_golden_path(path, sizeof path, "llama_tiny"), 0, 0, 1, &m, err, sizeof err), RLAIF_OK);
    lora_config cfg = {.r = 2, .alpha = 4, .n_targets = 1};
    strcpy(cfg.targets[0], "qkv_proj");
    tf_lora L;
    ck_assert_int_eq(tf_lora_create(&L, m, &cfg, 1, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "qkv_proj"));
    strcpy(cfg.targets[0], "o_proj");
    ck_assert_int_eq(tf_lora_create(&L, m, &cfg, 1, err, sizeof err), RLAIF_OK);
    /* the golden adapter has rank 4 and other modules */
    ck_assert_int_eq(tf_lora_load(&L, rd_golden_path(path, sizeof path, "llama_tiny_lora/adapter_model.safetensors"), err, sizeof err), RLAIF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err, "o_proj"));
    tf_lora_free(&L);
    tf_model_free(m);
    ck_assert_int_eq(tf_model_load_hf(rd_golden_path(path, sizeof path, "gpt2_tiny"), 0, 0, 1, &m, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(tf_lora_create(&L, m, &cfg, 1, err, sizeof err), RLAIF_E_UNSUPPORTED);
    tf_model_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("train_engine_lora");
    TCase *tc = tcase_create("lora");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_forward_on_and_off);
    tcase_add_test(tc, test_adapter_gradients);
    tcase_add_test(tc, test_save_reload_and_train);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
