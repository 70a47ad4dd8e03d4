using System.Diagnostics;
using Rlef.Engine.Model;
using Rlef.Sandbox;
using Rlef.Training.Config;
using Rlef.Training.Ppo;
using Rlef.Training.Runs;
using Rlef.Training.Sft;
using Rlef.Training.Tests.Trainer;
using Xunit.Abstractions;

namespace Rlef.Cli.Tests.Learner;

/// <summary>
/// RLEF with its learner on `rlef serve learner` (learner.service: tinker:URL; docs/tinker.md): sampling by the
/// service's sampler, reference log-probs from its base model, PPO updates by forward / forward_backward(ppo) /
/// optim_step, weights saved for the sampler every iteration. The trainer's learning task learns to the same bar as
/// in-process; a service that disappears stops the run with a message naming it.
/// </summary>
public sealed class ServiceTrainingTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rlef-service-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // The learning test's warm start (SFT on the answer format), saved as the model directory the service trains.
    LlamaModel WarmStart(RlefConfig config)
    {
        LlamaModel model = PrintTask.Model();
        var sft = new SftTrainer(model, config with { Sft = config.Sft with { Epochs = 4 } });
        sft.Train(sft.Examples(PrintTask.WarmStartTrajectories(PrintTask.Problems(256, seed: 11), seed: 12)), batchSize: 16, (_, _) => { });
        model.Save(Path.Combine(_dir, "model"));
        return model;
    }

    static RlefConfig Config(Uri url, int totalUpdates)
    {
        RlefConfig config = PrintTask.Config(rolloutsPerIteration: 64, updatesPerIteration: 4, totalUpdates: totalUpdates, learningRate: 1e-3);
        return config with
        {
            Ppo = config.Ppo with { Baseline = AdvantageBaseline.GroupMean },
            Rollout = config.Rollout with { RolloutsPerProblem = 4 },
            Learner = new LearnerConfig { Service = $"tinker:{url}", BaseModel = "print" },
        };
    }

    [Fact]
    public async Task ThePrintTaskLearnsThroughTheService()
    {
        LlamaModel start = WarmStart(PrintTask.Config(64, 4, 32, 1e-3));
        using var server = LearnerServerProcess.Start(Path.Combine(_dir, "model"), "print", Path.Combine(_dir, "state"));
        RlefConfig config = Config(server.BaseUrl, totalUpdates: 32);
        string runDir = Path.Combine(_dir, "run");
        await using var executor = new SandboxPool();
        using var run = RunDirectory.Create(runDir, config);
        var clock = Stopwatch.StartNew();
        await using var trainer = new RlefTrainer(run, start.Clone(), PrintTask.Format, executor, PrintTask.Problems(512, seed: 21), []);
        var rates = new List<double>();
        await trainer.RunAsync(report =>
        {
            rates.Add(report.Rollouts.SolveRate);
            output.WriteLine($"iteration {report.Iteration}: solve rate {report.Rollouts.SolveRate:F2}, policy loss {report.Updates[0].Loss.PolicyLoss:F4}, " +
                $"update {report.UpdateSeconds:F2} s, {clock.Elapsed.TotalSeconds:F0} s");
        });
        string all = string.Join(", ", rates.Select(r => r.ToString("F2")));
        Assert.Equal(8, rates.Count);
        Assert.True(rates[0] is > 0 and <= 0.4, $"the warm start should solve a few problems, not most: {all}");
        var last = rates.TakeLast(3).ToArray();
        Assert.True(last.Max() >= 0.85 && last.Average() >= 0.7, $"PPO through the service should raise the solve rate to near 1 within 32 updates: {all}");

        // The checkpoint says where the policy lives on the service.
        Assert.NotNull(trainer.ServiceState);
        Assert.Equal(32, trainer.ServiceState!.ServiceSteps);
        Assert.Contains("/sampler_weights/step-32", trainer.ServiceState.SamplerPath);
        Checkpoint last32 = run.Checkpoints.Latest() ?? throw new InvalidOperationException("no checkpoint");
        Assert.True(last32.Has(RlefTrainer.ServiceStateFile));
    }

    [Fact]
    public async Task AVanishedServiceStopsTheRunWithAMessageNamingIt()
    {
        LlamaModel start = PrintTask.Model();
        start.Save(Path.Combine(_dir, "model"));
        using var server = LearnerServerProcess.Start(Path.Combine(_dir, "model"), "print", Path.Combine(_dir, "state"));
        RlefConfig config = Config(server.BaseUrl, totalUpdates: 64) with
        {
            Rollout = Config(server.BaseUrl, 64).Rollout with { RolloutsPerIteration = 8, RolloutsPerProblem = 2 },
        };
        config = config with { Rollout = config.Rollout with { UpdatesPerIteration = 2 } };
        await using var executor = new SandboxPool();
        using var run = RunDirectory.Create(Path.Combine(_dir, "run"), config);
        await using var trainer = new RlefTrainer(run, start.Clone(), PrintTask.Format, executor, PrintTask.Problems(64, seed: 21), []);
        int iterations = 0;
        var error = await Assert.ThrowsAnyAsync<Exception>(() => trainer.RunAsync(_ =>
        {
            if (++iterations == 1) server.Kill();
        }).WaitAsync(TimeSpan.FromMinutes(3)));
        output.WriteLine(error.ToString());
        Assert.Equal(1, iterations);
        Assert.Contains(server.BaseUrl.Authority, error.Message);
        Assert.Equal(2, trainer.State.Step); // the steps done before the service went away are kept
    }

    [Fact]
    public async Task ResumeLoadsTheServiceBackToTheCheckpointAndContinuesIdentically()
    {
        LlamaModel start = PrintTask.Model();
        start.Save(Path.Combine(_dir, "model"));
        string state = Path.Combine(_dir, "state");
        using var server = LearnerServerProcess.Start(Path.Combine(_dir, "model"), "print", state);
        RlefConfig config = Config(server.BaseUrl, totalUpdates: 8);
        config = config with
        {
            Rollout = config.Rollout with { RolloutsPerIteration = 8, RolloutsPerProblem = 2, UpdatesPerIteration = 2 },
            Schedule = config.Schedule with { CheckpointEvery = 4 },
        };
        string runDir = Path.Combine(_dir, "run");
        var problems = PrintTask.Problems(64, seed: 21);
        await using var executor = new SandboxPool();
        string modelId;
        // The service steps past the checkpoint at step 4, then the trainer "crashes" after step 6 (no checkpoint there).
        using (var run = RunDirectory.Create(runDir, config))
        await using (var trainer = new RlefTrainer(run, start.Clone(), PrintTask.Format, executor, problems, []))
        {
            await Assert.ThrowsAsync<OperationCanceledException>(() => trainer.RunAsync(report =>
            {
                if (report.LastStep == 6) throw new OperationCanceledException("crash after step 6");
            }));
            modelId = trainer.ServiceState!.ModelId;
            Assert.Equal(6, trainer.ServiceState.ServiceSteps);
        }
        string step6 = Path.Combine(state, modelId, "sampler_weights", "step-6", "model.safetensors");
        byte[] uninterrupted = File.ReadAllBytes(step6);

        using (var run = RunDirectory.Resume(runDir))
        await using (var trainer = new RlefTrainer(run, start.Clone(), PrintTask.Format, executor, problems, []))
        {
            Assert.Equal(4, run.ResumedFrom!.State.Step);
            await trainer.RunAsync();
            Assert.Equal(modelId, trainer.ServiceState!.ModelId); // the same model on the service
            Assert.Equal(8, trainer.ServiceState.ServiceSteps);
        }
        // Steps 5 and 6 again from the service state of step 4: the same weights as the uninterrupted run's.
        Assert.Equal(uninterrupted, File.ReadAllBytes(step6));
    }
}
