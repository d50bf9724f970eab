/*
 * forward.h — the engine: full-sequence forward over a flat ragged batch,
 * with the activations backward needs kept in one reusable arena; the KV
 * cache and the one-token decode step used by generation.
 *
 * ACTIVATION LAYOUT (tf_acts, filled by tf_forward).  A batch is n
 * sequences laid out flat: sequence b holds tokens off[b] .. off[b+1]-1,
 * T = off[n] tokens in all, len_b = off[b+1]-off[b], positions restart at 0
 * in every sequence.  With keep=1 every layer l has its own buffers:
 *   x_in   [T,D]  residual stream entering layer l (layers[0].x_in = embeddings
 *                 (+ positions for gpt2); layers[l+1].x_in is layer l's output)
 *   xn1    [T,D]  first norm output (input of wqkv)
 *   mean1  [T]    layernorm mean (gpt2; NULL for rmsnorm)
 *   rstd1  [T]    1/sqrt(var+eps) (layernorm) or 1/rms (rmsnorm)
 *   qkv    [T,Q]  q|k|v projections, bias added, q and k AFTER RoPE
 *                 (RoPE is a rotation: its backward rotates the gradient back)
 *   att    per sequence b at att + att_off[b]: [H, len_b, len_b] softmax
 *          probabilities (0 above the diagonal)
 *   ao     [T,H*hd] attention output, input of wo
 *   x_mid  [T,D]  residual after attention (x_in + ao·woᵀ (+ bo))
 *   xn2, mean2, rstd2   second norm, as above (input of w_up)
 *   up     llama/qwen2: [T,2F] gate|up pre-activations; gpt2: [T,F] c_fc + bias
 *   act    [T,F]  silu(gate)*up or gelu(up): input of w_down
 * then
 *   x_out  [T,D]  residual after the last layer (== layers[L].x_in conceptually)
 *   xf     [T,D]  final norm output: the hidden state every head reads
 *   meanf, rstdf [T]   final norm statistics (meanf NULL for rmsnorm)
 * Logits: scoring makes them in row chunks (tf_logits_rows), so a [T,V]
 * matrix is never needed.  With keep=1 and T·V <= TF_KEEP_LOGITS_MAX the
 * arena also has
 *   logits_all [T,V]  raw logits (before the temperature), filled by
 *                     tf_token_logprobs; logits_valid says they are there
 *                     (a forward that asked for no logprob/entropy leaves it 0)
 * so the backward can read them (tf_bwd_ws.kept_logits) instead of
 * recomputing xf·lm_headᵀ; otherwise logits_all is NULL.
 * With keep=0 all layers alias one set of buffers and x_in/x_mid/x_out
 * alias one residual buffer (updated in place).
 * With keep=1 on a lean engine (tf_engine.lean) xn1, xn2 and act are not
 * kept: every layer's xn1 and xn2 alias one [T,D] buffer and act one [T,F]
 * buffer, and the backward recomputes them from x_in, x_mid and up (the same
 * kernels on the same inputs: the same bits).  That is 2D+F floats a token a
 * layer less, for an elementwise pass per layer in the backward.
 *
 * LOW-RANK ADAPTERS (tf_adapter, LoRA).  With adapters attached
 * (tf_engine_set_adapters) every block Linear y = x Wᵀ that carries one also
 * adds, on the adapted module's output columns [col, col+out) of the fused
 * output (q|k|v or gate|up: model.h),
 *     y[:, col:col+out] += u Bᵀ,   u = s x Aᵀ [T,r]
 * in tf_forward and in tf_decode_step; W itself is never changed.  A keep=1
 * forward keeps every adapter's u for the backward:
 *   lora_u [sum of r over the adapters, T]  adapter i's u at lora_u + u_off·T
 * (keep=0: one [T, max r] buffer that every adapter reuses).
 */
#ifndef TF_FORWARD_H
#define TF_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "model.h"
#include "pool.h"

