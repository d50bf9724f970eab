/*
 * lua_setup.c — a Lua state ready for experiments: standard libraries, the
 * module "rlaif" preloaded (C functions plus the embedded Lua parts from
 * core/lua/), and the global `rlaif`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_rlaif.h"

typedef struct {
    const char *name;
    const char *text;
    size_t len;
} rlaif_embedded;
extern const rlaif_embedded rlaif_embedded_files[];

int rlaif_lua_setup(lua_State *L);
int rlaif_lua_run_command(lua_State *L, const char *name, int argc, char **argv);

/* package.preload.rlaif: the C module, then each embedded Lua part called
 * with the module table so it can add its functions. */
static int open_full_module(lua_State *L)
{
    luaopen_rlaif(L);
    int mod = lua_gettop(L);
    for (const rlaif_embedded *e = rlaif_embedded_files; e->name; e++) {
        char chunk[128];
        snprintf(chunk, sizeof chunk, "@core/lua/%s.lua", e->name);
        if (luaL_loadbufferx(L, e->text, e->len, chunk, "t") != LUA_OK) return lua_error(L);
        lua_pushvalue(L, mod);
        lua_call(L, 1, 0);
    }
    return 1;
}

int rlaif_lua_setup(lua_State *L)
{
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open_full_module);
    lua_setfield(L, -2, "rlaif");
    lua_pop(L, 1);
    luaL_requiref(L, "rlaif", open_full_module, 1);
    lua_pop(L, 1);
    return 0;
}

/* Commands are the user's tools, not their scripts: their errors print the
 * message alone (a usage error or a clear failure); RLAIF_TRACEBACK=1 adds
 * the Lua traceback for debugging the command itself. */
static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) msg = "(error object is not a string)";
    const char *want = getenv("RLAIF_TRACEBACK");
    if (strncmp(msg, "rlaif_usage:", 12) == 0 || !want || strcmp(want, "1") != 0) {
        lua_pushstring(L, msg);
        return 1;
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Calls rlaif._commands[name](args) and maps errors to exit status 1. */
int rlaif_lua_run_command(lua_State *L, const char *name, int argc, char **argv)
{
    lua_pushcfunction(L, traceback);
    int handler = lua_gettop(L);
    lua_getglobal(L, "rlaif");
    lua_getfield(L, -1, "_commands");
    lua_getfield(L, -1, name);
    if (!lua_isfunction(L, -1)) {
        fprintf(stderr, "rlaif: no command '%s'\n", name);
        return 2;
    }
    lua_createtable(L, argc, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    if (lua_pcall(L, 1, 1, handler) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        /* Usage errors from commands start with "usage:"; no traceback then. */
        if (msg && strstr(msg, "rlaif_usage:")) {
            fprintf(stderr, "%s\n", strstr(msg, "rlaif_usage:") + 12);
            return 2;
        }
        fprintf(stderr, "rlaif %s: %s\n", name, msg ? msg : "error");
        return 1;
    }
    int rc = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
    return rc;
}
