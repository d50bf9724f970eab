/* scan_numbers.c — payment cards (Luhn), IBANs (mod 97) and national IDs
 * (US SSN, UK National Insurance number, Canadian SIN). */
#include <string.h>

#include "scan.h"

/* ===== Checksums ======================================================== */

int luhn_valid(const char *digits, size_t n)
{
    int sum = 0;
    for (size_t k = 0; k < n; k++) {
        int d = digits[n - 1 - k] - '0';
        if (k % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return n > 0 && sum % 10 == 0;
}

/* ISO 13616: move the first four characters to the end, read letters as
 * 10..35, and the number must be 1 modulo 97. */
int iban_valid(const char *chars, size_t n)
{
    if (n < 15 || n > 34) return 0;
    unsigned r = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)chars[(k + 4) % n];
        if (c_digit(c)) r = (r * 10 + (unsigned)(c - '0')) % 97;
        else if (c_upper(c)) r = (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
        else return 0;
    }
    return r == 1;
}

/* ===== Payment cards ==================================================== */

/* Card numbers: 13-19 digits, in one run or in groups of at least four
 * (Amex 4-6-5) separated by one space or '-', starting with an issuer
 * digit 2-6 (a 13-digit number only as an old Visa, 4), Luhn-valid and not
 * all one digit.  The longest valid prefix ending at a group boundary wins,
 * so a trailing year or amount does not hide the card. */
void scan_cards(const scan_text *t, span_list *out)
{
    for (size_t i = 0; i < t->len; i++) {
        unsigned char b = before(t, i);
        if (!c_digit(t->s[i]) || c_alnum(b) || b == '+' || b == '.' || b == '-' ||
            b == '/' || b == ',') {
            while (i + 1 < t->len && c_digit(t->s[i]) && c_digit(t->s[i + 1])) i++;
            continue;
        }
        char digits[24];
        size_t nd = 0, p = i, ends[12], ndig_at[12];
        int ng = 0, small_group = 0;
        unsigned char sep = 0;
        while (ng < 12) {
            size_t gs = p;
            while (c_digit(at(t, p)) && nd < 20) digits[nd++] = (char)t->s[p++];
            if (c_digit(at(t, p))) break; /* too long for a card */
            size_t gl = p - gs;
            if (gl == 0) break;
            if (ng > 0 && gl < 4) small_group = 1;
            ends[ng] = p;
            ndig_at[ng++] = nd;
            unsigned char c = at(t, p);
            if ((c == ' ' || c == '-') && c_digit(at(t, p + 1)) && (!sep || sep == c) && !small_group) {
                sep = c;
                p++;
                continue;
            }
            break;
        }
        int found = 0;
        for (int g = ng - 1; g >= 0 && !found; g--) {
            size_t n = ndig_at[g], end = ends[g];
            if (n < 13 || n > 19) continue;
            /* group sizes: first group 4 (or the whole run), others >= 4 */
            if (g > 0 && ends[0] - i != 4) continue;
            int bad = 0;
            for (int k = 1; k <= g; k++) {
                size_t gl = ndig_at[k] - ndig_at[k - 1];
                /* a 19-digit Visa is written 4-4-4-4-3 */
                if (gl < 4 && !(gl == 3 && k == g && n == 19)) bad = 1;
            }
            if (bad) continue;
            unsigned char a = at(t, end);
            if (c_alnum(a) || ((a == '.' || a == ',' || a == '-') && c_digit(at(t, end + 1))))
                continue;
            int issuer = digits[0] - '0';
            if (issuer < 2 || issuer > 6 || (n == 13 && issuer != 4)) continue;
            int same = 1;
            for (size_t k = 1; k < n; k++) same &= digits[k] == digits[0];
            if (same || !luhn_valid(digits, n)) continue;
            spans_add(out, PII_CARD, i, end);
            found = 1;
            i = end - 1;
        }
        if (!found) i = (ng > 0 ? ends[0] : i + 1) - 1;
    }
}

/* ===== IBAN ============================================================= */

/* IBAN lengths by country (ISO 13616 registry). */
static const struct { char cc[3]; unsigned char len; } iban_lengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
    {"BG", 22}, {"BH", 22}, {"BR", 29}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31},
    {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25},
    {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24}, {"SE", 24}, {"SI", 19}, {"SK", 24},
    {"SM", 27}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VG", 24}, {"XK", 20},
};

static int iban_length_of(const unsigned char *cc)
{
    for (size_t k = 0; k < sizeof iban_lengths / sizeof iban_lengths[0]; k++)
        if (iban_lengths[k].cc[0] == cc[0] && iban_lengths[k].cc[1] == cc[1])
            return iban_lengths[k].len;
    return 0;
}

/* Two letters, two check digits, then letters and digits, written in one
 * run or in groups separated by single spaces.  The characters are
 * collected up to 34; a candidate length must end on a group boundary (or
 * inside an unbroken run), match the country's length when the country is
 * known, and pass mod 97. */
