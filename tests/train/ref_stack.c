/*
 * ref_stack.c — reference Llama/GPT-2 stack on the train kernels.
 * Forward and backward are straight-line code; the backward walks the
 * forward in exact reverse order.
 */
#include "ref_stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora.h"

/* Per-layer tensor slots. */
enum {
    LS_LN1, LS_LN1B, LS_LN2, LS_LN2B,
    LS_W0,                      /* + RM_*: Linear weights */
    LS_B0 = LS_W0 + RM_COUNT,   /* + RM_*: Linear biases */
    LS_LA0 = LS_B0 + RM_COUNT,  /* + RM_*: LoRA A */
    LS_LB0 = LS_LA0 + RM_COUNT, /* + RM_*: LoRA B */
    LS_COUNT = LS_LB0 + RM_COUNT
};
enum { TOP_EMBED, TOP_POS, TOP_NORM, TOP_NORMB, TOP_HEAD, TOP_COUNT };
#define NONE ((size_t)-1)

struct ref_layer_acts {
    float *res_in, *ln1, *mean1, *rstd1, *qkv, *q, *k, *v, *att, *atty, *mid;
    float *ln2, *mean2, *rstd2, *gate, *up, *act;
    float *xa[RM_COUNT];
};

/* Top-level activations and backward temporaries, carved from the arena. */
typedef struct top_acts {
    float *res_out, *lnf, *meanf, *rstdf, *probs, *logprob, *tmp_c;
    float *dres, *dln, *dq, *dk, *dv, *dq2, *dk2, *datty, *dqkv, *dgate, *dup, *dact;
    float *att_scratch, *lora_scratch, *dlogprob;
} top_acts;

/* ======================================================================
 * Tensor table.
 * ==================================================================== */

static size_t add_tensor(ref_model *m, size_t cap, const char *name, size_t d0, size_t d1,
                         bool trainable)
{
    if (m->n_tensors >= cap) return NONE;
    ref_tensor *t = &m->tensors[m->n_tensors];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->numel = d0 * (d1 ? d1 : 1);
    t->offset = m->n_params;
    t->trainable = trainable;
    t->decay = d1 != 0;
    m->n_params += t->numel;
    return m->n_tensors++;
}

static const char *LLAMA_MOD[RM_COUNT] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                          "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                                          "mlp.down_proj"};

/* [out, in] of Llama Linear module i. */
static void llama_shape(const ref_config *c, int i, size_t *out, size_t *in)
{
    size_t qd = c->n_heads * c->head_dim, kd = c->n_kv_heads * c->head_dim;
    switch (i) {
    case RM_Q: *out = qd, *in = c->dim; break;
    case RM_K: case RM_V: *out = kd, *in = c->dim; break;
    case RM_O: *out = c->dim, *in = qd; break;
    case RM_GATE: case RM_UP: *out = c->hidden, *in = c->dim; break;
    default: *out = c->dim, *in = c->hidden; break;
    }
}

static void build_llama(ref_model *m, size_t cap)
{
    const ref_config *c = &m->cfg;
    bool base_train = c->lora_r == 0;
    char n[160];
    m->top_idx[TOP_EMBED] = add_tensor(m, cap, "model.embed_tokens.weight", c->vocab, c->dim, base_train);
    for (size_t l = 0; l < c->n_layers; l++) {
        size_t *li = m->layer_idx + l * LS_COUNT;
        snprintf(n, sizeof n, "model.layers.%zu.input_layernorm.weight", l);
        li[LS_LN1] = add_tensor(m, cap, n, c->dim, 0, base_train);
        snprintf(n, sizeof n, "model.layers.%zu.post_attention_layernorm.weight", l);
        li[LS_LN2] = add_tensor(m, cap, n, c->dim, 0, base_train);
        for (int i = 0; i < RM_COUNT; i++) {
            size_t out, in;
            llama_shape(c, i, &out, &in);
            snprintf(n, sizeof n, "model.layers.%zu.%s.weight", l, LLAMA_MOD[i]);
            li[LS_W0 + i] = add_tensor(m, cap, n, out, in, base_train);
            if (c->qkv_bias && i <= RM_V) {
                snprintf(n, sizeof n, "model.layers.%zu.%s.bias", l, LLAMA_MOD[i]);
                li[LS_B0 + i] = add_tensor(m, cap, n, out, 0, base_train);
            }
            if (c->lora_r && c->lora_targets[i]) {
                char module[128];
                snprintf(module, sizeof module, "model.layers.%zu.%s", l, LLAMA_MOD[i]);
                lora_tensor_name(n, sizeof n, module, 'A', false);
                li[LS_LA0 + i] = add_tensor(m, cap, n, c->lora_r, in, true);
                lora_tensor_name(n, sizeof n, module, 'B', false);
                li[LS_LB0 + i] = add_tensor(m, cap, n, out, c->lora_r, true);
            }
        }
    }
    m->top_idx[TOP_NORM] = add_tensor(m, cap, "model.norm.weight", c->dim, 0, base_train);
    m->top_idx[TOP_HEAD] = c->tied ? m->top_idx[TOP_EMBED]
                                   : add_tensor(m, cap, "lm_head.weight", c->vocab, c->dim, base_train);
}

