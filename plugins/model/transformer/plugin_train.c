/*
 * plugin_train.c — the transformer plugin's training half: backward, AdamW
 * steps, checkpoints, exact resume, LoRA and frozen reference views.
 *
 * Config keys (create, beside plugin.c's):
 *   lora        object   LoRA adapters on the Llama/Qwen2 block Linears; only
 *                        the adapters (and any value/score head) train:
 *                          rank     integer >= 1, required
 *                          alpha    number > 0 (default 8, PEFT's default)
 *                          targets  array of module names (default
 *                                   ["q_proj", "v_proj"]), PEFT's rule: a
 *                                   module matches when its name ends in
 *                                   "." + target
 *                          dropout  number, only 0 (no LoRA dropout)
 *                          rslora   bool: scale alpha/sqrt(rank) (default false)
 *   adapter     string   a PEFT folder (adapter_config.json +
 *                        adapter_model.safetensors) to start from; alone it
 *                        sets the LoRA shape, with `lora` both must agree
 *   trainable   array    parameter-name patterns that train; all else is
 *                        frozen.  A pattern with * ? [ is a glob over the
 *                        whole Hugging Face name, otherwise a substring
 *                        ("layers.1.", "lm_head", "mlp").  Every pattern
 *                        must match some tensor.
 *   freeze      array    the opposite: these are frozen, the rest trains
 *                        (not with `trainable`; neither with `lora`)
 *   save_dtype  string   "float32" (default) or "bfloat16" for
 *                        model.safetensors (exact resume needs float32)
 *
 * Files save() writes into its directory (each atomically):
 *   WEIGHTS   config.json, model.safetensors (Hugging Face names; heads as
 *             v_head.summary.{weight,bias} and score.weight), the tokenizer
 *             files (a llama2.c tokenizer.bin plus the tokenizer.json,
 *             tokenizer_config.json and special_tokens_map.json that
 *             tokenizer_save writes for it).  With LoRA: the base weights W0, or with MERGED the
 *             weights with the adapters folded in (W0 + s B A, made a
 *             piece at a time while writing; the model in memory keeps W0).  llama2.c checkpoints
 *             are already in Hugging Face's rotate-half layout in memory
 *             (the loader permutes wq/wk), so they save as a HF Llama.
 *   ADAPTER   adapter_config.json, adapter_model.safetensors (PEFT)
 *   TRAINING  training_state.bin (step, AdamW moments, seed; with LoRA the
 *             head values too) and, with LoRA, the adapter files
 * load_state(dir) reads back whichever of model.safetensors, the adapter
 * and training_state.bin are there, so that save(WEIGHTS | TRAINING) then
 * load_state on a fresh instance of the same config continues bit for bit.
 * Gradients accumulated but not yet stepped are not part of the state.
 *
 * LoRA (train/engine_lora.h): the adapters are applied inside the forward's
 * Linear layers, y = x W0ᵀ + (s x Aᵀ) Bᵀ; W0 is never written.  Only the
 * adapters and the heads have gradients (no model-sized gradient buffer,
 * no dW of a frozen matrix), and the kept forward is lean (forward.h: the
 * norm outputs and the MLP activation are recomputed by the backward).
 *
 * Reference views (reference()): frozen, no gradients, sharing the
 * tokenizer and config, each with its own activation arena.
 *   - With LoRA the view shares the weights and its engine has no adapters:
 *     it computes x W0ᵀ, the base model exactly, with no copy and nothing
 *     to switch.  Heads are shared.
 *   - Without LoRA the view must keep the weights it was made with while
 *     the base trains, so it gets its own copy — lazily: it shares the
 *     base's buffer until the base first changes it (step, load_state),
 *     and takes a snapshot just before.  A view of a model that never
 *     trains costs no memory.
 * A view must be destroyed before its base (the host guarantees it).
 */
#include "plugin_train.h"

#include <errno.h>
#include <limits.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adamw.h"
#include "engine_bwd.h"
#include "engine_io.h"
#include "engine_lora.h"
#include "train_state.h"

#define WHO "model/transformer"
#define STATE_FILE "training_state.bin"
#define MAX_PATTERNS 64

/* ===== State ============================================================ */

struct tf_train_config {
    int lora_set;
    size_t rank;
    float alpha;
    int rslora;
    size_t n_targets;
    char targets[LORA_MAX_TARGETS][64];
    char *adapter;
    int freeze;               /* patterns name frozen tensors (else trainable ones) */
    size_t n_patterns;
    char *patterns[MAX_PATTERNS];
    int bf16;
};

/* One flat parameter array the optimizer walks. */
typedef struct tf_group {
    adamw_state opt;
    adamw_tensor *t;
    size_t nt;
    size_t base;              /* no LoRA / heads: element offset in m->params */
    int in_lora;              /* the LoRA adapter array instead of m->params */
    size_t numel;             /* trainable elements */
} tf_group;

typedef struct tf_train {
    /* base instances */
    int has_lora;
    tf_lora lora;
    uint8_t *frozen;          /* [n_tab] or NULL (all trainable) */
    tf_weights gview;         /* what backward accumulates into */
    int gview_ready;
    tf_group groups[2];
    size_t n_groups;
    uint64_t step;
    float *head_grads;        /* LoRA with heads: the heads' gradients (groups[1]'s
                                 layout); m->grads is never allocated */
    stw_dtype save_dtype;
    tf_instance **views;      /* views still sharing m (no LoRA) */
    size_t n_views, cap_views;
    /* views */
    tf_model *snapshot;       /* the view's own weights once the base moved */
} tf_train;

static tf_instance *base_of(tf_instance *in) { return in->is_view ? in->base : in; }

