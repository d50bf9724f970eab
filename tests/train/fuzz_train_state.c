/*
 * fuzz_train_state.c — fuzz target for the training-state reader, built as
 * a plain executable: reads the file named on the command line with
 * train_state_read and prints the verdict.  Point a fuzzer (AFL, or
 * libFuzzer through a two-line wrapper) at it with a sanitizer build.
 */
#include <stdio.h>

#include "train_state.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    char err[512];
    train_state s;
    if (train_state_read(argv[1], &s, err, sizeof err) != 0) {
        printf("rejected: %s\n", err);
        return 1;
    }
    printf("ok: step %llu, %zu moments, %zu extra bytes\n", (unsigned long long)s.step,
           s.n_moments, s.extra_len);
    train_state_free(&s);
    return 0;
}
