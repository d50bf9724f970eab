/*
 * test_checkpoint.c — safetensors writing (read back with st_read), atomic
 * replacement, and the training-state file with its integrity checks.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "st_read.h"
#include "st_write.h"
#include "train_state.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rlaif_train_ckpt_XXXXXX");
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

/* Number of entries in tmpdir whose name contains ".tmp." */
static int count_temporaries(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

START_TEST(test_safetensors_round_trip)
{
    make_tmpdir();
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    float a[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, -7.0f};
    float b[3] = {1.0078125f, 3.14159265f, -65504.0f}; /* bf16: exact, rounded, rounded */
    float s = 42.0f;
    stw_tensor t[3] = {
        {.name = "layer.\"quoted\".weight", .data = b, .ndim = 1, .shape = {3}, .dtype = STW_BF16},
        {.name = "model.a", .data = a, .ndim = 2, .shape = {2, 3}, .dtype = STW_F32},
        {.name = "scalar", .data = &s, .ndim = 0, .dtype = STW_F32},
    };
    ck_assert_msg(stw_write(path, t, 3, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(count_temporaries(), 0);

    rd_file f;
    ck_assert_msg(rd_open(&f, path, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(f.header_len % 8, 0);
    ck_assert_uint_eq(f.size, 8 + f.header_len + 6 * 4 + 4 + 3 * 2);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(f.header, "__metadata__");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(meta, "format")->valuestring, "pt");

    const char *dt;
    size_t nd, shape[8], nb;
    const unsigned char *p;
    ck_assert_int_eq(rd_info(&f, "model.a", &dt, &nd, shape, &p, &nb), 0);
    ck_assert_str_eq(dt, "F32");
    ck_assert_uint_eq(nd, 2);
    ck_assert_uint_eq(shape[0], 2);
    ck_assert_uint_eq(shape[1], 3);
    ck_assert_uint_eq((size_t)(p - f.buf - 8 - f.header_len), 0); /* F32 first */
    float *ra = rd_get_f32(&f, "model.a", NULL);
    ck_assert_mem_eq(ra, a, sizeof a);
    ck_assert_int_eq(rd_info(&f, "scalar", &dt, &nd, shape, &p, &nb), 0);
    ck_assert_uint_eq(nd, 0);
    ck_assert_uint_eq(nb, 4);
    ck_assert_int_eq(rd_info(&f, "layer.\"quoted\".weight", &dt, &nd, shape, &p, &nb), 0);
    ck_assert_str_eq(dt, "BF16");
    float *rb = rd_get_f32(&f, "layer.\"quoted\".weight", NULL);
    ck_assert_float_eq(rb[0], 1.0078125f);
    ck_assert_float_eq(rb[1], 3.140625f); /* nearest bf16 to pi */
    ck_assert_float_eq(rb[2], -65536.0f); /* -65504 rounds up in magnitude to -2^16 */
    free(ra);
    free(rb);
    rd_close(&f);

    /* Bad input is an error naming the tensor, and the old file stays. */
    stw_tensor dup[2] = {t[1], t[1]};
    ck_assert_int_eq(stw_write(path, dup, 2, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "model.a"));
    ck_assert_int_eq(rd_open(&f, path, err, sizeof err), 0);
    rd_close(&f);
    ck_assert_int_eq(count_temporaries(), 0);
    remove_tmpdir();
}
END_TEST

START_TEST(test_bf16_rounding)
{
    ck_assert_uint_eq(stw_f32_to_bf16(1.0f), 0x3f80);
    /* 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties to even (1.0) */
    ck_assert_uint_eq(stw_f32_to_bf16(1.00390625f), 0x3f80);
    /* 1 + 3*2^-8 is halfway between 1.0078125 (odd) and 1.015625 (even) */
    ck_assert_uint_eq(stw_f32_to_bf16(1.01171875f), 0x3f82);
    ck_assert(isnan(stw_bf16_to_f32(stw_f32_to_bf16(NAN))));
    ck_assert(isinf(stw_bf16_to_f32(stw_f32_to_bf16(INFINITY))));
}
END_TEST

START_TEST(test_atomic_replace)
{
    make_tmpdir();
    char path[512], err[256], buf[64] = {0};
    snprintf(path, sizeof path, "%s/file.txt", tmpdir);
    ck_assert_int_eq(atomic_write_file(path, "old contents", 12, err, sizeof err), 0);

    /* An aborted write leaves the old file and no temporary. */
    atomic_file af;
    ck_assert_int_eq(atomic_file_open(&af, path, err, sizeof err), 0);
    ck_assert_int_eq(atomic_file_write(&af, "new", 3, err, sizeof err), 0);
    ck_assert_int_eq(count_temporaries(), 1);
    atomic_file_abort(&af);
    ck_assert_int_eq(count_temporaries(), 0);
    FILE *fp = fopen(path, "rb");
    ck_assert_uint_eq(fread(buf, 1, sizeof buf, fp), 12);
    fclose(fp);
    ck_assert_str_eq(buf, "old contents");

    /* A committed one replaces it whole. */
    ck_assert_int_eq(atomic_write_file(path, "new", 3, err, sizeof err), 0);
    memset(buf, 0, sizeof buf);
    fp = fopen(path, "rb");
    ck_assert_uint_eq(fread(buf, 1, sizeof buf, fp), 3);
    fclose(fp);
    ck_assert_str_eq(buf, "new");

    /* An unwritable place is an error naming the file. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x", tmpdir);
    ck_assert_int_eq(atomic_write_file(bad, "x", 1, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no/such/dir"));
    remove_tmpdir();
}
END_TEST

/* Rewrites bytes [at, at+n) of a file. */
static void patch_file(const char *path, long at, const void *bytes, size_t n)
{
    FILE *fp = fopen(path, "r+b");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, at, SEEK_SET);
    ck_assert_uint_eq(fwrite(bytes, 1, n, fp), n);
    fclose(fp);
}

START_TEST(test_train_state)
{
    make_tmpdir();
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/training_state.bin", tmpdir);
    float m[5] = {0.1f, -0.2f, 0.3f, 1e-8f, -4.0f}, v[5] = {1, 2, 3, 4, 5};
    unsigned char extra[3] = {7, 8, 9};
    train_state s = {.step = 1234, .rng = {1, 2, 0xdeadbeefcafef00dull, 4},
                     .schedule = {.kind = LR_COSINE, .lr_max = 3e-4f, .lr_min = 3e-5f,
                                  .warmup_steps = 10, .total_steps = 1000},
                     .n_moments = 5, .m = m, .v = v, .extra = extra, .extra_len = 3};
    ck_assert_msg(train_state_write(path, &s, err, sizeof err) == 0, "%s", err);

    train_state r;
    ck_assert_msg(train_state_read(path, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(r.step, 1234);
    ck_assert_uint_eq(r.rng[2], 0xdeadbeefcafef00dull);
    ck_assert_int_eq(r.schedule.kind, LR_COSINE);
    ck_assert_float_eq(r.schedule.lr_max, 3e-4f);
    ck_assert_float_eq(r.schedule.lr_min, 3e-5f);
    ck_assert_uint_eq(r.schedule.warmup_steps, 10);
    ck_assert_uint_eq(r.schedule.total_steps, 1000);
    ck_assert_uint_eq(r.n_moments, 5);
    ck_assert_mem_eq(r.m, m, sizeof m);
    ck_assert_mem_eq(r.v, v, sizeof v);
    ck_assert_uint_eq(r.extra_len, 3);
    ck_assert_mem_eq(r.extra, extra, 3);
    train_state_free(&r);

    /* One flipped bit in the moments: checksum mismatch. */
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    unsigned char *orig = malloc((size_t)size);
    fseek(fp, 0, SEEK_SET);
    ck_assert_uint_eq(fread(orig, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    unsigned char flipped = orig[size / 2] ^ 0x10;
    patch_file(path, size / 2, &flipped, 1);
    ck_assert_int_eq(train_state_read(path, &r, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "checksum"));
    ck_assert_ptr_null(r.m);

    /* Truncated. */
    ck_assert_int_eq(atomic_write_file(path, orig, (size_t)size - 8, err, sizeof err), 0);
    ck_assert_int_eq(train_state_read(path, &r, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "truncated"));

    /* Another version. */
    ck_assert_int_eq(atomic_write_file(path, orig, (size_t)size, err, sizeof err), 0);
    unsigned char v2[4] = {2, 0, 0, 0};
    patch_file(path, 8, v2, 4);
    ck_assert_int_eq(train_state_read(path, &r, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "version 2"));

    /* Not ours at all. */
    ck_assert_int_eq(atomic_write_file(path, "{\"step\": 3}", 11, err, sizeof err), 0);
    ck_assert_int_eq(train_state_read(path, &r, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "magic"));
    free(orig);

    /* A state with no moments yet round-trips too. */
    train_state empty = {.step = 0, .schedule = {.kind = LR_CONSTANT, .lr_max = 1e-3f}};
    ck_assert_int_eq(train_state_write(path, &empty, err, sizeof err), 0);
    ck_assert_int_eq(train_state_read(path, &r, err, sizeof err), 0);
    ck_assert_uint_eq(r.n_moments, 0);
    ck_assert_ptr_null(r.m);
    train_state_free(&r);
    remove_tmpdir();
}
END_TEST

/* FNV-1a over 64-bit little-endian words, as the file format defines its
 * checksum (train_state.h), so mutated payloads can be re-sealed and reach
 * the section parser. */
static uint64_t fnv_words(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int k = 0; k < 8; k++) w |= (uint64_t)p[i + k] << (8 * k);
        h = (h ^ w) * 0x100000001b3ull;
    }
    return h;
}

/* Hundreds of corrupted files: random bytes, truncations, and re-sealed
 * payloads with a broken section table.  Every read must fail cleanly or
 * succeed with consistent sizes; never crash (run under ASan/UBSan). */
START_TEST(test_train_state_mutations)
{
    make_tmpdir();
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/state.bin", tmpdir);
    float m[7] = {1, 2, 3, 4, 5, 6, 7}, v[7] = {7, 6, 5, 4, 3, 2, 1};
    unsigned char extra[5] = {1, 2, 3, 4, 5};
    train_state s = {.step = 9, .n_moments = 7, .m = m, .v = v, .extra = extra, .extra_len = 5};
    ck_assert_int_eq(train_state_write(path, &s, err, sizeof err), 0);
    FILE *fp = fopen(path, "rb");
    unsigned char orig[1024];
    size_t size = fread(orig, 1, sizeof orig, fp);
    fclose(fp);
    ck_assert_uint_gt(size, 32);
    unsigned char buf[1024];
    unsigned int seed = 12345;
    int accepted = 0;
    for (int it = 0; it < 600; it++) {
        memcpy(buf, orig, size);
        size_t n = size;
        int kind = it % 3;
        int flips = 1 + (int)(rand_r(&seed) % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = kind == 2 ? 32 + (size_t)rand_r(&seed) % (size - 32) : (size_t)rand_r(&seed) % size;
            buf[at] = (unsigned char)rand_r(&seed);
        }
        if (kind == 1) n = (size_t)rand_r(&seed) % size;
        if (kind == 2) { /* re-seal: valid checksum over the damaged payload */
            uint64_t h = fnv_words(buf + 32, n - 32);
            for (int k = 0; k < 8; k++) buf[24 + k] = (unsigned char)(h >> (8 * k));
        }
        FILE *out = fopen(path, "wb"); /* plain write: no fsync per iteration */
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
        fclose(out);
        train_state r;
        if (train_state_read(path, &r, err, sizeof err) == 0) {
            accepted++;
            ck_assert(r.n_moments == 0 || (r.m && r.v));
            ck_assert(r.extra_len == 0 || r.extra);
            train_state_free(&r);
        } else {
            ck_assert(err[0] != '\0');
            ck_assert_ptr_null(r.m);
        }
    }
    /* Only re-sealed files can pass, and only when the damage missed the
     * structure (e.g. it changed moment values). */
    ck_assert_int_lt(accepted, 600);
    remove_tmpdir();
}
END_TEST

static Suite *ckpt_suite(void)
{
    Suite *s = suite_create("train_checkpoint");
    TCase *tc = tcase_create("files");
    tcase_add_test(tc, test_safetensors_round_trip);
    tcase_add_test(tc, test_bf16_rounding);
    tcase_add_test(tc, test_atomic_replace);
    tcase_add_test(tc, test_train_state);
    tcase_add_test(tc, test_train_state_mutations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ckpt_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
