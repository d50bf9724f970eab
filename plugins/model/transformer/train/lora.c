/*
 * lora.c — LoRA forward/backward/merge and PEFT naming and config.
 */
#include "lora.h"

#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "st_write.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ======================================================================
 * Math: two thin matmuls each way, through sgemm.
 * ==================================================================== */

float lora_scale(float alpha, size_t r, bool rslora)
{
    return rslora ? alpha / sqrtf((float)r) : alpha / (float)r;
}

void lora_forward(float *y, size_t ldy, float *xa, const float *x, const float *a,
                  const float *b, float s, size_t n, size_t in, size_t out, size_t r)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)r, (int)in, 1.0f, x,
                (int)in, a, (int)in, 0.0f, xa, (int)r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)r, s, xa, (int)r,
                b, (int)r, 1.0f, y, (int)ldy);
}

void lora_backward(float *dx, float *da, float *db, const float *dy, size_t lddy,
                   const float *x, const float *xa, const float *a, const float *b, float s,
                   float *scratch, size_t n, size_t in, size_t out, size_t r)
{
    if (db)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)r, (int)n, s, dy,
                    (int)lddy, xa, (int)r, 1.0f, db, (int)r);
    if (!da && !dx) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)r, (int)out, s, dy,
                (int)lddy, b, (int)r, 0.0f, scratch, (int)r);
    if (da)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)in, (int)n, 1.0f,
                    scratch, (int)r, x, (int)in, 1.0f, da, (int)in);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)r, 1.0f,
                    scratch, (int)r, a, (int)in, 1.0f, dx, (int)in);
}

void lora_merge(float *w, const float *a, const float *b, float s, float sign, size_t in,
                size_t out, size_t r)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)out, (int)in, (int)r, sign * s, b,
                (int)r, a, (int)in, 1.0f, w, (int)in);
}

/* ======================================================================
 * Names.
 * ==================================================================== */

int lora_tensor_name(char *buf, size_t len, const char *module, char which,
                     bool with_adapter_name)
{
    int n = snprintf(buf, len, "base_model.model.%s.lora_%c%s.weight", module, which,
                     with_adapter_name ? ".default" : "");
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

bool lora_module_targeted(const char *module, const char *const *targets, size_t n_targets)
{
    size_t ml = strlen(module);
    for (size_t i = 0; i < n_targets; i++) {
        size_t tl = strlen(targets[i]);
        if (strcmp(module, targets[i]) == 0) return true;
        if (ml > tl && module[ml - tl - 1] == '.' && strcmp(module + ml - tl, targets[i]) == 0)
            return true;
    }
    return false;
}

/* ======================================================================
 * adapter_config.json.
 * ==================================================================== */

int lora_config_parse(lora_config *cfg, const char *json, const char *path, char *err,
                      size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    cJSON *root = cJSON_Parse(json);
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        set_err(err, errlen, "%s: not a JSON object", path);
        goto out;
    }
    cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "peft_type");
    if (pt && !(cJSON_IsString(pt) && strcmp(pt->valuestring, "LORA") == 0)) {
        set_err(err, errlen, "%s: key 'peft_type': only \"LORA\" adapters are supported", path);
        goto out;
    }
    cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "r");
    if (!cJSON_IsNumber(r) || r->valuedouble < 1 || r->valuedouble != floor(r->valuedouble)) {
        set_err(err, errlen, "%s: key 'r': expected a positive integer", path);
        goto out;
    }
    cfg->r = (size_t)r->valuedouble;
    cJSON *al = cJSON_GetObjectItemCaseSensitive(root, "lora_alpha");
    if (!cJSON_IsNumber(al)) {
        set_err(err, errlen, "%s: key 'lora_alpha': expected a number", path);
        goto out;
    }
    cfg->alpha = (float)al->valuedouble;
    cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "use_rslora");
    cfg->rslora = cJSON_IsTrue(rs);
    cJSON *dora = cJSON_GetObjectItemCaseSensitive(root, "use_dora");
    if (cJSON_IsTrue(dora)) {
        set_err(err, errlen, "%s: key 'use_dora': DoRA adapters are not supported", path);
        goto out;
    }
    cJSON *fifo = cJSON_GetObjectItemCaseSensitive(root, "fan_in_fan_out");
    if (cJSON_IsTrue(fifo)) {
        set_err(err, errlen, "%s: key 'fan_in_fan_out': transposed adapters are not supported",
                path);
        goto out;
    }
    cJSON *tm = cJSON_GetObjectItemCaseSensitive(root, "target_modules");
    if (!cJSON_IsArray(tm) || cJSON_GetArraySize(tm) < 1 ||
        cJSON_GetArraySize(tm) > LORA_MAX_TARGETS) {
        set_err(err, errlen, "%s: key 'target_modules': expected a list of 1..%d module names",
                path, LORA_MAX_TARGETS);
        goto out;
    }
    cJSON *t;
    cJSON_ArrayForEach(t, tm)
    {
        if (!cJSON_IsString(t) || !t->valuestring[0] ||
            strlen(t->valuestring) >= sizeof cfg->targets[0]) {
            set_err(err, errlen, "%s: key 'target_modules': entry %zu is not a module name", path,
                    cfg->n_targets);
            goto out;
        }
        strcpy(cfg->targets[cfg->n_targets++], t->valuestring);
    }
    cJSON *bm = cJSON_GetObjectItemCaseSensitive(root, "base_model_name_or_path");
    if (cJSON_IsString(bm)) snprintf(cfg->base_model, sizeof cfg->base_model, "%s", bm->valuestring);
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

