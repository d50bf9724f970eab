/*
 * lua_rlaif.c — the module table "rlaif": constructors for instances, the
 * plugin list, logging and progress, and the JSON sub-module.  The pieces
 * written in Lua (datasets, run directories, training loops) are in
 * core/lua/ (*.lua files), embedded at build time and loaded as text.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_rlaif.h"
#include "rlaif_config.h"

/* rlaif.model{backend = "transformer", path = ..., ...} */
static int l_model(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    return rlaif_lua_create(L, RLAIF_KIND_MODEL, 1, "backend", "transformer");
}

/* rlaif.labeler{plugin = "llm", model = m, ...} */
static int l_labeler(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    return rlaif_lua_create(L, RLAIF_KIND_LABELER, 1, "plugin", "llm");
}

/* rlaif.reward{plugin = "length", ...} or rlaif.reward(function [, name]) */
static int l_reward(lua_State *L)
{
    if (lua_isfunction(L, 1)) {
        rlc_instance *in = rlaif_lua_function_reward(L, 1, luaL_optstring(L, 2, NULL));
        rlaif_lua_pushinstance(L, in);
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    return rlaif_lua_create(L, RLAIF_KIND_REWARD, 1, "plugin", NULL);
}

/* rlaif.optimizer{plugin = "ppo", ...} */
static int l_optimizer(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    return rlaif_lua_create(L, RLAIF_KIND_OPTIMIZER, 1, "plugin", NULL);
}

static void push_plugin(lua_State *L, rlc_plugin *p)
{
    const rlaif_plugin_info *info = rlc_plugin_info(p);
    char caps[256];
    rlc_caps_string(info->kind, info->caps, caps, sizeof caps);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, info->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, rlc_kind_name(info->kind));
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, info->version ? info->version : "");
    lua_setfield(L, -2, "version");
    lua_pushstring(L, info->description ? info->description : "");
    lua_setfield(L, -2, "description");
    lua_pushstring(L, caps);
    lua_setfield(L, -2, "caps");
    lua_pushstring(L, rlc_plugin_path(p));
    lua_setfield(L, -2, "file");
}

/* rlaif.plugins() -> list of {name, kind, version, description, caps, file} */
static int l_plugins(lua_State *L)
{
    rlc_plugin_load_all(NULL, NULL);
    size_t n = rlc_plugin_count();
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_plugin(L, rlc_plugin_at(i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* rlaif.load_plugin(path) -> info | raises */
static int l_load_plugin(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char err[2048];
    rlc_plugin *p = rlc_plugin_load(path, err, sizeof err);
    if (!p) return luaL_error(L, "%s", err);
    push_plugin(L, p);
    return 1;
}

/* rlaif.log(level, message)   level: "debug" | "info" | "warn" | "error" */
static int l_log(lua_State *L)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    int level = luaL_checkoption(L, 1, "info", levels);
    const char *msg = luaL_checkstring(L, 2);
    const rlaif_host *h = rlc_host();
    h->log(h, (rlaif_log_level)level, NULL, "%s", msg);
    return 0;
}

/* rlaif.progress(phase, done, total) */
static int l_progress(lua_State *L)
{
    const char *phase = luaL_checkstring(L, 1);
    lua_Integer done = luaL_checkinteger(L, 2);
    lua_Integer total = luaL_optinteger(L, 3, 0);
    const rlaif_host *h = rlc_host();
    h->progress(h, phase, (uint64_t)done, (uint64_t)total);
    return 0;
}

/* rlaif.output_mode() -> "tty" | "plain" | "quiet" | "json" (from --quiet/--json/--plain) */
static int l_output_mode(lua_State *L)
{
    static const char *const names[] = {"plain", "tty", "plain", "quiet", "json"};
    lua_pushstring(L, names[rlc_progress_mode()]);
    return 1;
}

/* rlaif.cancelled() -> boolean (true after Ctrl-C) */
static int l_cancelled(lua_State *L)
{
    lua_pushboolean(L, rlc_is_cancelled());
    return 1;
}

int luaopen_rlaif(lua_State *L)
{
    luaL_checkversion(L);
    rlaif_lua_open_handles(L);
    static const luaL_Reg fns[] = {
        {"model", l_model},         {"labeler", l_labeler},   {"reward", l_reward},
        {"optimizer", l_optimizer}, {"plugins", l_plugins},   {"load_plugin", l_load_plugin},
        {"log", l_log},             {"progress", l_progress}, {"cancelled", l_cancelled}, {"output_mode", l_output_mode},
        {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_pushstring(L, RLAIF_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, RLAIF_ABI_VERSION);
    lua_setfield(L, -2, "abi_version");
    lua_pushstring(L, rlc_data_dir());
    lua_setfield(L, -2, "data_dir");
    rlaif_lua_open_json(L);
    lua_setfield(L, -2, "json");
    rlaif_lua_open_fs(L);
    return 1;
}
