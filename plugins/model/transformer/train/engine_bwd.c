/*
 * engine_bwd.c — backward of the engine's forward (see engine_bwd.h).
 * Straight-line code, the forward of forward.c in reverse:
 *   heads (LM head in row chunks, value, score) -> final norm ->
 *   for each layer, last first: down, activation, up, norm 2, wo,
 *   attention, RoPE, wqkv, norm 1 -> embeddings.
 * dres carries dL/d(residual stream) down the layers.
 */
#include "engine_bwd.h"

#include <stdlib.h>
#include <string.h>

#include "kernels_bwd.h"

/* ===== Workspace ======================================================== */

typedef struct ws_cursor {
    float *base;
    size_t off;
} ws_cursor;

static float *ws_take(ws_cursor *c, size_t n)
{
    float *p = c->base ? c->base + c->off : NULL;
    c->off += (n + 15) & ~(size_t)15;
    return p;
}

static void ws_layout(tf_bwd_ws *ws, const tf_config *c, size_t T, size_t max_len, int threads,
                      size_t max_r, float *base)
{
    ws_cursor cur = {base, 0};
    size_t D = (size_t)c->dim, Q = tf_qkv_dim(c), F = (size_t)c->hidden_dim;
    size_t HD = (size_t)c->n_heads * (size_t)c->head_dim, V = (size_t)c->vocab_size;
    size_t R = TFB_LOGIT_ROWS;
    ws->dres = ws_take(&cur, T * D);
    ws->dx = ws_take(&cur, T * D);
    ws->dqkv = ws_take(&cur, T * Q);
    ws->dao = ws_take(&cur, T * HD);
    ws->dup = ws_take(&cur, T * 2 * F);
    ws->dact = ws_take(&cur, T * F);
    ws->dxf = ws_take(&cur, T * D);
    ws->xg = ws_take(&cur, R * D);
    ws->dxg = ws_take(&cur, R * D);
    ws->logits = ws_take(&cur, R * V);
    ws->dl = ws_take(&cur, R);
    ws->de = ws_take(&cur, R);
    ws->tg = (int32_t *)ws_take(&cur, R);                             /* int32 fits a float slot */
    ws->rows = (size_t *)ws_take(&cur, R * sizeof(size_t) / sizeof(float));
    ws->scratch_per_thread = (attention_backward_scratch(max_len) + 15) & ~(size_t)15;
    ws->scratch = ws_take(&cur, ws->scratch_per_thread * (size_t)threads);
    ws->du = max_r ? ws_take(&cur, T * max_r) : NULL;
    if (!base) ws->cap = cur.off;
}

static rlaif_status ws_prepare(tf_bwd_ws *ws, const tf_engine *e, char *err, size_t errlen)
{
    const tf_acts *a = &e->acts;
    size_t max_len = 0;
    for (size_t b = 0; b < a->n; b++)
        if (a->off[b + 1] - a->off[b] > max_len) max_len = a->off[b + 1] - a->off[b];
    size_t have = ws->cap;
    ws_layout(ws, &e->m->cfg, a->T, max_len, e->n_threads, e->ad_r_max, NULL);
    if (ws->cap > have || !ws->mem) {
        size_t need = ws->cap;
        free(ws->mem);
        ws->mem = aligned_alloc(64, need * sizeof(float));
        if (!ws->mem) {
            ws->cap = 0;
            return rlaif_errorf(err, errlen, RLAIF_E_NOMEM,
                                "backward: cannot allocate %.1f MB of gradient buffers",
                                (double)need * 4 / 1e6);
        }
    } else {
        ws->cap = have;
    }
    size_t keep = ws->cap;
    ws_layout(ws, &e->m->cfg, a->T, max_len, e->n_threads, e->ad_r_max, ws->mem);
    ws->cap = keep;
    return RLAIF_OK;
}

void tf_bwd_ws_free(tf_bwd_ws *ws)
{
    free(ws->mem);
    memset(ws, 0, sizeof *ws);
}


static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

/* ===== Linear layers through tf_matmul ================================== */

/* Backward of y[T,out] = x[T,in] W (+ b): HF layout W[out,in] for
 * Llama/Qwen2, Conv1D W[in,out] for GPT-2.  dx, dw, db accumulate; NULL is
 * skipped. */
