using Rlef.Sandbox;
using Rlef.Training.Config;
using Rlef.Training.Runs;
using Rlef.Training.Ppo;

namespace Rlef.Training.Tests.Trainer;

/// <summary>
/// A real RLEF run for the crash test (the tiny print-N setup, untrained model): the child process runs it and is
/// killed; the test resumes it. Each finished iteration appends "iteration: problem ids" to iterations.log in the
/// run directory and prints "iteration I step S checkpointed C" on stdout.
/// </summary>
public static class CrashRun
{
    public const string LogName = "iterations.log";
    public const int TrainProblems = 40;

    /// <param name="maxPolicyLag">0: the synchronous trainer; k ≥ 1: the pipelined learner with an embedded actor.</param>
    public static RlefConfig Config(int totalUpdates, int maxPolicyLag = 0) => PrintTask.Config(rolloutsPerIteration: 6, updatesPerIteration: 2, totalUpdates, learningRate: 1e-3) with
    {
        Rollout = PrintTask.Config(6, 2, totalUpdates, 1e-3).Rollout with { MaxReplyTokens = 8, MaxPolicyLag = maxPolicyLag },
        Schedule = new ScheduleConfig { TotalUpdates = totalUpdates, CheckpointEvery = 2, EvalEvery = 1000, Seed = 5, KeepLastCheckpoints = 2 },
    };

    public static async Task RunAsync(RunDirectory run, Action<string>? report = null)
    {
        await using var executor = new SandboxPool();
        await using var trainer = new RlefTrainer(run, PrintTask.Model(seed: 3), PrintTask.Format, executor, PrintTask.Problems(TrainProblems, seed: 9), []);
        await trainer.RunAsync(r =>
        {
            File.AppendAllText(Path.Combine(run.Path, LogName), $"{r.Iteration}: {string.Join(' ', r.ProblemIds)}\n");
            report?.Invoke($"iteration {r.Iteration} step {r.LastStep} checkpointed {r.Checkpointed}");
        });
    }
}
