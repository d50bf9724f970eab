/* scan_contact.c — e-mail addresses, IP addresses and phone numbers. */
#include <string.h>

#include "scan.h"

/* ===== E-mail =========================================================== */

static int local_char(unsigned char c)
{
    return c_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '\'';
}

static int label_char(unsigned char c) { return c_alnum(c) || c == '-'; }

/* The end of a domain name starting at i ("mail.example.co.uk"), or 0 when
 * it is not one: two labels at least, the last one letters only. */
static size_t domain_end(const scan_text *t, size_t i)
{
    size_t p = i, labels = 0, last_start = i, end = 0;
    for (;;) {
        size_t ls = p;
        while (label_char(at(t, p))) p++;
        if (p == ls || at(t, ls) == '-' || before(t, p) == '-') break;
        labels++;
        last_start = ls;
        end = p;
        if (at(t, p) == '.' && label_char(at(t, p + 1))) {
            p++;
            continue;
        }
        break;
    }
    if (labels < 2 || end - last_start < 2) return 0;
    for (size_t k = last_start; k < end; k++)
        if (!c_alpha(t->s[k])) return 0;
    return end;
}

void scan_emails(const scan_text *t, span_list *out)
{
    for (size_t i = 1; i < t->len; i++) {
        if (t->s[i] != '@') continue;
        size_t start = i;
        while (start > 0 && local_char(t->s[start - 1])) start--;
        while (start < i && (t->s[start] == '.' || t->s[start] == '\'')) start++;
        if (start == i || t->s[i - 1] == '.') continue;
        size_t end = domain_end(t, i + 1);
        if (!end) continue;
        spans_add(out, PII_EMAIL, start, end);
        i = end;
    }
}

/* ===== IP addresses ===================================================== */

/* Words that make a dotted quad a version or a section number. */
static const char *const version_cues[] = {
    "version", "ver", "v", "release", "build", "firmware", "update", "upgrade", "python", "node",
    "java", "sdk", "api", "section", "chapter", "figure", "table", "step", "rule", "clause",
    "paragraph", "article", "item", "patch", "kernel", "library", "package", "app", "revision",
    "rev", "edition", "model", "part", "verse", "fig", "sec", "no", "number", NULL};

/* A dotted quad starting at i; returns its end or 0. */
static size_t ipv4_at(const scan_text *t, size_t i)
{
    size_t p = i;
    for (int part = 0; part < 4; part++) {
        size_t ds = p;
        unsigned v = 0;
        while (c_digit(at(t, p)) && p - ds < 4) v = v * 10 + (unsigned)(t->s[p++] - '0');
        size_t nd = p - ds;
        if (nd == 0 || nd > 3 || v > 255 || (nd > 1 && t->s[ds] == '0')) return 0;
        if (part < 3) {
            if (at(t, p) != '.') return 0;
            p++;
        }
    }
    return p;
}

static int ipv4_acceptable(const scan_text *t, size_t i, size_t end)
{
    unsigned char b = before(t, i), a = at(t, end);
    if (c_alnum(b) || b == '.' || b == '-' || b == '_') return 0;
    if (c_alnum(a) || a == '_') return 0;
    if ((a == '.' || a == '-') && c_alnum(at(t, end + 1))) return 0; /* 1.2.3.4.5, 1.2.3.4-rc */
    return !scan_cue_before(t, i, 2, version_cues);
}

