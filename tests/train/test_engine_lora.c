/*
 * test_engine_lora.c — LoRA inside the real engine's forward
 * (train/engine_lora.c, forward.h's adapters) against PEFT's golden
 * llama_tiny_lora: logits with the adapter on, gradients of every A and B
 * (with no model gradient buffer at all), the exact reference (adapter off)
 * = the base engine bit for bit and the base's golden outputs, the lean
 * kept layout giving the same bits as the full one, the decode step with
 * adapters (f32 and bf16 weights), PEFT save and reload, the merged export,
 * and a few AdamW steps that train only the adapters and leave the base
 * weights untouched.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_bwd.h"
#include "engine_io.h"
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

/* Forward (keep) and the raw logits [T, V] of every position. */
static float *forward_logits(fx *f, tf_engine *e)
{
    char err[256];
    ck_assert_int_eq(tf_forward(e, 2, f->seqs, f->len, 1, NULL, err, sizeof err), RLAIF_OK);
    size_t V = (size_t)f->m->cfg.vocab_size;
    float *logits = malloc(f->T * V * sizeof(float));
    tf_logits_rows(e, logits, e->acts.xf, f->T);
    return logits;
}

START_TEST(test_forward_on_and_off)
{
    fx f;
    fx_open(&f);
    tf_lora_attach(&f.L, &f.e, 1, 0);
    double on = logits_err(&f, &f.gl);
    ck_assert_msg(on < 1e-4, "adapted logits off by %g", on);
    /* the forward never wrote the weights */
    ck_assert_mem_eq(f.m->params, f.w0, f.m->n_params * sizeof(float));
    tf_lora_attach(&f.L, &f.e, 0, 0);
    double off = logits_err(&f, &f.gb);
    ck_assert_msg(off < 1e-4, "reference logits off by %g", off);
    /* adapters off is the base engine exactly: a second engine that never
     * had adapters gives the same bits */
    char err[256];
    tf_engine plain;
    ck_assert_int_eq(tf_engine_init(&plain, f.m, 2, err, sizeof err), RLAIF_OK);
    size_t V = (size_t)f.m->cfg.vocab_size;
    float *ref = forward_logits(&f, &f.e), *base = forward_logits(&f, &plain);
    ck_assert_mem_eq(ref, base, f.T * V * sizeof(float));
    free(ref), free(base);
    tf_engine_free(&plain);
    /* and the adapter really changes the model */
    tf_lora_attach(&f.L, &f.e, 1, 0);
    ck_assert(logits_err(&f, &f.gb) > 1e-3);
    printf("engine LoRA: adapted logits within %.2g, reference within %.2g\n", on, off);
    fx_close(&f);
}
END_TEST

/* Adapter gradients of one backward (mean logprob loss) into f->L.grads,
 * through a gradient view with no member at all: the base is frozen and
 * has no gradient buffer. */
