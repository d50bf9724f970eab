/*
 * instance.c — live plugin instances, their handles and reference counts.
 *
 * Every instance the host creates gets a handle (a small integer, never
 * reused) so that configs can name it ({"rlaif_handle": N}) and plugins can
 * reach it through host->acquire.  An instance is destroyed when its last
 * reference goes: the creator's, plus one per acquire, plus one per view
 * (a model's reference() view keeps its base alive).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "internal.h"

struct rlc_instance {
    uint64_t handle;
    rlaif_kind kind;
    const void *vtable;
    void *self;
    uint64_t caps;
    char name[96];          /* "kind/name" */
    int refs;
    rlc_instance *parent;   /* kept alive while this one lives (views) */
    struct rlc_instance *next;
};

static rlc_instance *live;       /* singly linked, newest first */
static uint64_t next_handle = 1;

static rlc_instance *instance_new(rlaif_kind kind, const void *vtable, void *self, uint64_t caps,
                                  const char *name)
{
    rlc_instance *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->handle = next_handle++;
    in->kind = kind;
    in->vtable = vtable;
    in->self = self;
    in->caps = caps;
    in->refs = 1;
    snprintf(in->name, sizeof in->name, "%s", name);
    in->next = live;
    live = in;
    return in;
}

rlc_instance *rlc_instance_create(rlc_plugin *p, const char *config_json, char *err, size_t errlen)
{
    const rlaif_plugin_info *info = rlc_plugin_info(p);
    const rlaif_lifecycle *lc = info->vtable;
    char name[96];
    snprintf(name, sizeof name, "%s/%s", rlc_kind_name(info->kind), info->name);
    if (err && errlen) err[0] = 0;
    void *self = NULL;
    rlaif_status st = lc->create(rlc_host(), config_json ? config_json : "{}", &self, err, errlen);
    if (st != RLAIF_OK) {
        if (err && errlen && !err[0])
            snprintf(err, errlen, "%s: create failed with status %d (no message)", name, (int)st);
        return NULL;
    }
    rlc_instance *in = instance_new(info->kind, info->vtable, self, info->caps, name);
    if (!in) {
        lc->destroy(self);
        snprintf(err, errlen, "%s: out of memory", name);
    }
    return in;
}

rlc_instance *rlc_instance_adopt(rlc_plugin *p, void *self, rlc_instance *parent)
{
    const rlaif_plugin_info *info = rlc_plugin_info(p);
    char name[96];
    snprintf(name, sizeof name, "%s/%s", rlc_kind_name(info->kind), info->name);
    rlc_instance *in = instance_new(info->kind, info->vtable, self, info->caps, name);
    if (!in) {
        ((const rlaif_lifecycle *)info->vtable)->destroy(self);
        return NULL;
    }
    in->parent = parent;
    if (parent) rlc_instance_ref(parent);
    return in;
}

rlc_instance *rlc_instance_host(rlaif_kind kind, const void *vtable, void *self, const char *name)
{
    return instance_new(kind, vtable, self, 0, name);
}

void rlc_instance_ref(rlc_instance *in) { in->refs++; }

static void unlink_instance(rlc_instance *in)
{
    for (rlc_instance **pp = &live; *pp; pp = &(*pp)->next) {
        if (*pp == in) {
            *pp = in->next;
            return;
        }
    }
}

void rlc_instance_unref(rlc_instance *in)
{
    if (!in || --in->refs > 0) return;
    unlink_instance(in);
    ((const rlaif_lifecycle *)in->vtable)->destroy(in->self);
    rlc_instance *parent = in->parent;
    free(in);
    if (parent) rlc_instance_unref(parent);
}

uint64_t rlc_instance_handle(const rlc_instance *in) { return in->handle; }
rlaif_kind rlc_instance_kind(const rlc_instance *in) { return in->kind; }
const void *rlc_instance_vtable(const rlc_instance *in) { return in->vtable; }
void *rlc_instance_self(const rlc_instance *in) { return in->self; }
const char *rlc_instance_name(const rlc_instance *in) { return in->name; }
uint64_t rlc_instance_caps(const rlc_instance *in) { return in->caps; }

rlc_instance *rlc_instance_by_handle(uint64_t handle)
{
    for (rlc_instance *in = live; in; in = in->next)
        if (in->handle == handle) return in;
    return NULL;
}

void rlc_instance_to_ref(const rlc_instance *in, rlaif_ref *out)
{
    out->struct_size = sizeof *out;
    out->kind = in->kind;
    out->handle = in->handle;
    out->vtable = in->vtable;
    out->self = in->self;
}

/* At shutdown, destroy what is left, views before what they view: a view
 * holds a reference to its parent, so dropping every instance's own
 * references newest-first frees children before parents. */
void rlc_instances_shutdown(void)
{
    while (live) {
        rlc_instance *in = live;
        /* Find an instance nothing else depends on (no live child). */
        for (rlc_instance *c = live; c; c = c->next) {
            int has_child = 0;
            for (rlc_instance *d = live; d && !has_child; d = d->next) has_child = d->parent == c;
            if (!has_child) {
                in = c;
                break;
            }
        }
        in->refs = 1;
        rlc_instance_unref(in);
    }
}
