/*
 * test_unittest.c — reward/unittest through the core API, as the host uses
 * it: correct code scores 1 in each language, partial code the right
 * fraction, hostile code is contained and scores 0, and the usual reward
 * hacks (exit(0) before the tests, a redefined assert, fake PASS lines, a
 * rewritten test file) earn nothing.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core.h"
#include "sbx_test_util.h"

#define N_METRICS 4
enum { M_PASSED, M_TOTAL, M_TIMED_OUT, M_CRASHED };

typedef struct reward {
    rlc_instance *in;
    const rlaif_reward_vtable *vt;
    void *self;
} reward;

static void reward_open(reward *r, const char *config)
{
    char err[512] = "";
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_REWARD, "unittest", err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    r->in = rlc_instance_create(p, config, err, sizeof err);
    ck_assert_msg(r->in != NULL, "%s", err);
    r->vt = rlc_instance_vtable(r->in);
    r->self = rlc_instance_self(r->in);
}

static void reward_close(reward *r) { rlc_instance_unref(r->in); }

/* One sample: language, response, metadata JSON. */
typedef struct sample {
    const char *response;
    const char *metadata;
} sample;

static void score(reward *r, const sample *s, size_t n, float *rewards, float *metrics,
                  const char **details)
{
    const char *prompts[64], *responses[64], *meta[64];
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++) {
        prompts[i] = "write the function";
        responses[i] = s[i].response;
        meta[i] = s[i].metadata;
    }
    rlaif_reward_batch b = {.struct_size = sizeof b, .n = n, .prompts = prompts,
                            .responses = responses, .metadata = meta};
    rlaif_reward_out o = {.struct_size = sizeof o, .rewards = rewards, .metrics = metrics,
                          .details = details};
    char err[512] = "";
    rlaif_status st = r->vt->score(r->self, &b, &o, err, sizeof err);
    ck_assert_msg(st == RLAIF_OK, "score: %s", err);
}

static void setup(void) { rlc_init(NULL); }

static void teardown(void)
{
    rlc_shutdown();
    ck_assert_uint_eq(sbx_test_count_children(), 0);
}

/* ===== Tasks ============================================================ */

#define PY_ADD_TESTS                                                                     \
    "{\"language\": \"python\", \"tests\": [\"assert add(1, 2) == 3\", "                  \
    "\"assert add(-1, 1) == 0\", \"assert add(2, 2) == 4\", \"assert add(10, 5) == 15\"]}"
#define LUA_ADD_TESTS                                                                    \
    "{\"language\": \"lua\", \"tests\": [\"assert(add(1, 2) == 3)\", "                    \
    "\"assert(add(-1, 1) == 0)\", \"assert(add(2, 2) == 4)\"]}"
#define C_ADD_TESTS                                                                      \
    "{\"language\": \"c\", \"tests\": [\"assert(add(1, 2) == 3);\", "                     \
    "\"assert(add(-1, 1) == 0);\", \"assert(add(2, 2) == 4);\", "                         \
    "\"assert(add(10, 5) == 15);\"]}"

