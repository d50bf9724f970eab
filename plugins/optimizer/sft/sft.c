/*
 * optimizer/sft — supervised fine-tuning on demonstrations.
 *
 * Loss: the mean negative log-likelihood of the response tokens (the
 * prompt is context only, unless train_on_prompt), normalised per token
 * over the whole accumulated batch: with grad_accum = k, k calls of step()
 * each add their gradient of  Σ_tokens -log p  and the k-th call updates
 * the model with grad_scale = 1 / (tokens of all k calls), so a token
 * weighs the same whichever call or microbatch it came in.
 * dL/dlogprob = -1/N on every counted token, 0 elsewhere.
 *
 * Batch: seqs with prompt_len marking the prompt.  Models: policy.
 *
 * Config keys:
 *   lr 1e-4, beta1 0.9, beta2 0.999, eps 1e-8, weight_decay 0,
 *   max_grad_norm 1 (0 = off), warmup_steps 0, total_steps 0,
 *   schedule "constant" | "linear" | "cosine", min_lr_ratio 0
 *                           AdamW and the per-update learning rate
 *   minibatch_size 0        sequences per forward/backward (0 = all)
 *   grad_accum 1            calls of step() per model update
 *   train_on_prompt false   also learn the prompt tokens
 *   pack_to 0               packing: concatenate consecutive demonstrations
 *                           into sequences of at most this many tokens (0 =
 *                           off) so short ones share a forward; the position
 *                           where one ends and the next begins is not
 *                           learned.  Attention then crosses demonstration
 *                           boundaries (no segment masks in the ABI), which
 *                           is the usual price of packing.
 *
 * Stats: loss (this call's mean NLL per token), ppl, tokens, sequences
 * (forwarded, after packing), updated (1 when this call updated the
 * model), grad_norm, lr, updates.
 * State (get_state): {"calls", "updates", "pending_tokens"}.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optrun.h"

#define WHO "optimizer/sft"

typedef struct sft {
    or_adam adam;
    int64_t minibatch_size, grad_accum;
    int train_on_prompt;
    int64_t pack_to;
    /* packed copy of a batch (reused across calls) */
    int32_t *pk_ids;
    size_t cap_pk_ids;
    const int32_t **pk_ptr;
    size_t *pk_len;
    size_t cap_pk;
    uint64_t calls, updates;
    double pending_tokens;   /* tokens whose gradients wait for the update */
    double last_grad_norm;
    or_stats stats;
    or_sub sub;
    float *lp, *g;
    uint8_t *mask;
    size_t cap_lp, cap_g, cap_mask;
    char state[256];
} sft;

static rlaif_status sft_create(const rlaif_host *host, const char *config, void **out, char *err,
                               size_t errlen)
{
    (void)host;
    static const char *const keys[] = {OR_ADAM_KEYS, "minibatch_size", "grad_accum",
                                       "train_on_prompt", "pack_to", NULL};
    pconfig c;
    if (pconfig_open(&c, WHO, config, err, errlen)) return pconfig_close(&c);
    sft s;
    memset(&s, 0, sizeof s);
    or_adam_read(&c, &s.adam, 1e-4);
    s.minibatch_size = pconfig_int(&c, "minibatch_size", 0, 0, INT64_MAX);
    s.grad_accum = pconfig_int(&c, "grad_accum", 1, 1, 1000000);
    s.train_on_prompt = pconfig_bool(&c, "train_on_prompt", 0);
    s.pack_to = pconfig_int(&c, "pack_to", 0, 0, INT32_MAX);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st) return st;
    sft *self = malloc(sizeof *self);
    if (!self) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    *self = s;
    *out = self;
    return RLAIF_OK;
}

static void sft_destroy(void *vself)
{
    sft *s = vself;
    if (!s) return;
    or_sub_free(&s->sub);
    free(s->lp);
    free(s->g);
    free(s->mask);
    free(s->pk_ids);
    free(s->pk_ptr);
    free(s->pk_len);
    free(s);
}

/* Forward (and with train, backward) over the batch in microbatches;
 * returns the NLL sum and token count. */
