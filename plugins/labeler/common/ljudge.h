/*
 * ljudge.h — the verdict side that labeler/llm and labeler/http share:
 * answering a compare request from its canonical pair's numbers (and
 * counting it for the stats), the probe margins and probe scores, the
 * score labels and the principle draw of a score call.  The two plugins
 * differ only in how they obtain log-likelihoods (a local model, a
 * server), which reaches this code through a callback.  Keeping one copy
 * is what keeps their probabilities equal.
 */
#ifndef LAB_LJUDGE_H
#define LAB_LJUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "constitution.h"
#include "prompts.h"
#include "rlaif/plugin.h"

/* Counts since create, for stats(). */
typedef struct lab_tally {
    uint64_t n_compare;      /* comparisons answered */
    uint64_t n_two_order;    /* of those, evaluated in two orders */
    uint64_t n_disagree;     /* ... whose orders picked different winners */
    uint64_t n_first_wins;   /* verdicts of those won by the response shown first */
    uint64_t n_score;        /* scores answered */
} lab_tally;

enum { LAB_N_TALLY_STATS = 5 };

/* The stats both labelers report first: comparisons, position_bias,
 * first_shown_wins, scores, revision_rounds (out[0..5)). */
void lab_tally_stats(const lab_tally *t, uint64_t n_rounds, rlaif_stat *out);

/* A compare request as both labelers evaluate it: in canonical order (the
 * byte-wise smaller response is x, see prefmath.h), so that compare(a, b)
 * and compare(b, a) do the same arithmetic. */
typedef struct lab_pair {
    size_t principle;     /* drawn from the request's stream (round 0) */
    const char *prompt;   /* the request's, "" when NULL */
    const char *x, *y;
    int a_is_x;           /* the request's `a` is x */
    int tie;              /* a and b are the same text: p = 1/2, nothing to evaluate */
} lab_pair;

/* Plans request r (a and b not NULL) with the labeler's config seed and
 * principle subset (NULL: all). */
void lab_pair_plan(const lab_constitution *con, const size_t *subset, size_t n_subset,
                   uint64_t config_seed, const rlaif_compare_req *r, lab_pair *p);

/* Answers a compare request from its pair's numbers: px_first and
 * px_second are p(x ≻ y) with x shown first and second (lab_pair_combine).
 * Counts the answer in t (as a two-order evaluation when two_orders). */
void lab_answer(const lab_constitution *con, double clamp_hi, const lab_pair *p,
                double px_first, double px_second, int two_orders, lab_tally *t,
                rlaif_compare_result *res);

/* p(x ≻ y) in each presentation order from the choice labels' log-
 * likelihoods: ll[0], ll[1] after x shown first, ll[2], ll[3] after y. */
void lab_pair_orders(const double *ll, double *px_first, double *px_second);

/* p(x ≻ y) in probe mode: σ(scale · (margin_x − margin_y)). */
double lab_probe_pair(const lab_constitution *con, size_t principle, double margin_x,
                      double margin_y);

/* out[i] = log P(texts[i]), the whole text's log-likelihood (up to a
 * constant that is the same for every text, which the margins cancel). */
typedef rlaif_status (*lab_text_loglik_fn)(void *ctx, size_t n, const char *const *texts,
                                           double *out, char *err, size_t errlen);

/* Probe margins of n candidates: margin[i] = mean_pos L − mean_neg L with
 * the probe of principle[i] (see prefmath.h). */
rlaif_status lab_probe_margins(const lab_prompter *pp, size_t n, const char *const *prompts,
                               const char *const *responses, const size_t *principle,
                               lab_text_loglik_fn loglik, void *ctx, double *margin,
                               const char *who, char *err, size_t errlen);

/* Probe mode: px[k] = p(x ≻ y) of pairs[k], from the probe margins of x
 * and y (lab_probe_pair). */
rlaif_status lab_probe_pairs(const lab_prompter *pp, size_t m, const lab_pair *const *pairs,
                             lab_text_loglik_fn loglik, void *ctx, double *px, const char *who,
                             char *err, size_t errlen);

/* Probe-mode scores: 2σ(scale·margin) − 1 for each request. */
rlaif_status lab_score_probe(const lab_prompter *pp, size_t n, const rlaif_score_req *reqs,
                             const size_t *principle, lab_text_loglik_fn loglik, void *ctx,
                             rlaif_score_result *results, const char *who, char *err,
                             size_t errlen);

/* The label texts of scores score_min..score_max into labels[0..nl)
 * (malloc'ed; entries left NULL past a failure). */
rlaif_status lab_score_labels(const lab_prompter *pp, char **labels, const char *who, char *err,
                              size_t errlen);

/* Checks the score requests and draws each one's principle (round 0 of
 * its stream); results get the principle ids and score 0. */
rlaif_status lab_score_draw(const lab_constitution *con, const size_t *subset, size_t n_subset,
                            uint64_t config_seed, size_t n, const rlaif_score_req *reqs,
                            size_t *principle, rlaif_score_result *results, const char *who,
                            char *err, size_t errlen);

#endif
