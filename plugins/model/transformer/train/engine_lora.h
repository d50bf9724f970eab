/*
 * engine_lora.h — LoRA adapters on the engine's model (model.h) without
 * touching its forward: the adapted weights are MERGED into the parameter
 * buffer the forward reads, and the adapter gradients come from the merged
 * weights' gradients by the chain rule.
 *
 *   forward (adapters on):  W = W0 + s B A      for every targeted Linear
 *   reference (adapters off): W = W0            (exactly: W0 is copied back)
 *   backward: tf_train_backward with the view tf_lora_grad_view (only the
 *             targeted matrices get a gradient dW), then tf_lora_grads:
 *             dA += s B^T dW,  dB += s dW A^T
 *
 * W0 of the targeted matrices is kept once (the frozen base); the
 * reference policy is tf_lora_apply(L, m, 0) on the same buffer, no second
 * model.  This is exact and needs nothing from the forward; what it gives
 * up against adapters applied inside the forward (y += s (x A^T) B^T, see
 * lora.h, which the forward can adopt later) is the dW computation of the
 * targeted matrices in the backward and a re-merge (2 r in out flops per
 * matrix) after each optimizer step.
 *
 * Targets: the Linear layers of Llama/Qwen2 blocks (q_proj, k_proj,
 * v_proj, o_proj, gate_proj, up_proj, down_proj), matched by PEFT's rule
 * (lora.h).  GPT-2's Conv1D layers would need fan_in_fan_out and are
 * refused.
 */
#ifndef RLAIF_TRAIN_ENGINE_LORA_H
#define RLAIF_TRAIN_ENGINE_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "adamw.h"
#include "lora.h"
#include "model.h"
#include "rlaif/plugin.h"

typedef struct tf_lora_module {
    char module[96];        /* e.g. "model.layers.0.self_attn.q_proj" */
    char a_name[160], b_name[160]; /* PEFT tensor names (file layout) */
    size_t w_off;           /* offset of W[out, in] in the model's params/grads */
    size_t in, out;
    size_t a_off, b_off;    /* offsets of A [r, in] and B [out, r] in params/grads below */
    size_t base_off;        /* offset of W0 in base */
} tf_lora_module;

typedef struct tf_lora {
    lora_config cfg;
    float scale;
    tf_lora_module *mods;
    size_t n_mods;
    float *params, *grads;  /* all A and B, flat [n_params] each */
    size_t n_params;
    float *base;            /* W0 of every targeted matrix, flat */
    size_t n_base;
    int enabled;            /* what tf_lora_apply last wrote */
} tf_lora;

/* Adapters for cfg's targets on m: A ~ U(-1/sqrt(in), 1/sqrt(in)) from
 * seed, B = 0 (PEFT's initialisation: the adapted model starts equal to
 * the base), W0 copied from m.  Errors name the target or module. */
rlaif_status tf_lora_create(tf_lora *L, const tf_model *m, const lora_config *cfg, uint64_t seed,
                            char *err, size_t errlen);
void tf_lora_free(tf_lora *L);

/* Reads every A and B from a PEFT adapter_model.safetensors (shapes
 * checked; a missing or extra adapter tensor is an error naming it). */
rlaif_status tf_lora_load(tf_lora *L, const char *path, char *err, size_t errlen);

/* Writes <dir>/adapter_model.safetensors and adapter_config.json. */
rlaif_status tf_lora_save(const tf_lora *L, const char *dir, char *err, size_t errlen);

/* Writes W0 + s B A (enabled) or exactly W0 (disabled) into m->params for
 * every targeted matrix.  Call after every change of A/B. */
void tf_lora_apply(tf_lora *L, tf_model *m, int enabled);

/* A gradient view for tf_train_backward in which only the fused matrices
 * holding a targeted module point into m->grads (all else NULL: frozen).
 * g->layers is allocated here (tf_weights_free). */
rlaif_status tf_lora_grad_view(const tf_lora *L, const tf_model *m, tf_weights *g, char *err,
                               size_t errlen);

/* dA += s B^T dW and dB += s dW A^T from m->grads (accumulates). */
void tf_lora_grads(tf_lora *L, const tf_model *m);

/* One AdamW tensor per A and B (weight decay on: both are matrices);
 * out must hold 2 * n_mods entries.  Returns the count. */
size_t tf_lora_adamw_tensors(const tf_lora *L, adamw_tensor *out);

#endif