/* GPT-2 Conv1D modules reuse the Llama slots: c_attn in RM_Q, attn.c_proj
 * in RM_O, c_fc in RM_UP, mlp.c_proj in RM_DOWN.  Weights are [in, out]. */
static void build_gpt2(ref_model *m, size_t cap)
{
    const ref_config *c = &m->cfg;
    size_t C = c->dim, H = c->hidden;
    char n[160];
    m->top_idx[TOP_EMBED] = add_tensor(m, cap, "transformer.wte.weight", c->vocab, C, true);
    m->top_idx[TOP_POS] = add_tensor(m, cap, "transformer.wpe.weight", c->max_pos, C, true);
    static const struct { int slot; const char *name; int in_h, out_mul; } mods[4] = {
        {RM_Q, "attn.c_attn", 0, 3}, {RM_O, "attn.c_proj", 0, 1},
        {RM_UP, "mlp.c_fc", 0, 0}, {RM_DOWN, "mlp.c_proj", 1, 1}};
    for (size_t l = 0; l < c->n_layers; l++) {
        size_t *li = m->layer_idx + l * LS_COUNT;
        snprintf(n, sizeof n, "transformer.h.%zu.ln_1.weight", l);
        li[LS_LN1] = add_tensor(m, cap, n, C, 0, true);
        snprintf(n, sizeof n, "transformer.h.%zu.ln_1.bias", l);
        li[LS_LN1B] = add_tensor(m, cap, n, C, 0, true);
        snprintf(n, sizeof n, "transformer.h.%zu.ln_2.weight", l);
        li[LS_LN2] = add_tensor(m, cap, n, C, 0, true);
        snprintf(n, sizeof n, "transformer.h.%zu.ln_2.bias", l);
        li[LS_LN2B] = add_tensor(m, cap, n, C, 0, true);
        for (int i = 0; i < 4; i++) {
            size_t in = mods[i].in_h ? H : C, out = mods[i].out_mul ? mods[i].out_mul * C : H;
            snprintf(n, sizeof n, "transformer.h.%zu.%s.weight", l, mods[i].name);
            li[LS_W0 + mods[i].slot] = add_tensor(m, cap, n, in, out, true);
            snprintf(n, sizeof n, "transformer.h.%zu.%s.bias", l, mods[i].name);
            li[LS_B0 + mods[i].slot] = add_tensor(m, cap, n, out, 0, true);
        }
    }
    m->top_idx[TOP_NORM] = add_tensor(m, cap, "transformer.ln_f.weight", C, 0, true);
    m->top_idx[TOP_NORMB] = add_tensor(m, cap, "transformer.ln_f.bias", C, 0, true);
    m->top_idx[TOP_HEAD] = m->top_idx[TOP_EMBED];
}

int ref_init(ref_model *m, const ref_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    size_t cap = 8 + cfg->n_layers * LS_COUNT;
    m->tensors = calloc(cap, sizeof *m->tensors);
    m->layer_idx = malloc(cfg->n_layers * LS_COUNT * sizeof(size_t) + 1);
    if (!m->tensors || !m->layer_idx) return -1;
    for (size_t i = 0; i < cfg->n_layers * LS_COUNT; i++) m->layer_idx[i] = NONE;
    for (int i = 0; i < TOP_COUNT; i++) m->top_idx[i] = NONE;
    if (cfg->arch == REF_GPT2)
        build_gpt2(m, cap);
    else
        build_llama(m, cap);
    m->params = calloc(m->n_params, sizeof(float));
    m->grads = calloc(m->n_params, sizeof(float));
    return m->params && m->grads ? 0 : -1;
}

