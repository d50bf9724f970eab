/*
 * main.c — the `rlaif` command line.
 *
 *   rlaif run [--quiet|--json] SCRIPT.lua [ARGS...]   run an experiment
 *   rlaif plugins                                    list plugins
 *   rlaif generate --model PATH --prompt TEXT ...    sample from a model
 *   rlaif --help | --version | COMMAND --help
 *
 * Commands written in Lua (generate and the ones layered on experiments)
 * live in core/lua/commands.lua and run through the same interpreter set-up
 * as `rlaif run`, so the CLI and scripts share one code path.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core.h"
#include "lua_rlaif.h"
#include "rlaif_config.h"

int rlaif_lua_setup(lua_State *L);            /* lua_setup.c */
int rlaif_cmd_constitution(int argc, char **argv); /* cmd_constitution.c */
int rlaif_lua_run_command(lua_State *L, const char *name, int argc, char **argv); /* lua_setup.c */
int rlaif_cmd_serve(int argc, char **argv);  /* serve.c */

/* ===== Help texts ======================================================= */

static const char usage[] =
    "usage: rlaif COMMAND [ARGS...]\n"
    "\n"
    "Train language models with reinforcement learning from AI feedback.\n"
    "\n"
    "commands:\n"
    "  run SCRIPT.lua [ARGS...]  run an experiment script (the module 'rlaif' is loaded)\n"
    "  plugins                   list the plugins found on the search path\n"
    "  generate                  sample continuations of a prompt from a model\n"
    "  label                     sample response pairs and label them with an AI labeler\n"
    "  eval                      compare a policy with a baseline on held-out prompts\n"
    "  report RUN_DIR            write RUN_DIR/report.html with charts and samples\n"
    "  constitution check FILE   validate constitution files\n"
    "  serve --model PATH        serve a model over an OpenAI-compatible HTTP API\n"
    "\n"
    "options:\n"
    "  -h, --help                show this help (or 'rlaif COMMAND --help')\n"
    "  -V, --version             show the version and the plugin ABI version\n"
    "\n"
    "environment:\n"
    "  RLAIF_PLUGIN_PATH         extra plugin folders, colon-separated, searched first\n"
    "  RLAIF_DATA_DIR            where constitutions and lexicons are found\n";

static const char run_usage[] =
    "usage: rlaif run [--quiet | --json | --plain] [--resume RUN_DIR] SCRIPT.lua [ARGS...]\n"
    "\n"
    "Runs a Lua experiment.  The module 'rlaif' is preloaded (require \"rlaif\"\n"
    "or the global 'rlaif'); ARGS are in the global table 'arg' (arg[0] is the\n"
    "script).  Scripts are loaded as text only.  An error prints a traceback\n"
    "and exits with status 1; Ctrl-C stops at the next safe point (status 130).\n"
    "\n"
    "  --quiet   no progress lines, warnings and errors only\n"
    "  --json    progress and log lines as JSON on stderr\n"
    "  --plain   periodic progress lines even on a terminal\n"
    "  --resume RUN_DIR\n"
    "            continue a stopped run from its last checkpoint (the script's\n"
    "            rlaif.run{} uses RUN_DIR instead of its own 'dir')\n";

static const char plugins_usage[] =
    "usage: rlaif plugins [--errors]\n"
    "\n"
    "Lists every plugin on the search path: name, kind, version, capabilities\n"
    "and file.  --errors also shows files that failed to load, and why.\n";

/* ===== Signals ========================================================== */

static lua_State *running_L;

/* Lua hook installed from the signal handler: raise at the next instruction. */
static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted");
}