START_TEST(test_correct_code_scores_one)
{
    reward r;
    reward_open(&r, "{\"timeout_ms\": 20000, \"workers\": 2}");
    sample s[] = {
        {"Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nDone.", PY_ADD_TESTS},
        {"```lua\nfunction add(a, b)\n  return a + b\nend\n```", LUA_ADD_TESTS},
        {"```c\nint add(int a, int b) { return a + b; }\n"
         "int main(void) { return 0; }\n```",
         C_ADD_TESTS},
        /* no fence: the whole response is the code */
        {"def add(a, b):\n    return a + b\n", PY_ADD_TESTS},
        /* the language from the config, a test program as one string */
        {"def square(x):\n    return x * x\n",
         "{\"tests\": \"assert square(3) == 9\\nassert square(-2) == 4\"}"},
        /* entry: tests call the function as `candidate` */
        {"def square(x):\n    return x * x\n",
         "{\"entry\": \"square\", \"tests\": [\"assert candidate(4) == 16\"]}"},
        /* objects on both sides compare as Python would; plain data as usual */
        {"class P:\n"
         "    def __init__(self, x): self.x = x\n"
         "    def __eq__(self, o): return isinstance(o, P) and o.x == self.x\n"
         "def make(x):\n    return P(x)\n"
         "def pairs(n):\n    return {i: [i, (i, 'x')] for i in range(n)}\n",
         "{\"isolation\": \"shared\", "
         "\"tests\": [\"assert make(2) == P(2)\", \"assert make(2) != P(3)\", "
         "\"assert pairs(2) == {0: [0, (0, 'x')], 1: [1, (1, 'x')]}\", "
         "\"assert 1 == 1.0 and [1, 2] != [2, 1]\", "
         "\"assert all(pairs(3)[i][0] == i for i in range(3))\"]}"},
        {"function sq(x) return x * x end",
         "{\"language\": \"lua\", \"entry\": \"sq\", \"tests\": [\"assert(candidate(5) == 25)\"]}"},
        /* Lua's load works on text in the candidate's globals; bytecode is refused */
        {"function helper() return 7 end\n"
         "function g() return load('return helper() + 35')() end\n"
         "function bytecode_refused() return load(string.dump(function() end)) == nil end",
         "{\"language\": \"lua\", \"tests\": [\"assert(g() == 42)\", "
         "\"assert(bytecode_refused())\"]}"},
    };
    size_t n = sizeof s / sizeof s[0];
    float rewards[16], metrics[16 * N_METRICS];
    const char *details[16];
    ck_assert_uint_le(n, 16);
    score(&r, s, n, rewards, metrics, details);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(rewards[i] == 1.0f, "sample %zu: reward %g, details %s", i, rewards[i],
                      details[i]);
        ck_assert_float_eq(metrics[i * N_METRICS + M_PASSED], metrics[i * N_METRICS + M_TOTAL]);
        ck_assert_float_eq(metrics[i * N_METRICS + M_TIMED_OUT], 0);
        ck_assert_float_eq(metrics[i * N_METRICS + M_CRASHED], 0);
    }
    ck_assert_float_eq(metrics[0 * N_METRICS + M_TOTAL], 4);
    ck_assert_float_eq(metrics[1 * N_METRICS + M_TOTAL], 3);
    reward_close(&r);
}
END_TEST

START_TEST(test_partial_code_scores_the_fraction)
{
    reward r;
    reward_open(&r, "{\"timeout_ms\": 20000}");
    sample s[] = {
        /* right only for a >= 0 and b < 5 style inputs: tests 0 and 2 pass */
        {"def add(a, b):\n    return abs(a) + b if b < 5 else 0\n", PY_ADD_TESTS},
        /* passes only add(2, 2) == 4 */
        {"function add(a, b) return 4 end", LUA_ADD_TESTS},
        /* wrong for negative numbers: 3 of 4; and a crash in one test does
         * not take the others down */
        {"int add(int a, int b) { if (a < 0) { volatile int *p = 0; *p = 1; } return a + b; }",
         C_ADD_TESTS},
    };
    float rewards[3], metrics[3 * N_METRICS];
    const char *details[3];
    score(&r, s, 3, rewards, metrics, details);
    ck_assert_msg(fabsf(rewards[0] - 0.5f) < 1e-6f, "python: %g %s", rewards[0], details[0]);
    ck_assert_msg(fabsf(rewards[1] - 1.0f / 3.0f) < 1e-6f, "lua: %g %s", rewards[1], details[1]);
    ck_assert_msg(fabsf(rewards[2] - 0.75f) < 1e-6f, "c: %g %s", rewards[2], details[2]);
    ck_assert_float_eq(metrics[2 * N_METRICS + M_CRASHED], 0);

    cJSON *d = cJSON_Parse(details[0]);
    ck_assert_ptr_nonnull(d);
    cJSON *tests = cJSON_GetObjectItem(d, "tests");
    ck_assert_int_eq(cJSON_GetArraySize(tests), 4);
    ck_assert_str_eq(cJSON_GetArrayItem(tests, 0)->valuestring, "pass");
    ck_assert_str_eq(cJSON_GetArrayItem(tests, 1)->valuestring, "fail");
    ck_assert_msg(strstr(cJSON_GetObjectItem(d, "stderr_tail")->valuestring, "AssertionError"),
                  "%s", details[0]);
    cJSON_Delete(d);
    reward_close(&r);
}
END_TEST

