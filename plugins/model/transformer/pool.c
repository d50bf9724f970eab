/*
 * pool.c — the thread pool: a generation counter announces work, an atomic
 * counter distributes tasks, a pending count says when the run is over.
 */
#include "pool.h"

#include "matmul_bf16.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* A worker spins this long for the next run before it sleeps: decode
 * issues runs every few microseconds, but on a shared machine a spinning
 * thread takes a core from someone else, so the window stays short.
 * (Timed, because `pause` costs from 10 to 150 cycles depending on the CPU.) */
#define SPIN_NS 50000
#define WAIT_SPIN_NS 20000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct tf_pool {
    int n;                       /* threads including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint gen;             /* bumped once per run */
    atomic_size_t next;          /* next task index */
    atomic_int busy;             /* workers still inside the current run */
    size_t n_tasks;
    tf_task_fn fn;
    void *ctx;
    int stop;
    int bf16;                    /* matmul precision (tf_pool_set_bf16) */
    void *scratch;
    size_t scratch_cap;
    tf_bf16_cache *bf16_cache;   /* created on first use, see matmul_bf16.h */
};

typedef struct worker_arg {
    tf_pool *p;
    int id;
} worker_arg;

static void drain(tf_pool *p, int id)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n_tasks) break;
        p->fn(p->ctx, i, id);
    }
}

static void *worker(void *arg)
{
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    tf_pool *p = a.p;
    /* Runs are counted from creation (gen starts at 0), so a worker that
     * starts late still takes part in the first run. */
    unsigned seen = 0;
    for (;;) {
        uint64_t t0 = now_ns();
        for (unsigned spins = 1; atomic_load_explicit(&p->gen, memory_order_acquire) == seen;
             spins++) {
            CPU_RELAX();
            if (!(spins & 63) && now_ns() - t0 > SPIN_NS) break;
        }
        if (atomic_load_explicit(&p->gen, memory_order_acquire) == seen) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen && !p->stop) pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (p->stop) return NULL;
        seen++;
        drain(p, a.id);
        atomic_fetch_sub_explicit(&p->busy, 1, memory_order_release);
    }
}

tf_pool *tf_pool_create(int n_threads)
{
    tf_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads < 1 ? 1 : n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->threads = calloc((size_t)p->n, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < p->n; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a || pthread_create(&p->threads[i], NULL, worker, (a->p = p, a->id = i, a))) {
            free(a);
            p->n = i; /* run with the threads we have */
            break;
        }
    }
    return p;
}

void tf_pool_free(tf_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p->scratch);
    tf_bf16_cache_free(p->bf16_cache);
    free(p);
}

void tf_pool_set_bf16(tf_pool *p, int on)
{
    if (p) p->bf16 = on != 0;
}

int tf_pool_bf16(const tf_pool *p) { return p ? p->bf16 : 0; }

tf_bf16_cache *tf_pool_bf16_cache(tf_pool *p)
{
    if (p && !p->bf16_cache) p->bf16_cache = tf_bf16_cache_new();
    return p ? p->bf16_cache : NULL;
}

void tf_pool_set_weights(tf_pool *p, const void *base, size_t bytes, const uint64_t *version)
{
    tf_bf16_cache *c = tf_pool_bf16_cache(p);
    if (c) tf_bf16_cache_set_weights(c, base, bytes, version);
}

void *tf_pool_scratch(tf_pool *p, size_t bytes)
{
    if (!p) return NULL;
    if (bytes > p->scratch_cap) {
        size_t cap = (bytes + 63) & ~(size_t)63;
        void *n = aligned_alloc(64, cap);
        if (!n) return NULL;
        free(p->scratch);
        p->scratch = n;
        p->scratch_cap = cap;
    }
    return p->scratch;
}

int tf_pool_size(const tf_pool *p) { return p ? p->n : 1; }

void tf_pool_run(tf_pool *p, size_t n_tasks, tf_task_fn fn, void *ctx)
{
    if (!p || p->n == 1 || n_tasks <= 1) {
        for (size_t i = 0; i < n_tasks; i++) fn(ctx, i, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    atomic_store(&p->busy, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    /* Spin briefly (the others usually finish within microseconds), then
     * yield so a worker that lost its core on a busy machine can run. */
    uint64_t t0 = 0;
    for (unsigned spins = 1; atomic_load_explicit(&p->busy, memory_order_acquire) > 0; spins++) {
        if (t0 == 0) t0 = now_ns();
        if ((spins & 63) || now_ns() - t0 < WAIT_SPIN_NS)
            CPU_RELAX();
        else
            sched_yield();
    }
}
