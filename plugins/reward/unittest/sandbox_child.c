/*
 * sandbox_child.c — what runs between clone() and execve().
 *
 * The host may be multithreaded, so after the clone nothing here may take a
 * lock another thread could have held: no malloc, no stdio, no glibc fork()
 * (its atfork handlers lock).  Every string and array was prepared by the
 * parent in a sbx_plan; the code below is system calls and byte loops.
 * Failures are reported to the parent as a (stage, errno) record on the
 * status pipe and end the child with _exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox_internal.h"

/* mount_setattr(2) (Linux 5.12), called raw: <linux/mount.h> clashes with
 * <sys/mount.h> on glibc 2.36, so the few constants are spelled here. */
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#define SBX_MOUNT_ATTR_RDONLY 0x00000001ULL
#define SBX_MOUNT_ATTR_NOSUID 0x00000002ULL
#define SBX_AT_RECURSIVE 0x8000

struct sbx_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* ===== Small async-signal-safe helpers ================================== */

/* Credentials change through raw system calls: glibc's setresuid() in a
 * process it believes multithreaded signals every other thread to follow
 * (setxid broadcast) and waits for them -- after a raw clone those threads
 * do not exist and the wait never ends. */
static int raw_setgroups0(void) { return (int)syscall(SYS_setgroups, 0, NULL); }
static int raw_setresgid(gid_t g) { return (int)syscall(SYS_setresgid, g, g, g); }
static int raw_setresuid(uid_t u) { return (int)syscall(SYS_setresuid, u, u, u); }

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        len -= (size_t)w;
    }
}

static void report(int fd, int32_t tag, int32_t a, int32_t b)
{
    int32_t rec[3] = {tag, a, b};
    write_all(fd, rec, sizeof rec);
}

static _Noreturn void fail(const sbx_plan *p, int stage)
{
    if (p->status_fd >= 0) report(p->status_fd, SBX_REC_FAIL, stage, errno);
    _exit(SBX_CHILD_SETUP_FAILED);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Moves the parent's descriptors to fixed numbers 0..6 (SBX_CFD_*), then
 * closes every other descriptor the clone inherited, including those other
 * host threads opened meanwhile. */
static void arrange_fds(const sbx_plan *p, int with_ns)
{
    int src[SBX_CFD_COUNT] = {p->fd_stdin, p->fd_out, p->fd_err, p->fd_secret, p->fd_result,
                              p->fd_status, p->fd_go};
    int tmp[SBX_CFD_COUNT];
    int n = with_ns ? SBX_CFD_COUNT : SBX_CFD_STATUS;
    /* First out of the way (above any target), then into place: dup2 onto
     * a target that is another source's number would lose that source. */
    for (int i = 0; i < n; i++) {
        tmp[i] = fcntl(src[i], F_DUPFD, 100);
        if (tmp[i] < 0) _exit(SBX_CHILD_SETUP_FAILED);
    }
    for (int i = 0; i < n; i++)
        if (dup2(tmp[i], i) < 0) _exit(SBX_CHILD_SETUP_FAILED);
    if (syscall(SYS_close_range, (unsigned)n, ~0u, 0) != 0)
        for (int fd = n; fd < 65536; fd++) close(fd);
}

/* Signal dispositions set to "ignore" and the blocked mask survive exec;
 * the host's must not leak into the command.  Raw system calls: a
 * sanitizer's sigaction interceptor is not ours to call here. */
static void reset_signals(void)
{
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } dfl = {0};   /* SIG_DFL is 0 */
    for (int sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
}

static void set_limits(const sbx_plan *p)
{
    for (size_t i = 0; i < p->n_limits; i++) {
        const sbx_limit *l = &p->limits[i];
        if (setrlimit(l->resource, &l->lim) == 0) continue;
        /* valgrind refuses to move the hard limit of open files (it keeps
         * descriptors of its own above it): lower the soft limit only. */
        struct rlimit cur;
        if (l->resource == RLIMIT_NOFILE && errno == EPERM && getrlimit(RLIMIT_NOFILE, &cur) == 0) {
            cur.rlim_cur = l->lim.rlim_cur;
            if (setrlimit(RLIMIT_NOFILE, &cur) == 0) continue;
        }
        fail(p, SBX_STAGE_RLIMIT);
    }
}

/* ===== The command itself =============================================== */

/* Runs in the process that becomes the command: limits, no new privileges,
 * only descriptors 0..4, then exec.  Returns only on failure. */
/* Gives up every capability (those of the namespace's owner included)
 * before exec: the exec would drop them anyway for a non-root uid, but the
 * kernel decides whether the new program is readable -- and so whether it
 * starts dumpable -- with the credentials of before the exec. */
static int drop_capabilities(void)
{
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, 0};   /* _LINUX_CAPABILITY_VERSION_3 */
    struct {
        uint32_t effective, permitted, inheritable;
    } data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &hdr, data);
}

