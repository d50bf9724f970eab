/*
 * test_core.c — the loader's precise errors, the registry, instances and
 * the host table, checked through core/core.h.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

static char err[4096];

static void setup(void) { rlc_init(NULL); }
static void teardown(void) { rlc_shutdown(); }

/* Loads BROKEN_DIR/broken-<name>.so expecting failure with `needle` in the message. */
static void expect_load_error(const char *name, const char *needle)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/broken-%s.so", BROKEN_DIR, name);
    err[0] = 0;
    rlc_plugin *p = rlc_plugin_load(path, err, sizeof err);
    ck_assert_msg(p == NULL, "%s loaded but should not", name);
    ck_assert_msg(strstr(err, needle) != NULL, "message for %s lacks '%s': %s", name, needle, err);
    ck_assert_msg(strstr(err, path) != NULL, "message for %s does not name the file: %s", name, err);
}

START_TEST(test_not_found)
{
    rlc_plugin *p = rlc_plugin_load("/nonexistent/rlaif-reward-x.so", err, sizeof err);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err, "not found") && strstr(err, "/nonexistent/rlaif-reward-x.so"), "%s", err);
}
END_TEST

START_TEST(test_not_shared_object)
{
    char path[] = "/tmp/rlaif-test-notso-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "hello\n", 6), 6);
    close(fd);
    rlc_plugin *p = rlc_plugin_load(path, err, sizeof err);
    unlink(path);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err, "not a loadable shared object") && strstr(err, path), "%s", err);
}
END_TEST

START_TEST(test_no_entry) { expect_load_error("noentry", "no entry symbol 'rlaif_plugin_entry'"); }
END_TEST
START_TEST(test_abi_mismatch) { expect_load_error("abi", "incompatible ABI (plugin 999, host 1)"); }
END_TEST
START_TEST(test_unknown_kind) { expect_load_error("kind", "unknown plugin kind 9"); }
END_TEST
START_TEST(test_null_info) { expect_load_error("nullinfo", "returned NULL info"); }
END_TEST
START_TEST(test_null_vtable) { expect_load_error("vtable", "NULL vtable"); }
END_TEST

START_TEST(test_duplicate)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/broken-good.so", BROKEN_DIR);
    rlc_plugin *good = rlc_plugin_load(path, err, sizeof err);
    ck_assert_msg(good != NULL, "%s", err);
    /* loading the same file again returns the same plugin, not an error */
    ck_assert_ptr_eq(rlc_plugin_load(path, err, sizeof err), good);
    expect_load_error("dup", "duplicate plugin name: reward 'fortytwo' is already loaded from");
}
END_TEST

START_TEST(test_find_by_name_and_missing)
{
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_REWARD, "length", err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_str_eq(rlc_plugin_info(p)->name, "length");
    ck_assert_ptr_eq(rlc_plugin_find(RLAIF_KIND_REWARD, "length", err, sizeof err), p);
    ck_assert_ptr_null(rlc_plugin_find(RLAIF_KIND_REWARD, "no_such_thing", err, sizeof err));
    ck_assert_msg(strstr(err, "no reward plugin named 'no_such_thing'") &&
                      strstr(err, "rlaif-reward-no_such_thing.so"), "%s", err);
    /* by path, wrong kind */
    char path[1024];
    snprintf(path, sizeof path, "%s/broken-good.so", BROKEN_DIR);
    ck_assert_ptr_null(rlc_plugin_find(RLAIF_KIND_MODEL, path, err, sizeof err));
    ck_assert_msg(strstr(err, "is a reward plugin, not a model plugin"), "%s", err);
}
END_TEST

START_TEST(test_instance_and_score)
{
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_REWARD, "length", err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    rlc_instance *in = rlc_instance_create(p, "{\"target\": 3, \"tolerance\": 1, \"falloff\": 2}",
                                           err, sizeof err);
    ck_assert_msg(in != NULL, "%s", err);
    const rlaif_reward_vtable *vt = rlc_instance_vtable(in);
    const char *prompts[] = {"", "", "", ""};
    const char *responses[] = {"a b c", "a b", "a b c d e f", "one two three four five six seven eight"};
    float rewards[4], metrics[4];
    rlaif_reward_batch b = {.struct_size = sizeof b, .n = 4, .prompts = prompts, .responses = responses};
    rlaif_reward_out o = {.struct_size = sizeof o, .rewards = rewards, .metrics = metrics};
    ck_assert_int_eq(vt->score(rlc_instance_self(in), &b, &o, err, sizeof err), RLAIF_OK);
    /* |3-3|-1 <= 0 -> 1; |2-3|-1 = 0 -> 1; |6-3|-1 = 2 -> 1-2/2 = 0; 8 words -> floor 0 */
    ck_assert_float_eq_tol(rewards[0], 1.0f, 1e-6);
    ck_assert_float_eq_tol(rewards[1], 1.0f, 1e-6);
    ck_assert_float_eq_tol(rewards[2], 0.0f, 1e-6);
    ck_assert_float_eq_tol(rewards[3], 0.0f, 1e-6);
    ck_assert_float_eq_tol(metrics[2], 6.0f, 1e-6);
    rlc_instance_unref(in);
}
END_TEST

