/*
 * sandbox.c — the parent's side of a sandboxed run: prepare the working
 * directory and the plan, clone, hand over the uid maps, then watch the
 * pipes and the clock until the child is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox_internal.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define NS_FLAGS                                                                         \
    (CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC |          \
     CLONE_NEWUTS)

/* Set once full mode failed; later runs go straight to degraded mode. */
static atomic_int ns_broken;

/* Picks the next per-run uid of degraded mode. */
static atomic_uint degraded_uid_next;

int sbx_namespaces_unavailable(void) { return atomic_load(&ns_broken); }

int sbx_nondumpable_supported(void)
{
    /* valgrind reads a program before it lets it be executed, so an
     * execute-only copy cannot run under it (its preload library marks it). */
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) return 0;
    /* 0 (no dumps) and 2 (root-only dumps) both leave the process
     * non-dumpable as ptrace and /proc see it; 1 keeps it dumpable. */
    int fd = open("/proc/sys/fs/suid_dumpable", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char c = 0;
    ssize_t n = read(fd, &c, 1);
    close(fd);
    return n == 1 && (c == '0' || c == '2');
}

/* spec.nondumpable in degraded mode: the execute-only copy in the host's
 * working directory, owned by the uid the command will run as. */
static int host_exec_copy(const char *src, const char *work, char *dst, size_t dlen, int chown_to,
                          uid_t uid)
{
    snprintf(dst, dlen, "%s/%s", work, SBX_EXEC_COPY_NAME);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
    if (out < 0) {
        int e = errno;
        close(in);
        return e;
    }
    char buf[65536];
    int e = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            e = r < 0 ? errno : 0;
            break;
        }
        if (write(out, buf, (size_t)r) != r) {
            e = errno ? errno : EIO;
            break;
        }
    }
    if (!e && chown_to && fchown(out, uid, uid) != 0) e = errno;
    if (!e && fchmod(out, 0100) != 0) e = errno;
    close(in);
    if (close(out) != 0 && !e) e = errno;
    return e;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ===== Results ========================================================== */

void sbx_result_init(sbx_result *r) { memset(r, 0, sizeof *r); }

void sbx_result_free(sbx_result *r)
{
    free(r->out.data);
    free(r->err.data);
    free(r->res.data);
    memset(r, 0, sizeof *r);
}

/* Empties a buffer for a new run, with room for `cap` bytes plus a NUL. */
static int buf_reset(sbx_buf *b, size_t cap)
{
    if (b->alloc < cap + 1) {
        char *p = realloc(b->data, cap + 1);
        if (!p) return -1;
        b->data = p;
        b->alloc = cap + 1;
    }
    b->len = 0;
    b->total = 0;
    b->truncated = 0;
    b->data[0] = '\0';
    return 0;
}

/* Reads what `fd` has now into `b` (kept up to cap, the rest counted and
 * dropped).  Returns 1 at EOF, 0 otherwise. */
static int buf_drain(sbx_buf *b, size_t cap, int fd)
{
    char scratch[65536];
    for (int rounds = 0; rounds < 64; rounds++) {
        size_t room = cap - b->len;
        char *dst = room ? b->data + b->len : scratch;
        size_t want = room ? room : sizeof scratch;
        ssize_t n = read(fd, dst, want);
        if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : 1;
        if (n == 0) return 1;
        b->total += (uint64_t)n;
        if (room) {
            b->len += (size_t)n;
            b->data[b->len] = '\0';
        } else {
            b->truncated = 1;
        }
    }
    return 0;
}

/* ===== Preparing ======================================================== */

static void limits_resolve(const sbx_limits *in, sbx_limits *out)
{
    *out = *in;
    if (!out->timeout_ms) out->timeout_ms = 10000;
    if (!out->cpu_s) out->cpu_s = out->timeout_ms / 1000 + 1;
    if (!out->max_procs) out->max_procs = 64;
    if (!out->max_file_bytes) out->max_file_bytes = 16u << 20;
    if (!out->max_open_files) out->max_open_files = 64;
    if (!out->max_output) out->max_output = 64u << 10;
    if (!out->max_result) out->max_result = out->max_output;
}

static void plan_limit(sbx_plan *p, int res, rlim_t soft, rlim_t hard)
{
    p->limits[p->n_limits].resource = res;
    p->limits[p->n_limits].lim.rlim_cur = soft;
    p->limits[p->n_limits].lim.rlim_max = hard;
    p->n_limits++;
}