/* Which Linear of a block an adapter sits on (the fused matrices of model.h). */
typedef enum tf_lin { TF_LIN_QKV = 0, TF_LIN_O = 1, TF_LIN_UP = 2, TF_LIN_DOWN = 3 } tf_lin;

/* One low-rank adapter: module rows [col, col+out) of layer `layer`'s
 * Linear `lin` (in inputs).  The engine reads a, b and s, and the backward
 * accumulates into ga and gb (NULL: no gradient wanted). */
typedef struct tf_adapter {
    int layer;
    tf_lin lin;
    size_t col, in, out, r;
    float s;               /* the scale alpha/r (or alpha/sqrt(r)) */
    const float *a;        /* A [r, in] */
    const float *b;        /* B [out, r] */
    float *ga, *gb;        /* dA [r, in], dB [out, r], accumulated */
    size_t u_off;          /* set by tf_engine_set_adapters: sum of r before it */
} tf_adapter;

typedef struct tf_layer_acts {
    float *x_in, *xn1, *mean1, *rstd1, *qkv, *att, *ao, *x_mid, *xn2, *mean2, *rstd2, *up, *act;
} tf_layer_acts;

typedef struct tf_acts {
    int keep;              /* layers have their own buffers */
    size_t n;              /* sequences */
    size_t T;              /* tokens */
    size_t *off;           /* [n+1] */
    int32_t *ids;          /* [T] copy of the batch's tokens */
    int32_t *pos;          /* [T] position of each token */
    size_t *att_off;       /* [n] offset of sequence b's probabilities inside att */
    size_t att_size;       /* sum_b H*len_b² */
    tf_layer_acts *layers; /* [L] */
    float *x_out, *xf, *meanf, *rstdf;
    float *scratch;        /* per thread: attention scores [ATT_QBLOCK*max len] */
    size_t scratch_per_thread;
    float *logits;         /* [TF_LOGIT_ROWS, V] chunk buffer */
    float *logits_all;     /* [T, V] kept raw logits or NULL (see above) */
    int logits_valid;      /* logits_all holds this forward's logits */
    int lean;              /* xn1, xn2, act are shared, not kept (see above) */
    float *lora_u;         /* adapters' u (see above) or NULL without adapters */
    /* the arena */
    float *mem;
    size_t cap;            /* floats */
    size_t meta_cap;       /* capacity of off/ids/pos/att_off */
} tf_acts;

/* Rows of logits computed at a time by tf_logits_rows' callers. */
#define TF_LOGIT_ROWS 256
/* Largest T·V (floats) of logits a keep=1 forward holds for backward (512 MB). */
#define TF_KEEP_LOGITS_MAX ((size_t)128 << 20)

typedef struct tf_kv {
    size_t n_slots, max_len;
    float *k, *v;          /* [L, n_slots, max_len, KV*hd] */
    size_t cap;            /* floats allocated in each of k and v */
} tf_kv;

/* Scratch of the decode step, sized for up to max_rows rows. */
typedef struct tf_decode_buf {
    size_t max_rows, max_len;
    float *x, *xn, *qkv, *ao, *up, *act, *scores, *logits;
    float *u;              /* [max_rows, adapter rank]: the adapters' x Aᵀ */
    float *mem;
    size_t cap;            /* floats */
} tf_decode_buf;

/* bf16 copies of the matrices the decode step streams (llama family). */
typedef struct tf_w16_layer {
    uint16_t *wqkv, *wo, *w_up, *w_down;
} tf_w16_layer;

