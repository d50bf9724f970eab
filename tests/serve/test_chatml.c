/*
 * test_chatml.c — the chat endpoint on a model whose tokenizer has the
 * ChatML markers: the server renders ChatML (the prompt it tokenises is
 * exactly the ChatML text), and labeler/http over the chat endpoint gives
 * the same probabilities as labeler/llm with chat_template "chatml" on the
 * same model, the answer prefix travelling as an assistant prefill.
 *
 * The model is the tiny random Llama of the shared golden data (vocab 512,
 * context 128) with a byte-level BPE tokenizer written here: the 256 bytes,
 * <|im_start|>, <|im_end|>, <|endoftext|>, and filler entries up to 512.
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "serve_util.h"

static char model_dir[256];
static st_server server;

/* ===== The model folder ================================================= */

/* GPT-2's byte-to-character map: printable bytes stand for themselves, the
 * others are moved to U+0100 and up, in order. */
static unsigned byte_char(unsigned b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    unsigned n = 0;
    for (unsigned c = 0; c < b; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) n++;
    return 256 + n;
}

static void utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

static int write_tokenizer(const char *path)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    const char *specials[3] = {"<|im_start|>", "<|im_end|>", "<|endoftext|>"};
    for (int i = 0; i < 3; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "id", 256 + i);
        cJSON_AddStringToObject(t, "content", specials[i]);
        cJSON_AddFalseToObject(t, "single_word");
        cJSON_AddFalseToObject(t, "lstrip");
        cJSON_AddFalseToObject(t, "rstrip");
        cJSON_AddFalseToObject(t, "normalized");
        cJSON_AddTrueToObject(t, "special");
        cJSON_AddItemToArray(added, t);
    }
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddFalseToObject(pre, "add_prefix_space");
    cJSON_AddFalseToObject(pre, "trim_offsets");
    cJSON_AddFalseToObject(pre, "use_regex");
    cJSON_AddNullToObject(root, "post_processor");
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "ByteLevel");
    cJSON_AddFalseToObject(dec, "add_prefix_space");
    cJSON_AddFalseToObject(dec, "trim_offsets");
    cJSON_AddFalseToObject(dec, "use_regex");
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "");
    cJSON_AddStringToObject(model, "end_of_word_suffix", "");
    cJSON_AddFalseToObject(model, "fuse_unk");
    cJSON_AddFalseToObject(model, "byte_fallback");
    cJSON_AddFalseToObject(model, "ignore_merges");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    char s[8];
    for (unsigned b = 0; b < 256; b++) {
        utf8(byte_char(b), s);
        cJSON_AddNumberToObject(vocab, s, b);
    }
    /* Fillers up to the model's 512: two-letter pieces no merge produces. */
    for (unsigned id = 259; id < 512; id++) {
        char two[3] = {(char)('a' + (id - 259) / 26), (char)('a' + (id - 259) % 26), 0};
        cJSON_AddNumberToObject(vocab, two, id);
    }
    cJSON_AddArrayToObject(model, "merges");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    FILE *f = fopen(path, "w");
    int ok = f && text && fputs(text, f) >= 0;
    if (f) ok = fclose(f) == 0 && ok;
    free(text);
    return ok ? 0 : -1;
}

static void make_model_dir(void)
{
    const char *shared = getenv("RLAIF_SHARED_DIR");
    snprintf(model_dir, sizeof model_dir, "/tmp/rlaif-serve-chatml-XXXXXX");
    if (!shared || !mkdtemp(model_dir)) {
        fprintf(stderr, "test_chatml: no RLAIF_SHARED_DIR or no temporary folder\n");
        exit(EXIT_FAILURE);
    }
    char from[4096], to[512];
    const char *files[2] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(from, sizeof from, "%s/golden/llama_tiny/%s", shared, files[i]);
        snprintf(to, sizeof to, "%s/%s", model_dir, files[i]);
        if (symlink(from, to)) {
            fprintf(stderr, "test_chatml: cannot link %s\n", from);
            exit(EXIT_FAILURE);
        }
    }
    snprintf(to, sizeof to, "%s/tokenizer.json", model_dir);
    if (write_tokenizer(to)) {
        fprintf(stderr, "test_chatml: cannot write %s\n", to);
        exit(EXIT_FAILURE);
    }
}

