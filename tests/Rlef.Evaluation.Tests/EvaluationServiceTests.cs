using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Environment.Running;
using Rlef.Sandbox;

namespace Rlef.Evaluation.Tests;

/// <summary>
/// The one evaluation path (<see cref="EvaluationService"/>) in the real sandbox: an incomplete run says so in
/// summary.json and report.md (requested, evaluated, not evaluated and why; the headline over everything requested),
/// a rerun completes it, and a dead endpoint stops the run at once with every rollout accounted for.
/// </summary>
public sealed class EvaluationServiceTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-service-").FullName;
    private SandboxPool _sandbox = null!;

    public async Task InitializeAsync()
    {
        _sandbox = new SandboxPool(new SandboxOptions { Workers = 1 });
        await _sandbox.WarmUpAsync();
    }

    public async Task DisposeAsync()
    {
        await _sandbox.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static Problem Echo(string id) => new()
    {
        Id = id,
        Family = ProblemFamily.CodeContests,
        Statement = $"PROBLEM {id}: print the input.",
        PublicTests = [new ProblemTest(TestCase.Stdio("x\n", "x\n"), "x")],
        PrivateTests = [new ProblemTest(TestCase.Stdio("y\n", "y\n"), "y")],
    };

    private static readonly Problem[] Problems = [Echo("a"), Echo("b"), Echo("c")];
    private const string Solution = "```python\nprint(input())\n```";

    private string Replay(params string[] tasks)
    {
        string path = Path.Combine(_dir, "replies.jsonl");
        File.WriteAllLines(path, tasks.Select(t => JsonSerializer.Serialize(new { task_id = t, replies = new[] { Solution } })));
        return path;
    }

    private EvaluationRequest Request(IPolicy policy) => new()
    {
        Problems = Problems,
        Policy = policy,
        Executor = _sandbox,
        Episode = new EpisodeOptions { TurnLimit = 1 },
        RolloutsPerProblem = 1,
        Workers = 2,
        OutputDirectory = Path.Combine(_dir, "out"),
        Settings = new RunSettings { Dataset = "codecontests", DataSha256 = "test", Policy = "", TurnLimit = 1, Feedback = "real" },
        Report = new EvaluationOptions { Dataset = "test", NAtK = [new(1, 1)], PassAtK = [1] },
    };

    private JsonElement Summary() => JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "out", ReportWriter.SummaryFile))).RootElement;
    private string Markdown() => File.ReadAllText(Path.Combine(_dir, "out", ReportWriter.MarkdownFile));

    [Fact]
    public async Task AnIncompleteRunSaysSoInItsFilesAndARerunCompletesIt()
    {
        string replay = Replay("a", "b"); // no replies for c: its rollout fails and is not scored
        var outcome = await EvaluationService.RunAsync(Request(new ReplayPolicy(replay)));
        Assert.False(outcome.IsComplete);

        JsonElement summary = Summary();
        Assert.Equal("incomplete", summary.GetProperty("status").GetString());
        JsonElement completeness = summary.GetProperty("completeness");
        Assert.Equal(3, completeness.GetProperty("problems_requested").GetInt32());
        Assert.Equal(2, completeness.GetProperty("problems_evaluated").GetInt32());
        Assert.Equal(1, completeness.GetProperty("problems_not_evaluated").GetInt32());
        JsonElement missing = completeness.GetProperty("not_evaluated")[0];
        Assert.Equal("c", missing.GetProperty("task_id").GetString());
        Assert.Contains("no replies for task 'c'", missing.GetProperty("reason").GetString());
        // Both solved problems pass, yet the headline is 2 of 3, not 1: the unevaluated problem counts as unsolved.
        Assert.Equal(2.0 / 3, summary.GetProperty("solve_rate").GetDouble(), 5);
        Assert.Equal(1.0, summary.GetProperty("solve_rate_evaluated_only").GetDouble(), 5);
        Assert.Contains("partial", summary.GetProperty("metrics_scope").GetString());
        Assert.Contains("INCOMPLETE", Markdown());
        Assert.Contains("| c | 1 |", Markdown());

        Replay("a", "b", "c");
        var resumed = await EvaluationService.RunAsync(Request(new ReplayPolicy(replay)));
        Assert.True(resumed.IsComplete);
        Assert.Single(resumed.Run.FinishedThisSession); // only c ran again
        summary = Summary();
        Assert.Equal("complete", summary.GetProperty("status").GetString());
        Assert.Equal(1.0, summary.GetProperty("solve_rate").GetDouble(), 5);
        Assert.Equal(0, summary.GetProperty("completeness").GetProperty("problems_not_evaluated").GetInt32());
        Assert.DoesNotContain("INCOMPLETE", Markdown());
    }

    /// <summary>The sandbox boundary: an executor whose verdicts for one problem are infrastructure errors.</summary>
    private sealed class FailingFor(ICodeExecutor inner, string marker) : ICodeExecutor
    {
        public async Task<ExecutionReport> RunAsync(ExecutionRequest request, CancellationToken cancellationToken = default)
        {
            if (!request.Tests.Any(t => t.Input.Contains(marker, StringComparison.Ordinal)))
                return await inner.RunAsync(request, cancellationToken);
            return new ExecutionReport(request.Tests.Select(_ => new TestResult { Verdict = Verdict.InfraError, Error = "worker lost" }).ToList());
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task ASandboxInfrastructureErrorIsNeverScored()
    {
        var problems = new[] { Echo("a"), Echo("b") with { PublicTests = [new ProblemTest(TestCase.Stdio("infra\n", "infra\n"), "infra")] } };
        var outcome = await EvaluationService.RunAsync(Request(new ReplayPolicy(Replay("a", "b"))) with
        {
            Problems = problems,
            Executor = new FailingFor(_sandbox, "infra"),
        });
        Assert.False(outcome.IsComplete);
        Assert.DoesNotContain(outcome.Run.Rollouts, r => r.TaskId == "b"); // not a failed test, not a wrong answer
        Assert.Contains("sandbox infrastructure error", outcome.Completeness.NotEvaluated.Single().Reason);
        Assert.Equal("b", outcome.Completeness.NotEvaluated.Single().ProblemId);
    }

    [Fact]
    public async Task ADeadEndpointStopsTheRunAndEveryMissingRolloutIsAccountedFor()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there now
        using var policy = new OpenAiChatPolicy(new OpenAiOptions
        {
            BaseUrl = new Uri($"http://127.0.0.1:{port}/v1"), Model = "m", MaxRetries = 100, CircuitBreakerThreshold = 3,
            InitialBackoff = TimeSpan.FromMilliseconds(5), MaxBackoff = TimeSpan.FromMilliseconds(20), ApiKeyVariable = "RLEF_TEST_KEY_THAT_IS_NOT_SET",
        });
        var outcome = await EvaluationService.RunAsync(Request(policy));
        Assert.False(outcome.IsComplete);
        Assert.Null(outcome.Report);
        Assert.Contains("unreachable", outcome.Run.StoppedReason);
        Assert.Equal(3, outcome.Completeness.ProblemsNotEvaluated);
        JsonElement summary = Summary();
        Assert.Equal("incomplete", summary.GetProperty("status").GetString());
        Assert.Equal(0, summary.GetProperty("solve_rate").GetDouble());
        Assert.Contains("unreachable", summary.GetProperty("completeness").GetProperty("stopped").GetString());
        Assert.Contains("run stopped", File.ReadAllText(Path.Combine(_dir, "out", EvaluationRun.ErrorsFile)));
    }
}
