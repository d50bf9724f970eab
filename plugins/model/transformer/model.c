/*
 * model.c — the parameter layout: one table of named tensors, one
 * allocation, and pointer views (tf_weights) into any buffer of that layout.
 */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Which tf_weights member a table entry starts (fused tensors that follow
 * their first part, like k_proj after q_proj, have SLOT_NONE). */
enum {
    SLOT_NONE, SLOT_TOK, SLOT_POS, SLOT_LN1W, SLOT_LN1B, SLOT_WQKV, SLOT_BQKV, SLOT_WO, SLOT_BO,
    SLOT_LN2W, SLOT_LN2B, SLOT_WUP, SLOT_BUP, SLOT_WDOWN, SLOT_BDOWN, SLOT_LNFW, SLOT_LNFB,
    SLOT_LMHEAD, SLOT_VW, SLOT_VB, SLOT_SW
};

typedef struct builder {
    tf_model *m;
    size_t cap;
    int failed;
} builder;

static void add(builder *b, int slot, int layer, const char *name, int ndim, size_t d0, size_t d1)
{
    tf_model *m = b->m;
    if (b->failed) return;
    if (m->n_tab == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        tf_param *nt = realloc(m->tab, nc * sizeof *nt);
        if (!nt) {
            b->failed = 1;
            return;
        }
        m->tab = nt;
        b->cap = nc;
    }
    tf_param *p = &m->tab[m->n_tab++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->offset = m->n_params;
    p->ndim = ndim;
    p->shape[0] = d0;
    p->shape[1] = ndim > 1 ? d1 : 1;
    p->numel = d0 * (ndim > 1 ? d1 : 1);
    p->is_matrix = ndim == 2;
    p->layer = layer;
    p->slot = slot;
    m->n_params += p->numel;
}

static void build_llama(builder *b, const tf_config *c)
{
    size_t D = (size_t)c->dim, F = (size_t)c->hidden_dim, V = (size_t)c->vocab_size;
    size_t hq = (size_t)c->n_heads * (size_t)c->head_dim;
    size_t hkv = (size_t)c->n_kv_heads * (size_t)c->head_dim;
    char n[96];
    add(b, SLOT_TOK, -1, "model.embed_tokens.weight", 2, V, D);
    for (int l = 0; l < c->n_layers; l++) {
#define LN(suffix) (snprintf(n, sizeof n, "model.layers.%d.%s", l, suffix), n)
        add(b, SLOT_LN1W, l, LN("input_layernorm.weight"), 1, D, 0);
        add(b, SLOT_WQKV, l, LN("self_attn.q_proj.weight"), 2, hq, D);
        add(b, SLOT_NONE, l, LN("self_attn.k_proj.weight"), 2, hkv, D);
        add(b, SLOT_NONE, l, LN("self_attn.v_proj.weight"), 2, hkv, D);
        if (c->qkv_bias) {
            add(b, SLOT_BQKV, l, LN("self_attn.q_proj.bias"), 1, hq, 0);
            add(b, SLOT_NONE, l, LN("self_attn.k_proj.bias"), 1, hkv, 0);
            add(b, SLOT_NONE, l, LN("self_attn.v_proj.bias"), 1, hkv, 0);
        }
        add(b, SLOT_WO, l, LN("self_attn.o_proj.weight"), 2, D, hq);
        if (c->o_bias) add(b, SLOT_BO, l, LN("self_attn.o_proj.bias"), 1, D, 0);
        add(b, SLOT_LN2W, l, LN("post_attention_layernorm.weight"), 1, D, 0);
        add(b, SLOT_WUP, l, LN("mlp.gate_proj.weight"), 2, F, D);
        add(b, SLOT_NONE, l, LN("mlp.up_proj.weight"), 2, F, D);
        add(b, SLOT_WDOWN, l, LN("mlp.down_proj.weight"), 2, D, F);
#undef LN
    }
    add(b, SLOT_LNFW, -1, "model.norm.weight", 1, D, 0);
    if (!c->tied) add(b, SLOT_LMHEAD, -1, "lm_head.weight", 2, V, D);
}

static void build_gpt2(builder *b, const tf_config *c)
{
    size_t D = (size_t)c->dim, F = (size_t)c->hidden_dim, V = (size_t)c->vocab_size;
    char n[96];
    add(b, SLOT_TOK, -1, "transformer.wte.weight", 2, V, D);
    add(b, SLOT_POS, -1, "transformer.wpe.weight", 2, (size_t)c->max_seq_len, D);
    for (int l = 0; l < c->n_layers; l++) {
#define LN(suffix) (snprintf(n, sizeof n, "transformer.h.%d.%s", l, suffix), n)
        add(b, SLOT_LN1W, l, LN("ln_1.weight"), 1, D, 0);
        add(b, SLOT_LN1B, l, LN("ln_1.bias"), 1, D, 0);
        add(b, SLOT_WQKV, l, LN("attn.c_attn.weight"), 2, D, 3 * D);
        add(b, SLOT_BQKV, l, LN("attn.c_attn.bias"), 1, 3 * D, 0);
        add(b, SLOT_WO, l, LN("attn.c_proj.weight"), 2, D, D);
        add(b, SLOT_BO, l, LN("attn.c_proj.bias"), 1, D, 0);
        add(b, SLOT_LN2W, l, LN("ln_2.weight"), 1, D, 0);
        add(b, SLOT_LN2B, l, LN("ln_2.bias"), 1, D, 0);
        add(b, SLOT_WUP, l, LN("mlp.c_fc.weight"), 2, D, F);
        add(b, SLOT_BUP, l, LN("mlp.c_fc.bias"), 1, F, 0);
        add(b, SLOT_WDOWN, l, LN("mlp.c_proj.weight"), 2, F, D);
        add(b, SLOT_BDOWN, l, LN("mlp.c_proj.bias"), 1, D, 0);
#undef LN
    }
    add(b, SLOT_LNFW, -1, "transformer.ln_f.weight", 1, D, 0);
    add(b, SLOT_LNFB, -1, "transformer.ln_f.bias", 1, D, 0);
    if (!c->tied) add(b, SLOT_LMHEAD, -1, "lm_head.weight", 2, V, D);
}

static rlaif_status check_config(const tf_config *c, char *err, size_t errlen)
{
    if (c->dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->head_dim <= 0 || c->hidden_dim <= 0 || c->vocab_size <= 0 || c->max_seq_len <= 0)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "model config: dimensions must be positive (dim %d, layers %d, heads "
                            "%d, kv heads %d, head_dim %d, hidden %d, vocab %d, positions %d)",
                            c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim,
                            c->hidden_dim, c->vocab_size, c->max_seq_len);
    if (c->n_heads % c->n_kv_heads)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "model config: %d heads is not a multiple of %d kv heads", c->n_heads,
                            c->n_kv_heads);
    if (c->head_dim % 2)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "model config: head_dim %d is odd",
                            c->head_dim);
    if (c->arch == TF_GPT2 && (c->n_heads * c->head_dim != c->dim || c->n_kv_heads != c->n_heads))
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "model config: gpt2 needs n_head * head_dim == n_embd");
    /* Keep every size product far from overflow. */
    double total = (double)c->vocab_size * c->dim * 2 +
                   (double)c->n_layers * (4.0 * c->dim * c->dim + 3.0 * c->dim * c->hidden_dim);
    if (total > 4e10)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "model config: %.3g parameters is more than this engine handles",
                            total);
    return RLAIF_OK;
}