/* The rlimits of the command.  RLIMIT_NPROC counts per user and user
 * namespace: in full mode the namespace is new, so the count is the
 * sandbox's own; in degraded mode it is only meaningful for a dedicated uid
 * (root dropping to nobody), otherwise it would count every process of the
 * host's user and is left alone. */
static void plan_limits(sbx_plan *p, const sbx_limits *l, int full)
{
    p->n_limits = 0;
    plan_limit(p, RLIMIT_CPU, l->cpu_s, l->cpu_s + 1);
    if (l->memory_bytes) plan_limit(p, RLIMIT_AS, l->memory_bytes, l->memory_bytes);
    plan_limit(p, RLIMIT_FSIZE, l->max_file_bytes, l->max_file_bytes);
    plan_limit(p, RLIMIT_NOFILE, l->max_open_files, l->max_open_files);
    plan_limit(p, RLIMIT_CORE, 0, 0);
    if (full || p->drop_uid) plan_limit(p, RLIMIT_NPROC, l->max_procs, l->max_procs);
}

static int file_name_ok(const char *name)
{
    return name && name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..") &&
           strlen(name) < 64;
}

static int write_input(const char *dir, const sbx_file *f)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, f->name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
    if (fd < 0) return errno;
    const char *p = f->data;
    size_t left = f->len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            return e;
        }
        p += w;
        left -= (size_t)w;
    }
    return close(fd) == 0 ? 0 : errno;
}

/* Pipes and descriptors of one run: parent ends [0], child ends [1]. */
typedef struct run_fds {
    int out[2], err[2], res[2], secret[2], status[2], go[2];
    int devnull;
} run_fds;

static void fd_close(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static void fds_close_all(run_fds *f)
{
    int *all[] = {&f->out[0], &f->out[1], &f->err[0], &f->err[1], &f->res[0], &f->res[1],
                  &f->secret[0], &f->secret[1], &f->status[0], &f->status[1], &f->go[0],
                  &f->go[1], &f->devnull};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) fd_close(all[i]);
}

/* pipe2 giving {parent end, child end}; `child_reads` says which is which. */
static int make_pipe(int pair[2], int child_reads)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    pair[0] = child_reads ? p[1] : p[0];
    pair[1] = child_reads ? p[0] : p[1];
    return 0;
}

static int fds_open(run_fds *f, const void *secret, size_t secret_len, uid_t owner)
{
    if (make_pipe(f->out, 0) || make_pipe(f->err, 0) || make_pipe(f->res, 0) ||
        make_pipe(f->secret, 1) || make_pipe(f->status, 0) || make_pipe(f->go, 1))
        return -1;
    /* Interpreters without descriptor-level I/O (Lua) reach fds 3 and 4 by
     * reopening /dev/fd/N, which checks the pipe's owner: give the pipes to
     * the uid the command runs as (already ours when not root). */
    if (geteuid() == 0 &&
        (fchown(f->secret[1], owner, owner) != 0 || fchown(f->res[1], owner, owner) != 0))
        return -1;
    f->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (f->devnull < 0) return -1;
    /* The secret fits the pipe's buffer: write it now, close, and the child
     * reads it then EOF. */
    if (secret_len && write(f->secret[0], secret, secret_len) != (ssize_t)secret_len) return -1;
    fd_close(&f->secret[0]);
    int fl[] = {f->out[0], f->err[0], f->res[0], f->status[0]};
    for (size_t i = 0; i < 4; i++) fcntl(fl[i], F_SETFL, fcntl(fl[i], F_GETFL) | O_NONBLOCK);
    return 0;
}

/* ===== Watching ========================================================= */

typedef struct watch {
    pid_t pid;
    int pidfd;
    int full;
    double deadline;
    int reaped;
    int wait_status;
    int timed_out;
    int32_t recs[8][3];   /* status records from PID 1 */
    size_t n_recs;
    size_t rec_bytes;
} watch;

static void kill_sandbox(const watch *w)
{
    /* Full mode: killing PID 1 tears down the PID namespace.  Degraded:
     * the process group (a process that left it is out of reach). */
    if (w->full) kill(w->pid, SIGKILL);
    else kill(-w->pid, SIGKILL), kill(w->pid, SIGKILL);
}

/* Degraded mode: what the group left behind.  Killed processes take a
 * moment to leave the group, and a fork bomb forks meanwhile, so repeat
 * until the group is gone (bounded). */
