/*
 * bench_model.c — speed of the engine on random-weight models of two real
 * configurations, each figure next to the machine's own reference measured
 * in the same run (run with `meson test --benchmark` or directly):
 *   - sgemm: OpenBLAS GFLOP/s on a 2048² product with the same thread count;
 *   - STREAM triad GB/s (a = b + s·c over 3 × 160 MB, the engine's pool);
 *   - prefill/scoring: forward + per-token logprobs over 8 × 256 tokens,
 *     achieved GFLOP/s (matmuls + causal attention) as a fraction of sgemm,
 *     with f32 matmuls and with the opt-in bf16 matmuls (AMX tiles where the
 *     CPU has them; "amx" in the line says whether it did);
 *   - decode at batch 1: tokens/s against the bandwidth bound (weight bytes
 *     per token ÷ triad GB/s); decode at batch 8 and 16: aggregate tokens/s
 *     (the batches shared/bench/torch_ref.py measures); all
 *     with f32 weights and with the opt-in bf16 decode weights;
 *   - peak resident memory of each case (each case runs in its own child
 *     process, so ru_maxrss is that case's peak).
 * Prints one JSON line per measurement.  Usage:
 *   bench_model [--threads N] [--config ts15m|smol135m|all]
 *               [--phase prefill|decode|all] [--quick]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "forward.h"
#include "generate.h"
#include "matmul_bf16.h"

static int g_threads = 2, g_quick = 0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the whole process: with wall time it says how much of
 * the machine a measurement really had (cpu_util below 1 = other jobs ran). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Runs fn in a child process so each case has its own peak RSS. */
static void in_child(void (*fn)(const void *), const void *arg)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fn(arg);
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        printf("{\"error\": \"a benchmark child failed (status %d)\"}\n", status);
}

/* ===== References ======================================================= */

static double g_sgemm_gflops, g_triad_gbs;

static void bench_sgemm(const void *arg)
{
    (void)arg;
    size_t n = 2048;
    float *a = malloc(n * n * 4), *b = malloc(n * n * 4), *c = malloc(n * n * 4);
    for (size_t i = 0; i < n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    openblas_set_num_threads(g_threads);
    double best = 1e9, best_cpu = 0;
    for (int r = 0; r < (g_quick ? 2 : 5); r++) {
        double t = now(), cp = cpu_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1, a,
                    (int)n, b, (int)n, 0, c, (int)n);
        t = now() - t;
        cp = cpu_now() - cp;
        if (t < best) best = t, best_cpu = cp;
    }
    printf("{\"bench\": \"sgemm\", \"n\": %zu, \"threads\": %d, \"gflops\": %.1f, "
           "\"cpu_util\": %.2f}\n", n, g_threads, 2.0 * (double)n * n * n / best / 1e9,
           best_cpu / (best * g_threads));
    free(a), free(b), free(c);
}

typedef struct triad_job {
    double *a, *b, *c;
    size_t n, chunk;
} triad_job;

static void triad_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    triad_job *j = ctx;
    size_t lo = i * j->chunk, hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
    for (size_t k = lo; k < hi; k++) j->a[k] = j->b[k] + 3.0 * j->c[k];
}

static void bench_triad(const void *arg)
{
    (void)arg;
    size_t n = g_quick ? 5000000 : 20000000;
    triad_job j = {malloc(n * 8), malloc(n * 8), malloc(n * 8), n, 0};
    tf_pool *pool = tf_pool_create(g_threads);
    j.chunk = (n + (size_t)g_threads - 1) / (size_t)g_threads;
    /* First touch on the threads that will use the pages. */
    for (size_t k = 0; k < n; k++) j.a[k] = j.b[k] = j.c[k] = 1.0;
    double best = 1e9, best_cpu = 0;
    for (int r = 0; r < 10; r++) {
        double t = now(), c = cpu_now();
        tf_pool_run(pool, (size_t)g_threads, triad_task, &j);
        t = now() - t;
        c = cpu_now() - c;
        if (t < best) best = t, best_cpu = c;
    }
    printf("{\"bench\": \"stream_triad\", \"threads\": %d, \"gbs\": %.1f, \"cpu_util\": %.2f}\n",
           g_threads, 3.0 * 8.0 * (double)n / best / 1e9, best_cpu / (best * g_threads));
    tf_pool_free(pool);
    free(j.a), free(j.b), free(j.c);
}

/* ===== Models =========================================================== */

typedef struct bench_cfg {
    const char *name;
    tf_config c;
} bench_cfg;

