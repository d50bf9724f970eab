/*
 * bench_train_plugin.c — a training step through the model plugin, as the
 * algorithms drive it: the core API loads model/transformer from a
 * random-weight Hugging Face folder of a real configuration, and each step
 * is vtable calls only — forward(LOGPROBS | KEEP), backward of the mean
 * token logprob loss, step (AdamW, clipping at 1).
 *
 * Cases (issue 4): TinyStories-15M at batch 8 x 256 and SmolLM2-135M at
 * batch 4 x 256, full fine-tuning and LoRA (rank 16 on all seven Linears
 * of every block).  Each case runs in its own child process, so its peak
 * RSS (ru_maxrss) is its own.  Reported against the same run's reference:
 *   utilisation = model FLOPs x tokens/s / OpenBLAS sgemm FLOP/s
 * with sgemm square 2048 on the same thread count, measured before the
 * cases (and again after, to show drift).  Model FLOPs per token: full
 * 6N + 3 x attention (shared/bench/README.md); LoRA 4N + 3 x attention +
 * the adapters (the base weights need no gradient — see bench_util.h).
 * One JSON line per measurement.
 *
 * Usage (RLAIF_PLUGIN_PATH must name the built plugins folder):
 *   bench_train_plugin [--threads N] [--config ts15m|smol135m|all]
 *                      [--mode full|lora|all] [--matmul f32|bf16|all] [--steps K]
 *                      [--quick]
 * --matmul: the plugin's matrix-product precision (default all: f32, then
 * bf16 mixed precision, which runs on AMX tiles where the CPU has them).
 * --quick: one timed step after the warm-up, sgemm with fewer reps.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "core.h"
#include "rlaif/plugin.h"

#define LORA_RANK 16

static int g_threads = 2, g_steps = 3, g_quick = 0;
static double g_sgemm, g_sgemm_cpu; /* GFLOP/s and the CPU share it had */

/* ===== Processes ======================================================== */

/* Runs fn(arg) in a child; its stdout goes to ours.  Returns 0 when the
 * child exited 0. */
static int in_child(int (*fn)(const void *), const void *arg)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int rc = fn(arg);
        fflush(stdout);
        _exit(rc ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The sgemm reference in a child (the parent stays small, and OpenBLAS's
 * threads do not linger into the cases); the figure and its CPU share come
 * back through a pipe. */
static double sgemm_reference(const char *when, double *cpu_util)
{
    int fds[2];
    if (pipe(fds)) return 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        double util = 0, g = bu_sgemm_gflops(2048, g_threads, g_quick ? 3 : 6, &util);
        printf("{\"bench\": \"sgemm\", \"when\": \"%s\", \"n\": 2048, \"threads\": %d, "
               "\"gflops\": %.1f, \"cpu_util\": %.2f}\n", when, g_threads, g, util);
        fflush(stdout);
        double both[2] = {g, util};
        ssize_t w = write(fds[1], both, sizeof both);
        _exit(w == (ssize_t)sizeof both ? 0 : 1);
    }
    close(fds[1]);
    double both[2] = {0, 0};
    if (read(fds[0], both, sizeof both) != (ssize_t)sizeof both) both[0] = both[1] = 0;
    double g = both[0];
    if (cpu_util) *cpu_util = both[1];
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return g;
}

/* ===== One case ========================================================= */

typedef struct bench_case {
    const bu_shape *shape;
    const char *dir;  /* the random-weight Hugging Face folder */
    int lora;
    int bf16;         /* the plugin's matmul = "bf16" (mixed precision) */
} bench_case;

static int write_folder(const void *arg)
{
    const bench_case *bc = arg;
    char err[512] = "";
    if (bu_write_random_hf(&bc->shape->c, bc->dir, 1234, err, sizeof err)) {
        fprintf(stderr, "bench_train_plugin: %s\n", err);
        return -1;
    }
    return 0;
}

static rlc_instance *load_model(const bench_case *bc, char *err, size_t errlen)
{
    char cfg[8192];
    int n = snprintf(cfg, sizeof cfg, "{\"path\": \"%s\", \"threads\": %d", bc->dir, g_threads);
    if (bc->lora)
        n += snprintf(cfg + n, sizeof cfg - (size_t)n,
                      ", \"lora\": {\"rank\": %d, \"alpha\": %d, \"targets\": [\"q_proj\", "
                      "\"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"up_proj\", "
                      "\"down_proj\"]}", LORA_RANK, 2 * LORA_RANK);
    snprintf(cfg + n, sizeof cfg - (size_t)n, "%s}", bc->bf16 ? ", \"matmul\": \"bf16\"" : "");
    rlc_init(NULL);
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_MODEL, "transformer", err, errlen);
    return p ? rlc_instance_create(p, cfg, err, errlen) : NULL;
}

/* Seconds of each part of the timed steps. */
typedef struct step_times {
    double fwd, bwd, opt, total, best, cpu;
} step_times;

