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

/* Shared by the isolated Python driver and the candidate host: plain data
 * (numbers, strings, lists, tuples, dicts, ...) read back from its repr. */
#define PY_LITERAL_FN \
    "    def literal(text):\n" \
    "        # Plain data from its repr, without the ast module (slow to import)\n" \
    "        # and without evaluating anything: only literal nodes are accepted.\n" \
    "        node = _compile(text, '<reply>', 'eval', _ast.PyCF_ONLY_AST, dont_inherit=True).body\n" \
    "        return build(node, 0)\n" \
    "    def build(node, depth):\n" \
    "        if depth > 100:\n" \
    "            raise ValueError('nested too deeply')\n" \
    "        t = _type(node)\n" \
    "        if t is _ast.Constant:\n" \
    "            return node.value\n" \
    "        if t is _ast.Tuple:\n" \
    "            return tuple([build(e, depth + 1) for e in node.elts])\n" \
    "        if t is _ast.List:\n" \
    "            return [build(e, depth + 1) for e in node.elts]\n" \
    "        if t is _ast.Set:\n" \
    "            return {build(e, depth + 1) for e in node.elts}\n" \
    "        if t is _ast.Dict:\n" \
    "            return {build(k, depth + 1): build(v, depth + 1) for k, v in zip(node.keys, node.values)}\n" \
    "        if t is _ast.UnaryOp and _type(node.op) in (_ast.USub, _ast.UAdd):\n" \
    "            v = build(node.operand, depth + 1)\n" \
    "            if _type(v) in (int, float, complex):\n" \
    "                return -v if _type(node.op) is _ast.USub else v\n" \
    "        if t is _ast.BinOp and _type(node.op) in (_ast.Add, _ast.Sub):\n" \
    "            a, b = build(node.left, depth + 1), build(node.right, depth + 1)\n" \
    "            if _type(a) in (int, float) and _type(b) is complex:\n" \
    "                return a + b if _type(node.op) is _ast.Add else a - b\n" \
    "        if t is _ast.Name and node.id in ('nan', 'inf'):\n" \
    "            return float(node.id)\n" \
    "        if t is _ast.Call and _type(node.func) is _ast.Name and not node.args and not node.keywords:\n" \
    "            if node.func.id == 'set':\n" \
    "                return set()\n" \
    "            if node.func.id == 'frozenset':\n" \
    "                return frozenset()\n" \
    "        if t is _ast.Call and _type(node.func) is _ast.Name and node.func.id == 'frozenset' \\\n" \
    "                and _len(node.args) == 1 and not node.keywords:\n" \
    "            return frozenset(build(node.args[0], depth + 1))\n" \
    "        raise ValueError('not plain data')\n"

/* The tests are parsed and compiled before the candidate's code is loaded,
 * with every `a == b` / `a != b` rewritten into a call of the driver's own
 * equality: when one side is plain data (numbers, strings, bytes, None and
 * lists, tuples, sets and dicts of them, by exact type) the other side must be
 * plain data too, so an object whose __eq__ always says True (or an int
 * subclass that lies) does not pass `assert f(x) == 3`.  Objects on both
 * sides compare as Python would. */
