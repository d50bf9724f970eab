/*
 * test_safetensors.c — the checkpoint readers on good and bad input: dtype
 * conversion, and one precise message per kind of malformed file (naming
 * the file and, where it applies, the tensor).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_util.h"
#include "safetensors.h"

static char *g_dir;

static void setup(void) { g_dir = mu_tempdir(); }
static void teardown(void)
{
    mu_rmtree(g_dir);
    free(g_dir);
}

/* Writes header length `hlen` (or the real one when 0), the header text and
 * `n` data bytes. */
static const char *write_raw(const char *name, uint64_t hlen, const char *header,
                             const void *data, size_t n)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t h = hlen ? hlen : strlen(header);
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(h >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

/* Opening must fail with `code` and a message containing each needle. */
static void expect_error(const char *path, rlaif_status code, const char *n1, const char *n2)
{
    st_file f;
    char err[1024] = "";
    rlaif_status st = st_open(&f, path, err, sizeof err);
    ck_assert_msg(st == code, "%s: status %d, want %d (%s)", path, st, code, err);
    ck_assert_msg(strstr(err, path) != NULL, "message does not name the file: %s", err);
    ck_assert_msg(!n1 || strstr(err, n1), "message lacks '%s': %s", n1, err);
    ck_assert_msg(!n2 || strstr(err, n2), "message lacks '%s': %s", n2, err);
}

START_TEST(test_dtypes)
{
    /* F32 1..4, BF16 1.5 -2, F16 1.5 -2 0.5 subnormal(2^-24) +inf */
    float f32[4] = {1, 2, 3, 4};
    uint8_t data[16 + 4 + 10];
    memcpy(data, f32, 16);
    const uint8_t bf[4] = {0xc0, 0x3f, 0x00, 0xc0};
    const uint8_t hf[10] = {0x00, 0x3e, 0x00, 0xc0, 0x00, 0x38, 0x01, 0x00, 0x00, 0x7c};
    memcpy(data + 16, bf, 4);
    memcpy(data + 20, hf, 10);
    const char *p = write_raw("ok.safetensors", 0,
                              "{\"__metadata__\":{\"format\":\"pt\"},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                              "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]},"
                              "\"c\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[20,30]}}",
                              data, sizeof data);
    st_file f;
    char err[512];
    ck_assert_msg(st_open(&f, p, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_uint_eq(f.n, 3);
    float out[5];
    st_to_f32(&f, st_find(&f, "a"), out);
    ck_assert_float_eq(out[3], 4.0f);
    st_to_f32(&f, st_find(&f, "b"), out);
    ck_assert_float_eq(out[0], 1.5f);
    ck_assert_float_eq(out[1], -2.0f);
    st_to_f32(&f, st_find(&f, "c"), out);
    ck_assert_float_eq(out[0], 1.5f);
    ck_assert_float_eq(out[1], -2.0f);
    ck_assert_float_eq(out[2], 0.5f);
    ck_assert_float_eq(out[3], ldexpf(1.0f, -24));
    ck_assert(isinf(out[4]) && out[4] > 0);
    st_close(&f);
}
END_TEST

START_TEST(test_malformed_files)
{
    float z[8] = {0};
    char shortp[4200];
    snprintf(shortp, sizeof shortp, "%s/short.safetensors", g_dir);
    FILE *sf = fopen(shortp, "wb");
    fwrite("\x05\0\0", 1, 3, sf);
    fclose(sf);
    expect_error(shortp, RLAIF_E_FORMAT, "too short", NULL);
    expect_error(write_raw("empty_header.safetensors", 0, "", NULL, 0), RLAIF_E_FORMAT,
                 "invalid header JSON", NULL);
    expect_error(write_raw("hlen.safetensors", 4096, "{}", NULL, 0), RLAIF_E_FORMAT,
                 "header length 4096 goes beyond the file", NULL);
    expect_error(write_raw("json.safetensors", 0,
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", z, 8),
                 RLAIF_E_FORMAT, "invalid header JSON", NULL);
    expect_error(write_raw("notobj.safetensors", 0, "[1,2]", NULL, 0), RLAIF_E_FORMAT,
                 "invalid header JSON", NULL);
    expect_error(write_raw("trunc.safetensors", 0,
                           "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]}}", z,
                           20),
                 RLAIF_E_FORMAT, "tensor 'w'", "truncated");
    expect_error(write_raw("dtype.safetensors", 0,
                           "{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", z, 8),
                 RLAIF_E_UNSUPPORTED, "tensor 'w'", "unsupported dtype 'F64'");
    expect_error(write_raw("count.safetensors", 0,
                           "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", z, 8),
                 RLAIF_E_FORMAT, "tensor 'w'", "8 data bytes for 3 elements");
    expect_error(write_raw("neg.safetensors", 0,
                           "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", z, 8),
                 RLAIF_E_FORMAT, "tensor 'w'", "shape[0]");
    expect_error(write_raw("order.safetensors", 0,
                           "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", z, 8),
                 RLAIF_E_FORMAT, "tensor 'w'", "data_offsets");
    expect_error(write_raw("dup.safetensors", 0,
                           "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", z, 8),
                 RLAIF_E_FORMAT, "tensor 'w' appears twice", NULL);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/none.safetensors", g_dir);
    expect_error(missing, RLAIF_E_IO, "cannot open", NULL);
}
END_TEST

/* A 1-layer llama folder whose tensors are `names` (with the right shapes
 * unless shape_fix says otherwise). */
enum { TD = 16, TF = 8, TV = 8, TKV = 8 };
static const char *const good_names[] = {
    "model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
    "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
    "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
    "model.layers.0.post_attention_layernorm.weight", "model.layers.0.mlp.gate_proj.weight",
    "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
    "model.norm.weight"};
static const size_t good_shapes[11][2] = {{TV, TD}, {TD, 0}, {TD, TD}, {TKV, TD}, {TKV, TD},
                                          {TD, TD}, {TD, 0},  {TF, TD}, {TF, TD},  {TD, TF},
                                          {TD, 0}};

static void write_folder(int drop, const char *extra, int bad_shape)
{
    static float zeros[TD * TD * 2];
    const char *names[12];
    const float *data[12];
    int nd[12];
    size_t sh[12][2];
    size_t n = 0;
    for (int i = 0; i < 11; i++) {
        if (i == drop) continue;
        names[n] = good_names[i];
        data[n] = zeros;
        sh[n][0] = good_shapes[i][0];
        sh[n][1] = good_shapes[i][1];
        nd[n] = sh[n][1] ? 2 : 1;
        if (i == bad_shape) sh[n][0] += 1;
        n++;
    }
    if (extra) {
        names[n] = extra;
        data[n] = zeros;
        nd[n] = 1;
        sh[n][0] = 4;
        sh[n][1] = 0;
        n++;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", g_dir);
    mu_write_safetensors(path, n, names, nd, (const size_t(*)[2])sh, data);
    snprintf(path, sizeof path, "%s/config.json", g_dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"model_type\":\"llama\",\"hidden_size\":%d,\"intermediate_size\":%d,"
               "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,"
               "\"vocab_size\":%d,\"tie_word_embeddings\":true}", TD, TF, TV);
    fclose(f);
}

static void expect_load_error(const char *n1, const char *n2)
{
    tf_model *m = NULL;
    char err[1024] = "";
    rlaif_status st = tf_model_load_hf(g_dir, 0, 0, 0, &m, err, sizeof err);
    ck_assert_msg(st != RLAIF_OK, "load succeeded, expected '%s'", n1);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err, n1), "message lacks '%s': %s", n1, err);
    ck_assert_msg(!n2 || strstr(err, n2), "message lacks '%s': %s", n2, err);
    ck_assert_msg(strstr(err, g_dir), "message does not name the file: %s", err);
}

START_TEST(test_model_tensor_errors)
{
    tf_model *m = NULL;
    char err[1024] = "";
    write_folder(-1, NULL, -1);
    ck_assert_msg(tf_model_load_hf(g_dir, 1, 1, 7, &m, err, sizeof err) == RLAIF_OK, "%s", err);
    ck_assert_ptr_nonnull(tf_model_find(m, "score.weight"));
    ck_assert_ptr_nonnull(m->w.value_w);
    ck_assert(m->w.lm_head == m->w.tok_emb);
    tf_model_free(m);
    write_folder(8, NULL, -1);
    expect_load_error("missing tensor 'model.layers.0.mlp.up_proj.weight'", NULL);
    write_folder(-1, "model.layers.0.extra.weight", -1);
    expect_load_error("unexpected tensor 'model.layers.0.extra.weight'", NULL);
    write_folder(-1, NULL, 3);
    expect_load_error("tensor 'model.layers.0.self_attn.k_proj.weight' has shape [9, 16]",
                      "expected [8, 16]");
    /* config.json promising a 7B model next to the small file: an error
     * naming a tensor, before 28 GB are allocated. */
    char path[4200];
    FILE *f;
    snprintf(path, sizeof path, "%s/config.json", g_dir);
    f = fopen(path, "w");
    fputs("{\"model_type\":\"llama\",\"hidden_size\":4096,\"intermediate_size\":11008,"
          "\"num_hidden_layers\":32,\"num_attention_heads\":32,\"vocab_size\":32000}", f);
    fclose(f);
    expect_load_error("tensor 'model.embed_tokens.weight' has shape [8, 16]", "[32000, 4096]");
    /* Sharded index naming a shard that is not there. */
    write_folder(-1, NULL, -1);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", g_dir);
    f = fopen(path, "w");
    fputs("{\"weight_map\":{\"model.norm.weight\":\"model-00009.safetensors\"}}", f);
    fclose(f);
    expect_load_error("model-00009.safetensors", "cannot open");
    f = fopen(path, "w");
    fputs("{\"weight_map\":{\"model.gone.weight\":\"model.safetensors\"}}", f);
    fclose(f);
    expect_load_error("'model.gone.weight' is listed but is in none of the shards", NULL);
}
END_TEST

START_TEST(test_llama2c_truncated)
{
    const char *src = getenv("RLAIF_SOURCE_DIR");
    char in[4096], out[4200];
    snprintf(in, sizeof in, "%s/models/stories260K/stories260K.bin", src ? src : ".");
    FILE *f = fopen(in, "rb");
    ck_assert_ptr_nonnull(f);
    static uint8_t buf[100000];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    snprintf(out, sizeof out, "%s/cut.bin", g_dir);
    f = fopen(out, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    tf_model *m = NULL;
    char err[1024];
    ck_assert_int_eq(tf_model_load_llama2c(out, 0, 0, 0, &m, err, sizeof err), RLAIF_E_FORMAT);
    ck_assert_msg(strstr(err, "truncated") && strstr(err, out), "%s", err);
    /* A 7B-sized header in front of 100 kB: refused before any allocation. */
    int32_t big[7] = {4096, 11008, 32, 32, 32, 32000, 4096};
    f = fopen(out, "r+b");
    fwrite(big, 4, 7, f);
    fclose(f);
    ck_assert_int_eq(tf_model_load_llama2c(out, 0, 0, 0, &m, err, sizeof err), RLAIF_E_FORMAT);
    ck_assert_msg(strstr(err, "truncated"), "%s", err);
    int32_t neg[7] = {64, 172, 5, 8, 4, INT32_MIN, 512};
    f = fopen(out, "r+b");
    fwrite(neg, 4, 7, f);
    fclose(f);
    ck_assert_int_eq(tf_model_load_llama2c(out, 0, 0, 0, &m, err, sizeof err), RLAIF_E_FORMAT);
    /* A header with nonsense dimensions. */
    int32_t bad[7] = {64, 172, 5, 7, 4, 512, 512};
    f = fopen(out, "wb");
    fwrite(bad, 4, 7, f);
    fclose(f);
    ck_assert_int_eq(tf_model_load_llama2c(out, 0, 0, 0, &m, err, sizeof err), RLAIF_E_FORMAT);
    ck_assert_msg(strstr(err, "not a multiple"), "%s", err);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model_safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_dtypes);
    tcase_add_test(tc, test_malformed_files);
    tcase_add_test(tc, test_model_tensor_errors);
    tcase_add_test(tc, test_llama2c_truncated);
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
