/*
 * scan.h — the privacy scanners: hand-written recognisers of personal data
 * in UTF-8 text, each adding byte spans to one list.
 *
 * Scanners run in a fixed order (most specific first: e-mail before IP and
 * phone, cards and IBANs before phone numbers, everything before names)
 * and a span that overlaps one already found is dropped, so each byte
 * belongs to at most one entity.  No scanner allocates except to grow the
 * span list, and none backtracks more than a few bytes: the work is linear
 * in the text.
 */
#ifndef RLAIF_PRIVACY_SCAN_H
#define RLAIF_PRIVACY_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "wordmap.h"

typedef enum pii_type {
    PII_NAME = 0,
    PII_EMAIL,
    PII_PHONE,
    PII_ADDRESS,
    PII_CARD,
    PII_IBAN,
    PII_IP,
    PII_NATIONAL_ID,
    PII_N_TYPES
} pii_type;

/* "name", "email", ... (the config and metric names). */
extern const char *const pii_type_names[PII_N_TYPES];

typedef struct pii_span {
    pii_type type;
    size_t start, end;  /* byte offsets, end exclusive */
} pii_span;

typedef struct span_list {
    pii_span *v;
    size_t n, cap;
    int oom;            /* an allocation failed: later adds are dropped */
} span_list;

/* Adds a span unless it overlaps one already in the list (which stays
 * sorted by start).  Returns 1 when added. */
int spans_add(span_list *l, pii_type type, size_t start, size_t end);
/* Nonzero when [start, end) overlaps a span in the list. */
int spans_overlap(const span_list *l, size_t start, size_t end);
/* A no-op kept for callers: the list is always sorted by start. */
void spans_sort(span_list *l);

/* ===== Character classes (ASCII; bytes >= 0x80 count as letters) ======= */

static inline int c_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int c_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline int c_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static inline int c_alpha(unsigned char c) { return c_upper(c) || c_lower(c) || c >= 0x80; }
static inline int c_alnum(unsigned char c) { return c_alpha(c) || c_digit(c); }

/* The text being scanned; `s` is NUL-terminated at `len`. */
typedef struct scan_text {
    const unsigned char *s;
    size_t len;
} scan_text;

/* Byte at i, or 0 outside the text. */
static inline unsigned char at(const scan_text *t, size_t i) { return i < t->len ? t->s[i] : 0; }
/* Byte before i, or 0 at the start. */
static inline unsigned char before(const scan_text *t, size_t i) { return i > 0 ? t->s[i - 1] : 0; }

/* Is one of the words (lower-case, NULL-terminated list) among the `n`
 * words that end before byte i (case-insensitive, within 40 bytes)? */
int scan_cue_before(const scan_text *t, size_t i, int n, const char *const *words);

/* ===== The scanners ===================================================== */

void scan_emails(const scan_text *t, span_list *out);
void scan_ibans(const scan_text *t, span_list *out);
void scan_cards(const scan_text *t, span_list *out);
void scan_national_ids(const scan_text *t, span_list *out);
void scan_ips(const scan_text *t, span_list *out);
void scan_phones(const scan_text *t, span_list *out);
void scan_addresses(const scan_text *t, span_list *out);

/* Name gazetteer flags (wordmap flags). */
enum {
    NAME_FIRST = 1,      /* a given name */
    NAME_LAST = 2,       /* a surname */
    NAME_WORD = 4,       /* also an everyday word or month: needs more evidence */
    NAME_PLACE = 8,      /* also a place name */
    NAME_WORD_LAST = 16  /* a surname that is an everyday word */
};

/* The names scanner's word buffer (malloc'ed; free() it); one per
 * instance, so scanning does not allocate. */
typedef struct nword nword;
nword *scan_names_workspace(void);
void scan_names(const scan_text *t, const rwc_wordmap *names, nword *work, span_list *out);

/* Checks used by several scanners and by the tests. */
int luhn_valid(const char *digits, size_t n);
int iban_valid(const char *chars, size_t n);  /* chars: upper-case letters and digits */

#endif
