/*
 * engine_lora.h — LoRA adapters on the engine's model (model.h), applied
 * inside the forward's Linear layers (forward.h, tf_adapter): the base
 * weights W0 are never written.
 *
 *   forward (adapters attached):  y = x W0ᵀ + (s x Aᵀ) Bᵀ   for every targeted Linear
 *   reference (adapters off):     y = x W0ᵀ                 (an engine without them: exact)
 *   backward: tf_train_backward with a gradient view that has no member
 *             for the frozen base (no dW is ever formed, no model-sized
 *             gradient buffer exists); dx flows through W0 and the adapter
 *             path, and the adapters' own gradients accumulate into
 *             L->grads: dB += dyᵀ u, dA += s (dy B)ᵀ x, with u = s x Aᵀ kept
 *             by the forward ([T, r] per module).
 *
 * Each module sits on a column range of one of the engine's fused
 * matrices: q_proj, k_proj, v_proj on wqkv's rows, gate_proj and up_proj on
 * w_up's, o_proj on wo, down_proj on w_down.  An optimizer step changes
 * only A and B (L->params), which the engine reads in place.  Exporting the
 * merged model (W0 + s B A) streams each merged matrix to the file without
 * materialising it (tf_lora_save_merged).
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
#include "forward.h"
#include "lora.h"
#include "model.h"
#include "rlaif/plugin.h"
#include "st_write.h"

typedef struct tf_lora_module {
    char module[96];        /* e.g. "model.layers.0.self_attn.q_proj" */
    char a_name[160], b_name[160]; /* PEFT tensor names (file layout) */
    size_t w_off;           /* offset of W[out, in] in the model's params */
    size_t in, out;
    size_t a_off, b_off;    /* offsets of A [r, in] and B [out, r] in params/grads below */
} tf_lora_module;

typedef struct tf_lora {
    lora_config cfg;
    float scale;
    tf_lora_module *mods;
    size_t n_mods;
    float *params, *grads;  /* all A and B, flat [n_params] each */
    size_t n_params;
    tf_adapter *ad;         /* [n_mods] the engine's view of the modules (forward.h):
                               A, B and their gradients point into params/grads */
} tf_lora;

/* Adapters for cfg's targets on m: A ~ U(-1/sqrt(in), 1/sqrt(in)) from
 * seed, B = 0 (PEFT's initialisation: the adapted model starts equal to
 * the base).  Nothing of m is copied.  Errors name the target or module. */
rlaif_status tf_lora_create(tf_lora *L, const tf_model *m, const lora_config *cfg, uint64_t seed,
                            char *err, size_t errlen);
void tf_lora_free(tf_lora *L);

/* Reads every A and B from a PEFT adapter_model.safetensors (shapes
 * checked; a missing or extra adapter tensor is an error naming it). */
rlaif_status tf_lora_load(tf_lora *L, const char *path, char *err, size_t errlen);

/* Writes <dir>/adapter_model.safetensors and adapter_config.json. */
rlaif_status tf_lora_save(const tf_lora *L, const char *dir, char *err, size_t errlen);

/* Attaches the adapters to engine e (on) or detaches them (off), see
 * tf_engine_set_adapters.  with_grads: the backward accumulates into
 * L->grads (else the adapters are frozen: no gradient written). */
void tf_lora_attach(tf_lora *L, tf_engine *e, int on, int with_grads);

/* Writes m as model.safetensors at path with every adapted matrix merged,
 * W0 + s B A, computed a piece at a time while writing (m is not changed
 * and no merged copy is held). */
rlaif_status tf_lora_save_merged(const tf_lora *L, const tf_model *m, const char *path,
                                 stw_dtype dtype, char *err, size_t errlen);

/* One AdamW tensor per A and B (weight decay on: both are matrices);
 * out must hold 2 * n_mods entries.  Returns the count. */
size_t tf_lora_adamw_tensors(const tf_lora *L, adamw_tensor *out);

#endif
