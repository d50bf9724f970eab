/*
 * test_lora.c — LoRA math by finite differences, merge/unmerge, PEFT names
 * and config, against the golden PEFT adapter of llama_tiny.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels_bwd.h"
#include "lora.h"
#include "st_read.h"
#include "train_util.h"

typedef struct {
    float *x, *w, *a, *b, *y, *xa, *r;
    float s;
    size_t n, in, out, rank;
} lora_ctx;

/* y = x W^T + s (x A^T) B^T */
static double lora_loss(void *p)
{
    lora_ctx *c = p;
    linear_forward(c->y, c->x, c->w, NULL, c->n, c->in, c->out);
    lora_forward(c->y, c->out, c->xa, c->x, c->a, c->b, c->s, c->n, c->in, c->out, c->rank);
    return tu_dot(c->r, c->y, c->n * c->out);
}

START_TEST(test_lora_fd)
{
    tu_rng g;
    tu_rng_seed(&g, 91);
    lora_ctx c = {.n = 5, .in = 7, .out = 6, .rank = 3};
    c.s = lora_scale(8.0f, c.rank, false);
    c.x = tu_alloc_fill(&g, c.n * c.in, -1, 1);
    c.w = tu_alloc_fill(&g, c.out * c.in, -1, 1);
    c.a = tu_alloc_fill(&g, c.rank * c.in, -1, 1);
    c.b = tu_alloc_fill(&g, c.out * c.rank, -1, 1);
    c.y = tu_zeros(c.n * c.out);
    c.xa = tu_zeros(c.n * c.rank);
    c.r = tu_alloc_fill(&g, c.n * c.out, -1, 1);
    float *dx = tu_zeros(c.n * c.in), *da = tu_zeros(c.rank * c.in), *db = tu_zeros(c.out * c.rank);
    float *scratch = tu_zeros(c.n * c.rank);
    lora_loss(&c);
    linear_backward(dx, NULL, NULL, c.r, c.x, c.w, c.n, c.in, c.out);
    lora_backward(dx, da, db, c.r, c.out, c.x, c.xa, c.a, c.b, c.s, scratch, c.n, c.in, c.out, c.rank);
    ck_assert(tu_fd_check("lora dx", c.x, c.n * c.in, dx, lora_loss, &c, 1e-2f, 200, 2e-3) < 2e-3);
    ck_assert(tu_fd_check("lora da", c.a, c.rank * c.in, da, lora_loss, &c, 1e-2f, 200, 2e-3) < 2e-3);
    ck_assert(tu_fd_check("lora db", c.b, c.out * c.rank, db, lora_loss, &c, 1e-2f, 200, 2e-3) < 2e-3);

    /* Merged weights give the same outputs as base + adapter. */
    lora_loss(&c);
    float *y_adapter = malloc(c.n * c.out * sizeof(float));
    memcpy(y_adapter, c.y, c.n * c.out * sizeof(float));
    float *w0 = malloc(c.out * c.in * sizeof(float));
    memcpy(w0, c.w, c.out * c.in * sizeof(float));
    lora_merge(c.w, c.a, c.b, c.s, 1.0f, c.in, c.out, c.rank);
    linear_forward(c.y, c.x, c.w, NULL, c.n, c.in, c.out);
    ck_assert(tu_rel_err(c.y, y_adapter, c.n * c.out, 1e-6) < 1e-6);
    lora_merge(c.w, c.a, c.b, c.s, -1.0f, c.in, c.out, c.rank);
    ck_assert(tu_rel_err(c.w, w0, c.out * c.in, 1e-6) < 1e-6);
    free(y_adapter), free(w0), free(scratch), free(dx), free(da), free(db);
    free(c.x), free(c.w), free(c.a), free(c.b), free(c.y), free(c.xa), free(c.r);
}
END_TEST

