/*
 * make_random_model.c — writes a random-weight Hugging Face folder of one
 * of the benchmark shapes (config.json, model.safetensors, tokenizer.bin),
 * for scripts that need the model without the real weights (bench_ppo.lua).
 *
 * Usage: make_random_model ts15m|smol135m DIR [SEED]   (DIR is created)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s ts15m|smol135m DIR [SEED]\n", argv[0]);
        return 2;
    }
    const bu_shape *sh = bu_shape_find(argv[1]);
    if (!sh) {
        fprintf(stderr, "make_random_model: unknown shape '%s' (ts15m, smol135m)\n", argv[1]);
        return 2;
    }
    if (mkdir(argv[2], 0755) && errno != EEXIST) {
        fprintf(stderr, "make_random_model: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1234;
    char err[512] = "";
    if (bu_write_random_hf(&sh->c, argv[2], seed, err, sizeof err)) {
        fprintf(stderr, "make_random_model: %s\n", err);
        return 1;
    }
    return 0;
}
