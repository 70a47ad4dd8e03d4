# The warm worker that runs inside the bubblewrap sandbox (started by Rlef.Sandbox.WorkerProcess; argv: WORK_DIR
# [OOM_FD]).
#
# Protocol on fds 0 (requests) and 1 (replies), moved to high fds at start: every message is a 4-byte
# big-endian length followed by UTF-8 JSON. Never pickle: the host must not trust anything it decodes.
#   host -> {"op": "job", "code": str, "limits": {...}}   reply {"ok": true} or {"syntax_error": str}
#   host -> {"op": "tests", "tests": [{"kind": "stdio"|"call"|"assert", ...}, ...]}
#                                                          replies: one result object per test, in order (run_test)
#   host -> {"op": "end"}                                  reply {"ok": true}; the worker waits for the next job
# Several tests in one request spare a host round trip per test: the worker goes from one test's reply straight
# to the next test, while the host judges the previous result.
# The solution is compiled once per job and executed only in a forked child per test, so nothing it does can
# reach the worker or the next test. Expected outputs never enter the sandbox: the host compares.
import builtins
import ctypes
import gc
import linecache
import json
import os
import resource
import select
import signal
import sys
import time
import traceback

sys.set_int_max_str_digits(0)
REQ_FD = os.dup(0)
REP_FD = os.dup(1)
_null = os.open("/dev/null", os.O_RDWR)
os.dup2(_null, 0)
os.dup2(_null, 1)
os.close(_null)
os.set_inheritable(REQ_FD, False)
os.set_inheritable(REP_FD, False)
# The test's sys.stdin/stdout/stderr, built once (building them costs more than the fork): they name fds 0-2,
# which the child points at its own pipes before running the program. Their buffers are empty at every fork
# because the worker never uses them.
TEST_STDIO = (
    open(0, "r", encoding="utf-8", errors="surrogateescape", closefd=False),
    open(1, "w", encoding="utf-8", errors="surrogateescape", closefd=False),
    open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False),
)

# argv: WORK_DIR (the private writable directory; /tmp inside the sandbox), then, where the worker has a memory
# cgroup, the fd on which the launch opened the cgroup's memory.oom_control (moved to a non-inheritable fd).
WORK_DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
OOM_FD = None
if len(sys.argv) > 2:
    OOM_FD = os.dup(int(sys.argv[2]))
    os.close(int(sys.argv[2]))

# The OOM killer must take a test, never the worker: the worker raises its own oom_score_adj to 1000 just before
# each fork (the child inherits it) and lowers it back right after. Writing the file needs this fd, opened while the
# worker is still dumpable (afterwards /proc/self is root-owned); lowering back to the starting value is always
# allowed. Done here, not in the child, so the child runs no Python for it.
OOM_ADJ_FD = os.open("/proc/self/oom_score_adj", os.O_RDWR)
OOM_ADJ_START = os.pread(OOM_ADJ_FD, 16, 0).strip()
os.set_inheritable(OOM_ADJ_FD, False)

_libc = ctypes.CDLL(None, use_errno=True)
# Not dumpable: a test process (same uid) can then neither ptrace the worker nor open /proc/<worker>/mem or fd.
_libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
# Orphaned descendants of a test must come back to this worker so that sweep() can find and kill them. Inside
# bubblewrap the worker is pid 1 of its own pid namespace (--as-pid-1), which already makes it their reaper and
# also makes it immune to signals sent from inside; without isolation it asks to be a subreaper.
if os.getpid() != 1:
    _libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER = 36

TRACE_CAP = 512
SOLUTION = "solution.py"
TESTFILE = "test.py"
MY_PID = os.getpid()


def _exit_builtin(code=None):
    raise SystemExit(code)


# What every test process gets, set once in the worker and inherited through fork (each step done in the child
# costs it copy-on-write page faults): the work dir as cwd, argv, exit()/quit() (normally added by `site`, which
# -S skips), sys.stdin/stdout (the worker never uses them) and no core dumps.
os.chdir(WORK_DIR)
sys.argv = [SOLUTION]
builtins.exit = builtins.quit = _exit_builtin
sys.stdin, sys.stdout = TEST_STDIO[0], TEST_STDIO[1]
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def read_exact(n):
    chunks = []
    while n:
        b = os.read(REQ_FD, n)
        if not b:
            sys.exit(0)  # host closed the pipe: shut down quietly
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def receive():
    n = int.from_bytes(read_exact(4), "big")
    return json.loads(read_exact(n))


def send(obj):
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
    buf = memoryview(len(data).to_bytes(4, "big") + data)
    while buf:
        buf = buf[os.write(REP_FD, buf):]


# ---------------------------------------------------------------- value encoding (parsed and documented in Comparison/PythonValue.cs)
class Unencodable(Exception):
    pass


