/*
 * lua_reward.c — reward handles in Lua, and Lua functions as rewards.
 *
 *   r = rlaif.reward{plugin = "length", target = 20}
 *   r = rlaif.reward(function(prompt, response, meta) return #response / 100 end)
 *   rewards, metrics, details = r:score(prompts, responses [, metas])
 *   x = r:score1(prompt, response [, meta])
 *   names = r:metrics()
 *
 * A Lua function reward is a host-implemented instance of the reward kind,
 * so plugins (an optimizer, a composition) see it like any other reward.
 * It may return a number, or a number and a table of named metrics.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>

#include "lua_rlaif.h"

/* ===== Calling any reward =============================================== */

typedef struct score_buffers {
    const char **prompts, **responses, **metas;
    char **meta_json; /* owned copies of metadata converted from tables */
    float *rewards, *metrics;
    const char **details;
    size_t n;
} score_buffers;

static void buffers_free(score_buffers *b)
{
    if (b->meta_json)
        for (size_t i = 0; i < b->n; i++) cJSON_free(b->meta_json[i]);
    free(b->prompts);
    free(b->responses);
    free(b->metas);
    free(b->meta_json);
    free(b->rewards);
    free(b->metrics);
    free(b->details);
}

/* The buffers live in a userdata so that a Lua error frees them (__gc). */
static int buffers_gc(lua_State *L)
{
    buffers_free(lua_touserdata(L, 1));
    return 0;
}

static score_buffers *push_buffers(lua_State *L, size_t n, size_t n_metrics)
{
    score_buffers *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, "rlaif.score_buffers")) {
        lua_pushcfunction(L, buffers_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    size_t m = n ? n : 1;
    b->n = n;
    b->prompts = calloc(m, sizeof *b->prompts);
    b->responses = calloc(m, sizeof *b->responses);
    b->metas = calloc(m, sizeof *b->metas);
    b->meta_json = calloc(m, sizeof *b->meta_json);
    b->rewards = calloc(m, sizeof *b->rewards);
    b->metrics = calloc(m * (n_metrics ? n_metrics : 1), sizeof *b->metrics);
    b->details = calloc(m, sizeof *b->details);
    if (!b->prompts || !b->responses || !b->metas || !b->meta_json || !b->rewards || !b->metrics ||
        !b->details)
        luaL_error(L, "out of memory");
    return b;
}

/* Item i (1-based) of the list at idx, or the value itself if it is a string. */
static const char *list_string(lua_State *L, int idx, size_t i, const char *what)
{
    if (lua_type(L, idx) == LUA_TSTRING) return lua_tostring(L, idx);
    lua_rawgeti(L, idx, (lua_Integer)i);
    const char *s = lua_tostring(L, -1);
    if (!s || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "%s[%d]: string expected, got %s", what, (int)i, luaL_typename(L, -1));
    lua_pop(L, 1); /* the string stays alive in the list */
    return s;
}

/* r:score(prompts, responses [, metas]) -> rewards, metrics, details */
static int l_score(lua_State *L)
{
    rlc_instance *in = rlaif_lua_checkinstance(L, 1, RLAIF_KIND_REWARD);
    const rlaif_reward_vtable *vt = rlc_instance_vtable(in);
    void *self = rlc_instance_self(in);
    luaL_checktype(L, 3, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, 3);
    if (lua_type(L, 2) != LUA_TSTRING) {
        luaL_checktype(L, 2, LUA_TTABLE);
        if ((size_t)luaL_len(L, 2) != n)
            return luaL_error(L, "score: %d prompts but %d responses", (int)luaL_len(L, 2), (int)n);
    }
    int has_meta = !lua_isnoneornil(L, 4);
    if (has_meta) luaL_checktype(L, 4, LUA_TTABLE);

    rlaif_reward_desc desc = {.struct_size = sizeof desc};
    char err[2048] = "";
    rlaif_status st = vt->describe(self, &desc);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "reward describe", st, err);

    score_buffers *b = push_buffers(L, n, desc.n_metrics);
    int bufs = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        b->prompts[i] = list_string(L, 2, i + 1, "prompts");
        b->responses[i] = list_string(L, 3, i + 1, "responses");
        if (has_meta) {
            lua_rawgeti(L, 4, (lua_Integer)i + 1);
            if (lua_type(L, -1) == LUA_TSTRING) {
                b->metas[i] = lua_tostring(L, -1);
            } else if (!lua_isnil(L, -1)) {
                b->meta_json[i] = rlaif_lua_tojson(L, -1, "meta");
                b->metas[i] = b->meta_json[i];
            }
            lua_pop(L, 1);
        }
    }
    rlaif_reward_batch batch = {.struct_size = sizeof batch,
                                .n = n,
                                .prompts = b->prompts,
                                .responses = b->responses,
                                .metadata = has_meta ? b->metas : NULL};
    rlaif_reward_out out = {.struct_size = sizeof out,
                            .rewards = b->rewards,
                            .metrics = desc.n_metrics ? b->metrics : NULL,
                            .details = b->details};
    st = vt->score(self, &batch, &out, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, rlc_instance_name(in), st, err);

    rlaif_lua_pushfloats(L, b->rewards, n);
    lua_createtable(L, 0, (int)desc.n_metrics);
    for (size_t m = 0; m < desc.n_metrics; m++) {
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            lua_pushnumber(L, b->metrics[i * desc.n_metrics + m]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, desc.metric_names[m]);
    }
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        if (b->details[i]) {
            cJSON *j = cJSON_Parse(b->details[i]);
            if (j) rlaif_lua_pushjson(L, j);
            else lua_pushstring(L, b->details[i]);
            cJSON_Delete(j);
        } else {
            lua_pushboolean(L, 0);
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    (void)bufs;
    return 3;
}

