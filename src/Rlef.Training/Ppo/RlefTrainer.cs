using System.Diagnostics;
using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Problems;
using Rlef.Sandbox;
using Rlef.Training.Actors;
using Rlef.Training.Config;
using Rlef.Training.Ppo;
using Rlef.Training.Rollouts;
using Rlef.Training.Runs;

namespace Rlef.Training.Ppo;

/// <summary>What one iteration did (for tests, the CLI and the time split).</summary>
public sealed record IterationReport(long Iteration, long FirstStep, long LastStep, IReadOnlyList<string> ProblemIds, RolloutStats Rollouts,
    IReadOnlyList<PpoUpdateResult> Updates, double GenerationSeconds, double SandboxSeconds, double ScoringSeconds,
    double UpdateSeconds, double? ValidationSolveRate, bool Checkpointed);

/// <summary>
/// An RLEF run (docs/protocol.md §3): iterations of collect → rewards/advantages → several minibatch PPO updates, with
/// metrics per update, periodic validation with best-checkpoint selection, and atomic checkpoints of the policy,
/// the value network, both AdamW states, the minibatch RNG, the data position and the step.
/// <para>
/// The reference policy ρ is the initial policy: the caller passes the model as the run started (the same
/// directory or seed the config names), and a resumed run loads the checkpoint's weights into a copy of it.
/// Checkpoints and validations happen at iteration boundaries (an iteration's data is collected with one policy);
/// a boundary checkpoints when the step crossed a multiple of schedule.checkpoint_every, after a validation, and at
/// the end.
/// </para>
/// </summary>
public sealed partial class RlefTrainer : IAsyncDisposable
{
    public const string PolicyFile = "policy.safetensors";
    public const string ValueFile = "value.safetensors";
    public const string PolicyOptimizerFile = "policy_adamw.safetensors";
    public const string ValueOptimizerFile = "value_adamw.safetensors";
    const string MinibatchRng = "minibatches";

    readonly RunDirectory _run;
    readonly RlefConfig _config;
    readonly LlamaModel _policy, _reference, _value;
    readonly PpoUpdater _updater;
    readonly RolloutCollector _collector;
    readonly IReadOnlyList<Problem> _train, _valid;
    readonly TrainingProgress? _progress;
    readonly DataOrder _order;
    readonly IChatFormat _format;
    readonly ICodeExecutor _executor;
    Xoshiro256 _minibatchRng;
    RolloutPipeline? _pipeline;
    WeightPublisher? _publisher;

    public RlefTrainer(RunDirectory run, LlamaModel initialPolicy, IChatFormat format, ICodeExecutor executor,
        IReadOnlyList<Problem> train, IReadOnlyList<Problem> valid, TrainingProgress? progress = null)
    {
        if (train.Count == 0) throw new ArgumentException("no training problems", nameof(train));
        _run = run;
        _config = run.Config;
        _train = train;
        _valid = _config.Data.ValidProblems > 0 ? valid.Take(_config.Data.ValidProblems).ToList() : valid;
        _progress = progress;
        _policy = initialPolicy;
        _reference = initialPolicy.Clone();
        _reference.Freeze();
        _value = initialPolicy.CreateValueModel(RandomStreams.ValueHead(_config.Model.InitSeed));
        _updater = new PpoUpdater(_policy, _value, _config);
        _collector = new RolloutCollector(executor, format, _config);
        _format = format;
        _executor = executor;
        State = new TrainerState { Step = 0 };
        _minibatchRng = RandomStreams.PpoMinibatches(_config.Schedule.Seed);
        if (run.ResumedFrom is { } checkpoint)
        {
            ModelFiles.LoadWeights(ModelFiles.PathOf(checkpoint, PolicyFile), _policy);
            ModelFiles.LoadWeights(ModelFiles.PathOf(checkpoint, ValueFile), _value);
            _updater.PolicyOptimizer.LoadState(ModelFiles.PathOf(checkpoint, PolicyOptimizerFile));
            _updater.ValueOptimizer.LoadState(ModelFiles.PathOf(checkpoint, ValueOptimizerFile));
            State = checkpoint.State;
            _minibatchRng = State.RestoreRng(MinibatchRng);
        }
        _order = new DataOrder(train.Count, _config.Schedule.Seed, State.Data);
    }

    public TrainerState State { get; private set; }
    public LlamaModel Policy => _policy;
    public LlamaModel ValueModel => _value;
    public RolloutCollector Collector => _collector;

