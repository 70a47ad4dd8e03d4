using Rlef.Sandbox;
using Rlef.Training.Config;

namespace Rlef.Cli.Training;

/// <summary>
/// The code executor of the training verbs: the sandbox's warm worker pool (one isolated worker per core), or the
/// `rlef serve sandbox` servers named by `sandbox.urls` (docs/sandbox-service.md, "Remote sandboxes").
/// </summary>
static class Executors
{
    public static ICodeExecutor Create(SandboxConfig? config = null) =>
        config is { Urls.Length: > 0 } remote ? Remote(remote.Urls, remote.TokenEnv) : new SandboxPool();

    /// <summary>Remote servers from `URL[,URL...]`, the token from <paramref name="tokenVariable"/> when it is set.</summary>
    public static RemoteSandboxExecutor Remote(string urls, string tokenVariable) =>
        new(RemoteSandboxExecutor.ParseServers(urls), new RemoteSandboxOptions
        {
            Token = System.Environment.GetEnvironmentVariable(tokenVariable) is { Length: > 0 } token ? token : null,
        });
}