void ref_free(ref_model *m)
{
    free(m->tensors);
    free(m->layer_idx);
    free(m->params);
    free(m->grads);
    free(m->acts);
    free(m->buf);
    free(m->tokens);
    memset(m, 0, sizeof *m);
}

long ref_find(const ref_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return (long)i;
    return -1;
}

void ref_zero_grads(ref_model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

/* Parameter / gradient of tensor idx; the gradient is NULL when absent or
 * frozen, which the kernels read as "not wanted". */
static float *P(const ref_model *m, size_t idx)
{
    return idx == NONE ? NULL : m->params + m->tensors[idx].offset;
}

static float *G(const ref_model *m, size_t idx)
{
    return (idx == NONE || !m->tensors[idx].trainable) ? NULL : m->grads + m->tensors[idx].offset;
}

/* ======================================================================
 * Activation arena: a bump allocator run twice (count, then carve).
 * ==================================================================== */

typedef struct bump {
    float *base;
    size_t used;
} bump;

static float *take(bump *b, size_t n)
{
    float *p = b->base ? b->base + b->used : NULL;
    b->used += (n + 15) & ~(size_t)15; /* 64-byte steps keep rows aligned */
    return p;
}

static top_acts *top_of(ref_model *m) { return (top_acts *)(m->acts + m->cfg.n_layers); }

static void carve(ref_model *m, bump *bp)
{
    const ref_config *c = &m->cfg;
    size_t N = m->b * m->t, C = c->dim, H = c->hidden, T = m->t;
    size_t qd = c->n_heads * c->head_dim, kd = c->n_kv_heads * c->head_dim, r = c->lora_r;
    for (size_t l = 0; l < c->n_layers; l++) {
        ref_layer_acts *a = &m->acts[l];
        a->res_in = take(bp, N * C);
        a->ln1 = take(bp, N * C);
        a->mean1 = take(bp, N);
        a->rstd1 = take(bp, N);
        a->qkv = c->arch == REF_GPT2 ? take(bp, N * 3 * C) : NULL;
        a->q = take(bp, N * qd);
        a->k = take(bp, N * kd);
        a->v = take(bp, N * kd);
        a->att = take(bp, m->b * c->n_heads * T * T);
        a->atty = take(bp, N * qd);
        a->mid = take(bp, N * C);
        a->ln2 = take(bp, N * C);
        a->mean2 = take(bp, N);
        a->rstd2 = take(bp, N);
        a->gate = take(bp, N * H);
        a->up = c->arch == REF_GPT2 ? NULL : take(bp, N * H);
        a->act = take(bp, N * H);
        for (int i = 0; i < RM_COUNT; i++)
            a->xa[i] = (r && c->lora_targets[i]) ? take(bp, N * r) : NULL;
    }
    top_acts *t = top_of(m);
    size_t wide = qd > C ? qd : C;
    t->res_out = take(bp, N * C);
    t->lnf = take(bp, N * C);
    t->meanf = take(bp, N);
    t->rstdf = take(bp, N);
    t->probs = take(bp, N * c->vocab);
    t->logprob = take(bp, N);
    t->tmp_c = take(bp, N * wide);
    t->dres = take(bp, N * C);
    t->dln = take(bp, N * wide);
    t->dq = take(bp, N * qd);
    t->dk = take(bp, N * kd);
    t->dv = take(bp, N * kd);
    t->dq2 = take(bp, N * qd);
    t->dk2 = take(bp, N * kd);
    t->datty = take(bp, N * qd);
    t->dqkv = c->arch == REF_GPT2 ? take(bp, N * 3 * C) : NULL;
    t->dgate = take(bp, N * H);
    t->dup = take(bp, N * H);
    t->dact = take(bp, N * H);
    t->att_scratch = take(bp, attention_backward_scratch(T));
    t->lora_scratch = r ? take(bp, N * r) : NULL;
    t->dlogprob = take(bp, N);
}

int ref_alloc_acts(ref_model *m, size_t b, size_t t)
{
    free(m->acts);
    free(m->buf);
    free(m->tokens);
    m->b = b;
    m->t = t;
    /* layer acts followed by one top_acts, in one block */
    size_t bytes = m->cfg.n_layers * sizeof(ref_layer_acts) + sizeof(top_acts);
    m->acts = calloc(1, bytes);
    m->tokens = malloc(3 * b * t * sizeof(int32_t));
    if (!m->acts || !m->tokens) return -1;
    m->targets = m->tokens + b * t;
    m->pos = m->targets + b * t;
    bump count = {NULL, 0};
    carve(m, &count);
    m->buf = calloc(count.used, sizeof(float));
    if (!m->buf) return -1;
    bump real = {m->buf, 0};
    carve(m, &real);
    return 0;
}

/* ======================================================================
 * Llama-family Linear with optional LoRA.
 * ==================================================================== */

static float lora_s(const ref_model *m)
{
    return lora_scale(m->cfg.lora_alpha, m->cfg.lora_r, false);
}

static void lin_fwd(ref_model *m, size_t l, int i, float *y, const float *x)
{
    const size_t *li = m->layer_idx + l * LS_COUNT;
    size_t out, in, N = m->b * m->t;
    llama_shape(&m->cfg, i, &out, &in);
    linear_forward(y, x, P(m, li[LS_W0 + i]), P(m, li[LS_B0 + i]), N, in, out);
    if (li[LS_LA0 + i] != NONE)
        lora_forward(y, out, m->acts[l].xa[i], x, P(m, li[LS_LA0 + i]), P(m, li[LS_LB0 + i]), lora_s(m),
                     N, in, out, m->cfg.lora_r);
}

static void lin_bwd(ref_model *m, size_t l, int i, float *dx, const float *dy, const float *x)
{
    const size_t *li = m->layer_idx + l * LS_COUNT;
    size_t out, in, N = m->b * m->t;
    llama_shape(&m->cfg, i, &out, &in);
    linear_backward(dx, G(m, li[LS_W0 + i]), G(m, li[LS_B0 + i]), dy, x, P(m, li[LS_W0 + i]), N,
                    in, out);
    if (li[LS_LA0 + i] != NONE)
        lora_backward(dx, G(m, li[LS_LA0 + i]), G(m, li[LS_LB0 + i]), dy, out, x, m->acts[l].xa[i],
                      P(m, li[LS_LA0 + i]), P(m, li[LS_LB0 + i]), lora_s(m),
                      top_of(m)->lora_scratch, N, in, out, m->cfg.lora_r);
}

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

/* ======================================================================
 * Forward.
 * ==================================================================== */

static void llama_layer_fwd(ref_model *m, size_t l, float *res_out)
{
    const ref_config *c = &m->cfg;
    const size_t *li = m->layer_idx + l * LS_COUNT;
    ref_layer_acts *a = &m->acts[l];
    top_acts *t = top_of(m);
    size_t N = m->b * m->t, C = c->dim;
    rmsnorm_forward(a->ln1, a->rstd1, a->res_in, P(m, li[LS_LN1]), N, C, c->eps);
    lin_fwd(m, l, RM_Q, a->q, a->ln1);
    lin_fwd(m, l, RM_K, a->k, a->ln1);
    lin_fwd(m, l, RM_V, a->v, a->ln1);
    rope_forward(a->q, m->pos, N, c->n_heads, c->head_dim, c->rope_theta, c->rope);
    rope_forward(a->k, m->pos, N, c->n_kv_heads, c->head_dim, c->rope_theta, c->rope);
    attention_forward(a->atty, a->att, a->q, a->k, a->v, m->b, m->t, c->n_heads, c->n_kv_heads,
                      c->head_dim);
    lin_fwd(m, l, RM_O, t->tmp_c, a->atty);
    for (size_t i = 0; i < N * C; i++) a->mid[i] = a->res_in[i] + t->tmp_c[i];
    rmsnorm_forward(a->ln2, a->rstd2, a->mid, P(m, li[LS_LN2]), N, C, c->eps);
    lin_fwd(m, l, RM_GATE, a->gate, a->ln2);
    lin_fwd(m, l, RM_UP, a->up, a->ln2);
    swiglu_forward(a->act, a->gate, a->up, N * c->hidden);
    lin_fwd(m, l, RM_DOWN, t->tmp_c, a->act);
    for (size_t i = 0; i < N * C; i++) res_out[i] = a->mid[i] + t->tmp_c[i];
}

/* GPT-2 c_attn output [N,3C] -> q, k, v [N,C] each (and back for grads). */
static void split_qkv(float *q, float *k, float *v, const float *qkv, size_t n, size_t c)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(q + i * c, qkv + i * 3 * c, c * sizeof(float));
        memcpy(k + i * c, qkv + i * 3 * c + c, c * sizeof(float));
        memcpy(v + i * c, qkv + i * 3 * c + 2 * c, c * sizeof(float));
    }
}

