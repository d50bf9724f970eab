/*
 * lua_model.c — model handles in Lua (methods over rlaif_model_vtable).
 *
 *   m = rlaif.model{path = "models/stories260K/stories260K.bin", backend = "transformer"}
 *   ids = m:tokenize("Once upon a time", {bos = true})
 *   text = m:detokenize(ids)
 *   outs = m:generate({"Lily was sad", "Tom"}, {max_new_tokens = 32, temperature = 0.8, seed = 1})
 *   lp = m:logprobs(ids_or_text)                     -- len-1 numbers
 *   top = m:next_logprobs(ids_or_text, 5)            -- {{id=, logprob=, text=}, ...}
 *   outs = m:forward(seqs, {logprobs=true, values=true, score=true, entropy=true,
 *                           temperature=1, keep=true})
 *   m:backward(grads)       -- same shapes as the kept forward's outputs
 *   r = m:step{lr = 1e-4, weight_decay = 0, max_grad_norm = 1}
 *   m:save(dir, {weights=true, adapter=false, training=true, merged=false})
 *   m:load_state(dir)
 *   ref = m:reference()     -- frozen view, no copy of the weights
 *   info = m:info()
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_rlaif.h"

typedef struct model_call {
    rlc_instance *in;
    const rlaif_model_vtable *vt;
    void *self;
} model_call;

static model_call check_model(lua_State *L, int arg)
{
    model_call m;
    m.in = rlaif_lua_checkinstance(L, arg, RLAIF_KIND_MODEL);
    m.vt = rlc_instance_vtable(m.in);
    m.self = rlc_instance_self(m.in);
    return m;
}

#define REQUIRE(m, fn, what)                                                                \
    do {                                                                                    \
        if (!(m).vt->fn)                                                                    \
            return luaL_error(L, "%s cannot %s (the plugin does not provide it)",           \
                              rlc_instance_name((m).in), what);                             \
    } while (0)

/* ===== Scratch memory freed on error ==================================== */

/* A userdata owning malloc'ed blocks; its __gc frees them, so a Lua error
 * in the middle of a method leaks nothing.  The list of blocks grows. */
typedef struct scratch {
    void **blocks;
    size_t n, cap;
} scratch;

static int scratch_gc(lua_State *L)
{
    scratch *s = lua_touserdata(L, 1);
    for (size_t i = 0; i < s->n; i++) free(s->blocks[i]);
    free(s->blocks);
    s->blocks = NULL;
    s->n = s->cap = 0;
    return 0;
}

static scratch *push_scratch(lua_State *L)
{
    scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->blocks = NULL;
    s->n = s->cap = 0;
    if (luaL_newmetatable(L, "rlaif.scratch")) {
        lua_pushcfunction(L, scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return s;
}

static void *scratch_keep(lua_State *L, scratch *s, void *p)
{
    if (!p) luaL_error(L, "out of memory");
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        void **grown = realloc(s->blocks, cap * sizeof *grown);
        if (!grown) {
            free(p);
            luaL_error(L, "out of memory");
        }
        s->blocks = grown;
        s->cap = cap;
    }
    s->blocks[s->n++] = p;
    return p;
}

static void *scratch_alloc(lua_State *L, scratch *s, size_t size)
{
    return scratch_keep(L, s, calloc(1, size ? size : 1));
}

/* ===== Tokens =========================================================== */

/* Tokenizes text into a scratch buffer. */
static int32_t *tokenize_into(lua_State *L, model_call m, scratch *s, const char *text,
                              size_t len, int bos, size_t *n)
{
    char err[1024] = "";
    size_t cap = len + 8;
    int32_t *ids = scratch_alloc(L, s, cap * sizeof *ids);
    rlaif_status st = m.vt->tokenize(m.self, text, len, bos, ids, cap, n, err, sizeof err);
    if (st == RLAIF_E_RANGE) {
        cap = *n;
        ids = scratch_alloc(L, s, cap * sizeof *ids);
        st = m.vt->tokenize(m.self, text, len, bos, ids, cap, n, err, sizeof err);
    }
    if (st != RLAIF_OK) rlaif_lua_fail(L, "tokenize", st, err);
    return ids;
}

/* A sequence argument: text (tokenized with BOS) or a list of ids. */
static int32_t *sequence_arg(lua_State *L, model_call m, scratch *s, int idx, int bos, size_t *n)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *text = lua_tolstring(L, idx, &len);
        return tokenize_into(L, m, s, text, len, bos, n);
    }
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "a sequence must be text or a list of token ids, got %s", luaL_typename(L, idx));
    return scratch_keep(L, s, rlaif_lua_checkids(L, idx, n));
}

