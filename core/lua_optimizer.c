/*
 * lua_optimizer.c — optimizer (training algorithm) handles in Lua.
 *
 *   opt = rlaif.optimizer{plugin = "ppo", lr = 1e-5, ...}
 *   stats = opt:step({policy = m, reference = ref, value = v}, batch)
 *   stats = opt:evaluate(models, batch)
 *   s = opt:state()      -- JSON text of the algorithm's own state
 *   opt:set_state(s)
 *
 * A batch is a list of samples plus optional fields:
 *   batch[i] = {ids = {...} (prompt + response), prompt_len = n,
 *               reward = x, logprobs = {...} (sampler logprobs of the
 *               response tokens, one per response token), group = g,
 *               finished = true|false, token_rewards = {...} (one per
 *               response token)}
 *   batch.labels = {p_1, p_2, ...}   pairwise data: samples (2i-1, 2i), p = p(first ≻ second)
 *   batch.temperature = t            the sampling temperature (default 1)
 * Lua lists are 1-based; the flat ABI layout puts the logprob of response
 * token j (0-based) at position prompt_len - 1 + j of its sequence.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_rlaif.h"

typedef struct opt_buffers {
    int32_t **ids;
    size_t *len, *prompt_len;
    float *label, *rewards, *token_rewards, *sample_logprobs;
    uint32_t *group;
    uint8_t *finished;
    size_t n;
} opt_buffers;

static int buffers_gc(lua_State *L)
{
    opt_buffers *b = lua_touserdata(L, 1);
    if (b->ids)
        for (size_t i = 0; i < b->n; i++) free(b->ids[i]);
    free(b->ids);
    free(b->len);
    free(b->prompt_len);
    free(b->label);
    free(b->rewards);
    free(b->token_rewards);
    free(b->sample_logprobs);
    free(b->group);
    free(b->finished);
    memset(b, 0, sizeof *b);
    return 0;
}

static opt_buffers *push_buffers(lua_State *L)
{
    opt_buffers *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, "rlaif.opt_buffers")) {
        lua_pushcfunction(L, buffers_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

static void *must(lua_State *L, void *p)
{
    if (!p) luaL_error(L, "out of memory");
    return p;
}

/* Does any sample have field `key`? */
static int any_field(lua_State *L, int batch, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, batch, (lua_Integer)i + 1);
        int t = lua_getfield(L, -1, key);
        lua_pop(L, 2);
        if (t != LUA_TNIL) return 1;
    }
    return 0;
}

