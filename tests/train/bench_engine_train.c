/*
 * bench_engine_train.c — a full training step on the engine: forward with
 * kept activations, per-token logprobs (the LM head in row chunks, as the
 * plugin's forward computes them), tf_train_backward of the mean loss,
 * AdamW.  Random weights in two real shapes:
 *   15m   TinyStories-15M: dim 288, 6 layers, 6 heads, hidden 768, vocab 32000, batch 8 x 256
 *   135m  SmolLM2-135M: dim 576, 30 layers, 9 heads / 3 kv, hidden 1536, vocab 49152, batch 4 x 256
 * Reported as model-FLOPs utilisation against an sgemm measured in the
 * same run with the same number of threads:
 *   utilisation = 3 x (2 x matmul params + attention) x tokens/s / sgemm FLOP/s
 * (attention = QK^T and PV over all T keys, 4 x T x H x hd per token and layer).
 *
 * Usage: bench_engine_train [15m|135m] [steps] [threads]   (defaults 15m 3 2)
 * Prints one JSON line.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine_bwd.h"
#include "engine_io.h"
#include "train_util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* sgemm GFLOP/s on the engine's own matmul path (its pool, OpenBLAS
 * single-threaded inside), n x n x n, best of reps. */
static double sgemm_gflops(tf_pool *pool, size_t n, int reps)
{
    tu_rng g;
    tu_rng_seed(&g, 7);
    float *a = tu_alloc_fill(&g, n * n, -0.5f, 0.5f), *b = tu_alloc_fill(&g, n * n, -0.5f, 0.5f);
    float *c = tu_zeros(n * n);
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now_s();
        tf_matmul(pool, c, n, a, n, 0, b, n, 1, n, n, n, 0);
        double dt = now_s() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    free(a), free(b), free(c);
    return 2.0 * (double)n * (double)n * (double)n / best * 1e-9;
}