static void lin_bwd(tf_engine *e, float *dx, float *dw, float *db, const float *dy,
                    const float *x, const float *w, size_t T, size_t in, size_t out)
{
    int conv1d = e->m->cfg.arch == TF_GPT2;
    if (dx) {
        if (conv1d)
            tf_matmul(e->pool, dx, in, dy, out, 0, w, out, 1, T, in, out, 1);
        else
            tf_matmul(e->pool, dx, in, dy, out, 0, w, in, 0, T, in, out, 1);
    }
    if (dw) {
        if (conv1d)
            tf_matmul(e->pool, dw, out, x, in, 1, dy, out, 0, in, out, T, 1);
        else
            tf_matmul(e->pool, dw, in, dy, out, 1, x, in, 0, out, in, T, 1);
    }
    if (db)
        for (size_t t = 0; t < T; t++) vec_add(db, dy + t * out, out);
}

/* Backward of the adapters on layer l's Linear `lin` (forward.h): with
 * y[:, col:col+out] += u Bᵀ, u = s x Aᵀ kept by the forward,
 *   dB += dyᵀ u,   du = s dy B,   dA += duᵀ x,   dx += du A
 * (dy rows at dy + t*lddy; dx [T, in] accumulates, NULL: not wanted). */
static void adapters_bwd(tf_engine *e, size_t l, tf_lin lin, float *dx, const float *dy,
                         size_t lddy, const float *x, tf_bwd_ws *ws)
{
    const tf_acts *a = &e->acts;
    size_t T = a->T;
    for (size_t i = 0; i < e->n_ad; i++) {
        const tf_adapter *d = &e->ad[i];
        if ((size_t)d->layer != l || d->lin != lin) continue;
        const float *u = a->lora_u + d->u_off * T, *dyc = dy + d->col;
        if (d->gb) tf_matmul(e->pool, d->gb, d->r, dyc, lddy, 1, u, d->r, 0, d->out, d->r, T, 1);
        if (!d->ga && !dx) continue;
        tf_matmul(e->pool, ws->du, d->r, dyc, lddy, 0, d->b, d->r, 0, T, d->r, d->out, 0);
        for (size_t k = 0; k < T * d->r; k++) ws->du[k] *= d->s;
        if (d->ga) tf_matmul(e->pool, d->ga, d->in, ws->du, d->r, 1, x, d->in, 0, d->r, d->in, T, 1);
        if (dx) tf_matmul(e->pool, dx, d->in, ws->du, d->r, 0, d->a, d->in, 0, T, d->in, d->r, 1);
    }
}

/* Norm backward of the engine's norm(): RMSNorm or LayerNorm. */
static void norm_bwd(const tf_config *c, float *dx, float *dw, float *db, const float *dy,
                     const float *x, const float *w, const float *mean, const float *rstd,
                     size_t T)
{
    if (c->arch == TF_GPT2)
        layernorm_backward(dx, dw, db, dy, x, w, mean, rstd, T, (size_t)c->dim);
    else
        rmsnorm_backward(dx, dw, dy, x, w, rstd, T, (size_t)c->dim);
}

/* ===== Pool tasks ======================================================= */

typedef struct rows_job {
    const tf_config *c;
    float *dup;
    const float *dact, *up;
    float *z;
    const int32_t *tg;
    const float *dl, *de;
    float temperature;
    size_t n, chunk;
} rows_job;

/* The MLP activation's backward over a range of rows. */
static void act_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const rows_job *j = ctx;
    size_t t0 = i * j->chunk, t1 = t0 + j->chunk < j->n ? t0 + j->chunk : j->n;
    if (t0 >= t1) return;
    size_t F = (size_t)j->c->hidden_dim;
    if (j->c->arch == TF_GPT2)
        gelu_backward(j->dup + t0 * F, j->dact + t0 * F, j->up + t0 * F, (t1 - t0) * F);
    else
        swiglu_fused_backward(j->dup + t0 * 2 * F, j->dact + t0 * F, j->up + t0 * 2 * F,
                              t1 - t0, F);
}

/* Lean layout: recomputes a norm output (op 0: out = norm(x, w, b)) or the
 * MLP activation (op 1: act = act(up)) over a range of rows, with the
 * forward's own kernels (the same bits as the forward's values). */
