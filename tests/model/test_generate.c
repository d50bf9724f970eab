/*
 * test_generate.c — generation on the real stories260K model: greedy output
 * reproduces llama2.c's byte for byte; batching, seeds and stops behave;
 * the logprob returned for each sampled token equals the one forward()
 * computes at the same temperature.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_util.h"

static rlc_instance *g_in;
static const rlaif_model_vtable *g_vt;
static void *g_self;

static const char *source_dir(void)
{
    const char *s = getenv("RLAIF_SOURCE_DIR");
    return s && *s ? s : ".";
}

static void setup(void)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s/models/stories260K/stories260K.bin\", \"threads\": 2}",
             source_dir());
    g_in = mu_model(cfg);
    g_vt = mu_vt(g_in);
    g_self = rlc_instance_self(g_in);
}

static void teardown(void) { rlc_instance_unref(g_in); }

static size_t tokenize(const char *text, int32_t *ids, size_t cap)
{
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(g_vt->tokenize(g_self, text, strlen(text), 1, ids, cap, &n, err, sizeof err),
                     RLAIF_OK);
    return n;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

typedef struct gen_out {
    int32_t ids[8][512];
    float lp[8][512];
    size_t n_new[8];
    uint8_t finish[8];
} gen_out;

/* Generates for n prompts with settings `sp` (max_new_tokens <= 512). */
static void generate(size_t n, const int32_t *const *prompts, const size_t *len,
                     rlaif_sampling *sp, gen_out *o)
{
    static int32_t ids[8 * 512];
    static float lp[8 * 512];
    char err[512] = "";
    rlaif_seqs s = {.struct_size = sizeof s, .n = n, .ids = prompts, .len = len};
    rlaif_generation g = {.struct_size = sizeof g, .ids = ids, .logprobs = lp, .n_new = o->n_new,
                          .finish = o->finish};
    ck_assert_msg(g_vt->generate(g_self, &s, sp, &g, err, sizeof err) == RLAIF_OK, "%s", err);
    for (size_t b = 0; b < n; b++) {
        memcpy(o->ids[b], ids + b * sp->max_new_tokens, o->n_new[b] * sizeof(int32_t));
        memcpy(o->lp[b], lp + b * sp->max_new_tokens, o->n_new[b] * sizeof(float));
    }
}

/* llama2.c's run.c: BOS then the prompt, `steps` positions in all, stop
 * at BOS (and here EOS), print every piece after BOS, then a newline. */
static void check_expected(const char *prompt, size_t steps, const char *expected_file)
{
    int32_t p[600];
    size_t np = tokenize(prompt, p, 600);
    ck_assert_int_eq(p[0], 1);
    int32_t stops[1] = {1};
    rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = 0, .top_p = 1,
                         .max_new_tokens = (uint32_t)(steps - np + 1), .stop_ids = stops,
                         .n_stop_ids = 1};
    const int32_t *pp[1] = {p};
    static gen_out o;
    generate(1, pp, &np, &sp, &o);
    int32_t all[1200];
    memcpy(all, p, np * sizeof *all);
    size_t n = np;
    for (size_t i = 0; i < o.n_new[0]; i++)
        if (o.ids[0][i] != 1 && o.ids[0][i] != 2) all[n++] = o.ids[0][i];
    char text[8192], err[256];
    size_t tl = 0;
    ck_assert_int_eq(g_vt->detokenize(g_self, all, n, 1, text, sizeof text - 2, &tl, err,
                                      sizeof err), RLAIF_OK);
    strcat(text, "\n");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K/%s", source_dir(), expected_file);
    char *want = read_file(path);
    ck_assert_msg(strcmp(text, want) == 0, "greedy output differs from %s:\n got: %s\nwant: %s",
                  expected_file, text, want);
    free(want);
}

START_TEST(test_expected_no_prompt) { check_expected("", 256, "expected_greedy_t0_n256.txt"); }
END_TEST

START_TEST(test_expected_lily)
{
    check_expected("Lily was sad because", 64, "expected_greedy_t0_n64_prompt_lily_sad.txt");
}
END_TEST

