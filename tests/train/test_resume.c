/*
 * test_resume.c — exact resume: four AdamW steps of the reference stack on
 * llama_tiny, against two steps, a checkpoint (weights as safetensors plus
 * the training-state file: moments, step, schedule, RNG, data cursor), a
 * fresh process-like reload and two more steps.  The final weights and
 * moments must be bit-identical.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adamw.h"
#include "ref_stack.h"
#include "st_read.h"
#include "st_write.h"
#include "train_state.h"
#include "train_util.h"

static const ref_config TINY = {.arch = REF_LLAMA, .n_layers = 2, .dim = 64, .n_heads = 8,
                                .n_kv_heads = 4, .head_dim = 8, .hidden = 172, .vocab = 512,
                                .max_pos = 128, .eps = 1e-5f, .rope_theta = 10000.0f,
                                .rope = ROPE_HALF, .tied = true};
static const lr_schedule SCHED = {.kind = LR_COSINE, .lr_max = 1e-2f, .lr_min = 1e-3f,
                                  .warmup_steps = 1, .total_steps = 4};

/* The "run": model, optimizer, data RNG and cursor. */
typedef struct run {
    ref_model m;
    adamw_state opt;
    adamw_tensor *at;
    tu_rng rng;
    uint64_t cursor; /* sequences consumed */
    const int32_t *data;
    size_t n_seq, t;
} run;

static void run_init(run *r, const float *params, const int32_t *data, size_t n_seq, size_t t)
{
    ck_assert_int_eq(ref_init(&r->m, &TINY), 0);
    memcpy(r->m.params, params, r->m.n_params * sizeof(float));
    ck_assert_int_eq(ref_alloc_acts(&r->m, 1, t), 0);
    r->at = calloc(r->m.n_tensors, sizeof *r->at);
    for (size_t i = 0; i < r->m.n_tensors; i++)
        r->at[i] = (adamw_tensor){r->m.tensors[i].name, r->m.tensors[i].offset,
                                  r->m.tensors[i].numel, r->m.tensors[i].decay};
    adamw_init(&r->opt, r->m.n_params);
    tu_rng_seed(&r->rng, 5);
    r->cursor = 0;
    r->data = data;
    r->n_seq = n_seq;
    r->t = t;
}

static void run_free(run *r)
{
    adamw_free(&r->opt);
    free(r->at);
    ref_free(&r->m);
}

/* One step: a sequence chosen by the data cursor, a token dropped at a
 * position drawn from the RNG (so the RNG state matters), AdamW. */
static void run_step(run *r)
{
    int32_t seq[64];
    memcpy(seq, r->data + (r->cursor % r->n_seq) * r->t, r->t * sizeof(int32_t));
    size_t drop = (size_t)(tu_uniform(&r->rng, 0, 1) * (float)r->t) % r->t;
    seq[drop] = 0;
    r->cursor++;
    ref_zero_grads(&r->m);
    ref_forward(&r->m, seq, 1.0f, NULL, NULL);
    ref_backward(&r->m, NULL);
    adamw_params p = adamw_params_default();
    p.lr = lr_at(&SCHED, r->opt.step);
    p.max_grad_norm = 1.0f;
    char err[256];
    ck_assert_msg(adamw_step(&r->opt, r->m.params, r->m.grads, r->at, r->m.n_tensors, &p, NULL,
                             err, sizeof err) == 0, "%s", err);
}

