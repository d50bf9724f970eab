/*
 * plugin_train.h — the training half of the transformer model plugin:
 * backward, step, zero_grad, save, load_state and reference views, wired
 * over the engine (forward.h) and the training library (train/).
 *
 * plugin.c calls these from create/destroy/info; the vtable entries
 * backward .. reference point straight at the tf_plugin_* functions.
 * See plugin_train.c for the config keys and the semantics of each call.
 */
#ifndef TF_PLUGIN_TRAIN_H
#define TF_PLUGIN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "instance.h"
#include "pconfig.h"
#include "rlaif/plugin.h"

/* The create() config keys read here (for plugin.c's known-keys list). */
#define TF_TRAIN_CONFIG_KEYS "lora", "adapter", "trainable", "freeze", "save_dtype"

/* What those keys said, copied out of the config tree. */
typedef struct tf_train_config tf_train_config;

/* Reads the training keys from `c` (errors go through pconfig_fail and
 * name the key).  Never NULL unless out of memory (then c fails too). */
tf_train_config *tf_train_config_parse(pconfig *c);
void tf_train_config_free(tf_train_config *tc);

/* Sets up the training state of a freshly loaded instance (LoRA adapters,
 * the frozen mask, optimizer tables).  Errors name the config key.
 * `tc` may be NULL (defaults). */
rlaif_status tf_train_init(tf_instance *in, const tf_train_config *tc, char *err, size_t errlen);

/* For info(): trainable parameter count (0 for a view), LoRA active. */
size_t tf_train_n_trainable(const tf_instance *in);
int tf_train_has_lora(const tf_instance *in);
/* Parameters of the LoRA adapters (0 without LoRA): part of info's n_params. */
size_t tf_train_n_adapter_params(const tf_instance *in);

/* The vtable members beside those declared in instance.h (backward, step,
 * zero_grad, save; contracts in rlaif/plugin.h). */
rlaif_status tf_plugin_load_state(void *self, const char *dir, char *err, size_t errlen);
rlaif_status tf_plugin_reference(void *self, void **out_view, char *err, size_t errlen);

#endif
