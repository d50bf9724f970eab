/*
 * test_engine_io.c — checkpoints of the engine's model (train/engine_io.c)
 * and a short real training run on stories260K through the engine's
 * forward, tf_train_backward and AdamW:
 *   - config.json + model.safetensors written, reloaded by the engine's
 *     own loader, give back the same numbers (F32 exactly, BF16 rounded);
 *   - a few SFT steps lower the loss on the trained batch; the trained
 *     model saved and reloaded gives bit-identical log-probabilities.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_bwd.h"
#include "engine_io.h"
#include "st_read.h"
#include "train_state.h"
#include "train_util.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rlaif_train_io_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name), unlink(p);
    if (d) closedir(d);
    rmdir(tmpdir);
}

static void save_hf(const tf_model *m, stw_dtype dt)
{
    char path[600], err[256];
    snprintf(path, sizeof path, "%s/config.json", tmpdir);
    ck_assert_msg(tf_save_config(&m->cfg, STW_F32, path, err, sizeof err) == RLAIF_OK, "%s", err);
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    ck_assert_msg(tf_save_safetensors(m, path, dt, err, sizeof err) == RLAIF_OK, "%s", err);
}

static void assert_same_config(const tf_config *a, const tf_config *b)
{
    ck_assert_int_eq(a->arch, b->arch);
    ck_assert_int_eq(a->dim, b->dim);
    ck_assert_int_eq(a->n_layers, b->n_layers);
    ck_assert_int_eq(a->n_heads, b->n_heads);
    ck_assert_int_eq(a->n_kv_heads, b->n_kv_heads);
    ck_assert_int_eq(a->head_dim, b->head_dim);
    ck_assert_int_eq(a->hidden_dim, b->hidden_dim);
    ck_assert_int_eq(a->vocab_size, b->vocab_size);
    ck_assert_int_eq(a->max_seq_len, b->max_seq_len);
    ck_assert_float_eq(a->norm_eps, b->norm_eps);
    if (a->arch != TF_GPT2) ck_assert_float_eq(a->rope_theta, b->rope_theta);
    ck_assert_int_eq(a->tied, b->tied);
    ck_assert_int_eq(a->qkv_bias, b->qkv_bias);
    ck_assert_int_eq(a->o_bias, b->o_bias);
    ck_assert_int_eq(a->bos_id, b->bos_id);
    ck_assert_int_eq(a->eos_id, b->eos_id);
}

/* Save a golden model (with value and score heads) and load it back. */
static void round_trip(const char *sub, stw_dtype dt)
{
    char dir[512], err[256];
    tf_model *m, *back;
    ck_assert_msg(tf_model_load_hf(rd_golden_path(dir, sizeof dir, sub), 1, 1, 3, &m, err, sizeof err) == RLAIF_OK, "%s", err);
    make_tmpdir();
    save_hf(m, dt);
    ck_assert_msg(tf_model_load_hf(tmpdir, 1, 1, 99, &back, err, sizeof err) == RLAIF_OK, "%s", err);
    assert_same_config(&m->cfg, &back->cfg);
    ck_assert_uint_eq(back->n_params, m->n_params);
    if (dt == STW_F32) {
        /* the heads came from the file, not from seed 99 */
        ck_assert_mem_eq(back->params, m->params, m->n_params * sizeof(float));
    } else {
        for (size_t i = 0; i < m->n_params; i++)
            ck_assert_float_eq(back->params[i], stw_bf16_to_f32(stw_f32_to_bf16(m->params[i])));
    }
    tf_model_free(back);
    tf_model_free(m);
    remove_tmpdir();
}

START_TEST(test_llama_round_trip) { round_trip("llama_tiny", STW_F32); }
END_TEST

START_TEST(test_gpt2_round_trip) { round_trip("gpt2_tiny", STW_F32); }
END_TEST

START_TEST(test_bf16_round_trip) { round_trip("llama_tiny", STW_BF16); }
END_TEST

