/*
 * atomic_file.c — temp file + fsync + rename + directory fsync.
 */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int atomic_file_open(atomic_file *af, const char *path, char *err, size_t errlen)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + 32;
    af->path = str_dup(path);
    af->tmp_path = malloc(n);
    if (!af->path || !af->tmp_path) {
        free(af->tmp_path); /* nothing created yet: free, do not unlink */
        af->tmp_path = NULL;
        atomic_file_abort(af);
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(af->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) {
        set_err(err, errlen, "%s: cannot create: %s", af->tmp_path, strerror(errno));
        atomic_file_abort(af);
        return -1;
    }
    return 0;
}

int atomic_file_write(atomic_file *af, const void *data, size_t len, char *err, size_t errlen)
{
    if (!af->fp || af->failed) {
        set_err(err, errlen, "%s: write on a failed or closed file", af->path ? af->path : "?");
        return -1;
    }
    if (len && fwrite(data, 1, len, af->fp) != len) {
        af->failed = 1;
        set_err(err, errlen, "%s: write failed: %s", af->tmp_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* fsync the directory holding path so the rename survives a power cut. */
static int fsync_parent(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : str_dup(".");
    if (!dir) {
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = 0;
    if (fd < 0 || fsync(fd) != 0) {
        set_err(err, errlen, "%s: cannot sync directory: %s", dir, strerror(errno));
        rc = -1;
    }
    if (fd >= 0) close(fd);
    free(dir);
    return rc;
}

int atomic_file_commit(atomic_file *af, char *err, size_t errlen)
{
    if (!af->fp || af->failed) {
        set_err(err, errlen, "%s: not written completely; nothing replaced",
                af->path ? af->path : "?");
        atomic_file_abort(af);
        return -1;
    }
    int ok = fflush(af->fp) == 0 && fsync(fileno(af->fp)) == 0;
    int saved = errno;
    int closed = fclose(af->fp) == 0;
    af->fp = NULL;
    if (!ok || !closed) {
        set_err(err, errlen, "%s: flush failed: %s", af->tmp_path, strerror(ok ? errno : saved));
        atomic_file_abort(af);
        return -1;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        set_err(err, errlen, "%s: cannot rename into place: %s", af->path, strerror(errno));
        atomic_file_abort(af);
        return -1;
    }
    int rc = fsync_parent(af->path, err, errlen);
    free(af->tmp_path); /* renamed away: nothing left to remove */
    af->tmp_path = NULL;
    atomic_file_abort(af);
    return rc;
}

void atomic_file_abort(atomic_file *af)
{
    if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
    }
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    af->tmp_path = af->path = NULL;
}

int atomic_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    atomic_file af;
    if (atomic_file_open(&af, path, err, errlen) != 0) return -1;
    if (atomic_file_write(&af, data, len, err, errlen) != 0) {
        atomic_file_abort(&af);
        return -1;
    }
    return atomic_file_commit(&af, err, errlen);
}
