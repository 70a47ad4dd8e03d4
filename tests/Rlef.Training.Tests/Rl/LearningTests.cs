using System.Diagnostics;
using Rlef.Training.Config;
using Rlef.Training.Rl;
using Rlef.Training.Runs;
using Xunit.Abstractions;

namespace Rlef.Training.Tests.Rl;

/// <summary>
/// The trainer learns: a tiny from-scratch model is warm-started by SFT on the answer format with a random digit
/// (solve rate ≈ 0.1), then PPO on real executions raises the solve rate of "print N" to near 1.
/// </summary>
public sealed class LearningTests(ITestOutputHelper output)
{
    [Fact]
    public async Task PpoRaisesTheSolveRateOfPrintNFromNearZeroToNearOne()
    {
        if (!LocalPythonExecutor.Available()) { output.WriteLine("skipped: python3 not found"); return; }
        RlefConfig config = PrintTask.Config(rolloutsPerIteration: 64, updatesPerIteration: int.Parse(System.Environment.GetEnvironmentVariable("XN") ?? "2"), totalUpdates: int.Parse(System.Environment.GetEnvironmentVariable("XU") ?? "12"), learningRate: double.Parse(System.Environment.GetEnvironmentVariable("XLR") ?? "1e-3"));
        var model = PrintTask.Model();
        var clock = Stopwatch.StartNew();

        var sft = new SftTrainer(model, config with { Sft = config.Sft with { Epochs = int.Parse(System.Environment.GetEnvironmentVariable("XE") ?? "3") } });
        var examples = sft.Examples(PrintTask.FormatOnlyTrajectories(PrintTask.Problems(256, seed: 11), seed: 12, System.Environment.GetEnvironmentVariable("XC") == "1"));
        double lastLoss = 0;
        sft.Train(examples, batchSize: 16, (_, r) => lastLoss = r.Loss);
        output.WriteLine($"SFT: {sft.Step} updates, last loss {lastLoss:F3}, {clock.Elapsed.TotalSeconds:F1} s");

        string dir = Path.Combine(Path.GetTempPath(), $"rlef-learn-{Guid.NewGuid():N}");
        try
        {
            await using var executor = new LocalPythonExecutor();
            using var run = RunDirectory.Create(dir, config);
            var trainer = new RlefTrainer(run, model, PrintTask.Format, executor, PrintTask.Problems(512, seed: 21), []);
            var rates = new List<double>();
            await trainer.RunAsync(report =>
            {
                rates.Add(report.Rollouts.SolveRate);
                output.WriteLine($"iteration {report.Iteration}: solve rate {report.Rollouts.SolveRate:F2}, return {report.Rollouts.MeanReturn:F2}, " +
                    $"kl/ref {report.Updates[^1].Loss.KlReference:F3}, gen {report.GenerationSeconds:F2} s, sandbox {report.SandboxSeconds:F2} s, " +
                    $"scoring {report.ScoringSeconds:F2} s, update {report.UpdateSeconds:F2} s, klold {report.Updates[0].Loss.ApproxKlOld:F4} clip {report.Updates[0].Loss.ClipFraction:F3} / {report.Updates[^1].Loss.ClipFraction:F3} gn {report.Updates[0].PolicyGradNorm:F3} invalid {report.Rollouts.InvalidCodeRate:F2}");
            });
            output.WriteLine($"total {clock.Elapsed.TotalSeconds:F1} s");
            Assert.InRange(rates[0], 0.01, 0.4);
            Assert.True(rates.TakeLast(3).Average() >= 0.85, $"solve rates {string.Join(", ", rates.Select(r => r.ToString("F2")))}");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
