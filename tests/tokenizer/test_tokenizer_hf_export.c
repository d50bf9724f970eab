/*
 * test_tokenizer_hf_export.c — tokenizer_save of a llama2.c tokenizer
 * (tok512.bin of stories260K) writes a Hugging Face tokenizer.json that,
 * read back by this library's tokenizer.json loader, gives the ids of the
 * llama2.c encoder on every text tried (the story prompts, the tricky and
 * random texts of the other tokenizer tests, hand-picked whitespace and
 * byte-fallback cases, and seeded random concatenations of pieces and
 * chars), with and without BOS, and decodes them back to the text; the
 * companion files; the two documented gaps ("<s>" and U+2581 in the text);
 * and the same through the plugin: a saved stories260K folder reloads with
 * the tokenizer.json and tokenizes as the original model.
 *
 * Hugging Face's own `tokenizers` reads the same file in
 * test_hf_export_node.sh (`--dump DIR` writes its cases).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tok_test_util.h"
#include "tokenizer.h"
#ifdef HAVE_MODEL_UTIL
#include "model_util.h"
#endif

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

static char *temp_dir(void)
{
    const char *t = getenv("TMPDIR");
    char *p = malloc(4096);
    ck_assert_ptr_nonnull(p);
    snprintf(p, 4096, "%s/rlaif-hfexport-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(p));
    return p;
}

static void remove_dir(const char *dir)
{
    static const char *const names[] = {"tok512.bin", "tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json"};
    char p[4200];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int file_exists(const char *dir, const char *name)
{
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0 && sb.st_size > 0;
}

/* The llama2.c tokenizer, and the tokenizer.json it saves, loaded back. */
typedef struct pair {
    tokenizer *l2c, *hf;
    char *dir;
} pair;

static pair pair_make(void)
{
    char err[512];
    pair p;
    char *path = tok512_path();
    p.l2c = tokenizer_load_llama2c(path, 512, err, sizeof err);
    ck_assert_msg(p.l2c != NULL, "load %s: %s", path, err);
    free(path);
    p.dir = temp_dir();
    ck_assert_msg(tokenizer_save(p.l2c, p.dir, err, sizeof err) == RLAIF_OK, "save: %s", err);
    char json[4200];
    snprintf(json, sizeof json, "%s/tokenizer.json", p.dir);
    p.hf = tokenizer_load_hf(json, err, sizeof err);
    ck_assert_msg(p.hf != NULL, "load the saved tokenizer.json: %s", err);
    return p;
}

static void pair_free(pair *p)
{
    tokenizer_free(p->l2c);
    tokenizer_free(p->hf);
    remove_dir(p->dir);
    free(p->dir);
}

/* ===== Texts ============================================================ */

typedef struct texts {
    char **s;
    size_t *len;
    size_t n, cap;
} texts;

static void texts_add(texts *t, const char *s, size_t n)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        t->s = realloc(t->s, t->cap * sizeof *t->s);
        t->len = realloc(t->len, t->cap * sizeof *t->len);
        ck_assert(t->s && t->len);
    }
    t->s[t->n] = malloc(n + 1);
    ck_assert_ptr_nonnull(t->s[t->n]);
    memcpy(t->s[t->n], s, n);
    t->s[t->n][n] = 0;
    t->len[t->n++] = n;
}

static void texts_free(texts *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->s[i]);
    free(t->s);
    free(t->len);
}

/* The strings of a JSON file whose top level is an array of strings. */
static void add_json_array(texts *t, const char *rel)
{
    char *path = tt_data_path(rel);
    size_t n;
    char *json = tt_read(path, &n);
    ck_assert_msg(json != NULL, "read %s", path);
    char *wrapped = malloc(n + 16);
    ck_assert_ptr_nonnull(wrapped);
    snprintf(wrapped, n + 16, "{\"t\": %s}", json);
    size_t *lens, k;
    char **s = tt_json_strings(wrapped, "t", &lens, &k);
    for (size_t i = 0; i < k; i++)
        texts_add(t, s[i], lens[i]);
    tt_free_strings(s, lens, k);
    free(wrapped);
    free(json);
    free(path);
}