typedef struct tf_engine {
    tf_model *m;
    tf_pool *pool;
    int n_threads;
    float *rope_cos, *rope_sin;  /* [P, hd/2] */
    tf_acts acts;
    tf_kv kv;                    /* generation's cache and decode scratch, */
    tf_decode_buf dec;           /* kept between calls and only ever grown */
    /* Opt-in: the decode step reads bf16 copies of its weight matrices
     * (half the bytes per token; prefill and scoring stay f32).  The copies
     * are remade when m->version moves (tf_engine_sync_bf16). */
    int decode_bf16;
    uint16_t *w16;               /* one allocation */
    tf_w16_layer *w16_layers;    /* [L] views */
    uint16_t *w16_lm;            /* [V,D] */
    uint64_t w16_version;
    int w16_ready;
    /* LoRA adapters applied inside the Linear layers (NULL: none), see
     * above; the table belongs to the caller. */
    tf_adapter *ad;
    size_t n_ad;
    size_t ad_r_sum, ad_r_max;
    /* keep=1 forwards keep the lean layout (see above). */
    int lean;
} tf_engine;

rlaif_status tf_engine_init(tf_engine *e, tf_model *m, int n_threads, char *err, size_t errlen);

/* Turns bf16 decode weights on (llama/qwen2 only: RLAIF_E_UNSUPPORTED for
 * gpt2) and makes the copies.  Attached adapters are still added in f32 on
 * top of the bf16 base products. */
rlaif_status tf_engine_use_bf16_decode(tf_engine *e, char *err, size_t errlen);
/* Remakes the bf16 copies when the model's version moved (generate calls it). */
void tf_engine_sync_bf16(tf_engine *e);
/* Attaches the adapters ad[0..n-1] (sorted by layer; NULL or n = 0 detaches
 * them) and sets their u_off.  The table must stay valid while attached;
 * its A and B may change between calls (they are read, never copied).  The
 * kept activations of an earlier forward are no longer valid. */
void tf_engine_set_adapters(tf_engine *e, tf_adapter *ad, size_t n);
/* Frees the engine's buffers and pool (not the model). */
void tf_engine_free(tf_engine *e);

/* Forward over n sequences (ids[b][0..len[b]-1]).  Fills e->acts (see the
 * layout above).  When kv is given, each sequence's keys and values are also
 * written to cache slot b at positions 0..len[b]-1.  Errors: empty
 * sequence, token out of range, sequence longer than max_seq_len (each
 * naming the sequence). */
rlaif_status tf_forward(tf_engine *e, size_t n, const int32_t *const *ids, const size_t *len,
                        int keep, tf_kv *kv, char *err, size_t errlen);

/* logits[rows, V] = xf[rows] · lm_headᵀ  for `rows` rows of hidden states
 * x (ld D). */
void tf_logits_rows(tf_engine *e, float *logits, const float *x, size_t rows);

/* After tf_forward: per-token log p(ids[t+1] | ..t) and entropy of the
 * next-token distribution at every flat position t, logits divided by
 * `temperature`; 0 at each sequence's last position.  Either output may be
 * NULL.  Logits are made TF_LOGIT_ROWS rows at a time. */
void tf_token_logprobs(tf_engine *e, float temperature, float *logprobs, float *entropy);

/* Lays out a KV cache for n_slots sequences of up to max_len tokens,
 * growing the allocation only when it is too small (zero-initialise a
 * tf_kv before its first use; contents are not kept across reserves). */
rlaif_status tf_kv_reserve(tf_kv *kv, const tf_config *c, size_t n_slots, size_t max_len,
                           char *err, size_t errlen);
void tf_kv_free(tf_kv *kv);

/* The same for the decode step's scratch (rows <= max_rows, contexts <= max_len,
 * adapters of rank <= max_r). */
rlaif_status tf_decode_buf_reserve(tf_decode_buf *d, const tf_config *c, size_t max_rows,
                                   size_t max_len, size_t max_r, int n_threads, char *err,
                                   size_t errlen);
void tf_decode_buf_free(tf_decode_buf *d);

/* One decode step for n rows: row i feeds token tok[i] at position pos[i]
 * of cache slot slot[i] (its earlier positions already cached).  Writes
 * logits [n, V] to d->logits. */
void tf_decode_step(tf_engine *e, tf_kv *kv, tf_decode_buf *d, size_t n, const size_t *slot,
                    const int32_t *tok, const int32_t *pos);

#endif