static rlaif_status run_batch(sft *s, const rlaif_opt_models *m, const rlaif_seqs *seqs,
                              const or_layout *l, int train, double *nll, double *tokens,
                              char *err, size_t errlen)
{
    size_t mb = s->minibatch_size > 0 && (size_t)s->minibatch_size < seqs->n
                    ? (size_t)s->minibatch_size
                    : seqs->n;
    size_t idx_cap = 0;
    size_t *idx = NULL;
    rlaif_status st = or_reserve((void **)&idx, &idx_cap, seqs->n, sizeof *idx, WHO, err, errlen);
    if (st) return st;
    for (size_t i = 0; i < seqs->n; i++) idx[i] = i;
    *nll = 0;
    *tokens = 0;
    for (size_t k = 0; k < seqs->n && !st; k += mb) {
        size_t n = seqs->n - k < mb ? seqs->n - k : mb;
        if ((st = or_sub_make(&s->sub, seqs, l, idx + k, n, WHO, err, errlen))) break;
        size_t T = s->sub.total;
        if ((st = or_reserve((void **)&s->lp, &s->cap_lp, T, sizeof(float), WHO, err, errlen)) ||
            (st = or_reserve((void **)&s->g, &s->cap_g, T, sizeof(float), WHO, err, errlen)) ||
            (st = or_reserve((void **)&s->mask, &s->cap_mask, T, 1, WHO, err, errlen)))
            break;
        or_sub_gather_u8(&s->sub, s->mask, l->mask);
        rlaif_outputs o;
        memset(&o, 0, sizeof o);
        o.logprobs = s->lp;
        uint32_t want = RLAIF_OUT_LOGPROBS | (train ? RLAIF_OUT_KEEP : 0);
        if ((st = or_forward(&m->policy, "policy", &s->sub.seqs, want, 1.0f, &o, WHO, err,
                             errlen)))
            break;
        /* Unscaled: -1 per token; the step's grad_scale divides by N. */
        double part = om_sft_nll(s->lp, s->mask, T, 1.0f, s->g);
        if ((st = or_check_value(part, s->calls + 1, "loss", WHO, err, errlen))) break;
        *nll += part;
        *tokens += (double)om_mask_count(s->mask, T);
        if (!train) continue;
        rlaif_outputs g;
        memset(&g, 0, sizeof g);
        g.struct_size = sizeof g;
        g.logprobs = s->g;
        st = or_backward(&m->policy, "policy", &g, WHO, err, errlen);
    }
    free(idx);
    return st;
}

/* Packs consecutive sequences of `in` (whose action mask is `lin`) into
 * sequences of at most pack_to tokens; builds their layout `lout` by hand:
 * the actions of each piece keep their mask, the position that would
 * predict the next piece's first token is not an action. */
static rlaif_status pack(sft *s, const rlaif_seqs *in, const or_layout *lin, rlaif_seqs *out,
                         or_layout *lout, char *err, size_t errlen)
{
    size_t total = lin->total, n = in->n;
    rlaif_status st;
    if ((st = or_reserve((void **)&s->pk_ids, &s->cap_pk_ids, total, sizeof(int32_t), WHO, err,
                         errlen)))
        return st;
    if (n > s->cap_pk) {
        const int32_t **p = realloc(s->pk_ptr, n * sizeof *p);
        if (p) s->pk_ptr = p;
        size_t *q = realloc(s->pk_len, n * sizeof *q);
        if (q) s->pk_len = q;
        if (!p || !q) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
        s->cap_pk = n;
    }
    memset(lout, 0, sizeof *lout);
    lout->off = malloc(n * sizeof *lout->off);
    lout->mask = calloc(total ? total : 1, 1);
    if (!lout->off || !lout->mask) {
        or_layout_free(lout);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    }
    size_t np = 0, used = 0;
    for (size_t b = 0; b < n; b++) {
        size_t len = in->len[b];
        int fits = np > 0 && s->pk_len[np - 1] + len <= (size_t)s->pack_to;
        if (!fits) {
            s->pk_ptr[np] = s->pk_ids + used;
            s->pk_len[np] = 0;
            lout->off[np] = used;
            np++;
        }
        memcpy(s->pk_ids + used, in->ids[b], len * sizeof(int32_t));
        memcpy(lout->mask + used, lin->mask + lin->off[b], len);
        /* The piece's last position would predict across the boundary. */
        if (len) lout->mask[used + len - 1] = 0;
        s->pk_len[np - 1] += len;
        used += len;
    }
    lout->n = np;
    lout->total = total;
    *out = (rlaif_seqs){sizeof *out, np, s->pk_ptr, s->pk_len, NULL};
    return RLAIF_OK;
}

