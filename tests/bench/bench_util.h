/*
 * bench_util.h — what the plugin-level benchmarks share: clocks, peak RSS,
 * the same-run OpenBLAS sgemm reference, the two model shapes, their FLOP
 * counts (the conventions of shared/bench/README.md), and a random-weight
 * Hugging Face folder that the transformer plugin loads like a real one.
 */
#ifndef RLAIF_BENCH_UTIL_H
#define RLAIF_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* One benchmarked shape: a real model's configuration with random weights
 * and the training batch of issue 4. */
typedef struct bu_shape {
    const char *name;   /* "ts15m", "smol135m" */
    tf_config c;
    size_t batch, len;  /* training step: batch x len tokens */
} bu_shape;

/* The shape called `name`, or NULL. */
const bu_shape *bu_shape_find(const char *name);

double bu_now(void);      /* monotonic seconds */
double bu_cpu_now(void);  /* CPU seconds of the whole process */
double bu_peak_rss_mb(void);

/* OpenBLAS sgemm GFLOP/s on a square n product with `threads` threads,
 * best of `reps`; *cpu_util (may be NULL) is the CPU share the best rep
 * had (below 1: other jobs ran). */
double bu_sgemm_gflops(size_t n, int threads, int reps, double *cpu_util);

/* Matmul parameters (block Linear weights + LM head, tied or not). */
double bu_matmul_params(const tf_config *c);
/* Forward attention FLOPs per token at context ctx: 4 * layers * H*hd * ctx
 * (QK^T and PV over the full context, the PaLM / llm.c convention). */
double bu_attn_flops(const tf_config *c, double ctx);
/* Full training step FLOPs per token: 3 x (2N + attention). */
double bu_train_flops_per_token(const tf_config *c, double ctx);
/* LoRA step FLOPs per token: forward 2N + attn, backward of activations
 * only 2N + 2 attn (base weights get no gradient), adapters 6 r (in+out)
 * per adapted Linear (all seven of a Llama block). */
double bu_lora_flops_per_token(const tf_config *c, double ctx, size_t rank);

/* Writes a Hugging Face folder into dir (which must exist): config.json,
 * model.safetensors with uniform(-0.02, 0.02) weights from `seed` (norm
 * weights 1), and a llama2.c tokenizer.bin of vocab_size distinct pieces,
 * so that generated ids detokenize to text.  Returns 0, or -1 with err. */
int bu_write_random_hf(const tf_config *c, const char *dir, uint64_t seed, char *err,
                       size_t errlen);

#endif
