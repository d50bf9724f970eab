/*
 * tok_internal.h — the pieces the tokenizer is built from, shared by its
 * files and by nothing else.
 *
 *   tok_util.c      errors, UTF-8, the GPT-2 byte<->char table, files
 *   tok_map.c       hash maps: string -> id, (id, id) -> merge
 *   tok_bpe.c       the merge loop (a heap of candidate pairs)
 *   tok_pieces.c    a list of strings in one arena (pre-tokenizer splits)
 *   tok_llama2c.c   tokenizer.bin
 *   tok_hf_load.c   tokenizer.json -> the structures below
 *   tok_hf_components.c  its normalizer/pre_tokenizer/decoder/post_processor
 *   tok_hf_normalize.c   normalizers
 *   tok_hf_pretok.c      pre-tokenizers (regex splits, byte-level, Metaspace)
 *   tok_hf_encode.c added tokens, BPE words, the encode driver
 *   tok_hf_decode.c decoders
 *   tok_hf_export.c tokenizer.bin written as tokenizer.json
 *   tok_nfc.c       Unicode NFC / NFD (tables in tok_nfc_tables.c)
 *   tokenizer.c     the public functions
 */
#ifndef RLAIF_TOK_INTERNAL_H
#define RLAIF_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer.h"

/* ===== Errors and small helpers (tok_util.c) ============================ */

#if defined(__GNUC__)
#define TOK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TOK_PRINTF(a, b)
#endif

/* Writes a formatted message into err (when errlen > 0). */
void tok_errf(char *err, size_t errlen, const char *fmt, ...) TOK_PRINTF(3, 4);

/* Reads a whole file; *len excludes the NUL added at the end. */
char *tok_read_file(const char *path, size_t *len, char *err, size_t errlen);

/* Writes data[0..n) to dst through dst.tmp and a rename. */
rlaif_status tok_write_file(const char *dst, const void *data, size_t n, char *err, size_t errlen);

/* Copies src to dst (a file path); used by tokenizer_save. */
rlaif_status tok_copy_file(const char *src, const char *dst, char *err, size_t errlen);

char *tok_strndup(const char *s, size_t n);

/* Length in bytes of the valid UTF-8 sequence at s[0..n), or 0 when the
 * bytes there do not start one (shortest form, no surrogates, <= U+10FFFF). */
size_t tok_utf8_valid_len(const unsigned char *s, size_t n);

/* Copy of s with every invalid UTF-8 sequence replaced by U+FFFD (one per
 * maximal invalid subpart, as Rust's from_utf8_lossy).  NUL-terminated. */
char *tok_utf8_lossy(const char *s, size_t n, size_t *out_len);

/* Encodes cp as UTF-8 into out (4 bytes room); returns the length. */
size_t tok_utf8_put(uint32_t cp, char *out);

/* GPT-2's byte <-> printable char mapping: byte b is shown as code point
 * tok_byte_to_cp(b); tok_cp_to_byte(cp) inverts it (-1 when cp is not one). */
uint32_t tok_byte_to_cp(unsigned char b);
int tok_cp_to_byte(uint32_t cp);

/* Chars of valid UTF-8 text: the length of the char at s (1 for a stray
 * byte), its code point, the start of the char before s[i], and Unicode
 * White_Space (Rust's char::is_whitespace). */
size_t tok_char_len(const char *s, size_t n);
uint32_t tok_decode_cp(const char *s, size_t k);
size_t tok_prev_char(const char *s, size_t i);
int tok_is_white_space(uint32_t c);

/* A growable byte buffer. */
typedef struct tok_buf {
    char *p;
    size_t len, cap;
} tok_buf;
int tok_buf_reserve(tok_buf *b, size_t extra);           /* 0 ok, -1 no memory */
int tok_buf_add(tok_buf *b, const void *s, size_t n);    /* 0 ok, -1 no memory */

/* A growable int32 array. */
typedef struct tok_ids {
    int32_t *p;
    size_t len, cap;
} tok_ids;
int tok_ids_push(tok_ids *v, int32_t id);

