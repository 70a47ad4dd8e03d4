using System.Text.Json;
using System.Text.Json.Nodes;
using Rlef.Cli.Commands;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Sandbox;
using Spectre.Console;

namespace Rlef.Cli.Tests;

/// <summary>`rlef eval --dataset livecodebench` end to end on a release folder, with a replayed model.</summary>
[Collection("sandbox")]
public sealed class LiveCodeBenchEvalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-lcb-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task EvaluatesAReleaseFolderWithADateFilter()
    {
        string data = Path.Combine(_dir, "lcb");
        Directory.CreateDirectory(data);
        File.WriteAllLines(Path.Combine(data, "test.jsonl"), [LiveCodeBenchRecords.Stdin("old", "2023-05-01T00:00:00")]);
        File.WriteAllLines(Path.Combine(data, "test2.jsonl"), [LiveCodeBenchRecords.Stdin("new", "2024-02-01T00:00:00"),
            LiveCodeBenchRecords.Functional(JsonSerializer.Serialize(JsonDocument.Parse(LiveCodeBenchRecords.FunctionalPrivateTests).RootElement), date: "2024-03-01T00:00:00")]);
        string replay = Path.Combine(_dir, "replay.jsonl");
        File.WriteAllLines(replay,
        [
            JsonSerializer.Serialize(new { task_id = "new", replies = new[] { "```python\na, b = map(int, input().split())\nprint(a + b)\n```" } }),
            JsonSerializer.Serialize(new { task_id = "3000", replies = new[] { "```python\nclass Solution:\n    def tailAfter(self, nums, k):\n        return nums[:k]\n```", "no code", "no code" } }),
        ]);
        var settings = new EvalCommand.Settings
        {
            Dataset = ProblemFamily.LiveCodeBench,
            DataPath = data,
            LiveCodeBench = new LiveCodeBenchSelection { Since = new DateOnly(2024, 1, 1) },
            Policy = "replay:" + replay,
            OutputDirectory = Path.Combine(_dir, "out"),
            Workers = 2,
            SandboxWorkers = 2,
        };
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()), Interactive = InteractionSupport.No });
        Assert.Equal(0, await EvalCommand.RunAsync(settings, console, CancellationToken.None));
        var rollouts = RolloutStore.Read(Path.Combine(settings.OutputDirectory, EvaluationRun.RolloutsFile)).ToDictionary(r => r.TaskId);
        Assert.Equal(["3000", "new"], rollouts.Keys.Order());
        Assert.True(rollouts["new"].PassedAll);
        Assert.False(rollouts["3000"].PassedAll);
        Assert.Contains("Expected output `[6]` but got `[4]`", rollouts["3000"].Turns[0].Feedback);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(settings.OutputDirectory, "summary.json")))!;
        Assert.Equal(0.5, summary["solve_rate"]!.GetValue<double>(), 5);

        // Resuming with another date window is refused: the run's data identity includes the filter.
        var other = settings with { LiveCodeBench = new LiveCodeBenchSelection { Since = new DateOnly(2023, 1, 1) } };
        await Assert.ThrowsAnyAsync<Exception>(() => EvalCommand.RunAsync(other, console, CancellationToken.None));
        Assert.Equal(TestKind.Call, LiveCodeBenchLoader.Load(data).Single(p => p.Id == "3000").PublicTests[0].Case.Kind);
    }
}
