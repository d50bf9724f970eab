/*
 * ref_stack.h — a reference decoder stack (Llama/Qwen2 or GPT-2) built only
 * from the train kernels, forward and backward in straight-line code.
 *
 * It exists to prove the kernels compose into the exact gradients PyTorch
 * computes (tests against ../shared/golden) and to time a training step
 * (bench_train).  It is also the wiring the engine's backward follows:
 * ref_backward is the reverse of ref_forward, op by op.
 *
 * Parameters live in one flat array with Hugging Face names (LoRA adapters
 * under PEFT names) and gradients in a second array of the same layout.
 */
#ifndef RLAIF_TEST_REF_STACK_H
#define RLAIF_TEST_REF_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels_bwd.h"

typedef enum ref_arch { REF_LLAMA = 0, REF_GPT2 = 1 } ref_arch;

/* The Linear modules of a Llama layer, in LoRA target order. */
enum { RM_Q, RM_K, RM_V, RM_O, RM_GATE, RM_UP, RM_DOWN, RM_COUNT };

typedef struct ref_config {
    ref_arch arch;
    size_t n_layers, dim, n_heads, n_kv_heads, head_dim, hidden, vocab, max_pos;
    float eps;            /* norm epsilon */
    float rope_theta;     /* Llama */
    rope_layout rope;     /* Llama */
    bool tied;            /* LM head shares the token embedding */
    bool qkv_bias;        /* Qwen2 */
    size_t lora_r;        /* 0: no LoRA; else adapters on lora_targets, base frozen */
    float lora_alpha;
    bool lora_targets[RM_COUNT];
} ref_config;

typedef struct ref_tensor {
    char name[160];
    size_t offset, numel, ndim, shape[2];
    bool trainable; /* has a gradient */
    bool decay;     /* a matrix: weight decay applies */
} ref_tensor;

typedef struct ref_layer_acts ref_layer_acts;

typedef struct ref_model {
    ref_config cfg;
    ref_tensor *tensors;
    size_t n_tensors;
    float *params, *grads; /* [n_params] each */
    size_t n_params;
    size_t *layer_idx;     /* tensor index per (layer, slot), SIZE_MAX if absent */
    size_t top_idx[6];     /* embed, pos, norm w, norm b, head */
    /* activations, sized by ref_alloc_acts */
    size_t b, t;
    float temperature;     /* of the last forward */
    ref_layer_acts *acts;
    float *buf;            /* one arena for every activation */
    int32_t *tokens, *targets, *pos;
} ref_model;

/* Builds the tensor table and allocates zeroed parameters and gradients.
 * Returns 0 or -1 (out of memory). */
int ref_init(ref_model *m, const ref_config *cfg);
void ref_free(ref_model *m);

/* Index of the named tensor, or -1. */
long ref_find(const ref_model *m, const char *name);

/* Sizes the activation arena for batches of b sequences of t tokens. */
int ref_alloc_acts(ref_model *m, size_t b, size_t t);

/* Forward over tokens[b*t] (positions 0..t-1 per sequence), temperature
 * applied to the logits.  Fills logprob[b*t] with log p(tokens[n+1]) (0 at
 * each sequence's last position) and returns -mean over the b*(t-1)
 * predicted tokens.  logits[b*t*V] is filled when not NULL (the unscaled
 * logits, for checks). */
double ref_forward(ref_model *m, const int32_t *tokens, float temperature, float *logprob,
                   float *logits);

/* Backward of the last forward, given dL/dlogprob[b*t] (NULL: the mean
 * loss returned by ref_forward).  Accumulates into m->grads of trainable
 * tensors.  Overwrites the saved probabilities. */
void ref_backward(ref_model *m, const float *dlogprob);

void ref_zero_grads(ref_model *m);

/* Forward FLOPs per token of the matmuls (2 x multiply-adds), attention
 * included, for utilisation figures. */
double ref_flops_per_token_fwd(const ref_model *m);

#endif
