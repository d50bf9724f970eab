/*
 * fuzz_safetensors.c — fuzz target for the safetensors header parser.
 *
 * Built as a plain executable: each file named on the command line is
 * parsed as is, then under deterministic mutations (truncations, byte
 * flips, rewritten header lengths, bytes spliced into the JSON).  The parser
 * must return OK or an error with a message, never crash or leak (run under
 * ASan in the sanitizer build).  Define RLAIF_LIBFUZZER to get the libFuzzer
 * entry point instead of main().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

static size_t n_ok, n_err;

/* Parses one buffer; every error must come with a message. */
static int one_input(const uint8_t *data, size_t size)
{
    st_file f;
    char err[512] = "";
    rlaif_status st = st_parse(&f, "fuzz.safetensors", data, size, err, sizeof err);
    if (st == RLAIF_OK) {
        /* Everything a valid header promises must be readable. */
        f.map = data;
        for (size_t i = 0; i < f.n; i++) {
            if (f.t[i].end > size - f.data_off) abort();
            float *dst = malloc(f.t[i].numel * sizeof(float) + 4);
            if (dst && f.t[i].numel < (1u << 24)) st_to_f32(&f, &f.t[i], dst);
            free(dst);
        }
        f.map = NULL;
        n_ok++;
    } else {
        if (!err[0]) {
            fprintf(stderr, "error %d without a message\n", (int)st);
            abort();
        }
        n_err++;
    }
    st_close(&f);
    return 0;
}

#ifdef RLAIF_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return one_input(data, size); }
#else
static uint64_t rng = 0x1234567;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void mutate_and_parse(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size + 64);
    if (!buf) return;
    one_input(data, size);
    for (size_t cut = 0; cut < size; cut += 1 + size / 64) one_input(data, cut);
    for (int round = 0; round < 400; round++) {
        memcpy(buf, data, size);
        size_t n = size;
        switch (round % 4) {
        case 0: /* flip a few bytes */
            for (int k = 0; k < 1 + (int)(next() % 4) && n; k++) buf[next() % n] ^= (uint8_t)(1u << (next() % 8));
            break;
        case 1: /* rewrite the header length */
            if (n >= 8) {
                uint64_t v = next() % 3 == 0 ? ~(uint64_t)0 >> (next() % 64) : next() % (n + 16);
                for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(v >> (8 * i));
            }
            break;
        case 2: { /* splice a JSON-significant character into the header */
            static const char sig[] = "{}[]\":,-0123456789eE.";
            if (n > 8) buf[8 + next() % (n - 8)] = (uint8_t)sig[next() % (sizeof sig - 1)];
            break;
        }
        default: /* append or drop data bytes */
            if (next() % 2 && n) n -= next() % n;
            else {
                size_t extra = next() % 64;
                memset(buf + n, (int)(next() & 0xff), extra);
                n += extra;
            }
        }
        one_input(buf, n);
    }
    free(buf);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "%s: cannot open\n", argv[i]);
            return 2;
        }
        uint8_t *data = malloc(1 << 20);
        size_t n = data ? fread(data, 1, 1 << 20, f) : 0;
        fclose(f);
        if (!data) return 2;
        mutate_and_parse(data, n);
        free(data);
    }
    printf("fuzz_safetensors: %zu inputs parsed, %zu rejected with a message\n", n_ok, n_err);
    return 0;
}
#endif