/* The table of a config, without parameter memory. */
static rlaif_status build_table(const tf_config *cfg, tf_model **out, char *err, size_t errlen)
{
    *out = NULL;
    rlaif_status st = check_config(cfg, err, errlen);
    if (st) return st;
    tf_model *m = calloc(1, sizeof *m);
    if (!m) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model: out of memory");
    m->cfg = *cfg;
    builder b = {m, 0, 0};
    if (cfg->arch == TF_GPT2)
        build_gpt2(&b, cfg);
    else
        build_llama(&b, cfg);
    size_t D = (size_t)cfg->dim;
    if (cfg->value_head) {
        add(&b, SLOT_VW, -1, "v_head.summary.weight", 2, 1, D);
        add(&b, SLOT_VB, -1, "v_head.summary.bias", 1, 1, 0);
    }
    if (cfg->score_head) add(&b, SLOT_SW, -1, "score.weight", 2, 1, D);
    if (b.failed) {
        tf_model_free(m);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model: out of memory");
    }
    *out = m;
    return RLAIF_OK;
}

rlaif_status tf_model_table(const tf_config *cfg, tf_model **out, char *err, size_t errlen)
{
    return build_table(cfg, out, err, errlen);
}

rlaif_status tf_config_param_count(const tf_config *cfg, size_t *n, char *err, size_t errlen)
{
    tf_model *m = NULL;
    rlaif_status st = build_table(cfg, &m, err, errlen);
    *n = st ? 0 : m->n_params;
    tf_model_free(m);
    return st;
}

