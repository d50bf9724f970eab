/*
 * test_qwen2.c — a tiny random Qwen2 checkpoint (q/k/v biases, GQA,
 * untied head, non-default rope_theta), written here as a sharded Hugging
 * Face folder, must give the logits of a naive double-precision reference
 * forward written independently below.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "generate.h"
#include "model_util.h"

enum { D = 32, H = 4, KV = 2, HD = 8, F = 48, L = 2, V = 64, T = 11 };
static const double THETA = 1000.0, EPS = 1e-6;

/* The checkpoint's tensors, filled from a fixed pseudo-random stream. */
static float emb[V][D], lm[V][D], normf[D];
static float ln1[L][D], ln2[L][D], wq[L][H * HD][D], wk[L][KV * HD][D], wv[L][KV * HD][D];
static float bq[L][H * HD], bk[L][KV * HD], bv[L][KV * HD], wo[L][D][H * HD];
static float wg[L][F][D], wu[L][F][D], wd[L][D][F];

static uint64_t rng = 42;
static float rnd(float scale)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return scale * ((float)(rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}

static void fill(float *x, size_t n, float scale, float offset)
{
    for (size_t i = 0; i < n; i++) x[i] = offset + rnd(scale);
}

static void make_weights(void)
{
    fill(&emb[0][0], sizeof emb / 4, 1.0f, 0);
    fill(&lm[0][0], sizeof lm / 4, 0.3f, 0);
    fill(normf, D, 0.2f, 1.0f);
    fill(&ln1[0][0], sizeof ln1 / 4, 0.2f, 1.0f);
    fill(&ln2[0][0], sizeof ln2 / 4, 0.2f, 1.0f);
    fill(&wq[0][0][0], sizeof wq / 4, 0.3f, 0);
    fill(&wk[0][0][0], sizeof wk / 4, 0.3f, 0);
    fill(&wv[0][0][0], sizeof wv / 4, 0.3f, 0);
    fill(&bq[0][0], sizeof bq / 4, 0.5f, 0);
    fill(&bk[0][0], sizeof bk / 4, 0.5f, 0);
    fill(&bv[0][0], sizeof bv / 4, 0.5f, 0);
    fill(&wo[0][0][0], sizeof wo / 4, 0.3f, 0);
    fill(&wg[0][0][0], sizeof wg / 4, 0.3f, 0);
    fill(&wu[0][0][0], sizeof wu / 4, 0.3f, 0);
    fill(&wd[0][0][0], sizeof wd / 4, 0.3f, 0);
}

/* ----- the naive reference ----------------------------------------------- */

static void rmsnorm(double *out, const double *x, const float *w)
{
    double ss = 0;
    for (int i = 0; i < D; i++) ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / D + EPS);
    for (int i = 0; i < D; i++) out[i] = x[i] * r * w[i];
}

/* Hugging Face rotate-half RoPE on one head vector at position p. */
static void rope(double *v, int p)
{
    for (int i = 0; i < HD / 2; i++) {
        double a = p * pow(THETA, -2.0 * i / HD), c = cos(a), s = sin(a);
        double x0 = v[i], x1 = v[i + HD / 2];
        v[i] = x0 * c - x1 * s;
        v[i + HD / 2] = x0 * s + x1 * c;
    }
}

