/*
 * rlaif/plugin.h — the plugin ABI of rlaif.  The only header a plugin needs.
 *
 * A plugin is a shared object exporting one symbol, `rlaif_plugin_entry`
 * (see RLAIF_PLUGIN_ENTRY_SYMBOL).  The host dlopen()s the file with
 * RTLD_NOW | RTLD_LOCAL, calls the entry with the host's ABI version and
 * reads back a `rlaif_plugin_info`.  The very first field of that struct is
 * the plugin's ABI version, which the host compares before it reads anything
 * else.  The plugin never links against the host: everything it may call on
 * the host side arrives in a `rlaif_host` table.
 *
 * Four kinds of plugin exist; each has a vtable that starts with the same
 * lifecycle (create from JSON config text, destroy):
 *   model      owns weights, tokenizer and optimizer state (policy,
 *              reference, reward model and labeler are all models);
 *   labeler    an AI judging responses (pairwise, direct score, revision);
 *   reward     any function of (prompt, response, metadata) -> number;
 *   optimizer  a training algorithm that turns a batch into gradients of the
 *              model's per-token outputs, calls model->backward and
 *              model->step, and never touches weights itself.
 *
 * ---------------------------------------------------------------------------
 * ABI RULES (what may change without bumping RLAIF_ABI_VERSION)
 *   - Structs that carry `struct_size` may grow at the end.  A reader checks
 *     `struct_size` before touching a member added after version 1; a writer
 *     sets `struct_size = sizeof(the struct it was compiled with)`.
 *   - Vtables are append-only: members are never reordered, removed or
 *     retyped.  A member documented OPTIONAL may be NULL; the caller checks.
 *   - Enumerations and capability bits only gain new values.
 *   - Anything else (reordering, removing, changing a type or a meaning)
 *     bumps RLAIF_ABI_VERSION, and the host refuses plugins built against
 *     another version: "incompatible ABI (plugin N, host M)".
 *
 * OWNERSHIP AND LIFETIMES (the general rule; each function states its own)
 *   - Pointers the caller passes in (strings, arrays, config text) are only
 *     valid during the call.  Copy what you keep.
 *   - Output arrays are allocated by the caller, with their sizes stated by
 *     the function.  Where an output has no size known in advance, the
 *     function returns RLAIF_E_RANGE and the size it needs, and the caller
 *     calls again with a larger buffer.
 *   - Strings a plugin returns inside a result struct (`const char *`) are
 *     owned by the plugin instance and stay valid until the next call on the
 *     same instance or its destruction, whichever comes first.
 *   - Error messages go into a caller-owned buffer `err` of `errlen` bytes
 *     (always NUL-terminated when errlen > 0; may be NULL when errlen is 0).
 *     A message names the file, tensor, key or index at fault.
 *   - The `rlaif_host` table and the `rlaif_plugin_info` (with its vtable)
 *     live as long as the plugin is loaded, which is at least as long as any
 *     instance created from it.
 *   - Instances (`void *self`) are created by `create` and freed by
 *     `destroy`; the host calls nothing on an instance after destroy.
 *
 * THREADS
 *   An instance is used by one thread at a time unless its plugin sets the
 *   RLAIF_CAP_THREAD_SAFE capability.  A plugin may run its own threads inside
 *   a call (the model plugin does) but returns only when they are idle.
 */
#ifndef RLAIF_PLUGIN_H
#define RLAIF_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===== Versions and symbols ============================================= */

/* Bumped on every incompatible change (see ABI RULES above). */
#define RLAIF_ABI_VERSION 1

/* The one symbol every plugin exports, of type rlaif_plugin_entry_fn. */
#define RLAIF_PLUGIN_ENTRY_SYMBOL "rlaif_plugin_entry"

#if defined(__GNUC__)
#define RLAIF_EXPORT __attribute__((visibility("default")))
#else
#define RLAIF_EXPORT
#endif

/* ===== Status codes ===================================================== */

