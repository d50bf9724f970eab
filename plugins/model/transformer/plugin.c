/*
 * model/transformer — the LM engine as a model plugin.
 *
 * Loads a Hugging Face folder (config.json + model.safetensors or a sharded
 * index + tokenizer.json) or a llama2.c checkpoint (.bin + tokenizer.bin),
 * and serves tokenize/detokenize, batched KV-cache generation, scoring
 * (per-token logprobs, entropy, value and score heads) and next-token
 * distributions.
 *
 * Config keys (JSON object):
 *   path        string, required  a Hugging Face folder or a llama2.c .bin
 *                                 (tried as given, then under the host's data dir)
 *   tokenizer   string            tokenizer file: for a .bin defaults to
 *                                 tokenizer.bin or tok<V>.bin beside it; for a
 *                                 folder to <path>/tokenizer.json, else a llama2.c
 *                                 tokenizer.bin / tok<V>.bin in it (optional there)
 *   threads     integer 1..256    worker threads of the engine's pool (default 1);
 *                                 OpenBLAS is kept single-threaded inside it
 *   value_head  bool              add a value head v_head.summary.{weight,bias}
 *   score_head  bool              add a score head score.weight [1, dim]
 *                                 (heads found in the checkpoint are loaded, else
 *                                 initialised N(0, 0.02²) from seed, bias 0)
 *   seed        integer >= 0      for head initialisation (default 0)
 *   decode_bf16 bool              generation's decode steps read bf16 copies of
 *                                 the weight matrices: about twice the tokens/s
 *                                 at small batch; sampled logprobs then differ
 *                                 from forward()'s f32 ones by ~1e-2 (default
 *                                 false; llama/qwen2 only).  Copies follow
 *                                 tf_model.version.
 *   matmul      "f32" | "bf16"    precision of the matrix products of scoring,
 *                                 prefill and training (default "f32"): "bf16"
 *                                 rounds both operands to bf16 and sums in f32
 *                                 (PyTorch autocast's mixed precision).  It runs
 *                                 on AMX tiles where the CPU has AMX-BF16, about
 *                                 2x the f32 speed end to end; elsewhere it gives
 *                                 the same numbers at f32 speed or below, with a
 *                                 warning.  Logprobs then differ from f32 ones by
 *                                 ~1e-2.  Decode keeps its own kernel (decode_bf16).
 *
 * Generation stops at the caller's stop ids and strings, at EOS unless
 * ignore_eos, and for llama2.c checkpoints also at BOS (their training data
 * separates stories with BOS, as llama2.c's run.c does when sampling).
 *
 * Training (plugin_train.c, on train/): backward, step (AdamW), zero_grad,
 * save (HF weights, PEFT adapter, training state), load_state (exact
 * resume), reference (frozen views).  Its config keys — lora {rank, alpha,
 * targets, dropout, rslora}, adapter, trainable, freeze, save_dtype — are
 * documented at the top of plugin_train.c.
 */
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "instance.h"
#include "matmul_bf16.h"
#include "pconfig.h"
#include "plugin_train.h"
#include "rlaif/plugin.h"

#define WHO "model/transformer"

/* ===== Loading ========================================================== */

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* `path` as given, else relative to the host's data directory. */
static char *resolve(const rlaif_host *host, const char *path)
{
    if (exists(path) || path[0] == '/' || !host || !host->data_dir) return strdup(path);
    size_t n = strlen(host->data_dir) + strlen(path) + 2;
    char *p = malloc(n);
    if (!p) return NULL;
    snprintf(p, n, "%s/%s", host->data_dir, path);
    if (!exists(p)) {
        free(p);
        return strdup(path);
    }
    return p;
}