int main(int argc, char **argv)
{
    int big = argc > 1 && strcmp(argv[1], "135m") == 0;
    int steps = argc > 2 ? atoi(argv[2]) : 3;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    if (steps < 1) steps = 1;
    tf_config c = {.arch = TF_LLAMA, .dim = 288, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6,
                   .head_dim = 48, .hidden_dim = 768, .vocab_size = 32000, .max_seq_len = 256,
                   .norm_eps = 1e-5f, .rope_theta = 10000.0f, .tied = 1, .bos_id = 1, .eos_id = 2,
                   .pad_id = -1};
    size_t B = 8, T = 256;
    if (big) {
        c.dim = 576, c.n_layers = 30, c.n_heads = 9, c.n_kv_heads = 3, c.head_dim = 64;
        c.hidden_dim = 1536, c.vocab_size = 49152, c.max_seq_len = 2048;
        B = 4;
    }
    char err[256];
    tf_model *m;
    if (tf_model_create(&c, &m, err, sizeof err) || tf_model_alloc_grads(m, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    tu_rng g;
    tu_rng_seed(&g, 1);
    tu_fill(&g, m->params, m->n_params, -0.02f, 0.02f);
    for (size_t i = 0; i < m->n_tab; i++)
        if (m->tab[i].ndim == 1)
            for (size_t j = 0; j < m->tab[i].numel; j++) m->params[m->tab[i].offset + j] = 1.0f;
    tf_engine e;
    if (tf_engine_init(&e, m, threads, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    size_t N = B * T, V = (size_t)c.vocab_size, D = (size_t)c.dim;
    int32_t *ids = malloc(N * sizeof(int32_t));
    for (size_t i = 0; i < N; i++) ids[i] = (int32_t)(tu_uniform(&g, 0, 1) * (float)V) % (int32_t)V;
    const int32_t **seqs = malloc(B * sizeof *seqs);
    size_t *len = malloc(B * sizeof *len);
    for (size_t b = 0; b < B; b++) seqs[b] = ids + b * T, len[b] = T;
    float *lp = tu_zeros(N), *dlp = tu_zeros(N);
    for (size_t i = 0; i < N; i++) dlp[i] = -1.0f / (float)(B * (T - 1));
    float *logits = malloc(TF_LOGIT_ROWS * V * sizeof(float));

    adamw_tensor *at = calloc(m->n_tab, sizeof *at);
    size_t nt = tf_adamw_tensors(m, NULL, at);
    adamw_state opt;
    adamw_init(&opt, m->n_params);
    adamw_params hp = adamw_params_default();
    hp.lr = 1e-4f;
    hp.max_grad_norm = 1.0f;
    tf_bwd_ws ws = {0};
    rlaif_outputs d = {.struct_size = sizeof d, .logprobs = dlp};

    double sgemm = sgemm_gflops(e.pool, 2048, 3);
    /* Two variants in the same run: the LM head recomputed in the backward
     * (logits never held), and the forward's [N,V] logits kept for it. */
    float *kept = malloc(N * V * sizeof(float));
    for (int keep = 0; keep < 2; keep++) {
    ws.kept_logits = keep ? kept : NULL;
    double t_fwd = 0, t_lp = 0, t_bwd = 0, t_opt = 0, best = 1e30, loss = 0;
    for (int s = 0; s < steps + 1; s++) { /* step 0 warms up */
        double t0 = now_s();
        memset(m->grads, 0, m->n_params * sizeof(float));
        if (tf_forward(&e, B, seqs, len, 1, NULL, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        double t1 = now_s();
        double sum = 0;
        if (keep) tf_logits_rows(&e, kept, e.acts.xf, N);
        for (size_t r0 = 0; r0 < N; r0 += TF_LOGIT_ROWS) {
            size_t rows = N - r0 < TF_LOGIT_ROWS ? N - r0 : TF_LOGIT_ROWS;
            float *lg = keep ? kept + r0 * V : logits;
            if (!keep) tf_logits_rows(&e, logits, e.acts.xf + r0 * D, rows);
            for (size_t i = 0; i < rows; i++) {
                size_t t = r0 + i;
                int32_t tgt = (t % T) + 1 < T ? ids[t + 1] : -1;
                tf_logits_stats(lg + i * V, V, 1.0f, tgt, &lp[t], NULL);
                if (tgt >= 0) sum += lp[t];
            }
        }
        loss = -sum / (double)(B * (T - 1));
        double t2 = now_s();
        if (tf_train_backward(&e, &m->g, &d, 1.0f, &ws, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        double t3 = now_s();
        if (adamw_step(&opt, m->params, m->grads, at, nt, &hp, NULL, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        double t4 = now_s();
        if (s == 0) continue;
        t_fwd += t1 - t0, t_lp += t2 - t1, t_bwd += t3 - t2, t_opt += t4 - t3;
        if (t4 - t0 < best) best = t4 - t0;
    }
    /* sgemm again after the steps: on a shared machine the best of the
     * measurements keeps the ratio conservative. */
    double sgemm2 = sgemm_gflops(e.pool, 2048, 3);
    if (sgemm2 > sgemm) sgemm = sgemm2;
    /* matmul parameters: every layer matrix plus the LM head */
    double mat = 0;
    for (size_t i = 0; i < m->n_tab; i++)
        if (m->tab[i].is_matrix && strstr(m->tab[i].name, "layers.")) mat += (double)m->tab[i].numel;
    mat += (double)V * (double)D;
    double attn = 4.0 * (double)T * (double)(c.n_heads * c.head_dim) * (double)c.n_layers;
    double flops_step = 3.0 * (2.0 * mat + attn) * (double)N;
    double gflops = flops_step / best * 1e-9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"bench\":\"engine_train_step\",\"lm_head\":\"%s\",\"model\":\"%s\",\"params\":%zu,\"batch\":%zu,"
           "\"seq\":%zu,\"threads\":%d,\"steps\":%d,\"loss\":%.4f,\"best_step_ms\":%.1f,"
           "\"fwd_ms\":%.1f,\"logprob_ms\":%.1f,\"bwd_ms\":%.1f,\"adamw_ms\":%.1f,"
           "\"tokens_per_s\":%.0f,\"model_gflops\":%.1f,\"sgemm_gflops\":%.1f,\"mfu\":%.3f,"
           "\"peak_rss_mb\":%.0f}\n",
           keep ? "kept_logits" : "recomputed", big ? "smollm2-135M-shape" : "tinystories-15M-shape",
           m->n_params, B, T, threads, steps,
           loss, best * 1e3, t_fwd / steps * 1e3, t_lp / steps * 1e3, t_bwd / steps * 1e3,
           t_opt / steps * 1e3, (double)N / best, gflops, sgemm, gflops / sgemm,
           (double)ru.ru_maxrss / 1024.0);
    }
    free(kept);
    tf_bwd_ws_free(&ws);
    adamw_free(&opt);
    free(at), free(logits), free(lp), free(dlp), free(ids), free(seqs), free(len);
    tf_engine_free(&e);
    tf_model_free(m);
    return 0;
}