START_TEST(test_names_and_targets)
{
    char buf[256];
    ck_assert_int_eq(lora_tensor_name(buf, sizeof buf, "model.layers.0.self_attn.q_proj", 'A', false), 0);
    ck_assert_str_eq(buf, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
    ck_assert_int_eq(lora_tensor_name(buf, sizeof buf, "model.layers.1.mlp.down_proj", 'B', true), 0);
    ck_assert_str_eq(buf, "base_model.model.model.layers.1.mlp.down_proj.lora_B.default.weight");
    ck_assert_int_eq(lora_tensor_name(buf, 16, "model.layers.1.mlp.down_proj", 'B', true), -1);
    const char *t[2] = {"q_proj", "v_proj"};
    ck_assert(lora_module_targeted("model.layers.3.self_attn.q_proj", t, 2));
    ck_assert(lora_module_targeted("v_proj", t, 2));
    ck_assert(!lora_module_targeted("model.layers.3.self_attn.qq_proj", t, 2));
    ck_assert(!lora_module_targeted("model.layers.3.self_attn.k_proj", t, 2));
}
END_TEST

START_TEST(test_config_golden_and_round_trip)
{
    char path[512], err[256];
    rd_golden_path(path, sizeof path, "llama_tiny_lora/adapter_config.json");
    lora_config cfg;
    ck_assert_msg(lora_config_read(&cfg, path, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(cfg.r, 4);
    ck_assert_float_eq(cfg.alpha, 8.0f);
    ck_assert(!cfg.rslora);
    ck_assert_uint_eq(cfg.n_targets, 3);
    const char *tg[LORA_MAX_TARGETS];
    for (size_t i = 0; i < cfg.n_targets; i++) tg[i] = cfg.targets[i];
    ck_assert(lora_module_targeted("model.layers.0.mlp.down_proj", tg, cfg.n_targets));
    ck_assert(!lora_module_targeted("model.layers.0.mlp.up_proj", tg, cfg.n_targets));
    ck_assert_str_eq(cfg.base_model, "../llama_tiny");

    char out[] = "/tmp/rlaif_train_lora_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(out));
    char file[600];
    snprintf(file, sizeof file, "%s/adapter_config.json", out);
    ck_assert_int_eq(lora_config_write(&cfg, file, err, sizeof err), 0);
    lora_config back;
    ck_assert_msg(lora_config_read(&back, file, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(back.r, cfg.r);
    ck_assert_float_eq(back.alpha, cfg.alpha);
    ck_assert_uint_eq(back.n_targets, cfg.n_targets);
    for (size_t i = 0; i < cfg.n_targets; i++) ck_assert_str_eq(back.targets[i], cfg.targets[i]);
    unlink(file);
    rmdir(out);

    /* Errors name the key. */
    ck_assert_int_eq(lora_config_parse(&back, "{\"r\": 0, \"lora_alpha\": 1}", "x.json", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "'r'"));
    ck_assert_int_eq(lora_config_parse(&back, "{\"peft_type\": \"IA3\", \"r\": 2}", "x.json", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "peft_type"));
    ck_assert_int_eq(lora_config_parse(&back, "{\"r\": 2, \"lora_alpha\": 4, \"target_modules\": []}", "x.json", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "target_modules"));
    ck_assert_int_eq(lora_config_parse(&back, "[1,", "x.json", err, sizeof err), -1);
}
END_TEST

/* The golden adapter: every targeted Linear of llama_tiny has A [r, in]
 * and B [out, r] under PEFT names, and merging it into the base weights
 * then unmerging restores them. */
START_TEST(test_golden_adapter_merge)
{
    char path[512], err[256];
    rd_file ad, base;
    ck_assert_msg(rd_open(&ad, rd_golden_path(path, sizeof path, "llama_tiny_lora/adapter_model.safetensors"), err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rd_open(&base, rd_golden_path(path, sizeof path, "llama_tiny/model.safetensors"), err, sizeof err) == 0, "%s", err);
    static const char *mods[3] = {"self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"};
    float s = lora_scale(8.0f, 4, false);
    size_t found = 0;
    for (int layer = 0; layer < 2; layer++)
        for (int m = 0; m < 3; m++) {
            char module[128], an[256], bn[256], wn[256];
            snprintf(module, sizeof module, "model.layers.%d.%s", layer, mods[m]);
            lora_tensor_name(an, sizeof an, module, 'A', false);
            lora_tensor_name(bn, sizeof bn, module, 'B', false);
            snprintf(wn, sizeof wn, "%s.weight", module);
            const char *dt;
            size_t nd, wsh[8], ash[8], bsh[8], nb;
            const unsigned char *p;
            ck_assert_int_eq(rd_info(&base, wn, &dt, &nd, wsh, &p, &nb), 0);
            ck_assert_msg(rd_info(&ad, an, &dt, &nd, ash, &p, &nb) == 0, "missing %s", an);
            ck_assert_int_eq(rd_info(&ad, bn, &dt, &nd, bsh, &p, &nb), 0);
            size_t out = wsh[0], in = wsh[1];
            ck_assert_uint_eq(ash[0], 4);
            ck_assert_uint_eq(ash[1], in);
            ck_assert_uint_eq(bsh[0], out);
            ck_assert_uint_eq(bsh[1], 4);
            float *w = rd_get_f32(&base, wn, NULL), *a = rd_get_f32(&ad, an, NULL),
                  *b = rd_get_f32(&ad, bn, NULL);
            float *w0 = malloc(out * in * sizeof(float));
            memcpy(w0, w, out * in * sizeof(float));
            /* B is nonzero in the golden adapter, so merging changes W. */
            ck_assert(tu_max_abs(b, out * 4) > 0.0f);
            lora_merge(w, a, b, s, 1.0f, in, out, 4);
            ck_assert(tu_rel_err(w, w0, out * in, 1e-6) > 1e-6);
            /* One entry checked by hand: W'[0][0] = W[0][0] + s sum_k B[0][k] A[k][0]. */
            double want = w0[0];
            for (size_t k = 0; k < 4; k++) want += (double)s * b[k] * a[k * in];
            ck_assert_double_eq_tol(w[0], want, 1e-6);
            lora_merge(w, a, b, s, -1.0f, in, out, 4);
            ck_assert(tu_rel_err(w, w0, out * in, 1e-6) < 1e-6);
            free(w), free(a), free(b), free(w0);
            found++;
        }
    /* Exactly those twelve tensors, nothing else. */
    size_t n = 0;
    for (cJSON *t = ad.header->child; t; t = t->next) n += strcmp(t->string, "__metadata__") != 0;
    ck_assert_uint_eq(n, 2 * found);
    rd_close(&ad);
    rd_close(&base);
}
END_TEST

/* y as a column range of a wider fused output (ld > OUT) gets exactly the
 * contiguous result, and columns outside the range are untouched. */
START_TEST(test_lora_strided)
{
    tu_rng g;
    tu_rng_seed(&g, 92);
    size_t n = 4, in = 5, out = 3, r = 2, ld = 9, off = 4;
    float *x = tu_alloc_fill(&g, n * in, -1, 1), *a = tu_alloc_fill(&g, r * in, -1, 1);
    float *b = tu_alloc_fill(&g, out * r, -1, 1), *dy = tu_alloc_fill(&g, n * ld, -1, 1);
    float *y1 = tu_zeros(n * out), *y2 = tu_alloc_fill(&g, n * ld, -1, 1), *y2c = malloc(n * ld * sizeof(float));
    memcpy(y2c, y2, n * ld * sizeof(float));
    float *xa = tu_zeros(n * r), *sc = tu_zeros(n * r);
    lora_forward(y1, out, xa, x, a, b, 2.0f, n, in, out, r);
    lora_forward(y2 + off, ld, xa, x, a, b, 2.0f, n, in, out, r);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ld; j++) {
            float want = (j >= off && j < off + out) ? y2c[i * ld + j] + y1[i * out + j - off] : y2c[i * ld + j];
            ck_assert_float_eq_tol(y2[i * ld + j], want, 1e-6);
        }
    float *dyc = tu_zeros(n * out);
    for (size_t i = 0; i < n; i++) memcpy(dyc + i * out, dy + i * ld + off, out * sizeof(float));
    float *da1 = tu_zeros(r * in), *db1 = tu_zeros(out * r), *dx1 = tu_zeros(n * in);
    float *da2 = tu_zeros(r * in), *db2 = tu_zeros(out * r), *dx2 = tu_zeros(n * in);
    lora_backward(dx1, da1, db1, dyc, out, x, xa, a, b, 2.0f, sc, n, in, out, r);
    lora_backward(dx2, da2, db2, dy + off, ld, x, xa, a, b, 2.0f, sc, n, in, out, r);
    ck_assert(tu_rel_err(da2, da1, r * in, 1e-9) < 1e-6);
    ck_assert(tu_rel_err(db2, db1, out * r, 1e-9) < 1e-6);
    ck_assert(tu_rel_err(dx2, dx1, n * in, 1e-9) < 1e-6);
    free(x), free(a), free(b), free(dy), free(y1), free(y2), free(y2c), free(xa), free(sc), free(dyc);
    free(da1), free(db1), free(dx1), free(da2), free(db2), free(dx2);
}
END_TEST

/* The golden PEFT adapter written back out by lora_save_adapter reads
 * back tensor for tensor, byte for byte. */
START_TEST(test_save_adapter_round_trip)
{
    char path[512], err[256];
    rd_file ad;
    ck_assert_msg(rd_open(&ad, rd_golden_path(path, sizeof path, "llama_tiny_lora/adapter_model.safetensors"), err, sizeof err) == 0, "%s", err);
    lora_config cfg;
    ck_assert_int_eq(lora_config_read(&cfg, rd_golden_path(path, sizeof path, "llama_tiny_lora/adapter_config.json"), err, sizeof err), 0);
    static const char *mods[3] = {"self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"};
    lora_adapter ads[6];
    char modules[6][96];
    float *bufs[12];
    for (int l = 0, k = 0; l < 2; l++)
        for (int m = 0; m < 3; m++, k++) {
            char an[256], bn[256];
            snprintf(modules[k], sizeof modules[k], "model.layers.%d.%s", l, mods[m]);
            lora_tensor_name(an, sizeof an, modules[k], 'A', false);
            lora_tensor_name(bn, sizeof bn, modules[k], 'B', false);
            const char *dt;
            size_t nd, ash[8], bsh[8], nb;
            const unsigned char *p;
            ck_assert_int_eq(rd_info(&ad, an, &dt, &nd, ash, &p, &nb), 0);
            ck_assert_int_eq(rd_info(&ad, bn, &dt, &nd, bsh, &p, &nb), 0);
            bufs[2 * k] = rd_get_f32(&ad, an, NULL);
            bufs[2 * k + 1] = rd_get_f32(&ad, bn, NULL);
            ads[k] = (lora_adapter){modules[k], ash[1], bsh[0], bufs[2 * k], bufs[2 * k + 1]};
        }
    char dir[] = "/tmp/rlaif_train_adapter_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_msg(lora_save_adapter(dir, &cfg, ads, 6, err, sizeof err) == 0, "%s", err);
    rd_file back;
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    ck_assert_msg(rd_open(&back, path, err, sizeof err) == 0, "%s", err);
    size_t n = 0;
    for (cJSON *t = ad.header->child; t; t = t->next) {
        if (strcmp(t->string, "__metadata__") == 0) continue;
        const char *d1, *d2;
        size_t n1, n2, s1[8], s2[8], b1, b2;
        const unsigned char *p1, *p2;
        ck_assert_int_eq(rd_info(&ad, t->string, &d1, &n1, s1, &p1, &b1), 0);
        ck_assert_msg(rd_info(&back, t->string, &d2, &n2, s2, &p2, &b2) == 0, "lost %s", t->string);
        ck_assert_str_eq(d1, d2);
        ck_assert_uint_eq(n1, n2);
        ck_assert_uint_eq(b1, b2);
        ck_assert_mem_eq(p1, p2, b1);
        n++;
    }
    ck_assert_uint_eq(n, 12);
    lora_config cb;
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    ck_assert_int_eq(lora_config_read(&cb, path, err, sizeof err), 0);
    ck_assert_uint_eq(cb.r, 4);
    ck_assert_float_eq(cb.alpha, 8.0f);
    rd_close(&back);
    unlink(path);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    unlink(path);
    rmdir(dir);
    for (int i = 0; i < 12; i++) free(bufs[i]);
    rd_close(&ad);
}
END_TEST

static Suite *lora_suite(void)
{
    Suite *s = suite_create("train_lora");
    TCase *tc = tcase_create("lora");
    tcase_add_test(tc, test_lora_fd);
    tcase_add_test(tc, test_names_and_targets);
    tcase_add_test(tc, test_config_golden_and_round_trip);
    tcase_add_test(tc, test_golden_adapter_merge);
    tcase_add_test(tc, test_lora_strided);
    tcase_add_test(tc, test_save_adapter_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lora_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