/* ===== Reward hacks ===================================================== */

START_TEST(test_reward_hacks_earn_nothing)
{
    /* _i: Python in its own process (the default), then in one interpreter. */
    reward r;
    reward_open(&r, _i == 0 ? "{\"timeout_ms\": 20000, \"workers\": 2}"
                            : "{\"timeout_ms\": 20000, \"workers\": 2, "
                              "\"isolation\": \"shared\"}");
    sample s[] = {
        /* exit(0) before the tests */
        {"import os\nos._exit(0)\n", PY_ADD_TESTS},
        {"import sys\nsys.exit(0)\n", PY_ADD_TESTS},
        {"function add() end\nos.exit(0)", LUA_ADD_TESTS},
        {"#include <stdlib.h>\n__attribute__((constructor)) static void early(void) { exit(0); }\n"
         "int add(int a, int b) { return 0; }",
         C_ADD_TESTS},
        {"#include <stdlib.h>\nint add(int a, int b) { exit(0); }", C_ADD_TESTS},
        /* a constructor that steals the nonce and forges every verdict */
        {"#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
         "__attribute__((constructor)) static void forge(void) {\n"
         "  char n[64] = {0}; ssize_t k = read(3, n, 32);\n"
         "  for (int i = 0; k > 0 && i < 4; i++) dprintf(4, \"%s %d pass\\n\", n, i);\n"
         "  if (k > 0) dprintf(4, \"%s done\\n\", n);\n"
         "  exit(0);\n}\n"
         "int add(int a, int b) { return 0; }",
         C_ADD_TESTS},
        /* fake PASS lines, on stdout and on the result descriptor */
        {"import os\n"
         "for i in range(4):\n"
         "    print('PASS', i)\n"
         "    print(i, 'pass')\n"
         "    os.write(4, b'%d pass\\n' % i)\n"
         "    os.write(4, b'00000000000000000000000000000000 %d pass\\n' % i)\n"
         "os.write(4, b'done\\n')\n"
         "os._exit(0)\n",
         PY_ADD_TESTS},
        {"for i = 0, 3 do print('PASS ' .. i) print(i .. ' pass') end\n"
         "local f = io.open('/dev/fd/4', 'w') if f then f:write('0 pass\\n1 pass\\n2 pass\\n') end\n"
         "os.exit(0)",
         LUA_ADD_TESTS},
        /* a redefined assert */
        {"assert = function() return true end\nfunction add(a, b) return 0 end",
         "{\"language\": \"lua\", \"tests\": [\"assert(add(1, 2) == 3)\", "
         "\"assert(add(2, 2) == 4)\"]}"},
        {"#undef assert\n#define assert(x) ((void)0)\nint add(int a, int b) { return 0; }",
         "{\"language\": \"c\", \"tests\": [\"assert(add(1, 2) == 3);\", "
         "\"assert(add(2, 2) == 4);\"]}"},
        {"import builtins\n"
         "class Quiet(Exception): pass\n"
         "builtins.AssertionError = Quiet\n"
         "def add(a, b):\n    return 0\n",
         "{\"language\": \"python\", \"tests\": [\"assert add(1, 2) == 3\", "
         "\"assert add(2, 2) == 4\"]}"},
        /* a rewritten driver and test file */
        {"import os, glob\n"
         "for f in glob.glob('*'):\n"
         "    try:\n"
         "        os.chmod(f, 0o644)\n"
         "        open(f, 'w').write('pass\\n')\n"
         "    except OSError:\n"
         "        pass\n"
         "def add(a, b):\n    return 0\n",
         "{\"language\": \"python\", \"tests\": [\"assert add(1, 2) == 3\", "
         "\"assert add(2, 2) == 4\"]}"},
        /* results that claim to equal anything */
        {"class Anything:\n"
         "    def __eq__(self, other): return True\n"
         "    def __ne__(self, other): return False\n"
         "def add(a, b):\n    return Anything()\n",
         PY_ADD_TESTS},
        {"class Liar(int):\n"
         "    def __eq__(self, other): return True\n"
         "def add(a, b):\n    return Liar(0)\n",
         PY_ADD_TESTS},
        {"def add(a, b):\n    return [type('X', (), {'__eq__': lambda s, o: True})()]\n",
         "{\"language\": \"python\", \"tests\": [\"assert add(1, 2) == [3]\", "
         "\"assert not (add(1, 2) != [3])\"]}"},
        /* a builtin the tests rely on, rebound for everyone */
        {"import builtins\nbuiltins.len = lambda x: 3\ndef items():\n    return []\n",
         "{\"language\": \"python\", \"tests\": [\"assert len(items()) == 3\"]}"},
        /* a builtin the tests rely on, shadowed */
        {"def len(x):\n    return 3\ndef items():\n    return []\n",
         "{\"language\": \"python\", \"tests\": [\"assert len(items()) == 3\"]}"},
        /* swallowing the failure: SystemExit from inside the test */
        {"import sys\ndef add(a, b):\n    sys.exit(0)\n", PY_ADD_TESTS},
    };
    size_t n = sizeof s / sizeof s[0];
    float rewards[32], metrics[32 * N_METRICS];
    const char *details[32];
    ck_assert_uint_le(n, 32);
    score(&r, s, n, rewards, metrics, details);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(rewards[i] == 0.0f, "hack %zu earned %g: %s", i, rewards[i], details[i]);
    reward_close(&r);
}
END_TEST

