/*
 * bench_util.c — clocks, RSS, the sgemm reference, FLOP counts and the
 * random-weight Hugging Face folder of the plugin-level benchmarks.
 */
#include "bench_util.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine_io.h"

/* ===== Shapes =========================================================== */

static const bu_shape shapes[] = {
    {"ts15m",
     {.arch = TF_LLAMA, .dim = 288, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6, .head_dim = 48,
      .hidden_dim = 768, .vocab_size = 32000, .max_seq_len = 512, .norm_eps = 1e-5f,
      .rope_theta = 10000.0f, .tied = 1, .bos_id = 1, .eos_id = 2, .pad_id = -1},
     8, 256},
    {"smol135m",
     {.arch = TF_LLAMA, .dim = 576, .n_layers = 30, .n_heads = 9, .n_kv_heads = 3, .head_dim = 64,
      .hidden_dim = 1536, .vocab_size = 49152, .max_seq_len = 2048, .norm_eps = 1e-5f,
      .rope_theta = 100000.0f, .tied = 1, .bos_id = 1, .eos_id = 2, .pad_id = -1},
     4, 256},
};

const bu_shape *bu_shape_find(const char *name)
{
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (!strcmp(shapes[i].name, name)) return &shapes[i];
    return NULL;
}

/* ===== Clocks and memory ================================================ */

double bu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bu_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bu_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* ===== sgemm reference ================================================== */

double bu_sgemm_gflops(size_t n, int threads, int reps, double *cpu_util)
{
    float *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b);
    float *c = malloc(n * n * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
    for (size_t i = 0; i < n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f, c[i] = 0;
    openblas_set_num_threads(threads);
    double best = 1e30, best_cpu = 0;
    /* One untimed call first: OpenBLAS starts its threads and the pages
     * of c get touched. */
    for (int r = 0; r <= reps; r++) {
        double t = bu_now(), cp = bu_cpu_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, a,
                    (int)n, b, (int)n, 0.0f, c, (int)n);
        t = bu_now() - t, cp = bu_cpu_now() - cp;
        if (r > 0 && t < best) best = t, best_cpu = cp;
    }
    free(a), free(b), free(c);
    if (cpu_util) *cpu_util = best_cpu / (best * threads);
    return 2.0 * (double)n * (double)n * (double)n / best * 1e-9;
}

/* ===== FLOPs ============================================================ */

/* in + out summed over the seven Linears of one Llama block, and their
 * weight count: the adapters of a rank-r LoRA hold r (in + out) each. */
static void block_linears(const tf_config *c, double *weights, double *in_plus_out)
{
    double D = c->dim, F = c->hidden_dim, Q = (double)c->n_heads * c->head_dim;
    double KV = (double)c->n_kv_heads * c->head_dim;
    *weights = D * Q + 2.0 * D * KV + Q * D + 3.0 * D * F;
    *in_plus_out = (D + Q) + 2.0 * (D + KV) + (Q + D) + 2.0 * (D + F) + (F + D);
}

double bu_matmul_params(const tf_config *c)
{
    double w, io;
    block_linears(c, &w, &io);
    return (double)c->n_layers * w + (double)c->dim * (double)c->vocab_size;
}

double bu_attn_flops(const tf_config *c, double ctx)
{
    return 4.0 * (double)c->n_layers * (double)c->n_heads * (double)c->head_dim * ctx;
}

double bu_train_flops_per_token(const tf_config *c, double ctx)
{
    return 3.0 * (2.0 * bu_matmul_params(c) + bu_attn_flops(c, ctx));
}

double bu_lora_flops_per_token(const tf_config *c, double ctx, size_t rank)
{
    double w, io;
    block_linears(c, &w, &io);
    double adapters = 6.0 * (double)rank * io * (double)c->n_layers;
    return 4.0 * bu_matmul_params(c) + 3.0 * bu_attn_flops(c, ctx) + adapters;
}

/* ===== Random Hugging Face folder ======================================= */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void put_i32(FILE *f, int32_t v) { fwrite(&v, 4, 1, f); }

/* llama2.c layout: max_token_length, then (score, length, bytes) per id.
 * Ids 0-2 unk/BOS/EOS, 3-258 the byte tokens, then " t<id>" pieces: every
 * id is distinct and prints as a short word. */
static int write_tokenizer(const char *path, int vocab, char *err, size_t errlen)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create", path);
        return -1;
    }
    put_i32(f, 16);
    for (int id = 0; id < vocab; id++) {
        char piece[32];
        if (id < 3)
            snprintf(piece, sizeof piece, "%s", id == 0 ? "<unk>" : id == 1 ? "\n<s>\n" : "\n</s>\n");
        else if (id < 259)
            snprintf(piece, sizeof piece, "<0x%02X>", id - 3);
        else
            snprintf(piece, sizeof piece, " t%d", id);
        float score = id < 259 ? 0.0f : -(float)id;
        int32_t len = (int32_t)strlen(piece);
        fwrite(&score, 4, 1, f);
        put_i32(f, len);
        fwrite(piece, 1, (size_t)len, f);
    }
    if (fclose(f)) {
        snprintf(err, errlen, "%s: write failed", path);
        return -1;
    }
    return 0;
}

int bu_write_random_hf(const tf_config *c, const char *dir, uint64_t seed, char *err,
                       size_t errlen)
{
    tf_model *m = NULL;
    if (tf_model_create(c, &m, err, errlen)) return -1;
    uint64_t s = seed;
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] = ((float)(splitmix(&s) >> 40) / (float)(1u << 24) - 0.5f) * 0.04f;
    for (size_t i = 0; i < m->n_tab; i++)
        if (m->tab[i].ndim == 1) /* norm weights near 1, as in trained models */
            for (size_t k = 0; k < m->tab[i].numel; k++) m->params[m->tab[i].offset + k] = 1.0f;
    char path[4200];
    int rc = 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (tf_save_config(c, STW_F32, path, err, errlen)) rc = -1;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!rc && tf_save_safetensors(m, path, STW_F32, err, errlen)) rc = -1;
    snprintf(path, sizeof path, "%s/tokenizer.bin", dir);
    if (!rc && write_tokenizer(path, c->vocab_size, err, errlen)) rc = -1;
    tf_model_free(m);
    return rc;
}