/* ===== Config =========================================================== */

static int has_glob(const char *p) { return strpbrk(p, "*?[") != NULL; }

static void parse_lora(pconfig *c, const cJSON *o, tf_train_config *tc)
{
    if (!cJSON_IsObject(o)) {
        pconfig_fail(c, "config key 'lora': expected an object {rank, alpha, targets}");
        return;
    }
    static const char *const keys[] = {"rank", "alpha", "targets", "dropout", "rslora"};
    for (const cJSON *it = o->child; it; it = it->next) {
        int known = 0;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) known |= !strcmp(it->string, keys[i]);
        if (!known) {
            pconfig_fail(c, "config key 'lora.%s': unknown (known: rank, alpha, targets, dropout, "
                         "rslora)", it->string);
            return;
        }
    }
    tc->lora_set = 1;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rank");
    if (!cJSON_IsNumber(r) || r->valuedouble < 1 || r->valuedouble > 65536 ||
        r->valuedouble != floor(r->valuedouble)) {
        pconfig_fail(c, "config key 'lora.rank': required, an integer 1..65536");
        return;
    }
    tc->rank = (size_t)r->valuedouble;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "alpha");
    tc->alpha = 8.0f;
    if (a && (!cJSON_IsNumber(a) || !(a->valuedouble > 0))) {
        pconfig_fail(c, "config key 'lora.alpha': expected a positive number");
        return;
    }
    if (a) tc->alpha = (float)a->valuedouble;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "dropout");
    if (d && (!cJSON_IsNumber(d) || d->valuedouble != 0)) {
        pconfig_fail(c, "config key 'lora.dropout': only 0 is supported (LoRA dropout is not "
                     "implemented)");
        return;
    }
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "rslora");
    if (rs && !cJSON_IsBool(rs)) {
        pconfig_fail(c, "config key 'lora.rslora': expected true or false");
        return;
    }
    tc->rslora = cJSON_IsTrue(rs);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "targets");
    if (!t) {
        snprintf(tc->targets[0], sizeof tc->targets[0], "q_proj");
        snprintf(tc->targets[1], sizeof tc->targets[1], "v_proj");
        tc->n_targets = 2;
        return;
    }
    if (!cJSON_IsArray(t) || cJSON_GetArraySize(t) == 0) {
        pconfig_fail(c, "config key 'lora.targets': expected a non-empty array of module names");
        return;
    }
    for (const cJSON *it = t->child; it; it = it->next) {
        if (!cJSON_IsString(it) || !it->valuestring[0] ||
            strlen(it->valuestring) >= sizeof tc->targets[0] || tc->n_targets >= LORA_MAX_TARGETS) {
            pconfig_fail(c, "config key 'lora.targets': entries are module names such as "
                         "\"q_proj\" (at most %d)", LORA_MAX_TARGETS);
            return;
        }
        snprintf(tc->targets[tc->n_targets++], sizeof tc->targets[0], "%s", it->valuestring);
    }
}

tf_train_config *tf_train_config_parse(pconfig *c)
{
    tf_train_config *tc = calloc(1, sizeof *tc);
    if (!tc) {
        pconfig_fail(c, "out of memory");
        return NULL;
    }
    const cJSON *lora = pconfig_item(c, "lora");
    if (lora && !c->failed) parse_lora(c, lora, tc);
    const char *adapter = pconfig_string(c, "adapter", NULL);
    if (adapter && !(tc->adapter = strdup(adapter))) pconfig_fail(c, "out of memory");
    static const char *const dtypes[] = {"float32", "bfloat16", NULL};
    tc->bf16 = pconfig_enum(c, "save_dtype", "float32", dtypes) == 1;
    const char **pats = NULL;
    size_t nt = pconfig_strings(c, "trainable", &pats);
    const char **fpats = NULL;
    size_t nf = pconfig_strings(c, "freeze", &fpats);
    if (nt && nf) pconfig_fail(c, "config keys 'trainable' and 'freeze': give one of them");
    if ((nt || nf) && (tc->lora_set || tc->adapter))
        pconfig_fail(c, "config key '%s': not with LoRA (only the adapters and heads train)",
                     nt ? "trainable" : "freeze");
    tc->freeze = nf > 0;
    size_t n = nt ? nt : nf;
    const char **src = nt ? pats : fpats;
    if (n > MAX_PATTERNS)
        pconfig_fail(c, "config key '%s': at most %d patterns", nt ? "trainable" : "freeze",
                     MAX_PATTERNS);
    for (size_t i = 0; !c->failed && i < n; i++) {
        if (!(tc->patterns[i] = strdup(src[i]))) pconfig_fail(c, "out of memory");
        tc->n_patterns = i + 1;
    }
    free(pats);
    free(fpats);
    return tc;
}

void tf_train_config_free(tf_train_config *tc)
{
    if (!tc) return;
    free(tc->adapter);
    for (size_t i = 0; i < tc->n_patterns; i++) free(tc->patterns[i]);
    free(tc);
}

/* ===== Setup ============================================================ */

static int pattern_matches(const char *pat, const char *name)
{
    return has_glob(pat) ? fnmatch(pat, name, 0) == 0 : strstr(name, pat) != NULL;
}