/* Copies a per-response-token list into the flat per-position array. */
static void put_response_list(lua_State *L, int sample, const char *key, float *flat, size_t off,
                              size_t plen, size_t len, size_t i)
{
    if (lua_getfield(L, sample, key) != LUA_TTABLE) {
        luaL_error(L, "batch[%d].%s: a list is required (other samples have one)", (int)i + 1, key);
    }
    size_t m = (size_t)luaL_len(L, -1);
    if ((plen == 0 && m > 0) || m > len - plen)
        luaL_error(L, "batch[%d].%s: %d entries do not fit a response of %d tokens", (int)i + 1,
                   key, (int)m, (int)(len - plen));
    for (size_t j = 0; j < m; j++) {
        lua_rawgeti(L, -1, (lua_Integer)j + 1);
        flat[off + plen - 1 + j] = (float)luaL_checknumber(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void read_batch(lua_State *L, int batch, opt_buffers *b, rlaif_opt_batch *ob)
{
    luaL_checktype(L, batch, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, batch);
    if (n == 0) luaL_error(L, "optimizer step: the batch is empty");
    b->n = n;
    b->ids = must(L, calloc(n, sizeof *b->ids));
    b->len = must(L, calloc(n, sizeof *b->len));
    b->prompt_len = must(L, calloc(n, sizeof *b->prompt_len));
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, batch, (lua_Integer)i + 1);
        if (!lua_istable(L, -1)) luaL_error(L, "batch[%d]: a sample table is required", (int)i + 1);
        if (lua_getfield(L, -1, "ids") != LUA_TTABLE)
            luaL_error(L, "batch[%d].ids: a list of token ids is required", (int)i + 1);
        b->ids[i] = rlaif_lua_checkids(L, -1, &b->len[i]);
        lua_pop(L, 1);
        lua_getfield(L, -1, "prompt_len");
        b->prompt_len[i] = (size_t)luaL_optinteger(L, -1, 0);
        if (b->prompt_len[i] > b->len[i])
            luaL_error(L, "batch[%d].prompt_len %d exceeds the %d tokens", (int)i + 1,
                       (int)b->prompt_len[i], (int)b->len[i]);
        lua_pop(L, 2);
        total += b->len[i];
    }
    int has_reward = any_field(L, batch, n, "reward");
    int has_lp = any_field(L, batch, n, "logprobs");
    int has_tr = any_field(L, batch, n, "token_rewards");
    int has_group = any_field(L, batch, n, "group");
    int has_fin = any_field(L, batch, n, "finished");
    if (has_reward) b->rewards = must(L, calloc(n, sizeof(float)));
    if (has_lp) b->sample_logprobs = must(L, calloc(total, sizeof(float)));
    if (has_tr) b->token_rewards = must(L, calloc(total, sizeof(float)));
    if (has_group) b->group = must(L, calloc(n, sizeof(uint32_t)));
    if (has_fin) b->finished = must(L, calloc(n, 1));
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, batch, (lua_Integer)i + 1);
        int sample = lua_gettop(L);
        if (has_reward) {
            lua_getfield(L, sample, "reward");
            int ok;
            lua_Number r = lua_tonumberx(L, -1, &ok);
            if (!ok) luaL_error(L, "batch[%d].reward: a number is required", (int)i + 1);
            b->rewards[i] = (float)r;
            lua_pop(L, 1);
        }
        if (has_lp) put_response_list(L, sample, "logprobs", b->sample_logprobs, off, b->prompt_len[i], b->len[i], i);
        if (has_tr) put_response_list(L, sample, "token_rewards", b->token_rewards, off, b->prompt_len[i], b->len[i], i);
        if (has_group) {
            lua_getfield(L, sample, "group");
            b->group[i] = (uint32_t)luaL_checkinteger(L, -1);
            lua_pop(L, 1);
        }
        if (has_fin) {
            lua_getfield(L, sample, "finished");
            b->finished[i] = (uint8_t)lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        off += b->len[i];
    }
    if (lua_getfield(L, batch, "labels") == LUA_TTABLE) {
        size_t m = (size_t)luaL_len(L, -1);
        if (m * 2 != n)
            luaL_error(L, "batch.labels: %d labels for %d samples (want one per pair)", (int)m, (int)n);
        b->label = must(L, calloc(m ? m : 1, sizeof(float)));
        for (size_t i = 0; i < m; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
            b->label[i] = (float)luaL_checknumber(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    memset(ob, 0, sizeof *ob);
    ob->struct_size = sizeof *ob;
    ob->seqs = (rlaif_seqs){.struct_size = sizeof(rlaif_seqs),
                            .n = n,
                            .ids = (const int32_t *const *)b->ids,
                            .len = b->len,
                            .prompt_len = b->prompt_len};
    ob->label = b->label;
    ob->rewards = b->rewards;
    ob->token_rewards = b->token_rewards;
    ob->sample_logprobs = b->sample_logprobs;
    ob->group = b->group;
    ob->finished = b->finished;
    lua_getfield(L, batch, "temperature");
    ob->temperature = (float)luaL_optnumber(L, -1, 1.0);
    lua_pop(L, 1);
}

static void read_models(lua_State *L, int idx, rlaif_opt_models *m)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    memset(m, 0, sizeof *m);
    m->struct_size = sizeof *m;
    static const char *const keys[] = {"policy", "reference", "value"};
    rlaif_ref *refs[] = {&m->policy, &m->reference, &m->value};
    for (int k = 0; k < 3; k++) {
        refs[k]->struct_size = sizeof(rlaif_ref);
        if (lua_getfield(L, idx, keys[k]) != LUA_TNIL) {
            rlc_instance *in = rlaif_lua_toinstance(L, -1);
            if (!in || rlc_instance_kind(in) != RLAIF_KIND_MODEL)
                luaL_error(L, "models.%s: a model is required, got %s", keys[k], luaL_typename(L, -1));
            rlc_instance_to_ref(in, refs[k]);
        }
        lua_pop(L, 1);
    }
    if (!m->policy.vtable) luaL_error(L, "models.policy is required");
}

static void push_stats(lua_State *L, const rlaif_opt_result *r)
{
    lua_createtable(L, 0, (int)r->n_stats);
    for (size_t i = 0; i < r->n_stats; i++) {
        lua_pushnumber(L, r->stats[i].value);
        lua_setfield(L, -2, r->stats[i].name);
    }
}

static int run_step(lua_State *L, int evaluate)
{
    rlc_instance *in = rlaif_lua_checkinstance(L, 1, RLAIF_KIND_OPTIMIZER);
    const rlaif_optimizer_vtable *vt = rlc_instance_vtable(in);
    if (evaluate && !vt->evaluate)
        return luaL_error(L, "%s cannot evaluate (the plugin does not provide it)", rlc_instance_name(in));
    rlaif_opt_models models;
    read_models(L, 2, &models);
    opt_buffers *b = push_buffers(L);
    rlaif_opt_batch batch;
    read_batch(L, 3, b, &batch);
    rlaif_opt_result res = {.struct_size = sizeof res};
    char err[2048] = "";
    rlaif_status st = evaluate
        ? vt->evaluate(rlc_instance_self(in), &models, &batch, &res, err, sizeof err)
        : vt->step(rlc_instance_self(in), &models, &batch, &res, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, rlc_instance_name(in), st, err);
    push_stats(L, &res);
    return 1;
}

static int l_step(lua_State *L) { return run_step(L, 0); }
static int l_evaluate(lua_State *L) { return run_step(L, 1); }

static int l_state(lua_State *L)
{
    rlc_instance *in = rlaif_lua_checkinstance(L, 1, RLAIF_KIND_OPTIMIZER);
    const rlaif_optimizer_vtable *vt = rlc_instance_vtable(in);
    if (!vt->get_state) {
        lua_pushnil(L);
        return 1;
    }
    const char *json = NULL;
    rlaif_status st = vt->get_state(rlc_instance_self(in), &json);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "state", st, NULL);
    lua_pushstring(L, json ? json : "{}");
    return 1;
}

static int l_set_state(lua_State *L)
{
    rlc_instance *in = rlaif_lua_checkinstance(L, 1, RLAIF_KIND_OPTIMIZER);
    const rlaif_optimizer_vtable *vt = rlc_instance_vtable(in);
    const char *json = luaL_checkstring(L, 2);
    if (!vt->set_state) return luaL_error(L, "%s has no state to restore", rlc_instance_name(in));
    char err[2048] = "";
    rlaif_status st = vt->set_state(rlc_instance_self(in), json, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "set_state", st, err);
    return 0;
}

void rlaif_lua_optimizer_methods(lua_State *L)
{
    static const luaL_Reg methods[] = {{"step", l_step},
                                       {"evaluate", l_evaluate},
                                       {"state", l_state},
                                       {"set_state", l_set_state},
                                       {NULL, NULL}};
    luaL_setfuncs(L, methods, 0);
}
