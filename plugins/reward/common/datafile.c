/* datafile.c — see datafile.h. */
#include "datafile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

rlaif_status rwc_data_path(const rlaif_host *host, const char *who, const char *plugin,
                           const char *file, char *out, size_t outlen, char *err,
                           size_t errlen)
{
    const char *dir = host ? host->data_dir : NULL;
    if (!dir || !*dir)
        return rlaif_errorf(err, errlen, RLAIF_E_IO,
                            "%s: the host has no data_dir to find '%s' in; give its path in "
                            "the config",
                            who, file);
    char tree[1024], installed[1024];
    snprintf(tree, sizeof tree, "%s/plugins/reward/%s/data/%s", dir, plugin, file);
    snprintf(installed, sizeof installed, "%s/%s/%s", dir, plugin, file);
    const char *found = is_regular_file(tree) ? tree : is_regular_file(installed) ? installed : NULL;
    if (!found)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: data file '%s' not found (tried %s and %s)",
                            who, file, tree, installed);
    if (strlen(found) + 1 > outlen)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: data path too long: %s", who, found);
    memcpy(out, found, strlen(found) + 1);
    return RLAIF_OK;
}

rlaif_status rwc_read_file(const char *who, const char *path, char **out, size_t *len, char *err,
                           size_t errlen)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: cannot open '%s': %s", who, path,
                                strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *bigger = realloc(buf, cap * 2 + 1);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory reading '%s'",
                                  who, path);
    if (failed) {
        free(buf);
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: error reading '%s'", who, path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return RLAIF_OK;
}

char *rwc_next_line(char **cursor, size_t *lineno)
{
    char *s = *cursor;
    if (!s || !*s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = 0;
        *cursor = nl + 1;
    } else {
        *cursor = s + strlen(s);
    }
    size_t n = strlen(s);
    if (n && s[n - 1] == '\r') s[n - 1] = 0;
    ++*lineno;
    return s;
}
