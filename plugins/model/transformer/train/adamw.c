/*
 * adamw.c — AdamW over flat arrays, global-norm clipping, schedules.
 * See adamw.h for the exact update.
 */
#include "adamw.h"

#include "pool.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

adamw_params adamw_params_default(void)
{
    adamw_params p = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                      .weight_decay = 0.01f, .max_grad_norm = 0.0f, .grad_scale = 1.0f};
    return p;
}

void adamw_init(adamw_state *st, size_t n)
{
    st->n = n;
    st->m = st->v = NULL;
    st->step = 0;
    st->pool = NULL;
}

void adamw_free(adamw_state *st)
{
    free(st->m);
    free(st->v);
    st->m = st->v = NULL;
}

static int check_params(const adamw_state *st, const adamw_tensor *t, size_t nt,
                        const adamw_params *p, char *err, size_t errlen)
{
    if (!isfinite(p->lr) || !isfinite(p->grad_scale) || !(p->beta1 >= 0 && p->beta1 < 1) ||
        !(p->beta2 >= 0 && p->beta2 < 1) || !(p->eps >= 0) || !isfinite(p->weight_decay)) {
        set_err(err, errlen, "adamw: invalid hyper-parameters (lr %g, betas %g/%g, eps %g, "
                "weight_decay %g, grad_scale %g)", (double)p->lr, (double)p->beta1,
                (double)p->beta2, (double)p->eps, (double)p->weight_decay, (double)p->grad_scale);
        return ADAMW_E_INVALID;
    }
    for (size_t i = 0; i < nt; i++) {
        if (t[i].offset > st->n || t[i].numel > st->n - t[i].offset) {
            set_err(err, errlen, "adamw: tensor '%s' [%zu, +%zu) is outside the %zu parameters",
                    t[i].name ? t[i].name : "?", t[i].offset, t[i].numel, st->n);
            return ADAMW_E_INVALID;
        }
    }
    return ADAMW_OK;
}

/* Sum of squares of n scaled gradients, in double: eight independent
 * accumulators, so the loop vectorises without reassociating one sum. */
static double tensor_sumsq(const float *g, size_t n, float scale)
{
    double acc[8] = {0};
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) {
            double x = (double)g[j + k] * scale;
            acc[k] += x * x;
        }
    double s = 0.0;
    for (int k = 0; k < 8; k++) s += acc[k];
    for (; j < n; j++) {
        double x = (double)g[j] * scale;
        s += x * x;
    }
    return s;
}

typedef struct sumsq_job {
    const float *g;
    const adamw_tensor *t;
    float scale;
    double *s;     /* [nt] per-tensor sums */
} sumsq_job;

static void sumsq_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const sumsq_job *j = ctx;
    j->s[i] = tensor_sumsq(j->g + j->t[i].offset, j->t[i].numel, j->scale);
}

/* Sum of squares of the scaled gradients, in double: per tensor (on the
 * pool), then added in tensor order.  A non-finite sum means some element
 * is NaN/Inf: find and name it. */
static int grad_sumsq(double *out, const float *g, const adamw_tensor *t, size_t nt, float scale,
                      struct tf_pool *pool, char *err, size_t errlen)
{
    double *s = malloc((nt ? nt : 1) * sizeof *s);
    if (!s) {
        set_err(err, errlen, "adamw: out of memory");
        return ADAMW_E_NOMEM;
    }
    sumsq_job job = {g, t, scale, s};
    tf_pool_run(pool, nt, sumsq_task, &job);
    double total = 0.0;
    for (size_t i = 0; i < nt; i++) {
        if (!isfinite(s[i])) {
            const float *gi = g + t[i].offset;
            size_t j = 0;
            while (j < t[i].numel && isfinite((double)gi[j] * scale)) j++;
            set_err(err, errlen, "adamw: non-finite gradient in tensor '%s' at element %zu (%g); "
                    "no parameter was updated", t[i].name ? t[i].name : "?", j,
                    j < t[i].numel ? (double)gi[j] : NAN);
            free(s);
            return ADAMW_E_NONFINITE;
        }
        total += s[i];
    }
    free(s);
    *out = total;
    return ADAMW_OK;
}

/* The element-wise update, in chunks of at most UPDATE_CHUNK elements of
 * one tensor each, so the pool's threads share big tensors evenly. */
#define UPDATE_CHUNK ((size_t)1 << 16)

typedef struct update_chunk {
    size_t tensor, first, count;
} update_chunk;

