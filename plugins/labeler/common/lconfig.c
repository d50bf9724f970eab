/* lconfig.c — see lconfig.h. */
#include "lconfig.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

rlaif_status lab_cfg_constitution(const rlaif_host *host, const char *who, const cJSON *item,
                                  lab_constitution **out, char *err, size_t errlen)
{
    if (!item)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "%s: config key 'constitution' is required (a name, a path or an "
                            "object)",
                            who);
    if (cJSON_IsObject(item)) {
        char *text = cJSON_PrintUnformatted(item);
        if (!text) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", who);
        rlaif_status st = lab_constitution_parse(text, strlen(text), "config key 'constitution'",
                                                 out, err, errlen);
        free(text);
        return st;
    }
    if (!cJSON_IsString(item) || !item->valuestring[0])
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "%s: config key 'constitution': expected a name, a path or an object",
                            who);
    const char *s = item->valuestring;
    size_t n = strlen(s);
    if (strchr(s, '/') || (n > 5 && strcmp(s + n - 5, ".json") == 0))
        return lab_constitution_load(s, out, err, errlen);
    const char *dir = host ? host->data_dir : NULL;
    if (!dir)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "%s: constitution '%s': the host has no data directory; give a path "
                            "instead",
                            who, s);
    size_t len = strlen(dir) + n + 32;
    char *path = malloc(len);
    if (!path) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", who);
    snprintf(path, len, "%s/constitutions/%s.json", dir, s);
    rlaif_status st = lab_constitution_load(path, out, err, errlen);
    free(path);
    return st;
}

void lab_cfg_check_chat(pconfig *c, const char *chat)
{
    char msg[400];
    if (!c->failed && chat && lab_chat_check(chat, msg, sizeof msg))
        pconfig_fail(c, "config key 'chat_template': %s", msg);
}

void lab_cfg_mode_chat(pconfig *c, const lab_constitution *con, int mode_index, const char *chat,
                       lab_mode *mode, char **chat_out)
{
    *mode = mode_index == 0 ? LAB_MODE_INSTRUCT : mode_index == 1 ? LAB_MODE_PROBE : con->mode;
    if (!(*chat_out = strdup(chat ? chat : con->chat_template))) pconfig_fail(c, "out of memory");
}

void lab_cfg_clamp(pconfig *c, double *hi, const char *note)
{
    *hi = 1.0;
    const cJSON *j = pconfig_item(c, "clamp");
    if (!j || cJSON_IsNull(j) || c->failed) return;
    const cJSON *lo_j = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 0) : NULL;
    const cJSON *hi_j = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 1) : NULL;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 || !cJSON_IsNumber(lo_j) ||
        !cJSON_IsNumber(hi_j)) {
        pconfig_fail(c, "config key 'clamp': expected [lo, hi] (two numbers)");
        return;
    }
    double l = lo_j->valuedouble, h = hi_j->valuedouble;
    if (!(l >= 0 && l <= 0.5 && h >= 0.5 && h <= 1 && fabs(l + h - 1.0) < 1e-9)) {
        pconfig_fail(c,
                     "config key 'clamp': [%g, %g] must satisfy 0 <= lo <= 0.5 <= hi <= 1 and "
                     "lo + hi = 1%s",
                     l, h, note);
        return;
    }
    *hi = h;
}

void lab_cfg_principles(pconfig *c, const lab_constitution *con, const char *const *ids,
                        size_t n, size_t **subset, size_t *n_subset)
{
    if (!n || c->failed) return;
    *subset = malloc(n * sizeof **subset);
    if (!*subset) {
        pconfig_fail(c, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        long j = lab_constitution_find(con, ids[i]);
        if (j < 0) {
            pconfig_fail(c, "config key 'principles[%zu]': constitution '%s' has no principle '%s'",
                         i, con->name, ids[i]);
            return;
        }
        (*subset)[i] = (size_t)j;
    }
    *n_subset = n;
}

void lab_cfg_stops(pconfig *c, const char *const *stops, size_t n, char ***out, size_t *n_out)
{
    if (!c->failed && n > 15) pconfig_fail(c, "config key 'stop': at most 15 strings");
    if (c->failed || !n) return;
    *out = calloc(n, sizeof **out);
    for (size_t i = 0; *out && i < n; i++)
        if (((*out)[i] = strdup(stops[i]))) *n_out = i + 1;
    if (*n_out != n) pconfig_fail(c, "out of memory");
}

rlaif_status lab_cfg_check_probes(const char *who, const lab_constitution *con,
                                  const size_t *subset, size_t n_subset, char *err,
                                  size_t errlen)
{
    size_t n = subset ? n_subset : con->n_principles;
    for (size_t k = 0; k < n; k++) {
        size_t j = subset ? subset[k] : k;
        if (!lab_constitution_probe(con, j))
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "%s: mode \"probe\": principle '%s' of constitution '%s' has no "
                                "probe (and the constitution has no $.probe)",
                                who, con->principles[j].id, con->name);
    }
    return RLAIF_OK;
}

void lab_cfg_free(lab_constitution *con, char *chat, size_t *subset, char **stop, size_t n_stop)
{
    lab_constitution_free(con);
    free(chat);
    free(subset);
    for (size_t i = 0; i < n_stop; i++) free(stop[i]);
    free(stop);
}
