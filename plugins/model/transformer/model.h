/*
 * model.h — the transformer's configuration and parameters.
 *
 * Dimension letters used in every shape comment of the engine:
 *   V vocab, D model dim, L layers, H query heads, KV key/value heads,
 *   hd head dim, F MLP hidden dim, P max positions (GPT-2 wpe),
 *   Q = (H + 2*KV)*hd  the fused q|k|v width, T tokens of a (flat) batch.
 *
 * PARAMETER LAYOUT.  All parameters live in ONE float allocation
 * (tf_model.params, 64-byte aligned).  tf_model.grads, when allocated, has
 * exactly the same layout, so a parameter's gradient is at the same offset.
 * The order inside the buffer (no padding) is:
 *   tok_emb [V,D]                      model.embed_tokens.weight | transformer.wte.weight
 *   pos_emb [P,D]        (gpt2)        transformer.wpe.weight
 *   for each layer l:
 *     ln1_w [D], ln1_b [D] (gpt2)      input_layernorm.weight | ln_1.weight, ln_1.bias
 *     wqkv                             llama/qwen2: q_proj.weight [H*hd,D], k_proj.weight
 *                                        [KV*hd,D], v_proj.weight [KV*hd,D] back to back, so
 *                                        together one [Q,D] matrix (rows = outputs);
 *                                      gpt2: attn.c_attn.weight [D,3D] (Conv1D: rows = inputs)
 *     bqkv [Q]  (qwen2, gpt2)          q_proj.bias|k_proj.bias|v_proj.bias | c_attn.bias
 *     wo                               o_proj.weight [D,H*hd] | attn.c_proj.weight [D,D] (in,out)
 *     bo [D]    (gpt2)                 attn.c_proj.bias
 *     ln2_w [D], ln2_b [D] (gpt2)      post_attention_layernorm.weight | ln_2.*
 *     w_up                             llama: gate_proj.weight [F,D] then up_proj.weight [F,D]
 *                                        = one [2F,D] matrix; gpt2: mlp.c_fc.weight [D,F]
 *     b_up [F]  (gpt2)                 mlp.c_fc.bias
 *     w_down                           down_proj.weight [D,F] | mlp.c_proj.weight [F,D] (in,out)
 *     b_down [D] (gpt2)                mlp.c_proj.bias
 *   lnf_w [D], lnf_b [D] (gpt2)        model.norm.weight | transformer.ln_f.*
 *   lm_head [V,D]  (untied only; tied: tf_weights.lm_head == tok_emb)   lm_head.weight
 *   value_w [D], value_b [1] (value head)   v_head.summary.weight [1,D], v_head.summary.bias [1]
 *   score_w [D]    (score head)        score.weight [1,D]
 * tf_model.tab lists every named tensor (Hugging Face name, offset, shape as
 * Hugging Face stores it), in that order.  Llama-family weights loaded from
 * a llama2.c .bin are permuted at load time to the Hugging Face rotate-half
 * RoPE layout, so the buffer is always in Hugging Face layout and can be
 * saved as is.
 */
#ifndef TF_MODEL_H
#define TF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "rlaif/plugin.h"

typedef enum tf_arch { TF_LLAMA = 0, TF_QWEN2 = 1, TF_GPT2 = 2 } tf_arch;

typedef struct tf_config {
    tf_arch arch;
    int dim;          /* D */
    int n_layers;     /* L */
    int n_heads;      /* H */
    int n_kv_heads;   /* KV */
    int head_dim;     /* hd */
    int hidden_dim;   /* F */
    int vocab_size;   /* V */
    int max_seq_len;  /* P: max_position_embeddings / n_positions / llama2.c seq_len */
    float norm_eps;
    float rope_theta;
    int rope_interleaved; /* kernels support it; loaded models always use 0 (HF layout) */
    int tied;         /* lm_head shares tok_emb */
    int qkv_bias;     /* bqkv present (qwen2, gpt2, llama attention_bias) */
    int o_bias;       /* bo present (gpt2, llama attention_bias) */
    int bos_id, eos_id, pad_id; /* from the checkpoint config, -1 when absent */
    int value_head;   /* value_w/value_b present */
    int score_head;   /* score_w present */
} tf_config;