/* r:score1(prompt, response [, meta]) -> reward, metrics, details */
static int l_score1(lua_State *L)
{
    rlaif_lua_checkinstance(L, 1, RLAIF_KIND_REWARD);
    luaL_checkstring(L, 2);
    luaL_checkstring(L, 3);
    lua_settop(L, 4);
    lua_pushcfunction(L, l_score);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 3);
    lua_rawseti(L, -2, 1);
    if (lua_isnil(L, 4)) {
        lua_pushnil(L);
    } else {
        lua_createtable(L, 1, 0);
        lua_pushvalue(L, 4);
        lua_rawseti(L, -2, 1);
    }
    lua_call(L, 4, 3);
    /* unwrap the one-element lists */
    int rewards = lua_gettop(L) - 2;
    lua_rawgeti(L, rewards, 1);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, rewards + 1)) {
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
    lua_rawgeti(L, rewards + 2, 1);
    return 3;
}

/* r:metrics() -> list of metric names */
static int l_metrics(lua_State *L)
{
    rlc_instance *in = rlaif_lua_checkinstance(L, 1, RLAIF_KIND_REWARD);
    const rlaif_reward_vtable *vt = rlc_instance_vtable(in);
    rlaif_reward_desc desc = {.struct_size = sizeof desc};
    rlaif_status st = vt->describe(rlc_instance_self(in), &desc);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "reward describe", st, NULL);
    lua_createtable(L, (int)desc.n_metrics, 0);
    for (size_t m = 0; m < desc.n_metrics; m++) {
        lua_pushstring(L, desc.metric_names[m]);
        lua_rawseti(L, -2, (lua_Integer)m + 1);
    }
    return 1;
}

void rlaif_lua_reward_methods(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"score", l_score}, {"score1", l_score1}, {"metrics", l_metrics}, {NULL, NULL}};
    luaL_setfuncs(L, methods, 0);
}

/* ===== Lua functions as rewards ========================================= */

typedef struct lua_fn_reward {
    lua_State *L;    /* NULL once the Lua state is closed */
    int fn_ref;      /* registry reference to the function */
    char name[64];
    struct lua_fn_reward *next;
} lua_fn_reward;

/* Live Lua rewards: a plugin may hold one past lua_close (it acquired it),
 * so closing the state detaches them instead of leaving dangling states. */
static lua_fn_reward *fn_live;

static int detach_all(lua_State *L)
{
    (void)L;
    for (lua_fn_reward *r = fn_live; r; r = r->next) r->L = NULL;
    return 0;
}

