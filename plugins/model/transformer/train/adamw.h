/*
 * adamw.h — AdamW over one flat parameter array, learning-rate schedules.
 *
 * The model keeps all trainable parameters in one float array and their
 * gradients in a second array of the same layout (llm.c style).  The
 * optimizer walks both as a flat loop; the tensor table only says where
 * each named tensor lives, whether it decays, and names the tensor at
 * fault when a gradient is not finite.  The moments m and v are allocated
 * on the first step, so a model that never trains never pays for them.
 *
 * The update follows torch.optim.AdamW exactly:
 *   g  = grad * grad_scale * clip
 *   m  = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
 *   p *= 1 - lr wd                     (decoupled decay, masked tensors)
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * with clip = min(1, max_grad_norm / (||grad * grad_scale|| + 1e-6)) as in
 * torch.nn.utils.clip_grad_norm_.
 */
#ifndef RLAIF_TRAIN_ADAMW_H
#define RLAIF_TRAIN_ADAMW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One named tensor inside the flat arrays. */
typedef struct adamw_tensor {
    const char *name; /* for error messages; not copied, must outlive the call */
    size_t offset;    /* first element in the flat arrays */
    size_t numel;
    bool decay;       /* apply weight decay (matrices yes; norms, biases no) */
} adamw_tensor;

/* The hyper-parameters of one step; mirrors rlaif_step_params. */
typedef struct adamw_params {
    float lr;
    float beta1, beta2, eps;
    float weight_decay;
    float max_grad_norm; /* <= 0: no clipping */
    float grad_scale;    /* gradients multiplied by this first (1/accumulated tokens, say) */
} adamw_params;

/* Defaults of torch.optim.AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8,
 * weight decay 0.01), no clipping, grad_scale 1. */
adamw_params adamw_params_default(void);

struct tf_pool;

typedef struct adamw_state {
    size_t n;      /* elements in the flat arrays */
    float *m, *v;  /* [n] each, NULL until the first step */
    uint64_t step; /* steps taken */
    /* The threads the step runs on (NULL after adamw_init: the caller).  Not
     * owned.  The results are the same bits either way: every element is
     * updated on its own, and each tensor's sum of squares is formed by one
     * thread and the sums are added in tensor order. */
    struct tf_pool *pool;
} adamw_state;

/* What a step reports. */
typedef struct adamw_report {
    double grad_norm; /* global L2 norm of grad * grad_scale, before clipping */
    double clip;      /* the factor applied (1 when not clipped) */
    uint64_t step;    /* steps taken, this one included */
} adamw_report;

enum {
    ADAMW_OK = 0,
    ADAMW_E_NONFINITE = 1, /* a gradient is NaN/Inf: nothing was updated */
    ADAMW_E_NOMEM = 2,
    ADAMW_E_INVALID = 3,   /* a tensor out of range, or a bad hyper-parameter */
};

void adamw_init(adamw_state *st, size_t n);
void adamw_free(adamw_state *st);

/* One update of params[n] from grads[n] over the listed tensors (elements
 * not covered by a tensor are neither read nor written).  On a non-finite
 * gradient returns ADAMW_E_NONFINITE with err naming the first tensor and
 * element at fault, and leaves params, moments and step untouched. */
int adamw_step(adamw_state *st, float *params, const float *grads, const adamw_tensor *tensors,
               size_t n_tensors, const adamw_params *p, adamw_report *report, char *err,
               size_t errlen);

/* ---- learning-rate schedules ------------------------------------------ */

typedef enum lr_kind {
    LR_CONSTANT = 0,
    LR_LINEAR = 1, /* warm-up, then linear decay to lr_min at total_steps */
    LR_COSINE = 2, /* warm-up, then half-cosine decay to lr_min at total_steps */
} lr_kind;

typedef struct lr_schedule {
    lr_kind kind;
    float lr_max;          /* the peak rate */
    float lr_min;          /* the floor reached at total_steps (and kept after) */
    uint64_t warmup_steps; /* linear ramp; 0 = none (also applies to LR_CONSTANT) */
    uint64_t total_steps;  /* end of the decay */
} lr_schedule;

/* The rate for 0-based optimizer step `step` (the one about to be taken).
 * Warm-up: lr_max * (step + 1) / warmup_steps while step < warmup_steps, so
 * no step runs at rate 0.  Decay: progress
 *   x = (step - warmup) / (total - warmup), clamped to [0, 1],
 * linear: lr_min + (lr_max - lr_min) (1 - x);
 * cosine: lr_min + (lr_max - lr_min) (1 + cos(pi x)) / 2.
 * A pure function: resuming at step k gives the same rate. */
float lr_at(const lr_schedule *s, uint64_t step);

#endif