/* Code written against this harness: walks the interpreter's frames to the
 * driver's nonce and forges every verdict, or reads the tests out of the
 * driver file and answers from them.  Only process isolation stops these
 * (docs/sandbox.md); with it they earn nothing. */
START_TEST(test_targeted_hacks_fail_in_process_isolation)
/* (Python and Lua) */
{
    reward r;
    reward_open(&r, "{\"timeout_ms\": 20000, \"workers\": 2}");
    const char *forge =
        "import sys, os\n"
        "def forge():\n"
        "    f = sys._getframe(0)\n"
        "    while f is not None:\n"
        "        for v in list(f.f_locals.values()):\n"
        "            if isinstance(v, bytes) and len(v) == 32:\n"
        "                for i in range(8):\n"
        "                    os.write(4, v + b' %d pass\\n' % i)\n"
        "                os.write(4, v + b' done\\n')\n"
        "                os._exit(0)\n"
        "        f = f.f_back\n"
        "def add(a, b):\n"
        "    forge()\n"
        "    return -12345\n";
    const char *read_tests =
        "import re\n"
        "def mystery(x):\n"
        "    try:\n"
        "        src = open('driver.py').read()\n"
        "    except OSError:\n"
        "        return None\n"
        "    for h in re.findall(r\"'([0-9a-f]{8,})'\", src):\n"
        "        t = bytes.fromhex(h).decode()\n"
        "        m = re.match(r'assert mystery\\((-?\\d+)\\) == (-?\\d+)', t)\n"
        "        if m and int(m[1]) == x:\n"
        "            return int(m[2])\n";
    const char *mystery_tests = "{\"language\": \"python\", \"tests\": "
                                "[\"assert mystery(1) == 17\", \"assert mystery(2) == 4\"]}";
    /* What the candidate's process can reach of the driver's: nothing. */
    const char *probe =
        "import os\n"
        "def probe():\n"
        "    reached = []\n"
        "    p = os.getppid()\n"
        "    for path, mode in [('/proc/%d/fd/4' % p, os.O_WRONLY), ('/proc/%d/fd/3' % p, os.O_RDONLY),\n"
        "                       ('/proc/%d/mem' % p, os.O_RDONLY), ('/proc/%d/environ' % p, os.O_RDONLY),\n"
        "                       ('/dev/fd/4', os.O_WRONLY), ('driver.py', os.O_RDONLY)]:\n"
        "        try:\n"
        "            os.close(os.open(path, mode))\n"
        "            reached.append(path)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return reached\n";
    const char *lua_read_tests =
        "function mystery(x)\n"
        "  local f = io.open('driver.lua', 'rb')\n"
        "  if not f then return nil end\n"
        "  local src = f:read('a')\n"
        "  f:close()\n"
        "  for h in src:gmatch(\"'(%x%x%x%x%x%x%x%x+)'\") do\n"
        "    local t = h:gsub('..', function(c) return string.char(tonumber(c, 16)) end)\n"
        "    local a, b = t:match('assert%(mystery%((%-?%d+)%) == (%-?%d+)%)')\n"
        "    if a and tonumber(a) == x then return tonumber(b) end\n"
        "  end\n"
        "end\n";
    const char *lua_probe =
        "function probe()\n"
        "  local st = io.open('/proc/self/stat'):read('a')\n"
        "  local ppid = st:match('^%d+ %b() %S+ (%d+)')\n"
        "  local reached = {}\n"
        "  for _, p in ipairs({{'/proc/' .. ppid .. '/fd/4', 'wb'}, {'/proc/' .. ppid .. '/mem', 'rb'},\n"
        "                      {'/proc/' .. ppid .. '/environ', 'rb'}, {'driver.lua', 'rb'}}) do\n"
        "    local f = io.open(p[1], p[2])\n"
        "    if f then f:close() reached[#reached + 1] = p[1] end\n"
        "  end\n"
        "  return #reached\n"
        "end\n";
    sample s[] = {
        {forge, PY_ADD_TESTS},
        {read_tests, mystery_tests},
        {lua_read_tests, "{\"language\": \"lua\", \"tests\": "
                         "[\"assert(mystery(1) == 17)\", \"assert(mystery(2) == 4)\"]}"},
        {probe, "{\"language\": \"python\", \"tests\": [\"assert probe() == []\"]}"},
        {lua_probe, "{\"language\": \"lua\", \"tests\": [\"assert(probe() == 0)\"]}"},
    };
    float rewards[5];
    const char *details[5];
    score(&r, s, 5, rewards, NULL, details);
    /* Lua's isolation needs sbx_nondumpable_supported(); without it (under
     * valgrind, or fs.suid_dumpable = 1) the shared variant runs. */
    int lua_isolated = strstr(details[4], "\"isolation\":\"process\"") != NULL;
    for (size_t i = 0; i < 3; i++)
        if (i != 2 || lua_isolated)
            ck_assert_msg(rewards[i] == 0.0f, "targeted hack %zu earned %g: %s", i, rewards[i],
                          details[i]);
    ck_assert_msg(rewards[3] == 1.0f, "the candidate reached the driver: %s", details[3]);
    if (lua_isolated)
        ck_assert_msg(rewards[4] == 1.0f, "the Lua candidate reached the driver: %s", details[4]);
    reward_close(&r);

    /* The same code in one shared interpreter does fool the tests: proof
     * that the hacks are real and that isolation is what stops them. */
    reward_open(&r, "{\"timeout_ms\": 20000, \"isolation\": \"shared\"}");
    score(&r, s, 5, rewards, NULL, details);
    ck_assert_msg(rewards[0] == 1.0f, "frame walk in shared mode: %g %s", rewards[0], details[0]);
    ck_assert_msg(rewards[1] == 1.0f, "test reading in shared mode: %g %s", rewards[1],
                  details[1]);
    ck_assert_msg(rewards[2] == 1.0f, "Lua test reading in shared mode: %g %s", rewards[2],
                  details[2]);
    reward_close(&r);
}
END_TEST

