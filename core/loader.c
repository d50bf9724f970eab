/*
 * loader.c — finding, loading and validating plugin shared objects.
 *
 * A plugin file is named rlaif-<kind>-<name>.so.  Loading checks, in order:
 * the file exists, dlopen() accepts it, it exports the entry symbol, the
 * entry returns an info struct, the ABI version matches, the kind is known,
 * the info is complete, and no other loaded plugin has that kind and name.
 * Each failure has its own message naming the file.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"
#include "internal.h"
#include "rlaif_config.h"

struct rlc_plugin {
    char *path;   /* the resolved file path */
    void *dl;     /* dlopen handle */
    const rlaif_plugin_info *info;
};

#define MAX_PLUGINS 256
#define MAX_DIRS 32
#define SCAN_DEPTH 3

static rlc_plugin *plugins[MAX_PLUGINS];
static size_t n_plugins;
static char *search_dirs[MAX_DIRS];
static size_t n_search_dirs;

/* ===== Search path ====================================================== */

static void add_dir(const char *dir)
{
    if (!dir || !*dir || n_search_dirs == MAX_DIRS) return;
    for (size_t i = 0; i < n_search_dirs; i++)
        if (strcmp(search_dirs[i], dir) == 0) return;
    search_dirs[n_search_dirs++] = strdup(dir);
}


void rlc_loader_init(const char *exe_dir)
{
    if (n_search_dirs) return;
    const char *env = getenv("RLAIF_PLUGIN_PATH");
    if (env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) add_dir(d);
        free(copy);
    }
    if (exe_dir) {
        char buf[PATH_MAX];
        snprintf(buf, sizeof buf, "%s/plugins", exe_dir);
        add_dir(buf);
        snprintf(buf, sizeof buf, "%s/../%s", exe_dir, RLAIF_PLUGIN_RELDIR);
        add_dir(buf);
    }
    add_dir(RLAIF_PLUGIN_INSTALL_DIR);
}

size_t rlc_search_path(const char *const **dirs)
{
    *dirs = (const char *const *)search_dirs;
    return n_search_dirs;
}

/* ===== Kinds and capabilities =========================================== */

static const char *const kind_names[] = {NULL, "model", "labeler", "reward", "optimizer"};

const char *rlc_kind_name(rlaif_kind kind)
{
    return kind >= RLAIF_KIND_MODEL && kind <= RLAIF_KIND_OPTIMIZER ? kind_names[kind] : NULL;
}

int rlc_kind_from_name(const char *name)
{
    for (int k = RLAIF_KIND_MODEL; k <= RLAIF_KIND_OPTIMIZER; k++)
        if (strcmp(name, kind_names[k]) == 0) return k;
    return 0;
}

typedef struct cap_name {
    int kind; /* 0 = any kind */
    uint64_t bit;
    const char *name;
} cap_name;

static const cap_name cap_names[] = {
    {0, RLAIF_CAP_THREAD_SAFE, "thread-safe"},
    {0, RLAIF_CAP_SAVE, "save"},
    {RLAIF_KIND_MODEL, RLAIF_CAP_MODEL_GENERATE, "generate"},
    {RLAIF_KIND_MODEL, RLAIF_CAP_MODEL_FORWARD, "forward"},
    {RLAIF_KIND_MODEL, RLAIF_CAP_MODEL_TRAIN, "train"},
    {RLAIF_KIND_MODEL, RLAIF_CAP_MODEL_LORA, "lora"},
    {RLAIF_KIND_MODEL, RLAIF_CAP_MODEL_VALUE_HEAD, "value-head"},
    {RLAIF_KIND_MODEL, RLAIF_CAP_MODEL_SCORE_HEAD, "score-head"},
    {RLAIF_KIND_MODEL, RLAIF_CAP_MODEL_REFERENCE, "reference"},
    {RLAIF_KIND_LABELER, RLAIF_CAP_LABELER_COMPARE, "compare"},
    {RLAIF_KIND_LABELER, RLAIF_CAP_LABELER_SCORE, "score"},
    {RLAIF_KIND_LABELER, RLAIF_CAP_LABELER_REVISE, "revise"},
    {RLAIF_KIND_REWARD, RLAIF_CAP_REWARD_PER_TOKEN, "per-token"},
    {RLAIF_KIND_REWARD, RLAIF_CAP_REWARD_SPANS, "spans"},
    {RLAIF_KIND_OPTIMIZER, RLAIF_CAP_OPTIMIZER_OFFLINE, "offline"},
    {RLAIF_KIND_OPTIMIZER, RLAIF_CAP_OPTIMIZER_ONLINE, "online"},
};

