/* scan_names.c — person names from a gazetteer of given names and
 * surnames, title and phrase cues ("Dr.", "my name is"), and
 * capitalisation, with the usual traps kept out: sentence-initial
 * capitals, months ("in May"), everyday words ("Bill me later", "Will you
 * come?"), places ("in Florence"), street and institution names ("Abbey
 * Road", "Victoria Station") and pets ("a dog named Max"). */
#include <stdlib.h>
#include <string.h>

#include "scan.h"

/* ===== Words of the text ================================================ */

#define MAX_WORDS 4096

struct nword {
    size_t start, end;
    uint32_t flags;          /* gazetteer flags, 0 when unknown */
    unsigned cap : 1;        /* starts with an upper-case letter, not all caps */
    unsigned initial : 1;    /* first word of a sentence (or of a quote) */
    unsigned dot_after : 1;  /* followed directly by '.' ("Dr.") */
    unsigned comma_before : 1;
    unsigned break_after : 1; /* followed by punctuation other than a space */
};

static int upper_first(const unsigned char *s)
{
    if (c_upper(s[0])) return 1;
    return s[0] == 0xC3 && s[1] >= 0x80 && s[1] <= 0x9E && s[1] != 0x97; /* À..Þ */
}

static int all_caps(const unsigned char *s, size_t n)
{
    size_t letters = 0;
    for (size_t k = 0; k < n; k++) {
        if (c_lower(s[k])) return 0;
        letters += c_upper(s[k]);
    }
    return letters >= 2;
}

/* Splits the text into words (letters with inner apostrophes and hyphens)
 * and notes sentence starts.  Returns the count (at most MAX_WORDS; the
 * rest of a longer text is scanned in the next window by the caller). */
static size_t split_words(const scan_text *t, size_t from, nword *w, size_t *next)
{
    size_t n = 0, p = from;
    int sentence_start = 1, comma = 0;
    while (p < t->len && n < MAX_WORDS) {
        unsigned char c = t->s[p];
        if (c_alpha(c)) {
            size_t s = p;
            while (c_alpha(at(t, p)) ||
                   ((at(t, p) == '\'' || at(t, p) == '-') && c_alpha(at(t, p + 1))))
                p++;
            nword *x = &w[n++];
            memset(x, 0, sizeof *x);
            x->start = s;
            x->end = p;
            x->cap = upper_first(t->s + s) && !all_caps(t->s + s, p - s);
            x->initial = (unsigned)sentence_start;
            x->comma_before = (unsigned)comma;
            x->dot_after = at(t, p) == '.';
            unsigned char a = at(t, p);
            x->break_after = a != ' ' && a != 0;
            sentence_start = 0;
            comma = 0;
            continue;
        }
        if (c == '.' || c == '!' || c == '?' || c == '\n' || c == ':' || c == '"' ||
            c == ';' || (c == 0xE2 && at(t, p + 1) == 0x80 && at(t, p + 2) == 0x9C)) {
            /* "Dr." and "Mr." do not end a sentence */
            int title_dot = c == '.' && n > 0 && w[n - 1].end == p && w[n - 1].end - w[n - 1].start <= 4 &&
                            w[n - 1].cap;
            if (!title_dot) sentence_start = 1;
        }
        if (c == ',') comma = 1;
        p++;
    }
    *next = p;
    return n;
}

/* ===== Word lists ======================================================= */

static int is(const scan_text *t, const nword *w, const char *s)
{
    size_t n = strlen(s);
    return w->end - w->start == n && memcmp(t->s + w->start, s, n) == 0;
}

/* Case-insensitive for ASCII. */
static int is_ci(const scan_text *t, const nword *w, const char *s)
{
    size_t n = strlen(s);
    if (w->end - w->start != n) return 0;
    for (size_t k = 0; k < n; k++)
        if ((t->s[w->start + k] | 0x20) != s[k]) return 0;
    return 1;
}

