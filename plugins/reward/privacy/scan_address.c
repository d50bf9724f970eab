/* scan_address.c — postal addresses: a house number with a street name and
 * a street type ("221B Baker Street", "12 rue de la Paix", "Via Roma 10",
 * "Hauptstraße 5"), PO boxes, and postcodes of a few countries, alone (UK,
 * Canada, US state + ZIP, Netherlands) or after a street (also the 4- and
 * 5-digit codes of continental Europe, which alone are just numbers). */
#include <string.h>

#include "scan.h"

/* ===== Words ============================================================ */

/* The end of the word (letters, inner apostrophes and hyphens) at p. */
static size_t word_end(const scan_text *t, size_t p)
{
    while (c_alpha(at(t, p)) ||
           ((at(t, p) == '\'' || at(t, p) == '-') && c_alpha(at(t, p + 1)) && c_alpha(before(t, p))))
        p++;
    return p;
}

static int word_is(const scan_text *t, size_t p, size_t end, const char *w)
{
    return end - p == strlen(w) && memcmp(t->s + p, w, end - p) == 0;
}

static int word_in(const scan_text *t, size_t p, size_t end, const char *const *list)
{
    for (size_t k = 0; list[k]; k++)
        if (word_is(t, p, end, list[k])) return 1;
    return 0;
}

/* A capitalised word: an upper-case ASCII letter or a UTF-8 upper-case
 * Latin-1 letter (U+00C0..U+00DE) first. */
static int capitalised(const scan_text *t, size_t p)
{
    unsigned char c = at(t, p);
    if (c_upper(c)) return 1;
    return c == 0xC3 && at(t, p + 1) >= 0x80 && at(t, p + 1) <= 0x9E && at(t, p + 1) != 0x97;
}

/* ===== Street types ===================================================== */

static const char *const street_types[] = {
    "Street", "St", "Road", "Rd", "Avenue", "Ave", "Av", "Lane", "Ln", "Drive", "Dr",
    "Boulevard", "Blvd", "Court", "Ct", "Place", "Pl", "Way", "Close", "Crescent", "Cres",
    "Terrace", "Tce", "Square", "Sq", "Parkway", "Pkwy", "Highway", "Hwy", "Circle", "Cir",
    "Row", "Gardens", "Grove", "Hill", "Walk", "Mews", "Alley", "Plaza", "Trail", "Path",
    "Broadway", "Esplanade", "Embankment", "Quay", "Wharf", "Green", "Rise", "Vale", "View",
    "street", "road", "avenue", "lane", "drive", "boulevard", NULL};

static const char *const directions[] = {"N", "S", "E", "W", "NE", "NW", "SE", "SW", NULL};

/* Street words written before the name (French, Italian, Spanish,
 * Portuguese, Catalan). */
static const char *const type_first[] = {
    "rue", "Rue", "avenue", "boulevard", "Boulevard", "place", "chemin", "Chemin", "impasse",
    "quai", "Quai", "allée", "Via", "via", "Viale", "Piazza", "Corso", "Vicolo", "Calle",
    "calle", "Avenida", "avenida", "Plaza", "Paseo", "Carrer", "Rua", "rua", "Travessa",
    "Largo", "Avinguda", "Praça", NULL};

static const char *const particles[] = {"de", "la", "du", "des", "le", "les", "del", "della",
                                        "di", "da", "do", "dos", "das", "d'", "l'", "y", NULL};

/* Endings of one-word street names (German, Dutch, Scandinavian). */
static const char *const street_suffixes[] = {
    "straße", "strasse", "str.", "weg", "platz", "gasse", "allee", "ring", "damm", "ufer",
    "chaussee", "steig", "markt", "straat", "laan", "gracht", "plein", "kade", "singel",
    "gatan", "vägen", "gade", "vej", "veien", "gata", NULL};

static const char *const unit_words[] = {"Apt", "Apartment", "Suite", "Ste", "Unit", "Flat",
                                         "Floor", "Fl", "Room", "Box", NULL};

static const char *const us_states[] = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
    "VA", "WA", "WV", "WI", "WY", "DC", NULL};