/* The frozen mask from `trainable` / `freeze` patterns. */
static rlaif_status make_frozen(tf_train *tr, const tf_model *m, const tf_train_config *tc,
                                char *err, size_t errlen)
{
    if (!tc || tc->n_patterns == 0) return RLAIF_OK;
    const char *key = tc->freeze ? "freeze" : "trainable";
    tr->frozen = calloc(m->n_tab, 1);
    if (!tr->frozen) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    for (size_t k = 0; k < tc->n_patterns; k++) {
        int hit = 0;
        for (size_t i = 0; i < m->n_tab; i++) hit |= pattern_matches(tc->patterns[k], m->tab[i].name);
        if (!hit)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                WHO ": config key '%s': pattern '%s' matches no parameter (names "
                                "are Hugging Face's, e.g. '%s')", key, tc->patterns[k],
                                m->tab[m->n_tab > 1 ? 1 : 0].name);
    }
    size_t n_train = 0;
    for (size_t i = 0; i < m->n_tab; i++) {
        int hit = 0;
        for (size_t k = 0; k < tc->n_patterns && !hit; k++)
            hit = pattern_matches(tc->patterns[k], m->tab[i].name);
        tr->frozen[i] = (uint8_t)(tc->freeze ? hit : !hit);
        n_train += !tr->frozen[i];
    }
    if (!n_train)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": config key 'freeze': every parameter is frozen");
    return RLAIF_OK;
}

static rlaif_status lora_config_of(const tf_train_config *tc, const char *source, lora_config *lc,
                                   char *err, size_t errlen)
{
    memset(lc, 0, sizeof *lc);
    if (tc->adapter) {
        char path[4200];
        snprintf(path, sizeof path, "%s/adapter_config.json", tc->adapter);
        char e2[512];
        if (lora_config_read(lc, path, e2, sizeof e2))
            return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, WHO ": config key 'adapter': %s", e2);
        if (!tc->lora_set) return RLAIF_OK;
        int same = lc->r == tc->rank && lc->alpha == tc->alpha && lc->n_targets == tc->n_targets &&
                   (lc->rslora != 0) == (tc->rslora != 0);
        for (size_t i = 0; same && i < tc->n_targets; i++) {
            int found = 0;
            for (size_t j = 0; j < lc->n_targets; j++) found |= !strcmp(tc->targets[i], lc->targets[j]);
            same = found;
        }
        if (!same)
            return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                                WHO ": config keys 'lora' and 'adapter' disagree: %s has r %zu, "
                                "alpha %g and %zu targets", path, lc->r, (double)lc->alpha,
                                lc->n_targets);
        return RLAIF_OK;
    }
    lc->r = tc->rank;
    lc->alpha = tc->alpha;
    lc->rslora = tc->rslora != 0;
    lc->n_targets = tc->n_targets;
    memcpy(lc->targets, tc->targets, sizeof lc->targets);
    /* PEFT reads base_model_name_or_path from anywhere: an absolute path, not
     * one relative to where this run was started. */
    char abs[PATH_MAX];
    if (source && realpath(source, abs)) source = abs;
    if (snprintf(lc->base_model, sizeof lc->base_model, "%s", source ? source : "") >=
        (int)sizeof lc->base_model)
        lc->base_model[0] = 0; /* too long to keep whole: written as null */
    return RLAIF_OK;
}

/* Index of the first head tensor (value or score) in m->tab, n_tab if none. */
static size_t first_head(const tf_model *m)
{
    for (size_t i = 0; i < m->n_tab; i++)
        if (!strncmp(m->tab[i].name, "v_head.", 7) || !strcmp(m->tab[i].name, "score.weight"))
            return i;
    return m->n_tab;
}

/* The optimizer's groups: every trainable model tensor (no LoRA), or the
 * adapters plus the heads (LoRA). */
static rlaif_status make_groups(tf_train *tr, const tf_model *m, char *err, size_t errlen)
{
    size_t cap = m->n_tab + 2 * tr->lora.n_mods + 1;
    for (int k = 0; k < 2; k++) {
        tr->groups[k].t = calloc(cap, sizeof(adamw_tensor));
        if (!tr->groups[k].t) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    }
    if (!tr->has_lora) {
        tf_group *g = &tr->groups[0];
        adamw_init(&g->opt, m->n_params);
        g->nt = tf_adamw_tensors(m, tr->frozen, g->t);
        tr->n_groups = 1;
    } else {
        tf_group *g = &tr->groups[0];
        g->in_lora = 1;
        adamw_init(&g->opt, tr->lora.n_params);
        g->nt = tf_lora_adamw_tensors(&tr->lora, g->t);
        tr->n_groups = 1;
        size_t h = first_head(m);
        if (h < m->n_tab) {
            tf_group *hg = &tr->groups[1];
            hg->base = m->tab[h].offset;
            adamw_init(&hg->opt, m->n_params - hg->base);
            for (size_t i = h; i < m->n_tab; i++) {
                const tf_param *p = &m->tab[i];
                hg->t[hg->nt++] = (adamw_tensor){.name = p->name, .offset = p->offset - hg->base,
                                                 .numel = p->numel, .decay = p->is_matrix != 0};
            }
            tr->n_groups = 2;
        }
    }
    for (size_t k = 0; k < tr->n_groups; k++)
        for (size_t i = 0; i < tr->groups[k].nt; i++) tr->groups[k].numel += tr->groups[k].t[i].numel;
    return RLAIF_OK;
}