static int in_list(const scan_text *t, const nword *w, const char *const *list, int ci)
{
    for (size_t k = 0; list[k]; k++)
        if (ci ? is_ci(t, w, list[k]) : is(t, w, list[k])) return 1;
    return 0;
}

static const char *const titles[] = {
    "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Professor", "Sir", "Dame", "Madam", "Mme",
    "Mlle", "Herr", "Frau", "Señor", "Señora", "Sr", "Sra", "Rev", "Reverend", "Capt", "Captain",
    "Officer", "Detective", "Sgt", "Sergeant", "Judge", "Senator", "Aunt", "Auntie", "Uncle",
    "Grandma", "Grandpa", "Nurse", "Coach", NULL};

/* Capitalised words that are never names themselves. */
static const char *const stop_caps[] = {
    "The", "A", "An", "I", "In", "On", "At", "My", "Our", "Your", "His", "Her", "Their", "This",
    "That", "These", "Those", "It", "We", "They", "He", "She", "You", "And", "But", "Or", "So",
    "If", "When", "Then", "There", "Here", "What", "Who", "Why", "How", "Where", "Yes", "No",
    "Hello", "Hi", "Hey", "Dear", "Thanks", "Thank", "Please", "Today", "Tomorrow", "Yesterday",
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January",
    "February", "March", "September", "October", "November", "December", "Christmas", "Easter",
    "God", "Street", "Road", "Avenue", "Lane", "Station", "University", "College", "School",
    "Hospital", "Park", "Bridge", "Airport", "Church", "Inc", "Ltd", "Corp", "Company", "Bank",
    "Hotel", "Museum", "Library", "Centre", "Center", "Institute", "Foundation", "Group",
    "Team", "Club", "Square", "Hall", "House", "Drive", "Court", "Place", "Way", "City",
    "County", "River", "Lake", "Mount", "Mountain", "Island", "Beach", "Valley", "Forest",
    "Once", "One", "After", "Before", "Every", "Some", "All", "Not", "Do", "Does", "Did", "Is",
    "Are", "Was", "Were", "Can", "Could", "Would", "Should", "Let", "Maybe", "Oh", "Wow",
    "Also", "Now", "Just", "Sorry", "Well", "OK", "Okay", "As", "For", "From", "To", "With",
    "By", "Of", "About", "Like", NULL};

/* Words after which a capitalised name is an institution or a street. */
static const char *const place_heads[] = {
    "Street", "St", "Road", "Rd", "Avenue", "Ave", "Lane", "Drive", "Boulevard", "Station",
    "University", "College", "School", "Hospital", "Park", "Bridge", "Airport", "Church",
    "Inc", "Ltd", "Corp", "Company", "Bank", "Hotel", "Museum", "Library", "Centre", "Center",
    "Institute", "Foundation", "Square", "Hall", "House", "Court", "Place", "Way", "Falls",
    "Lake", "River", "Island", "Bay", "Beach", "Valley", "Mountain", "County", "City",
    "Street's", "Award", "Prize", "Day", "Cup", "Theatre", "Theater", "Stadium", "Arena",
    "Road's", "Pictures", "Records", "Motors", "Airlines", "Airways", "Foods", "Memorial",
    "Monument", "Tower", "Cathedral", "Palace", "Castle", "Gallery", "Zoo", "Gardens", "Market",
    "Mall", "Terrace", "Crescent", "Highway", "Trust", "Society", "Association", NULL};

/* Cues that make the next capitalised word a name whatever it is. */
static const char *const strong_cue_pairs[][3] = {
    {"my", "name", "is"}, {"name", "is", NULL}, {"name's", NULL, NULL},
    {"call", "me", NULL},  {"dear", NULL, NULL}, {"signed", NULL, NULL},
    {"regards", NULL, NULL}, {"sincerely", NULL, NULL}, {"cheers", NULL, NULL},
};