/* The "prompt" of each line of a JSONL file. */
static void add_jsonl_prompts(texts *t, const char *rel)
{
    char *path = tt_data_path(rel);
    size_t n;
    char *data = tt_read(path, &n);
    ck_assert_msg(data != NULL, "read %s", path);
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prompt");
        if (cJSON_IsString(p))
            texts_add(t, p->valuestring, strlen(p->valuestring));
        cJSON_Delete(j);
    }
    free(data);
    free(path);
}

static const char *const hand_picked[] = {
    "", " ", "  ", "   ", "\n", "\n\n", " \n ", "\t", "a", "a ", " a", "a  b", "a   b  c ",
    "Once upon a time, there was a little girl named Lily.\nShe loved to play outside.\n\n",
    "The end.  \n  Tom said, \"Hi!\"", "don't, won't; it's ... wow!!!",
    "\xc3\xa9t\xc3\xa9 na\xc3\xafve caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "\xf0\x9f\x98\x80", "smile \xf0\x9f\x98\x80 ok \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd!",
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",
    "\xe2\x84\xa2 \xe2\x80\x8a hair", "\xc2\xa0nbsp\xc2\xa0", "\r\n", "tab\tand\r\nCRLF",
    "<0x41> <0x0A>", "<mask> <|endoftext|> [SEP]", "1234567890 3.14", "ALL CAPS TEXT",
};

/* Seeded random text: pieces of the vocabulary, chars of several scripts,
 * emoji that only byte fallback spells, runs of spaces and newlines. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static const char *const chars[] = {
    " ", "  ", "   ", "\n", "\n\n", "\t", "a", "e", "t", "o", "L", "T", ".", ",", "!", "?", "'",
    "\"", "-", "0", "7", "\xc3\xa9", "\xc3\xb1", "\xc3\x9f", "\xe2\x80\x94", "\xe2\x84\xa2",
    "\xe2\x80\x8a", "\xc2\xa0", "\xe6\x97\xa5", "\xd0\x96", "\xd8\xb9", "\xf0\x9f\x98\x80",
    "\xf0\x9f\x9a\x80", "\xf0\x9f\x8f\xbd", "\xe2\x80\x8d", "\r", "\x01", "~", "|", "[", "]",
};

static void add_random(texts *t, const tokenizer *l2c, size_t count)
{
    char buf[512];
    for (size_t k = 0; k < count; k++) {
        size_t n = 0, parts = 1 + next_rand() % 24;
        for (size_t i = 0; i < parts; i++) {
            const char *s;
            char tmp[64];
            if (next_rand() % 2) {
                /* a piece as its text: what llama2.c wrote, spaces and all */
                int32_t ids[2] = {1, 3 + (int32_t)(next_rand() % 509)};
                char *dec = NULL, err[128];
                size_t dl = 0;
                ck_assert_int_eq(tokenizer_decode(l2c, ids + 1, 1, 0, &dec, &dl, err, sizeof err),
                                 RLAIF_OK);
                /* a byte token decodes to its byte: keep only ASCII ones */
                snprintf(tmp, sizeof tmp, "%s", (dl == 1 && (unsigned char)dec[0] >= 0x80) ? "" : dec);
                free(dec);
                s = tmp;
            } else {
                s = chars[next_rand() % (sizeof chars / sizeof *chars)];
            }
            size_t l = strlen(s);
            if (n + l >= sizeof buf)
                break;
            memcpy(buf + n, s, l);
            n += l;
        }
        texts_add(t, buf, n);
    }
}

/* The documented gaps of the format: the special tokens spelled in the
 * text, and U+2581, are read differently by design. */
