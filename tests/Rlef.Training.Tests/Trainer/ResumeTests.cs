using Rlef.Sandbox;
using System.Diagnostics;
using System.Text.Json;
using Rlef.Engine.IO;
using Rlef.Training.Runs;
using Xunit.Abstractions;
using Rlef.Training.Ppo;

namespace Rlef.Training.Tests.Trainer;

/// <summary>
/// The real trainer, killed mid-run in a child process and resumed: it continues from its last checkpoint with the
/// checkpointed weights, optimizer step and data position, visits the problems in the same order an uninterrupted
/// run does, and logs every update exactly once. With max_policy_lag 1 or 2 (the pipelined learner, an embedded actor
/// sampling ahead) the collections in flight at the kill are sampled again, but the data order and the step are exact.
/// </summary>
public sealed class ResumeTests(ITestOutputHelper output)
{
    const int Total = 8; // 4 iterations of 2 updates; a checkpoint after each

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task KilledTrainerResumesFromItsCheckpointWithTheSameDataOrder(int maxPolicyLag)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"rlef-crash-{Guid.NewGuid():N}");
        try
        {
            string killedAt = RunChildAndKill(dir, maxPolicyLag);
            output.WriteLine($"killed after: {killedAt}");

            using var run = RunDirectory.Resume(dir);
            Checkpoint checkpoint = run.ResumedFrom ?? throw new InvalidOperationException("no checkpoint before the kill");
            Assert.InRange(checkpoint.State.Step, 2, Total - 2);
            await using (var executor = new SandboxPool())
            {
                await using var resumed = new RlefTrainer(run, PrintTask.Model(seed: 3), PrintTask.Format, executor, PrintTask.Problems(CrashRun.TrainProblems, seed: 9), []);
                Assert.Equal(checkpoint.State, resumed.State);
                using var saved = SafetensorsFile.Open(Path.Combine(checkpoint.Directory, RlefTrainer.PolicyFile));
                foreach (var p in resumed.Policy.Parameters) Assert.Equal(saved.Read(p.Name), p.Data);
            }
            await CrashRun.RunAsync(run);

            // Same data order as an uninterrupted run: iteration i takes the next 6 problems of the seeded order.
            var problems = PrintTask.Problems(CrashRun.TrainProblems, seed: 9);
            var order = new DataOrder(CrashRun.TrainProblems, seed: 5);
            var logged = File.ReadAllLines(Path.Combine(dir, CrashRun.LogName))
                .Select(l => l.Split(": ")).GroupBy(p => int.Parse(p[0])).ToDictionary(g => g.Key, g => g.Last()[1]);
            Assert.Equal(Total / 2, logged.Count);
            for (int i = 0; i < Total / 2; i++)
                Assert.Equal(string.Join(' ', order.Take(6).Select(k => problems[k].Id)), logged[i]);

            // Every update logged once, in order; the final checkpoint at the end.
            long[] steps = File.ReadAllLines(Path.Combine(dir, MetricsLog.JsonlFileName))
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64()).ToArray();
            Assert.Equal(Enumerable.Range(1, Total).Select(s => (long)s), steps);
            var final = new CheckpointStore(Path.Combine(dir, RunDirectory.CheckpointsDirectory), 2).Latest()!;
            Assert.Equal(Total, final.State.Step);
            Assert.Equal(order.Position, final.State.Data);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Runs the trainer in a child process and SIGKILLs it shortly after its first checkpoint.</summary>
    static string RunChildAndKill(string runDir, int maxPolicyLag)
    {
        string assembly = typeof(CrashRun).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { assembly, "rl-run", runDir, Total.ToString(), maxPolicyLag.ToString() }) start.ArgumentList.Add(arg);
        using Process child = Process.Start(start)!;
        string? line;
        while ((line = child.StandardOutput.ReadLine()) is not null)
        {
            if (line.Contains("checkpointed True", StringComparison.Ordinal))
            {
                Thread.Sleep(200); // into the next iteration's rollouts
                child.Kill(entireProcessTree: true);
                break;
            }
        }
        child.WaitForExit();
        if (line is null) throw new InvalidOperationException($"child exited before its first checkpoint: {child.StandardError.ReadToEnd()}");
        return line;
    }
}