static const char *const countries[] = {
    "USA", "US", "UK", "United Kingdom", "England", "Scotland", "Wales", "Ireland", "Canada",
    "Germany", "Deutschland", "France", "Italy", "Italia", "Spain", "España", "Portugal",
    "Netherlands", "Belgium", "Austria", "Switzerland", "Australia", "Brazil", "Mexico", NULL};

/* ===== Pieces =========================================================== */

/* A house number: 1-5 digits, optionally a letter ("221B") or a range
 * ("12-14"); returns its end or 0. */
static size_t house_number(const scan_text *t, size_t p)
{
    size_t s = p;
    while (c_digit(at(t, p)) && p - s < 6) p++;
    if (p == s || p - s > 5) return 0;
    if (c_alpha(at(t, p)) && !c_alpha(at(t, p + 1)) && at(t, p) < 0x80) p++;
    else if (at(t, p) == '-' && c_digit(at(t, p + 1))) {
        p++;
        while (c_digit(at(t, p))) p++;
    }
    return c_alnum(at(t, p)) ? 0 : p;
}

/* An ordinal like "5th" or "42nd"; returns its end or 0. */
static size_t ordinal(const scan_text *t, size_t p)
{
    size_t s = p;
    while (c_digit(at(t, p))) p++;
    if (p == s || p - s > 3) return 0;
    static const char *const ends[] = {"st", "nd", "rd", "th", NULL};
    size_t e = word_end(t, p);
    return word_in(t, p, e, ends) ? e : 0;
}

/* UK postcode "SW1A 1AA": outward code, space, digit + two letters (not
 * C I K M O V). */
static size_t uk_postcode(const scan_text *t, size_t p)
{
    size_t s = p;
    if (!c_upper(at(t, p))) return 0;
    p++;
    if (c_upper(at(t, p))) p++;
    if (!c_digit(at(t, p))) return 0;
    p++;
    if (c_digit(at(t, p)) || c_upper(at(t, p))) p++;
    if (p - s < 2 || at(t, p) != ' ') return 0;
    p++;
    if (!c_digit(at(t, p))) return 0;
    for (int k = 1; k <= 2; k++) {
        unsigned char c = at(t, p + (size_t)k);
        if (!c_upper(c) || strchr("CIKMOV", c)) return 0;
    }
    p += 3;
    return c_alnum(at(t, p)) ? 0 : p;
}

/* Canadian postcode "K1A 0B1" (letters not D F I O Q U). */
static size_t ca_postcode(const scan_text *t, size_t p)
{
    static const char pattern[] = "A9A 9A9";
    for (size_t k = 0; k < 7; k++) {
        unsigned char c = at(t, p + k);
        if (pattern[k] == 'A' && (!c_upper(c) || strchr("DFIOQU", c))) return 0;
        if (pattern[k] == '9' && !c_digit(c)) return 0;
        if (pattern[k] == ' ' && c != ' ') return 0;
    }
    return c_alnum(at(t, p + 7)) ? 0 : p + 7;
}

/* "CA 94105" or "NY 10001-1234". */
static size_t us_state_zip(const scan_text *t, size_t p)
{
    if (!c_upper(at(t, p)) || !c_upper(at(t, p + 1)) || at(t, p + 2) != ' ') return 0;
    size_t e = p + 2;
    if (!word_in(t, p, e, us_states)) return 0;
    size_t q = e + 1;
    for (int k = 0; k < 5; k++)
        if (!c_digit(at(t, q + (size_t)k))) return 0;
    q += 5;
    if (at(t, q) == '-' && c_digit(at(t, q + 1)) && c_digit(at(t, q + 4)) && !c_digit(at(t, q + 5)))
        q += 5;
    return c_alnum(at(t, q)) ? 0 : q;
}

