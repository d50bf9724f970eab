/* rollout.c — see rollout.h. */
#include "rollout.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

double ro_count_a(const int32_t *ids, size_t n)
{
    double r = 0;
    for (size_t i = 0; i < n; i++) r += ids[i] == 'a';
    return r;
}

void ro_init(ro_batch *r)
{
    memset(r, 0, sizeof *r);
    th_batch_init(&r->seqs);
}

void ro_free(ro_batch *r)
{
    th_batch_free(&r->seqs);
    free(r->rewards);
    free(r->sample_lp);
    free(r->group);
    free(r->finished);
    memset(r, 0, sizeof *r);
}

/* Generates k continuations of each prompt; ids/lps are [n·k·max_new]. */
static void generate(rlc_instance *policy, const char *const *prompts, size_t n_prompts, size_t k,
                     float T, uint32_t max_new, uint64_t seed, th_batch *pb, int32_t **ids,
                     float **lps, size_t **n_new, uint8_t **fin)
{
    const rlaif_model_vtable *vt = th_mvt(policy);
    th_batch_init(pb);
    for (size_t p = 0; p < n_prompts; p++)
        for (size_t j = 0; j < k; j++) th_batch_add(pb, prompts[p], NULL, 0);
    size_t n = pb->n;
    *ids = malloc(n * max_new * sizeof **ids);
    *lps = malloc(n * max_new * sizeof **lps);
    *n_new = malloc(n * sizeof **n_new);
    *fin = malloc(n);
    ck_assert(*ids && *lps && *n_new && *fin);
    rlaif_generation g = {sizeof g, *ids, *lps, *n_new, *fin};
    rlaif_sampling s = {.struct_size = sizeof s, .temperature = T, .top_p = 1.0f,
                        .max_new_tokens = max_new, .seed = seed};
    char err[256];
    ck_assert_msg(vt->generate(rlc_instance_self(policy), th_batch_seqs(pb), &s, &g, err,
                               sizeof err) == RLAIF_OK,
                  "generate: %s", err);
}

double ro_collect(ro_batch *r, rlc_instance *policy, const char *const *prompts, size_t n_prompts,
                  size_t k, float T, uint32_t max_new, uint64_t seed, ro_reward_fn fn)
{
    th_batch pb;
    int32_t *ids;
    float *lps;
    size_t *n_new;
    uint8_t *fin;
    generate(policy, prompts, n_prompts, k, T, max_new, seed, &pb, &ids, &lps, &n_new, &fin);
    size_t n = pb.n;
    th_batch_clear(&r->seqs);
    if (n > r->cap) {
        r->rewards = realloc(r->rewards, n * sizeof *r->rewards);
        r->group = realloc(r->group, n * sizeof *r->group);
        r->finished = realloc(r->finished, n);
        r->cap = n;
    }
    double mean = 0;
    for (size_t b = 0; b < n; b++) {
        const int32_t *resp = ids + b * max_new;
        th_batch_add(&r->seqs, prompts[b / k], resp, n_new[b]);
        r->rewards[b] = (float)fn(resp, n_new[b]);
        r->group[b] = (uint32_t)(b / k);
        r->finished[b] = fin[b] == RLAIF_FINISH_STOP;
        mean += r->rewards[b] / (double)n;
    }
    /* The sampler's logprobs, laid out like forward's: entry t of a
     * sequence is log p(ids[t+1]), so response token j sits at pl - 1 + j. */
    size_t total = th_batch_total(&r->seqs);
    if (total > r->cap_lp) {
        r->sample_lp = realloc(r->sample_lp, total * sizeof *r->sample_lp);
        r->cap_lp = total;
    }
    size_t off = 0;
    for (size_t b = 0; b < n; b++) {
        memset(r->sample_lp + off, 0, r->seqs.len[b] * sizeof(float));
        size_t pl = r->seqs.prompt_len[b];
        for (size_t j = 0; j < n_new[b]; j++) r->sample_lp[off + pl - 1 + j] = lps[b * max_new + j];
        off += r->seqs.len[b];
    }
    memset(&r->batch, 0, sizeof r->batch);
    r->batch.struct_size = sizeof r->batch;
    r->batch.seqs = *th_batch_seqs(&r->seqs);
    r->batch.rewards = r->rewards;
    r->batch.sample_logprobs = r->sample_lp;
    r->batch.group = r->group;
    r->batch.finished = r->finished;
    r->batch.temperature = T;
    th_batch_free(&pb);
    free(ids);
    free(lps);
    free(n_new);
    free(fin);
    return mean;
}

void ro_measure(rlc_instance *policy, rlc_instance *reference, const char *const *prompts,
                size_t n_prompts, size_t k, uint32_t max_new, uint64_t seed, ro_reward_fn fn,
                double *reward, double *kl)
{
    ro_batch r;
    ro_init(&r);
    *reward = ro_collect(&r, policy, prompts, n_prompts, k, 1.0f, max_new, seed, fn);
    size_t total = th_batch_total(&r.seqs);
    float *lp = malloc(total * sizeof *lp), *rl = malloc(total * sizeof *rl);
    ck_assert(lp && rl);
    rlaif_outputs o = {sizeof o, lp, NULL, NULL, NULL}, ro = {sizeof ro, rl, NULL, NULL, NULL};
    char err[256];
    const rlaif_seqs *s = th_batch_seqs(&r.seqs);
    ck_assert_msg(th_mvt(policy)->forward(rlc_instance_self(policy), s, RLAIF_OUT_LOGPROBS, 1.0f,
                                          &o, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(th_mvt(reference)->forward(rlc_instance_self(reference), s, RLAIF_OUT_LOGPROBS,
                                             1.0f, &ro, err, sizeof err) == 0, "%s", err);
    double sum = 0;
    size_t off = 0;
    for (size_t b = 0; b < s->n; b++) {
        for (size_t t = s->prompt_len[b] - 1; t + 1 < s->len[b]; t++)
            sum += (double)lp[off + t] - rl[off + t];
        off += s->len[b];
    }
    *kl = sum / (double)s->n;
    free(lp);
    free(rl);
    ro_free(&r);
}

rlaif_opt_models ro_models(rlc_instance *policy, rlc_instance *reference, rlc_instance *value)
{
    rlaif_opt_models m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    if (policy) rlc_instance_to_ref(policy, &m.policy);
    if (reference) rlc_instance_to_ref(reference, &m.reference);
    if (value) rlc_instance_to_ref(value, &m.value);
    return m;
}
