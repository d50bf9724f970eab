/*
 * test_golden.c — the reference stack (ref_stack.c, built only from the
 * train kernels) against PyTorch on ../shared/golden:
 *   llama_tiny       logits, token logprobs, loss and d loss / d every parameter
 *   gpt2_tiny        the same with LayerNorm, GELU, learned positions, Conv1D
 *   llama_tiny_lora  the same with PEFT adapters: gradients of every A and B
 * Gradients must agree within 1e-4 of each tensor's max abs value; logits
 * and logprobs within 1e-4 absolute.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora.h"
#include "ref_stack.h"
#include "st_read.h"
#include "train_util.h"

/* ---- config.json ------------------------------------------------------ */

static cJSON *read_json(const char *path)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "%s: bad JSON", path);
    return j;
}

static double num(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsNumber(v), "config key %s missing", key);
    return v->valuedouble;
}

static ref_config config_from(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *j = read_json(path);
    ref_config c = {0};
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "model_type");
    if (cJSON_IsString(mt) && strcmp(mt->valuestring, "gpt2") == 0) {
        c.arch = REF_GPT2;
        c.n_layers = (size_t)num(j, "n_layer");
        c.dim = (size_t)num(j, "n_embd");
        c.n_heads = c.n_kv_heads = (size_t)num(j, "n_head");
        c.head_dim = c.dim / c.n_heads;
        c.hidden = 4 * c.dim; /* n_inner is null */
        c.vocab = (size_t)num(j, "vocab_size");
        c.max_pos = (size_t)num(j, "n_positions");
        c.eps = (float)num(j, "layer_norm_epsilon");
        c.tied = true;
    } else {
        c.arch = REF_LLAMA;
        c.n_layers = (size_t)num(j, "num_hidden_layers");
        c.dim = (size_t)num(j, "hidden_size");
        c.n_heads = (size_t)num(j, "num_attention_heads");
        c.n_kv_heads = (size_t)num(j, "num_key_value_heads");
        c.head_dim = (size_t)num(j, "head_dim");
        c.hidden = (size_t)num(j, "intermediate_size");
        c.vocab = (size_t)num(j, "vocab_size");
        c.max_pos = (size_t)num(j, "max_position_embeddings");
        c.eps = (float)num(j, "rms_norm_eps");
        const cJSON *rp = cJSON_GetObjectItemCaseSensitive(j, "rope_parameters");
        c.rope_theta = (float)(rp ? num(rp, "rope_theta") : num(j, "rope_theta"));
        c.rope = ROPE_HALF;
        c.tied = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "tie_word_embeddings"));
    }
    cJSON_Delete(j);
    return c;
}

/* Copies every tensor of m found in f (by name, numel checked) into
 * m->params; returns how many were found. */
static size_t load_params(ref_model *m, const rd_file *f)
{
    size_t found = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        size_t n;
        float *p = rd_get_f32(f, m->tensors[i].name, &n);
        if (!p) continue;
        ck_assert_msg(n == m->tensors[i].numel, "%s: %zu elements, expected %zu",
                      m->tensors[i].name, n, m->tensors[i].numel);
        memcpy(m->params + m->tensors[i].offset, p, n * sizeof(float));
        free(p);
        found++;
    }
    return found;
}

/* Forward + backward of the mean loss on the golden batch, compared with
 * the golden outputs and with grad.<name> for every trainable tensor
 * (golden_name maps our name to the golden's). */
static void check_against_golden(ref_model *m, const rd_file *g,
                                 void (*golden_name)(char *, size_t, const char *))
{
    size_t nid;
    int32_t *ids = rd_get_i32(g, "input_ids", &nid);
    ck_assert_ptr_nonnull(ids);
    size_t B = 2, T = nid / 2, V = m->cfg.vocab;
    ck_assert_int_eq(ref_alloc_acts(m, B, T), 0);
    float *lp = tu_zeros(B * T), *logits = tu_zeros(B * T * V);
    double loss = ref_forward(m, ids, 1.0f, lp, logits);

    float *gl = rd_get_f32(g, "logits", NULL), *gtl = rd_get_f32(g, "token_logprobs", NULL),
          *gloss = rd_get_f32(g, "loss", NULL);
    ck_assert_ptr_nonnull(gl);
    double worst = 0, worst_logit;
    for (size_t i = 0; i < B * T * V; i++) worst = fmax(worst, fabs(logits[i] - gl[i]));
    ck_assert_msg(worst < 1e-4, "logits differ by %g", worst);
    worst_logit = worst;
    worst = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t + 1 < T; t++)
            worst = fmax(worst, fabs(lp[b * T + t] - gtl[b * (T - 1) + t]));
    ck_assert_msg(worst < 1e-4, "token logprobs differ by %g", worst);
    ck_assert_msg(fabs(loss - gloss[0]) < 1e-5, "loss %.7f, golden %.7f", loss, gloss[0]);

    ref_zero_grads(m);
    ref_backward(m, NULL);
    size_t checked = 0;
    double worst_grad = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const ref_tensor *t = &m->tensors[i];
        if (!t->trainable) continue;
        char name[256];
        golden_name(name, sizeof name, t->name);
        size_t n;
        float *want = rd_get_f32(g, name, &n);
        ck_assert_msg(want != NULL, "golden lacks %s", name);
        ck_assert_uint_eq(n, t->numel);
        double e = tu_rel_err(m->grads + t->offset, want, n, 1e-12);
        ck_assert_msg(e < 1e-4, "%s: gradient off by %.3g of its max", t->name, e);
        free(want);
        worst_grad = fmax(worst_grad, e);
        checked++;
    }
    ck_assert_uint_gt(checked, 0);
    printf("golden: logits max abs err %.2g, logprob %.2g, loss %.2g, worst of %zu gradients %.2g "
           "(relative to each tensor's max)\n", worst_logit, worst, fabs(loss - gloss[0]), checked,
           worst_grad);
    free(ids), free(lp), free(logits), free(gl), free(gtl), free(gloss);
}