/* tokenizer.bin, else tok<V>.bin, else the only tok*.bin beside the model. */
static char *find_llama2c_tokenizer(const char *model_path, int vocab)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", model_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    char p[4200];
    snprintf(p, sizeof p, "%s/tokenizer.bin", dir);
    if (exists(p)) return strdup(p);
    snprintf(p, sizeof p, "%s/tok%d.bin", dir, vocab);
    if (exists(p)) return strdup(p);
    snprintf(p, sizeof p, "%s/tok*.bin", dir);
    glob_t g;
    char *found = NULL;
    if (glob(p, 0, NULL, &g) == 0 && g.gl_pathc == 1) found = strdup(g.gl_pathv[0]);
    globfree(&g);
    return found;
}

static rlaif_status load_weights_and_tokenizer(tf_instance *in, const char *path,
                                               const char *tok_path, int value_head,
                                               int score_head, char *err, size_t errlen)
{
    rlaif_status st;
    if (is_dir(path)) {
        st = tf_model_load_hf(path, value_head, score_head, in->seed, &in->m, err, errlen);
        if (st) return st;
        /* A folder saved from a llama2.c model carries its tokenizer.bin as
         * well as the tokenizer.json made from it for Hugging Face: the .bin
         * is the original, with llama2.c's conventions (BOS ends a story,
         * decoding keeps a continuation's leading space), so it wins. */
        char *bin = NULL, tp[4200];
        if (tok_path) {
            size_t n = strlen(tok_path);
            if (n > 4 && !strcmp(tok_path + n - 4, ".bin")) bin = strdup(tok_path);
        } else {
            char probe[4200];
            snprintf(probe, sizeof probe, "%s/model", path);
            bin = find_llama2c_tokenizer(probe, in->m->cfg.vocab_size);
            snprintf(tp, sizeof tp, "%s/tokenizer.json", path);
            if (!bin && exists(tp)) tok_path = tp;
        }
        if (bin) {
            in->tok = tokenizer_load_llama2c(bin, in->m->cfg.vocab_size, err, errlen);
            free(bin);
            if (!in->tok) return RLAIF_E_FORMAT;
            in->stop_at_bos = 1;
        } else if (tok_path) {
            in->tok = tokenizer_load_hf(tok_path, err, errlen);
            if (!in->tok) return RLAIF_E_FORMAT;
        }
    } else {
        size_t n = strlen(path);
        if (n < 4 || strcmp(path + n - 4, ".bin") != 0)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                WHO ": config key 'path': '%s' is neither a Hugging Face folder "
                                "nor a llama2.c .bin file", path);
        st = tf_model_load_llama2c(path, value_head, score_head, in->seed, &in->m, err, errlen);
        if (st) return st;
        char *found = tok_path ? strdup(tok_path) : find_llama2c_tokenizer(path, in->m->cfg.vocab_size);
        if (!found)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                WHO ": no tokenizer for '%s': put tokenizer.bin or tok%d.bin "
                                "beside it or set config key 'tokenizer'", path,
                                in->m->cfg.vocab_size);
        in->tok = tokenizer_load_llama2c(found, in->m->cfg.vocab_size, err, errlen);
        free(found);
        if (!in->tok) return RLAIF_E_FORMAT;
        in->stop_at_bos = 1;
    }
    if (in->tok && tokenizer_vocab_size(in->tok) > in->m->cfg.vocab_size)
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            WHO ": the tokenizer has %d tokens but the model only %d",
                            tokenizer_vocab_size(in->tok), in->m->cfg.vocab_size);
    return RLAIF_OK;
}

static void tf_destroy(void *self)
{
    tf_instance *in = self;
    if (!in) return;
    tf_plugin_train_free(in);
    tf_engine_free(&in->eng);
    if (!in->is_view) {
        tf_model_free(in->m);
        tokenizer_free(in->tok);
    }
    free(in->source);
    free(in);
}

