using Rlef.Sandbox;

namespace Rlef.Serving.Sandbox;

/// <summary>Settings of `rlef serve sandbox` beyond the shared <see cref="Hosting.ServerOptions"/>.</summary>
public sealed record SandboxServerOptions
{
    /// <summary>The warm pool's settings (workers, isolation).</summary>
    public SandboxOptions Pool { get; init; } = new();

    /// <summary>Limits of a request that names none (docs/protocol.md §1 defaults: 10 s, 1024 MB).</summary>
    public ExecutionLimits DefaultLimits { get; init; } = new();

    /// <summary>The most a request may ask for; larger requested limits are lowered to these.</summary>
    public ExecutionLimits MaxLimits { get; init; } = new()
    {
        CpuTimeSeconds = 60,
        WallTimeSeconds = 60,
        MemoryMb = 4096,
        OutputBytes = 8 << 20,
        MaxProcesses = 64,
        MaxFileBytes = 64 << 20,
    };

    /// <summary>Most tests in one /run_tests request.</summary>
    public int MaxTests { get; init; } = 1000;

    /// <summary>Requests waiting for a worker beyond those running; more get 429.</summary>
    public int QueueCapacity { get; init; } = 256;

    /// <summary>A request that waited this long for a worker gets 503 (the client retries, perhaps elsewhere).</summary>
    public TimeSpan MaxQueueWait { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>A requested limit above this many times the server maximum is refused as absurd instead of lowered.</summary>
    public const double AbsurdFactor = 1000;
}
