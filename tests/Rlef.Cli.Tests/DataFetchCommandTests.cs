using Rlef.Cli.Commands;
using Rlef.Environment.Datasets;
using Rlef.Environment.Problems;
using Spectre.Console;

namespace Rlef.Cli.Tests;

/// <summary>`rlef data fetch`'s exit codes: 1 when the download fails, 0 otherwise (user errors: UserErrorTests).</summary>
public sealed class DataFetchCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-fetch-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task AFailedDownloadExitsOneAndAFetchZero()
    {
        string mirror = Path.Combine(_dir, "mirror");
        Directory.CreateDirectory(Path.Combine(mirror, "livecodebench"));
        File.WriteAllLines(Path.Combine(mirror, "livecodebench", "test.jsonl"), [LiveCodeBenchRecords.Stdin()]);
        string cache = Path.Combine(_dir, "cache");
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Interactive = InteractionSupport.No });

        await Assert.ThrowsAsync<ArgumentException>(() => DataFetchCommand.RunAsync("nope", new FetchOptions { Root = cache }, console, default));
        // A closed port on this machine stands for no network.
        Assert.Equal(1, await DataFetchCommand.RunAsync("mbpp", new FetchOptions { Root = cache, Mirror = "http://127.0.0.1:1" }, console, default));
        Assert.Equal(1, await DataFetchCommand.RunAsync("livecodebench", new FetchOptions { Root = cache, Mirror = mirror, Splits = ["v2"] }, console, default));
        Assert.Equal(0, await DataFetchCommand.RunAsync("livecodebench", new FetchOptions { Root = cache, Mirror = mirror, Splits = ["v1"] }, console, default));
        Assert.Contains("rlef eval --dataset livecodebench now reads", output.ToString().Replace("\n", ""));
        Assert.Equal(Path.Combine(cache, "livecodebench"), DataCache.EvalPath(ProblemFamily.LiveCodeBench, cache));
    }
}
