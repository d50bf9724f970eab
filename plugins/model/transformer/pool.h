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

typedef struct tf_pool tf_pool;
typedef void (*tf_task_fn)(void *ctx, size_t task, int thread);

/* n_threads counts the caller: 1 means no worker threads. */
tf_pool *tf_pool_create(int n_threads);
void tf_pool_free(tf_pool *p);
int tf_pool_size(const tf_pool *p);
void tf_pool_run(tf_pool *p, size_t n_tasks, tf_task_fn fn, void *ctx);

#endif