static rlaif_status tf_create(const rlaif_host *host, const char *config, void **out, char *err,
                              size_t errlen)
{
    *out = NULL;
    static const char *const keys[] = {"path", "tokenizer", "threads", "value_head",
                                       "score_head", "seed", "decode_bf16", "matmul",
                                       TF_TRAIN_CONFIG_KEYS, NULL};
    pconfig c;
    if (pconfig_open(&c, WHO, config, err, errlen)) return pconfig_close(&c);
    const char *path = pconfig_string(&c, "path", NULL);
    const char *tok = pconfig_string(&c, "tokenizer", NULL);
    int threads = (int)pconfig_int(&c, "threads", 1, 1, 256);
    int value_head = pconfig_bool(&c, "value_head", 0);
    int score_head = pconfig_bool(&c, "score_head", 0);
    uint64_t seed = (uint64_t)pconfig_int(&c, "seed", 0, 0, INT64_MAX);
    int decode_bf16 = pconfig_bool(&c, "decode_bf16", 0);
    static const char *const precisions[] = {"f32", "bf16", NULL};
    int matmul_bf16 = pconfig_enum(&c, "matmul", "f32", precisions) == 1;
    tf_train_config *tc = tf_train_config_parse(&c); /* plugin_train.c */
    if (!c.failed && !path) pconfig_fail(&c, "config key 'path' is required");
    pconfig_no_other_keys(&c, keys);
    tf_instance *in = NULL;
    char *rpath = NULL, *rtok = NULL;
    if (!c.failed) {
        in = calloc(1, sizeof *in);
        rpath = resolve(host, path);
        rtok = tok ? resolve(host, tok) : NULL;
        if (!in || !rpath || (tok && !rtok)) pconfig_fail(&c, "out of memory");
    }
    rlaif_status st = pconfig_close(&c);
    if (st) {
        free(in);
        free(rpath);
        free(rtok);
        tf_train_config_free(tc);
        return st;
    }
    in->host = host;
    in->seed = seed;
    in->source = rpath;
    st = load_weights_and_tokenizer(in, rpath, rtok, value_head, score_head, err, errlen);
    free(rtok);
    if (!st) st = tf_engine_init(&in->eng, in->m, threads, err, errlen);
    if (!st && decode_bf16) st = tf_engine_use_bf16_decode(&in->eng, err, errlen);
    if (!st && matmul_bf16) {
        tf_pool_set_bf16(in->eng.pool, 1);
        if (!tf_bf16_amx_available())
            host->log(host, RLAIF_LOG_WARN, WHO,
                      "matmul \"bf16\": this CPU has no AMX-BF16, so bf16 products take "
                      "the portable path (bf16 numbers at f32 speed or below)");
    }
    if (!st) st = tf_train_init(in, tc, err, errlen);
    tf_train_config_free(tc);
    if (st) {
        tf_destroy(in);
        return st;
    }
    static const char *const names[] = {"llama", "qwen2", "gpt2"};
    snprintf(in->arch, sizeof in->arch, "%s", names[in->m->cfg.arch]);
    *out = in;
    return RLAIF_OK;
}

/* ===== Info and text ==================================================== */

static rlaif_status tf_info(void *self, rlaif_model_info *out)
{
    tf_instance *in = self;
    const tf_config *c = &in->m->cfg;
    if (!out || out->struct_size < sizeof *out) return RLAIF_E_INVALID;
    out->arch = in->arch;
    out->vocab_size = c->vocab_size;
    out->max_seq_len = c->max_seq_len;
    out->bos_id = in->tok ? tokenizer_bos(in->tok) : c->bos_id;
    out->eos_id = in->tok ? tokenizer_eos(in->tok) : c->eos_id;
    out->pad_id = c->pad_id;
    out->n_params = in->m->n_params + tf_train_n_adapter_params(in); /* heads and adapters included */
    out->n_trainable = tf_train_n_trainable(in);
    out->dim = c->dim;
    out->n_layers = c->n_layers;
    out->n_heads = c->n_heads;
    out->n_kv_heads = c->n_kv_heads;
    out->hidden_dim = c->hidden_dim;
    out->has_value_head = (uint8_t)c->value_head;
    out->has_score_head = (uint8_t)c->score_head;
    out->has_lora = (uint8_t)tf_train_has_lora(in);
    out->is_frozen = (uint8_t)in->is_view;
    return RLAIF_OK;
}

