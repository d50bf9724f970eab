/*
 * hf_config.c — Hugging Face config.json -> tf_config, and loading a
 * Hugging Face folder's weights into the parameter layout.
 *
 * Architectures: llama and mistral (RMSNorm, RoPE, SwiGLU, GQA; mistral's
 * sliding window is not applied, so sequences must stay within it), qwen2
 * (llama plus q/k/v biases), gpt2 (learned positions, LayerNorm, tanh GELU,
 * Conv1D weights).  Anything else is RLAIF_E_UNSUPPORTED naming the type.
 */
#include "model.h"
#include "safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* ===== config.json ====================================================== */

typedef struct cfg_reader {
    const cJSON *root;
    const char *path;
    char *err;
    size_t errlen;
    rlaif_status st;
} cfg_reader;

static const cJSON *get(cfg_reader *r, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->root, key);
    return cJSON_IsNull(it) ? NULL : it;
}

/* An integer key; `def` < 0 with the key absent is an error. */
static int get_int(cfg_reader *r, const char *key, int def)
{
    if (r->st) return def;
    const cJSON *it = get(r, key);
    if (!it) {
        if (def < 0)
            r->st = rlaif_errorf(r->err, r->errlen, RLAIF_E_FORMAT, "%s: missing key '%s'",
                                 r->path, key);
        return def;
    }
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
        it->valuedouble < 0 || it->valuedouble > 1e9) {
        r->st = rlaif_errorf(r->err, r->errlen, RLAIF_E_FORMAT,
                             "%s: key '%s' must be a non-negative integer", r->path, key);
        return def;
    }
    return (int)it->valuedouble;
}

static double get_num(cfg_reader *r, const cJSON *obj, const char *key, double def)
{
    if (r->st) return def;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return def;
    if (!cJSON_IsNumber(it)) {
        r->st = rlaif_errorf(r->err, r->errlen, RLAIF_E_FORMAT, "%s: key '%s' must be a number",
                             r->path, key);
        return def;
    }
    return it->valuedouble;
}

static int get_bool(cfg_reader *r, const char *key, int def)
{
    if (r->st) return def;
    const cJSON *it = get(r, key);
    if (!it) return def;
    if (!cJSON_IsBool(it)) {
        r->st = rlaif_errorf(r->err, r->errlen, RLAIF_E_FORMAT, "%s: key '%s' must be true/false",
                             r->path, key);
        return def;
    }
    return cJSON_IsTrue(it);
}

/* bos/eos may be an integer, a list (first entry) or null. */
static int get_token_id(cfg_reader *r, const char *key)
{
    const cJSON *it = get(r, key);
    if (cJSON_IsArray(it)) it = cJSON_GetArrayItem(it, 0);
    if (cJSON_IsNumber(it) && it->valuedouble >= 0) return (int)it->valuedouble;
    return -1;
}

