/*
 * lua_handle.c — instance handles as Lua userdata (the liolib.c pattern):
 * the handle is created closed before the instance exists, so an error in
 * between leaves nothing half-made; __gc and __close release the reference;
 * every method checks for "used after close".
 */
#include <string.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>

#include "lua_rlaif.h"

static const char *const kind_mt[] = {NULL, "rlaif.Model", "rlaif.Labeler", "rlaif.Reward",
                                      "rlaif.Optimizer"};

const char *rlaif_lua_kind_mt(rlaif_kind kind) { return kind_mt[kind]; }

static lua_handle *new_handle(lua_State *L, rlaif_kind kind)
{
    lua_handle *h = lua_newuserdatauv(L, sizeof *h, 1);
    h->in = NULL;
    luaL_setmetatable(L, kind_mt[kind]);
    return h;
}

void rlaif_lua_pushinstance(lua_State *L, rlc_instance *in)
{
    lua_handle *h = new_handle(L, rlc_instance_kind(in));
    h->in = in;
}

/* The handle userdata at idx (any kind) or NULL. */
static lua_handle *to_handle(lua_State *L, int idx)
{
    for (int k = RLAIF_KIND_MODEL; k <= RLAIF_KIND_OPTIMIZER; k++) {
        lua_handle *h = luaL_testudata(L, idx, kind_mt[k]);
        if (h) return h;
    }
    return NULL;
}

rlc_instance *rlaif_lua_toinstance(lua_State *L, int idx)
{
    lua_handle *h = to_handle(L, idx);
    if (!h) return NULL;
    if (!h->in) luaL_error(L, "a handle was used after close");
    return h->in;
}

rlc_instance *rlaif_lua_checkinstance(lua_State *L, int arg, rlaif_kind kind)
{
    lua_handle *h = luaL_testudata(L, arg, kind_mt[kind]);
    if (!h) {
        const char *what = rlc_kind_name(kind);
        luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", what, luaL_typename(L, arg)));
    }
    if (!h->in) luaL_error(L, "%s used after close", rlc_kind_name(kind));
    return h->in;
}

/* h:close() / __gc / __close: drop the reference once. */
static int l_close(lua_State *L)
{
    lua_handle *h = to_handle(L, 1);
    if (!h) return luaL_argerror(L, 1, "an rlaif handle expected");
    if (h->in) {
        rlc_instance *in = h->in;
        h->in = NULL;
        rlc_instance_unref(in);
    }
    return 0;
}

static int l_tostring(lua_State *L)
{
    lua_handle *h = to_handle(L, 1);
    if (!h || !h->in)
        lua_pushstring(L, "rlaif handle (closed)");
    else
        lua_pushfstring(L, "%s #%d", rlc_instance_name(h->in), (int)rlc_instance_handle(h->in));
    return 1;
}

/* h:handle() -> the integer id configs use. */
static int l_handle(lua_State *L)
{
    rlc_instance *in = rlaif_lua_toinstance(L, 1);
    if (!in) return luaL_argerror(L, 1, "an rlaif handle expected");
    lua_pushinteger(L, (lua_Integer)rlc_instance_handle(in));
    return 1;
}

/* h:plugin() -> "kind/name" */
static int l_plugin(lua_State *L)
{
    rlc_instance *in = rlaif_lua_toinstance(L, 1);
    if (!in) return luaL_argerror(L, 1, "an rlaif handle expected");
    lua_pushstring(L, rlc_instance_name(in));
    return 1;
}

void rlaif_lua_open_handles(lua_State *L)
{
    static const luaL_Reg meta[] = {
        {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL}};
    static const luaL_Reg common[] = {
        {"close", l_close}, {"handle", l_handle}, {"plugin", l_plugin}, {NULL, NULL}};
    void (*fill[])(lua_State *) = {NULL, rlaif_lua_model_methods, rlaif_lua_labeler_methods,
                                   rlaif_lua_reward_methods, rlaif_lua_optimizer_methods};
    for (int k = RLAIF_KIND_MODEL; k <= RLAIF_KIND_OPTIMIZER; k++) {
        luaL_newmetatable(L, kind_mt[k]);
        luaL_setfuncs(L, meta, 0);
        lua_newtable(L);
        luaL_setfuncs(L, common, 0);
        fill[k](L);
        lua_setfield(L, -2, "__index");
        lua_pop(L, 1);
    }
}

int rlaif_lua_create(lua_State *L, rlaif_kind kind, int idx, const char *plugin_key,
                     const char *default_plugin)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, plugin_key);
    const char *name = lua_isnil(L, -1) ? default_plugin : lua_tostring(L, -1);
    if (!name)
        return luaL_error(L, "rlaif.%s: field '%s' (the plugin name or file) is required",
                          rlc_kind_name(kind), plugin_key);

    /* The config: a shallow copy of the table without the plugin key. */
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), plugin_key) == 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
    char what[64];
    snprintf(what, sizeof what, "%s config", rlc_kind_name(kind));
    lua_handle *h = new_handle(L, kind); /* closed until the instance exists */
    char *json = rlaif_lua_tojson(L, -2, what);
    char err[2048];
    rlc_plugin *p = rlc_plugin_find(kind, name, err, sizeof err);
    rlc_instance *in = p ? rlc_instance_create(p, json, err, sizeof err) : NULL;
    cJSON_free(json);
    if (!in) return luaL_error(L, "%s", err);
    h->in = in;
    return 1;
}