static bench_cfg configs[2] = {
    {"ts15m", {.arch = TF_LLAMA, .dim = 288, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6,
               .head_dim = 48, .hidden_dim = 768, .vocab_size = 32000, .max_seq_len = 512,
               .norm_eps = 1e-5f, .rope_theta = 10000, .tied = 1, .bos_id = 1, .eos_id = 2}},
    {"smol135m", {.arch = TF_LLAMA, .dim = 576, .n_layers = 30, .n_heads = 9, .n_kv_heads = 3,
                  .head_dim = 64, .hidden_dim = 1536, .vocab_size = 49152, .max_seq_len = 2048,
                  .norm_eps = 1e-5f, .rope_theta = 100000, .tied = 1, .bos_id = 1, .eos_id = 2}},
};

static tf_model *random_model(const tf_config *c)
{
    tf_model *m = NULL;
    char err[256];
    if (tf_model_create(c, &m, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    uint64_t s = 1;
    for (size_t i = 0; i < m->n_params; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        m->params[i] = ((float)(s >> 40) / (float)(1u << 24) - 0.5f) * 0.1f;
    }
    /* Norm weights near 1, as in trained models. */
    for (size_t i = 0; i < m->n_tab; i++)
        if (m->tab[i].ndim == 1)
            for (size_t k = 0; k < m->tab[i].numel; k++) m->params[m->tab[i].offset + k] += 1.0f;
    return m;
}

/* Model FLOPs of a forward over sequences of `len` tokens (causal attention
 * counted as the half that is used). */
static double forward_flops(const tf_config *c, size_t n, size_t len)
{
    double D = c->dim, F = c->hidden_dim, V = c->vocab_size, hd = c->head_dim;
    double Q = (double)(c->n_heads + 2 * c->n_kv_heads) * hd, HD = c->n_heads * hd;
    double T = (double)(n * len);
    double per_tok = 2.0 * c->n_layers * (D * Q + HD * D + 3.0 * D * F) + 2.0 * D * V;
    double att = 2.0 * 2.0 * c->n_layers * HD * (double)len * (double)(len + 1) / 2.0 * (double)n;
    return per_tok * T + att;
}

typedef struct prefill_arg {
    const bench_cfg *bc;
    int bf16;
} prefill_arg;

static void bench_prefill(const void *arg)
{
    const prefill_arg *pa = arg;
    const bench_cfg *bc = pa->bc;
    tf_model *m = random_model(&bc->c);
    tf_engine e;
    char err[256];
    tf_engine_init(&e, m, g_threads, err, sizeof err);
    tf_pool_set_bf16(e.pool, pa->bf16);
    size_t B = 8, L = 256;
    int32_t *ids = malloc(B * L * sizeof *ids);
    const int32_t *seqs[8];
    size_t len[8];
    for (size_t b = 0; b < B; b++) {
        for (size_t t = 0; t < L; t++) ids[b * L + t] = (int32_t)((b * 7919 + t * 104729) % (size_t)bc->c.vocab_size);
        seqs[b] = ids + b * L;
        len[b] = L;
    }
    float *lp = malloc(B * L * sizeof *lp);
    double best = 1e9, best_cpu = 0;
    for (int r = 0; r < (g_quick ? 1 : 3); r++) {
        double t = now(), c = cpu_now();
        if (tf_forward(&e, B, seqs, len, 0, NULL, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
        tf_token_logprobs(&e, 1.0f, lp, NULL);
        t = now() - t;
        c = cpu_now() - c;
        if (t < best) best = t, best_cpu = c;
    }
    double gf = forward_flops(&bc->c, B, L) / best / 1e9;
    printf("{\"bench\": \"prefill\", \"config\": \"%s\", \"matmul\": \"%s\", \"amx\": %s, "
           "\"batch\": %zu, \"len\": %zu, \"threads\": %d, \"seconds\": %.3f, \"tokens_per_s\": %.0f, \"gflops\": %.1f, "
           "\"sgemm_gflops\": %.1f, \"fraction_of_sgemm\": %.2f, \"cpu_util\": %.2f, "
           "\"peak_rss_mb\": %.0f}\n",
           bc->name, pa->bf16 ? "bf16" : "f32",
           pa->bf16 && tf_bf16_amx_available() ? "true" : "false", B, L, g_threads, best,
           (double)(B * L) / best, gf, g_sgemm_gflops,
           gf / g_sgemm_gflops, best_cpu / (best * g_threads), peak_rss_mb());
    free(ids), free(lp);
    tf_engine_free(&e);
    tf_model_free(m);
}

/* Seconds to generate `new_tokens` greedy tokens for `batch` prompts of 32. */
static double gen_time(tf_engine *e, size_t batch, size_t new_tokens)
{
    int32_t prompt[16][32];
    const int32_t *pp[16];
    size_t len[16];
    for (size_t b = 0; b < batch; b++) {
        for (int t = 0; t < 32; t++) prompt[b][t] = (int32_t)((b * 31 + (size_t)t * 977) % 32000);
        pp[b] = prompt[b];
        len[b] = 32;
    }
    tf_gen_params p = {.temperature = 0, .top_p = 1, .max_new = new_tokens};
    int32_t *ids = malloc(batch * new_tokens * sizeof *ids);
    float *lp = malloc(batch * new_tokens * sizeof *lp);
    size_t n_new[16];
    uint8_t fin[16];
    char err[256];
    double t = now();
    if (tf_generate(e, batch, pp, len, &p, ids, lp, n_new, fin, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    t = now() - t;
    free(ids), free(lp);
    return t;
}

typedef struct decode_arg {
    const bench_cfg *bc;
    size_t batch;
    int bf16;
} decode_arg;

static void bench_decode(const void *arg)
{
    const decode_arg *da = arg;
    const bench_cfg *bc = da->bc;
    tf_model *m = random_model(&bc->c);
    tf_engine e;
    char err[256];
    tf_engine_init(&e, m, g_threads, err, sizeof err);
    if (da->bf16) tf_engine_use_bf16_decode(&e, err, sizeof err);
    size_t steps = g_quick ? 32 : 128;
    double best = 1e9, util = 0;
    for (int r = 0; r < 2; r++) {
        double c0 = cpu_now(), w0 = now();
        double t1 = gen_time(&e, da->batch, 1), tn = gen_time(&e, da->batch, steps);
        double per = (tn - t1) / (double)(steps - 1);
        if (per < best) best = per, util = (cpu_now() - c0) / ((now() - w0) * g_threads);
    }
    double tps = (double)da->batch / best;
    /* Bytes streamed per step: every weight once (the tied embedding counts
     * once, as the LM head), plus the KV cache read at the mean position. */
    const tf_config *c = &bc->c;
    double kv = 2.0 * c->n_layers * (32 + steps / 2.0) * c->n_kv_heads * c->head_dim * 4.0 *
                (double)da->batch;
    double wbytes = (double)m->n_params * (da->bf16 ? 2.0 : 4.0), bytes = wbytes + kv;
    double bound = g_triad_gbs * 1e9 / bytes;
    printf("{\"bench\": \"decode\", \"config\": \"%s\", \"weights\": \"%s\", "
           "\"batch\": %zu, \"threads\": %d, \"ms_per_step\": %.2f, \"tokens_per_s\": %.1f, "
           "\"weight_mb\": %.1f, \"triad_gbs\": %.1f",
           bc->name, da->bf16 ? "bf16" : "f32", da->batch, g_threads, best * 1e3, tps,
           wbytes * 1e-6, g_triad_gbs);
    if (da->batch == 1)
        printf(", \"bound_tokens_per_s\": %.1f, \"fraction_of_bound\": %.2f", bound, tps / bound);
    printf(", \"cpu_util\": %.2f, \"peak_rss_mb\": %.0f}\n", util, peak_rss_mb());
    tf_engine_free(&e);
    tf_model_free(m);
}

/* ===== Main ============================================================= */

/* The parent learns the reference figures by reading the children's lines
 * back through a pipe. */
static double run_reference(void (*fn)(const void *), const char *key)
{
    int fds[2];
    if (pipe(fds)) return 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        fn(NULL);
        fflush(stdout);
        _exit(0);
    }
    close(fds[1]);
    char buf[1024] = "";
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    buf[n > 0 ? n : 0] = 0;
    fputs(buf, stdout);
    const char *p = strstr(buf, key);
    return p ? atof(p + strlen(key)) : 0;
}

int main(int argc, char **argv)
{
    const char *which = "all", *phase = "all";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            g_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--config") && i + 1 < argc)
            which = argv[++i];
        else if (!strcmp(argv[i], "--phase") && i + 1 < argc)
            phase = argv[++i];
        else if (!strcmp(argv[i], "--quick"))
            g_quick = 1;
    }
    if (g_threads < 1) g_threads = 1;
    printf("{\"bench\": \"machine\", \"threads\": %d, \"online_cpus\": %ld, \"note\": \"shared "
           "machine: other jobs may run at the same time\"}\n",
           g_threads, sysconf(_SC_NPROCESSORS_ONLN));
    g_sgemm_gflops = run_reference(bench_sgemm, "\"gflops\": ");
    g_triad_gbs = run_reference(bench_triad, "\"gbs\": ");
    for (int k = 0; k < 2; k++) {
        if (strcmp(which, "all") && strcmp(which, configs[k].name)) continue;
        int pre = !strcmp(phase, "all") || !strcmp(phase, "prefill");
        int dec = !strcmp(phase, "all") || !strcmp(phase, "decode");
        for (int bf16 = 0; pre && bf16 < 2; bf16++) {
            prefill_arg pa = {&configs[k], bf16};
            in_child(bench_prefill, &pa);
        }
        for (int bf16 = 0; dec && bf16 < 2; bf16++) {
            static const size_t batches[] = {1, 8, 16};
            for (size_t i = 0; i < 3; i++) {
                decode_arg d = {&configs[k], batches[i], bf16};
                in_child(bench_decode, &d);
            }
        }
    }
    return 0;
}
