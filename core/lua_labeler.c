/*
 * lua_labeler.c — labeler handles in Lua.
 *
 *   l = rlaif.labeler{plugin = "llm", model = m, constitution = "stories"}
 *   r = l:compare(prompt, a, b [, {seed = 1}])
 *       -> {p_a=, p_a_first=, p_a_second=, principle=, rationale=}
 *   rs = l:compare_batch({{prompt=, a=, b=}, ...} [, {seed = 1}])
 *   s = l:score(prompt, response [, {seed = 1}]) -> {score=, principle=}
 *   chain = l:revise(prompt, response, rounds [, {seed = 1}])
 *       -> {{principle=, critique=, revision=}, ...}
 *   st = l:stats() -> {position_bias = ..., ...}
 */
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_rlaif.h"

typedef struct labeler_call {
    rlc_instance *in;
    const rlaif_labeler_vtable *vt;
    void *self;
} labeler_call;

static labeler_call check_labeler(lua_State *L, int arg)
{
    labeler_call c;
    c.in = rlaif_lua_checkinstance(L, arg, RLAIF_KIND_LABELER);
    c.vt = rlc_instance_vtable(c.in);
    c.self = rlc_instance_self(c.in);
    return c;
}

static void push_compare_result(lua_State *L, const rlaif_compare_result *r)
{
    lua_createtable(L, 0, 5);
    lua_pushnumber(L, r->p_a);
    lua_setfield(L, -2, "p_a");
    lua_pushnumber(L, r->p_a_first);
    lua_setfield(L, -2, "p_a_first");
    lua_pushnumber(L, r->p_a_second);
    lua_setfield(L, -2, "p_a_second");
    if (r->principle_id) {
        lua_pushstring(L, r->principle_id);
        lua_setfield(L, -2, "principle");
    }
    if (r->rationale) {
        lua_pushstring(L, r->rationale);
        lua_setfield(L, -2, "rationale");
    }
}

static const char *field_string(lua_State *L, int t, const char *key, size_t i)
{
    lua_getfield(L, t, key);
    const char *s = lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "compare_batch: item %d: field '%s' must be a string", (int)i + 1, key);
    lua_pop(L, 1); /* the string stays alive in the item table */
    return s;
}

/* Runs compare over a list of {prompt, a, b}; pushes the list of results. */
static int compare_list(lua_State *L, labeler_call c, int list, uint64_t seed)
{
    if (!c.vt->compare)
        return luaL_error(L, "%s cannot compare (the plugin does not provide it)", rlc_instance_name(c.in));
    size_t n = (size_t)luaL_len(L, list);
    rlaif_compare_req *reqs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *reqs, 0);
    rlaif_compare_result *res = lua_newuserdatauv(L, (n ? n : 1) * sizeof *res, 0);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, list, (lua_Integer)i + 1);
        int t = lua_gettop(L);
        reqs[i].prompt = field_string(L, t, "prompt", i);
        reqs[i].a = field_string(L, t, "a", i);
        reqs[i].b = field_string(L, t, "b", i);
        lua_getfield(L, t, "seed");
        reqs[i].seed = lua_isinteger(L, -1) ? (uint64_t)lua_tointeger(L, -1) : seed + i;
        lua_pop(L, 2);
    }
    char err[2048] = "";
    rlaif_status st = c.vt->compare(c.self, n, reqs, res, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "compare", st, err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_compare_result(L, &res[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_compare(lua_State *L)
{
    labeler_call c = check_labeler(L, 1);
    luaL_checkstring(L, 2);
    luaL_checkstring(L, 3);
    luaL_checkstring(L, 4);
    uint64_t seed = (uint64_t)rlaif_lua_optinteger(L, 5, "seed", 0);
    lua_createtable(L, 1, 0);
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "prompt");
    lua_pushvalue(L, 3);
    lua_setfield(L, -2, "a");
    lua_pushvalue(L, 4);
    lua_setfield(L, -2, "b");
    lua_pushinteger(L, (lua_Integer)seed);
    lua_setfield(L, -2, "seed");
    lua_rawseti(L, -2, 1);
    compare_list(L, c, lua_gettop(L), seed);
    lua_rawgeti(L, -1, 1);
    return 1;
}

static int l_compare_batch(lua_State *L)
{
    labeler_call c = check_labeler(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    uint64_t seed = (uint64_t)rlaif_lua_optinteger(L, 3, "seed", 0);
    return compare_list(L, c, 2, seed);
}

static int l_score(lua_State *L)
{
    labeler_call c = check_labeler(L, 1);
    if (!c.vt->score)
        return luaL_error(L, "%s cannot score (the plugin does not provide it)", rlc_instance_name(c.in));
    rlaif_score_req req = {.prompt = luaL_checkstring(L, 2), .response = luaL_checkstring(L, 3)};
    req.seed = (uint64_t)rlaif_lua_optinteger(L, 4, "seed", 0);
    rlaif_score_result res = {0};
    char err[2048] = "";
    rlaif_status st = c.vt->score(c.self, 1, &req, &res, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "score", st, err);
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, res.score);
    lua_setfield(L, -2, "score");
    if (res.principle_id) {
        lua_pushstring(L, res.principle_id);
        lua_setfield(L, -2, "principle");
    }
    return 1;
}

static int l_revise(lua_State *L)
{
    labeler_call c = check_labeler(L, 1);
    if (!c.vt->revise)
        return luaL_error(L, "%s cannot revise (the plugin does not provide it)", rlc_instance_name(c.in));
    const char *prompt = luaL_checkstring(L, 2);
    const char *response = luaL_checkstring(L, 3);
    lua_Integer rounds = luaL_optinteger(L, 4, 1);
    if (rounds < 1 || rounds > 64) return luaL_argerror(L, 4, "rounds must be in 1..64");
    uint64_t seed = (uint64_t)rlaif_lua_optinteger(L, 5, "seed", 0);
    rlaif_revision *out = lua_newuserdatauv(L, (size_t)rounds * sizeof *out, 0);
    char err[2048] = "";
    rlaif_status st = c.vt->revise(c.self, prompt, response, (uint32_t)rounds, seed, out, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "revise", st, err);
    lua_createtable(L, (int)rounds, 0);
    for (lua_Integer i = 0; i < rounds; i++) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, out[i].principle_id ? out[i].principle_id : "");
        lua_setfield(L, -2, "principle");
        lua_pushstring(L, out[i].critique ? out[i].critique : "");
        lua_setfield(L, -2, "critique");
        lua_pushstring(L, out[i].revision ? out[i].revision : "");
        lua_setfield(L, -2, "revision");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_stats(lua_State *L)
{
    labeler_call c = check_labeler(L, 1);
    lua_newtable(L);
    if (!c.vt->stats) return 1;
    const rlaif_stat *st = NULL;
    size_t n = 0;
    if (c.vt->stats(c.self, &st, &n) != RLAIF_OK) return 1;
    for (size_t i = 0; i < n; i++) {
        lua_pushnumber(L, st[i].value);
        lua_setfield(L, -2, st[i].name);
    }
    return 1;
}

void rlaif_lua_labeler_methods(lua_State *L)
{
    static const luaL_Reg methods[] = {{"compare", l_compare}, {"compare_batch", l_compare_batch},
                                       {"score", l_score},     {"revise", l_revise},
                                       {"stats", l_stats},     {NULL, NULL}};
    luaL_setfuncs(L, methods, 0);
}