static void save(const run *r, const char *dir)
{
    char path[600], err[256];
    stw_tensor *ts = calloc(r->m.n_tensors, sizeof *ts);
    for (size_t i = 0; i < r->m.n_tensors; i++) {
        const ref_tensor *t = &r->m.tensors[i];
        ts[i] = (stw_tensor){.name = t->name, .data = r->m.params + t->offset, .ndim = t->ndim,
                            .shape = {t->shape[0], t->shape[1]}, .dtype = STW_F32};
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_msg(stw_write(path, ts, r->m.n_tensors, err, sizeof err) == 0, "%s", err);
    free(ts);
    train_state s = {.step = r->opt.step, .rng = {r->rng.s}, .schedule = SCHED,
                     .n_moments = r->opt.n, .m = r->opt.m, .v = r->opt.v,
                     .extra = (unsigned char *)&r->cursor, .extra_len = sizeof r->cursor};
    snprintf(path, sizeof path, "%s/training_state.bin", dir);
    ck_assert_msg(train_state_write(path, &s, err, sizeof err) == 0, "%s", err);
}

static void load(run *r, const char *dir)
{
    char path[600], err[256];
    rd_file f;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_msg(rd_open(&f, path, err, sizeof err) == 0, "%s", err);
    for (size_t i = 0; i < r->m.n_tensors; i++) {
        size_t n;
        float *p = rd_get_f32(&f, r->m.tensors[i].name, &n);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(n, r->m.tensors[i].numel);
        memcpy(r->m.params + r->m.tensors[i].offset, p, n * sizeof(float));
        free(p);
    }
    rd_close(&f);
    train_state s;
    snprintf(path, sizeof path, "%s/training_state.bin", dir);
    ck_assert_msg(train_state_read(path, &s, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(s.n_moments, r->m.n_params);
    ck_assert_uint_eq(s.extra_len, sizeof r->cursor);
    ck_assert_uint_eq(s.schedule.total_steps, SCHED.total_steps);
    /* The optimizer takes ownership of the moments. */
    adamw_free(&r->opt);
    r->opt.n = s.n_moments;
    r->opt.m = s.m;
    r->opt.v = s.v;
    r->opt.step = s.step;
    r->rng.s = s.rng[0];
    memcpy(&r->cursor, s.extra, sizeof r->cursor);
    free(s.extra);
}

START_TEST(test_exact_resume)
{
    char path[512], err[256];
    rd_file f, g;
    ck_assert_msg(rd_open(&f, rd_golden_path(path, sizeof path, "llama_tiny/model.safetensors"), err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rd_open(&g, rd_golden_path(path, sizeof path, "llama_tiny/golden.safetensors"), err, sizeof err) == 0, "%s", err);
    size_t nid;
    int32_t *ids = rd_get_i32(&g, "input_ids", &nid);
    /* Initial weights from the golden model. */
    ref_model tmp;
    ck_assert_int_eq(ref_init(&tmp, &TINY), 0);
    for (size_t i = 0; i < tmp.n_tensors; i++) {
        float *p = rd_get_f32(&f, tmp.tensors[i].name, NULL);
        ck_assert_ptr_nonnull(p);
        memcpy(tmp.params + tmp.tensors[i].offset, p, tmp.tensors[i].numel * sizeof(float));
        free(p);
    }

    run a, b, c;
    run_init(&a, tmp.params, ids, 2, nid / 2);
    for (int s = 0; s < 4; s++) run_step(&a);

    char dir[] = "/tmp/rlaif_train_resume_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    run_init(&b, tmp.params, ids, 2, nid / 2);
    run_step(&b);
    run_step(&b);
    save(&b, dir);
    run_free(&b);

    /* A fresh run from other weights: everything must come from the files. */
    for (size_t i = 0; i < tmp.n_params; i++) tmp.params[i] = 0.5f;
    run_init(&c, tmp.params, ids, 2, nid / 2);
    load(&c, dir);
    run_step(&c);
    run_step(&c);

    ck_assert_uint_eq(c.opt.step, 4);
    ck_assert_uint_eq(c.cursor, a.cursor);
    ck_assert_mem_eq(c.m.params, a.m.params, a.m.n_params * sizeof(float));
    ck_assert_mem_eq(c.opt.m, a.opt.m, a.m.n_params * sizeof(float));
    ck_assert_mem_eq(c.opt.v, a.opt.v, a.m.n_params * sizeof(float));
    /* And training moved the weights (the comparison is not vacuous). */
    float *p0 = rd_get_f32(&f, "model.layers.0.self_attn.q_proj.weight", NULL);
    long qi = ref_find(&a.m, "model.layers.0.self_attn.q_proj.weight");
    ck_assert(tu_rel_err(a.m.params + a.m.tensors[qi].offset, p0, a.m.tensors[qi].numel, 1e-9) > 1e-3);
    free(p0);

    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/training_state.bin", dir);
    unlink(path);
    rmdir(dir);
    run_free(&a);
    run_free(&c);
    ref_free(&tmp);
    free(ids);
    rd_close(&f);
    rd_close(&g);
}
END_TEST

static Suite *resume_suite(void)
{
    Suite *s = suite_create("train_resume");
    TCase *tc = tcase_create("resume");
    tcase_add_test(tc, test_exact_resume);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(resume_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