void rlc_caps_string(rlaif_kind kind, uint64_t caps, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof cap_names / sizeof cap_names[0]; i++) {
        const cap_name *c = &cap_names[i];
        if ((c->kind && c->kind != (int)kind) || !(caps & c->bit)) continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", c->name);
        if (w < 0 || (size_t)w >= len - used) break;
        used += (size_t)w;
    }
    if (!used) snprintf(buf, len, "-");
}

/* ===== Loading ========================================================== */

size_t rlc_plugin_count(void) { return n_plugins; }
rlc_plugin *rlc_plugin_at(size_t i) { return i < n_plugins ? plugins[i] : NULL; }
const rlaif_plugin_info *rlc_plugin_info(const rlc_plugin *p) { return p->info; }
const char *rlc_plugin_path(const rlc_plugin *p) { return p->path; }

static int valid_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

/* Checks the info struct; returns 0 or fills err. */
static int validate_info(const char *path, const rlaif_plugin_info *info, char *err,
                         size_t errlen)
{
    if (info->abi_version != RLAIF_ABI_VERSION) {
        snprintf(err, errlen, "%s: incompatible ABI (plugin %u, host %u): rebuild the plugin "
                 "against this rlaif's plugin.h", path, info->abi_version, RLAIF_ABI_VERSION);
        return -1;
    }
    if (info->struct_size < sizeof(rlaif_plugin_info)) {
        snprintf(err, errlen, "%s: plugin info too small (%u bytes, need %zu)", path,
                 info->struct_size, sizeof(rlaif_plugin_info));
        return -1;
    }
    if (!rlc_kind_name(info->kind)) {
        snprintf(err, errlen, "%s: unknown plugin kind %d (known: 1 model, 2 labeler, "
                 "3 reward, 4 optimizer)", path, (int)info->kind);
        return -1;
    }
    if (!info->name || !valid_name(info->name)) {
        snprintf(err, errlen, "%s: plugin name is %s (want [a-z0-9_]+)", path,
                 info->name ? "not valid" : "NULL");
        return -1;
    }
    if (!info->vtable) {
        snprintf(err, errlen, "%s: plugin '%s' has a NULL vtable", path, info->name);
        return -1;
    }
    const rlaif_lifecycle *lc = info->vtable;
    if (lc->struct_size < sizeof(rlaif_lifecycle) || !lc->create || !lc->destroy) {
        snprintf(err, errlen, "%s: plugin '%s' vtable lacks create/destroy", path, info->name);
        return -1;
    }
    return 0;
}

static rlc_plugin *find_loaded(rlaif_kind kind, const char *name)
{
    for (size_t i = 0; i < n_plugins; i++)
        if (plugins[i]->info->kind == kind && strcmp(plugins[i]->info->name, name) == 0)
            return plugins[i];
    return NULL;
}

rlc_plugin *rlc_plugin_load(const char *path, char *err, size_t errlen)
{
    char real[PATH_MAX];
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: plugin file not found (%s)", path, strerror(errno));
        return NULL;
    }
    if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
    for (size_t i = 0; i < n_plugins; i++)
        if (strcmp(plugins[i]->path, real) == 0) return plugins[i];
    if (n_plugins == MAX_PLUGINS) {
        snprintf(err, errlen, "%s: too many plugins loaded (%d)", path, MAX_PLUGINS);
        return NULL;
    }

    dlerror();
    void *dl = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        snprintf(err, errlen, "%s: not a loadable shared object: %s", path, why ? why : "?");
        return NULL;
    }
    /* Casting a data pointer to a function pointer: POSIX guarantees it. */
    rlaif_plugin_entry_fn entry;
    *(void **)(&entry) = dlsym(dl, RLAIF_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        snprintf(err, errlen, "%s: no entry symbol '%s' (is it an rlaif plugin? it must use "
                 "RLAIF_PLUGIN(...))", path, RLAIF_PLUGIN_ENTRY_SYMBOL);
        dlclose(dl);
        return NULL;
    }
    const rlaif_plugin_info *info = entry(RLAIF_ABI_VERSION);
    if (!info) {
        snprintf(err, errlen, "%s: entry '%s' returned NULL info (the plugin refused host ABI %d)",
                 path, RLAIF_PLUGIN_ENTRY_SYMBOL, RLAIF_ABI_VERSION);
        dlclose(dl);
        return NULL;
    }
    if (validate_info(path, info, err, errlen) != 0) {
        dlclose(dl);
        return NULL;
    }
    rlc_plugin *dup = find_loaded(info->kind, info->name);
    if (dup) {
        snprintf(err, errlen, "%s: duplicate plugin name: %s '%s' is already loaded from %s", path,
                 rlc_kind_name(info->kind), info->name, dup->path);
        dlclose(dl);
        return NULL;
    }
    rlc_plugin *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(real))) {
        free(p);
        dlclose(dl);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    p->dl = dl;
    p->info = info;
    plugins[n_plugins++] = p;
    return p;
}

