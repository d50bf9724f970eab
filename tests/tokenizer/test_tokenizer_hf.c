/*
 * test_tokenizer_hf.c — tokenizer.json against Hugging Face `tokenizers`:
 * the shared GPT-2 golden vectors, and reference ids made with the Rust
 * tokenizer (node bindings) for Qwen3, GPT-2, three sentencepiece-style
 * files and twenty-three small variants covering every Split behaviour, Digits,
 * Whitespace, Punctuation, BertPreTokenizer, CharDelimiterSplit, Metaspace with split and with "first" after other steps
 * (HF's original-offset rule), modern split patterns (o200k-like,
 * DeepSeek-like), byte-level with a prefix space and
 * RoBERTa's post-processor, all normalizers, subword prefixes and
 * end-of-word suffixes (BPEDecoder) and ignore_merges (see
 * data/README.md).  Also: encoding from several threads at once.  Every case checks the ids with and without
 * special tokens and both decodings, byte for byte.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tok_test_util.h"
#include "tokenizer.h"

/* Qwen3 (11 MB of JSON) and GPT-2 (3.5 MB, NULL when the shared data is
 * absent) are loaded once in main() and shared by the tests, which Check
 * runs in forked children. */
static tokenizer *qwen3, *gpt2;

static tokenizer *load_hf(const char *path)
{
    char err[512];
    tokenizer *t = tokenizer_load_hf(path, err, sizeof err);
    ck_assert_msg(t != NULL, "load %s: %s", path, err);
    return t;
}

static void check_encode(tokenizer *t, const char *what, const char *text, size_t len, int bos,
                         const int32_t *want, size_t nwant)
{
    char err[512];
    int32_t *ids;
    size_t n;
    ck_assert_msg(tokenizer_encode(t, text, len, bos, &ids, &n, err, sizeof err) == RLAIF_OK,
                  "%s: %s", what, err);
    char got[4096];
    snprintf(got, sizeof got, "%s", tt_fmt_ids(ids, n));
    ck_assert_msg(n == nwant && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0),
                  "%s (add_bos %d):\n  got  [%s]\n  want [%s]", what, bos, got,
                  tt_fmt_ids(want, nwant));
    free(ids);
}

static void check_decode(tokenizer *t, const char *what, const int32_t *ids, size_t n, int skip,
                         const char *want, size_t want_len)
{
    char err[512], *s;
    size_t len;
    ck_assert_msg(tokenizer_decode(t, ids, n, skip, &s, &len, err, sizeof err) == RLAIF_OK, "%s: %s",
                  what, err);
    ck_assert_msg(len == want_len && memcmp(s, want, len) == 0,
                  "%s: decode (skip_special %d) gave \"%s\"", what, skip, s);
    ck_assert_int_eq(s[len], '\0');
    free(s);
}

/* ===== GPT-2 golden vectors (shared) ==================================== */

START_TEST(test_gpt2_golden)
{
    char *tok_path = tt_shared_path("golden/tokenizer_gpt2/tokenizer.json");
    char *gold_path = tt_shared_path("golden/tokenizer_gpt2/golden.json");
    if (access(gold_path, R_OK) != 0) {
        fprintf(stderr, "skipped: %s is absent\n", gold_path);
        free(tok_path);
        free(gold_path);
        return;
    }
    tokenizer *t = gpt2;
    ck_assert_msg(t != NULL, "%s did not load", tok_path);
    char *json = tt_read(gold_path, NULL);
    size_t *lens, n;
    char **texts = tt_json_strings(json, "texts", &lens, &n);
    cJSON *gold = cJSON_Parse(json);
    const cJSON *all = cJSON_GetObjectItem(gold, "gpt2");
    ck_assert_int_eq(cJSON_GetArraySize(all), (int)n);
    ck_assert_uint_ge(n, 20);
    for (size_t i = 0; i < n; i++) {
        size_t nids;
        int32_t *want = tt_ids(cJSON_GetArrayItem(all, (int)i), &nids);
        char what[64];
        snprintf(what, sizeof what, "golden text %zu", i);
        check_encode(t, what, texts[i], lens[i], 0, want, nids);
        check_encode(t, what, texts[i], lens[i], 1, want, nids);   /* GPT-2 adds no BOS */
        check_decode(t, what, want, nids, 0, texts[i], lens[i]);
        free(want);
    }
    ck_assert_int_eq(tokenizer_eos(t), 50256);
    ck_assert_int_eq(tokenizer_vocab_size(t), 50257);
    ck_assert(tokenizer_is_special(t, 50256));
    cJSON_Delete(gold);
    tt_free_strings(texts, lens, n);
    free(json);
    free(tok_path);
    free(gold_path);
}
END_TEST

/* ===== Reference files made with HF tokenizers ========================== */