int lora_config_read(lora_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        set_err(err, errlen, "%s: cannot open", path);
        return -1;
    }
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *text = sz >= 0 && sz < (1 << 24) ? malloc((size_t)sz + 1) : NULL;
    size_t got = text ? fread(text, 1, (size_t)sz, fp) : 0;
    fclose(fp);
    if (!text || got != (size_t)sz) {
        free(text);
        set_err(err, errlen, "%s: cannot read", path);
        return -1;
    }
    text[sz] = '\0';
    int rc = lora_config_parse(cfg, text, path, err, errlen);
    free(text);
    return rc;
}

int lora_config_write(const lora_config *cfg, const char *path, char *err, size_t errlen)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *targets = cJSON_CreateArray();
    for (size_t i = 0; i < cfg->n_targets; i++)
        cJSON_AddItemToArray(targets, cJSON_CreateString(cfg->targets[i]));
    if (cfg->base_model[0])
        cJSON_AddStringToObject(root, "base_model_name_or_path", cfg->base_model);
    else
        cJSON_AddNullToObject(root, "base_model_name_or_path");
    cJSON_AddStringToObject(root, "bias", "none");
    cJSON_AddFalseToObject(root, "fan_in_fan_out");
    cJSON_AddTrueToObject(root, "inference_mode");
    cJSON_AddTrueToObject(root, "init_lora_weights");
    cJSON_AddNumberToObject(root, "lora_alpha", cfg->alpha);
    cJSON_AddNumberToObject(root, "lora_dropout", 0.0);
    cJSON_AddNullToObject(root, "modules_to_save");
    cJSON_AddStringToObject(root, "peft_type", "LORA");
    cJSON_AddNumberToObject(root, "r", (double)cfg->r);
    cJSON_AddItemToObject(root, "target_modules", targets);
    cJSON_AddStringToObject(root, "task_type", "CAUSAL_LM");
    cJSON_AddBoolToObject(root, "use_dora", 0);
    cJSON_AddBoolToObject(root, "use_rslora", cfg->rslora);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int rc = atomic_write_file(path, text, strlen(text), err, errlen);
    cJSON_free(text);
    return rc;
}

/* ======================================================================
 * adapter_model.safetensors.
 * ==================================================================== */

int lora_save_adapter(const char *dir, const lora_config *cfg, const lora_adapter *ads, size_t n,
                      char *err, size_t errlen)
{
    stw_tensor *t = calloc(2 * n + 1, sizeof *t);
    char (*names)[256] = calloc(2 * n + 1, sizeof *names);
    char path[4096];
    int rc = -1;
    if (!t || !names) {
        set_err(err, errlen, "%s: out of memory", dir);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (lora_tensor_name(names[2 * i], sizeof names[0], ads[i].module, 'A', false) ||
            lora_tensor_name(names[2 * i + 1], sizeof names[0], ads[i].module, 'B', false)) {
            set_err(err, errlen, "%s: module name '%s' is too long", dir, ads[i].module);
            goto out;
        }
        t[2 * i] = (stw_tensor){.name = names[2 * i], .data = ads[i].a, .ndim = 2,
                                .shape = {cfg->r, ads[i].in}, .dtype = STW_F32};
        t[2 * i + 1] = (stw_tensor){.name = names[2 * i + 1], .data = ads[i].b, .ndim = 2,
                                    .shape = {ads[i].out, cfg->r}, .dtype = STW_F32};
    }
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    if (stw_write(path, t, 2 * n, err, errlen) != 0) goto out;
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    rc = lora_config_write(cfg, path, err, errlen);
out:
    free(t);
    free(names);
    return rc;
}
