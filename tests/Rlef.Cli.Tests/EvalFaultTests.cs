using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlef.Cli.Commands;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Tests.Faults;
using Spectre.Console;

namespace Rlef.Cli.Tests;

/// <summary>
/// `rlef eval` under injected faults (<see cref="FaultyChatServer"/> on loopback, damaged data files built here): an
/// incomplete run never looks complete, a reply outside the protocol is never scored, a secret echoed by the server is
/// never written, a dead or hung endpoint stops the run at once, and a resume may point at the server's new port.
/// </summary>
[Collection("sandbox")]
public sealed class EvalFaultTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-evalfault-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Out => Path.Combine(_dir, "out");

    private static string Record(string name, string input, string output) => JsonSerializer.Serialize(new
    {
        name,
        description = $"PROBLEM {name}: print the input.",
        public_tests = new { input = new[] { input }, output = new[] { output } },
        private_tests = new { input = new[] { input + input }, output = new[] { output + output } },
        time_limit = new { seconds = 2, nanos = 0 },
    });

    /// <summary>Three echo problems; a correct program solves every one.</summary>
    private string WriteData(string name = "problems.jsonl")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllLines(path, [Record("a", "x\n", "x\n"), Record("b", "y\n", "y\n"), Record("c", "z\n", "z\n")]);
        return path;
    }

    private const string Solution = "```python\nimport sys\nsys.stdout.write(sys.stdin.read())\n```";

    /// <summary>Problem c gets <paramref name="fault"/>; a and b a correct program.</summary>
    private static Func<int, JsonObject, FaultAction> FaultOnC(Fault fault, int status = 200) => (_, body) =>
        body["messages"]![0]!["content"]!.GetValue<string>().Contains("PROBLEM c") ? new FaultAction(fault, status, Solution) : FaultAction.Reply(Solution);

    private static IAnsiConsole QuietConsole() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()), Interactive = InteractionSupport.No });

    private EvalCommand.Settings Settings(Uri url, string data, string apiKeyVariable = "RLEF_TEST_KEY_THAT_IS_NOT_SET") => new()
    {
        Dataset = ProblemFamily.CodeContests,
        DataPath = data,
        Policy = $"openai:{url}#test-model",
        OutputDirectory = Out,
        Rollouts = 1,
        TurnLimit = 1,
        Workers = 3,
        SandboxWorkers = 1,
        Retries = 2,
        InitialBackoffSeconds = 0.01,
        RequestTimeoutSeconds = 10,
        ApiKeyVariable = apiKeyVariable,
    };

    private JsonElement Summary() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Out, "summary.json"))).RootElement;
    private string Report() => File.ReadAllText(Path.Combine(Out, "report.md"));
    private string ErrorsLog() => File.ReadAllText(Path.Combine(Out, EvaluationRun.ErrorsFile));

    [Fact]
    public async Task AnIncompleteRunSaysSoInItsSummaryAndReportAndTheRerunCompletesIt()
    {
        string data = WriteData();
        await using (var server = await FaultyChatServer.StartAsync(FaultOnC(Fault.Status, 503)))
            Assert.Equal(1, await EvalCommand.RunAsync(Settings(server.BaseUrl, data), QuietConsole(), CancellationToken.None));

        JsonElement summary = Summary();
        Assert.Equal("incomplete", summary.GetProperty("status").GetString());
        Assert.Equal(3, summary.GetProperty("completeness").GetProperty("problems_requested").GetInt32());
        Assert.Equal(2, summary.GetProperty("completeness").GetProperty("problems_evaluated").GetInt32());
        JsonElement missing = summary.GetProperty("completeness").GetProperty("not_evaluated")[0];
        Assert.Equal("c", missing.GetProperty("task_id").GetString());
        Assert.Contains("HTTP 503", missing.GetProperty("reason").GetString());
        // Not "solve_rate 1, problems 2": the unevaluated problem counts as unsolved in the headline.
        Assert.Equal(2.0 / 3, summary.GetProperty("solve_rate").GetDouble(), 5);
        Assert.Contains("INCOMPLETE", Report());
        Assert.Contains("| problems requested | 3 |", Report());

        await using (var healthy = await FaultyChatServer.StartAsync((_, _) => FaultAction.Reply(Solution)))
        {
            Assert.Equal(0, await EvalCommand.RunAsync(Settings(healthy.BaseUrl, data), QuietConsole(), CancellationToken.None));
            Assert.Equal(1, healthy.RequestCount); // only c: the healthy server listens on another port, and the run resumed
        }
        summary = Summary();
        Assert.Equal("complete", summary.GetProperty("status").GetString());
        Assert.Equal(1.0, summary.GetProperty("solve_rate").GetDouble(), 5);
        Assert.DoesNotContain("INCOMPLETE", Report());
    }

    [Theory]
    [InlineData(Fault.LegacyText)]
    [InlineData(Fault.NullContent)]
    [InlineData(Fault.EmptyChoices)]
    [InlineData(Fault.Html)]
    [InlineData(Fault.TruncatedJson)]
    public async Task AReplyOutsideTheProtocolIsNeverScored(Fault fault)
    {
        string data = WriteData();
        await using var server = await FaultyChatServer.StartAsync(FaultOnC(fault));
        Assert.Equal(1, await EvalCommand.RunAsync(Settings(server.BaseUrl, data), QuietConsole(), CancellationToken.None));
        var rollouts = RolloutStore.Read(Path.Combine(Out, EvaluationRun.RolloutsFile));
        Assert.DoesNotContain(rollouts, r => r.TaskId == "c"); // not an invalid_code turn with reward -1.4
        Assert.Equal(2, rollouts.Count);
        Assert.Contains("c #0", ErrorsLog());
        Assert.Contains("/chat/completions", ErrorsLog()); // the endpoint, the status and the body are in the log
        Assert.Contains("HTTP 200", ErrorsLog());
        Assert.Equal("incomplete", Summary().GetProperty("status").GetString());
    }

    [Fact]
    public async Task AKeyEchoedByTheServerIsNeverWritten()
    {
        const string variable = "RLEF_TEST_SECRET_FOR_EVAL";
        const string key = "sk-eval-test-9876543210-SECRET";
        System.Environment.SetEnvironmentVariable(variable, key);
        try
        {
            string data = WriteData();
            await using var server = await FaultyChatServer.StartAsync((_, _) => new FaultAction(Fault.EchoKey));
            var r = await CliRunner.RunAsync("eval", "--dataset", "codecontests", "--data", data, "--policy", $"openai:{server.BaseUrl}#test-model",
                "--out", Out, "--turns", "1", "--api-key-env", variable, "--sandbox-workers", "1", "--retries", "0");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("Incorrect API key provided: ***", ErrorsLog());
            foreach (string file in Directory.GetFiles(Out))
                Assert.DoesNotContain(key, File.ReadAllText(file));
            Assert.DoesNotContain(key, r.Stdout + r.Stderr);
        }
        finally
        {
            System.Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task ADeadEndpointStopsTheRunAtOnceWithOneClearMessage()
    {
        string data = WriteData();
        var clock = Stopwatch.StartNew();
        var r = await CliRunner.RunAsync("eval", "--dataset", "codecontests", "--data", data, "--policy", $"openai:{FaultyChatServer.DeadEndpoint()}#test-model",
            "--out", Out, "--turns", "1", "--sandbox-workers", "1", "--max-connection-failures", "3", "--retries", "50");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("is unreachable", r.Stderr);
        Assert.Contains("no rollout finished", r.Stderr); // on stderr, not stdout
        Assert.DoesNotContain("no rollout finished", r.Stdout);
        Assert.Equal("incomplete", Summary().GetProperty("status").GetString());
        Assert.Equal(3, Summary().GetProperty("completeness").GetProperty("problems_not_evaluated").GetInt32());

        // The state is kept: the same run, pointed at the server restarted on a live port, completes.
        await using var restarted = await FaultyChatServer.StartAsync((_, _) => FaultAction.Reply(Solution));
        Assert.Equal(0, await EvalCommand.RunAsync(Settings(restarted.BaseUrl, data), QuietConsole(), CancellationToken.None));
        Assert.Equal("complete", Summary().GetProperty("status").GetString());
        Assert.Equal(1.0, Summary().GetProperty("solve_rate").GetDouble(), 5);
    }

    [Fact]
    public async Task AHungServerIsFoundWithinTheTimeoutAndTheBreaker()
    {
        string data = WriteData();
        await using var server = await FaultyChatServer.StartAsync((_, _) => new FaultAction(Fault.Hang));
        var clock = Stopwatch.StartNew();
        int code = await EvalCommand.RunAsync(Settings(server.BaseUrl, data) with { RequestTimeoutSeconds = 0.5, MaxConnectionFailures = 3, Retries = 20 },
            QuietConsole(), CancellationToken.None);
        Assert.Equal(1, code);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        Assert.Contains("run stopped", ErrorsLog());
        Assert.Contains("unreachable", Summary().GetProperty("completeness").GetProperty("stopped").GetString());
        Assert.Contains("no answer within", Summary().GetProperty("completeness").GetProperty("stopped").GetString());
    }

    [Fact]
    public async Task DuplicateTaskIdsAreRefusedAtLoadBeforeAnyRollout()
    {
        string path = Path.Combine(_dir, "dup.jsonl");
        File.WriteAllLines(path, [Record("a", "x\n", "x\n"), Record("b", "y\n", "y\n"), Record("a", "z\n", "z\n")]);
        var r = await CliRunner.RunAsync("eval", "--dataset", "codecontests", "--data", path, "--policy", "openai:http://127.0.0.1:9/v1#m", "--out", Out);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"{path}:3", r.Stderr);
        Assert.Contains("line 1", r.Stderr);
        Assert.False(File.Exists(Path.Combine(Out, EvaluationRun.RolloutsFile)));
    }

    [Fact]
    public async Task ATruncatedGzipDataFileIsRefusedNamingTheFile()
    {
        byte[] text = File.ReadAllBytes(WriteData());
        using var ms = new MemoryStream();
        long cut;
        using (var z = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(text, 0, text.Length / 2);
            z.Flush();
            cut = ms.Length;
            z.Write(text, text.Length / 2, text.Length - text.Length / 2);
        }
        string path = Path.Combine(_dir, "cut.jsonl.gz");
        File.WriteAllBytes(path, ms.ToArray()[..(int)cut]);
        var r = await CliRunner.RunAsync("eval", "--dataset", "codecontests", "--data", path, "--policy", "openai:http://127.0.0.1:9/v1#m", "--out", Out);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(path, r.Stderr);
        Assert.Contains("truncated", r.Stderr);
    }

    [Theory]
    [InlineData("--request-timeout", "nan")]
    [InlineData("--request-timeout", "Infinity")]
    [InlineData("--temperature", "-1")]
    [InlineData("--rollouts", "0")]
    [InlineData("--workers", "0")]
    public async Task OutOfBoundsEvalOptionsAreAOneLineUserError(string option, string value)
    {
        var r = await CliRunner.RunAsync("eval", "--dataset", "codecontests", "--data", WriteData(), "--policy", "canonical", "--out", Out, option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(option, r.Stderr);
        Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
    }
}
