/*
 * ldraw.h — the principle draw of the labelers.  labeler/llm and
 * labeler/http must pick the same principle for the same seeds (so that a
 * model served over HTTP labels like the same model loaded locally), so
 * both draw through these.
 *
 * A request's stream mixes the config seed with the request's own; round 0
 * (compare and score) draws from the stream itself, round r + 1 (revision
 * round r) from the stream mixed with r + 1.
 */
#ifndef LAB_LDRAW_H
#define LAB_LDRAW_H

#include <stddef.h>
#include <stdint.h>

#include "constitution.h"

/* The per-request random stream of config seed `config_seed`. */
uint64_t lab_request_seed(uint64_t config_seed, uint64_t req_seed);

/* The principle drawn for `stream` in `round` among `subset` (NULL: all). */
size_t lab_draw_principle(const lab_constitution *con, const size_t *subset, size_t n_subset,
                          uint64_t stream, uint32_t round);

#endif