static const char py_head[] =
    "import os, sys, _ast\n"
    "def _rlaif_driver():\n"
    "    _read, _write, _close, _exit = os.read, os.write, os.close, os._exit\n"
    "    _compile, _exec, _dict, _enum, _len = compile, exec, dict, enumerate, len\n"
    "    _settrace, _setprofile, _BaseException = sys.settrace, sys.setprofile, BaseException\n"
    "    _fromhex, _modules, _module = bytes.fromhex, sys.modules, type(sys)\n"
    "    _hook, _exc_info, _type = sys.__excepthook__, sys.exc_info, type\n"
    "    _repr, _callable = repr, callable\n"
    "    import builtins\n"
    "    # The tests get the builtins as they are now, before any candidate code\n"
    "    # can rebind builtins.len and friends.\n"
    "    clean_builtins = _dict(builtins.__dict__)\n"
    "    def exposed(k, entry):\n"
    "        # What the tests may see of the candidate's names: not dunders, and\n"
    "        # no builtin the tests themselves rely on (a candidate's `len` would\n"
    "        # answer for the tests), unless it is the entry the task asks for.\n"
    "        return (_type(k) is str and k.isidentifier() and not k.startswith('__') and\n"
    "                (k == entry or not hasattr(builtins, k)))\n"
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
    "    def place(new, old):\n"
    "        new.lineno, new.col_offset = old.lineno, old.col_offset\n"
    "        new.end_lineno, new.end_col_offset = old.end_lineno, old.end_col_offset\n"
    "        return new\n"
    "    def rewrite(node):\n"
    "        for name in node._fields:\n"
    "            v = getattr(node, name, None)\n"
    "            if _type(v) is list:\n"
    "                for j in range(_len(v)):\n"
    "                    if isinstance(v[j], _ast.AST):\n"
    "                        v[j] = rewrite(v[j])\n"
    "            elif isinstance(v, _ast.AST):\n"
    "                setattr(node, name, rewrite(v))\n"
    "        if _type(node) is _ast.Compare and _len(node.ops) == 1 and \\\n"
    "                _type(node.ops[0]) in (_ast.Eq, _ast.NotEq):\n"
    "            fn = place(_ast.Name(id='__rlaif_eq__', ctx=_ast.Load()), node)\n"
    "            call = place(_ast.Call(func=fn, args=[node.left, node.comparators[0]], keywords=[]),\n"
    "                         node)\n"
    "            if _type(node.ops[0]) is _ast.NotEq:\n"
    "                call = place(_ast.UnaryOp(op=_ast.Not(), operand=call), node)\n"
    "            return call\n"
    "        return node\n"
    "    def compile_test(i, text):\n"
    "        name = 'test_%d' % i\n"
    "        tree = rewrite(_compile(text, name, 'exec', _ast.PyCF_ONLY_AST, dont_inherit=True))\n"
    "        return _compile(tree, name, 'exec', dont_inherit=True, optimize=0)\n"
    PY_LITERAL_FN
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
    "        g = mod.__dict__\n"
    "        env = {k: g[k] for k in g if exposed(k, entry)}\n"
    "        env['__name__'] = '__rlaif_test__'\n"
    "        if entry:\n"
    "            env['candidate'] = g.get(entry)\n"
    "        env['__rlaif_eq__'] = guarded_eq\n"
    "        env['__builtins__'] = clean_builtins\n"
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

/* The isolated variant: the tests stay in this process, which never runs
 * candidate code; the candidate runs in a fresh interpreter (host.py below)
 * that answers calls with plain data over two pipes. */
