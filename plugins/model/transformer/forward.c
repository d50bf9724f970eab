/*
 * forward.c — the engine's forward pass over a flat ragged batch, the KV
 * cache and the decode step.  Straight-line code: embeddings, L blocks,
 * final norm; the LM head is applied on demand in row chunks.
 */
#include "forward.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#define ATT_QBLOCK 64 /* must match kernels.c */

/* ===== Engine =========================================================== */

rlaif_status tf_engine_init(tf_engine *e, tf_model *m, int n_threads, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->m = m;
    e->n_threads = n_threads < 1 ? 1 : n_threads;
    /* All parallelism is ours: OpenBLAS runs single-threaded inside tasks. */
    openblas_set_num_threads(1);
    e->pool = tf_pool_create(e->n_threads);
    /* bf16 matmuls (when switched on) pack each weight once per version. */
    if (e->pool) tf_pool_set_weights(e->pool, m->params, m->n_params * sizeof(float), &m->version);
    const tf_config *c = &m->cfg;
    size_t half = (size_t)c->head_dim / 2, P = (size_t)c->max_seq_len;
    e->rope_cos = malloc(P * half * sizeof(float));
    e->rope_sin = malloc(P * half * sizeof(float));
    if (!e->pool || !e->rope_cos || !e->rope_sin) {
        tf_engine_free(e);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "engine: out of memory");
    }
    tf_rope_table(e->rope_cos, e->rope_sin, P, (size_t)c->head_dim, c->rope_theta);
    return RLAIF_OK;
}

void tf_engine_free(tf_engine *e)
{
    if (!e) return;
    tf_pool_free(e->pool);
    free(e->rope_cos);
    free(e->rope_sin);
    free(e->acts.mem);
    free(e->acts.off);
    free(e->acts.ids);
    free(e->acts.pos);
    free(e->acts.att_off);
    free(e->acts.layers);
    tf_kv_free(&e->kv);
    tf_decode_buf_free(&e->dec);
    free(e->w16);
    free(e->w16_layers);
    memset(e, 0, sizeof *e);
}

void tf_engine_set_adapters(tf_engine *e, tf_adapter *ad, size_t n)
{
    e->ad = n ? ad : NULL;
    e->n_ad = n ? n : 0;
    e->ad_r_sum = e->ad_r_max = 0;
    for (size_t i = 0; i < e->n_ad; i++) {
        ad[i].u_off = e->ad_r_sum;
        e->ad_r_sum += ad[i].r;
        if (ad[i].r > e->ad_r_max) e->ad_r_max = ad[i].r;
    }
    e->acts.logits_valid = 0;
}

/* ===== bf16 decode weights ============================================== */

rlaif_status tf_engine_use_bf16_decode(tf_engine *e, char *err, size_t errlen)
{
    const tf_config *c = &e->m->cfg;
    if (c->arch == TF_GPT2)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "bf16 decode weights are implemented for llama/qwen2 models only");
    size_t D = (size_t)c->dim, Q = tf_qkv_dim(c), F = (size_t)c->hidden_dim,
           HD = (size_t)c->n_heads * (size_t)c->head_dim, V = (size_t)c->vocab_size;
    size_t L = (size_t)c->n_layers, per = Q * D + D * HD + 2 * F * D + D * F;
    if (!e->w16) {
        e->w16 = malloc((L * per + V * D) * sizeof(uint16_t));
        e->w16_layers = calloc(L, sizeof *e->w16_layers);
        if (!e->w16 || !e->w16_layers) {
            free(e->w16), free(e->w16_layers);
            e->w16 = NULL, e->w16_layers = NULL;
            return rlaif_errorf(err, errlen, RLAIF_E_NOMEM,
                                "engine: cannot allocate bf16 decode weights");
        }
        uint16_t *p = e->w16;
        for (size_t l = 0; l < L; l++) {
            tf_w16_layer *w = &e->w16_layers[l];
            w->wqkv = p, p += Q * D;
            w->wo = p, p += D * HD;
            w->w_up = p, p += 2 * F * D;
            w->w_down = p, p += D * F;
        }
        e->w16_lm = p;
    }
    e->decode_bf16 = 1;
    e->w16_ready = 0;
    tf_engine_sync_bf16(e);
    return RLAIF_OK;
}

