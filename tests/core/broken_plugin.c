/*
 * broken_plugin.c — deliberately broken plugins for the loader tests.  One
 * source, built several times with a BROKEN_* macro choosing the defect.
 */
#include <stddef.h>

#include "rlaif/plugin.h"

static rlaif_status create(const rlaif_host *h, const char *c, void **out, char *e, size_t n)
{
    (void)h;
    (void)c;
    (void)e;
    (void)n;
    static int dummy;
    *out = &dummy;
    return RLAIF_OK;
}
static void destroy(void *self) { (void)self; }
static rlaif_status describe(void *self, rlaif_reward_desc *d)
{
    (void)self;
    d->n_metrics = 0;
    return RLAIF_OK;
}
static rlaif_status score(void *self, const rlaif_reward_batch *b, rlaif_reward_out *o, char *e,
                          size_t n)
{
    (void)self;
    (void)e;
    (void)n;
    for (size_t i = 0; i < b->n; i++) o->rewards[i] = 42;
    return RLAIF_OK;
}

__attribute__((unused)) static const rlaif_reward_vtable vtable = {
    .base = {.struct_size = sizeof(rlaif_reward_vtable), .create = create, .destroy = destroy},
    .describe = describe,
    .score = score,
};

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "broken"
#endif

__attribute__((unused)) static const rlaif_plugin_info info = {
#ifdef BROKEN_ABI
    .abi_version = 999,
#else
    .abi_version = RLAIF_ABI_VERSION,
#endif
    .struct_size = sizeof(rlaif_plugin_info),
#ifdef BROKEN_KIND
    .kind = (rlaif_kind)9,
#else
    .kind = RLAIF_KIND_REWARD,
#endif
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .description = "a plugin for loader tests",
#ifdef BROKEN_VTABLE
    .vtable = NULL,
#else
    .vtable = &vtable,
#endif
};

#if defined(BROKEN_NO_ENTRY)
/* exports something, but not the entry point */
RLAIF_EXPORT int not_the_entry(void);
RLAIF_EXPORT int not_the_entry(void) { return 1; }
#elif defined(BROKEN_NULL_INFO)
RLAIF_PLUGIN(NULL)
#else
RLAIF_PLUGIN(&info)
#endif
