using Rlef.Sandbox;

namespace Rlef.Sandbox.Tests;

/// <summary>One warm pool shared by the sandbox tests (starting workers is the slow part).</summary>
public sealed class PoolFixture : IAsyncLifetime
{
    public SandboxPool Pool { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Pool = new SandboxPool(new SandboxOptions { Workers = 2, JobsPerWorker = 50 });
        await Pool.WarmUpAsync();
    }

    public async Task DisposeAsync() => await Pool.DisposeAsync();

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

    /// <summary>After anything hostile: the pool still serves an ordinary job correctly.</summary>
    public async Task AssertStillServes()
    {
        var r = await RunStdio("a, b = map(int, input().split())\nprint(a + b)", "2 3\n", "5");
        Assert.True(r.Verdict == Verdict.Passed, $"pool broken after a hostile job: {r}");
    }
}

[CollectionDefinition("pool")]
public sealed class PoolCollection : ICollectionFixture<PoolFixture>;