static int known_gap(const char *s, size_t n)
{
    static const char *const gaps[] = {"<s>", "</s>", "<unk>", "\xe2\x96\x81"};
    for (size_t i = 0; i < sizeof gaps / sizeof *gaps; i++) {
        size_t g = strlen(gaps[i]);
        for (size_t k = 0; k + g <= n; k++)
            if (!memcmp(s + k, gaps[i], g))
                return 1;
    }
    return 0;
}

/* ===== Comparing ======================================================== */

static void check_text(const pair *p, const char *s, size_t n, size_t idx)
{
    char err[512];
    for (int bos = 0; bos < 2; bos++) {
        int32_t *a, *b;
        size_t na, nb;
        ck_assert_int_eq(tokenizer_encode(p->l2c, s, n, bos, &a, &na, err, sizeof err), RLAIF_OK);
        ck_assert_int_eq(tokenizer_encode(p->hf, s, n, bos, &b, &nb, err, sizeof err), RLAIF_OK);
        char want[4096];
        snprintf(want, sizeof want, "%s", tt_fmt_ids(a, na));
        ck_assert_msg(na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0),
                      "text %zu \"%s\" (bos %d): tokenizer.json [%s], tokenizer.bin [%s]", idx, s,
                      bos, tt_fmt_ids(b, nb), want);
        if (bos) {
            /* decoding round-trips, with either tokenizer */
            char *d1, *d2;
            size_t l1, l2;
            ck_assert_int_eq(tokenizer_decode(p->l2c, a, na, 1, &d1, &l1, err, sizeof err), RLAIF_OK);
            ck_assert_int_eq(tokenizer_decode(p->hf, b, nb, 1, &d2, &l2, err, sizeof err), RLAIF_OK);
            ck_assert_msg(l1 == n && memcmp(d1, s, n) == 0, "text %zu: tokenizer.bin decodes "
                          "\"%s\" as \"%s\"", idx, s, d1);
            ck_assert_msg(l2 == n && memcmp(d2, s, n) == 0, "text %zu: tokenizer.json decodes "
                          "\"%s\" as \"%s\"", idx, s, d2);
            free(d1);
            free(d2);
        }
        free(a);
        free(b);
    }
}

/* ===== Tests ============================================================ */

START_TEST(test_files)
{
    pair p = pair_make();
    ck_assert(file_exists(p.dir, "tok512.bin"));
    ck_assert(file_exists(p.dir, "tokenizer.json"));
    ck_assert(file_exists(p.dir, "tokenizer_config.json"));
    ck_assert(file_exists(p.dir, "special_tokens_map.json"));
    ck_assert_int_eq(tokenizer_vocab_size(p.hf), 512);
    ck_assert_int_eq(tokenizer_bos(p.hf), 1);
    ck_assert_int_eq(tokenizer_eos(p.hf), 2);
    for (int32_t id = 0; id < 3; id++)
        ck_assert(tokenizer_is_special(p.hf, id));
    ck_assert(!tokenizer_is_special(p.hf, 3));

    /* the file is the Llama-2 layout, its vocabulary in sentencepiece spelling */
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", p.dir);
    cJSON *j = tt_json(path);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(model, "type")->valuestring, "BPE");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")));
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    ck_assert_int_eq(cJSON_GetArraySize(vocab), 512);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(vocab, "<s>")->valueint, 1);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(vocab, "<0x0A>")->valueint, 13);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(vocab, "\xe2\x96\x81the")->valueint, 265);
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    ck_assert_int_eq(cJSON_GetArraySize(merges), 165);   /* the same as make_llama2style.py */
    /* the highest-scored piece, " t" (259), is the first merge */
    ck_assert_str_eq(cJSON_GetArrayItem(merges, 0)->valuestring, "\xe2\x96\x81 t");
    cJSON_Delete(j);

    snprintf(path, sizeof path, "%s/tokenizer_config.json", p.dir);
    j = tt_json(path);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "add_bos_token")));
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "bos_token")->valuestring, "<s>");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "eos_token")->valuestring, "</s>");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "tokenizer_class")->valuestring,
                     "LlamaTokenizer");
    cJSON_Delete(j);
    pair_free(&p);
}
END_TEST