static void kill_group_until_empty(pid_t pgid)
{
    for (int i = 0; i < 100; i++) {
        if (kill(-pgid, SIGKILL) != 0 && errno == ESRCH) return;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void try_reap(watch *w, int block)
{
    if (w->reaped) return;
    int st = 0;
    pid_t r;
    do r = waitpid(w->pid, &st, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == w->pid || (r < 0 && errno == ECHILD)) {
        w->reaped = 1;
        w->wait_status = r == w->pid ? st : 0;
        if (!w->full) kill_group_until_empty(w->pid);
    }
}

static void read_status(watch *w, int fd)
{
    char *base = (char *)w->recs;
    size_t cap = sizeof w->recs;
    while (w->rec_bytes < cap) {
        ssize_t n = read(fd, base + w->rec_bytes, cap - w->rec_bytes);
        if (n <= 0) break;
        w->rec_bytes += (size_t)n;
    }
    w->n_recs = w->rec_bytes / sizeof w->recs[0];
}

/* Pumps the pipes until the child is reaped and the pipes are at EOF (or
 * a short grace period after the reap: in degraded mode an escaped process
 * may hold a pipe open). */
static void watch_run(watch *w, run_fds *f, sbx_result *r, const sbx_limits *lim)
{
    int *pfd[3] = {&f->out[0], &f->err[0], &f->res[0]};
    sbx_buf *bufs[3] = {&r->out, &r->err, &r->res};
    size_t caps[3] = {lim->max_output, lim->max_output, lim->max_result};
    double grace_end = 0;
    for (;;) {
        struct pollfd pf[5];
        int idx[5];
        nfds_t n = 0;
        for (int i = 0; i < 3; i++)
            if (*pfd[i] >= 0) pf[n].fd = *pfd[i], pf[n].events = POLLIN, idx[n++] = i;
        int pidfd_slot = -1;
        if (!w->reaped && w->pidfd >= 0)
            pidfd_slot = (int)n, pf[n].fd = w->pidfd, pf[n].events = POLLIN, idx[n++] = 3;
        if (w->reaped && n == 0) break;

        double t = now_ms();
        if (!w->reaped && t >= w->deadline && !w->timed_out) {
            w->timed_out = 1;
            kill_sandbox(w);
        }
        if (w->reaped && grace_end == 0) grace_end = t + 200;
        if (w->reaped && t >= grace_end) break;
        double until = w->reaped ? grace_end : (w->timed_out ? t + 50 : w->deadline);
        int ms = (int)(until - t) + 1;
        if (!w->reaped && w->pidfd < 0 && ms > 10) ms = 10;   /* no pidfd: poll waitpid */

        int k = poll(pf, n, ms);
        if (k < 0 && errno != EINTR) break;
        for (nfds_t i = 0; k > 0 && i < n; i++) {
            if (!pf[i].revents) continue;
            if ((int)i == pidfd_slot) continue;
            int j = idx[i];
            if (buf_drain(bufs[j], caps[j], *pfd[j])) fd_close(pfd[j]);
        }
        try_reap(w, 0);
    }
}

/* ===== One attempt in one mode ========================================== */

/* Writes the uid and gid maps of a privileged parent's child, then lets
 * it go.  Returns 0 or an errno. */
static int hand_over_maps(pid_t pid, run_fds *f)
{
    char path[64], map[48];
    const char *names[2] = {"uid_map", "gid_map"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, names[i]);
        snprintf(map, sizeof map, "%d %d 1\n", SBX_INSIDE_ID, SBX_OUTSIDE_ID_ROOT);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return errno;
        ssize_t n = write(fd, map, strlen(map));
        int e = n == (ssize_t)strlen(map) ? 0 : (n < 0 ? errno : EIO);
        close(fd);
        if (e) return e;
    }
    char go = 1;
    if (write(f->go[0], &go, 1) != 1) return errno;
    return 0;
}

static const char *stage_name(int stage)
{
    static const char *const names[] = {"?",     "uid maps", "setuid",       "mount",
                                        "tmpfs", "copying inputs", "fork",   "rlimit",
                                        "no_new_privs", "dropping capabilities",
                                        "copying the program"};
    return stage > 0 && stage <= SBX_STAGE_EXEC_COPY ? names[stage] : names[0];
}

enum { ATTEMPT_OK, ATTEMPT_RETRY_DEGRADED, ATTEMPT_ERROR };

/* Full mode: what PID 1 reported (setup, the command's wait status, or a
 * failed stage).  Sets *st to the command's wait status. */
static int read_records(const watch *w, sbx_result *r, int *st, char *err, size_t errlen)
{
    int exited_ok = 0;
    for (size_t i = 0; i < w->n_recs; i++) {
        const int32_t *rec = w->recs[i];
        if (rec[0] == SBX_REC_FAIL) {
            /* Stages up to the tmpfs are the kernel's policy: degrade.  Later
             * ones (rlimits, fork) are errors of this run. */
            if (rec[1] <= SBX_STAGE_TMPFS) {
                snprintf(r->note, sizeof r->note, "namespace setup failed at %s: %s",
                         stage_name(rec[1]), strerror(rec[2]));
                return ATTEMPT_RETRY_DEGRADED;
            }
            rlaif_errorf(err, errlen, RLAIF_E_EXTERNAL, "sandbox: %s failed: %s",
                         stage_name(rec[1]), strerror(rec[2]));
            return ATTEMPT_ERROR;
        }
        if (rec[0] == SBX_REC_SETUP) {
            const char *miss_ro = rec[1] & SBX_FS_RO_ROOT ? "" : " no read-only root;";
            const char *miss_proc = rec[1] & SBX_FS_PROC ? "" : " host /proc;";
            if (*miss_ro || *miss_proc)
                snprintf(r->note, sizeof r->note, "partial:%s%s", miss_ro, miss_proc);
        }
        if (rec[0] == SBX_REC_EXIT) *st = rec[1], exited_ok = 1;
    }
    if (exited_ok) return ATTEMPT_OK;
    if (w->timed_out) {
        *st = SIGKILL;   /* reads as "killed" */
        return ATTEMPT_OK;
    }
    /* PID 1 died without a word and not by our hand (the OOM killer, the
     * host thread gone): nothing trustworthy to report. */
    rlaif_errorf(err, errlen, RLAIF_E_EXTERNAL,
                 "sandbox: the namespace's init exited without a status (wait status %d)",
                 w->wait_status);
    return ATTEMPT_ERROR;
}

static int attempt(const sbx_spec *spec, const sbx_limits *lim, sbx_plan *plan, int full,
                   sbx_result *r, char *err, size_t errlen)
{
    run_fds f;
    memset(&f, -1, sizeof f);
    uid_t owner = full ? SBX_OUTSIDE_ID_ROOT : plan->outside_id;
    if (fds_open(&f, spec->secret, spec->secret_len, owner) != 0) {
        int e = errno;
        fds_close_all(&f);
        rlaif_errorf(err, errlen, RLAIF_E_EXTERNAL, "sandbox: pipes: %s", strerror(e));
        return ATTEMPT_ERROR;
    }
    plan->fd_stdin = f.devnull;
    plan->fd_out = f.out[1];
    plan->fd_err = f.err[1];
    plan->fd_secret = f.secret[1];
    plan->fd_result = f.res[1];
    plan->fd_status = f.status[1];
    plan->fd_go = f.go[1];
    plan->status_fd = full ? SBX_CFD_STATUS : -1;
    plan_limits(plan, lim, full);

    double t0 = now_ms();
    /* A raw clone, not fork(): no atfork handlers of the host (BLAS pools)
     * run, and the namespaces come with the new process. */
    unsigned long flags = SIGCHLD | (full ? NS_FLAGS : 0);
    pid_t pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
    if (pid == 0) {
        if (full) sbx_child_full(plan);
        sbx_child_degraded(plan);
    }
    int clone_errno = errno;
    fd_close(&f.devnull), fd_close(&f.out[1]), fd_close(&f.err[1]), fd_close(&f.secret[1]);
    fd_close(&f.res[1]), fd_close(&f.status[1]), fd_close(&f.go[1]);
    if (pid < 0) {
        fds_close_all(&f);
        /* Refusals of policy mean namespaces will never work here; running
         * out of processes or memory is this run's problem alone. */
        int policy = clone_errno == EPERM || clone_errno == EINVAL || clone_errno == ENOSYS ||
                     clone_errno == EUSERS || clone_errno == ENOSPC;
        if (full && policy) {
            snprintf(r->note, sizeof r->note, "namespaces refused: %s", strerror(clone_errno));
            return ATTEMPT_RETRY_DEGRADED;
        }
        rlaif_errorf(err, errlen, RLAIF_E_EXTERNAL, "sandbox: clone: %s", strerror(clone_errno));
        return ATTEMPT_ERROR;
    }

    watch w = {.pid = pid, .full = full, .deadline = t0 + lim->timeout_ms};
    w.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (full && !plan->self_maps) {
        int e = hand_over_maps(pid, &f);
        if (e) {
            kill(pid, SIGKILL);
            try_reap(&w, 1);
            if (w.pidfd >= 0) close(w.pidfd);
            fds_close_all(&f);
            snprintf(r->note, sizeof r->note, "uid maps refused: %s", strerror(e));
            return ATTEMPT_RETRY_DEGRADED;
        }
    }
    fd_close(&f.go[0]);
    watch_run(&w, &f, r, lim);
    try_reap(&w, 1);
    r->wall_ms = now_ms() - t0;
    if (full) read_status(&w, f.status[0]);
    if (w.pidfd >= 0) close(w.pidfd);
    fds_close_all(&f);

    int st = w.wait_status;
    if (full) {
        int outcome = read_records(&w, r, &st, err, errlen);
        if (outcome != ATTEMPT_OK) return outcome;
    }
    r->timed_out = w.timed_out;
    r->exited = WIFEXITED(st) && !w.timed_out;
    r->exit_code = r->exited ? WEXITSTATUS(st) : -1;
    r->signaled = WIFSIGNALED(st) || w.timed_out;
    r->signal = WIFSIGNALED(st) ? WTERMSIG(st) : (w.timed_out ? SIGKILL : 0);
    return ATTEMPT_OK;
}

/* ===== The entry point ================================================== */

static int prepare_dir(const sbx_spec *spec, char *base, size_t blen, char *work, size_t wlen,
                       char *err, size_t errlen)
{
    int e = sbx_dir_create(base, blen, work, wlen);
    if (e) {
        rlaif_errorf(err, errlen, RLAIF_E_IO, "sandbox: cannot create a directory in %s: %s",
                     getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", strerror(e));
        return -1;
    }
    for (size_t i = 0; i < spec->n_files; i++) {
        e = write_input(work, &spec->files[i]);
        if (e) {
            rlaif_errorf(err, errlen, RLAIF_E_IO, "sandbox: writing %s/%s: %s", work,
                         spec->files[i].name, strerror(e));
            return -1;
        }
    }
    return 0;
}

static rlaif_status check_spec(const sbx_spec *spec, char *err, size_t errlen)
{
    if (!spec || !spec->argv || !spec->argv[0] || spec->argv[0][0] != '/')
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "sandbox: argv[0] must be an absolute path");
    if (spec->n_files > SBX_MAX_FILES)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "sandbox: at most %d input files",
                            SBX_MAX_FILES);
    for (size_t i = 0; i < spec->n_files; i++)
        if (!file_name_ok(spec->files[i].name) || (!spec->files[i].data && spec->files[i].len))
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "sandbox: input file %zu: bad name or data", i);
    if (spec->fifo && !file_name_ok(spec->fifo))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "sandbox: bad fifo name");
    if (spec->secret_len > 4096)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "sandbox: secret over 4 KiB");
    return RLAIF_OK;
}

