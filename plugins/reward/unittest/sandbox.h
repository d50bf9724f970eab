/*
 * sandbox.h — run one untrusted command in a throw-away sandbox.
 *
 * Prefix `sbx_`.  Used by the reward/unittest plugin and its tests; not part
 * of the plugin ABI.  docs/sandbox.md describes the design; in short:
 *
 *   full mode      a child cloned into new user, PID, network, mount, IPC and
 *                  UTS namespaces.  The child is PID 1 of its namespace (a
 *                  tiny reaper); the command runs as its child under an
 *                  unprivileged uid, with rlimits, NO_NEW_PRIVS, a read-only
 *                  root, a private /tmp and its working directory bound at
 *                  /tmp/work.  When PID 1 exits or is killed every process of
 *                  the namespace dies, setsid daemons included; the network
 *                  namespace has only a downed loopback.
 *   degraded mode  when the kernel refuses namespaces: fork, setsid, rlimits,
 *                  an unprivileged uid when started as root, and a kill of
 *                  the process group at the end.  A process that leaves the
 *                  group can survive; results say `degraded`.
 *
 * Everything the child does between clone and exec is a raw system call
 * (no malloc, no stdio), so sbx_run may be called from several threads of
 * a multithreaded host at once.
 */
#ifndef RLAIF_SANDBOX_H
#define RLAIF_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "rlaif/plugin.h"

/* The fixed path of the working directory inside a full-mode sandbox. */
#define SBX_WORKDIR_INSIDE "/tmp/work"

/* The minimal environment every sandboxed command gets. */
#define SBX_PATH "/usr/local/bin:/usr/bin:/bin"

/* Descriptors the command finds open besides 0, 1, 2. */
#define SBX_FD_SECRET 3  /* read end of a pipe holding spec.secret, then EOF */
#define SBX_FD_RESULT 4  /* write end of a pipe captured into result.res */

/* A file written into the working directory before the command starts
 * (mode 0444, owned by the host user: the command can read it and, being
 * the owner of the directory, delete it, but not rewrite it in place). */
typedef struct sbx_file {
    const char *name;   /* a plain name, no '/' */
    const char *data;
    size_t len;
} sbx_file;

typedef struct sbx_limits {
    uint32_t timeout_ms;      /* wall clock for the whole run (0 = 10 s) */
    uint32_t cpu_s;           /* RLIMIT_CPU per process (0 = derived from timeout_ms) */
    uint64_t memory_bytes;    /* RLIMIT_AS per process (0 = unlimited) */
    uint32_t max_procs;       /* RLIMIT_NPROC in the sandbox's user namespace (0 = 64) */
    uint64_t max_file_bytes;  /* RLIMIT_FSIZE (0 = 16 MiB) */
    uint32_t max_open_files;  /* RLIMIT_NOFILE (0 = 64) */
    size_t max_output;        /* bytes kept of stdout and of stderr (0 = 64 KiB) */
    size_t max_result;        /* bytes kept of SBX_FD_RESULT (0 = max_output) */
} sbx_limits;

typedef struct sbx_spec {
    const char *const *argv;   /* argv[0] is an absolute path; NULL-terminated */
    const sbx_file *files;     /* [n_files] written into the working directory */
    size_t n_files;
    const void *secret;        /* delivered on SBX_FD_SECRET (OPTIONAL, < 4 KiB) */
    size_t secret_len;
    sbx_limits lim;
    int force_degraded;        /* nonzero: skip namespaces (tests of the fallback) */
    const char *fifo;          /* OPTIONAL: a named pipe (mode 0600) created under this
                                  plain name in the working directory */
    int nondumpable;           /* nonzero: start the command non-dumpable, by executing
                                  an execute-only copy of argv[0], so that the processes
                                  it spawns (same uid) cannot read its memory or
                                  descriptors through /proc or ptrace; needs
                                  sbx_nondumpable_supported() */
} sbx_spec;

/* A captured stream: the first `cap` bytes are kept, the rest is read and
 * counted but dropped, so a writer never blocks on a full pipe. */
typedef struct sbx_buf {
    char *data;         /* NUL-terminated, `len` bytes kept */
    size_t len;
    size_t alloc;       /* bytes allocated (reused across runs) */
    uint64_t total;     /* bytes the command wrote, kept or not */
    int truncated;      /* total > kept */
} sbx_buf;

typedef struct sbx_result {
    int exited;          /* the command returned from main / called exit */
    int exit_code;       /* valid when exited */
    int signaled;        /* the command was killed by a signal ... */
    int signal;          /* ... this one */
    int timed_out;       /* the wall-clock limit fired and the sandbox was killed */
    int degraded;        /* ran without namespaces (see the header comment) */
    double wall_ms;      /* clone to reap */
    sbx_buf out, err, res;      /* stdout, stderr, SBX_FD_RESULT */
    char workdir[256];   /* the host path of the working directory (removed) */
    char note[160];      /* what was not available, for logs ("" when all was) */
} sbx_result;

/* Zeroes a result so that it can be passed to sbx_run (buffers are then
 * allocated on first use and reused by later runs). */
void sbx_result_init(sbx_result *r);
void sbx_result_free(sbx_result *r);

/* Runs spec->argv in a fresh sandbox and fills *r.  Returns RLAIF_OK when
 * the command ran, whatever it did (crashed, timed out, ...); an error
 * only when the sandbox itself could not be set up (no temp dir, no pipes,
 * no fork), with a message in err.  The working directory is created under
 * $TMPDIR (or /tmp) and removed before returning. */
rlaif_status sbx_run(const sbx_spec *spec, sbx_result *r, char *err, size_t errlen);

/* Nonzero when full mode has failed once in this process and sbx_run now
 * goes straight to degraded mode. */
int sbx_namespaces_unavailable(void);

/* Nonzero when spec.nondumpable works here: the kernel makes a process that
 * executes an unreadable binary non-dumpable unless fs.suid_dumpable is 1. */
int sbx_nondumpable_supported(void);

/* ----- Working directories (sandbox_fs.c) ----- */

/* Creates "<TMPDIR or /tmp>/rlaif-sbx-XXXXXX" (mode 0700) with a
 * subdirectory "work" inside, into `base` (the base path) — `work` gets
 * the working directory path.  Returns 0 or an errno. */
int sbx_dir_create(char *base, size_t base_len, char *work, size_t work_len);

/* Removes `path` and everything below it without following symbolic links
 * (a link is removed, never its target; a directory the command made
 * unreadable is made readable first).  Returns 0 or the first errno. */
int sbx_dir_remove(const char *path);

#endif