rlaif_status tf_model_create(const tf_config *cfg, tf_model **out, char *err, size_t errlen)
{
    tf_model *m = NULL;
    rlaif_status st = build_table(cfg, &m, err, errlen);
    if (st) return st;
    size_t bytes = (m->n_params * sizeof(float) + 63) & ~(size_t)63;
    m->params = aligned_alloc(64, bytes);
    if (!m->params || tf_weights_bind(m, m->params, &m->w)) {
        size_t n = m->n_params;
        tf_model_free(m);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM,
                            "model: cannot allocate %zu parameters (%.1f MB)", n,
                            (double)bytes / 1e6);
    }
    memset(m->params, 0, bytes);
    *out = m;
    return RLAIF_OK;
}

void tf_model_free(tf_model *m)
{
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->tab);
    tf_weights_free(&m->w);
    tf_weights_free(&m->g);
    free(m);
}

rlaif_status tf_model_alloc_grads(tf_model *m, char *err, size_t errlen)
{
    if (m->grads) return RLAIF_OK;
    size_t bytes = (m->n_params * sizeof(float) + 63) & ~(size_t)63;
    m->grads = aligned_alloc(64, bytes);
    if (!m->grads || tf_weights_bind(m, m->grads, &m->g)) {
        free(m->grads);
        m->grads = NULL;
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "model: cannot allocate gradients");
    }
    memset(m->grads, 0, bytes);
    return RLAIF_OK;
}

rlaif_status tf_weights_bind(const tf_model *m, float *base, tf_weights *w)
{
    tf_weights_free(w);
    w->layers = calloc((size_t)m->cfg.n_layers, sizeof *w->layers);
    if (!w->layers) return RLAIF_E_NOMEM;
    for (size_t i = 0; i < m->n_tab; i++) {
        const tf_param *p = &m->tab[i];
        float *ptr = base + p->offset;
        tf_layer *ly = p->layer >= 0 ? &w->layers[p->layer] : NULL;
        switch (p->slot) {
        case SLOT_TOK: w->tok_emb = ptr; break;
        case SLOT_POS: w->pos_emb = ptr; break;
        case SLOT_LN1W: ly->ln1_w = ptr; break;
        case SLOT_LN1B: ly->ln1_b = ptr; break;
        case SLOT_WQKV: ly->wqkv = ptr; break;
        case SLOT_BQKV: ly->bqkv = ptr; break;
        case SLOT_WO: ly->wo = ptr; break;
        case SLOT_BO: ly->bo = ptr; break;
        case SLOT_LN2W: ly->ln2_w = ptr; break;
        case SLOT_LN2B: ly->ln2_b = ptr; break;
        case SLOT_WUP: ly->w_up = ptr; break;
        case SLOT_BUP: ly->b_up = ptr; break;
        case SLOT_WDOWN: ly->w_down = ptr; break;
        case SLOT_BDOWN: ly->b_down = ptr; break;
        case SLOT_LNFW: w->lnf_w = ptr; break;
        case SLOT_LNFB: w->lnf_b = ptr; break;
        case SLOT_LMHEAD: w->lm_head = ptr; break;
        case SLOT_VW: w->value_w = ptr; break;
        case SLOT_VB: w->value_b = ptr; break;
        case SLOT_SW: w->score_w = ptr; break;
        default: break;
        }
    }
    if (m->cfg.tied) w->lm_head = w->tok_emb;
    return RLAIF_OK;
}

void tf_weights_free(tf_weights *w)
{
    free(w->layers);
    memset(w, 0, sizeof *w);
}

const tf_param *tf_model_find(const tf_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_tab; i++)
        if (strcmp(m->tab[i].name, name) == 0) return &m->tab[i];
    return NULL;
}

/* splitmix64 + Box-Muller: a reproducible normal stream for head init. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill_normal(float *x, size_t n, float std, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        double u1 = ((double)(splitmix64(s) >> 11) + 1.0) / 9007199254740993.0;
        double u2 = (double)(splitmix64(s) >> 11) / 9007199254740992.0;
        x[i] = (float)(std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
}

void tf_model_init_heads(tf_model *m, uint64_t seed, int value, int score)
{
    /* Each head has its own stream, so initialising one never changes the other. */
    uint64_t sv = seed ^ 0x5EEDu, ss = seed ^ 0x5C0Eu;
    size_t D = (size_t)m->cfg.dim;
    if (value && m->w.value_w) {
        fill_normal(m->w.value_w, D, 0.02f, &sv);
        m->w.value_b[0] = 0;
    }
    if (score && m->w.score_w) fill_normal(m->w.score_w, D, 0.02f, &ss);
}
