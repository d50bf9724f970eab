/*
 * bench_unittest.c — rewards per second of reward/unittest: 1,000 samples
 * (short Lua and Python solutions, half each, three tests apiece) scored
 * with 2 workers, each in its own sandbox.  Every reward is checked before
 * the figure is reported: a fast wrong answer is not a result.
 *
 * Usage: bench_unittest [n_samples] [workers] [mix] [isolation]
 *   mix: both (default), lua, python;  isolation: process (default), shared
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

typedef struct task {
    const char *lua, *python;
    const char *lua_meta, *py_meta;
} task;

static const task tasks[] = {
    {"```lua\nfunction add(a, b) return a + b end\n```",
     "```python\ndef add(a, b):\n    return a + b\n```",
     "{\"language\":\"lua\",\"tests\":[\"assert(add(1,2)==3)\",\"assert(add(-1,1)==0)\","
     "\"assert(add(7,8)==15)\"]}",
     "{\"language\":\"python\",\"tests\":[\"assert add(1,2)==3\",\"assert add(-1,1)==0\","
     "\"assert add(7,8)==15\"]}"},
    {"```lua\nfunction rev(s) return s:reverse() end\n```",
     "```python\ndef rev(s):\n    return s[::-1]\n```",
     "{\"language\":\"lua\",\"tests\":[\"assert(rev('abc')=='cba')\",\"assert(rev('')=='')\","
     "\"assert(rev('ab')=='ba')\"]}",
     "{\"language\":\"python\",\"tests\":[\"assert rev('abc')=='cba'\",\"assert rev('')==''\","
     "\"assert rev('ab')=='ba'\"]}"},
    {"```lua\nfunction fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end\n```",
     "```python\ndef fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\n```",
     "{\"language\":\"lua\",\"tests\":[\"assert(fact(0)==1)\",\"assert(fact(5)==120)\","
     "\"assert(fact(10)==3628800)\"]}",
     "{\"language\":\"python\",\"tests\":[\"assert fact(0)==1\",\"assert fact(5)==120\","
     "\"assert fact(10)==3628800\"]}"},
    {"```lua\nfunction is_even(n) return n % 2 == 0 end\n```",
     "```python\ndef is_even(n):\n    return n % 2 == 0\n```",
     "{\"language\":\"lua\",\"tests\":[\"assert(is_even(2))\",\"assert(not is_even(3))\","
     "\"assert(is_even(0))\"]}",
     "{\"language\":\"python\",\"tests\":[\"assert is_even(2)\",\"assert not is_even(3)\","
     "\"assert is_even(0)\"]}"},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1000;
    int workers = argc > 2 ? atoi(argv[2]) : 2;
    const char *mix = argc > 3 ? argv[3] : "both";
    const char *isolation = argc > 4 ? argv[4] : "process";
    if (n == 0 || workers < 1) return 2;
    rlc_init(NULL);
    char err[512], config[256];
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_REWARD, "unittest", err, sizeof err);
    if (!p) {
        fprintf(stderr, "bench_unittest: %s\n", err);
        return 1;
    }
    snprintf(config, sizeof config,
             "{\"workers\": %d, \"timeout_ms\": 20000, \"isolation\": \"%s\"}", workers,
             isolation);
    rlc_instance *in = rlc_instance_create(p, config, err, sizeof err);
    if (!in) {
        fprintf(stderr, "bench_unittest: %s\n", err);
        return 1;
    }
    const rlaif_reward_vtable *vt = rlc_instance_vtable(in);
    void *self = rlc_instance_self(in);

    const char **prompts = calloc(n, sizeof *prompts);
    const char **responses = calloc(n, sizeof *responses);
    const char **meta = calloc(n, sizeof *meta);
    float *rewards = calloc(n, sizeof *rewards);
    if (!prompts || !responses || !meta || !rewards) return 1;
    size_t n_tasks = sizeof tasks / sizeof tasks[0];
    for (size_t i = 0; i < n; i++) {
        const task *t = &tasks[(i / 2) % n_tasks];
        int lua = strcmp(mix, "lua") == 0 || (strcmp(mix, "python") != 0 && i % 2 == 0);
        prompts[i] = "";
        responses[i] = lua ? t->lua : t->python;
        meta[i] = lua ? t->lua_meta : t->py_meta;
    }
    rlaif_reward_batch b = {.struct_size = sizeof b, .n = n, .prompts = prompts,
                            .responses = responses, .metadata = meta};
    rlaif_reward_out o = {.struct_size = sizeof o, .rewards = rewards};
    double t0 = now_s();
    rlaif_status st = vt->score(self, &b, &o, err, sizeof err);
    double dt = now_s() - t0;
    int bad = 0;
    if (st != RLAIF_OK) {
        fprintf(stderr, "bench_unittest: score: %s\n", err);
        bad = 1;
    }
    for (size_t i = 0; !bad && i < n; i++)
        if (rewards[i] != 1.0f) {
            fprintf(stderr, "bench_unittest: sample %zu scored %g, expected 1\n", i, rewards[i]);
            bad = 1;
        }
    if (!bad)
        printf("reward/unittest: %zu samples (%s, 3 tests each; isolation %s), %d "
               "workers: %.2f s, %.1f rewards/s\n",
               n, strcmp(mix, "both") == 0 ? "Lua and Python" : mix, isolation, workers, dt,
               (double)n / dt);
    rlc_instance_unref(in);
    rlc_shutdown();
    free(prompts);
    free(responses);
    free(meta);
    free(rewards);
    return bad;
}
