/*
 * pool.h — one small pthread pool per model instance.
 *
 * tf_pool_run(p, n, fn, ctx) calls fn(ctx, i, thread) for i in [0, n) on the
 * pool's threads (the caller is thread 0) and returns when all are done.
 * Tasks are handed out through an atomic counter.  Workers spin briefly
 * between runs (decode issues hundreds of short runs per token) and then
 * sleep on a condition variable, so an idle pool costs nothing.
 * A NULL pool runs everything on the caller.
 */
#ifndef TF_POOL_H
#define TF_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct tf_pool tf_pool;
typedef void (*tf_task_fn)(void *ctx, size_t task, int thread);

/* n_threads counts the caller: 1 means no worker threads. */
tf_pool *tf_pool_create(int n_threads);
void tf_pool_free(tf_pool *p);
int tf_pool_size(const tf_pool *p);
void tf_pool_run(tf_pool *p, size_t n_tasks, tf_task_fn fn, void *ctx);

/* The pool's matmul precision: 1 sends tf_matmul's products through the
 * bf16 path (matmul_bf16.h).  Off by default and for a NULL pool. */
void tf_pool_set_bf16(tf_pool *p, int on);
int tf_pool_bf16(const tf_pool *p);

/* Scratch memory owned by the pool, at least `bytes`, 64-byte aligned, for
 * the caller's use until its next call (grown, never shrunk; freed with the
 * pool).  The pool's user is one thread at a time, like tf_pool_run's.
 * NULL for a NULL pool or when out of memory. */
void *tf_pool_scratch(tf_pool *p, size_t bytes);

/* Tells the bf16 path which memory holds the weights: a B operand inside
 * [base, base + bytes) is packed once and reused until *version changes
 * (the model's tf_model.version, read at each product; it must outlive the
 * pool's use).  Off until called; base NULL turns it off. */
void tf_pool_set_weights(tf_pool *p, const void *base, size_t bytes, const uint64_t *version);

/* The bf16 path's state kept by the pool (matmul_bf16.c owns the type). */
typedef struct tf_bf16_cache tf_bf16_cache;
tf_bf16_cache *tf_pool_bf16_cache(tf_pool *p);

#endif