static const char *get_str(cfg_reader *r, const char *key)
{
    const cJSON *it = get(r, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Only plain RoPE is implemented; scaled variants would silently differ. */
static void check_rope_type(cfg_reader *r, const cJSON *obj)
{
    if (r->st || !cJSON_IsObject(obj)) return;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "rope_type");
    if (!t) t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (cJSON_IsString(t) && strcmp(t->valuestring, "default") != 0)
        r->st = rlaif_errorf(r->err, r->errlen, RLAIF_E_UNSUPPORTED,
                             "%s: unsupported RoPE scaling type '%s' (only default RoPE)",
                             r->path, t->valuestring);
}

static void parse_llama(cfg_reader *r, tf_config *c)
{
    c->dim = get_int(r, "hidden_size", -1);
    c->hidden_dim = get_int(r, "intermediate_size", -1);
    c->n_layers = get_int(r, "num_hidden_layers", -1);
    c->n_heads = get_int(r, "num_attention_heads", -1);
    c->n_kv_heads = get_int(r, "num_key_value_heads", c->n_heads);
    c->head_dim = get_int(r, "head_dim", c->n_heads > 0 ? c->dim / c->n_heads : 0);
    c->vocab_size = get_int(r, "vocab_size", -1);
    c->max_seq_len = get_int(r, "max_position_embeddings", 2048);
    c->norm_eps = (float)get_num(r, r->root, "rms_norm_eps", 1e-6);
    const cJSON *rp = get(r, "rope_parameters");
    double theta = get_num(r, r->root, "rope_theta", 10000.0);
    if (cJSON_IsObject(rp)) theta = get_num(r, rp, "rope_theta", theta);
    c->rope_theta = (float)theta;
    check_rope_type(r, rp);
    check_rope_type(r, get(r, "rope_scaling"));
    c->tied = get_bool(r, "tie_word_embeddings", 0);
    int attn_bias = get_bool(r, "attention_bias", 0);
    if (c->arch == TF_QWEN2) {
        c->qkv_bias = 1;
    } else {
        c->qkv_bias = attn_bias;
        c->o_bias = attn_bias;
    }
    if (!r->st && get_bool(r, "mlp_bias", 0))
        r->st = rlaif_errorf(r->err, r->errlen, RLAIF_E_UNSUPPORTED,
                             "%s: mlp_bias true is not supported", r->path);
    const char *act = get_str(r, "hidden_act");
    if (!r->st && act && strcmp(act, "silu") != 0)
        r->st = rlaif_errorf(r->err, r->errlen, RLAIF_E_UNSUPPORTED,
                             "%s: hidden_act '%s' is not supported (silu)", r->path, act);
}

static void parse_gpt2(cfg_reader *r, tf_config *c)
{
    c->dim = get_int(r, "n_embd", -1);
    c->n_layers = get_int(r, "n_layer", -1);
    c->n_heads = get_int(r, "n_head", -1);
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    c->hidden_dim = get_int(r, "n_inner", 4 * c->dim);
    c->vocab_size = get_int(r, "vocab_size", -1);
    c->max_seq_len = get_int(r, "n_positions", 1024);
    c->norm_eps = (float)get_num(r, r->root, "layer_norm_epsilon", 1e-5);
    c->tied = get_bool(r, "tie_word_embeddings", 1);
    c->qkv_bias = 1;
    c->o_bias = 1;
    const char *act = get_str(r, "activation_function");
    if (!r->st && act && strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh"))
        r->st = rlaif_errorf(r->err, r->errlen, RLAIF_E_UNSUPPORTED,
                             "%s: activation_function '%s' is not supported (gelu_new)", r->path,
                             act);
    if (!r->st && get_bool(r, "scale_attn_by_inverse_layer_idx", 0))
        r->st = rlaif_errorf(r->err, r->errlen, RLAIF_E_UNSUPPORTED,
                             "%s: scale_attn_by_inverse_layer_idx is not supported", r->path);
}

rlaif_status tf_config_parse_hf(const char *json, size_t len, const char *path, tf_config *cfg,
                                char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "%s: invalid JSON (not an object)",
                            path);
    }
    cfg_reader r = {root, path, err, errlen, RLAIF_OK};
    const char *type = get_str(&r, "model_type");
    if (!type) {
        const cJSON *a = cJSON_GetArrayItem(get(&r, "architectures"), 0);
        type = cJSON_IsString(a) ? a->valuestring : "(none)";
    }
    if (!strcmp(type, "llama") || !strcmp(type, "mistral") || !strcmp(type, "LlamaForCausalLM") ||
        !strcmp(type, "MistralForCausalLM")) {
        cfg->arch = TF_LLAMA;
        parse_llama(&r, cfg);
    } else if (!strcmp(type, "qwen2") || !strcmp(type, "Qwen2ForCausalLM")) {
        cfg->arch = TF_QWEN2;
        parse_llama(&r, cfg);
    } else if (!strcmp(type, "gpt2") || !strcmp(type, "GPT2LMHeadModel")) {
        cfg->arch = TF_GPT2;
        parse_gpt2(&r, cfg);
    } else {
        r.st = rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            "%s: unsupported architecture '%s' (llama, mistral, qwen2, gpt2)",
                            path, type);
    }
    cfg->bos_id = get_token_id(&r, "bos_token_id");
    cfg->eos_id = get_token_id(&r, "eos_token_id");
    cfg->pad_id = get_token_id(&r, "pad_token_id");
    cJSON_Delete(root);
    return r.st;
}

