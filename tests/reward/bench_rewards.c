/*
 * bench_rewards.c — rewards per second of reward/sentiment and
 * reward/privacy on 1,000 story-like responses (about 80 words each, some
 * with personal data), scored as one batch and repeated until at least
 * half a second has passed.  Run with `meson test --benchmark --suite
 * reward` or directly: bench_rewards [sentiment|privacy ...].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "reward_util.h"

#define N_SAMPLES 1000

static const char *const pieces[] = {
    "Once upon a time, a little girl named Lily lived in a small house by the sea.",
    "She loved to play with her dog and share her toys with her friends.",
    "One day, Tom was sad because his kite broke in the strong wind.",
    "Lily smiled, gave him a big hug, and helped him fix it.",
    "They were not scared of the dark forest anymore.",
    "The old man shouted at the children, but later he said sorry.",
    "It was a very happy day, and everyone laughed together!",
    "You can write to me at lily.brown@example.com or call +44 20 7946 0958.",
    "The bakery at 12 Oak Lane gave them warm cookies.",
    "Mom paid with card 4111 1111 1111 1111 at the shop.",
    "The server at 192.168.1.20 was slow, which made Ben grumpy.",
    "Although the rain was cold, the children were kind and brave.",
    "In May they visited Grandma Rose in Florence.",
    "The cat was hungry and lonely until a kind neighbour fed it.",
    "Version 1.2.3.4 of the game was released on 2024-05-01 at 10:30.",
    "Dr. Okafor told them that the bird would heal soon.",
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Builds N_SAMPLES responses of 6 pieces each, chosen by a fixed LCG. */
static char **make_samples(void)
{
    char **s = malloc(N_SAMPLES * sizeof *s);
    uint32_t x = 12345;
    size_t n_pieces = sizeof pieces / sizeof pieces[0];
    for (size_t i = 0; i < N_SAMPLES; i++) {
        char buf[2048] = "";
        for (int k = 0; k < 6; k++) {
            x = x * 1664525u + 1013904223u;
            strcat(buf, pieces[(x >> 8) % n_pieces]);
            strcat(buf, " ");
        }
        s[i] = strdup(buf);
    }
    return s;
}

static int bench(const char *name, char **samples)
{
    char err[1024];
    test_reward r;
    if (test_reward_open(&r, name, "{}", err, sizeof err) != RLAIF_OK) {
        fprintf(stderr, "bench_rewards: %s\n", err);
        return 1;
    }
    size_t nm = 0;
    test_reward_metric(&r, "", &nm);
    float *rewards = malloc(N_SAMPLES * sizeof *rewards);
    float *metrics = malloc(N_SAMPLES * (nm ? nm : 1) * sizeof *metrics);
    const char **details = malloc(N_SAMPLES * sizeof *details);
    size_t bytes = 0;
    for (size_t i = 0; i < N_SAMPLES; i++) bytes += strlen(samples[i]);
    int rounds = 0;
    double t0 = now_s(), t = 0, sum = 0;
    do {
        if (test_reward_score(&r, N_SAMPLES, (const char *const *)samples, rewards, metrics,
                              details, err, sizeof err) != RLAIF_OK) {
            fprintf(stderr, "bench_rewards: %s\n", err);
            return 1;
        }
        rounds++;
        t = now_s() - t0;
    } while (t < 0.5);
    for (size_t i = 0; i < N_SAMPLES; i++) sum += rewards[i];
    double per_s = (double)rounds * N_SAMPLES / t;
    printf("reward/%-10s %9.0f rewards/s  (%d x %d samples, %.1f MB/s, mean reward %+.3f)\n",
           name, per_s, rounds, N_SAMPLES, (double)rounds * (double)bytes / t / 1e6,
           sum / N_SAMPLES);
    free(rewards);
    free(metrics);
    free(details);
    test_reward_close(&r);
    return 0;
}

int main(int argc, char **argv)
{
    rlc_init(NULL);
    char **samples = make_samples();
    static const char *const all[] = {"sentiment", "privacy"};
    int failed = 0;
    if (argc > 1)
        for (int i = 1; i < argc; i++) failed |= bench(argv[i], samples);
    else
        for (size_t i = 0; i < 2; i++) failed |= bench(all[i], samples);
    for (size_t i = 0; i < N_SAMPLES; i++) free(samples[i]);
    free(samples);
    rlc_shutdown();
    return failed;
}
