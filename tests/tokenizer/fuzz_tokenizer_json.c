/*
 * fuzz_tokenizer_json.c — a fuzz target for the tokenizer.json loader that
 * builds as a plain executable.
 *
 *   fuzz_tokenizer_json FILE...             load each file; when it loads,
 *                                           encode and decode a few texts
 *   fuzz_tokenizer_json --mutate N SEED FILE
 *                                           also load N mutated copies of
 *                                           FILE (bytes flipped, cut,
 *                                           duplicated) from a temp file
 *
 * Success is "no crash, no sanitizer report, every failure has a message";
 * the exit status is non-zero only when a failed load leaves err empty or
 * a loaded tokenizer fails to encode.  A libFuzzer driver can call
 * fuzz_one() directly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenizer.h"

static const char *const texts[] = {"Hello world", " a  b\n\n", "x<|endoftext|>y",
                                    "\xff\xfe broken \xc3", "\xe6\x97\xa5\xf0\x9f\x98\x80", ""};

/* Loads one file and exercises what loaded; returns 0 when all is well. */
static int fuzz_one(const char *path, int verbose, int *loaded)
{
    char err[512] = "";
    tokenizer *t = tokenizer_load_hf(path, err, sizeof err);
    *loaded += t != NULL;
    if (!t) {
        if (verbose)
            printf("rejected: %s\n", err);
        if (!err[0]) {
            fprintf(stderr, "%s: load failed without a message\n", path);
            return 1;
        }
        return 0;
    }
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t *ids;
        size_t n;
        if (tokenizer_encode(t, texts[i], strlen(texts[i]), 1, &ids, &n, err, sizeof err) != RLAIF_OK) {
            fprintf(stderr, "%s: encode failed: %s\n", path, err);
            tokenizer_free(t);
            return 1;
        }
        char *s;
        if (tokenizer_decode(t, ids, n, i % 2, &s, NULL, err, sizeof err) == RLAIF_OK)
            free(s);
        free(ids);
    }
    if (verbose)
        printf("loaded: %s (vocab %d)\n", path, (int)tokenizer_vocab_size(t));
    tokenizer_free(t);
    return 0;
}

static uint32_t rng(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* One random edit: flip a byte, cut the tail, drop a span or repeat one. */
static size_t mutate(uint64_t *seed, char *buf, size_t n, size_t cap)
{
    if (n == 0)
        return 0;
    size_t at = rng(seed) % n, span = 1 + rng(seed) % 16;
    switch (rng(seed) % 4) {
    case 0:
        buf[at] = (char)rng(seed);
        return n;
    case 1:
        return at;
    case 2:
        if (at + span > n)
            span = n - at;
        memmove(buf + at, buf + at + span, n - at - span);
        return n - span;
    default:
        if (at + span > n)
            span = n - at;
        if (n + span > cap)
            return n;
        memmove(buf + at + span, buf + at, n - at);
        return n + span;
    }
}

static int run_mutations(long count, uint64_t seed, const char *src)
{
    FILE *f = fopen(src, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", src);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f), cap = n * 2 + 64;
    fseek(f, 0, SEEK_SET);
    char *orig = malloc(n), *buf = malloc(cap);
    if (!orig || !buf || fread(orig, 1, n, f) != n) {
        fclose(f);
        return 1;
    }
    fclose(f);
    char dir[] = "/tmp/rlaif_fuzz_XXXXXX", path[600];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int bad = 0, loaded = 0;
    for (long i = 0; i < count && !bad; i++) {
        memcpy(buf, orig, n);
        size_t len = n;
        for (uint32_t k = 0, edits = 1 + rng(&seed) % 3; k < edits; k++)
            len = mutate(&seed, buf, len, cap);
        FILE *o = fopen(path, "wb");
        if (!o || fwrite(buf, 1, len, o) != len) {
            bad = 1;
            if (o)
                fclose(o);
            break;
        }
        fclose(o);
        bad = fuzz_one(path, 0, &loaded);
    }
    printf("%ld mutations of %s: %d loaded, the rest rejected with a message\n", count, src, loaded);
    remove(path);
    remove(dir);
    free(orig);
    free(buf);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "--mutate"))
        return run_mutations(atol(argv[2]), (uint64_t)atoll(argv[3]), argv[4]);
    int bad = 0, loaded = 0;
    for (int i = 1; i < argc; i++)
        bad |= fuzz_one(argv[i], 1, &loaded);
    return bad;
}