rlaif_status sbx_run(const sbx_spec *spec, sbx_result *r, char *err, size_t errlen)
{
    rlaif_status st = check_spec(spec, err, errlen);
    if (st) return st;
    sbx_limits lim;
    limits_resolve(&spec->lim, &lim);
    if (buf_reset(&r->out, lim.max_output) || buf_reset(&r->err, lim.max_output) ||
        buf_reset(&r->res, lim.max_result))
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "sandbox: out of memory");
    r->exited = r->signaled = r->timed_out = r->degraded = 0;
    r->exit_code = -1;
    r->signal = 0;
    r->wall_ms = 0;
    r->note[0] = '\0';

    char base[256] = "";
    if (prepare_dir(spec, base, sizeof base, r->workdir, sizeof r->workdir, err, errlen)) {
        if (base[0]) sbx_dir_remove(base);
        return RLAIF_E_IO;
    }

    static const char *const envp_full[] = {"PATH=" SBX_PATH, "HOME=" SBX_WORKDIR_INSIDE,
                                            "TMPDIR=/tmp", "LANG=C.UTF-8", NULL};
    char home[300];
    snprintf(home, sizeof home, "HOME=%s", r->workdir);
    const char *envp_degraded[] = {"PATH=" SBX_PATH, home, "LANG=C.UTF-8", NULL};

    sbx_plan plan;
    memset(&plan, 0, sizeof plan);
    char inside[SBX_MAX_FILES][96];
    plan.argv = spec->argv;
    plan.exec_path = spec->argv[0];
    plan.workdir_host = r->workdir;
    plan.n_files = spec->n_files;
    for (size_t i = 0; i < spec->n_files; i++) {
        snprintf(inside[i], sizeof inside[i], "%s/%s", SBX_WORKDIR_INSIDE, spec->files[i].name);
        plan.file_names[i] = spec->files[i].name;
        plan.file_paths_inside[i] = inside[i];
    }
    char fifo_inside[96];
    if (spec->fifo) {
        snprintf(fifo_inside, sizeof fifo_inside, "%s/%s", SBX_WORKDIR_INSIDE, spec->fifo);
        plan.fifo_inside = fifo_inside;
    }
    int root = geteuid() == 0;
    plan.self_maps = !root;
    snprintf(plan.uid_map, sizeof plan.uid_map, "%d %d 1\n", SBX_INSIDE_ID, (int)geteuid());
    snprintf(plan.gid_map, sizeof plan.gid_map, "%d %d 1\n", SBX_INSIDE_ID, (int)getegid());
    uint64_t tmp_mb = lim.max_file_bytes * 4 / (1u << 20) + 16;
    snprintf(plan.tmpfs_opts, sizeof plan.tmpfs_opts, "size=%llum,nr_inodes=4096,mode=0755",
             (unsigned long long)tmp_mb);
    /* Spread by pid too, so that forked hosts (and test runners) do not
     * start on the same uid while zombies of a previous run may remain. */
    unsigned spread = (unsigned)getpid() * 256u + atomic_fetch_add(&degraded_uid_next, 1);
    plan.outside_id = SBX_DEGRADED_UID_BASE + spread % SBX_DEGRADED_UID_COUNT;

    int outcome = ATTEMPT_RETRY_DEGRADED;
    if (!spec->force_degraded && !atomic_load(&ns_broken)) {
        /* The sandbox user reads the inputs through a 0711 directory. */
        chmod(r->workdir, 0711);
        plan.envp = envp_full;
        plan.copy_exec = spec->nondumpable;
        if (spec->nondumpable) plan.exec_path = SBX_EXEC_COPY_INSIDE;
        outcome = attempt(spec, &lim, &plan, 1, r, err, errlen);
        if (outcome == ATTEMPT_RETRY_DEGRADED) atomic_store(&ns_broken, 1);
    } else if (!spec->force_degraded) {
        snprintf(r->note, sizeof r->note, "namespaces unavailable earlier in this process");
    }
    if (outcome == ATTEMPT_RETRY_DEGRADED) {
        /* Degraded: the command works in the host directory itself. */
        plan.drop_uid = root;
        if (root && chown(r->workdir, plan.outside_id, plan.outside_id) != 0) {
            sbx_dir_remove(base);
            return rlaif_errorf(err, errlen, RLAIF_E_IO, "sandbox: chown %s: %s", r->workdir,
                                strerror(errno));
        }
        plan.envp = envp_degraded;
        plan.copy_exec = 0;
        if (spec->fifo) {
            char path[400];
            snprintf(path, sizeof path, "%s/%s", r->workdir, spec->fifo);
            if (mkfifo(path, 0600) != 0 ||
                (root && chown(path, plan.outside_id, plan.outside_id) != 0)) {
                int e = errno;
                sbx_dir_remove(base);
                return rlaif_errorf(err, errlen, RLAIF_E_IO, "sandbox: fifo %s: %s", path,
                                    strerror(e));
            }
        }
        plan.exec_path = spec->argv[0];
        char copy[300];
        if (spec->nondumpable) {
            int e = host_exec_copy(spec->argv[0], r->workdir, copy, sizeof copy, root,
                                   plan.outside_id);
            if (e) {
                sbx_dir_remove(base);
                return rlaif_errorf(err, errlen, RLAIF_E_IO, "sandbox: copying %s: %s",
                                    spec->argv[0], strerror(e));
            }
            /* Relative: the command's uid cannot traverse the 0700 base
             * directory, but it starts inside the working directory. */
            plan.exec_path = "./" SBX_EXEC_COPY_NAME;
        }
        r->degraded = 1;
        if (spec->force_degraded) snprintf(r->note, sizeof r->note, "degraded on request");
        outcome = attempt(spec, &lim, &plan, 0, r, err, errlen);
    }
    int e = sbx_dir_remove(base);
    if (outcome == ATTEMPT_ERROR) return RLAIF_E_EXTERNAL;
    if (e)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "sandbox: removing %s: %s", base,
                            strerror(e));
    return RLAIF_OK;
}
