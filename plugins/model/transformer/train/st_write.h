/*
 * st_write.h — write named fp32 tensors as a safetensors file.
 *
 * Layout written: u64 little-endian header length, the header JSON padded
 * with spaces to a multiple of 8 bytes, then the tensor bytes back to back.
 * The header maps each name to {"dtype", "shape", "data_offsets"} (offsets
 * relative to the end of the header) and carries
 * "__metadata__": {"format": "pt"} as PyTorch's writer does.  Tensors are
 * stored F32 as given, or rounded to BF16 (round to nearest even).  F32
 * tensors are placed before BF16 ones so every tensor stays aligned to its
 * element size; the order is otherwise the caller's.  The file is written
 * atomically (atomic_file.h).
 */
#ifndef RLAIF_TRAIN_ST_WRITE_H
#define RLAIF_TRAIN_ST_WRITE_H

#include <stddef.h>
#include <stdint.h>

#define STW_MAX_DIMS 8

typedef enum stw_dtype {
    STW_F32 = 0,
    STW_BF16 = 1,
} stw_dtype;

typedef struct stw_tensor {
    const char *name;   /* unique, non-empty */
    const float *data;  /* fp32 in memory, numel = product of shape */
    size_t ndim;        /* 0 (a scalar) .. STW_MAX_DIMS */
    size_t shape[STW_MAX_DIMS];
    stw_dtype dtype;     /* how it is stored in the file */
    /* Optional: the data made on demand instead of read from `data` (then
     * unused): fill(fill_ctx, out, first, n) writes elements [first,
     * first+n) of the tensor to out.  For a derived tensor (a merged LoRA
     * matrix) that should not be held in memory whole. */
    void (*fill)(void *fill_ctx, float *out, size_t first, size_t n);
    void *fill_ctx;
} stw_tensor;

/* Writes n tensors to path.  Returns 0, or -1 with err naming the file or
 * the tensor at fault (empty or duplicate name, too many dims, NULL data). */
int stw_write(const char *path, const stw_tensor *tensors, size_t n, char *err, size_t errlen);

/* fp32 -> bf16, round to nearest even, NaN kept a (quiet) NaN. */
uint16_t stw_f32_to_bf16(float f);
float stw_bf16_to_f32(uint16_t h);

#endif
