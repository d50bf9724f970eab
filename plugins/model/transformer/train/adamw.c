/*
 * adamw.c — AdamW over flat arrays, global-norm clipping, schedules.
 * See adamw.h for the exact update.
 */
#include "adamw.h"

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

/* Sum of squares of the scaled gradients, in double.  A non-finite sum
 * means some element is NaN/Inf: find and name it. */
static int grad_sumsq(double *out, const float *g, const adamw_tensor *t, size_t nt, float scale,
                      char *err, size_t errlen)
{
    double total = 0.0;
    for (size_t i = 0; i < nt; i++) {
        const float *gi = g + t[i].offset;
        /* eight independent double accumulators: the loop vectorises
         * without reassociating one running sum */
        double acc[8] = {0};
        size_t j = 0, n = t[i].numel;
        for (; j + 8 <= n; j += 8)
            for (int k = 0; k < 8; k++) {
                double x = (double)gi[j + k] * scale;
                acc[k] += x * x;
            }
        double s = 0.0;
        for (int k = 0; k < 8; k++) s += acc[k];
        for (; j < n; j++) {
            double x = (double)gi[j] * scale;
            s += x * x;
        }
        if (!isfinite(s)) {
            j = 0;
            while (j < t[i].numel && isfinite((double)gi[j] * scale)) j++;
            set_err(err, errlen, "adamw: non-finite gradient in tensor '%s' at element %zu (%g); "
                    "no parameter was updated", t[i].name ? t[i].name : "?", j,
                    j < t[i].numel ? (double)gi[j] : NAN);
            return ADAMW_E_NONFINITE;
        }
        total += s;
    }
    *out = total;
    return ADAMW_OK;
}

int adamw_step(adamw_state *st, float *params, const float *grads, const adamw_tensor *tensors,
               size_t n_tensors, const adamw_params *p, adamw_report *report, char *err,
               size_t errlen)
{
    int rc = check_params(st, tensors, n_tensors, p, err, errlen);
    if (rc) return rc;
    double sumsq;
    rc = grad_sumsq(&sumsq, grads, tensors, n_tensors, p->grad_scale, err, errlen);
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
    for (size_t i = 0; i < n_tensors; i++) {
        float decay = tensors[i].decay ? 1.0f - p->lr * p->weight_decay : 1.0f;
        float *w = params + tensors[i].offset, *m = st->m + tensors[i].offset,
              *v = st->v + tensors[i].offset;
        const float *g = grads + tensors[i].offset;
        for (size_t j = 0; j < tensors[i].numel; j++) {
            float gj = g[j] * gscale;
            m[j] = b1 * m[j] + (1.0f - b1) * gj;
            v[j] = b2 * v[j] + (1.0f - b2) * gj * gj;
            w[j] *= decay;
            w[j] -= step_size * m[j] / (sqrtf(v[j]) / bc2_sqrt + p->eps);
        }
    }
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
