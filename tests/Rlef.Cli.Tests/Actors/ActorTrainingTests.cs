using System.Diagnostics;
using System.Net.Http;
using Rlef.Engine.Model;
using Rlef.Sandbox;
using Rlef.Training.Config;
using Rlef.Training.Ppo;
using Rlef.Training.Runs;
using Rlef.Training.Tests.Trainer;
using Xunit.Abstractions;

namespace Rlef.Cli.Tests.Actors;

/// <summary>
/// Training with `rlef serve model` processes as actors (docs/inference-servers.md): the asynchronous learner with
/// max_policy_lag 1 learns the trainer's learning task as the synchronous one does, and an actor killed mid-run
/// loses no episode (its episodes are re-run on the other actor; every iteration trains on all its problems).
/// </summary>
[Collection("actors")]
public sealed class ActorTrainingTests(PrintModelServers servers, ITestOutputHelper output)
{
    [Fact]
    public async Task TwoServerActorsWithPolicyLagOneLearnThePrintTask()
    {
        RlefConfig config = PrintTask.Config(rolloutsPerIteration: 64, updatesPerIteration: 4, totalUpdates: 32, learningRate: 1e-3);
        string dir = Path.Combine(servers.Directory, $"run-{Guid.NewGuid():N}");
        config = config with
        {
            Rollout = config.Rollout with
            {
                Actors = $"rlef:{servers.A.BaseUrl},rlef:{servers.B.BaseUrl}",
                MaxPolicyLag = 1,
                PublishDir = Path.Combine(dir, "published"),
            },
        };
        // The same start as the synchronous learning test: the warm-started weights the servers were started on.
        LlamaModel model = servers.Model.Clone();
        var clock = Stopwatch.StartNew();
        await using var executor = new SandboxPool();
        using var run = RunDirectory.Create(dir, config);
        await using var trainer = new RlefTrainer(run, model, PrintTask.Format, executor, PrintTask.Problems(512, seed: 21), []);
        var rates = new List<double>();
        await trainer.RunAsync(report =>
        {
            rates.Add(report.Rollouts.SolveRate);
            output.WriteLine($"iteration {report.Iteration}: solve rate {report.Rollouts.SolveRate:F2}, {report.Rollouts.Episodes} episodes, " +
                $"update {report.UpdateSeconds:F2} s, {clock.Elapsed.TotalSeconds:F0} s");
        });
        string all = string.Join(", ", rates.Select(r => r.ToString("F2")));
        Assert.Equal(8, rates.Count);
        Assert.True(rates[0] is > 0 and <= 0.4, $"the warm start should solve a few problems, not most: {all}");
        var last = rates.TakeLast(3).ToArray();
        Assert.True(last.Max() >= 0.85 && last.Average() >= 0.7, $"PPO with lagging actors should raise the solve rate to near 1 within 32 updates: {all}");

        // Metrics of the asynchronous learner: lag histogram within the bound, importance weights, actor throughput.
        string[] lines = File.ReadAllLines(Path.Combine(dir, MetricsLog.JsonlFileName));
        Assert.All(lines.Where(l => l.Contains("\"actors/policy_lag_over\"")), l => Assert.Contains("\"actors/policy_lag_over\":0", l));
        Assert.Contains(lines, l => l.Contains("\"actors/importance_weight_mean\""));
        Assert.Contains(lines, l => l.Contains("\"actors/policy_lag_1\":1"));
        Assert.Contains(lines, l => l.Contains("\"actors/tokens_per_s\""));
    }

    [Fact]
    public async Task AnActorKilledMidRunLosesNoEpisode()
    {
        using var doomed = ModelServerProcess.Start(servers.ModelDirectory, "print", maxBatch: 2);
        const int perIteration = 16;
        RlefConfig config = PrintTask.Config(rolloutsPerIteration: perIteration, updatesPerIteration: 2, totalUpdates: 8, learningRate: 1e-3);
        string dir = Path.Combine(servers.Directory, $"run-{Guid.NewGuid():N}");
        config = config with
        {
            Rollout = config.Rollout with
            {
                Actors = $"rlef:{servers.A.BaseUrl},rlef:{doomed.BaseUrl}",
                MaxPolicyLag = 1,
                PublishDir = Path.Combine(dir, "published"),
            },
            Engine = config.Engine with { GenerationBatch = 2 },
        };
        var problems = PrintTask.Problems(40, seed: 9);
        await using var executor = new SandboxPool();
        using var run = RunDirectory.Create(dir, config);
        await using var trainer = new RlefTrainer(run, servers.Model.Clone(), PrintTask.Format, executor, problems, []);

        // Kill the second server (kill -9) once it has sampled part of the run, while it is answering a request: the
        // episodes of that request must then be re-run on the other server.
        using var killer = new CancellationTokenSource();
        Task kill = Task.Run(async () =>
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var deadline = Stopwatch.StartNew();
            while (!killer.IsCancellationRequested && deadline.Elapsed < TimeSpan.FromMinutes(5))
            {
                string metrics = await http.GetStringAsync(new Uri(doomed.BaseUrl, "metrics"));
                double Value(string name) => double.Parse(metrics.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal))
                    .Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
                if (Value("rlef_model_sequences_total") >= perIteration * 3 / 4 && Value("rlef_model_generate_running") > 0) break;
                await Task.Delay(5);
            }
            output.WriteLine($"killing pid {doomed.ProcessId}");
            doomed.Kill();
        });
        var reports = new List<IterationReport>();
        await trainer.RunAsync(reports.Add);
        await killer.CancelAsync();
        await kill;

        Assert.True(doomed.HasExited);
        Assert.Equal(4, reports.Count);
        // Every iteration trained on all its episodes, on exactly the problems of the data order, none twice.
        var order = new DataOrder(problems.Count, config.Schedule.Seed);
        foreach (IterationReport report in reports)
        {
            Assert.Equal(perIteration, report.Rollouts.Episodes);
            Assert.Equal(order.Take(perIteration).Select(i => problems[i].Id).Order(), report.ProblemIds.Order());
        }
        Assert.True(trainer.State.Counters.GetValueOrDefault("rerun_rollouts") >= 1, "the killed actor's episodes should have been re-run elsewhere");
        Assert.Equal(0, trainer.State.Counters.GetValueOrDefault("dropped_stale_rollouts"));
        Assert.Equal(8, trainer.State.Step);
    }
}
