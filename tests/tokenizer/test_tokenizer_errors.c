/*
 * test_tokenizer_errors.c — every malformed tokenizer.json in data/corrupt
 * fails to load with a message naming the file and the field at fault
 * (never a crash), and a tiny valid file loads and encodes by its merges.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tok_test_util.h"
#include "tokenizer.h"

/* File name, then a fragment the message must contain. */
static const char *const cases[][2] = {
    {"truncated.json", "invalid JSON near byte"},
    {"empty.json", "invalid JSON"},
    {"top_array.json", "expected a JSON object at the top level"},
    {"merge_not_string.json", "model.merges[1]: expected a string or a pair"},
    {"merge_unknown_token.json", "model.merges[0]: token \"zz\" is not in model.vocab"},
    {"merge_two_spaces.json", "model.merges[0]: expected \"left right\""},
    {"merge_result_missing.json", "model.merges[0]: the merged token \"ab\" is not in model.vocab"},
    {"vocab_not_object.json", "model.vocab: expected an object of token: id"},
    {"vocab_negative_id.json", "model.vocab[\"a\"]: expected an id"},
    {"vocab_huge_id.json", "model.vocab[\"a\"]: expected an id"},
    {"vocab_duplicate_id.json", "model.vocab[\"b\"]: id 0 is also used by \"a\""},
    {"model_wordpiece.json", "model.type: 'WordPiece' is not supported"},
    {"bad_regex.json", "pre_tokenizer.pattern.Regex: pattern does not compile"},
    {"unknown_pre_tokenizer.json", "pre_tokenizer.type: pre-tokenizer 'UnicodeScripts' is not supported"},
    {"bad_behavior.json", "pre_tokenizer.behavior: 'Sideways' is not one of"},
    {"added_no_content.json", "added_tokens[0].content: missing"},
    {"sequence_not_array.json", "normalizer.normalizers: expected an array"},
    {"decoder_bad_int.json", "decoder.start: expected an integer"},
    {"template_unknown_special.json", "post_processor.single[0].SpecialToken: special token '<s>'"},
    {"unsupported_normalizer.json", "normalizer.type: normalizer 'BertNormalizer' is not supported"},
    {"deep_sequence.json", "nested deeper than"},
    {"bool_not_bool.json", "model.byte_fallback: expected a boolean, got a string"},
    {"added_not_array.json", "added_tokens: expected an array"},
};

START_TEST(test_corrupt_file)
{
    char rel[128], err[512];
    snprintf(rel, sizeof rel, "corrupt/%s", cases[_i][0]);
    char *path = tt_data_path(rel);
    ck_assert_msg(access(path, R_OK) == 0, "missing test file %s", path);
    err[0] = '\0';
    tokenizer *t = tokenizer_load_hf(path, err, sizeof err);
    ck_assert_msg(t == NULL, "%s loaded", path);
    ck_assert_msg(strstr(err, path) == err, "message does not start with the file: %s", err);
    ck_assert_msg(strstr(err, cases[_i][1]) != NULL, "%s:\n  message: %s\n  expected: %s",
                  cases[_i][0], err, cases[_i][1]);
    free(path);
}
END_TEST

START_TEST(test_missing_file_and_small_buffers)
{
    char err[8];
    ck_assert_ptr_null(tokenizer_load_hf("/nonexistent/tokenizer.json", err, sizeof err));
    ck_assert_uint_lt(strlen(err), sizeof err);     /* truncated, terminated */
    ck_assert_ptr_null(tokenizer_load_hf("/nonexistent/tokenizer.json", NULL, 0));
    ck_assert_ptr_null(tokenizer_load_hf(NULL, NULL, 0));
}
END_TEST

/* A hand-made file: merges a+b (rank 0) then ab+c (rank 1); "abcab" is
 * pre-tokenized as one word, so BPE gives [abc, ab]. */
START_TEST(test_tiny_valid)
{
    static const char json[] =
        "{\"added_tokens\": [{\"id\": 6, \"content\": \"<eos>\", \"special\": true}],"
        " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3,"
        " \"abc\": 4, \"bc\": 5}, \"merges\": [\"a b\", [\"ab\", \"c\"], \"b c\"]}}";
    char dir[] = "/tmp/rlaif_toktiny_XXXXXX", path[600], err[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "w");
    fputs(json, f);
    fclose(f);
    tokenizer *t = tokenizer_load_hf(path, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    int32_t *ids;
    size_t n;
    ck_assert_int_eq(tokenizer_encode(t, "abcab<eos>bc", 12, 1, &ids, &n, err, sizeof err), RLAIF_OK);
    static const int32_t want[] = {4, 3, 6, 5};
    ck_assert_uint_eq(n, 4);
    ck_assert_mem_eq(ids, want, sizeof want);
    /* Without a decoder the tokens are joined by spaces (HF's default). */
    char *s;
    ck_assert_int_eq(tokenizer_decode(t, ids, n, 1, &s, NULL, err, sizeof err), RLAIF_OK);
    ck_assert_str_eq(s, "abc ab bc");
    free(s);
    ck_assert_int_eq(tokenizer_eos(t), -1);
    ck_assert_int_eq(tokenizer_bos(t), -1);
    free(ids);
    tokenizer_free(t);
    remove(path);
    remove(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokenizer_errors");
    TCase *tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_corrupt_file, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_missing_file_and_small_buffers);
    tcase_add_test(tc, test_tiny_valid);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
