/*
 * runner.c — from (language, code, tests) to per-test verdicts: pick the
 * code out of the response, write the driver, run it in the sandbox with a
 * fresh nonce, and trust only the nonce-tagged lines on fd 4.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "runner.h"

/* ===== Languages and tools ============================================== */

int ut_lang_from_name(const char *name)
{
    if (!name) return -1;
    if (!strcmp(name, "lua")) return UT_LANG_LUA;
    if (!strcmp(name, "python") || !strcmp(name, "python3") || !strcmp(name, "py"))
        return UT_LANG_PYTHON;
    if (!strcmp(name, "c")) return UT_LANG_C;
    return -1;
}

const char *ut_lang_name(ut_lang lang)
{
    static const char *const names[] = {"lua", "python", "c"};
    return (unsigned)lang < UT_LANG_COUNT ? names[lang] : "?";
}

/* Looks `name` up on SBX_PATH (the sandbox's PATH), or takes it as is
 * when it is absolute. */
static void find_tool(char *out, size_t cap, const char *name)
{
    out[0] = '\0';
    if (!name || !name[0]) return;
    if (name[0] == '/') {
        if (access(name, X_OK) == 0) snprintf(out, cap, "%s", name);
        return;
    }
    const char *p = SBX_PATH;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char cand[256];
        snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, name);
        if (access(cand, X_OK) == 0) {
            snprintf(out, cap, "%s", cand);
            return;
        }
        p += n + (colon ? 1 : 0);
    }
}

void ut_tools_find(ut_tools *t, const char *lua, const char *python, const char *cc)
{
    find_tool(t->path[UT_LANG_LUA], sizeof t->path[0], lua ? lua : "lua5.4");
    find_tool(t->path[UT_LANG_PYTHON], sizeof t->path[0], python ? python : "python3");
    find_tool(t->path[UT_LANG_C], sizeof t->path[0], cc ? cc : "cc");
    find_tool(t->sh, sizeof t->sh, "/bin/sh");
}

int ut_is_identifier(const char *s)
{
    if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return 0;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

/* ===== Code extraction ================================================== */

static int tag_matches(const char *tag, size_t n, ut_lang lang)
{
    static const char *const names[UT_LANG_COUNT][4] = {
        {"lua", NULL}, {"python", "python3", "py", NULL}, {"c", "h", NULL}};
    for (int i = 0; names[lang][i]; i++)
        if (strlen(names[lang][i]) == n && strncmp(tag, names[lang][i], n) == 0) return 1;
    return 0;
}

/* Finds the next fence "```" at the start of a line at or after `s`. */
static const char *next_fence(const char *start, const char *s)
{
    for (const char *p = strstr(s, "```"); p; p = strstr(p + 3, "```")) {
        const char *q = p;
        while (q > start && (q[-1] == ' ' || q[-1] == '\t')) q--;
        if (q == start || q[-1] == '\n') return p;
    }
    return NULL;
}

void ut_extract_code(const char *response, ut_lang lang, const char **code, size_t *len)
{
    const char *first = NULL, *first_end = NULL;
    const char *p = response;
    for (const char *open; (open = next_fence(response, p)) != NULL;) {
        const char *tag = open + 3;
        size_t tag_len = strcspn(tag, " \t\r\n{");
        const char *body = strchr(tag, '\n');
        if (!body) break;
        body++;
        const char *close = next_fence(response, body);
        /* An unclosed block (a response cut by the token limit) runs to the end. */
        const char *end = close ? close : body + strlen(body);
        if (tag_matches(tag, tag_len, lang)) {
            *code = body;
            *len = (size_t)(end - body);
            return;
        }
        if (!first) first = body, first_end = end;
        if (!close) break;
        p = close + 3;
    }
    if (first) {
        *code = first;
        *len = (size_t)(first_end - first);
        return;
    }
    *code = response;
    *len = strlen(response);
}

/* ===== Reading the verdicts ============================================= */

/* Parses the result stream: only lines starting with "<nonce> " count. */
static void parse_results(const sbx_buf *res, const char *nonce, ut_outcome *out, int *done)
{
    size_t nl = strlen(nonce);
    *done = 0;
    const char *p = res->data, *end = res->data + res->len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break;   /* a cut line is no evidence */
        if ((size_t)(eol - p) > nl && memcmp(p, nonce, nl) == 0 && p[nl] == ' ') {
            const char *w = p + nl + 1;
            size_t wl = (size_t)(eol - w);
            if (wl == 4 && memcmp(w, "done", 4) == 0) {
                *done = 1;
            } else if (wl == 10 && memcmp(w, "load_error", 10) == 0) {
                out->load_error = 1;
            } else {
                char *after;
                unsigned long i = strtoul(w, &after, 10);
                if (after != w && i < out->n_tests && out->status[i] == UT_NOT_RUN) {
                    if (strncmp(after, " pass", 5) == 0 && after + 5 == eol)
                        out->status[i] = UT_PASS;
                    else if (strncmp(after, " fail", 5) == 0 && after + 5 == eol)
                        out->status[i] = UT_FAIL;
                }
            }
        }
        p = eol + 1;
    }
    out->passed = 0;
    for (size_t i = 0; i < out->n_tests; i++) out->passed += out->status[i] == UT_PASS;
}

/* ===== Running ========================================================== */