START_TEST(test_same_ids)
{
    pair p = pair_make();
    texts t = {0};
    add_jsonl_prompts(&t, "../../../examples/data/story_prompts_train.jsonl");
    add_jsonl_prompts(&t, "../../../examples/data/story_prompts_heldout.jsonl");
    size_t stories = t.n;
    add_json_array(&t, "texts.json");
    add_json_array(&t, "random_texts.json");
    for (size_t i = 0; i < sizeof hand_picked / sizeof *hand_picked; i++)
        texts_add(&t, hand_picked[i], strlen(hand_picked[i]));
    size_t fixed = t.n;
    add_random(&t, p.l2c, 2000);
    size_t checked = 0, gaps = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (known_gap(t.s[i], t.len[i])) {
            gaps++;
            continue;
        }
        check_text(&p, t.s[i], t.len[i], i);
        checked++;
    }
    printf("hf_export: %zu texts equal (%zu story prompts, %zu fixed, %zu random), %zu skipped "
           "for holding <s>/</s>/<unk>/U+2581\n", checked, stories, fixed - stories,
           t.n - fixed, gaps);
    ck_assert_int_gt(checked, 2000);
    texts_free(&t);
    pair_free(&p);
}
END_TEST

/* What the layout reads differently, by design (as Llama-2's own file). */
START_TEST(test_known_gaps)
{
    pair p = pair_make();
    char err[256];
    int32_t *ids;
    size_t n;
    /* "<s>" in the text is the special token for tokenizer.json ... */
    ck_assert_int_eq(tokenizer_encode(p.hf, "<s>", 3, 0, &ids, &n, err, sizeof err), RLAIF_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ids[0], 1);
    free(ids);
    /* ... and U+2581 a space: "a▁b" reads as "a b" */
    int32_t *sp;
    size_t ns;
    ck_assert_int_eq(tokenizer_encode(p.hf, "a\xe2\x96\x81" "b", 5, 0, &ids, &n, err, sizeof err),
                     RLAIF_OK);
    ck_assert_int_eq(tokenizer_encode(p.l2c, "a b", 3, 0, &sp, &ns, err, sizeof err), RLAIF_OK);
    ck_assert(n == ns && memcmp(ids, sp, n * sizeof *ids) == 0);
    free(ids);
    free(sp);
    pair_free(&p);
}
END_TEST

#ifdef HAVE_MODEL_UTIL
/* A stories260K model saved through the plugin reloads from its folder with
 * the tokenizer.json (named explicitly) and tokenizes every text as the
 * original; reloaded without naming one, it takes its native tok512.bin and
 * behaves as the original (greedy generation stops at BOS alike, a
 * continuation decodes with its leading space). */