/* ===== Loading a folder ================================================= */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long n = ftell(f);
    if (n < 0 || n > (1L << 26)) {
        fclose(f);
        return NULL;
    }
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

/* Tensors a checkpoint may carry that are not parameters (value and score
 * heads are read only when the caller asks for them: a policy saved with
 * its PPO value head still loads as a plain LM). */
static int ignorable(const char *name)
{
    if (!strncmp(name, "v_head.", 7) || !strcmp(name, "score.weight")) return 1;
    size_t n = strlen(name);
    static const char *const suffixes[] = {".rotary_emb.inv_freq", ".attn.bias",
                                           ".attn.masked_bias", "lm_head.weight"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t k = strlen(suffixes[i]);
        if (n >= k && strcmp(name + n - k, suffixes[i]) == 0) return 1;
    }
    return 0;
}

static int ignorable_untied(const char *name)
{
    return strcmp(name, "lm_head.weight") != 0 && ignorable(name);
}

/* Original GPT-2 checkpoints name tensors without the "transformer." prefix. */
static const char *file_name_of(const st_set *s, const tf_config *c, const char *name)
{
    static const char pre[] = "transformer.";
    if (c->arch == TF_GPT2 && strncmp(name, pre, sizeof pre - 1) == 0 &&
        !st_set_find(s, name, NULL) && st_set_find(s, name + sizeof pre - 1, NULL))
        return name + sizeof pre - 1;
    return name;
}

rlaif_status tf_model_load_hf(const char *dir, int value_head, int score_head, uint64_t seed,
                              tf_model **out, char *err, size_t errlen)
{
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    size_t len = 0;
    char *text = slurp(path, &len);
    if (!text) return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: cannot read", path);
    tf_config cfg;
    rlaif_status st = tf_config_parse_hf(text, len, path, &cfg, err, errlen);
    free(text);
    if (st) return st;
    cfg.value_head = value_head;
    cfg.score_head = score_head;
    st_set set;
    st = st_set_open_dir(&set, dir, err, errlen);
    if (st) return st;
    /* Every tensor the config implies must be in the files with its shape
     * before memory is committed to them (a config promising a huge model
     * next to a small file is an error, not an allocation). */
    tf_model *plan = NULL;
    st = tf_model_table(&cfg, &plan, err, errlen);
    for (size_t i = 0; !st && i < plan->n_tab; i++) {
        const tf_param *p = &plan->tab[i];
        if (!strncmp(p->name, "v_head.", 7) || !strcmp(p->name, "score.weight")) continue;
        const char *fname = file_name_of(&set, &cfg, p->name);
        const st_file *f = NULL;
        const st_tensor *t = st_set_find(&set, fname, &f);
        if (!t) {
            st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT, "%s: missing tensor '%s'",
                              set.n_files ? set.files[0].path : dir, fname);
            break;
        }
        int ok = t->ndim == p->ndim;
        for (int d = 0; ok && d < p->ndim; d++) ok = (size_t)t->shape[d] == p->shape[d];
        if (!ok) /* st_set_read words the shape message */
            st = st_set_read(&set, fname, p->ndim, p->shape, NULL, err, errlen);
    }
    tf_model_free(plan);
    if (st) {
        st_set_close(&set);
        return st;
    }
    tf_model *m = NULL;
    st = tf_model_create(&cfg, &m, err, errlen);
    int init_value = 0, init_score = 0;
    for (size_t i = 0; !st && i < m->n_tab; i++) {
        const tf_param *p = &m->tab[i];
        int is_value = !strncmp(p->name, "v_head.", 7), is_score = !strcmp(p->name, "score.weight");
        if ((is_value || is_score) && !st_set_find(&set, p->name, NULL)) {
            init_value |= is_value;
            init_score |= is_score;
            continue;
        }
        st = st_set_read(&set, file_name_of(&set, &cfg, p->name), p->ndim, p->shape,
                         m->params + p->offset, err, errlen);
    }
    if (!st) st = st_set_check_all_used(&set, cfg.tied ? ignorable : ignorable_untied, err, errlen);
    st_set_close(&set);
    if (st) {
        tf_model_free(m);
        return st;
    }
    tf_model_init_heads(m, seed, init_value, init_score);
    *out = m;
    return RLAIF_OK;
}