static void reference(const int32_t *ids, double logits[T][V])
{
    static double x[T][D], xn[T][D], q[T][H * HD], k[T][KV * HD], v[T][KV * HD], att[T][H * HD];
    for (int t = 0; t < T; t++)
        for (int i = 0; i < D; i++) x[t][i] = emb[ids[t]][i];
    for (int l = 0; l < L; l++) {
        for (int t = 0; t < T; t++) {
            rmsnorm(xn[t], x[t], ln1[l]);
            for (int o = 0; o < H * HD; o++) {
                double s = bq[l][o];
                for (int i = 0; i < D; i++) s += wq[l][o][i] * xn[t][i];
                q[t][o] = s;
            }
            for (int o = 0; o < KV * HD; o++) {
                double sk = bk[l][o], sv = bv[l][o];
                for (int i = 0; i < D; i++) {
                    sk += wk[l][o][i] * xn[t][i];
                    sv += wv[l][o][i] * xn[t][i];
                }
                k[t][o] = sk;
                v[t][o] = sv;
            }
            for (int h = 0; h < H; h++) rope(&q[t][h * HD], t);
            for (int h = 0; h < KV; h++) rope(&k[t][h * HD], t);
        }
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) {
                int g = h / (H / KV);
                double s[T], mx = -1e300, sum = 0;
                for (int j = 0; j <= t; j++) {
                    double d = 0;
                    for (int i = 0; i < HD; i++) d += q[t][h * HD + i] * k[j][g * HD + i];
                    s[j] = d / sqrt((double)HD);
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int j = 0; j <= t; j++) sum += (s[j] = exp(s[j] - mx));
                for (int i = 0; i < HD; i++) {
                    double o = 0;
                    for (int j = 0; j <= t; j++) o += s[j] / sum * v[j][g * HD + i];
                    att[t][h * HD + i] = o;
                }
            }
        for (int t = 0; t < T; t++) {
            for (int o = 0; o < D; o++) {
                double s = 0;
                for (int i = 0; i < H * HD; i++) s += wo[l][o][i] * att[t][i];
                x[t][o] += s;
            }
            rmsnorm(xn[t], x[t], ln2[l]);
            double hbuf[F];
            for (int f = 0; f < F; f++) {
                double g = 0, u = 0;
                for (int i = 0; i < D; i++) {
                    g += wg[l][f][i] * xn[t][i];
                    u += wu[l][f][i] * xn[t][i];
                }
                hbuf[f] = g / (1 + exp(-g)) * u;
            }
            for (int o = 0; o < D; o++) {
                double s = 0;
                for (int f = 0; f < F; f++) s += wd[l][o][f] * hbuf[f];
                x[t][o] += s;
            }
        }
    }
    for (int t = 0; t < T; t++) {
        rmsnorm(xn[t], x[t], normf);
        for (int o = 0; o < V; o++) {
            double s = 0;
            for (int i = 0; i < D; i++) s += lm[o][i] * xn[t][i];
            logits[t][o] = s;
        }
    }
}

/* ----- writing the checkpoint -------------------------------------------- */

static void write_json(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Layer tensors go to shard 1, the rest to shard 2, with an index. */
static void write_checkpoint(const char *dir)
{
    char path[4096], names[L][12][96];
    const char *n1[L * 12];
    const float *d1[L * 12];
    int nd1[L * 12];
    size_t sh1[L * 12][2];
    size_t k = 0;
    for (int l = 0; l < L; l++) {
        struct { const char *suffix; const float *data; int nd; size_t a, b; } t[12] = {
            {"input_layernorm.weight", ln1[l], 1, D, 0},
            {"post_attention_layernorm.weight", ln2[l], 1, D, 0},
            {"self_attn.q_proj.weight", &wq[l][0][0], 2, H * HD, D},
            {"self_attn.k_proj.weight", &wk[l][0][0], 2, KV * HD, D},
            {"self_attn.v_proj.weight", &wv[l][0][0], 2, KV * HD, D},
            {"self_attn.q_proj.bias", bq[l], 1, H * HD, 0},
            {"self_attn.k_proj.bias", bk[l], 1, KV * HD, 0},
            {"self_attn.v_proj.bias", bv[l], 1, KV * HD, 0},
            {"self_attn.o_proj.weight", &wo[l][0][0], 2, D, H * HD},
            {"mlp.gate_proj.weight", &wg[l][0][0], 2, F, D},
            {"mlp.up_proj.weight", &wu[l][0][0], 2, F, D},
            {"mlp.down_proj.weight", &wd[l][0][0], 2, D, F},
        };
        for (int i = 0; i < 12; i++, k++) {
            snprintf(names[l][i], sizeof names[l][i], "model.layers.%d.%s", l, t[i].suffix);
            n1[k] = names[l][i];
            d1[k] = t[i].data;
            nd1[k] = t[i].nd;
            sh1[k][0] = t[i].a;
            sh1[k][1] = t[i].b;
        }
    }
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    mu_write_safetensors(path, k, n1, nd1, (const size_t(*)[2])sh1, d1);
    const char *n2[3] = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};
    const float *d2[3] = {&emb[0][0], normf, &lm[0][0]};
    int nd2[3] = {2, 1, 2};
    size_t sh2[3][2] = {{V, D}, {D, 0}, {V, D}};
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    mu_write_safetensors(path, 3, n2, nd2, (const size_t(*)[2])sh2, d2);
    /* The index. */
    char idx[16384];
    size_t o = (size_t)snprintf(idx, sizeof idx, "{\"metadata\":{},\"weight_map\":{");
    for (size_t i = 0; i < k; i++)
        o += (size_t)snprintf(idx + o, sizeof idx - o, "\"%s\":\"model-00001-of-00002.safetensors\",",
                              n1[i]);
    for (int i = 0; i < 3; i++)
        o += (size_t)snprintf(idx + o, sizeof idx - o, "\"%s\":\"model-00002-of-00002.safetensors\"%s",
                              n2[i], i < 2 ? "," : "");
    snprintf(idx + o, sizeof idx - o, "}}");
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_json(path, idx);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_json(path, "{\"architectures\":[\"Qwen2ForCausalLM\"],\"model_type\":\"qwen2\","
                     "\"hidden_size\":32,\"intermediate_size\":48,\"num_hidden_layers\":2,"
                     "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":64,"
                     "\"max_position_embeddings\":64,\"rms_norm_eps\":1e-06,"
                     "\"rope_theta\":1000.0,\"tie_word_embeddings\":false,"
                     "\"hidden_act\":\"silu\",\"use_sliding_window\":false,"
                     "\"bos_token_id\":null,\"eos_token_id\":3}");
}

