namespace Rlef.Sandbox;

/// <summary>Configuration of <see cref="SandboxPool"/> and <see cref="FreshProcessExecutor"/>.</summary>
public sealed record SandboxOptions
{
    /// <summary>Warm workers (one job each at a time; further jobs queue). Default: one per core.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// true: every worker runs inside bubblewrap (namespaces, read-only root, private work dir). false is the
    /// debugging mode behind `--no-isolation`: untrusted code then runs on the host with only rlimits.
    /// </summary>
    public bool Isolation { get; init; } = true;

    /// <summary>A worker is replaced after this many jobs (and after any anomaly), so no state can build up.</summary>
    public int JobsPerWorker { get; init; } = 100;

    /// <summary>The interpreter; null = <see cref="PythonLocator.Find"/> (the real binary, never a pyenv shim).</summary>
    public string? PythonPath { get; init; }

    /// <summary>Size cap of the private writable work dir (/tmp inside the sandbox).</summary>
    public int WorkDirMb { get; init; } = 64;

    /// <summary>How many workers may be starting at the same time (start-ups are throttled).</summary>
    public int MaxConcurrentStartups { get; init; } = 2;

    /// <summary>How often one test is retried on a fresh worker after an infrastructure failure.</summary>
    public int InfraRetries { get; init; } = 2;

    /// <summary>Where the no-isolation mode's warning goes (null = stderr).</summary>
    public TextWriter? WarningWriter { get; init; }
}