static rlaif_status tf_tokenize(void *self, const char *text, size_t text_len, int add_bos,
                                int32_t *out, size_t cap, size_t *n, char *err, size_t errlen)
{
    tf_instance *in = self;
    if (!in->tok)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": '%s' has no tokenizer", in->source);
    int32_t *ids = NULL;
    size_t cnt = 0;
    rlaif_status st = tokenizer_encode(in->tok, text, text_len, add_bos, &ids, &cnt, err, errlen);
    if (st) return st;
    *n = cnt;
    if (cnt > cap) {
        free(ids);
        return rlaif_errorf(err, errlen, RLAIF_E_RANGE, WHO ": tokenize needs room for %zu ids",
                            cnt);
    }
    if (cnt) memcpy(out, ids, cnt * sizeof *ids);
    free(ids);
    return RLAIF_OK;
}

static rlaif_status tf_detokenize(void *self, const int32_t *ids, size_t n, int skip_special,
                                  char *out, size_t cap, size_t *len, char *err, size_t errlen)
{
    tf_instance *in = self;
    if (!in->tok)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": '%s' has no tokenizer", in->source);
    char *text = NULL;
    size_t tl = 0;
    rlaif_status st = tokenizer_decode(in->tok, ids, n, skip_special, &text, &tl, err, errlen);
    if (st) return st;
    *len = tl;
    if (tl + 1 > cap) {
        free(text);
        return rlaif_errorf(err, errlen, RLAIF_E_RANGE,
                            WHO ": detokenize needs %zu bytes plus the NUL", tl);
    }
    memcpy(out, text, tl + 1);
    free(text);
    return RLAIF_OK;
}

/* ===== Generation ======================================================= */

typedef struct stop_ctx {
    tf_instance *in;
    const char *const *strings;
    size_t n;
    size_t max_len;   /* longest stop string in bytes */
} stop_ctx;

/* Decodes the tail of the new tokens that could hold a stop string just
 * completed by the last token (earlier matches would have stopped earlier). */
static int stop_strings_hit(void *ctx, size_t b, const int32_t *ids, size_t n)
{
    (void)b;
    stop_ctx *s = ctx;
    size_t tail = s->max_len + 8, from = n > tail ? n - tail : 0;
    char *text = NULL;
    size_t len = 0;
    char e[8];
    if (tokenizer_decode(s->in->tok, ids + from, n - from, 1, &text, &len, e, sizeof e)) return 0;
    int hit = 0;
    for (size_t i = 0; i < s->n && !hit; i++)
        if (s->strings[i] && s->strings[i][0] && strstr(text, s->strings[i])) hit = 1;
    free(text);
    return hit;
}

static int host_cancelled(void *ctx)
{
    const rlaif_host *h = ctx;
    return h && h->cancelled && h->cancelled(h);
}

static rlaif_status check_seqs(const rlaif_seqs *s, const char *what, char *err, size_t errlen)
{
    if (!s || s->struct_size < sizeof *s || (s->n && (!s->ids || !s->len)))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": %s: bad rlaif_seqs", what);
    for (size_t b = 0; b < s->n; b++)
        if (s->len[b] && !s->ids[b])
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": %s: sequence %zu has no ids",
                                what, b);
    return RLAIF_OK;
}

