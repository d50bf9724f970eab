/*
 * instance.h — the model plugin's instance: what one `create` owns.
 *
 * Shared by plugin.c and by the training entry points that plug into the
 * same vtable later (backward, step, save, load_state, reference), so they
 * can reach the model, the engine with its kept activations and the
 * tokenizer.
 */
#ifndef TF_INSTANCE_H
#define TF_INSTANCE_H

#include "adamw.h"
#include "engine_bwd.h"
#include "forward.h"
#include "generate.h"
#include "model.h"
#include "tokenizer.h"

typedef struct tf_instance {
    const rlaif_host *host;   /* may be NULL (tests that call the vtable directly) */
    tf_model *m;              /* owned unless is_view */
    tokenizer *tok;           /* NULL when the checkpoint has none */
    tf_engine eng;            /* pool, RoPE tables, activation arena */
    char arch[16];            /* "llama", "qwen2", "gpt2" */
    char *source;             /* the path the weights came from */
    uint64_t seed;            /* config "seed": head init, later dropout/LoRA init */
    int stop_at_bos;          /* llama2.c checkpoints: BOS separates documents, so a
                                 sampled BOS ends generation like EOS does */

    /* What the last forward kept for backward (RLAIF_OUT_KEEP): the
     * activations are e->acts (ids, offsets, positions included). */
    int kept;
    uint32_t kept_want;
    float kept_temperature;

    /* Training (plugin_train.c): the backward's workspace (grown on first
     * use) and the rest of the training state (LoRA, optimizer groups,
     * frozen mask, views; a view's own weight snapshot). */
    tf_bwd_ws ws;
    struct tf_train *train;

    /* Frozen views (reference()): `base` is the instance they view; with
     * LoRA they share `m`, without it they share it until the base first
     * changes its weights and then own a snapshot (plugin_train.c). */
    int is_view;
    struct tf_instance *base;
} tf_instance;

/* The training entry points of the vtable (plugin_train.c). */
rlaif_status tf_plugin_backward(void *self, const rlaif_outputs *grads, char *err, size_t errlen);
rlaif_status tf_plugin_step(void *self, const rlaif_step_params *p, rlaif_step_result *out,
                            char *err, size_t errlen);
void tf_plugin_zero_grad(void *self);
rlaif_status tf_plugin_save(void *self, const char *dir, uint32_t what, char *err, size_t errlen);
/* Frees what the training entry points allocated. */
void tf_plugin_train_free(tf_instance *in);

#endif