/* ===== Hash maps (tok_map.c) ============================================ */

/* string -> id over strings owned elsewhere (strs[id], lens[id]). */
typedef struct tok_strmap {
    int32_t *slot;              /* id, or -1 for empty */
    uint32_t *hash;             /* low 32 bits of the key's hash */
    size_t mask;                /* capacity - 1 (a power of two) */
    char *const *strs;          /* borrowed */
    const uint32_t *lens;       /* borrowed */
} tok_strmap;

int tok_strmap_init(tok_strmap *m, size_t n, char *const *strs, const uint32_t *lens);
void tok_strmap_free(tok_strmap *m);
/* Inserts id (its string is strs[id]); returns 1 when the string is
 * already present (the first id is kept), 0 when added. */
int tok_strmap_put(tok_strmap *m, int32_t id);
int32_t tok_strmap_get(const tok_strmap *m, const char *s, size_t n);
/* Looks up the concatenation a+b without building it. */
int32_t tok_strmap_get2(const tok_strmap *m, const char *a, size_t na, const char *b, size_t nb);

/* (left id, right id) -> (rank, merged id). */
typedef struct tok_pairmap {
    uint64_t *key;
    int32_t *rank;              /* -1 for empty */
    int32_t *merged;
    size_t mask;
} tok_pairmap;

int tok_pairmap_init(tok_pairmap *m, size_t n);
void tok_pairmap_free(tok_pairmap *m);
/* Returns 1 when the pair was already present (the later rank replaces it). */
int tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged);
int tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *merged);

/* ===== The merge loop (tok_bpe.c) ======================================= */

/* Says whether the adjacent pair (a, b) may merge: returns 1 and sets the
 * priority (lower merges first) and the merged id, or returns 0. */
typedef int (*tok_pair_fn)(const void *ctx, int32_t a, int32_t b, double *prio, int32_t *merged);

/* Scratch space reused across words of one encode call. */
typedef struct tok_bpe_work {
    struct tok_sym *sym;
    size_t sym_cap;
    struct tok_cand *heap;
    size_t heap_len, heap_cap;
} tok_bpe_work;

void tok_bpe_work_free(tok_bpe_work *w);

/* Merges ids[0..n) in place, repeatedly joining the adjacent pair of lowest
 * priority (leftmost on ties); *n shrinks.  -1 on allocation failure. */
int tok_bpe_merge(tok_bpe_work *w, int32_t *ids, size_t *n, tok_pair_fn pair, const void *ctx);

/* ===== A list of strings (tok_pieces.c) ================================= */

typedef struct tok_pieces {
    tok_buf text;               /* all pieces, back to back */
    size_t *off, *len;
    size_t *head;               /* bytes at the piece's start that stem from the
                                   first char of the input (or were inserted
                                   before it): HF's "original offset 0" */
    size_t n, cap;
} tok_pieces;

void tok_pieces_clear(tok_pieces *p);
void tok_pieces_free(tok_pieces *p);
int tok_pieces_add(tok_pieces *p, const char *s, size_t n);
int tok_pieces_add_head(tok_pieces *p, const char *s, size_t n, size_t head);
/* Appends to the last piece (adds one when there is none). */
int tok_pieces_extend_last(tok_pieces *p, const char *s, size_t n);
static inline const char *tok_piece(const tok_pieces *p, size_t i) { return p->text.p + p->off[i]; }

/* ===== Tokenizer.json components ======================================== */

typedef enum tok_norm_kind {
    TOK_NORM_NFC = 1,
    TOK_NORM_NFD,
    TOK_NORM_NFKC,
    TOK_NORM_NFKD,
    TOK_NORM_LOWERCASE,
    TOK_NORM_REPLACE,
    TOK_NORM_PREPEND,
    TOK_NORM_STRIP
} tok_norm_kind;

typedef struct tok_norm {
    tok_norm_kind kind;
    pcre2_code *re;             /* REPLACE: the pattern (literal or regex) */
    char *content;              /* REPLACE: the replacement; PREPEND: the prefix */
    size_t content_len;
    int left, right;            /* STRIP */
} tok_norm;