START_TEST(test_plugin_reload)
{
    char cfg[4400], err[1024];
    const char *src = getenv("RLAIF_SOURCE_DIR");
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s/models/stories260K/stories260K.bin\", \"threads\": 1}",
             src && *src ? src : ".");
    rlc_instance *a = mu_model(cfg);
    char *dir = mu_tempdir();
    ck_assert_msg(mu_vt(a)->save(rlc_instance_self(a), dir, RLAIF_SAVE_WEIGHTS, err, sizeof err) ==
                      RLAIF_OK, "%s", err);
    ck_assert(file_exists(dir, "tokenizer.json"));
    ck_assert(file_exists(dir, "tok512.bin"));
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\", \"tokenizer\": \"%s/tokenizer.json\", "
             "\"threads\": 1}", dir, dir);
    rlc_instance *b = mu_model(cfg);
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\", \"threads\": 1}", dir);
    rlc_instance *c = mu_model(cfg);
    {
        int32_t bos[1] = {1}, ga[256], gc[256];
        float la[256], lc[256];
        size_t one = 1, na = 0, nc = 0;
        uint8_t fa = 0, fc = 0;
        const int32_t *pp[1] = {bos};
        rlaif_seqs ps = {.struct_size = sizeof ps, .n = 1, .ids = pp, .len = &one};
        rlaif_sampling sp = {.struct_size = sizeof sp, .temperature = 0, .top_p = 1,
                             .max_new_tokens = 256};
        rlaif_generation g1 = {.struct_size = sizeof g1, .ids = ga, .logprobs = la, .n_new = &na,
                               .finish = &fa};
        rlaif_generation g2 = {.struct_size = sizeof g2, .ids = gc, .logprobs = lc, .n_new = &nc,
                               .finish = &fc};
        ck_assert_msg(mu_vt(a)->generate(rlc_instance_self(a), &ps, &sp, &g1, err, sizeof err) ==
                          RLAIF_OK, "%s", err);
        ck_assert_msg(mu_vt(c)->generate(rlc_instance_self(c), &ps, &sp, &g2, err, sizeof err) ==
                          RLAIF_OK, "%s", err);
        ck_assert_msg(na == nc && fa == fc && !memcmp(ga, gc, na * sizeof *ga),
                      "reloaded generation: %zu tokens (finish %d) vs %zu (finish %d)", nc, fc, na,
                      fa);
        char ta[4096], tc[4096];
        size_t la_n, lc_n;
        ck_assert(mu_vt(a)->detokenize(rlc_instance_self(a), ga, na, 1, ta, sizeof ta, &la_n, err,
                                       sizeof err) == RLAIF_OK);
        ck_assert(mu_vt(c)->detokenize(rlc_instance_self(c), gc, nc, 1, tc, sizeof tc, &lc_n, err,
                                       sizeof err) == RLAIF_OK);
        ck_assert_msg(la_n == lc_n && !memcmp(ta, tc, la_n), "reloaded text \"%.*s\" vs \"%.*s\"",
                      (int)lc_n, tc, (int)la_n, ta);
    }

    texts t = {0};
    add_jsonl_prompts(&t, "../../../examples/data/story_prompts_train.jsonl");
    add_jsonl_prompts(&t, "../../../examples/data/story_prompts_heldout.jsonl");
    for (size_t i = 0; i < sizeof hand_picked / sizeof *hand_picked; i++)
        texts_add(&t, hand_picked[i], strlen(hand_picked[i]));
    add_json_array(&t, "texts.json");
    add_json_array(&t, "random_texts.json");
    static int32_t ia[1024], ib[1024];
    size_t checked = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (known_gap(t.s[i], t.len[i]))
            continue;
        for (int bos = 0; bos < 2; bos++) {
            size_t na, nb;
            ck_assert_msg(mu_vt(a)->tokenize(rlc_instance_self(a), t.s[i], t.len[i], bos, ia, 1024,
                                             &na, err, sizeof err) == RLAIF_OK, "%s", err);
            ck_assert_msg(mu_vt(b)->tokenize(rlc_instance_self(b), t.s[i], t.len[i], bos, ib, 1024,
                                             &nb, err, sizeof err) == RLAIF_OK, "%s", err);
            char want[4096];
            snprintf(want, sizeof want, "%s", tt_fmt_ids(ia, na));
            ck_assert_msg(na == nb && (na == 0 || memcmp(ia, ib, na * sizeof *ia) == 0),
                          "\"%s\" (bos %d): reloaded [%s], original [%s]", t.s[i], bos,
                          tt_fmt_ids(ib, nb), want);
            if (bos) {
                char text[4096];
                size_t len;
                ck_assert_msg(mu_vt(b)->detokenize(rlc_instance_self(b), ib, nb, 1, text,
                                                   sizeof text, &len, err, sizeof err) == RLAIF_OK,
                              "%s", err);
                ck_assert_msg(len == t.len[i] && memcmp(text, t.s[i], len) == 0,
                              "reloaded detokenize: \"%s\" for \"%s\"", text, t.s[i]);
            }
        }
        checked++;
    }
    printf("hf_export: %zu texts tokenize alike through the plugin after save + reload\n", checked);
    texts_free(&t);
    rlc_instance_unref(c);
    rlc_instance_unref(b);
    rlc_instance_unref(a);
    mu_rmtree(dir);
    free(dir);
}
END_TEST
#endif

