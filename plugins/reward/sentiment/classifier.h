/*
 * classifier.h — the optional model-based sentiment classifier: a model
 * instance with a score head (e.g. a reward model trained on sentiment
 * labels), read through the model vtable.  reward = tanh(scale * score).
 */
#ifndef RLAIF_SENTIMENT_CLASSIFIER_H
#define RLAIF_SENTIMENT_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "rlaif/plugin.h"

typedef struct sent_classifier {
    const rlaif_host *host;
    uint64_t handle;         /* 0 when no model was configured */
    rlaif_ref ref;
    const rlaif_model_vtable *vt;
    int32_t max_len;         /* the model's max_seq_len */
    size_t batch;            /* texts per forward (0: 32) */
    /* buffers reused across calls (grown, never shrunk) */
    int32_t *ids;            /* flat token ids of the batch */
    size_t ids_cap;
    size_t *off, *len;       /* [batch] */
    const int32_t **ptrs;    /* [batch] */
    size_t batch_cap;
} sent_classifier;

/* Acquires model instance `handle` and checks it has a score head and a
 * forward.  On failure nothing is held. */
rlaif_status sent_classifier_open(sent_classifier *c, const rlaif_host *host, uint64_t handle,
                                  char *err, size_t errlen);

/* Releases the model and frees the buffers.  Safe on a zeroed struct. */
void sent_classifier_close(sent_classifier *c);

/* Raw score-head outputs for `n` texts into out[n], `batch` texts per
 * forward; polls host->cancelled between forwards. */
rlaif_status sent_classifier_score(sent_classifier *c, size_t n, const char *const *texts,
                                   float *out, char *err, size_t errlen);

#endif
