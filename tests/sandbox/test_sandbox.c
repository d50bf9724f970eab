/*
 * test_sandbox.c — containment tests of the sandbox itself (sandbox.h),
 * linked directly: each hostile command must come back as a result (not a
 * hang, not a crash of this process), leave no process and no file behind,
 * and fail to touch the host.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"
#include "sbx_test_util.h"

static sbx_result R;

static void setup(void) { sbx_result_init(&R); }

static void teardown(void)
{
    sbx_result_free(&R);
    ck_assert_uint_eq(sbx_test_count_children(), 0);
}

static int full_mode_available(void)
{
    sbx_test_sh("true", 5000, 0, &R);
    return !R.degraded;
}

/* ===== The basics ======================================================= */

START_TEST(test_basic_io)
{
    static const char secret[] = "the-secret";
    sbx_file files[] = {{"input.txt", "forty-two\n", 10}};
    const char *argv[] = {"/bin/sh", "-c",
                          "cat input.txt; cat <&3 >&4; echo to-stderr >&2; pwd; env | wc -l; "
                          "echo new > mine.txt && cat mine.txt; "
                          "echo fds: $(ls /proc/self/fd | tr '\\n' ' '); exit 3",
                          NULL};
    for (int degraded = 0; degraded < 2; degraded++) {
        sbx_spec spec = {.argv = argv, .files = files, .n_files = 1, .secret = secret,
                         .secret_len = strlen(secret), .lim = {.timeout_ms = 5000},
                         .force_degraded = degraded};
        sbx_test_run(&spec, &R);
        ck_assert_int_eq(R.exited, 1);
        ck_assert_int_eq(R.exit_code, 3);
        ck_assert_int_eq(R.timed_out, 0);
        ck_assert_str_eq(R.res.data, "the-secret");
        ck_assert_str_eq(R.err.data, "to-stderr\n");
        ck_assert_msg(strncmp(R.out.data, "forty-two\n", 10) == 0, "out: %s", R.out.data);
        ck_assert_msg(strstr(R.out.data, "new\n") != NULL, "out: %s", R.out.data);
        /* No descriptor leaks: 0-4, plus the one ls opens to list them. */
        ck_assert_msg(strstr(R.out.data, "fds: 0 1 2 3 4 5\n") != NULL, "out: %s", R.out.data);
        if (!R.degraded) {
            ck_assert_msg(strstr(R.out.data, "\n" SBX_WORKDIR_INSIDE "\n"), "out: %s", R.out.data);
        }
        /* A minimal environment: PATH, HOME, LANG (+TMPDIR in full mode) and
         * PWD set by the shell. */
        ck_assert_msg(strstr(R.out.data, "\n5\n") || strstr(R.out.data, "\n4\n"), "out: %s",
                      R.out.data);
    }
}
END_TEST

START_TEST(test_exec_failure_and_bad_spec)
{
    const char *argv[] = {"/nonexistent/program", NULL};
    sbx_spec spec = {.argv = argv, .lim = {.timeout_ms = 2000}};
    sbx_test_run(&spec, &R);
    ck_assert_int_eq(R.exited, 1);
    ck_assert_int_eq(R.exit_code, 127);

    const char *rel[] = {"sh", NULL};
    spec.argv = rel;
    char err[256] = "";
    ck_assert_int_eq(sbx_run(&spec, &R, err, sizeof err), RLAIF_E_INVALID);
    ck_assert_msg(strstr(err, "absolute"), "%s", err);

    sbx_file bad[] = {{"../escape", "x", 1}};
    spec.argv = argv;
    spec.files = bad;
    spec.n_files = 1;
    ck_assert_int_eq(sbx_run(&spec, &R, err, sizeof err), RLAIF_E_INVALID);
}
END_TEST

/* ===== Containment ====================================================== */

START_TEST(test_infinite_loop)
{
    int degraded = _i;
    sbx_test_sh("while :; do :; done", 800, degraded, &R);
    ck_assert_int_eq(R.timed_out, 1);
    ck_assert_int_eq(R.exited, 0);
    ck_assert_int_eq(R.signaled, 1);
    ck_assert_msg(R.wall_ms >= 790 && R.wall_ms < 3000, "wall %.1f ms", R.wall_ms);
}
END_TEST