/* ===== --dump DIR: the cases for test_hf_export_node.sh ================ */

static void put_hex(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", (unsigned char)s[i]);
}

static void put_ids(FILE *f, const tokenizer *t, const char *s, size_t n, int bos)
{
    char err[256];
    int32_t *ids;
    size_t k;
    if (tokenizer_encode(t, s, n, bos, &ids, &k, err, sizeof err) != RLAIF_OK) {
        fprintf(stderr, "encode: %s\n", err);
        exit(1);
    }
    fputc('[', f);
    for (size_t i = 0; i < k; i++)
        fprintf(f, "%s%d", i ? "," : "", (int)ids[i]);
    fputc(']', f);
    free(ids);
}

/* Saves tok512.bin's tokenizer into dir and writes dir/cases.json: each
 * text (hex) with the llama2.c ids, without and with BOS. */
static int dump_cases(const char *dir)
{
    char err[512];
    char *path = tok512_path();
    tokenizer *t = tokenizer_load_llama2c(path, 512, err, sizeof err);
    free(path);
    if (!t || tokenizer_save(t, dir, err, sizeof err) != RLAIF_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    texts x = {0};
    add_jsonl_prompts(&x, "../../../examples/data/story_prompts_train.jsonl");
    add_jsonl_prompts(&x, "../../../examples/data/story_prompts_heldout.jsonl");
    add_json_array(&x, "texts.json");
    add_json_array(&x, "random_texts.json");
    for (size_t i = 0; i < sizeof hand_picked / sizeof *hand_picked; i++)
        texts_add(&x, hand_picked[i], strlen(hand_picked[i]));
    add_random(&x, t, 2000);
    char cases[4200];
    snprintf(cases, sizeof cases, "%s/cases.json", dir);
    FILE *f = fopen(cases, "w");
    if (!f)
        return 1;
    fputs("[\n", f);
    int first = 1;
    for (size_t i = 0; i < x.n; i++) {
        if (known_gap(x.s[i], x.len[i]))
            continue;
        fprintf(f, "%s{\"text_hex\": \"", first ? "" : ",\n");
        put_hex(f, x.s[i], x.len[i]);
        fputs("\", \"ids\": ", f);
        put_ids(f, t, x.s[i], x.len[i], 0);
        fputs(", \"ids_bos\": ", f);
        put_ids(f, t, x.s[i], x.len[i], 1);
        fputc('}', f);
        first = 0;
    }
    fputs("\n]\n", f);
    texts_free(&x);
    tokenizer_free(t);
    return fclose(f) != 0;
}

/* Check's helpers only work inside a test, so the dump runs as one. */
static const char *dump_dir;
START_TEST(test_dump)
{
    ck_assert_msg(dump_cases(dump_dir) == 0, "dump into %s failed", dump_dir);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s = suite_create("tokenizer_hf_export");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    if (argc == 3 && !strcmp(argv[1], "--dump")) {
        dump_dir = argv[2];
        tcase_add_test(tc, test_dump);
        suite_add_tcase(s, tc);
        SRunner *r = srunner_create(s);
        srunner_run_all(r, CK_SILENT);
        int failed = srunner_ntests_failed(r);
        srunner_free(r);
        return failed ? 1 : 0;
    }
    tcase_add_test(tc, test_files);
    tcase_add_test(tc, test_same_ids);
    tcase_add_test(tc, test_known_gaps);
#ifdef HAVE_MODEL_UTIL
    tcase_add_test(tc, test_plugin_reload);
#endif
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