/* Before "named"/"called": the thing named is not a person. */
static const char *const non_person[] = {
    "dog", "cat", "puppy", "kitten", "pet", "horse", "pony", "bear", "bird", "fish", "rabbit",
    "bunny", "hamster", "mouse", "duck", "frog", "doll", "toy", "robot", "teddy", "town",
    "city", "village", "place", "company", "app", "shop", "store", "restaurant", "cafe",
    "band", "ship", "boat", "book", "song", "film", "movie", "game", "street", "river",
    "planet", "star", "storm", "hurricane", "car", "brand", "product", "program", "tool",
    "library", "project", "website", "show", "team", "bakery", "dragon", "monster", "lion",
    "tiger", "cow", "pig", "goat", "sheep", "chicken", "fox", "owl", "turtle", "snake", NULL};

/* Words before a place name ("in Florence", "to Sydney"). */
static const char *const place_preps[] = {"in", "to", "from", "near", "at", "visit", "visited",
                                          "visiting", "around", "across", "through", "into",
                                          "of", "outside", NULL};

static const char *const articles[] = {"the", "a", "an", NULL};

/* Words before a month ("in May", "since June") — or after it ("May 5"). */
static const char *const month_preps[] = {
    "in", "of", "on", "since", "until", "till", "by", "last", "next", "early", "late", "mid",
    "from", "this", "every", "through", "during", "before", "after", "throughout", NULL};

static const char *const months[] = {"January", "February", "March", "April", "May", "June",
                                     "July", "August", "September", "October", "November",
                                     "December", NULL};

/* Verbs after a sentence-initial ambiguous name that mark a person: "Will
 * said", "Rose smiled". */
static const char *const person_verbs[] = {
    "said", "says", "asked", "asks", "told", "tells", "replied", "answered", "smiled", "smiles",
    "laughed", "laughs", "cried", "went", "goes", "came", "comes", "ran", "walked", "lives",
    "lived", "works", "worked", "wrote", "writes", "loves", "loved", "likes", "liked", "wanted",
    "wants", "thinks", "thought", "knows", "knew", "saw", "sees", "felt", "feels", "whispered",
    "shouted", "nodded", "looked", "hugged", "sent", "called", "emailed", "texted", "met",
    "has", "had", "helped", "gave", "took", "got", "found", "made", "played", "sat", "stood",
    "waved", "decided", "tried", "joined", NULL};

static const char *const particles[] = {"van", "von", "de", "da", "del", "der", "di", "du",
                                        "le", "la", "bin", "ibn", "al", "el", "ter", "ten",
                                        "dos", "das", "Mac", NULL};

/* ===== Classification =================================================== */

typedef struct ctx {
    const scan_text *t;
    const nword *w;
    size_t n;
} ctx;

static int idx_is(const ctx *c, size_t k, const char *s, int ci)
{
    return k < c->n && (ci ? is_ci(c->t, &c->w[k], s) : is(c->t, &c->w[k], s));
}

/* Is word k preceded (within its sentence) by the cue words `cue`? */
static int preceded_by(const ctx *c, size_t k, const char *const *cue)
{
    size_t len = 0;
    while (len < 3 && cue[len]) len++;
    if (k < len) return 0;
    for (size_t j = 0; j < len; j++)
        if (!idx_is(c, k - len + j, cue[j], 1)) return 0;
    return 1;
}

static int strong_cue(const ctx *c, size_t k)
{
    for (size_t q = 0; q < sizeof strong_cue_pairs / sizeof strong_cue_pairs[0]; q++)
        if (preceded_by(c, k, strong_cue_pairs[q])) return 1;
    return 0;
}

static int prev_word_in(const ctx *c, size_t k, const char *const *list)
{
    return k > 0 && !c->w[k].initial && in_list(c->t, &c->w[k - 1], list, 1);
}

/* "a dog named Max", "a town called Paris" */
static int names_a_thing(const ctx *c, size_t k)
{
    if (k < 2 || !(idx_is(c, k - 1, "named", 1) || idx_is(c, k - 1, "called", 1))) return 0;
    for (size_t j = k - 2, seen = 0; seen < 3; j--, seen++) {
        if (in_list(c->t, &c->w[j], non_person, 1)) return 1;
        if (j == 0) break;
    }
    return 0;
}

