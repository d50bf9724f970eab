/*
 * generate.h — batched KV-cache generation and sampling.
 *
 * Prompts of different lengths share one batch: a single flat prefill
 * fills each sequence's cache slot, then every step decodes one token for
 * each still-active sequence at its own position.  Each sequence samples
 * from its own counter-based random stream (key = its seed, counter = the
 * step), so a sample depends only on (seed, prompt, settings), never on
 * which other sequences share the batch.
 */
#ifndef TF_GENERATE_H
#define TF_GENERATE_H

#include "forward.h"

/* Nonzero when sequence b should stop after its n new tokens `ids`. */
typedef int (*tf_stop_fn)(void *ctx, size_t b, const int32_t *ids, size_t n);

typedef struct tf_gen_params {
    float temperature;        /* 0 = greedy */
    int top_k;                /* 0 = off */
    float top_p;              /* >= 1 = off */
    size_t max_new;
    const int32_t *stop_ids;  /* a sampled stop id ends the sequence (and is kept) */
    size_t n_stop_ids;
    uint64_t seed;            /* sequence b's key is mix(seed, b) ... */
    const uint64_t *seeds;    /* ... or seeds[b] (OPTIONAL) */
    tf_stop_fn stop_fn;       /* OPTIONAL: stop strings */
    void *stop_ctx;
    int (*cancelled)(void *ctx); /* OPTIONAL */
    void *cancel_ctx;
} tf_gen_params;

/* Outputs (caller-allocated): ids and logprobs [n * max_new] (sequence b
 * at b*max_new), n_new [n], finish [n] (RLAIF_FINISH_*).  logprobs: log p
 * of each sampled token under softmax(logits / temperature) before top-k/p
 * (temperature 1 when greedy). */
rlaif_status tf_generate(tf_engine *e, size_t n, const int32_t *const *prompts, const size_t *len,
                         const tf_gen_params *p, int32_t *ids, float *logprobs, size_t *n_new,
                         uint8_t *finish, char *err, size_t errlen);

/* Exposed for tests: one uniform draw in [0,1) of stream `key` at `counter`. */
double tf_rng_uniform(uint64_t key, uint64_t counter);
/* Samples from one row of logits; returns the token, *logprob as above.
 * probs/idx are scratch of V entries. */
int32_t tf_sample(const float *logits, size_t V, const tf_gen_params *p, double u, float *probs,
                  int32_t *idx, float *logprob);

#endif
