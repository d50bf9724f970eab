/*
 * plugin_train.c — the model plugin's training entry points, wired onto the
 * training half (train/): backward over the kept forward, AdamW steps,
 * dropping gradients, and saving a Hugging Face checkpoint.
 *
 * Not here yet: LoRA, load_state/training-state files, frozen reference
 * views (train/ has the pieces: engine_lora.h, train_state.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine_io.h"
#include "instance.h"

#define WHO "model/transformer"

rlaif_status tf_plugin_backward(void *self, const rlaif_outputs *grads, char *err, size_t errlen)
{
    tf_instance *in = self;
    if (in->is_view)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": backward on a frozen view");
    if (!grads || grads->struct_size < sizeof *grads)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": backward: bad rlaif_outputs");
    if (!in->kept)
        return rlaif_errorf(err, errlen, RLAIF_E_STATE,
                            WHO ": backward needs a forward with RLAIF_OUT_KEEP just before it");
    rlaif_status st = tf_model_alloc_grads(in->m, err, errlen);
    if (st) return st;
    tf_acts *a = &in->eng.acts;
    in->ws.kept_logits = a->logits_valid ? a->logits_all : NULL;
    st = tf_train_backward(&in->eng, &in->m->g, grads, in->kept_temperature, &in->ws, err, errlen);
    in->ws.kept_logits = NULL;
    /* One backward per kept forward: the next needs a new forward. */
    in->kept = 0;
    return st;
}

void tf_plugin_zero_grad(void *self)
{
    tf_instance *in = self;
    if (in->m->grads) memset(in->m->grads, 0, in->m->n_params * sizeof(float));
}

rlaif_status tf_plugin_step(void *self, const rlaif_step_params *p, rlaif_step_result *out,
                            char *err, size_t errlen)
{
    tf_instance *in = self;
    tf_model *m = in->m;
    if (in->is_view)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED, WHO ": step on a frozen view");
    if (!p || p->struct_size < sizeof *p)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": step: bad rlaif_step_params");
    rlaif_status st = tf_model_alloc_grads(m, err, errlen);
    if (st) return st;
    if (!in->opt_tensors) {
        in->opt_tensors = calloc(m->n_tab, sizeof *in->opt_tensors);
        if (!in->opt_tensors) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
        in->n_opt_tensors = tf_adamw_tensors(m, NULL, in->opt_tensors);
        adamw_init(&in->opt, m->n_params);
    }
    adamw_params ap = {
        .lr = p->lr, .beta1 = p->beta1, .beta2 = p->beta2, .eps = p->eps,
        .weight_decay = p->weight_decay, .max_grad_norm = p->max_grad_norm,
        .grad_scale = p->grad_scale,
    };
    adamw_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = adamw_step(&in->opt, m->params, m->grads, in->opt_tensors, in->n_opt_tensors, &ap,
                        &rep, err, errlen);
    if (rc == ADAMW_E_NONFINITE) return RLAIF_E_NUMERIC; /* err names the tensor */
    if (rc == ADAMW_E_NOMEM) return RLAIF_E_NOMEM;
    if (rc) return RLAIF_E_INVALID;
    memset(m->grads, 0, m->n_params * sizeof(float));
    m->version++; /* weights changed: derived copies (bf16 decode weights) refresh */
    if (out && out->struct_size >= sizeof *out) {
        out->grad_norm = rep.grad_norm;
        out->step = rep.step;
    }
    return RLAIF_OK;
}

static rlaif_status make_dir(const char *dir, char *err, size_t errlen)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: cannot create: %s", p,
                                    strerror(errno));
            *s = '/';
        }
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: cannot create: %s", p, strerror(errno));
    return RLAIF_OK;
}

rlaif_status tf_plugin_save(void *self, const char *dir, uint32_t what, char *err, size_t errlen)
{
    tf_instance *in = self;
    if (what & ~(uint32_t)RLAIF_SAVE_WEIGHTS)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": save: only RLAIF_SAVE_WEIGHTS is implemented so far");
    rlaif_status st = make_dir(dir, err, errlen);
    char path[4200];
    if (!st) {
        snprintf(path, sizeof path, "%s/config.json", dir);
        st = tf_save_config(&in->m->cfg, path, err, errlen);
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        st = tf_save_safetensors(in->m, path, STW_F32, err, errlen);
    }
    if (!st && in->tok) st = tokenizer_save(in->tok, dir, err, errlen);
    return st;
}

void tf_plugin_train_free(tf_instance *in)
{
    tf_bwd_ws_free(&in->ws);
    adamw_free(&in->opt);
    free(in->opt_tensors);
}
