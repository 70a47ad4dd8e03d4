using System.Text.Json;
using System.Text.Json.Nodes;
using Rlef.Cli.Commands;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Evaluation;
using Spectre.Console;

namespace Rlef.Cli.Tests;

/// <summary>
/// `rlef eval` end to end: its own code path (EvalCommand.RunAsync) talks over real HTTP to a local OpenAI-compatible
/// server, runs the programs in the real sandbox, persists rollouts and writes summary.json and report.md; then resumes.
/// </summary>
[Collection("sandbox")]
public sealed class EvalCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Three CodeContests-schema problems: "add" (solved at once), "mul" (solved after feedback), "echo" (never).</summary>
    private string WriteData()
    {
        string path = Path.Combine(_dir, "problems.jsonl");
        var lines = new[]
        {
            new { name = "add", description = "PROBLEM add: print a+b.", public_tests = new { input = new[] { "1 2\n" }, output = new[] { "3\n" } },
                  private_tests = new { input = new[] { "10 20\n" }, output = new[] { "30\n" } }, time_limit = new { seconds = 2, nanos = 0 } },
            new { name = "mul", description = "PROBLEM mul: print a*b.", public_tests = new { input = new[] { "2 3\n" }, output = new[] { "6\n" } },
                  private_tests = new { input = new[] { "4 5\n" }, output = new[] { "20\n" } }, time_limit = new { seconds = 2, nanos = 0 } },
            new { name = "echo", description = "PROBLEM echo: print the input.", public_tests = new { input = new[] { "x\n" }, output = new[] { "x\n" } },
                  private_tests = new { input = new[] { "y\n" }, output = new[] { "y\n" } }, time_limit = new { seconds = 2, nanos = 0 } },
        };
        File.WriteAllLines(path, lines.Select(l => JsonSerializer.Serialize(l)));
        return path;
    }

    /// <summary>The deterministic "model": its answer depends on the problem and on how many turns came before.</summary>
    private static string Answer(JsonObject request)
    {
        var messages = request["messages"]!.AsArray();
        string first = messages[0]!["content"]!.GetValue<string>();
        int turn = messages.Count / 2;
        if (first.Contains("PROBLEM add"))
            return "Sure.\n```python\na, b = map(int, input().split())\nprint(a + b)\n```";
        if (first.Contains("PROBLEM mul"))
            return turn == 0
                ? "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
                : "I see, it was a product.\n```python\na, b = map(int, input().split())\nprint(a * b)\n```";
        return "I cannot solve this.";
    }

    private static IAnsiConsole QuietConsole() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()), Interactive = InteractionSupport.No });

    private EvalCommand.Settings Settings(Uri url, string data, int rollouts, int turns = 3) => new()
    {
        Dataset = ProblemFamily.CodeContests,
        DataPath = data,
        Policy = $"openai:{url}#test-model",
        OutputDirectory = Path.Combine(_dir, "out"),
        Rollouts = rollouts,
        TurnLimit = turns,
        Temperature = 0.2,
        TopP = 0.95,
        Workers = 3,
        SandboxWorkers = 2,
    };

    [Fact]
    public async Task EvaluatesOverHttpWritesTheReportAndResumes()
    {
        string data = WriteData();
        using var server = new LocalChatServer(Answer);
        var settings = Settings(server.BaseUrl, data, rollouts: 1);

        Assert.Equal(0, await EvalCommand.RunAsync(settings, QuietConsole(), CancellationToken.None));
        // add: 1 request; mul: 2; echo: 3 (invalid, invalid, invalid at the limit).
        Assert.Equal(6, server.RequestCount);
        Assert.All(server.Requests, r => Assert.Equal("test-model", r["model"]!.GetValue<string>()));
        Assert.All(server.Requests, r => Assert.Equal(0.95, r["top_p"]!.GetValue<double>()));

        string rolloutsPath = Path.Combine(settings.OutputDirectory, EvaluationRun.RolloutsFile);
        var rollouts = RolloutStore.Read(rolloutsPath).ToDictionary(r => r.TaskId);
        Assert.Equal(3, rollouts.Count);
        Assert.True(rollouts["add"].PassedAll);
        Assert.Equal(1, rollouts["add"].TotalReward);
        Assert.True(rollouts["mul"].PassedAll);
        Assert.Equal(2, rollouts["mul"].Turns.Count);
        Assert.StartsWith("Your code failed the following tests:\n\n- input `2 3\n` failed:\nExpected output `6\n` but got `5\n`", rollouts["mul"].Turns[0].Feedback);
        Assert.False(rollouts["echo"].PassedAll);
        Assert.Equal(-0.2 - 0.2 - 1, rollouts["echo"].TotalReward, 9);
        Assert.All(rollouts.Values, r => Assert.True(r.SandboxMs >= 0 && r.PolicyMs > 0));

        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(settings.OutputDirectory, "summary.json")))!;
        Assert.Equal(2.0 / 3, summary["solve_rate"]!.GetValue<double>(), 5);
        Assert.True(File.Exists(Path.Combine(settings.OutputDirectory, "report.md")));
        Assert.True(File.Exists(Path.Combine(settings.OutputDirectory, "timing.json")));

        // Interrupted mid-write: a torn line at the end. The rerun with more rollouts repairs it, skips the finished
        // rollouts and asks the server only for the new ones.
        File.AppendAllText(rolloutsPath, "{\"task_id\":\"add\",\"rollout_in");
        int before = server.RequestCount;
        Assert.Equal(0, await EvalCommand.RunAsync(settings with { Rollouts = 2 }, QuietConsole(), CancellationToken.None));
        Assert.Equal(6, server.RequestCount - before);
        var all = RolloutStore.Read(rolloutsPath);
        Assert.Equal(6, all.Count);
        Assert.Equal(6, all.Select(r => (r.TaskId, r.RolloutIndex)).Distinct().Count());

        // Nothing left: a third run makes no request at all.
        before = server.RequestCount;
        Assert.Equal(0, await EvalCommand.RunAsync(settings with { Rollouts = 2 }, QuietConsole(), CancellationToken.None));
        Assert.Equal(before, server.RequestCount);

        // Other settings in the same directory are refused instead of mixing results.
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => EvalCommand.RunAsync(settings with { TurnLimit = 2 }, QuietConsole(), CancellationToken.None));
        Assert.Contains("TurnLimit", e.Message);
    }

    [DataFact("codecontests/CodeContests_test165_prompts_codet.jsonl")]
    public async Task StatementOnlyDataIsRefusedWithAClearMessage()
    {
        string path = RepoPaths.RequireData("codecontests/CodeContests_test165_prompts_codet.jsonl");
        var settings = Settings(new Uri("http://127.0.0.1:9/v1"), path, rollouts: 1);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => EvalCommand.RunAsync(settings, QuietConsole(), CancellationToken.None));
        Assert.Contains("has no tests", e.Message);
    }

    [Fact]
    public async Task EvaluatesWithRemoteSandboxServersAsWithTheInProcessPool()
    {
        string data = WriteData();
        using var chat = new LocalChatServer(Answer);
        // Two real sandbox services and a dead address: requests are spread over the three, the dead one costs retries only.
        var options = new Rlef.Serving.Sandbox.SandboxServerOptions { Pool = new Rlef.Sandbox.SandboxOptions { Workers = 1 } };
        var loopback = new Rlef.Serving.Hosting.ServerOptions { Listen = Rlef.Serving.Hosting.ListenAddress.Loopback(0) };
        await using var a = Rlef.Serving.Sandbox.SandboxService.Create(loopback, options);
        await using var b = Rlef.Serving.Sandbox.SandboxService.Create(loopback, options);
        await a.StartAsync(null);
        await b.StartAsync(null);
        int deadPort;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            l.Start();
            deadPort = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        }
        var settings = Settings(chat.BaseUrl, data, rollouts: 1) with
        {
            SandboxUrls = $"{a.Host.BaseAddress},{b.Host.BaseAddress},http://127.0.0.1:{deadPort}/",
        };
        Assert.Equal(0, await EvalCommand.RunAsync(settings, QuietConsole(), CancellationToken.None));
        var rollouts = RolloutStore.Read(Path.Combine(settings.OutputDirectory, EvaluationRun.RolloutsFile)).ToDictionary(r => r.TaskId);
        Assert.True(rollouts["add"].PassedAll);
        Assert.True(rollouts["mul"].PassedAll);
        Assert.Equal(2, rollouts["mul"].Turns.Count);
        Assert.StartsWith("Your code failed the following tests:\n\n- input `2 3\n` failed:\nExpected output `6\n` but got `5\n`", rollouts["mul"].Turns[0].Feedback);
        Assert.False(rollouts["echo"].PassedAll);
        foreach (var service in new[] { a, b })
            Assert.Contains("rlef_sandbox_verdicts_total{endpoint=\"run_tests\"", service.Host.Metrics.Render());

        var bad = await Assert.ThrowsAsync<FormatException>(() => EvalCommand.RunAsync(settings with { SandboxUrls = "ftp://nowhere", OutputDirectory = Path.Combine(_dir, "bad") }, QuietConsole(), CancellationToken.None));
        Assert.Contains("ftp://nowhere", bad.Message);
    }

    [Fact]
    public async Task MetricOptionsReachTheReportAndBadOnesAreRefusedBeforeAnyRollout()
    {
        string data = WriteData();
        using var server = new LocalChatServer(Answer);
        var settings = Settings(server.BaseUrl, data, rollouts: 2) with
        {
            NAtK = EvaluationOptions.ParseNAtKList("1@3, 2@4"),
            PassAtK = EvaluationOptions.ParseIntList("1,2", "--pass-at-k"),
            TurnLimits = EvaluationOptions.ParseIntList("1,2,3", "--turn-limits"),
            Bootstrap = Rlef.Evaluation.Statistics.BootstrapMethod.Problems,
        };
        Assert.Equal(0, await EvalCommand.RunAsync(settings, QuietConsole(), CancellationToken.None));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(settings.OutputDirectory, "summary.json")))!;
        Assert.Equal("problems", summary["bootstrap"]!.GetValue<string>());
        Assert.Equal([1, 2, 3], summary["options"]!["turn_limits"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.Equal(0.2, summary["options"]!["temperature"]!.GetValue<double>());
        Assert.Contains(summary["metrics"]!.AsArray(), m => m!["name"]!.GetValue<string>() == "2@4" && m["turn_limit"]!.GetValue<int>() == 2);

        int before = server.RequestCount;
        await Assert.ThrowsAsync<ArgumentException>(() => EvalCommand.RunAsync(settings with { TurnLimits = [4] }, QuietConsole(), CancellationToken.None));
        Assert.Throws<FormatException>(() => EvaluationOptions.ParseNAtKList("1@3,x"));
        Assert.Throws<FormatException>(() => EvaluationOptions.ParseIntList("1,0", "--turn-limits"));
        // The paper's random feedback needs the dataset's incorrect_solutions; this file has none.
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => EvalCommand.RunAsync(
            settings with { Feedback = Rlef.Environment.Episodes.FeedbackMode.Random, OutputDirectory = Path.Combine(_dir, "random") }, QuietConsole(), CancellationToken.None));
        Assert.Contains("own-failures", e.Message);
        Assert.Equal(before, server.RequestCount);
    }
}
