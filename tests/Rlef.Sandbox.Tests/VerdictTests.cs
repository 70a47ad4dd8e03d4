using System.Text;
using Rlef.Sandbox;

namespace Rlef.Sandbox.Tests;

[Collection("pool")]
public class VerdictTests(PoolFixture f)
{
    [Fact]
    public async Task Passed()
    {
        var r = await f.RunStdio("print(input()[::-1])", "abc\n", "cba");
        Assert.Equal(Verdict.Passed, r.Verdict);
        Assert.Equal("cba\n", r.Stdout);
        Assert.True(r.TimeMs > 0);
    }

    [Fact]
    public async Task WrongAnswerCarriesExpectedAndFullActual()
    {
        string big = string.Concat(Enumerable.Repeat("x", 50_000));
        var r = await f.RunStdio($"print('{big}')\nprint(2)", "", "1");
        Assert.Equal(Verdict.WrongAnswer, r.Verdict);
        Assert.Equal("1", r.Expected);
        Assert.Equal(big + "\n2\n", r.Actual);
    }

    [Fact]
    public async Task RuntimeErrorTracebackIsRewrittenAndShort()
    {
        string code = "import sys\ndef f(n):\n    return 1 // n\nx = int(input())\nprint(f(x))\n";
        var r = await f.RunStdio(code, "0\n", "1");
        Assert.Equal(Verdict.RuntimeError, r.Verdict);
        Assert.NotNull(r.Error);
        Assert.StartsWith("Traceback (most recent call last):", r.Error);
        Assert.Contains("File \"solution.py\", line 3, in f", r.Error);
        Assert.Contains("return 1 // n", r.Error);
        Assert.EndsWith("ZeroDivisionError: integer division or modulo by zero", r.Error);
        Assert.DoesNotContain("<string>", r.Error);   // runner frames removed
        Assert.DoesNotContain("runner", r.Error);
    }

    [Fact]
    public async Task LongTracebackKeepsFirstAndLastLinesWithinTheCap()
    {
        // 30 distinct frames: far more than 512 characters of traceback.
        string code = "def f0():\n    raise ValueError('deep')\n" +
            string.Concat(Enumerable.Range(1, 30).Select(i => $"def f{i}():\n    f{i - 1}()\n")) + "f30()\n";
        var r = await f.RunStdio(code);
        Assert.Equal(Verdict.RuntimeError, r.Verdict);
        Assert.InRange(r.Error!.Length, 400, 512);
        Assert.StartsWith("Traceback (most recent call last):\n  ...\n", r.Error);
        Assert.EndsWith("  File \"solution.py\", line 2, in f0\n    raise ValueError('deep')\nValueError: deep", r.Error);

        var recursion = await f.RunStdio("def g(n):\n    return g(n + 1)\ng(0)\n");
        Assert.True(recursion.Error!.Length <= 512);
        Assert.EndsWith("RecursionError: maximum recursion depth exceeded", recursion.Error);
    }

    [Fact]
    public async Task SyntaxErrorForEveryTestWithTheMessage()
    {
        var report = await f.Pool.RunAsync(new ExecutionRequest
        {
            Code = "def f(:\n    pass\n",
            Tests = [TestCase.Stdio("", "1"), TestCase.Stdio("", "2"), TestCase.Stdio("", "3")],
        });
        Assert.Equal(3, report.Results.Count);
        Assert.All(report.Results, r => Assert.Equal(Verdict.SyntaxError, r.Verdict));
        Assert.Contains("solution.py", report.Results[0].Error);
        Assert.Contains("SyntaxError", report.Results[0].Error);

        var first = await f.Pool.RunAsync(new ExecutionRequest
        {
            Code = "x = (", Tests = [TestCase.Stdio("", "1"), TestCase.Stdio("", "2")], StopAtFirstFailure = true,
        });
        Assert.Equal(Verdict.SyntaxError, Assert.Single(first.Results).Verdict);
    }

    [Fact]
    public async Task TimeoutOnWallClock()
    {
        var r = await f.RunStdio("import time\ntime.sleep(30)", limits: PoolFixture.Short);
        Assert.Equal(Verdict.Timeout, r.Verdict);
        Assert.InRange(r.TimeMs, 1400, 9000);  // the wall limit, not the 30 s sleep
        await f.AssertStillServes();
    }

    [Fact]
    public async Task TimeoutOnCpu()
    {
        var r = await f.RunStdio("while True:\n    pass", limits: PoolFixture.Short with { WallTimeSeconds = 5 });
        Assert.Equal(Verdict.Timeout, r.Verdict);
        await f.AssertStillServes();
    }

    [Fact]
    public async Task MemoryLimit()
    {
        var r = await f.RunStdio("x = bytearray(2000 << 20)\nprint(len(x))");
        Assert.Equal(Verdict.MemoryLimit, r.Verdict);
        var small = await f.RunStdio("x = bytearray(400 << 20)\nprint(len(x))", limits: new ExecutionLimits { MemoryMb = 256 });
        Assert.Equal(Verdict.MemoryLimit, small.Verdict);
        await f.AssertStillServes();
    }