typedef struct recompute_job {
    const tf_config *c;
    int op;
    float *out;
    const float *x, *w, *b;
    size_t n, chunk;
} recompute_job;

static void recompute_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const recompute_job *j = ctx;
    size_t t0 = i * j->chunk, t1 = t0 + j->chunk < j->n ? t0 + j->chunk : j->n;
    if (t0 >= t1) return;
    size_t D = (size_t)j->c->dim, F = (size_t)j->c->hidden_dim;
    int gpt2 = j->c->arch == TF_GPT2;
    if (j->op == 0 && gpt2)
        tf_layernorm_forward(j->out + t0 * D, NULL, NULL, j->x + t0 * D, j->w, j->b, t1 - t0, D,
                             j->c->norm_eps);
    else if (j->op == 0)
        tf_rmsnorm_forward(j->out + t0 * D, NULL, j->x + t0 * D, j->w, t1 - t0, D, j->c->norm_eps);
    else if (gpt2)
        tf_gelu_forward(j->out + t0 * F, j->x + t0 * F, (t1 - t0) * F);
    else
        tf_swiglu_forward(j->out + t0 * F, j->x + t0 * 2 * F, t1 - t0, F);
}

static void recompute(tf_engine *e, int op, float *out, const float *x, const float *w,
                      const float *b)
{
    size_t nt = (size_t)e->n_threads, T = e->acts.T;
    recompute_job j = {&e->m->cfg, op, out, x, w, b, T, (T + nt - 1) / nt};
    tf_pool_run(e->pool, nt, recompute_task, &j);
}

/* dlogits of a range of gathered rows. */
static void dlogits_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const rows_job *j = ctx;
    size_t r0 = i * j->chunk, r1 = r0 + j->chunk < j->n ? r0 + j->chunk : j->n;
    if (r0 >= r1) return;
    size_t V = (size_t)j->c->vocab_size;
    lmhead_dlogits(j->z + r0 * V, j->tg + r0, j->dl + r0, j->de + r0, j->temperature, r1 - r0, V);
}

static void run_rows(tf_engine *e, rows_job *j, void (*fn)(void *, size_t, int))
{
    size_t nt = (size_t)e->n_threads;
    j->chunk = (j->n + nt - 1) / nt;
    if (j->chunk == 0) j->chunk = 1;
    tf_pool_run(e->pool, nt, fn, j);
}

typedef struct att_bwd_job {
    tf_engine *e;
    const tf_layer_acts *A;
    tf_bwd_ws *ws;
} att_bwd_job;

/* One (sequence, kv head) of the attention backward. */
static void att_bwd_task(void *ctx, size_t i, int thread)
{
    const att_bwd_job *j = ctx;
    const tf_config *c = &j->e->m->cfg;
    const tf_acts *a = &j->e->acts;
    size_t H = (size_t)c->n_heads, KV = (size_t)c->n_kv_heads, hd = (size_t)c->head_dim;
    size_t Q = tf_qkv_dim(c), HD = H * hd, KVD = KV * hd;
    size_t b = i / KV, g = i % KV, o = a->off[b], n = a->off[b + 1] - o;
    const float *qkv = j->A->qkv + o * Q;
    float *dqkv = j->ws->dqkv + o * Q;
    attention_seq_backward(dqkv, Q, dqkv + HD, Q, dqkv + HD + KVD, Q, j->ws->dao + o * HD, HD,
                           qkv, Q, qkv + HD, Q, qkv + HD + KVD, Q, j->A->att + a->att_off[b],
                           j->ws->scratch + (size_t)thread * j->ws->scratch_per_thread, n, H, KV,
                           hd, g, g + 1);
}

/* ===== Heads ============================================================ */

/* Gathers up to TFB_LOGIT_ROWS rows starting the scan at *t that carry a
 * logprob or entropy gradient; returns how many. */
static size_t gather_rows(const tf_acts *a, const rlaif_outputs *d, tf_bwd_ws *ws, size_t *t,
                          size_t *seq)
{
    size_t r = 0;
    while (*t < a->T && r < TFB_LOGIT_ROWS) {
        while (*t >= a->off[*seq + 1]) (*seq)++;
        size_t row = (*t)++;
        if (row + 1 >= a->off[*seq + 1]) continue; /* last token: nothing to predict */
        float dl = d->logprobs ? d->logprobs[row] : 0.0f;
        float de = d->entropy ? d->entropy[row] : 0.0f;
        if (dl == 0.0f && de == 0.0f) continue;   /* e.g. prompt tokens under SFT */
        ws->rows[r] = row;
        ws->tg[r] = a->ids[row + 1];
        ws->dl[r] = dl;
        ws->de[r] = de;
        r++;
    }
    return r;
}

