using System.Text.Json;
using System.Text.Json.Nodes;
using Rlef.Cli.Commands;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
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
}
