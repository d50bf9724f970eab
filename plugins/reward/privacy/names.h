/*
 * names.h — the privacy reward's gazetteer of given names and surnames.
 *
 * File format (one entry a line, '#' comments):
 *   kind<TAB>Name[<TAB>flag]
 *   kind  first | last
 *   flag  word   also an everyday word or month (May, Bill, Baker)
 *         place  also a place (Florence, Sydney)
 * Names are matched case-sensitively in their capitalised form.
 */
#ifndef RLAIF_PRIVACY_NAMES_H
#define RLAIF_PRIVACY_NAMES_H

#include <stddef.h>

#include "rlaif/plugin.h"
#include "wordmap.h"

/* Adds the entries of `path` to `map` (flags NAME_* of scan.h).  A bad line
 * fails with RLAIF_E_FORMAT and "path:line: ...". */
rlaif_status names_load(rwc_wordmap *map, const char *path, char *err, size_t errlen);

#endif
