/*
 * tokenizer.h — text <-> token ids for the transformer engine.
 *
 * Two formats load:
 *   - a Hugging Face `tokenizer.json` whose model is BPE (GPT-2, Qwen2/3,
 *     Llama-3, SmolLM, Llama-2 style with byte fallback), with its
 *     normalizer, pre-tokenizer, added tokens, post-processor and decoder;
 *   - a llama2.c `tokenizer.bin` (sentencepiece-style BPE by merge score).
 *
 * Conventions:
 *   - Encoding equals the reference tokenizer's ids exactly (Hugging Face
 *     `tokenizers` with add_special_tokens, llama2.c run.c's encode()).
 *   - add_bos: for tokenizer.bin, BOS (id 1) is prepended.  For
 *     tokenizer.json, the special tokens of the post-processor's
 *     TemplateProcessing `single` template are added (what HF does with
 *     add_special_tokens=True), or BOS alone when tokenizer_config.json
 *     beside the file says "add_bos_token": true.  A GPT-2 or Qwen tokenizer
 *     therefore adds nothing even with add_bos set, as in HF (tokenizer_bos
 *     may still name one: GPT-2's config calls <|endoftext|> its BOS).
 *   - Decoding tokenizer.bin follows run.c: `<0xNN>` pieces become the raw
 *     byte, and a piece that follows BOS loses its leading space, so
 *     decode(encode(text, add_bos=1)) == text.  Without a BOS in front the
 *     sentencepiece dummy-prefix space stays (" text"), which keeps decoded
 *     continuations concatenable with their prompt.
 *   - Decoding tokenizer.json runs its decoder chain, then replaces invalid
 *     UTF-8 with U+FFFD as HF does.
 *   - Invalid UTF-8 in text given to a tokenizer.json encoder is read as
 *     U+FFFD per bad byte sequence (HF only ever sees valid strings).
 *
 * tokenizer.json support (anything else is a load error naming the field):
 *   normalizers  NFC, NFD, NFKC, NFKD, Lowercase, Replace (string/regex),
 *                Prepend, Strip, Sequence
 *   pre-tokens   ByteLevel (GPT-2 regex, add_prefix_space), Split (string or
 *                regex; all five behaviours; invert), Metaspace (prepend
 *                always/first/never, split), Digits, Whitespace,
 *                WhitespaceSplit, Punctuation, BertPreTokenizer,
 *                CharDelimiterSplit, Sequence
 *   model        BPE: merges as "a b" or ["a", "b"], byte_fallback,
 *                ignore_merges, unk_token, fuse_unk,
 *                continuing_subword_prefix, end_of_word_suffix
 *   added tokens special or not, normalized or not, single_word, lstrip,
 *                rstrip; leftmost-longest matching before pre-tokenization
 *   post-proc.   TemplateProcessing, RobertaProcessing, BertProcessing,
 *                ByteLevel, Sequence (the special tokens add_bos adds)
 *   decoders     ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace,
 *                BPEDecoder, Sequence
 * Regexes are Oniguruma syntax in HF; they compile with PCRE2 (UTF + UCP)
 * with \w, \W and ^/$ translated to Oniguruma's meaning.  Normalization
 * and lowercase tables are Unicode 14.0.
 *
 * A tokenizer is immutable after loading: encode/decode may run on several
 * threads at once.  Errors name the file and the JSON field at fault.
 */
#ifndef RLAIF_TOKENIZER_H
#define RLAIF_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "rlaif/plugin.h"

typedef struct tokenizer tokenizer;

/* Hugging Face tokenizer.json (BPE model).  Also reads tokenizer_config.json
 * from the same folder when present (bos/eos tokens, add_bos_token).
 * Returns NULL with a message in err on failure. */
tokenizer *tokenizer_load_hf(const char *path, char *err, size_t errlen);

/* llama2.c tokenizer.bin with `vocab_size` entries. */
tokenizer *tokenizer_load_llama2c(const char *path, int32_t vocab_size, char *err, size_t errlen);

void tokenizer_free(tokenizer *t);

/* One more than the largest id (model vocab and added tokens). */
int32_t tokenizer_vocab_size(const tokenizer *t);
int32_t tokenizer_bos(const tokenizer *t);   /* -1 when none */
int32_t tokenizer_eos(const tokenizer *t);   /* -1 when none */

/* Nonzero for BOS/EOS/unk of tokenizer.bin and for tokenizer.json added
 * tokens marked "special". */
int tokenizer_is_special(const tokenizer *t, int32_t id);

/* text -> ids; *out is malloc'ed (caller frees); add_bos prepends BOS when there is one. */
rlaif_status tokenizer_encode(const tokenizer *t, const char *text, size_t len, int add_bos,
                              int32_t **out, size_t *n, char *err, size_t errlen);

/* ids -> UTF-8 text; *out malloc'ed, NUL-terminated; skip_special drops BOS/EOS/added specials
 * (for tokenizer.json exactly those HF's skip_special_tokens drops).  An id outside
 * [0, vocab_size) is RLAIF_E_INVALID.  *len may be NULL. */
rlaif_status tokenizer_decode(const tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                              char **out, size_t *len, char *err, size_t errlen);

/* Writes the tokenizer into `dir` (for checkpoints).  A tokenizer.json is
 * copied as tokenizer.json (+ tokenizer_config.json when it was read).  A
 * llama2.c file is copied under its own base name, and beside it a Hugging
 * Face tokenizer.json, tokenizer_config.json and special_tokens_map.json in
 * Llama-2's layout (BPE with byte fallback, merges ranked by piece score)
 * that encode every text as the file does, so AutoTokenizer reads the
 * folder; see tok_hf_export.c for the texts where the two must differ
 * ("<s>" or U+2581 written in the text).  A vocabulary tokenizer.json cannot
 * hold (a piece that is not UTF-8 or appears twice) gets the copy alone. */
rlaif_status tokenizer_save(const tokenizer *t, const char *dir, char *err, size_t errlen);

#endif
