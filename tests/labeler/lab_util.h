/*
 * lab_util.h — helpers of the labeler tests: creating a model and a
 * labeler/llm on it through the core API, and calling the labeler.
 */
#ifndef LAB_TEST_UTIL_H
#define LAB_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

typedef struct lab_fixture {
    rlc_instance *model;
    rlc_instance *labeler;
    const rlaif_model_vtable *mv;
    const rlaif_labeler_vtable *lv;
    void *mself, *lself;
} lab_fixture;

/* Creates a model of plugin `model_plugin` from `model_config` (asserts). */
rlc_instance *lt_model(const char *model_plugin, const char *model_config);

/* Creates labeler/llm on `model` with extra config keys `extra` (JSON
 * members without braces, e.g. "\"constitution\": \"helpful\""); returns
 * NULL and fills err when create fails. */
rlc_instance *lt_labeler(rlc_instance *model, const char *extra, char *err, size_t errlen);

/* Both of the above, asserting success. */
void lt_fixture(lab_fixture *f, const char *model_plugin, const char *model_config,
                const char *extra);
void lt_fixture_free(lab_fixture *f);

/* One comparison (asserts success). */
rlaif_compare_result lt_compare(const lab_fixture *f, const char *prompt, const char *a,
                                const char *b, uint64_t seed);

/* A named statistic of the labeler (asserts it exists). */
double lt_stat(const lab_fixture *f, const char *name);

/* A path under $RLAIF_SOURCE_DIR (static buffer). */
const char *lt_source_path(const char *rel);

#endif