static rlaif_status fn_create(const rlaif_host *h, const char *c, void **o, char *e, size_t n)
{
    (void)h;
    (void)c;
    (void)o;
    return rlaif_errorf(e, n, RLAIF_E_UNSUPPORTED, "Lua rewards are made with rlaif.reward(fn)");
}

static void fn_destroy(void *vself)
{
    lua_fn_reward *self = vself;
    for (lua_fn_reward **pp = &fn_live; *pp; pp = &(*pp)->next) {
        if (*pp == self) {
            *pp = self->next;
            break;
        }
    }
    if (self->L) luaL_unref(self->L, LUA_REGISTRYINDEX, self->fn_ref);
    free(self);
}

static rlaif_status fn_describe(void *self, rlaif_reward_desc *out)
{
    (void)self;
    out->n_metrics = 0;
    out->metric_names = NULL;
    return RLAIF_OK;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

static rlaif_status fn_score(void *vself, const rlaif_reward_batch *b, rlaif_reward_out *out,
                             char *err, size_t errlen)
{
    lua_fn_reward *self = vself;
    lua_State *L = self->L;
    if (!L)
        return rlaif_errorf(err, errlen, RLAIF_E_STATE, "reward %s: its Lua state is closed",
                            self->name);
    int top = lua_gettop(L);
    lua_pushcfunction(L, traceback);
    int handler = lua_gettop(L);
    for (size_t i = 0; i < b->n; i++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, self->fn_ref);
        lua_pushstring(L, b->prompts[i]);
        lua_pushstring(L, b->responses[i]);
        if (b->metadata && b->metadata[i]) {
            cJSON *j = cJSON_Parse(b->metadata[i]);
            rlaif_lua_pushjson(L, j);
            cJSON_Delete(j);
        } else {
            lua_newtable(L);
        }
        if (lua_pcall(L, 3, 1, handler) != LUA_OK) {
            rlaif_status st = rlaif_errorf(err, errlen, RLAIF_E_EXTERNAL,
                                           "reward %s failed on sample %zu (response \"%.40s%s\"): %s",
                                           self->name, i + 1, b->responses[i],
                                           strlen(b->responses[i]) > 40 ? "..." : "",
                                           lua_tostring(L, -1));
            lua_settop(L, top);
            return st;
        }
        int ok;
        lua_Number v = lua_tonumberx(L, -1, &ok);
        if (!ok) {
            rlaif_status st = rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                           "reward %s returned %s for sample %zu, a number was "
                                           "expected", self->name, luaL_typename(L, -1), i + 1);
            lua_settop(L, top);
            return st;
        }
        out->rewards[i] = (float)v;
        if (out->details) out->details[i] = NULL;
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    return RLAIF_OK;
}

static const rlaif_reward_vtable fn_vtable = {
    .base = {.struct_size = sizeof(rlaif_reward_vtable), .create = fn_create, .destroy = fn_destroy},
    .describe = fn_describe,
    .score = fn_score,
};

rlc_instance *rlaif_lua_function_reward(lua_State *L, int idx, const char *name)
{
    luaL_checktype(L, idx, LUA_TFUNCTION);
    lua_fn_reward *self = calloc(1, sizeof *self);
    if (!self) luaL_error(L, "out of memory");
    /* Keep the main thread's state: coroutines may end before the reward. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    self->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    self->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    snprintf(self->name, sizeof self->name, "%s", name ? name : "lua function");
    /* One sentinel per state whose __gc (run by lua_close) detaches them. */
    if (luaL_newmetatable(L, "rlaif.fn_reward_sentinel")) {
        lua_pushcfunction(L, detach_all);
        lua_setfield(L, -2, "__gc");
        lua_newuserdatauv(L, 1, 0);
        lua_pushvalue(L, -2);
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, "rlaif.fn_reward_sentinel.obj");
    }
    lua_pop(L, 1);
    self->next = fn_live;
    fn_live = self;
    rlc_instance *in = rlc_instance_host(RLAIF_KIND_REWARD, &fn_vtable, self, "reward/lua");
    if (!in) {
        fn_destroy(self);
        luaL_error(L, "out of memory");
    }
    return in;
}
