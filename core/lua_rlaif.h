/*
 * lua_rlaif.h — the Lua module "rlaif", split over core/lua_*.c.
 *
 * Instances (models, labelers, rewards, optimizers) are full userdata
 * holding one rlc_instance reference; NULL means closed.  Each kind has its
 * own metatable with __gc, __close, __tostring and a `close` method; using a
 * closed handle raises "<kind> used after close".
 */
#ifndef RLAIF_LUA_RLAIF_H
#define RLAIF_LUA_RLAIF_H

#include <cjson/cJSON.h>
#include <lua.h>

#include "core.h"

#define RLAIF_JSON_ARRAY_MT "rlaif.json.array"

typedef struct lua_handle {
    rlc_instance *in; /* NULL once closed */
} lua_handle;

/* Opens the module; leaves it on the stack.  Registered as package.preload. */
int luaopen_rlaif(lua_State *L);

/* ===== Handles (lua_handle.c) =========================================== */

/* Metatable name for a kind ("rlaif.Model", ...). */
const char *rlaif_lua_kind_mt(rlaif_kind kind);

/* Pushes a new handle owning one reference of `in` (the caller's). */
void rlaif_lua_pushinstance(lua_State *L, rlc_instance *in);

/* The instance behind a handle of any kind at idx, NULL if idx is not a
 * handle; raises if it is a closed handle. */
rlc_instance *rlaif_lua_toinstance(lua_State *L, int idx);

/* The instance behind a handle of `kind` at arg, raising a Lua argument
 * error otherwise (wrong type or closed). */
rlc_instance *rlaif_lua_checkinstance(lua_State *L, int arg, rlaif_kind kind);

/* Creates the four metatables; `methods[kind]` tables are filled by the
 * kind files. */
void rlaif_lua_open_handles(lua_State *L);

/* Creates an instance of plugin kind/name from the config table at idx
 * (keys `plugin_key` removed before it becomes JSON) and pushes its handle. */
int rlaif_lua_create(lua_State *L, rlaif_kind kind, int idx, const char *plugin_key,
                     const char *default_plugin);

/* ===== JSON (lua_json.c) ================================================= */

/* Lua value at idx -> malloc'ed JSON text (free with cJSON_free).  Raises a
 * Lua error naming `what`.path on values JSON cannot hold. */
char *rlaif_lua_tojson(lua_State *L, int idx, const char *what);
void rlaif_lua_pushjson(lua_State *L, const cJSON *j);
void rlaif_lua_open_json(lua_State *L);

/* rlaif.fs, rlaif.clock, rlaif.isatty on the module table on top (lua_fs.c). */
void rlaif_lua_open_fs(lua_State *L);

/* ===== Kinds ============================================================= */

void rlaif_lua_model_methods(lua_State *L);     /* lua_model.c: fills the table on top */
void rlaif_lua_labeler_methods(lua_State *L);   /* lua_labeler.c */
void rlaif_lua_reward_methods(lua_State *L);    /* lua_reward.c */
void rlaif_lua_optimizer_methods(lua_State *L); /* lua_optimizer.c */

/* rlaif.reward(function) : wraps a Lua function as a reward instance. */
rlc_instance *rlaif_lua_function_reward(lua_State *L, int idx, const char *name);

/* ===== Small helpers (lua_util.c) ======================================== */

/* Raises a Lua error with the message of a failed plugin call. */
int rlaif_lua_fail(lua_State *L, const char *what, rlaif_status st, const char *err);

/* Reads an integer array (Lua table of integers) at idx into a malloc'ed
 * buffer; *n gets its length.  Raises on non-integers. */
int32_t *rlaif_lua_checkids(lua_State *L, int idx, size_t *n);

/* Pushes a Lua array of integers / floats. */
void rlaif_lua_pushids(lua_State *L, const int32_t *ids, size_t n);
void rlaif_lua_pushfloats(lua_State *L, const float *x, size_t n);

/* Field getters for option tables: return `def` when absent, raise naming
 * the field on a wrong type. */
lua_Number rlaif_lua_optnumber(lua_State *L, int idx, const char *key, lua_Number def);
lua_Integer rlaif_lua_optinteger(lua_State *L, int idx, const char *key, lua_Integer def);
int rlaif_lua_optboolean(lua_State *L, int idx, const char *key, int def);
const char *rlaif_lua_optstring(lua_State *L, int idx, const char *key, const char *def);

#endif