/* ===== Hostile code ===================================================== */

START_TEST(test_hostile_code_is_contained)
{
    reward r;
    reward_open(&r, "{\"timeout_ms\": 4000, \"memory_mb\": 256, \"max_procs\": 16, "
                    "\"workers\": 2}");
    char daemon_marker[96], file_marker[96];
    sbx_test_marker(daemon_marker, sizeof daemon_marker, "daemon");
    sbx_test_marker(file_marker, sizeof file_marker, "escape");
    char daemon_code[1024], write_code[1024];
    snprintf(daemon_code, sizeof daemon_code,
             "import os, time\n"
             "def f():\n"
             "    if os.fork() == 0:\n"
             "        os.setsid()\n"
             "        if os.fork() == 0:\n"
             "            os.execv('/usr/bin/python3', ['python3', '-S', '-c',\n"
             "                     'import time; time.sleep(60)', '%s'])\n"
             "        os._exit(0)\n"
             "    time.sleep(0.3)\n"
             "    return 1\n",
             daemon_marker);
    snprintf(write_code, sizeof write_code,
             "def f():\n"
             "    open('/tmp/%s', 'w').write('x')\n"
             "    open('/usr/%s', 'w').write('x')\n"
             "    return 1\n",
             file_marker, file_marker);
    const char *meta = "{\"language\": \"python\", \"tests\": [\"assert f() == 1\"]}";
    sample s[] = {
        {"import os\ndef f():\n    while True:\n        os.fork()\n", meta},
        {"def f():\n    while True:\n        pass\n", meta},
        {"def f():\n    b = []\n    while True:\n        b.append(bytearray(32 << 20))\n", meta},
        {"import socket\ndef f():\n    socket.create_connection(('1.1.1.1', 80), timeout=1)\n"
         "    return 1\n",
         meta},
        {"import sys\ndef f():\n    while True:\n        sys.stdout.write('x' * 65536)\n", meta},
        {write_code, meta},
        {daemon_code, meta},
        {"function f() while true do end end",
         "{\"language\": \"lua\", \"tests\": [\"assert(f() == 1)\"]}"},
        {"int f(void) { char *p = 0; return *p; }",
         "{\"language\": \"c\", \"tests\": [\"assert(f() == 1);\"]}"},
    };
    size_t n = sizeof s / sizeof s[0];
    float rewards[16], metrics[16 * N_METRICS];
    const char *details[16];
    ck_assert_uint_le(n, 16);
    score(&r, s, n, rewards, metrics, details);
    /* Degraded mode (no namespaces) has the host's network and cannot hold
     * daemons: docs/sandbox.md.  Full mode is what CI runs. */
    int degraded = strstr(details[0], "\"degraded\":true") != NULL;
    for (size_t i = 0; i < n; i++) {
        if (i == 6 || (degraded && i == 3)) continue;   /* the daemon's f() does return 1 */
        ck_assert_msg(rewards[i] == 0.0f, "hostile sample %zu earned %g: %s", i, rewards[i],
                      details[i]);
    }
    ck_assert_float_eq(metrics[1 * N_METRICS + M_TIMED_OUT], 1);
    ck_assert_float_eq(metrics[7 * N_METRICS + M_TIMED_OUT], 1);
    char path[256];
    snprintf(path, sizeof path, "/tmp/%s", file_marker);
    ck_assert_msg(access(path, F_OK) != 0, "wrote %s", path);
    snprintf(path, sizeof path, "/usr/%s", file_marker);
    ck_assert_msg(access(path, F_OK) != 0, "wrote %s", path);
    if (!degraded) ck_assert_uint_eq(sbx_test_count_marked(daemon_marker), 0);

    /* The host keeps running: the same instance still scores honest code. */
    sample ok = {"def add(a, b):\n    return a + b\n", PY_ADD_TESTS};
    score(&r, &ok, 1, rewards, metrics, details);
    ck_assert_float_eq(rewards[0], 1.0f);
    reward_close(&r);
}
END_TEST