static void grad_name_plain(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "grad.%s", name);
}

/* PEFT's gradient names carry the adapter name: lora_A.weight ->
 * lora_A.default.weight. */
static void grad_name_peft(char *buf, size_t len, const char *name)
{
    const char *at = strstr(name, ".lora_");
    ck_assert_ptr_nonnull(at);
    snprintf(buf, len, "grad.%.*s.default.weight", (int)(at + 7 - name), name);
}

static void run_full(const char *sub, size_t expect_tensors)
{
    char dir[512], path[600], err[256];
    rd_golden_path(dir, sizeof dir, sub);
    ref_config cfg = config_from(dir);
    ref_model m;
    ck_assert_int_eq(ref_init(&m, &cfg), 0);
    ck_assert_uint_eq(m.n_tensors, expect_tensors);
    rd_file f, g;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_msg(rd_open(&f, path, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(load_params(&m, &f), m.n_tensors);
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    ck_assert_msg(rd_open(&g, path, err, sizeof err) == 0, "%s", err);
    check_against_golden(&m, &g, grad_name_plain);
    rd_close(&f);
    rd_close(&g);
    ref_free(&m);
}

START_TEST(test_llama_tiny) { run_full("llama_tiny", 20); }
END_TEST

START_TEST(test_gpt2_tiny) { run_full("gpt2_tiny", 28); }
END_TEST

START_TEST(test_llama_tiny_lora)
{
    char dir[512], path[600], err[256];
    ref_config cfg = config_from(rd_golden_path(dir, sizeof dir, "llama_tiny"));
    lora_config lc;
    ck_assert_msg(lora_config_read(&lc, rd_golden_path(path, sizeof path,
                  "llama_tiny_lora/adapter_config.json"), err, sizeof err) == 0, "%s", err);
    cfg.lora_r = lc.r;
    cfg.lora_alpha = lc.alpha;
    static const char *mods[RM_COUNT] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                         "up_proj", "down_proj"};
    const char *tg[LORA_MAX_TARGETS];
    for (size_t i = 0; i < lc.n_targets; i++) tg[i] = lc.targets[i];
    for (int i = 0; i < RM_COUNT; i++) cfg.lora_targets[i] = lora_module_targeted(mods[i], tg, lc.n_targets);
    ref_model m;
    ck_assert_int_eq(ref_init(&m, &cfg), 0);
    rd_file base, ad, g;
    ck_assert_msg(rd_open(&base, rd_golden_path(path, sizeof path, "llama_tiny/model.safetensors"), err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rd_open(&ad, rd_golden_path(path, sizeof path, "llama_tiny_lora/adapter_model.safetensors"), err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rd_open(&g, rd_golden_path(path, sizeof path, "llama_tiny_lora/golden.safetensors"), err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(load_params(&m, &base), 20);
    ck_assert_uint_eq(load_params(&m, &ad), 12);
    check_against_golden(&m, &g, grad_name_peft);
    /* Only the adapters trained: every base gradient stayed zero. */
    for (size_t i = 0; i < m.n_tensors; i++)
        if (!m.tensors[i].trainable)
            ck_assert_float_eq(tu_max_abs(m.grads + m.tensors[i].offset, m.tensors[i].numel), 0.0f);
    rd_close(&base);
    rd_close(&ad);
    rd_close(&g);
    ref_free(&m);
}
END_TEST

/* Gradient accumulation: the golden batch as two micro-batches of one
 * sequence each, the loss normalised over the whole accumulated batch
 * (dlogprob = -1 / 46 for every predicted token), adds up to the golden
 * gradients of the full batch. */
START_TEST(test_llama_tiny_accumulated)
{
    char dir[512], path[600], err[256];
    rd_golden_path(dir, sizeof dir, "llama_tiny");
    ref_config cfg = config_from(dir);
    ref_model m;
    ck_assert_int_eq(ref_init(&m, &cfg), 0);
    rd_file f, g;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_msg(rd_open(&f, path, err, sizeof err) == 0, "%s", err);
    load_params(&m, &f);
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    ck_assert_msg(rd_open(&g, path, err, sizeof err) == 0, "%s", err);
    size_t nid;
    int32_t *ids = rd_get_i32(&g, "input_ids", &nid);
    size_t T = nid / 2;
    ck_assert_int_eq(ref_alloc_acts(&m, 1, T), 0);
    float *dlp = tu_zeros(T);
    for (size_t t = 0; t + 1 < T; t++) dlp[t] = -1.0f / (float)(2 * (T - 1));
    ref_zero_grads(&m);
    for (size_t s = 0; s < 2; s++) {
        ref_forward(&m, ids + s * T, 1.0f, NULL, NULL);
        ref_backward(&m, dlp);
    }
    for (size_t i = 0; i < m.n_tensors; i++) {
        char name[256];
        grad_name_plain(name, sizeof name, m.tensors[i].name);
        float *want = rd_get_f32(&g, name, NULL);
        double e = tu_rel_err(m.grads + m.tensors[i].offset, want, m.tensors[i].numel, 1e-12);
        ck_assert_msg(e < 1e-4, "%s: accumulated gradient off by %.3g", m.tensors[i].name, e);
        free(want);
    }
    free(ids), free(dlp);
    rd_close(&f);
    rd_close(&g);
    ref_free(&m);
}
END_TEST

/* The whole stack by finite differences, on what the goldens do not
 * cover: temperature, the interleaved rope, Qwen2 q/k/v biases and an
 * arbitrary weighting of the per-token logprobs. */
typedef struct {
    ref_model *m;
    const int32_t *ids;
    const float *w;
    float temp;
} stack_ctx;

static double stack_loss(void *p)
{
    stack_ctx *c = p;
    size_t N = c->m->b * c->m->t;
    float lp[64];
    ref_forward(c->m, c->ids, c->temp, lp, NULL);
    return tu_dot(c->w, lp, N);
}

START_TEST(test_stack_fd_variants)
{
    ref_config cfg = {.arch = REF_LLAMA, .n_layers = 2, .dim = 16, .n_heads = 4, .n_kv_heads = 2,
                      .head_dim = 4, .hidden = 24, .vocab = 11, .max_pos = 16, .eps = 1e-5f,
                      .rope_theta = 10000.0f, .rope = ROPE_INTERLEAVED, .tied = false,
                      .qkv_bias = true};
    ref_model m;
    ck_assert_int_eq(ref_init(&m, &cfg), 0);
    tu_rng g;
    tu_rng_seed(&g, 101);
    tu_fill(&g, m.params, m.n_params, -0.5f, 0.5f);
    for (size_t i = 0; i < m.n_tensors; i++) /* norm weights near 1 */
        if (strstr(m.tensors[i].name, "norm"))
            for (size_t j = 0; j < m.tensors[i].numel; j++) m.params[m.tensors[i].offset + j] += 1.0f;
    ck_assert_int_eq(ref_alloc_acts(&m, 2, 5), 0);
    static const int32_t ids[10] = {1, 4, 9, 2, 2, 7, 0, 3, 10, 5};
    float w[10];
    tu_fill(&g, w, 10, -1, 1);
    stack_ctx c = {.m = &m, .ids = ids, .w = w, .temp = 0.8f};
    stack_loss(&c);
    ref_zero_grads(&m);
    ref_backward(&m, w);
    float *grads = malloc(m.n_params * sizeof(float));
    memcpy(grads, m.grads, m.n_params * sizeof(float));
    for (size_t i = 0; i < m.n_tensors; i++) {
        const ref_tensor *t = &m.tensors[i];
        double e = tu_fd_check(t->name, m.params + t->offset, t->numel, grads + t->offset,
                               stack_loss, &c, 1e-2f, 40, 3e-3);
        ck_assert_msg(e < 3e-3, "%s: fd error %.3g", t->name, e);
    }
    free(grads);
    ref_free(&m);
}
END_TEST

static Suite *golden_suite(void)
{
    Suite *s = suite_create("train_golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_llama_tiny);
    tcase_add_test(tc, test_gpt2_tiny);
    tcase_add_test(tc, test_llama_tiny_lora);
    tcase_add_test(tc, test_llama_tiny_accumulated);
    tcase_add_test(tc, test_stack_fd_variants);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(golden_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