typedef enum tok_pre_kind {
    TOK_PRE_BYTELEVEL = 1,
    TOK_PRE_SPLIT,
    TOK_PRE_METASPACE
} tok_pre_kind;

typedef enum tok_split_behavior {
    TOK_SPLIT_REMOVED = 0,
    TOK_SPLIT_ISOLATED,
    TOK_SPLIT_MERGED_PREV,
    TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS
} tok_split_behavior;

typedef enum tok_prepend { TOK_PREPEND_ALWAYS = 0, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER } tok_prepend;

typedef struct tok_pre {
    tok_pre_kind kind;
    pcre2_code *re;             /* BYTELEVEL with use_regex; SPLIT */
    int add_prefix_space;       /* BYTELEVEL */
    tok_split_behavior behavior;/* SPLIT */
    int invert;                 /* SPLIT */
    char repl[8];               /* METASPACE: the replacement char (UTF-8) */
    size_t repl_len;
    tok_prepend prepend;        /* METASPACE */
    int split;                  /* METASPACE */
} tok_pre;

typedef enum tok_dec_kind {
    TOK_DEC_BYTELEVEL = 1,
    TOK_DEC_METASPACE,
    TOK_DEC_BYTEFALLBACK,
    TOK_DEC_FUSE,
    TOK_DEC_STRIP,
    TOK_DEC_REPLACE,
    TOK_DEC_BPE                 /* BPEDecoder: the word suffix becomes a space */
} tok_dec_kind;

typedef struct tok_dec {
    tok_dec_kind kind;
    char repl[8];               /* METASPACE */
    size_t repl_len;
    tok_prepend prepend;        /* METASPACE */
    char strip_char[8];         /* STRIP: the content char */
    size_t strip_len;
    int start, stop;            /* STRIP */
    pcre2_code *re;             /* REPLACE */
    char *content;              /* REPLACE: the replacement; BPE: the suffix */
    size_t content_len;
} tok_dec;

typedef struct tok_added {
    char *content;
    size_t len;
    int32_t id;
    int special, single_word, lstrip, rstrip;
    int normalized;             /* matched in normalized text (else in raw text) */
    char *match;                /* what is matched: content, or for a normalized
                                   token its normalized form (then owned) */
    size_t match_len;
} tok_added;

/* ===== The tokenizer ==================================================== */

typedef enum tok_format { TOK_LLAMA2C = 1, TOK_HF = 2 } tok_format;

struct tokenizer {
    tok_format format;
    int32_t vocab_size;         /* one past the largest id */
    int32_t bos, eos;           /* -1 when none */
    char *path;                 /* the file loaded (for save) */
    char *config_path;          /* tokenizer_config.json when it was read */

    /* Strings by id: the model's vocabulary (NULL for holes). */
    char **str;
    uint32_t *len;
    tok_strmap vocab;           /* model vocabulary: string -> id */
    uint8_t *special;           /* per id: nonzero when special */

    /* llama2.c */
    float *score;
    uint32_t max_token_len;

    /* tokenizer.json */
    tok_pairmap merges;
    int byte_fallback, ignore_merges, fuse_unk;
    char *cont_prefix;          /* continuing_subword_prefix, NULL when none */
    char *eow_suffix;           /* end_of_word_suffix, NULL when none */
    size_t cont_len, eow_len;
    int32_t unk;                /* -1 when none */
    int32_t byte_id[256];       /* id of "<0xNN>", -1 when absent */
    tok_norm *norm;
    size_t n_norm;
    tok_pre *pre;
    size_t n_pre;
    tok_dec *dec;               /* NULL with n_dec 0: tokens joined by " " */
    size_t n_dec;
    int has_decoder;
    tok_added *added;           /* sorted by match length, longest first */
    size_t n_added;
    uint8_t added_first[2][256];/* [normalized][byte]: nonzero when an added
                                   token's match starts with the byte */
    pcre2_code *word_re;        /* one word char (Rust regex's Unicode \w), for
                                   single_word added tokens; NULL if none */
    char **added_str;           /* per id: the added token's text for decoding
                                   (its normalized form when it is matched
                                   normalized, as HF does), or NULL */
    uint8_t *skip;              /* per id: dropped by decode's skip_special */
    int32_t *prefix_ids, *suffix_ids; /* added by add_bos (post-processor) */
    size_t n_prefix, n_suffix;
};