typedef enum rlaif_status {
    RLAIF_OK = 0,
    RLAIF_E_INVALID = 1,     /* bad argument or config (message names the key) */
    RLAIF_E_NOMEM = 2,       /* an allocation failed */
    RLAIF_E_IO = 3,          /* a file could not be read or written */
    RLAIF_E_FORMAT = 4,      /* a file or text is malformed (names file and field) */
    RLAIF_E_UNSUPPORTED = 5, /* this instance cannot do that (missing capability) */
    RLAIF_E_RANGE = 6,       /* an output buffer is too small; the size needed is reported */
    RLAIF_E_CANCELLED = 7,   /* the host's cancelled() said stop */
    RLAIF_E_NUMERIC = 8,     /* NaN or Inf met (message names the quantity) */
    RLAIF_E_STATE = 9,       /* wrong order of calls, e.g. backward without forward */
    RLAIF_E_EXTERNAL = 10,   /* a child process, server or network peer failed */
    RLAIF_E_INTERNAL = 11    /* a bug: please report it */
} rlaif_status;

/* ===== Kinds and capabilities =========================================== */

typedef enum rlaif_kind {
    RLAIF_KIND_MODEL = 1,
    RLAIF_KIND_LABELER = 2,
    RLAIF_KIND_REWARD = 3,
    RLAIF_KIND_OPTIMIZER = 4
} rlaif_kind;

/* Capability bits, in rlaif_plugin_info.caps.  Bits 0-15 are shared by all
 * kinds; each kind has its own bits from 16 up (the same bit may mean
 * different things for different kinds). */
#define RLAIF_CAP_THREAD_SAFE (1ull << 0)   /* one instance may be called from several threads */
#define RLAIF_CAP_SAVE (1ull << 1)          /* save/load state */

#define RLAIF_CAP_MODEL_GENERATE (1ull << 16)
#define RLAIF_CAP_MODEL_FORWARD (1ull << 17)    /* token logprobs, next-token distributions */
#define RLAIF_CAP_MODEL_TRAIN (1ull << 18)      /* backward + step */
#define RLAIF_CAP_MODEL_LORA (1ull << 19)
#define RLAIF_CAP_MODEL_VALUE_HEAD (1ull << 20)
#define RLAIF_CAP_MODEL_SCORE_HEAD (1ull << 21)
#define RLAIF_CAP_MODEL_REFERENCE (1ull << 22)  /* frozen views without a copy */

#define RLAIF_CAP_LABELER_COMPARE (1ull << 16)
#define RLAIF_CAP_LABELER_SCORE (1ull << 17)
#define RLAIF_CAP_LABELER_REVISE (1ull << 18)

#define RLAIF_CAP_REWARD_PER_TOKEN (1ull << 16) /* fills token_rewards */
#define RLAIF_CAP_REWARD_SPANS (1ull << 17)     /* fills details with spans */

#define RLAIF_CAP_OPTIMIZER_OFFLINE (1ull << 16) /* trains on a fixed data set (sft, dpo, ...) */
#define RLAIF_CAP_OPTIMIZER_ONLINE (1ull << 17)  /* trains on fresh rollouts (ppo, grpo, ...) */

/* ===== The host table =================================================== */

typedef enum rlaif_log_level {
    RLAIF_LOG_DEBUG = 0,
    RLAIF_LOG_INFO = 1,
    RLAIF_LOG_WARN = 2,
    RLAIF_LOG_ERROR = 3
} rlaif_log_level;

/* A reference to another live instance (a model given to a labeler, a
 * labeler given to a reward, ...).  Obtained with host->acquire, which keeps
 * the instance alive until the matching host->release.  `vtable` points to
 * the kind's vtable (rlaif_model_vtable for RLAIF_KIND_MODEL, ...). */
typedef struct rlaif_ref {
    uint32_t struct_size;
    rlaif_kind kind;
    uint64_t handle;      /* the host's id of the instance */
    const void *vtable;   /* cast to the kind's vtable type */
    void *self;           /* pass as `self` to the vtable's functions */
} rlaif_ref;

typedef struct rlaif_host rlaif_host;
struct rlaif_host {
    uint32_t abi_version;  /* RLAIF_ABI_VERSION of the host */
    uint32_t struct_size;

    /* Memory.  Plugins may use their own allocator; these exist so that a
     * host can account for and limit memory.  free(NULL) is a no-op. */
    void *(*alloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);

    /* Logging.  `who` is the plugin's name (may be NULL).  The message is
     * copied; it needs no trailing newline. */
    void (*log)(const rlaif_host *host, rlaif_log_level level, const char *who,
                const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 4, 5)))
