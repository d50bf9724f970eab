/*
 * reward_util.h — helpers shared by the reward tests and the benchmark:
 * creating a reward instance through the core API and scoring texts.
 */
#ifndef RLAIF_TEST_REWARD_UTIL_H
#define RLAIF_TEST_REWARD_UTIL_H

#include <stddef.h>

#include "core.h"

typedef struct test_reward {
    rlc_instance *in;
    const rlaif_reward_vtable *vt;
    void *self;
} test_reward;

/* Creates reward `name` with `config`; returns the status and leaves the
 * message in err.  rlc_init() must have run. */
rlaif_status test_reward_open(test_reward *r, const char *name, const char *config, char *err,
                              size_t errlen);
void test_reward_close(test_reward *r);

/* Scores n responses (empty prompts); metrics may be NULL, details may be
 * NULL. */
rlaif_status test_reward_score(test_reward *r, size_t n, const char *const *responses,
                               float *rewards, float *metrics, const char **details, char *err,
                               size_t errlen);

/* The index of metric `name`, or -1. */
int test_reward_metric(test_reward *r, const char *name, size_t *n_metrics);

/* $RLAIF_SOURCE_DIR/tests/reward/data/<file> (or the compiled-in source
 * dir) into buf. */
const char *test_data_path(const char *file, char *buf, size_t len);

/* Reads a whole file (malloc'ed, NUL-terminated) or NULL. */
char *test_read_file(const char *path, size_t *len);

#endif
