using Rlef.Sandbox;

namespace Rlef.Cli.Training;

/// <summary>The code executor of `rlef train`: the sandbox's warm worker pool.</summary>
static class Executors
{
    // This branch predates the sandbox implementation (branch `sandbox`); the merge replaces the body with
    // `new SandboxPool()`. Until then training from the CLI refuses to run untrusted code without isolation.
    public static ICodeExecutor Create() =>
        throw new InvalidOperationException("rlef train needs the sandbox (SandboxPool), which is not part of this build");
}
