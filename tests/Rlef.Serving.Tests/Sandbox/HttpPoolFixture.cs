using Rlef.Sandbox;
using Rlef.Serving.Tests.Sandbox;

// The sandbox's hostile-program suite (tests/Rlef.Sandbox.Tests/HostileProgramTests.cs, compiled into this project
// unchanged) runs against this fixture: the same programs, through RemoteSandboxExecutor → HTTP → `rlef serve
// sandbox` → the warm pool. It has the in-process fixture's name, and its members come from the same base
// (tests/Shared/Sandbox/ExecutorFixture.cs), so that the suite's source is shared.
namespace Rlef.Sandbox.Tests;

public sealed class PoolFixture : ExecutorFixture<RemoteSandboxExecutor>
{
    private LocalSandboxServer _server = null!;

    protected override string What => "service";

    public override async Task InitializeAsync()
    {
        _server = await LocalSandboxServer.StartAsync();
        Pool = new RemoteSandboxExecutor([_server.BaseAddress], new RemoteSandboxOptions { MaxAttempts = 1 });
    }

    public override async Task DisposeAsync()
    {
        await Pool.DisposeAsync();
        await _server.DisposeAsync();
    }
}

[CollectionDefinition("pool")]
public sealed class PoolCollection : ICollectionFixture<PoolFixture>;
