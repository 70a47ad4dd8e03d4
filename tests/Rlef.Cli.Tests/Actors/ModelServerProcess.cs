using System.Globalization;

namespace Rlef.Cli.Tests.Actors;

/// <summary>One `rlef serve model` process on 127.0.0.1 and a free port, stopped by its process id when disposed.</summary>
public sealed class ModelServerProcess : CliServerProcess
{
    ModelServerProcess((System.Diagnostics.Process, Uri) started) : base(started) { }

    public static ModelServerProcess Start(string modelDirectory, string name, string? tokenizer = "byte", int maxBatch = 32)
    {
        var arguments = new List<string> { "--model", modelDirectory, "--name", name, "--max-batch", maxBatch.ToString(CultureInfo.InvariantCulture) };
        if (tokenizer is not null) arguments.AddRange(["--tokenizer", tokenizer]);
        return new ModelServerProcess(Launch("model", arguments));
    }
}
