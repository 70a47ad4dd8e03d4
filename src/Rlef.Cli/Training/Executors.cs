using Rlef.Sandbox;

namespace Rlef.Cli.Training;

/// <summary>The code executor of `rlef train`: the sandbox's warm worker pool (one isolated worker per core).</summary>
static class Executors
{
    public static ICodeExecutor Create() => new SandboxPool();
}