static int l_tokenize(lua_State *L)
{
    model_call m = check_model(L, 1);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    int bos = rlaif_lua_optboolean(L, 3, "bos", 0);
    scratch *s = push_scratch(L);
    size_t n;
    int32_t *ids = tokenize_into(L, m, s, text, len, bos, &n);
    rlaif_lua_pushids(L, ids, n);
    return 1;
}

/* Decodes ids to a Lua string. */
static void push_detok(lua_State *L, model_call m, const int32_t *ids, size_t n, int skip_special)
{
    char err[1024] = "";
    char small[512];
    size_t len = 0;
    rlaif_status st = m.vt->detokenize(m.self, ids, n, skip_special, small, sizeof small, &len, err,
                                       sizeof err);
    if (st == RLAIF_OK) {
        lua_pushlstring(L, small, len);
        return;
    }
    if (st != RLAIF_E_RANGE) rlaif_lua_fail(L, "detokenize", st, err);
    char *buf = malloc(len + 1);
    if (!buf) luaL_error(L, "out of memory");
    st = m.vt->detokenize(m.self, ids, n, skip_special, buf, len + 1, &len, err, sizeof err);
    if (st != RLAIF_OK) {
        free(buf);
        rlaif_lua_fail(L, "detokenize", st, err);
    }
    lua_pushlstring(L, buf, len);
    free(buf);
}

static int l_detokenize(lua_State *L)
{
    model_call m = check_model(L, 1);
    int skip = rlaif_lua_optboolean(L, 3, "skip_special", 1);
    scratch *s = push_scratch(L);
    size_t n;
    int32_t *ids = scratch_keep(L, s, rlaif_lua_checkids(L, 2, &n));
    push_detok(L, m, ids, n, skip);
    return 1;
}

/* ===== Batches of sequences ============================================= */

typedef struct seq_batch {
    rlaif_seqs seqs;
    int32_t **ids;
    size_t *len;
    size_t total;   /* sum of len */
} seq_batch;

/* Reads a list of sequences (or one sequence) at idx into a batch. */
static void read_batch(lua_State *L, model_call m, scratch *s, int idx, int bos, seq_batch *b)
{
    idx = lua_absindex(L, idx);
    int single = lua_type(L, idx) == LUA_TSTRING;
    if (!single) {
        luaL_checktype(L, idx, LUA_TTABLE);
        lua_rawgeti(L, idx, 1);
        single = lua_type(L, -1) == LUA_TNUMBER; /* a list of ids */
        lua_pop(L, 1);
    }
    size_t n = single ? 1 : (size_t)luaL_len(L, idx);
    b->ids = scratch_alloc(L, s, n * sizeof *b->ids);
    b->len = scratch_alloc(L, s, n * sizeof *b->len);
    b->total = 0;
    for (size_t i = 0; i < n; i++) {
        if (single) {
            b->ids[i] = sequence_arg(L, m, s, idx, bos, &b->len[i]);
        } else {
            lua_rawgeti(L, idx, (lua_Integer)i + 1);
            b->ids[i] = sequence_arg(L, m, s, lua_gettop(L), bos, &b->len[i]);
            lua_pop(L, 1);
        }
        b->total += b->len[i];
    }
    b->seqs = (rlaif_seqs){.struct_size = sizeof(rlaif_seqs),
                           .n = n,
                           .ids = (const int32_t *const *)b->ids,
                           .len = b->len,
                           .prompt_len = NULL};
}

