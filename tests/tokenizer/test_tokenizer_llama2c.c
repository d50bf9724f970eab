/*
 * test_tokenizer_llama2c.c — llama2.c tokenizer.bin (tok512.bin of
 * stories260K): exact ids for hand-worked strings and the stories prompt,
 * agreement with a naive transcription of run.c's encode() over many random
 * strings, round trips, the decoding rules, and load errors.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_test_util.h"
#include "tokenizer.h"

static char *tok512_path(void)
{
    char *p = tt_data_path("../../../models/stories260K/tok512.bin");
    FILE *f = fopen(p, "rb");
    if (f) {
        fclose(f);
        return p;
    }
    free(p);
    return tt_shared_path("models/stories260K/tok512.bin");
}

static tokenizer *load(void)
{
    char err[512];
    char *path = tok512_path();
    tokenizer *t = tokenizer_load_llama2c(path, 512, err, sizeof err);
    ck_assert_msg(t != NULL, "load %s: %s", path, err);
    free(path);
    return t;
}

static void expect_ids(tokenizer *t, const char *text, int bos, const int32_t *want, size_t nwant)
{
    char err[512];
    int32_t *ids;
    size_t n;
    ck_assert_int_eq(tokenizer_encode(t, text, strlen(text), bos, &ids, &n, err, sizeof err), RLAIF_OK);
    char got[4096];
    snprintf(got, sizeof got, "%s", tt_fmt_ids(ids, n));
    ck_assert_msg(n == nwant && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0),
                  "encode(\"%s\") = [%s], want [%s]", text, got, tt_fmt_ids(want, nwant));
    free(ids);
}

/* ===== Hand-worked ids ================================================== */

START_TEST(test_hand_worked)
{
    tokenizer *t = load();
    /* "the cat": BOS, then the dummy prefix " " and one token per char:
     *   [1, ' '=410, 't'=413, 'h'=415, 'e'=411, ' '=410, 'c'=429, 'a'=412, 't'=413]
     * merges by score (highest first; the merged piece's score):
     *   ' '+'t' -> ' t'=259 (-0),  'h'+'e' -> 'he'=260 (-1),
     *   ' t'+'he' -> ' the'=265 (-6), ' '+'c' -> ' c'=280 (-21),
     *   'a'+'t' -> 'at'=294 (-35); no pair of [265, 280, 294] is a token. */
    static const int32_t the_cat[] = {1, 265, 280, 294};
    expect_ids(t, "the cat", 1, the_cat, 4);
    /* "Lily": ' '+'L'... 'i'+'l' -> 'il'=290 (-31) first, then ' L'=307
     * (-48), 'il'+'y' -> 'ily'=310 (-51), ' L'+'ily' -> ' Lily'=317 (-58). */
    static const int32_t lily[] = {317};
    expect_ids(t, "Lily", 0, lily, 1);
    /* "é!": 'é' (2 bytes) is a token (485), '!' is 443; nothing merges. */
    static const int32_t e_bang[] = {1, 410, 485, 443};
    expect_ids(t, "\xc3\xa9!", 1, e_bang, 4);
    /* An emoji is not a token: its four bytes fall back to ids byte + 3. */
    static const int32_t emoji[] = {410, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3};
    expect_ids(t, "\xf0\x9f\x98\x80", 0, emoji, 5);
    /* Empty text: no dummy prefix. */
    static const int32_t bos_only[] = {1};
    expect_ids(t, "", 1, bos_only, 1);
    expect_ids(t, "", 0, NULL, 0);
    tokenizer_free(t);
}
END_TEST