/* A capitalised word that may continue a name: a surname, or an unknown
 * capitalised word that is no stop word or institution word. */
static int surname_like(const ctx *c, size_t k)
{
    if (k >= c->n) return 0;
    const nword *x = &c->w[k];
    if (!x->cap || x->initial || in_list(c->t, x, stop_caps, 0) ||
        in_list(c->t, x, place_heads, 0) || in_list(c->t, x, titles, 0))
        return 0;
    if (x->flags & NAME_LAST) return 1;
    if (x->flags & NAME_FIRST) return !(x->flags & NAME_WORD); /* "Mary Ann" */
    return 1;
}

static int followed_by_place_head(const ctx *c, size_t k)
{
    return k + 1 < c->n && in_list(c->t, &c->w[k + 1], place_heads, 0) &&
           !c->w[k].break_after;
}

/* The end word of the name starting at k: extends over surnames and
 * particles ("Ludwig van Beethoven"), up to three more words, never across
 * punctuation. */
static size_t extend_name(const ctx *c, size_t k)
{
    size_t last = k;
    for (int more = 0; more < 3; more++) {
        if (c->w[last].break_after) break;
        size_t j = last + 1;
        /* particles, one or two: "van", "van der", "de la" */
        size_t q = j;
        while (q < c->n && q < j + 2 && in_list(c->t, &c->w[q], particles, 0) &&
               !c->w[q].break_after)
            q++;
        if (q > j && surname_like(c, q)) {
            last = q;
            continue;
        }
        if (!surname_like(c, j) || followed_by_place_head(c, j)) break;
        last = j;
    }
    /* "John Smith Street": the whole thing is a street */
    return last;
}

static int initial_person_evidence(const ctx *c, size_t k);

/* Does word k, an ambiguous given name, show enough to be a person? */
static int ambiguous_is_person(const ctx *c, size_t k)
{
    const nword *x = &c->w[k];
    if (k + 1 < c->n && !x->break_after && surname_like(c, k + 1)) return 1; /* Bill Gates */
    if (prev_word_in(c, k, month_preps)) return 0;           /* in May */
    if (k >= 2 && !x->initial && in_list(c->t, &c->w[k - 2], months, 0) &&
        (idx_is(c, k - 1, "and", 0) || idx_is(c, k - 1, "or", 0) || idx_is(c, k - 1, "to", 0)))
        return 0;                                             /* May and June */
    if (k + 1 < c->n && c_digit(at(c->t, c->w[k + 1].start))) return 0;
    if (k + 1 < c->n && c->t->s[x->end] == ' ' && c_digit(at(c->t, x->end + 1))) return 0; /* May 5 */
    if (prev_word_in(c, k, articles)) return 0;
    if (!x->initial) return 1;
    return initial_person_evidence(c, k);
}

/* A sentence-initial word that may be a name or a thing: a person verb or
 * "and <given name>" after it says person ("Will said", "Rose and Tom"). */
static int initial_person_evidence(const ctx *c, size_t k)
{
    const nword *x = &c->w[k];
    if (k + 1 >= c->n || x->break_after) return 0;
    if (in_list(c->t, &c->w[k + 1], person_verbs, 0)) return 1;
    if (idx_is(c, k + 1, "and", 0) && k + 2 < c->n && (c->w[k + 2].flags & NAME_FIRST) &&
        c->w[k + 2].cap)
        return 1;
    return 0;
}

/* ===== The scanner ====================================================== */

/* A lower-case word that is a given name or surname once capitalised
 * (people type "my name is anna"); everyday-word names do not count. */
static int lowercase_known_name(const scan_text *t, const rwc_wordmap *names, const nword *x)
{
    char buf[64];
    size_t n = x->end - x->start;
    if (n < 2 || n >= sizeof buf || !c_lower(t->s[x->start])) return 0;
    memcpy(buf, t->s + x->start, n);
    buf[0] = (char)(buf[0] - 'a' + 'A');
    const rwc_word_entry *e = rwc_wordmap_get(names, buf, n);
    return e && (e->flags & (NAME_FIRST | NAME_LAST)) && !(e->flags & (NAME_WORD | NAME_WORD_LAST));
}

