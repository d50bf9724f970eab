/* analyze.c — lexicon-based sentiment of a text; see analyze.h. */
#include "analyze.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

void sent_params_default(sent_params *p)
{
    p->alpha = 15.0;
    p->negation_scope = 3;
    p->negation_factor = -0.7;
    p->contrast_before = 0.5;
    p->contrast_after = 1.5;
    p->exclaim = 0.3;
    p->mean_of_sentences = 0;
}

/* ===== Tokens =========================================================== */

/* One sentence is tokenised at a time into a fixed array, so the scorer can
 * look a few words ahead (phrases, "not only") without allocating.  A
 * sentence longer than MAX_TOKENS is cut into pieces, which only loses
 * negation reaching across the cut. */
#define MAX_TOKENS 192
#define WORD_MAX 40

enum tok_kind { TOK_WORD, TOK_CLAUSE };

typedef struct token {
    uint8_t kind;
    uint8_t caps;   /* an ALL-CAPS word of two or more letters */
    uint8_t len;    /* 0 for a word too long to be in any lexicon */
    char w[WORD_MAX]; /* lower-case, NUL-terminated */
} token;

typedef struct sentence {
    token t[MAX_TOKENS];
    size_t n;
    int exclaims;   /* '!' that ended it */
} sentence;

static int is_ascii_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Length of a UTF-8 punctuation mark at s that we treat specially, and its
 * meaning: 1 apostrophe (U+2018/U+2019), 2 clause break (dashes U+2013,
 * U+2014, ellipsis U+2026), 3 other quote (U+201C/U+201D); 0 when none. */
static int utf8_mark(const unsigned char *s, int *what)
{
    if (s[0] != 0xE2 || s[1] != 0x80) return 0;
    switch (s[2]) {
    case 0x98: case 0x99: *what = 1; return 3;
    case 0x93: case 0x94: case 0xA6: *what = 2; return 3;
    case 0x9C: case 0x9D: *what = 3; return 3;
    default: return 0;
    }
}

static int word_byte(const unsigned char *s)
{
    int what;
    if (is_ascii_alnum(*s)) return 1;
    return *s >= 0x80 && !utf8_mark(s, &what);
}

/* An apostrophe (ASCII or curly) at s with word characters on both sides
 * belongs to the word ("isn't", "she's"); returns its byte length. */
static int inner_apostrophe(const unsigned char *s, size_t len_so_far)
{
    int what = 0, n = *s == '\'' ? 1 : utf8_mark(s, &what);
    if (!n || (n == 3 && what != 1) || len_so_far == 0) return 0;
    return word_byte(s + n) ? n : 0;
}

static void push_clause(sentence *se)
{
    if (se->n > 0 && se->t[se->n - 1].kind == TOK_CLAUSE) return;
    if (se->n >= MAX_TOKENS) return;
    token *tk = &se->t[se->n++];
    tk->kind = TOK_CLAUSE;
    tk->caps = 0;
    tk->len = 0;
    tk->w[0] = 0;
}

/* Reads one word starting at s into the next token; returns its end. */
static const unsigned char *read_word(const unsigned char *s, sentence *se)
{
    token *tk = &se->t[se->n++];
    tk->kind = TOK_WORD;
    size_t n = 0, letters = 0, upper = 0;
    for (;;) {
        int ap = inner_apostrophe(s, n);
        if (ap) {
            if (n < WORD_MAX - 1) tk->w[n] = '\'';
            n++;
            s += ap;
            continue;
        }
        if (!word_byte(s)) break;
        unsigned char c = *s++;
        if (c >= 'A' && c <= 'Z') {
            upper++;
            c = (unsigned char)(c - 'A' + 'a');
        }
        letters += (c >= 'a' && c <= 'z');
        if (n < WORD_MAX - 1) tk->w[n] = (char)c;
        n++;
    }
    if (n >= WORD_MAX) n = 0; /* too long for any lexicon */
    tk->w[n] = 0;
    tk->len = (uint8_t)n;
    tk->caps = letters >= 2 && upper == letters;
    return s;
}