static const char py_tail_isolated[] =
    "    tests = [_fromhex(t).decode('utf-8', 'replace') for t in tests]\n"
    "    entry = _fromhex(ENTRY).decode()\n"
    "    codes = []\n"
    "    for i, t in _enum(tests):\n"
    "        try:\n"
    "            codes.append(compile_test(i, t))\n"
    "        except _BaseException:\n"
    "            _print_exc()\n"
    "            codes.append(None)\n"
    "    # The candidate runs in a fresh process that never holds the nonce, the\n"
    "    # result descriptor or the tests, and cannot read this process: the\n"
    "    # driver file goes, this process turns non-dumpable (no /proc/<pid>/mem,\n"
    "    # no ptrace, no /proc/<pid>/fd for our uid), descriptor 4 stays here.\n"
    "    try:\n"
    "        os.unlink(__file__)\n"
    "    except OSError:\n"
    "        pass\n"
    "    # prctl through _ctypes itself: the ctypes package costs ~10 ms to import.\n"
    "    import _ctypes\n"
    "    class c_int(_ctypes._SimpleCData):\n"
    "        _type_ = 'i'\n"
    "    class Fn(_ctypes.CFuncPtr):\n"
    "        _flags_ = _ctypes.FUNCFLAG_CDECL\n"
    "        _restype_ = c_int\n"
    "    class Lib:\n"
    "        _handle = _ctypes.dlopen(None)\n"
    "    prctl = Fn(('prctl', Lib))\n"
    "    prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE\n"
    "    if prctl(3, 0, 0, 0, 0) != 0:   # PR_GET_DUMPABLE\n"
    "        raise SystemExit('the driver could not become non-dumpable')\n"
    "    os.set_inheritable(4, False)\n"
    "    req_r, req_w = os.pipe()\n"
    "    rep_r, rep_w = os.pipe()\n"
    "    os.posix_spawn(sys.executable, [sys.executable, '-I', '-S', '-B', 'host.py'], {},\n"
    "                   file_actions=[(os.POSIX_SPAWN_DUP2, req_r, 5),\n"
    "                                 (os.POSIX_SPAWN_DUP2, rep_w, 6)])\n"
    "    _close(req_r)\n"
    "    _close(rep_w)\n"
    "    LIMIT = 16 << 20\n"
    "    def send(text):\n"
    "        data = text.encode('utf-8', 'surrogatepass')\n"
    "        data = b'%08x' % _len(data) + data\n"
    "        while data:\n"
    "            data = data[_write(req_w, data):]\n"
    "    def recv():\n"
    "        head = b''\n"
    "        while _len(head) < 8:\n"
    "            c = _read(rep_r, 8 - _len(head))\n"
    "            if not c:\n"
    "                raise EOFError('the candidate process is gone')\n"
    "            head += c\n"
    "        n, parts, got = int(head, 16), [], 0\n"
    "        if n > LIMIT:\n"
    "            raise ValueError('a reply over 16 MiB')\n"
    "        while got < n:\n"
    "            c = _read(rep_r, min(n - got, 1 << 20))\n"
    "            if not c:\n"
    "                raise EOFError('the candidate process is gone')\n"
    "            parts.append(c)\n"
    "            got += _len(c)\n"
    "        return literal(b''.join(parts).decode('utf-8', 'surrogatepass'))\n"
    "    def call(name, args, kwargs):\n"
    "        if not plain(args) or not plain(kwargs):\n"
    "            raise TypeError('only plain data can be passed to the candidate process')\n"
    "        send(_repr((name, args, kwargs)))\n"
    "        reply = recv()\n"
    "        if reply[0] == 'ok':\n"
    "            return reply[1]\n"
    "        if reply[0] == 'err':\n"
    "            exc = getattr(builtins, reply[1], None)\n"
    "            if _type(exc) is _type and issubclass(exc, Exception):\n"
    "                raise exc(reply[2])\n"
    "            raise RuntimeError('%s: %s' % (reply[1], reply[2]))\n"
    "        raise TypeError(reply[1])\n"
    "    def proxy(name):\n"
    "        def f(*args, **kwargs):\n"
    "            return call(name, args, kwargs)\n"
    "        f.__name__ = name\n"
    "        return f\n"
    "    try:\n"
    "        funcs, values, load_error = recv()\n"
    "        if _type(funcs) is not list or _type(values) is not dict:\n"
    "            raise TypeError('a malformed hello from the candidate process')\n"
    "    except _BaseException:\n"
    "        _print_exc()\n"
    "        funcs, values, load_error = [], {}, True\n"
    "    if load_error:\n"
    "        emit(b'load_error')\n"
    "    base = {'__name__': '__rlaif_test__'}\n"
    "    try:\n"
    "        for k in funcs:\n"
    "            if exposed(k, entry):\n"
    "                base[k] = proxy(k)\n"
    "        for k in values:\n"
    "            if exposed(k, entry):\n"
    "                base[k] = values[k]\n"
    "    except _BaseException:\n"
    "        _print_exc()\n"
    "    if entry and entry in base:\n"
    "        base['candidate'] = base[entry]\n"
    "    base['__rlaif_eq__'] = guarded_eq\n"
    "    base['__builtins__'] = clean_builtins\n"
    "    for i, code in _enum(codes):\n"
    "        ok = False\n"
    "        try:\n"
    "            if code is not None:\n"
    "                _exec(code, _dict(base))\n"
    "                ok = True\n"
    "        except _BaseException:\n"
    "            _print_exc()\n"
    "        emit(b'%d %s' % (i, b'pass' if ok is True else b'fail'))\n"
    "    emit(b'done')\n"
    "    _exit(0)\n"
    "_rlaif_driver()\n";