def encode(v, depth=0):
    """Python literal syntax for exact builtin types only; subclasses (with a custom __eq__ or __repr__) are
    refused so that a returned object cannot pass by lying about itself. Sets are sorted for a stable text."""
    if depth > 200:
        raise Unencodable("nesting deeper than 200")
    t = type(v)
    if v is None or t is bool or t is int or t is float or t is str or t is bytes:
        return (float.__repr__ if t is float else int.__repr__ if t is int else repr)(v)
    if t is list:
        return "[" + ", ".join(encode(x, depth + 1) for x in v) + "]"
    if t is tuple:
        if len(v) == 1:
            return "(" + encode(v[0], depth + 1) + ",)"
        return "(" + ", ".join(encode(x, depth + 1) for x in v) + ")"
    if t is dict:
        return "{" + ", ".join(encode(k, depth + 1) + ": " + encode(x, depth + 1) for k, x in v.items()) + "}"
    if t is set or t is frozenset:
        inner = ", ".join(sorted(encode(x, depth + 1) for x in v))
        if t is set:
            return "{" + inner + "}" if v else "set()"
        return "frozenset({" + inner + "})" if v else "frozenset()"
    raise Unencodable(t.__name__)


# ---------------------------------------------------------------- tracebacks
def remember_source(name, text):
    """Tracebacks then show the offending line of solution.py / test.py although no such file exists."""
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)

def shorten(text, cap=TRACE_CAP):
    """Keep the first line and as many of the last lines as fit (docs/protocol.md §1: a cap of about 512 characters)."""
    if len(text) <= cap:
        return text
    lines = text.split("\n")
    marker = "\n  ...\n"
    head = lines[0] if len(lines[0]) <= cap // 3 else lines[0][: cap // 3 - 3] + "..."
    budget = cap - len(head) - len(marker)
    tail, used = [], 0
    for line in reversed(lines[1:]):
        if used + len(line) + 1 > budget:
            break
        tail.insert(0, line)
        used += len(line) + 1
    if not tail:
        tail = [lines[-1][: budget - 3] + "..."]
    return head + marker + "\n".join(tail)


def format_exception(exc):
    """The traceback as Python prints it, with only the solution's and the test's frames."""
    tb = exc.__traceback__
    frames = [f for f in traceback.extract_tb(tb) if f.filename in (SOLUTION, TESTFILE)]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return shorten("".join(lines).rstrip("\n"))


# ---------------------------------------------------------------- the child: one test
def report(obj):
    """The child's structured result, on fd 3 (the result pipe)."""
    os.write(3, json.dumps(obj).encode("utf-8", "surrogatepass"))


def job_rlimits(limits):
    """The (resource, (soft, hard)) pairs every test process of a job gets, computed once per job."""
    cpu = max(1, int(limits["cpu"] + 0.999))
    pairs = [(resource.RLIMIT_CPU, (cpu, cpu + 1)), (resource.RLIMIT_FSIZE, (limits["fsize"], limits["fsize"]))]
    if limits.get("nproc"):
        # RLIMIT_NPROC counts every process of the sandbox's uid, the worker included.
        pairs.append((resource.RLIMIT_NPROC, (limits["nproc"] + 1, limits["nproc"] + 1)))
    if limits.get("as_bytes"):
        pairs.append((resource.RLIMIT_AS, (limits["as_bytes"], limits["as_bytes"])))
    return pairs


def child_main(job_code, test, rlimits, out_w, err_w, res_w, stdin_fd):
    # Only what differs per test or must not touch the worker; the rest is inherited (see the startup above).
    # The child stays non-dumpable like the worker: its /proc/self is root-owned.
    try:
        os.setpgid(0, 0)
        for r, v in rlimits:
            resource.setrlimit(r, v)
        os.dup2(stdin_fd, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.dup2(res_w, 3)
        os.closerange(4, 1 << 16)
        sys.stderr = TEST_STDIO[2]
    except BaseException as e:
        os.write(res_w, json.dumps({"status": "infra", "error": "child setup: %r" % e}).encode())
        os._exit(70)

    kind = test["kind"]
    g = {"__name__": "__main__" if kind == "stdio" else "solution", "__builtins__": builtins}
    code = 0
    try:
        try:
            exec(job_code, g)
            if kind == "call":
                fn = g.get(test["entry"])
                if fn is None:
                    raise NameError("name '%s' is not defined" % test["entry"])
                value = fn(*test["args_value"])
                try:
                    report({"status": "ok", "value": encode(value)})
                except (Unencodable, RecursionError) as e:
                    report({"status": "ok", "value": "<unencodable %s>" % e})
            elif kind == "assert":
                exec(test["assert_code"], g)
                report({"status": "ok"})
        finally:
            try:
                sys.stdout.flush()
            except BaseException:
                pass
    except SystemExit as e:
        c = e.code
        if c is None:
            code = 0
        elif isinstance(c, int):
            code = c & 0xFF
        else:
            try:
                sys.stderr.write(str(c) + "\n")
            except BaseException:
                pass
            code = 1
        if kind != "stdio":
            report({"status": "no_result", "error": "the program exited (code %d) before the test finished" % code})
    except MemoryError:
        report({"status": "memory", "error": "MemoryError"})
        code = 1
    except AssertionError as e:
        # "AssertionError: <message>"; a bare assert shows its source line instead of an empty message.
        msg = str(e)
        if not msg:
            frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename in (SOLUTION, TESTFILE)]
            msg = (frames[-1].line or "") if frames else ""
        msg = "AssertionError: " + msg if msg else "AssertionError"
        err = format_exception(e)
        report({"status": "assertion" if kind == "assert" else "exception", "error": msg if kind == "assert" else err,
                "trace": err})
        _stderr(err)
        code = 1
    except BaseException as e:
        err = format_exception(e)
        report({"status": "exception", "error": err})
        _stderr(err)
        code = 1
    try:
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(code)


