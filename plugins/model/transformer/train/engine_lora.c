/*
 * engine_lora.c — merged-weight LoRA on the engine's model (see the header).
 */
#include "engine_lora.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

/* The Linear layers of a Llama-family block, by PEFT module suffix. */
static const char *const LINEARS[] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                      "gate_proj", "up_proj", "down_proj"};

/* If tab entry p is the weight of a block Linear, writes its module name
 * (p's name without ".weight") and returns 1. */
static int block_linear(const tf_param *p, char *module, size_t len)
{
    size_t n = strlen(p->name);
    if (p->layer < 0 || p->ndim != 2 || n < 8 || strcmp(p->name + n - 7, ".weight") != 0) return 0;
    if (n - 7 >= len) return 0;
    memcpy(module, p->name, n - 7);
    module[n - 7] = '\0';
    for (size_t i = 0; i < sizeof LINEARS / sizeof *LINEARS; i++) {
        const char *t = LINEARS[i];
        size_t tl = strlen(t), ml = n - 7;
        if (ml > tl && module[ml - tl - 1] == '.' && strcmp(module + ml - tl, t) == 0) return 1;
    }
    return 0;
}

/* xorshift64*: A's initialisation is reproducible from the seed. */
static float uniform_pm(uint64_t *s, float bound)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    double u = (double)((*s * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
    return (float)((2.0 * u - 1.0) * bound);
}

void tf_lora_free(tf_lora *L)
{
    free(L->mods);
    free(L->params);
    free(L->grads);
    free(L->base);
    memset(L, 0, sizeof *L);
}

rlaif_status tf_lora_create(tf_lora *L, const tf_model *m, const lora_config *cfg, uint64_t seed,
                            char *err, size_t errlen)
{
    memset(L, 0, sizeof *L);
    if (m->cfg.arch == TF_GPT2)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "lora: GPT-2 Conv1D layers (fan_in_fan_out) are not supported");
    if (cfg->r == 0)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "lora: rank 'r' must be positive");
    L->cfg = *cfg;
    L->scale = lora_scale(cfg->alpha, cfg->r, cfg->rslora);
    const char *targets[LORA_MAX_TARGETS];
    for (size_t i = 0; i < cfg->n_targets; i++) targets[i] = cfg->targets[i];
    L->mods = calloc(m->n_tab ? m->n_tab : 1, sizeof *L->mods);
    if (!L->mods) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "lora: out of memory");
    int *used = calloc(LORA_MAX_TARGETS, sizeof *used);
    if (!used) {
        tf_lora_free(L);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "lora: out of memory");
    }
    for (size_t i = 0; i < m->n_tab; i++) {
        char module[96];
        if (!block_linear(&m->tab[i], module, sizeof module)) continue;
        int hit = 0;
        for (size_t k = 0; k < cfg->n_targets; k++)
            if (lora_module_targeted(module, &targets[k], 1)) used[k] = hit = 1;
        if (!hit) continue;
        tf_lora_module *d = &L->mods[L->n_mods++];
        snprintf(d->module, sizeof d->module, "%s", module);
        lora_tensor_name(d->a_name, sizeof d->a_name, module, 'A', false);
        lora_tensor_name(d->b_name, sizeof d->b_name, module, 'B', false);
        d->w_off = m->tab[i].offset;
        d->out = m->tab[i].shape[0];
        d->in = m->tab[i].shape[1];
        d->a_off = L->n_params;
        d->b_off = L->n_params + cfg->r * d->in;
        L->n_params += cfg->r * (d->in + d->out);
        d->base_off = L->n_base;
        L->n_base += d->in * d->out;
    }
    for (size_t k = 0; k < cfg->n_targets; k++)
        if (!used[k]) {
            free(used);
            tf_lora_free(L);
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "lora: target_modules entry '%s' matches no Linear layer of the "
                                "model", cfg->targets[k]);
        }
    free(used);
    L->params = calloc(L->n_params ? L->n_params : 1, sizeof(float));
    L->grads = calloc(L->n_params ? L->n_params : 1, sizeof(float));
    L->base = malloc((L->n_base ? L->n_base : 1) * sizeof(float));
    if (!L->params || !L->grads || !L->base) {
        tf_lora_free(L);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "lora: out of memory for adapters");
    }
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < L->n_mods; i++) {
        const tf_lora_module *d = &L->mods[i];
        float bound = 1.0f / sqrtf((float)d->in);
        for (size_t j = 0; j < cfg->r * d->in; j++) L->params[d->a_off + j] = uniform_pm(&s, bound);
        memcpy(L->base + d->base_off, m->params + d->w_off, d->in * d->out * sizeof(float));
    }
    return RLAIF_OK;
}