/* The candidate's process of the isolated variant. */
static const char py_host[] =
    "import os, sys, _ast\n"
    "def _rlaif_host():\n"
    "    _read, _write, _exit, _len, _repr, _type = os.read, os.write, os._exit, len, repr, type\n"
    "    _callable, _compile = callable, compile\n"
    "    _hook, _exc_info = sys.__excepthook__, sys.exc_info\n"
    "    REQ, REP = 5, 6\n"
    PY_LITERAL_FN
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
    "    def send(text):\n"
    "        data = text.encode('utf-8', 'surrogatepass')\n"
    "        data = b'%08x' % _len(data) + data\n"
    "        while data:\n"
    "            data = data[_write(REP, data):]\n"
    "    def recv():\n"
    "        head = b''\n"
    "        while _len(head) < 8:\n"
    "            c = _read(REQ, 8 - _len(head))\n"
    "            if not c:\n"
    "                _exit(0)\n"
    "            head += c\n"
    "        n, parts, got = int(head, 16), [], 0\n"
    "        while got < n:\n"
    "            c = _read(REQ, min(n - got, 1 << 20))\n"
    "            if not c:\n"
    "                _exit(0)\n"
    "            parts.append(c)\n"
    "            got += _len(c)\n"
    "        return b''.join(parts).decode('utf-8', 'surrogatepass')\n"
    "    with open('solution.py', 'rb') as f:\n"
    "        src = f.read()\n"
    "    mod = _type(sys)('solution')\n"
    "    mod.__file__ = 'solution.py'\n"
    "    sys.modules['solution'] = mod\n"
    "    g = mod.__dict__\n"
    "    load_error = False\n"
    "    try:\n"
    "        exec(compile(src, 'solution.py', 'exec', dont_inherit=True, optimize=0), g)\n"
    "    except BaseException:\n"
    "        _hook(*_exc_info())\n"
    "        load_error = True\n"
    "    funcs = [k for k in g if not k.startswith('__') and _callable(g[k])]\n"
    "    values = {k: g[k] for k in g if not k.startswith('__') and not _callable(g[k]) and plain(g[k])}\n"
    "    send(_repr((funcs, values, load_error)))\n"
    "    while True:\n"
    "        name, args, kwargs = literal(recv())\n"
    "        try:\n"
    "            result = g[name](*args, **kwargs)\n"
    "            if plain(result):\n"
    "                reply = _repr(('ok', result))\n"
    "            else:\n"
    "                reply = _repr(('bad', 'the result is a %s, not plain data' % _type(result).__name__))\n"
    "        except BaseException as e:\n"
    "            _hook(*_exc_info())\n"
    "            reply = _repr(('err', _type(e).__name__, str(e)[:2000]))\n"
    "        send(reply)\n"
    "_rlaif_host()\n";

const char *ut_driver_python_host(void) { return py_host; }

void ut_driver_python(ut_str *b, const char *const *tests, size_t n, const char *entry,
                      int isolated)
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
    ut_str_cat(b, isolated ? py_tail_isolated : py_tail);
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

/* Shared by the isolated driver and the candidate host: plain data to Lua
 * source and back, and length-prefixed messages over a pipe. */
