/*
 * lua_json.c — Lua values to JSON text and back.
 *
 * Used for plugin configs (a Lua table becomes the JSON text given to
 * create(); instance handles become {"rlaif_handle": N}) and for the
 * rlaif.json module.  A table with keys 1..n and nothing else is an array;
 * an empty table is an empty object unless it carries the metatable of
 * rlaif.json.array.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>

#include "lua_rlaif.h"

#define MAX_DEPTH 64

/* The tree under construction is owned by a userdata on the Lua stack, so a
 * Lua error in the middle of a conversion frees it (__gc) instead of leaking.
 * Children are attached to their parent before they are filled for the
 * same reason. */
typedef struct json_holder {
    cJSON *root;
} json_holder;

static int holder_gc(lua_State *L)
{
    json_holder *h = lua_touserdata(L, 1);
    cJSON_Delete(h->root);
    h->root = NULL;
    return 0;
}

static void fill(lua_State *L, int idx, cJSON *out, int depth, const char *path);

/* Is the table at idx a sequence 1..n with no other keys?  *n gets n. */
static int is_array(lua_State *L, int idx, size_t *n)
{
    size_t count = 0;
    lua_Integer max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER || !lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1) {
            lua_pop(L, 1);
            return 0;
        }
        if (k > max) max = k;
        count++;
    }
    *n = count;
    return (lua_Integer)count == max;
}

/* A new, empty node of the right type for the value at idx. */
static cJSON *node_for(lua_State *L, int idx, const char *path)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return cJSON_CreateNull();
    case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        double x = lua_tonumber(L, idx);
        if (!isfinite(x)) luaL_error(L, "%s: %f cannot be written as JSON", path, x);
        return cJSON_CreateNumber(x);
    }
    case LUA_TSTRING: return cJSON_CreateString(lua_tostring(L, idx));
    case LUA_TTABLE: {
        size_t n = 0;
        int marked_array = 0;
        if (lua_getmetatable(L, idx)) {
            luaL_getmetatable(L, RLAIF_JSON_ARRAY_MT);
            marked_array = lua_rawequal(L, -1, -2);
            lua_pop(L, 2);
        }
        return is_array(L, idx, &n) && (n > 0 || marked_array) ? cJSON_CreateArray()
                                                               : cJSON_CreateObject();
    }
    case LUA_TUSERDATA: {
        rlc_instance *in = rlaif_lua_toinstance(L, idx);
        if (in) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "rlaif_handle", (double)rlc_instance_handle(in));
            return o;
        }
    } /* fall through */
    default:
        luaL_error(L, "%s: a %s cannot be written as JSON", path, luaL_typename(L, idx));
        return NULL;
    }
}

/* Attaches a node for the value at idx to `parent` (under `key`, or appended
 * when key is NULL), then fills it. */
static void add_child(lua_State *L, int idx, cJSON *parent, const char *key, int depth,
                      const char *path)
{
    cJSON *child = node_for(L, idx, path);
    if (!child) luaL_error(L, "%s: out of memory", path);
    if (key) cJSON_AddItemToObject(parent, key, child);
    else cJSON_AddItemToArray(parent, child);
    fill(L, idx, child, depth + 1, path);
}

/* Fills a table's node with its items. */
static void fill(lua_State *L, int idx, cJSON *out, int depth, const char *path)
{
    if (depth > MAX_DEPTH) luaL_error(L, "%s: nested too deeply (or a cycle)", path);
    if (lua_type(L, idx) != LUA_TTABLE) return;
    luaL_checkstack(L, 4, "JSON nesting");
    if (cJSON_IsArray(out)) {
        size_t n = (size_t)lua_rawlen(L, idx);
        for (size_t i = 1; i <= n; i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            lua_rawgeti(L, idx, (lua_Integer)i);
            add_child(L, lua_gettop(L), out, NULL, depth, sub);
            lua_pop(L, 1);
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "%s: a table mixing list items and named keys cannot become JSON "
                          "(key of type %s)", path, luaL_typename(L, -2));
        const char *key = lua_tostring(L, -2);
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, key);
        add_child(L, lua_gettop(L), out, key, depth, sub);
        lua_pop(L, 1);
    }
}

char *rlaif_lua_tojson(lua_State *L, int idx, const char *what)
{
    idx = lua_absindex(L, idx);
    json_holder *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->root = NULL;
    if (luaL_newmetatable(L, "rlaif.json_holder")) {
        lua_pushcfunction(L, holder_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    h->root = node_for(L, idx, what);
    if (!h->root) luaL_error(L, "%s: out of memory", what);
    fill(L, idx, h->root, 0, what);
    char *text = cJSON_PrintUnformatted(h->root);
    cJSON_Delete(h->root);
    h->root = NULL;
    lua_pop(L, 1);
    if (!text) luaL_error(L, "%s: out of memory writing JSON", what);
    return text;
}

void rlaif_lua_pushjson(lua_State *L, const cJSON *j)
{
    luaL_checkstack(L, 4, "JSON too deep");
    if (!j || cJSON_IsNull(j)) {
        lua_pushnil(L);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else if (cJSON_IsNumber(j)) {
        double x = j->valuedouble;
        if (x == floor(x) && fabs(x) < 9007199254740992.0) lua_pushinteger(L, (lua_Integer)x);
        else lua_pushnumber(L, x);
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        luaL_setmetatable(L, RLAIF_JSON_ARRAY_MT);
        lua_Integer i = 1;
        const cJSON *e;
        cJSON_ArrayForEach(e, j)
        {
            rlaif_lua_pushjson(L, e);
            lua_rawseti(L, -2, i++);
        }
    } else {
        lua_newtable(L);
        const cJSON *e;
        cJSON_ArrayForEach(e, j)
        {
            rlaif_lua_pushjson(L, e);
            lua_setfield(L, -2, e->string);
        }
    }
}

/* rlaif.json.encode(value) -> string */
static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    char *text = rlaif_lua_tojson(L, 1, "value");
    lua_pushstring(L, text);
    cJSON_free(text);
    return 1;
}

/* rlaif.json.decode(text) -> value | nil, message */
static int l_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) {
        lua_pushnil(L);
        lua_pushfstring(L, "invalid JSON near byte %d", (int)(end ? end - text : 0));
        return 2;
    }
    rlaif_lua_pushjson(L, j);
    cJSON_Delete(j);
    return 1;
}

/* rlaif.json.array(t) -> t marked to encode as an array even when empty */
static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_setmetatable(L, RLAIF_JSON_ARRAY_MT);
    return 1;
}

void rlaif_lua_open_json(lua_State *L)
{
    luaL_newmetatable(L, RLAIF_JSON_ARRAY_MT);
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        {"encode", l_encode}, {"decode", l_decode}, {"array", l_array}, {NULL, NULL}};
    luaL_newlib(L, fns);
}