static void join_qkv(float *qkv, const float *q, const float *k, const float *v, size_t n,
                     size_t c)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(qkv + i * 3 * c, q + i * c, c * sizeof(float));
        memcpy(qkv + i * 3 * c + c, k + i * c, c * sizeof(float));
        memcpy(qkv + i * 3 * c + 2 * c, v + i * c, c * sizeof(float));
    }
}

static void gpt2_layer_fwd(ref_model *m, size_t l, float *res_out)
{
    const ref_config *c = &m->cfg;
    const size_t *li = m->layer_idx + l * LS_COUNT;
    ref_layer_acts *a = &m->acts[l];
    top_acts *t = top_of(m);
    size_t N = m->b * m->t, C = c->dim, H = c->hidden;
    layernorm_forward(a->ln1, a->mean1, a->rstd1, a->res_in, P(m, li[LS_LN1]), P(m, li[LS_LN1B]),
                      N, C, c->eps);
    linear_t_forward(a->qkv, a->ln1, P(m, li[LS_W0 + RM_Q]), P(m, li[LS_B0 + RM_Q]), N, C, 3 * C);
    split_qkv(a->q, a->k, a->v, a->qkv, N, C);
    attention_forward(a->atty, a->att, a->q, a->k, a->v, m->b, m->t, c->n_heads, c->n_heads,
                      c->head_dim);
    linear_t_forward(t->tmp_c, a->atty, P(m, li[LS_W0 + RM_O]), P(m, li[LS_B0 + RM_O]), N, C, C);
    for (size_t i = 0; i < N * C; i++) a->mid[i] = a->res_in[i] + t->tmp_c[i];
    layernorm_forward(a->ln2, a->mean2, a->rstd2, a->mid, P(m, li[LS_LN2]), P(m, li[LS_LN2B]), N,
                      C, c->eps);
    linear_t_forward(a->gate, a->ln2, P(m, li[LS_W0 + RM_UP]), P(m, li[LS_B0 + RM_UP]), N, C, H);
    gelu_forward(a->act, a->gate, N * H);
    linear_t_forward(t->tmp_c, a->act, P(m, li[LS_W0 + RM_DOWN]), P(m, li[LS_B0 + RM_DOWN]), N, H,
                     C);
    for (size_t i = 0; i < N * C; i++) res_out[i] = a->mid[i] + t->tmp_c[i];
}

