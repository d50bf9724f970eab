/*
 * pconfig.h — reading a plugin's JSON config with errors that name the key.
 *
 * Every in-tree plugin parses its create() config through this, so that a
 * wrong key or type reads the same everywhere:
 *   "reward/length: config key 'target': expected a number, got a string"
 *   "reward/length: unknown config key 'taget' (known: target, tolerance)"
 *
 * Usage:
 *   pconfig c;
 *   if (pconfig_open(&c, "reward/length", json, err, errlen)) return RLAIF_E_INVALID;
 *   double target = pconfig_number(&c, "target", 100, 0, 1e9);
 *   const char *mode = pconfig_string(&c, "mode", "chars");
 *   static const char *const keys[] = {"target", "mode", NULL};
 *   pconfig_no_other_keys(&c, keys);
 *   rlaif_status st = pconfig_close(&c);   // first error, if any, is in err
 *
 * Getters after the first error return their default and do nothing, so a
 * plugin reads all keys straight-line and checks once at the end.
 * Strings returned by pconfig_string live until pconfig_close.
 */
#ifndef RLAIF_PCONFIG_H
#define RLAIF_PCONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rlaif/plugin.h"

typedef struct pconfig {
    cJSON *root;          /* the parsed object (owned) */
    const char *who;      /* "kind/name", for messages */
    char *err;            /* caller's buffer */
    size_t errlen;
    int failed;           /* nonzero after the first error */
} pconfig;

/* Parses `json` (NULL or "" mean "{}").  Returns nonzero (and fills err) if
 * it is not a JSON object. */
int pconfig_open(pconfig *c, const char *who, const char *json, char *err, size_t errlen);

/* RLAIF_OK, or RLAIF_E_INVALID when any getter failed.  Frees the tree. */
rlaif_status pconfig_close(pconfig *c);

/* The raw item (NULL when absent); lives until pconfig_close. */
cJSON *pconfig_item(pconfig *c, const char *key);

/* Typed getters: return `def` when the key is absent. */
double pconfig_number(pconfig *c, const char *key, double def, double lo, double hi);
int64_t pconfig_int(pconfig *c, const char *key, int64_t def, int64_t lo, int64_t hi);
int pconfig_bool(pconfig *c, const char *key, int def);
const char *pconfig_string(pconfig *c, const char *key, const char *def);

/* A string that must be one of `choices` (NULL-terminated); returns its
 * index, or the index of `def` when absent. */
int pconfig_enum(pconfig *c, const char *key, const char *def, const char *const *choices);

/* An instance handle given as {"rlaif_handle": N}; 0 when absent. */
uint64_t pconfig_handle(pconfig *c, const char *key, int required);

/* Array of strings: returns the count (0 when absent), *out points to a
 * malloc'ed array of pointers into the tree (free() it; the strings live
 * until pconfig_close). */
size_t pconfig_strings(pconfig *c, const char *key, const char ***out);

/* Fails on any key not in `known` (NULL-terminated). */
void pconfig_no_other_keys(pconfig *c, const char *const *known);

/* Records an error of the plugin's own (e.g. a cross-key check). */
void pconfig_fail(pconfig *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
