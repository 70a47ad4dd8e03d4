using Rlef.Sandbox;

namespace Rlef.Tests;

/// <summary>One warm sandbox pool shared by every test that runs code (starting workers is the slow part).</summary>
public sealed class SandboxFixture : IAsyncLifetime
{
    public SandboxPool Pool { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Pool = new SandboxPool(new SandboxOptions { Workers = 2 });
        await Pool.WarmUpAsync();
    }

    public async Task DisposeAsync() => await Pool.DisposeAsync();
}

[CollectionDefinition("sandbox")]
public sealed class SandboxCollection : ICollectionFixture<SandboxFixture>;