double ref_forward(ref_model *m, const int32_t *tokens, float temperature, float *logprob,
                   float *logits)
{
    const ref_config *c = &m->cfg;
    size_t N = m->b * m->t, C = c->dim, L = c->n_layers;
    top_acts *t = top_of(m);
    for (size_t s = 0; s < m->b; s++)
        for (size_t i = 0; i < m->t; i++) {
            size_t n = s * m->t + i;
            m->tokens[n] = tokens[n];
            m->targets[n] = i + 1 < m->t ? tokens[n + 1] : -1;
            m->pos[n] = (int32_t)i;
        }
    float *x0 = L ? m->acts[0].res_in : t->res_out;
    embedding_forward(x0, m->tokens, P(m, m->top_idx[TOP_EMBED]), N, C);
    if (c->arch == REF_GPT2) posembed_forward(x0, m->pos, P(m, m->top_idx[TOP_POS]), N, C);
    for (size_t l = 0; l < L; l++) {
        float *out = l + 1 < L ? m->acts[l + 1].res_in : t->res_out;
        if (c->arch == REF_GPT2)
            gpt2_layer_fwd(m, l, out);
        else
            llama_layer_fwd(m, l, out);
    }
    if (c->arch == REF_GPT2)
        layernorm_forward(t->lnf, t->meanf, t->rstdf, t->res_out, P(m, m->top_idx[TOP_NORM]),
                          P(m, m->top_idx[TOP_NORMB]), N, C, c->eps);
    else
        rmsnorm_forward(t->lnf, t->rstdf, t->res_out, P(m, m->top_idx[TOP_NORM]), N, C, c->eps);
    if (logits) linear_forward(logits, t->lnf, P(m, m->top_idx[TOP_HEAD]), NULL, N, C, c->vocab);
    lmhead_forward(t->logprob, NULL, t->probs, t->lnf, P(m, m->top_idx[TOP_HEAD]), m->targets,
                   temperature, N, C, c->vocab);
    m->temperature = temperature;
    double sum = 0.0;
    for (size_t n = 0; n < N; n++) sum += t->logprob[n];
    if (logprob) memcpy(logprob, t->logprob, N * sizeof(float));
    return -sum / (double)(m->b * (m->t - 1));
}