/* Tokenises from s to the end of the sentence ('.', '!', '?', a blank line,
 * or a full token array) and returns where the next sentence starts. */
static const char *read_sentence(const char *text, sentence *se)
{
    const unsigned char *s = (const unsigned char *)text;
    se->n = 0;
    se->exclaims = 0;
    while (*s) {
        if (se->n >= MAX_TOKENS) break;
        if (word_byte(s)) {
            s = read_word(s, se);
            continue;
        }
        int what = 0, mark = utf8_mark(s, &what);
        if (mark) {
            if (what == 2) push_clause(se);
            s += mark;
            continue;
        }
        unsigned char c = *s;
        if (c == '.' || c == '!' || c == '?') {
            while (*s == '.' || *s == '!' || *s == '?') se->exclaims += *s++ == '!';
            break;
        }
        if (c == '\n' && s[1] == '\n') {
            s += 2;
            break;
        }
        if (c == ',' || c == ';' || c == ':' || c == '(' || c == ')' || c == '\n' ||
            (c == '-' && (s[1] == ' ' || s[1] == '-')))
            push_clause(se);
        s++;
    }
    return (const char *)s;
}

/* ===== Scoring ========================================================== */

/* The grammar entry of a word, ignoring apostrophes ("isn't" = "isnt"). */
static const rwc_word_entry *grammar_of(const sent_lexicon *lex, const token *tk)
{
    char buf[WORD_MAX];
    size_t n = 0;
    for (size_t i = 0; i < tk->len; i++)
        if (tk->w[i] != '\'') buf[n++] = tk->w[i];
    const rwc_word_entry *e = rwc_wordmap_get(&lex->grammar, buf, n);
    if (e) return e;
    /* any other "-n't" contraction is a negator too */
    if (tk->len > 3 && memcmp(tk->w + tk->len - 3, "n't", 3) == 0) {
        static const rwc_word_entry negator = {"n't", 3, SENT_NEGATOR, 0};
        return &negator;
    }
    return NULL;
}

static int word_is(const sentence *se, size_t i, const char *w)
{
    return i < se->n && se->t[i].kind == TOK_WORD && strcmp(se->t[i].w, w) == 0;
}

/* The longest lexicon phrase of two or more words starting at token i;
 * returns the number of tokens it covers (0 when none). */
static size_t match_phrase(const sent_lexicon *lex, const sentence *se, size_t i, double *v)
{
    for (int words = lex->max_phrase; words >= 2; words--) {
        if (i + (size_t)words > se->n) continue;
        char buf[WORD_MAX * SENT_MAX_PHRASE + SENT_MAX_PHRASE];
        size_t n = 0;
        int ok = 1;
        for (int k = 0; k < words && ok; k++) {
            const token *tk = &se->t[i + (size_t)k];
            ok = tk->kind == TOK_WORD && tk->len > 0;
            if (!ok) break;
            if (k) buf[n++] = ' ';
            memcpy(buf + n, tk->w, tk->len);
            n += tk->len;
        }
        if (ok && sent_lexicon_get(lex, buf, n, v)) return (size_t)words;
    }
    return 0;
}

/* A phrase, else the single word at i (with inflections). */
static size_t match_lexicon(const sent_lexicon *lex, const sentence *se, size_t i, double *v)
{
    size_t used = match_phrase(lex, se, i, v);
    if (used) return used;
    const token *tk = &se->t[i];
    if (tk->kind != TOK_WORD || tk->len == 0) return 0;
    return sent_lexicon_get_inflected(lex, tk->w, tk->len, v) ? 1 : 0;
}

/* Does a sentiment word follow token i (after further boosters)?  Decides
 * whether a word like "pretty" or "terribly" is a booster or an adjective. */