/* ===== Generation ======================================================= */

static const char *const *string_list(lua_State *L, scratch *s, int opts, const char *key, size_t *n)
{
    *n = 0;
    if (lua_isnoneornil(L, opts)) return NULL;
    int t = lua_getfield(L, opts, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (t == LUA_TSTRING) { /* one string: wrap it */
        lua_createtable(L, 1, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
    } else if (t != LUA_TTABLE) {
        luaL_error(L, "option '%s': list of strings expected", key);
    }
    size_t len = (size_t)luaL_len(L, -1);
    const char **list = scratch_alloc(L, s, (len ? len : 1) * sizeof *list);
    for (size_t i = 0; i < len; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s'[%d]: string expected", key, (int)i + 1);
        list[i] = scratch_keep(L, s, strdup(lua_tostring(L, -1)));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    *n = len;
    return list;
}

static int l_generate(lua_State *L)
{
    model_call m = check_model(L, 1);
    REQUIRE(m, generate, "generate");
    int opts = 3;
    if (!lua_isnoneornil(L, opts)) luaL_checktype(L, opts, LUA_TTABLE);
    scratch *s = push_scratch(L);
    int bos = rlaif_lua_optboolean(L, opts, "bos", 1);
    lua_Integer per_prompt = rlaif_lua_optinteger(L, opts, "n", 1);
    if (per_prompt < 1 || per_prompt > 4096) return luaL_error(L, "option 'n' must be in 1..4096");

    seq_batch prompts;
    read_batch(L, m, s, 2, bos, &prompts);
    size_t n = prompts.seqs.n * (size_t)per_prompt;
    /* n samples per prompt: repeat each prompt; seeds differ by position. */
    const int32_t **ids = scratch_alloc(L, s, n * sizeof *ids);
    size_t *len = scratch_alloc(L, s, n * sizeof *len);
    for (size_t i = 0; i < n; i++) {
        ids[i] = prompts.ids[i / (size_t)per_prompt];
        len[i] = prompts.len[i / (size_t)per_prompt];
    }
    rlaif_seqs batch = {.struct_size = sizeof batch, .n = n, .ids = ids, .len = len};

    rlaif_sampling sp = {.struct_size = sizeof sp};
    sp.temperature = (float)rlaif_lua_optnumber(L, opts, "temperature", 1.0);
    sp.top_k = (int32_t)rlaif_lua_optinteger(L, opts, "top_k", 0);
    sp.top_p = (float)rlaif_lua_optnumber(L, opts, "top_p", 1.0);
    sp.max_new_tokens = (uint32_t)rlaif_lua_optinteger(L, opts, "max_new_tokens", 64);
    sp.seed = (uint64_t)rlaif_lua_optinteger(L, opts, "seed", 0);
    sp.ignore_eos = (uint8_t)rlaif_lua_optboolean(L, opts, "ignore_eos", 0);
    sp.stop_strings = string_list(L, s, opts, "stop", &sp.n_stop_strings);
    if (!lua_isnoneornil(L, opts) && lua_getfield(L, opts, "stop_ids") != LUA_TNIL) {
        sp.stop_ids = scratch_keep(L, s, rlaif_lua_checkids(L, -1, &sp.n_stop_ids));
        lua_pop(L, 1);
    } else if (!lua_isnoneornil(L, opts)) {
        lua_pop(L, 1);
    }
    if (sp.max_new_tokens == 0) return luaL_error(L, "option 'max_new_tokens' must be >= 1");

    size_t cap = n * sp.max_new_tokens;
    rlaif_generation out = {.struct_size = sizeof out};
    out.ids = scratch_alloc(L, s, cap * sizeof *out.ids);
    out.logprobs = scratch_alloc(L, s, cap * sizeof *out.logprobs);
    out.n_new = scratch_alloc(L, s, n * sizeof *out.n_new);
    out.finish = scratch_alloc(L, s, n * sizeof *out.finish);
    char err[2048] = "";
    rlaif_status st = m.vt->generate(m.self, &batch, &sp, &out, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "generate", st, err);

    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const int32_t *gen = out.ids + i * sp.max_new_tokens;
        lua_createtable(L, 0, 6);
        push_detok(L, m, gen, out.n_new[i], 1);
        lua_setfield(L, -2, "text");
        rlaif_lua_pushids(L, gen, out.n_new[i]);
        lua_setfield(L, -2, "ids");
        rlaif_lua_pushfloats(L, out.logprobs + i * sp.max_new_tokens, out.n_new[i]);
        lua_setfield(L, -2, "logprobs");
        rlaif_lua_pushids(L, ids[i], len[i]);
        lua_setfield(L, -2, "prompt_ids");
        lua_pushstring(L, out.finish[i] == RLAIF_FINISH_STOP ? "stop" : "length");
        lua_setfield(L, -2, "finish");
        lua_pushinteger(L, (lua_Integer)(i / (size_t)per_prompt) + 1);
        lua_setfield(L, -2, "prompt_index");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* ===== Scoring ========================================================== */

/* m:logprobs(seq [, {temperature=}]) -> list of len-1 logprobs */
static int l_logprobs(lua_State *L)
{
    model_call m = check_model(L, 1);
    REQUIRE(m, forward, "score sequences");
    float temp = (float)rlaif_lua_optnumber(L, 3, "temperature", 1.0);
    int bos = rlaif_lua_optboolean(L, 3, "bos", 1);
    scratch *s = push_scratch(L);
    size_t n;
    int32_t *ids = sequence_arg(L, m, s, 2, bos, &n);
    if (n < 2) return luaL_error(L, "logprobs: the sequence needs at least 2 tokens");
    const int32_t *idp = ids;
    rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = 1, .ids = &idp, .len = &n};
    rlaif_outputs out = {.struct_size = sizeof out};
    out.logprobs = scratch_alloc(L, s, n * sizeof(float));
    char err[2048] = "";
    rlaif_status st = m.vt->forward(m.self, &seqs, RLAIF_OUT_LOGPROBS, temp, &out, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "logprobs", st, err);
    rlaif_lua_pushfloats(L, out.logprobs, n - 1);
    return 1;
}

/* m:next_logprobs(seq, k) -> top-k {id, logprob, text}, best first */
static int l_next_logprobs(lua_State *L)
{
    model_call m = check_model(L, 1);
    REQUIRE(m, next_logprobs, "give next-token distributions");
    lua_Integer k = luaL_optinteger(L, 3, 10);
    rlaif_model_info info = {.struct_size = sizeof info};
    m.vt->info(m.self, &info);
    if (k < 1 || k > info.vocab_size) return luaL_error(L, "k must be in 1..%d", info.vocab_size);
    scratch *s = push_scratch(L);
    size_t n;
    int32_t *ids = sequence_arg(L, m, s, 2, 1, &n);
    const int32_t *idp = ids;
    rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = 1, .ids = &idp, .len = &n};
    float *lp = scratch_alloc(L, s, (size_t)info.vocab_size * sizeof *lp);
    char err[2048] = "";
    rlaif_status st = m.vt->next_logprobs(m.self, &seqs, lp, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "next_logprobs", st, err);
    /* Partial selection of the k best (k is small). */
    int32_t *best = scratch_alloc(L, s, (size_t)k * sizeof *best);
    for (lua_Integer j = 0; j < k; j++) {
        int32_t arg = -1;
        for (int32_t v = 0; v < info.vocab_size; v++) {
            int taken = 0;
            for (lua_Integer q = 0; q < j && !taken; q++) taken = best[q] == v;
            if (!taken && (arg < 0 || lp[v] > lp[arg])) arg = v;
        }
        best[j] = arg;
    }
    lua_createtable(L, (int)k, 0);
    for (lua_Integer j = 0; j < k; j++) {
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, best[j]);
        lua_setfield(L, -2, "id");
        lua_pushnumber(L, lp[best[j]]);
        lua_setfield(L, -2, "logprob");
        push_detok(L, m, &best[j], 1, 0);
        lua_setfield(L, -2, "text");
        lua_rawseti(L, -2, j + 1);
    }
    return 1;
}

/* m:forward(seqs, opts) -> list of {logprobs=, entropy=, values=, score=}
 * Per-token lists have one entry per token (the last logprob/entropy is 0). */
static int l_forward(lua_State *L)
{
    model_call m = check_model(L, 1);
    REQUIRE(m, forward, "run forward");
    int opts = 3;
    scratch *s = push_scratch(L);
    seq_batch b;
    read_batch(L, m, s, 2, rlaif_lua_optboolean(L, opts, "bos", 1), &b);
    uint32_t want = 0;
    if (rlaif_lua_optboolean(L, opts, "logprobs", 1)) want |= RLAIF_OUT_LOGPROBS;
    if (rlaif_lua_optboolean(L, opts, "entropy", 0)) want |= RLAIF_OUT_ENTROPY;
    if (rlaif_lua_optboolean(L, opts, "values", 0)) want |= RLAIF_OUT_VALUES;
    if (rlaif_lua_optboolean(L, opts, "score", 0)) want |= RLAIF_OUT_SCORE;
    if (rlaif_lua_optboolean(L, opts, "keep", 0)) want |= RLAIF_OUT_KEEP;
    float temp = (float)rlaif_lua_optnumber(L, opts, "temperature", 1.0);
    rlaif_outputs out = {.struct_size = sizeof out};
    size_t total = b.total ? b.total : 1;
    if (want & RLAIF_OUT_LOGPROBS) out.logprobs = scratch_alloc(L, s, total * sizeof(float));
    if (want & RLAIF_OUT_ENTROPY) out.entropy = scratch_alloc(L, s, total * sizeof(float));
    if (want & RLAIF_OUT_VALUES) out.values = scratch_alloc(L, s, total * sizeof(float));
    if (want & RLAIF_OUT_SCORE) out.score = scratch_alloc(L, s, b.seqs.n * sizeof(float));
    char err[2048] = "";
    rlaif_status st = m.vt->forward(m.self, &b.seqs, want, temp, &out, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "forward", st, err);
    lua_createtable(L, (int)b.seqs.n, 0);
    size_t off = 0;
    for (size_t i = 0; i < b.seqs.n; i++) {
        lua_createtable(L, 0, 4);
        if (out.logprobs) {
            rlaif_lua_pushfloats(L, out.logprobs + off, b.len[i]);
            lua_setfield(L, -2, "logprobs");
        }
        if (out.entropy) {
            rlaif_lua_pushfloats(L, out.entropy + off, b.len[i]);
            lua_setfield(L, -2, "entropy");
        }
        if (out.values) {
            rlaif_lua_pushfloats(L, out.values + off, b.len[i]);
            lua_setfield(L, -2, "values");
        }
        if (out.score) {
            lua_pushnumber(L, out.score[i]);
            lua_setfield(L, -2, "score");
        }
        off += b.len[i];
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* Copies grads[i][key] (a list of len_i numbers) into a flat array. */
static float *flat_grads(lua_State *L, scratch *s, int grads, const char *key, size_t n_seqs,
                         size_t *total_out)
{
    size_t total = 0;
    int any = 0;
    for (size_t i = 0; i < n_seqs; i++) {
        lua_rawgeti(L, grads, (lua_Integer)i + 1);
        if (lua_getfield(L, -1, key) == LUA_TTABLE) {
            any = 1;
            total += (size_t)luaL_len(L, -1);
        }
        lua_pop(L, 2);
    }
    if (!any) return NULL;
    if (*total_out && total != *total_out)
        luaL_error(L, "backward: '%s' gradients have %d entries in all, other outputs %d", key,
                   (int)total, (int)*total_out);
    *total_out = total;
    float *flat = scratch_alloc(L, s, (total ? total : 1) * sizeof *flat);
    size_t off = 0;
    for (size_t i = 0; i < n_seqs; i++) {
        lua_rawgeti(L, grads, (lua_Integer)i + 1);
        if (lua_getfield(L, -1, key) == LUA_TTABLE) {
            size_t len = (size_t)luaL_len(L, -1);
            for (size_t t = 0; t < len; t++) {
                lua_rawgeti(L, -1, (lua_Integer)t + 1);
                flat[off++] = (float)luaL_checknumber(L, -1);
                lua_pop(L, 1);
            }
        } else {
            luaL_error(L, "backward: sequence %d has no '%s' gradients but others do", (int)i + 1, key);
        }
        lua_pop(L, 2);
    }
    return flat;
}

/* m:backward(grads): grads[i] = {logprobs=, entropy=, values=, score=} */
static int l_backward(lua_State *L)
{
    model_call m = check_model(L, 1);
    REQUIRE(m, backward, "train (no backward)");
    luaL_checktype(L, 2, LUA_TTABLE);
    scratch *s = push_scratch(L);
    size_t n = (size_t)luaL_len(L, 2);
    size_t total = 0;
    rlaif_outputs g = {.struct_size = sizeof g};
    g.logprobs = flat_grads(L, s, 2, "logprobs", n, &total);
    g.entropy = flat_grads(L, s, 2, "entropy", n, &total);
    g.values = flat_grads(L, s, 2, "values", n, &total);
    int has_score = 0;
    for (size_t i = 0; i < n && !has_score; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        has_score = lua_getfield(L, -1, "score") == LUA_TNUMBER;
        lua_pop(L, 2);
    }
    if (has_score) {
        g.score = scratch_alloc(L, s, n * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, 2, (lua_Integer)i + 1);
            lua_getfield(L, -1, "score");
            g.score[i] = (float)luaL_optnumber(L, -1, 0);
            lua_pop(L, 2);
        }
    }
    char err[2048] = "";
    rlaif_status st = m.vt->backward(m.self, &g, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "backward", st, err);
    return 0;
}

/* m:step{lr=, beta1=, beta2=, eps=, weight_decay=, max_grad_norm=, grad_scale=} */
static int l_step(lua_State *L)
{
    model_call m = check_model(L, 1);
    REQUIRE(m, step, "train (no step)");
    luaL_checktype(L, 2, LUA_TTABLE);
    rlaif_step_params p = {.struct_size = sizeof p};
    p.lr = (float)rlaif_lua_optnumber(L, 2, "lr", 1e-4);
    p.beta1 = (float)rlaif_lua_optnumber(L, 2, "beta1", 0.9);
    p.beta2 = (float)rlaif_lua_optnumber(L, 2, "beta2", 0.999);
    p.eps = (float)rlaif_lua_optnumber(L, 2, "eps", 1e-8);
    p.weight_decay = (float)rlaif_lua_optnumber(L, 2, "weight_decay", 0.0);
    p.max_grad_norm = (float)rlaif_lua_optnumber(L, 2, "max_grad_norm", 0.0);
    p.grad_scale = (float)rlaif_lua_optnumber(L, 2, "grad_scale", 1.0);
    rlaif_step_result r = {.struct_size = sizeof r};
    char err[2048] = "";
    rlaif_status st = m.vt->step(m.self, &p, &r, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "step", st, err);
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, r.grad_norm);
    lua_setfield(L, -2, "grad_norm");
    lua_pushinteger(L, (lua_Integer)r.step);
    lua_setfield(L, -2, "step");
    return 1;
}

static int l_zero_grad(lua_State *L)
{
    model_call m = check_model(L, 1);
    REQUIRE(m, zero_grad, "train (no zero_grad)");
    m.vt->zero_grad(m.self);
    return 0;
}

/* m:save(dir [, {weights=true, adapter=false, training=false, merged=false}]) */
static int l_save(lua_State *L)
{
    model_call m = check_model(L, 1);
    REQUIRE(m, save, "save");
    const char *dir = luaL_checkstring(L, 2);
    uint32_t what = 0;
    if (rlaif_lua_optboolean(L, 3, "weights", 1)) what |= RLAIF_SAVE_WEIGHTS;
    if (rlaif_lua_optboolean(L, 3, "adapter", 0)) what |= RLAIF_SAVE_ADAPTER;
    if (rlaif_lua_optboolean(L, 3, "training", 0)) what |= RLAIF_SAVE_TRAINING;
    if (rlaif_lua_optboolean(L, 3, "merged", 0)) what |= RLAIF_SAVE_MERGED;
    char err[2048] = "";
    rlaif_status st = m.vt->save(m.self, dir, what, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "save", st, err);
    return 0;
}

static int l_load_state(lua_State *L)
{
    model_call m = check_model(L, 1);
    REQUIRE(m, load_state, "load a training state");
    const char *dir = luaL_checkstring(L, 2);
    char err[2048] = "";
    rlaif_status st = m.vt->load_state(m.self, dir, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "load_state", st, err);
    return 0;
}

/* m:reference() -> a frozen view (LoRA off, no gradients) */
static int l_reference(lua_State *L)
{
    model_call m = check_model(L, 1);
    REQUIRE(m, reference, "make a reference view");
    char err[2048] = "";
    void *view = NULL;
    rlaif_status st = m.vt->reference(m.self, &view, err, sizeof err);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "reference", st, err);
    /* Find the plugin that made m to own the view. */
    rlc_plugin *p = NULL;
    for (size_t i = 0; i < rlc_plugin_count() && !p; i++)
        if (rlc_plugin_info(rlc_plugin_at(i))->vtable == (const void *)m.vt) p = rlc_plugin_at(i);
    if (!p) {
        m.vt->base.destroy(view);
        return luaL_error(L, "reference: the model's plugin is not loaded");
    }
    rlc_instance *in = rlc_instance_adopt(p, view, m.in);
    if (!in) return luaL_error(L, "out of memory");
    rlaif_lua_pushinstance(L, in);
    return 1;
}

