using System.Diagnostics;
using System.Text.Json;
using Rlef.Environment.Problems;
using Rlef.Engine.Sampling;
using Rlef.Training.Actors;
using Rlef.Training.Actors.Remote;
using Rlef.Training.Learner;
using Rlef.Training.Rollouts;
using Rlef.Training.Runs;

namespace Rlef.Training.Ppo;

// The learner on a training service (learner.service: tinker:URL; docs/tinker.md): the episodes are sampled by the
// service's sampler from the weights last saved for it, reference log-probs come from its base-model sampler, each
// PPO update is the service's forward / forward_backward(ppo) / optim_step, and the weights are saved for the
// sampler after every iteration. The environment, sandbox, rewards, per-turn KL and advantages stay here.
public sealed partial class RlefTrainer
{
    /// <summary>The checkpoint file that says where the policy lives on the service (model id, sampler weights, steps).</summary>
    public const string ServiceStateFile = "learner_service.json";

    TinkerLearner? _service;
    TinkerSampler? _serviceSampler;
    Actor? _serviceActor;

    /// <summary>Where the policy lives on the training service (null for the in-process learner or before it started).</summary>
    public TinkerState? ServiceState => _service?.State;

    async Task<IterationReport> ServiceIterationAsync(CancellationToken cancellationToken)
    {
        if (_valid.Count > 0)
            throw new InvalidOperationException("learner.service: validation through the service's sampler is not built; leave data.valid empty");
        _service ??= await StartServiceAsync(cancellationToken);
        long iteration = State.Iteration;
        int perProblem = _config.Rollout.RolloutsPerProblem;
        Problem[] problems = _order.Take(_config.Rollout.RolloutsPerIteration / perProblem)
            .SelectMany(i => Enumerable.Repeat(_train[i], perProblem)).ToArray();
        _progress?.Enter(Phase.Generation);
        var sampling = new SamplingOptions
        {
            Temperature = (float)_config.Rollout.Temperature,
            TopP = (float)_config.Rollout.TopP,
            MaxTokens = _config.Rollout.MaxReplyTokens,
            Seed = unchecked((int)_config.Schedule.Seed * 7919 + (int)iteration),
        };
        var collection = new ActorCollection(_executor, _format, _collector.EpisodeOptions, _config.Engine.GenerationBatch,
            TimeSpan.FromMilliseconds(_config.Engine.BatchWindowMs));
        ActorCollectionResult collected = await collection.RunAsync([_serviceActor!], problems, sampling, cancellationToken);

        var scoring = Stopwatch.StartNew();
        var rollouts = collected.Episodes.Select(e => e.Rollout).ToArray();
        var turns = collected.Episodes.Select(e => e.Turns).ToArray();
        int[][] sequences = turns.Select(t => RolloutCollector.Sequence(t)).ToArray();
        float[][] reference = await _service.ReferenceLogProbsAsync(sequences, cancellationToken);
        // No value network on the service: the group-mean baseline (required by the config) never reads these.
        float[][] values = sequences.Select(s => new float[s.Length]).ToArray();
        TrainingEpisode[] episodes = _collector.BuildTrainingEpisodes(problems, rollouts, turns, reference, values);
        double scoringSeconds = scoring.Elapsed.TotalSeconds;
        var result = new CollectedRollouts(episodes, rollouts, collected.GenerationSeconds,
            Math.Max(0, collected.WallSeconds - collected.GenerationSeconds), scoringSeconds, collected.SampledTokens, 0);
        _progress?.AddTime(Phase.Generation, TimeSpan.FromSeconds(collected.WallSeconds + scoringSeconds));

        // π_old is the behaviour policy: the service sampled with the weights the first update starts from.
        PpoBatch batch = PpoBatch.Build(episodes, _config);
        return await UpdateAsync(iteration, problems, batch, result, oldLogProbs: null,
            [("learner/service_steps", _service.State.ServiceSteps)], _order.Position, cancellationToken);
    }

    async Task<PpoUpdateResult> ServiceUpdateAsync(PpoMinibatch minibatch, long step, CancellationToken cancellationToken)
    {
        var (loss, gradNorm, _) = await _service!.UpdateAsync(minibatch, _updater.LearningRateAt(step), cancellationToken);
        long tokens = minibatch.Episodes.Sum(e => (long)e.Turns.Sum(t => t.PromptTokens.Length + t.ReplyTokens.Length));
        return new PpoUpdateResult(loss, gradNorm, 0, tokens);
    }

    /// <summary>
    /// Saves the weights for the service's sampler and points the sampler at them (every iteration); before a
    /// checkpoint, also the service's training state (weights and optimizer), which --resume loads back.
    /// </summary>
    async Task PublishServiceWeightsAsync(bool checkpoint, CancellationToken cancellationToken)
    {
        if (checkpoint) await _service!.SaveTrainingStateAsync($"checkpoint-{State.Step}", cancellationToken);
        string path = await _service!.SaveForSamplerAsync($"step-{State.Step}", cancellationToken);
        await _serviceSampler!.LoadWeightsAsync(path, State.Iteration, cancellationToken);
        _serviceActor!.Version = State.Iteration;
    }

    async Task<TinkerLearner> StartServiceAsync(CancellationToken cancellationToken)
    {
        Uri url = _config.Learner.TinkerUrl!;
        string baseModel = _config.Learner.BaseModel.Length > 0 ? _config.Learner.BaseModel
            : System.IO.Path.GetFileName(System.IO.Path.GetFullPath(_config.Model.Directory).TrimEnd(System.IO.Path.DirectorySeparatorChar));
        TinkerState? resume = null;
        if (_run.ResumedFrom is { } checkpoint && checkpoint.Has(ServiceStateFile))
        {
            using var stream = checkpoint.Open(ServiceStateFile);
            resume = JsonSerializer.Deserialize<TinkerState>(stream)
                ?? throw new InvalidDataException($"{checkpoint.Directory}/{ServiceStateFile} is empty");
        }
        var options = new TinkerCallOptions { ApiKey = System.Environment.GetEnvironmentVariable(_config.Learner.ApiKeyEnv) };
        TinkerLearner learner = await TinkerLearner.StartAsync(url, _config, baseModel, _config.Learner.LoraRank > 0 ? _config.Learner.LoraRank : null,
            resume, options, cancellationToken);
        _serviceSampler = new TinkerSampler(new TinkerClient(url, options), baseModel, _policy.Config.VocabSize);
        if (learner.State.SamplerPath is { } saved) await _serviceSampler.LoadWeightsAsync(saved, State.Iteration, cancellationToken);
        _serviceActor = new Actor(_serviceSampler) { Version = State.Iteration };
        return learner;
    }

    IEnumerable<CheckpointFile> ServiceCheckpointFiles()
    {
        if (_service is null) yield break;
        TinkerState state = _service.State;
        yield return new CheckpointFile(ServiceStateFile, stream => JsonSerializer.Serialize(stream, state));
    }
}
