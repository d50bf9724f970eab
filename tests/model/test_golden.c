/*
 * test_golden.c — logits, per-token logprobs and greedy continuations of
 * the tiny Llama and GPT-2 checkpoints against the Hugging Face reference
 * numbers in ../shared/golden (within 1e-4), through the engine and
 * through the plugin vtable.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "generate.h"
#include "model_util.h"

#define TOL 1e-4f

typedef struct golden {
    st_file f;
    int32_t ids[2][24];
    float *logits;          /* [2,24,V] */
    float *token_logprobs;  /* [2,23] */
    int32_t greedy[24];
} golden;

static void golden_load(golden *g, const char *name)
{
    char rel[256], err[512];
    snprintf(rel, sizeof rel, "golden/%s/golden.safetensors", name);
    ck_assert_msg(st_open(&g->f, mu_shared_path(rel), err, sizeof err) == RLAIF_OK, "%s", err);
    float *ids = mu_tensor(&g->f, "input_ids", NULL);
    for (int i = 0; i < 48; i++) g->ids[i / 24][i % 24] = (int32_t)ids[i];
    free(ids);
    float *gr = mu_tensor(&g->f, "greedy_ids", NULL);
    for (int i = 0; i < 24; i++) g->greedy[i] = (int32_t)gr[i];
    free(gr);
    g->logits = mu_tensor(&g->f, "logits", NULL);
    g->token_logprobs = mu_tensor(&g->f, "token_logprobs", NULL);
}

static void golden_free(golden *g)
{
    free(g->logits);
    free(g->token_logprobs);
    st_close(&g->f);
}

/* Engine level: every logit of both sequences, with and without kept
 * activations, on 1 and 2 threads. */
static void check_engine_logits(const char *name)
{
    golden g;
    golden_load(&g, name);
    char rel[256], err[512];
    snprintf(rel, sizeof rel, "golden/%s", name);
    tf_model *m = NULL;
    ck_assert_msg(tf_model_load_hf(mu_shared_path(rel), 0, 0, 0, &m, err, sizeof err) == RLAIF_OK,
                  "%s", err);
    size_t V = (size_t)m->cfg.vocab_size, D = (size_t)m->cfg.dim;
    for (int threads = 1; threads <= 2; threads++)
        for (int keep = 0; keep <= 1; keep++) {
            tf_engine e;
            ck_assert_int_eq(tf_engine_init(&e, m, threads, err, sizeof err), RLAIF_OK);
            const int32_t *ids[2] = {g.ids[0], g.ids[1]};
            size_t len[2] = {24, 24};
            ck_assert_msg(tf_forward(&e, 2, ids, len, keep, NULL, err, sizeof err) == RLAIF_OK,
                          "%s", err);
            float *logits = malloc(48 * V * sizeof *logits);
            for (size_t r = 0; r < 48; r += 16)
                tf_logits_rows(&e, logits + r * V, e.acts.xf + r * D, 16);
            float worst = 0;
            for (size_t i = 0; i < 48 * V; i++) {
                float d = fabsf(logits[i] - g.logits[i]);
                worst = d > worst ? d : worst;
            }
            ck_assert_msg(worst <= TOL, "%s: logits differ by %g (threads %d keep %d)", name,
                          worst, threads, keep);
            /* A kept forward also keeps the logits its scoring made. */
            float lp[48];
            tf_token_logprobs(&e, 1.0f, lp, NULL);
            ck_assert_int_eq(e.acts.logits_valid, keep);
            ck_assert(keep ? e.acts.logits_all != NULL : e.acts.logits_all == NULL);
            for (size_t i = 0; keep && i < 48 * V; i++)
                ck_assert_float_eq_tol(e.acts.logits_all[i], g.logits[i], TOL);
            for (int t = 0; t < 23; t++)
                ck_assert_float_eq_tol(lp[24 + t], g.token_logprobs[23 + t], TOL);
            free(logits);
            tf_engine_free(&e);
        }
    tf_model_free(m);
    golden_free(&g);
}

START_TEST(test_llama_logits) { check_engine_logits("llama_tiny"); }
END_TEST