rlaif_status tf_train_init(tf_instance *in, const tf_train_config *tc, char *err, size_t errlen)
{
    tf_train *tr = calloc(1, sizeof *tr);
    if (!tr) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    in->train = tr;
    tf_model *m = in->m;
    tr->save_dtype = tc && tc->bf16 ? STW_BF16 : STW_F32;
    if (tc && (tc->lora_set || tc->adapter)) {
        lora_config lc;
        rlaif_status st = lora_config_of(tc, in->source, &lc, err, errlen);
        if (st) return st;
        char e2[1024];
        st = tf_lora_create(&tr->lora, m, &lc, in->seed, e2, sizeof e2);
        if (st) return rlaif_errorf(err, errlen, st, WHO ": config key '%s': %s",
                                    tc->adapter ? "adapter" : "lora", e2);
        tr->has_lora = 1;
        if (tc->adapter) {
            char path[4200];
            snprintf(path, sizeof path, "%s/adapter_model.safetensors", tc->adapter);
            st = tf_lora_load(&tr->lora, path, e2, sizeof e2);
            if (st) return rlaif_errorf(err, errlen, st, WHO ": config key 'adapter': %s", e2);
        }
        tf_lora_attach(&tr->lora, &in->eng, 1, 1);
        in->eng.lean = 1; /* the memory LoRA saves is the point: keep less too */
    }
    rlaif_status st = make_frozen(tr, m, tc, err, errlen);
    if (!st) st = make_groups(tr, m, err, errlen);
    /* AdamW runs on the engine's threads (the same bits as on one). */
    for (size_t k = 0; !st && k < tr->n_groups; k++) tr->groups[k].opt.pool = in->eng.pool;
    return st;
}

static void remove_view(tf_train *tr, tf_instance *v)
{
    for (size_t i = 0; i < tr->n_views; i++)
        if (tr->views[i] == v) {
            tr->views[i] = tr->views[--tr->n_views];
            return;
        }
}

void tf_plugin_train_free(tf_instance *in)
{
    tf_bwd_ws_free(&in->ws);
    tf_train *tr = in->train;
    if (!tr) return;
    if (in->is_view) {
        if (in->base && in->base->train) remove_view(in->base->train, in);
        tf_model_free(tr->snapshot);
    } else {
        /* views outliving their base (a host bug) lose it rather than dangle */
        for (size_t i = 0; i < tr->n_views; i++) tr->views[i]->base = NULL;
        tf_lora_free(&tr->lora);
        free(tr->frozen);
        free(tr->head_grads);
        if (tr->gview_ready) tf_weights_free(&tr->gview);
        for (int k = 0; k < 2; k++) {
            adamw_free(&tr->groups[k].opt);
            free(tr->groups[k].t);
        }
        free(tr->views);
    }
    free(tr);
    in->train = NULL;
}

/* ===== Views sharing the weights ======================================= */

/* Gives every view still sharing the base's weights its own copy, before
 * the base changes them. */
static rlaif_status detach_views(tf_instance *in, char *err, size_t errlen)
{
    tf_train *tr = in->train;
    while (tr->n_views) {
        tf_instance *v = tr->views[tr->n_views - 1];
        tf_model *snap = NULL;
        rlaif_status st = tf_model_create(&in->m->cfg, &snap, err, errlen);
        if (st) return st;
        memcpy(snap->params, in->m->params, in->m->n_params * sizeof(float));
        int threads = v->eng.n_threads, bf16 = v->eng.decode_bf16;
        int mm_bf16 = tf_pool_bf16(v->eng.pool);
        tf_engine_free(&v->eng);
        memset(&v->eng, 0, sizeof v->eng);
        st = tf_engine_init(&v->eng, snap, threads, err, errlen);
        if (!st && bf16) st = tf_engine_use_bf16_decode(&v->eng, err, errlen);
        if (!st) tf_pool_set_bf16(v->eng.pool, mm_bf16);
        if (st) {
            /* leave the view on the shared weights: still usable, not frozen */
            tf_engine_free(&v->eng);
            memset(&v->eng, 0, sizeof v->eng);
            tf_model_free(snap);
            rlaif_status st2 = tf_engine_init(&v->eng, in->m, threads, NULL, 0);
            (void)st2;
            return st;
        }
        v->m = snap;
        v->train->snapshot = snap;
        v->kept = 0;
        tr->n_views--;
    }
    return RLAIF_OK;
}

/* ===== Gradients ======================================================== */

/* LoRA: a gradient view with only the heads (value, score) in a buffer of
 * groups[1]'s size; every other member NULL (frozen). */
static rlaif_status head_grad_view(tf_instance *in, char *err, size_t errlen)
{
    tf_train *tr = in->train;
    const tf_model *m = in->m;
    memset(&tr->gview, 0, sizeof tr->gview);
    if (tr->n_groups < 2) return RLAIF_OK;
    size_t base = tr->groups[1].base;
    tr->head_grads = calloc(m->n_params - base, sizeof(float));
    if (!tr->head_grads) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "out of memory");
    const tf_weights *w = &m->w;
    if (w->value_w) tr->gview.value_w = tr->head_grads + (size_t)(w->value_w - m->params) - base;
    if (w->value_b) tr->gview.value_b = tr->head_grads + (size_t)(w->value_b - m->params) - base;
    if (w->score_w) tr->gview.score_w = tr->head_grads + (size_t)(w->score_w - m->params) - base;
    return RLAIF_OK;
}

static rlaif_status ensure_grads(tf_instance *in, char *err, size_t errlen)
{
    tf_train *tr = in->train;
    if (tr->gview_ready) return RLAIF_OK;
    char e2[512];
    rlaif_status st = RLAIF_OK;
    if (tr->has_lora) {
        /* The adapters' gradients are tr->lora.grads (tf_lora_attach); the
         * heads get a buffer of their own; the base has none. */
        st = head_grad_view(in, e2, sizeof e2);
    } else {
        st = tf_model_alloc_grads(in->m, e2, sizeof e2);
        if (!st) st = tf_train_grad_view(in->m, tr->frozen, &tr->gview, e2, sizeof e2);
    }
    if (st) return rlaif_errorf(err, errlen, st, WHO ": %s", e2);
    tr->gview_ready = 1;
    return RLAIF_OK;
}