/* Configs the goldens do not cover. */
START_TEST(test_config_variants)
{
    tf_config cs[3] = {
        {.arch = TF_QWEN2, .dim = 96, .n_layers = 3, .n_heads = 6, .n_kv_heads = 2, .head_dim = 16,
         .hidden_dim = 200, .vocab_size = 1000, .max_seq_len = 4096, .norm_eps = 1e-6f,
         .rope_theta = 1000000.0f, .tied = 1, .qkv_bias = 1, .bos_id = -1, .eos_id = 7, .pad_id = -1},
        {.arch = TF_LLAMA, .dim = 64, .n_layers = 1, .n_heads = 4, .n_kv_heads = 4, .head_dim = 16,
         .hidden_dim = 100, .vocab_size = 300, .max_seq_len = 128, .norm_eps = 1e-5f,
         .rope_theta = 500000.0f, .tied = 0, .qkv_bias = 1, .o_bias = 1, .bos_id = 1, .eos_id = 2,
         .pad_id = -1},
        {.arch = TF_GPT2, .dim = 48, .n_layers = 2, .n_heads = 3, .n_kv_heads = 3, .head_dim = 16,
         .hidden_dim = 100, .vocab_size = 77, .max_seq_len = 64, .norm_eps = 1e-5f, .tied = 1,
         .qkv_bias = 1, .o_bias = 1, .bos_id = 5, .eos_id = 5, .pad_id = -1},
    };
    make_tmpdir();
    char path[600], err[256];
    snprintf(path, sizeof path, "%s/config.json", tmpdir);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(tf_save_config(&cs[i], STW_F32, path, err, sizeof err) == RLAIF_OK, "%s", err);
        FILE *fp = fopen(path, "rb");
        static char text[8192];
        size_t n = fread(text, 1, sizeof text - 1, fp);
        fclose(fp);
        text[n] = 0;
        tf_config back;
        ck_assert_msg(tf_config_parse_hf(text, n, path, &back, err, sizeof err) == RLAIF_OK, "%s", err);
        assert_same_config(&cs[i], &back);
    }
    /* The shortest decimal form is written. */
    ck_assert_int_eq(tf_save_config(&cs[0], STW_F32, path, err, sizeof err), RLAIF_OK);
    FILE *fp = fopen(path, "rb");
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = 0;
    ck_assert_ptr_nonnull(strstr(text, "1e-06"));
    ck_assert_ptr_nonnull(strstr(text, "\"torch_dtype\":\t\"float32\""));
    /* torch_dtype says what the weights beside it hold */
    ck_assert_int_eq(tf_save_config(&cs[0], STW_BF16, path, err, sizeof err), RLAIF_OK);
    fp = fopen(path, "rb");
    n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = 0;
    ck_assert_msg(strstr(text, "\"torch_dtype\":\t\"bfloat16\""), "%s", text);
    remove_tmpdir();
}
END_TEST

START_TEST(test_adamw_table)
{
    char dir[512], err[256];
    tf_model *m;
    ck_assert_msg(tf_model_load_hf(rd_golden_path(dir, sizeof dir, "gpt2_tiny"), 0, 0, 1, &m, err, sizeof err) == RLAIF_OK, "%s", err);
    adamw_tensor *t = calloc(m->n_tab, sizeof *t);
    uint8_t *frozen = calloc(m->n_tab, 1);
    ck_assert_uint_eq(tf_adamw_tensors(m, NULL, t), m->n_tab);
    size_t total = 0;
    for (size_t i = 0; i < m->n_tab; i++) {
        total += t[i].numel;
        ck_assert_int_eq(t[i].decay, strstr(t[i].name, ".weight") && !strstr(t[i].name, "ln_"));
    }
    ck_assert_uint_eq(total, m->n_params);
    frozen[0] = frozen[3] = 1;
    ck_assert_uint_eq(tf_adamw_tensors(m, frozen, t), m->n_tab - 2);
    ck_assert_str_eq(t[0].name, m->tab[1].name);
    free(t);
    free(frozen);
    tf_model_free(m);
}
END_TEST

/* ---- a short SFT run on stories260K ----------------------------------- */

/* Mean token logprob of the batch under the kept forward, plus the
 * per-token values into lp[T]. */
static double batch_logprob(tf_engine *e, float *lp)
{
    const tf_acts *a = &e->acts;
    size_t V = (size_t)e->m->cfg.vocab_size;
    float *logits = malloc(a->T * V * sizeof(float));
    tf_logits_rows(e, logits, a->xf, a->T);
    double sum = 0;
    size_t cnt = 0;
    for (size_t b = 0; b < a->n; b++)
        for (size_t t = a->off[b]; t < a->off[b + 1]; t++) {
            lp[t] = 0;
            if (t + 1 == a->off[b + 1]) continue;
            tf_logits_stats(logits + t * V, V, 1.0f, a->ids[t + 1], &lp[t], NULL);
            sum += lp[t];
            cnt++;
        }
    free(logits);
    return sum / (double)cnt;
}