static void adapter_backward(fx *f, int lean)
{
    char err[256];
    f->e.lean = lean;
    tf_lora_attach(&f->L, &f->e, 1, 1);
    ck_assert_int_eq(tf_forward(&f->e, 2, f->seqs, f->len, 1, NULL, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(f->e.acts.lean, lean);
    if (lean) ck_assert_ptr_eq(f->e.acts.layers[0].act, f->e.acts.layers[1].act);
    float *dlp = tu_zeros(f->T);
    for (size_t t = 0; t < f->T; t++) dlp[t] = -1.0f / (float)(f->T - 2);
    rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dlp};
    tf_weights none = {0};
    tf_bwd_ws ws = {0};
    memset(f->L.grads, 0, f->L.n_params * sizeof(float));
    ck_assert_msg(tf_train_backward(&f->e, &none, &d, 1.0f, &ws, err, sizeof err) == RLAIF_OK, "%s", err);
    tf_bwd_ws_free(&ws);
    free(dlp);
}

START_TEST(test_adapter_gradients)
{
    fx f;
    fx_open(&f);
    adapter_backward(&f, 0);
    ck_assert_ptr_null(f.m->grads);
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
    /* the lean layout (norm outputs and activation recomputed) gives the
     * same bits */
    float *full = malloc(f.L.n_params * sizeof(float));
    memcpy(full, f.L.grads, f.L.n_params * sizeof(float));
    adapter_backward(&f, 1);
    ck_assert_mem_eq(f.L.grads, full, f.L.n_params * sizeof(float));
    ck_assert_mem_eq(f.m->params, f.w0, f.m->n_params * sizeof(float));
    free(full);
    fx_close(&f);
}
END_TEST

/* The decode step adds the adapters too: the logits of the last token by
 * prefill + one decode step equal the full forward's, adapters on, and the
 * bf16 decode weights carry them as well. */
START_TEST(test_decode_with_adapters)
{
    fx f;
    fx_open(&f);
    char err[256];
    const tf_config *c = &f.m->cfg;
    size_t V = (size_t)c->vocab_size, n = f.len[0];
    tf_lora_attach(&f.L, &f.e, 1, 0);
    float *full = forward_logits(&f, &f.e);
    float *want = full + (n - 1) * V; /* sequence 0's last position */
    size_t len = n - 1, slot = 0;
    int32_t tok = f.seqs[0][n - 1], pos = (int32_t)(n - 1);
    const int32_t *pr[1] = {f.seqs[0]};
    float worst[2] = {0, 0}, moved = 0;
    for (int bf16 = 0; bf16 < 2; bf16++) {
        if (bf16) ck_assert_int_eq(tf_engine_use_bf16_decode(&f.e, err, sizeof err), RLAIF_OK);
        for (int on = 1; on >= 0; on--) {
            tf_lora_attach(&f.L, &f.e, on, 0);
            ck_assert_int_eq(tf_kv_reserve(&f.e.kv, c, 1, n, err, sizeof err), RLAIF_OK);
            ck_assert_int_eq(tf_decode_buf_reserve(&f.e.dec, c, 1, n, f.e.ad_r_max, 2, err, sizeof err), RLAIF_OK);
            ck_assert_int_eq(tf_forward(&f.e, 1, pr, &len, 0, &f.e.kv, err, sizeof err), RLAIF_OK);
            tf_decode_step(&f.e, &f.e.kv, &f.e.dec, 1, &slot, &tok, &pos);
            for (size_t v = 0; v < V; v++) {
                float dv = fabsf(f.e.dec.logits[v] - want[v]);
                if (on) worst[bf16] = fmaxf(worst[bf16], dv);
                else if (!bf16) moved = fmaxf(moved, dv);
            }
        }
    }
    ck_assert_msg(worst[0] < 1e-4, "f32 decode with adapters off by %g", worst[0]);
    ck_assert_msg(worst[1] < 0.1f * moved, "bf16 decode with adapters off by %g (adapters move %g)",
                  worst[1], moved);
    printf("engine LoRA: decode with adapters within %.2g (f32), %.2g (bf16); adapters move %.2g\n",
           worst[0], worst[1], moved);
    free(full);
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

    /* The merged export: W0 + s B A for the adapted matrices, all else W0,
     * and the model in memory unchanged. */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_msg(tf_lora_save_merged(&f.L, f.m, path, STW_F32, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_mem_eq(f.m->params, f.w0, f.m->n_params * sizeof(float));
    rd_file mf;
    ck_assert_int_eq(rd_open(&mf, path, err, sizeof err), 0);
    for (size_t i = 0; i < f.m->n_tab; i++) {
        const tf_param *p = &f.m->tab[i];
        size_t n;
        float *got = rd_get_f32(&mf, p->name, &n), *want = malloc(p->numel * sizeof(float));
        ck_assert_uint_eq(n, p->numel);
        memcpy(want, f.w0 + p->offset, p->numel * sizeof(float));
        int adapted = 0;
        for (size_t k = 0; k < f.L.n_mods; k++)
            if (f.L.mods[k].w_off == p->offset) {
                const tf_lora_module *d = &f.L.mods[k];
                lora_merge(want, f.L.params + d->a_off, f.L.params + d->b_off, f.L.scale, 1.0f,
                           d->in, d->out, f.L.cfg.r);
                adapted = 1;
            }
        if (adapted)
            ck_assert_msg(tu_rel_err(got, want, n, 1e-12) < 1e-6, "%s: merged export off", p->name);
        else
            ck_assert_mem_eq(got, want, n * sizeof(float));
        free(got), free(want);
    }
    rd_close(&mf);
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
    tf_weights none = {0};
    tf_bwd_ws ws = {0};
    size_t V = (size_t)f.m->cfg.vocab_size;
    double first = 0, last = 0;
    tf_lora_attach(&f.L, &f.e, 1, 1);
    f.e.lean = 1;
    for (int step = 0; step < 6; step++) {
        float *logits = forward_logits(&f, &f.e);
        double s = 0;
        for (size_t t = 0; t < f.T; t++)
            if ((t + 1) % f.len[0])
                tf_logits_stats(logits + t * V, V, 1.0f, f.ids[t + 1], &lp[t], NULL), s += lp[t];
        free(logits);
        if (step == 0) first = s;
        last = s;
        memset(f.L.grads, 0, f.L.n_params * sizeof(float));
        ck_assert_int_eq(tf_train_backward(&f.e, &none, &d, 1.0f, &ws, err, sizeof err), RLAIF_OK);
        ck_assert_msg(adamw_step(&opt, f.L.params, f.L.grads, at, nt, &hp, NULL, err, sizeof err) == 0, "%s", err);
    }
    ck_assert_msg(last > first, "adapter training did not raise the logprob: %g -> %g", first, last);
    /* The base weights were never written (the old merged-weight LoRA
     * rewrote them every step), there is no model gradient buffer, and the
     * reference (adapters off) is still the base's golden. */
    ck_assert_mem_eq(f.m->params, f.w0, f.m->n_params * sizeof(float));
    ck_assert_ptr_null(f.m->grads);
    tf_lora_attach(&f.L, &f.e, 0, 0);
    double off = logits_err(&f, &f.gb);
    ck_assert_msg(off < 1e-4, "reference logits after training off by %g", off);
    free(dlp), free(lp);
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
    tcase_add_test(tc, test_decode_with_adapters);
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