void tf_plugin_zero_grad(void *self)
{
    tf_instance *in = self;
    if (in->is_view || !in->train) return;
    tf_train *tr = in->train;
    if (in->m->grads) memset(in->m->grads, 0, in->m->n_params * sizeof(float));
    if (tr->has_lora && tr->lora.grads) memset(tr->lora.grads, 0, tr->lora.n_params * sizeof(float));
    if (tr->head_grads)
        memset(tr->head_grads, 0, (in->m->n_params - tr->groups[1].base) * sizeof(float));
}

rlaif_status tf_plugin_backward(void *self, const rlaif_outputs *grads, char *err, size_t errlen)
{
    tf_instance *in = self;
    if (in->is_view || !in->train)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": backward on a frozen reference view");
    if (!grads || grads->struct_size < sizeof *grads)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": backward: bad rlaif_outputs");
    if (!in->kept)
        return rlaif_errorf(err, errlen, RLAIF_E_STATE,
                            WHO ": backward without a kept forward (call forward with "
                            "RLAIF_OUT_KEEP first; generate and next_logprobs drop it)");
    tf_train *tr = in->train;
    rlaif_status st = ensure_grads(in, err, errlen);
    if (st) return st;
    tf_acts *a = &in->eng.acts;
    in->ws.kept_logits = a->logits_all && a->logits_valid ? a->logits_all : NULL;
    char e2[1024];
    st = tf_train_backward(&in->eng, &tr->gview, grads, in->kept_temperature, &in->ws, e2,
                           sizeof e2);
    in->ws.kept_logits = NULL;
    in->kept = 0; /* one backward per kept forward: the next needs a new forward */
    if (st) return rlaif_errorf(err, errlen, st, WHO ": %s", e2);
    return RLAIF_OK;
}

/* ===== Optimizer step =================================================== */

static float *group_params(tf_train *tr, tf_model *m, const tf_group *g)
{
    return g->in_lora ? tr->lora.params : m->params + g->base;
}

static float *group_grads(tf_train *tr, tf_model *m, const tf_group *g)
{
    if (g->in_lora) return tr->lora.grads;
    return tr->has_lora ? tr->head_grads : m->grads + g->base;
}

/* ||grad * scale|| over every group in double; on a non-finite gradient
 * names the tensor and element. */
static rlaif_status grad_norm(tf_train *tr, tf_model *m, float scale, double *out, char *err,
                              size_t errlen)
{
    double total = 0;
    for (size_t k = 0; k < tr->n_groups; k++) {
        const tf_group *g = &tr->groups[k];
        const float *gr = group_grads(tr, m, g);
        for (size_t i = 0; i < g->nt; i++) {
            const float *x = gr + g->t[i].offset;
            double acc[8] = {0}, s = 0;
            size_t j = 0, n = g->t[i].numel;
            for (; j + 8 <= n; j += 8)
                for (int q = 0; q < 8; q++) {
                    double v = (double)x[j + q] * scale;
                    acc[q] += v * v;
                }
            for (; j < n; j++) s += (double)x[j] * scale * ((double)x[j] * scale);
            for (int q = 0; q < 8; q++) s += acc[q];
            if (!isfinite(s)) {
                j = 0;
                while (j < n && isfinite((double)x[j] * scale)) j++;
                return rlaif_errorf(err, errlen, RLAIF_E_NUMERIC,
                                    WHO ": step: non-finite gradient in '%s' at element %zu (%g); "
                                    "no parameter was updated and the gradients were dropped",
                                    g->t[i].name, j, j < n ? (double)x[j] : NAN);
            }
            total += s;
        }
    }
    *out = sqrt(total);
    return RLAIF_OK;
}

static rlaif_status alloc_moments(tf_group *g, char *err, size_t errlen)
{
    if (g->opt.m) return RLAIF_OK;
    g->opt.m = calloc(g->opt.n ? g->opt.n : 1, sizeof(float));
    g->opt.v = calloc(g->opt.n ? g->opt.n : 1, sizeof(float));
    if (!g->opt.m || !g->opt.v) {
        adamw_free(&g->opt);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM,
                            WHO ": step: out of memory for %zu AdamW moments", g->opt.n);
    }
    return RLAIF_OK;
}

