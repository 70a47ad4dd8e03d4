using Rlef.Training.Config;

namespace Rlef.Training.Ppo;

/// <summary>
/// The seam between this arithmetic and the engine. <see cref="DLogProb"/>[k] = d(policy loss)/d log π_θ(token k)
/// and <see cref="DValue"/>[i] = d(value loss)/d V_i, already divided by the minibatch's token / value-point counts
/// and scaled by the value-loss coefficient; the engine back-propagates them (through log-softmax:
/// d logits = DLogProb·(onehot − softmax)) and steps the optimizers. Every scalar is a mean over the whole minibatch,
/// or a micro-batch's share of it, so the results of a minibatch's slices add up (<see cref="Sum"/>).
/// </summary>
public sealed record PpoLossResult(
    double PolicyLoss,
    double ValueLoss,
    float[] DLogProb,
    float[] DValue,
    double ApproxKlOld,
    double KlReference,
    double ClipFraction,
    double TruncatedFraction,
    double ValueClipFraction,
    double Entropy)
{
    /// <summary>The result of a whole minibatch from those of its slices, in order (gradients concatenated).</summary>
    public static PpoLossResult Sum(IReadOnlyList<PpoLossResult> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("nothing to sum", nameof(parts));
        return new PpoLossResult(
            parts.Sum(p => p.PolicyLoss),
            parts.Sum(p => p.ValueLoss),
            parts.SelectMany(p => p.DLogProb).ToArray(),
            parts.SelectMany(p => p.DValue).ToArray(),
            parts.Sum(p => p.ApproxKlOld),
            parts.Sum(p => p.KlReference),
            parts.Sum(p => p.ClipFraction),
            parts.Sum(p => p.TruncatedFraction),
            parts.Sum(p => p.ValueClipFraction),
            parts.Sum(p => p.Entropy));
    }
}

/// <summary>
/// The clipped PPO policy loss and the clipped value loss of a minibatch (docs/protocol.md §3), from the engine's
/// outputs; the formulas themselves are in <see cref="PpoMath"/>.
/// </summary>
public static class PpoLoss
{
    /// <summary>
    /// Both losses of a minibatch (or slice) from the engine's outputs: <paramref name="logProbs"/> of every reply
    /// token under π_θ, <paramref name="values"/> at every value point, and optionally the policy's entropy at every
    /// reply token (logged only; RLEF uses no entropy bonus; NaN when not given).
    /// </summary>
    public static PpoLossResult Compute(PpoMinibatch batch, ReadOnlySpan<float> logProbs, ReadOnlySpan<float> values,
        PpoConfig config, ReadOnlySpan<float> entropies = default)
    {
        if (logProbs.Length != batch.TokenCount) throw new ArgumentException($"{logProbs.Length} log-probs for {batch.TokenCount} reply tokens", nameof(logProbs));
        if (values.Length != batch.ValuePointCount) throw new ArgumentException($"{values.Length} values for {batch.ValuePointCount} value points", nameof(values));
        if (!entropies.IsEmpty && entropies.Length != batch.TokenCount) throw new ArgumentException($"{entropies.Length} entropies for {batch.TokenCount} reply tokens", nameof(entropies));

        PolicyLossResult policy = PpoMath.PolicyLoss(logProbs, batch.OldLogProbs, batch.BehaviourLogProbs, batch.Advantages,
            config.ClipEpsilon, batch.TokenNormaliser);
        ValueLossResult value = PpoMath.ValueLoss(values, batch.OldValues, batch.Returns, config.ValueClip, batch.ValuePointNormaliser);
        float[] dValue = value.DValue;
        if (config.ValueLossCoefficient != 1.0)
            for (int i = 0; i < dValue.Length; i++) dValue[i] = (float)(dValue[i] * config.ValueLossCoefficient);

        double entropy = double.NaN;
        if (!entropies.IsEmpty)
        {
            double sum = 0;
            foreach (float h in entropies) sum += h;
            entropy = sum / batch.TokenNormaliser;
        }
        double klReference = 0;
        for (int k = 0; k < logProbs.Length; k++) klReference += logProbs[k] - (double)batch.ReferenceLogProbs[k];

        return new PpoLossResult(
            PolicyLoss: policy.Loss,
            ValueLoss: config.ValueLossCoefficient * value.Loss,
            DLogProb: policy.DLogProb,
            DValue: dValue,
            ApproxKlOld: policy.ApproxKlOld,
            KlReference: klReference / batch.TokenNormaliser,
            ClipFraction: policy.ClipFraction,
            TruncatedFraction: policy.TruncatedFraction,
            ValueClipFraction: value.ClipFraction,
            Entropy: entropy);
    }
}
