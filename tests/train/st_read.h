/*
 * st_read.h — a small safetensors reader for the train tests (the engine's
 * loader is separate).  Reads the whole file, parses the header with cJSON
 * and hands out converted copies of tensors.
 */
#ifndef RLAIF_TEST_ST_READ_H
#define RLAIF_TEST_ST_READ_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

typedef struct rd_file {
    unsigned char *buf; /* the whole file */
    size_t size;
    size_t header_len;  /* bytes of header JSON (after the 8-byte length) */
    cJSON *header;
} rd_file;

/* Returns 0, or -1 with err saying what is wrong (truncated, bad JSON,
 * offsets beyond the file). */
int rd_open(rd_file *f, const char *path, char *err, size_t errlen);
void rd_close(rd_file *f);

/* Tensor lookup: dtype string ("F32", "BF16", "I32", ...), shape and the
 * raw bytes.  Returns 0 if found. */
int rd_info(const rd_file *f, const char *name, const char **dtype, size_t *ndim,
            size_t shape[8], const unsigned char **bytes, size_t *nbytes);
/* A malloc'd fp32 copy (from F32 or BF16); NULL if missing or another
 * dtype.  *numel receives the element count when numel is not NULL. */
float *rd_get_f32(const rd_file *f, const char *name, size_t *numel);
/* A malloc'd copy of an I32 tensor. */
int32_t *rd_get_i32(const rd_file *f, const char *name, size_t *numel);

/* Path "$RLAIF_SHARED_DIR/golden/<sub>" (default /work/shared) into buf. */
const char *rd_golden_path(char *buf, size_t len, const char *sub);

#endif