rlaif_status tf_plugin_step(void *self, const rlaif_step_params *p, rlaif_step_result *out,
                              char *err, size_t errlen)
{
    tf_instance *in = self;
    if (in->is_view || !in->train)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED, WHO ": step on a frozen reference view");
    if (!p || p->struct_size < sizeof *p)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": step: bad rlaif_step_params");
    if (!isfinite(p->lr) || !isfinite(p->grad_scale) || !(p->max_grad_norm >= 0) ||
        !(p->beta1 >= 0 && p->beta1 < 1) || !(p->beta2 >= 0 && p->beta2 < 1) || !(p->eps >= 0) ||
        !isfinite(p->weight_decay))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": step: invalid hyper-parameters (lr %g, betas %g/%g, eps %g, "
                            "weight_decay %g, max_grad_norm %g, grad_scale %g)", (double)p->lr,
                            (double)p->beta1, (double)p->beta2, (double)p->eps,
                            (double)p->weight_decay, (double)p->max_grad_norm,
                            (double)p->grad_scale);
    tf_train *tr = in->train;
    tf_model *m = in->m;
    rlaif_status st = ensure_grads(in, err, errlen);
    if (st) return st;
    double norm = 0;
    st = grad_norm(tr, m, p->grad_scale, &norm, err, errlen);
    if (st) {
        tf_plugin_zero_grad(in);
        return st;
    }
    double clip = 1.0;
    if (p->max_grad_norm > 0 && norm > 0) {
        clip = (double)p->max_grad_norm / (norm + 1e-6);
        if (clip > 1.0) clip = 1.0;
    }
    st = detach_views(in, err, errlen);
    for (size_t k = 0; !st && k < tr->n_groups; k++) st = alloc_moments(&tr->groups[k], err, errlen);
    if (st) return st;
    /* Clipping is global over the groups, so each group gets the combined
     * factor through grad_scale (exactly adamw_step's own arithmetic when
     * there is one group). */
    adamw_params ap = {.lr = p->lr, .beta1 = p->beta1, .beta2 = p->beta2, .eps = p->eps,
                       .weight_decay = p->weight_decay, .max_grad_norm = 0,
                       .grad_scale = (float)(p->grad_scale * clip)};
    for (size_t k = 0; k < tr->n_groups; k++) {
        tf_group *g = &tr->groups[k];
        char e2[512];
        int rc = adamw_step(&g->opt, group_params(tr, m, g), group_grads(tr, m, g), g->t, g->nt,
                            &ap, NULL, e2, sizeof e2);
        if (rc) /* cannot happen after the checks above, short of a bug */
            return rlaif_errorf(err, errlen, RLAIF_E_INTERNAL, WHO ": step: %s", e2);
    }
    /* LoRA: the engine reads the new A and B in place; m->params moved only
     * where the heads are. */
    if (!tr->has_lora || tr->n_groups > 1) m->version++;
    in->kept = 0; /* the kept activations belong to the old weights */
    tf_plugin_zero_grad(in);
    tr->step++;
    if (out && out->struct_size >= sizeof *out) {
        out->grad_norm = norm;
        out->step = tr->step;
    }
    return RLAIF_OK;
}

/* ===== Info ============================================================= */

size_t tf_train_n_trainable(const tf_instance *in)
{
    if (in->is_view || !in->train) return 0;
    size_t n = 0;
    for (size_t k = 0; k < in->train->n_groups; k++) n += in->train->groups[k].numel;
    return n;
}

int tf_train_has_lora(const tf_instance *in)
{
    return !in->is_view && in->train && in->train->has_lora;
}

size_t tf_train_n_adapter_params(const tf_instance *in)
{
    return tf_train_has_lora(in) ? in->train->lora.n_params : 0;
}

/* ===== Files ============================================================ */

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* mkdir -p */
static rlaif_status make_dirs(const char *dir, char *err, size_t errlen)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": save: path too long");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) && errno != EEXIST)
            return rlaif_errorf(err, errlen, RLAIF_E_IO, WHO ": save: cannot create %s: %s", p,
                                strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0777) && errno != EEXIST)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, WHO ": save: cannot create %s: %s", p,
                            strerror(errno));
    return RLAIF_OK;
}

static rlaif_status save_weights(tf_instance *in, const char *dir, int merged, char *err,
                                 size_t errlen)
{
    tf_instance *b = base_of(in);
    stw_dtype dtype = b && b->train ? b->train->save_dtype : STW_F32;
    /* m->params holds W0; a view has no adapters, so it saves W0 merged or not */
    tf_train *tr = in->is_view ? NULL : in->train;
    char path[4200], e2[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    rlaif_status st = tf_save_config(&in->m->cfg, dtype, path, e2, sizeof e2);
    if (!st) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (tr && tr->has_lora && merged)
            st = tf_lora_save_merged(&tr->lora, in->m, path, dtype, e2, sizeof e2);
        else
            st = tf_save_safetensors(in->m, path, dtype, e2, sizeof e2);
    }
    if (!st && in->tok) st = tokenizer_save(in->tok, dir, e2, sizeof e2);
    if (st) return rlaif_errorf(err, errlen, st, WHO ": save: %s", e2);
    return RLAIF_OK;
}

static rlaif_status save_adapter(tf_train *tr, const char *dir, char *err, size_t errlen)
{
    char e2[1024];
    rlaif_status st = tf_lora_save(&tr->lora, dir, e2, sizeof e2);
    if (st) return rlaif_errorf(err, errlen, st, WHO ": save: %s", e2);
    return RLAIF_OK;
}

/* The training state's own header inside train_state.extra: what the
 * moments are, so a state from another configuration is refused. */
#define EXTRA_FMT "tf-train 1 lora %d groups %zu n0 %zu n1 %zu heads %zu\n"

static rlaif_status save_training(tf_instance *in, const char *dir, char *err, size_t errlen)
{
    tf_train *tr = in->train;
    tf_model *m = in->m;
    size_t heads = tr->has_lora && tr->n_groups > 1 ? m->n_params - tr->groups[1].base : 0;
    char head[160];
    int hl = snprintf(head, sizeof head, EXTRA_FMT, tr->has_lora, tr->n_groups,
                      tr->groups[0].opt.n, tr->n_groups > 1 ? tr->groups[1].opt.n : 0, heads);
    size_t extra_len = (size_t)hl + 1 + heads * sizeof(float);
    unsigned char *extra = malloc(extra_len);
    if (!extra) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": save: out of memory");
    memcpy(extra, head, (size_t)hl + 1);
    if (heads) memcpy(extra + hl + 1, m->params + tr->groups[1].base, heads * sizeof(float));
    train_state s = {.step = tr->step, .rng = {in->seed, 0, 0, 0}, .extra = extra,
                     .extra_len = extra_len};
    float *mm = NULL, *vv = NULL;
    int have = tr->groups[0].opt.m != NULL;
    if (have && tr->n_groups == 1) {
        s.n_moments = tr->groups[0].opt.n;
        s.m = tr->groups[0].opt.m;
        s.v = tr->groups[0].opt.v;
    } else if (have) {
        size_t n0 = tr->groups[0].opt.n, n1 = tr->groups[1].opt.n;
        mm = malloc((n0 + n1) * sizeof(float));
        vv = malloc((n0 + n1) * sizeof(float));
        if (!mm || !vv) {
            free(mm), free(vv), free(extra);
            return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": save: out of memory");
        }
        memcpy(mm, tr->groups[0].opt.m, n0 * sizeof(float));
        memcpy(mm + n0, tr->groups[1].opt.m, n1 * sizeof(float));
        memcpy(vv, tr->groups[0].opt.v, n0 * sizeof(float));
        memcpy(vv + n0, tr->groups[1].opt.v, n1 * sizeof(float));
        s.n_moments = n0 + n1;
        s.m = mm;
        s.v = vv;
    }
    char path[4200], e2[1024];
    snprintf(path, sizeof path, "%s/" STATE_FILE, dir);
    int rc = train_state_write(path, &s, e2, sizeof e2);
    free(mm), free(vv), free(extra);
    if (rc) return rlaif_errorf(err, errlen, RLAIF_E_IO, WHO ": save: %s", e2);
    return RLAIF_OK;
}