static int sentiment_follows(const sent_lexicon *lex, const sentence *se, size_t i)
{
    for (size_t j = i + 1; j < se->n && j <= i + 3; j++) {
        if (se->t[j].kind != TOK_WORD) return 0;
        double v;
        if (match_lexicon(lex, se, j, &v)) return 1;
        const rwc_word_entry *g = grammar_of(lex, &se->t[j]);
        if (!g || g->flags != SENT_BOOSTER) return 0;
    }
    return 0;
}

/* Words that do not use up a negation's scope: "don't have to be sad",
 * "isn't going to be fun" reach their sentiment word through them. */
static int is_scope_filler(const token *tk)
{
    static const char *const fillers[] = {
        "a", "an", "the", "to", "be", "been", "being", "is", "was", "are", "were", "am", "it",
        "that", "this", "have", "has", "had", "do", "does", "did", "get", "got", "go", "going",
        "i", "you", "he", "she", "we", "they", "me", "him", "her", "us", "them", "my", "your",
        "his", "its", "our", "their", "any", "at", "all", "of", "ever", "just", "feel", "felt",
        "seem", "seemed", "look", "looked", "want", "wanted", "think", "thought", "make",
        "made", "very", "really", "too", "so", "quite", NULL};
    if (tk->kind != TOK_WORD || tk->len > 7) return 0;
    for (size_t i = 0; fillers[i]; i++)
        if (strcmp(tk->w, fillers[i]) == 0) return 1;
    return 0;
}

/* Conjunctions that start a new verb phrase: a negation does not reach
 * past them ("didn't get the job and felt hopeless"). */
static int ends_negation(const token *tk)
{
    static const char *const words[] = {"and", "because", "so", "then", "when", "while",
                                        "until", "after", "before", "since", NULL};
    if (tk->kind != TOK_WORD || tk->len > 7) return 0;
    for (size_t i = 0; words[i]; i++)
        if (strcmp(tk->w, words[i]) == 0) return 1;
    return 0;
}

/* The state of the scorer inside one sentence. */
typedef struct scan_state {
    double pos, neg;        /* weighted contributions so far */
    double clause_w;        /* 1, or contrast_after once "but" was seen */
    double sub_w;           /* contrast_before inside an "although" clause */
    int concessive_first;   /* the sentence opened with "although ..." */
    int neg_left;           /* words still inside a negation's scope */
    double boost;           /* pending intensifier for the next sentiment word */
    size_t matched;
} scan_state;

static void add_valence(scan_state *st, const sent_params *p, double v, int caps_emphasis)
{
    double boost = st->boost + (caps_emphasis ? 0.3 : 0.0);
    if (boost < -0.9) boost = -0.9;
    if (boost > 1.5) boost = 1.5;
    v *= 1.0 + boost;
    if (st->neg_left > 0) {
        /* a negation flips the first sentiment word it meets, not the
         * rest of the clause: "not okay to hit", "not happy about the mess" */
        v *= p->negation_factor;
        st->neg_left = 0;
    }
    v *= st->clause_w * st->sub_w;
    if (v > 0) st->pos += v;
    else st->neg += v;
    st->boost = 0;
    st->matched += v != 0;
}