#endif
        ;

    /* Nonzero once the user asked to stop (SIGINT, a Lua error elsewhere).
     * Long calls poll it between units of work and return
     * RLAIF_E_CANCELLED, leaving the instance usable. */
    int (*cancelled)(const rlaif_host *host);

    /* Progress of long work: `phase` names it ("generate", "label", ...),
     * `done` of `total` units (total 0 = unknown).  Cheap to call; the host
     * rate-limits what it prints.  Strings are copied. */
    void (*progress)(const rlaif_host *host, const char *phase, uint64_t done,
                     uint64_t total);

    /* Other instances by handle.  A config names an instance as the JSON
     * object {"rlaif_handle": N}; acquire() checks that N is live and of
     * kind `kind` and fills `out` (out->struct_size set by the caller).
     * Returns RLAIF_E_INVALID with a message when it is not.  Every
     * successful acquire is paired with one release, normally in destroy. */
    rlaif_status (*acquire)(const rlaif_host *host, uint64_t handle, rlaif_kind kind,
                            rlaif_ref *out, char *err, size_t errlen);
    void (*release)(const rlaif_host *host, uint64_t handle);

    /* The directory of the rlaif data files (constitutions, lexicons,
     * models), e.g. "/usr/local/share/rlaif" or the source tree.  Valid for
     * the life of the host. */
    const char *data_dir;
};

/* ===== Common lifecycle ================================================= */

/* Every kind's vtable begins with this struct, so a host can create and
 * destroy any instance without knowing its kind. */
typedef struct rlaif_lifecycle {
    uint32_t struct_size; /* sizeof the whole kind vtable */

    /* Creates an instance from `config_json` (a JSON object as text, "{}"
     * for defaults; only valid during the call).  Unknown keys and wrong
     * types are errors naming the key.  `host` outlives the instance and
     * may be kept.  On success stores the instance in *out_self. */
    rlaif_status (*create)(const rlaif_host *host, const char *config_json, void **out_self,
                           char *err, size_t errlen);

    /* Frees everything the instance owns and releases what it acquired.
     * NULL is a no-op. */
    void (*destroy)(void *self);
} rlaif_lifecycle;

/* ===== Shared data shapes =============================================== */

/* A batch of token sequences of different lengths.  Everything is owned by
 * the caller and only valid during the call.
 *   ids[b]        int32 [len[b]]  the tokens of sequence b (BOS included if any)
 *   prompt_len[b] number of leading tokens that are prompt (OPTIONAL: NULL
 *                 means 0); outputs are produced for every position anyway,
 *                 callers mask what they do not want.
 * Per-token outputs of sequences are laid out one after another ("flat"):
 * position t of sequence b is element off[b] + t, off[b] = sum_{i<b} len[i]. */
typedef struct rlaif_seqs {
    uint32_t struct_size;
    size_t n;
    const int32_t *const *ids;
    const size_t *len;
    const size_t *prompt_len;
} rlaif_seqs;

/* A named statistic returned by a plugin. `name` follows the result rule
 * (plugin-owned until the next call). */
typedef struct rlaif_stat {
    const char *name;
    double value;
} rlaif_stat;

/* ===== Model kind ======================================================= */

typedef struct rlaif_model_info {
    uint32_t struct_size;
    const char *arch;       /* "llama", "qwen2", "gpt2" (instance-owned) */
    int32_t vocab_size;
    int32_t max_seq_len;    /* longest sequence the position scheme allows */
    int32_t bos_id;         /* -1 when the tokenizer has none */
    int32_t eos_id;         /* -1 when the tokenizer has none */
    int32_t pad_id;         /* -1 when none */
    uint64_t n_params;      /* all parameters, including LoRA and heads */
    uint64_t n_trainable;   /* parameters that receive gradients now */
    int32_t dim, n_layers, n_heads, n_kv_heads, hidden_dim;
    uint8_t has_value_head, has_score_head, has_lora, is_frozen;
} rlaif_model_info;

/* Sampling settings for generate().  Caller-owned, valid during the call. */
typedef struct rlaif_sampling {
    uint32_t struct_size;
    float temperature;     /* 0 = greedy (logprobs then use temperature 1) */
    int32_t top_k;         /* 0 = off */
    float top_p;           /* 1 = off */
    uint32_t max_new_tokens;
    const int32_t *stop_ids;          /* stop when one of these is sampled (it is kept) */
    size_t n_stop_ids;
    const char *const *stop_strings;  /* stop once the decoded text contains one */
    size_t n_stop_strings;
    uint64_t seed;         /* sequence b samples with its own stream seeded from (seed, b) ... */
    const uint64_t *seeds; /* ... unless seeds[b] is given (OPTIONAL, n entries) */
    uint8_t ignore_eos;    /* nonzero: the EOS token does not stop generation */
} rlaif_sampling;