static rlaif_status sft_run(sft *s, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                            int train, rlaif_opt_result *out, char *err, size_t errlen)
{
    rlaif_status st = or_need_model(&m->policy, "policy", train, WHO, err, errlen);
    if (st) return st;
    or_layout l;
    if ((st = or_layout_build(&l, &b->seqs, s->train_on_prompt, WHO, err, errlen))) return st;
    const rlaif_seqs *seqs = &b->seqs;
    rlaif_seqs packed;
    if (s->pack_to > 0) {
        or_layout pl;
        st = pack(s, &b->seqs, &l, &packed, &pl, err, errlen);
        or_layout_free(&l);
        if (st) return st;
        l = pl;
        seqs = &packed;
    }
    double nll = 0, tokens = 0;
    size_t forwarded = seqs->n;
    st = run_batch(s, m, seqs, &l, train, &nll, &tokens, err, errlen);
    or_layout_free(&l);
    if (st) {
        /* Nothing of a failed call may reach the weights. */
        if (train) {
            or_zero_grad(&m->policy);
            s->pending_tokens = 0;
        }
        return st;
    }
    int updated = 0;
    double lr = or_lr_at(&s->adam, s->updates);
    if (train) {
        s->calls++;
        s->pending_tokens += tokens;
        if (s->calls % (uint64_t)s->grad_accum == 0) {
            float scale = s->pending_tokens > 0 ? (float)(1.0 / s->pending_tokens) : 0.0f;
            rlaif_step_params p = or_step_params(&s->adam, s->updates, scale);
            if ((st = or_model_step(&m->policy, "policy", &p, &s->last_grad_norm, s->calls, WHO,
                                    err, errlen))) {
                s->pending_tokens = 0;
                return st;
            }
            s->updates++;
            s->pending_tokens = 0;
            updated = 1;
        }
    }
    double loss = tokens > 0 ? nll / tokens : 0;
    or_stats_reset(&s->stats);
    or_stats_set(&s->stats, "loss", loss);
    or_stats_set(&s->stats, "ppl", exp(loss));
    or_stats_set(&s->stats, "tokens", tokens);
    or_stats_set(&s->stats, "sequences", (double)forwarded);
    if (train) {
        or_stats_set(&s->stats, "updated", updated);
        or_stats_set(&s->stats, "grad_norm", s->last_grad_norm);
        or_stats_set(&s->stats, "lr", lr);
        or_stats_set(&s->stats, "updates", (double)s->updates);
    }
    or_stats_out(&s->stats, out);
    return RLAIF_OK;
}

static rlaif_status sft_step(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                             rlaif_opt_result *out, char *err, size_t errlen)
{
    return sft_run(self, m, b, 1, out, err, errlen);
}

static rlaif_status sft_evaluate(void *self, const rlaif_opt_models *m, const rlaif_opt_batch *b,
                                 rlaif_opt_result *out, char *err, size_t errlen)
{
    return sft_run(self, m, b, 0, out, err, errlen);
}

static rlaif_status sft_get_state(void *self, const char **json)
{
    sft *s = self;
    snprintf(s->state, sizeof s->state,
             "{\"calls\": %llu, \"updates\": %llu, \"pending_tokens\": %.17g}",
             (unsigned long long)s->calls, (unsigned long long)s->updates, s->pending_tokens);
    *json = s->state;
    return RLAIF_OK;
}

static rlaif_status sft_set_state(void *self, const char *json, char *err, size_t errlen)
{
    sft *s = self;
    pconfig c;
    if (pconfig_open(&c, WHO " state", json, err, errlen)) return pconfig_close(&c);
    static const char *const keys[] = {"calls", "updates", "pending_tokens", NULL};
    int64_t calls = pconfig_int(&c, "calls", 0, 0, INT64_MAX);
    int64_t updates = pconfig_int(&c, "updates", 0, 0, INT64_MAX);
    double pending = pconfig_number(&c, "pending_tokens", 0, 0, 1e300);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = pconfig_close(&c);
    if (st) return st;
    s->calls = (uint64_t)calls;
    s->updates = (uint64_t)updates;
    s->pending_tokens = pending;
    return RLAIF_OK;
}

static const rlaif_optimizer_vtable sft_vtable = {
    .base = {.struct_size = sizeof(rlaif_optimizer_vtable),
             .create = sft_create,
             .destroy = sft_destroy},
    .step = sft_step,
    .get_state = sft_get_state,
    .set_state = sft_set_state,
    .evaluate = sft_evaluate,
};

static const rlaif_plugin_info sft_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_OPTIMIZER,
    .name = "sft",
    .version = "1.0.0",
    .description = "supervised fine-tuning: response-token NLL, token-normalised over accumulation",
    .caps = RLAIF_CAP_SAVE | RLAIF_CAP_OPTIMIZER_OFFLINE,
    .vtable = &sft_vtable,
};

RLAIF_PLUGIN(&sft_info)