static void add_name(const ctx *c, span_list *out, size_t from, size_t to)
{
    spans_add(out, PII_NAME, c->w[from].start, c->w[to].end);
}

static void scan_window(const scan_text *t, const rwc_wordmap *names, nword *w, size_t n,
                        span_list *out)
{
    for (size_t k = 0; k < n; k++) {
        const rwc_word_entry *e = rwc_wordmap_get(names, (const char *)t->s + w[k].start,
                                                  w[k].end - w[k].start);
        w[k].flags = e ? e->flags : 0;
    }
    ctx c = {t, w, n};
    for (size_t k = 0; k < n; k++) {
        const nword *x = &w[k];
        if (!x->cap && strong_cue(&c, k) && lowercase_known_name(t, names, x) &&
            !spans_overlap(out, x->start, x->end)) {
            add_name(&c, out, k, k); /* "my name is anna" */
            continue;
        }
        if (!x->cap || spans_overlap(out, x->start, x->end)) continue;
        /* a title: the following capitalised words are a name */
        if (in_list(t, x, titles, 0) && k + 1 < n && w[k + 1].cap &&
            !in_list(t, &w[k + 1], stop_caps, 0) && (x->dot_after || !x->break_after)) {
            size_t last = k + 1;
            while (last + 1 < n && last < k + 3 && !w[last].break_after &&
                   surname_like(&c, last + 1))
                last++;
            add_name(&c, out, k + 1, last);
            k = last;
            continue;
        }
        if (in_list(t, x, stop_caps, 0) || in_list(t, x, titles, 0)) continue;
        int first = (x->flags & NAME_FIRST) != 0;
        int last_name = (x->flags & NAME_LAST) != 0;
        int person = 0;
        if (strong_cue(&c, k)) {
            person = 1;
        } else if (names_a_thing(&c, k) || followed_by_place_head(&c, k)) {
            person = 0;
        } else if (first && (x->flags & NAME_WORD)) {
            person = ambiguous_is_person(&c, k);
        } else if (first && (x->flags & NAME_PLACE)) {
            /* "Paris Hilton" yes; "in Paris", "the Jordan river", "Paris is" no */
            if (k + 1 < n && !x->break_after && surname_like(&c, k + 1)) person = 1;
            else if (prev_word_in(&c, k, place_preps) || prev_word_in(&c, k, articles)) person = 0;
            else if (x->initial) person = initial_person_evidence(&c, k);
            else person = 1;
        } else if (first) {
            person = 1;
        } else if (last_name && !(x->flags & NAME_WORD_LAST) && !x->initial) {
            person = 1; /* "I asked Nakamura" */
        } else if (!x->initial && k + 1 < n && !x->break_after &&
                   (w[k + 1].flags & NAME_LAST) && !(w[k + 1].flags & NAME_WORD_LAST) &&
                   surname_like(&c, k + 1) && !(k > 0 && w[k - 1].cap && !w[k - 1].initial)) {
            person = 1; /* an unknown given name before a known surname: "Kwabena Mensah" */
        } else if ((idx_is(&c, k - 1, "named", 1) || idx_is(&c, k - 1, "called", 1)) && k > 0 &&
                   !x->initial && k + 1 < n && !x->break_after && surname_like(&c, k + 1)) {
            person = 1; /* "a woman called Ayodele Okafor" */
        }
        if (!person) continue;
        size_t end = extend_name(&c, k);
        add_name(&c, out, k, end);
        k = end;
    }
}

nword *scan_names_workspace(void) { return malloc(MAX_WORDS * sizeof(nword)); }

void scan_names(const scan_text *t, const rwc_wordmap *names, nword *words, span_list *out)
{
    size_t from = 0;
    while (from < t->len) {
        size_t next;
        size_t n = split_words(t, from, words, &next);
        scan_window(t, names, words, n, out);
        if (next <= from) break;
        from = next;
    }
}
