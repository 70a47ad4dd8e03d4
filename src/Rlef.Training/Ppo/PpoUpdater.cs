using Rlef.Engine.Model;
using Rlef.Engine.Optim;
using Rlef.Training.Config;
using Rlef.Training.Ppo;
using Rlef.Training.Rollouts;

namespace Rlef.Training.Ppo;

/// <summary>What one PPO update did: the loss terms (summed over its micro-batches) and the gradient norms before clipping.</summary>
public sealed record PpoUpdateResult(PpoLossResult Loss, double PolicyGradNorm, double ValueGradNorm, long Tokens);

/// <summary>
/// One PPO update on the engine (docs/protocol.md §3): for each micro-batch of the minibatch, the policy's log-probs of the
/// reply tokens and the value network's values at the value points, <see cref="PpoLoss.Compute"/>, and the backward of
/// both; then each network's gradient is clipped by its global norm and its AdamW takes a step. The two networks are
/// separate (the value net is not a head on the policy), so each has its own optimizer and its own clip.
/// </summary>
public sealed class PpoUpdater
{
    readonly LlamaModel _policy, _value;
    readonly RlefConfig _config;

    public PpoUpdater(LlamaModel policy, LlamaModel value, RlefConfig config)
    {
        _policy = policy;
        _value = value;
        _config = config;
        var options = new AdamWOptions
        {
            Beta1 = config.Optimizer.Beta1,
            Beta2 = config.Optimizer.Beta2,
            Epsilon = config.Optimizer.Epsilon,
            WeightDecay = config.Optimizer.WeightDecay,
        };
        PolicyOptimizer = new AdamW(policy.Parameters, options);
        ValueOptimizer = new AdamW(value.Parameters, options);
        Schedule = new LearningRateSchedule(config.Optimizer.LearningRate, config.Optimizer.WarmupSteps);
        ValueSchedule = new LearningRateSchedule(config.Optimizer.ValueLearningRate ?? config.Optimizer.LearningRate, config.Optimizer.WarmupSteps);
    }

    public AdamW PolicyOptimizer { get; }
    public AdamW ValueOptimizer { get; }
    /// <summary>Linear warm-up to the peak, then constant (docs/protocol.md §3 names no decay).</summary>
    public LearningRateSchedule Schedule { get; }
    /// <summary>The value network's: the same shape, its own peak (optimizer.value_learning_rate).</summary>
    public LearningRateSchedule ValueSchedule { get; }

    /// <summary>The learning rate of update <paramref name="step"/>, counted from 1 as updates are (the schedule counts from 0).</summary>
    public double LearningRateAt(long step) => Schedule.At(step - 1);

    /// <summary>Runs update number <paramref name="step"/> (counted from 1, for the warm-up) on <paramref name="minibatch"/>.</summary>
    public PpoUpdateResult Update(PpoMinibatch minibatch, long step)
    {
        _policy.ZeroGrad();
        _value.ZeroGrad();
        var sequences = minibatch.Episodes.Select(e => new EpisodeSequence(e)).ToArray();
        var parts = new List<PpoLossResult>();
        long tokens = 0;
        var groups = MicroBatches.Groups(sequences.Select(s => s.Tokens.Length).ToArray(), _config.Engine.MicroBatchTokens);
        // Both networks' training buffers sized once for the largest micro-batch (not regrown micro-batch by micro-batch).
        int largest = groups.Max(g => g.Count * sequences.Skip(g.First).Take(g.Count).Max(s => s.Tokens.Length));
        _policy.Reserve(1, largest);
        _value.Reserve(1, largest);
        // Every micro-batch's forward multiplies by the same weights until the optimizer step: with more than one,
        // pack them once (same bits; with one there is nothing to reuse and packing inside each product keeps the
        // packed blocks in cache).
        using var policyPacked = groups.Count > 1 ? _policy.UsePackedWeights() : null;
        using var valuePacked = groups.Count > 1 ? _value.UsePackedWeights() : null;
        foreach (var (first, count) in groups)
        {
            PpoMinibatch slice = count == minibatch.Episodes.Count ? minibatch : minibatch.Slice(first, count);
            parts.Add(MicroBatch(slice, sequences.AsSpan(first, count)));
            tokens += sequences.Skip(first).Take(count).Sum(s => (long)s.Tokens.Length);
        }
        double policyNorm = Gradients.ClipByGlobalNorm(_policy.Parameters, _config.Optimizer.MaxGradNorm);
        double valueNorm = Gradients.ClipByGlobalNorm(_value.Parameters, _config.Optimizer.MaxGradNorm);
        // A non-finite gradient would poison the weights and the moments: skip that network's step (the norm is logged).
        if (double.IsFinite(policyNorm)) PolicyOptimizer.Update(LearningRateAt(step));
        if (double.IsFinite(valueNorm)) ValueOptimizer.Update(ValueSchedule.At(step - 1));
        _policy.ZeroGrad();
        _value.ZeroGrad();
        return new PpoUpdateResult(PpoLossResult.Sum(parts), policyNorm, valueNorm, tokens);
    }

