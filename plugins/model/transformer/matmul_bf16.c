/*
 * matmul_bf16.c — packing, the parallel block loop and the portable path
 * of the bf16 matmul (matmul_bf16.h).  The tile instructions themselves are
 * in matmul_amx.c.
 */
#include "matmul_bf16.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ===== Availability ===================================================== */

#if defined(TF_HAVE_AMX)
#include <sys/syscall.h>
#include <unistd.h>

/* Linux asks every process to request the 8 KB tile state before its first
 * tile instruction (otherwise the instruction faults). */
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

int tf_amx_request(void)
{
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
    if (a < 7) return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    int amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(1));
    int avx512_bf16 = (a >> 5) & 1;
    if (!amx_bf16 || !amx_tile || !avx512_bf16) return 0;
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}
#else
int tf_amx_request(void) { return 0; }
#endif

static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static int amx_ok;
static int force_portable;

static void amx_init(void) { amx_ok = tf_amx_request(); }

int tf_bf16_amx_available(void)
{
    pthread_once(&amx_once, amx_init);
    return amx_ok;
}

void tf_bf16_force_portable(int on) { force_portable = on; }

/* ===== Rounding ========================================================= */

static inline uint16_t bf16_of(float x)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40);
    /* A denormal becomes a zero of its sign, as the AMX path's conversion
     * (VCVTNEPS2BF16) makes it. */
    if (!(b & 0x7f800000u)) return (uint16_t)((b >> 16) & 0x8000);
    return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1)) >> 16);
}

static inline float f32_of(uint16_t h)
{
    uint32_t b = (uint32_t)h << 16;
    float x;
    memcpy(&x, &b, 4);
    return x;
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* ===== Packing (AMX path) =============================================== */

typedef struct pack_job {
    uint16_t *dst;
    const float *src;
    size_t ld;
    int trans;
    size_t rows, cols;   /* A: M and K; B: N and K (the sides of op(A), op(B)ᵀ) */
    size_t kp, padded;   /* Kp, and Mp (A) or Np (B) */
    size_t chunk;        /* rows (A) or panels (B) per task */
    uint16_t *tmp;       /* B stored [N, K]: one row of Kp per pool thread */
} pack_job;

/* Rows [r0, r1) of Ap (Kp bf16 each) from A stored [M, K]; zero beyond M
 * and K. */
static void pack_a_rows(const pack_job *j, size_t r0, size_t r1)
{
    size_t K = j->cols, Kp = j->kp;
    for (size_t m = r0; m < r1; m++) {
        uint16_t *d = j->dst + m * Kp;
        if (m >= j->rows) {
            memset(d, 0, Kp * sizeof *d);
            continue;
        }
        tf_amx_cvt_row(d, j->src + m * j->ld, K);
        memset(d + K, 0, (Kp - K) * sizeof *d);
    }
}

static void pack_a_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const pack_job *j = ctx;
    size_t r0 = i * j->chunk, r1 = r0 + j->chunk;
    if (r1 > j->padded) r1 = j->padded;
    if (r0 >= r1) return;
    if (!j->trans) {
        pack_a_rows(j, r0, r1);
        return;
    }
    size_t m1 = r1 < j->rows ? r1 : j->rows;
    if (r0 < m1) tf_amx_pack_a_trans(j->dst, j->kp, j->src, j->ld, r0, m1, j->cols);
    for (size_t m = m1 > r0 ? m1 : r0; m < r1; m++)
        memset(j->dst + m * j->kp, 0, j->kp * sizeof *j->dst);
}

/* One 16-column panel of B.  Weights stored [N, K] (trans): each weight
 * row becomes one column of the panel, in k-pairs (32-bit units).  Stored
 * [K, N]: two source rows interleave into one panel row. */
static void pack_b_panel(const pack_job *j, size_t p, uint16_t *row_tmp)
{
    size_t K = j->cols, Kp = j->kp;
    size_t Ncols = j->rows; /* for B the job's rows are N (columns of op(B)) */
    uint16_t *panel = j->dst + p * Kp * 16;
    size_t n0 = p * 16;
    if (j->trans) {
        for (size_t c = 0; c < 16; c++) {
            size_t n = n0 + c;
            if (n < Ncols) {
                tf_amx_cvt_row(row_tmp, j->src + n * j->ld, K);
                memset(row_tmp + K, 0, (Kp - K) * sizeof *row_tmp);
            } else {
                memset(row_tmp, 0, Kp * sizeof *row_tmp);
            }
            /* k-pairs move as 4-byte units (memcpy: the buffers are uint16_t) */
            for (size_t k2 = 0; k2 < Kp / 2; k2++)
                memcpy(panel + k2 * 32 + 2 * c, row_tmp + 2 * k2, 4);
        }
    } else {
        size_t nc = n0 < Ncols ? (Ncols - n0 < 16 ? Ncols - n0 : 16) : 0;
        tf_amx_pack_b_rows(panel, Kp, j->src + n0, j->ld, K, nc);
    }
}