enum { RLAIF_FINISH_LENGTH = 0, RLAIF_FINISH_STOP = 1 };

/* Outputs of generate(), all caller-allocated with room for
 * n × max_new_tokens entries (sequence b's tokens start at b*max_new_tokens). */
typedef struct rlaif_generation {
    uint32_t struct_size;
    int32_t *ids;         /* [n * max_new_tokens] new tokens */
    float *logprobs;      /* [n * max_new_tokens] log p of each sampled token under the
                             sampling distribution (temperature applied; before top-k/p) */
    size_t *n_new;        /* [n] tokens produced for each sequence */
    uint8_t *finish;      /* [n] RLAIF_FINISH_* */
} rlaif_generation;

/* What forward() should compute.  Flags may be or-ed. */
#define RLAIF_OUT_LOGPROBS (1u << 0) /* log p(ids[t+1] | ids[..t]) at t < len-1 */
#define RLAIF_OUT_ENTROPY (1u << 1)  /* entropy of the next-token distribution at t */
#define RLAIF_OUT_VALUES (1u << 2)   /* value head at every position t */
#define RLAIF_OUT_SCORE (1u << 3)    /* score head at the last token of each sequence */
#define RLAIF_OUT_KEEP (1u << 8)     /* keep activations for backward() */

/* Outputs of forward() and, with the same layout, their gradients for
 * backward().  Arrays are caller-owned.  Per-token arrays are flat (see
 * rlaif_seqs) with sum(len) entries; the entry at t = len-1 of logprobs and
 * entropy is written as 0 and its gradient ignored.  A NULL array is not
 * computed (forward) or has zero gradient (backward). */
typedef struct rlaif_outputs {
    uint32_t struct_size;
    float *logprobs;  /* [sum len] */
    float *entropy;   /* [sum len] */
    float *values;    /* [sum len] */
    float *score;     /* [n] */
} rlaif_outputs;

/* AdamW and clipping settings for step().  The learning-rate schedule is
 * the caller's: it passes the rate for this step. */
typedef struct rlaif_step_params {
    uint32_t struct_size;
    float lr;
    float beta1, beta2, eps;
    float weight_decay;   /* decoupled, applied to matrices only */
    float max_grad_norm;  /* 0 = no clipping */
    float grad_scale;     /* gradients are multiplied by this before use (1 = as is);
                             lets a caller normalise over an accumulated batch */
} rlaif_step_params;

typedef struct rlaif_step_result {
    uint32_t struct_size;
    double grad_norm;     /* before clipping */
    uint64_t step;        /* optimizer steps taken so far, this one included */
} rlaif_step_result;

/* What save() writes. */
#define RLAIF_SAVE_WEIGHTS (1u << 0)  /* HF layout: config.json, model.safetensors, tokenizer */
#define RLAIF_SAVE_ADAPTER (1u << 1)  /* PEFT layout: adapter_config.json, adapter_model.safetensors */
#define RLAIF_SAVE_TRAINING (1u << 2) /* optimizer moments, step, RNG: exact resume */
#define RLAIF_SAVE_MERGED (1u << 3)   /* with WEIGHTS: LoRA merged into the base */