void scan_ibans(const scan_text *t, span_list *out)
{
    for (size_t i = 0; i + 4 < t->len; i++) {
        const unsigned char *s = t->s + i;
        if (!c_upper(s[0]) || !c_upper(s[1]) || !c_digit(s[2]) || !c_digit(s[3]) ||
            c_alnum(before(t, i)))
            continue;
        char chars[35];
        size_t pos_after[35]; /* byte offset after each collected char */
        size_t n = 0, p = i;
        while (n < 34) {
            unsigned char c = at(t, p);
            if (c_upper(c) || c_digit(c)) {
                chars[n] = (char)c;
                pos_after[n++] = ++p;
            } else if (c == ' ' && (c_upper(at(t, p + 1)) || c_digit(at(t, p + 1))) && n >= 4) {
                p++;
            } else {
                break;
            }
        }
        int want = iban_length_of(s);
        for (size_t len = n; len >= 15; len--) {
            if (want && (int)len != want) continue;
            size_t end = pos_after[len - 1];
            unsigned char a = at(t, end);
            if (c_alnum(a)) continue; /* must end at a word boundary */
            if (iban_valid(chars, len)) {
                spans_add(out, PII_IBAN, i, end);
                i = end - 1;
                break;
            }
        }
    }
}

/* ===== National IDs ===================================================== */

static const char *const ssn_cues[] = {"ssn", "social", "security", "ss", "tin", NULL};
static const char *const sin_cues[] = {"sin", "insurance", "social", NULL};

/* ddd-dd-dddd (or spaces, or nine digits after an SSN word) with the
 * ranges the SSA never issues left out: area 000, 666, 900-999; group 00;
 * serial 0000. */
static size_t ssn_at(const scan_text *t, size_t i)
{
    char d[9];
    size_t p = i, n = 0;
    static const int groups[] = {3, 2, 4};
    unsigned char sep = 0;
    for (int g = 0; g < 3; g++) {
        for (int k = 0; k < groups[g]; k++) {
            if (!c_digit(at(t, p))) return 0;
            d[n++] = (char)t->s[p++];
        }
        if (g < 2) {
            unsigned char c = at(t, p);
            if (c == '-' || c == ' ') {
                if (sep && sep != c) return 0;
                sep = c;
                p++;
            } else if (sep || c_digit(c) == 0) {
                return 0;
            }
        }
    }
    if (c_alnum(at(t, p)) || ((at(t, p) == '-' || at(t, p) == '.') && c_digit(at(t, p + 1))))
        return 0;
    if (!sep && !scan_cue_before(t, i, 3, ssn_cues)) return 0;
    if (sep == ' ' && !scan_cue_before(t, i, 3, ssn_cues)) return 0;
    int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    int group = (d[3] - '0') * 10 + (d[4] - '0');
    int serial = (d[5] - '0') * 1000 + (d[6] - '0') * 100 + (d[7] - '0') * 10 + (d[8] - '0');
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return 0;
    return p;
}

/* UK National Insurance number: two prefix letters (first not D F I Q U V,
 * second not D F I O Q U V; BG GB KN NK NT TN ZZ unused), six digits
 * (optionally in pairs), suffix A-D. */
static size_t nino_at(const scan_text *t, size_t i)
{
    unsigned char a = at(t, i), b = at(t, i + 1);
    if (!c_upper(a) || !c_upper(b)) return 0;
    if (strchr("DFIQUV", a) || strchr("DFIOQUV", b)) return 0;
    static const char *const unused[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
    for (size_t k = 0; k < 7; k++)
        if (unused[k][0] == a && unused[k][1] == b) return 0;
    size_t p = i + 2;
    int spaced = at(t, p) == ' ';
    for (int pair = 0; pair < 3; pair++) {
        if (spaced) {
            if (at(t, p) != ' ') return 0;
            p++;
        }
        if (!c_digit(at(t, p)) || !c_digit(at(t, p + 1))) return 0;
        p += 2;
    }
    if (spaced && at(t, p) == ' ') p++;
    unsigned char suffix = at(t, p);
    if (suffix < 'A' || suffix > 'D') return 0;
    p++;
    return c_alnum(at(t, p)) ? 0 : p;
}

/* Canadian Social Insurance Number: ddd-ddd-ddd or ddd ddd ddd, Luhn-valid,
 * first digit not 0 or 8, and a SIN word before it (nine digits alone are
 * too common to call an ID). */
static size_t sin_at(const scan_text *t, size_t i)
{
    char d[9];
    size_t p = i, n = 0;
    unsigned char sep = 0;
    for (int g = 0; g < 3; g++) {
        for (int k = 0; k < 3; k++) {
            if (!c_digit(at(t, p))) return 0;
            d[n++] = (char)t->s[p++];
        }
        if (g < 2) {
            unsigned char c = at(t, p);
            if (c != '-' && c != ' ') return 0;
            if (sep && sep != c) return 0;
            sep = c;
            p++;
        }
    }
    if (c_alnum(at(t, p)) || d[0] == '0' || d[0] == '8' || !luhn_valid(d, 9)) return 0;
    return scan_cue_before(t, i, 4, sin_cues) ? p : 0;
}

void scan_national_ids(const scan_text *t, span_list *out)
{
    for (size_t i = 0; i < t->len; i++) {
        unsigned char b = before(t, i);
        if (c_alnum(b) || b == '-' || b == '.' || b == '+' || b == '/') continue;
        size_t end = 0;
        if (c_digit(t->s[i])) {
            end = ssn_at(t, i);
            if (!end) end = sin_at(t, i);
        } else if (c_upper(t->s[i])) {
            end = nino_at(t, i);
        }
        if (end && spans_add(out, PII_NATIONAL_ID, i, end)) i = end - 1;
    }
}