/* warm-up + g_steps timed steps of forward(KEEP) + backward + step. */
static int run_steps(const rlaif_model_vtable *vt, void *self, const rlaif_seqs *s,
                     float *lp, float *dlp, step_times *tm, char *err, size_t errlen)
{
    rlaif_outputs out = {.struct_size = sizeof out, .logprobs = lp};
    rlaif_outputs grad = {.struct_size = sizeof grad, .logprobs = dlp};
    rlaif_step_params sp = {.struct_size = sizeof sp, .lr = 1e-4f, .beta1 = 0.9f,
                            .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f,
                            .max_grad_norm = 1.0f, .grad_scale = 1.0f};
    memset(tm, 0, sizeof *tm);
    tm->best = 1e30;
    for (int k = 0; k <= g_steps; k++) {
        double c0 = bu_cpu_now(), t0 = bu_now();
        if (vt->forward(self, s, RLAIF_OUT_LOGPROBS | RLAIF_OUT_KEEP, 1.0f, &out, err, errlen))
            return -1;
        double t1 = bu_now();
        if (vt->backward(self, &grad, err, errlen)) return -1;
        double t2 = bu_now();
        rlaif_step_result r = {.struct_size = sizeof r};
        if (vt->step(self, &sp, &r, err, errlen)) return -1;
        double t3 = bu_now();
        if (!isfinite(r.grad_norm) || r.grad_norm <= 0) {
            snprintf(err, errlen, "step %d: gradient norm %g (no gradient flowed)", k, r.grad_norm);
            return -1;
        }
        if (k == 0) continue; /* warm-up: arenas, first-touch, OpenBLAS buffers */
        tm->fwd += t1 - t0, tm->bwd += t2 - t1, tm->opt += t3 - t2, tm->total += t3 - t0;
        tm->cpu += bu_cpu_now() - c0;
        if (t3 - t0 < tm->best) tm->best = t3 - t0;
    }
    return 0;
}

static int run_case(const void *arg)
{
    const bench_case *bc = arg;
    const bu_shape *sh = bc->shape;
    char err[2048] = "";
    rlc_instance *in = load_model(bc, err, sizeof err);
    if (!in) {
        fprintf(stderr, "bench_train_plugin: %s\n", err);
        return -1;
    }
    const rlaif_model_vtable *vt = rlc_instance_vtable(in);
    void *self = rlc_instance_self(in);
    rlaif_model_info info = {.struct_size = sizeof info};
    vt->info(self, &info);
    double rss_loaded = bu_peak_rss_mb();

    size_t B = sh->batch, T = sh->len, N = B * T;
    int32_t *ids = malloc(N * sizeof *ids);
    float *lp = malloc(N * sizeof *lp), *dlp = malloc(N * sizeof *dlp);
    const int32_t **rows = malloc(B * sizeof *rows);
    size_t *len = malloc(B * sizeof *len);
    if (!ids || !lp || !dlp || !rows || !len) {
        fprintf(stderr, "bench_train_plugin: out of memory for the %zu-token batch\n", N);
        return -1;
    }
    uint64_t s = 99;
    for (size_t i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = 3 + (int32_t)((s >> 33) % (uint64_t)(sh->c.vocab_size - 3));
        /* L = -mean over the predicted tokens; the last of each row predicts nothing */
        dlp[i] = (i % T) + 1 < T ? -1.0f / (float)(B * (T - 1)) : 0.0f;
    }
    for (size_t b = 0; b < B; b++) rows[b] = ids + b * T, len[b] = T;
    rlaif_seqs seqs = {.struct_size = sizeof seqs, .n = B, .ids = rows, .len = len};

    step_times tm;
    int rc = run_steps(vt, self, &seqs, lp, dlp, &tm, err, sizeof err);
    if (rc) {
        fprintf(stderr, "bench_train_plugin: %s %s: %s\n", sh->name, bc->lora ? "lora" : "full",
                err);
    } else {
        double k = g_steps, mean = tm.total / k, tps = (double)N / mean;
        double fpt = bc->lora ? bu_lora_flops_per_token(&sh->c, (double)T, LORA_RANK)
                              : bu_train_flops_per_token(&sh->c, (double)T);
        double gf = fpt * tps * 1e-9, peak = bu_peak_rss_mb();
        int big = !strcmp(sh->name, "smol135m");
        /* On a shared machine both the case and sgemm got only part of the
         * CPUs: the same ratio per CPU-second they actually had. */
        double cpu = tm.cpu / (tm.total * g_threads);
        double util_cpu = g_sgemm > 0 && cpu > 0 && g_sgemm_cpu > 0
                              ? (gf / cpu) / (g_sgemm / g_sgemm_cpu) : 0.0;
        double rss_target = big ? (bc->lora ? 2000 : 5000) : 0;
        /* PyTorch 1.13 on the reference machine, quoted in issue 4 (full only) */
        double torch_tps = bc->lora ? 0 : big ? 215 : 1330;
        printf("{\"bench\": \"train_step\", \"config\": \"%s\", \"mode\": \"%s\", "
               "\"matmul\": \"%s\", \"batch\": %zu, \"len\": %zu, \"threads\": %d, \"steps\": %d, "
               "\"n_params\": %llu, \"n_trainable\": %llu, "
               "\"seconds_mean\": %.3f, \"seconds_best\": %.3f, \"forward_s\": %.3f, "
               "\"backward_s\": %.3f, \"adamw_s\": %.3f, \"tokens_per_s\": %.1f, "
               "\"tokens_per_s_best\": %.1f, \"mflop_per_token\": %.1f, \"gflops\": %.1f, "
               "\"sgemm_gflops\": %.1f, \"utilisation\": %.3f, \"cpu_util\": %.2f, "
               "\"sgemm_cpu_util\": %.2f, \"utilisation_per_cpu_s\": %.3f, "
               "\"rss_loaded_mb\": %.0f, \"peak_rss_mb\": %.0f",
               sh->name, bc->lora ? "lora" : "full", bc->bf16 ? "bf16" : "f32", B, T, g_threads,
               g_steps,
               (unsigned long long)info.n_params, (unsigned long long)info.n_trainable, mean,
               tm.best, tm.fwd / k, tm.bwd / k, tm.opt / k, tps, (double)N / tm.best, fpt * 1e-6,
               gf, g_sgemm, g_sgemm > 0 ? gf / g_sgemm : 0.0, cpu, g_sgemm_cpu, util_cpu,
               rss_loaded, peak);
        if (!bc->lora)
            printf(", \"target_utilisation\": 0.5, \"meets_utilisation\": %s, "
                   "\"torch_quoted_tokens_per_s\": %.0f, \"vs_torch_quoted\": %.2f",
                   g_sgemm > 0 && gf / g_sgemm >= 0.5 ? "true" : "false", torch_tps,
                   tps / torch_tps);
        if (rss_target > 0)
            printf(", \"target_peak_rss_mb\": %.0f, \"meets_rss\": %s", rss_target,
                   peak <= rss_target ? "true" : "false");
        printf("}\n");
    }
    free(ids), free(lp), free(dlp), free(rows), free(len);
    rlc_instance_unref(in);
    rlc_shutdown();
    return rc;
}