static void pack_b_task(void *ctx, size_t i, int thread)
{
    const pack_job *j = ctx;
    size_t p0 = i * j->chunk, p1 = p0 + j->chunk, np = j->padded / 16;
    if (p1 > np) p1 = np;
    for (size_t p = p0; p < p1; p++) pack_b_panel(j, p, j->tmp + (size_t)thread * j->kp);
}

/* ===== Portable path ==================================================== */

/* A compact copy of the stored matrix X (rows x cols, row stride ld) with
 * every element rounded to bf16 and back; NULL when out of memory. */
static float *rounded_copy(const float *x, size_t ld, size_t rows, size_t cols)
{
    float *r = malloc(rows * cols * sizeof *r);
    if (!r) return NULL;
    for (size_t i = 0; i < rows; i++)
        for (size_t k = 0; k < cols; k++) r[i * cols + k] = f32_of(bf16_of(x[i * ld + k]));
    return r;
}

static void matmul_portable(tf_pool *pool, float *C, size_t ldc, const float *A, size_t lda,
                            int transA, const float *B, size_t ldb, int transB, size_t M,
                            size_t N, size_t K, int accumulate)
{
    size_t ar = transA ? K : M, ac = transA ? M : K;
    size_t br = transB ? N : K, bc = transB ? K : N;
    float *a = rounded_copy(A, lda, ar, ac), *b = rounded_copy(B, ldb, br, bc);
    if (a && b)
        tf_matmul_f32(pool, C, ldc, a, ac, transA, b, bc, transB, M, N, K, accumulate);
    else /* out of memory for the copies: the unrounded f32 product, still close */
        tf_matmul_f32(pool, C, ldc, A, lda, transA, B, ldb, transB, M, N, K, accumulate);
    free(a);
    free(b);
}

/* ===== Packed weights ==================================================== */

typedef struct cache_entry {
    const float *b;
    size_t ldb, n, k;
    int trans;
    uint64_t version;
    int ready;            /* packed holds B at `version` */
    uint16_t *packed;     /* Np * Kp bf16 */
} cache_entry;

struct tf_bf16_cache {
    const char *base;
    size_t bytes;
    const uint64_t *version;
    cache_entry *e;
    size_t n, cap;
};

tf_bf16_cache *tf_bf16_cache_new(void) { return calloc(1, sizeof(tf_bf16_cache)); }

static void cache_clear(tf_bf16_cache *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->e[i].packed);
    c->n = 0;
}

void tf_bf16_cache_free(tf_bf16_cache *c)
{
    if (!c) return;
    cache_clear(c);
    free(c->e);
    free(c);
}

void tf_bf16_cache_set_weights(tf_bf16_cache *c, const void *base, size_t bytes,
                               const uint64_t *version)
{
    if (c->base != base || c->bytes != bytes) cache_clear(c);
    c->base = base;
    c->bytes = base ? bytes : 0;
    c->version = version;
}

/* The entry for B when B is a weight (wholly inside the declared memory),
 * created if new; NULL otherwise or when out of memory.  *fresh says
 * whether its packed copy must be (re)made; the caller sets `ready` once
 * it has been. */