def _stderr(text):
    try:
        sys.stderr.write(text + "\n")
    except BaseException:
        pass


# ---------------------------------------------------------------- the worker side of one test
def my_children():
    """Pids whose parent is this worker. A test's leftovers (daemonised, setsid, double-forked) end up here
    because the worker is their reaper; so killing children until none is left kills the whole tree, and
    never anything that is not a descendant of this worker."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == MY_PID:
            found.append(int(name))
    return found


def sweep():
    """Kill whatever a test left running. Returns whether anything had to be killed (the worker is then
    recycled: a test that escapes its process group is an anomaly). Called once the test's own process is
    reaped: whatever is left is a child of this worker (see my_children), so wait()'s "no children at all"
    proves there is nothing to kill, and /proc is read only when something is left."""
    killed = False
    for _ in range(200):
        if not reap():
            return killed
        children = my_children()
        killed = killed or bool(children)
        for p in children:
            kill_tree(p)
        time.sleep(0.001)
    raise RuntimeError("could not kill the processes a test left behind")


def kill_tree(pid):
    """SIGKILL a child of this worker and the process group it created (setpgid(0, 0) in child_main).
    pid is an unreaped child, so no other process can own that pid or that group id."""
    assert pid > 1
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


WAIT_ALL = 0x40000000  # __WALL: children with any exit signal too (a clone() child must not hide from wait)


def reap():
    """Reaps the children that have exited; returns whether any child is still alive."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG | WAIT_ALL)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def clean_work_dir():
    """Remove what the test wrote, so nothing leaks to the next test or job. Returns False on failure."""
    names = os.listdir(WORK_DIR)
    if not names:
        return True
    import shutil
    for n in names:
        p = os.path.join(WORK_DIR, n)
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                for root, dirs, _ in os.walk(p):  # a test may have removed its own permissions
                    for d in dirs:
                        os.chmod(os.path.join(root, d), 0o700)
                os.chmod(p, 0o700)
                shutil.rmtree(p)
            else:
                os.unlink(p)
        except OSError:
            return False
    return True


SIGNAMES = {getattr(signal, n): n for n in dir(signal) if n.startswith("SIG") and not n.startswith("SIG_")}