/* ======================================================================
 * Backward: the forward in reverse.  dres carries dL/d(residual stream).
 * ==================================================================== */

static void llama_layer_bwd(ref_model *m, size_t l)
{
    const ref_config *c = &m->cfg;
    const size_t *li = m->layer_idx + l * LS_COUNT;
    ref_layer_acts *a = &m->acts[l];
    top_acts *t = top_of(m);
    size_t N = m->b * m->t, C = c->dim, H = c->hidden;
    size_t qd = c->n_heads * c->head_dim, kd = c->n_kv_heads * c->head_dim;
    /* res_out = mid + down(swiglu(gate(ln2), up(ln2))) */
    zero(t->dact, N * H);
    lin_bwd(m, l, RM_DOWN, t->dact, t->dres, a->act);
    zero(t->dgate, N * H);
    zero(t->dup, N * H);
    swiglu_backward(t->dgate, t->dup, t->dact, a->gate, a->up, N * H);
    zero(t->dln, N * C);
    lin_bwd(m, l, RM_GATE, t->dln, t->dgate, a->ln2);
    lin_bwd(m, l, RM_UP, t->dln, t->dup, a->ln2);
    rmsnorm_backward(t->dres, G(m, li[LS_LN2]), t->dln, a->mid, P(m, li[LS_LN2]), a->rstd2, N, C);
    /* mid = res_in + o(attention(rope(q), rope(k), v)) */
    zero(t->datty, N * qd);
    lin_bwd(m, l, RM_O, t->datty, t->dres, a->atty);
    zero(t->dq, N * qd);
    zero(t->dk, N * kd);
    zero(t->dv, N * kd);
    attention_backward(t->dq, t->dk, t->dv, t->datty, a->q, a->k, a->v, a->att, t->att_scratch,
                       m->b, m->t, c->n_heads, c->n_kv_heads, c->head_dim);
    zero(t->dq2, N * qd);
    zero(t->dk2, N * kd);
    rope_backward(t->dq2, t->dq, m->pos, N, c->n_heads, c->head_dim, c->rope_theta, c->rope);
    rope_backward(t->dk2, t->dk, m->pos, N, c->n_kv_heads, c->head_dim, c->rope_theta, c->rope);
    zero(t->dln, N * C);
    lin_bwd(m, l, RM_Q, t->dln, t->dq2, a->ln1);
    lin_bwd(m, l, RM_K, t->dln, t->dk2, a->ln1);
    lin_bwd(m, l, RM_V, t->dln, t->dv, a->ln1);
    rmsnorm_backward(t->dres, G(m, li[LS_LN1]), t->dln, a->res_in, P(m, li[LS_LN1]), a->rstd1, N, C);
}