#define LUA_PLAIN_DATA_AND_MESSAGES \
    "-- Plain data (nil, booleans, numbers, strings, tables of them without\n" \
    "-- metatables or cycles) to Lua source and back.\n" \
    "local function ser(v, depth, seen)\n" \
    "  local t = type(v)\n" \
    "  if t == 'nil' then return 'nil' end\n" \
    "  if t == 'boolean' then return v and 'true' or 'false' end\n" \
    "  if t == 'number' then\n" \
    "    if math_type(v) == 'integer' then\n" \
    "      if v == mininteger then return '(-9223372036854775807-1)' end\n" \
    "      return sformat('%d', v)\n" \
    "    end\n" \
    "    if v ~= v then return '(0/0)' end\n" \
    "    if v == huge then return '1e9999' end\n" \
    "    if v == -huge then return '-1e9999' end\n" \
    "    return sformat('%a', v)\n" \
    "  end\n" \
    "  if t == 'string' then return sformat('%q', v) end\n" \
    "  if t == 'table' and getmetatable(v) == nil and depth < 64 and not seen[v] then\n" \
    "    seen[v] = true\n" \
    "    local parts = {}\n" \
    "    for k, x in next, v do\n" \
    "      parts[#parts + 1] = '[' .. ser(k, depth + 1, seen) .. ']=' .. ser(x, depth + 1, seen)\n" \
    "    end\n" \
    "    seen[v] = nil\n" \
    "    return '{' .. concat(parts, ',') .. '}'\n" \
    "  end\n" \
    "  error('not plain data (a ' .. t .. ')', 0)\n" \
    "end\n" \
    "local function plain(v, depth, seen)\n" \
    "  local t = type(v)\n" \
    "  if t == 'nil' or t == 'boolean' or t == 'number' or t == 'string' then return true end\n" \
    "  if t ~= 'table' or getmetatable(v) ~= nil or depth > 64 or seen[v] then return false end\n" \
    "  seen[v] = true\n" \
    "  for k, x in next, v do\n" \
    "    if not plain(k, depth + 1, seen) or not plain(x, depth + 1, seen) then return false end\n" \
    "  end\n" \
    "  seen[v] = nil\n" \
    "  return true\n" \
    "end\n" \
    "-- Text from the other process is loaded with no globals at all and checked:\n" \
    "-- at worst it loops or fails, it cannot reach this process's state.\n" \
    "local function deser(s)\n" \
    "  local fn, err = load('return ' .. s, '=message', 't', {})\n" \
    "  if not fn then error('unreadable message: ' .. tostring(err), 0) end\n" \
    "  local v = fn()\n" \
    "  if not plain(v, 0, {}) then error('a message that is not plain data', 0) end\n" \
    "  return v\n" \
    "end\n" \
    "local LIMIT = 16 << 20\n" \
    "local function send(h, s)\n" \
    "  h:write(#s, '\\n', s)\n" \
    "  h:flush()\n" \
    "end\n" \
    "local function recv(h)\n" \
    "  local n = tonumber(h:read('l'))\n" \
    "  if not n then error('the other process is gone', 0) end\n" \
    "  if n < 0 or n > LIMIT then error('a message over 16 MiB', 0) end\n" \
    "  local s = h:read(n)\n" \
    "  if not s or #s ~= n then error('the other process is gone', 0) end\n" \
    "  return s\n" \
    "end\n"

/* The isolated variant (the sandbox starts it non-dumpable): the tests stay
 * here; the candidate runs in a second lua5.4 (host.lua below), started
 * through a shell that closes this process's descriptors, and answers calls
 * with plain data written as Lua source. */