typedef struct rlaif_model_vtable {
    rlaif_lifecycle base;

    /* Fills *out (out->struct_size set by the caller).  Strings inside are
     * instance-owned for the life of the instance. */
    rlaif_status (*info)(void *self, rlaif_model_info *out);

    /* Text -> ids.  Writes at most `cap` ids to `out` and the count to *n.
     * If cap is too small, returns RLAIF_E_RANGE with *n = the count
     * needed.  add_bos: prepend the BOS token when the model has one. */
    rlaif_status (*tokenize)(void *self, const char *text, size_t text_len, int add_bos,
                             int32_t *out, size_t cap, size_t *n, char *err, size_t errlen);

    /* Ids -> UTF-8 text (special tokens like BOS are dropped when
     * skip_special).  Writes at most `cap` bytes plus a NUL; on
     * RLAIF_E_RANGE *len is the byte count needed without the NUL. */
    rlaif_status (*detokenize)(void *self, const int32_t *ids, size_t n, int skip_special,
                               char *out, size_t cap, size_t *len, char *err, size_t errlen);

    /* Continues every prompt of `prompts` (prompt_len ignored).  Sequences
     * of different lengths share one batch.  OPTIONAL (RLAIF_CAP_MODEL_GENERATE). */
    rlaif_status (*generate)(void *self, const rlaif_seqs *prompts, const rlaif_sampling *s,
                             rlaif_generation *out, char *err, size_t errlen);

    /* Runs the model over `seqs` and computes what `want` asks for into
     * `out`.  Logits are divided by `temperature` (use 1 for none) before
     * logprobs and entropy.  With RLAIF_OUT_KEEP the activations stay until
     * the next forward/backward on this instance.  OPTIONAL. */
    rlaif_status (*forward)(void *self, const rlaif_seqs *seqs, uint32_t want, float temperature,
                            rlaif_outputs *out, char *err, size_t errlen);

    /* The log-softmax of the next-token distribution after each whole
     * sequence: out is [n × vocab_size], caller-owned.  Temperature 1.
     * OPTIONAL. */
    rlaif_status (*next_logprobs)(void *self, const rlaif_seqs *seqs, float *out, char *err,
                                  size_t errlen);

    /* Accumulates parameter gradients from dL/d(outputs) of the last
     * forward with RLAIF_OUT_KEEP (same seqs, same temperature); gradients
     * add up over calls until step() or zero_grad().  OPTIONAL
     * (RLAIF_CAP_MODEL_TRAIN); RLAIF_E_STATE without a kept forward,
     * RLAIF_E_UNSUPPORTED on a frozen view. */
    rlaif_status (*backward)(void *self, const rlaif_outputs *grads, char *err, size_t errlen);

    /* One AdamW update of the trainable parameters from the accumulated
     * gradients, then zeroes them.  RLAIF_E_NUMERIC (naming the parameter)
     * and no update when a gradient is not finite.  OPTIONAL. */
    rlaif_status (*step)(void *self, const rlaif_step_params *p, rlaif_step_result *out,
                         char *err, size_t errlen);

    /* Drops accumulated gradients.  OPTIONAL. */
    void (*zero_grad)(void *self);

    /* Writes `what` (RLAIF_SAVE_*) into directory `dir` (created if
     * needed).  Every file is written to a temporary name and renamed, so an
     * interrupted save leaves the previous files intact.  OPTIONAL. */
    rlaif_status (*save)(void *self, const char *dir, uint32_t what, char *err, size_t errlen);

    /* Restores the training state written by save(RLAIF_SAVE_TRAINING)
     * (and weights or adapters found in `dir`).  OPTIONAL. */
    rlaif_status (*load_state)(void *self, const char *dir, char *err, size_t errlen);

    /* Creates a frozen view sharing this instance's weights: LoRA adapters
     * disabled, no gradients.  The view is destroyed with base.destroy and
     * must be destroyed before this instance.  OPTIONAL
     * (RLAIF_CAP_MODEL_REFERENCE). */
    rlaif_status (*reference)(void *self, void **out_view, char *err, size_t errlen);
} rlaif_model_vtable;

/* ===== Labeler kind ===================================================== */

/* One pairwise comparison: is `a` or `b` the better response to `prompt`?
 * Strings are caller-owned, valid during the call. */
typedef struct rlaif_compare_req {
    const char *prompt;
    const char *a;
    const char *b;
    uint64_t seed;   /* picks the principle and any sampling: same seed, same answer */
} rlaif_compare_req;

typedef struct rlaif_compare_result {
    double p_a;           /* p(a ≻ b) after both orders are averaged (and any clamping) */
    double p_a_first;     /* p(a ≻ b) with a shown first */
    double p_a_second;    /* p(a ≻ b) with a shown second */
    const char *principle_id;  /* instance-owned (result rule); may be NULL */
    const char *rationale;     /* chain-of-thought text or NULL (result rule) */
} rlaif_compare_result;

typedef struct rlaif_score_req {
    const char *prompt;
    const char *response;
    uint64_t seed;
} rlaif_score_req;

typedef struct rlaif_score_result {
    double score;               /* in [-1, 1] */
    const char *principle_id;   /* result rule; may be NULL */
} rlaif_score_result;

