using System.Text.Json.Nodes;
using Rlef.Engine.IO;
using Rlef.Training.Config;
using Rlef.Training.Runs;
using Rlef.Training.Sft;
using Rlef.Training.Tests.Trainer;

namespace Rlef.Training.Tests;

/// <summary>
/// A resumable SFT run (docs/protocol.md §3.12): interrupted after a checkpoint and resumed, it ends with the same
/// weights, step, best validation and metrics as a run that never stopped; it refuses another config, naming the key;
/// and a checkpoint torn by a crash during its write is never read.
/// </summary>
public sealed class SftResumeTests : IDisposable
{
    // 20 examples in batches of 4, 2 epochs: 10 updates; a checkpoint every 3, a validation every 4 and at the end.
    static readonly RlefConfig Config = PrintTask.Config(8, 1, 1, 1e-3) with
    {
        Sft = new SftConfig { LearningRate = 1e-3, Epochs = 2, BatchSize = 4, WarmupSteps = 2, EvalEvery = 4 },
        Schedule = new ScheduleConfig { Seed = 7, CheckpointEvery = 3, KeepLastCheckpoints = 2 },
    };
    const long Total = 10;

    readonly string _dir = Path.Combine(Path.GetTempPath(), $"rlef-sft-resume-{Guid.NewGuid():N}");

    static IReadOnlyList<SftExample> Examples() =>
        new SftTrainer(PrintTask.Model(seed: 3), Config).Examples(PrintTask.WarmStartTrajectories(PrintTask.Problems(20, seed: 11), seed: 12));

    /// <summary>Runs SFT in <paramref name="run"/>; with <paramref name="crashAfter"/>, the process "dies" right after that update.</summary>
    static async Task<(SftTrainer Trainer, Rlef.Engine.Model.LlamaModel Model)> TrainAsync(RunDirectory run, IReadOnlyList<SftExample> examples, long? crashAfter = null)
    {
        var model = PrintTask.Model(seed: 3);
        var trainer = new SftTrainer(model, run.Config, run);
        await trainer.TrainAsync(examples, onUpdate: (step, _) =>
        {
            if (step == crashAfter) throw new SimulatedCrash();
        }, validate: ct =>
        {
            double score = -SftTrainer.AccumulateGradients(model, examples, run.Config.Engine.MicroBatchTokens).Loss;
            model.ZeroGrad();
            // A score of the weights, so a resumed run that drifted would score otherwise; update 8 is never the best.
            return Task.FromResult(trainer.Step == 8 ? score - 10 : score);
        });
        return (trainer, model);
    }

    sealed class SimulatedCrash : Exception;

    [Fact]
    public async Task An_interrupted_and_resumed_run_ends_exactly_as_an_uninterrupted_one()
    {
        var (whole, resumed) = await BothRunsAsync(tear: null);
        Assert.Equal(6, resumed.ResumedFromStep); // the checkpoint at update 6 (every 3), not the crash at 7
        AssertSame(whole, resumed);
    }

    [Fact]
    public async Task A_checkpoint_torn_by_a_crash_during_its_write_is_never_read()
    {
        var (whole, resumed) = await BothRunsAsync(tear: checkpoints =>
        {
            // A crash while writing the next checkpoint: the temporary directory holds a half-written weights file,
            // and a step directory whose state.json (written last) never arrived.
            string temp = Directory.CreateDirectory(Path.Combine(checkpoints, ".tmp-step-00000009-0123")).FullName;
            File.WriteAllBytes(Path.Combine(temp, SftTrainer.PolicyFile), [1, 2, 3]);
            string step = Directory.CreateDirectory(Path.Combine(checkpoints, "step-00000009")).FullName;
            File.WriteAllBytes(Path.Combine(step, SftTrainer.PolicyFile), [1, 2, 3]);
            File.WriteAllBytes(Path.Combine(step, SftTrainer.PolicyOptimizerFile), [4, 5]);
        });
        Assert.Equal(6, resumed.ResumedFromStep);
        AssertSame(whole, resumed);
        Assert.False(Directory.Exists(Path.Combine(_dir, "resumed", RunDirectory.CheckpointsDirectory, ".tmp-step-00000009-0123")));
    }