    [Fact]
    public async Task ProgramUsingNearlyTheWholeDefaultLimitStillRuns()
    {
        // 900 MB of a 1 GB limit, and touched (a list of distinct ints), not just reserved.
        var r = await f.RunStdio("x = bytearray(700 << 20)\nx[::4096] = b'1' * len(x[::4096])\ny = list(range(5_000_000))\nprint(len(x) + len(y))",
            expected: ((700L << 20) + 5_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Verdict.Passed, r.Verdict);
    }

    [Fact]
    public async Task OutputLimitTruncatesWithMarker()
    {
        var r = await f.RunStdio("while True:\n    print('y' * 1000)", limits: new ExecutionLimits { OutputBytes = 10_000 });
        Assert.Equal(Verdict.OutputLimit, r.Verdict);
        Assert.StartsWith(new string('y', 1000) + "\n", r.Stdout);
        Assert.EndsWith("[output truncated: limit of 10000 bytes reached]", r.Stdout);
        Assert.Equal(10_000 + "\n[output truncated: limit of 10000 bytes reached]".Length, Encoding.UTF8.GetByteCount(r.Stdout));
        await f.AssertStillServes();
    }

    [Fact]
    public async Task NonZeroExitIsRuntimeError()
    {
        var r = await f.RunStdio("import sys\nprint('partial')\nsys.exit(3)", "", "partial");
        Assert.Equal(Verdict.RuntimeError, r.Verdict);
        Assert.Contains("exit code 3", r.Error);
        var ok = await f.RunStdio("import sys\nprint('done')\nsys.exit(0)", "", "done");
        Assert.Equal(Verdict.Passed, ok.Verdict);
        var exitBuiltin = await f.RunStdio("print('done')\nexit()", "", "done");
        Assert.Equal(Verdict.Passed, exitBuiltin.Verdict);
    }

    [Fact]
    public async Task InfraErrorForAMalformedTestIsNotAWrongAnswer()
    {
        var report = await f.Pool.RunAsync(new ExecutionRequest
        {
            Code = "def f(x):\n    return x",
            Tests = [TestCase.Call("f", "[1", null)],
        });
        var r = Assert.Single(report.Results);
        Assert.Equal(Verdict.InfraError, r.Verdict);
        Assert.Contains("not JSON", r.Error);
    }

    [Fact]
    public async Task ManyTestsCompiledOnceAndStopAtFirstFailure()
    {
        var tests = Enumerable.Range(0, 20).Select(i => TestCase.Stdio($"{i}\n", i == 7 ? "wrong" : $"{i * i}")).ToList();
        const string code = "n = int(input())\nprint(n * n)";
        var all = await f.Pool.RunAsync(new ExecutionRequest { Code = code, Tests = tests });
        Assert.Equal(20, all.Results.Count);
        Assert.Equal(19, all.Results.Count(r => r.Verdict == Verdict.Passed));
        Assert.Equal(Verdict.WrongAnswer, all.Results[7].Verdict);
        var stop = await f.Pool.RunAsync(new ExecutionRequest { Code = code, Tests = tests, StopAtFirstFailure = true });
        Assert.Equal(8, stop.Results.Count);
        Assert.Equal(Verdict.WrongAnswer, stop.Results[^1].Verdict);
    }

    [Fact]
    public async Task TestsBeyondOneRequestsBudgetKeepTheirOrder()
    {
        // A worker gets a job's tests in requests of about 1 MB of test data: these five make three requests.
        var tests = Enumerable.Range(1, 5).Select(i => TestCase.Stdio(new string('x', i * 150_000) + "\n", $"{i * 150_000}")).ToList();
        var report = await f.Pool.RunAsync(new ExecutionRequest { Code = "print(len(input()))", Tests = tests });
        Assert.Equal(5, report.Results.Count);
        Assert.All(report.Results, r => Assert.Equal(Verdict.Passed, r.Verdict));
        Assert.Equal(["150000\n", "300000\n", "450000\n", "600000\n", "750000\n"], report.Results.Select(r => r.Actual));
    }

    [Fact]
    public async Task UnicodeRoundTrips()
    {
        var r = await f.RunStdio("s = input()\nprint(s.upper(), len(s))", "héllo 中文\n", "HÉLLO 中文 8", comparison: Comparison.Exact);
        Assert.Equal("HÉLLO 中文 8\n", r.Actual);
    }

    [Fact]
    public async Task ConcurrentJobsAllGetTheirOwnAnswers()
    {
        var jobs = Enumerable.Range(0, 12).Select(i => f.Pool.RunAsync(new ExecutionRequest
        {
            Code = $"print(int(input()) + {i})",
            Tests = [TestCase.Stdio("100\n", (100 + i).ToString(System.Globalization.CultureInfo.InvariantCulture))],
        }));
        var reports = await Task.WhenAll(jobs);
        Assert.All(reports, r => Assert.True(r.AllPassed));
    }

    [Fact]
    public async Task FreshProcessExecutorAgreesWithThePool()
    {
        var request = new ExecutionRequest
        {
            Code = "n = int(input())\nif n == 3:\n    raise ValueError('three')\nprint(n + 1)",
            Tests = [TestCase.Stdio("1", "2"), TestCase.Stdio("2", "4"), TestCase.Stdio("3", "4")],
        };
        await using var fresh = new FreshProcessExecutor(new SandboxOptions { Workers = 2 });
        var a = await fresh.RunAsync(request);
        var b = await f.Pool.RunAsync(request);
        Assert.Equal(new[] { Verdict.Passed, Verdict.WrongAnswer, Verdict.RuntimeError }, a.Results.Select(r => r.Verdict));
        Assert.Equal(a.Results.Select(r => (r.Verdict, r.Actual, r.Error)), b.Results.Select(r => (r.Verdict, r.Actual, r.Error)));
    }
}