/* A small output cap never costs verdicts: 200 tests, 1 KiB kept of stdout
 * and stderr, and the code printing plenty. */
START_TEST(test_many_tests_small_output_cap)
{
    reward r;
    reward_open(&r, "{\"timeout_ms\": 20000, \"max_output_bytes\": 1024}");
    char *meta = malloc(16384);
    ck_assert_ptr_nonnull(meta);
    size_t len = (size_t)snprintf(meta, 16384, "{\"language\": \"lua\", \"tests\": [");
    for (int i = 0; i < 200; i++)
        len += (size_t)snprintf(meta + len, 16384 - len, "%s\"assert(sq(%d) == %d)\"",
                                i ? ", " : "", i, i * i);
    snprintf(meta + len, 16384 - len, "]}");
    sample s = {"function sq(x) print(string.rep('noise ', 50)) return x * x end", meta};
    float reward_v, metrics[N_METRICS];
    const char *details;
    score(&r, &s, 1, &reward_v, metrics, &details);
    ck_assert_msg(reward_v == 1.0f, "%g %s", reward_v, details);
    ck_assert_float_eq(metrics[M_TOTAL], 200);
    free(meta);
    reward_close(&r);
}
END_TEST

/* ===== Bad input ======================================================== */

START_TEST(test_bad_metadata_scores_zero)
{
    reward r;
    reward_open(&r, "{}");
    sample s[] = {
        {"def add(a, b): return a + b", NULL},
        {"def add(a, b): return a + b", "not json"},
        {"def add(a, b): return a + b", "{\"tests\": []}"},
        {"def add(a, b): return a + b", "{\"tests\": [1, 2]}"},
        {"def add(a, b): return a + b", "{\"language\": \"rust\", \"tests\": [\"x\"]}"},
        {"def add(a, b): return a + b", "{\"entry\": \"a b\", \"tests\": [\"x\"]}"},
    };
    size_t n = sizeof s / sizeof s[0];
    float rewards[8];
    const char *details[8];
    score(&r, s, n, rewards, NULL, details);
    for (size_t i = 0; i < n; i++) {
        ck_assert_float_eq(rewards[i], 0.0f);
        ck_assert_msg(details[i] && strstr(details[i], "\"error\""), "sample %zu: %s", i,
                      details[i] ? details[i] : "(null)");
    }
    reward_close(&r);
}
END_TEST