static rlaif_status tf_generate_fn(void *self, const rlaif_seqs *prompts, const rlaif_sampling *s,
                                   rlaif_generation *out, char *err, size_t errlen)
{
    tf_instance *in = self;
    rlaif_status st = check_seqs(prompts, "generate", err, errlen);
    if (st) return st;
    if (!s || s->struct_size < sizeof *s || !out || out->struct_size < sizeof *out ||
        (prompts->n && s->max_new_tokens && (!out->ids || !out->logprobs)) ||
        (prompts->n && (!out->n_new || !out->finish)))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": generate: bad sampling or output struct");
    if (s->n_stop_strings && !in->tok)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": stop strings need a tokenizer");
    in->kept = 0;
    /* The stop ids: the caller's, plus EOS unless ignore_eos. */
    int32_t eos = in->tok ? tokenizer_eos(in->tok) : in->m->cfg.eos_id;
    int32_t bos = in->tok ? tokenizer_bos(in->tok) : in->m->cfg.bos_id;
    size_t n_stop = s->n_stop_ids + 2;
    int32_t *stops = malloc(n_stop * sizeof *stops);
    if (!stops) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    if (s->n_stop_ids) memcpy(stops, s->stop_ids, s->n_stop_ids * sizeof *stops);
    n_stop = s->n_stop_ids;
    if (!s->ignore_eos && eos >= 0) stops[n_stop++] = eos;
    if (!s->ignore_eos && in->stop_at_bos && bos >= 0) stops[n_stop++] = bos;
    stop_ctx sc = {in, s->stop_strings, s->n_stop_strings, 0};
    for (size_t i = 0; i < sc.n; i++)
        if (sc.strings[i] && strlen(sc.strings[i]) > sc.max_len) sc.max_len = strlen(sc.strings[i]);
    tf_gen_params p = {
        .temperature = s->temperature,
        .top_k = s->top_k,
        .top_p = s->top_p,
        .max_new = s->max_new_tokens,
        .stop_ids = stops,
        .n_stop_ids = n_stop,
        .seed = s->seed,
        .seeds = s->seeds,
        .stop_fn = s->n_stop_strings ? stop_strings_hit : NULL,
        .stop_ctx = &sc,
        .cancelled = host_cancelled,
        .cancel_ctx = (void *)in->host,
    };
    st = tf_generate(&in->eng, prompts->n, prompts->ids, prompts->len, &p, out->ids,
                     out->logprobs, out->n_new, out->finish, err, errlen);
    free(stops);
    return st;
}

/* ===== Scoring ========================================================== */

static float dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return (float)s;
}

static rlaif_status tf_forward_fn(void *self, const rlaif_seqs *seqs, uint32_t want,
                                  float temperature, rlaif_outputs *out, char *err, size_t errlen)
{
    tf_instance *in = self;
    rlaif_status st = check_seqs(seqs, "forward", err, errlen);
    if (st) return st;
    if (!out || out->struct_size < sizeof *out)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": forward: bad rlaif_outputs");
    if (!(temperature > 0))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": forward: temperature must be > 0 (1 for none)");
    const tf_config *c = &in->m->cfg;
    if ((want & RLAIF_OUT_VALUES) && !c->value_head)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": values asked but the model has no value head (config "
                            "value_head)");
    if ((want & RLAIF_OUT_SCORE) && !c->score_head)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": score asked but the model has no score head (config "
                            "score_head)");
    float *lp = (want & RLAIF_OUT_LOGPROBS) ? out->logprobs : NULL;
    float *ent = (want & RLAIF_OUT_ENTROPY) ? out->entropy : NULL;
    float *val = (want & RLAIF_OUT_VALUES) ? out->values : NULL;
    float *score = (want & RLAIF_OUT_SCORE) ? out->score : NULL;
    if (((want & RLAIF_OUT_LOGPROBS) && !lp) || ((want & RLAIF_OUT_ENTROPY) && !ent) ||
        ((want & RLAIF_OUT_VALUES) && !val) || ((want & RLAIF_OUT_SCORE) && !score))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": forward: an output asked for in `want` has a NULL array");
    in->kept = 0;
    if (seqs->n == 0) return RLAIF_OK;
    int keep = (want & RLAIF_OUT_KEEP) != 0;
    st = tf_forward(&in->eng, seqs->n, seqs->ids, seqs->len, keep, NULL, err, errlen);
    if (st) return st;
    tf_engine *e = &in->eng;
    tf_acts *a = &e->acts;
    size_t D = (size_t)c->dim;
    if (lp || ent) tf_token_logprobs(e, temperature, lp, ent);
    if (val)
        for (size_t t = 0; t < a->T; t++)
            val[t] = dot(a->xf + t * D, in->m->w.value_w, D) + in->m->w.value_b[0];
    if (score)
        for (size_t b = 0; b < a->n; b++)
            score[b] = dot(a->xf + (a->off[b + 1] - 1) * D, in->m->w.score_w, D);
    if (keep) {
        in->kept = 1;
        in->kept_want = want;
        in->kept_temperature = temperature;
    }
    return RLAIF_OK;
}