/* LM head: logits recomputed only for the rows with a gradient. */
static void lmhead_bwd(tf_engine *e, float *dlm, const rlaif_outputs *d, float temperature,
                       tf_bwd_ws *ws)
{
    const tf_config *c = &e->m->cfg;
    const tf_acts *a = &e->acts;
    const float *W = e->m->w.lm_head;
    size_t D = (size_t)c->dim, V = (size_t)c->vocab_size, t = 0, seq = 0, r;
    while ((r = gather_rows(a, d, ws, &t, &seq)) > 0) {
        for (size_t i = 0; i < r; i++) memcpy(ws->xg + i * D, a->xf + ws->rows[i] * D, D * sizeof(float));
        if (ws->kept_logits)
            for (size_t i = 0; i < r; i++)
                memcpy(ws->logits + i * V, ws->kept_logits + ws->rows[i] * V, V * sizeof(float));
        else
            tf_matmul(e->pool, ws->logits, V, ws->xg, D, 0, W, D, 1, r, V, D, 0);
        rows_job j = {.c = c, .z = ws->logits, .tg = ws->tg, .dl = ws->dl, .de = ws->de,
                      .temperature = temperature, .n = r};
        run_rows(e, &j, dlogits_task);
        tf_matmul(e->pool, ws->dxg, D, ws->logits, V, 0, W, D, 0, r, D, V, 0);
        for (size_t i = 0; i < r; i++) vec_add(ws->dxf + ws->rows[i] * D, ws->dxg + i * D, D);
        if (dlm) tf_matmul(e->pool, dlm, D, ws->logits, V, 1, ws->xg, D, 0, V, D, r, 1);
    }
}

static rlaif_status heads_bwd(tf_engine *e, const tf_weights *g, const rlaif_outputs *d,
                              float temperature, tf_bwd_ws *ws, char *err, size_t errlen)
{
    const tf_weights *w = &e->m->w;
    const tf_acts *a = &e->acts;
    size_t D = (size_t)e->m->cfg.dim;
    zero(ws->dxf, a->T * D);
    if (d->logprobs || d->entropy) lmhead_bwd(e, g->lm_head, d, temperature, ws);
    if (d->values) {
        if (!w->value_w)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "backward: value gradients given but the model has no value head");
        value_head_backward(ws->dxf, g->value_w, g->value_b, d->values, a->xf, w->value_w, a->T, D);
    }
    if (d->score) {
        if (!w->score_w)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "backward: score gradients given but the model has no score head");
        for (size_t b = 0; b < a->n; b++) {
            size_t last = a->off[b + 1] - 1;
            score_head_backward(ws->dxf, g->score_w, NULL, d->score + b, a->xf, w->score_w, &last,
                                1, D);
        }
    }
    return RLAIF_OK;
}

/* ===== One layer ======================================================== */

