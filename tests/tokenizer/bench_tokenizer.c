/*
 * bench_tokenizer.c — encode speed on a ~10 KB mixed text (prose, code,
 * numbers, CJK, emoji) for the GPT-2, Qwen3 and llama2.c tokenizers.
 * Each tokenizer is validated first (the text must round-trip), then
 * timed; prints ms per encode and MB/s.  Run with `meson test --benchmark`
 * or directly: bench_tokenizer [reps].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenizer.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *make_text(size_t target, size_t *len)
{
    static const char *const parts[] = {
        "Once upon a time, there was a little girl named Lily. She loved to play outside. ",
        "I'm sure you've seen it; they'll say we'd done it in 1987 for $3.14159! ",
        "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3"
        "\x83\x88 \xe4\xb8\xad\xe6\x96\x87 ",
        "caf\xc3\xa9 na\xc3\xafve \xf0\x9f\x98\x80\xf0\x9f\x9a\x80   spaces\t\ttabs\n",
    };
    char *t = malloc(target + 256);
    size_t n = 0;
    for (size_t i = 0; n < target; i++) {
        const char *p = parts[i % 5];
        memcpy(t + n, p, strlen(p));
        n += strlen(p);
    }
    *len = n;
    return t;
}

/* Returns 0 when the tokenizer round-trips the text and was timed. */
static int bench(const char *name, tokenizer *t, const char *text, size_t len, int reps, int bos)
{
    char err[512];
    int32_t *ids;
    size_t n;
    if (tokenizer_encode(t, text, len, bos, &ids, &n, err, sizeof err) != RLAIF_OK) {
        fprintf(stderr, "%s: %s\n", name, err);
        return 1;
    }
    char *back;
    size_t blen;
    if (tokenizer_decode(t, ids, n, 1, &back, &blen, err, sizeof err) != RLAIF_OK ||
        blen != len || memcmp(back, text, len) != 0) {
        fprintf(stderr, "%s: the text does not round-trip; not timing it\n", name);
        return 1;
    }
    free(back);
    free(ids);
    double t0 = now_s();
    for (int r = 0; r < reps; r++) {
        tokenizer_encode(t, text, len, bos, &ids, &n, err, sizeof err);
        free(ids);
    }
    double dt = (now_s() - t0) / reps;
    printf("%-10s encode %zu bytes -> %zu tokens: %.3f ms  (%.1f MB/s)\n", name, len, n, dt * 1e3,
           (double)len / dt / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 50;
    const char *src = getenv("RLAIF_SOURCE_DIR");
    const char *shared = getenv("RLAIF_SHARED_DIR");
    char path[1024], err[512];
    size_t len;
    char *text = make_text(10240, &len);
    int bad = 0;

    struct {
        const char *name, *base, *rel;
        int llama2c;
    } cases[] = {
        {"gpt2", shared, "golden/tokenizer_gpt2/tokenizer.json", 0},
        {"qwen3", src, "tests/tokenizer/data/qwen3/tokenizer.json", 0},
        {"llama2c", src, "models/stories260K/tok512.bin", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", cases[i].base ? cases[i].base : ".", cases[i].rel);
        double t0 = now_s();
        tokenizer *t = cases[i].llama2c ? tokenizer_load_llama2c(path, 512, err, sizeof err)
                                        : tokenizer_load_hf(path, err, sizeof err);
        if (!t) {
            fprintf(stderr, "skipped %s: %s\n", cases[i].name, err);
            continue;
        }
        printf("%-10s load %.1f ms\n", cases[i].name, (now_s() - t0) * 1e3);
        bad |= bench(cases[i].name, t, text, len, reps, cases[i].llama2c);
        tokenizer_free(t);
    }
    free(text);
    return bad;
}
