/*
 * tok_test_util.h — helpers shared by the tokenizer tests: locating data,
 * reading files, exact JSON strings (texts may hold U+0000, which cJSON's
 * C strings cannot carry) and comparing id arrays with useful messages.
 */
#ifndef TOK_TEST_UTIL_H
#define TOK_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* "$RLAIF_SOURCE_DIR/tests/tokenizer/data/<rel>" (or the shared dir for
 * tt_shared_path); malloc'ed. */
char *tt_data_path(const char *rel);
char *tt_shared_path(const char *rel);

/* Whole file, NUL-terminated; NULL when it cannot be read. */
char *tt_read(const char *path, size_t *len);

/* Parses a JSON file; aborts the test (ck_abort) on failure. */
cJSON *tt_json(const char *path);

/* Decodes a hex string into malloc'ed bytes. */
char *tt_unhex(const char *hex, size_t *len);

/* The strings of the top-level array member `key` of a JSON text, decoded
 * exactly (\u0000 included): *n strings with their lengths. */
char **tt_json_strings(const char *json, const char *key, size_t **lens, size_t *n);
void tt_free_strings(char **s, size_t *lens, size_t n);

/* Ids of a JSON array; *n set. */
int32_t *tt_ids(const cJSON *arr, size_t *n);

/* Formats ids for a failure message (static buffer). */
const char *tt_fmt_ids(const int32_t *ids, size_t n);

#endif
