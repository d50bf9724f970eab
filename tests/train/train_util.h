/*
 * train_util.h — helpers shared by the train tests: a fixed-seed random
 * generator, finite-difference gradient checks and tolerance comparisons.
 */
#ifndef RLAIF_TEST_TRAIN_UTIL_H
#define RLAIF_TEST_TRAIN_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* xorshift64* stream: tests are reproducible run to run. */
typedef struct tu_rng {
    uint64_t s;
} tu_rng;

void tu_rng_seed(tu_rng *r, uint64_t seed);
/* Uniform in [lo, hi). */
float tu_uniform(tu_rng *r, float lo, float hi);
void tu_fill(tu_rng *r, float *p, size_t n, float lo, float hi);
float *tu_alloc_fill(tu_rng *r, size_t n, float lo, float hi);
float *tu_zeros(size_t n);

float tu_max_abs(const float *p, size_t n);

/* Largest |a - b| over n entries divided by max(max|b|, floor): the
 * "relative to the tensor's max" error of a against reference b. */
double tu_rel_err(const float *a, const float *b, size_t n, double floor);

/* Scalar loss of the current inputs, computed in double. */
typedef double (*tu_loss_fn)(void *ctx);

/* Central differences of loss over up to max_probe entries of param
 * (spread evenly; all of them when n <= max_probe), compared with the
 * analytic gradient.  Returns the worst |fd - analytic| / max|analytic|
 * and prints a line naming `what` when it exceeds tol. */
double tu_fd_check(const char *what, float *param, size_t n, const float *analytic,
                   tu_loss_fn loss, void *ctx, float eps, size_t max_probe, double tol);

/* sum_i r[i] * y[i] in double: the loss whose gradient w.r.t. y is r. */
double tu_dot(const float *r, const float *y, size_t n);

#endif
