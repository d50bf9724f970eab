/* lexicon.c — loading sentiment lexicons and looking words up. */
#include "lexicon.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datafile.h"

/* ===== Grammar words ==================================================== */

/* Words that change their neighbours rather than carry sentiment.  Booster
 * amounts scale the next sentiment word by (1 + amount).  Contractions are
 * listed both with an apostrophe and without (as people type them). */
static const struct { const char *word; uint32_t kind; float amount; } grammar_words[] = {
    {"not", SENT_NEGATOR, 0},       {"no", SENT_NEGATOR, 0},       {"never", SENT_NEGATOR, 0},
    {"nobody", SENT_NEGATOR, 0},    {"nothing", SENT_NEGATOR, 0},  {"none", SENT_NEGATOR, 0},
    {"neither", SENT_NEGATOR, 0},   {"nor", SENT_NEGATOR, 0},      {"nowhere", SENT_NEGATOR, 0},
    {"without", SENT_NEGATOR, 0},   {"cannot", SENT_NEGATOR, 0},   {"lack", SENT_NEGATOR, 0},
    {"lacked", SENT_NEGATOR, 0},    {"lacks", SENT_NEGATOR, 0},    {"lacking", SENT_NEGATOR, 0},
    {"dont", SENT_NEGATOR, 0},      {"didnt", SENT_NEGATOR, 0},    {"doesnt", SENT_NEGATOR, 0},
    {"isnt", SENT_NEGATOR, 0},      {"wasnt", SENT_NEGATOR, 0},    {"arent", SENT_NEGATOR, 0},
    {"werent", SENT_NEGATOR, 0},    {"cant", SENT_NEGATOR, 0},     {"couldnt", SENT_NEGATOR, 0},
    {"wouldnt", SENT_NEGATOR, 0},   {"shouldnt", SENT_NEGATOR, 0}, {"hasnt", SENT_NEGATOR, 0},
    {"havent", SENT_NEGATOR, 0},    {"hadnt", SENT_NEGATOR, 0},    {"aint", SENT_NEGATOR, 0},
    {"wont", SENT_NEGATOR, 0},      {"neednt", SENT_NEGATOR, 0},   {"mustnt", SENT_NEGATOR, 0},
    /* verbs that end what follows: "stopped crying"; "never stopped
     * smiling" is a double negation and cancels */
    {"stop", SENT_NEGATOR, 0},      {"stopped", SENT_NEGATOR, 0},  {"stops", SENT_NEGATOR, 0},
    {"stopping", SENT_NEGATOR, 0},  {"quit", SENT_NEGATOR, 0},
    {"very", SENT_BOOSTER, 0.3f},   {"really", SENT_BOOSTER, 0.3f}, {"so", SENT_BOOSTER, 0.3f},
    {"too", SENT_BOOSTER, 0.2f},    {"truly", SENT_BOOSTER, 0.3f},  {"quite", SENT_BOOSTER, 0.15f},
    {"extremely", SENT_BOOSTER, 0.6f}, {"incredibly", SENT_BOOSTER, 0.6f},
    {"absolutely", SENT_BOOSTER, 0.5f}, {"totally", SENT_BOOSTER, 0.4f},
    {"completely", SENT_BOOSTER, 0.4f}, {"utterly", SENT_BOOSTER, 0.5f},
    {"deeply", SENT_BOOSTER, 0.4f}, {"especially", SENT_BOOSTER, 0.3f},
    {"super", SENT_BOOSTER, 0.4f},  {"awfully", SENT_BOOSTER, 0.4f},
    {"terribly", SENT_BOOSTER, 0.4f}, {"most", SENT_BOOSTER, 0.3f}, {"more", SENT_BOOSTER, 0.15f},
    {"such", SENT_BOOSTER, 0.2f},   {"pretty", SENT_BOOSTER, 0.15f},
    {"remarkably", SENT_BOOSTER, 0.4f}, {"exceptionally", SENT_BOOSTER, 0.5f},
    {"hugely", SENT_BOOSTER, 0.5f}, {"immensely", SENT_BOOSTER, 0.5f},
    {"thoroughly", SENT_BOOSTER, 0.3f}, {"highly", SENT_BOOSTER, 0.3f},
    {"slightly", SENT_BOOSTER, -0.5f}, {"barely", SENT_BOOSTER, -0.6f},
    {"hardly", SENT_BOOSTER, -0.7f}, {"scarcely", SENT_BOOSTER, -0.7f},
    {"somewhat", SENT_BOOSTER, -0.3f}, {"fairly", SENT_BOOSTER, -0.2f},
    {"rather", SENT_BOOSTER, -0.1f}, {"mildly", SENT_BOOSTER, -0.4f},
    {"partly", SENT_BOOSTER, -0.4f}, {"almost", SENT_BOOSTER, -0.3f},
    {"marginally", SENT_BOOSTER, -0.5f}, {"occasionally", SENT_BOOSTER, -0.3f},
    {"but", SENT_CONTRAST, 0},      {"however", SENT_CONTRAST, 0},
    {"although", SENT_CONCESSIVE, 0}, {"though", SENT_CONCESSIVE, 0},
    {"despite", SENT_CONCESSIVE, 0},  {"whereas", SENT_CONCESSIVE, 0},
};

