/*
 * engine_io.c — safetensors + config.json out of the engine's model, and
 * its AdamW tensor table.
 */
#include "engine_io.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"

rlaif_status tf_save_safetensors(const tf_model *m, const char *path, stw_dtype dtype, char *err,
                                 size_t errlen)
{
    stw_tensor *t = calloc(m->n_tab ? m->n_tab : 1, sizeof *t);
    if (!t) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < m->n_tab; i++) {
        const tf_param *p = &m->tab[i];
        t[i].name = p->name;
        t[i].data = m->params + p->offset;
        t[i].ndim = (size_t)p->ndim;
        t[i].shape[0] = p->shape[0];
        t[i].shape[1] = p->shape[1];
        t[i].dtype = dtype;
    }
    int rc = stw_write(path, t, m->n_tab, err, errlen);
    free(t);
    return rc ? RLAIF_E_IO : RLAIF_OK;
}

/* The shortest decimal that reads back as the same float (1e-05, not
 * 9.99999974737875e-06), as raw JSON. */
static void add_float(cJSON *o, const char *key, float v)
{
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    cJSON_AddRawToObject(o, key, buf);
}

static void add_token_id(cJSON *o, const char *key, int id)
{
    if (id >= 0)
        cJSON_AddNumberToObject(o, key, id);
    else
        cJSON_AddNullToObject(o, key);
}

static void llama_keys(cJSON *o, const tf_config *c)
{
    int qwen = c->arch == TF_QWEN2;
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString(qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"));
    cJSON_AddStringToObject(o, "model_type", qwen ? "qwen2" : "llama");
    cJSON_AddNumberToObject(o, "hidden_size", c->dim);
    cJSON_AddNumberToObject(o, "intermediate_size", c->hidden_dim);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->max_seq_len);
    add_float(o, "rms_norm_eps", c->norm_eps);
    add_float(o, "rope_theta", c->rope_theta);
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    if (!qwen) cJSON_AddBoolToObject(o, "attention_bias", c->qkv_bias);
    cJSON_AddFalseToObject(o, "mlp_bias");
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tied);
}

static void gpt2_keys(cJSON *o, const tf_config *c)
{
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("GPT2LMHeadModel"));
    cJSON_AddStringToObject(o, "model_type", "gpt2");
    cJSON_AddNumberToObject(o, "n_embd", c->dim);
    cJSON_AddNumberToObject(o, "n_layer", c->n_layers);
    cJSON_AddNumberToObject(o, "n_head", c->n_heads);
    if (c->hidden_dim == 4 * c->dim)
        cJSON_AddNullToObject(o, "n_inner");
    else
        cJSON_AddNumberToObject(o, "n_inner", c->hidden_dim);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "n_positions", c->max_seq_len);
    add_float(o, "layer_norm_epsilon", c->norm_eps);
    cJSON_AddStringToObject(o, "activation_function", "gelu_new");
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tied);
}

rlaif_status tf_save_config(const tf_config *c, stw_dtype dtype, const char *path, char *err,
                            size_t errlen)
{
    if (c->arch == TF_LLAMA && c->qkv_bias != c->o_bias)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "%s: a llama config has q/k/v and o biases together or not at all",
                            path);
    if (c->rope_interleaved)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "%s: interleaved RoPE weights have no Hugging Face config", path);
    cJSON *o = cJSON_CreateObject();
    if (c->arch == TF_GPT2)
        gpt2_keys(o, c);
    else
        llama_keys(o, c);
    add_token_id(o, "bos_token_id", c->bos_id);
    add_token_id(o, "eos_token_id", c->eos_id);
    add_token_id(o, "pad_token_id", c->pad_id);
    cJSON_AddStringToObject(o, "torch_dtype", dtype == STW_BF16 ? "bfloat16" : "float32");
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "%s: out of memory", path);
    int rc = atomic_write_file(path, text, strlen(text), err, errlen);
    cJSON_free(text);
    return rc ? RLAIF_E_IO : RLAIF_OK;
}

size_t tf_adamw_tensors(const tf_model *m, const uint8_t *frozen, adamw_tensor *out)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n_tab; i++) {
        if (frozen && frozen[i]) continue;
        const tf_param *p = &m->tab[i];
        out[k++] = (adamw_tensor){.name = p->name, .offset = p->offset, .numel = p->numel,
                                  .decay = p->is_matrix != 0};
    }
    return k;
}
