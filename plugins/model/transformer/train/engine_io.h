/*
 * engine_io.h — the training half's view of the engine's model
 * (model.h): checkpoints out in Hugging Face layout, and the AdamW tensor
 * table over its flat parameter buffer.
 */
#ifndef RLAIF_TRAIN_ENGINE_IO_H
#define RLAIF_TRAIN_ENGINE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "adamw.h"
#include "model.h"
#include "rlaif/plugin.h"
#include "st_write.h"

/* Writes every tensor of m->tab (Hugging Face names and shapes, heads
 * included; a tied model has no lm_head.weight, as Hugging Face writes it)
 * to a safetensors file, atomically, as F32 or BF16. */
rlaif_status tf_save_safetensors(const tf_model *m, const char *path, stw_dtype dtype, char *err,
                                 size_t errlen);

/* Writes a Hugging Face config.json for c (llama, qwen2 or gpt2), atomically,
 * that tf_config_parse_hf reads back to the same numbers.  `dtype` is the
 * dtype of the weights saved beside it (its "torch_dtype"). */
rlaif_status tf_save_config(const tf_config *c, stw_dtype dtype, const char *path, char *err,
                            size_t errlen);

/* Fills out[n_tab] with one AdamW tensor per entry of m->tab (decay on
 * matrices) and returns how many; entries with frozen[i] != 0 (frozen may
 * be NULL) are left out, so the optimizer never touches them. */
size_t tf_adamw_tensors(const tf_model *m, const uint8_t *frozen, adamw_tensor *out);

#endif
