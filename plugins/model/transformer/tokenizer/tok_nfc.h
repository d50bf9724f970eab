/*
 * tok_nfc.h — Unicode normalization forms (NFC, NFD, NFKC, NFKD) and
 * lowercasing for the normalizers of tokenizer.json (Qwen2/3 use NFC).
 * Tables are generated from Python's unicodedata by gen_nfc_tables.py into
 * tok_nfc_tables.c.
 */
#ifndef RLAIF_TOK_NFC_H
#define RLAIF_TOK_NFC_H

#include <stddef.h>
#include <stdint.h>

#include "tok_internal.h"

typedef struct tok_ccc_range { uint32_t lo, hi; uint8_t ccc; } tok_ccc_range;
typedef struct tok_decomp { uint32_t cp, a, b; } tok_decomp;        /* b 0: singleton */
typedef struct tok_compose { uint32_t a, b, cp; } tok_compose;      /* sorted by (a, b) */
typedef struct tok_span { uint32_t lo, hi; } tok_span;
typedef struct tok_expand { uint32_t cp, at, n; } tok_expand;     /* tok_expand_pool[at..at+n) */

extern const tok_ccc_range tok_ccc_ranges[];
extern const size_t tok_ccc_count;
extern const tok_decomp tok_decomps[];
extern const size_t tok_decomp_count;
extern const tok_compose tok_composes[];
extern const size_t tok_compose_count;
extern const tok_span tok_nfc_touch[];   /* may change under NFC */
extern const size_t tok_nfc_touch_count;
extern const tok_span tok_nfd_touch[];   /* may change under NFD */
extern const size_t tok_nfd_touch_count;
extern const tok_span tok_nfkc_touch[];
extern const size_t tok_nfkc_touch_count;
extern const tok_span tok_nfkd_touch[];
extern const size_t tok_nfkd_touch_count;
extern const tok_expand tok_compat[];    /* full NFKD where it differs from NFD */
extern const size_t tok_compat_count;
extern const tok_expand tok_lower[];     /* char -> lowercase chars */
extern const size_t tok_lower_count;
extern const uint32_t tok_expand_pool[];

#define TOK_NF_COMPOSE 1                 /* NFC / NFKC (else NFD / NFKD) */
#define TOK_NF_COMPAT 2                  /* NFKC / NFKD */

/* Appends the normalization form (TOK_NF_* flags) of valid UTF-8 s[0..n) to
 * out.  Text the form cannot change is copied as is.  -1 on allocation
 * failure. */
int tok_normalize_nf(const char *s, size_t n, int form, tok_buf *out);

/* Appends s[0..n) lowercased char by char (full mappings, no context). */
int tok_lowercase(const char *s, size_t n, tok_buf *out);

#endif