void tf_engine_sync_bf16(tf_engine *e)
{
    if (!e->decode_bf16 || (e->w16_ready && e->w16_version == e->m->version)) return;
    const tf_config *c = &e->m->cfg;
    size_t D = (size_t)c->dim, Q = tf_qkv_dim(c), F = (size_t)c->hidden_dim,
           HD = (size_t)c->n_heads * (size_t)c->head_dim, V = (size_t)c->vocab_size;
    for (size_t l = 0; l < (size_t)c->n_layers; l++) {
        const tf_layer *W = &e->m->w.layers[l];
        tf_w16_layer *w = &e->w16_layers[l];
        tf_to_bf16(w->wqkv, W->wqkv, Q * D);
        tf_to_bf16(w->wo, W->wo, D * HD);
        tf_to_bf16(w->w_up, W->w_up, 2 * F * D);
        tf_to_bf16(w->w_down, W->w_down, D * F);
    }
    tf_to_bf16(e->w16_lm, e->m->w.lm_head, V * D);
    e->w16_version = e->m->version;
    e->w16_ready = 1;
}

/* ===== The activation arena ============================================= */

typedef struct cursor {
    float *base;  /* NULL while measuring */
    size_t off;
} cursor;

/* Buffers start on 64-byte boundaries. */
static float *take(cursor *c, size_t n)
{
    float *p = c->base ? c->base + c->off : NULL;
    c->off += (n + 15) & ~(size_t)15;
    return p;
}

static void layout(tf_acts *a, const tf_engine *e, float *base, size_t max_len)
{
    const tf_config *c = &e->m->cfg;
    cursor cur = {base, 0};
    size_t T = a->T, D = (size_t)c->dim, Q = tf_qkv_dim(c), F = (size_t)c->hidden_dim;
    size_t HD = (size_t)c->n_heads * (size_t)c->head_dim, V = (size_t)c->vocab_size;
    int ln = c->arch == TF_GPT2;
    size_t n_sets = a->keep ? (size_t)c->n_layers : 1;
    float *x_shared = a->keep ? NULL : take(&cur, T * D);
    /* lean: one xn (norm 1 and norm 2 in turn) and one act for all layers */
    float *xn_shared = a->lean ? take(&cur, T * D) : NULL;
    float *act_shared = a->lean ? take(&cur, T * F) : NULL;
    for (size_t s = 0; s < n_sets; s++) {
        tf_layer_acts *L = &a->layers[s];
        L->x_in = a->keep ? take(&cur, T * D) : x_shared;
        L->xn1 = a->lean ? xn_shared : take(&cur, T * D);
        L->mean1 = ln ? take(&cur, T) : NULL;
        L->rstd1 = take(&cur, T);
        L->qkv = take(&cur, T * Q);
        L->att = a->keep ? take(&cur, a->att_size) : NULL;
        L->ao = take(&cur, T * HD);
        L->x_mid = a->keep ? take(&cur, T * D) : x_shared;
        L->xn2 = a->lean ? xn_shared : take(&cur, T * D);
        L->mean2 = ln ? take(&cur, T) : NULL;
        L->rstd2 = take(&cur, T);
        L->up = take(&cur, T * (ln ? F : 2 * F));
        L->act = a->lean ? act_shared : take(&cur, T * F);
    }
    a->lora_u = e->n_ad ? take(&cur, T * (a->keep ? e->ad_r_sum : e->ad_r_max)) : NULL;
    for (size_t s = n_sets; s < (size_t)c->n_layers; s++) a->layers[s] = a->layers[0];
    a->x_out = a->keep ? take(&cur, T * D) : x_shared;
    a->xf = take(&cur, T * D);
    a->meanf = ln ? take(&cur, T) : NULL;
    a->rstdf = take(&cur, T);
    a->scratch_per_thread = ((ATT_QBLOCK * max_len) + 15) & ~(size_t)15;
    a->scratch = take(&cur, a->scratch_per_thread * (size_t)e->n_threads);
    a->logits = take(&cur, TF_LOGIT_ROWS * V);
    a->logits_all = a->keep && T * V <= TF_KEEP_LOGITS_MAX ? take(&cur, T * V) : NULL;
    a->logits_valid = 0;
    if (!base) a->cap = cur.off;
}

