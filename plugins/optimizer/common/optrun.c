/* optrun.c — see optrun.h. */
#include "optrun.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ===== AdamW and the schedule ============================================ */

void or_adam_read(pconfig *c, or_adam *a, double default_lr)
{
    static const char *const scheds[] = {"constant", "linear", "cosine", NULL};
    a->lr = pconfig_number(c, "lr", default_lr, 0, 10);
    a->beta1 = pconfig_number(c, "beta1", 0.9, 0, 0.999999);
    a->beta2 = pconfig_number(c, "beta2", 0.999, 0, 0.9999999);
    a->eps = pconfig_number(c, "eps", 1e-8, 0, 1);
    a->weight_decay = pconfig_number(c, "weight_decay", 0.0, 0, 10);
    a->max_grad_norm = pconfig_number(c, "max_grad_norm", 1.0, 0, 1e9);
    a->warmup_steps = pconfig_int(c, "warmup_steps", 0, 0, INT64_MAX);
    a->total_steps = pconfig_int(c, "total_steps", 0, 0, INT64_MAX);
    a->schedule = pconfig_enum(c, "schedule", "constant", scheds);
    a->min_lr_ratio = pconfig_number(c, "min_lr_ratio", 0.0, 0, 1);
}

double or_lr_at(const or_adam *a, uint64_t step)
{
    if (a->warmup_steps > 0 && step < (uint64_t)a->warmup_steps)
        return a->lr * (double)(step + 1) / (double)a->warmup_steps;
    if (a->schedule == OR_SCHED_CONSTANT || a->total_steps <= a->warmup_steps) return a->lr;
    double progress = (double)(step - (uint64_t)a->warmup_steps) /
                      (double)(a->total_steps - a->warmup_steps);
    if (progress > 1) progress = 1;
    double lo = a->min_lr_ratio, f;
    if (a->schedule == OR_SCHED_LINEAR) f = 1.0 - progress * (1.0 - lo);
    else f = lo + (1.0 - lo) * 0.5 * (1.0 + cos(3.141592653589793 * progress));
    return a->lr * f;
}

rlaif_step_params or_step_params(const or_adam *a, uint64_t step, float grad_scale)
{
    rlaif_step_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.lr = (float)or_lr_at(a, step);
    p.beta1 = (float)a->beta1;
    p.beta2 = (float)a->beta2;
    p.eps = (float)a->eps;
    p.weight_decay = (float)a->weight_decay;
    p.max_grad_norm = (float)a->max_grad_norm;
    p.grad_scale = grad_scale;
    return p;
}

/* ===== stats ============================================================= */

void or_stats_reset(or_stats *s) { s->n = 0; }

void or_stats_set(or_stats *s, const char *name, double value)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].name, name) == 0) {
            s->items[i].value = value;
            return;
        }
    if (s->n < OR_MAX_STATS) s->items[s->n++] = (rlaif_stat){name, value};
}

double or_stats_get(const or_stats *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].name, name) == 0) return s->items[i].value;
    return NAN;
}

void or_stats_out(const or_stats *s, rlaif_opt_result *out)
{
    if (!out) return;
    out->stats = s->items;
    out->n_stats = s->n;
}

/* ===== layout ============================================================ */

void or_layout_free(or_layout *l)
{
    free(l->off);
    free(l->first);
    free(l->count);
    free(l->mask);
    memset(l, 0, sizeof *l);
}

rlaif_status or_layout_build(or_layout *l, const rlaif_seqs *s, int all_tokens, const char *who,
                             char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    if (!s->n)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "%s: the batch has no sequences", who);
    if (!s->ids || !s->len)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "%s: batch.seqs lacks ids or len", who);
    size_t total = 0;
    for (size_t b = 0; b < s->n; b++) {
        size_t pl = s->prompt_len ? s->prompt_len[b] : 0;
        if (pl > s->len[b])
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                "%s: sequence %zu: prompt_len %zu exceeds its length %zu", who, b,
                                pl, s->len[b]);
        total += s->len[b];
    }
    l->n = s->n;
    l->total = total;
    l->off = malloc(s->n * sizeof *l->off);
    l->first = malloc(s->n * sizeof *l->first);
    l->count = malloc(s->n * sizeof *l->count);
    l->mask = calloc(total ? total : 1, 1);
    if (!l->off || !l->first || !l->count || !l->mask) {
        or_layout_free(l);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", who);
    }
    size_t off = 0;
    for (size_t b = 0; b < s->n; b++) {
        size_t pl = (s->prompt_len && !all_tokens) ? s->prompt_len[b] : 0;
        size_t len = s->len[b];
        size_t first = pl ? pl - 1 : 0;
        size_t count = len >= first + 1 ? len - 1 - first : 0;
        l->off[b] = off;
        l->first[b] = first;
        l->count[b] = count;
        for (size_t t = first; t < first + count; t++) l->mask[off + t] = 1;
        off += len;
    }
    return RLAIF_OK;
}

/* ===== minibatches ======================================================= */

void or_sub_free(or_sub *v)
{
    free(v->ids);
    free(v->len);
    free(v->plen);
    free(v->idx);
    free(v->full_off);
    free(v->sub_off);
    memset(v, 0, sizeof *v);
}