static const char lua_tail_isolated[] =
    "for i = 1, #tests do tests[i] = unhex(tests[i]) end\n"
    "local entry = unhex(ENTRY)\n"
    "local lua_path = unhex(LUA)\n"
    "local getmetatable, next, type, concat, sformat = getmetatable, next, type, table.concat, string.format\n"
    "local math_type, huge, mininteger = math.type, math.huge, math.mininteger\n"
    "local table_pack, table_unpack, os_remove, os_execute, io_popen = table.pack, table.unpack, os.remove, os.execute, io.popen\n"
    LUA_PLAIN_DATA_AND_MESSAGES
    "-- The tests are compiled now, before any candidate code exists; they see\n"
    "-- this process's own globals first and the candidate's names after (a\n"
    "-- candidate's `assert` never answers for the tests), except the task's entry.\n"
    "local G = {}\n"
    "for k, v in pairs(_G) do G[k] = v end\n"
    "local base = {}\n"
    "local function lookup(_, k)\n"
    "  if k == 'candidate' and entry ~= '' then return base[entry] end\n"
    "  if k == entry and base[k] ~= nil then return base[k] end\n"
    "  local v = G[k]\n"
    "  if v ~= nil then return v end\n"
    "  return base[k]\n"
    "end\n"
    "local codes = {}\n"
    "for i, t in ipairs(tests) do\n"
    "  local fn, cerr = load(t, '=test_' .. (i - 1), 't', setmetatable({}, {__index = lookup}))\n"
    "  codes[i] = fn or cerr\n"
    "end\n"
    "-- The candidate runs in a fresh interpreter that never holds the nonce,\n"
    "-- descriptor 4 or the tests, and cannot read this process: the driver file\n"
    "-- goes, this process was started non-dumpable by the sandbox, and the\n"
    "-- shell that starts the candidate closes every descriptor of ours.\n"
    "os_remove('driver.lua')\n"
    "-- rep.fifo, the named pipe for replies, was made by the sandbox.\n"
    "local req = io_popen('exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; exec 3>rep.fifo; exec ' ..\n"
    "                     lua_path .. ' -E host.lua', 'w')\n"
    "local rep = io_open('rep.fifo', 'rb')\n"
    "local function call(name, ...)\n"
    "  local args = table_pack(...)\n"
    "  send(req, ser({name, args}, 0, {}))\n"
    "  local reply = deser(recv(rep))\n"
    "  if type(reply) ~= 'table' then error('a malformed reply', 0) end\n"
    "  if reply[1] == 'ok' then return table_unpack(reply, 2, (tonumber(reply.n) or 0) + 1) end\n"
    "  error(tostring(reply[2]), 0)\n"
    "end\n"
    "local hello_ok, hello = pcall(function() return deser(recv(rep)) end)\n"
    "if not hello_ok or type(hello) ~= 'table' or type(hello.funcs) ~= 'table' or type(hello.values) ~= 'table' then\n"
    "  ewrite(stderr, 'no hello from the candidate process: ', tostring(hello), '\\n')\n"
    "  hello = {funcs = {}, values = {}, load_error = true}\n"
    "end\n"
    "if hello.load_error then emit('load_error') end\n"
    "for _, name in ipairs(hello.funcs) do\n"
    "  if type(name) == 'string' then base[name] = function(...) return call(name, ...) end end\n"
    "end\n"
    "for name, v in pairs(hello.values) do\n"
    "  if type(name) == 'string' and base[name] == nil then base[name] = v end\n"
    "end\n"
    "for i = 1, #tests do\n"
    "  local fn = codes[i]\n"
    "  local ok, e = false, fn\n"
    "  if type(fn) == 'function' then ok, e = xpcall(fn, traceback) end\n"
    "  if ok == true then\n"
    "    emit((i - 1) .. ' pass')\n"
    "  else\n"
    "    pcall(ewrite, stderr, 'test ', i - 1, ': ', tostring(e), '\\n')\n"
    "    emit((i - 1) .. ' fail')\n"
    "  end\n"
    "end\n"
    "emit('done')\n"
    "os_exit(0, false)\n";