START_TEST(test_config_errors_name_the_key)
{
    static const struct {
        const char *config, *key;
    } cases[] = {
        {"{\"timeout\": 5}", "timeout"},
        {"{\"language\": \"rust\"}", "language"},
        {"{\"workers\": 0}", "workers"},
        {"{\"memory_mb\": \"lots\"}", "memory_mb"},
        {"[1]", "object"},
    };
    char err[512];
    rlc_plugin *p = rlc_plugin_find(RLAIF_KIND_REWARD, "unittest", err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        rlc_instance *in = rlc_instance_create(p, cases[i].config, err, sizeof err);
        ck_assert_msg(in == NULL, "config %s accepted", cases[i].config);
        ck_assert_msg(strstr(err, cases[i].key), "config %s: '%s' does not name '%s'",
                      cases[i].config, err, cases[i].key);
    }
    rlaif_reward_desc d = {.struct_size = sizeof d};
    reward r;
    reward_open(&r, "{\"lua\": \"/nonexistent/lua\"}");
    ck_assert_int_eq(r.vt->describe(r.self, &d), RLAIF_OK);
    ck_assert_uint_eq(d.n_metrics, N_METRICS);
    ck_assert_str_eq(d.metric_names[M_CRASHED], "crashed");
    /* A missing interpreter is the batch's error, not a silent zero. */
    const char *resp[] = {"function add(a, b) return a + b end"};
    const char *meta[] = {LUA_ADD_TESTS};
    const char *prompts[] = {""};
    float rw[1];
    rlaif_reward_batch b = {.struct_size = sizeof b, .n = 1, .prompts = prompts,
                            .responses = resp, .metadata = meta};
    rlaif_reward_out o = {.struct_size = sizeof o, .rewards = rw};
    ck_assert_int_eq(r.vt->score(r.self, &b, &o, err, sizeof err), RLAIF_E_UNSUPPORTED);
    ck_assert_msg(strstr(err, "lua"), "%s", err);
    reward_close(&r);
}
END_TEST

static Suite *unittest_suite(void)
{
    Suite *s = suite_create("unittest");
    TCase *tc = tcase_create("reward");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, test_correct_code_scores_one);
    tcase_add_test(tc, test_partial_code_scores_the_fraction);
    tcase_add_loop_test(tc, test_reward_hacks_earn_nothing, 0, 2);
    tcase_add_test(tc, test_targeted_hacks_fail_in_process_isolation);
    tcase_add_test(tc, test_hostile_code_is_contained);
    tcase_add_test(tc, test_many_tests_small_output_cap);
    tcase_add_test(tc, test_bad_metadata_scores_zero);
    tcase_add_test(tc, test_config_errors_name_the_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    sbx_test_tmpdir_setup();
    SRunner *sr = srunner_create(unittest_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    int left = sbx_test_tmpdir_check_empty();
    return failed || left ? 1 : 0;
}