static _Noreturn void exec_command(const sbx_plan *p)
{
    set_limits(p);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(p, SBX_STAGE_NNP);
    if (drop_capabilities() != 0) fail(p, SBX_STAGE_CAPS);
    reset_signals();
    if (syscall(SYS_close_range, (unsigned)SBX_CFD_STATUS, ~0u, 0) != 0)
        for (int fd = SBX_CFD_STATUS; fd < 65536; fd++) close(fd);
    execve(p->exec_path, (char *const *)p->argv, (char *const *)p->envp);
    /* The status pipe is closed by now; the exit code carries the news. */
    _exit(SBX_CHILD_EXEC_FAILED);
}

/* ===== Full mode: PID 1 of the new namespaces ============================ */

/* Waits until the user namespace has its uid and gid maps. */
static void await_maps(const sbx_plan *p)
{
    if (p->self_maps) {
        /* Unprivileged: a process may map only its own ids, and only after
         * giving up setgroups. */
        if (write_file("/proc/self/setgroups", "deny") != 0 && errno != ENOENT)
            fail(p, SBX_STAGE_MAPS);
        if (write_file("/proc/self/uid_map", p->uid_map) != 0) fail(p, SBX_STAGE_MAPS);
        if (write_file("/proc/self/gid_map", p->gid_map) != 0) fail(p, SBX_STAGE_MAPS);
        return;
    }
    /* Privileged: the parent writes the maps, then sends one byte. */
    char go = 0;
    ssize_t r;
    do r = read(SBX_CFD_GO, &go, 1);
    while (r < 0 && errno == EINTR);
    if (r != 1) _exit(SBX_CHILD_SETUP_FAILED);   /* parent gone or gave up */
}

/* Becomes the mapped uid.  Capabilities in the new namespace stay (the old
 * uid was not the namespace's root, so setresuid does not clear them), and
 * files created on the private tmpfs get an owner that exists there. */
static void become_sandbox_user(const sbx_plan *p)
{
    raw_setgroups0();   /* fails harmlessly where setgroups is denied */
    if (raw_setresgid(SBX_INSIDE_ID) != 0) fail(p, SBX_STAGE_SETID);
    if (raw_setresuid(SBX_INSIDE_ID) != 0) fail(p, SBX_STAGE_SETID);
}

/* Copies the input files from the host working directory (open as srcfd)
 * into the private /tmp/work. */