/* tok_llama2c.c */
tokenizer *tok_llama2c_load(const char *path, int32_t vocab_size, char *err, size_t errlen);
rlaif_status tok_llama2c_encode(const tokenizer *t, const char *text, size_t len, int add_bos,
                                tok_ids *out, char *err, size_t errlen);
rlaif_status tok_llama2c_decode(const tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                                tok_buf *out, char *err, size_t errlen);

/* The byte of a "<0xNN>" piece (exactly six chars), or -1. */
int tok_parse_byte_piece(const char *s, size_t n);

/* tok_hf_export.c: NULL when the llama2.c vocabulary can be written as an
 * equivalent tokenizer.json, else why not (a static string). */
const char *tok_llama2c_exportable(const tokenizer *t);
/* Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json
 * into dir (RLAIF_E_UNSUPPORTED when the vocabulary cannot be written). */
rlaif_status tok_llama2c_export_hf(const tokenizer *t, const char *dir, char *err, size_t errlen);

/* tok_hf_load.c */
tokenizer *tok_hf_load(const char *path, char *err, size_t errlen);

/* tok_hf_normalize.c: runs the normalizers over s[0..n), appending the
 * result to out (cur and next are scratch; *head, when given, is updated:
 * see tok_pieces).  tok_hf_normalize is the same with its own scratch. */
int tok_hf_normalize_into(const tokenizer *t, pcre2_match_data *md, const char *s, size_t n,
                          tok_buf *cur, tok_buf *next, tok_buf *out, size_t *head);
int tok_hf_normalize(const tokenizer *t, const char *s, size_t n, tok_buf *out);

/* tok_hf_pretok.c: regex matches and the pre-tokenizers. */
typedef struct tok_part {        /* a match of a pattern, or a gap between two */
    size_t start, end;
    int is_match;
} tok_part;
typedef struct tok_parts {
    tok_part *p;
    size_t n, cap;
} tok_parts;
/* Cuts s[0..n) into matches of re and the gaps between them (roles swapped
 * when invert).  Empty matches are skipped.  -1 on a match error or memory. */
int tok_find_parts(pcre2_match_data *md, const pcre2_code *re, const char *s, size_t n,
                   int invert, tok_parts *ps);
/* The head of a sub-piece starting at `start` of a piece with head `head`. */
size_t tok_sub_head(size_t head, size_t start);

/* Pre-tokenizer scratch: e->a holds the input pieces and, after
 * tok_hf_pre_tokenize, the output pieces. */
typedef struct tok_pretok {
    pcre2_match_data *md;
    tok_pieces a, b;
    tok_buf tmp;
} tok_pretok;
int tok_hf_pre_tokenize(const tokenizer *t, tok_pretok *e);
void tok_pretok_free(tok_pretok *w);

/* tok_hf_encode.c */
rlaif_status tok_hf_encode(const tokenizer *t, const char *text, size_t len, int add_bos,
                           tok_ids *out, char *err, size_t errlen);

/* tok_hf_decode.c */
rlaif_status tok_hf_decode(const tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                           tok_buf *out, char *err, size_t errlen);

/* tokenizer.c: frees everything a tokenizer of either format may hold. */
void tok_free_all(tokenizer *t);

/* Compiles a pattern with UTF + UCP; NULL with a message naming `what` on
 * failure.  Flags: TOK_RE_LITERAL (a plain string), TOK_RE_RUST (\w as Rust's
 * regex crate reads it, for HF's built-in patterns; otherwise as Oniguruma,
 * which runs the patterns written in tokenizer.json). */
#define TOK_RE_LITERAL 1
#define TOK_RE_RUST 2
pcre2_code *tok_regex_compile(const char *pat, size_t len, int flags, const char *what,
                              char *err, size_t errlen);

#endif