/* Exit code of the C compile step (the shell's "cc failed"). */
#define UT_COMPILE_FAILED 97

static rlaif_status make_nonce(char hex[33], char *err, size_t errlen)
{
    unsigned char raw[16];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return rlaif_errorf(err, errlen, RLAIF_E_EXTERNAL, "unittest: getrandom: %s",
                                strerror(errno));
        got += (size_t)n;
    }
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 15];
    }
    hex[32] = '\0';
    return RLAIF_OK;
}

rlaif_status ut_run_task(const ut_task *task, const ut_tools *tools, const sbx_limits *lim,
                         sbx_result *sr, ut_outcome *out, char *err, size_t errlen)
{
    out->n_tests = task->n_tests;
    out->passed = 0;
    out->timed_out = out->crashed = out->compile_error = out->load_error = out->degraded = 0;
    out->isolated = 0;
    for (size_t i = 0; i < task->n_tests; i++) out->status[i] = UT_NOT_RUN;
    if ((unsigned)task->lang >= UT_LANG_COUNT)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "unittest: unknown language");
    const char *tool = tools->path[task->lang];
    if (!tool[0] || (task->lang == UT_LANG_C && !tools->sh[0]))
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "unittest: no %s tool found on %s (install it, or name it in the "
                            "config)",
                            ut_lang_name(task->lang), SBX_PATH);

    if (task->entry && !ut_is_identifier(task->entry))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "unittest: entry '%.40s' is not an identifier", task->entry);
    char nonce[33];
    rlaif_status st = make_nonce(nonce, err, errlen);
    if (st) return st;

    ut_str driver = {0};
    int isolated = 0;
    sbx_file files[3];
    size_t n_files = 0;
    const char *argv[8] = {0};
    char compile_cmd[700];
    switch (task->lang) {
    case UT_LANG_PYTHON:
        isolated = task->isolated;
        ut_driver_python(&driver, task->tests, task->n_tests, task->entry, task->isolated);
        files[n_files++] = (sbx_file){"solution.py", task->code, task->code_len};
        files[n_files++] = (sbx_file){"driver.py", driver.s, driver.len};
        if (task->isolated)
            files[n_files++] = (sbx_file){"host.py", ut_driver_python_host(),
                                          strlen(ut_driver_python_host())};
        /* -I: no user site, no env vars, script dir not on sys.path;
         * -S: no site module (fast start); -B: no .pyc writes. */
        argv[0] = tool, argv[1] = "-I", argv[2] = "-S", argv[3] = "-B", argv[4] = "driver.py";
        break;
    case UT_LANG_LUA:
        /* Lua cannot make itself non-dumpable: the sandbox starts it so,
         * where the kernel allows; otherwise the shared variant runs. */
        isolated = task->isolated && sbx_nondumpable_supported();
        ut_driver_lua(&driver, task->tests, task->n_tests, task->entry, isolated ? tool : NULL);
        files[n_files++] = (sbx_file){"solution.lua", task->code, task->code_len};
        files[n_files++] = (sbx_file){"driver.lua", driver.s, driver.len};
        if (isolated)
            files[n_files++] = (sbx_file){"host.lua", ut_driver_lua_host(),
                                          strlen(ut_driver_lua_host())};
        argv[0] = tool, argv[1] = "-E", argv[2] = "driver.lua";
        break;
    case UT_LANG_C:
    default:
        ut_driver_c_tests(&driver, task->tests, task->n_tests, task->entry);
        files[n_files++] = (sbx_file){"solution.c", task->code, task->code_len};
        files[n_files++] = (sbx_file){"tests.c", driver.s, driver.len};
        files[n_files++] = (sbx_file){"driver.c", ut_driver_c_main(), strlen(ut_driver_c_main())};
        snprintf(compile_cmd, sizeof compile_cmd,
                 "'%s' -std=gnu11 -O1 -w -o prog tests.c driver.c -lm || exit %d; exec ./prog",
                 tool, UT_COMPILE_FAILED);
        argv[0] = tools->sh, argv[1] = "-c", argv[2] = compile_cmd;
        break;
    }
    if (driver.oom) {
        ut_str_free(&driver);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "unittest: out of memory");
    }

    sbx_spec spec = {.argv = argv, .files = files, .n_files = n_files, .secret = nonce,
                     .secret_len = 32, .lim = *lim,
                     .nondumpable = isolated && task->lang == UT_LANG_LUA,
                     .fifo = isolated && task->lang == UT_LANG_LUA ? "rep.fifo" : NULL};
    /* Room for every verdict line ("<32 hex> <index> pass\n") whatever the
     * output cap, so that a small cap never costs verdicts. */
    size_t need = 64 * task->n_tests + 4096;
    if (spec.lim.max_result < need) spec.lim.max_result = need;
    st = sbx_run(&spec, sr, err, errlen);
    ut_str_free(&driver);
    if (st) return st;

    int done = 0;
    parse_results(&sr->res, nonce, out, &done);
    out->isolated = isolated;
    out->timed_out = sr->timed_out;
    out->degraded = sr->degraded;
    out->compile_error =
        task->lang == UT_LANG_C && sr->exited && sr->exit_code == UT_COMPILE_FAILED && !done;
    out->crashed = !done && !sr->timed_out;
    return RLAIF_OK;
}
