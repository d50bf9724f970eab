/*
 * core.h — the host's plugin registry, loader and instance table.
 *
 * Linked into the `rlaif` binary and into the tests (as librlaif_core.a).
 * Prefix `rlc_` (rlaif core).  Not part of the plugin ABI: plugins only see
 * rlaif/plugin.h and the rlaif_host table.
 *
 * Lifetimes:
 *   - A rlc_plugin is loaded once and stays loaded until rlc_shutdown();
 *     pointers to it and to its info are valid until then.
 *   - A rlc_instance is reference-counted: rlc_instance_create returns it
 *     with one reference; host->acquire adds one, host->release and
 *     rlc_instance_unref drop one; the plugin's destroy runs at zero.
 *   - Error buffers are the caller's.
 */
#ifndef RLAIF_CORE_H
#define RLAIF_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "rlaif/plugin.h"

typedef struct rlc_plugin rlc_plugin;
typedef struct rlc_instance rlc_instance;

/* ===== Start and stop =================================================== */

/* Sets up the registry and the search path:
 *   1. each directory of $RLAIF_PLUGIN_PATH (colon-separated),
 *   2. `exe_dir`/plugins and `exe_dir` (the build tree puts the binary in
 *      build/ and the plugins under build/plugins/<kind>/<name>/),
 *   3. `exe_dir`/../<libdir>/rlaif/plugins (a relocated install),
 *   4. the install directory compiled in.
 * Directories are searched recursively (3 levels) for rlaif-<kind>-<name>.so.
 * exe_dir may be NULL.  Idempotent. */
void rlc_init(const char *exe_dir);

/* Destroys every instance still alive and unloads every plugin. */
void rlc_shutdown(void);

/* The host table handed to plugins. */
const rlaif_host *rlc_host(void);

/* The search path as set up by rlc_init (for messages and `rlaif plugins`). */
size_t rlc_search_path(const char *const **dirs);

/* ===== Plugins ========================================================== */

/* Loads the shared object at `path` (or returns it if already loaded) and
 * validates it; each failure has its own message naming the file:
 * not found, not a shared object (with dlerror()), no entry symbol,
 * entry returned NULL, ABI version mismatch (both numbers), unknown kind,
 * bad info (struct size, NULL name or vtable), duplicate name. */
rlc_plugin *rlc_plugin_load(const char *path, char *err, size_t errlen);

/* Finds and loads the plugin of `kind` named `name` on the search path, or
 * loads `name` as a path when it contains a '/'. */
rlc_plugin *rlc_plugin_find(rlaif_kind kind, const char *name, char *err, size_t errlen);

/* Loads every plugin file on the search path; failures are reported through
 * `on_error` (may be NULL) and skipped.  Returns the number loaded. */
size_t rlc_plugin_load_all(void (*on_error)(const char *msg, void *ctx), void *ctx);

/* Loaded plugins, in load order. */
size_t rlc_plugin_count(void);
rlc_plugin *rlc_plugin_at(size_t i);

const rlaif_plugin_info *rlc_plugin_info(const rlc_plugin *p);
const char *rlc_plugin_path(const rlc_plugin *p);

const char *rlc_kind_name(rlaif_kind kind);      /* "model", ... or NULL */
int rlc_kind_from_name(const char *name);        /* RLAIF_KIND_* or 0 */
/* "generate,forward,train" for the capability bits of that kind; static buffer
 * of the caller. */
void rlc_caps_string(rlaif_kind kind, uint64_t caps, char *buf, size_t len);

/* ===== Instances ======================================================== */

/* Creates an instance of plugin `p` from JSON config text. */
rlc_instance *rlc_instance_create(rlc_plugin *p, const char *config_json, char *err,
                                  size_t errlen);

/* Wraps an instance made by a plugin function other than create (a model's
 * reference() view): destroyed with p's destroy.  `parent` (may be NULL) is
 * kept alive as long as the new instance lives. */
rlc_instance *rlc_instance_adopt(rlc_plugin *p, void *self, rlc_instance *parent);

/* Wraps an instance implemented by the host itself (a Lua reward function):
 * `vtable` must outlive it, `destroy` frees `self`. */
rlc_instance *rlc_instance_host(rlaif_kind kind, const void *vtable, void *self,
                                const char *name);

void rlc_instance_ref(rlc_instance *in);
void rlc_instance_unref(rlc_instance *in);

uint64_t rlc_instance_handle(const rlc_instance *in);
rlc_instance *rlc_instance_by_handle(uint64_t handle);
rlaif_kind rlc_instance_kind(const rlc_instance *in);
const void *rlc_instance_vtable(const rlc_instance *in);
void *rlc_instance_self(const rlc_instance *in);
const char *rlc_instance_name(const rlc_instance *in);   /* "reward/length" */
uint64_t rlc_instance_caps(const rlc_instance *in);
/* Fills a rlaif_ref for the instance (no reference taken). */
void rlc_instance_to_ref(const rlc_instance *in, rlaif_ref *out);

/* ===== Host services ==================================================== */

/* Cancellation: set by SIGINT, read by host->cancelled. */
void rlc_set_cancelled(int on);
int rlc_is_cancelled(void);

/* Log level threshold and progress output mode. */
void rlc_set_log_level(rlaif_log_level level);
enum { RLC_PROGRESS_AUTO, RLC_PROGRESS_TTY, RLC_PROGRESS_PLAIN, RLC_PROGRESS_QUIET,
       RLC_PROGRESS_JSON };
void rlc_set_progress_mode(int mode);
/* The mode in force (AUTO resolved to TTY or PLAIN by looking at stderr). */
int rlc_progress_mode(void);

/* The data directory (constitutions, lexicons): $RLAIF_DATA_DIR, else the
 * source tree when running from the build tree, else the install dir. */
const char *rlc_data_dir(void);

#endif