def run_test(job_code, test, limits, rlimits):
    kind = test["kind"]
    if kind == "call":
        try:
            test["args_value"] = json.loads(test["args"])  # parsed once, before the fork; the child inherits it
        except ValueError as e:
            return {"status": "bad_test", "error": "the call arguments are not JSON: %s" % e}
        if type(test["args_value"]) is not list:
            return {"status": "bad_test", "error": "the call arguments must be a JSON array"}
    elif kind == "assert":
        try:
            test["assert_code"] = compile(test["source"], TESTFILE, "exec")
            remember_source(TESTFILE, test["source"])
        except SyntaxError as e:
            return {"status": "bad_test", "error": "the assert source does not compile: %s" % e}

    stdin_fd = os.memfd_create("stdin")
    data = test.get("input", "").encode("utf-8", "surrogatepass")
    if data:
        os.write(stdin_fd, data)
        os.lseek(stdin_fd, 0, os.SEEK_SET)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe()
    start = time.monotonic()
    os.write(OOM_ADJ_FD, b"1000")
    try:
        pid = os.fork()
    except BaseException:
        os.write(OOM_ADJ_FD, OOM_ADJ_START)
        raise
    if pid == 0:
        try:
            child_main(job_code, test, rlimits, out_w, err_w, res_w, stdin_fd)
        finally:
            os._exit(71)
    os.write(OOM_ADJ_FD, OOM_ADJ_START)
    for fd in (out_w, err_w, res_w, stdin_fd):
        os.close(fd)

    out_cap = limits["out"]
    res_cap = max(out_cap, 8 << 20)
    bufs = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
    caps = {out_r: out_cap, err_r: out_cap, res_r: res_cap}
    open_fds = [out_r, err_r, res_r]
    pidfd = os.pidfd_open(pid)
    deadline = start + limits["wall"]
    status = None
    exited = False
    while open_fds or not exited:
        # Once the test's process has exited, only drain what is already written: a leftover grandchild
        # holding the pipes open must not keep the test running.
        if exited:
            remaining = 0
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                status = "timeout"
                break
        ready, _, _ = select.select(open_fds + ([] if exited else [pidfd]), [], [], remaining)
        if not ready:
            if exited:
                break
            continue
        for fd in ready:
            if fd == pidfd:
                exited = True
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.remove(fd)
                continue
            b = bufs[fd]
            b += chunk
            if len(b) > caps[fd]:
                del b[caps[fd]:]
                status = "output_limit"
        if status:
            break
    killed_by_us = status is not None
    if killed_by_us:
        kill_tree(pid)
    _, wstatus, ru = os.wait4(pid, 0)
    os.close(pidfd)
    elapsed_ms = (time.monotonic() - start) * 1000
    for fd in (out_r, err_r, res_r):
        os.close(fd)
    stray = sweep()
    clean = clean_work_dir()
    cpu_s = ru.ru_utime + ru.ru_stime

    result = {
        "stdout": bufs[out_r].decode("utf-8", "replace"),
        "stderr": bufs[err_r].decode("utf-8", "replace"),
        "time_ms": round(elapsed_ms, 3),
        "cpu_ms": round(cpu_s * 1000, 3),
        "recycle": stray or not clean or killed_by_us,
    }
    try:
        res = json.loads(bufs[res_r]) if bufs[res_r] else None
    except ValueError:
        res = None
    if type(res) is not dict:
        res = None
    sig = os.WTERMSIG(wstatus) if os.WIFSIGNALED(wstatus) else 0
    exit_code = os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else -1

    if status == "timeout" or sig == signal.SIGXCPU or cpu_s > limits["cpu"]:
        result["status"] = "timeout"
    elif status == "output_limit":
        result["status"] = "output_limit"
    elif sig == signal.SIGXFSZ:
        result.update(status="exception", error="File size limit exceeded (SIGXFSZ)")
    elif sig:
        result.update(status="signal", signal=sig, error="killed by signal %s" % SIGNAMES.get(sig, sig))
    elif res is not None and res.get("status") in ("memory", "exception", "assertion", "no_result", "infra"):
        result.update({k: v for k, v in res.items() if k in ("status", "error", "trace")})
    elif exit_code != 0:
        result.update(status="exit", error="exit code %d" % exit_code)
    elif kind == "stdio":
        result["status"] = "ok"
    elif res is not None and res.get("status") == "ok":
        result["status"] = "ok"
        if kind == "call":
            if type(res.get("value")) is not str:
                result.update(status="no_result", error="no value returned")
            else:
                result["value"] = res["value"]
    else:
        result.update(status="no_result", error="the program exited before the test finished")
    return result


def oom_kills():
    for line in os.pread(OOM_FD, 4096, 0).decode().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


def vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    job_code = None
    limits = rlimits = None
    while True:
        msg = receive()
        op = msg.get("op")
        if op == "job":
            limits = msg["limits"]
            if limits.get("mem"):
                # The child starts as a copy of this worker, so its address space already holds the interpreter:
                # allow the program its full memory limit on top of that (plus malloc's arena slack).
                limits["as_bytes"] = limits["mem"] + vm_size() + (64 << 20)
            rlimits = job_rlimits(limits)
            try:
                job_code = compile(msg["code"], SOLUTION, "exec")
                remember_source(SOLUTION, msg["code"])
                gc.collect()
                gc.freeze()  # the forked children then do not dirty (copy) the worker's pages when they collect
                send({"ok": True})
            except (SyntaxError, ValueError) as e:
                job_code = None
                text = "".join(traceback.format_exception_only(type(e), e)).rstrip("\n")
                send({"syntax_error": shorten(text)})
        elif op == "tests":
            for test in msg["tests"]:
                started = time.monotonic()  # the host's clock too (CLOCK_MONOTONIC): it times each test from here
                result = run_test(job_code, test, limits, rlimits) if job_code is not None else {"status": "infra", "error": "no compiled job"}
                result["started"] = started
                if OOM_FD is not None:
                    # Read once every process of this test is gone and before the next test starts: the host
                    # charges each new OOM kill of the worker's cgroup to exactly this test.
                    result["oom_kills"] = oom_kills()
                send(result)
        elif op == "end":
            job_code = None
            send({"ok": True})
        elif op == "ping":
            send({"ok": True, "pid": MY_PID})
        else:
            send({"status": "infra", "error": "unknown op %r" % op})


main()