rlaif_status tf_plugin_save(void *self, const char *dir, uint32_t what, char *err,
                              size_t errlen)
{
    tf_instance *in = self;
    const uint32_t all = RLAIF_SAVE_WEIGHTS | RLAIF_SAVE_ADAPTER | RLAIF_SAVE_TRAINING |
                         RLAIF_SAVE_MERGED;
    if (!dir || !dir[0])
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": save: no directory");
    if (!(what & (all & ~RLAIF_SAVE_MERGED)) || (what & ~all))
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": save: `what` must name weights, adapter and/or training");
    if (in->is_view && (what & ~(RLAIF_SAVE_WEIGHTS | RLAIF_SAVE_MERGED)))
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": save: a reference view has only weights to save");
    if (in->is_view && !in->base && in->m != in->train->snapshot)
        return rlaif_errorf(err, errlen, RLAIF_E_STATE, WHO ": save: the view's base is gone");
    tf_train *tr = in->is_view ? NULL : in->train;
    if ((what & RLAIF_SAVE_ADAPTER) && !(tr && tr->has_lora))
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": save: no LoRA adapters to save (config key 'lora')");
    rlaif_status st = make_dirs(dir, err, errlen);
    if (st) return st;
    if (what & RLAIF_SAVE_WEIGHTS) st = save_weights(in, dir, (what & RLAIF_SAVE_MERGED) != 0, err, errlen);
    if (!st && tr && tr->has_lora && (what & (RLAIF_SAVE_ADAPTER | RLAIF_SAVE_TRAINING)))
        st = save_adapter(tr, dir, err, errlen);
    if (!st && (what & RLAIF_SAVE_TRAINING)) st = save_training(in, dir, err, errlen);
    return st;
}

/* ===== Loading a state ================================================== */

static int same_shape(const tf_config *a, const tf_config *b)
{
    return a->arch == b->arch && a->dim == b->dim && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
           a->head_dim == b->head_dim && a->hidden_dim == b->hidden_dim &&
           a->vocab_size == b->vocab_size && a->max_seq_len == b->max_seq_len &&
           a->tied == b->tied && a->qkv_bias == b->qkv_bias && a->o_bias == b->o_bias;
}

static rlaif_status load_weights(tf_instance *in, const char *dir, char *err, size_t errlen)
{
    tf_model *m = in->m, *w = NULL;
    char e2[1024];
    rlaif_status st = tf_model_load_hf(dir, m->cfg.value_head, m->cfg.score_head, in->seed, &w,
                                       e2, sizeof e2);
    if (st) return rlaif_errorf(err, errlen, st, WHO ": load_state: %s", e2);
    if (!same_shape(&w->cfg, &m->cfg) || w->n_params != m->n_params) {
        tf_model_free(w);
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": load_state: %s/config.json describes another model shape than "
                            "this instance's", dir);
    }
    /* with LoRA the file holds W0: the new frozen base */
    memcpy(m->params, w->params, m->n_params * sizeof(float));
    tf_model_free(w);
    return RLAIF_OK;
}

static rlaif_status load_adapter(tf_train *tr, const char *dir, char *err, size_t errlen)
{
    char path[4200], e2[1024];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    lora_config lc;
    if (lora_config_read(&lc, path, e2, sizeof e2))
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, WHO ": load_state: %s", e2);
    if (lc.r != tr->lora.cfg.r || lc.n_targets != tr->lora.cfg.n_targets ||
        lora_scale(lc.alpha, lc.r, lc.rslora) != tr->lora.scale)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": load_state: %s: rank %zu, alpha %g, %zu targets; this model's "
                            "LoRA has rank %zu, alpha %g, %zu targets", path, lc.r, (double)lc.alpha,
                            lc.n_targets, tr->lora.cfg.r, (double)tr->lora.cfg.alpha,
                            tr->lora.cfg.n_targets);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    rlaif_status st = tf_lora_load(&tr->lora, path, e2, sizeof e2);
    if (st) return rlaif_errorf(err, errlen, st, WHO ": load_state: %s", e2);
    return RLAIF_OK;
}