START_TEST(test_qwen2_matches_reference)
{
    make_weights();
    char *dir = mu_tempdir();
    write_checkpoint(dir);
    int32_t ids[T];
    for (int t = 0; t < T; t++) ids[t] = (int32_t)((t * 37 + 5) % V);
    static double want[T][V];
    reference(ids, want);

    char err[512];
    tf_model *m = NULL;
    ck_assert_msg(tf_model_load_hf(dir, 0, 0, 0, &m, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_int_eq(m->cfg.arch, TF_QWEN2);
    ck_assert_int_eq(m->cfg.eos_id, 3);
    ck_assert_int_eq(m->cfg.bos_id, -1);
    tf_engine e;
    ck_assert_int_eq(tf_engine_init(&e, m, 2, err, sizeof err), RLAIF_OK);
    /* The same sequence twice in a ragged batch with a shorter one between. */
    const int32_t *seqs[3] = {ids, ids, ids};
    size_t len[3] = {T, 4, T};
    ck_assert_msg(tf_forward(&e, 3, seqs, len, 1, NULL, err, sizeof err) == RLAIF_OK, "%s", err);
    float logits[(2 * T + 4) * V];
    tf_logits_rows(&e, logits, e.acts.xf, 2 * T + 4);
    double worst = 0;
    for (int t = 0; t < T; t++)
        for (int o = 0; o < V; o++) {
            double d0 = fabs(logits[t * V + o] - want[t][o]);
            double d2 = fabs(logits[(T + 4 + t) * V + o] - want[t][o]);
            worst = fmax(worst, fmax(d0, d2));
            if (t < 4) worst = fmax(worst, fabs(logits[(T + t) * V + o] - want[t][o]));
        }
    ck_assert_msg(worst < 1e-4, "qwen2 logits differ from the reference by %g", worst);

    /* Greedy decoding through the KV cache agrees with re-running the
     * full forward on the growing sequence. */
    rlaif_status st;
    tf_gen_params gp = {.temperature = 0, .top_p = 1, .max_new = 6};
    int32_t out[6];
    float lp[6];
    size_t n_new;
    uint8_t fin;
    const int32_t *p1[1] = {ids};
    size_t l5 = 5;
    st = tf_generate(&e, 1, p1, &l5, &gp, out, lp, &n_new, &fin, err, sizeof err);
    ck_assert_msg(st == RLAIF_OK, "%s", err);
    int32_t grow[16];
    memcpy(grow, ids, 5 * sizeof *grow);
    for (int i = 0; i < 6; i++) {
        size_t n = 5 + (size_t)i;
        const int32_t *pg[1] = {grow};
        ck_assert_int_eq(tf_forward(&e, 1, pg, &n, 0, NULL, err, sizeof err), RLAIF_OK);
        float row[V];
        tf_logits_rows(&e, row, e.acts.xf + (n - 1) * D, 1);
        int best = 0;
        for (int o = 1; o < V; o++)
            if (row[o] > row[best]) best = o;
        ck_assert_int_eq(out[i], best);
        grow[n] = best;
    }
    tf_engine_free(&e);
    tf_model_free(m);
    mu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model_qwen2");
    TCase *tc = tcase_create("qwen2");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_qwen2_matches_reference);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