static int l_info(lua_State *L)
{
    model_call m = check_model(L, 1);
    rlaif_model_info i = {.struct_size = sizeof i};
    rlaif_status st = m.vt->info(m.self, &i);
    if (st != RLAIF_OK) return rlaif_lua_fail(L, "info", st, NULL);
    lua_createtable(L, 0, 16);
#define SETI(k, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, k))
#define SETB(k, v) (lua_pushboolean(L, (v)), lua_setfield(L, -2, k))
    lua_pushstring(L, i.arch ? i.arch : "?");
    lua_setfield(L, -2, "arch");
    SETI("vocab_size", i.vocab_size);
    SETI("max_seq_len", i.max_seq_len);
    SETI("bos_id", i.bos_id);
    SETI("eos_id", i.eos_id);
    SETI("pad_id", i.pad_id);
    SETI("n_params", i.n_params);
    SETI("n_trainable", i.n_trainable);
    SETI("dim", i.dim);
    SETI("n_layers", i.n_layers);
    SETI("n_heads", i.n_heads);
    SETI("n_kv_heads", i.n_kv_heads);
    SETI("hidden_dim", i.hidden_dim);
    SETB("value_head", i.has_value_head);
    SETB("score_head", i.has_score_head);
    SETB("lora", i.has_lora);
    SETB("frozen", i.is_frozen);
    lua_pushstring(L, rlc_instance_name(m.in));
    lua_setfield(L, -2, "plugin");
#undef SETI
#undef SETB
    return 1;
}

void rlaif_lua_model_methods(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"tokenize", l_tokenize},   {"detokenize", l_detokenize},
        {"generate", l_generate},   {"logprobs", l_logprobs},
        {"next_logprobs", l_next_logprobs},
        {"forward", l_forward},     {"backward", l_backward},
        {"step", l_step},           {"zero_grad", l_zero_grad},
        {"save", l_save},           {"load_state", l_load_state},
        {"reference", l_reference}, {"info", l_info},
        {NULL, NULL}};
    luaL_setfuncs(L, methods, 0);
}