    /// <summary>Iterates until schedule.total_updates; <paramref name="onIteration"/> sees each iteration.</summary>
    public async Task RunAsync(Action<IterationReport>? onIteration = null, CancellationToken cancellationToken = default)
    {
        if (State.Step == 0 && State.Best is null && _valid.Count > 0 && _config.Schedule.ValidateAtStart)
            await ValidateStartAsync(cancellationToken);
        while (State.Step < _config.Schedule.TotalUpdates)
        {
            cancellationToken.ThrowIfCancellationRequested();
            IterationReport report = await IterationAsync(cancellationToken);
            onIteration?.Invoke(report);
        }
    }

    /// <summary>One iteration: rollouts, the PPO updates on them, then validation and a checkpoint when due.</summary>
    public async Task<IterationReport> IterationAsync(CancellationToken cancellationToken = default)
    {
        if (_config.Learner.TinkerUrl is not null) return await ServiceIterationAsync(cancellationToken);
        if (!_config.Rollout.Synchronous) return await PipelinedIterationAsync(cancellationToken);
        long iteration = State.Iteration;
        // Each problem rollout.rollouts_per_problem times, side by side (the group-mean baseline compares them).
        int perProblem = _config.Rollout.RolloutsPerProblem;
        Problem[] problems = _order.Take(_config.Rollout.RolloutsPerIteration / perProblem)
            .SelectMany(i => Enumerable.Repeat(_train[i], perProblem)).ToArray();

        _progress?.Enter(Phase.Generation);
        int seed = RandomStreams.RolloutSampling(_config.Schedule.Seed, iteration);
        CollectedRollouts collected = await _collector.CollectAsync(_policy, _reference, _value, problems, seed, cancellationToken);
        _progress?.AddTime(Phase.Generation, TimeSpan.FromSeconds(collected.GenerationSeconds + collected.ScoringSeconds));
        _progress?.AddTime(Phase.Sandbox, TimeSpan.FromSeconds(collected.SandboxSeconds));

        PpoBatch batch = PpoBatch.Build(collected.Episodes, _config);
        return await UpdateAsync(iteration, problems, batch, collected, oldLogProbs: null, [], _order.Position, cancellationToken);
    }