static rlaif_status acts_prepare(tf_engine *e, size_t n, const int32_t *const *ids,
                                 const size_t *len, int keep, char *err, size_t errlen)
{
    const tf_config *c = &e->m->cfg;
    tf_acts *a = &e->acts;
    size_t T = 0, max_len = 0, att = 0, H = (size_t)c->n_heads;
    for (size_t b = 0; b < n; b++) {
        if (len[b] == 0)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "forward: sequence %zu is empty", b);
        if (len[b] > (size_t)c->max_seq_len)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "forward: sequence %zu has %zu tokens, more than the model's "
                                "%d positions", b, len[b], c->max_seq_len);
        for (size_t t = 0; t < len[b]; t++)
            if (ids[b][t] < 0 || ids[b][t] >= c->vocab_size)
                return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                    "forward: sequence %zu token %zu: id %d is outside the "
                                    "vocabulary [0, %d)", b, t, ids[b][t], c->vocab_size);
        T += len[b];
        max_len = len[b] > max_len ? len[b] : max_len;
        att += H * len[b] * len[b];
    }
    if (n == 0) return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "forward: no sequences");
    /* Metadata arrays grow with the batch and are kept. */
    if (T > a->meta_cap || n + 1 > a->meta_cap) {
        size_t cap = T > n + 1 ? T : n + 1;
        free(a->off), free(a->ids), free(a->pos), free(a->att_off);
        a->off = malloc((cap + 1) * sizeof *a->off);
        a->ids = malloc(cap * sizeof *a->ids);
        a->pos = malloc(cap * sizeof *a->pos);
        a->att_off = malloc(cap * sizeof *a->att_off);
        a->meta_cap = cap;
        if (!a->off || !a->ids || !a->pos || !a->att_off) {
            a->meta_cap = 0;
            return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "forward: out of memory");
        }
    }
    if (!a->layers) {
        a->layers = calloc((size_t)c->n_layers, sizeof *a->layers);
        if (!a->layers) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "forward: out of memory");
    }
    a->n = n;
    a->T = T;
    a->keep = keep;
    a->lean = keep && e->lean;
    a->att_size = att;
    size_t o = 0, ao = 0;
    for (size_t b = 0; b < n; b++) {
        a->off[b] = o;
        a->att_off[b] = ao;
        for (size_t t = 0; t < len[b]; t++) {
            a->ids[o + t] = ids[b][t];
            a->pos[o + t] = (int32_t)t;
        }
        o += len[b];
        ao += H * len[b] * len[b];
    }
    a->off[n] = o;
    /* Measure, grow the arena only when it is too small, then bind. */
    size_t old_cap = a->cap;
    layout(a, e, NULL, max_len);
    size_t need = a->cap;
    if (need > old_cap || !a->mem) {
        free(a->mem);
        a->mem = aligned_alloc(64, need * sizeof(float));
        if (!a->mem) {
            a->cap = 0;
            return rlaif_errorf(err, errlen, RLAIF_E_NOMEM,
                                "forward: cannot allocate %.1f MB of activations",
                                (double)need * 4 / 1e6);
        }
    } else {
        a->cap = old_cap;
    }
    layout(a, e, a->mem, max_len);
    if (need <= old_cap) a->cap = old_cap;
    return RLAIF_OK;
}

/* ===== Shared pieces ==================================================== */

static void add_bias(float *x, size_t ld, const float *b, size_t T, size_t N)
{
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < N; i++) x[t * ld + i] += b[i];
}

static void norm(const tf_config *c, float *out, float *mean, float *rstd, const float *x,
                 const float *w, const float *b, size_t T)
{
    if (c->arch == TF_GPT2)
        tf_layernorm_forward(out, mean, rstd, x, w, b, T, (size_t)c->dim, c->norm_eps);
    else
        tf_rmsnorm_forward(out, rstd, x, w, T, (size_t)c->dim, c->norm_eps);
}

/* Linear layers: llama weights are [out,in], gpt2 Conv1D weights [in,out]. */
static void linear(tf_engine *e, float *y, const float *x, const float *w, size_t T, size_t in,
                   size_t out, int accumulate)
{
    int conv1d = e->m->cfg.arch == TF_GPT2;
    tf_matmul(e->pool, y, out, x, in, 0, w, conv1d ? out : in, !conv1d, T, out, in, accumulate);
}