/* Pointers to one layer's tensors inside a parameter-shaped buffer.
 * Absent tensors are NULL. */
typedef struct tf_layer {
    float *ln1_w, *ln1_b;
    float *wqkv, *bqkv;
    float *wo, *bo;
    float *ln2_w, *ln2_b;
    float *w_up, *b_up;
    float *w_down, *b_down;
} tf_layer;

typedef struct tf_weights {
    float *tok_emb, *pos_emb;
    tf_layer *layers;   /* [L], owned by the tf_weights (tf_weights_free) */
    float *lnf_w, *lnf_b;
    float *lm_head;
    float *value_w, *value_b;
    float *score_w;
} tf_weights;

/* One named tensor of the parameter buffer. */
typedef struct tf_param {
    char name[96];      /* Hugging Face name */
    size_t offset;      /* in floats from the start of params/grads */
    int ndim;
    size_t shape[2];    /* as Hugging Face stores it */
    size_t numel;
    int is_matrix;      /* 2-D weight (weight decay applies) */
    int layer;          /* -1 for non-layer tensors */
    int slot;           /* internal: which tf_weights pointer starts here (tf_slot) */
} tf_param;

typedef struct tf_model {
    tf_config cfg;
    float *params;      /* [n_params], one allocation */
    float *grads;       /* [n_params] same layout, NULL until tf_model_alloc_grads */
    size_t n_params;
    tf_param *tab;
    size_t n_tab;
    tf_weights w;       /* views into params */
    tf_weights g;       /* views into grads (all NULL until allocated) */
    uint64_t version;   /* bumped by whoever changes params (optimizer step, LoRA
                           merge, load): copies derived from the weights, like the
                           engine's bf16 decode weights, are refreshed when it moves */
} tf_model;

/* Checks the config's numbers and builds the layout; allocates params
 * (zeroed).  On failure *out is NULL. */
rlaif_status tf_model_create(const tf_config *cfg, tf_model **out, char *err, size_t errlen);
void tf_model_free(tf_model *m);

/* Checks a config and counts its parameters without allocating them (so a
 * loader can compare with what a file holds before committing memory). */
rlaif_status tf_config_param_count(const tf_config *cfg, size_t *n, char *err, size_t errlen);

/* The table alone (params, grads and the views stay NULL): lets a loader
 * check a checkpoint's names and shapes before allocating.  tf_model_free. */
rlaif_status tf_model_table(const tf_config *cfg, tf_model **out, char *err, size_t errlen);

/* Allocates the zeroed gradient buffer (idempotent) and binds m->g. */
rlaif_status tf_model_alloc_grads(tf_model *m, char *err, size_t errlen);

/* Binds the pointers of `w` to `base`, a buffer with the parameter layout. */
rlaif_status tf_weights_bind(const tf_model *m, float *base, tf_weights *w);
void tf_weights_free(tf_weights *w);

const tf_param *tf_model_find(const tf_model *m, const char *name);

/* Width of the fused q|k|v projection: (H + 2*KV)*hd. */
static inline size_t tf_qkv_dim(const tf_config *c)
{
    return (size_t)(c->n_heads + 2 * c->n_kv_heads) * (size_t)c->head_dim;
}

/* ===== Loading ========================================================== */

/* Parses config.json text (llama, mistral, qwen2, gpt2).  `path` names the
 * file in messages. */
rlaif_status tf_config_parse_hf(const char *json, size_t len, const char *path, tf_config *cfg,
                                char *err, size_t errlen);

/* Loads a Hugging Face folder (config.json + model.safetensors or a sharded
 * index).  value_head/score_head: add the heads (loaded when the checkpoint
 * has them, else initialised N(0, 0.02²) from `seed`, biases 0). */
rlaif_status tf_model_load_hf(const char *dir, int value_head, int score_head, uint64_t seed,
                              tf_model **out, char *err, size_t errlen);

/* Loads a llama2.c checkpoint (.bin). */
rlaif_status tf_model_load_llama2c(const char *path, int value_head, int score_head,
                                   uint64_t seed, tf_model **out, char *err, size_t errlen);

/* Fills the optional heads (those selected and present) with N(0, 0.02²)
 * from `seed` (bias zero). */
void tf_model_init_heads(tf_model *m, uint64_t seed, int value, int score);

#endif
