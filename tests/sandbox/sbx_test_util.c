/* sbx_test_util.c — see sbx_test_util.h. */
#include "sbx_test_util.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

void sbx_test_run(const sbx_spec *spec, sbx_result *r)
{
    char err[512] = "";
    rlaif_status st = sbx_run(spec, r, err, sizeof err);
    ck_assert_msg(st == RLAIF_OK, "sbx_run: %s", err);
    struct stat sb;
    ck_assert_msg(lstat(r->workdir, &sb) != 0 && errno == ENOENT,
                  "working directory %s left behind", r->workdir);
}

void sbx_test_sh(const char *cmd, unsigned timeout_ms, int degraded, sbx_result *r)
{
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    sbx_spec spec = {.argv = argv,
                     .lim = {.timeout_ms = timeout_ms, .memory_bytes = 512u << 20,
                             .max_procs = 32},
                     .force_degraded = degraded};
    sbx_test_run(&spec, r);
}

/* Reads /proc/<pid>/stat: state and parent pid.  Returns 0 on success. */
static int proc_stat(const char *pid, char *state, long *ppid)
{
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');   /* the command name may hold spaces */
    if (!rp || sscanf(rp + 1, " %c %ld", state, ppid) != 2) return -1;
    return 0;
}

size_t sbx_test_count_children(void)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    long me = (long)getpid();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        char state;
        long ppid;
        if (proc_stat(de->d_name, &state, &ppid) == 0 && ppid == me) n++;
    }
    closedir(d);
    return n;
}

size_t sbx_test_count_marked(const char *marker)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        char path[300], buf[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0) continue;
        for (ssize_t i = 0; i < len; i++)
            if (buf[i] == '\0') buf[i] = ' ';
        buf[len] = '\0';
        char state;
        long ppid;
        if (strstr(buf, marker) && proc_stat(de->d_name, &state, &ppid) == 0 && state != 'Z')
            n++;
    }
    closedir(d);
    return n;
}

void sbx_test_tmpdir_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rlaif-sbx-test-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(2);
    }
    setenv("TMPDIR", tmpdir, 1);
}

int sbx_test_tmpdir_check_empty(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return 1;
    int left = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            fprintf(stderr, "left behind in %s: %s\n", tmpdir, de->d_name);
            left = 1;
        }
    closedir(d);
    if (!left) rmdir(tmpdir);
    return left;
}

void sbx_test_marker(char *buf, size_t len, const char *what)
{
    static unsigned counter;
    snprintf(buf, len, "rlaif-sbx-%s-%ld-%u", what, (long)getpid(), counter++);
}
