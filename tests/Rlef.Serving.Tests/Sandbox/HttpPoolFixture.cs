using Rlef.Sandbox;
using Rlef.Serving.Tests.Sandbox;

// The sandbox's hostile-program suite (tests/Rlef.Sandbox.Tests/HostileProgramTests.cs, compiled into this project
// unchanged) runs against this fixture: the same programs, through RemoteSandboxExecutor → HTTP → `rlef serve
// sandbox` → the warm pool. It has the in-process fixture's name and members so that the suite's source is shared.
namespace Rlef.Sandbox.Tests;

public sealed class PoolFixture : IAsyncLifetime
{
    private LocalSandboxServer _server = null!;

    /// <summary>The remote executor (named as the in-process fixture's pool).</summary>
    public RemoteSandboxExecutor Pool { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _server = await LocalSandboxServer.StartAsync();
        Pool = new RemoteSandboxExecutor([_server.BaseAddress], new RemoteSandboxOptions { MaxAttempts = 1 });
    }

    public async Task DisposeAsync()
    {
        await Pool.DisposeAsync();
        await _server.DisposeAsync();
    }

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

    /// <summary>After anything hostile: the service still answers an ordinary job correctly.</summary>
    public async Task AssertStillServes()
    {
        var r = await RunStdio("a, b = map(int, input().split())\nprint(a + b)", "2 3\n", "5");
        Assert.True(r.Verdict == Verdict.Passed, $"service broken after a hostile job: {r}");
    }
}

[CollectionDefinition("pool")]
public sealed class PoolCollection : ICollectionFixture<PoolFixture>;
