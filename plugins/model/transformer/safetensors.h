/*
 * safetensors.h — reading Hugging Face safetensors files (single or sharded).
 *
 * The format: an 8-byte little-endian header length N, N bytes of JSON
 * mapping tensor names to {dtype, shape, data_offsets: [begin, end]}
 * (offsets relative to the byte after the header), then the raw data.
 *
 * Files are mmap'ed read-only; tensors are converted to f32 on request
 * (F32 is a plain copy out of the mapping, F16 and BF16 are widened).  Every
 * malformed input is an error naming the file and, where it applies, the
 * tensor; nothing here trusts the file.
 *
 * Lifetimes: names and shapes live as long as the st_file / st_set.
 */
#ifndef TF_SAFETENSORS_H
#define TF_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "rlaif/plugin.h"

#define ST_MAX_DIMS 8

typedef enum st_dtype { ST_F32 = 0, ST_F16 = 1, ST_BF16 = 2, ST_I32 = 3, ST_I64 = 4 } st_dtype;

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t begin, end;   /* byte range inside the data section */
    int used;            /* set by st_set_read: lets the loader list unexpected tensors */
} st_tensor;

typedef struct st_file {
    char *path;
    const uint8_t *map;  /* the whole file, read-only */
    size_t size;
    size_t data_off;     /* 8 + header length */
    st_tensor *t;
    size_t n;
} st_file;

/* Opens and validates one file (header JSON, dtypes, shapes, offsets
 * inside the file, byte counts matching shapes). */
rlaif_status st_open(st_file *f, const char *path, char *err, size_t errlen);
/* Parses a header from memory (the fuzz target and st_open share it);
 * `buf` is the whole file, `size` its length; f->map is not set. */
rlaif_status st_parse(st_file *f, const char *path, const uint8_t *buf, size_t size, char *err,
                      size_t errlen);
void st_close(st_file *f);

st_tensor *st_find(const st_file *f, const char *name);
const char *st_dtype_name(st_dtype d);
size_t st_dtype_size(st_dtype d);

/* Converts tensor `t` of file `f` into `dst` (numel floats).  I32/I64 are
 * converted too (test data). */
void st_to_f32(const st_file *f, const st_tensor *t, float *dst);

/* A model's weights: one file or the shards named by an index. */
typedef struct st_set {
    st_file *files;
    size_t n_files;
} st_set;

/* Opens `dir`/model.safetensors.index.json (and every shard it names) or
 * else `dir`/model.safetensors. */
rlaif_status st_set_open_dir(st_set *s, const char *dir, char *err, size_t errlen);
/* Opens a single file as a set. */
rlaif_status st_set_open_file(st_set *s, const char *path, char *err, size_t errlen);
void st_set_close(st_set *s);

/* Finds `name` in any file (NULL if absent); *file receives its file. */
st_tensor *st_set_find(const st_set *s, const char *name, const st_file **file);

/* Reads tensor `name` into dst after checking that its shape is exactly
 * `shape[0..ndim-1]`.  Marks it used.  Errors: missing tensor, wrong shape. */
rlaif_status st_set_read(const st_set *s, const char *name, int ndim, const size_t *shape,
                         float *dst, char *err, size_t errlen);

/* RLAIF_E_FORMAT naming the first tensor never read (an unexpected tensor),
 * skipping names for which `ignore(name)` returns nonzero (may be NULL). */
rlaif_status st_set_check_all_used(const st_set *s, int (*ignore)(const char *name), char *err,
                                   size_t errlen);

#endif