START_TEST(test_fork_bomb)
{
    int degraded = _i;
    /* Unprivileged degraded mode has no process limit of its own (RLIMIT_NPROC
     * would count all of the user's processes): no bomb there. */
    if (degraded && geteuid() != 0) return;
    /* The shell's classic bomb; after a moment, count what exists. */
    sbx_test_sh("b() { b | b & }; b; sleep 0.5; ls /proc | grep -c '^[0-9]'", 3000, degraded,
                &R);
    ck_assert_int_eq(R.exited || R.timed_out, 1);
    /* The count itself needs a fork, which the bomb may have starved. */
    long n = strtol(R.out.data, NULL, 10);
    if (!R.degraded && n > 0) ck_assert_msg(n <= 34, "%ld processes in the sandbox", n);
    ck_assert_msg(strstr(R.err.data, "fork") || strstr(R.err.data, "Resource"),
                  "no fork failure seen: %s", R.err.data);
}
END_TEST

START_TEST(test_memory_hog)
{
    const char *argv[] = {"/usr/bin/python3", "-I", "-S", "-c",
                          "b = []\n"
                          "while True: b.append(bytearray(64 << 20))\n",
                          NULL};
    if (access(argv[0], X_OK) != 0) return;
    sbx_spec spec = {.argv = argv, .lim = {.timeout_ms = 10000, .memory_bytes = 256u << 20}};
    sbx_test_run(&spec, &R);
    ck_assert_int_eq(R.timed_out, 0);
    ck_assert_msg(!(R.exited && R.exit_code == 0), "the hog succeeded");
    ck_assert_msg(strstr(R.err.data, "MemoryError") || R.signaled, "err: %s", R.err.data);
}
END_TEST

START_TEST(test_write_outside)
{
    int degraded = _i;
    char marker[96], host_tmp[256], src_file[512], cmd[2048];
    sbx_test_marker(marker, sizeof marker, "escape");
    snprintf(host_tmp, sizeof host_tmp, "/tmp/%s", marker);
    const char *src = getenv("RLAIF_SOURCE_DIR");
    snprintf(src_file, sizeof src_file, "%s/%s", src && *src ? src : "/usr", marker);
    snprintf(cmd, sizeof cmd,
             "echo x > %s; echo x > %s; echo x > ../%s; echo x > /usr/%s; echo x > /etc/%s; "
             "echo inside > ok.txt && cat ok.txt",
             host_tmp, src_file, marker, marker, marker);
    sbx_test_sh(cmd, 5000, degraded, &R);
    /* Degraded mode writes the host's /tmp (documented): look, then clean up
     * before any assertion can end the test. */
    struct stat sb;
    int wrote_host_tmp = stat(host_tmp, &sb) == 0;
    unlink(host_tmp);
    ck_assert_msg(strstr(R.out.data, "inside"),
                  "the working dir is not writable: exited %d code %d timed out %d: out %s err %s",
                  R.exited, R.exit_code, R.timed_out, R.out.data, R.err.data);
    ck_assert_msg(stat(src_file, &sb) != 0, "wrote %s", src_file);
    char path[512];
    snprintf(path, sizeof path, "/usr/%s", marker);
    ck_assert_msg(stat(path, &sb) != 0, "wrote %s", path);
    snprintf(path, sizeof path, "/etc/%s", marker);
    ck_assert_msg(stat(path, &sb) != 0, "wrote %s", path);
    /* /tmp inside is private; in degraded mode it is the host's (documented). */
    if (!degraded) ck_assert_msg(!wrote_host_tmp, "wrote %s", host_tmp);
}
END_TEST

START_TEST(test_network_connect)
{
    if (!full_mode_available()) return;   /* degraded mode has the network (documented) */
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(ls, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(ls, 4), 0);
    socklen_t alen = sizeof a;
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &alen), 0);
    char code[512];
    snprintf(code, sizeof code,
             "import socket\n"
             "s = socket.socket()\n"
             "s.settimeout(2)\n"
             "try:\n"
             "    s.connect(('127.0.0.1', %d))\n"
             "    print('connected')\n"
             "except OSError as e:\n"
             "    print('refused', e.errno)\n",
             ntohs(a.sin_port));
    const char *argv[] = {"/usr/bin/python3", "-I", "-S", "-c", code, NULL};
    if (access(argv[0], X_OK) != 0) {
        close(ls);
        return;
    }
    sbx_spec spec = {.argv = argv, .lim = {.timeout_ms = 10000}};
    sbx_test_run(&spec, &R);
    ck_assert_msg(strstr(R.out.data, "refused"), "out: %s err: %s", R.out.data, R.err.data);
    ck_assert_msg(!strstr(R.out.data, "connected"), "the sandbox reached the host");
    int c = accept(ls, NULL, NULL);
    ck_assert_msg(c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "a connection arrived");
    close(ls);
}
END_TEST