    /// <summary>
    /// The PPO updates of one iteration on its collected batch, then the iteration's bookkeeping: counters, state
    /// (with <paramref name="dataAfter"/>, the data position after its problems), validation and checkpoint when due.
    /// <paramref name="oldLogProbs"/> gives π_old for a minibatch's episodes (flat, in the minibatch's token order)
    /// when the rollouts were sampled by older weights; null = π_old is the behaviour policy (the synchronous trainer).
    /// </summary>
    async Task<IterationReport> UpdateAsync(long iteration, Problem[] problems, PpoBatch batch, CollectedRollouts collected,
        Func<int[], float[]>? oldLogProbs, IReadOnlyList<(string Name, double Value)> iterationMetrics, DataPosition dataAfter,
        CancellationToken cancellationToken)
    {
        long firstStep = State.Step + 1;
        int[][] minibatches = Minibatches.Split(batch.Episodes.Count, _config.Rollout.UpdatesPerIteration, _minibatchRng);
        var updates = new List<PpoUpdateResult>();
        double updateSeconds = 0;
        long step = State.Step;
        _progress?.Enter(Phase.Update);
        foreach (int[] episodes in minibatches)
        {
            var clock = Stopwatch.StartNew();
            // Longest first: the updater packs consecutive episodes into padded micro-batches, so episodes of similar
            // length side by side waste the least padding (the loss does not depend on the order).
            int[] byLength = episodes.OrderByDescending(e => batch.Episodes[e].Turns.Sum(t => t.PromptTokens.Length + t.ReplyTokens.Length)).ToArray();
            PpoMinibatch minibatch = batch.Minibatch(byLength, oldLogProbs?.Invoke(byLength));
            PpoUpdateResult result = _service is null ? _updater.Update(minibatch, ++step) : await ServiceUpdateAsync(minibatch, ++step, cancellationToken);
            double seconds = clock.Elapsed.TotalSeconds;
            updateSeconds += seconds;
            updates.Add(result);
            _progress?.AddTime(Phase.Update, clock.Elapsed);
            var phases = new Dictionary<Phase, double>
            {
                // Collection phases are the iteration's (shared by its updates); the update phase is this update's.
                [Phase.Generation] = collected.GenerationSeconds,
                [Phase.Sandbox] = collected.SandboxSeconds,
                [Phase.Update] = seconds,
            };
            var metrics = UpdateMetrics.Build(result.Loss, batch.Stats, _updater.LearningRateAt(step), result.Tokens / seconds, phases).ToList();
            metrics.Add(new(MetricNames.ScoringSeconds, collected.ScoringSeconds));
            metrics.Add(new(MetricNames.SampledTokensPerSecond, collected.SampledTokens / Math.Max(collected.GenerationSeconds, 1e-9)));
            metrics.Add(new(MetricNames.PolicyGradNorm, result.PolicyGradNorm));
            metrics.Add(new(MetricNames.ValueGradNorm, result.ValueGradNorm));
            // The process's peak resident set so far and the managed heap after the last GC (the run's memory budget).
            using (var self = Process.GetCurrentProcess()) metrics.Add(new(MetricNames.PeakRssMb, self.PeakWorkingSet64 / 1048576.0));
            metrics.Add(new(MetricNames.GcHeapMb, GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0));
            foreach (var (name, value) in iterationMetrics) metrics.Add(new(name, value));
            _run.Metrics.Write(step, metrics);
            _progress?.CompleteStep(step, result.Tokens, metrics);
        }

        var counters = new Dictionary<string, double>(State.Counters);
        void Add(string name, double value) => counters[name] = counters.GetValueOrDefault(name) + value;
        Add("episodes", batch.Stats.Episodes);
        Add("sampled_tokens", collected.SampledTokens);
        Add("seconds_generation", collected.GenerationSeconds + collected.ScoringSeconds);
        Add("seconds_sandbox", collected.SandboxSeconds);
        Add("seconds_update", updateSeconds);
        long before = State.Step;
        State = State with
        {
            Step = step,
            Iteration = iteration + 1,
            Data = dataAfter,
            Rngs = new Dictionary<string, ulong[]> { [MinibatchRng] = _minibatchRng.GetState() },
            Counters = counters,
        };

        double? validation = null;
        if (_valid.Count > 0 && Crossed(before, step, _config.Schedule.EvalEvery))
            validation = await ValidateAndRecordAsync(cancellationToken);
        bool checkpoint = validation is not null || Crossed(before, step, _config.Schedule.CheckpointEvery) || step >= _config.Schedule.TotalUpdates;
        if (_service is not null) await PublishServiceWeightsAsync(checkpoint, cancellationToken);
        if (checkpoint) SaveCheckpoint();
        return new IterationReport(iteration, firstStep, step, problems.Select(p => p.Id).ToArray(), batch.Stats, updates, collected.GenerationSeconds,
            collected.SandboxSeconds, collected.ScoringSeconds, updateSeconds, validation, checkpoint);
    }

