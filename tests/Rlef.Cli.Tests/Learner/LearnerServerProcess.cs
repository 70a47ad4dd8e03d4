namespace Rlef.Cli.Tests.Learner;

/// <summary>
/// One `rlef serve learner` process on 127.0.0.1 and a free port, its sampler weights under
/// <see cref="StateDirectory"/>; stopped by its process id when disposed.
/// </summary>
public sealed class LearnerServerProcess : CliServerProcess
{
    LearnerServerProcess((System.Diagnostics.Process, Uri) started, string state) : base(started) => StateDirectory = state;

    public string StateDirectory { get; }

    public static LearnerServerProcess Start(string modelDirectory, string name, string state, params string[] extra) =>
        new(Launch("learner", new[] { "--model", modelDirectory, "--name", name, "--state", state }.Concat(extra)), state);
}
