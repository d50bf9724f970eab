/*
 * analyze.h — lexicon-based sentiment of a text.
 *
 * The text is split into sentences and words.  Each word found in the
 * lexicon contributes its valence, adjusted by its neighbours:
 *   intensifiers / dampeners   "very happy" counts more, "slightly sad" less;
 *   negation                   "not happy", "never kind", "isn't fun",
 *                              "no longer friends": a negator flips and
 *                              shrinks the valence of sentiment words within
 *                              the next `negation_scope` words of its clause;
 *   contrast                   what follows "but" / "however" outweighs what
 *                              came before it in the sentence; a clause
 *                              opened by "although" / "though" / "despite"
 *                              weighs less than the main clause;
 *   emphasis                   '!' (up to three) strengthens its sentence,
 *                              and an ALL-CAPS word in mixed-case text counts
 *                              more.
 * The sum x of all contributions is squashed to a score in (-1, 1) with
 * x / sqrt(x^2 + alpha): about +-0.5 at |x| = sqrt(alpha / 3).
 */
#ifndef RLAIF_SENTIMENT_ANALYZE_H
#define RLAIF_SENTIMENT_ANALYZE_H

#include <stddef.h>

#include "lexicon.h"

typedef struct sent_params {
    double alpha;            /* normalisation constant, > 0 */
    int negation_scope;      /* words after a negator that it reaches */
    double negation_factor;  /* multiplies a negated valence (negative) */
    double contrast_before;  /* weight of a clause before "but" */
    double contrast_after;   /* weight of the clause after "but" */
    double exclaim;          /* added magnitude per '!' (at most three count) */
    int mean_of_sentences;   /* score = mean over sentences of each one's squashed sum,
                                instead of the squashed sum over the whole text */
} sent_params;

/* The defaults documented in sentiment.c. */
void sent_params_default(sent_params *p);

typedef struct sent_result {
    double score;     /* x / sqrt(x^2 + alpha), in (-1, 1); 0 when nothing matched
                         (or the mean of that over sentences, see sent_params) */
    double positive;  /* sum of the positive contributions */
    double negative;  /* sum of the magnitudes of the negative contributions */
    size_t matched;   /* lexicon words and phrases found */
} sent_result;

/* Scores `text` (UTF-8, NUL-terminated).  Never allocates. */
void sent_analyze(const sent_lexicon *lex, const sent_params *p, const char *text,
                  sent_result *out);

#endif