    [Fact]
    public void Resuming_with_another_config_is_refused_naming_the_key()
    {
        string dir = Path.Combine(_dir, "run");
        using (RunDirectory.Create(dir, Config)) { }
        RunDirectory.RequireSameConfig(dir, ConfigLoader.Load(Path.Combine(dir, RunDirectory.ConfigFileName))); // its own: fine
        var changed = Config with { Sft = Config.Sft with { LearningRate = 2e-3 } };
        var error = Assert.Throws<ConfigException>(() => RunDirectory.RequireSameConfig(dir, changed));
        Assert.Contains("sft.learning_rate", error.Message);
        Assert.Contains("0.002", error.Message);
        Assert.Contains("0.001", error.Message);
        var two = changed with { Schedule = Config.Schedule with { Seed = 8 } };
        Assert.Contains("1 more: schedule.seed", Assert.Throws<ConfigException>(() => RunDirectory.RequireSameConfig(dir, two)).Message);
    }

    [Fact]
    public async Task Resuming_on_other_examples_or_another_batch_size_is_refused()
    {
        var examples = Examples();
        string dir = Path.Combine(_dir, "run");
        using (var run = RunDirectory.Create(dir, Config))
            await Assert.ThrowsAsync<SimulatedCrash>(() => TrainAsync(run, examples, crashAfter: 4));
        var record = new SftRunData("rollouts.jsonl", null, examples.Count, SftRunData.FingerprintOf(examples));
        record.Check(examples, dir);
        Assert.Contains("20 examples", Assert.Throws<InvalidDataException>(() => record.Check(examples.Take(19).ToList(), dir)).Message);
        // The checkpoint's data position (update 3: epoch 0, offset 12) does not fit batches of 5.
        using var resumed = RunDirectory.Resume(dir);
        var trainer = new SftTrainer(PrintTask.Model(seed: 3), resumed.Config, resumed);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => trainer.TrainAsync(examples, batchSize: 5));
        Assert.Contains("data position", error.Message);
    }

    sealed record RunResult(string Directory, long Step, SftValidation? Best, byte[] Weights, string[] Metrics, long? ResumedFromStep);

    async Task<(RunResult Whole, RunResult Resumed)> BothRunsAsync(Action<string>? tear)
    {
        var examples = Examples();
        string wholeDir = Path.Combine(_dir, "whole"), resumedDir = Path.Combine(_dir, "resumed");
        RunResult whole;
        using (var run = RunDirectory.Create(wholeDir, Config))
            whole = Result(run, await TrainAsync(run, examples), null);

        using (var run = RunDirectory.Create(resumedDir, Config))
            await Assert.ThrowsAsync<SimulatedCrash>(() => TrainAsync(run, examples, crashAfter: 7));
        tear?.Invoke(Path.Combine(resumedDir, RunDirectory.CheckpointsDirectory));
        using var again = RunDirectory.Resume(resumedDir);
        long? from = again.ResumedFrom?.State.Step;
        return (whole, Result(again, await TrainAsync(again, examples), from));
    }

    static RunResult Result(RunDirectory run, (SftTrainer Trainer, Rlef.Engine.Model.LlamaModel Model) trained, long? resumedFrom)
    {
        string weights = Path.Combine(run.Path, "final.safetensors");
        Safetensors.Save(weights, trained.Model.Parameters);
        // The last checkpoint holds the final weights too, byte for byte.
        Checkpoint last = run.Checkpoints.Latest()!;
        Assert.Equal(trained.Trainer.Step, last.State.Step);
        Assert.Equal(File.ReadAllBytes(weights), File.ReadAllBytes(ModelFiles.PathOf(last, SftTrainer.PolicyFile)));
        // Every update logged once, in order; wall_time is the clock's, the rest must match.
        string[] metrics = File.ReadAllLines(run.Metrics.JsonlPath).Select(line =>
        {
            var record = JsonNode.Parse(line)!.AsObject();
            record.Remove("wall_time");
            return record.ToJsonString();
        }).ToArray();
        return new RunResult(run.Path, trained.Trainer.Step, trained.Trainer.Best, File.ReadAllBytes(weights), metrics, resumedFrom);
    }

    static void AssertSame(RunResult whole, RunResult resumed)
    {
        Assert.Equal(Total, whole.Step);
        Assert.Equal(whole.Step, resumed.Step);
        Assert.NotNull(whole.Best);
        Assert.Equal(whole.Best, resumed.Best);
        Assert.Equal(whole.Weights, resumed.Weights);
        Assert.Equal(whole.Metrics, resumed.Metrics);
        Assert.Equal(Total + 3, whole.Metrics.Length); // 10 updates and 3 validations
        Assert.Equal(Enumerable.Range(1, (int)Total).Select(s => (long)s), whole.Metrics.Where(m => m.Contains("loss/sft")).Select(m => (long)JsonNode.Parse(m)!["step"]!));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }
}