rlaif_status tf_lora_load(tf_lora *L, const char *path, char *err, size_t errlen)
{
    st_file f;
    rlaif_status st = st_open(&f, path, err, errlen);
    if (st) return st;
    size_t found = 0;
    for (size_t i = 0; !st && i < L->n_mods; i++) {
        const tf_lora_module *d = &L->mods[i];
        const char *names[2] = {d->a_name, d->b_name};
        size_t rows[2] = {L->cfg.r, d->out}, cols[2] = {d->in, L->cfg.r};
        size_t offs[2] = {d->a_off, d->b_off};
        for (int k = 0; !st && k < 2; k++) {
            st_tensor *t = st_find(&f, names[k]);
            if (!t) {
                st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "%s: missing adapter tensor '%s'",
                                  path, names[k]);
            } else if (t->ndim != 2 || (size_t)t->shape[0] != rows[k] ||
                       (size_t)t->shape[1] != cols[k]) {
                st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                                  "%s: tensor '%s' has the wrong shape (expected [%zu, %zu])", path,
                                  names[k], rows[k], cols[k]);
            } else {
                st_to_f32(&f, t, L->params + offs[k]);
                found++;
            }
        }
    }
    if (!st && found != f.n)
        st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                          "%s: %zu tensors, but the adapter config targets %zu matrices", path, f.n,
                          found);
    st_close(&f);
    return st;
}

rlaif_status tf_lora_save(const tf_lora *L, const char *dir, char *err, size_t errlen)
{
    lora_adapter *ads = calloc(L->n_mods ? L->n_mods : 1, sizeof *ads);
    if (!ads) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "lora: out of memory");
    for (size_t i = 0; i < L->n_mods; i++) {
        const tf_lora_module *d = &L->mods[i];
        ads[i] = (lora_adapter){d->module, d->in, d->out, L->params + d->a_off,
                                L->params + d->b_off};
    }
    int rc = lora_save_adapter(dir, &L->cfg, ads, L->n_mods, err, errlen);
    free(ads);
    return rc ? RLAIF_E_IO : RLAIF_OK;
}

void tf_lora_apply(tf_lora *L, tf_model *m, int enabled)
{
    for (size_t i = 0; i < L->n_mods; i++) {
        const tf_lora_module *d = &L->mods[i];
        float *w = m->params + d->w_off;
        memcpy(w, L->base + d->base_off, d->in * d->out * sizeof(float));
        if (enabled)
            lora_merge(w, L->params + d->a_off, L->params + d->b_off, L->scale, 1.0f, d->in,
                       d->out, L->cfg.r);
    }
    L->enabled = enabled;
}

rlaif_status tf_lora_grad_view(const tf_lora *L, const tf_model *m, tf_weights *g, char *err,
                               size_t errlen)
{
    memset(g, 0, sizeof *g);
    g->layers = calloc((size_t)m->cfg.n_layers, sizeof *g->layers);
    if (!g->layers || !m->grads) {
        tf_weights_free(g);
        return rlaif_errorf(err, errlen, m->grads ? RLAIF_E_NOMEM : RLAIF_E_STATE,
                            "lora: %s", m->grads ? "out of memory" : "model gradients not allocated");
    }
    for (size_t i = 0; i < L->n_mods; i++) {
        size_t off = L->mods[i].w_off;
        for (int l = 0; l < m->cfg.n_layers; l++) {
            const tf_layer *G = &m->g.layers[l];
            tf_layer *V = &g->layers[l];
            /* the fused matrix whose rows hold this module */
            float *const mats[4] = {G->wqkv, G->wo, G->w_up, G->w_down};
            float **views[4] = {&V->wqkv, &V->wo, &V->w_up, &V->w_down};
            size_t sizes[4];
            size_t D = (size_t)m->cfg.dim, F = (size_t)m->cfg.hidden_dim;
            sizes[0] = tf_qkv_dim(&m->cfg) * D;
            sizes[1] = D * (size_t)m->cfg.n_heads * (size_t)m->cfg.head_dim;
            sizes[2] = 2 * F * D;
            sizes[3] = D * F;
            for (int k = 0; k < 4; k++) {
                if (!mats[k]) continue;
                size_t start = (size_t)(mats[k] - m->grads);
                if (off >= start && off < start + sizes[k]) *views[k] = mats[k];
            }
        }
    }
    return RLAIF_OK;
}

void tf_lora_grads(tf_lora *L, const tf_model *m)
{
    size_t r = L->cfg.r;
    for (size_t i = 0; i < L->n_mods; i++) {
        const tf_lora_module *d = &L->mods[i];
        const float *dw = m->grads + d->w_off;
        /* dA[r,in] += s B^T[r,out] dW[out,in] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)d->in, (int)d->out,
                    L->scale, L->params + d->b_off, (int)r, dw, (int)d->in, 1.0f,
                    L->grads + d->a_off, (int)d->in);
        /* dB[out,r] += s dW[out,in] A^T[in,r] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d->out, (int)r, (int)d->in,
                    L->scale, dw, (int)d->in, L->params + d->a_off, (int)d->in, 1.0f,
                    L->grads + d->b_off, (int)r);
    }
}

size_t tf_lora_adamw_tensors(const tf_lora *L, adamw_tensor *out)
{
    for (size_t i = 0; i < L->n_mods; i++) {
        const tf_lora_module *d = &L->mods[i];
        out[2 * i] = (adamw_tensor){d->a_name, d->a_off, L->cfg.r * d->in, true};
        out[2 * i + 1] = (adamw_tensor){d->b_name, d->b_off, d->out * L->cfg.r, true};
    }
    return 2 * L->n_mods;
}