static void on_sigint(int sig)
{
    signal(sig, SIG_DFL); /* a second Ctrl-C kills at once */
    rlc_set_cancelled(1);
    if (running_L) lua_sethook(running_L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* ===== Commands ========================================================= */

static void print_load_error(const char *msg, void *ctx)
{
    if (ctx) fprintf(stderr, "rlaif plugins: %s\n", msg);
}

static int cmd_plugins(int argc, char **argv)
{
    int show_errors = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(plugins_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--errors")) show_errors = 1;
        else {
            fprintf(stderr, "rlaif plugins: unknown option '%s'\n%s", argv[i], plugins_usage);
            return 2;
        }
    }
    rlc_plugin_load_all(print_load_error, show_errors ? (void *)1 : NULL);
    size_t n = rlc_plugin_count();
    if (n == 0) {
        const char *const *dirs;
        size_t nd = rlc_search_path(&dirs);
        fprintf(stderr, "rlaif plugins: no plugins found; searched:");
        for (size_t i = 0; i < nd; i++) fprintf(stderr, " %s", dirs[i]);
        fputc('\n', stderr);
        return 1;
    }
    /* Column widths from the content, so long capability lists stay aligned. */
    int w_name = 4, w_caps = 12;
    for (size_t i = 0; i < n; i++) {
        const rlaif_plugin_info *info = rlc_plugin_info(rlc_plugin_at(i));
        char caps[256];
        rlc_caps_string(info->kind, info->caps, caps, sizeof caps);
        if ((int)strlen(info->name) > w_name) w_name = (int)strlen(info->name);
        if ((int)strlen(caps) > w_caps) w_caps = (int)strlen(caps);
    }
    printf("%-*s  %-9s  %-8s  %-*s  %s\n", w_name, "NAME", "KIND", "VERSION", w_caps, "CAPABILITIES",
           "FILE");
    for (int kind = RLAIF_KIND_MODEL; kind <= RLAIF_KIND_OPTIMIZER; kind++) {
        for (size_t i = 0; i < n; i++) {
            rlc_plugin *p = rlc_plugin_at(i);
            const rlaif_plugin_info *info = rlc_plugin_info(p);
            if ((int)info->kind != kind) continue;
            char caps[256];
            rlc_caps_string(info->kind, info->caps, caps, sizeof caps);
            printf("%-*s  %-9s  %-8s  %-*s  %s\n", w_name, info->name, rlc_kind_name(info->kind),
                   info->version ? info->version : "-", w_caps, caps, rlc_plugin_path(p));
        }
    }
    return 0;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Runs the script argv[0] with arguments argv[1..]. */
static int run_script(lua_State *L, int argc, char **argv)
{
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    lua_setglobal(L, "arg");
    lua_pushcfunction(L, traceback);
    int handler = lua_gettop(L);
    /* "t": text only; precompiled chunks are refused. */
    if (luaL_loadfilex(L, argv[0], "t") != LUA_OK) {
        fprintf(stderr, "rlaif run: %s\n", lua_tostring(L, -1));
        return 1;
    }
    for (int i = 1; i < argc; i++) lua_pushstring(L, argv[i]);
    running_L = L;
    int st = lua_pcall(L, argc - 1, 0, handler);
    running_L = NULL;
    if (st != LUA_OK) {
        if (rlc_is_cancelled()) {
            /* Ctrl-C: no traceback; the run directory says where to resume. */
            fprintf(stderr, "\nrlaif run: interrupted; a run directory continues with "
                            "'rlaif run --resume RUN_DIR %s'\n", argv[0]);
            return 130;
        }
        fprintf(stderr, "rlaif run: %s\n", lua_tostring(L, -1));
        return 1;
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    const char *resume = NULL;
    int i = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(run_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--quiet")) {
            rlc_set_progress_mode(RLC_PROGRESS_QUIET);
        } else if (!strcmp(argv[i], "--json")) {
            rlc_set_progress_mode(RLC_PROGRESS_JSON);
        } else if (!strcmp(argv[i], "--plain")) {
            rlc_set_progress_mode(RLC_PROGRESS_PLAIN);
        } else if (!strcmp(argv[i], "--resume")) {
            if (i + 1 == argc) {
                fprintf(stderr, "rlaif run: --resume needs a run directory\n%s", run_usage);
                return 2;
            }
            resume = argv[++i];
        } else {
            fprintf(stderr, "rlaif run: unknown option '%s'\n%s", argv[i], run_usage);
            return 2;
        }
    }
    if (i == argc) {
        fprintf(stderr, "rlaif run: no script given\n%s", run_usage);
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "rlaif run: cannot create a Lua state (out of memory)\n");
        return 1;
    }
    rlaif_lua_setup(L);
    if (resume) {
        lua_getglobal(L, "rlaif");
        lua_pushstring(L, resume);
        lua_setfield(L, -2, "resume_dir");
        lua_pop(L, 1);
    }
    int rc = run_script(L, argc - i, argv + i);
    lua_close(L);
    return rc;
}

/* Commands implemented in Lua (core/lua/commands.lua). */
static int cmd_lua(const char *name, int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "rlaif %s: cannot create a Lua state (out of memory)\n", name);
        return 1;
    }
    rlaif_lua_setup(L);
    running_L = L;
    int rc = rlaif_lua_run_command(L, name, argc, argv);
    running_L = NULL;
    lua_close(L);
    return rc;
}

/* ===== main ============================================================= */

static void exe_dir(char *buf, size_t len)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) {
        buf[0] = 0;
        return;
    }
    path[n] = 0;
    snprintf(buf, len, "%s", dirname(path));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("rlaif %s (plugin ABI %d, %s)\n", RLAIF_VERSION, RLAIF_ABI_VERSION, LUA_RELEASE);
        return 0;
    }
    char dir[PATH_MAX];
    exe_dir(dir, sizeof dir);
    rlc_init(dir[0] ? dir : NULL);
    signal(SIGINT, on_sigint);
    signal(SIGPIPE, SIG_IGN);

    int rc;
    if (!strcmp(cmd, "run")) rc = cmd_run(argc - 2, argv + 2);
    else if (!strcmp(cmd, "plugins")) rc = cmd_plugins(argc - 2, argv + 2);
    else if (!strcmp(cmd, "constitution")) rc = rlaif_cmd_constitution(argc - 2, argv + 2);
    else if (!strcmp(cmd, "serve")) rc = rlaif_cmd_serve(argc - 2, argv + 2);
    else if (!strcmp(cmd, "generate") || !strcmp(cmd, "label") || !strcmp(cmd, "eval") ||
             !strcmp(cmd, "report"))
        rc = cmd_lua(cmd, argc - 2, argv + 2);
    else {
        fprintf(stderr, "rlaif: unknown command '%s'\n\n%s", cmd, usage);
        rc = 2;
    }
    rlc_shutdown();
    return rc;
}
