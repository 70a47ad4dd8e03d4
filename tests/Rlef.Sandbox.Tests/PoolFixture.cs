using Rlef.Sandbox;

namespace Rlef.Sandbox.Tests;

/// <summary>One warm pool shared by the sandbox tests (starting workers is the slow part).</summary>
public sealed class PoolFixture : ExecutorFixture<SandboxPool>
{
    protected override string What => "pool";

    public override async Task InitializeAsync()
    {
        Pool = new SandboxPool(new SandboxOptions { Workers = 2, JobsPerWorker = 50 });
        await Pool.WarmUpAsync();
    }

    public override async Task DisposeAsync() => await Pool.DisposeAsync();
}

[CollectionDefinition("pool")]
public sealed class PoolCollection : ICollectionFixture<PoolFixture>;
