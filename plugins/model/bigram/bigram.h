/*
 * bigram.h — internals of model/bigram, a tiny trainable byte-level model.
 *
 * The model is a bigram table: the next-token logits after token a are the
 * row W[a] of a V x V matrix.  Two optional heads read the same tokens:
 *   value head   v_t = Vh[ids[t]] + vb            (one number per position)
 *   score head   s   = S[ids[len-1]] + sb         (pool "last"), or
 *                s   = mean_t S[ids[t]] + sb      (pool "mean")
 * Tokens: 0..255 are bytes, 256 is BOS, 257 is EOS (V = 258).
 *
 * It is small enough that every gradient is exact and cheap, which makes it
 * the test bed of the training algorithms (plugins/optimizer) and of anything
 * that drives a model through the vtable.  Split from the plugin glue so the
 * tests can reach the parameters directly (finite-difference checks).
 *
 * Shapes: V = vocabulary (258).  All parameters live in one allocation laid
 * out as [W (V*V) | Vh (V) | vb (1) | S (V) | sb (1)]; gradients and the two
 * AdamW moments use the same layout.  Backward *accumulates* into grads.
 */
#ifndef RLAIF_BIGRAM_H
#define RLAIF_BIGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "rlaif/plugin.h"

#define BIGRAM_V 258
#define BIGRAM_BOS 256
#define BIGRAM_EOS 257

/* Offsets of each tensor inside the flat parameter array. */
#define BIGRAM_OFF_W 0
#define BIGRAM_OFF_VH ((size_t)BIGRAM_V * BIGRAM_V)
#define BIGRAM_OFF_VB (BIGRAM_OFF_VH + BIGRAM_V)
#define BIGRAM_OFF_S (BIGRAM_OFF_VB + 1)
#define BIGRAM_OFF_SB (BIGRAM_OFF_S + BIGRAM_V)
#define BIGRAM_N_PARAMS (BIGRAM_OFF_SB + 1)

enum bigram_pool { BIGRAM_POOL_LAST = 0, BIGRAM_POOL_MEAN = 1 };

/* What the last forward with RLAIF_OUT_KEEP saw: a copy of the token ids and
 * lengths, enough to recompute every softmax in backward (a row is only V
 * floats, so recomputing is cheaper than storing T x V probabilities). */
typedef struct bigram_kept {
    int valid;
    size_t n;           /* sequences */
    size_t total;       /* sum of lengths */
    size_t cap_n, cap_total;
    int32_t *ids;       /* [total] flat */
    size_t *len;        /* [n] */
    float temperature;
} bigram_kept;

typedef struct bigram {
    float *params;      /* [BIGRAM_N_PARAMS] */
    float *grads;       /* [BIGRAM_N_PARAMS], zero unless backward ran */
    float *m, *v;       /* AdamW moments, allocated at the first step */
    uint64_t steps;     /* AdamW steps taken */
    int has_value_head, has_score_head;
    enum bigram_pool pool;
    int frozen;         /* a reference view: no backward, no step */
    int32_t max_seq_len;
    bigram_kept kept;
    float *row;         /* [V] scratch for one softmax row */
    float *row2;        /* [V] scratch (sampling) */
    int32_t *order;     /* [V] scratch (top-k/top-p sorting) */
} bigram;

/* ---- lifecycle (bigram.c) --------------------------------------------- */

/* Allocates a model; W ~ init_std * N(0,1) drawn from `seed` (init_std 0:
 * zeros), heads start at zero.  NULL on out of memory. */
bigram *bigram_new(uint64_t seed, double init_std, int value_head, int score_head,
                   enum bigram_pool pool, int32_t max_seq_len);
void bigram_free(bigram *m);

/* A frozen snapshot copy of the weights (the reference view). */
bigram *bigram_snapshot(const bigram *m);

/* ---- math (bigram.c) --------------------------------------------------- */

/* Checks ids are in range and lengths within max_seq_len; message names the
 * sequence and position. */
rlaif_status bigram_check_seqs(const bigram *m, const rlaif_seqs *s, char *err, size_t errlen);

/* Fills the outputs `want` asks for (see rlaif_outputs), and with
 * RLAIF_OUT_KEEP remembers the batch for bigram_backward. */
rlaif_status bigram_forward(bigram *m, const rlaif_seqs *s, uint32_t want, float temperature,
                            rlaif_outputs *out, char *err, size_t errlen);

/* Accumulates dL/dparams from dL/d(outputs) of the kept forward. */
rlaif_status bigram_backward(bigram *m, const rlaif_outputs *g, char *err, size_t errlen);

/* log-softmax of W[prev] / temperature into out[V]; returns the entropy. */
double bigram_log_softmax_row(const bigram *m, int32_t prev, float temperature, float *out);

/* One AdamW update from the accumulated gradients, then zero them. */
rlaif_status bigram_step(bigram *m, const rlaif_step_params *p, rlaif_step_result *out,
                         char *err, size_t errlen);
void bigram_zero_grad(bigram *m);

/* ---- generation (bigram_generate.c) ------------------------------------ */

rlaif_status bigram_generate(bigram *m, const rlaif_seqs *prompts, const rlaif_sampling *s,
                             rlaif_generation *out, char *err, size_t errlen);

/* ---- files (bigram_io.c) ------------------------------------------------ */

/* Weights go to dir/bigram.bin, AdamW state to dir/bigram_train.bin; both
 * are written to a temporary name and renamed. */
rlaif_status bigram_save(const bigram *m, const char *dir, uint32_t what, char *err,
                         size_t errlen);
/* Loads whichever of the two files exist in dir (at least one must). */
rlaif_status bigram_load(bigram *m, const char *dir, char *err, size_t errlen);

#endif