static rlaif_status load_training(tf_instance *in, const char *path, char *err, size_t errlen)
{
    tf_train *tr = in->train;
    tf_model *m = in->m;
    train_state s;
    char e2[1024];
    if (train_state_read(path, &s, e2, sizeof e2))
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT, WHO ": load_state: %s", e2);
    int lora = -1;
    size_t groups = 0, n0 = 0, n1 = 0, heads = 0;
    size_t hl = s.extra ? strnlen((const char *)s.extra, s.extra_len) : 0;
    int ok = s.extra && hl < s.extra_len &&
             sscanf((const char *)s.extra, EXTRA_FMT, &lora, &groups, &n0, &n1, &heads) == 5;
    size_t want_heads = tr->has_lora && tr->n_groups > 1 ? m->n_params - tr->groups[1].base : 0;
    rlaif_status st = RLAIF_OK;
    if (!ok || s.extra_len != hl + 1 + heads * sizeof(float))
        st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                          WHO ": load_state: %s: not a transformer training state", path);
    else if (lora != tr->has_lora || groups != tr->n_groups || n0 != tr->groups[0].opt.n ||
             n1 != (tr->n_groups > 1 ? tr->groups[1].opt.n : 0) || heads != want_heads ||
             (s.n_moments && s.n_moments != n0 + n1))
        st = rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                          WHO ": load_state: %s was saved by a model with another shape or "
                          "training setup (LoRA %s, %zu optimizer elements; this one: LoRA %s, "
                          "%zu)", path, lora > 0 ? "on" : "off", n0 + n1,
                          tr->has_lora ? "on" : "off",
                          tr->groups[0].opt.n + (tr->n_groups > 1 ? tr->groups[1].opt.n : 0));
    for (size_t k = 0; !st && s.n_moments && k < tr->n_groups; k++)
        st = alloc_moments(&tr->groups[k], err, errlen);
    if (st) {
        train_state_free(&s);
        return st;
    }
    size_t off = 0;
    for (size_t k = 0; k < tr->n_groups; k++) {
        tf_group *g = &tr->groups[k];
        if (s.n_moments) {
            memcpy(g->opt.m, s.m + off, g->opt.n * sizeof(float));
            memcpy(g->opt.v, s.v + off, g->opt.n * sizeof(float));
        } else {
            adamw_free(&g->opt);
        }
        off += g->opt.n;
        g->opt.step = s.step;
    }
    if (heads) memcpy(m->params + tr->groups[1].base, s.extra + hl + 1, heads * sizeof(float));
    tr->step = s.step;
    train_state_free(&s);
    return RLAIF_OK;
}

rlaif_status tf_plugin_load_state(void *self, const char *dir, char *err, size_t errlen)
{
    tf_instance *in = self;
    if (in->is_view || !in->train)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": load_state on a frozen reference view");
    if (!dir || !dir[0])
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": load_state: no directory");
    tf_train *tr = in->train;
    char wpath[4200], apath[4200], spath[4200];
    snprintf(wpath, sizeof wpath, "%s/model.safetensors", dir);
    snprintf(apath, sizeof apath, "%s/adapter_model.safetensors", dir);
    snprintf(spath, sizeof spath, "%s/" STATE_FILE, dir);
    int has_w = file_exists(wpath), has_a = file_exists(apath), has_s = file_exists(spath);
    if (!has_w && !has_a && !has_s)
        return rlaif_errorf(err, errlen, RLAIF_E_IO,
                            WHO ": load_state: %s has no model.safetensors, adapter or "
                            STATE_FILE, dir);
    if (has_a && !tr->has_lora)
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID,
                            WHO ": load_state: %s holds a LoRA adapter but this model was created "
                            "without config key 'lora'", dir);
    rlaif_status st = detach_views(in, err, errlen);
    if (st) return st;
    if (has_w) st = load_weights(in, dir, err, errlen);
    if (!st && has_a) st = load_adapter(tr, dir, err, errlen);
    if (!st && has_s) st = load_training(in, spath, err, errlen);
    in->m->version++;
    in->kept = 0;
    tf_plugin_zero_grad(in);
    return st;
}

/* ===== Reference views ================================================== */

rlaif_status tf_plugin_reference(void *self, void **out_view, char *err, size_t errlen)
{
    tf_instance *in = self;
    if (!out_view) return rlaif_errorf(err, errlen, RLAIF_E_INVALID, WHO ": reference: out is NULL");
    *out_view = NULL;
    if (in->is_view || !in->train)
        return rlaif_errorf(err, errlen, RLAIF_E_UNSUPPORTED,
                            WHO ": reference of a reference view (it is frozen already: use it)");
    tf_train *tr = in->train;
    if (!tr->has_lora && tr->n_views == tr->cap_views) {
        size_t cap = tr->cap_views ? 2 * tr->cap_views : 4;
        tf_instance **nv = realloc(tr->views, cap * sizeof *nv);
        if (!nv) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
        tr->views = nv;
        tr->cap_views = cap;
    }
    tf_instance *v = calloc(1, sizeof *v);
    if (!v || !(v->train = calloc(1, sizeof *v->train)) || !(v->source = strdup(in->source))) {
        if (v) free(v->train);
        free(v);
        return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    }
    v->host = in->host;
    v->m = in->m;
    v->tok = in->tok;
    memcpy(v->arch, in->arch, sizeof v->arch);
    v->seed = in->seed;
    v->stop_at_bos = in->stop_at_bos;
    v->is_view = 1;
    v->base = in;
    rlaif_status st = tf_engine_init(&v->eng, in->m, in->eng.n_threads, err, errlen);
    if (!st && in->eng.decode_bf16) st = tf_engine_use_bf16_decode(&v->eng, err, errlen);
    if (!st) tf_pool_set_bf16(v->eng.pool, tf_pool_bf16(in->eng.pool)); /* same precision */
    if (st) {
        tf_engine_free(&v->eng);
        free(v->train);
        free(v->source);
        free(v);
        return st;
    }
    if (!tr->has_lora) tr->views[tr->n_views++] = v;
    *out_view = v;
    return RLAIF_OK;
}