START_TEST(test_gigabytes_of_output)
{
    int degraded = _i;
    sbx_test_sh("head -c 2000000000 /dev/zero; echo end >&2", 60000, degraded, &R);
    ck_assert_int_eq(R.timed_out, 0);
    ck_assert_int_eq(R.exited, 1);
    ck_assert_uint_eq(R.out.total, 2000000000ull);
    ck_assert_int_eq(R.out.truncated, 1);
    ck_assert_uint_eq(R.out.len, 64u << 10);
    ck_assert_str_eq(R.err.data, "end\n");

    /* An endless writer is stopped by the clock, its output still capped. */
    sbx_test_sh("yes", 500, degraded, &R);
    ck_assert_int_eq(R.timed_out, 1);
    ck_assert_int_eq(R.out.truncated, 1);
    ck_assert_uint_eq(R.out.len, 64u << 10);
}
END_TEST

START_TEST(test_setsid_daemon)
{
    if (!full_mode_available()) return;   /* degraded mode cannot hold these (documented) */
    char marker[96], cmd[1024];
    sbx_test_marker(marker, sizeof marker, "daemon");
    /* Double fork + setsid, stdio kept open (a daemon that would also hold
     * our pipes), then the command returns at once. */
    snprintf(cmd, sizeof cmd,
             "setsid sh -c 'python3 -I -S -c \"import time; time.sleep(60)\" %s & "
             "sleep 60 & wait' & sleep 0.3; echo launched",
             marker);
    sbx_test_sh(cmd, 20000, 0, &R);
    ck_assert_int_eq(R.timed_out, 0);
    ck_assert_msg(strstr(R.out.data, "launched"), "out: %s err: %s", R.out.data, R.err.data);
    ck_assert_msg(R.wall_ms < 5000, "waited for the daemon: %.0f ms", R.wall_ms);
    ck_assert_uint_eq(sbx_test_count_marked(marker), 0);
}
END_TEST

START_TEST(test_rlimits_inside)
{
    if (!full_mode_available()) return;
    const char *argv[] = {"/bin/sh", "-c", "ulimit -n; ulimit -c; ulimit -f; id -u", NULL};
    sbx_spec spec = {.argv = argv,
                     .lim = {.timeout_ms = 5000, .max_open_files = 32, .max_file_bytes = 1 << 20}};
    sbx_test_run(&spec, &R);
    /* open files, core blocks (0), file blocks of 512 B, the inside uid.
     * Under valgrind the open-files limit is only pretended (valgrind keeps
     * the real one for its own descriptors), so that line is not checked. */
    const char *preload = getenv("LD_PRELOAD");
    int valgrind = preload && strstr(preload, "vgpreload");
    const char *rest = strchr(R.out.data, '\n');
    ck_assert_ptr_nonnull(rest);
    ck_assert_str_eq(rest, "\n0\n2048\n1000\n");
    if (!valgrind) ck_assert_str_eq(R.out.data, "32\n0\n2048\n1000\n");
    /* A file over the size limit is cut by SIGXFSZ. */
    sbx_test_sh("head -c 30000000 /dev/zero > big; echo $? ; ls -l big | cut -d' ' -f5", 5000, 0,
                &R);
    ck_assert_msg(strstr(R.out.data, "16777216"), "out: %s", R.out.data);
}
END_TEST

/* spec.nondumpable: a child of the command (same uid) cannot read the
 * command's memory or environment; without it, it can. */
START_TEST(test_nondumpable)
{
    int degraded = _i;
    if (!sbx_nondumpable_supported()) return;   /* fs.suid_dumpable = 1, or valgrind */
    const char *argv[] = {"/bin/sh", "-c",
                          "if cat /proc/$$/environ > /dev/null 2>&1; then echo readable; "
                          "else echo sealed; fi; echo still-runs",
                          NULL};
    for (int nd = 0; nd < 2; nd++) {
        sbx_spec spec = {.argv = argv, .lim = {.timeout_ms = 5000}, .force_degraded = degraded,
                         .nondumpable = nd};
        sbx_test_run(&spec, &R);
        ck_assert_msg(strcmp(R.out.data, nd ? "sealed\nstill-runs\n" : "readable\nstill-runs\n") == 0,
                      "nondumpable %d: out %s err %s", nd, R.out.data, R.err.data);
    }
}
END_TEST

/* spec.fifo: a named pipe in the working directory, usable by the command. */
START_TEST(test_fifo)
{
    const char *argv[] = {"/bin/sh", "-c",
                          "test -p chan && (echo through > chan &) && cat chan", NULL};
    sbx_spec spec = {.argv = argv, .lim = {.timeout_ms = 5000}, .force_degraded = _i,
                     .fifo = "chan"};
    sbx_test_run(&spec, &R);
    ck_assert_msg(strcmp(R.out.data, "through\n") == 0, "out %s err %s", R.out.data, R.err.data);
    spec.fifo = "../x";
    char err[256];
    ck_assert_int_eq(sbx_run(&spec, &R, err, sizeof err), RLAIF_E_INVALID);
}
END_TEST