static void remove_model_dir(void)
{
    const char *files[3] = {"config.json", "model.safetensors", "tokenizer.json"};
    char p[512];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", model_dir, files[i]);
        unlink(p);
    }
    rmdir(model_dir);
}

static void up(void)
{
    make_model_dir();
    if (st_fixture_up(&server, model_dir, "test_chatml")) {
        remove_model_dir();
        exit(EXIT_FAILURE);
    }
}

static void down(void)
{
    int rc = st_fixture_down(&server, "test_chatml");
    remove_model_dir();
    if (rc != 0) exit(EXIT_FAILURE);
}

/* ===== Helpers ========================================================== */

static rlc_instance *local_model(void)
{
    char err[1024] = "", cfg[512];
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_MODEL, "transformer", err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\"}", model_dir);
    rlc_instance *m = rlc_instance_create(p, cfg, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

static size_t count_tokens(rlc_instance *m, const char *text)
{
    const rlaif_model_vtable *vt = rlc_instance_vtable(m);
    int32_t ids[512];
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(vt->tokenize(rlc_instance_self(m), text, strlen(text), 1, ids, 512, &n, err,
                                  sizeof err), RLAIF_OK);
    return n;
}

/* A constitution short enough for a 128-token context of byte tokens. */
#define TINY_CONSTITUTION                                                                    \
    "{\"name\": \"tiny\", \"description\": \"A short constitution for a tiny model.\","     \
    " \"system\": \"Be fair.\", \"chat_template\": \"chatml\","                              \
    " \"templates\": {\"compare\": \"{a}|{b}?\", \"compare_answer\": \"(\"},"                 \
    " \"principles\": [{\"id\": \"kind\", \"critique_request\": \"Critique.\","               \
    " \"revision_request\": \"Revise.\", \"comparison\": \"Kinder?\", \"rubric\": \"Kind.\"}]}"

/* ===== Tests ============================================================ */

START_TEST(chat_prompt_is_chatml)
{
    rlc_instance *m = local_model();
    ck_assert_int_eq(count_tokens(m, "<|im_start|>"), 1);
    st_response r;
    ck_assert_int_eq(st_http(server.port, "POST", "/v1/chat/completions",
                             "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"},"
                             " {\"role\": \"user\", \"content\": \"hi\"}],"
                             " \"max_tokens\": 1, \"temperature\": 0}", &r), 0);
    ck_assert_msg(r.status == 200, "%s", r.body);
    const cJSON *usage = cJSON_GetObjectItem(r.json, "usage");
    int got = cJSON_GetObjectItem(usage, "prompt_tokens")->valueint;
    size_t want = count_tokens(m, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                                  "<|im_start|>assistant\n");
    ck_assert_int_eq(got, (int)want);
    /* A final assistant message is continued, not closed. */
    st_response_free(&r);
    ck_assert_int_eq(st_http(server.port, "POST", "/v1/chat/completions",
                             "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"},"
                             " {\"role\": \"assistant\", \"content\": \"(\"}],"
                             " \"max_tokens\": 1, \"temperature\": 0}", &r), 0);
    ck_assert_msg(r.status == 200, "%s", r.body);
    usage = cJSON_GetObjectItem(r.json, "usage");
    got = cJSON_GetObjectItem(usage, "prompt_tokens")->valueint;
    want = count_tokens(m, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n(");
    ck_assert_int_eq(got, (int)want);
    st_response_free(&r);
    rlc_instance_unref(m);
}
END_TEST

START_TEST(chat_labeler_agrees_with_llm_chatml)
{
    rlc_instance *m = local_model();
    char cfg[2048], err[1024] = "";
    snprintf(cfg, sizeof cfg, "{\"model\": {\"rlaif_handle\": %llu}, \"constitution\": %s}",
             (unsigned long long)rlc_instance_handle(m), TINY_CONSTITUTION);
    rlc_plugin *pl = rlc_plugin_find(RLAIF_KIND_LABELER, "llm", err, sizeof err);
    ck_assert_msg(pl != NULL, "%s", err);
    rlc_instance *a = rlc_instance_create(pl, cfg, err, sizeof err);
    ck_assert_msg(a != NULL, "labeler/llm: %s", err);
    snprintf(cfg, sizeof cfg, "{\"base_url\": \"http://127.0.0.1:%d/v1\", \"endpoint\": \"chat\","
             " \"top_logprobs\": 512, \"constitution\": %s}", server.port, TINY_CONSTITUTION);
    rlc_plugin *ph = rlc_plugin_find(RLAIF_KIND_LABELER, "http", err, sizeof err);
    ck_assert_msg(ph != NULL, "%s", err);
    rlc_instance *b = rlc_instance_create(ph, cfg, err, sizeof err);
    ck_assert_msg(b != NULL, "labeler/http: %s", err);
    const rlaif_labeler_vtable *va = rlc_instance_vtable(a), *vb = rlc_instance_vtable(b);
    rlaif_compare_req reqs[4] = {{"", "a hug", "a kick", 1}, {"", "a kick", "a hug", 1},
                                 {"", "share", "grab", 2}, {"", "help me", "go away", 3}};
    rlaif_compare_result ra[4], rb[4];
    ck_assert_msg(va->compare(rlc_instance_self(a), 4, reqs, ra, err, sizeof err) == RLAIF_OK,
                  "local: %s", err);
    ck_assert_msg(vb->compare(rlc_instance_self(b), 4, reqs, rb, err, sizeof err) == RLAIF_OK,
                  "http: %s", err);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(fabs(ra[i].p_a - rb[i].p_a) < 1e-5 &&
                          fabs(ra[i].p_a_first - rb[i].p_a_first) < 1e-5 &&
                          fabs(ra[i].p_a_second - rb[i].p_a_second) < 1e-5,
                      "pair %d: llm %.9f (%.9f, %.9f) http %.9f (%.9f, %.9f)", i, ra[i].p_a,
                      ra[i].p_a_first, ra[i].p_a_second, rb[i].p_a, rb[i].p_a_first,
                      rb[i].p_a_second);
        /* A random model leans little either way: its lean (p − ½, about
         * 1e-4 here) must agree to 1% too, or a wrong rendering could hide
         * inside the absolute tolerance. */
        double la = ra[i].p_a_first - 0.5, lb = rb[i].p_a_first - 0.5;
        ck_assert_msg(la != 0 && fabs(la - lb) <= 0.01 * fabs(la), "pair %d: lean %.3g vs %.3g", i,
                      la, lb);
    }
    rlc_instance_unref(b);
    rlc_instance_unref(a);
    rlc_instance_unref(m);
}
END_TEST

int main(void)
{
    int skip = st_init_labelers();
    if (skip) return skip;
    /* The tiny model lives in the shared golden data, which may be absent. */
    const char *shared = getenv("RLAIF_SHARED_DIR");
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/golden/llama_tiny/model.safetensors", shared ? shared : ".");
    if (access(probe, R_OK) != 0) {
        printf("skipped: %s is not readable (set RLAIF_SHARED_DIR)\n", probe);
        rlc_shutdown();
        return 77;
    }
    Suite *s = suite_create("serve-chatml");
    TCase *t = tcase_create("chatml");
    tcase_set_timeout(t, 120);
    tcase_add_unchecked_fixture(t, up, down);
    tcase_add_test(t, chat_prompt_is_chatml);
    tcase_add_test(t, chat_labeler_agrees_with_llm_chatml);
    suite_add_tcase(s, t);
    return st_run_suite(s);
}
