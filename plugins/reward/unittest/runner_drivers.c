/*
 * runner_drivers.c — the test drivers the harness writes, one per language.
 *
 * Every driver follows the same order, and the order is the defence:
 *   1. read the nonce from fd 3 and close it, and keep private references
 *      to everything the driver itself will call (write, exec, ...);
 *   2. hold the tests in memory (they are embedded hex-encoded in the
 *      driver, so rewriting a file later changes nothing);
 *   3. load the candidate's code (an error there is reported, not fatal);
 *   4. run each test in isolation; only when a test returns normally write
 *      "<nonce> <i> pass" to fd 4, else "<nonce> <i> fail";
 *   5. write "<nonce> done" and leave without running exit handlers.
 * exit(0) before or during the tests leaves tests unreported (= failed);
 * lines printed to stdout are never read; a redefined assert does not reach
 * the tests (Lua: the tests see the driver's assert; C: assert is
 * redefined after the candidate's code; Python: assert is a statement).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

/* ===== Strings ========================================================== */

void ut_str_add(ut_str *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void ut_str_cat(ut_str *b, const char *s) { ut_str_add(b, s, strlen(s)); }

void ut_str_hex(ut_str *b, const char *s, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char chunk[128];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        chunk[k++] = digits[c >> 4];
        chunk[k++] = digits[c & 15];
        if (k == sizeof chunk) ut_str_add(b, chunk, k), k = 0;
    }
    ut_str_add(b, chunk, k);
}

