/*
 * train_state.h — the training-state file that makes a resumed run exact:
 * optimizer step, AdamW moments, the learning-rate schedule, RNG state and
 * an opaque blob of the caller's (data cursor, host RNG, ...).
 *
 * File layout (little-endian):
 *   "RLAIFTS\0"  magic, 8 bytes
 *   u32 version (TRAIN_STATE_VERSION), u32 number of sections
 *   u64 payload bytes, u64 checksum of the payload
 *   payload: sections, each
 *     char tag[8] (NUL padded), u64 length, `length` bytes, zero padding
 *     to a multiple of 8
 * The checksum is FNV-1a over the payload's 64-bit words.  Readers skip
 * sections they do not know, so new ones can be added without a version
 * bump; a change to an existing section bumps the version.  The file is
 * written atomically (atomic_file.h).
 */
#ifndef RLAIF_TRAIN_STATE_H
#define RLAIF_TRAIN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "adamw.h"

#define TRAIN_STATE_VERSION 1u

typedef struct train_state {
    uint64_t step;          /* optimizer steps taken */
    uint64_t rng[4];        /* the engine's sampling/dropout RNG state */
    lr_schedule schedule;
    size_t n_moments;       /* elements in m and v (0: the optimizer never stepped) */
    float *m, *v;           /* [n_moments] */
    unsigned char *extra;   /* caller's opaque bytes (may be NULL) */
    size_t extra_len;
} train_state;

/* Writes s to path atomically.  Returns 0 or -1 with err naming the file. */
int train_state_write(const char *path, const train_state *s, char *err, size_t errlen);

/* Reads path into *s, allocating m, v and extra (free with
 * train_state_free).  Returns 0, or -1 with a message that says which
 * check failed: not a training-state file (magic), another version,
 * truncated, checksum mismatch, a missing or malformed section. */
int train_state_read(const char *path, train_state *s, char *err, size_t errlen);
void train_state_free(train_state *s);

#endif