static const char *const prompts_text[4] = {"Lily was sad because", "Once upon a time",
                                            "The dog", "Tom and his friend went to the big park"};

/* A batch of ragged prompts gives each sequence what it gets alone. */
static void check_batch_equals_single(rlaif_sampling *sp)
{
    int32_t p[4][64];
    size_t len[4];
    const int32_t *pp[4];
    for (int i = 0; i < 4; i++) {
        len[i] = tokenize(prompts_text[i], p[i], 64);
        pp[i] = p[i];
    }
    uint64_t seeds[4] = {11, 22, 33, 44};
    sp->seeds = seeds;
    static gen_out all, one;
    generate(4, pp, len, sp, &all);
    for (int i = 0; i < 4; i++) {
        sp->seeds = &seeds[i];
        generate(1, &pp[i], &len[i], sp, &one);
        ck_assert_uint_eq(one.n_new[0], all.n_new[i]);
        ck_assert_int_eq(one.finish[0], all.finish[i]);
        for (size_t t = 0; t < one.n_new[0]; t++) {
            ck_assert_msg(one.ids[0][t] == all.ids[i][t], "prompt %d token %zu: %d alone, %d in batch",
                          i, t, one.ids[0][t], all.ids[i][t]);
            ck_assert_msg(fabsf(one.lp[0][t] - all.lp[i][t]) < 1e-4f, "logprob %d %zu", i, t);
        }
    }
    sp->seeds = NULL;
}

START_TEST(test_batch_greedy)
{
    rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = 0, .top_p = 1,
                         .max_new_tokens = 48};
    check_batch_equals_single(&sp);
}
END_TEST

START_TEST(test_batch_sampled)
{
    rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = 0.9f, .top_k = 40,
                         .top_p = 0.95f, .max_new_tokens = 48};
    check_batch_equals_single(&sp);
}
END_TEST

START_TEST(test_seeds)
{
    int32_t p[64];
    size_t len = tokenize("Once upon a time", p, 64);
    const int32_t *pp[2] = {p, p};
    size_t lens[2] = {len, len};
    rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = 1.0f, .top_p = 1,
                         .max_new_tokens = 40, .seed = 1234, .ignore_eos = 1};
    static gen_out a, b;
    generate(2, pp, lens, &sp, &a);
    generate(2, pp, lens, &sp, &b);
    /* Same seed, same samples. */
    for (int s = 0; s < 2; s++) {
        ck_assert_uint_eq(a.n_new[s], 40);
        ck_assert_mem_eq(a.ids[s], b.ids[s], 40 * sizeof(int32_t));
    }
    /* The two sequences of one call have their own streams: they differ. */
    ck_assert_msg(memcmp(a.ids[0], a.ids[1], 40 * sizeof(int32_t)) != 0,
                  "sequences 0 and 1 sampled the same 40 tokens");
    sp.seed = 99;
    generate(2, pp, lens, &sp, &b);
    ck_assert_msg(memcmp(a.ids[0], b.ids[0], 40 * sizeof(int32_t)) != 0,
                  "seeds 1234 and 99 sampled the same 40 tokens");
}
END_TEST

/* The logprob of each sampled token is log softmax(logits / T) of it,
 * which forward() at the same temperature recomputes. */
START_TEST(test_logprobs_match_forward)
{
    int32_t p[600];
    size_t len = tokenize("The dog", p, 64);
    const int32_t *pp[1] = {p};
    const float temps[2] = {0.7f, 0.0f};
    for (int k = 0; k < 2; k++) {
        rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = temps[k], .top_p = 1,
                             .max_new_tokens = 30, .seed = 5, .ignore_eos = 1};
        static gen_out o;
        generate(1, pp, &len, &sp, &o);
        size_t n = len + o.n_new[0];
        memcpy(p + len, o.ids[0], o.n_new[0] * sizeof(int32_t));
        float lp[600];
        rlaif_seqs s = {.struct_size = sizeof s, .n = 1, .ids = pp, .len = &n};
        rlaif_outputs out = {.struct_size = sizeof out, .logprobs = lp};
        char err[256];
        float t = temps[k] > 0 ? temps[k] : 1.0f;
        ck_assert_int_eq(g_vt->forward(g_self, &s, RLAIF_OUT_LOGPROBS, t, &out, err, sizeof err),
                         RLAIF_OK);
        for (size_t i = 0; i < o.n_new[0]; i++)
            ck_assert_msg(fabsf(lp[len - 1 + i] - o.lp[0][i]) < 1e-4f,
                          "T=%g token %zu: forward %g, generate %g", temps[k], i, lp[len - 1 + i],
                          o.lp[0][i]);
    }
}
END_TEST

