using Rlef.Engine.Model;
using Rlef.Engine.Optim;
using Rlef.Training.Config;
using Rlef.Training.Sft;
using Rlef.Training.Runs;
using Rlef.Training.Ppo;

namespace Rlef.Training.Sft;

/// <summary>One SFT update: mean NLL over its target tokens, the gradient norm before clipping, the learning rate.</summary>
public sealed record SftUpdateResult(double Loss, double GradNorm, double LearningRate, int TargetTokens, long Tokens);

/// <summary>A validation during SFT: the update it followed, the score, and whether it is the best so far.</summary>
public sealed record SftValidation(long Step, double Score, bool IsBest);

/// <summary>
/// Supervised fine-tuning on trajectories with the paper's SFT recipe (App. A.3, docs/protocol.md §3.12): the examples
/// <see cref="SftTargets"/> selects (the last successful reply, or all replies), shuffled per epoch, in minibatches of
/// <see cref="SftConfig.BatchSize"/> sequences; linear warm-up then cosine decay over the whole run; a validation every
/// <see cref="SftConfig.EvalEvery"/> updates and at the end, the best weights handed to the caller. The loss is the
/// mean negative log-likelihood over all target tokens of the minibatch (a token mean, as in pre-training: long
/// replies weigh more), computed by the engine's weighted cross-entropy with weight 1/N on each target (each target is
/// predicted one position before it), then global-norm clipping and AdamW.
/// With a <see cref="RunDirectory"/> the run is resumable like an RLEF run (docs/protocol.md §3.12): every update goes
/// to metrics.jsonl, and a checkpoint (weights, AdamW moments, step, data position, best validation) is saved every
/// schedule.checkpoint_every updates, after each validation and after the last update; a trainer built on a resumed
/// run directory continues from its newest checkpoint with the same result as a run that never stopped.
/// </summary>
public sealed class SftTrainer
{
    /// <summary>The checkpoint files of an SFT run (the same names as an RLEF run's policy files).</summary>
    public const string PolicyFile = RlefTrainer.PolicyFile;
    public const string PolicyOptimizerFile = RlefTrainer.PolicyOptimizerFile;

    readonly LlamaModel _model;
    readonly RlefConfig _config;
    readonly RunDirectory? _run;
    LearningRateSchedule _schedule;
    DataPosition _position;

    /// <param name="run">Where to log and checkpoint (null: neither); when it was resumed from a checkpoint, the model
    /// and the optimizer start from that checkpoint.</param>
    public SftTrainer(LlamaModel model, RlefConfig config, RunDirectory? run = null)
    {
        _model = model;
        _config = config;
        _run = run;
        Optimizer = new AdamW(model.Parameters, new AdamWOptions
        {
            Beta1 = config.Optimizer.Beta1,
            Beta2 = config.Optimizer.Beta2,
            Epsilon = config.Optimizer.Epsilon,
            WeightDecay = config.Optimizer.WeightDecay,
        });
        _schedule = new LearningRateSchedule(config.Sft.LearningRate, config.Sft.WarmupSteps);
        if (run?.ResumedFrom is { } checkpoint)
        {
            ModelFiles.LoadWeights(ModelFiles.PathOf(checkpoint, PolicyFile), model);
            Optimizer.LoadState(ModelFiles.PathOf(checkpoint, PolicyOptimizerFile));
            Step = checkpoint.State.Step;
            _position = checkpoint.State.Data;
            if (checkpoint.State.Best is { } best) Best = new SftValidation(best.Step, best.Score, IsBest: true);
        }
    }

    public AdamW Optimizer { get; }
    public long Step { get; private set; }
    /// <summary>The best validation so far (null before the first).</summary>
    public SftValidation? Best { get; private set; }

    /// <summary>The examples of <paramref name="trajectories"/> the config keeps.</summary>
    public IReadOnlyList<SftExample> Examples(IEnumerable<SftTrajectory> trajectories) =>
        trajectories.Select(t => SftTargets.Build(t, _config.Sft)).OfType<SftExample>().ToList();

    /// <summary>Updates in a run over <paramref name="examples"/> examples: epochs × ⌈examples / batch⌉.</summary>
    public static long TotalUpdates(SftConfig config, int examples, int batchSize) =>
        config.Epochs * (long)((examples + batchSize - 1) / batchSize);