int sent_lexicon_init(sent_lexicon *lex)
{
    rwc_wordmap_init(&lex->words);
    rwc_wordmap_init(&lex->grammar);
    lex->max_phrase = 1;
    for (size_t i = 0; i < sizeof grammar_words / sizeof grammar_words[0]; i++) {
        const char *w = grammar_words[i].word;
        if (rwc_wordmap_put(&lex->grammar, w, strlen(w), grammar_words[i].amount,
                            grammar_words[i].kind) != 0) {
            sent_lexicon_free(lex);
            return -1;
        }
    }
    return 0;
}

void sent_lexicon_free(sent_lexicon *lex)
{
    rwc_wordmap_free(&lex->words);
    rwc_wordmap_free(&lex->grammar);
}

/* ===== Adding entries =================================================== */

/* Lower-cases `key` into buf with single spaces between words and counts the
 * words; returns the length, 0 when empty or too long. */
static size_t normalise_key(const char *key, char *buf, size_t cap, int *n_words)
{
    size_t n = 0;
    int words = 0, pending_space = 0;
    for (const char *p = key; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == ' ' || ch == '\t') {
            pending_space = n > 0;
            continue;
        }
        if (pending_space || n == 0) words++;
        if (pending_space) {
            if (n + 1 >= cap) return 0;
            buf[n++] = ' ';
            pending_space = 0;
        }
        if (n + 1 >= cap) return 0;
        buf[n++] = (char)tolower(ch);
    }
    buf[n] = 0;
    *n_words = words;
    return n;
}

rlaif_status sent_lexicon_add(sent_lexicon *lex, const char *key, double valence, char *err,
                              size_t errlen)
{
    char buf[256];
    int words = 0;
    size_t len = normalise_key(key, buf, sizeof buf, &words);
    if (len == 0)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "empty or over-long lexicon entry");
    if (words > SENT_MAX_PHRASE)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            "lexicon entry '%s' has %d words (at most %d)", buf, words,
                            SENT_MAX_PHRASE);
    if (rwc_wordmap_put(&lex->words, buf, len, (float)valence, 0) != 0)
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "out of memory adding '%s'", buf);
    if (words > lex->max_phrase) lex->max_phrase = words;
    return RLAIF_OK;
}

/* ===== Reading files ==================================================== */

/* Splits a line at TABs in place; returns the field count (at most max). */
static int split_tabs(char *line, char **fields, int max)
{
    int n = 0;
    fields[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (*p == '\t') {
            *p = 0;
            fields[n++] = p + 1;
        }
    }
    return n;
}

/* A whole-field number; returns 0 on success. */
static int parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int is_comment_or_blank(const char *line)
{
    while (*line == ' ' || *line == '\t') line++;
    return *line == 0 || *line == '#';
}

/* Checks one data line of either format and returns its key and valence;
 * on a bad line writes the reason into why[]. */
static int parse_line(char *line, sent_format fmt, const char **key, double *valence, char *why,
                      size_t whylen)
{
    char *f[6];
    int n = split_tabs(line, f, 6);
    *key = f[0];
    if (fmt == SENT_FORMAT_AFINN) {
        double v;
        if (n != 2) {
            snprintf(why, whylen, "expected word<TAB>valence (AFINN format), found %d field%s", n,
                     n == 1 ? "" : "s");
            return -1;
        }
        if (parse_number(f[1], &v) || v != floor(v) || v < -5 || v > 5) {
            snprintf(why, whylen, "valence '%s' of '%s' is not an integer in -5..5", f[1], f[0]);
            return -1;
        }
        *valence = v;
        return 0;
    }
    double mean, sd;
    if (n < 3) {
        snprintf(why, whylen,
                 "expected word<TAB>mean<TAB>std<TAB>[ratings] (VADER format), found %d field%s",
                 n, n == 1 ? "" : "s");
        return -1;
    }
    if (parse_number(f[1], &mean) || mean < -4 || mean > 4) {
        snprintf(why, whylen, "mean valence '%s' of '%s' is not a number in -4..4", f[1], f[0]);
        return -1;
    }
    if (parse_number(f[2], &sd) || sd < 0) {
        snprintf(why, whylen, "standard deviation '%s' of '%s' is not a number >= 0", f[2], f[0]);
        return -1;
    }
    *valence = mean;
    return 0;
}