static void copy_inputs(const sbx_plan *p, int srcfd)
{
    char buf[4096];
    for (size_t i = 0; i < p->n_files; i++) {
        int in = openat(srcfd, p->file_names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0) fail(p, SBX_STAGE_COPY);
        int out = openat(AT_FDCWD, p->file_paths_inside[i],
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (out < 0) fail(p, SBX_STAGE_COPY);
        for (;;) {
            ssize_t r = read(in, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) fail(p, SBX_STAGE_COPY);
            if (r == 0) break;
            write_all(out, buf, (size_t)r);
        }
        close(in);
        close(out);
    }
}

/* spec.nondumpable in full mode: an execute-only copy of argv[0] on the
 * private tmpfs.  Its owner (the sandbox uid) may execute but not read it,
 * so the kernel starts the program non-dumpable. */
static void make_exec_copy(const sbx_plan *p)
{
    char buf[8192];
    int in = open(p->argv[0], O_RDONLY | O_CLOEXEC);
    if (in < 0) fail(p, SBX_STAGE_EXEC_COPY);
    int out = open(SBX_EXEC_COPY_INSIDE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   0700);
    if (out < 0) fail(p, SBX_STAGE_EXEC_COPY);
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) fail(p, SBX_STAGE_EXEC_COPY);
        if (r == 0) break;
        write_all(out, buf, (size_t)r);
    }
    if (fchmod(out, 0100) != 0) fail(p, SBX_STAGE_EXEC_COPY);
    close(in);
    close(out);
}

/* Mount flags of one mountinfo line's per-mount options ("rw,nosuid,...")
 * that a remount must repeat: the kernel refuses to clear a flag that the
 * namespace inherited locked. */
static unsigned long mount_flags_of(const char *opt, const char *end)
{
    unsigned long fl = 0;
    while (opt < end) {
        const char *comma = opt;
        while (comma < end && *comma != ',') comma++;
        size_t n = (size_t)(comma - opt);
        if (n == 6 && memcmp(opt, "nosuid", 6) == 0) fl |= MS_NOSUID;
        if (n == 5 && memcmp(opt, "nodev", 5) == 0) fl |= MS_NODEV;
        if (n == 6 && memcmp(opt, "noexec", 6) == 0) fl |= MS_NOEXEC;
        if (n == 7 && memcmp(opt, "noatime", 7) == 0) fl |= MS_NOATIME;
        if (n == 10 && memcmp(opt, "nodiratime", 10) == 0) fl |= MS_NODIRATIME;
        if (n == 8 && memcmp(opt, "relatime", 8) == 0) fl |= MS_RELATIME;
        opt = comma + 1;
    }
    return fl;
}

/* Finds field `field` (0-based, space-separated) of the mountinfo line
 * [line, end).  Returns 0 and its span, or -1. */
static int field_span(const char *line, const char *end, int field, const char **s,
                      const char **e)
{
    const char *c = line;
    for (int f = 0; f < field; f++) {
        while (c < end && *c != ' ') c++;
        if (c >= end) return -1;
        c++;
    }
    *s = c;
    while (c < end && *c != ' ') c++;
    *e = c;
    return 0;
}

/* Copies a mount point, undoing mountinfo's octal escapes (\040 = space). */
static int unescape_path(const char *s, const char *e, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *c = s; c < e; c++) {
        char ch = *c;
        if (ch == '\\' && e - c >= 4) {
            ch = (char)((c[1] - '0') * 64 + (c[2] - '0') * 8 + (c[3] - '0'));
            c += 3;
        }
        if (n + 1 >= cap) return -1;
        out[n++] = ch;
    }
    out[n] = '\0';
    return 0;
}

/* The read-only root without mount_setattr (kernels before 5.12, valgrind):
 * every mount of the namespace remounted read-only one by one, keeping its
 * other flags.  Returns nonzero when "/" itself became read-only. */
static int remount_all_readonly(void)
{
    char info[65536];
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, info + len, sizeof info - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    int root_ok = 0;
    char path[1024];
    const char *end = info + len;
    for (const char *line = info; line < end;) {
        const char *nl = line;
        while (nl < end && *nl != '\n') nl++;
        const char *ps, *pe, *os, *oe;
        if (field_span(line, nl, 4, &ps, &pe) == 0 && field_span(line, nl, 5, &os, &oe) == 0 &&
            unescape_path(ps, pe, path, sizeof path) == 0) {
            unsigned long fl = mount_flags_of(os, oe);
            int r = mount("none", path, "none", MS_REMOUNT | MS_BIND | MS_RDONLY | fl, NULL);
            if (r == 0 && path[0] == '/' && path[1] == '\0') root_ok = 1;
        }
        line = nl + 1;
    }
    return root_ok;
}