/* The adapters of layer l's Linear `lin` on top of its output y [T, ldy]:
 * y[:, col:col+out] += u Bᵀ with u = s x Aᵀ, u of adapter i at
 * u + i.u_off·T (keep) or all at u (scratch). */
static void adapters_forward(tf_engine *e, size_t l, tf_lin lin, float *y, size_t ldy,
                             const float *x, size_t T, float *u, int keep)
{
    for (size_t i = 0; i < e->n_ad; i++) {
        const tf_adapter *d = &e->ad[i];
        if ((size_t)d->layer != l || d->lin != lin) continue;
        float *ui = keep ? u + d->u_off * T : u;
        tf_matmul(e->pool, ui, d->r, x, d->in, 0, d->a, d->in, 1, T, d->r, d->in, 0);
        for (size_t k = 0; k < T * d->r; k++) ui[k] *= d->s;
        tf_matmul(e->pool, y + d->col, ldy, ui, d->r, 0, d->b, d->r, 1, T, d->out, d->r, 1);
    }
}

/* A decode-step linear layer: bf16 weights when the engine has them. */
static void dlinear(tf_engine *e, float *y, const float *x, const float *w, const uint16_t *w16,
                    size_t T, size_t in, size_t out, int accumulate)
{
    if (w16)
        tf_gemm_rows_bf16(e->pool, y, out, x, in, w16, T, out, in, accumulate);
    else
        linear(e, y, x, w, T, in, out, accumulate);
}

typedef struct ew_job {
    const tf_config *c;
    float *act;
    float *up;
    size_t T, chunk;
} ew_job;

static void ew_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const ew_job *j = ctx;
    size_t t0 = i * j->chunk, t1 = t0 + j->chunk < j->T ? t0 + j->chunk : j->T;
    if (t0 >= t1) return;
    size_t F = (size_t)j->c->hidden_dim;
    if (j->c->arch == TF_GPT2)
        tf_gelu_forward(j->act + t0 * F, j->up + t0 * F, (t1 - t0) * F);
    else
        tf_swiglu_forward(j->act + t0 * F, j->up + t0 * 2 * F, t1 - t0, F);
}

/* The MLP activation, split over rows (its exp/tanh are not negligible). */
static void mlp_activation(tf_engine *e, float *act, float *up, size_t T)
{
    size_t nt = (size_t)e->n_threads;
    ew_job j = {&e->m->cfg, act, up, T, (T + nt - 1) / nt};
    tf_pool_run(e->pool, nt, ew_task, &j);
}

/* Row-parallel norm and RoPE: small per row, but T rows add up in prefill. */
typedef struct rowop_job {
    tf_engine *e;
    int op;               /* 0 norm, 1 rope */
    float *out, *mean, *rstd;
    const float *x, *w, *b;
    float *qkv;
    const int32_t *pos;
    size_t T, chunk;
} rowop_job;

static void rowop_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const rowop_job *j = ctx;
    const tf_config *c = &j->e->m->cfg;
    size_t t0 = i * j->chunk, t1 = t0 + j->chunk < j->T ? t0 + j->chunk : j->T;
    if (t0 >= t1) return;
    size_t D = (size_t)c->dim, Q = tf_qkv_dim(c), hd = (size_t)c->head_dim;
    size_t HD = (size_t)c->n_heads * hd;
    if (j->op == 0) {
        norm(c, j->out + t0 * D, j->mean ? j->mean + t0 : NULL, j->rstd ? j->rstd + t0 : NULL,
             j->x + t0 * D, j->w, j->b, t1 - t0);
    } else {
        tf_rope_forward(j->qkv + t0 * Q, Q, j->pos + t0, t1 - t0, (size_t)c->n_heads, hd,
                        j->e->rope_cos, j->e->rope_sin, c->rope_interleaved);
        tf_rope_forward(j->qkv + t0 * Q + HD, Q, j->pos + t0, t1 - t0, (size_t)c->n_kv_heads, hd,
                        j->e->rope_cos, j->e->rope_sin, c->rope_interleaved);
    }
}