static const char *const refs[] = {
    "qwen3", "gpt2", "llama2style", "metaspace", "llama2norm",
    /* small tokenizers for the pipeline parts the real ones do not use */
    "variants/bytelevel_prefix", "variants/metaspace_split", "variants/kitchen_sink",
    "variants/kitchen_sink_first", "variants/metaspace_first_after_split",
    "variants/split_o200k_style", "variants/split_deepseek_style",
    "variants/nfkc_lowercase", "variants/nfkd", "variants/eow_suffix", "variants/subword_prefix",
    "variants/bert_pre", "variants/punct_contiguous_chardelim",
    "variants/digits_whitespace", "variants/ignore_merges", "variants/normalizers",
    "variants/split_contiguous", "variants/split_invert", "variants/split_isolated_invert",
    "variants/split_merged_next", "variants/split_merged_prev", "variants/split_removed",
    "variants/whitespacesplit_digits",
};

static tokenizer *load_ref_tokenizer(const char *name)
{
    char rel[128];
    if (!strcmp(name, "qwen3"))
        return qwen3;
    if (!strcmp(name, "gpt2"))
        return gpt2;
    snprintf(rel, sizeof rel, "%s/tokenizer.json", name);
    char *p = tt_data_path(rel);
    tokenizer *t = load_hf(p);
    free(p);
    return t;
}

/* Loop index: tokenizer (i / 2), then the hand-written texts (even) or
 * 400 random mixes of tricky pieces (odd). */
START_TEST(test_reference)
{
    const char *name = refs[_i / 2];
    const char *file = _i % 2 ? "reference_random.json" : "reference.json";
    char rel[128];
    tokenizer *t = load_ref_tokenizer(name);
    if (!t) {
        fprintf(stderr, "skipped %s: tokenizer file absent\n", name);
        return;
    }
    snprintf(rel, sizeof rel, "%s/%s", name, file);
    char *ref_path = tt_data_path(rel);
    cJSON *ref = tt_json(ref_path);
    const cJSON *cases = cJSON_GetObjectItem(ref, "cases");
    ck_assert_int_ge(cJSON_GetArraySize(cases), 30);
    int k = 0;
    for (const cJSON *c = cases->child; c; c = c->next, k++) {
        char what[160];
        size_t len, dlen, slen, n, ns;
        char *text = tt_unhex(cJSON_GetObjectItem(c, "text_hex")->valuestring, &len);
        char *dec = tt_unhex(cJSON_GetObjectItem(c, "decoded_hex")->valuestring, &dlen);
        char *dec_skip = tt_unhex(cJSON_GetObjectItem(c, "decoded_skip_special_hex")->valuestring,
                                  &slen);
        int32_t *ids = tt_ids(cJSON_GetObjectItem(c, "ids"), &n);
        int32_t *ids_sp = tt_ids(cJSON_GetObjectItem(c, "ids_special"), &ns);
        snprintf(what, sizeof what, "%s %s case %d \"%.60s\"", name, file, k, text);
        check_encode(t, what, text, len, 0, ids, n);
        check_encode(t, what, text, len, 1, ids_sp, ns);
        check_decode(t, what, ids, n, 0, dec, dlen);
        check_decode(t, what, ids, n, 1, dec_skip, slen);
        free(text);
        free(dec);
        free(dec_skip);
        free(ids);
        free(ids_sp);
    }
    cJSON_Delete(ref);
    free(ref_path);
    if (t != qwen3 && t != gpt2)
        tokenizer_free(t);
}
END_TEST

/* ===== Properties of the loaded tokenizers ============================== */

START_TEST(test_special_ids)
{
    tokenizer *q = qwen3;
    char *p;
    ck_assert_int_eq(tokenizer_vocab_size(q), 151669);
    ck_assert_int_eq(tokenizer_bos(q), -1);          /* tokenizer_config: bos_token null */
    ck_assert_int_eq(tokenizer_eos(q), 151645);      /* <|im_end|> */
    ck_assert(tokenizer_is_special(q, 151643));      /* <|endoftext|> */
    ck_assert(!tokenizer_is_special(q, 151667));     /* <think>: added, not special */
    ck_assert(!tokenizer_is_special(q, 9707));
    ck_assert(!tokenizer_is_special(q, -1) && !tokenizer_is_special(q, 151669));

    p = tt_data_path("llama2style/tokenizer.json");
    tokenizer *l = load_hf(p);
    free(p);
    ck_assert_int_eq(tokenizer_bos(l), 1);           /* from the template */
    ck_assert_int_eq(tokenizer_eos(l), 2);           /* </s> */
    ck_assert_int_eq(tokenizer_vocab_size(l), 516);
    tokenizer_free(l);
}
END_TEST