rlaif_status or_sub_make(or_sub *v, const rlaif_seqs *full, const or_layout *l,
                         const size_t *idx, size_t n, const char *who, char *err, size_t errlen)
{
    if (n > v->cap) {
        size_t cap = n;
        const int32_t **ids = realloc(v->ids, cap * sizeof *ids);
        if (ids) v->ids = ids;
        size_t **arrs[5] = {&v->len, &v->plen, &v->idx, &v->full_off, &v->sub_off};
        int ok = ids != NULL;
        for (int i = 0; i < 5 && ok; i++) {
            size_t *p = realloc(*arrs[i], cap * sizeof(size_t));
            if (p) *arrs[i] = p;
            else ok = 0;
        }
        if (!ok) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", who);
        v->cap = cap;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t b = idx[i];
        v->ids[i] = full->ids[b];
        v->len[i] = full->len[b];
        v->plen[i] = full->prompt_len ? full->prompt_len[b] : 0;
        v->idx[i] = b;
        v->full_off[i] = l->off[b];
        v->sub_off[i] = total;
        total += full->len[b];
    }
    v->n = n;
    v->total = total;
    v->seqs.struct_size = sizeof v->seqs;
    v->seqs.n = n;
    v->seqs.ids = (const int32_t *const *)v->ids;
    v->seqs.len = v->len;
    v->seqs.prompt_len = v->plen;
    return RLAIF_OK;
}

void or_sub_gather(const or_sub *v, float *dst, const float *full)
{
    for (size_t i = 0; i < v->n; i++)
        memcpy(dst + v->sub_off[i], full + v->full_off[i], v->len[i] * sizeof(float));
}

void or_sub_gather_u8(const or_sub *v, uint8_t *dst, const uint8_t *full)
{
    for (size_t i = 0; i < v->n; i++)
        memcpy(dst + v->sub_off[i], full + v->full_off[i], v->len[i]);
}

void or_shuffle(size_t *idx, size_t n, uint64_t seed)
{
    uint64_t s = seed ^ 0x6A09E667F3BCC909ull;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        s += 0x9E3779B97F4A7C15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        size_t j = (size_t)(z % i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

rlaif_status or_reserve(void **p, size_t *cap, size_t n, size_t elem, const char *who, char *err,
                        size_t errlen)
{
    if (n <= *cap && *p) return RLAIF_OK;
    void *q = realloc(*p, (n ? n : 1) * elem);
    if (!q) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", who);
    *p = q;
    *cap = n;
    return RLAIF_OK;
}

/* ===== models ============================================================ */

static const rlaif_model_vtable *mvt(const rlaif_ref *m) { return m->vtable; }

rlaif_status or_need_model(const rlaif_ref *m, const char *role, int need_train, const char *who,
                           char *err, size_t errlen)
{
    if (!m || !m->vtable)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "%s: needs a %s model (models.%s)", who,
                            role, role);
    if (m->kind != RLAIF_KIND_MODEL)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "%s: models.%s is not a model", who,
                            role);
    const rlaif_model_vtable *vt = mvt(m);
    if (!vt->forward)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED, "%s: the %s model has no forward",
                            who, role);
    if (need_train && (!vt->backward || !vt->step))
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "%s: the %s model cannot be trained (no backward/step)", who, role);
    return RLAIF_OK;
}

/* Prefixes the model's own message with who and role. */
static rlaif_status wrap(rlaif_status st, const char *msg, const char *who, const char *role,
                         const char *call, char *err, size_t errlen)
{
    if (st == RLAIF_OK) return st;
    return rlaif_errorf(err, errlen, st, "%s: %s %s: %s", who, role, call, msg);
}

rlaif_status or_forward(const rlaif_ref *m, const char *role, const rlaif_seqs *s, uint32_t want,
                        float temperature, rlaif_outputs *out, const char *who, char *err,
                        size_t errlen)
{
    char msg[512] = "";
    out->struct_size = sizeof *out;
    rlaif_status st = mvt(m)->forward(m->self, s, want, temperature, out, msg, sizeof msg);
    return wrap(st, msg, who, role, "forward", err, errlen);
}

rlaif_status or_backward(const rlaif_ref *m, const char *role, const rlaif_outputs *g,
                         const char *who, char *err, size_t errlen)
{
    char msg[512] = "";
    rlaif_status st = mvt(m)->backward(m->self, g, msg, sizeof msg);
    return wrap(st, msg, who, role, "backward", err, errlen);
}

rlaif_status or_model_step(const rlaif_ref *m, const char *role, const rlaif_step_params *p,
                           double *grad_norm, uint64_t opt_step, const char *who, char *err,
                           size_t errlen)
{
    char msg[512] = "";
    rlaif_step_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    rlaif_status st = mvt(m)->step(m->self, p, &r, msg, sizeof msg);
    if (st == RLAIF_E_NUMERIC)
        return rlaif_errorf(err, errlen, st, "%s: step %llu: %s update: %s", who,
                            (unsigned long long)opt_step, role, msg);
    if (grad_norm) *grad_norm = r.grad_norm;
    return wrap(st, msg, who, role, "step", err, errlen);
}

void or_zero_grad(const rlaif_ref *m)
{
    if (m && m->vtable && mvt(m)->zero_grad) mvt(m)->zero_grad(m->self);
}

/* ===== guards ============================================================ */

rlaif_status or_check_finite(const float *x, size_t n, uint64_t step, const char *what,
                             const char *who, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return rlaif_errorf(err, errlen, RLAIF_E_NUMERIC,
                                "%s: step %llu: %s is not finite (%g at index %zu)", who,
                                (unsigned long long)step, what, (double)x[i], i);
    return RLAIF_OK;
}

rlaif_status or_check_value(double v, uint64_t step, const char *what, const char *who, char *err,
                            size_t errlen)
{
    if (isfinite(v)) return RLAIF_OK;
    return rlaif_errorf(err, errlen, RLAIF_E_NUMERIC, "%s: step %llu: %s is not finite (%g)", who,
                        (unsigned long long)step, what, v);
}

float or_batch_temperature(const rlaif_opt_batch *b)
{
    return (b->temperature > 0 && isfinite(b->temperature)) ? b->temperature : 1.0f;
}