/* Scores one tokenised sentence; adds to *pos and *neg (neg <= 0). */
static void score_sentence(const sent_lexicon *lex, const sent_params *p, const sentence *se,
                           double *pos, double *neg, size_t *matched)
{
    scan_state st = {0, 0, 1.0, 1.0, 0, 0, 0, 0};
    size_t words = 0, caps_words = 0;
    for (size_t i = 0; i < se->n; i++) {
        words += se->t[i].kind == TOK_WORD;
        caps_words += se->t[i].caps;
    }
    int mixed_case = caps_words > 0 && caps_words * 2 < words;

    for (size_t i = 0; i < se->n; i++) {
        const token *tk = &se->t[i];
        if (tk->kind == TOK_CLAUSE) {
            st.neg_left = 0;
            st.boost = 0;
            st.sub_w = 1.0;
            if (st.concessive_first) st.clause_w = p->contrast_after;
            st.concessive_first = 0;
            continue;
        }
        /* set phrases that look like grammar but are not */
        if (word_is(se, i, "not") && word_is(se, i + 1, "only")) { i++; continue; }
        if (word_is(se, i, "but") && word_is(se, i + 1, "also")) { i++; continue; }
        if (word_is(se, i, "no") && word_is(se, i + 1, "doubt")) { i++; continue; }
        if ((word_is(se, i, "kind") || word_is(se, i, "sort")) && word_is(se, i + 1, "of")) {
            st.boost += -0.4; /* a hedge: "kind of sad" */
            i++;
            continue;
        }
        if (word_is(se, i, "a") && (word_is(se, i + 1, "bit") || word_is(se, i + 1, "little")) &&
            sentiment_follows(lex, se, i + 1)) {
            st.boost += -0.3;
            i++;
            continue;
        }

        /* phrases come first: "never mind", "thank you", "give up" */
        double v;
        size_t used = match_phrase(lex, se, i, &v);
        if (used) {
            add_valence(&st, p, v, 0);
            i += used - 1;
            if (st.neg_left > 0) st.neg_left--;
            continue;
        }
        const rwc_word_entry *g = grammar_of(lex, tk);
        if (g && g->flags == SENT_NEGATOR) {
            /* a second negator inside the scope cancels the first:
             * "never stopped smiling" */
            st.neg_left = st.neg_left > 0 ? 0 : p->negation_scope;
            continue;
        }
        if (g && g->flags == SENT_CONTRAST) {
            st.pos *= p->contrast_before;
            st.neg *= p->contrast_before;
            st.clause_w = p->contrast_after;
            st.neg_left = 0;
            st.boost = 0;
            continue;
        }
        if (g && g->flags == SENT_CONCESSIVE) {
            st.sub_w = p->contrast_before;
            st.concessive_first = st.pos == 0 && st.neg == 0 && st.clause_w == 1.0;
            st.neg_left = 0;
            continue;
        }
        if (g && g->flags == SENT_BOOSTER && sentiment_follows(lex, se, i)) {
            st.boost += g->value;
            if (st.neg_left > 0) st.neg_left--;
            continue;
        }
        used = match_lexicon(lex, se, i, &v);
        if (used) {
            add_valence(&st, p, v, mixed_case && tk->caps);
            i += used - 1;
        } else {
            st.boost = 0;
            if (ends_negation(tk)) st.neg_left = 0;
        }
        if (st.neg_left > 0 && !is_scope_filler(tk)) st.neg_left--;
    }
    if (se->exclaims > 0 && st.pos + st.neg != 0) {
        double e = p->exclaim * (se->exclaims < 3 ? se->exclaims : 3);
        if (st.pos + st.neg > 0) st.pos += e;
        else st.neg -= e;
    }
    *pos += st.pos;
    *neg += st.neg;
    *matched += st.matched;
}

void sent_analyze(const sent_lexicon *lex, const sent_params *p, const char *text,
                  sent_result *out)
{
    sentence se;
    double pos = 0, neg = 0, sentence_sum = 0;
    size_t matched = 0, sentences = 0;
    const char *s = text ? text : "";
    while (*s) {
        s = read_sentence(s, &se);
        double sp = 0, sn = 0;
        score_sentence(lex, p, &se, &sp, &sn, &matched);
        pos += sp;
        neg += sn;
        if (se.n > 0) {
            sentences++;
            sentence_sum += (sp + sn) / sqrt((sp + sn) * (sp + sn) + p->alpha);
        }
    }
    double x = pos + neg;
    out->score = x / sqrt(x * x + p->alpha);
    if (p->mean_of_sentences) out->score = sentences ? sentence_sum / (double)sentences : 0.0;
    out->positive = pos;
    out->negative = -neg;
    out->matched = matched;
}