static cache_entry *cache_lookup(tf_bf16_cache *c, const float *b, size_t ldb, int trans,
                                 size_t n, size_t k, int *fresh)
{
    if (!c || !c->base || !c->version) return NULL;
    const char *p = (const char *)b;
    if (p < c->base || p >= c->base + c->bytes) return NULL;
    size_t rows = trans ? n : k, cols = trans ? k : n;
    size_t room = (size_t)(c->base + c->bytes - p) / sizeof(float);
    if (cols > room || (rows > 1 && ldb && (rows - 1) > (room - cols) / ldb)) return NULL;
    uint64_t v = *c->version;
    for (size_t i = 0; i < c->n; i++) {
        cache_entry *e = &c->e[i];
        if (e->b == b && e->ldb == ldb && e->trans == trans && e->n == n && e->k == k) {
            *fresh = !e->ready || e->version != v;
            e->version = v;
            e->ready = 0;
            return e;
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        cache_entry *ne = realloc(c->e, cap * sizeof *ne);
        if (!ne) return NULL;
        c->e = ne;
        c->cap = cap;
    }
    uint16_t *packed = aligned_alloc(64, round_up(n, 32) * round_up(k, 32) * sizeof *packed);
    if (!packed) return NULL;
    cache_entry *e = &c->e[c->n++];
    *e = (cache_entry){b, ldb, n, k, trans, v, 0, packed};
    *fresh = 1;
    return e;
}

/* ===== The block loop (AMX path) ======================================== */

typedef struct block_job {
    float *C;
    size_t ldc, M, N;
    int accumulate;
    const uint16_t *ap, *bp;
    size_t kp, mblocks, nblocks;
    size_t group;        /* M blocks per task */
} block_job;

/* One 32 x 32 block of C.  A whole block is computed in C itself; a block
 * cut by the edge of C goes through a local copy. */
static void one_block(const block_job *j, size_t mb, size_t nb)
{
    size_t m0 = mb * 32, n0 = nb * 32;
    const uint16_t *a = j->ap + mb * 32 * j->kp, *b = j->bp + nb * 2 * j->kp * 16;
    size_t mc = j->M - m0 < 32 ? j->M - m0 : 32, nc = j->N - n0 < 32 ? j->N - n0 : 32;
    float *c = j->C + m0 * j->ldc + n0;
    if (mc == 32 && nc == 32) {
        tf_amx_block(c, j->ldc, j->accumulate, a, j->kp, b, j->kp);
        return;
    }
    float c32[32 * 32] __attribute__((aligned(64)));
    for (size_t r = 0; r < 32; r++)
        for (size_t q = 0; q < 32; q++)
            c32[r * 32 + q] = j->accumulate && r < mc && q < nc ? c[r * j->ldc + q] : 0.0f;
    tf_amx_block(c32, 32, j->accumulate, a, j->kp, b, j->kp);
    for (size_t r = 0; r < mc; r++) memcpy(c + r * j->ldc, c32 + r * 32, nc * sizeof *c);
}

/* A task is `group` consecutive M blocks against one 32-column B block: the
 * B panels stay in cache while A streams by, and tasks are coarse enough
 * that handing them out costs nothing next to the tile work. */
static void block_task(void *ctx, size_t i, int thread)
{
    (void)thread;
    const block_job *j = ctx;
    tf_amx_configure();
    size_t per_n = (j->mblocks + j->group - 1) / j->group;
    size_t nb = i / per_n, mb0 = (i % per_n) * j->group;
    size_t mb1 = mb0 + j->group < j->mblocks ? mb0 + j->group : j->mblocks;
    for (size_t mb = mb0; mb < mb1; mb++) one_block(j, mb, nb);
}

static void matmul_amx(tf_pool *pool, float *C, size_t ldc, const float *A, size_t lda,
                       int transA, const float *B, size_t ldb, int transB, size_t M, size_t N,
                       size_t K, int accumulate)
{
    size_t Kp = round_up(K, 32), Mp = round_up(M, 32), Np = round_up(N, 32);
    size_t nt = (size_t)tf_pool_size(pool);
    int fresh = 0;
    cache_entry *ce = cache_lookup(tf_pool_bf16_cache(pool), B, ldb, transB, N, K, &fresh);
    size_t a_elems = Mp * Kp, b_elems = ce ? 0 : Np * Kp, t_elems = nt * Kp;
    uint16_t *ap = tf_pool_scratch(pool, (a_elems + b_elems + t_elems) * sizeof(uint16_t));
    if (!ap) {
        /* No pool scratch (no pool, or out of memory): same numbers without tiles. */
        matmul_portable(pool, C, ldc, A, lda, transA, B, ldb, transB, M, N, K, accumulate);
        return;
    }
    uint16_t *bp = ce ? ce->packed : ap + a_elems, *tmp = ap + a_elems + b_elems;

    pack_job pa = {ap, A, lda, transA, M, K, Kp, Mp, 0, NULL};
    pa.chunk = round_up((Mp + nt - 1) / nt, 64);
    tf_pool_run(pool, (Mp + pa.chunk - 1) / pa.chunk, pack_a_task, &pa);

    if (!ce || fresh) {
        pack_job pb = {bp, B, ldb, transB, N, K, Kp, Np, 0, tmp};
        size_t panels = Np / 16;
        pb.chunk = (panels + 4 * nt - 1) / (4 * nt);
        tf_pool_run(pool, (panels + pb.chunk - 1) / pb.chunk, pack_b_task, &pb);
    }
    if (ce) ce->ready = 1;

    block_job bj = {C, ldc, M, N, accumulate, ap, bp, Kp, Mp / 32, Np / 32, 8};
    /* Small products keep at least 4 tasks per thread. */
    while (bj.group > 1 && bj.nblocks * ((bj.mblocks + bj.group - 1) / bj.group) < 4 * nt)
        bj.group /= 2;
    tf_pool_run(pool, bj.nblocks * ((bj.mblocks + bj.group - 1) / bj.group), block_task, &bj);
}

/* ===== Decode rows on bf16 weights (AMX) ================================ */

typedef struct rows_amx_job {
    float *Y;
    size_t ldy, M, N, K;
    int accumulate;
    const uint16_t *W, *xp;
    const uint16_t *tail;    /* the last N % 16 rows of W, zero-padded to 16 */
    size_t chunk;            /* weight rows per task, a multiple of 48 */
} rows_amx_job;

/* Adds (or writes) the transposed tile results for weight rows n0.. (nr of
 * them) into Y. */
static void rows_amx_store(const rows_amx_job *j, const float *ct, size_t n0, size_t nr)
{
    tf_amx_store_rows(j->Y + n0, j->ldy, ct, j->M, nr, j->accumulate);
}

static void rows_amx_task(void *ctx, size_t t, int thread)
{
    (void)thread;
    const rows_amx_job *j = ctx;
    tf_amx_configure();
    size_t n0 = t * j->chunk, n1 = n0 + j->chunk < j->N ? n0 + j->chunk : j->N;
    float ct[3 * 256] __attribute__((aligned(64)));
    size_t n = n0;
    for (; n + 48 <= n1; n += 48) {
        const uint16_t *pf = n + 96 <= n1 ? j->W + (n + 48) * j->K : NULL;
        tf_amx_rows3(ct, j->W + n * j->K, j->K, j->xp, pf);
        rows_amx_store(j, ct, n, 48);
    }
    for (; n + 16 <= n1; n += 16) {
        tf_amx_rows1(ct, j->W + n * j->K, j->K, j->xp);
        rows_amx_store(j, ct, n, 16);
    }
    if (n < n1) { /* n1 == N here: chunks are multiples of 48 */
        tf_amx_rows1(ct, j->tail, j->K, j->xp);
        rows_amx_store(j, ct, n, n1 - n);
    }
}

int tf_gemm_rows_amx(tf_pool *pool, float *Y, size_t ldy, const float *X, size_t ldx,
                     const uint16_t *W, size_t M, size_t N, size_t K, int accumulate)
{
    if (M == 0 || N == 0) return 0;
    if (M > 16 || K % 32 || K == 0 || force_portable || !tf_bf16_amx_available()) return -1;
    size_t full = N / 16 * 16;
    uint16_t *xp = tf_pool_scratch(pool, (K * 16 + (N > full ? K * 16 : 0) + K) * sizeof *xp);
    if (!xp) return -1;
    /* X as one B panel: element (k, m) at row k/2, position 2m + k%2; rows
     * of the batch beyond M are zero.  Each row is converted at once, then
     * its k-pairs move as 4-byte units. */
    uint16_t *row = xp + K * 16 + (N > full ? K * 16 : 0);
    if (M < 16) memset(xp, 0, K * 16 * sizeof *xp);
    for (size_t m = 0; m < M; m++) {
        tf_amx_cvt_row(row, X + m * ldx, K);
        for (size_t k2 = 0; k2 < K / 2; k2++) memcpy(xp + k2 * 32 + 2 * m, row + 2 * k2, 4);
    }
    /* A zero-padded copy of the last N % 16 rows, so no tile reads past W. */
    uint16_t *tail = N > full ? xp + K * 16 : NULL;
    if (tail) {
        memset(tail, 0, K * 16 * sizeof *tail);
        memcpy(tail, W + full * K, (N - full) * K * sizeof *tail);
    }
    rows_amx_job j = {Y, ldy, M, N, K, accumulate, W, xp, tail, N};
    size_t nt = (size_t)tf_pool_size(pool);
    if (nt > 1 && N * K >= 65536) j.chunk = round_up((N + 8 * nt - 1) / (8 * nt), 48);
    tf_pool_run(pool, (N + j.chunk - 1) / j.chunk, rows_amx_task, &j);
    return 0;
}

void tf_matmul_bf16(tf_pool *pool, float *C, size_t ldc, const float *A, size_t lda, int transA,
                    const float *B, size_t ldb, int transB, size_t M, size_t N, size_t K,
                    int accumulate)
{
    if (M == 0 || N == 0 || K == 0) {
        tf_matmul_f32(pool, C, ldc, A, lda, transA, B, ldb, transB, M, N, K, accumulate);
        return;
    }
    if (!force_portable && tf_bf16_amx_available())
        matmul_amx(pool, C, ldc, A, lda, transA, B, ldb, transB, M, N, K, accumulate);
    else
        matmul_portable(pool, C, ldc, A, lda, transA, B, ldb, transB, M, N, K, accumulate);
}
