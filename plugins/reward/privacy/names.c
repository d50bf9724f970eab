/* names.c — loading the names gazetteer; see names.h. */
#include "names.h"

#include <stdlib.h>
#include <string.h>

#include "datafile.h"
#include "scan.h"

/* Parses one data line; returns 0 and fills name/flags, or -1 with why[]. */
static int parse_name_line(char *line, const char **name, uint32_t *flags, char *why,
                           size_t whylen)
{
    char *f[4] = {line, NULL, NULL, NULL};
    int n = 1;
    for (char *p = line; *p && n < 4; p++)
        if (*p == '\t') {
            *p = 0;
            f[n++] = p + 1;
        }
    if (n < 2 || n > 3) {
        snprintf(why, whylen, "expected kind<TAB>Name[<TAB>flag], found %d field%s", n,
                 n == 1 ? "" : "s");
        return -1;
    }
    int first = strcmp(f[0], "first") == 0, last = strcmp(f[0], "last") == 0;
    if (!first && !last) {
        snprintf(why, whylen, "kind '%s' is not 'first' or 'last'", f[0]);
        return -1;
    }
    if (!f[1][0] || strchr(f[1], ' ')) {
        snprintf(why, whylen, "name '%s' must be one word", f[1]);
        return -1;
    }
    uint32_t fl = first ? NAME_FIRST : NAME_LAST;
    if (n == 3) {
        if (strcmp(f[2], "word") == 0) fl |= first ? NAME_WORD : NAME_WORD_LAST;
        else if (strcmp(f[2], "place") == 0) fl |= NAME_PLACE;
        else {
            snprintf(why, whylen, "flag '%s' of '%s' is not 'word' or 'place'", f[2], f[1]);
            return -1;
        }
    }
    *name = f[1];
    *flags = fl;
    return 0;
}

rlaif_status names_load(rwc_wordmap *map, const char *path, char *err, size_t errlen)
{
    char *text;
    size_t size;
    rlaif_status st = rwc_read_file("reward/privacy", path, &text, &size, err, errlen);
    if (st) return st;
    char *cursor = text, *line;
    size_t lineno = 0, entries = 0;
    while ((line = rwc_next_line(&cursor, &lineno))) {
        const char *p = line;
        while (*p == ' ') p++;
        if (!*p || *p == '#') continue;
        const char *name;
        uint32_t flags;
        char why[256];
        if (parse_name_line(line, &name, &flags, why, sizeof why)) {
            st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "reward/privacy: names %s:%zu: %s",
                              path, lineno, why);
            break;
        }
        if (rwc_wordmap_put(map, name, strlen(name), 0, flags)) {
            st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "reward/privacy: out of memory");
            break;
        }
        entries++;
    }
    free(text);
    if (!st && entries == 0)
        st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "reward/privacy: names %s: no entries",
                          path);
    return st;
}
