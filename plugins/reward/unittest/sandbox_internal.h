/*
 * sandbox_internal.h — what the parent prepares for the child (sbx_plan)
 * and the records the child sends back on the status pipe.
 */
#ifndef RLAIF_SANDBOX_INTERNAL_H
#define RLAIF_SANDBOX_INTERNAL_H

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "sandbox.h"

/* The uid and gid the command runs as inside the namespace, and (when the
 * host is root) the host ids they map to: the conventional "nobody". */
#define SBX_INSIDE_ID 1000
#define SBX_OUTSIDE_ID_ROOT 65534

/* Degraded mode as root: each run gets its own unused uid from this range,
 * so that RLIMIT_NPROC (counted per uid) covers that run alone -- not the
 * other runs, nor their not-yet-reaped zombies -- and runs cannot signal
 * each other. */
#define SBX_DEGRADED_UID_BASE 2000000000u
#define SBX_DEGRADED_UID_COUNT 65536u

/* Descriptor numbers in the child after arrange_fds. */
enum {
    SBX_CFD_STDIN = 0,
    SBX_CFD_STDOUT = 1,
    SBX_CFD_STDERR = 2,
    SBX_CFD_SECRET = SBX_FD_SECRET,
    SBX_CFD_RESULT = SBX_FD_RESULT,
    SBX_CFD_STATUS = 5,   /* full mode only: PID 1 -> parent records */
    SBX_CFD_GO = 6,       /* full mode only: parent -> PID 1, "maps written" */
    SBX_CFD_COUNT = 7
};

/* Records on the status pipe: three int32 (tag, a, b). */
enum {
    SBX_REC_SETUP = 1,   /* a = SBX_FS_* bits that worked */
    SBX_REC_EXIT = 2,    /* a = the command's wait status */
    SBX_REC_FAIL = 3     /* a = SBX_STAGE_*, b = errno */
};

enum {
    SBX_FS_RO_ROOT = 1 << 0,
    SBX_FS_TMP = 1 << 1,
    SBX_FS_PROC = 1 << 2
};

enum {
    SBX_STAGE_MAPS = 1,
    SBX_STAGE_SETID,
    SBX_STAGE_MOUNT,
    SBX_STAGE_TMPFS,
    SBX_STAGE_COPY,
    SBX_STAGE_FORK,
    SBX_STAGE_RLIMIT,
    SBX_STAGE_NNP,
    SBX_STAGE_CAPS,
    SBX_STAGE_EXEC_COPY
};

/* Exit codes of a child that never reached the command. */
#define SBX_CHILD_SETUP_FAILED 125
#define SBX_CHILD_EXEC_FAILED 127

#define SBX_MAX_LIMITS 8
#define SBX_MAX_FILES 16

typedef struct sbx_limit {
    int resource;
    struct rlimit lim;
} sbx_limit;

/* Everything the child needs, prepared before the clone.  Pointers refer
 * to the parent's memory, which the child sees as a copy. */
/* Where the execute-only copy of argv[0] goes (spec.nondumpable). */
#define SBX_EXEC_COPY_INSIDE "/tmp/.rlaif-exec"
#define SBX_EXEC_COPY_NAME ".rlaif-exec"

typedef struct sbx_plan {
    const char *const *argv;
    const char *exec_path;     /* what execve runs: argv[0] or its execute-only copy */
    int copy_exec;             /* full mode: PID 1 makes the copy at SBX_EXEC_COPY_INSIDE */
    const char *const *envp;
    const char *workdir_host;
    const char *file_names[SBX_MAX_FILES];
    const char *file_paths_inside[SBX_MAX_FILES];
    size_t n_files;
    const char *fifo_inside;   /* full mode: the named pipe to create, or NULL */
    sbx_limit limits[SBX_MAX_LIMITS];
    size_t n_limits;
    char uid_map[48], gid_map[48];
    char tmpfs_opts[64];
    int self_maps;        /* full mode, unprivileged: the child writes its own maps */
    int drop_uid;         /* degraded mode as root: setresuid(outside_id) */
    uid_t outside_id;
    int status_fd;        /* SBX_CFD_STATUS in full mode, -1 in degraded */
    /* The parent's descriptors, moved to SBX_CFD_* by the child. */
    int fd_stdin, fd_out, fd_err, fd_secret, fd_result, fd_status, fd_go;
} sbx_plan;

_Noreturn void sbx_child_full(const sbx_plan *p);
_Noreturn void sbx_child_degraded(const sbx_plan *p);

#endif