/* ===== Cleaning up ====================================================== */

START_TEST(test_remove_does_not_follow_links)
{
    char base[256], work[256], outside[300], canary[320], path[600];
    ck_assert_int_eq(sbx_dir_create(base, sizeof base, work, sizeof work), 0);
    snprintf(outside, sizeof outside, "%s.outside", base);
    ck_assert_int_eq(mkdir(outside, 0700), 0);
    snprintf(canary, sizeof canary, "%s/canary", outside);
    FILE *f = fopen(canary, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/link-to-dir", work);
    ck_assert_int_eq(symlink(outside, path), 0);
    snprintf(path, sizeof path, "%s/link-to-file", work);
    ck_assert_int_eq(symlink(canary, path), 0);
    snprintf(path, sizeof path, "%s/locked", work);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/locked/file", work);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/locked", work);
    ck_assert_int_eq(chmod(path, 0), 0);

    ck_assert_int_eq(sbx_dir_remove(base), 0);
    struct stat sb;
    ck_assert_int_ne(lstat(base, &sb), 0);
    ck_assert_int_eq(stat(canary, &sb), 0);   /* the link's target survived */
    unlink(canary);
    rmdir(outside);
}
END_TEST

/* ===== Picking the code out of a response =============================== */

static void check_extract(const char *response, ut_lang lang, const char *want)
{
    const char *code;
    size_t len;
    ut_extract_code(response, lang, &code, &len);
    ck_assert_msg(len == strlen(want) && strncmp(code, want, len) == 0,
                  "from <<%s>> got <<%.*s>>, want <<%s>>", response, (int)len, code, want);
}

START_TEST(test_extract_code)
{
    /* the block tagged with the language wins, wherever it is */
    check_extract("text\n```lua\nx = 1\n```\nmore\n```python\ny = 2\n```\n", UT_LANG_PYTHON,
                  "y = 2\n");
    check_extract("```py\na\n```", UT_LANG_PYTHON, "a\n");
    check_extract("```python3\na\n```", UT_LANG_PYTHON, "a\n");
    check_extract("```c\nint x;\n```", UT_LANG_C, "int x;\n");
    /* else the first block of any tag */
    check_extract("```\nplain\n```\n```js\nno\n```", UT_LANG_LUA, "plain\n");
    /* an unclosed block runs to the end */
    check_extract("Sure:\n```lua\nfunction f()\n  return 1", UT_LANG_LUA,
                  "function f()\n  return 1");
    /* no fence: the whole response */
    check_extract("def f():\n    return 1\n", UT_LANG_PYTHON, "def f():\n    return 1\n");
    /* backticks inside a line are not a fence */
    check_extract("use ```x``` here\ncode", UT_LANG_LUA, "use ```x``` here\ncode");
    check_extract("", UT_LANG_C, "");
    ck_assert_int_eq(ut_lang_from_name("python3"), UT_LANG_PYTHON);
    ck_assert_int_eq(ut_lang_from_name("rust"), -1);
    ck_assert_int_eq(ut_is_identifier("add_2"), 1);
    ck_assert_int_eq(ut_is_identifier("2add"), 0);
    ck_assert_int_eq(ut_is_identifier("a b"), 0);
}
END_TEST

static Suite *sandbox_suite(void)
{
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("containment");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_basic_io);
    tcase_add_test(tc, test_exec_failure_and_bad_spec);
    tcase_add_loop_test(tc, test_infinite_loop, 0, 2);
    tcase_add_loop_test(tc, test_fork_bomb, 0, 2);
    tcase_add_test(tc, test_memory_hog);
    tcase_add_loop_test(tc, test_write_outside, 0, 2);
    tcase_add_test(tc, test_network_connect);
    tcase_add_loop_test(tc, test_gigabytes_of_output, 0, 2);
    tcase_add_test(tc, test_setsid_daemon);
    tcase_add_test(tc, test_rlimits_inside);
    tcase_add_loop_test(tc, test_nondumpable, 0, 2);
    tcase_add_loop_test(tc, test_fifo, 0, 2);
    tcase_add_test(tc, test_remove_does_not_follow_links);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("runner");
    tcase_add_test(tr, test_extract_code);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    sbx_test_tmpdir_setup();
    SRunner *sr = srunner_create(sandbox_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    int left = sbx_test_tmpdir_check_empty();
    return failed || left ? 1 : 0;
}
