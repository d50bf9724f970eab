/*
 * lconfig.h — the config keys labeler/llm and labeler/http read alike:
 * the constitution (a path, a name under the host's data directory, or an
 * object), the symmetric clamp, the principle subset, the stop strings and
 * the probe check of probe mode.  Both plugins must accept and refuse the
 * same values with the same messages, so they share this code.
 *
 * Messages start with `who` ("labeler/llm", "labeler/http"), or with the
 * pconfig's own `who` for the readers that take a pconfig.
 */
#ifndef LAB_LCONFIG_H
#define LAB_LCONFIG_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "constitution.h"
#include "pconfig.h"
#include "rlaif/plugin.h"

/* Loads the constitution named by config item `item` (NULL when absent:
 * an error, the key is required): an object is the constitution itself;
 * a string with '/' or ending in ".json" is a path; another string is a
 * name looked up as <host->data_dir>/constitutions/<name>.json. */
rlaif_status lab_cfg_constitution(const rlaif_host *host, const char *who, const cJSON *item,
                                  lab_constitution **out, char *err, size_t errlen);

/* Key "chat_template" when given: a template lab_chat_check accepts. */
void lab_cfg_check_chat(pconfig *c, const char *chat);

/* With the constitution loaded: the mode (mode_index 0 "instruct", 1
 * "probe", else the constitution's) and a malloc'ed copy of the chat
 * template (`chat`, else the constitution's). */
void lab_cfg_mode_chat(pconfig *c, const lab_constitution *con, int mode_index, const char *chat,
                       lab_mode *mode, char **chat_out);

/* Key "clamp": [lo, hi] symmetric about 1/2 (so that clamping keeps
 * p(a≻b) + p(b≻a) = 1); *hi = 1 (no clamping) when absent or null.  `note`
 * ends the range message (the plugin's own wording, may be ""). */
void lab_cfg_clamp(pconfig *c, double *hi, const char *note);

/* Key "principles": ids[0..n) must each name a principle of `con`;
 * *subset becomes their malloc'ed indices (left NULL when n is 0 or c has
 * failed). */
void lab_cfg_principles(pconfig *c, const lab_constitution *con, const char *const *ids,
                        size_t n, size_t **subset, size_t *n_subset);

/* Key "stop": at most 15 strings, copied into a malloc'ed array of
 * malloc'ed strings (*out, *n_out; nothing when c has failed). */
void lab_cfg_stops(pconfig *c, const char *const *stops, size_t n, char ***out, size_t *n_out);

/* Mode "probe" needs a probe for every principle that may be drawn
 * (subset NULL: all of them). */
rlaif_status lab_cfg_check_probes(const char *who, const lab_constitution *con,
                                  const size_t *subset, size_t n_subset, char *err,
                                  size_t errlen);

/* Frees what the readers above allocated (any of them may be NULL). */
void lab_cfg_free(lab_constitution *con, char *chat, size_t *subset, char **stop, size_t n_stop);

#endif