    /// <summary>
    /// The learning rate per update for a run of <paramref name="totalUpdates"/> updates: warm-up over
    /// <see cref="SftConfig.WarmupSteps"/>, then the decay towards the floor, reached one update after the last. A run no longer than its
    /// warm-up has nothing to decay over and stays at the peak after it.
    /// </summary>
    public static LearningRateSchedule Schedule(SftConfig config, long totalUpdates) =>
        config.Decay == LearningRateDecay.Constant || totalUpdates <= config.WarmupSteps
            ? new LearningRateSchedule(config.LearningRate, config.WarmupSteps)
            // As the usual cosine-with-warm-up schedule: the floor is reached one update after the last.
            : new LearningRateSchedule(config.LearningRate, config.WarmupSteps, config.Decay, totalUpdates, config.FinalLearningRateFraction);

    /// <summary>Runs <see cref="SftConfig.Epochs"/> epochs without validation; <paramref name="onUpdate"/> sees every update.</summary>
    public void Train(IReadOnlyList<SftExample> examples, int? batchSize = null, Action<long, SftUpdateResult>? onUpdate = null) =>
        TrainAsync(examples, batchSize, onUpdate).GetAwaiter().GetResult();

    /// <summary>
    /// Runs <see cref="SftConfig.Epochs"/> epochs in minibatches of <paramref name="batchSize"/> (default
    /// <see cref="SftConfig.BatchSize"/>). With <paramref name="validate"/> (the policy's score on the validation set,
    /// higher is better), it validates every <see cref="SftConfig.EvalEvery"/> updates and after the last, and calls
    /// <paramref name="onValidation"/> with each result: the caller keeps the weights of the best (the model is as
    /// validated during the call).
    /// </summary>
    public async Task TrainAsync(IReadOnlyList<SftExample> examples, int? batchSize = null, Action<long, SftUpdateResult>? onUpdate = null,
        Func<CancellationToken, Task<double>>? validate = null, Action<SftValidation>? onValidation = null,
        CancellationToken cancellationToken = default)
    {
        if (examples.Count == 0) throw new ArgumentException("SFT has no examples (no trajectory was kept by sft.loss_on)", nameof(examples));
        int size = batchSize ?? _config.Sft.BatchSize;
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), size, "must be > 0");
        long total = TotalUpdates(_config.Sft, examples.Count, size);
        // Without a run directory a second call continues the step count; in a run, Step counts the run's updates.
        long first = _run is null ? 0 : Step;
        _schedule = Schedule(_config.Sft, (_run is null ? Step : 0) + total);
        if (_run is not null && Step > 0) CheckResumePosition(examples.Count, size, total);
        int every = _config.Sft.EvalEvery;
        long update = 0;
        for (int epoch = 0; epoch < _config.Sft.Epochs; epoch++)
        {
            int[] order = Enumerable.Range(0, examples.Count).ToArray();
            RandomStreams.SftExampleOrder(_config.Schedule.Seed, epoch).Shuffle(order.AsSpan());
            for (int start = 0; start < order.Length; start += size)
            {
                if (update++ < first) continue; // done before the checkpoint this run resumed from
                cancellationToken.ThrowIfCancellationRequested();
                var batch = order.Skip(start).Take(size).Select(i => examples[i]).ToList();
                long before = Step;
                SftUpdateResult result = Update(batch);
                _position = start + size < order.Length ? new DataPosition(epoch, start + size) : new DataPosition(epoch + 1, 0);
                _run?.Metrics.Write(Step, [new(MetricNames.SftLoss, result.Loss), new(MetricNames.GradNorm, result.GradNorm), new(MetricNames.LearningRate, result.LearningRate)]);
                onUpdate?.Invoke(Step, result);
                bool last = epoch == _config.Sft.Epochs - 1 && start + size >= order.Length;
                SftValidation? validation = null;
                if (validate is not null && every > 0 && (Step % every == 0 || last))
                {
                    validation = Record(Step, await validate(cancellationToken));
                    _run?.Metrics.Write(Step, [new(MetricNames.ValidSolveRate, validation.Score), new(MetricNames.ValidBest, Best!.Score)]);
                }
                // The checkpoint comes before the caller hears of a validation: the best step always has one.
                if (_run is not null && (validation is not null || last || Step / _config.Schedule.CheckpointEvery > before / _config.Schedule.CheckpointEvery))
                    SaveCheckpoint();
                if (validation is not null) onValidation?.Invoke(validation);
            }
        }
    }

    /// <summary>The run's state now: the step, the data position of the next minibatch and the best validation.</summary>
    public TrainerState State => new()
    {
        Step = Step,
        Data = _position,
        Best = Best is { } best ? new BestValidation(best.Step, best.Score, MetricNames.ValidSolveRate) : null,
    };

    void SaveCheckpoint() =>
        _run!.Checkpoints.Save(State, [ModelFiles.Weights(PolicyFile, _model), ModelFiles.Optimizer(PolicyOptimizerFile, Optimizer)]);

    /// <summary>
    /// A resumed run's saved data position must be where its step says the data order is: otherwise the examples or
    /// the batch size changed under it, and continuing would silently train on another order.
    /// </summary>
    void CheckResumePosition(int examples, int size, long total)
    {
        long perEpoch = (examples + size - 1) / size;
        var expected = new DataPosition(Step / perEpoch, (int)(Step % perEpoch * size));
        if (Step > total || _position != expected)
            throw new InvalidDataException($"'{_run!.Path}': its checkpoint at update {Step} is at data position (epoch {_position.Epoch}, offset {_position.Offset}), " +
                $"but {examples} examples in batches of {size} put update {Step} at (epoch {expected.Epoch}, offset {expected.Offset}) of {total} updates: the examples or the batch size changed");
    }

    /// <summary>Records a validation score; the best is the highest, the earliest on ties.</summary>
    public SftValidation Record(long step, double score)
    {
        var validation = new SftValidation(step, score, Best is null || score > Best.Score);
        if (validation.IsBest) Best = validation;
        return validation;
    }

    /// <summary>One optimizer update on <paramref name="batch"/> (split into micro-batches by the engine's token budget).</summary>
    public SftUpdateResult Update(IReadOnlyList<SftExample> batch)
    {
        _model.ZeroGrad();
        var (loss, targets, tokens) = AccumulateGradients(_model, batch, _config.Engine.MicroBatchTokens);
        double norm = Gradients.ClipByGlobalNorm(_model.Parameters, _config.Optimizer.MaxGradNorm);
        Step++;
        double lr = _schedule.At(Step - 1); // Step counts updates from 1; the schedule from 0
        if (double.IsFinite(norm)) Optimizer.Update(lr);
        _model.ZeroGrad();
        return new SftUpdateResult(loss, norm, lr, targets, tokens);
    }

    /// <summary>
    /// Forward and backward of the token-mean −log p over every target of <paramref name="batch"/>, in micro-batches of
    /// at most <paramref name="microBatchTokens"/> padded tokens; gradients accumulate in the model. Returns the loss,
    /// the target count and the tokens processed.
    /// </summary>
    public static (double Loss, int Targets, long Tokens) AccumulateGradients(LlamaModel model, IReadOnlyList<SftExample> batch, int microBatchTokens)
    {
        int targets = batch.Sum(e => e.TargetPositions.Length);
        if (targets == 0) throw new ArgumentException("an SFT minibatch without target tokens", nameof(batch));
        float weight = 1f / targets;
        double loss = 0;
        long tokens = 0;
        var groups = MicroBatches.Groups(batch.Select(e => e.Tokens.Length).ToArray(), microBatchTokens);
        model.Reserve(1, groups.Max(g => g.Count * batch.Skip(g.First).Take(g.Count).Max(e => e.Tokens.Length))); // buffers sized once
        foreach (var (first, count) in groups)
        {
            var group = batch.Skip(first).Take(count).ToList();
            var padded = new PaddedBatch(group.Select(e => e.Tokens).ToList());
            var weights = new float[padded.Batch * padded.SeqLen];
            for (int b = 0; b < group.Count; b++)
                foreach (int p in group[b].TargetPositions)
                {
                    if (p < 1 || p >= group[b].Tokens.Length) throw new ArgumentException($"SFT example '{group[b].ProblemId}': target position {p} outside 1..{group[b].Tokens.Length - 1}");
                    weights[padded.At(b, p - 1)] = weight; // the token at p is predicted one position before
                }
            loss += model.TrainCrossEntropy(padded.Tokens, padded.Targets, weights, padded.Batch, padded.SeqLen);
            tokens += group.Sum(e => (long)e.Tokens.Length);
        }
        return (loss, targets, tokens);
    }
}
