/*
 * engine_bwd.h — the backward pass of the engine's forward (forward.c):
 * given dL/d(outputs) of the last tf_forward(keep = 1), accumulate the
 * gradients of every parameter.
 *
 * It reads the activations tf_forward kept in e->acts (layout in
 * forward.h) and walks the forward in exact reverse order with the train
 * kernels (kernels_bwd.h); every matrix product goes through the engine's
 * tf_matmul on the engine's pool, and the attention and activation
 * backwards are split over the same pool.
 *
 * What the gradient arrays mean is rlaif_outputs' contract (plugin.h):
 * flat per-token arrays over the batch, logprobs[t] = log p(ids[t+1] | ..t)
 * at the temperature of the forward, entropy[t] of that distribution,
 * values[t] = value head on the final hidden state, score[b] = score head at
 * the last token of sequence b; the entries at t = len-1 of logprobs and
 * entropy are ignored; a NULL array has zero gradient.
 *
 * LoRA adapters attached to the engine (tf_engine_set_adapters) are part of
 * the forward: their gradients accumulate into each adapter's ga/gb, and dx
 * flows through the frozen W and the adapter path.  A frozen W (a NULL
 * member of the gradient view) costs only its dx product, never a dW.  A
 * lean forward's xn1, xn2 and act are recomputed layer by layer.
 */
#ifndef RLAIF_TRAIN_ENGINE_BWD_H
#define RLAIF_TRAIN_ENGINE_BWD_H

#include <stddef.h>
#include <stdint.h>

#include "forward.h"
#include "model.h"
#include "rlaif/plugin.h"

/* Rows of the LM head processed at once in the backward (logits of only
 * the rows that carry a gradient are recomputed, this many at a time). */
#define TFB_LOGIT_ROWS 256

/* The backward's own buffers, grown on demand and kept between calls (no
 * allocation in the steady state).  Zero-initialise; free with
 * tf_bwd_ws_free. */
typedef struct tf_bwd_ws {
    float *mem;
    size_t cap;           /* floats */
    float *dres, *dx, *dqkv, *dao, *dup, *dact, *dxf;
    float *xg, *dxg, *logits, *dl, *de, *scratch;
    float *du;            /* [T, max adapter rank]: an adapter's dL/du, or NULL */
    int32_t *tg;
    size_t *rows;
    size_t scratch_per_thread;
    /* Set by the caller, not owned: the raw logits [T, V] of the kept
     * forward (before the temperature), when the forward kept them.  The
     * backward then reads them instead of recomputing xf W^T, one matmul of
     * T x V x D less (20% of a TinyStories-15M step).  NULL: recompute. */
    const float *kept_logits;
} tf_bwd_ws;

void tf_bwd_ws_free(tf_bwd_ws *ws);

/* Backward of the last tf_forward(e, ..., keep = 1, ...).
 *   g            gradient views to accumulate into, usually &e->m->g (from
 *                tf_model_alloc_grads); a NULL member is a frozen tensor and
 *                is skipped (its gradient is never written).
 *   d            dL/d(outputs), see above.
 *   temperature  the temperature the logprobs/entropy were computed at.
 * Errors: RLAIF_E_STATE when the activations were not kept, RLAIF_E_INVALID
 * when d asks for a head the model does not have, RLAIF_E_NOMEM. */
rlaif_status tf_train_backward(tf_engine *e, const tf_weights *g, const rlaif_outputs *d,
                               float temperature, tf_bwd_ws *ws, char *err, size_t errlen);

/* A gradient view over m->grads for training only some tensors: a member
 * points into m->grads when any tensor of m->tab it covers has
 * frozen[i] == 0 (a fused matrix such as q|k|v is one member: freezing only
 * part of it still computes its whole gradient, and the optimizer table
 * from tf_adamw_tensors with the same mask leaves the frozen rows alone).
 * Layers below the lowest trainable tensor are not even visited by the
 * backward.  g->layers is allocated here (tf_weights_free).  m->grads must
 * be allocated. */
rlaif_status tf_train_grad_view(const tf_model *m, const uint8_t *frozen, tf_weights *g,
                                char *err, size_t errlen);

#endif