static const char lua_host[] =
    "local load, loadfile, pairs, next, type, tostring, tonumber, select, error, getmetatable, xpcall =\n"
    "  load, loadfile, pairs, next, type, tostring, tonumber, select, error, getmetatable, xpcall\n"
    "local sformat, concat, math_type, huge, mininteger = string.format, table.concat, math.type, math.huge, math.mininteger\n"
    "local traceback = debug.traceback\n"
    "local io_open, stdin, stderr = io.open, io.stdin, io.stderr\n"
    LUA_PLAIN_DATA_AND_MESSAGES
    "local rep = io_open('/dev/fd/3', 'wb')\n"
    "local original = {}\n"
    "for k, v in pairs(_G) do original[k] = v end\n"
    "local cand = {}\n"
    "for k, v in pairs(_G) do cand[k] = v end\n"
    "cand._G = cand\n"
    "cand.debug = nil\n"
    "package.loaded.debug = nil\n"
    "debug = nil\n"
    "local function text_load(chunk, name, mode, ...)\n"
    "  if select('#', ...) > 0 then return load(chunk, name, 't', ...) end\n"
    "  return load(chunk, name, 't', cand)\n"
    "end\n"
    "local function text_loadfile(file, mode, ...)\n"
    "  if select('#', ...) > 0 then return loadfile(file, 't', ...) end\n"
    "  return loadfile(file, 't', cand)\n"
    "end\n"
    "cand.load, cand.loadfile = text_load, text_loadfile\n"
    "cand.dofile = function(file) local fn = assert(text_loadfile(file)) return fn() end\n"
    "local load_error = false\n"
    "local sf = io_open('solution.lua', 'rb')\n"
    "local src = sf and sf:read('a') or ''\n"
    "if sf then sf:close() end\n"
    "local chunk, lerr = load(src, '=solution.lua', 't', cand)\n"
    "if not chunk then\n"
    "  stderr:write(tostring(lerr), '\\n')\n"
    "  load_error = true\n"
    "else\n"
    "  local ok, e = xpcall(chunk, traceback)\n"
    "  if not ok then stderr:write(tostring(e), '\\n') load_error = true end\n"
    "end\n"
    "local funcs, values = {}, {}\n"
    "for k, v in pairs(cand) do\n"
    "  if type(k) == 'string' and original[k] ~= v and k ~= '_G' and k ~= 'load' and k ~= 'loadfile' and k ~= 'dofile' then\n"
    "    if type(v) == 'function' then funcs[#funcs + 1] = k\n"
    "    elseif plain(v, 0, {}) then values[k] = v end\n"
    "  end\n"
    "end\n"
    "send(rep, ser({funcs = funcs, values = values, load_error = load_error}, 0, {}))\n"
    "while true do\n"
    "  local ok, req = pcall(function() return deser(recv(stdin)) end)\n"
    "  if not ok or type(req) ~= 'table' then os.exit(0, false) end\n"
    "  local fn = cand[req[1]]\n"
    "  local args = req[2]\n"
    "  local res = table.pack(xpcall(function() return fn(table.unpack(args, 1, args.n)) end, traceback))\n"
    "  local reply\n"
    "  if res[1] then\n"
    "    local r = {'ok', n = res.n - 1}\n"
    "    for i = 2, res.n do r[i] = res[i] end\n"
    "    local sok, text = pcall(ser, r, 0, {})\n"
    "    reply = sok and text or ser({'bad', 'the result is not plain data: ' .. tostring(text)}, 0, {})\n"
    "  else\n"
    "    stderr:write(tostring(res[2]), '\\n')\n"
    "    reply = ser({'err', tostring(res[2])}, 0, {})\n"
    "  end\n"
    "  send(rep, reply)\n"
    "end\n";

const char *ut_driver_lua_host(void) { return lua_host; }

void ut_driver_lua(ut_str *b, const char *const *tests, size_t n, const char *entry,
                   const char *isolated_lua)
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
    if (isolated_lua) {
        ut_str_cat(b, "local LUA = '");
        ut_str_hex(b, isolated_lua, strlen(isolated_lua));
        ut_str_cat(b, "'\n");
    }
    ut_str_cat(b, isolated_lua ? lua_tail_isolated : lua_tail);
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
