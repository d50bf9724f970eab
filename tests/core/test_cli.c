/*
 * test_cli.c — the `rlaif` binary as a user meets it: help and version,
 * `rlaif plugins`, a script's errors with tracebacks, handles used after
 * close, every broken plugin as a clean non-zero exit, bytecode refused.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[1 << 16];

/* Runs a shell command; captures stdout+stderr into `out`; returns the exit code. */
static int run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    ck_assert_msg(WIFEXITED(st), "'%s' did not exit normally (crash?): %s", cmd, out);
    return WEXITSTATUS(st);
}

/* Writes a Lua script to a temp file; returns its path (static buffer). */
static const char *script(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/rlaif-cli-XXXXXX.lua");
    int fd = mkstemps(path, 4);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(test_help_and_version)
{
    ck_assert_int_eq(run("%s --version", RLAIF_EXE), 0);
    ck_assert_msg(strstr(out, "plugin ABI 1"), "%s", out);
    ck_assert_int_eq(run("%s --help", RLAIF_EXE), 0);
    ck_assert_msg(strstr(out, "usage: rlaif COMMAND"), "%s", out);
    ck_assert_int_eq(run("%s run --help", RLAIF_EXE), 0);
    ck_assert_msg(strstr(out, "usage: rlaif run"), "%s", out);
    ck_assert_int_eq(run("%s plugins --help", RLAIF_EXE), 0);
    ck_assert_msg(strstr(out, "usage: rlaif plugins"), "%s", out);
    ck_assert_int_eq(run("%s frobnicate", RLAIF_EXE), 2);
    ck_assert_msg(strstr(out, "unknown command 'frobnicate'"), "%s", out);
    ck_assert_int_eq(run("%s", RLAIF_EXE), 2);
}
END_TEST

START_TEST(test_plugins_list)
{
    ck_assert_int_eq(run("%s plugins", RLAIF_EXE), 0);
    ck_assert_msg(strstr(out, "length") && strstr(out, "reward") && strstr(out, "rlaif-reward-length.so"),
                  "%s", out);
}
END_TEST

START_TEST(test_script_error_traceback)
{
    const char *s = script("local rlaif = require 'rlaif'\nlocal function f()\n  error('boom')\nend\nf()\n");
    ck_assert_int_eq(run("%s run %s", RLAIF_EXE, s), 1);
    ck_assert_msg(strstr(out, ".lua:3: boom") && strstr(out, "stack traceback"), "%s", out);
    unlink(s);
}
END_TEST

START_TEST(test_script_args_and_module)
{
    const char *s = script("assert(rlaif == require 'rlaif')\n"
                           "print(arg[0] ~= nil, arg[1], arg[2], select('#', ...))\n");
    ck_assert_int_eq(run("%s run %s one two", RLAIF_EXE, s), 0);
    ck_assert_msg(strstr(out, "true\tone\ttwo\t2"), "%s", out);
    unlink(s);
}
END_TEST

START_TEST(test_used_after_close)
{
    const char *s = script("local r = rlaif.reward{plugin='length'}\nr:close()\nr:close()\n"
                           "r:score1('p', 'a b')\n");
    ck_assert_int_eq(run("%s run %s", RLAIF_EXE, s), 1);
    ck_assert_msg(strstr(out, "reward used after close"), "%s", out);
    unlink(s);
    s = script("do local r <close> = rlaif.reward{plugin='length'}; R = r end\nR:score1('p','a')\n");
    ck_assert_int_eq(run("%s run %s", RLAIF_EXE, s), 1);
    ck_assert_msg(strstr(out, "reward used after close"), "%s", out);
    unlink(s);
}
END_TEST

START_TEST(test_bytecode_refused)
{
    char bc[] = "/tmp/rlaif-bc-XXXXXX";
    int fd = mkstemp(bc);
    close(fd);
    const char *s = script("local f = io.open(arg[1], 'wb')\n"
                           "f:write(string.dump(function() print('ran') end))\nf:close()\n");
    ck_assert_int_eq(run("%s run %s %s", RLAIF_EXE, s, bc), 0);
    ck_assert_int_eq(run("%s run %s", RLAIF_EXE, bc), 1);
    ck_assert_msg(strstr(out, "binary chunk") && !strstr(out, "ran"), "%s", out);
    unlink(s);
    unlink(bc);
}
END_TEST

/* Every broken plugin: loading it from a script exits 1 with its message. */
START_TEST(test_broken_plugins_from_script)
{
    static const struct {
        const char *file, *needle;
    } cases[] = {
        {"broken-abi.so", "incompatible ABI (plugin 999, host 1)"},
        {"broken-kind.so", "unknown plugin kind 9"},
        {"broken-vtable.so", "NULL vtable"},
        {"broken-noentry.so", "no entry symbol"},
        {"broken-nullinfo.so", "returned NULL info"},
        {"does-not-exist.so", "plugin file not found"},
    };
    const char *s = script("rlaif.load_plugin(arg[1])\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(run("%s run %s %s/%s", RLAIF_EXE, s, BROKEN_DIR, cases[i].file), 1);
        ck_assert_msg(strstr(out, cases[i].needle) && strstr(out, cases[i].file), "%s: %s",
                      cases[i].file, out);
    }
    /* duplicate: two files claiming reward 'fortytwo' */
    const char *d = script("rlaif.load_plugin(arg[1])\nrlaif.load_plugin(arg[2])\n");
    ck_assert_int_eq(run("%s run %s %s/broken-good.so %s/broken-dup.so", RLAIF_EXE, d, BROKEN_DIR,
                         BROKEN_DIR), 1);
    ck_assert_msg(strstr(out, "duplicate plugin name"), "%s", out);
    unlink(s);
    unlink(d);
}
END_TEST

START_TEST(test_plugin_by_path_scores)
{
    const char *s = script("local info = rlaif.load_plugin(arg[1])\n"
                           "local r = rlaif.reward{plugin = arg[1]}\n"
                           "print(info.name, r:score1('p', 'x'))\n");
    ck_assert_int_eq(run("%s run %s %s/broken-good.so", RLAIF_EXE, s, BROKEN_DIR), 0);
    ck_assert_msg(strstr(out, "fortytwo\t42.0"), "%s", out);
    unlink(s);
}
END_TEST

START_TEST(test_lua_reward_error_names_sample)
{
    const char *s = script("local r = rlaif.reward(function(p, resp)\n"
                           "  if resp == 'bad' then error('cannot score this') end\n"
                           "  return 1 end, 'picky')\n"
                           "r:score({'a', 'b'}, {'fine', 'bad'})\n");
    ck_assert_int_eq(run("%s run %s", RLAIF_EXE, s), 1);
    ck_assert_msg(strstr(out, "reward picky failed on sample 2") && strstr(out, "cannot score this") &&
                      strstr(out, "stack traceback"), "%s", out);
    unlink(s);
}
END_TEST

START_TEST(test_json_roundtrip)
{
    const char *s = script("local j = rlaif.json\n"
                           "local t = j.decode(j.encode({a = {1, 2, 3}, b = 'x', c = true, e = j.array()}))\n"
                           "print(t.a[3], t.b, t.c, #t.e, j.encode(t.e))\n"
                           "print(j.decode('{bad'))\n");
    ck_assert_int_eq(run("%s run %s", RLAIF_EXE, s), 0);
    ck_assert_msg(strstr(out, "3\tx\ttrue\t0\t[]") && strstr(out, "nil\tinvalid JSON"), "%s", out);
    unlink(s);
}
END_TEST

/* A config value JSON cannot hold is an error naming its path (and, in the
 * sanitizer build, leaks nothing: the half-built tree is freed). */
START_TEST(test_config_value_not_json)
{
    const char *s = script("rlaif.reward{plugin = 'length', nested = {ok = 1, bad = {function() end}}}\n");
    ck_assert_int_eq(run("%s run %s", RLAIF_EXE, s), 1);
    ck_assert_msg(strstr(out, "reward config.nested.bad[1]: a function cannot be written as JSON"), "%s", out);
    unlink(s);
}
END_TEST

START_TEST(test_constitution_check)
{
    ck_assert_int_eq(run("%s constitution check %s/../../constitutions/stories.json "
                         "%s/../../constitutions/harmless.json", RLAIF_EXE, TEST_SRC_DIR, TEST_SRC_DIR), 0);
    ck_assert_msg(strstr(out, "stories.json: ok") && strstr(out, "harmless.json: ok"), "%s", out);
    char bad[] = "/tmp/rlaif-constitution-XXXXXX";
    int fd = mkstemp(bad);
    const char *text = "{\"name\": \"x\", \"description\": \"d\", \"principles\": [{\"id\": 3}]}";
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ck_assert_int_eq(run("%s constitution check %s", RLAIF_EXE, bad), 1);
    ck_assert_msg(strstr(out, bad) && strstr(out, "$.principles[0]"), "%s", out);
    unlink(bad);
    ck_assert_int_eq(run("%s constitution", RLAIF_EXE), 2);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_help_and_version);
    tcase_add_test(tc, test_plugins_list);
    tcase_add_test(tc, test_script_error_traceback);
    tcase_add_test(tc, test_script_args_and_module);
    tcase_add_test(tc, test_used_after_close);
    tcase_add_test(tc, test_bytecode_refused);
    tcase_add_test(tc, test_broken_plugins_from_script);
    tcase_add_test(tc, test_plugin_by_path_scores);
    tcase_add_test(tc, test_lua_reward_error_names_sample);
    tcase_add_test(tc, test_json_roundtrip);
    tcase_add_test(tc, test_config_value_not_json);
    tcase_add_test(tc, test_constitution_check);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cli_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
