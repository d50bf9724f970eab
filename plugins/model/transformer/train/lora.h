/*
 * lora.h — low-rank adapters (LoRA) on Linear layers, PEFT-compatible.
 *
 * For a Linear y = x W^T (W[OUT, IN]) an adapter adds
 *     y += s * (x A^T) B^T,   A[R, IN], B[OUT, R],  s = alpha / R
 * (alpha / sqrt(R) with rsLoRA).  Only A and B train; W stays frozen, so
 * the frozen reference policy is the same weights with the adapters
 * switched off.  Merging folds s * B A into W for export; unmerging takes
 * it out again.
 *
 * Names follow PEFT: the module "model.layers.0.self_attn.q_proj" has
 *   base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight
 * in adapter_model.safetensors, and PEFT's in-memory (and gradient) names
 * carry the adapter name: "...lora_A.default.weight".
 */
#ifndef RLAIF_TRAIN_LORA_H
#define RLAIF_TRAIN_LORA_H

#include <stdbool.h>
#include <stddef.h>

/* ---- math ---------------------------------------------------------------- */

/* The scale s: alpha / r, or alpha / sqrt(r) with rslora. */
float lora_scale(float alpha, size_t r, bool rslora);

/* y[N,OUT] += s * (x[N,IN] A^T) B^T, row n of y at y + n*ldy (ldy >= OUT:
 * y may be a column range of a fused output such as the engine's q|k|v or
 * gate|up rows).  xa[N,R] receives x A^T (keep it for the backward). */
void lora_forward(float *y, size_t ldy, float *xa, const float *x, const float *a,
                  const float *b, float s, size_t n, size_t in, size_t out, size_t r);

/* Accumulates (NULL = not wanted), dy rows at dy + n*lddy:
 *   db[OUT,R] += s dy^T xa;   dxa = s dy B   (into scratch[N,R]);
 *   da[R,IN]  += dxa^T x;     dx[N,IN] += dxa A.
 * The frozen W's own contribution to dx is the caller's (linear_backward
 * with dw = NULL). */
void lora_backward(float *dx, float *da, float *db, const float *dy, size_t lddy,
                   const float *x, const float *xa, const float *a, const float *b, float s,
                   float *scratch, size_t n, size_t in, size_t out, size_t r);

/* w[OUT,IN] += sign * s * B A  (sign +1 merges, -1 unmerges). */
void lora_merge(float *w, const float *a, const float *b, float s, float sign, size_t in,
                size_t out, size_t r);

/* ---- names and targets ---------------------------------------------------- */

/* Writes the PEFT tensor name of adapter matrix `which` ('A' or 'B') of
 * `module` into buf; with_adapter_name inserts ".default" (PEFT's in-memory
 * and gradient naming).  Returns 0, or -1 when buf is too small. */
int lora_tensor_name(char *buf, size_t len, const char *module, char which,
                     bool with_adapter_name);

/* PEFT's target rule for a list of names: a module is targeted when its
 * full name equals a target or ends with "." + target. */
bool lora_module_targeted(const char *module, const char *const *targets, size_t n_targets);

/* ---- adapter_config.json --------------------------------------------------- */

#define LORA_MAX_TARGETS 16

typedef struct lora_config {
    size_t r;
    float alpha;
    bool rslora;
    size_t n_targets;
    char targets[LORA_MAX_TARGETS][64];  /* module name suffixes, e.g. "q_proj" */
    char base_model[512];                /* base_model_name_or_path ("" if unknown) */
} lora_config;

/* Parses adapter_config.json text (PEFT LoRA only).  Returns 0, or -1 with
 * err naming the file and key at fault. */
int lora_config_parse(lora_config *cfg, const char *json, const char *path, char *err,
                      size_t errlen);
/* Reads and parses a file. */
int lora_config_read(lora_config *cfg, const char *path, char *err, size_t errlen);
/* Writes adapter_config.json in PEFT layout (atomically).  The written
 * file parses back with lora_config_read and loads in PEFT. */
int lora_config_write(const lora_config *cfg, const char *path, char *err, size_t errlen);

/* ---- adapter_model.safetensors ---------------------------------------------- */

/* One adapted Linear module. */
typedef struct lora_adapter {
    const char *module;  /* e.g. "model.layers.0.self_attn.q_proj" */
    size_t in, out;      /* the base Linear's sides */
    const float *a, *b;  /* A [r, in], B [out, r] */
} lora_adapter;

/* Writes <dir>/adapter_model.safetensors (PEFT names, F32) and
 * <dir>/adapter_config.json, each atomically.  Returns 0 or -1 with err
 * naming the file or module at fault. */
int lora_save_adapter(const char *dir, const lora_config *cfg, const lora_adapter *ads, size_t n,
                      char *err, size_t errlen);

#endif