/* ===== Main ============================================================= */

static double loadavg1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

static int make_tempdir(char *out, size_t cap)
{
    const char *t = getenv("TMPDIR");
    snprintf(out, cap, "%s/rlaif-bench-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(out) ? 0 : -1;
}

static void remove_folder(const char *dir)
{
    static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.bin"};
    char p[4200];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(int argc, char **argv)
{
    const char *which = "all", *mode = "all", *matmul = "all";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            g_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--config") && i + 1 < argc)
            which = argv[++i];
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = argv[++i];
        else if (!strcmp(argv[i], "--matmul") && i + 1 < argc)
            matmul = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            g_steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            g_quick = 1;
        else {
            fprintf(stderr, "usage: %s [--threads N] [--config ts15m|smol135m|all] "
                    "[--mode full|lora|all] [--matmul f32|bf16|all] [--steps K] [--quick]\n",
                    argv[0]);
            return 2;
        }
    }
    if (g_threads < 1) g_threads = 1;
    if (g_quick) g_steps = 1;
    if (g_steps < 1) g_steps = 1;
    printf("{\"bench\": \"machine\", \"threads\": %d, \"online_cpus\": %ld, \"loadavg_1m\": %.2f, "
           "\"note\": \"shared machine: other jobs may run at the same time\"}\n",
           g_threads, sysconf(_SC_NPROCESSORS_ONLN), loadavg1());
    g_sgemm = sgemm_reference("before", &g_sgemm_cpu);
    int failed = 0;
    const char *names[] = {"ts15m", "smol135m"};
    for (int k = 0; k < 2; k++) {
        if (strcmp(which, "all") && strcmp(which, names[k])) continue;
        char dir[4096];
        if (make_tempdir(dir, sizeof dir)) {
            fprintf(stderr, "bench_train_plugin: cannot make a temporary folder\n");
            return 1;
        }
        bench_case bc = {bu_shape_find(names[k]), dir, 0, 0};
        if (in_child(write_folder, &bc)) {
            failed = 1;
        } else {
            for (int bf16 = 0; bf16 < 2; bf16++)
                for (int lora = 0; lora < 2; lora++) {
                    if (strcmp(mode, "all") && strcmp(mode, lora ? "lora" : "full")) continue;
                    if (strcmp(matmul, "all") && strcmp(matmul, bf16 ? "bf16" : "f32")) continue;
                    bc.lora = lora;
                    bc.bf16 = bf16;
                    if (in_child(run_case, &bc)) failed = 1;
                }
        }
        remove_folder(dir);
    }
    sgemm_reference("after", NULL);
    printf("{\"bench\": \"machine_end\", \"loadavg_1m\": %.2f}\n", loadavg1());
    return failed;
}