/* Dutch "1012 AB" followed by a capitalised city. */
static size_t nl_postcode(const scan_text *t, size_t p)
{
    for (int k = 0; k < 4; k++)
        if (!c_digit(at(t, p + (size_t)k))) return 0;
    if (at(t, p) == '0' || at(t, p + 4) != ' ') return 0;
    unsigned char a = at(t, p + 5), b = at(t, p + 6);
    if (!c_upper(a) || !c_upper(b) || c_alnum(at(t, p + 7))) return 0;
    if (a == 'S' && (b == 'A' || b == 'D' || b == 'S')) return 0;
    if (at(t, p + 7) != ' ' || !capitalised(t, p + 8)) return 0;
    return word_end(t, p + 8);
}

/* n digits then a capitalised city ("10115 Berlin", "1010 Wien"). */
static size_t code_and_city(const scan_text *t, size_t p, int n)
{
    for (int k = 0; k < n; k++)
        if (!c_digit(at(t, p + (size_t)k))) return 0;
    size_t q = p + (size_t)n;
    if (at(t, q) != ' ' || !capitalised(t, q + 1)) return 0;
    return word_end(t, q + 1);
}

/* Any postcode form allowed after a street. */
static size_t postcode_after_street(const scan_text *t, size_t p)
{
    size_t e;
    if ((e = uk_postcode(t, p)) || (e = ca_postcode(t, p)) || (e = us_state_zip(t, p)) ||
        (e = nl_postcode(t, p)) || (e = code_and_city(t, p, 5)) || (e = code_and_city(t, p, 4)))
        return e;
    return 0;
}

/* Capitalised words (a city, up to three) ending at a word end; 0 if none. */
static size_t city_words(const scan_text *t, size_t p)
{
    size_t end = 0;
    for (int k = 0; k < 3; k++) {
        if (!capitalised(t, p)) break;
        size_t e = word_end(t, p);
        if (e == p || c_digit(at(t, e))) break; /* "NW1" is a postcode, not a city */
        end = e;
        if (at(t, e) != ' ' || !capitalised(t, e + 1)) break;
        p = e + 1;
    }
    return end;
}

/* After a street: ", Apt 4B", ", Springfield, IL 62704", " SW1A 2AA",
 * ", 10115 Berlin", ", USA".  Returns the new end. */
static size_t extend_address(const scan_text *t, size_t end)
{
    for (int part = 0; part < 5; part++) {
        size_t q = end;
        int comma = at(t, q) == ',';
        if (comma) q++;
        if (at(t, q) == ' ') q++;
        if (q == end) break;
        size_t e;
        if ((e = postcode_after_street(t, q))) {
            end = e;
            continue;
        }
        size_t w = word_end(t, q);
        if (word_in(t, q, w, unit_words) || at(t, q) == '#') {
            size_t u = at(t, q) == '#' ? q + 1 : w;
            if (at(t, u) == ' ') u++;
            if (at(t, u) == '.') u++;
            size_t us = u;
            while (c_alnum(at(t, u))) u++;
            if (u > us && c_digit(at(t, us))) {
                end = u;
                continue;
            }
            break;
        }
        if (comma && (e = city_words(t, q))) {
            /* a city counts only with a postcode, state or country after it */
            size_t r = e;
            if (at(t, r) == ',') r++;
            if (at(t, r) == ' ') r++;
            size_t pc = postcode_after_street(t, r);
            if (pc) {
                end = pc;
                continue;
            }
            size_t cw = city_words(t, r);
            if (r > e && cw && word_in(t, r, cw, countries)) {
                end = cw;
                continue;
            }
            break;
        }
        if (comma && (e = city_words(t, q)) == 0) break;
        break;
    }
    return end;
}

/* ===== Street patterns ================================================== */

/* "221B Baker Street", "1600 Pennsylvania Avenue NW", "350 5th Ave". */
static size_t anglo_street(const scan_text *t, size_t i)
{
    size_t p = house_number(t, i);
    if (!p || at(t, p) != ' ') return 0;
    p++;
    int names = 0;
    for (int k = 0; k < 5; k++) {
        size_t e = capitalised(t, p) ? word_end(t, p) : ordinal(t, p);
        if (!e && c_lower(at(t, p))) e = word_end(t, p); /* only a lower-case type */
        if (!e) return 0;
        if (names > 0 && word_in(t, p, e, street_types)) {
            if (at(t, e) == '.' && e - p <= 4 && at(t, e + 1) == ' ' && !capitalised(t, e + 2))
                e++; /* "St." inside a sentence */
            size_t d = at(t, e) == ' ' ? word_end(t, e + 1) : 0;
            if (d && word_in(t, e + 1, d, directions) && !c_alpha(at(t, d))) e = d;
            return e;
        }
        if (!capitalised(t, p) && !ordinal(t, p)) return 0;
        names++;
        if (at(t, e) != ' ') return 0;
        p = e + 1;
    }
    return 0;
}

