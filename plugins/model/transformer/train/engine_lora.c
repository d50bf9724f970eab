/*
 * engine_lora.c — LoRA on the engine's model, applied inside the forward
 * (see the header).
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

/* The layer, fused Linear and first output row of the matrix at offset
 * w_off of m->params. */
static void locate(const tf_model *m, size_t w_off, tf_adapter *d)
{
    const tf_config *c = &m->cfg;
    size_t D = (size_t)c->dim, F = (size_t)c->hidden_dim;
    size_t sizes[4] = {tf_qkv_dim(c) * D, D * (size_t)c->n_heads * (size_t)c->head_dim, 2 * F * D,
                       D * F};
    static const tf_lin lins[4] = {TF_LIN_QKV, TF_LIN_O, TF_LIN_UP, TF_LIN_DOWN};
    for (int l = 0; l < c->n_layers; l++) {
        const tf_layer *W = &m->w.layers[l];
        const float *mats[4] = {W->wqkv, W->wo, W->w_up, W->w_down};
        for (int k = 0; k < 4; k++) {
            size_t start = (size_t)(mats[k] - m->params);
            if (w_off >= start && w_off < start + sizes[k]) {
                d->layer = l;
                d->lin = lins[k];
                d->col = (w_off - start) / D; /* rows of a fused [.., D] matrix */
                return;
            }
        }
    }
}

void tf_lora_free(tf_lora *L)
{
    free(L->mods);
    free(L->params);
    free(L->grads);
    free(L->ad);
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
    L->ad = calloc(L->n_mods ? L->n_mods : 1, sizeof *L->ad);
    if (!L->params || !L->grads || !L->ad) {
        tf_lora_free(L);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "lora: out of memory for adapters");
    }
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < L->n_mods; i++) {
        const tf_lora_module *d = &L->mods[i];
        float bound = 1.0f / sqrtf((float)d->in);
        for (size_t j = 0; j < cfg->r * d->in; j++) L->params[d->a_off + j] = uniform_pm(&s, bound);
        locate(m, d->w_off, &L->ad[i]);
        L->ad[i].in = d->in;
        L->ad[i].out = d->out;
        L->ad[i].r = cfg->r;
        L->ad[i].s = L->scale;
        L->ad[i].a = L->params + d->a_off;
        L->ad[i].b = L->params + d->b_off;
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

void tf_lora_attach(tf_lora *L, tf_engine *e, int on, int with_grads)
{
    for (size_t i = 0; i < L->n_mods; i++) {
        L->ad[i].ga = with_grads ? L->grads + L->mods[i].a_off : NULL;
        L->ad[i].gb = with_grads ? L->grads + L->mods[i].b_off : NULL;
    }
    tf_engine_set_adapters(e, on ? L->ad : NULL, on ? L->n_mods : 0);
}

/* ===== Merged export ==================================================== */

typedef struct merged_src {
    const float *w, *a, *b;  /* W0 [out, in], A [r, in], B [out, r] */
    float s;
    size_t in, r;
} merged_src;

/* stw fill: elements [first, first+n) of W0 + s B A, whole rows with one
 * product, partial rows (at the ends of the piece) one at a time. */
static void merged_fill(void *ctx, float *out, size_t first, size_t n)
{
    const merged_src *m = ctx;
    size_t in = m->in, row = first / in, col = first % in, done = 0;
    while (done < n) {
        size_t rows = col == 0 ? (n - done) / in : 0;
        size_t cnt = rows ? rows * in : (in - col < n - done ? in - col : n - done);
        size_t k = rows ? rows : 1, w = rows ? in : cnt;
        memcpy(out + done, m->w + row * in + col, cnt * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)k, (int)w, (int)m->r, m->s,
                    m->b + row * m->r, (int)m->r, m->a + col, (int)in, 1.0f, out + done, (int)w);
        done += cnt;
        row += k;
        col = 0;
    }
}

rlaif_status tf_lora_save_merged(const tf_lora *L, const tf_model *m, const char *path,
                                 stw_dtype dtype, char *err, size_t errlen)
{
    stw_tensor *t = calloc(m->n_tab ? m->n_tab : 1, sizeof *t);
    merged_src *src = calloc(L->n_mods ? L->n_mods : 1, sizeof *src);
    if (!t || !src) {
        free(t), free(src);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < m->n_tab; i++) {
        const tf_param *p = &m->tab[i];
        t[i] = (stw_tensor){.name = p->name, .data = m->params + p->offset,
                            .ndim = (size_t)p->ndim, .shape = {p->shape[0], p->shape[1]},
                            .dtype = dtype};
        for (size_t k = 0; k < L->n_mods; k++)
            if (L->mods[k].w_off == p->offset) {
                const tf_lora_module *d = &L->mods[k];
                src[k] = (merged_src){m->params + d->w_off, L->params + d->a_off,
                                      L->params + d->b_off, L->scale, d->in, L->cfg.r};
                t[i].fill = merged_fill;
                t[i].fill_ctx = &src[k];
            }
    }
    int rc = stw_write(path, t, m->n_tab, err, errlen);
    free(t);
    free(src);
    return rc ? RLAIF_E_IO : RLAIF_OK;
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
