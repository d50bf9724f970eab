/*
 * runner.h — run a code task (candidate code + tests) in the sandbox and
 * read back which tests passed, from evidence the code cannot forge.
 *
 * Prefix `ut_`.  The scheme (docs/sandbox.md): the harness writes a test
 * driver that loads the candidate's code and then runs each test; the
 * driver reports a test as passed only after the test returned, by writing
 * "<nonce> <index> pass" to descriptor 4.  The nonce is fresh random bytes
 * per run, given to the driver on descriptor 3 (read and closed before any
 * candidate code runs); stdout, stderr and the exit status are never read
 * as results.
 */
#ifndef RLAIF_UT_RUNNER_H
#define RLAIF_UT_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "rlaif/plugin.h"
#include "sandbox.h"

typedef enum ut_lang { UT_LANG_LUA = 0, UT_LANG_PYTHON = 1, UT_LANG_C = 2, UT_LANG_COUNT } ut_lang;

/* "lua", "python" (or "python3", "py"), "c"; -1 when unknown. */
int ut_lang_from_name(const char *name);
const char *ut_lang_name(ut_lang lang);

/* Absolute paths of the tools, found on SBX_PATH ("" when missing). */
typedef struct ut_tools {
    char path[UT_LANG_COUNT][256];  /* interpreter or compiler per language */
    char sh[256];                   /* /bin/sh, for compile-then-run */
} ut_tools;

/* Finds lua5.4, python3 and cc (names may be overridden, NULL = default).
 * Never fails; a missing tool is an empty path. */
void ut_tools_find(ut_tools *t, const char *lua, const char *python, const char *cc);

/* The code in a model response: the first fenced block tagged with the
 * language, else the first fenced block, else the whole response.
 * Points into `response` (no copy). */
void ut_extract_code(const char *response, ut_lang lang, const char **code, size_t *len);

enum { UT_NOT_RUN = 0, UT_PASS = 1, UT_FAIL = 2 };

typedef struct ut_task {
    ut_lang lang;
    const char *code;            /* candidate source */
    size_t code_len;
    const char *const *tests;    /* [n_tests] test snippets (each a test) */
    size_t n_tests;
    const char *entry;           /* OPTIONAL: the function under test, which
                                    the tests may also call as `candidate` */
    int isolated;                /* Python, Lua: candidate in its own process (docs) */
} ut_task;

/* Nonzero when `s` is a C/Lua/Python identifier ([A-Za-z_][A-Za-z0-9_]*). */
int ut_is_identifier(const char *s);

typedef struct ut_outcome {
    size_t n_tests;
    size_t passed;
    uint8_t *status;       /* [n_tests] UT_*, caller-allocated */
    int timed_out;         /* the wall clock ran out */
    int crashed;           /* the driver did not finish (crash, exit, kill) */
    int compile_error;     /* C only: cc failed */
    int load_error;        /* the candidate's code raised while loading */
    int degraded;          /* the sandbox ran without namespaces */
    int isolated;          /* the candidate ran in its own process */
} ut_outcome;

/* Runs one task.  `sr` is a reusable sandbox result (its stderr holds the
 * tail shown in details).  Returns RLAIF_OK when the task ran, whatever
 * the code did; RLAIF_E_UNSUPPORTED when the language's tool is missing;
 * other errors when the sandbox could not be set up. */
rlaif_status ut_run_task(const ut_task *task, const ut_tools *tools, const sbx_limits *lim,
                         sbx_result *sr, ut_outcome *out, char *err, size_t errlen);

/* ----- Driver text (runner_drivers.c) ----- */

/* A growable string. */
typedef struct ut_str {
    char *s;
    size_t len, cap;
    int oom;
} ut_str;

void ut_str_add(ut_str *b, const char *s, size_t n);
void ut_str_cat(ut_str *b, const char *s);
void ut_str_hex(ut_str *b, const char *s, size_t n);
void ut_str_free(ut_str *b);

/* The driver program of a language, embedding the tests. */
/* Python: `isolated` runs the candidate in a second interpreter that answers
 * calls with plain data (ut_driver_python_host is its program, host.py). */
void ut_driver_python(ut_str *b, const char *const *tests, size_t n, const char *entry,
                      int isolated);
const char *ut_driver_python_host(void);
/* Lua: with `isolated_lua` (the interpreter's path) the candidate runs in a
 * second interpreter (ut_driver_lua_host is its program, host.lua). */
void ut_driver_lua(ut_str *b, const char *const *tests, size_t n, const char *entry,
                   const char *isolated_lua);
const char *ut_driver_lua_host(void);
/* C: the translation unit with the tests (it #includes solution.c) and the
 * fixed driver unit. */
void ut_driver_c_tests(ut_str *b, const char *const *tests, size_t n, const char *entry);
const char *ut_driver_c_main(void);

#endif
