/*
 * datafile.h — finding and reading the reward plugins' data files.
 *
 * A plugin's default data (a lexicon, a names list) lives in the source
 * tree at plugins/reward/<plugin>/data/<file> and is installed as
 * <datadir>/rlaif/<plugin>/<file>.  The host's data_dir is the source tree
 * when running from a build and the install's data dir otherwise, so both
 * places are tried, in that order.
 */
#ifndef RLAIF_REWARD_DATAFILE_H
#define RLAIF_REWARD_DATAFILE_H

#include <stddef.h>

#include "rlaif/plugin.h"

/* Writes the path of the first existing candidate for `file` of `plugin`
 * into out[outlen].  RLAIF_E_IO with a message listing the places tried
 * when there is none (or no data_dir). */
rlaif_status rwc_data_path(const rlaif_host *host, const char *who, const char *plugin,
                           const char *file, char *out, size_t outlen, char *err,
                           size_t errlen);

/* Reads a whole file into a malloc'ed NUL-terminated buffer (*out, length
 * in *len).  RLAIF_E_IO naming the file on failure. */
rlaif_status rwc_read_file(const char *who, const char *path, char **out, size_t *len, char *err,
                           size_t errlen);

/* Iterates over the lines of a buffer: returns the next line (without its
 * "\n" or "\r\n", NUL-terminated in place) and advances *cursor, or NULL at
 * the end.  *lineno counts from 1. */
char *rwc_next_line(char **cursor, size_t *lineno);

#endif