    PpoLossResult MicroBatch(PpoMinibatch slice, ReadOnlySpan<EpisodeSequence> sequences)
    {
        var batch = new PaddedBatch(sequences.ToArray().Select(s => s.Tokens).ToArray());
        int n = batch.Batch * batch.SeqLen;
        bool tokenLevel = slice.ValueLevel == ValueLevel.Token;

        // Where each reply token is predicted (one before it) and where each value is read, in the seam's flat order.
        var replyAt = new int[slice.TokenCount];
        var valueAt = new int[slice.ValuePointCount];
        var scored = new bool[n];
        int k = 0, v = 0;
        for (int b = 0; b < sequences.Length; b++)
        {
            EpisodeSequence s = sequences[b];
            for (int t = 0; t < s.ReplyStarts.Length; t++)
            {
                if (!tokenLevel) valueAt[v++] = batch.At(b, s.ValuePositions[t]);
                int replyLength = slice.Episodes[b].Turns[t].ReplyTokens.Length;
                for (int p = s.ReplyStarts[t]; p < s.ReplyStarts[t] + replyLength; p++)
                {
                    int at = batch.At(b, p - 1);
                    scored[at] = true;
                    replyAt[k++] = at;
                    if (tokenLevel) valueAt[v++] = at;
                }
            }
        }
        if (k != slice.TokenCount || v != slice.ValuePointCount)
            throw new InvalidOperationException($"layout mismatch: {k} reply tokens / {v} value points for {slice.TokenCount} / {slice.ValuePointCount}");

        var logp = new float[n];
        var entropy = new float[n];
        _policy.ForwardLogProbs(batch.Tokens, batch.Targets, batch.Batch, batch.SeqLen, logp, scored, entropy);
        var values = new float[n];
        var valueUsed = new bool[n]; // only these positions are read: the value model skips the padding after them
        foreach (int i in valueAt) valueUsed[i] = true;
        _value.ForwardValues(batch.Tokens, batch.Batch, batch.SeqLen, values, valueUsed);
        float[] replyLogProbs = replyAt.Select(i => logp[i]).ToArray();
        float[] pointValues = valueAt.Select(i => values[i]).ToArray();
        float[] entropies = replyAt.Select(i => entropy[i]).ToArray(); // of π_θ's whole next-token distribution, logged only
        PpoLossResult loss = PpoLoss.Compute(slice, replyLogProbs, pointValues, _config.Ppo, entropies);

        var dLogp = new float[n];
        for (int i = 0; i < replyAt.Length; i++) dLogp[replyAt[i]] = loss.DLogProb[i];
        _policy.BackwardLogProbs(dLogp);
        var dValues = new float[n];
        for (int i = 0; i < valueAt.Length; i++) dValues[valueAt[i]] += loss.DValue[i];
        _value.BackwardValues(dValues);
        return loss;
    }
}
