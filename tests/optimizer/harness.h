/*
 * harness.h — helpers shared by the optimizer tests: plugin instances
 * through the core API, and growable batches of token sequences.
 */
#ifndef RLAIF_TEST_OPT_HARNESS_H
#define RLAIF_TEST_OPT_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "rlaif/plugin.h"

/* Creates an instance of plugin kind/name with config; fails the test
 * (ck_abort) with the core's message when anything goes wrong. */
rlc_instance *th_create(rlaif_kind kind, const char *name, const char *config);

/* The model vtable / self of an instance. */
const rlaif_model_vtable *th_mvt(rlc_instance *in);
const rlaif_optimizer_vtable *th_ovt(rlc_instance *in);

/* A frozen reference view of a model instance, adopted by the core. */
rlc_instance *th_reference(rlc_instance *model);

/* A batch of sequences that owns its memory. */
typedef struct th_batch {
    size_t n, cap;
    int32_t **ids;
    size_t *len;
    size_t *prompt_len;
    rlaif_seqs seqs;  /* refreshed by th_batch_seqs */
} th_batch;

void th_batch_init(th_batch *b);
void th_batch_free(th_batch *b);
void th_batch_clear(th_batch *b);
/* Appends BOS + prompt bytes (prompt_len marks them) + response ids. */
void th_batch_add(th_batch *b, const char *prompt, const int32_t *resp, size_t n_resp);
/* Appends BOS + prompt bytes + response bytes. */
void th_batch_add_text(th_batch *b, const char *prompt, const char *response);
const rlaif_seqs *th_batch_seqs(th_batch *b);
size_t th_batch_total(const th_batch *b);

/* Stats lookup by name: fails the test when absent. */
double th_stat(const rlaif_opt_result *r, const char *name);
int th_has_stat(const rlaif_opt_result *r, const char *name);

#endif