/* One round of critique and revision. */
typedef struct rlaif_revision {
    const char *principle_id;   /* result rule */
    const char *critique;       /* result rule */
    const char *revision;       /* result rule */
} rlaif_revision;

typedef struct rlaif_labeler_vtable {
    rlaif_lifecycle base;

    /* Compares n pairs; results[i] answers reqs[i].  OPTIONAL
     * (RLAIF_CAP_LABELER_COMPARE). */
    rlaif_status (*compare)(void *self, size_t n, const rlaif_compare_req *reqs,
                            rlaif_compare_result *results, char *err, size_t errlen);

    /* Direct scores (d-RLAIF) of n responses.  OPTIONAL (..._SCORE). */
    rlaif_status (*score)(void *self, size_t n, const rlaif_score_req *reqs,
                          rlaif_score_result *results, char *err, size_t errlen);

    /* `rounds` rounds of critique then revision of one response, each with
     * a principle drawn with `seed`.  Fills out[0..rounds-1].  OPTIONAL
     * (..._REVISE). */
    rlaif_status (*revise)(void *self, const char *prompt, const char *response,
                           uint32_t rounds, uint64_t seed, rlaif_revision *out, char *err,
                           size_t errlen);

    /* Statistics since create (e.g. "position_bias": the fraction of
     * comparisons whose two orders disagreed).  *stats is instance-owned
     * (result rule).  OPTIONAL. */
    rlaif_status (*stats)(void *self, const rlaif_stat **stats, size_t *n);
} rlaif_labeler_vtable;

/* ===== Reward kind ====================================================== */

/* A batch to score.  All caller-owned, valid during the call. */
typedef struct rlaif_reward_batch {
    uint32_t struct_size;
    size_t n;
    const char *const *prompts;     /* [n] UTF-8 */
    const char *const *responses;   /* [n] UTF-8 */
    const char *const *metadata;    /* [n] JSON object text or NULL (OPTIONAL array) */
    const int32_t *const *response_ids; /* [n] tokens of each response (OPTIONAL) */
    const size_t *response_len;     /* [n] token counts (with response_ids) */
} rlaif_reward_batch;

/* Outputs, caller-allocated. */
typedef struct rlaif_reward_out {
    uint32_t struct_size;
    float *rewards;        /* [n] */
    float *metrics;        /* [n × n_metrics] named by the description, OPTIONAL (NULL: skip) */
    float *const *token_rewards; /* [n][response_len[i]] OPTIONAL, RLAIF_CAP_REWARD_PER_TOKEN */
    const char **details;  /* [n] filled with JSON text (e.g. spans) or NULL;
                              instance-owned (result rule); OPTIONAL array */
} rlaif_reward_out;

typedef struct rlaif_reward_desc {
    uint32_t struct_size;
    size_t n_metrics;
    const char *const *metric_names; /* instance-owned for the life of the instance */
} rlaif_reward_desc;

typedef struct rlaif_reward_vtable {
    rlaif_lifecycle base;

    /* Names the extra per-sample metrics score() can fill.  Required. */
    rlaif_status (*describe)(void *self, rlaif_reward_desc *out);

    /* Scores a batch.  A sample that cannot be scored (e.g. code that fails
     * to compile) gets its reward, not an error: errors are for the batch
     * as a whole (bad config, a dead server).  Required. */
    rlaif_status (*score)(void *self, const rlaif_reward_batch *batch, rlaif_reward_out *out,
                          char *err, size_t errlen);
} rlaif_reward_vtable;

/* ===== Optimizer kind =================================================== */

/* The models an algorithm works on; unused members have vtable == NULL.
 * References are lent for the call (the host keeps them alive). */
typedef struct rlaif_opt_models {
    uint32_t struct_size;
    rlaif_ref policy;     /* trained (also the reward model for reward_model) */
    rlaif_ref reference;  /* frozen; for KL and DPO */
    rlaif_ref value;      /* critic, when separate from the policy */
} rlaif_opt_models;

/* A batch of experience or data.  Caller-owned, valid during the call.
 *   seqs         the token sequences (prompt + response); seqs.prompt_len marks the prompt.
 *   For pairwise data (reward_model, dpo) sequences come in pairs (2i, 2i+1)
 *   and label[i] = p(seq 2i ≻ seq 2i+1) (1 for a hard "chosen first" label).
 *   For online data (ppo, grpo, rloo) rewards[b] is the sequence reward,
 *   sample_logprobs (flat) the sampler's logprobs of each token, group[b]
 *   the prompt a sample belongs to, finished[b] nonzero if it stopped. */