static int hexdig(unsigned char c)
{
    return c_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* An IPv6 address starting at i ("2001:db8::1", "::1", "fe80::1%eth0" is
 * taken up to the '%'); returns its end or 0. */
static size_t ipv6_at(const scan_text *t, size_t i)
{
    size_t p = i;
    int groups = 0, compressed = 0, digits = 0;
    if (at(t, p) == ':' && at(t, p + 1) == ':') {
        compressed = 1;
        p += 2;
    }
    size_t end = compressed ? p : 0;
    for (;;) {
        size_t gs = p;
        while (hexdig(at(t, p)) && p - gs < 5) p++;
        size_t n = p - gs;
        if (n == 0 || n > 4) {
            p = gs;
            break;
        }
        /* an IPv4 tail: "::ffff:192.0.2.1" */
        if (at(t, p) == '.' && groups <= 6) {
            size_t e4 = ipv4_at(t, gs);
            if (e4) {
                groups += 2;
                digits = 1;
                end = e4;
                break;
            }
            return 0;
        }
        groups++;
        for (size_t k = gs; k < p; k++) digits |= c_digit(t->s[k]);
        end = p;
        if (at(t, p) == ':' && at(t, p + 1) == ':') {
            if (compressed) break;
            compressed = 1;
            p += 2;
            end = p;
            continue;
        }
        if (at(t, p) == ':' && hexdig(at(t, p + 1))) {
            p++;
            continue;
        }
        break;
    }
    if (groups > 8 || (!compressed && groups != 8) || (compressed && groups > 7)) return 0;
    if (compressed && groups == 0) return 0;
    /* "a::b" or "dead:beef" style words are not addresses */
    if (!digits && groups < 4) return 0;
    return end;
}

void scan_ips(const scan_text *t, span_list *out)
{
    for (size_t i = 0; i < t->len; i++) {
        unsigned char c = t->s[i], b = before(t, i);
        if (c_digit(c)) {
            size_t end = ipv4_at(t, i);
            if (end && ipv4_acceptable(t, i, end)) {
                spans_add(out, PII_IP, i, end);
                i = end - 1;
                continue;
            }
        }
        if ((hexdig(c) || c == ':') && !c_alnum(b) && b != ':' && b != '.') {
            size_t end = ipv6_at(t, i);
            if (end && !c_alnum(at(t, end)) && at(t, end) != ':') {
                spans_add(out, PII_IP, i, end);
                i = end - 1;
                continue;
            }
        }
        /* skip the rest of a word or number */
        while (i + 1 < t->len && c_alnum(t->s[i]) && c_alnum(t->s[i + 1])) i++;
    }
}

/* ===== Phone numbers ==================================================== */

static const char *const phone_cues[] = {
    "phone", "tel", "telephone", "mobile", "cell", "call", "ring", "text", "fax", "whatsapp",
    "number", "contact", "reach", "dial", "landline", "phoned", NULL};

/* The shape of a digit run with separators. */
typedef struct phone_shape {
    size_t end;          /* byte after the last digit or ')' */
    int digits, groups;
    int group_len[16];
    int plus, paren, dots, first_digit;
} phone_shape;

/* Reads digits, single separators (space, '-', '.') and one pair of
 * parentheses from i. */
static void read_phone(const scan_text *t, size_t i, phone_shape *ps)
{
    memset(ps, 0, sizeof *ps);
    size_t p = i;
    if (at(t, p) == '+') {
        ps->plus = 1;
        p++;
    }
    ps->first_digit = -1;
    for (;;) {
        int open = 0;
        if (at(t, p) == '(' && !ps->paren && c_digit(at(t, p + 1))) {
            open = 1;
            p++;
        }
        size_t gs = p;
        while (c_digit(at(t, p))) p++;
        int n = (int)(p - gs);
        if (n == 0) break;
        if (ps->first_digit < 0) ps->first_digit = t->s[gs] - '0';
        if (ps->groups < 16) ps->group_len[ps->groups] = n;
        ps->groups++;
        ps->digits += n;
        if (open) {
            if (at(t, p) != ')') break;
            p++;
            ps->paren = 1;
        }
        ps->end = p;
        if (ps->digits > 15 || ps->groups > 8) break;
        /* one separator (or none after ')'), then another group */
        unsigned char sep = at(t, p);
        size_t q = p;
        if (sep == ' ' || sep == '-' || sep == '.') q++;
        else if (!(sep == '(' && !ps->paren) && !(open && c_digit(sep))) break;
        if (!c_digit(at(t, q)) && !(at(t, q) == '(' && !ps->paren)) break;
        if (sep == '.') ps->dots = 1;
        p = q;
    }
}

/* Is the shape a phone number, given whether a phone word precedes it? */
static int phone_plausible(const phone_shape *ps, int cue)
{
    int d = ps->digits, g = ps->groups;
    if (g > 16) return 0;
    int min_group = 99, max_group = 0;
    for (int k = 0; k < g && k < 16; k++) {
        if (ps->group_len[k] < min_group) min_group = ps->group_len[k];
        if (ps->group_len[k] > max_group) max_group = ps->group_len[k];
    }
    if (ps->plus) return d >= 8 && d <= 15 && ps->group_len[0] <= 4;
    /* North American: 555-123-4567, (555) 123-4567, 1-800-555-0199 */
    if (d == 10 && g == 3 && ps->group_len[0] == 3 && ps->group_len[1] == 3 &&
        ps->first_digit >= 2)
        return 1;
    if (d == 11 && g == 4 && ps->group_len[0] == 1 && ps->first_digit == 1 &&
        ps->group_len[1] == 3 && ps->group_len[2] == 3)
        return 1;
    /* national numbers with a trunk 0: 020 7946 0958, 06-12345678, 01 23 45 67 89 */
    if (ps->first_digit == 0 && d >= 10 && d <= 11 && g >= 2 && min_group >= 2 && !ps->dots)
        return 1;
    if (ps->first_digit == 0 && d >= 10 && d <= 11 && g >= 4 && min_group >= 2 && cue) return 1;
    /* anything else of phone length needs a phone word before it */
    if (cue && d >= 7 && d <= 12 && (g == 1 || min_group >= 2)) return 1;
    (void)max_group;
    return 0;
}

void scan_phones(const scan_text *t, span_list *out)
{
    for (size_t i = 0; i < t->len; i++) {
        unsigned char c = t->s[i], b = before(t, i);
        int starts = (c == '+' && c_digit(at(t, i + 1))) || (c == '(' && c_digit(at(t, i + 1))) ||
                     c_digit(c);
        if (!starts || c_alnum(b) || b == '.' || b == '/' || b == ':' || b == '$' || b == '-' ||
            b == ',' || b == '#' || (b == '+' && c != '+')) {
            while (i + 1 < t->len && c_digit(t->s[i]) && c_digit(t->s[i + 1])) i++;
            continue;
        }
        /* currency signs written as UTF-8 (€ £ ¥) right before the number */
        if (i >= 2 && (t->s[i - 2] == 0xC2 && (t->s[i - 1] == 0xA3 || t->s[i - 1] == 0xA5))) continue;
        if (i >= 3 && t->s[i - 3] == 0xE2 && t->s[i - 2] == 0x82 && t->s[i - 1] == 0xAC) continue;
        phone_shape ps;
        read_phone(t, i, &ps);
        if (ps.digits == 0) continue;
        unsigned char a = at(t, ps.end);
        int bad_tail = c_alnum(a) || ((a == '.' || a == ':' || a == '/' || a == ',') &&
                                      c_digit(at(t, ps.end + 1)));
        if (!bad_tail && phone_plausible(&ps, scan_cue_before(t, i, 3, phone_cues)))
            spans_add(out, PII_PHONE, i, ps.end);
        i = ps.end > i ? ps.end - 1 : i;
    }
}