START_TEST(test_stops)
{
    int32_t p[64];
    size_t len = tokenize("Lily was sad because", p, 64);
    const int32_t *pp[1] = {p};
    static gen_out full, cut;
    rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = 0, .top_p = 1,
                         .max_new_tokens = 60};
    generate(1, pp, &len, &sp, &full);
    ck_assert_int_eq(full.finish[0], RLAIF_FINISH_LENGTH);
    ck_assert_uint_eq(full.n_new[0], 60);
    /* Stop string: "park" appears in the greedy continuation. */
    const char *stop[2] = {"nothing like this", "park"};
    sp.stop_strings = stop;
    sp.n_stop_strings = 2;
    generate(1, pp, &len, &sp, &cut);
    ck_assert_int_eq(cut.finish[0], RLAIF_FINISH_STOP);
    ck_assert_uint_lt(cut.n_new[0], 60);
    ck_assert_mem_eq(cut.ids[0], full.ids[0], cut.n_new[0] * sizeof(int32_t));
    char text[4096], err[256];
    size_t tl;
    ck_assert_int_eq(g_vt->detokenize(g_self, cut.ids[0], cut.n_new[0], 1, text, sizeof text, &tl,
                                      err, sizeof err), RLAIF_OK);
    ck_assert_msg(strstr(text, "park") != NULL, "%s", text);
    ck_assert_int_eq(g_vt->detokenize(g_self, cut.ids[0], cut.n_new[0] - 1, 1, text, sizeof text,
                                      &tl, err, sizeof err), RLAIF_OK);
    ck_assert_msg(strstr(text, "park") == NULL, "stopped late: %s", text);
    /* Stop id: the 5th greedy token stops it and is kept. */
    sp.n_stop_strings = 0;
    int32_t sid = full.ids[0][4];
    size_t first = 0;
    while (full.ids[0][first] != sid) first++;
    sp.stop_ids = &sid;
    sp.n_stop_ids = 1;
    generate(1, pp, &len, &sp, &cut);
    ck_assert_int_eq(cut.finish[0], RLAIF_FINISH_STOP);
    ck_assert_uint_eq(cut.n_new[0], first + 1);
    ck_assert_int_eq(cut.ids[0][first], sid);
}
END_TEST

/* llama2.c checkpoints stop at BOS (the story separator) without being
 * told; ignore_eos turns that off too. */
START_TEST(test_default_stop_at_bos)
{
    int32_t p[4] = {1};
    size_t len = 1;
    const int32_t *pp[1] = {p};
    static gen_out o;
    rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = 0, .top_p = 1,
                         .max_new_tokens = 500};
    generate(1, pp, &len, &sp, &o);
    ck_assert_int_eq(o.finish[0], RLAIF_FINISH_STOP);
    int32_t last = o.ids[0][o.n_new[0] - 1];
    ck_assert_msg(last == 1 || last == 2, "stopped on %d", last);
    for (size_t i = 0; i + 1 < o.n_new[0]; i++) ck_assert(o.ids[0][i] != 1 && o.ids[0][i] != 2);
    sp.ignore_eos = 1;
    sp.max_new_tokens = (uint32_t)o.n_new[0] + 5;
    static gen_out all;
    generate(1, pp, &len, &sp, &all);
    ck_assert_int_eq(all.finish[0], RLAIF_FINISH_LENGTH);
    ck_assert_uint_eq(all.n_new[0], o.n_new[0] + 5);
    ck_assert_mem_eq(all.ids[0], o.ids[0], o.n_new[0] * sizeof(int32_t));
}
END_TEST

/* decode_bf16: sampled tokens' logprobs stay close to forward()'s f32
 * ones on the same tokens, and greedy output stays sensible. */