    /// <summary>
    /// One iteration with actors (rollout.actors, rollout.max_policy_lag; docs/inference-servers.md): take the next
    /// collection from the pipeline (the learner idles while it is not ready), drop episodes sampled by weights older
    /// than the allowed lag (counted, never trained on), score them with the reference, value and current policy
    /// (π_old of PPO; the truncated factor min(π_θ/π_b, 1) corrects for the actor's older weights), update, then
    /// offer the new weights to the actors.
    /// </summary>
    async Task<IterationReport> PipelinedIterationAsync(CancellationToken cancellationToken)
    {
        long iteration = State.Iteration;
        _pipeline ??= StartPipeline();
        var idle = Stopwatch.StartNew();
        _progress?.Enter(Phase.Generation);
        PipelinedCollection c = await _pipeline.NextAsync(cancellationToken);
        double idleSeconds = idle.Elapsed.TotalSeconds;
        if (c.Iteration != iteration) throw new InvalidOperationException($"the pipeline delivered iteration {c.Iteration}, the learner is at {iteration}");

        // Policy lag of each episode = the learner's version now − the version that sampled it.
        int maxLag = _config.Rollout.MaxPolicyLag;
        PolicyLags lags = PolicyLags.Of(c.Result.Episodes.Select(e => e.PolicyVersion).ToArray(), iteration, maxLag);
        int[] kept = lags.Kept;
        int dropped = lags.Dropped;
        if (kept.Length < _config.Rollout.UpdatesPerIteration)
            throw new InvalidOperationException($"iteration {iteration}: only {kept.Length} of {c.Result.Episodes.Count} rollouts are within the policy lag {maxLag}");
        Problem[] problems = kept.Select(i => c.Problems[i]).ToArray();
        var rollouts = kept.Select(i => c.Result.Episodes[i].Rollout).ToArray();
        var turns = kept.Select(i => c.Result.Episodes[i].Turns).ToArray();

        var scoring = Stopwatch.StartNew();
        TrainingEpisode[] episodes = _collector.BuildTrainingEpisodes(problems, rollouts, turns, _reference, _value);
        // π_old: the learner's current weights on the exact sampled tokens (reply tokens only, episode order).
        float[][] sequenceLogProbs = Scorer.LogProbs(_policy, turns.Select(t => (IReadOnlyList<int>)RolloutCollector.Sequence(t)).ToList(),
            _config.Engine.ScoringBatchTokens);
        float[][] old = new float[episodes.Length][];
        double weightSum = 0;
        long weightCount = 0, truncated = 0;
        for (int i = 0; i < episodes.Length; i++)
        {
            var replyLogProbs = new List<float>();
            int at = 0;
            foreach (SampledTurn turn in turns[i])
            {
                at += turn.PromptTokens.Length;
                replyLogProbs.AddRange(sequenceLogProbs[i].AsSpan(at - 1, turn.ReplyTokens.Length).ToArray());
                for (int k = 0; k < turn.ReplyTokens.Length; k++)
                {
                    double w = Math.Min(Math.Exp(sequenceLogProbs[i][at - 1 + k] - (double)turn.LogProbs[k]), 1.0);
                    weightSum += w;
                    weightCount++;
                    if (w < 1) truncated++;
                }
                at += turn.ReplyTokens.Length;
            }
            old[i] = replyLogProbs.ToArray();
        }
        double scoringSeconds = scoring.Elapsed.TotalSeconds;

        var collected = new CollectedRollouts(episodes, rollouts, c.Result.GenerationSeconds, Math.Max(0, c.Result.WallSeconds - c.Result.GenerationSeconds),
            scoringSeconds, c.Result.SampledTokens, 0);
        _progress?.AddTime(Phase.Generation, TimeSpan.FromSeconds(idleSeconds + scoringSeconds));
        var metrics = new List<(string, double)>
        {
            (MetricNames.LearnerIdleSeconds, idleSeconds),
            (MetricNames.ActorTokensPerSecond, c.Result.SampledTokens / Math.Max(c.Result.WallSeconds, 1e-9)),
            (MetricNames.CollectionWallSeconds, c.Result.WallSeconds),
            (MetricNames.PublishWaitSeconds, c.WaitedForWeightsSeconds),
            (MetricNames.DroppedStale, dropped),
            (MetricNames.Reruns, c.Result.Reruns),
            (MetricNames.LiveActors, _pipeline.Actors.Count(a => a.Alive)),
            (MetricNames.PolicyLagMean, lags.Mean),
            (MetricNames.ImportanceWeightMean, weightCount == 0 ? 1 : weightSum / weightCount),
            (MetricNames.ImportanceTruncatedFraction, weightCount == 0 ? 0 : truncated / (double)weightCount),
        };
        metrics.AddRange(lags.Histogram);
        var counters = new Dictionary<string, double>(State.Counters);
        counters["dropped_stale_rollouts"] = counters.GetValueOrDefault("dropped_stale_rollouts") + dropped;
        counters["rerun_rollouts"] = counters.GetValueOrDefault("rerun_rollouts") + c.Result.Reruns;
        State = State with { Counters = counters };

        PpoBatch batch = PpoBatch.Build(episodes, _config);
        IterationReport report = await UpdateAsync(iteration, problems, batch, collected,
            byLength => byLength.SelectMany(e => old[e]).ToArray(), metrics, c.PositionAfter, cancellationToken);
        _publisher!.Offer(_policy, State.Iteration);
        _pipeline.Published();
        return report;
    }