/* Invalid UTF-8 reads as U+FFFD, like Python's errors="replace". */
START_TEST(test_invalid_utf8)
{
    tokenizer *t = qwen3;
    char err[512];
    int32_t *a, *b;
    size_t na, nb;
    ck_assert_int_eq(tokenizer_encode(t, "x\xff\xc3 y", 5, 0, &a, &na, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(tokenizer_encode(t, "x\xef\xbf\xbd\xef\xbf\xbd y", 9, 0, &b, &nb, err, sizeof err),
                     RLAIF_OK);
    ck_assert_uint_eq(na, nb);
    ck_assert_mem_eq(a, b, na * sizeof *a);
    /* A byte-level token that is half a char decodes to U+FFFD. */
    char *s;
    size_t len;
    int32_t *e;
    size_t ne;
    /* U+10348 is two Qwen3 tokens: three bytes, then one. */
    ck_assert_int_eq(tokenizer_encode(t, "\xf0\x90\x8d\x88", 4, 0, &e, &ne, err, sizeof err), RLAIF_OK);
    ck_assert_uint_ge(ne, 2);
    ck_assert_int_eq(tokenizer_decode(t, e, 1, 0, &s, &len, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(s, "\xef\xbf\xbd");
    free(s);
    free(e);
    free(a);
    free(b);
}
END_TEST

/* A 10 KB mixed text round-trips and a saved copy encodes the same. */
START_TEST(test_long_text_and_save)
{
    tokenizer *t = qwen3;
    static const char piece[] =
        "Once upon a time, in 1987, Lily's cat said \"hello\" to 世界 \xf0\x9f\x98\x80!\n"
        "    def f(x): return x**2  # it's 3.14159\n\t\tend   ";
    size_t plen = strlen(piece), n = 0, cap = 10240;
    char *text = malloc(cap + plen);
    while (n < cap) {
        memcpy(text + n, piece, plen);
        n += plen;
    }
    char err[512], *back, dir[] = "/tmp/rlaif_tokhf_XXXXXX";
    int32_t *ids, *ids2;
    size_t m, m2, blen;
    ck_assert_int_eq(tokenizer_encode(t, text, n, 0, &ids, &m, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(tokenizer_decode(t, ids, m, 0, &back, &blen, err, sizeof err), RLAIF_OK);
    ck_assert_uint_eq(blen, n);
    ck_assert_mem_eq(back, text, n);

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(tokenizer_save(t, dir, err, sizeof err), RLAIF_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    tokenizer *t2 = load_hf(path);
    ck_assert_int_eq(tokenizer_eos(t2), 151645);     /* the config came along */
    ck_assert_int_eq(tokenizer_encode(t2, text, n, 0, &ids2, &m2, err, sizeof err), RLAIF_OK);
    ck_assert_uint_eq(m, m2);
    ck_assert_mem_eq(ids, ids2, m * sizeof *ids);
    remove(path);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    remove(path);
    remove(dir);
    free(ids2);
    tokenizer_free(t2);
    free(ids);
    free(back);
    free(text);
}
END_TEST

/* ===== Threads ========================================================== */

/* A loaded tokenizer is read-only: threads encoding at once agree. */
typedef struct job {
    const char *text;
    size_t len;
    int32_t *ids;
    size_t n;
    rlaif_status st;
} job;

static void *encode_job(void *arg)
{
    job *j = arg;
    char err[256];
    for (int rep = 0; rep < 20; rep++) {
        free(j->ids);
        j->st = tokenizer_encode(qwen3, j->text, j->len, 1, &j->ids, &j->n, err, sizeof err);
    }
    return NULL;
}

START_TEST(test_threads)
{
    static const char text[] = "Qwen3 in threads: caf\xc3\xa9, 12345, \xe6\x97\xa5\xe6\x9c\xac, "
                               "e\xcc\x81 <|im_start|>user\n  they'll  \xf0\x9f\x98\x80\n";
    job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){.text = text, .len = strlen(text)};
        ck_assert_int_eq(pthread_create(&th[i], NULL, encode_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(jobs[i].st, RLAIF_OK);
        ck_assert_uint_eq(jobs[i].n, jobs[0].n);
        ck_assert_mem_eq(jobs[i].ids, jobs[0].ids, jobs[0].n * sizeof *jobs[0].ids);
    }
    for (int i = 0; i < 4; i++)
        free(jobs[i].ids);
}
END_TEST

int main(void)
{
    /* Outside a test: no ck_assert here (tt_data_path uses it). */
    const char *src = getenv("RLAIF_SOURCE_DIR");
    char p[4096], err[512];
    snprintf(p, sizeof p, "%s/tests/tokenizer/data/qwen3/tokenizer.json", src ? src : ".");
    qwen3 = tokenizer_load_hf(p, err, sizeof err);
    if (!qwen3) {
        fprintf(stderr, "load %s: %s\n", p, err);
        return EXIT_FAILURE;
    }
    const char *shared = getenv("RLAIF_SHARED_DIR");
    snprintf(p, sizeof p, "%s/golden/tokenizer_gpt2/tokenizer.json", shared ? shared : "../shared");
    if (access(p, R_OK) == 0 && !(gpt2 = tokenizer_load_hf(p, err, sizeof err))) {
        fprintf(stderr, "load %s: %s\n", p, err);
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("tokenizer_hf");
    TCase *tc = tcase_create("hf");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gpt2_golden);
    tcase_add_loop_test(tc, test_reference, 0, 2 * (int)(sizeof refs / sizeof refs[0]));
    tcase_add_test(tc, test_special_ids);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_long_text_and_save);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    tokenizer_free(qwen3);
    tokenizer_free(gpt2);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