typedef struct rlaif_opt_batch {
    uint32_t struct_size;
    rlaif_seqs seqs;
    const float *label;            /* [n/2] pairwise data, OPTIONAL */
    const float *rewards;          /* [n] OPTIONAL */
    const float *token_rewards;    /* flat [sum len] OPTIONAL, added to per-token rewards */
    const float *sample_logprobs;  /* flat [sum len], entry t = log p(ids[t+1]) OPTIONAL */
    const uint32_t *group;         /* [n] OPTIONAL */
    const uint8_t *finished;       /* [n] OPTIONAL */
    float temperature;             /* the sampling temperature (1 if none) */
} rlaif_opt_batch;

typedef struct rlaif_opt_result {
    uint32_t struct_size;
    const rlaif_stat *stats;  /* instance-owned (result rule) */
    size_t n_stats;
} rlaif_opt_result;

typedef struct rlaif_optimizer_vtable {
    rlaif_lifecycle base;

    /* One training step (for online algorithms: one iteration over the
     * rollouts, with its epochs and minibatches).  Hyper-parameters come
     * from the create config.  RLAIF_E_NUMERIC names the step and quantity
     * when a loss or gradient is not finite; the models are then left as
     * they were before the step when the algorithm can guarantee it.
     * Required. */
    rlaif_status (*step)(void *self, const rlaif_opt_models *models, const rlaif_opt_batch *batch,
                         rlaif_opt_result *out, char *err, size_t errlen);

    /* The algorithm's own state (step count, adaptive KL coefficient, ...)
     * as JSON text, instance-owned (result rule), and its restoration.
     * OPTIONAL (RLAIF_CAP_SAVE). */
    rlaif_status (*get_state)(void *self, const char **json);
    rlaif_status (*set_state)(void *self, const char *json, char *err, size_t errlen);

    /* Computes loss and statistics without touching the model (held-out
     * evaluation).  OPTIONAL. */
    rlaif_status (*evaluate)(void *self, const rlaif_opt_models *models,
                             const rlaif_opt_batch *batch, rlaif_opt_result *out, char *err,
                             size_t errlen);
} rlaif_optimizer_vtable;

/* ===== The entry point ================================================== */

/* What a plugin says about itself.  Static storage in the plugin; lives as
 * long as the plugin is loaded.  `abi_version` is first so that a host of
 * any version can read it before anything else. */
typedef struct rlaif_plugin_info {
    uint32_t abi_version;     /* RLAIF_ABI_VERSION the plugin was built with */
    uint32_t struct_size;     /* sizeof(rlaif_plugin_info) */
    rlaif_kind kind;
    const char *name;         /* [a-z0-9_]+, unique per kind */
    const char *version;      /* the plugin's own version, e.g. "1.0.0" */
    const char *description;  /* one line */
    uint64_t caps;            /* RLAIF_CAP_* */
    const void *vtable;       /* rlaif_model_vtable * etc., by kind */
} rlaif_plugin_info;

/* The entry point.  `host_abi` is the host's RLAIF_ABI_VERSION; a plugin
 * may return NULL when it cannot serve that host.  Called once per load,
 * before any create.  The returned pointer stays valid while loaded. */
typedef const rlaif_plugin_info *(*rlaif_plugin_entry_fn)(uint32_t host_abi);

/* Use in the plugin's source:  RLAIF_PLUGIN(&my_info)  */
#define RLAIF_PLUGIN(info_ptr)                                                     \
    RLAIF_EXPORT const rlaif_plugin_info *rlaif_plugin_entry(uint32_t host_abi);   \
    RLAIF_EXPORT const rlaif_plugin_info *rlaif_plugin_entry(uint32_t host_abi)    \
    {                                                                              \
        (void)host_abi;                                                            \
        return (info_ptr);                                                         \
    }

/* ===== Small helpers for plugin authors ================================= */

/* Writes a formatted message into a caller-owned error buffer. */
#include <stdarg.h>
#include <stdio.h>
static inline rlaif_status rlaif_errorf(char *err, size_t errlen, rlaif_status code,
                                        const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static inline rlaif_status rlaif_errorf(char *err, size_t errlen, rlaif_status code,
                                        const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

#ifdef __cplusplus
}
#endif
#endif /* RLAIF_PLUGIN_H */