rlaif_status sent_lexicon_load(sent_lexicon *lex, const char *path, sent_format format,
                               char *err, size_t errlen)
{
    char *text;
    size_t size;
    rlaif_status st = rwc_read_file("reward/sentiment", path, &text, &size, err, errlen);
    if (st) return st;
    char *cursor = text, *line;
    size_t lineno = 0, entries = 0;
    while ((line = rwc_next_line(&cursor, &lineno))) {
        if (is_comment_or_blank(line)) continue;
        if (format == SENT_FORMAT_AUTO) {
            /* The first data line decides: AFINN has two fields. */
            int tabs = 0;
            for (const char *p = line; *p; p++) tabs += *p == '\t';
            format = tabs == 1 ? SENT_FORMAT_AFINN : SENT_FORMAT_VADER;
        }
        const char *key;
        double valence;
        char why[256];
        if (parse_line(line, format, &key, &valence, why, sizeof why) != 0) {
            st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "%s:%zu: %s", path, lineno, why);
            break;
        }
        char sub[256];
        st = sent_lexicon_add(lex, key, valence, sub, sizeof sub);
        if (st) {
            rlaif_errorf(err, errlen, st, "%s:%zu: %s", path, lineno, sub);
            break;
        }
        entries++;
    }
    free(text);
    if (st == RLAIF_OK && entries == 0)
        st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "%s: no lexicon entries", path);
    return st;
}

/* ===== Looking words up ================================================= */

int sent_lexicon_get(const sent_lexicon *lex, const char *key, size_t len, double *valence)
{
    const rwc_word_entry *e = rwc_wordmap_get(&lex->words, key, len);
    if (!e) return 0;
    *valence = e->value;
    return 1;
}

/* Looks up stem + add (a short replacement ending). */
static int try_stem(const sent_lexicon *lex, const char *w, size_t stem, const char *add,
                    double *valence)
{
    char buf[64];
    size_t extra = strlen(add);
    if (stem < 2 || stem + extra >= sizeof buf) return 0;
    memcpy(buf, w, stem);
    memcpy(buf + stem, add, extra);
    return sent_lexicon_get(lex, buf, stem + extra, valence);
}

static int ends_with(const char *w, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len > n && memcmp(w + len - n, suffix, n) == 0;
}

/* Base forms of an inflected word, tried from the most specific ending.
 * Each rule is (ending, replacement); a doubled final consonant left by
 * -ed/-ing/-er/-est (hugged, sobbing, sadder) is undone as well. */
static int get_base_form(const sent_lexicon *lex, const char *w, size_t len, double *valence)
{
    if (sent_lexicon_get(lex, w, len, valence)) return 1;
    static const struct { const char *end, *add; } rules[] = {
        {"'s", ""},    {"iness", "y"}, {"ness", ""},  {"fully", "ful"}, {"ily", "y"},
        {"ly", ""},    {"ly", "le"},   {"ies", "y"},  {"ied", "y"},     {"iest", "y"},
        {"ier", "y"},  {"est", ""},    {"est", "e"},  {"er", ""},       {"er", "e"},
        {"ing", ""},   {"ing", "e"},   {"ed", ""},    {"ed", "e"},      {"es", ""},
        {"s", ""},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const char *end = rules[i].end;
        if (!ends_with(w, len, end)) continue;
        size_t stem = len - strlen(end);
        if (try_stem(lex, w, stem, rules[i].add, valence)) return 1;
        int doubling = !rules[i].add[0] && (!strcmp(end, "ed") || !strcmp(end, "ing") ||
                                             !strcmp(end, "er") || !strcmp(end, "est"));
        if (doubling && stem >= 3 && w[stem - 1] == w[stem - 2] &&
            try_stem(lex, w, stem - 1, "", valence))
            return 1;
    }
    return 0;
}

int sent_lexicon_get_inflected(const sent_lexicon *lex, const char *w, size_t len,
                               double *valence)
{
    if (get_base_form(lex, w, len, valence)) return 1;
    /* un- reverses what follows: unkind, unsafe, unafraid, unharmed */
    if (len > 4 && w[0] == 'u' && w[1] == 'n' && get_base_form(lex, w + 2, len - 2, valence)) {
        *valence = -*valence;
        return 1;
    }
    return 0;
}