START_TEST(test_decode_bf16)
{
    char cfg[2048], err[512] = "";
    snprintf(cfg, sizeof cfg,
             "{\"path\": \"%s/models/stories260K/stories260K.bin\", \"threads\": 2, "
             "\"decode_bf16\": true}", source_dir());
    rlc_instance *in16 = mu_model(cfg);
    const rlaif_model_vtable *vt = mu_vt(in16);
    int32_t p[600];
    size_t len = tokenize("Once upon a time", p, 64);
    const int32_t *pp[1] = {p};
    int32_t ids[48];
    float lp[48], flp[600];
    size_t n_new;
    uint8_t fin;
    rlaif_seqs s = {.struct_size = sizeof s, .n = 1, .ids = pp, .len = &len};
    rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = 0.8f, .top_p = 1,
                         .max_new_tokens = 48, .seed = 9, .ignore_eos = 1};
    rlaif_generation g = {.struct_size = sizeof g, .ids = ids, .logprobs = lp, .n_new = &n_new,
                          .finish = &fin};
    ck_assert_msg(vt->generate(rlc_instance_self(in16), &s, &sp, &g, err, sizeof err) == RLAIF_OK,
                  "%s", err);
    ck_assert_uint_eq(n_new, 48);
    memcpy(p + len, ids, 48 * sizeof *ids);
    size_t n = len + 48;
    rlaif_seqs s2 = {.struct_size = sizeof s2, .n = 1, .ids = pp, .len = &n};
    rlaif_outputs o = {.struct_size = sizeof o, .logprobs = flp};
    ck_assert_int_eq(g_vt->forward(g_self, &s2, RLAIF_OUT_LOGPROBS, 0.8f, &o, err, sizeof err),
                     RLAIF_OK);
    double worst = 0, total = 0;
    for (int i = 0; i < 48; i++) {
        double d = fabs(flp[len - 1 + i] - lp[i]);
        worst = d > worst ? d : worst;
        total += d;
    }
    ck_assert_msg(worst < 0.1 && total / 48 < 0.02, "bf16 logprobs off: worst %g mean %g", worst,
                  total / 48);
    ck_assert_msg(worst > 0, "bf16 decode gave bit-identical logprobs: weights not bf16?");
    rlc_instance_unref(in16);
}
END_TEST

START_TEST(test_info_and_text)
{
    rlaif_model_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(g_vt->info(g_self, &info), RLAIF_OK);
    ck_assert_str_eq(info.arch, "llama");
    ck_assert_int_eq(info.vocab_size, 512);
    ck_assert_int_eq(info.dim, 64);
    ck_assert_int_eq(info.n_layers, 5);
    ck_assert_int_eq(info.n_kv_heads, 4);
    ck_assert_int_eq(info.bos_id, 1);
    ck_assert_int_eq(info.eos_id, 2);
    ck_assert_int_eq(info.max_seq_len, 512);
    int32_t ids[4];
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(g_vt->tokenize(g_self, "Once upon a time", 16, 1, ids, 2, &n, err, sizeof err),
                     RLAIF_E_RANGE);
    ck_assert_uint_gt(n, 2);
    char small[4];
    size_t tl = 0;
    int32_t t3[3] = {1, 400, 300};
    ck_assert_int_eq(g_vt->detokenize(g_self, t3, 3, 1, small, sizeof small, &tl, err, sizeof err),
                     RLAIF_E_RANGE);
    ck_assert_uint_ge(tl, 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model_generate");
    TCase *tc = tcase_create("stories260K");
    tcase_set_timeout(tc, 240);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_expected_no_prompt);
    tcase_add_test(tc, test_expected_lily);
    tcase_add_test(tc, test_batch_greedy);
    tcase_add_test(tc, test_batch_sampled);
    tcase_add_test(tc, test_seeds);
    tcase_add_test(tc, test_logprobs_match_forward);
    tcase_add_test(tc, test_stops);
    tcase_add_test(tc, test_info_and_text);
    tcase_add_test(tc, test_default_stop_at_bos);
    tcase_add_test(tc, test_decode_bf16);
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
