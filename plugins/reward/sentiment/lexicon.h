/*
 * lexicon.h — sentiment lexicons: word (or short phrase) -> valence.
 *
 * Two file formats are read:
 *   AFINN-style   word<TAB>integer            valence in -5..5
 *   VADER-style   word<TAB>mean<TAB>std<TAB>[ratings]   mean in -4..4
 * Lines that are empty or start with '#' are skipped.  Keys are stored
 * lower-case; a key may hold spaces ("no good"), and then it is matched as
 * a phrase of that many words (at most SENT_MAX_PHRASE).
 */
#ifndef RLAIF_SENTIMENT_LEXICON_H
#define RLAIF_SENTIMENT_LEXICON_H

#include <stddef.h>

#include "rlaif/plugin.h"
#include "wordmap.h"

#define SENT_MAX_PHRASE 4

typedef enum sent_format { SENT_FORMAT_AUTO = 0, SENT_FORMAT_AFINN = 1, SENT_FORMAT_VADER = 2 }
    sent_format;

/* What a grammar word does to its neighbours (the flags of `grammar`). */
enum {
    SENT_NEGATOR = 1,    /* not, never, isn't, no, without ... */
    SENT_BOOSTER = 2,    /* value: +0.3 "very", -0.5 "slightly" ... */
    SENT_CONTRAST = 4,   /* but, however */
    SENT_CONCESSIVE = 8  /* although, though, despite */
};

typedef struct sent_lexicon {
    rwc_wordmap words;    /* lower-case word or phrase -> valence */
    rwc_wordmap grammar;  /* negators, boosters, contrast words (built in) */
    int max_phrase;       /* longest key in words, 1 if no phrases */
} sent_lexicon;

/* An empty lexicon with the built-in grammar words; -1 when out of memory. */
int sent_lexicon_init(sent_lexicon *lex);
void sent_lexicon_free(sent_lexicon *lex);

/* Adds the entries of `path` (format given or detected from the first data
 * line: two fields = AFINN, four = VADER).  A bad line fails the whole load
 * with RLAIF_E_FORMAT and "path:line: what is wrong". */
rlaif_status sent_lexicon_load(sent_lexicon *lex, const char *path, sent_format format,
                               char *err, size_t errlen);

/* Adds or replaces one entry (the key is lower-cased; runs of spaces count
 * as one).  RLAIF_E_INVALID for an empty key or one of too many words. */
rlaif_status sent_lexicon_add(sent_lexicon *lex, const char *key, double valence, char *err,
                              size_t errlen);

/* The valence of a lower-case word or phrase; returns 1 and sets *valence
 * when found. */
int sent_lexicon_get(const sent_lexicon *lex, const char *key, size_t len, double *valence);

/* Like sent_lexicon_get for a single word, but when the word itself is
 * absent tries its likely base forms (smiled -> smile, happily -> happy,
 * hugging -> hug, kindness -> kind, cries -> cry, kinder -> kind). */
int sent_lexicon_get_inflected(const sent_lexicon *lex, const char *word, size_t len,
                               double *valence);

#endif
