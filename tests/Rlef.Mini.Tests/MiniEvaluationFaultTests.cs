using System.Text.Json;
using Rlef.Environment.Problems;
using Rlef.Mini;
using Rlef.Mini.Synthetic;
using Rlef.Sandbox;

namespace Rlef.Mini.Tests;

/// <summary>
/// The miniature's evaluation when an episode fails: it goes through the same EvaluationService as `rlef eval`, so a
/// failed rollout leaves its summary.json and report.md saying "incomplete", stops the miniature with an error, and a
/// rerun completes the evaluation. (A tiny random model writes no code, so the fault is a problem whose episode cannot
/// run rather than the sandbox.)
/// </summary>
public sealed class MiniEvaluationFaultTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rlef-mini-fault-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task AnIncompleteEvaluationStopsTheMiniatureAndARerunCompletesIt()
    {
        string model = TinyModelDirectory.Create(Path.Combine(_dir, "model"));
        string data = Path.Combine(_dir, "data");
        SyntheticDataset.Generate(data, seed: 1, trainCount: 1, validCount: 1, testCount: 3, Difficulty.FromName("easy"));
        string test = Path.Combine(data, "test.jsonl");
        var problems = DatasetLoader.Load(ProblemFamily.CodeContests, test);
        await using var sandbox = new SandboxPool(new SandboxOptions { Workers = 1 });
        MiniEvaluation Evaluation(IReadOnlyList<Problem> problems) => new(sandbox)
        {
            Name = "start-real", Label = "start", ModelDirectory = model, DataPath = test, Problems = problems,
            OutputDirectory = Path.Combine(_dir, "eval"), TurnLimit = 1, MaxTokens = 8, Concurrency = 4,
        };

        Problem[] broken = [problems[0] with { PublicTests = [], PrivateTests = [] }, .. problems.Skip(1)];
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Evaluation(broken).RunAsync(new PlainMiniRunView(TextWriter.Null), CancellationToken.None));
        Assert.Contains("INCOMPLETE", e.Message);
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "eval", "summary.json"))))
        {
            Assert.Equal("incomplete", summary.RootElement.GetProperty("status").GetString());
            Assert.Contains(problems[0].Id, summary.RootElement.GetProperty("completeness").GetProperty("not_evaluated").EnumerateArray()
                .Select(n => n.GetProperty("task_id").GetString()));
        }
        Assert.Contains("INCOMPLETE", File.ReadAllText(Path.Combine(_dir, "eval", "report.md")));

        var report = await Evaluation(problems).RunAsync(new PlainMiniRunView(TextWriter.Null), CancellationToken.None);
        Assert.Equal(3, report.ProblemCount);
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "eval", "summary.json"))))
            Assert.Equal("complete", summary.RootElement.GetProperty("status").GetString());
    }
}