void ut_str_free(ut_str *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* ===== Python =========================================================== */

/* The tests are parsed and compiled before the candidate's code is loaded,
 * with every `a == b` / `a != b` rewritten into a call of the driver's own
 * equality: when one side is plain data (numbers, strings, bytes, None and
 * lists, tuples, sets and dicts of them, by exact type) the other side must be
 * plain data too, so an object whose __eq__ always says True (or an int
 * subclass that lies) does not pass `assert f(x) == 3`.  Objects on both
 * sides compare as Python would. */
static const char py_head[] =
    "import os, sys, ast\n"
    "def _rlaif_driver():\n"
    "    _read, _write, _close, _exit = os.read, os.write, os.close, os._exit\n"
    "    _compile, _exec, _dict, _enum, _len = compile, exec, dict, enumerate, len\n"
    "    _settrace, _setprofile, _BaseException = sys.settrace, sys.setprofile, BaseException\n"
    "    _fromhex, _modules, _module = bytes.fromhex, sys.modules, type(sys)\n"
    "    _hook, _exc_info, _type = sys.__excepthook__, sys.exc_info, type\n"
    "    def _print_exc():\n"
    "        _hook(*_exc_info())\n"
    "    nonce = b''\n"
    "    while True:\n"
    "        chunk = _read(3, 4096)\n"
    "        if not chunk:\n"
    "            break\n"
    "        nonce += chunk\n"
    "    _close(3)\n"
    "    def emit(line, _w=_write, _n=nonce):\n"
    "        try:\n"
    "            _w(4, _n + b' ' + line + b'\\n')\n"
    "        except OSError:\n"
    "            pass\n"
    "    scalars = (int, float, complex, str, bytes, bool, type(None))\n"
    "    seqs = (list, tuple, set, frozenset)\n"
    "    def plain(x, depth=0):\n"
    "        t = _type(x)\n"
    "        if t in scalars:\n"
    "            return True\n"
    "        if depth > 64:\n"
    "            return False\n"
    "        if t in seqs:\n"
    "            for e in x:\n"
    "                if not plain(e, depth + 1):\n"
    "                    return False\n"
    "            return True\n"
    "        if t is dict:\n"
    "            for k in x:\n"
    "                if not plain(k, depth + 1) or not plain(x[k], depth + 1):\n"
    "                    return False\n"
    "            return True\n"
    "        return False\n"
    "    def guarded_eq(a, b):\n"
    "        pa, pb = plain(a), plain(b)\n"
    "        if pa != pb:\n"
    "            return False\n"
    "        return a == b\n"
    "    class Rewrite(ast.NodeTransformer):\n"
    "        def visit_Compare(self, node):\n"
    "            self.generic_visit(node)\n"
    "            if _len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Eq, ast.NotEq)):\n"
    "                return node\n"
    "            call = ast.Call(func=ast.Name(id='__rlaif_eq__', ctx=ast.Load()),\n"
    "                            args=[node.left, node.comparators[0]], keywords=[])\n"
    "            if isinstance(node.ops[0], ast.NotEq):\n"
    "                call = ast.UnaryOp(op=ast.Not(), operand=call)\n"
    "            return ast.fix_missing_locations(ast.copy_location(call, node))\n"
    "    def compile_test(i, text):\n"
    "        tree = Rewrite().visit(ast.parse(text, 'test_%d' % i, 'exec'))\n"
    "        return _compile(tree, 'test_%d' % i, 'exec', dont_inherit=True, optimize=0)\n"
    "    tests = [\n";

static const char py_tail[] =
    "    tests = [_fromhex(t).decode('utf-8', 'replace') for t in tests]\n"
    "    entry = _fromhex(ENTRY).decode()\n"
    "    codes = []\n"
    "    for i, t in _enum(tests):\n"
    "        try:\n"
    "            codes.append(compile_test(i, t))\n"
    "        except _BaseException:\n"
    "            _print_exc()\n"
    "            codes.append(None)\n"
    "    with open('solution.py', 'rb') as f:\n"
    "        src = f.read()\n"
    "    mod = _module('solution')\n"
    "    mod.__file__ = 'solution.py'\n"
    "    _modules['solution'] = mod\n"
    "    try:\n"
    "        _exec(_compile(src, 'solution.py', 'exec', dont_inherit=True, optimize=0),\n"
    "              mod.__dict__)\n"
    "    except _BaseException:\n"
    "        try:\n"
    "            _print_exc()\n"
    "        except _BaseException:\n"
    "            pass\n"
    "        emit(b'load_error')\n"
    "    for i, code in _enum(codes):\n"
    "        env = _dict(mod.__dict__)\n"
    "        env['__name__'] = '__rlaif_test__'\n"
    "        env['__rlaif_eq__'] = guarded_eq\n"
    "        if entry:\n"
    "            env['candidate'] = mod.__dict__.get(entry)\n"
    "        ok = False\n"
    "        try:\n"
    "            _settrace(None)\n"
    "            _setprofile(None)\n"
    "            if code is not None:\n"
    "                _exec(code, env)\n"
    "                ok = True\n"
    "        except _BaseException:\n"
    "            try:\n"
    "                _print_exc()\n"
    "            except _BaseException:\n"
    "                pass\n"
    "        _settrace(None)\n"
    "        _setprofile(None)\n"
    "        emit(b'%d %s' % (i, b'pass' if ok is True else b'fail'))\n"
    "    emit(b'done')\n"
    "    _exit(0)\n"
    "_rlaif_driver()\n";

void ut_driver_python(ut_str *b, const char *const *tests, size_t n, const char *entry)
{
    ut_str_cat(b, py_head);
    for (size_t i = 0; i < n; i++) {
        ut_str_cat(b, "        '");
        ut_str_hex(b, tests[i], strlen(tests[i]));
        ut_str_cat(b, "',\n");
    }
    ut_str_cat(b, "    ]\n    ENTRY = '");
    if (entry) ut_str_hex(b, entry, strlen(entry));
    ut_str_cat(b, "'\n");
    ut_str_cat(b, py_tail);
}

/* ===== Lua ============================================================== */

static const char lua_head[] =
    "local io_open, pcall, xpcall, load, setmetatable = io.open, pcall, xpcall, load, "
    "setmetatable\n"
    "local ipairs, pairs, tostring, tonumber = ipairs, pairs, tostring, tonumber\n"
    "local schar, gsub, os_exit = string.char, string.gsub, os.exit\n"
    "local traceback = debug.traceback\n"
    "local stderr = io.stderr\n"
    "local ewrite = stderr.write\n"
    "local f = io_open('/dev/fd/3', 'rb')\n"
    "local nonce = f and f:read('a') or ''\n"
    "if f then f:close() end\n"
    "local out = io_open('/dev/fd/4', 'wb')\n"
    "local owrite = out.write\n"
    "out:setvbuf('no')\n"
    "local function emit(s) owrite(out, nonce, ' ', s, '\\n') end\n"
    "local function unhex(h)\n"
    "  return (gsub(h, '..', function(x) return schar(tonumber(x, 16)) end))\n"
    "end\n"
    "local tests = {\n";

static const char lua_tail[] =
    "for i = 1, #tests do tests[i] = unhex(tests[i]) end\n"
    "local entry = unhex(ENTRY)\n"
    "local protected = {assert = assert, error = error, pcall = pcall, xpcall = xpcall,\n"
    "                   type = type, rawequal = rawequal}\n"
    "-- The candidate gets its own globals table without the debug library (no\n"
    "-- reaching into the driver's locals through debug.getlocal).\n"
    "local cand = {}\n"
    "for k, v in pairs(_G) do cand[k] = v end\n"
    "cand._G = cand\n"
    "cand.debug = nil\n"
    "-- Text chunks only: crafted bytecode can corrupt the VM (and read its memory).\n"
    "local select = select\n"
    "local function text_load(chunk, name, mode, ...)\n"
    "  if select('#', ...) > 0 then return load(chunk, name, 't', ...) end\n"
    "  return load(chunk, name, 't', cand)\n"
    "end\n"
    "local loadfile = loadfile\n"
    "local function text_loadfile(file, mode, ...)\n"
    "  if select('#', ...) > 0 then return loadfile(file, 't', ...) end\n"
    "  return loadfile(file, 't', cand)\n"
    "end\n"
    "cand.load, cand.loadfile = text_load, text_loadfile\n"
    "cand.dofile = function(file)\n"
    "  local fn = assert(text_loadfile(file))\n"
    "  return fn()\n"
    "end\n"
    "package.loaded.debug = nil\n"
    "debug = nil\n"
    "local sf = io_open('solution.lua', 'rb')\n"
    "local src = sf and sf:read('a') or ''\n"
    "if sf then sf:close() end\n"
    "local chunk, lerr = load(src, '=solution.lua', 't', cand)\n"
    "if not chunk then\n"
    "  ewrite(stderr, tostring(lerr), '\\n')\n"
    "  emit('load_error')\n"
    "else\n"
    "  local ok, e = xpcall(chunk, traceback)\n"
    "  if not ok then ewrite(stderr, tostring(e), '\\n') emit('load_error') end\n"
    "end\n"
    "local function lookup(_, k)\n"
    "  local v = protected[k]\n"
    "  if v ~= nil then return v end\n"
    "  if k == 'candidate' and entry ~= '' then return cand[entry] end\n"
    "  return cand[k]\n"
    "end\n"
    "for i, t in ipairs(tests) do\n"
    "  local env = setmetatable({}, {__index = lookup})\n"
    "  local fn, cerr = load(t, '=test_' .. (i - 1), 't', env)\n"
    "  local ok, e = false, cerr\n"
    "  if fn then ok, e = xpcall(fn, traceback) end\n"
    "  if ok == true then\n"
    "    emit((i - 1) .. ' pass')\n"
    "  else\n"
    "    pcall(ewrite, stderr, 'test ', i - 1, ': ', tostring(e), '\\n')\n"
    "    emit((i - 1) .. ' fail')\n"
    "  end\n"
    "end\n"
    "emit('done')\n"
    "os_exit(0, false)\n";

void ut_driver_lua(ut_str *b, const char *const *tests, size_t n, const char *entry)
{
    ut_str_cat(b, lua_head);
    for (size_t i = 0; i < n; i++) {
        ut_str_cat(b, "  '");
        ut_str_hex(b, tests[i], strlen(tests[i]));
        ut_str_cat(b, "',\n");
    }
    ut_str_cat(b, "}\nlocal ENTRY = '");
    if (entry) ut_str_hex(b, entry, strlen(entry));
    ut_str_cat(b, "'\n");
    ut_str_cat(b, lua_tail);
}

/* ===== C ================================================================ */

/* The tests' unit: common headers, the candidate (its main renamed), then
 * the harness's own assert, then one function per test. */
void ut_driver_c_tests(ut_str *b, const char *const *tests, size_t n, const char *entry)
{
    ut_str_cat(b,
               "#include <assert.h>\n#include <limits.h>\n#include <math.h>\n"
               "#include <stdbool.h>\n#include <stdint.h>\n#include <stdio.h>\n"
               "#include <stdlib.h>\n#include <string.h>\n"
               "#define main rlaif_candidate_main\n"
               "#include \"solution.c\"\n"
               "#undef main\n#undef assert\n#undef rlaif_assert_fail\n"
               "void rlaif_assert_fail(const char *expr, int line);\n"
               "#define assert(e) ((e) ? (void)0 : rlaif_assert_fail(#e, __LINE__))\n");
    char line[96];
    if (entry && ut_is_identifier(entry) && strlen(entry) < 64) {
        snprintf(line, sizeof line, "#define candidate %s\n", entry);
        ut_str_cat(b, line);
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(line, sizeof line, "void rlaif_test_%zu(void);\nvoid rlaif_test_%zu(void) {\n",
                 i, i);
        ut_str_cat(b, line);
        snprintf(line, sizeof line, "#line 1 \"test_%zu\"\n", i);
        ut_str_cat(b, line);
        ut_str_cat(b, tests[i]);
        ut_str_cat(b, "\n;}\n");
    }
    ut_str_cat(b, "void (*const rlaif_tests[])(void) = {\n");
    for (size_t i = 0; i < n; i++) {
        snprintf(line, sizeof line, "  rlaif_test_%zu,\n", i);
        ut_str_cat(b, line);
    }
    snprintf(line, sizeof line, "  0};\nconst int rlaif_n_tests = %zu;\n", n);
    ut_str_cat(b, line);
}

/* The driver's unit, compiled apart from the candidate so that no macro of
 * the candidate's reaches it.  Each test runs in a forked child; the child
 * says "returned" through a private pipe, and only the parent writes to
 * fd 4. */
static const char c_main[] =
    "#include <stdio.h>\n#include <string.h>\n#include <unistd.h>\n#include <sys/wait.h>\n"
    "extern void (*const rlaif_tests[])(void);\n"
    "extern const int rlaif_n_tests;\n"
    "static char nonce[256];\n"
    "static int nonce_len;\n"
    "static void emit(int i, const char *what) {\n"
    "  char buf[400];\n"
    "  int n = i < 0 ? snprintf(buf, sizeof buf, \"%.*s %s\\n\", nonce_len, nonce, what)\n"
    "                : snprintf(buf, sizeof buf, \"%.*s %d %s\\n\", nonce_len, nonce, i, what);\n"
    "  if (write(4, buf, (size_t)n) < 0) { }\n"
    "}\n"
    "void rlaif_assert_fail(const char *expr, int line);\n"
    "void rlaif_assert_fail(const char *expr, int line) {\n"
    "  fprintf(stderr, \"assertion failed (line %d): %s\\n\", line, expr);\n"
    "  fflush(stderr);\n"
    "  _exit(1);\n"
    "}\n"
    "/* Before the candidate's constructors (default priority runs later). */\n"
    "__attribute__((constructor(101))) static void read_nonce(void) {\n"
    "  ssize_t r;\n"
    "  while (nonce_len < (int)sizeof nonce &&\n"
    "         (r = read(3, nonce + nonce_len, sizeof nonce - (size_t)nonce_len)) > 0)\n"
    "    nonce_len += (int)r;\n"
    "  close(3);\n"
    "}\n"
    "int main(void) {\n"
    "  for (int i = 0; i < rlaif_n_tests; i++) {\n"
    "    int p[2];\n"
    "    fflush(stdout);\n"
    "    fflush(stderr);\n"
    "    if (pipe(p) != 0) { emit(i, \"fail\"); continue; }\n"
    "    pid_t pid = fork();\n"
    "    if (pid == 0) {\n"
    "      close(p[0]);\n"
    "      close(4);\n"
    "      rlaif_tests[i]();\n"
    "      fflush(stdout);\n"
    "      if (write(p[1], \"R\", 1) != 1) _exit(1);\n"
    "      _exit(0);\n"
    "    }\n"
    "    close(p[1]);\n"
    "    char c = 0;\n"
    "    int returned = pid > 0 && read(p[0], &c, 1) == 1 && c == 'R';\n"
    "    close(p[0]);\n"
    "    int st = 0;\n"
    "    if (pid > 0) waitpid(pid, &st, 0);\n"
    "    emit(i, returned && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? \"pass\" : \"fail\");\n"
    "  }\n"
    "  emit(-1, \"done\");\n"
    "  _exit(0);\n"
    "}\n";

const char *ut_driver_c_main(void) { return c_main; }
