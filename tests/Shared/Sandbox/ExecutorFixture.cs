using Rlef.Sandbox;

namespace Rlef.Tests;

/// <summary>
/// What the sandbox's hostile-program suite needs from its fixture, whichever executor serves it: the warm pool
/// in-process (tests/Rlef.Sandbox.Tests) or the same pool behind `rlef serve sandbox` over HTTP
/// (tests/Rlef.Serving.Tests). The subclasses only start and stop their executor.
/// </summary>
public abstract class ExecutorFixture<TExecutor> : IAsyncLifetime where TExecutor : class, ICodeExecutor
{
    /// <summary>The executor under test (named "pool" after the in-process one).</summary>
    public TExecutor Pool { get; protected set; } = null!;

    /// <summary>What <see cref="Pool"/> is, for failure messages ("pool", "service").</summary>
    protected abstract string What { get; }

    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    /// <summary>Short limits keep the timeout tests fast.</summary>
    public static readonly ExecutionLimits Short = new() { CpuTimeSeconds = 1, WallTimeSeconds = 1.5 };

    public async Task<TestResult> RunStdio(string code, string input = "", string? expected = null, ExecutionLimits? limits = null,
        Comparison comparison = Comparison.CodeContests)
    {
        var report = await Pool.RunAsync(new ExecutionRequest
        {
            Code = code,
            Tests = [TestCase.Stdio(input, expected)],
            Limits = limits ?? new ExecutionLimits(),
            Comparison = comparison,
        });
        return Assert.Single(report.Results);
    }

    /// <summary>After anything hostile: the executor still serves an ordinary job correctly.</summary>
    public async Task AssertStillServes()
    {
        var r = await RunStdio("a, b = map(int, input().split())\nprint(a + b)", "2 3\n", "5");
        Assert.True(r.Verdict == Verdict.Passed, $"{What} broken after a hostile job: {r}");
    }
}