    RolloutPipeline StartPipeline()
    {
        string directory = _config.Rollout.PublishDir.Length > 0 ? _config.Rollout.PublishDir : System.IO.Path.Combine(_run.Path, "published");
        System.IO.Directory.CreateDirectory(directory);
        _publisher = new WeightPublisher(_policy, State.Iteration, directory);
        var actors = new List<Actor>();
        foreach (string entry in _config.Rollout.ActorEntries)
        {
            ActorSpec spec = ActorSpec.Parse(entry);
            // The embedded actor samples from its own copy: the learner updates its weights meanwhile.
            actors.Add(spec.Protocol == ActorProtocol.Embedded
                ? new Actor(new EngineSampler(_policy.Clone())) { Version = State.Iteration }
                : new Actor(spec.CreateRemote(_policy.Config.VocabSize)) { Version = -1 }); // loads the learner's weights first
        }
        var collection = new ActorCollection(_executor, _format, _collector.EpisodeOptions, _config.Engine.GenerationBatch,
            TimeSpan.FromMilliseconds(_config.Engine.BatchWindowMs));
        int perIteration = _config.Rollout.UpdatesPerIteration;
        long remainingIterations = (_config.Schedule.TotalUpdates - State.Step + perIteration - 1) / perIteration;
        int perProblem = _config.Rollout.RolloutsPerProblem;
        return new RolloutPipeline(actors, collection, _publisher, _config.Rollout.MaxPolicyLag, State.Iteration,
            State.Iteration + remainingIterations, j =>
            {
                // The same problems and seed the synchronous trainer gives iteration j.
                Problem[] problems = _order.Take(_config.Rollout.RolloutsPerIteration / perProblem)
                    .SelectMany(i => Enumerable.Repeat(_train[i], perProblem)).ToArray();
                var sampling = new SamplingOptions
                {
                    Temperature = (float)_config.Rollout.Temperature,
                    TopP = (float)_config.Rollout.TopP,
                    MaxTokens = _config.Rollout.MaxReplyTokens,
                    Seed = unchecked((int)_config.Schedule.Seed * 7919 + (int)j),
                };
                return (problems, _order.Position, sampling);
            });
    }

    /// <summary>Stops the actors' pipeline of an asynchronous run (nothing to do for a synchronous one).</summary>
    public async ValueTask DisposeAsync()
    {
        _service?.Dispose();
        _serviceSampler?.Dispose();
        if (_pipeline is not null) await _pipeline.DisposeAsync();
        foreach (Actor actor in _pipeline?.Actors ?? []) (actor.Sampler as IDisposable)?.Dispose();
    }

    /// <summary>
    /// Scores the starting policy on the validation split at step 0 and checkpoints it, so that best-on-validation
    /// selection can pick the start itself: a run that never beats its starting policy then hands back the start,
    /// not a worse checkpoint.
    /// </summary>
    public async Task ValidateStartAsync(CancellationToken cancellationToken = default)
    {
        await ValidateAndRecordAsync(cancellationToken);
        SaveCheckpoint();
    }

    /// <summary>Validates the policy as it is at the current step, records the score as a candidate best and logs it.</summary>
    async Task<double> ValidateAndRecordAsync(CancellationToken cancellationToken)
    {
        _progress?.Enter(Phase.Evaluation);
        var clock = Stopwatch.StartNew();
        double score = await ValidateAsync(cancellationToken);
        _progress?.AddTime(Phase.Evaluation, clock.Elapsed);
        State = State.WithValidation(MetricNames.ValidSolveRate, score, out _);
        _run.Metrics.Write(State.Step, [new(MetricNames.ValidSolveRate, score), new(MetricNames.ValidBest, State.Best!.Score)]);
        return score;
    }

    /// <summary>The policy's validation score now (<see cref="RolloutCollector.ValidationSolveRateAsync"/>).</summary>
    public Task<double> ValidateAsync(CancellationToken cancellationToken = default) =>
        _collector.ValidationSolveRateAsync(_policy, _valid, cancellationToken);

    void SaveCheckpoint()
    {
        _progress?.Enter(Phase.Checkpoint);
        var clock = Stopwatch.StartNew();
        _run.Checkpoints.Save(State,
        [
            ModelFiles.Weights(PolicyFile, _policy),
            ModelFiles.Weights(ValueFile, _value),
            ModelFiles.Optimizer(PolicyOptimizerFile, _updater.PolicyOptimizer),
            ModelFiles.Optimizer(ValueOptimizerFile, _updater.ValueOptimizer),
            .. ServiceCheckpointFiles(),
        ]);
        _progress?.AddTime(Phase.Checkpoint, clock.Elapsed);
    }

    static bool Crossed(long before, long after, int every) => after / every > before / every;
}
