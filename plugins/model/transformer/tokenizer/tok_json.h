/*
 * tok_json.h — reading tokenizer.json with errors that name the file and
 * the field: "tokenizer.json: model.merges[17]: expected a string or a pair".
 * Every getter returns 0 on success and -1 after writing such a message.
 */
#ifndef RLAIF_TOK_JSON_H
#define RLAIF_TOK_JSON_H

#include <cjson/cJSON.h>

#include "tok_internal.h"

typedef struct tok_jctx {
    const char *file;           /* as given to the loader */
    char *err;
    size_t errlen;
} tok_jctx;

/* "file: field: message"; returns -1. */
int tok_jfail(tok_jctx *j, const char *field, const char *fmt, ...) TOK_PRINTF(3, 4);

/* Joins "path" and "key" into buf ("key" alone at the top level). */
const char *tok_jpath(char *buf, size_t n, const char *path, const char *key);

/* The member, or NULL when absent or JSON null. */
const cJSON *tok_jmember(const cJSON *obj, const char *key);

/* A string member: *out is NULL when absent/null and not required. */
int tok_jstr(tok_jctx *j, const cJSON *obj, const char *path, const char *key, int required,
             const char **out);
/* A boolean member (def when absent/null). */
int tok_jbool(tok_jctx *j, const cJSON *obj, const char *path, const char *key, int def, int *out);
/* An integer member in [lo, hi] (def when absent/null and not required). */
int tok_jint(tok_jctx *j, const cJSON *obj, const char *path, const char *key, int required,
             long lo, long hi, long def, long *out);
/* The "type" of a component, required. */
int tok_jtype(tok_jctx *j, const cJSON *obj, const char *path, const char **out);

/* tok_hf_components.c: normalizer / pre_tokenizer / decoder / post_processor. */
int tok_parse_normalizer(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path);
int tok_parse_pre_tokenizer(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path);
int tok_parse_decoder(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path);
int tok_parse_post_processor(tokenizer *t, tok_jctx *j, const cJSON *node, const char *path);

/* The id of a token text: an added token first, then the model vocabulary;
 * -1 when neither has it. */
int32_t tok_lookup_any(const tokenizer *t, const char *s, size_t n);

#endif
