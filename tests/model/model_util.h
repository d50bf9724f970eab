/*
 * model_util.h — helpers shared by the model tests: paths, golden tensors,
 * plugin instances.
 */
#ifndef MODEL_UTIL_H
#define MODEL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "safetensors.h"

/* $RLAIF_SHARED_DIR or ../shared next to the source tree. */
const char *mu_shared_dir(void);
/* Path under the shared dir (static buffer per call slot: copy it). */
char *mu_shared_path(const char *rel);

/* A tensor of an opened safetensors file as a malloc'ed f32 array. */
float *mu_tensor(const st_file *f, const char *name, size_t *numel);

/* Creates a transformer instance from config JSON (fails the test on error). */
rlc_instance *mu_model(const char *config_json);
/* The same, returning NULL and the message instead. */
rlc_instance *mu_model_try(const char *config_json, char *err, size_t errlen);
const rlaif_model_vtable *mu_vt(rlc_instance *in);

/* A temporary directory (mkdtemp under $TMPDIR or /tmp); malloc'ed path. */
char *mu_tempdir(void);
void mu_rmtree(const char *dir);

/* Writes a safetensors file of F32 tensors: names[i] with ndim[i] dims
 * shapes[i][..] and data[i]. */
void mu_write_safetensors(const char *path, size_t n, const char *const *names, const int *ndim,
                          const size_t (*shapes)[2], const float *const *data);

#endif