static rlaif_status tf_next_logprobs(void *self, const rlaif_seqs *seqs, float *out, char *err,
                                     size_t errlen)
{
    tf_instance *in = self;
    rlaif_status st = check_seqs(seqs, "next_logprobs", err, errlen);
    if (st) return st;
    if (!out && seqs->n)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": next_logprobs: out is NULL");
    in->kept = 0;
    if (seqs->n == 0) return RLAIF_OK;
    st = tf_forward(&in->eng, seqs->n, seqs->ids, seqs->len, 0, NULL, err, errlen);
    if (st) return st;
    tf_acts *a = &in->eng.acts;
    size_t D = (size_t)in->m->cfg.dim, V = (size_t)in->m->cfg.vocab_size;
    for (size_t b0 = 0; b0 < a->n; b0 += TF_LOGIT_ROWS) {
        size_t rows = a->n - b0 < TF_LOGIT_ROWS ? a->n - b0 : TF_LOGIT_ROWS;
        /* Gather the last hidden state of each sequence (xf rows are reused
         * as the gather buffer: the first rows' sources are read first). */
        for (size_t r = 0; r < rows; r++)
            memmove(a->xf + r * D, a->xf + (a->off[b0 + r + 1] - 1) * D, D * sizeof(float));
        tf_logits_rows(&in->eng, a->logits, a->xf, rows);
        for (size_t r = 0; r < rows; r++)
            tf_log_softmax(out + (b0 + r) * V, a->logits + r * V, V, 1.0f);
    }
    return RLAIF_OK;
}

/* ===== The plugin ======================================================= */

static const rlaif_model_vtable tf_vtable = {
    .base = {.struct_size = sizeof(rlaif_model_vtable), .create = tf_create,
             .destroy = tf_destroy},
    .info = tf_info,
    .tokenize = tf_tokenize,
    .detokenize = tf_detokenize,
    .generate = tf_generate_fn,
    .forward = tf_forward_fn,
    .next_logprobs = tf_next_logprobs,
    .backward = tf_plugin_backward, /* plugin_train.c */
    .step = tf_plugin_step,
    .zero_grad = tf_plugin_zero_grad,
    .save = tf_plugin_save,
    .load_state = tf_plugin_load_state,
    .reference = tf_plugin_reference,
};

static const rlaif_plugin_info tf_info_static = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_MODEL,
    .name = "transformer",
    .version = "0.1.0",
    .description = "Llama / Qwen2 / GPT-2 engine on OpenBLAS: KV-cache batched generation, "
                   "scoring, training (AdamW, LoRA, frozen reference views, exact resume)",
    .caps = RLAIF_CAP_SAVE | RLAIF_CAP_MODEL_GENERATE | RLAIF_CAP_MODEL_FORWARD |
            RLAIF_CAP_MODEL_TRAIN | RLAIF_CAP_MODEL_LORA | RLAIF_CAP_MODEL_VALUE_HEAD |
            RLAIF_CAP_MODEL_SCORE_HEAD | RLAIF_CAP_MODEL_REFERENCE,
    .vtable = &tf_vtable,
};

RLAIF_PLUGIN(&tf_info_static)