START_TEST(test_config_errors_name_the_key)
{
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_REWARD, "length", err, sizeof err);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(rlc_instance_create(p, "{\"taget\": 3}", err, sizeof err));
    ck_assert_msg(strstr(err, "unknown config key 'taget'"), "%s", err);
    ck_assert_ptr_null(rlc_instance_create(p, "{\"target\": \"three\"}", err, sizeof err));
    ck_assert_msg(strstr(err, "'target': expected a number, got a string"), "%s", err);
    ck_assert_ptr_null(rlc_instance_create(p, "{\"unit\": \"bytes\"}", err, sizeof err));
    ck_assert_msg(strstr(err, "'unit': 'bytes' is not one of: chars, words, tokens"), "%s", err);
    ck_assert_ptr_null(rlc_instance_create(p, "{not json", err, sizeof err));
    ck_assert_msg(strstr(err, "not valid JSON"), "%s", err);
    ck_assert_ptr_null(rlc_instance_create(p, "[1]", err, sizeof err));
    ck_assert_msg(strstr(err, "must be a JSON object"), "%s", err);
}
END_TEST

START_TEST(test_acquire_release)
{
    const rlaif_host *h = rlc_host();
    ck_assert_int_eq(h->abi_version, RLAIF_ABI_VERSION);
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_REWARD, "length", err, sizeof err);
    rlc_instance *in = rlc_instance_create(p, "{}", err, sizeof err);
    ck_assert_ptr_nonnull(in);
    uint64_t handle = rlc_instance_handle(in);
    rlaif_ref ref = {.struct_size = sizeof ref};
    ck_assert_int_eq(h->acquire(h, handle, RLAIF_KIND_REWARD, &ref, err, sizeof err), RLAIF_OK);
    ck_assert_ptr_eq(ref.self, rlc_instance_self(in));
    ck_assert_int_eq(h->acquire(h, handle, RLAIF_KIND_MODEL, &ref, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "a model was expected"), "%s", err);
    /* the creator lets go; the acquired reference keeps it alive */
    rlc_instance_unref(in);
    ck_assert_ptr_nonnull(rlc_instance_by_handle(handle));
    h->release(h, handle);
    ck_assert_ptr_null(rlc_instance_by_handle(handle));
    ck_assert_int_eq(h->acquire(h, handle, RLAIF_KIND_REWARD, &ref, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "is not live"), "%s", err);
}
END_TEST

START_TEST(test_caps_and_kinds)
{
    char buf[256];
    rlc_caps_string(RLAIF_KIND_MODEL, RLAIF_CAP_MODEL_GENERATE | RLAIF_CAP_MODEL_TRAIN, buf, sizeof buf);
    ck_assert_str_eq(buf, "generate,train");
    rlc_caps_string(RLAIF_KIND_REWARD, 0, buf, sizeof buf);
    ck_assert_str_eq(buf, "-");
    ck_assert_int_eq(rlc_kind_from_name("optimizer"), RLAIF_KIND_OPTIMIZER);
    ck_assert_int_eq(rlc_kind_from_name("nope"), 0);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("loader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_not_shared_object);
    tcase_add_test(tc, test_no_entry);
    tcase_add_test(tc, test_abi_mismatch);
    tcase_add_test(tc, test_unknown_kind);
    tcase_add_test(tc, test_null_info);
    tcase_add_test(tc, test_null_vtable);
    tcase_add_test(tc, test_duplicate);
    tcase_add_test(tc, test_find_by_name_and_missing);
    tcase_add_test(tc, test_caps_and_kinds);
    suite_add_tcase(s, tc);
    TCase *ti = tcase_create("instances");
    tcase_add_checked_fixture(ti, setup, teardown);
    tcase_add_test(ti, test_instance_and_score);
    tcase_add_test(ti, test_config_errors_name_the_key);
    tcase_add_test(ti, test_acquire_release);
    suite_add_tcase(s, ti);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(core_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