/* "12 rue de la Paix", "Via Roma 10", "Calle Mayor, 5". */
static size_t type_first_street(const scan_text *t, size_t i)
{
    size_t p = i, number = 0;
    if (c_digit(at(t, p))) {
        number = house_number(t, p);
        if (!number) return 0;
        p = number;
        if (at(t, p) == ',') p++;
        if (at(t, p) != ' ') return 0;
        p++;
    }
    size_t e = word_end(t, p);
    if (e - p > 9 || at(t, e) != ' ' || !word_in(t, p, e, type_first)) return 0;
    if (!number && !capitalised(t, p)) return 0;
    size_t end = 0;
    p = e;
    for (int k = 0; k < 5 && at(t, p) == ' '; k++) {
        size_t w = word_end(t, p + 1);
        if (w == p + 1) break;
        if (capitalised(t, p + 1)) end = w;
        else if (!word_in(t, p + 1, w, particles)) break;
        p = w;
    }
    if (!end) return 0;
    if (number) return end;
    size_t q = end;
    if (at(t, q) == ',') q++;
    if (at(t, q) != ' ') return 0;
    size_t n = house_number(t, q + 1);
    return n ? n : 0;
}

/* "Hauptstraße 5", "Bahnhofstr. 12", "Keizersgracht 123". */
static size_t suffix_street(const scan_text *t, size_t i)
{
    if (!capitalised(t, i)) return 0;
    size_t e = word_end(t, i);
    if (at(t, e) == '.') e++;
    if (at(t, e) != ' ' || !c_digit(at(t, e + 1))) return 0;
    int ok = 0;
    for (size_t k = 0; street_suffixes[k] && !ok; k++) {
        size_t n = strlen(street_suffixes[k]);
        ok = e - i > n + 2 && memcmp(t->s + e - n, street_suffixes[k], n) == 0;
    }
    if (!ok || at(t, e) != ' ') return 0;
    size_t n = house_number(t, e + 1);
    return n && n - (e + 1) <= 5 ? n : 0;
}

/* "PO Box 1234", "P.O. Box 77". */
static size_t po_box(const scan_text *t, size_t i)
{
    static const char *const forms[] = {"PO Box ", "P.O. Box ", "P. O. Box ", "Post Office Box ",
                                        NULL};
    for (size_t k = 0; forms[k]; k++) {
        size_t n = strlen(forms[k]);
        if (i + n < t->len && memcmp(t->s + i, forms[k], n) == 0 && c_digit(at(t, i + n))) {
            size_t p = i + n;
            while (c_digit(at(t, p))) p++;
            return c_alnum(at(t, p)) ? 0 : p;
        }
    }
    return 0;
}

void scan_addresses(const scan_text *t, span_list *out)
{
    for (size_t i = 0; i < t->len; i++) {
        unsigned char b = before(t, i);
        if (c_alnum(b) || b == '.' || b == '$' || b == '-' || b == '/' || b == '\'') continue;
        size_t end = 0;
        int street = 0;
        if ((end = anglo_street(t, i)) || (end = type_first_street(t, i)) ||
            (end = suffix_street(t, i)) || (end = po_box(t, i)))
            street = 1;
        else if ((end = uk_postcode(t, i)) || (end = ca_postcode(t, i)) ||
                 (end = us_state_zip(t, i)) || (end = nl_postcode(t, i)))
            street = 0;
        if (!end) continue;
        if (street) end = extend_address(t, end);
        if (spans_add(out, PII_ADDRESS, i, end)) i = end - 1;
    }
}
