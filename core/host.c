/*
 * host.c — the rlaif_host table handed to plugins: memory, logging,
 * cancellation, progress, access to other instances, the data directory.
 */
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "internal.h"
#include "rlaif_config.h"

static volatile sig_atomic_t cancelled;
static rlaif_log_level log_threshold = RLAIF_LOG_INFO;
static int progress_mode = RLC_PROGRESS_AUTO;
static char data_dir[PATH_MAX];

void rlc_set_cancelled(int on) { cancelled = on ? 1 : 0; }
int rlc_is_cancelled(void) { return cancelled; }
void rlc_set_log_level(rlaif_log_level level) { log_threshold = level; }
void rlc_set_progress_mode(int mode) { progress_mode = mode; }
int rlc_progress_mode(void)
{
    if (progress_mode != RLC_PROGRESS_AUTO) return progress_mode;
    return isatty(STDERR_FILENO) ? RLC_PROGRESS_TTY : RLC_PROGRESS_PLAIN;
}

/* ===== Host functions =================================================== */

static void *host_alloc(size_t size) { return malloc(size); }
static void *host_realloc(void *p, size_t size) { return realloc(p, size); }
static void host_free(void *p) { free(p); }

static void host_log(const rlaif_host *host, rlaif_log_level level, const char *who,
                     const char *fmt, ...)
{
    (void)host;
    if (level < log_threshold) return;
    if (progress_mode == RLC_PROGRESS_QUIET && level < RLAIF_LOG_WARN) return;
    static const char *const names[] = {"debug", "info", "warning", "error"};
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (progress_mode == RLC_PROGRESS_JSON) {
        fprintf(stderr, "{\"log\":\"%s\",\"who\":\"%s\",\"msg\":\"", names[level & 3],
                who ? who : "");
        for (const char *s = msg; *s; s++) {
            if (*s == '"' || *s == '\\') fputc('\\', stderr);
            if ((unsigned char)*s < 0x20) fprintf(stderr, "\\u%04x", *s);
            else fputc(*s, stderr);
        }
        fputs("\"}\n", stderr);
        return;
    }
    if (isatty(STDERR_FILENO)) fputs("\r\033[K", stderr); /* clear a progress line */
    if (level >= RLAIF_LOG_WARN) fprintf(stderr, "%s: ", names[level & 3]);
    if (who) fprintf(stderr, "%s: ", who);
    fprintf(stderr, "%s\n", msg);
}

static int host_cancelled(const rlaif_host *host)
{
    (void)host;
    return cancelled;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Progress: one updating line on a terminal, a line every few seconds
 * otherwise, JSON lines in --json mode, nothing in --quiet mode. */
static void host_progress(const rlaif_host *host, const char *phase, uint64_t done,
                          uint64_t total)
{
    (void)host;
    static char last_phase[64];
    static double phase_start, last_print;
    int mode = progress_mode;
    if (mode == RLC_PROGRESS_QUIET) return;
    if (mode == RLC_PROGRESS_AUTO) mode = isatty(STDERR_FILENO) ? RLC_PROGRESS_TTY : RLC_PROGRESS_PLAIN;
    double t = now_seconds();
    if (strncmp(last_phase, phase, sizeof last_phase - 1) != 0) {
        snprintf(last_phase, sizeof last_phase, "%s", phase);
        phase_start = t;
        last_print = 0;
    }
    int finished = total && done >= total;
    double interval = mode == RLC_PROGRESS_TTY ? 0.1 : 5.0;
    if (!finished && t - last_print < interval) return;
    last_print = t;
    double elapsed = t - phase_start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
    if (mode == RLC_PROGRESS_JSON) {
        fprintf(stderr, "{\"progress\":\"%s\",\"done\":%llu,\"total\":%llu,\"rate\":%.3g}\n",
                phase, (unsigned long long)done, (unsigned long long)total, rate);
        return;
    }
    if (mode == RLC_PROGRESS_TTY) fputs("\r\033[K", stderr);
    if (total)
        fprintf(stderr, "%s %llu/%llu (%.0f%%) %.3g/s ETA %.0fs", phase, (unsigned long long)done,
                (unsigned long long)total, 100.0 * (double)done / (double)total, rate, eta);
    else
        fprintf(stderr, "%s %llu %.3g/s", phase, (unsigned long long)done, rate);
    if (mode != RLC_PROGRESS_TTY || finished) fputc('\n', stderr);
    fflush(stderr);
}

static rlaif_status host_acquire(const rlaif_host *host, uint64_t handle, rlaif_kind kind,
                                 rlaif_ref *out, char *err, size_t errlen)
{
    (void)host;
    rlc_instance *in = rlc_instance_by_handle(handle);
    if (!in)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "instance handle %llu is not live (closed or never created)",
                            (unsigned long long)handle);
    if (rlc_instance_kind(in) != kind)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "instance %llu is a %s (%s), a %s was expected",
                            (unsigned long long)handle, rlc_kind_name(rlc_instance_kind(in)),
                            rlc_instance_name(in), rlc_kind_name(kind));
    rlc_instance_ref(in);
    rlc_instance_to_ref(in, out);
    return RLAIF_OK;
}

static void host_release(const rlaif_host *host, uint64_t handle)
{
    (void)host;
    rlc_instance *in = rlc_instance_by_handle(handle);
    if (in) rlc_instance_unref(in);
}

static rlaif_host host_table = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_host),
    .alloc = host_alloc,
    .realloc = host_realloc,
    .free = host_free,
    .log = host_log,
    .cancelled = host_cancelled,
    .progress = host_progress,
    .acquire = host_acquire,
    .release = host_release,
    .data_dir = data_dir,
};

const rlaif_host *rlc_host(void) { return &host_table; }

/* ===== Data directory =================================================== */

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void find_data_dir(const char *exe_dir)
{
    const char *env = getenv("RLAIF_DATA_DIR");
    char buf[PATH_MAX];
    if (env && *env) {
        snprintf(data_dir, sizeof data_dir, "%s", env);
        return;
    }
    /* Running from the build tree: the source tree holds constitutions/. */
    snprintf(buf, sizeof buf, "%s/constitutions", RLAIF_SOURCE_DIR);
    if (exe_dir && strncmp(exe_dir, RLAIF_BUILD_DIR, strlen(RLAIF_BUILD_DIR)) == 0 && is_dir(buf)) {
        snprintf(data_dir, sizeof data_dir, "%s", RLAIF_SOURCE_DIR);
        return;
    }
    if (exe_dir) {
        snprintf(buf, sizeof buf, "%s/../share/rlaif", exe_dir);
        if (is_dir(buf)) {
            snprintf(data_dir, sizeof data_dir, "%s", buf);
            return;
        }
    }
    if (is_dir(RLAIF_DATA_INSTALL_DIR)) {
        snprintf(data_dir, sizeof data_dir, "%s", RLAIF_DATA_INSTALL_DIR);
        return;
    }
    snprintf(data_dir, sizeof data_dir, "%s", RLAIF_SOURCE_DIR);
}

const char *rlc_data_dir(void) { return data_dir; }

/* ===== Start and stop =================================================== */

static int initialised;

void rlc_init(const char *exe_dir)
{
    if (initialised) return;
    initialised = 1;
    rlc_loader_init(exe_dir);
    find_data_dir(exe_dir);
}

void rlc_shutdown(void)
{
    if (!initialised) return;
    rlc_instances_shutdown();
    rlc_loader_shutdown();
    initialised = 0;
}