/* The filesystem view: everything read-only, a private size-capped tmpfs
 * on /tmp holding the working directory, a /proc of the new PID
 * namespace.  Returns SBX_FS_* bits for what worked. */
static int32_t build_filesystem(const sbx_plan *p, int srcfd)
{
    int32_t ok = 0;
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) fail(p, SBX_STAGE_MOUNT);

    struct sbx_mount_attr ro = {.attr_set = SBX_MOUNT_ATTR_RDONLY | SBX_MOUNT_ATTR_NOSUID};
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", SBX_AT_RECURSIVE, &ro, sizeof ro) == 0 ||
        remount_all_readonly())
        ok |= SBX_FS_RO_ROOT;

    if (mount("sbxtmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, p->tmpfs_opts) != 0)
        fail(p, SBX_STAGE_TMPFS);
    ok |= SBX_FS_TMP;
    if (mkdir(SBX_WORKDIR_INSIDE, 0755) != 0) fail(p, SBX_STAGE_TMPFS);
    copy_inputs(p, srcfd);
    close(srcfd);
    if (p->fifo_inside && mknod(p->fifo_inside, S_IFIFO | 0600, 0) != 0) fail(p, SBX_STAGE_COPY);

    /* A procfs of our own PID namespace (refused where the host's /proc
     * is partly masked, as in some containers: then the host's stays). */
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
        ok |= SBX_FS_PROC;
    if (chdir(SBX_WORKDIR_INSIDE) != 0) fail(p, SBX_STAGE_TMPFS);
    return ok;
}

/* Waits for the command while reaping every orphan the namespace hands to
 * PID 1; returns the command's wait status. */
static int reap_until(pid_t cmd)
{
    for (;;) {
        int st = 0;
        pid_t w = waitpid(-1, &st, 0);
        if (w == cmd) return st;
        if (w < 0 && errno != EINTR) return 0;
    }
}

_Noreturn void sbx_child_full(const sbx_plan *p)
{
    /* If the host dies, so does the namespace. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    arrange_fds(p, 1);
    await_maps(p);
    /* Opened before giving up the host uid: the base directory is 0700. */
    int srcfd = open(p->workdir_host, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (srcfd < 0) fail(p, SBX_STAGE_MOUNT);
    become_sandbox_user(p);
    int32_t fs = build_filesystem(p, srcfd);
    if (p->copy_exec) make_exec_copy(p);
    static const char host[] = "sandbox";
    sethostname(host, sizeof host - 1);
    report(SBX_CFD_STATUS, SBX_REC_SETUP, fs, 0);

    pid_t cmd = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0);
    if (cmd < 0) fail(p, SBX_STAGE_FORK);
    if (cmd == 0) exec_command(p);

    for (int fd = 0; fd < SBX_CFD_STATUS; fd++) close(fd);
    close(SBX_CFD_GO);
    int st = reap_until(cmd);
    report(SBX_CFD_STATUS, SBX_REC_EXIT, st, 0);
    _exit(0);   /* PID 1 leaving kills whatever is left in the namespace */
}

/* ===== Degraded mode: a process group ==================================== */

_Noreturn void sbx_child_degraded(const sbx_plan *p)
{
    setsid();
    arrange_fds(p, 0);
    if (chdir(p->workdir_host) != 0) _exit(SBX_CHILD_SETUP_FAILED);
    if (p->drop_uid) {
        /* Started as root: become an unprivileged uid, so that RLIMIT_NPROC
         * applies and the filesystem's permissions protect the host. */
        raw_setgroups0();
        if (raw_setresgid(p->outside_id) != 0 || raw_setresuid(p->outside_id) != 0)
            _exit(SBX_CHILD_SETUP_FAILED);
    }
    exec_command(p);
}