START_TEST(test_gpt2_logits) { check_engine_logits("gpt2_tiny"); }
END_TEST

/* Plugin level: forward(LOGPROBS), next_logprobs and greedy generation. */
static void check_plugin(const char *name)
{
    golden g;
    golden_load(&g, name);
    char cfg[1024], err[512] = "";
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s/golden/%s\", \"threads\": 2}", mu_shared_dir(),
             name);
    rlc_instance *in = mu_model(cfg);
    const rlaif_model_vtable *vt = mu_vt(in);
    void *self = rlc_instance_self(in);
    rlaif_model_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(vt->info(self, &info), RLAIF_OK);
    size_t V = (size_t)info.vocab_size;

    const int32_t *ids[2] = {g.ids[0], g.ids[1]};
    size_t len[2] = {24, 24};
    rlaif_seqs s = {.struct_size = sizeof s, .n = 2, .ids = ids, .len = len};
    float lp[48], ent[48];
    rlaif_outputs o = {.struct_size = sizeof o, .logprobs = lp, .entropy = ent};
    ck_assert_msg(vt->forward(self, &s, RLAIF_OUT_LOGPROBS | RLAIF_OUT_ENTROPY, 1.0f, &o, err,
                              sizeof err) == RLAIF_OK, "%s", err);
    for (int b = 0; b < 2; b++) {
        for (int t = 0; t < 23; t++)
            ck_assert_msg(fabsf(lp[b * 24 + t] - g.token_logprobs[b * 23 + t]) <= TOL,
                          "%s: logprob seq %d pos %d: %g vs %g", name, b, t, lp[b * 24 + t],
                          g.token_logprobs[b * 23 + t]);
        ck_assert_float_eq(lp[b * 24 + 23], 0.0f);
        ck_assert_float_eq(ent[b * 24 + 23], 0.0f);
    }
    /* Entropy of position 0 of sequence 0 from the reference logits. */
    {
        const float *z = g.logits;
        double mx = -1e30, s0 = 0, s1 = 0;
        for (size_t i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
        for (size_t i = 0; i < V; i++) s0 += exp(z[i] - mx);
        for (size_t i = 0; i < V; i++) {
            double p = exp(z[i] - mx) / s0;
            s1 -= p * log(p);
        }
        ck_assert_msg(fabs(ent[0] - s1) < 1e-4, "entropy %g vs %g", ent[0], s1);
    }

    /* next_logprobs after the first 10 tokens = log_softmax of logits[0, 9]. */
    size_t l10 = 10;
    const int32_t *ids1[1] = {g.ids[0]};
    rlaif_seqs s1 = {.struct_size = sizeof s1, .n = 1, .ids = ids1, .len = &l10};
    float *nl = malloc(V * sizeof *nl);
    ck_assert_int_eq(vt->next_logprobs(self, &s1, nl, err, sizeof err), RLAIF_OK);
    const float *z = g.logits + 9 * V;
    double mx = -1e30, sum = 0;
    for (size_t i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
    for (size_t i = 0; i < V; i++) sum += exp(z[i] - mx);
    for (size_t i = 0; i < V; i++)
        ck_assert_msg(fabs(nl[i] - (z[i] - mx - log(sum))) <= TOL, "next_logprobs[%zu]", i);
    free(nl);

    /* Greedy: the first 8 ids then 16 new tokens, EOS not stopping. */
    size_t l8 = 8;
    rlaif_seqs p = {.struct_size = sizeof p, .n = 1, .ids = ids1, .len = &l8};
    rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = 0, .top_p = 1,
                         .max_new_tokens = 16, .ignore_eos = 1};
    int32_t out_ids[16];
    float out_lp[16];
    size_t n_new = 0;
    uint8_t fin = 9;
    rlaif_generation gen = {.struct_size = sizeof gen, .ids = out_ids, .logprobs = out_lp,
                            .n_new = &n_new, .finish = &fin};
    ck_assert_msg(vt->generate(self, &p, &sp, &gen, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_uint_eq(n_new, 16);
    ck_assert_int_eq(fin, RLAIF_FINISH_LENGTH);
    for (int i = 0; i < 16; i++)
        ck_assert_msg(out_ids[i] == g.greedy[8 + i], "%s: greedy token %d: %d vs %d", name, i,
                      out_ids[i], g.greedy[8 + i]);
    rlc_instance_unref(in);
    golden_free(&g);
}

START_TEST(test_llama_plugin) { check_plugin("llama_tiny"); }
END_TEST

START_TEST(test_gpt2_plugin) { check_plugin("gpt2_tiny"); }
END_TEST

/* The two rope_theta spellings and tie_word_embeddings are read. */
START_TEST(test_config_variants)
{
    tf_config c;
    char err[512];
    const char *a = "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,"
                    "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"vocab_size\":512,"
                    "\"rope_theta\":500000.0,\"tie_word_embeddings\":true}";
    ck_assert_int_eq(tf_config_parse_hf(a, strlen(a), "a.json", &c, err, sizeof err), RLAIF_OK);
    ck_assert_float_eq(c.rope_theta, 500000.0f);
    ck_assert_int_eq(c.tied, 1);
    ck_assert_int_eq(c.n_kv_heads, 8);
    ck_assert_int_eq(c.head_dim, 8);
    const char *b = "{\"model_type\":\"qwen2\",\"hidden_size\":64,\"intermediate_size\":172,"
                    "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"num_key_value_heads\":2,"
                    "\"vocab_size\":512,\"rope_parameters\":{\"rope_theta\":1000.0,"
                    "\"rope_type\":\"default\"}}";
    ck_assert_int_eq(tf_config_parse_hf(b, strlen(b), "b.json", &c, err, sizeof err), RLAIF_OK);
    ck_assert_float_eq(c.rope_theta, 1000.0f);
    ck_assert_int_eq(c.arch, TF_QWEN2);
    ck_assert_int_eq(c.qkv_bias, 1);
    ck_assert_int_eq(c.tied, 0);
    const char *u = "{\"model_type\":\"bert\"}";
    ck_assert_int_eq(tf_config_parse_hf(u, strlen(u), "u.json", &c, err, sizeof err),
                     RLAIF_E_UNSUPPORTED);
    ck_assert_msg(strstr(err, "u.json") && strstr(err, "unsupported architecture 'bert'"), "%s",
                  err);
    const char *m = "{\"model_type\":\"llama\",\"hidden_size\":64}";
    ck_assert_int_eq(tf_config_parse_hf(m, strlen(m), "m.json", &c, err, sizeof err),
                     RLAIF_E_FORMAT);
    ck_assert_msg(strstr(err, "missing key 'intermediate_size'"), "%s", err);
    const char *r = "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,"
                    "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"vocab_size\":512,"
                    "\"rope_scaling\":{\"rope_type\":\"yarn\"}}";
    ck_assert_int_eq(tf_config_parse_hf(r, strlen(r), "r.json", &c, err, sizeof err),
                     RLAIF_E_UNSUPPORTED);
}
END_TEST

/* Plugin config errors name the key. */
START_TEST(test_plugin_config_errors)
{
    char err[1024] = "";
    ck_assert_ptr_null(mu_model_try("{\"threads\": 2}", err, sizeof err));
    ck_assert_msg(strstr(err, "'path'"), "%s", err);
    ck_assert_ptr_null(mu_model_try("{\"path\": \"/nonexistent/x.bin\"}", err, sizeof err));
    ck_assert_msg(strstr(err, "/nonexistent/x.bin"), "%s", err);
    ck_assert_ptr_null(mu_model_try("{\"path\": \"x\", \"thread\": 1}", err, sizeof err));
    ck_assert_msg(strstr(err, "thread"), "%s", err);
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s/golden/llama_tiny\"}", mu_shared_dir());
    rlc_instance *in = mu_model(cfg);
    const rlaif_model_vtable *vt = mu_vt(in);
    int32_t ids[3] = {1, 5, 600};
    size_t len = 3;
    const int32_t *pids[1] = {ids};
    rlaif_seqs s = {.struct_size = sizeof s, .n = 1, .ids = pids, .len = &len};
    float lp[3], val[3];
    rlaif_outputs o = {.struct_size = sizeof o, .logprobs = lp, .values = val};
    ck_assert_int_eq(vt->forward(rlc_instance_self(in), &s, RLAIF_OUT_LOGPROBS, 1, &o, err,
                                 sizeof err), RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "sequence 0 token 2") && strstr(err, "600"), "%s", err);
    ids[2] = 7;
    ck_assert_int_eq(vt->forward(rlc_instance_self(in), &s, RLAIF_OUT_VALUES, 1, &o, err,
                                 sizeof err), RLAIF_E_UNSUPPORTED);
    ck_assert_int_eq(vt->tokenize(rlc_instance_self(in), "hi", 2, 1, ids, 3, &len, err,
                                  sizeof err), RLAIF_E_UNSUPPORTED);
    rlc_instance_unref(in);
}
END_TEST

