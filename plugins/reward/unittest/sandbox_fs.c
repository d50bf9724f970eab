/*
 * sandbox_fs.c — the sandbox's throw-away working directories.
 *
 * Removal walks the tree with openat/unlinkat relative to directory
 * descriptors opened with O_NOFOLLOW, so a symbolic link planted by the
 * sandboxed command (say work/x -> /etc) is unlinked itself and nothing
 * outside the tree is ever opened or removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox.h"

int sbx_dir_create(char *base, size_t base_len, char *work, size_t work_len)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/') tmp = "/tmp";
    int n = snprintf(base, base_len, "%s/rlaif-sbx-XXXXXX", tmp);
    if (n < 0 || (size_t)n >= base_len) return ENAMETOOLONG;
    if (!mkdtemp(base)) {
        int e = errno;
        base[0] = '\0';
        return e;
    }
    n = snprintf(work, work_len, "%s/work", base);
    if (n < 0 || (size_t)n >= work_len || mkdir(work, 0700) != 0) {
        int e = n < 0 || (size_t)n >= work_len ? ENAMETOOLONG : errno;
        rmdir(base);
        base[0] = '\0';
        return e;
    }
    return 0;
}

static int remove_tree_at(int parent, const char *name, int depth);

/* Empties the directory open as `fd` (which this function closes).
 * Unlinking while reading is fine on Linux; one more pass catches an entry
 * a filesystem may have moved behind the cursor. */
static int remove_children(int fd, int depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return e;
    }
    int first = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t seen = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            seen++;
            int e = remove_tree_at(dirfd(d), de->d_name, depth + 1);
            if (e && !first) first = e;
        }
        if (seen == 0 || first) break;
        rewinddir(d);
    }
    closedir(d);
    return first;
}

static int remove_tree_at(int parent, const char *name, int depth)
{
    if (depth > 256) return ELOOP;  /* a tree this deep is an attack; leave it */
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : errno;
    if (!S_ISDIR(st.st_mode)) return unlinkat(parent, name, 0) == 0 || errno == ENOENT ? 0 : errno;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) {
        /* The command chmod-ed its own directory to 000: give it back. */
        if (fchmodat(parent, name, 0700, 0) == 0)
            fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) return errno;
    int e = remove_children(fd, depth);
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT && !e) e = errno;
    return e;
}

int sbx_dir_remove(const char *path)
{
    if (!path || path[0] != '/') return EINVAL;
    return remove_tree_at(AT_FDCWD, path, 0);
}