static void rowop_run(tf_engine *e, rowop_job *j)
{
    size_t nt = (size_t)e->n_threads;
    if (j->T < 64) nt = 1;
    j->chunk = (j->T + nt - 1) / nt;
    tf_pool_run(e->pool, nt, rowop_task, j);
}

static void norm_par(tf_engine *e, float *out, float *mean, float *rstd, const float *x,
                     const float *w, const float *b, size_t T)
{
    rowop_job j = {.e = e, .op = 0, .out = out, .mean = mean, .rstd = rstd, .x = x, .w = w,
                   .b = b, .T = T};
    rowop_run(e, &j);
}

static void rope_par(tf_engine *e, float *qkv, const int32_t *pos, size_t T)
{
    rowop_job j = {.e = e, .op = 1, .qkv = qkv, .pos = pos, .T = T};
    rowop_run(e, &j);
}

/* ===== Full-sequence forward ============================================ */

typedef struct att_job {
    tf_engine *e;
    const tf_layer_acts *A;
} att_job;

static void att_task(void *ctx, size_t i, int thread)
{
    const att_job *j = ctx;
    const tf_config *c = &j->e->m->cfg;
    const tf_acts *a = &j->e->acts;
    size_t H = (size_t)c->n_heads, KV = (size_t)c->n_kv_heads, hd = (size_t)c->head_dim;
    size_t Q = tf_qkv_dim(c), HD = H * hd;
    size_t b = i / H, h = i % H, o = a->off[b], n = a->off[b + 1] - o;
    const float *qkv = j->A->qkv + o * Q;
    tf_attention_forward(j->A->ao + o * HD, HD, j->A->att ? j->A->att + a->att_off[b] : NULL,
                         a->scratch + (size_t)thread * a->scratch_per_thread, qkv, Q,
                         qkv + HD, Q, qkv + HD + KV * hd, Q, n, n, 0, H, KV, hd, h, h + 1);
}

static void kv_store(const tf_config *c, tf_kv *kv, size_t l, size_t slot, size_t p0,
                     const float *qkv, size_t n)
{
    size_t H = (size_t)c->n_heads, hd = (size_t)c->head_dim, KVD = (size_t)c->n_kv_heads * hd;
    size_t Q = tf_qkv_dim(c);
    float *kd = kv->k + ((l * kv->n_slots + slot) * kv->max_len + p0) * KVD;
    float *vd = kv->v + ((l * kv->n_slots + slot) * kv->max_len + p0) * KVD;
    for (size_t t = 0; t < n; t++) {
        memcpy(kd + t * KVD, qkv + t * Q + H * hd, KVD * sizeof(float));
        memcpy(vd + t * KVD, qkv + t * Q + H * hd + KVD, KVD * sizeof(float));
    }
}