/* Looks for `file` under `dir`, descending at most `depth` levels. */
static int find_file(const char *dir, const char *file, int depth, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", dir, file);
    struct stat st;
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 1;
    if (depth == 0) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            found = find_file(sub, file, depth - 1, out, outlen);
    }
    closedir(d);
    return found;
}

rlc_plugin *rlc_plugin_find(rlaif_kind kind, const char *name, char *err, size_t errlen)
{
    if (strchr(name, '/')) {
        rlc_plugin *p = rlc_plugin_load(name, err, errlen);
        if (p && p->info->kind != kind) {
            snprintf(err, errlen, "%s: is a %s plugin, not a %s plugin", name,
                     rlc_kind_name(p->info->kind), rlc_kind_name(kind));
            return NULL;
        }
        return p;
    }
    rlc_plugin *p = find_loaded(kind, name);
    if (p) return p;
    char file[256], path[PATH_MAX];
    snprintf(file, sizeof file, "rlaif-%s-%s.so", rlc_kind_name(kind), name);
    for (size_t i = 0; i < n_search_dirs; i++) {
        if (find_file(search_dirs[i], file, SCAN_DEPTH, path, sizeof path)) {
            p = rlc_plugin_load(path, err, errlen);
            if (p && (p->info->kind != kind || strcmp(p->info->name, name) != 0)) {
                snprintf(err, errlen, "%s: file name says %s '%s' but the plugin says %s '%s'",
                         path, rlc_kind_name(kind), name, rlc_kind_name(p->info->kind),
                         p->info->name);
                return NULL;
            }
            return p;
        }
    }
    int used = snprintf(err, errlen, "no %s plugin named '%s' (looked for %s in:", rlc_kind_name(kind),
                        name, file);
    for (size_t i = 0; i < n_search_dirs && used > 0 && (size_t)used < errlen; i++)
        used += snprintf(err + used, errlen - (size_t)used, " %s", search_dirs[i]);
    if (used > 0 && (size_t)used < errlen)
        snprintf(err + used, errlen - (size_t)used, "; set RLAIF_PLUGIN_PATH to add folders)");
    return NULL;
}

/* Calls fn on every rlaif-*.so under dir. */
static void scan_dir(const char *dir, int depth, void (*fn)(const char *path, void *), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        size_t len = strlen(e->d_name);
        if (S_ISDIR(st.st_mode) && depth > 0)
            scan_dir(path, depth - 1, fn, ctx);
        else if (S_ISREG(st.st_mode) && strncmp(e->d_name, "rlaif-", 6) == 0 && len > 3 &&
                 strcmp(e->d_name + len - 3, ".so") == 0)
            fn(path, ctx);
    }
    closedir(d);
}

typedef struct load_all_ctx {
    void (*on_error)(const char *msg, void *ctx);
    void *ctx;
    size_t loaded;
} load_all_ctx;

static void load_one(const char *path, void *vctx)
{
    load_all_ctx *c = vctx;
    char err[1024];
    size_t before = n_plugins;
    if (rlc_plugin_load(path, err, sizeof err)) {
        c->loaded += n_plugins > before;
    } else if (c->on_error) {
        c->on_error(err, c->ctx);
    }
}

size_t rlc_plugin_load_all(void (*on_error)(const char *msg, void *ctx), void *ctx)
{
    load_all_ctx c = {on_error, ctx, 0};
    for (size_t i = 0; i < n_search_dirs; i++) scan_dir(search_dirs[i], SCAN_DEPTH, load_one, &c);
    return c.loaded;
}


void rlc_loader_shutdown(void)
{
    for (size_t i = 0; i < n_plugins; i++) {
        /* Under a leak checker, keep the objects mapped so its stack traces
         * still resolve; otherwise unload. */
        if (!getenv("RLAIF_NO_DLCLOSE")) dlclose(plugins[i]->dl);
        free(plugins[i]->path);
        free(plugins[i]);
    }
    n_plugins = 0;
    for (size_t i = 0; i < n_search_dirs; i++) free(search_dirs[i]);
    n_search_dirs = 0;
}