/* Value and score heads: the plugin's outputs are the heads applied to the
 * engine's final hidden states; values are causal (a prefix gets the same
 * values); the heads are initialised from the seed. */
START_TEST(test_heads)
{
    char cfg[1024], err[512] = "";
    snprintf(cfg, sizeof cfg,
             "{\"path\": \"%s/golden/llama_tiny\", \"value_head\": true, \"score_head\": true, "
             "\"seed\": 5}", mu_shared_dir());
    rlc_instance *in = mu_model(cfg);
    const rlaif_model_vtable *vt = mu_vt(in);
    void *self = rlc_instance_self(in);
    rlaif_model_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(vt->info(self, &info), RLAIF_OK);
    ck_assert_int_eq(info.has_value_head, 1);
    ck_assert_int_eq(info.has_score_head, 1);
    int32_t a[12] = {1, 5, 9, 30, 2, 7, 100, 4, 3, 8, 11, 12};
    const int32_t *ids[2] = {a, a};
    size_t len[2] = {12, 7};
    rlaif_seqs s = {.struct_size = sizeof s, .n = 2, .ids = ids, .len = len};
    float val[19], score[2];
    rlaif_outputs o = {.struct_size = sizeof o, .values = val, .score = score};
    ck_assert_msg(vt->forward(self, &s, RLAIF_OUT_VALUES | RLAIF_OUT_SCORE | RLAIF_OUT_KEEP, 1.0f,
                              &o, err, sizeof err) == RLAIF_OK, "%s", err);
    for (int t = 0; t < 7; t++) ck_assert_float_eq_tol(val[12 + t], val[t], 1e-5f);

    tf_model *m = NULL;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/golden/llama_tiny", mu_shared_dir());
    ck_assert_int_eq(tf_model_load_hf(dir, 1, 1, 5, &m, err, sizeof err), RLAIF_OK);
    tf_engine e;
    ck_assert_int_eq(tf_engine_init(&e, m, 1, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(tf_forward(&e, 2, ids, len, 0, NULL, err, sizeof err), RLAIF_OK);
    size_t D = (size_t)m->cfg.dim;
    float vb = m->w.value_b[0];
    ck_assert_float_eq(vb, 0.0f);
    double norm_w = 0;
    for (size_t i = 0; i < D; i++) norm_w += m->w.value_w[i] * m->w.value_w[i];
    ck_assert_msg(norm_w > 0, "value head left at zero");
    for (int t = 0; t < 19; t++) {
        double v = vb;
        for (size_t i = 0; i < D; i++) v += (double)e.acts.xf[t * D + i] * m->w.value_w[i];
        ck_assert_float_eq_tol(val[t], v, 1e-5);
    }
    for (int b = 0; b < 2; b++) {
        size_t last = b == 0 ? 11 : 18;
        double sc = 0;
        for (size_t i = 0; i < D; i++) sc += (double)e.acts.xf[last * D + i] * m->w.score_w[i];
        ck_assert_float_eq_tol(score[b], sc, 1e-5);
    }
    tf_engine_free(&e);
    tf_model_free(m);
    rlc_instance_unref(in);
}
END_TEST

/* The same checkpoint stored as F16 and as BF16 loads and gives logits
 * close to the F32 reference (within the formats' precision). */
static void convert_checkpoint(const char *dst_dir, int bf16)
{
    char src[4096], path[4200], err[512];
    snprintf(src, sizeof src, "%s/golden/llama_tiny/model.safetensors", mu_shared_dir());
    st_file f;
    ck_assert_int_eq(st_open(&f, src, err, sizeof err), RLAIF_OK);
    size_t cap = 1 << 16, o = 0, off = 0;
    char *h = malloc(cap);
    o += (size_t)snprintf(h, cap, "{");
    for (size_t i = 0; i < f.n; i++) {
        const st_tensor *t = &f.t[i];
        o += (size_t)snprintf(h + o, cap - o, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld",
                              i ? "," : "", t->name, bf16 ? "BF16" : "F16", (long long)t->shape[0]);
        if (t->ndim == 2) o += (size_t)snprintf(h + o, cap - o, ",%lld", (long long)t->shape[1]);
        o += (size_t)snprintf(h + o, cap - o, "],\"data_offsets\":[%zu,%zu]}", off, off + 2 * t->numel);
        off += 2 * t->numel;
    }
    o += (size_t)snprintf(h + o, cap - o, "}");
    snprintf(path, sizeof path, "%s/model.safetensors", dst_dir);
    FILE *out = fopen(path, "wb");
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)((uint64_t)o >> (8 * i));
    fwrite(le, 1, 8, out);
    fwrite(h, 1, o, out);
    for (size_t i = 0; i < f.n; i++) {
        float *x = mu_tensor(&f, f.t[i].name, NULL);
        for (size_t k = 0; k < f.t[i].numel; k++) {
            uint32_t bits;
            memcpy(&bits, &x[k], 4);
            uint16_t v;
            if (bf16) {
                v = (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16); /* round to nearest even */
            } else {
                /* normal-range values only (weights here are small but not tiny) */
                uint32_t sign = (bits >> 16) & 0x8000;
                int ex = (int)((bits >> 23) & 0xff) - 127 + 15;
                uint32_t man = bits & 0x7fffff;
                if (ex <= 0) v = (uint16_t)sign;
                else v = (uint16_t)(sign | (((uint32_t)ex << 10) + ((man + 0x1000) >> 13)));
            }
            fwrite(&v, 2, 1, out);
        }
        free(x);
    }
    fclose(out);
    free(h);
    st_close(&f);
    snprintf(src, sizeof src, "cp %s/golden/llama_tiny/config.json %s/", mu_shared_dir(), dst_dir);
    ck_assert_int_eq(system(src), 0);
}

START_TEST(test_half_precision_checkpoints)
{
    golden g;
    golden_load(&g, "llama_tiny");
    for (int bf16 = 0; bf16 < 2; bf16++) {
        char *dir = mu_tempdir();
        convert_checkpoint(dir, bf16);
        tf_model *m = NULL;
        char err[512];
        ck_assert_msg(tf_model_load_hf(dir, 0, 0, 0, &m, err, sizeof err) == RLAIF_OK, "%s", err);
        tf_engine e;
        ck_assert_int_eq(tf_engine_init(&e, m, 1, err, sizeof err), RLAIF_OK);
        const int32_t *ids[2] = {g.ids[0], g.ids[1]};
        size_t len[2] = {24, 24}, V = (size_t)m->cfg.vocab_size;
        ck_assert_int_eq(tf_forward(&e, 2, ids, len, 0, NULL, err, sizeof err), RLAIF_OK);
        float *logits = malloc(48 * V * sizeof *logits);
        tf_logits_rows(&e, logits, e.acts.xf, 48);
        float worst = 0;
        for (size_t i = 0; i < 48 * V; i++) worst = fmaxf(worst, fabsf(logits[i] - g.logits[i]));
        ck_assert_msg(worst < (bf16 ? 0.02f : 0.002f) && worst > 0, "%s: logits differ by %g",
                      bf16 ? "bf16" : "f16", worst);
        free(logits);
        tf_engine_free(&e);
        tf_model_free(m);
        mu_rmtree(dir);
        free(dir);
    }
    golden_free(&g);
}
END_TEST

/* GPT-2 (learned positions in the decode step) and Llama: ragged prompts
 * in one batch continue exactly as they do alone, greedy and sampled. */
static void check_ragged_batch(const char *name)
{
    golden g;
    golden_load(&g, name);
    char cfg[1024], err[512] = "";
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s/golden/%s\", \"threads\": 2}", mu_shared_dir(),
             name);
    rlc_instance *in = mu_model(cfg);
    const rlaif_model_vtable *vt = mu_vt(in);
    void *self = rlc_instance_self(in);
    const int32_t *ids[3] = {g.ids[0], g.ids[1], g.ids[0] + 3};
    size_t len[3] = {5, 13, 1};
    uint64_t seeds[3] = {3, 4, 5};
    for (int sampled = 0; sampled < 2; sampled++) {
        rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = sampled ? 1.3f : 0,
                             .top_p = sampled ? 0.9f : 1, .max_new_tokens = 20,
                             .seeds = seeds, .ignore_eos = 1};
        int32_t all_ids[60], one_ids[20];
        float all_lp[60], one_lp[20];
        size_t all_n[3], one_n;
        uint8_t all_f[3], one_f;
        rlaif_seqs s = {.struct_size = sizeof s, .n = 3, .ids = ids, .len = len};
        rlaif_generation ga = {.struct_size = sizeof ga, .ids = all_ids, .logprobs = all_lp,
                               .n_new = all_n, .finish = all_f};
        ck_assert_msg(vt->generate(self, &s, &sp, &ga, err, sizeof err) == RLAIF_OK, "%s", err);
        for (int b = 0; b < 3; b++) {
            rlaif_seqs s1 = {.struct_size = sizeof s1, .n = 1, .ids = &ids[b], .len = &len[b]};
            rlaif_generation g1 = {.struct_size = sizeof g1, .ids = one_ids, .logprobs = one_lp,
                                   .n_new = &one_n, .finish = &one_f};
            sp.seeds = &seeds[b];
            ck_assert_int_eq(vt->generate(self, &s1, &sp, &g1, err, sizeof err), RLAIF_OK);
            sp.seeds = seeds;
            ck_assert_uint_eq(one_n, 20);
            ck_assert_uint_eq(all_n[b], 20);
            for (int t = 0; t < 20; t++) {
                ck_assert_msg(one_ids[t] == all_ids[b * 20 + t], "%s %s prompt %d token %d",
                              name, sampled ? "sampled" : "greedy", b, t);
                ck_assert_float_eq_tol(one_lp[t], all_lp[b * 20 + t], 1e-4f);
            }
        }
    }
    rlc_instance_unref(in);
    golden_free(&g);
}