rlaif_status tf_forward(tf_engine *e, size_t n, const int32_t *const *ids, const size_t *len,
                        int keep, tf_kv *kv, char *err, size_t errlen)
{
    rlaif_status st = acts_prepare(e, n, ids, len, keep, err, errlen);
    if (st) return st;
    if (kv)
        for (size_t b = 0; b < n; b++)
            if (b >= kv->n_slots || len[b] > kv->max_len)
                return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL,
                                    "forward: KV cache too small for sequence %zu", b);
    const tf_config *c = &e->m->cfg;
    const tf_weights *w = &e->m->w;
    tf_acts *a = &e->acts;
    size_t T = a->T, D = (size_t)c->dim, Q = tf_qkv_dim(c), F = (size_t)c->hidden_dim;
    size_t H = (size_t)c->n_heads, hd = (size_t)c->head_dim;
    size_t HD = H * hd, L = (size_t)c->n_layers;
    int gpt2 = c->arch == TF_GPT2;

    float *x0 = a->layers[0].x_in;
    for (size_t t = 0; t < T; t++) {
        memcpy(x0 + t * D, w->tok_emb + (size_t)a->ids[t] * D, D * sizeof(float));
        if (gpt2)
            for (size_t i = 0; i < D; i++) x0[t * D + i] += w->pos_emb[(size_t)a->pos[t] * D + i];
    }
    for (size_t l = 0; l < L; l++) {
        const tf_layer *W = &w->layers[l];
        tf_layer_acts *A = &a->layers[l];
        norm_par(e, A->xn1, A->mean1, A->rstd1, A->x_in, W->ln1_w, W->ln1_b, T);
        linear(e, A->qkv, A->xn1, W->wqkv, T, D, Q, 0);
        if (e->n_ad) adapters_forward(e, l, TF_LIN_QKV, A->qkv, Q, A->xn1, T, a->lora_u, keep);
        if (W->bqkv) add_bias(A->qkv, Q, W->bqkv, T, Q);
        if (!gpt2) rope_par(e, A->qkv, a->pos, T);
        if (kv)
            for (size_t b = 0; b < n; b++)
                kv_store(c, kv, l, b, 0, A->qkv + a->off[b] * Q, len[b]);
        att_job aj = {e, A};
        tf_pool_run(e->pool, n * H, att_task, &aj);
        if (A->x_mid != A->x_in) memcpy(A->x_mid, A->x_in, T * D * sizeof(float));
        linear(e, A->x_mid, A->ao, W->wo, T, HD, D, 1);
        if (e->n_ad) adapters_forward(e, l, TF_LIN_O, A->x_mid, D, A->ao, T, a->lora_u, keep);
        if (W->bo) add_bias(A->x_mid, D, W->bo, T, D);
        norm_par(e, A->xn2, A->mean2, A->rstd2, A->x_mid, W->ln2_w, W->ln2_b, T);
        linear(e, A->up, A->xn2, W->w_up, T, D, gpt2 ? F : 2 * F, 0);
        if (e->n_ad)
            adapters_forward(e, l, TF_LIN_UP, A->up, gpt2 ? F : 2 * F, A->xn2, T, a->lora_u, keep);
        if (W->b_up) add_bias(A->up, F, W->b_up, T, F);
        mlp_activation(e, A->act, A->up, T);
        float *next = l + 1 < L ? a->layers[l + 1].x_in : a->x_out;
        if (next != A->x_mid) memcpy(next, A->x_mid, T * D * sizeof(float));
        linear(e, next, A->act, W->w_down, T, F, D, 1);
        if (e->n_ad) adapters_forward(e, l, TF_LIN_DOWN, next, D, A->act, T, a->lora_u, keep);
        if (W->b_down) add_bias(next, D, W->b_down, T, D);
    }
    norm_par(e, a->xf, a->meanf, a->rstdf, a->x_out, w->lnf_w, w->lnf_b, T);
    return RLAIF_OK;
}

void tf_logits_rows(tf_engine *e, float *logits, const float *x, size_t rows)
{
    const tf_config *c = &e->m->cfg;
    size_t D = (size_t)c->dim, V = (size_t)c->vocab_size;
    tf_matmul(e->pool, logits, V, x, D, 0, e->m->w.lm_head, D, 1, rows, V, D, 0);
}

typedef struct score_job {
    const tf_acts *a;
    const float *logits;   /* the chunk's rows */
    size_t V, r0;
    float temperature;
    float *logprobs, *entropy;
} score_job;