typedef struct update_job {
    float *params, *m, *v;
    const float *grads;
    const adamw_tensor *t;
    const update_chunk *chunks;
    float b1, b2, step_size, bc2_sqrt, gscale, eps, lr_wd;
} update_job;

static void update_task(void *ctx, size_t c, int thread)
{
    (void)thread;
    const update_job *j = ctx;
    const update_chunk *k = &j->chunks[c];
    const adamw_tensor *t = &j->t[k->tensor];
    float decay = t->decay ? 1.0f - j->lr_wd : 1.0f;
    size_t o = t->offset + k->first;
    float *w = j->params + o, *m = j->m + o, *v = j->v + o;
    const float *g = j->grads + o;
    float b1 = j->b1, b2 = j->b2, step_size = j->step_size, bc2_sqrt = j->bc2_sqrt;
    float gscale = j->gscale, eps = j->eps;
    for (size_t i = 0; i < k->count; i++) {
        float gi = g[i] * gscale;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] *= decay;
        w[i] -= step_size * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
}

int adamw_step(adamw_state *st, float *params, const float *grads, const adamw_tensor *tensors,
               size_t n_tensors, const adamw_params *p, adamw_report *report, char *err,
               size_t errlen)
{
    int rc = check_params(st, tensors, n_tensors, p, err, errlen);
    if (rc) return rc;
    double sumsq;
    rc = grad_sumsq(&sumsq, grads, tensors, n_tensors, p->grad_scale, st->pool, err, errlen);
    if (rc) return rc;
    double norm = sqrt(sumsq), clip = 1.0;
    if (p->max_grad_norm > 0.0f && norm > 0.0) {
        clip = (double)p->max_grad_norm / (norm + 1e-6);
        if (clip > 1.0) clip = 1.0;
    }
    if (!st->m) { /* lazily: a model that never steps never holds moments */
        st->m = calloc(st->n ? st->n : 1, sizeof(float));
        st->v = calloc(st->n ? st->n : 1, sizeof(float));
        if (!st->m || !st->v) {
            adamw_free(st);
            set_err(err, errlen, "adamw: out of memory for %zu moments", st->n);
            return ADAMW_E_NOMEM;
        }
    }
    uint64_t t = st->step + 1;
    float b1 = p->beta1, b2 = p->beta2;
    double bc1 = 1.0 - pow((double)b1, (double)t), bc2 = 1.0 - pow((double)b2, (double)t);
    float step_size = (float)(p->lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    float gscale = (float)(p->grad_scale * clip);
    size_t n_chunks = 0;
    for (size_t i = 0; i < n_tensors; i++) n_chunks += (tensors[i].numel + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
    update_chunk *chunks = malloc((n_chunks ? n_chunks : 1) * sizeof *chunks);
    if (!chunks) {
        set_err(err, errlen, "adamw: out of memory");
        return ADAMW_E_NOMEM;
    }
    size_t c = 0;
    for (size_t i = 0; i < n_tensors; i++)
        for (size_t first = 0; first < tensors[i].numel; first += UPDATE_CHUNK) {
            size_t left = tensors[i].numel - first;
            chunks[c++] = (update_chunk){i, first, left < UPDATE_CHUNK ? left : UPDATE_CHUNK};
        }
    update_job job = {params, st->m, st->v, grads, tensors, chunks, b1, b2, step_size, bc2_sqrt,
                      gscale, p->eps, p->lr * p->weight_decay};
    tf_pool_run(st->pool, n_chunks, update_task, &job);
    free(chunks);
    st->step = t;
    if (report) {
        report->grad_norm = norm;
        report->clip = clip;
        report->step = t;
    }
    return ADAMW_OK;
}

float lr_at(const lr_schedule *s, uint64_t step)
{
    if (s->warmup_steps > 0 && step < s->warmup_steps)
        return s->lr_max * (float)((double)(step + 1) / (double)s->warmup_steps);
    if (s->kind == LR_CONSTANT) return s->lr_max;
    double span = s->total_steps > s->warmup_steps ? (double)(s->total_steps - s->warmup_steps) : 0.0;
    double x = span > 0.0 ? (double)(step - s->warmup_steps) / span : 1.0;
    if (x > 1.0) x = 1.0;
    double f = s->kind == LR_COSINE ? 0.5 * (1.0 + cos(M_PI * x)) : 1.0 - x;
    return (float)(s->lr_min + (s->lr_max - s->lr_min) * f);
}