START_TEST(test_ragged_batches)
{
    check_ragged_batch("gpt2_tiny");
    check_ragged_batch("llama_tiny");
}
END_TEST

/* bf16 decode copies follow tf_model.version: after a weight change and a
 * version bump, generation sees the new weights. */
START_TEST(test_bf16_follows_version)
{
    char dir[4096], err[512];
    snprintf(dir, sizeof dir, "%s/golden/llama_tiny", mu_shared_dir());
    tf_model *m = NULL;
    ck_assert_int_eq(tf_model_load_hf(dir, 0, 0, 0, &m, err, sizeof err), RLAIF_OK);
    tf_engine e;
    ck_assert_int_eq(tf_engine_init(&e, m, 2, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(tf_engine_use_bf16_decode(&e, err, sizeof err), RLAIF_OK);
    int32_t prompt[3] = {1, 17, 42}, out[4], out2[4];
    float lp[4];
    size_t len = 3, n_new;
    uint8_t fin;
    const int32_t *pp[1] = {prompt};
    tf_gen_params gp = {.temperature = 0, .top_p = 1, .max_new = 4};
    ck_assert_int_eq(tf_generate(&e, 1, pp, &len, &gp, out, lp, &n_new, &fin, err, sizeof err),
                     RLAIF_OK);
    /* Change one LM-head row and a down projection: the copies are stale
     * until the version moves, then the next generate remakes them. */
    size_t D = (size_t)m->cfg.dim;
    for (size_t i = 0; i < D; i++) m->w.lm_head[300 * D + i] = 0.5f + (float)i;
    m->w.layers[1].w_down[7] = 3.0f;
    ck_assert_int_eq(tf_generate(&e, 1, pp, &len, &gp, out2, lp, &n_new, &fin, err, sizeof err),
                     RLAIF_OK);
    ck_assert_uint_ne(e.w16_lm[300 * D + 1], 0x3FC0);
    m->version++;
    ck_assert_int_eq(tf_generate(&e, 1, pp, &len, &gp, out2, lp, &n_new, &fin, err, sizeof err),
                     RLAIF_OK);
    ck_assert_uint_eq(e.w16_lm[300 * D + 1], 0x3FC0); /* 1.5 */
    ck_assert_uint_eq(e.w16_layers[1].w_down[7], 0x4040); /* 3.0 */
    tf_engine_free(&e);
    tf_model_free(m);
}
END_TEST

/* The original GPT-2 checkpoints name tensors without "transformer." and
 * carry attention-mask buffers (h.N.attn.bias): both load. */
START_TEST(test_gpt2_unprefixed_names)
{
    char src[4096], path[4200], err[512];
    snprintf(src, sizeof src, "%s/golden/gpt2_tiny/model.safetensors", mu_shared_dir());
    st_file f;
    ck_assert_int_eq(st_open(&f, src, err, sizeof err), RLAIF_OK);
    const char *names[64];
    const float *data[64];
    int nd[64];
    size_t sh[64][2];
    char buf[64][128];
    size_t n = 0;
    for (size_t i = 0; i < f.n; i++, n++) {
        const char *name = f.t[i].name;
        snprintf(buf[n], sizeof buf[n], "%s",
                 strncmp(name, "transformer.", 12) ? name : name + 12);
        names[n] = buf[n];
        data[n] = mu_tensor(&f, name, NULL);
        nd[n] = f.t[i].ndim;
        sh[n][0] = (size_t)f.t[i].shape[0];
        sh[n][1] = f.t[i].ndim > 1 ? (size_t)f.t[i].shape[1] : 0;
    }
    static float mask[128 * 128];
    names[n] = "h.0.attn.bias", data[n] = mask, nd[n] = 2, sh[n][0] = 128, sh[n][1] = 128, n++;
    char *dir = mu_tempdir();
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mu_write_safetensors(path, n, names, nd, (const size_t(*)[2])sh, data);
    for (size_t i = 0; i + 1 < n; i++) free((void *)data[i]);
    st_close(&f);
    snprintf(path, sizeof path, "cp %s/golden/gpt2_tiny/config.json %s/", mu_shared_dir(), dir);
    ck_assert_int_eq(system(path), 0);

    golden g;
    golden_load(&g, "gpt2_tiny");
    tf_model *m = NULL;
    ck_assert_msg(tf_model_load_hf(dir, 0, 0, 0, &m, err, sizeof err) == RLAIF_OK, "%s", err);
    tf_engine e;
    ck_assert_int_eq(tf_engine_init(&e, m, 1, err, sizeof err), RLAIF_OK);
    const int32_t *ids[2] = {g.ids[0], g.ids[1]};
    size_t len[2] = {24, 24}, V = (size_t)m->cfg.vocab_size;
    ck_assert_int_eq(tf_forward(&e, 2, ids, len, 0, NULL, err, sizeof err), RLAIF_OK);
    float *logits = malloc(48 * V * sizeof *logits);
    tf_logits_rows(&e, logits, e.acts.xf, 48);
    for (size_t i = 0; i < 48 * V; i++) ck_assert_float_eq_tol(logits[i], g.logits[i], TOL);
    free(logits);
    tf_engine_free(&e);
    tf_model_free(m);
    golden_free(&g);
    mu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model_golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_llama_logits);
    tcase_add_test(tc, test_gpt2_logits);
    tcase_add_test(tc, test_llama_plugin);
    tcase_add_test(tc, test_gpt2_plugin);
    tcase_add_test(tc, test_config_variants);
    tcase_add_test(tc, test_plugin_config_errors);
    tcase_add_test(tc, test_heads);
    tcase_add_test(tc, test_ragged_batches);
    tcase_add_test(tc, test_bf16_follows_version);
    tcase_add_test(tc, test_gpt2_unprefixed_names);
    tcase_add_test(tc, test_half_precision_checkpoints);
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