/* Log-softmax statistics of one row of the logits chunk. */
static void score_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const score_job *j = ctx;
    const tf_acts *a = j->a;
    size_t t = j->r0 + i, lo = 0, hi = a->n;
    /* The sequence holding t: the last b with off[b] <= t. */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (a->off[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    int last = t + 1 == a->off[lo + 1];
    float lp = 0, ent = 0;
    if (!last)
        tf_logits_stats(j->logits + i * j->V, j->V, j->temperature, a->ids[t + 1], &lp,
                        j->entropy ? &ent : NULL);
    if (j->logprobs) j->logprobs[t] = lp;
    if (j->entropy) j->entropy[t] = ent;
}

void tf_token_logprobs(tf_engine *e, float temperature, float *logprobs, float *entropy)
{
    tf_acts *a = &e->acts;
    size_t D = (size_t)e->m->cfg.dim;
    size_t V = (size_t)e->m->cfg.vocab_size;
    for (size_t r0 = 0; r0 < a->T; r0 += TF_LOGIT_ROWS) {
        size_t rows = a->T - r0 < TF_LOGIT_ROWS ? a->T - r0 : TF_LOGIT_ROWS;
        float *lg = a->logits_all ? a->logits_all + r0 * V : a->logits;
        tf_logits_rows(e, lg, a->xf + r0 * D, rows);
        score_job j = {a, lg, V, r0, temperature, logprobs, entropy};
        tf_pool_run(e->pool, rows, score_task, &j);
    }
    if (a->logits_all) a->logits_valid = 1;
}

/* ===== KV cache and decode ============================================== */

rlaif_status tf_kv_reserve(tf_kv *kv, const tf_config *c, size_t n_slots, size_t max_len,
                           char *err, size_t errlen)
{
    size_t n = (size_t)c->n_layers * n_slots * max_len * (size_t)c->n_kv_heads *
               (size_t)c->head_dim;
    if (n > kv->cap) {
        free(kv->k);
        free(kv->v);
        kv->cap = 0;
        kv->k = malloc(n * sizeof(float));
        kv->v = malloc(n * sizeof(float));
        if (!kv->k || !kv->v) {
            tf_kv_free(kv);
            return rlaif_errorf(err, errlen, RLAIF_E_NOMEM,
                                "generate: cannot allocate a %.1f MB KV cache",
                                8.0 * (double)n / 1e6);
        }
        kv->cap = n;
    }
    kv->n_slots = n_slots;
    kv->max_len = max_len;
    return RLAIF_OK;
}

void tf_kv_free(tf_kv *kv)
{
    free(kv->k);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

static void decode_layout(tf_decode_buf *d, cursor *cur, const tf_config *c, size_t rows,
                          size_t per_thread, size_t max_r, int n_threads)
{
    size_t D = (size_t)c->dim, Q = tf_qkv_dim(c), F = (size_t)c->hidden_dim,
           HD = (size_t)c->n_heads * (size_t)c->head_dim, V = (size_t)c->vocab_size;
    d->x = take(cur, rows * D);
    d->xn = take(cur, rows * D);
    d->qkv = take(cur, rows * Q);
    d->ao = take(cur, rows * HD);
    d->up = take(cur, rows * 2 * F);
    d->act = take(cur, rows * F);
    d->scores = take(cur, per_thread * (size_t)(n_threads < 1 ? 1 : n_threads));
    d->logits = take(cur, rows * V);
    d->u = take(cur, rows * (max_r ? max_r : 1));
}

rlaif_status tf_decode_buf_reserve(tf_decode_buf *d, const tf_config *c, size_t max_rows,
                                   size_t max_len, size_t max_r, int n_threads, char *err,
                                   size_t errlen)
{
    size_t per_thread = (max_len + 15) & ~(size_t)15;
    cursor cur = {NULL, 0};
    decode_layout(d, &cur, c, max_rows, per_thread, max_r, n_threads);
    if (cur.off > d->cap) {
        free(d->mem);
        d->cap = 0;
        d->mem = aligned_alloc(64, cur.off * sizeof(float));
        if (!d->mem) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "generate: out of memory");
        d->cap = cur.off;
    }
    cur.base = d->mem;
    cur.off = 0;
    decode_layout(d, &cur, c, max_rows, per_thread, max_r, n_threads);
    d->max_rows = max_rows;
    d->max_len = per_thread;
    return RLAIF_OK;
}

void tf_decode_buf_free(tf_decode_buf *d)
{
    free(d->mem);
    memset(d, 0, sizeof *d);
}

typedef struct dec_att_job {
    tf_engine *e;
    tf_kv *kv;
    tf_decode_buf *d;
    size_t l;
    const size_t *slot;
    const int32_t *pos;
} dec_att_job;

static void dec_att_task(void *ctx, size_t i, int thread)
{
    const dec_att_job *j = ctx;
    const tf_config *c = &j->e->m->cfg;
    size_t H = (size_t)c->n_heads, KV = (size_t)c->n_kv_heads, hd = (size_t)c->head_dim;
    size_t Q = tf_qkv_dim(c), HD = H * hd, KVD = KV * hd;
    size_t r = i / H, h = i % H, p = (size_t)j->pos[r];
    size_t base = (j->l * j->kv->n_slots + j->slot[r]) * j->kv->max_len * KVD;
    tf_attention_forward(j->d->ao + r * HD, HD, NULL, j->d->scores + (size_t)thread * j->d->max_len,
                         j->d->qkv + r * Q, Q, j->kv->k + base, KVD, j->kv->v + base, KVD, 1,
                         p + 1, p, H, KV, hd, h, h + 1);
}

void tf_decode_step(tf_engine *e, tf_kv *kv, tf_decode_buf *d, size_t n, const size_t *slot,
                    const int32_t *tok, const int32_t *pos)
{
    const tf_config *c = &e->m->cfg;
    const tf_weights *w = &e->m->w;
    size_t D = (size_t)c->dim, Q = tf_qkv_dim(c), F = (size_t)c->hidden_dim;
    size_t H = (size_t)c->n_heads, KV = (size_t)c->n_kv_heads, hd = (size_t)c->head_dim;
    size_t HD = H * hd;
    int gpt2 = c->arch == TF_GPT2;
    for (size_t r = 0; r < n; r++) {
        memcpy(d->x + r * D, w->tok_emb + (size_t)tok[r] * D, D * sizeof(float));
        if (gpt2)
            for (size_t i = 0; i < D; i++) d->x[r * D + i] += w->pos_emb[(size_t)pos[r] * D + i];
    }
    for (size_t l = 0; l < (size_t)c->n_layers; l++) {
        const tf_layer *W = &w->layers[l];
        norm(c, d->xn, NULL, NULL, d->x, W->ln1_w, W->ln1_b, n);
        const tf_w16_layer *W16 = e->decode_bf16 ? &e->w16_layers[l] : NULL;
        dlinear(e, d->qkv, d->xn, W->wqkv, W16 ? W16->wqkv : NULL, n, D, Q, 0);
        if (e->n_ad) adapters_forward(e, l, TF_LIN_QKV, d->qkv, Q, d->xn, n, d->u, 0);
        if (W->bqkv) add_bias(d->qkv, Q, W->bqkv, n, Q);
        if (!gpt2) {
            tf_rope_forward(d->qkv, Q, pos, n, H, hd, e->rope_cos, e->rope_sin,
                            c->rope_interleaved);
            tf_rope_forward(d->qkv + HD, Q, pos, n, KV, hd, e->rope_cos, e->rope_sin,
                            c->rope_interleaved);
        }
        for (size_t r = 0; r < n; r++) kv_store(c, kv, l, slot[r], (size_t)pos[r], d->qkv + r * Q, 1);
        dec_att_job aj = {e, kv, d, l, slot, pos};
        tf_pool_run(e->pool, n * H, dec_att_task, &aj);
        dlinear(e, d->x, d->ao, W->wo, W16 ? W16->wo : NULL, n, HD, D, 1);
        if (e->n_ad) adapters_forward(e, l, TF_LIN_O, d->x, D, d->ao, n, d->u, 0);
        if (W->bo) add_bias(d->x, D, W->bo, n, D);
        norm(c, d->xn, NULL, NULL, d->x, W->ln2_w, W->ln2_b, n);
        dlinear(e, d->up, d->xn, W->w_up, W16 ? W16->w_up : NULL, n, D, gpt2 ? F : 2 * F, 0);
        if (e->n_ad) adapters_forward(e, l, TF_LIN_UP, d->up, gpt2 ? F : 2 * F, d->xn, n, d->u, 0);
        if (W->b_up) add_bias(d->up, F, W->b_up, n, F);
        if (gpt2)
            tf_gelu_forward(d->act, d->up, n * F);
        else
            tf_swiglu_forward(d->act, d->up, n, F);
        dlinear(e, d->x, d->act, W->w_down, W16 ? W16->w_down : NULL, n, F, D, 1);
        if (e->n_ad) adapters_forward(e, l, TF_LIN_DOWN, d->x, D, d->act, n, d->u, 0);
        if (W->b_down) add_bias(d->x, D, W->b_down, n, D);
    }
    norm(c, d->xn, NULL, NULL, d->x, w->lnf_w, w->lnf_b, n);
    if (e->decode_bf16)
        tf_gemm_rows_bf16(e->pool, d->logits, (size_t)c->vocab_size, d->xn, D, e->w16_lm, n,
                          (size_t)c->vocab_size, D, 0);
    else
        tf_logits_rows(e, d->logits, d->xn, n);
}