static void gpt2_layer_bwd(ref_model *m, size_t l)
{
    const ref_config *c = &m->cfg;
    const size_t *li = m->layer_idx + l * LS_COUNT;
    ref_layer_acts *a = &m->acts[l];
    top_acts *t = top_of(m);
    size_t N = m->b * m->t, C = c->dim, H = c->hidden;
    zero(t->dact, N * H);
    linear_t_backward(t->dact, G(m, li[LS_W0 + RM_DOWN]), G(m, li[LS_B0 + RM_DOWN]), t->dres,
                      a->act, P(m, li[LS_W0 + RM_DOWN]), N, H, C);
    zero(t->dgate, N * H);
    gelu_backward(t->dgate, t->dact, a->gate, N * H);
    zero(t->dln, N * C);
    linear_t_backward(t->dln, G(m, li[LS_W0 + RM_UP]), G(m, li[LS_B0 + RM_UP]), t->dgate, a->ln2,
                      P(m, li[LS_W0 + RM_UP]), N, C, H);
    layernorm_backward(t->dres, G(m, li[LS_LN2]), G(m, li[LS_LN2B]), t->dln, a->mid,
                       P(m, li[LS_LN2]), a->mean2, a->rstd2, N, C);
    zero(t->datty, N * C);
    linear_t_backward(t->datty, G(m, li[LS_W0 + RM_O]), G(m, li[LS_B0 + RM_O]), t->dres, a->atty,
                      P(m, li[LS_W0 + RM_O]), N, C, C);
    zero(t->dq, N * C);
    zero(t->dk, N * C);
    zero(t->dv, N * C);
    attention_backward(t->dq, t->dk, t->dv, t->datty, a->q, a->k, a->v, a->att, t->att_scratch,
                       m->b, m->t, c->n_heads, c->n_heads, c->head_dim);
    join_qkv(t->dqkv, t->dq, t->dk, t->dv, N, C);
    zero(t->dln, N * C);
    linear_t_backward(t->dln, G(m, li[LS_W0 + RM_Q]), G(m, li[LS_B0 + RM_Q]), t->dqkv, a->ln1,
                      P(m, li[LS_W0 + RM_Q]), N, C, 3 * C);
    layernorm_backward(t->dres, G(m, li[LS_LN1]), G(m, li[LS_LN1B]), t->dln, a->res_in,
                       P(m, li[LS_LN1]), a->mean1, a->rstd1, N, C);
}

void ref_backward(ref_model *m, const float *dlogprob)
{
    const ref_config *c = &m->cfg;
    size_t N = m->b * m->t, C = c->dim;
    top_acts *t = top_of(m);
    float temperature = m->temperature;
    if (!dlogprob) {
        float g = -1.0f / (float)(m->b * (m->t - 1));
        for (size_t n = 0; n < N; n++) t->dlogprob[n] = m->targets[n] >= 0 ? g : 0.0f;
        dlogprob = t->dlogprob;
    }
    zero(t->dln, N * C);
    lmhead_backward(t->dln, G(m, m->top_idx[TOP_HEAD]), t->probs, dlogprob, NULL, t->lnf,
                    P(m, m->top_idx[TOP_HEAD]), m->targets, temperature, N, C, c->vocab);
    zero(t->dres, N * C);
    if (c->arch == REF_GPT2)
        layernorm_backward(t->dres, G(m, m->top_idx[TOP_NORM]), G(m, m->top_idx[TOP_NORMB]), t->dln,
                           t->res_out, P(m, m->top_idx[TOP_NORM]), t->meanf, t->rstdf, N, C);
    else
        rmsnorm_backward(t->dres, G(m, m->top_idx[TOP_NORM]), t->dln, t->res_out,
                         P(m, m->top_idx[TOP_NORM]), t->rstdf, N, C);
    for (size_t l = c->n_layers; l-- > 0;) {
        if (c->arch == REF_GPT2)
            gpt2_layer_bwd(m, l);
        else
            llama_layer_bwd(m, l);
    }
    float *demb = G(m, m->top_idx[TOP_EMBED]);
    if (demb) embedding_backward(demb, t->dres, m->tokens, N, C);
    if (c->arch == REF_GPT2 && G(m, m->top_idx[TOP_POS]))
        posembed_backward(G(m, m->top_idx[TOP_POS]), t->dres, m->pos, N, C);
}

double ref_flops_per_token_fwd(const ref_model *m)
{
    const ref_config *c = &m->cfg;
    double C = (double)c->dim, H = (double)c->hidden, qd = (double)(c->n_heads * c->head_dim),
           kd = (double)(c->n_kv_heads * c->head_dim);
    double per_layer = c->arch == REF_GPT2 ? 2.0 * (C * 3 * C + C * C + 2 * C * H)
                                           : 2.0 * (C * qd + 2 * C * kd + qd * C + 3 * C * H);
    /* attention: QK^T and PV over all T keys (the PaLM convention; the
     * causal half of it is what is useful) */
    per_layer += 2.0 * 2.0 * qd * (double)m->t;
    return (double)c->n_layers * per_layer + 2.0 * C * (double)c->vocab;
}