START_TEST(test_sft_stories260k)
{
    const char *root = getenv("RLAIF_SHARED_DIR");
    char path[600], err[256];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", root && *root ? root : "/work/shared");
    tf_model *m;
    ck_assert_msg(tf_model_load_llama2c(path, 0, 0, 1, &m, err, sizeof err) == RLAIF_OK, "%s", err);
    tf_engine e;
    ck_assert_int_eq(tf_engine_init(&e, m, 2, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(tf_model_alloc_grads(m, err, sizeof err), RLAIF_OK);

    /* Two sequences of 32 tokens from a fixed stream. */
    enum { B = 2, T = 32 };
    int32_t data[B * T];
    tu_rng r;
    tu_rng_seed(&r, 260);
    for (size_t i = 0; i < B * T; i++) data[i] = 3 + (int32_t)(tu_uniform(&r, 0, 1) * 500.0f) % 500;
    const int32_t *seqs[B] = {data, data + T};
    size_t len[B] = {T, T};
    float lp[B * T], dlp[B * T];
    for (size_t i = 0; i < B * T; i++) dlp[i] = -1.0f / (float)(B * (T - 1));

    adamw_tensor *at = calloc(m->n_tab, sizeof *at);
    size_t nt = tf_adamw_tensors(m, NULL, at);
    adamw_state opt;
    adamw_init(&opt, m->n_params);
    adamw_params hp = adamw_params_default();
    hp.lr = 3e-3f;
    hp.max_grad_norm = 1.0f;
    tf_bwd_ws ws = {0};
    rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dlp};
    double first = 0, last = 0;
    for (int step = 0; step < 8; step++) {
        ck_assert_int_eq(tf_forward(&e, B, seqs, len, 1, NULL, err, sizeof err), RLAIF_OK);
        double mlp = batch_logprob(&e, lp);
        if (step == 0) first = mlp;
        last = mlp;
        memset(m->grads, 0, m->n_params * sizeof(float));
        ck_assert_msg(tf_train_backward(&e, &m->g, &d, 1.0f, &ws, err, sizeof err) == RLAIF_OK, "%s", err);
        adamw_report rep;
        ck_assert_msg(adamw_step(&opt, m->params, m->grads, at, nt, &hp, &rep, err, sizeof err) == 0, "%s", err);
        ck_assert(rep.grad_norm > 0 && isfinite(rep.grad_norm));
    }
    printf("stories260K SFT: mean logprob %.4f -> %.4f over 8 steps\n", first, last);
    ck_assert_msg(last > first + 0.1, "loss did not go down: %.4f -> %.4f", first, last);

    /* Save the trained model in HF layout + the optimizer state; reload. */
    make_tmpdir();
    save_hf(m, STW_F32);
    snprintf(path, sizeof path, "%s/training_state.bin", tmpdir);
    train_state s = {.step = opt.step, .n_moments = opt.n, .m = opt.m, .v = opt.v,
                     .schedule = {.kind = LR_CONSTANT, .lr_max = hp.lr}};
    ck_assert_msg(train_state_write(path, &s, err, sizeof err) == 0, "%s", err);
    tf_model *back;
    ck_assert_msg(tf_model_load_hf(tmpdir, 0, 0, 1, &back, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_mem_eq(back->params, m->params, m->n_params * sizeof(float));
    tf_engine e2;
    ck_assert_int_eq(tf_engine_init(&e2, back, 2, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(tf_forward(&e, B, seqs, len, 1, NULL, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(tf_forward(&e2, B, seqs, len, 1, NULL, err, sizeof err), RLAIF_OK);
    float lp2[B * T];
    batch_logprob(&e, lp);
    batch_logprob(&e2, lp2);
    ck_assert_mem_eq(lp, lp2, sizeof lp);
    train_state rs;
    ck_assert_msg(train_state_read(path, &rs, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(rs.step, 8);
    ck_assert_mem_eq(rs.m, opt.m, opt.n * sizeof(float));
    train_state_free(&rs);
    remove_tmpdir();

    tf_engine_free(&e2);
    tf_model_free(back);
    tf_bwd_ws_free(&ws);
    adamw_free(&opt);
    free(at);
    tf_engine_free(&e);
    tf_model_free(m);
}
END_TEST

static Suite *io_suite(void)
{
    Suite *s = suite_create("train_engine_io");
    TCase *tc = tcase_create("io");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_llama_round_trip);
    tcase_add_test(tc, test_gpt2_round_trip);
    tcase_add_test(tc, test_bf16_round_trip);
    tcase_add_test(tc, test_config_variants);
    tcase_add_test(tc, test_adamw_table);
    tcase_add_test(tc, test_sft_stories260k);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(io_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