START_TEST(test_stories_prompt)
{
    tokenizer *t = load();
    /* From a line-by-line transcription of run.c's encode() (which rescans
     * every pair after each merge), the prompt of the greedy test. */
    static const int32_t want[] = {1, 317, 286, 296, 418, 329, 429, 412, 425, 372};
    expect_ids(t, "Lily was sad because", 1, want, 10);
    char err[512], *text;
    size_t len;
    ck_assert_int_eq(tokenizer_decode(t, want, 10, 1, &text, &len, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(text, "Lily was sad because");
    ck_assert_uint_eq(len, strlen("Lily was sad because"));
    free(text);
    ck_assert_int_eq(tokenizer_bos(t), 1);
    ck_assert_int_eq(tokenizer_eos(t), 2);
    ck_assert_int_eq(tokenizer_vocab_size(t), 512);
    ck_assert(tokenizer_is_special(t, 1) && tokenizer_is_special(t, 2));
    ck_assert(!tokenizer_is_special(t, 317));
    tokenizer_free(t);
}
END_TEST

/* ===== The oracle: run.c's encode, written out naively ================== */

typedef struct vocab {
    char *str[512];
    int len[512];
    float score[512];
} vocab;

static void read_vocab(vocab *v)
{
    size_t n;
    char *path = tok512_path();
    unsigned char *d = (unsigned char *)tt_read(path, &n);
    ck_assert_ptr_nonnull(d);
    free(path);
    size_t at = 4;
    for (int i = 0; i < 512; i++) {
        memcpy(&v->score[i], d + at, 4);
        memcpy(&v->len[i], d + at + 4, 4);
        at += 8;
        v->str[i] = malloc((size_t)v->len[i] + 1);
        memcpy(v->str[i], d + at, (size_t)v->len[i]);
        at += (size_t)v->len[i];
    }
    free(d);
}

static int find(const vocab *v, const char *s, size_t n)
{
    for (int i = 0; i < 512; i++)
        if ((size_t)v->len[i] == n && memcmp(v->str[i], s, n) == 0)
            return i;
    return -1;
}

/* BOS, dummy prefix, chars or bytes, then: scan all pairs, merge the best
 * (first on ties), repeat — exactly run.c's loop. */
static size_t naive_encode(const vocab *v, const char *s, size_t n, int32_t *out)
{
    size_t k = 0;
    out[k++] = 1;
    if (n)
        out[k++] = find(v, " ", 1);
    char buf[8];
    size_t bl = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            bl = 0;
        buf[bl++] = s[i];
        if (i + 1 < n && ((unsigned char)s[i + 1] & 0xC0) == 0x80 && bl < 4)
            continue;
        int id = find(v, buf, bl);
        if (id >= 0)
            out[k++] = id;
        else
            for (size_t j = 0; j < bl; j++)
                out[k++] = (unsigned char)buf[j] + 3;
        bl = 0;
    }
    for (;;) {
        float best = -1e10f;
        int best_id = -1;
        size_t best_i = 0;
        char cat[64];
        for (size_t i = 0; i + 1 < k; i++) {
            int la = v->len[out[i]], lb = v->len[out[i + 1]];
            if (la + lb > (int)sizeof cat)
                continue;
            memcpy(cat, v->str[out[i]], (size_t)la);
            memcpy(cat + la, v->str[out[i + 1]], (size_t)lb);
            int id = find(v, cat, (size_t)(la + lb));
            if (id >= 0 && v->score[id] > best) {
                best = v->score[id];
                best_id = id;
                best_i = i;
            }
        }
        if (best_id < 0)
            break;
        out[best_i] = best_id;
        memmove(out + best_i + 1, out + best_i + 2, (k - best_i - 2) * sizeof *out);
        k--;
    }
    return k;
}

static uint32_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* A random string of ASCII words, multi-byte chars and, when `raw`, any
 * byte at all (invalid UTF-8 included). */
static size_t random_text(uint64_t *seed, char *out, size_t cap, int raw)
{
    static const char *const bits[] = {"the", " ", "Lily", "was", ".", "\n", "caf\xc3\xa9",
                                       "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80", "  ", "'s",
                                       "Tom", "happy", ",", "\t", "\xc3\xa9", "123", "!"};
    size_t n = 0, parts = 1 + rng_next(seed) % 12;
    for (size_t p = 0; p < parts && n + 16 < cap; p++) {
        if (raw && rng_next(seed) % 4 == 0) {
            out[n++] = (char)(1 + rng_next(seed) % 255);
            continue;
        }
        const char *b = bits[rng_next(seed) % (sizeof bits / sizeof bits[0])];
        memcpy(out + n, b, strlen(b));
        n += strlen(b);
    }
    return n;
}

START_TEST(test_against_naive_and_roundtrip)
{
    tokenizer *t = load();
    vocab v;
    read_vocab(&v);
    uint64_t seed = 12345;
    char text[256], err[512];
    int32_t want[1024];
    for (int iter = 0; iter < 600; iter++) {
        size_t n = random_text(&seed, text, sizeof text, iter % 2);
        int32_t *ids;
        size_t m;
        ck_assert_int_eq(tokenizer_encode(t, text, n, 1, &ids, &m, err, sizeof err), RLAIF_OK);
        size_t k = naive_encode(&v, text, n, want);
        char got[4096];
        snprintf(got, sizeof got, "%s", tt_fmt_ids(ids, m));
        ck_assert_msg(m == k && memcmp(ids, want, k * sizeof *ids) == 0,
                      "case %d: got [%s] want [%s]", iter, got, tt_fmt_ids(want, k));
        char *back;
        size_t blen;
        ck_assert_int_eq(tokenizer_decode(t, ids, m, 1, &back, &blen, err, sizeof err), RLAIF_OK);
        ck_assert_msg(blen == n && memcmp(back, text, n) == 0, "case %d: round trip differs", iter);
        free(back);
        free(ids);
    }
    for (int i = 0; i < 512; i++)
        free(v.str[i]);
    tokenizer_free(t);
}
END_TEST

/* ===== Decoding rules =================================================== */

static void expect_text(tokenizer *t, const int32_t *ids, size_t n, int skip, const char *want,
                        size_t want_len)
{
    char err[512], *s;
    size_t len;
    ck_assert_int_eq(tokenizer_decode(t, ids, n, skip, &s, &len, err, sizeof err), RLAIF_OK);
    ck_assert_msg(len == want_len && memcmp(s, want, len) == 0, "decoded \"%s\"", s);
    ck_assert_int_eq(s[len], '\0');
    free(s);
}

START_TEST(test_decode_rules)
{
    tokenizer *t = load();
    /* The space of the first word goes only right after BOS (run.c). */
    static const int32_t after_bos[] = {1, 317};
    expect_text(t, after_bos, 2, 1, "Lily", 4);
    static const int32_t no_bos[] = {317, 286};
    expect_text(t, no_bos, 2, 0, " Lily was", 9);
    /* <0x0A> is a newline byte; byte tokens rebuild multi-byte chars. */
    static const int32_t bytes[] = {0x0A + 3, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3};
    expect_text(t, bytes, 5, 0, "\n\xf0\x9f\x98\x80", 5);
    /* BOS/EOS show their text unless skipped. */
    static const int32_t wrapped[] = {1, 317, 2};
    expect_text(t, wrapped, 3, 1, "Lily", 4);
    expect_text(t, wrapped, 3, 0, "\n<s>\nLily\n</s>\n", 15);
    expect_text(t, NULL, 0, 0, "", 0);
    /* Out-of-range ids are errors that say which. */
    char err[512], *s = (char *)1;
    static const int32_t bad[] = {5, 512};
    ck_assert_int_eq(tokenizer_decode(t, bad, 2, 0, &s, NULL, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err, "ids[1] = 512") != NULL, "%s", err);
    tokenizer_free(t);
}
END_TEST

/* ===== Save and load errors ============================================= */

START_TEST(test_save_and_errors)
{
    char err[512], dir[] = "/tmp/rlaif_tok_XXXXXX";
    tokenizer *t = load();
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(tokenizer_save(t, dir, err, sizeof err), RLAIF_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/tok512.bin", dir);
    tokenizer *t2 = tokenizer_load_llama2c(path, 512, err, sizeof err);
    ck_assert_msg(t2 != NULL, "%s", err);
    static const int32_t want[] = {1, 317, 286, 296, 418, 329, 429, 412, 425, 372};
    expect_ids(t2, "Lily was sad because", 1, want, 10);
    tokenizer_free(t2);

    /* A truncated copy names the token where it ends. */
    size_t n;
    char *orig = tok512_path();
    char *data = tt_read(orig, &n);
    free(orig);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n / 2, f);
    fclose(f);
    free(data);
    ck_assert_ptr_null(tokenizer_load_llama2c(path, 512, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "token"), "%s", err);
    /* Asking for more entries than the file has is the same error. */
    ck_assert_ptr_null(tokenizer_load_llama2c(path, 100000, err, sizeof err));
    ck_assert_ptr_null(tokenizer_load_llama2c(path, 2, err, sizeof err));
    ck_assert_msg(strstr(err, "vocab_size 2") != NULL, "%s", err);
    remove(path);
    remove(dir);
    ck_assert_ptr_null(tokenizer_load_llama2c("/nonexistent/tok.bin", 512, err, sizeof err));
    ck_assert_msg(strstr(err, "/nonexistent/tok.bin: cannot open") != NULL, "%s", err);
    tokenizer_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokenizer_llama2c");
    TCase *tc = tcase_create("llama2c");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_hand_worked);
    tcase_add_test(tc, test_stories_prompt);
    tcase_add_test(tc, test_against_naive_and_roundtrip);
    tcase_add_test(tc, test_decode_rules);
    tcase_add_test(tc, test_save_and_errors);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