static void layer_bwd(tf_engine *e, size_t l, const tf_layer *G, tf_bwd_ws *ws)
{
    const tf_config *c = &e->m->cfg;
    const tf_acts *a = &e->acts;
    const tf_layer *W = &e->m->w.layers[l];
    const tf_layer_acts *A = &a->layers[l];
    size_t T = a->T, D = (size_t)c->dim, Q = tf_qkv_dim(c), F = (size_t)c->hidden_dim;
    size_t H = (size_t)c->n_heads, KV = (size_t)c->n_kv_heads, hd = (size_t)c->head_dim;
    size_t HD = H * hd;
    int gpt2 = c->arch == TF_GPT2;
    size_t UP = gpt2 ? F : 2 * F;
    rope_layout rl = c->rope_interleaved ? ROPE_INTERLEAVED : ROPE_HALF;

    /* out = x_mid + act(up(norm2(x_mid))) W_down (+ adapters) */
    if (a->lean) recompute(e, 1, A->act, A->up, NULL, NULL);
    zero(ws->dact, T * F);
    lin_bwd(e, ws->dact, G->w_down, G->b_down, ws->dres, A->act, W->w_down, T, F, D);
    if (e->n_ad) adapters_bwd(e, l, TF_LIN_DOWN, ws->dact, ws->dres, D, A->act, ws);
    zero(ws->dup, T * UP);
    rows_job j = {.c = c, .dup = ws->dup, .dact = ws->dact, .up = A->up, .n = T};
    run_rows(e, &j, act_task);
    if (a->lean) recompute(e, 0, A->xn2, A->x_mid, W->ln2_w, W->ln2_b);
    zero(ws->dx, T * D);
    lin_bwd(e, ws->dx, G->w_up, G->b_up, ws->dup, A->xn2, W->w_up, T, D, UP);
    if (e->n_ad) adapters_bwd(e, l, TF_LIN_UP, ws->dx, ws->dup, UP, A->xn2, ws);
    norm_bwd(c, ws->dres, G->ln2_w, G->ln2_b, ws->dx, A->x_mid, W->ln2_w, A->mean2, A->rstd2, T);

    /* x_mid = x_in + attention(rope(qkv(norm1(x_in)))) W_o */
    zero(ws->dao, T * HD);
    lin_bwd(e, ws->dao, G->wo, G->bo, ws->dres, A->ao, W->wo, T, HD, D);
    if (e->n_ad) adapters_bwd(e, l, TF_LIN_O, ws->dao, ws->dres, D, A->ao, ws);
    zero(ws->dqkv, T * Q);
    att_bwd_job aj = {e, A, ws};
    tf_pool_run(e->pool, a->n * KV, att_bwd_task, &aj);
    if (!gpt2) {
        rope_backward_table(ws->dqkv, Q, a->pos, T, H, hd, e->rope_cos, e->rope_sin, rl);
        rope_backward_table(ws->dqkv + HD, Q, a->pos, T, KV, hd, e->rope_cos, e->rope_sin, rl);
    }
    if (a->lean) recompute(e, 0, A->xn1, A->x_in, W->ln1_w, W->ln1_b);
    zero(ws->dx, T * D);
    lin_bwd(e, ws->dx, G->wqkv, G->bqkv, ws->dqkv, A->xn1, W->wqkv, T, D, Q);
    if (e->n_ad) adapters_bwd(e, l, TF_LIN_QKV, ws->dx, ws->dqkv, Q, A->xn1, ws);
    norm_bwd(c, ws->dres, G->ln1_w, G->ln1_b, ws->dx, A->x_in, W->ln1_w, A->mean1, A->rstd1, T);
}

/* ===== Entry ============================================================ */

/* Lowest layer whose parameters or adapters (or anything below:
 * embeddings) need a gradient; the backward stops there.  -1: the
 * embeddings need one. */
static long lowest_trainable(const tf_engine *e, const tf_weights *g, int n_layers)
{
    if (g->tok_emb || g->pos_emb) return -1;
    long low = n_layers; /* only the final norm or heads */
    for (size_t i = 0; i < e->n_ad; i++)
        if ((e->ad[i].ga || e->ad[i].gb) && e->ad[i].layer < low) low = e->ad[i].layer;
    for (int l = 0; l < low && g->layers; l++) {
        const tf_layer *G = &g->layers[l];
        if (G->ln1_w || G->ln1_b || G->wqkv || G->bqkv || G->wo || G->bo || G->ln2_w ||
            G->ln2_b || G->w_up || G->b_up || G->w_down || G->b_down)
            return l;
    }
    return low;
}

/* Points *view at `ptr` when any unfrozen tab entry lies in [ptr, ptr+n). */
static void view_if_trainable(const tf_model *m, const uint8_t *frozen, float *ptr, size_t n,
                              float **view)
{
    if (!ptr) return;
    size_t lo = (size_t)(ptr - m->grads), hi = lo + n;
    for (size_t i = 0; i < m->n_tab; i++)
        if (m->tab[i].offset >= lo && m->tab[i].offset < hi && !(frozen && frozen[i])) {
            *view = ptr;
            return;
        }
}

