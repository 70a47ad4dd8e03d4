using System.Diagnostics;
using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Problems;
using Rlef.Sandbox;
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
public sealed class RlefTrainer
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
    Xoshiro256 _minibatchRng;

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
        long iteration = State.Iteration;
        long firstStep = State.Step + 1;
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
            PpoUpdateResult result = _updater.Update(batch.Minibatch(byLength), ++step);
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
            Data = _order.Position,
            Rngs = new Dictionary<string, ulong[]> { [MinibatchRng] = _minibatchRng.GetState() },
            Counters = counters,
        };

        double? validation = null;
        if (_valid.Count > 0 && Crossed(before, step, _config.Schedule.EvalEvery))
            validation = await ValidateAndRecordAsync(cancellationToken);
        bool checkpoint = validation is not null || Crossed(before, step, _config.Schedule.CheckpointEvery) || step >= _config.Schedule.TotalUpdates;
        if (checkpoint) SaveCheckpoint();
        return new IterationReport(iteration, firstStep, step, problems.Select(p => p.Id).ToArray(), batch.Stats, updates, collected.GenerationSeconds,
            collected.SandboxSeconds, collected.ScoringSeconds, updateSeconds, validation, checkpoint);
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

    /// <summary>Solve rate of one rollout per validation problem at the validation temperature and top-p (docs/protocol.md §4, 1@3).</summary>
    public async Task<double> ValidateAsync(CancellationToken cancellationToken = default)
    {
        if (_valid.Count == 0) throw new InvalidOperationException("no validation problems (data.valid)");
        var sampling = new SamplingOptions
        {
            Temperature = (float)_config.Data.ValidTemperature,
            TopP = (float)_config.Data.ValidTopP,
            Seed = RandomStreams.ValidationSampling(_config.Schedule.Seed),
        };
        var rollouts = await _collector.SampleAsync(_policy, sampling, _valid, cancellationToken);
        return rollouts.Count(r => r.PassedAll) / (double)rollouts.Count;
    }

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
        ]);
        _progress?.AddTime(Phase.Checkpoint, clock.Elapsed);
    }

    static bool Crossed(long before, long after, int every) => after / every > before / every;
}
