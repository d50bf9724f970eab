/* lua_util.c — small helpers shared by the Lua bindings. */
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_rlaif.h"

int rlaif_lua_fail(lua_State *L, const char *what, rlaif_status st, const char *err)
{
    if (err && *err) return luaL_error(L, "%s: %s", what, err);
    return luaL_error(L, "%s failed (status %d)", what, (int)st);
}

int32_t *rlaif_lua_checkids(lua_State *L, int idx, size_t *n)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    size_t len = (size_t)luaL_len(L, idx);
    int32_t *ids = malloc((len ? len : 1) * sizeof *ids);
    if (!ids) luaL_error(L, "out of memory");
    for (size_t i = 0; i < len; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || v < 0 || v > INT32_MAX) {
            free(ids);
            luaL_error(L, "token list item %d is not a valid token id", (int)i + 1);
        }
        ids[i] = (int32_t)v;
    }
    *n = len;
    return ids;
}

void rlaif_lua_pushids(lua_State *L, const int32_t *ids, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushinteger(L, ids[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

void rlaif_lua_pushfloats(lua_State *L, const float *x, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushnumber(L, x[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static int field(lua_State *L, int idx, const char *key)
{
    if (lua_isnoneornil(L, idx)) return LUA_TNIL;
    return lua_getfield(L, idx, key);
}

lua_Number rlaif_lua_optnumber(lua_State *L, int idx, const char *key, lua_Number def)
{
    idx = lua_absindex(L, idx);
    int t = field(L, idx, key);
    if (t == LUA_TNIL) {
        if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
        return def;
    }
    if (t != LUA_TNUMBER) luaL_error(L, "option '%s': number expected, got %s", key, lua_typename(L, t));
    lua_Number v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

lua_Integer rlaif_lua_optinteger(lua_State *L, int idx, const char *key, lua_Integer def)
{
    idx = lua_absindex(L, idx);
    int t = field(L, idx, key);
    if (t == LUA_TNIL) {
        if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
        return def;
    }
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "option '%s': integer expected, got %s", key, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

int rlaif_lua_optboolean(lua_State *L, int idx, const char *key, int def)
{
    idx = lua_absindex(L, idx);
    int t = field(L, idx, key);
    if (t == LUA_TNIL) {
        if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
        return def;
    }
    if (t != LUA_TBOOLEAN) luaL_error(L, "option '%s': boolean expected, got %s", key, lua_typename(L, t));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* The returned string stays valid while the option table is alive. */
const char *rlaif_lua_optstring(lua_State *L, int idx, const char *key, const char *def)
{
    idx = lua_absindex(L, idx);
    int t = field(L, idx, key);
    if (t == LUA_TNIL) {
        if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
        return def;
    }
    if (t != LUA_TSTRING) luaL_error(L, "option '%s': string expected, got %s", key, lua_typename(L, t));
    const char *v = lua_tostring(L, -1);
    lua_pop(L, 1);
    return v;
}
