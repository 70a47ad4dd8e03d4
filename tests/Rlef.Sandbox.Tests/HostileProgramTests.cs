using System.Diagnostics;
using Rlef.Sandbox;
using Rlef.Tests;

namespace Rlef.Sandbox.Tests;

/// <summary>
/// Programs that attack the sandbox. Each must end in the right verdict, leave the host unharmed, and the pool
/// must serve the next job. They only ever run inside the sandbox (never with isolation off).
/// </summary>
[Collection("pool")]
public class HostileProgramTests(PoolFixture f)
{
    [Fact]
    public async Task NoNetwork()
    {
        var r = await f.RunStdio("import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n    print('connected')\nexcept OSError as e:\n    print('blocked', e.errno)\n" +
            "try:\n    socket.create_connection(('1.1.1.1', 80), timeout=2)\n    print('connected')\nexcept OSError as e:\n    print('blocked', e.errno)\n");
        Assert.Equal(Verdict.Passed, r.Verdict);
        Assert.DoesNotContain("connected", r.Stdout);
        Assert.Equal(2, r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.StartsWith("blocked", StringComparison.Ordinal)));
        await f.AssertStillServes();
    }

    [Fact]
    public async Task TheOomKillerPrefersTheTestAndTheTestCannotChangeThat()
    {
        // The worker (pid 1 of the sandbox) lends its oom_score_adj of 1000 to each test at fork and takes its own back.
        var r = await f.RunStdio("""
            mine = open('/proc/self/oom_score_adj').read().strip()
            worker = open('/proc/1/oom_score_adj').read().strip()
            try:
                open('/proc/self/oom_score_adj', 'w').write('0')
                print(mine, worker, 'lowered')
            except OSError:
                print(mine, worker, 'denied')
            """);
        Assert.Equal(Verdict.Passed, r.Verdict);
        string[] parts = r.Stdout.Split();
        Assert.Equal("1000", parts[0]);
        Assert.NotEqual("1000", parts[1]);
        Assert.Equal("denied", parts[2]);
        await f.AssertStillServes();
    }

    [Fact]
    public async Task CannotWriteOutsideTheWorkDir()
    {
        string marker = $"/tmp/rlef-sandbox-escape-{Guid.NewGuid():N}";
        string project = RepoPaths.Root;
        string code = $$"""
            import os
            for p in ['/usr/evil', '/evil', '/dev/shm/evil', '/dev/evil', {{Py(Path.Combine(project, "evil"))}}, '/proc/sys/kernel/hostname']:
                try:
                    with open(p, 'w') as f:
                        f.write('x')
                    print('wrote', p)
                except OSError as e:
                    print('denied', p)
            open({{Py(marker)}}, 'w').write('private')  # the sandbox's own /tmp, not the host's
            open('/tmp/ok', 'w').write('fine')
            print(open('/tmp/ok').read())
            """;
        var r = await f.RunStdio(code);
        Assert.Equal(Verdict.Passed, r.Verdict);
        Assert.DoesNotContain("wrote", r.Stdout);
        Assert.Contains("fine", r.Stdout);
        Assert.False(File.Exists(marker));
        Assert.False(File.Exists(Path.Combine(project, "evil")));
        await f.AssertStillServes();
    }

    [Fact]
    public async Task CannotReadHostFiles()
    {
        string project = RepoPaths.Root;
        string code = $$"""
            import os
            for p in ['/etc/passwd', '/etc/shadow', '/root', '/home', {{Py(project)}}, {{Py(Path.Combine(project, "Rlef.slnx"))}}, '/proc/1/environ']:
                try:
                    if os.path.isdir(p):
                        os.listdir(p)
                    else:
                        open(p).read()
                    print('read', p)
                except OSError:
                    print('denied', p)
            print(sorted(os.environ))
            """;
        var r = await f.RunStdio(code);
        Assert.Equal(Verdict.Passed, r.Verdict);
        Assert.DoesNotContain("read ", r.Stdout);
        // The environment is scrubbed: nothing of the host's (no HOME, no secrets) reaches the program.
        Assert.DoesNotContain("HOME", r.Stdout);
        Assert.True(File.Exists(Path.Combine(project, "Rlef.slnx")));
        await f.AssertStillServes();
    }

    [Fact]
    public async Task ForkBombIsContained()
    {
        var r = await f.RunStdio("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", limits: PoolFixture.Short);
        Assert.Contains(r.Verdict, new[] { Verdict.Timeout, Verdict.RuntimeError });
        await f.AssertStillServes();
    }

    [Fact]
    public async Task MemoryBombIsContained()
    {
        var r = await f.RunStdio("x = []\nwhile True:\n    x.append(bytearray(50 << 20))\n    x[-1][::4096] = b'1' * len(x[-1][::4096])");
        Assert.Equal(Verdict.MemoryLimit, r.Verdict);
        await f.AssertStillServes();
    }

    // Four processes of 200 MB each: every one stays under its own address-space limit, the family does not.
    const string ForkedFamily = """
        import os, time
        def fork_family():
            kids = []
            for _ in range(4):
                pid = os.fork()
                if pid == 0:
                    x = bytearray(200 << 20)
                    x[::4096] = b'1' * len(x[::4096])
                    time.sleep(2)
                    os._exit(0)
                kids.append(pid)
            return all(os.waitpid(k, 0)[1] == 0 for k in kids)

        """;

    [Fact]
    public async Task ForkedMemoryBombIsCappedAsAWhole()
    {
        // Each process stays under its own address-space limit; only the worker's memory cgroup stops the family.
        string code = ForkedFamily + "print(fork_family())\n";
        var r = await f.RunStdio(code, "", "True", limits: new ExecutionLimits { MemoryMb = 256, WallTimeSeconds = 8 });
        if (!WorkerCgroup.Available)
            return;  // without cgroups (not root / no v1 controllers) only the per-process limit exists
        Assert.Equal(Verdict.MemoryLimit, r.Verdict);
        await f.AssertStillServes();
    }

    [Fact]
    public async Task MemoryCapKillsAreChargedToTheirOwnTest()
    {
        // The worker runs the tests of one request back to back: the cgroup's OOM kill of the middle test must be
        // charged to it, not to a neighbour whose reply the host happens to read at that moment.
        if (!WorkerCgroup.Available)
            return;
        string code = ForkedFamily + """
            if input() == 'bomb':
                print(fork_family())
            else:
                time.sleep(0.2)
                print('fine')
            """;
        var report = await f.Pool.RunAsync(new ExecutionRequest
        {
            Code = code,
            Tests = [TestCase.Stdio("a", "fine"), TestCase.Stdio("bomb", "True"), TestCase.Stdio("b", "fine"), TestCase.Stdio("bomb", "True")],
            Limits = new ExecutionLimits { MemoryMb = 256, WallTimeSeconds = 8 },
        });
        Assert.Equal([Verdict.Passed, Verdict.MemoryLimit, Verdict.Passed, Verdict.MemoryLimit], report.Results.Select(r => r.Verdict));
        await f.AssertStillServes();
    }

    [Fact]
    public async Task ProcessThatTriesToOutliveItsTest()
    {
        // A detached grandchild (new session, double fork) that would keep running and write later.
        string code = """
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    time.sleep(0.5)
                    open('/tmp/late', 'w').write('I survived')
                    time.sleep(60)
                os._exit(0)
            print('parent done')
            """;
        var r = await f.RunStdio(code, "", "parent done");
        Assert.Equal(Verdict.Passed, r.Verdict);
        Assert.True(r.TimeMs < 7000, $"the test waited for its grandchild ({r.TimeMs} ms)");
        await Task.Delay(800);
        // The next jobs see no leftover process and no late file, whichever worker they land on.
        for (int i = 0; i < 3; i++)
        {
            var probe = await f.RunStdio("import os\nprint(len([p for p in os.listdir('/proc') if p.isdigit()]), os.path.exists('/tmp/late'))", "", "2 False");
            Assert.True(probe.Verdict == Verdict.Passed, probe.Stdout);
        }
    }

    [Fact]
    public async Task LeftoversAreKilledBetweenTestsOfOneJob()
    {
        // Test 0 leaves two processes behind: a detached grandchild and one made by a bare clone() without an exit
        // signal (invisible to a plain wait()). The job's next tests, sent to the worker in the same request, must
        // see neither of them nor the file they would write.
        string code = """
            import ctypes, os, time
            def linger():
                time.sleep(0.3)
                open('/tmp/late-%d' % os.getpid(), 'w').write('I survived')
                time.sleep(60)
            if input() == '0':
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        linger()
                    os._exit(0)
                if ctypes.CDLL(None).syscall(56, 0, 0, 0, 0, 0) == 0:  # clone(flags=0)
                    linger()
                print('left two behind')
            else:
                time.sleep(0.5)
                print(len([p for p in os.listdir('/proc') if p.isdigit()]), os.listdir('/tmp'))
            """;
        var report = await f.Pool.RunAsync(new ExecutionRequest
        {
            Code = code,
            Tests = [TestCase.Stdio("0", "left two behind"), TestCase.Stdio("1", "2 []"), TestCase.Stdio("2", "2 []")],
        });
        Assert.All(report.Results, r => Assert.True(r.Verdict == Verdict.Passed, $"{r.Verdict}: {r.Stdout} {r.Error}"));
        await f.AssertStillServes();
    }

    [Fact]
    public async Task KillingItsParentAndEveryoneElse()
    {
        string code = """
            import os, signal
            for target in (os.getppid(), 1):
                for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
                    try:
                        os.kill(target, sig)
                    except OSError:
                        pass
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            print('still here')
            """;
        var r = await f.RunStdio(code, "", "still here");
        Assert.Equal(Verdict.Passed, r.Verdict);
        await f.AssertStillServes();
    }

    [Fact]
    public async Task SignalsEndInRuntimeErrors()
    {
        var segv = await f.RunStdio("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)");
        Assert.Equal(Verdict.RuntimeError, segv.Verdict);
        Assert.Contains("SIGSEGV", segv.Error);
        var own = await f.RunStdio("import os, signal\nos.killpg(0, signal.SIGKILL)");
        Assert.Equal(Verdict.RuntimeError, own.Verdict);
        var alarm = await f.RunStdio("import signal, time\nsignal.alarm(1)\ntime.sleep(5)", limits: PoolFixture.Short with { WallTimeSeconds = 3 });
        Assert.Equal(Verdict.RuntimeError, alarm.Verdict);
        Assert.Contains("SIGALRM", alarm.Error);
        await f.AssertStillServes();
    }

    [Fact]
    public async Task ForgedReportsCannotPassCallOrStdioTests()
    {
        // The program writes a fake "ok" to the harness's report pipe and exits before the real work.
        const string forge = "import os\nfor fd in range(3, 10):\n    try:\n        os.write(fd, b'{\"status\": \"ok\", \"value\": \"[1]\"}')\n    except OSError:\n        pass\nos._exit(0)\n";
        var call = await f.Pool.RunAsync(new ExecutionRequest { Code = forge + "def f():\n    return [2]", Tests = [TestCase.Call("f", "[]", "[2]")] });
        Assert.Equal(Verdict.WrongAnswer, call.Results[0].Verdict);   // the host compares the (forged) value
        var stdio = await f.RunStdio(forge, "", "42");
        Assert.Equal(Verdict.WrongAnswer, stdio.Verdict);              // stdout decides, not the report pipe
        await f.AssertStillServes();
    }

    [Fact]
    public async Task FileSizeLimit()
    {
        var r = await f.RunStdio("with open('/tmp/big', 'wb') as f:\n    f.write(b'0' * (4 << 20))",
            limits: new ExecutionLimits { MaxFileBytes = 1 << 20 });
        Assert.Equal(Verdict.RuntimeError, r.Verdict);
        await f.AssertStillServes();
    }

    [Fact]
    public async Task NoStateLeaksBetweenJobs()
    {
        // Files, module state and builtins changed by one job are gone for the next, on every worker.
        for (int i = 0; i < 4; i++)
        {
            var r = await f.RunStdio("""
                import os, builtins, sys
                seen = (os.listdir('/tmp'), hasattr(builtins, 'leak'), 'leaky' in sys.modules)
                open('/tmp/leak', 'w').write('x')
                builtins.leak = 1
                sys.modules['leaky'] = sys
                print(seen)
                """, "", "([], False, False)", comparison: Comparison.Exact);
            Assert.Equal("([], False, False)\n", r.Stdout);
        }
    }

    [Fact]
    public async Task HostIsUnharmed()
    {
        // The machine's processes outside the sandbox are all still there after the hostile suite's kind of
        // programs (the test process itself is the witness: it is alive), and no worker leaked.
        var before = Process.GetProcesses().Length;
        await f.RunStdio("import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass");
        Assert.InRange(Process.GetProcesses().Length, before - 5, before + 20);
        Assert.False(Process.GetCurrentProcess().HasExited);
    }

    private static string Py(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
