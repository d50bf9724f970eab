/*
 * atomic_file.h — write a file so that a crash leaves either the old file
 * or the complete new one, never a torn one.
 *
 * The data goes to "<path>.tmp.<pid>" in the same directory, is flushed
 * and fsync()ed, then rename()d over <path>, and the directory is fsync()ed
 * so the rename itself is durable.  On any error the temporary file is
 * removed and <path> is untouched.
 */
#ifndef RLAIF_TRAIN_ATOMIC_FILE_H
#define RLAIF_TRAIN_ATOMIC_FILE_H

#include <stdio.h>
#include <stddef.h>

typedef struct atomic_file {
    FILE *fp;         /* NULL when closed */
    char *path;       /* final name */
    char *tmp_path;   /* "<path>.tmp.<pid>" */
    int failed;       /* a write failed: commit refuses */
} atomic_file;

/* Opens the temporary file.  Returns 0, or -1 with err naming the file. */
int atomic_file_open(atomic_file *af, const char *path, char *err, size_t errlen);
/* Appends len bytes.  Returns 0 or -1 (and the commit will fail too). */
int atomic_file_write(atomic_file *af, const void *data, size_t len, char *err, size_t errlen);
/* Flushes, fsyncs, renames over the final name, fsyncs the directory and
 * closes.  Returns 0, or -1 with the temporary removed. */
int atomic_file_commit(atomic_file *af, char *err, size_t errlen);
/* Closes and removes the temporary (safe after commit, and on a closed
 * handle). */
void atomic_file_abort(atomic_file *af);

/* The whole sequence for a buffer already in memory. */
int atomic_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