rlaif_status tf_train_grad_view(const tf_model *m, const uint8_t *frozen, tf_weights *g,
                                char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    if (!m->grads)
        return rlaif_errorf(err, errlen, RLAIF_E_STATE, "backward: gradients not allocated");
    g->layers = calloc((size_t)m->cfg.n_layers, sizeof *g->layers);
    if (!g->layers) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "backward: out of memory");
    const tf_config *c = &m->cfg;
    size_t D = (size_t)c->dim, F = (size_t)c->hidden_dim, Q = tf_qkv_dim(c), V = (size_t)c->vocab_size;
    size_t HD = (size_t)c->n_heads * (size_t)c->head_dim, UP = c->arch == TF_GPT2 ? F : 2 * F;
    const tf_weights *s = &m->g;
    view_if_trainable(m, frozen, s->tok_emb, V * D, &g->tok_emb);
    view_if_trainable(m, frozen, s->pos_emb, (size_t)c->max_seq_len * D, &g->pos_emb);
    view_if_trainable(m, frozen, s->lnf_w, D, &g->lnf_w);
    view_if_trainable(m, frozen, s->lnf_b, D, &g->lnf_b);
    view_if_trainable(m, frozen, s->value_w, D, &g->value_w);
    view_if_trainable(m, frozen, s->value_b, 1, &g->value_b);
    view_if_trainable(m, frozen, s->score_w, D, &g->score_w);
    if (c->tied)
        g->lm_head = g->tok_emb;
    else
        view_if_trainable(m, frozen, s->lm_head, V * D, &g->lm_head);
    for (int l = 0; l < c->n_layers; l++) {
        const tf_layer *S = &s->layers[l];
        tf_layer *G = &g->layers[l];
        view_if_trainable(m, frozen, S->ln1_w, D, &G->ln1_w);
        view_if_trainable(m, frozen, S->ln1_b, D, &G->ln1_b);
        view_if_trainable(m, frozen, S->wqkv, Q * D, &G->wqkv);
        view_if_trainable(m, frozen, S->bqkv, Q, &G->bqkv);
        view_if_trainable(m, frozen, S->wo, HD * D, &G->wo);
        view_if_trainable(m, frozen, S->bo, D, &G->bo);
        view_if_trainable(m, frozen, S->ln2_w, D, &G->ln2_w);
        view_if_trainable(m, frozen, S->ln2_b, D, &G->ln2_b);
        view_if_trainable(m, frozen, S->w_up, UP * D, &G->w_up);
        view_if_trainable(m, frozen, S->b_up, F, &G->b_up);
        view_if_trainable(m, frozen, S->w_down, F * D, &G->w_down);
        view_if_trainable(m, frozen, S->b_down, D, &G->b_down);
    }
    return RLAIF_OK;
}

rlaif_status tf_train_backward(tf_engine *e, const tf_weights *g, const rlaif_outputs *d,
                               float temperature, tf_bwd_ws *ws, char *err, size_t errlen)
{
    const tf_config *c = &e->m->cfg;
    tf_acts *a = &e->acts;
    if (!a->keep || !a->layers || a->T == 0)
        return rlaif_errorf(err, errlen, RLAIF_E_STATE,
                            "backward: no kept activations (run forward with RLAIF_OUT_KEEP first)");
    if (!(temperature > 0.0f))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "backward: temperature %g is not positive",
                            (double)temperature);
    rlaif_status st = ws_prepare(ws, e, err, errlen);
    if (st) return st;
    st = heads_bwd(e, g, d, temperature, ws, err, errlen);
    if (st) return st;
    size_t T = a->T, D = (size_t)c->dim;
    zero(ws->dres, T * D);
    norm_bwd(c, ws->dres, g->lnf_w, g->lnf_b, ws->dxf, a->x_out, e->m->w.lnf_w, a->meanf, a->rstdf,
             T);
    long stop = lowest_trainable(e, g, c->n_layers);
    for (long l = (long)c->n_layers - 1; l >= 0 && l >= stop; l--) {
        static const tf_layer none;
        layer_bwd(e, (size_t)l, g->layers ? &g->layers[l] : &none, ws);
    }
    if (stop >= 0) return RLAIF_OK; /* nothing below needs a gradient */
    if (g->tok_emb) embedding_backward(g->tok_emb, ws->dres, a->ids, T, D);
    if (g->pos_emb && c->arch == TF_GPT2) posembed_backward(g->pos_emb, ws->dres, a->pos, T, D);
    return RLAIF_OK;
}
